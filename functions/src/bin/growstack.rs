//! The always-on server and the operator commands.

use clap::{Parser, Subcommand};
use growstack::{server, AppState, Config};

#[derive(Parser)]
#[command(name = "growstack", about = "GrowStack: the growth backend, always-on")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the whole API on $PORT (default 3000).
    Serve,
    /// Apply pending database migrations.
    Migrate,
    /// Create an admin, or make an existing account an admin with this password.
    CreateAdmin {
        #[arg(long)]
        email: String,
        #[arg(long, env = "GROWSTACK_ADMIN_PASSWORD")]
        password: String,
    },
    /// Run scheduler tasks once, now (`events-rollup`, `daily-nudges`, …; none: all of them),
    /// as the EventBridge schedule would, and print the report.
    RunTask { task: Option<String> },
    /// Create the queues, dead-letter queues, idempotency table and verified sender on the
    /// AWS endpoint in $AWS_ENDPOINT_URL (moto), and print the settings to export.
    ProvisionLocal {
        #[arg(long, default_value = "growstack")]
        prefix: String,
    },
    /// Print the OpenAPI document (as committed in openapi.json).
    Openapi,
    /// Write what restates the endpoint declarations (template.yaml's routes, HTTP functions
    /// and domain alarms, the functions' mains, events/ skeletons, docs/api.md's table) in
    /// the repository at `--root`.
    Generate {
        #[arg(long, default_value = ".")]
        root: std::path::PathBuf,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let command = Cli::parse().command;
    match &command {
        Command::Openapi => {
            print!("{}", growstack::app::openapi_json());
            return Ok(());
        }
        Command::Generate { root } => {
            for path in growstack::generate::write(root)? {
                println!("wrote {path}");
            }
            return Ok(());
        }
        _ => {}
    }
    growstack::telemetry::init();
    let config = Config::from_env()?;
    match command {
        Command::Serve => server::serve(config).await,
        Command::Migrate => server::migrate(config).await,
        Command::CreateAdmin { email, password } => {
            let user = server::create_admin(&AppState::new(config).await?, &email, password).await?;
            println!("admin ready: {} ({})", user.email, user.id);
            Ok(())
        }
        Command::RunTask { task } => {
            let event = task.map_or_else(|| serde_json::json!({}), |task| serde_json::json!({ "task": task }));
            let tasks = growstack::scheduler::Task::from_event(&event)?;
            let report = AppState::new(config).await?.scheduler().run(&tasks).await?;
            println!("{}", serde_json::to_string(&report)?);
            Ok(())
        }
        Command::ProvisionLocal { prefix } => {
            anyhow::ensure!(config.aws_endpoint_url.is_some(), "set AWS_ENDPOINT_URL to the local stand-in first");
            let aws = growstack::aws::Aws::new(&config).await;
            let plan = growstack::local::Plan {
                prefix: &prefix,
                sender: &config.email_from,
                max_receive_count: 5,
                visibility_timeout: 30,
                archive: &prefix,
            };
            print!("{}", growstack::local::provision(&aws, &plan).await?.exports());
            Ok(())
        }
        Command::Openapi | Command::Generate { .. } => Ok(()),
    }
}
