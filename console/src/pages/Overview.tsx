import { useState } from "preact/hooks";
import { Sparkline } from "../components/Chart";
import { Page } from "../components/Layout";
import { defaultRange, RangePicker } from "../components/RangePicker";
import { Async } from "../components/States";
import { analytics, type Range } from "../endpoints";
import { count, money, percent } from "../format";
import { useLoad } from "../hooks";

async function overview(range: Range) {
  const [users, onboarding, referrals, activity, signups, referred] = await Promise.all([
    analytics.users(range),
    analytics.onboarding(range),
    analytics.referrals(range),
    analytics.events({ ...range, interval: "day" }),
    analytics.events({ ...range, interval: "day", eventName: "user_registered" }),
    analytics.events({ ...range, interval: "day", eventName: "referral_created" }),
  ]);
  return { users, onboarding, referrals, activity, signups, referred };
}

export function Overview() {
  const [range, setRange] = useState<Range>(defaultRange(30));
  const load = useLoad(() => overview(range), [range.startDate, range.endDate]);
  return (
    <Page title="Overview" actions={<RangePicker value={range} onChange={setRange} />}>
      <Async load={load}>
        {(d) => (
          <div class="tiles">
            <Tile
              name="users"
              label="Users"
              value={count(d.users.totalUsers)}
              note={`${count(d.activity.uniqueUsers)} active in range`}
              series={d.activity.timeSeries.map((p) => p.users)}
              seriesLabel="Active users per day"
            />
            <Tile
              name="new-users"
              label="New users"
              value={count(d.users.newUsers)}
              note="signed up in range"
              series={d.signups.timeSeries.map((p) => p.events)}
              seriesLabel="Sign-ups per day"
            />
            <Tile
              name="kyc-conversion"
              label="KYC conversion"
              value={percent(d.onboarding.conversionRate)}
              note={`of ${count(d.onboarding.totalUsers)} who signed up in range`}
            >
              <div class="meter" aria-hidden="true">
                <span style={{ width: `${Math.round(d.onboarding.conversionRate * 100)}%` }} />
              </div>
            </Tile>
            <Tile
              name="referrals"
              label="Referrals"
              value={count(d.referrals.totalReferrals)}
              note={`${percent(d.referrals.completionRate)} completed`}
              series={d.referred.timeSeries.map((p) => p.events)}
              seriesLabel="Referred sign-ups per day"
            />
            <Tile name="rewards" label="Rewards (not voided)" value="" note="written in range, per currency">
              {Object.keys(d.referrals.totalRewards).length === 0 ? (
                <p class="muted">None in this range.</p>
              ) : (
                <ul class="currency-list">
                  {Object.entries(d.referrals.totalRewards).map(([cur, amount]) => (
                    <li key={cur} data-currency={cur} data-amount={amount}>
                      {money(amount, cur)}
                    </li>
                  ))}
                </ul>
              )}
            </Tile>
          </div>
        )}
      </Async>
    </Page>
  );
}

function Tile(props: {
  name: string;
  label: string;
  value: string;
  note?: string;
  series?: number[];
  seriesLabel?: string;
  children?: preact.ComponentChildren;
}) {
  return (
    <section class="card tile" data-testid={`tile-${props.name}`}>
      <h2>{props.label}</h2>
      {props.value && (
        <p class="big" data-testid="value">
          {props.value}
        </p>
      )}
      {props.note && <p class="muted">{props.note}</p>}
      {props.series && <Sparkline values={props.series} label={props.seriesLabel ?? props.label} />}
      {props.children}
    </section>
  );
}
