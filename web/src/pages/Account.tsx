/** Sign in and register. After either, the person goes back where they were headed (`next`). */
import { useState } from "preact/hooks";
import { api, signIn } from "../api";
import { navigate, type Place } from "../router";
import { ErrorMessage, Field, PageTitle, Status, useAction } from "../ui";

/** Only paths of this site: never an open redirect. */
function nextOf(place: Place): string {
  const next = place.query.get("next") ?? "/";
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

export function SignInPage({ place }: { place: Place }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const action = useAction(async () => {
    await signIn(email.trim(), password);
    navigate(nextOf(place), { replace: true });
  });
  return (
    <>
      <PageTitle>Sign in</PageTitle>
      {place.query.get("reason") === "basket" && <Status>Sign in to add products to your basket.</Status>}
      <form
        class="form narrow"
        onSubmit={(e) => {
          e.preventDefault();
          void action.run();
        }}
      >
        <Field label="Email" id="signin-email">
          <input id="signin-email" type="email" autocomplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </Field>
        <Field label="Password" id="signin-password">
          <input id="signin-password" type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </Field>
        <ErrorMessage error={action.error} />
        <button type="submit" class="primary" disabled={action.busy}>
          Sign in
        </button>
      </form>
      <p>
        New here? <a href={`/register${place.query.get("next") ? `?next=${encodeURIComponent(nextOf(place))}` : ""}`}>Create an account</a>.
      </p>
    </>
  );
}

export function RegisterPage({ place }: { place: Place }) {
  const [form, setForm] = useState({ firstName: "", lastName: "", email: "", password: "" });
  const set = (key: keyof typeof form) => (e: { currentTarget: HTMLInputElement }) => setForm({ ...form, [key]: e.currentTarget.value });
  const action = useAction(async () => {
    await api("/users/register", {
      method: "POST",
      anonymous: true,
      body: { firstName: form.firstName.trim(), lastName: form.lastName.trim(), email: form.email.trim(), password: form.password },
    });
    await signIn(form.email.trim(), form.password);
    navigate(nextOf(place), { replace: true });
  });
  return (
    <>
      <PageTitle>Register</PageTitle>
      <form
        class="form narrow"
        onSubmit={(e) => {
          e.preventDefault();
          void action.run();
        }}
      >
        <Field label="First name" id="reg-first">
          <input id="reg-first" autocomplete="given-name" required maxLength={100} value={form.firstName} onInput={set("firstName")} />
        </Field>
        <Field label="Last name" id="reg-last">
          <input id="reg-last" autocomplete="family-name" required maxLength={100} value={form.lastName} onInput={set("lastName")} />
        </Field>
        <Field label="Email" id="reg-email">
          <input id="reg-email" type="email" autocomplete="email" required value={form.email} onInput={set("email")} />
        </Field>
        <Field label="Password" id="reg-password" hint="8 to 128 characters, not your email.">
          <input
            id="reg-password"
            type="password"
            autocomplete="new-password"
            required
            minLength={8}
            maxLength={128}
            aria-describedby="reg-password-hint"
            value={form.password}
            onInput={set("password")}
          />
        </Field>
        <ErrorMessage error={action.error} />
        <button type="submit" class="primary" disabled={action.busy}>
          Register
        </button>
      </form>
      <p>
        Have an account? <a href={`/signin${place.query.get("next") ? `?next=${encodeURIComponent(nextOf(place))}` : ""}`}>Sign in</a>.
      </p>
    </>
  );
}
