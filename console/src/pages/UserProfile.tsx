import { useState } from "preact/hooks";
import { session } from "../api";
import { ConfirmButton } from "../components/ConfirmButton";
import { Card, Page } from "../components/Layout";
import { Async, ErrorNote } from "../components/States";
import { users } from "../endpoints";
import { dateTime, stepLabel } from "../format";
import { useLoad } from "../hooks";
import type { User } from "../types";

export function UserProfile({ id }: { id: string }) {
  const load = useLoad(() => users.get(id), [id]);
  return <Async load={load}>{(u) => <Profile user={u} onChanged={load.reload} />}</Async>;
}

function Profile({ user: u, onChanged }: { user: User; onChanged: () => void }) {
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const self = session()?.user.id === u.id;
  async function setBlocked(blocked: boolean) {
    setBusy(true);
    setError(undefined);
    try {
      await users.setBlocked(u.id, blocked);
      onChanged();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }
  return (
    <Page
      title={`${u.firstName} ${u.lastName}`}
      actions={
        !self &&
        (u.blocked ? (
          <button type="button" disabled={busy} onClick={() => setBlocked(false)}>
            Unblock
          </button>
        ) : (
          <ConfirmButton label="Block" question="They will be signed out and refused." danger disabled={busy} onConfirm={() => setBlocked(true)} />
        ))
      }
    >
      <p>
        <a href="#/users">← All users</a>
      </p>
      {error ? <ErrorNote error={error} /> : null}
      {u.blocked && (
        <div class="banner warning" role="status" data-testid="blocked-banner">
          This account is blocked.
        </div>
      )}
      <Card wide>
        <dl class="facts">
          <Fact label="Email" value={`${u.email}${u.emailVerifiedAt ? " (verified)" : " (not verified)"}`} />
          <Fact label="Phone" value={u.phone ?? "–"} />
          <Fact label="Role" value={u.role} />
          <Fact label="Status" value={u.blocked ? "blocked" : u.status} />
          <Fact label="Onboarding" value={stepLabel[u.onboardingStep] ?? u.onboardingStep} />
          <Fact label="KYC" value={u.kycStatus} />
          <Fact label="Fraud score" value={String(u.fraudScore ?? 0)} />
          <Fact label="Referral code" value={u.referralCode} />
          <Fact label="Joined" value={dateTime(u.createdAt)} />
          <Fact label="Last active" value={dateTime(u.lastActiveAt)} />
        </dl>
      </Card>
      <p class="row">
        <a class="button secondary" href={`#/referrals?user=${u.id}`}>
          Referral tree
        </a>
        <a class="button secondary" href={`#/notifications?to=${u.id}`}>
          Send a notification
        </a>
      </p>
    </Page>
  );
}

function Fact({ label, value }: { label: string; value: string }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd>{value}</dd>
    </div>
  );
}
