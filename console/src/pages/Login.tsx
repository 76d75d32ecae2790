import { useState } from "preact/hooks";
import { ApiError, plainError } from "../api";
import { NotStaffError, signIn } from "../auth";
import { Field } from "../components/Field";

export function Login() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await signIn(email.trim(), password);
    } catch (err) {
      setError(
        err instanceof NotStaffError
          ? err.message
          : err instanceof ApiError && err.code === "UNAUTHORIZED"
            ? "That email and password do not match an account."
            : plainError(err),
      );
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="login" id="main">
      <form onSubmit={submit} noValidate aria-labelledby="login-title">
        <h1 id="login-title">GrowStack console</h1>
        <p class="muted">Sign in with your staff account.</p>
        {error && (
          <div class="banner danger" role="alert" data-testid="login-error">
            {error}
          </div>
        )}
        <Field id="email" label="Email">
          <input id="email" type="email" autoComplete="username" value={email} onInput={(e) => setEmail(e.currentTarget.value)} required />
        </Field>
        <Field id="password" label="Password">
          <input
            id="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
            required
          />
        </Field>
        <button type="submit" disabled={busy || !email || !password}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
