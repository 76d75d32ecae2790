-- How far the daily event rollup is complete: every day before `complete_before` (UTC) was
-- recounted after it ended, so analytics reads those days from event_counts_daily and only
-- the rest from `events`. The rollup recounts from here on, so a scheduler that was down
-- for days catches up on its next run.
CREATE TABLE rollup_coverage (
    name            text PRIMARY KEY,
    complete_before date NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Analytics by sign-up time and by event time with the user: index-only reads.
CREATE INDEX events_occurred_user_idx ON events (occurred_at) INCLUDE (user_id, event_name);
DROP INDEX events_occurred_idx;
CREATE INDEX referrals_created_idx ON referrals (created_at) INCLUDE (referrer_id, status, fraud_score);
CREATE INDEX notifications_created_idx ON notifications (created_at);
CREATE INDEX rewards_created_idx ON rewards (created_at) INCLUDE (currency, amount, status);
