import { useState } from "preact/hooks";
import { session } from "../api";
import { ConfirmButton } from "../components/ConfirmButton";
import { IntervalPlot } from "../components/IntervalPlot";
import { Card, Page } from "../components/Layout";
import { Async, ErrorNote } from "../components/States";
import { experiments } from "../endpoints";
import { count, dateTime, percent, points } from "../format";
import { useLoad } from "../hooks";
import { canEditExperiments } from "../nav";
import type { Experiment, ExperimentResults, ExperimentStatus } from "../types";

/** What each status can move to, and the button that says it. */
const ACTIONS: Record<ExperimentStatus, { to: ExperimentStatus; label: string }[]> = {
  draft: [{ to: "active", label: "Start" }],
  active: [
    { to: "paused", label: "Pause" },
    { to: "completed", label: "Complete" },
  ],
  paused: [
    { to: "active", label: "Resume" },
    { to: "completed", label: "Complete" },
  ],
  completed: [],
};

export function ExperimentDetail({ id }: { id: string }) {
  const load = useLoad(() => experiments.get(id), [id]);
  return (
    <Async load={load}>
      {({ experiment }) => <Detail experiment={experiment} onChanged={load.reload} />}
    </Async>
  );
}

function Detail({ experiment: x, onChanged }: { experiment: Experiment; onChanged: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const canEdit = canEditExperiments(session()!.user.role);

  async function move(to: ExperimentStatus) {
    setBusy(true);
    setError(undefined);
    try {
      await experiments.setStatus(x.id, to);
      onChanged();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Page
      title={x.name}
      actions={
        canEdit &&
        ACTIONS[x.status].map((a) =>
          a.to === "completed" ? (
            <ConfirmButton key={a.to} label={a.label} question="It cannot be started again." disabled={busy} onConfirm={() => move(a.to)} />
          ) : (
            <button type="button" key={a.to} disabled={busy} onClick={() => move(a.to)}>
              {a.label}
            </button>
          ),
        )
      }
    >
      <p>
        <a href="#/experiments">← All experiments</a>
      </p>
      {error ? <ErrorNote error={error} /> : null}
      <Card wide>
        <dl class="facts">
          <div>
            <dt>Status</dt>
            <dd>
              <span class={`badge ${x.status}`} data-testid="experiment-status">
                {x.status}
              </span>
            </dd>
          </div>
          <div>
            <dt>Key</dt>
            <dd class="mono">{x.key}</dd>
          </div>
          <div>
            <dt>Metric</dt>
            <dd>
              <span class="mono">{x.metric.eventName}</span> within {x.metric.windowHours ?? 168} h of exposure
            </dd>
          </div>
          <div>
            <dt>Split</dt>
            <dd>{x.variants.map((v) => `${v.name} ${v.weight}`).join(" · ")}</dd>
          </div>
          <div>
            <dt>Started</dt>
            <dd>{dateTime(x.startedAt)}</dd>
          </div>
        </dl>
        {x.description && <p>{x.description}</p>}
      </Card>
      {x.status === "draft" ? (
        <p class="state empty">Results appear once the experiment has started and users have seen it.</p>
      ) : (
        <Results id={x.id} />
      )}
    </Page>
  );
}

function Results({ id }: { id: string }) {
  const load = useLoad(() => experiments.results(id), [id]);
  return (
    <Async load={load} isEmpty={(d) => d.results.totalParticipants === 0} empty="No one has been exposed to this experiment yet.">
      {({ results }) => <ResultsView r={results} />}
    </Async>
  );
}

function ResultsView({ r }: { r: ExperimentResults }) {
  const control = r.variants[0];
  return (
    <>
      {r.srm.mismatch && (
        <div class="banner danger" role="alert" data-testid="srm-banner">
          <strong>Sample ratio mismatch.</strong> The variants' participant counts are far from the planned split (χ² = {r.srm.chiSquare.toFixed(1)}, p ={" "}
          {r.srm.pValue.toExponential(1)}). Assignment or exposure logging is broken; do not trust these results until it is fixed.
        </div>
      )}
      <Card title={`Results: ${count(r.totalParticipants)} participants`} wide>
        {r.excludedUsers > 0 && <p class="muted">{count(r.excludedUsers)} users saw more than one variant and are left out.</p>}
        <div class="table-wrap">
          <table data-testid="results">
            <thead>
              <tr>
                <th scope="col">Variant</th>
                <th scope="col" class="num">Participants</th>
                <th scope="col" class="num">Conversions</th>
                <th scope="col" class="num">Rate</th>
                <th scope="col" class="num">Lift</th>
                <th scope="col" class="num">95 % interval</th>
                <th scope="col" class="num">Chance to beat control</th>
              </tr>
            </thead>
            <tbody>
              {r.variants.map((v, i) => (
                <tr key={v.name} data-variant={v.name} data-participants={v.participants} data-conversions={v.conversions}>
                  <th scope="row">
                    {v.name}
                    {i === 0 && v.name !== "control" && <span class="muted"> (control)</span>}
                  </th>
                  <td class="num">{count(v.participants)}</td>
                  <td class="num">{count(v.conversions)}</td>
                  <td class="num">{percent(v.conversionRate)}</td>
                  <td class="num">{i === 0 ? "–" : percent(v.lift)}</td>
                  <td class="num">{v.ci95 ? `${points(v.ci95[0])} to ${points(v.ci95[1])}` : "–"}</td>
                  <td class="num">{i === 0 ? "–" : percent(v.chanceToBeatControl, 0)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <IntervalPlot variants={r.variants} />
        <p class="muted">
          Control converts at {percent(control.conversionRate)}. Split check: χ² = {r.srm.chiSquare.toFixed(2)}, p {r.srm.pValue < 0.001 ? "< 0.001" : `= ${r.srm.pValue.toFixed(3)}`}.
        </p>
      </Card>
    </>
  );
}
