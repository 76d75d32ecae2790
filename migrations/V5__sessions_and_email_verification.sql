-- Sessions that can be ended. A refresh token is stored as its SHA-256 hash, in a family
-- (one sign-in and every token rotated from it); using a token a second time revokes its
-- family. token_version is stamped into access tokens: bumping it (block, role change,
-- logout everywhere, password change) makes every earlier access token invalid.
ALTER TABLE users
    ADD COLUMN email_verified_at timestamptz,
    ADD COLUMN token_version integer NOT NULL DEFAULT 0;

CREATE TABLE refresh_tokens (
    token_hash bytea PRIMARY KEY,
    family_id  uuid NOT NULL,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    -- Set when the token is exchanged for the next one of its family.
    used_at    timestamptz,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id) WHERE revoked_at IS NULL;
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);
