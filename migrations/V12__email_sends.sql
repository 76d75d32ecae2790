-- The emails SES accepted, by job id, recorded right after the send: an attempt taking over
-- a job whose worker died before recording it done in DynamoDB sends nothing more. Kept for
-- 15 days (past the queues' retention), then pruned by housekeeping.
CREATE TABLE email_sends (
    job_id     uuid PRIMARY KEY,
    message_id text NOT NULL,
    sent_at    timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX email_sends_sent_idx ON email_sends (sent_at);
