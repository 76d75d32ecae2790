-- The transactional outbox: jobs for the queues, written in the same transaction as the
-- change that causes them, sent right after the commit and, failing that, by the relay once
-- `available_at` (the sender's lease) has passed. Sent rows are pruned after a day.
CREATE TABLE outbox (
    id           uuid PRIMARY KEY,
    destination  text NOT NULL CHECK (destination IN ('email', 'notification')),
    body         text NOT NULL,
    available_at timestamptz NOT NULL DEFAULT now(),
    attempts     integer NOT NULL DEFAULT 0,
    sent_at      timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_due_idx ON outbox (available_at) WHERE sent_at IS NULL;
CREATE INDEX outbox_sent_idx ON outbox (sent_at) WHERE sent_at IS NOT NULL;
