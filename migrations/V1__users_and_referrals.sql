-- Users and referrals. Enumerations are text with CHECK constraints: readable in psql,
-- and a new value is one ALTER away. Keys are UUID v7, made by the application, so no
-- sequence is touched (RDS Proxy would pin on one).

CREATE TABLE users (
    id                 uuid PRIMARY KEY,
    email              text NOT NULL,
    phone              text,
    password_hash      text NOT NULL,
    first_name         text NOT NULL,
    last_name          text NOT NULL,
    role               text NOT NULL DEFAULT 'user'
                       CHECK (role IN ('admin', 'marketer', 'analyst', 'user')),
    status             text NOT NULL DEFAULT 'active'
                       CHECK (status IN ('active', 'inactive', 'suspended', 'deleted')),
    onboarding_step    text NOT NULL DEFAULT 'email'
                       CHECK (onboarding_step IN ('email', 'phone', 'bvn', 'selfie', 'kyc_complete')),
    kyc_status         text NOT NULL DEFAULT 'pending'
                       CHECK (kyc_status IN ('pending', 'failed', 'successful')),
    referral_code      text NOT NULL CHECK (referral_code ~ '^[0-9A-Z]{6}$'),
    referred_by        uuid REFERENCES users (id) ON DELETE SET NULL,
    device_fingerprint text,
    last_active_at     timestamptz,
    fraud_score        integer NOT NULL DEFAULT 0,
    blocked            boolean NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_phone_key UNIQUE (phone),
    CONSTRAINT users_referral_code_key UNIQUE (referral_code)
);

-- users_email_key is the guide's idx_users_email (unique, so it also enforces one account
-- per email). The admin list pages newest first; with the listed columns included the
-- page is read from the index alone.
CREATE INDEX users_created_at_idx ON users (created_at DESC, id DESC)
    INCLUDE (email, first_name, last_name, role, status, blocked);
CREATE INDEX users_referred_by_idx ON users (referred_by) WHERE referred_by IS NOT NULL;
CREATE INDEX users_last_active_at_idx ON users (last_active_at);

CREATE TABLE referrals (
    id               uuid PRIMARY KEY,
    referrer_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    referred_user_id uuid REFERENCES users (id) ON DELETE CASCADE,
    -- An invitation by email exists before the invitee signs up.
    referred_email   text,
    code             text,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'completed', 'failed', 'rewarded')),
    reward_amount    numeric(10, 2),
    reward_currency  char(3) NOT NULL DEFAULT 'NGN',
    reward_paid_at   timestamptz,
    fraud_score      integer NOT NULL DEFAULT 0,
    metadata         jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    -- A user can be referred at most once.
    CONSTRAINT referrals_referred_user_key UNIQUE (referred_user_id),
    CONSTRAINT referrals_not_self CHECK (referred_user_id IS NULL OR referred_user_id <> referrer_id)
);

-- The guide's idx_referrals_status.
CREATE INDEX referrals_status_idx ON referrals (status);
-- A referrer's referrals in order; status included so the user list reads only the index.
CREATE INDEX referrals_referrer_idx ON referrals (referrer_id, created_at, id) INCLUDE (status);
CREATE INDEX referrals_referred_email_idx ON referrals (referred_email) WHERE referred_email IS NOT NULL;
