-- The in-app inbox, which doubles as the record of every notification sent on any channel.
CREATE TABLE notifications (
    id             uuid PRIMARY KEY,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type           text NOT NULL
                   CHECK (type IN ('kyc_reminder', 'referral_reward', 'inactivity', 'welcome', 'custom')),
    channel        text NOT NULL CHECK (channel IN ('email', 'sms', 'whatsapp', 'push')),
    status         text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'sent', 'failed', 'delivered', 'read')),
    title          text NOT NULL,
    content        text NOT NULL,
    read           boolean NOT NULL DEFAULT false,
    read_at        timestamptz,
    template_id    text,
    variables      jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- Set for notifications to send later; the scheduler dispatches them when due and
    -- stamps dispatched_at, so that no two scheduler runs send one twice.
    scheduled_for  timestamptz,
    dispatched_at  timestamptz,
    sent_at        timestamptz,
    failure_reason text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- A user's inbox, newest first, optionally only unread.
CREATE INDEX notifications_user_idx ON notifications (user_id, created_at DESC, id DESC);
-- What the scheduler looks for.
CREATE INDEX notifications_due_idx ON notifications (scheduled_for)
    WHERE status = 'pending' AND dispatched_at IS NULL AND scheduled_for IS NOT NULL;

-- One scheduled nudge of a kind per user per day: the scheduler inserts here first, and
-- only users it could insert get the nudge.
CREATE TABLE nudges (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('inactivity', 'kyc_reminder')),
    day        date NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, kind, day)
);

-- The nudges look for users by activity and sign-up time.
CREATE INDEX users_created_at_plain_idx ON users (created_at);
