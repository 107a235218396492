/** Accounts: search, role, activation. Role and status changes take effect on the account's next request. */
import { useState } from "preact/hooks";
import { api, query } from "../api";
import { navigate, withQuery, type Place } from "../router";
import { useSession, type Page } from "../store";
import type { User } from "../session";
import { when } from "../format";
import { ErrorMessage, Loading, PageTitle, Pager, Status, useLoad } from "../ui";

const PAGE_SIZE = 20;

interface Account extends User {
  isActive: boolean;
  createdAt: string;
}

function AccountRow({ account, self, onChanged }: { account: Account; self: boolean; onChanged: (message: string, error?: unknown) => void }) {
  const [busy, setBusy] = useState(false);
  const change = async (what: () => Promise<unknown>, message: string) => {
    setBusy(true);
    try {
      await what();
      onChanged(message);
    } catch (err) {
      onChanged("", err);
    } finally {
      setBusy(false);
    }
  };
  const roleId = `role-${account.id}`;
  return (
    <tr>
      <th scope="row">{account.email}</th>
      <td>
        {account.firstName} {account.lastName}
      </td>
      <td>
        <label for={roleId} class="visually-hidden">
          Role of {account.email}
        </label>
        <select
          id={roleId}
          value={account.role}
          disabled={busy || self}
          onChange={(e) => {
            const role = e.currentTarget.value;
            void change(() => api(`/admin/users/${account.id}/assign-role`, { method: "POST", body: { role } }), `${account.email} is now ${role === "admin" ? "an admin" : "a user"}.`);
          }}
        >
          <option value="user">User</option>
          <option value="admin">Admin</option>
        </select>
      </td>
      <td>{account.isActive ? "Active" : "Deactivated"}</td>
      <td>{when(account.createdAt)}</td>
      <td>
        {!self && (
          <button
            type="button"
            disabled={busy}
            onClick={() =>
              change(
                () => api(`/admin/users/${account.id}`, { method: "PUT", body: { isActive: !account.isActive } }),
                `${account.email} is ${account.isActive ? "deactivated: signed out everywhere" : "active again"}.`,
              )
            }
          >
            {account.isActive ? "Deactivate" : "Activate"}
            <span class="visually-hidden"> {account.email}</span>
          </button>
        )}
        {self && <span class="hint">(you)</span>}
      </td>
    </tr>
  );
}

export function UsersPage({ place }: { place: Place }) {
  const me = useSession();
  const q = place.query.get("q") ?? "";
  const role = place.query.get("role") ?? "";
  const offset = Math.max(0, Number(place.query.get("offset") ?? 0) || 0);
  const [term, setTerm] = useState(q);
  const [message, setMessage] = useState("");
  const [error, setError] = useState<unknown>(null);
  const list = useLoad(() => api<Page<Account>>(`/admin/users${query({ q, role, limit: PAGE_SIZE, offset })}`), [q, role, offset]);
  const go = (changes: Record<string, string | number | undefined>) => navigate(withQuery(place, { offset: undefined, ...changes }));
  return (
    <>
      <PageTitle>Users</PageTitle>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          go({ q: term.trim() });
        }}
      >
        <div class="field">
          <label for="admin-user-q">Email or name</label>
          <input id="admin-user-q" type="search" value={term} onInput={(e) => setTerm(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="admin-user-role">Role</label>
          <select id="admin-user-role" value={role} onChange={(e) => go({ role: e.currentTarget.value })}>
            <option value="">Any role</option>
            <option value="user">Users</option>
            <option value="admin">Admins</option>
          </select>
        </div>
        <button type="submit">Find</button>
      </form>
      <ErrorMessage error={error ?? list.error} />
      {message && <Status>{message}</Status>}
      {!list.data ? (
        !list.error && <Loading />
      ) : (
        <>
          <table class="lines">
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Name</th>
                <th scope="col">Role</th>
                <th scope="col">Status</th>
                <th scope="col">Since</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((a) => (
                <AccountRow
                  key={a.id}
                  account={a}
                  self={a.id === me?.user.id}
                  onChanged={(m, err) => {
                    setMessage(m);
                    setError(err ?? null);
                    void list.reload();
                  }}
                />
              ))}
            </tbody>
          </table>
          <Pager total={list.data.total} limit={PAGE_SIZE} offset={offset} go={(o) => go({ offset: o || undefined })} />
        </>
      )}
    </>
  );
}
