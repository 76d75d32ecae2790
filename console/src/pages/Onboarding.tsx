import { useState } from "preact/hooks";
import { FunnelBars, FunnelTable } from "../components/FunnelChart";
import { Card, Page } from "../components/Layout";
import { defaultRange, RangePicker } from "../components/RangePicker";
import { Async } from "../components/States";
import { analytics, type Range } from "../endpoints";
import { count, hours, percent, stepLabel } from "../format";
import { useLoad } from "../hooks";

export function Onboarding({ isAdmin }: { isAdmin: boolean }) {
  const [range, setRange] = useState<Range>(defaultRange(30));
  const funnel = useLoad(() => analytics.onboarding(range), [range.startDate, range.endDate]);
  return (
    <Page title="Onboarding" actions={<RangePicker value={range} onChange={setRange} />}>
      <Card title="Sign-up to KYC" wide>
        <Async load={funnel} isEmpty={(d) => d.totalUsers === 0} empty="Nobody signed up in this range.">
          {(d) => {
            const steps = d.steps.map((s) => stepLabel[s.step] ?? s.step);
            return (
              <>
                <p class="muted">
                  {count(d.totalUsers)} signed up; {percent(d.conversionRate)} completed KYC.
                </p>
                <FunnelBars
                  steps={steps}
                  series={[{ name: "Users who reached the step", counts: d.steps.map((s) => s.reached) }]}
                  label="Users who reached each onboarding step"
                />
                <FunnelTable
                  testid="onboarding-table"
                  caption="Users who reached each step, and the drop-off from the step before"
                  rows={d.steps.map((s) => ({ name: stepLabel[s.step] ?? s.step, users: s.reached, conversionFromPrevious: s.conversionFromPrevious }))}
                />
              </>
            );
          }}
        </Async>
      </Card>
      <Card title="Time to KYC">
        {isAdmin ? <TimeToKyc range={range} /> : <p class="muted">Time to KYC is shown to admins only.</p>}
      </Card>
    </Page>
  );
}

function TimeToKyc({ range }: { range: Range }) {
  const load = useLoad(() => analytics.timeToKyc(range), [range.startDate, range.endDate]);
  return (
    <Async load={load} isEmpty={(d) => d.completed === 0} empty="Nobody who signed up in this range has completed KYC yet.">
      {(d) => (
        <dl class="stats" data-testid="time-to-kyc">
          <div>
            <dt>Median</dt>
            <dd>{hours(d.medianHours)}</dd>
          </div>
          <div>
            <dt>Average</dt>
            <dd>{hours(d.averageHours)}</dd>
          </div>
          <div>
            <dt>Completed KYC</dt>
            <dd>{count(d.completed)}</dd>
          </div>
        </dl>
      )}
    </Async>
  );
}
