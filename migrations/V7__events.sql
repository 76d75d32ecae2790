-- Product events: the high-volume path. One table, range-partitioned by month on
-- occurred_at (partitions are made ahead of time by `migrate` and by the scheduler, and
-- dropped whole when they pass the retention), so inserts and reads touch a month or two
-- and retention never DELETEs rows.
CREATE TABLE events (
    id          uuid NOT NULL,
    user_id     uuid NOT NULL,
    event_name  text NOT NULL,
    -- The client's own id for the event, when it gave one (deduplicated per user).
    event_id    text,
    properties  jsonb NOT NULL DEFAULT '{}'::jsonb,
    metadata    jsonb NOT NULL DEFAULT '{}'::jsonb,
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    -- The inserting transaction: the archive exporter reads in (tx, id) order, and only
    -- rows of transactions older than every one still running, so a row committed late is
    -- never skipped behind its watermark (and no sequence is needed).
    tx          bigint NOT NULL DEFAULT pg_current_xact_id()::text::bigint,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, occurred_at)
) PARTITION BY RANGE (occurred_at);

-- A user's events newest first (GET /api/events, its stats), optionally by name.
CREATE INDEX events_user_idx ON events (user_id, occurred_at DESC, id DESC);
CREATE INDEX events_user_name_idx ON events (user_id, event_name, occurred_at DESC);
-- The daily rollup scans a day or two by time.
CREATE INDEX events_occurred_idx ON events (occurred_at);
-- The exporter's order.
CREATE INDEX events_export_idx ON events (tx, id);

-- One row per (user, client event id): the partitioned table cannot hold a unique index
-- without the partition key, and a retried upload may come with another timestamp.
CREATE TABLE event_dedupe (
    user_id     uuid NOT NULL,
    event_id    text NOT NULL,
    id          uuid NOT NULL,
    occurred_at timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, event_id)
);
CREATE INDEX event_dedupe_created_idx ON event_dedupe (created_at);

-- Events per day and name, kept current for today and yesterday by the scheduler:
-- analytics over months reads hundreds of rows, not millions.
CREATE TABLE event_counts_daily (
    day        date NOT NULL,
    event_name text NOT NULL,
    events     bigint NOT NULL,
    users      bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (day, event_name)
);

-- How far the archive export has got, in (tx, id) order.
CREATE TABLE export_watermarks (
    name       text PRIMARY KEY,
    tx         bigint NOT NULL,
    id         uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
