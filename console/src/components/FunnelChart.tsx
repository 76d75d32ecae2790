import type { ChartConfiguration } from "chart.js";
import { useMemo } from "preact/hooks";
import { count, hours, percent } from "../format";
import { barValues, ChartCanvas, palette } from "./Chart";

export interface FunnelSeries {
  name: string;
  counts: number[];
}

/** Bars per step (one colour per series), each bar labelled with its count. */
export function FunnelBars({ steps, series, label }: { steps: string[]; series: FunnelSeries[]; label: string }) {
  const config = useMemo<ChartConfiguration<"bar">>(
    () => ({
      type: "bar",
      data: {
        labels: steps,
        datasets: series.map((s, i) => ({ label: s.name, data: s.counts, backgroundColor: palette[i % palette.length], borderRadius: 4 })),
      },
      options: {
        layout: { padding: { top: 20 } },
        plugins: { legend: { display: series.length > 1, position: "bottom" } },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, x: { grid: { display: false } } },
      },
      plugins: [barValues],
    }),
    [JSON.stringify(steps), JSON.stringify(series)],
  );
  return <ChartCanvas config={config as ChartConfiguration} label={label} />;
}

export interface StepRow {
  name: string;
  users: number;
  conversionFromPrevious?: number | null;
  medianHoursFromPrevious?: number | null;
}

/** The numbers under a funnel chart: users per step and what was lost between steps. */
export function FunnelTable({ rows, caption, testid }: { rows: StepRow[]; caption: string; testid?: string }) {
  const showMedian = rows.some((r) => r.medianHoursFromPrevious !== undefined);
  return (
    <div class="table-wrap">
      <table data-testid={testid}>
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Step</th>
            <th scope="col" class="num">
              Users
            </th>
            <th scope="col" class="num">
              From previous
            </th>
            <th scope="col" class="num">
              Drop-off
            </th>
            {showMedian && (
              <th scope="col" class="num">
                Median time
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => {
            const lost = i === 0 ? null : rows[i - 1].users - r.users;
            return (
              <tr key={r.name} data-step={r.name} data-users={r.users}>
                <th scope="row">{r.name}</th>
                <td class="num">{count(r.users)}</td>
                <td class="num">{i === 0 ? "–" : percent(r.conversionFromPrevious ?? (rows[i - 1].users ? r.users / rows[i - 1].users : null))}</td>
                <td class="num drop" data-drop={lost ?? ""}>
                  {lost === null ? "–" : `−${count(lost)}`}
                </td>
                {showMedian && <td class="num">{i === 0 ? "–" : hours(r.medianHoursFromPrevious)}</td>}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
