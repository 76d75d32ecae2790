-- One person, one account.

-- Phone numbers are stored in E.164 from now on (users/types.rs parses them with
-- libphonenumber). Numbers stored before were kept as typed; the migrate step that follows
-- the SQL migrations (users::normalise_phones) rewrites them, once, and lists here the ones
-- it could not keep: a number libphonenumber refuses, or one another account already holds
-- once both are normalised. Such an account's phone is emptied (the user enters it again);
-- the number as it was stored stays here for staff.
CREATE TABLE phone_conflicts (
    user_id     uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    stored      text NOT NULL,
    normalised  text,
    held_by     uuid REFERENCES users (id) ON DELETE SET NULL,
    reason      text NOT NULL CHECK (reason IN ('invalid', 'duplicate')),
    found_at    timestamptz NOT NULL DEFAULT now()
);

-- Data fixes made in code rather than SQL, each once, with what it found.
CREATE TABLE data_fixes (
    name     text PRIMARY KEY,
    done_at  timestamptz NOT NULL DEFAULT now(),
    report   jsonb NOT NULL
);

-- The person the KYC provider verified, as the SHA-256 of the provider's identity reference
-- (a hash of the BVN or NIN, or the provider's person id): the first account verified with
-- an identity holds it; a later account verified with the same one is a duplicate of it, and
-- its referral fails (`duplicate_identity`) before any reward is written. Not tied to users
-- by a foreign key, as kyc_events is not: a person verified once stays verified once when
-- the account goes, so a new account cannot collect again.
CREATE TABLE kyc_identities (
    identity_hash bytea PRIMARY KEY,
    user_id       uuid NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE users ADD COLUMN duplicate_of uuid;
ALTER TABLE kyc_events ADD COLUMN identity_hash bytea;

-- An audit row GrowStack writes itself (a referral failed for a duplicate identity) has no
-- staff actor.
ALTER TABLE audit_log ALTER COLUMN actor_id DROP NOT NULL;
