import { useState } from "preact/hooks";
import { isoDay } from "../format";
import type { Range } from "../endpoints";
import { uid } from "./Field";

const PRESETS = [7, 30, 90];

export function defaultRange(days = 30): Range {
  return { startDate: isoDay(days - 1), endDate: isoDay(0) };
}

/** The last 7, 30 or 90 days, or two dates; whole UTC days, the end day included. */
export function RangePicker({ value, onChange }: { value: Range; onChange: (r: Range) => void }) {
  const [ids] = useState(() => ({ from: uid("from"), to: uid("to") }));
  const preset = PRESETS.find((d) => value.endDate === isoDay(0) && value.startDate === isoDay(d - 1));
  return (
    <fieldset class="range">
      <legend class="visually-hidden">Date range</legend>
      <div class="segmented" role="group" aria-label="Quick ranges">
        {PRESETS.map((d) => (
          <button type="button" aria-pressed={preset === d} onClick={() => onChange(defaultRange(d))} key={d}>
            {d} days
          </button>
        ))}
      </div>
      <label for={ids.from}>From</label>
      <input
        id={ids.from}
        type="date"
        value={value.startDate}
        max={value.endDate}
        onChange={(e) => onChange({ ...value, startDate: e.currentTarget.value })}
      />
      <label for={ids.to}>to</label>
      <input
        id={ids.to}
        type="date"
        value={value.endDate}
        min={value.startDate}
        onChange={(e) => onChange({ ...value, endDate: e.currentTarget.value })}
      />
    </fieldset>
  );
}
