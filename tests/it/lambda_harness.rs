//! The Lambda harness (`growstack_tests::runtime_api`) that `scripts/bench.sh lambda` times
//! every function with, run here on one function so that it cannot rot: the `users-list`
//! binary (built by scripts/test.sh) started as Lambda starts it, through its init and ten
//! invocations of events/users-list.json. Its figures are printed, not asserted; its answers
//! are.

use std::path::PathBuf;
use std::time::Duration;

use growstack_tests::runtime_api::{measure, Outcome, RuntimeApi};
use growstack_tests::{event, lambda_body, TestApp};

/// target/<profile>/<name>, beside the directory this test binary runs from.
fn function_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().and_then(|deps| deps.parent()).unwrap().join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --bin {name}` first (scripts/test.sh does)",
        path.display()
    );
    path
}

/// The variables the function is deployed with: the test's own database schema, Redis
/// prefix and secrets.
fn vars(app: &TestApp) -> Vec<(String, String)> {
    app.vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_runs_through_init_and_ten_invocations() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let payload = event("users-list", &[("REPLACE_WITH_ACCESS_TOKEN", admin.access.as_str())]);
    // scripts/sam_build.sh points this at the bootstrap `sam build` made.
    let (binary, build) = match std::env::var_os("LAMBDA_BOOTSTRAP") {
        Some(bootstrap) => (PathBuf::from(bootstrap), "sam build"),
        None => (function_binary("users-list"), "debug build"),
    };
    let figures = measure(&binary, "users-list", &vars(&app), &payload, 9, |outcome| {
        let Outcome::Response(response) = outcome else { return Err(format!("{outcome:?}")) };
        let body = lambda_body(response);
        match (response["statusCode"].as_u64(), body["data"]["users"].as_array()) {
            (Some(200), Some(users)) if users.iter().any(|u| u["email"] == admin.email.as_str()) => Ok(()),
            _ => Err(format!("{response}")),
        }
    })
    .await
    .unwrap();
    assert_eq!(figures.warm.len(), 9);
    println!(
        "users-list ({build}): init {:?}, first {:?}, warm p50 {:?} p99 {:?}, peak RSS {:.1} MiB, {} bytes",
        figures.init,
        figures.first,
        figures.warm_quantile(0.5),
        figures.warm_quantile(0.99),
        figures.peak_rss_mib,
        figures.binary_bytes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_request_and_a_failed_init_come_back_as_lambda_reports_them() {
    let app = TestApp::spawn().await;
    // Without a token: the function's own 401, through API Gateway's response shape.
    let payload = event("users-list", &[("Bearer REPLACE_WITH_ACCESS_TOKEN", "")]);
    measure(&function_binary("users-list"), "users-list", &vars(&app), &payload, 1, |outcome| match outcome {
        Outcome::Response(r) if r["statusCode"] == 401 => Ok(()),
        other => Err(format!("{other:?}")),
    })
    .await
    .unwrap();

    // Without its secrets the function cannot start: Lambda hears of it from init/error,
    // or sees the process end without ever asking for an event.
    let api = RuntimeApi::start().await.unwrap();
    let mut child = api.spawn(&function_binary("users-list"), "users-list", &[]).unwrap();
    let ready = api.ready(&mut child, Duration::from_secs(20)).await;
    let _ = child.kill();
    let error = ready.expect_err("a function without its secrets got ready");
    assert!(error.contains("exited") || error.contains("init failed"), "{error}");
}

/// A function's AWS clients take the credentials Lambda puts in the environment and nothing
/// else (`Aws::in_lambda`, which leaves the SDK's provider chain out of the binaries): calls
/// through them reach the services, with the SDK's own HTTP client, retries and clock.
#[tokio::test]
async fn function_clients_reach_aws_with_the_environment_credentials() {
    let app = TestApp::spawn().await;
    assert!(std::env::var_os("AWS_ACCESS_KEY_ID").is_some(), "scripts/lib.sh exports the stand-in's credentials");
    let aws = growstack::aws::Aws::in_lambda(&app.state.config);
    let name = format!("lambda-env-{}", uuid::Uuid::now_v7());
    aws.secrets.create_secret().name(&name).secret_string("from-the-environment").send().await.unwrap();
    let read = aws.secrets.get_secret_value().secret_id(&name).send().await.unwrap();
    assert_eq!(read.secret_string(), Some("from-the-environment"));
    let table = aws.dynamodb().describe_table().table_name(&app.aws.idempotency_table).send().await.unwrap();
    assert_eq!(table.table().and_then(|t| t.table_name()), Some(app.aws.idempotency_table.as_str()));
}
