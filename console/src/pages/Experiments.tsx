import { useState } from "preact/hooks";
import { session } from "../api";
import { ariaFor, Field, fieldError, formLevel } from "../components/Field";
import { Card, Page } from "../components/Layout";
import { Async, ErrorNote } from "../components/States";
import { experiments } from "../endpoints";
import { date } from "../format";
import { navigate, useLoad } from "../hooks";
import { canEditExperiments } from "../nav";
import type { Experiment, ExperimentStatus } from "../types";

const STATUSES: ExperimentStatus[] = ["draft", "active", "paused", "completed"];

export function Experiments() {
  const [status, setStatus] = useState<ExperimentStatus | "">("");
  const [creating, setCreating] = useState(false);
  const load = useLoad(() => experiments.list({ status: status || undefined, limit: 100 }), [status]);
  const canEdit = canEditExperiments(session()!.user.role);
  return (
    <Page
      title="Experiments"
      actions={
        canEdit && !creating ? (
          <button type="button" onClick={() => setCreating(true)}>
            New experiment
          </button>
        ) : undefined
      }
    >
      {creating && <CreateExperiment onCancel={() => setCreating(false)} />}
      <div class="toolbar">
        <label for="exp-status">Status</label>
        <select id="exp-status" value={status} onChange={(e) => setStatus(e.currentTarget.value as ExperimentStatus | "")}>
          <option value="">All</option>
          {STATUSES.map((s) => (
            <option value={s} key={s}>
              {s}
            </option>
          ))}
        </select>
      </div>
      <Async load={load} isEmpty={(d) => d.experiments.length === 0} empty={status ? `No ${status} experiments.` : "No experiments yet."}>
        {(d) => <ExperimentTable rows={d.experiments} />}
      </Async>
    </Page>
  );
}

function ExperimentTable({ rows }: { rows: Experiment[] }) {
  return (
    <div class="table-wrap">
      <table data-testid="experiments">
        <thead>
          <tr>
            <th scope="col">Experiment</th>
            <th scope="col">Status</th>
            <th scope="col">Variants</th>
            <th scope="col">Metric</th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((x) => (
            <tr key={x.id} data-key={x.key}>
              <th scope="row">
                <a href={`#/experiments/${x.id}`}>{x.name}</a>
                <div class="muted mono">{x.key}</div>
              </th>
              <td>
                <span class={`badge ${x.status}`}>{x.status}</span>
              </td>
              <td>{x.variants.map((v) => v.name).join(", ")}</td>
              <td class="mono">{x.metric.eventName}</td>
              <td>{date(x.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

interface VariantDraft {
  name: string;
  weight: string;
}

const FIELDS = ["key", "name", "description", "variants", "metric"];

function CreateExperiment({ onCancel }: { onCancel: () => void }) {
  const [key, setKey] = useState("");
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [eventName, setEventName] = useState("");
  const [windowHours, setWindowHours] = useState("168");
  const [variants, setVariants] = useState<VariantDraft[]>([
    { name: "control", weight: "50" },
    { name: "treatment", weight: "50" },
  ]);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const { experiment } = await experiments.create({
        key: key.trim(),
        name,
        ...(description.trim() ? { description } : {}),
        variants: variants.map((v) => ({ name: v.name, weight: Number(v.weight) })),
        metric: { eventName: eventName.trim(), windowHours: Number(windowHours) },
      });
      navigate(`experiments/${experiment.id}`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  const setVariant = (i: number, patch: Partial<VariantDraft>) => setVariants(variants.map((v, j) => (j === i ? { ...v, ...patch } : v)));
  const err = (f: string) => fieldError(error, f);
  // An error about the list as a whole (count, weights' sum) shows above the variants.
  const listError = error && (error as { field?: string }).field === "variants" ? err("variants") : undefined;
  return (
    <Card title="New experiment" wide>
      <form onSubmit={submit} noValidate data-testid="create-experiment">
        {formLevel(error, FIELDS) && <ErrorNote error={error} />}
        <div class="form-grid">
          <Field id="exp-key" label="Key" hint="3–64 lower-case letters, digits or dashes; what the app asks for" error={err("key")}>
            <input {...ariaFor("exp-key", err("key"))} value={key} onInput={(e) => setKey(e.currentTarget.value)} autoComplete="off" />
          </Field>
          <Field id="exp-name" label="Name" error={err("name")}>
            <input {...ariaFor("exp-name", err("name"))} value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </Field>
          <Field id="exp-event" label="Metric event" hint="the event that counts as a conversion" error={err("metric.eventName")}>
            <input {...ariaFor("exp-event", err("metric.eventName"))} value={eventName} onInput={(e) => setEventName(e.currentTarget.value)} />
          </Field>
          <Field id="exp-window" label="Conversion window (hours)" error={err("metric.windowHours")}>
            <input {...ariaFor("exp-window", err("metric.windowHours"))} type="number" min={1} max={720} value={windowHours} onInput={(e) => setWindowHours(e.currentTarget.value)} />
          </Field>
          <Field id="exp-description" label="Description (optional)" error={err("description")}>
            <textarea {...ariaFor("exp-description", err("description"))} value={description} onInput={(e) => setDescription(e.currentTarget.value)} rows={2} />
          </Field>
        </div>
        <fieldset class={`variants${listError ? " invalid" : ""}`} aria-describedby={listError ? "variants-error" : undefined}>
          <legend>Variants (the first is the control; weights sum to 100)</legend>
          {listError && (
            <small class="field-error" id="variants-error" role="alert" data-field="variants">
              {listError}
            </small>
          )}
          {variants.map((v, i) => (
            <div class="inline variant" key={i}>
              <Field id={`variant-${i}-name`} label={`Variant ${i + 1} name`} error={err(`variants[${i}].name`)}>
                <input {...ariaFor(`variant-${i}-name`, err(`variants[${i}].name`))} value={v.name} onInput={(e) => setVariant(i, { name: e.currentTarget.value })} />
              </Field>
              <Field id={`variant-${i}-weight`} label="Weight" error={err(`variants[${i}].weight`)}>
                <input
                  {...ariaFor(`variant-${i}-weight`, err(`variants[${i}].weight`))}
                  type="number"
                  min={0}
                  step="any"
                  value={v.weight}
                  onInput={(e) => setVariant(i, { weight: e.currentTarget.value })}
                />
              </Field>
              {variants.length > 2 && (
                <button type="button" class="secondary small" aria-label={`Remove variant ${i + 1}`} onClick={() => setVariants(variants.filter((_, j) => j !== i))}>
                  Remove
                </button>
              )}
            </div>
          ))}
          <button type="button" class="secondary" disabled={variants.length >= 10} onClick={() => setVariants([...variants, { name: "", weight: "" }])}>
            Add variant
          </button>
        </fieldset>
        <div class="row">
          <button type="submit" disabled={busy}>
            {busy ? "Creating…" : "Create experiment"}
          </button>
          <button type="button" class="secondary" onClick={onCancel}>
            Cancel
          </button>
        </div>
      </form>
    </Card>
  );
}
