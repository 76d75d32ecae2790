import { points } from "../format";
import type { VariantResult } from "../types";

/**
 * Each variant's difference in conversion rate from the control, with its 95 % interval as
 * an error bar, against the control at zero. An interval clear of zero is coloured.
 */
export function IntervalPlot({ variants }: { variants: VariantResult[] }) {
  const rows = variants.slice(1).filter((v) => v.ci95);
  if (rows.length === 0) return <p class="muted">No intervals yet: each variant needs participants.</p>;
  const control = variants[0];
  // Symmetric around the control, to a round number of percentage points; a difference in
  // rates lies within ±100 pp, whatever a normal approximation on few users says.
  const widest = Math.min(1, Math.max(...rows.flatMap((v) => v.ci95!.map(Math.abs))));
  const step = [0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5].find((s) => widest / s <= 3) ?? 0.5;
  const extent = Math.max(step, Math.ceil(widest / step) * step);
  const width = 640;
  const left = 120;
  const right = 40;
  const rowHeight = 44;
  const height = rows.length * rowHeight + 40;
  const clamp = (d: number) => Math.max(-extent, Math.min(extent, d));
  const x = (d: number) => left + ((clamp(d) + extent) / (2 * extent)) * (width - left - right);
  const ticks: number[] = [];
  for (let t = -extent; t <= extent + 1e-9; t += step) ticks.push(Number(t.toFixed(4)));
  return (
    <figure class="interval-plot">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-labelledby="interval-caption">
        <line x1={x(0)} x2={x(0)} y1={8} y2={height - 28} class="zero" />
        <text x={x(0)} y={height - 10} text-anchor="middle" class="axis">
          {control.name === "control" ? "control" : `${control.name} (control)`}
        </text>
        {ticks
          .filter((t) => Math.abs(t) > 1e-9)
          .map((t) => (
            <text x={x(t)} y={height - 10} text-anchor="middle" class="axis" key={t}>
              {points(t)}
            </text>
          ))}
        {rows.map((v, i) => {
          const [low, high] = v.ci95!;
          const diff = v.conversionRate - control.conversionRate;
          const y = 24 + i * rowHeight;
          const tone = low > 0 ? "better" : high < 0 ? "worse" : "unclear";
          return (
            <g
              class={`interval ${tone}`}
              data-testid="interval"
              data-variant={v.name}
              data-low={low.toFixed(4)}
              data-high={high.toFixed(4)}
              data-diff={diff.toFixed(4)}
              key={v.name}
            >
              <text x={left - 10} y={y + 4} text-anchor="end" class="label">
                {v.name}
              </text>
              <line x1={x(low)} x2={x(high)} y1={y} y2={y} class="bar" />
              <line x1={x(low)} x2={x(low)} y1={y - 7} y2={y + 7} class="bar" />
              <line x1={x(high)} x2={x(high)} y1={y - 7} y2={y + 7} class="bar" />
              <circle cx={x(diff)} cy={y} r={5} class="point" />
            </g>
          );
        })}
      </svg>
      <figcaption id="interval-caption">
        Difference in conversion rate from the control, with 95 % intervals (percentage points). An interval that
        crosses the control line is not a clear result.
      </figcaption>
    </figure>
  );
}
