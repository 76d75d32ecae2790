import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartConfiguration,
  type Plugin,
} from "chart.js";
import { useEffect, useMemo, useRef } from "preact/hooks";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement, Filler, Tooltip, Legend);
Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily || "system-ui, sans-serif";
Chart.defaults.color = "#3d4a5c";

export const palette = ["#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#0ea5e9", "#ec4899", "#64748b"];

/** Writes each bar's value at its end, so the numbers read without hovering. */
export const barValues: Plugin<"bar"> = {
  id: "barValues",
  afterDatasetsDraw(chart) {
    const { ctx } = chart;
    const horizontal = chart.options.indexAxis === "y";
    ctx.save();
    ctx.fillStyle = "#1e293b";
    ctx.font = `600 12px ${Chart.defaults.font.family}`;
    chart.data.datasets.forEach((ds, i) => {
      const meta = chart.getDatasetMeta(i);
      if (meta.hidden) return;
      meta.data.forEach((bar, j) => {
        const v = ds.data[j];
        if (typeof v !== "number") return;
        const { x, y } = bar.getProps(["x", "y"], true) as { x: number; y: number };
        ctx.textAlign = horizontal ? "left" : "center";
        ctx.textBaseline = horizontal ? "middle" : "bottom";
        ctx.fillText(v.toLocaleString("en"), horizontal ? x + 4 : x, horizontal ? y : y - 3);
      });
    });
    ctx.restore();
  },
};

/** A Chart.js canvas; the chart is made again when `config` changes. `label` describes it. */
export function ChartCanvas({ config, label, height = 260 }: { config: ChartConfiguration; label: string; height?: number }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const chart = new Chart(canvas.current!, {
      ...config,
      options: { responsive: true, maintainAspectRatio: false, animation: false, ...config.options },
    });
    return () => chart.destroy();
  }, [config]);
  return (
    <div class="chart" style={{ height: `${height}px` }}>
      <canvas ref={canvas} role="img" aria-label={label} />
    </div>
  );
}

/** A small line without axes: the shape of a series over the range. */
export function Sparkline({ values, label, color = palette[0] }: { values: number[]; label: string; color?: string }) {
  const key = values.join(",");
  const config = useMemo<ChartConfiguration>(() => ({
    type: "line",
    data: {
      labels: values.map((_, i) => String(i)),
      datasets: [{ data: values, borderColor: color, backgroundColor: `${color}22`, fill: true, borderWidth: 2, pointRadius: 0, cubicInterpolationMode: "monotone" }],
    },
    options: {
      plugins: { legend: { display: false }, tooltip: { enabled: false } },
      scales: { x: { display: false }, y: { display: false, beginAtZero: true } },
      events: [],
    },
  }), [key, color]);
  return (
    <div class="sparkline" data-points={key}>
      <ChartCanvas config={config} label={label} height={44} />
    </div>
  );
}
