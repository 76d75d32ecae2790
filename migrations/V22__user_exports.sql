-- Full exports of a person's data (privacy/exports.rs): when the export document would leave
-- events out (more than 10,000), a job writes the whole of it to the exports bucket and mails
-- whoever asked (the person, or staff answering them) a link that works for 24 hours.
CREATE TABLE user_exports (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    requested_by  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ready', 'failed')),
    attempts      integer NOT NULL DEFAULT 0,
    -- Held by one runner while it writes the file (a runner that died lets it go then).
    leased_until  timestamptz,
    -- The SHA-256 of the download link's token (the token itself is only in the mail).
    token_hash    bytea,
    events        bigint,
    bytes         bigint,
    error         text,
    ready_at      timestamptz,
    expires_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX user_exports_pending_idx ON user_exports (created_at) WHERE status = 'pending';
CREATE INDEX user_exports_user_idx ON user_exports (user_id, created_at DESC);
-- One export waiting per person and requester: asking again while it is made changes nothing.
CREATE UNIQUE INDEX user_exports_one_pending_idx ON user_exports (user_id, requested_by) WHERE status = 'pending';
