-- KYC from the provider, a reward ledger that survives its users, and mail we can defend.

-- Every KYC provider callback, once per event id: a replay changes nothing. Not tied to
-- users by a foreign key: the provider's record of what it told us outlives an account.
CREATE TABLE kyc_events (
    event_id    text PRIMARY KEY,
    user_id     uuid NOT NULL,
    status      text NOT NULL CHECK (status IN ('successful', 'failed')),
    reference   text NOT NULL,
    occurred_at timestamptz NOT NULL,
    applied     boolean NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX kyc_events_user_idx ON kyc_events (user_id, occurred_at);

-- When a referral completed: the reward hold counts from here. When its invitation was
-- last sent: the daily invitation limit counts these.
ALTER TABLE referrals ADD COLUMN completed_at timestamptz, ADD COLUMN invited_at timestamptz;
UPDATE referrals SET completed_at = updated_at WHERE status IN ('completed', 'rewarded');
UPDATE referrals SET invited_at = created_at WHERE referred_email IS NOT NULL;
CREATE INDEX referrals_invited_idx ON referrals (referrer_id, invited_at) WHERE invited_at IS NOT NULL;

-- The ledger: a row per side of a referral, written once, with a status. `pending` rows
-- become available when `available_at` passes (readers derive it; nothing has to flip
-- them); finance marks them paid with its own reference, or voids them with a reason. The
-- rows no longer cascade from users or referrals: money paid stays on the books.
ALTER TABLE rewards
    DROP CONSTRAINT rewards_referral_id_fkey,
    DROP CONSTRAINT rewards_user_id_fkey,
    ADD COLUMN status       text NOT NULL DEFAULT 'available'
                            CHECK (status IN ('pending', 'available', 'paid', 'voided')),
    ADD COLUMN available_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN paid_at      timestamptz,
    ADD COLUMN external_ref text,
    ADD COLUMN voided_at    timestamptz,
    ADD COLUMN void_reason  text,
    ADD CONSTRAINT rewards_paid_has_ref CHECK (status <> 'paid' OR (external_ref IS NOT NULL AND paid_at IS NOT NULL)),
    ADD CONSTRAINT rewards_voided_has_reason CHECK (status <> 'voided' OR void_reason IS NOT NULL);
CREATE INDEX rewards_status_idx ON rewards (status, created_at);
CREATE INDEX rewards_referral_idx ON rewards (referral_id);

-- Every staff change to money: who, when, what it was and what it became.
CREATE TABLE audit_log (
    id          uuid PRIMARY KEY,
    actor_id    uuid NOT NULL,
    entity      text NOT NULL CHECK (entity IN ('reward', 'referral')),
    entity_id   uuid NOT NULL,
    action      text NOT NULL,
    before      jsonb NOT NULL,
    after       jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_id, created_at);

-- Addresses we must not mail: opted out of one category of marketing mail, or (category
-- 'all') bounced hard or complained. Not tied to users: an invitee has no account.
CREATE TABLE email_suppressions (
    email      text NOT NULL,
    category   text NOT NULL CHECK (category IN ('all', 'invitations', 'kyc_reminders', 'inactivity')),
    reason     text NOT NULL CHECK (reason IN ('unsubscribe', 'bounce', 'complaint')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (email, category)
);

-- Where each scheduler task stopped, so that a run cut short resumes there.
CREATE TABLE scheduler_cursors (
    task       text PRIMARY KEY,
    after_id   uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- A scheduled notification is dispatched at most five times, then given up as failed.
ALTER TABLE notifications ADD COLUMN dispatch_attempts integer NOT NULL DEFAULT 0;

-- What the client sent with an onboarding step (the Node version accepted `metadata`).
ALTER TABLE onboarding_events ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}'::jsonb;
