import { useState } from "preact/hooks";
import { ConfirmButton } from "../components/ConfirmButton";
import { ariaFor, Field, fieldError } from "../components/Field";
import { Card, Page } from "../components/Layout";
import { Async, ErrorNote } from "../components/States";
import { webhooks } from "../endpoints";
import { dateTime } from "../format";
import { useLoad } from "../hooks";
import type { Webhook, WebhookEventType } from "../types";

const TYPES: WebhookEventType[] = [
  "reward.available",
  "reward.paid",
  "reward.voided",
  "referral.completed",
  "kyc.updated",
  "user.registered",
  "user.erased",
  "experiment.completed",
];

/** Endpoints that receive signed events: made here (the secret shown once), tested, their deliveries read and redelivered. */
export function Webhooks() {
  const load = useLoad(() => webhooks.list(), []);
  const [made, setMade] = useState<Webhook & { secret: string }>();
  return (
    <Page title="Webhooks">
      <Card title="New endpoint">
        <NewEndpoint
          onMade={(hook) => {
            setMade(hook);
            load.reload();
          }}
        />
        {made && (
          <div class="secret" role="status" data-testid="new-webhook">
            <p>
              Signing secret for <span class="mono">{made.url}</span>: copy it now, it is not shown again. Check each
              delivery's <span class="mono">X-GrowStack-Signature</span> with it.
            </p>
            <code class="mono" data-testid="new-webhook-secret">
              {made.secret}
            </code>
            <button type="button" class="small secondary" onClick={() => setMade(undefined)}>
              Done
            </button>
          </div>
        )}
      </Card>
      <Async load={load} isEmpty={(d) => d.webhooks.length === 0} empty="No webhook endpoints yet.">
        {(d) => (
          <>
            {d.webhooks.map((w) => (
              <EndpointCard key={w.id} hook={w} onChanged={load.reload} />
            ))}
          </>
        )}
      </Async>
    </Page>
  );
}

function EndpointCard({ hook: w, onChanged }: { hook: Webhook; onChanged: () => void }) {
  const [open, setOpen] = useState(false);
  const [error, setError] = useState<unknown>();
  const act = (work: () => Promise<unknown>) => async () => {
    setError(undefined);
    try {
      await work();
      onChanged();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <Card title={w.url}>
      <div data-webhook={w.id} data-enabled={w.enabled ? "true" : "false"}>
        <p>
          <span class={`badge ${w.enabled ? "completed" : "voided"}`}>{w.enabled ? "enabled" : "disabled"}</span>{" "}
          {w.disabledReason && <span class="muted">{w.disabledReason}</span>}
          {w.failingSince && <span class="muted"> failing since {dateTime(w.failingSince)}</span>}
        </p>
        <p class="muted">{w.events.join(", ")}</p>
        {w.description && <p>{w.description}</p>}
        <div class="inline">
          <button type="button" class="small" onClick={act(() => webhooks.test(w.id))}>
            Send test
          </button>
          <button type="button" class="small secondary" onClick={() => setOpen(!open)} aria-expanded={open}>
            {open ? "Hide deliveries" : "Deliveries"}
          </button>
          <button type="button" class="small secondary" onClick={act(() => webhooks.setEnabled(w.id, !w.enabled))}>
            {w.enabled ? "Disable" : "Enable"}
          </button>
          <ConfirmButton label="Delete" question="Delete this endpoint and its deliveries?" danger onConfirm={act(() => webhooks.remove(w.id))} />
        </div>
        {error ? <ErrorNote error={error} /> : null}
        {open && <Deliveries id={w.id} />}
      </div>
    </Card>
  );
}

function Deliveries({ id }: { id: string }) {
  const load = useLoad(() => webhooks.deliveries(id), [id]);
  const [error, setError] = useState<unknown>();
  return (
    <Async load={load} isEmpty={(d) => d.deliveries.length === 0} empty="No deliveries yet.">
      {(d) => (
        <div class="table-wrap">
          {error ? <ErrorNote error={error} /> : null}
          <button type="button" class="small secondary" onClick={load.reload}>
            Refresh
          </button>
          <table data-testid="webhook-deliveries">
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Status</th>
                <th scope="col" class="num">Attempts</th>
                <th scope="col">Last answer</th>
                <th scope="col">Next attempt</th>
                <th scope="col">Action</th>
              </tr>
            </thead>
            <tbody>
              {d.deliveries.map((x) => (
                <tr key={x.id} data-delivery={x.id} data-status={x.status} data-type={x.eventType}>
                  <td>
                    <span class="mono">{x.eventType}</span>
                    <div class="muted">{dateTime(x.createdAt)}</div>
                  </td>
                  <td>
                    <span class={`badge ${x.status === "delivered" ? "completed" : x.status === "failed" ? "failed" : "pending"}`}>{x.status}</span>
                  </td>
                  <td class="num">{x.attempts}</td>
                  <td>{x.lastStatusCode ?? x.lastError ?? "–"}</td>
                  <td>{x.nextAttemptAt ? dateTime(x.nextAttemptAt) : "–"}</td>
                  <td>
                    <button
                      type="button"
                      class="small secondary"
                      onClick={async () => {
                        setError(undefined);
                        try {
                          await webhooks.redeliver(id, x.id);
                          load.reload();
                        } catch (err) {
                          setError(err);
                        }
                      }}
                    >
                      Redeliver
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Async>
  );
}

function NewEndpoint({ onMade }: { onMade: (hook: Webhook & { secret: string }) => void }) {
  const [url, setUrl] = useState("");
  const [description, setDescription] = useState("");
  const [events, setEvents] = useState<WebhookEventType[]>([]);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onMade(await webhooks.create(url, events, description));
      setUrl("");
      setDescription("");
      setEvents([]);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  const urlError = fieldError(error, "url");
  const eventsError = fieldError(error, "events");
  const toggle = (t: WebhookEventType, on: boolean) => setEvents(on ? [...events, t] : events.filter((x) => x !== t));
  return (
    <form onSubmit={submit} noValidate>
      <Field id="hook-url" label="URL" error={urlError} hint="https, reachable from the internet.">
        <input {...ariaFor("hook-url", urlError)} value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
      </Field>
      <Field id="hook-description" label="Description">
        <input id="hook-description" value={description} maxLength={500} onInput={(e) => setDescription(e.currentTarget.value)} />
      </Field>
      <fieldset class={eventsError ? "invalid" : undefined} aria-describedby={eventsError ? "hook-events-error" : undefined}>
        <legend>Events</legend>
        {TYPES.map((t) => (
          <label key={t} class="check">
            <input type="checkbox" checked={events.includes(t)} onChange={(e) => toggle(t, e.currentTarget.checked)} />
            <span class="mono">{t}</span>
          </label>
        ))}
        {eventsError && (
          <small id="hook-events-error" class="field-error" role="alert">
            {eventsError}
          </small>
        )}
      </fieldset>
      {error && !urlError && !eventsError ? <ErrorNote error={error} /> : null}
      <button type="submit" disabled={busy}>
        Add endpoint
      </button>
    </form>
  );
}
