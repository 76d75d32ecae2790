-- Every event says where it came from — `client` (a user's token), `server` (the operator's
-- backend) or `system` (GrowStack itself) — and whether it is the user's own activity. Both
-- are decided in code when the event is written (events/lifecycle.rs holds the one list of
-- the names GrowStack records and which of them are activity), so every reader filters on a
-- column instead of repeating a list of names.
-- The defaults make adding the columns instant; they are dropped below, so that a writer
-- that forgets to say where an event came from fails instead of guessing.
ALTER TABLE events
    ADD COLUMN source text NOT NULL DEFAULT 'client' CHECK (source IN ('client', 'server', 'system')),
    ADD COLUMN activity boolean NOT NULL DEFAULT true;

-- The names GrowStack recorded before this migration, as lifecycle.rs then had them. A client
-- could send these names too; such events cannot be told apart now and are taken as ours.
UPDATE events SET source = 'system',
    activity = CASE
        WHEN event_name = 'referral_created' THEN properties ->> 'via' = 'invite'
        ELSE event_name IN ('user_registered', 'user_logged_in', 'profile_updated', 'onboarding_step_completed',
                            'referral_reward_claimed', 'notification_read')
    END
WHERE event_name IN ('user_registered', 'user_logged_in', 'token_refreshed', 'profile_updated', 'user_blocked',
                     'user_unblocked', 'onboarding_step_completed', 'referral_created', 'referral_completed',
                     'referral_reward_claimed', 'notification_read', 'email_sent', 'inactivity_nudge_sent',
                     'kyc_reminder_sent', 'experiment_exposure');

ALTER TABLE events ALTER COLUMN source DROP DEFAULT, ALTER COLUMN activity DROP DEFAULT;

-- A user was last active when they last did something, not when they last signed in.
UPDATE users u SET last_active_at = a.at
FROM (SELECT user_id, least(max(occurred_at), now()) AS at FROM events WHERE activity GROUP BY user_id) a
WHERE u.id = a.user_id AND (u.last_active_at IS NULL OR u.last_active_at < a.at);

-- Days a rollup must count again because events of theirs arrived after the rollup had
-- counted past their time (an app that was offline sends them minutes or days late). Each
-- write of such events adds a row for each rollup and day in the same transaction; a rollup
-- takes only the rows of transactions older than every one still running — whose events its
-- statement therefore sees — and recounts their days. Until then, analytics reads those days
-- whole from `events` instead of the rollup.
CREATE TABLE rollup_late_days (
    rollup     text NOT NULL CHECK (rollup IN ('events', 'user_bitmaps')),
    day        date NOT NULL,
    tx         bigint NOT NULL DEFAULT pg_current_xact_id()::text::bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rollup_late_days_idx ON rollup_late_days (rollup, day);

-- The bitmaps of "any event" become "any activity": built again from the start by the next
-- rollup (its first run), and read from `events` until then.
DELETE FROM user_bitmaps;
DELETE FROM rollup_coverage WHERE name = 'user_bitmaps';

-- `last_active_at` follows activity. The events GrowStack records itself come from many
-- statements, some of which write the user's row too; a trigger moves it after any of them
-- stores an activity event (it runs after the statement, so it is a write of its own). The
-- events clients send move it in their own statement (events/repo.rs), where the hot path
-- can skip the write for a user it moved minutes ago; the trigger leaves those alone.
-- Either way a user's row is written only when the mark moves by more than five minutes.
CREATE FUNCTION growstack_touch_last_active() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE users SET last_active_at = least(NEW.occurred_at, now())
    WHERE id = NEW.user_id
      AND (last_active_at IS NULL OR last_active_at < least(NEW.occurred_at, now()) - interval '5 minutes');
    RETURN NULL;
END
$$;
CREATE TRIGGER events_touch_last_active AFTER INSERT ON events
    FOR EACH ROW WHEN (NEW.activity AND NEW.source = 'system') EXECUTE FUNCTION growstack_touch_last_active();

-- As before (V13), with two changes: `want_event` NULL means the user's activity, not any
-- event; and a day with late events not yet recounted is read whole from `events`.
CREATE OR REPLACE FUNCTION growstack_user_bitmaps(want_kind text, want_event text, from_day date, to_day date)
RETURNS TABLE (day date, chunk integer, users bit varying)
LANGUAGE sql STABLE AS $$
    WITH cover AS (
        SELECT coalesce(max(c.covered_until), '-infinity'::timestamptz) AS mark
        FROM rollup_coverage c WHERE c.name = 'user_bitmaps'
    ), late AS (
        SELECT DISTINCT l.day FROM rollup_late_days l
        WHERE want_kind = 'event' AND l.rollup = 'user_bitmaps' AND l.day >= from_day AND l.day < to_day
    ), live AS (
        SELECT (e.occurred_at AT TIME ZONE 'UTC')::date AS day, (u.seq >> 16)::integer AS chunk,
               (u.seq & 65535)::integer AS bit
        FROM events e JOIN users u ON u.id = e.user_id
        WHERE want_kind = 'event'
          AND e.occurred_at >= greatest(from_day::timestamp AT TIME ZONE 'UTC', (SELECT mark FROM cover))
          AND e.occurred_at < (to_day::timestamp AT TIME ZONE 'UTC')
          AND (e.event_name = want_event OR want_event IS NULL AND e.activity)
          AND (e.occurred_at AT TIME ZONE 'UTC')::date NOT IN (SELECT late.day FROM late)
        UNION ALL
        SELECT late.day, (u.seq >> 16)::integer, (u.seq & 65535)::integer
        FROM late
        JOIN events e ON e.occurred_at >= (late.day::timestamp AT TIME ZONE 'UTC')
                     AND e.occurred_at < ((late.day + 1)::timestamp AT TIME ZONE 'UTC')
        JOIN users u ON u.id = e.user_id
        WHERE e.event_name = want_event OR want_event IS NULL AND e.activity
        UNION ALL
        SELECT (u.created_at AT TIME ZONE 'UTC')::date, (u.seq >> 16)::integer, (u.seq & 65535)::integer
        FROM users u
        WHERE want_kind = 'signup'
          AND u.created_at >= greatest(from_day::timestamp AT TIME ZONE 'UTC', (SELECT mark FROM cover))
          AND u.created_at < (to_day::timestamp AT TIME ZONE 'UTC')
    ), parts AS (
        SELECT b.day, b.chunk, b.users
        FROM user_bitmaps b
        WHERE b.kind = want_kind AND b.event_name = coalesce(want_event, '')
          AND b.day >= from_day AND b.day < to_day
          AND (b.day::timestamp AT TIME ZONE 'UTC') < (SELECT mark FROM cover)
          AND b.day NOT IN (SELECT late.day FROM late)
        UNION ALL
        SELECT l.day, l.chunk, growstack_bitmap(array_agg(DISTINCT l.bit)) FROM live l GROUP BY l.day, l.chunk
    )
    -- Today's stored part and its live rest are two rows of one day.
    SELECT p.day, p.chunk, bit_or(p.users) FROM parts p GROUP BY p.day, p.chunk
$$;
