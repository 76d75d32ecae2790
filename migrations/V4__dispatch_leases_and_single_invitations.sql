-- A scheduled notification claimed by a scheduler run that died before enqueueing it is
-- claimable again after a lease; the due index covers both kinds of pending row.
DROP INDEX notifications_due_idx;
CREATE INDEX notifications_due_idx ON notifications (scheduled_for)
    WHERE status = 'pending' AND scheduled_for IS NOT NULL;

-- One open invitation per referrer and address: a double-click cannot send two, and a
-- re-invitation after the window renews the same row.
CREATE UNIQUE INDEX referrals_open_invite_key ON referrals (referrer_id, referred_email)
    WHERE referred_user_id IS NULL AND referred_email IS NOT NULL;

-- Referral velocity counts referred sign-ups by the referred user's sign-up time.
CREATE INDEX users_referred_by_created_idx ON users (referred_by, created_at) WHERE referred_by IS NOT NULL;
