-- A staff export of a user's data is audited (privacy/): entity 'user'.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_entity_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_entity_check
    CHECK (entity IN ('reward', 'referral', 'api_key', 'events', 'user'));
