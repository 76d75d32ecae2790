import type { ChartConfiguration } from "chart.js";
import { useEffect, useMemo, useState } from "preact/hooks";
import { barValues, ChartCanvas } from "../components/Chart";
import { ariaFor, Field } from "../components/Field";
import { Card, Page } from "../components/Layout";
import { defaultRange, RangePicker } from "../components/RangePicker";
import { Async } from "../components/States";
import { ReferralTree } from "../components/Tree";
import { analytics, referrals, type Range } from "../endpoints";
import { count, money, percent } from "../format";
import { navigate, useLoad } from "../hooks";
import type { ReferralStatus } from "../types";

const STATUS_COLORS: Record<ReferralStatus, string> = { pending: "#f59e0b", completed: "#2563eb", rewarded: "#10b981", failed: "#ef4444" };
const STATUSES: ReferralStatus[] = ["pending", "completed", "rewarded", "failed"];

export function Referrals({ isAdmin, treeUser }: { isAdmin: boolean; treeUser?: string }) {
  const [range, setRange] = useState<Range>(defaultRange(30));
  const load = useLoad(() => analytics.referrals(range), [range.startDate, range.endDate]);
  return (
    <Page title="Referrals" actions={<RangePicker value={range} onChange={setRange} />}>
      <Async load={load} isEmpty={(d) => d.totalReferrals === 0} empty="No referrals in this range.">
        {(d) => (
          <div class="grid">
            <Card title="Status">
              <StatusChart counts={d.statusCounts} />
              <dl class="stats">
                <div>
                  <dt>Referrals</dt>
                  <dd data-testid="total-referrals">{count(d.totalReferrals)}</dd>
                </div>
                <div>
                  <dt>Completed</dt>
                  <dd>{percent(d.completionRate)}</dd>
                </div>
                <div>
                  <dt>Suspected fraud</dt>
                  <dd>{percent(d.fraudRate)}</dd>
                </div>
                {Object.entries(d.totalRewards).map(([cur, amount]) => (
                  <div key={cur}>
                    <dt>Rewards ({cur})</dt>
                    <dd>{money(amount, cur)}</dd>
                  </div>
                ))}
              </dl>
            </Card>
            <Card title="Top referrers">
              <div class="table-wrap">
                <table data-testid="top-referrers">
                  <thead>
                    <tr>
                      <th scope="col">Referrer</th>
                      <th scope="col" class="num">
                        Referrals
                      </th>
                      <th scope="col" class="num">
                        Rewarded
                      </th>
                      {isAdmin && <th scope="col"><span class="visually-hidden">Tree</span></th>}
                    </tr>
                  </thead>
                  <tbody>
                    {d.topReferrers.map((r) => (
                      <tr key={r.userId} data-referrer={r.name}>
                        <th scope="row">{r.name}</th>
                        <td class="num">{count(r.referrals)}</td>
                        <td class="num">{count(r.rewarded)}</td>
                        {isAdmin && (
                          <td>
                            <button type="button" class="secondary small" onClick={() => navigate(`referrals?user=${r.userId}`)}>
                              Show tree
                            </button>
                          </td>
                        )}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </Card>
          </div>
        )}
      </Async>
      {isAdmin ? <TreeCard userId={treeUser} /> : null}
    </Page>
  );
}

function StatusChart({ counts }: { counts: Record<ReferralStatus, number> }) {
  const config = useMemo<ChartConfiguration<"bar">>(
    () => ({
      type: "bar",
      data: {
        labels: STATUSES,
        datasets: [{ label: "Referrals", data: STATUSES.map((s) => counts[s]), backgroundColor: STATUSES.map((s) => STATUS_COLORS[s]), borderRadius: 4 }],
      },
      options: {
        indexAxis: "y",
        layout: { padding: { right: 30 } },
        plugins: { legend: { display: false } },
        scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
      },
      plugins: [barValues],
    }),
    [JSON.stringify(counts)],
  );
  return (
    <div data-testid="status-counts" {...Object.fromEntries(STATUSES.map((s) => [`data-${s}`, counts[s]]))}>
      <ChartCanvas config={config as ChartConfiguration} label={STATUSES.map((s) => `${s}: ${counts[s]}`).join(", ")} height={180} />
    </div>
  );
}

function TreeCard({ userId }: { userId?: string }) {
  const [input, setInput] = useState(userId ?? "");
  const [depth, setDepth] = useState(3);
  useEffect(() => setInput(userId ?? ""), [userId]);
  return (
    <Card title="Referral tree" wide>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          navigate(`referrals?user=${encodeURIComponent(input.trim())}`);
        }}
      >
        <Field id="tree-user" label="User id">
          <input {...ariaFor("tree-user")} value={input} onInput={(e) => setInput(e.currentTarget.value)} placeholder="a user's id" />
        </Field>
        <Field id="tree-depth" label="Depth">
          <select id="tree-depth" value={depth} onChange={(e) => setDepth(Number(e.currentTarget.value))}>
            {[1, 2, 3, 5, 10].map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </Field>
        <button type="submit" disabled={!input.trim()}>
          Show tree
        </button>
      </form>
      {userId ? <TreeView userId={userId} depth={depth} /> : <p class="muted">Pick a top referrer above, or enter a user's id.</p>}
    </Card>
  );
}

function TreeView({ userId, depth }: { userId: string; depth: number }) {
  const load = useLoad(() => referrals.tree(userId, depth), [userId, depth]);
  return (
    <Async load={load}>
      {(d) => (
        <>
          <p class="muted">
            {count(d.size)} people in this tree, down to {d.depth} levels.
          </p>
          <ReferralTree root={d.tree} />
        </>
      )}
    </Async>
  );
}
