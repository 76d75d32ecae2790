-- Who runs each scheduled task's tick. The functions' EventBridge schedules and every
-- always-on server run the same tasks; the first runner to claim a task's tick here is its
-- leader for that tick, and the others skip it (scheduler.rs, `Scheduler::run_ticks`).
-- One row per task, claimed by a conditional upsert, so a claim is atomic without a lock
-- held across the run.
CREATE TABLE scheduler_claims (
    task         text PRIMARY KEY,
    runner       text NOT NULL,
    started_at   timestamptz NOT NULL,
    -- Null while the run is going: the next tick waits for it (or for it to go stale).
    finished_at  timestamptz,
    -- 'ok', or the error the run ended with.
    outcome      text,
    runs         bigint NOT NULL DEFAULT 1
);
