import { useState } from "preact/hooks";
import { ariaFor, Field, fieldError, formLevel } from "../components/Field";
import { Card, Page } from "../components/Layout";
import { ErrorNote } from "../components/States";
import { notifications } from "../endpoints";
import { count } from "../format";

const TYPES = ["custom", "welcome", "kyc_reminder", "referral_reward", "inactivity"];
const CHANNELS = ["email", "push", "sms", "whatsapp"];

/** One recipient → `send`; several → `batch` (up to 1000). */
export function Notifications({ to }: { to?: string }) {
  const [recipients, setRecipients] = useState(to ?? "");
  const [title, setTitle] = useState("");
  const [content, setContent] = useState("");
  const [type, setType] = useState("custom");
  const [channel, setChannel] = useState("email");
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState<string>();
  const [busy, setBusy] = useState(false);
  const ids = recipients.split(/[\s,;]+/).filter(Boolean);

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    const c = { title, content, type, channel } as Parameters<typeof notifications.send>[1];
    try {
      if (ids.length === 1) {
        await notifications.send(ids[0], c);
        setDone("Queued for 1 user.");
      } else {
        const r = await notifications.batch(ids, c);
        setDone(`Queued for ${count(r.queued)} users.`);
      }
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  const err = (f: string) => fieldError(error, f);
  const recipientError = err("userId") ?? err("userIds");
  return (
    <Page title="Notifications">
      <Card title="Send a notification" wide>
        <form onSubmit={submit} noValidate>
          {formLevel(error, ["userId", "userIds", "title", "content", "type", "channel"]) && <ErrorNote error={error} />}
          {done && (
            <div class="banner success" role="status" data-testid="sent">
              {done}
            </div>
          )}
          <Field id="n-to" label="Recipients (user ids, one per line)" hint={`${ids.length} recipient${ids.length === 1 ? "" : "s"}`} error={recipientError}>
            <textarea {...ariaFor("n-to", recipientError)} rows={3} value={recipients} onInput={(e) => setRecipients(e.currentTarget.value)} />
          </Field>
          <Field id="n-title" label="Title" error={err("title")}>
            <input {...ariaFor("n-title", err("title"))} value={title} onInput={(e) => setTitle(e.currentTarget.value)} />
          </Field>
          <Field id="n-content" label="Message" error={err("content")}>
            <textarea {...ariaFor("n-content", err("content"))} rows={4} value={content} onInput={(e) => setContent(e.currentTarget.value)} />
          </Field>
          <div class="row">
            <Field id="n-type" label="Type" error={err("type")}>
              <select id="n-type" value={type} onChange={(e) => setType(e.currentTarget.value)}>
                {TYPES.map((t) => (
                  <option key={t} value={t}>
                    {t}
                  </option>
                ))}
              </select>
            </Field>
            <Field id="n-channel" label="Channel" hint="Every notification also lands in the user's in-app inbox" error={err("channel")}>
              <select id="n-channel" value={channel} onChange={(e) => setChannel(e.currentTarget.value)}>
                {CHANNELS.map((c) => (
                  <option key={c} value={c}>
                    {c}
                  </option>
                ))}
              </select>
            </Field>
          </div>
          <button type="submit" disabled={busy || ids.length === 0}>
            {busy ? "Sending…" : ids.length > 1 ? `Send to ${ids.length} users` : "Send"}
          </button>
        </form>
      </Card>
    </Page>
  );
}
