import { useState } from "preact/hooks";
import { uid } from "../components/Field";
import { Card, Page } from "../components/Layout";
import { defaultRange, RangePicker } from "../components/RangePicker";
import { Async } from "../components/States";
import { analytics, type Range } from "../endpoints";
import { count, percent } from "../format";
import { useLoad } from "../hooks";
import type { RetentionAnalytics } from "../types";

export function Retention() {
  const [range, setRange] = useState<Range>(defaultRange(90));
  const [cohort, setCohort] = useState<"week" | "month">("week");
  const [periods, setPeriods] = useState(8);
  const [ids] = useState(() => ({ cohort: uid("cohort"), periods: uid("periods") }));
  const load = useLoad(() => analytics.retention({ ...range, cohort, periods }), [range.startDate, range.endDate, cohort, periods]);
  return (
    <Page title="Retention" actions={<RangePicker value={range} onChange={setRange} />}>
      <div class="toolbar">
        <label for={ids.cohort}>Cohorts by</label>
        <select id={ids.cohort} value={cohort} onChange={(e) => setCohort(e.currentTarget.value as "week" | "month")}>
          <option value="week">Week of sign-up</option>
          <option value="month">Month of sign-up</option>
        </select>
        <label for={ids.periods}>Periods</label>
        <select id={ids.periods} value={periods} onChange={(e) => setPeriods(Number(e.currentTarget.value))}>
          {[4, 8, 12, 26].map((n) => (
            <option value={n} key={n}>
              {n}
            </option>
          ))}
        </select>
      </div>
      <Async load={load} isEmpty={(d) => d.cohorts.length === 0} empty="No one signed up in this range, so there are no cohorts.">
        {(d) => (
          <>
            <dl class="stats">
              {(["7d", "30d", "90d"] as const).map((k) => (
                <div key={k}>
                  <dt>{k.replace("d", "-day")} retention</dt>
                  <dd>{percent(d.retentionRates[k])}</dd>
                </div>
              ))}
            </dl>
            <Card title={`Cohorts: share active in each ${d.cohortUnit} after sign-up`} wide>
              <Heatmap data={d} />
            </Card>
          </>
        )}
      </Async>
    </Page>
  );
}

/** Blue, stronger the more of the cohort came back. */
function shade(rate: number): string {
  return `rgba(37, 99, 235, ${(0.08 + rate * 0.85).toFixed(3)})`;
}

function Heatmap({ data }: { data: RetentionAnalytics }) {
  const width = Math.max(...data.cohorts.map((c) => c.retained.length));
  const unit = data.cohortUnit === "week" ? "Week" : "Month";
  return (
    <div class="table-wrap">
      <table class="heatmap" data-testid="retention-heatmap">
        <caption class="visually-hidden">Retention by cohort; each cell is the share of the cohort active in that period</caption>
        <thead>
          <tr>
            <th scope="col">Cohort</th>
            <th scope="col" class="num">
              Users
            </th>
            {Array.from({ length: width }, (_, i) => (
              <th scope="col" class="num" key={i}>
                {unit} {i}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {data.cohorts.map((c) => (
            <tr key={c.cohort} data-cohort={c.cohort}>
              <th scope="row">{c.cohort}</th>
              <td class="num">{count(c.size)}</td>
              {Array.from({ length: width }, (_, i) => {
                const n = c.retained[i];
                if (n === undefined) return <td class="future" key={i} aria-label="not yet" />;
                if (c.size === 0) return <td class="num muted" key={i}>–</td>;
                const rate = c.size ? n / c.size : 0;
                return (
                  <td
                    class={`num cell${rate > 0.55 ? " dark" : ""}`}
                    style={{ background: shade(rate) }}
                    title={`${count(n)} of ${count(c.size)}`}
                    data-retained={n}
                    key={i}
                  >
                    {percent(rate, 0)}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
