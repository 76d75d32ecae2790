import { useState } from "preact/hooks";
import { plainError } from "../api";
import { ariaFor, Field, fieldError } from "../components/Field";
import { Card, Page } from "../components/Layout";
import { Async, ErrorNote } from "../components/States";
import { rewards, type RewardFilter } from "../endpoints";
import { count, date, money } from "../format";
import { useLoad } from "../hooks";
import type { Reward, RewardStatus } from "../types";

const STATUSES: RewardStatus[] = ["pending", "available", "paid", "voided"];
const PAGE_SIZE = 20;

export function Rewards() {
  const [filter, setFilter] = useState<RewardFilter>({});
  const [page, setPage] = useState(1);
  const load = useLoad(() => rewards.list({ ...filter, page, limit: PAGE_SIZE }), [JSON.stringify(filter), page]);
  const change = (patch: Partial<RewardFilter>) => {
    setFilter({ ...filter, ...patch });
    setPage(1);
  };
  return (
    <Page title="Rewards" actions={<CsvButton filter={filter} />}>
      <div class="toolbar">
        <label for="rw-status">Status</label>
        <select id="rw-status" value={filter.status ?? ""} onChange={(e) => change({ status: e.currentTarget.value || undefined })}>
          <option value="">All</option>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        <label for="rw-from">From</label>
        <input id="rw-from" type="date" value={filter.startDate ?? ""} onChange={(e) => change({ startDate: e.currentTarget.value || undefined })} />
        <label for="rw-to">to</label>
        <input id="rw-to" type="date" value={filter.endDate ?? ""} onChange={(e) => change({ endDate: e.currentTarget.value || undefined })} />
      </div>
      <Async load={load} isEmpty={(d) => d.rewards.length === 0} empty="No rewards match these filters.">
        {(d) => (
          <>
            <Card title="Total (voided rows left out)">
              <ul class="currency-list" data-testid="reward-totals">
                {Object.entries(d.totals).length === 0 && <li class="muted">Nothing outstanding or paid.</li>}
                {Object.entries(d.totals).map(([cur, amount]) => (
                  <li key={cur} data-currency={cur} data-amount={amount}>
                    <span class="big">{money(amount, cur)}</span>
                  </li>
                ))}
              </ul>
              <p class="muted">{count(d.pagination.total)} rows</p>
            </Card>
            <div class="table-wrap">
              <table data-testid="rewards">
                <thead>
                  <tr>
                    <th scope="col">Created</th>
                    <th scope="col">Side</th>
                    <th scope="col" class="num">Amount</th>
                    <th scope="col">Status</th>
                    <th scope="col">User</th>
                    <th scope="col">Action</th>
                  </tr>
                </thead>
                <tbody>
                  {d.rewards.map((r) => (
                    <RewardRow key={r.id} reward={r} onChanged={load.reload} />
                  ))}
                </tbody>
              </table>
            </div>
            <Pager page={d.pagination.page} pages={d.pagination.pages} onPage={setPage} />
          </>
        )}
      </Async>
    </Page>
  );
}

function RewardRow({ reward: r, onChanged }: { reward: Reward; onChanged: () => void }) {
  const [action, setAction] = useState<"paid" | "voided">();
  const canPay = r.status === "available";
  const canVoid = r.status === "pending" || r.status === "available";
  return (
    <tr data-reward={r.id} data-status={r.status} data-amount={r.amount}>
      <td>{date(r.createdAt)}</td>
      <td>{r.side}</td>
      <td class="num">{money(r.amount, r.currency)}</td>
      <td>
        <span class={`badge ${r.status}`}>{r.status}</span>
        {r.status === "pending" && <div class="muted">available {date(r.availableAt)}</div>}
        {r.externalRef && <div class="muted mono">{r.externalRef}</div>}
        {r.voidReason && <div class="muted">{r.voidReason}</div>}
      </td>
      <td>
        <a href={`#/users/${r.userId}`} class="mono">
          {r.userId.slice(0, 8)}…
        </a>
      </td>
      <td>
        {action ? (
          <ActionForm reward={r} action={action} onDone={onChanged} onCancel={() => setAction(undefined)} />
        ) : (
          <div class="inline">
            {canPay && (
              <button type="button" class="small" onClick={() => setAction("paid")}>
                Mark paid
              </button>
            )}
            {canVoid && (
              <button type="button" class="small danger" onClick={() => setAction("voided")}>
                Void
              </button>
            )}
          </div>
        )}
      </td>
    </tr>
  );
}

/** The reference of a payout, or the reason for voiding, then the change. */
function ActionForm({ reward, action, onDone, onCancel }: { reward: Reward; action: "paid" | "voided"; onDone: () => void; onCancel: () => void }) {
  const [text, setText] = useState("");
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const field = action === "paid" ? "externalRef" : "reason";
  const id = `${field}-${reward.id}`;
  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await (action === "paid" ? rewards.markPaid(reward.id, text) : rewards.void(reward.id, text));
      onDone();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }
  const err = fieldError(error, field);
  return (
    <form class="inline-form" onSubmit={submit} noValidate>
      <Field id={id} label={action === "paid" ? "Payout reference" : "Reason for voiding"} error={err}>
        <input {...ariaFor(id, err)} value={text} onInput={(e) => setText(e.currentTarget.value)} ref={(i) => i?.focus()} />
      </Field>
      {error && !err ? <ErrorNote error={error} /> : null}
      <div class="inline">
        <button type="submit" class={action === "voided" ? "small danger" : "small"} disabled={busy || !text.trim()}>
          {action === "paid" ? "Record payout" : "Void reward"}
        </button>
        <button type="button" class="small secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function CsvButton({ filter }: { filter: RewardFilter }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  async function save() {
    setBusy(true);
    setError(undefined);
    try {
      const blob = await rewards.csv(filter);
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = `rewards-${new Date().toISOString().slice(0, 10)}.csv`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    } catch (e) {
      setError(plainError(e));
    } finally {
      setBusy(false);
    }
  }
  return (
    <>
      <button type="button" class="secondary" onClick={save} disabled={busy}>
        {busy ? "Preparing…" : "Download CSV"}
      </button>
      {error && (
        <span class="field-error" role="alert">
          {error}
        </span>
      )}
    </>
  );
}

export function Pager({ page, pages, onPage }: { page: number; pages: number; onPage: (p: number) => void }) {
  if (pages <= 1) return null;
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" class="secondary" disabled={page <= 1} onClick={() => onPage(page - 1)}>
        Previous
      </button>
      <span>
        Page {page} of {pages}
      </span>
      <button type="button" class="secondary" disabled={page >= pages} onClick={() => onPage(page + 1)}>
        Next
      </button>
    </nav>
  );
}
