import { useState } from "preact/hooks";
import type { ApiError } from "../api";
import { ariaFor, Field, fieldError, formLevel } from "../components/Field";
import { FunnelBars, FunnelTable } from "../components/FunnelChart";
import { Card, Page } from "../components/Layout";
import { defaultRange } from "../components/RangePicker";
import { ErrorNote, Loading } from "../components/States";
import { analytics } from "../endpoints";
import { useLoad } from "../hooks";
import type { FunnelResult } from "../types";

const MIN_STEPS = 2;
const MAX_STEPS = 8;

export function Funnels() {
  const [steps, setSteps] = useState<string[]>(["", ""]);
  const [windowHours, setWindowHours] = useState("168");
  const [split, setSplit] = useState(false);
  const [result, setResult] = useState<{ data: FunnelResult; split: boolean }>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  // Event names seen in the last 30 days, offered as suggestions.
  const names = useLoad(() => analytics.events(defaultRange(30)), []);

  async function run(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const body = { steps: steps.map((s) => s.trim()), windowHours: Number(windowHours), ...(split ? { groupBy: "referred" as const } : {}) };
      setResult({ data: await analytics.funnel(body), split });
    } catch (err) {
      setError(err);
      setResult(undefined);
    } finally {
      setBusy(false);
    }
  }

  const setStep = (i: number, v: string) => setSteps(steps.map((s, j) => (j === i ? v : s)));
  // The API names the list (`steps`) and quotes the bad name: show it at that step, or else
  // above the list.
  const stepsError = fieldError(error, "steps");
  const culprit = stepsError ? steps.findIndex((s) => s.trim() && (error as ApiError).detail.includes(`"${s.trim()}"`)) : -1;
  return (
    <Page title="Funnels">
      <Card title="Build a funnel" wide>
        <form class="funnel-form" onSubmit={run} noValidate>
          {formLevel(error, ["steps", "windowHours"]) && <ErrorNote error={error} />}
          {stepsError && culprit < 0 && (
            <p class="field-error" role="alert" data-field="steps">
              {stepsError}
            </p>
          )}
          <ol class="steps">
            {steps.map((s, i) => {
              const id = `step-${i}`;
              const err = fieldError(error, `steps[${i}]`) ?? (i === culprit ? stepsError : undefined);
              return (
                <li key={i}>
                  <Field id={id} label={`Step ${i + 1} event`} error={err}>
                    <div class="inline">
                      <input {...ariaFor(id, err)} list="event-names" value={s} onInput={(e) => setStep(i, e.currentTarget.value)} placeholder="event_name" />
                      {steps.length > MIN_STEPS && (
                        <button type="button" class="secondary small" onClick={() => setSteps(steps.filter((_, j) => j !== i))} aria-label={`Remove step ${i + 1}`}>
                          Remove
                        </button>
                      )}
                    </div>
                  </Field>
                </li>
              );
            })}
          </ol>
          <datalist id="event-names">
            {names.state === "ok" && Object.keys(names.data.eventCounts).sort().map((n) => <option value={n} key={n} />)}
          </datalist>
          <div class="row">
            <button type="button" class="secondary" disabled={steps.length >= MAX_STEPS} onClick={() => setSteps([...steps, ""])}>
              Add step
            </button>
            <Field id="window" label="Window (hours, 1–720)" error={fieldError(error, "windowHours")}>
              <input {...ariaFor("window", fieldError(error, "windowHours"))} type="number" min={1} max={720} value={windowHours} onInput={(e) => setWindowHours(e.currentTarget.value)} />
            </Field>
            <label class="check">
              <input type="checkbox" checked={split} onChange={(e) => setSplit(e.currentTarget.checked)} /> Split referred / organic
            </label>
            <button type="submit" disabled={busy}>
              {busy ? "Running…" : "Run funnel"}
            </button>
          </div>
        </form>
      </Card>
      {busy && <Loading label="Counting…" />}
      {result && !busy && <FunnelView result={result.data} split={result.split} />}
    </Page>
  );
}

function FunnelView({ result, split }: { result: FunnelResult; split: boolean }) {
  const names = result.steps.map((s) => s.eventName);
  const rows = (steps: FunnelResult["steps"]) =>
    steps.map((s) => ({ name: s.eventName, users: s.users, conversionFromPrevious: s.conversionFromPrevious, medianHoursFromPrevious: s.medianHoursFromPrevious ?? null }));
  if (result.steps[0]?.users === 0) {
    return (
      <Card wide>
        <p class="state empty" data-testid="empty">
          Nobody did “{names[0]}” in this range, so the funnel is empty.
        </p>
      </Card>
    );
  }
  const groups = split ? result.groups : undefined;
  return (
    <Card title={`Funnel within ${result.windowHours} hours`} wide>
      <div data-testid="funnel-result">
        <FunnelBars
          steps={names}
          series={
            groups
              ? [
                  { name: "Referred", counts: groups.referred.steps.map((s) => s.users) },
                  { name: "Organic", counts: groups.organic.steps.map((s) => s.users) },
                ]
              : [{ name: "Users", counts: result.steps.map((s) => s.users) }]
          }
          label="Users reaching each funnel step"
        />
        <FunnelTable testid="funnel-table" caption="All users" rows={rows(result.steps)} />
        {groups && (
          <div class="split">
            <FunnelTable testid="funnel-table-referred" caption="Referred users" rows={rows(groups.referred.steps)} />
            <FunnelTable testid="funnel-table-organic" caption="Organic users" rows={rows(groups.organic.steps)} />
          </div>
        )}
      </div>
    </Card>
  );
}
