-- Webhooks out (webhooks/): endpoints the operator registers, the events GrowStack raised
-- (one row each, with a stable id), and a delivery per endpoint and event. A delivery is
-- staged in the transaction of the change that raised its event, and sent through the
-- webhook queue by the outbox (destination 'webhook').
CREATE TABLE webhook_endpoints (
    id                      uuid PRIMARY KEY,
    url                     text NOT NULL,
    description             text NOT NULL DEFAULT '',
    events                  text[] NOT NULL CHECK (cardinality(events) > 0),
    -- The signing secret: kept as it is, since every delivery is signed with it.
    secret                  text NOT NULL,
    -- After a rotation, deliveries carry both signatures until this time.
    previous_secret         text,
    previous_secret_until   timestamptz,
    enabled                 boolean NOT NULL DEFAULT true,
    disabled_reason         text,
    -- Since when every delivery has failed (null once one succeeds): past 3 days, disabled.
    failing_since           timestamptz,
    created_by              uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_events (
    id          uuid PRIMARY KEY,
    type        text NOT NULL,
    data        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
    id                uuid PRIMARY KEY,
    endpoint_id       uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id          uuid NOT NULL REFERENCES webhook_events (id),
    status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts          int NOT NULL DEFAULT 0,
    -- When it is due (again): the retry task enqueues pending deliveries once it passes.
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    -- Held by one sender while it tries (a duplicate message finds it taken).
    leased_until      timestamptz,
    last_status_code  int,
    last_error        text,
    delivered_at      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at DESC);

ALTER TABLE outbox DROP CONSTRAINT outbox_destination_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_destination_check CHECK (destination IN ('email', 'notification', 'webhook'));

-- When the operator was told a reward became available (`reward.available`): the
-- webhook-retries task announces each reward once its hold has passed (at once without one).
-- Rewards already on the books count as announced, so a deploy does not replay the ledger.
ALTER TABLE rewards ADD COLUMN available_announced_at timestamptz;
UPDATE rewards SET available_announced_at = now();
CREATE INDEX rewards_unannounced_idx ON rewards (available_at) WHERE available_announced_at IS NULL;
