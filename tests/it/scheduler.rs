//! One scheduler across every runner: the functions' schedules and any number of servers
//! fire the same tasks, and each task's tick runs once (`Scheduler::run_ticks`).

use std::collections::BTreeMap;
use std::time::Duration;

use growstack::config::Config;
use growstack::scheduler::Task;
use growstack::state::AppState;
use growstack_tests::TestApp;

/// Runs per task, from the `SchedulerRuns` EMF documents the app's processes wrote: counted
/// from what ran, not from the claims table.
fn runs(app: &TestApp) -> BTreeMap<String, usize> {
    let mut runs = BTreeMap::new();
    for line in app.emf.lock().unwrap().iter() {
        let doc: serde_json::Value = serde_json::from_str(line).unwrap();
        if doc.get("SchedulerRuns").is_some() {
            *runs.entry(doc["Task"].as_str().unwrap().to_owned()).or_default() += 1;
        }
    }
    runs
}

#[tokio::test]
async fn two_servers_run_each_task_once_per_tick() {
    let app = TestApp::spawn_with(&[
        ("SCHEDULER_INTERVAL_SECONDS", "1"),
        ("NUDGE_INTERVAL_SECONDS", "1"),
        ("CONSUME_QUEUES", "false"),
    ])
    .await;
    // A second server on the same database, writing its metrics to the same sink.
    let config = Config::from_lookup(|k| app.vars.get(k).cloned()).unwrap();
    let second = AppState::with_metrics(config, app.state.metrics.clone()).await.unwrap();
    let started = std::time::Instant::now();
    let mut background = growstack::server::spawn_background(&app.state);
    // Half a tick apart, so the second server's timers fire between the first's.
    tokio::time::sleep(Duration::from_millis(500)).await;
    background.extend(growstack::server::spawn_background(&second));
    tokio::time::sleep(Duration::from_millis(4200)).await;
    for task in background {
        task.abort();
    }
    let elapsed = started.elapsed().as_secs_f64();
    // Ticks at 0, 1, 2, 3 and 4 s on the first server and half a second later on the second:
    // five a task, nine or ten if both ran them. A tick
    // may go unclaimed when the database answers one claim late (the next server takes it).
    let ticks = elapsed.floor() as usize + 1;
    let runs = runs(&app);
    for task in Task::ALL {
        let n = runs.get(task.name()).copied().unwrap_or(0);
        assert!(n >= ticks - 2 && n <= ticks, "{}: {n} runs in {elapsed:.1} s ({runs:?})", task.name());
    }
    // The claims table agrees with what ran, and names a server as each task's last runner.
    let rows = app.pg().await.query("SELECT task, runner, runs, outcome FROM scheduler_claims", &[]).await.unwrap();
    assert_eq!(rows.len(), Task::ALL.len());
    for row in rows {
        let task: String = row.get("task");
        assert_eq!(row.get::<_, i64>("runs") as usize, runs[&task], "{task}");
        assert!(row.get::<_, String>("runner").starts_with("server:"));
    }
}

#[tokio::test]
async fn concurrent_claims_of_one_tick_run_it_once() {
    let app = TestApp::spawn().await;
    let scheduler = app.state.scheduler();
    let tick = [(Task::Housekeeping, Task::Housekeeping.period())];
    let claims = (0..8).map(|i| {
        let scheduler = scheduler.clone();
        async move { scheduler.run_ticks(&tick, &format!("runner-{i}")).await.unwrap() }
    });
    let reports = futures::future::join_all(claims).await;
    let ran = reports.iter().filter(|r| r.skipped.is_empty()).count();
    assert_eq!(ran, 1, "{reports:?}");
    assert_eq!(runs(&app)["housekeeping"], 1);
    // The next tick is a day away: a run now is skipped.
    assert_eq!(scheduler.run_ticks(&tick, "late").await.unwrap().skipped, vec![Task::Housekeeping]);
}

#[tokio::test]
async fn a_run_in_progress_holds_the_tick_until_it_finishes_or_goes_stale() {
    let app = TestApp::spawn().await;
    let pg = app.pg().await;
    let scheduler = app.state.scheduler();
    let tick = [(Task::OutboxRelay, Duration::from_secs(1))];
    // A run begun two minutes ago by a runner still going: the tick waits for it.
    pg.execute(
        "INSERT INTO scheduler_claims (task, runner, started_at) VALUES ('outbox-relay', 'busy', now() - interval '2 minutes')",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(scheduler.run_ticks(&tick, "me").await.unwrap().skipped, vec![Task::OutboxRelay]);
    // Sixteen minutes without finishing: its runner died, and the tick is free again.
    pg.execute("UPDATE scheduler_claims SET started_at = now() - interval '16 minutes'", &[]).await.unwrap();
    assert!(scheduler.run_ticks(&tick, "me").await.unwrap().skipped.is_empty());
    let row = pg
        .query_one("SELECT runner, outcome, runs, finished_at IS NOT NULL AS finished FROM scheduler_claims", &[])
        .await
        .unwrap();
    assert_eq!(
        (row.get::<_, String>("runner"), row.get::<_, Option<String>>("outcome"), row.get::<_, i64>("runs")),
        ("me".to_owned(), Some("ok".to_owned()), 2)
    );
    assert!(row.get::<_, bool>("finished"));
}

#[tokio::test]
async fn a_failed_run_is_recorded_and_does_not_hold_the_next_tick() {
    let app = TestApp::spawn().await;
    let pg = app.pg().await;
    let scheduler = app.state.scheduler();
    // The rollup fails while its table is gone.
    pg.batch_execute("ALTER TABLE event_counts_daily RENAME TO event_counts_daily_away").await.unwrap();
    let tick = [(Task::EventsRollup, Duration::from_millis(200))];
    assert!(scheduler.run_ticks(&tick, "me").await.is_err());
    let outcome: Option<String> = pg.query_one("SELECT outcome FROM scheduler_claims", &[]).await.unwrap().get(0);
    assert!(outcome.is_some_and(|o| o != "ok"), "the error is kept for operators");
    pg.batch_execute("ALTER TABLE event_counts_daily_away RENAME TO event_counts_daily").await.unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(scheduler.run_ticks(&tick, "me").await.unwrap().skipped.is_empty());
}
