import { useState } from "preact/hooks";
import { ConfirmButton } from "../components/ConfirmButton";
import { ariaFor, Field, fieldError } from "../components/Field";
import { Card, Page } from "../components/Layout";
import { Async, ErrorNote } from "../components/States";
import { apiKeys } from "../endpoints";
import { dateTime } from "../format";
import { useLoad } from "../hooks";
import type { ApiKey, ApiKeyScope } from "../types";

const SCOPES: { scope: ApiKeyScope; what: string }[] = [
  { scope: "events:write", what: "send events for any user (deposits, cards activated)" },
  { scope: "rewards:read", what: "read the reward ledger" },
  { scope: "rewards:write", what: "mark rewards paid or voided" },
  { scope: "users:read", what: "read the user list and profiles" },
];

/** Keys for the operator's servers: made here, the secret shown once, revoked at once. */
export function ApiKeys() {
  const load = useLoad(() => apiKeys.list(), []);
  const [made, setMade] = useState<ApiKey & { key: string }>();
  return (
    <Page title="API keys">
      <Card title="New key">
        <NewKey
          onMade={(key) => {
            setMade(key);
            load.reload();
          }}
        />
        {made && <Secret made={made} onDone={() => setMade(undefined)} />}
      </Card>
      <Async load={load} isEmpty={(d) => d.apiKeys.length === 0} empty="No API keys yet.">
        {(d) => (
          <div class="table-wrap">
            <table data-testid="api-keys">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Prefix</th>
                  <th scope="col">Scopes</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Status</th>
                </tr>
              </thead>
              <tbody>
                {d.apiKeys.map((k) => (
                  <KeyRow key={k.id} apiKey={k} onChanged={load.reload} />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Async>
    </Page>
  );
}

function KeyRow({ apiKey: k, onChanged }: { apiKey: ApiKey; onChanged: () => void }) {
  const [error, setError] = useState<unknown>();
  async function revoke() {
    setError(undefined);
    try {
      await apiKeys.revoke(k.id);
      onChanged();
    } catch (err) {
      setError(err);
    }
  }
  return (
    <tr data-key={k.prefix} data-revoked={k.revokedAt ? "true" : "false"}>
      <td>{k.name}</td>
      <td class="mono">{k.prefix}…</td>
      <td>{k.scopes.join(", ")}</td>
      <td>{dateTime(k.createdAt)}</td>
      <td>{k.lastUsedAt ? dateTime(k.lastUsedAt) : "never"}</td>
      <td>
        {k.revokedAt ? (
          <span class="badge voided">revoked {dateTime(k.revokedAt)}</span>
        ) : (
          <ConfirmButton label="Revoke" question={`Revoke ${k.name}? Its next request is refused.`} danger onConfirm={revoke} />
        )}
        {error ? <ErrorNote error={error} /> : null}
      </td>
    </tr>
  );
}

function NewKey({ onMade }: { onMade: (key: ApiKey & { key: string }) => void }) {
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<ApiKeyScope[]>([]);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onMade(await apiKeys.create(name, scopes));
      setName("");
      setScopes([]);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  const nameError = fieldError(error, "name");
  const scopesError = fieldError(error, "scopes");
  const toggle = (scope: ApiKeyScope, on: boolean) => setScopes(on ? [...scopes, scope] : scopes.filter((s) => s !== scope));
  return (
    <form onSubmit={submit} noValidate>
      <Field id="key-name" label="Name" error={nameError} hint="What it is for, e.g. core banking payouts.">
        <input {...ariaFor("key-name", nameError)} value={name} maxLength={100} onInput={(e) => setName(e.currentTarget.value)} />
      </Field>
      <fieldset class={scopesError ? "invalid" : undefined} aria-describedby={scopesError ? "key-scopes-error" : undefined}>
        <legend>Scopes</legend>
        {SCOPES.map(({ scope, what }) => (
          <label key={scope} class="check">
            <input type="checkbox" checked={scopes.includes(scope)} onChange={(e) => toggle(scope, e.currentTarget.checked)} />
            <span class="mono">{scope}</span> <span class="muted">{what}</span>
          </label>
        ))}
        {scopesError && (
          <small id="key-scopes-error" class="field-error" role="alert">
            {scopesError}
          </small>
        )}
      </fieldset>
      {error && !nameError && !scopesError ? <ErrorNote error={error} /> : null}
      <button type="submit" disabled={busy}>
        Create key
      </button>
    </form>
  );
}

/** The secret, this once: it is stored only as a hash. */
function Secret({ made, onDone }: { made: ApiKey & { key: string }; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <div class="secret" role="status" data-testid="new-key">
      <p>
        <strong>{made.name}</strong>: copy the key now. It is not shown again; if it is lost, revoke it and make another.
      </p>
      <code class="mono" data-testid="new-key-secret">
        {made.key}
      </code>
      <div class="inline">
        <button
          type="button"
          class="small"
          onClick={async () => {
            await navigator.clipboard?.writeText(made.key).catch(() => undefined);
            setCopied(true);
          }}
        >
          {copied ? "Copied" : "Copy"}
        </button>
        <button type="button" class="small secondary" onClick={onDone}>
          Done
        </button>
      </div>
    </div>
  );
}
