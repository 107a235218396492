/** What the shop told the customer (order and payment messages). */
import { api } from "../api";
import { useSession } from "../store";
import { when } from "../format";
import { ErrorMessage, Loading, PageTitle, useLoad } from "../ui";
import { SignInFirst } from "./Orders";

interface Notification {
  eventType: string;
  channel: string;
  subject: string;
  body: string;
  createdAt: string;
}

export function NotificationsPage() {
  const current = useSession();
  const list = useLoad(() => (current ? api<Notification[]>("/notifications") : Promise.resolve(undefined)), [current?.user.id]);
  if (!current) return <SignInFirst title="Notifications" next="/notifications" />;
  return (
    <>
      <PageTitle>Notifications</PageTitle>
      <ErrorMessage error={list.error} />
      {!list.data ? (
        !list.error && <Loading what="Loading your notifications" />
      ) : list.data.length === 0 ? (
        <p>Nothing yet: we write here about your orders and payments.</p>
      ) : (
        <ul class="notifications">
          {list.data.map((n, i) => (
            <li key={i}>
              <h2>{n.subject}</h2>
              <p>{n.body}</p>
              <p class="hint">
                {when(n.createdAt)} · sent by {n.channel}
              </p>
            </li>
          ))}
        </ul>
      )}
      <button type="button" onClick={() => list.reload()}>
        Refresh
      </button>
    </>
  );
}
