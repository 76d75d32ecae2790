-- Keys for the operator's servers (apikeys/): shown once, kept only as the SHA-256 of the
-- whole key (a 256-bit random secret needs no slow hash), found by its prefix. A key is
-- accepted only on the routes whose declaration names one of its scopes (endpoint.rs).
CREATE TABLE api_keys (
    id            uuid PRIMARY KEY,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    prefix        text NOT NULL UNIQUE,
    secret_hash   bytea NOT NULL,
    scopes        text[] NOT NULL CHECK (
        cardinality(scopes) > 0
        AND scopes <@ ARRAY['events:write', 'rewards:read', 'rewards:write', 'users:read']),
    created_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);

-- A write made with a key names it; keys' own creation and revocation, and the events a key
-- sends, are audited too.
ALTER TABLE audit_log ADD COLUMN api_key_id uuid REFERENCES api_keys (id);
ALTER TABLE audit_log DROP CONSTRAINT audit_log_entity_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_entity_check
    CHECK (entity IN ('reward', 'referral', 'api_key', 'events'));

-- An experiment's metric may count only the operator's server events ('server'), which a
-- client cannot forge, or any user's events ('any', as before).
ALTER TABLE experiments ADD COLUMN metric_source text NOT NULL DEFAULT 'any'
    CHECK (metric_source IN ('any', 'server'));
