-- Events keep the address and agent of the client that sent them (metadata.ip,
-- metadata.userAgent) for PII_RETENTION_DAYS only; the housekeeping task removes them a day
-- at a time, and this mark says how far it has gone: events that occurred before it hold
-- neither (events.rs, `scrub_client_info`).
CREATE TABLE pii_scrub_marks (
    name             text PRIMARY KEY,
    scrubbed_before  timestamptz NOT NULL
);
