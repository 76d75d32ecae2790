-- Where a user signed up and last signed in from: fraud checks compare a new referral's
-- IP with the referrer's.
ALTER TABLE users ADD COLUMN signup_ip text, ADD COLUMN last_ip text;
CREATE INDEX users_device_fingerprint_idx ON users (device_fingerprint) WHERE device_fingerprint IS NOT NULL;

-- Every onboarding step a user reports, with its time: the funnel's timing comes from here,
-- not from updated_at, which any profile change moves.
CREATE TABLE onboarding_events (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    step       text NOT NULL CHECK (step IN ('email', 'phone', 'bvn', 'selfie', 'kyc_complete')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT onboarding_events_once UNIQUE (user_id, step)
);
CREATE INDEX onboarding_events_step_idx ON onboarding_events (step, created_at);

-- The ledger of rewards paid: one row per side of a rewarded referral, never two.
CREATE TABLE rewards (
    id          uuid PRIMARY KEY,
    referral_id uuid NOT NULL REFERENCES referrals (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    side        text NOT NULL CHECK (side IN ('referrer', 'referred')),
    amount      numeric(10, 2) NOT NULL CHECK (amount > 0),
    currency    char(3) NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT rewards_once UNIQUE (referral_id, side)
);
CREATE INDEX rewards_user_idx ON rewards (user_id, created_at);

-- Invitations are looked up by referrer and address (re-invite window, linking at sign-up).
CREATE INDEX referrals_invite_idx ON referrals (referrer_id, referred_email, created_at)
    WHERE referred_email IS NOT NULL;
