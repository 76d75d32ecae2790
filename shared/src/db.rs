//! Postgres: a writer pool and a reader pool, as RDS Proxy's read/write and read-only
//! endpoints will be, and the embedded migrations.
//!
//! Pools open connections lazily, so a Lambda's init makes no network call. Every statement
//! goes through [`Conn`], which counts them: the count is how tests prove that a list is
//! one statement and not one per row. Nothing here uses session state that would pin an
//! RDS Proxy connection (SET, advisory locks, sequences, temporary tables).

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Timeouts};
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Mutex;
use tokio_postgres::config::SslMode;
use tokio_postgres::types::ToSql;

use tokio::task::JoinHandle;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Client, NoTls, Row, Socket};

use crate::secrets::SecretStore;

use crate::config::{Config, Secret};
use crate::error::Result;

mod embedded {
    refinery::embed_migrations!("../migrations");
}

#[derive(Clone)]
pub struct Db {
    write: Pool,
    read: Pool,
    statements: Arc<AtomicU64>,
    /// With `DATABASE_SECRET_ID`: the credentials new connections log in with.
    credentials: Option<Credentials>,
    /// With `APP_DATABASE_SECRET_ID` (the migration only): the application's login role,
    /// which migrating creates and grants DML alone.
    app_login: Option<AppLogin>,
    /// How the migration reads phone numbers stored without their country code.
    phone_region: crate::users::PhoneRegion,
    /// Until when reads go to the writer, the reader having failed to connect.
    reader_down_until: Arc<Mutex<Option<std::time::Instant>>>,
}

/// How long reads stay on the writer after the reader fails to connect, before the reader is
/// tried again: a failover of the reader takes about this long, and a read that waits each
/// time for a connect timeout would turn it into minutes of slow answers or 503s.
pub const READER_FALLBACK: Duration = Duration::from_secs(30);

#[derive(Clone)]
struct AppLogin {
    store: Arc<SecretStore>,
    id: String,
}

/// Creates the application's login role (or sets its password), and grants it the current
/// schema's tables — present and future — for reading and writing, and the partition upkeep
/// functions: no DDL, which stays with the migrating role.
fn app_role_sql(secret: &DatabaseSecret) -> anyhow::Result<String> {
    let name = &secret.username;
    let identifier = name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    anyhow::ensure!(identifier, "the application role's name must be a lower-case identifier");
    let password = secret.password.replace('\'', "''");
    Ok(format!(
        "DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{name}') THEN
                CREATE ROLE {name} LOGIN PASSWORD '{password}';
            ELSE
                ALTER ROLE {name} LOGIN PASSWORD '{password}';
            END IF;
         END $$;
         DO $$ DECLARE s text := current_schema(); BEGIN
            EXECUTE format('GRANT USAGE ON SCHEMA %I TO {name}', s);
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO {name}', s);
            EXECUTE format('REVOKE ALL ON %I.refinery_schema_history FROM {name}', s);
            EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {name}', s);
         END $$;
         GRANT EXECUTE ON FUNCTION growstack_ensure_events_partition(text, date, date) TO {name};
         GRANT EXECUTE ON FUNCTION growstack_drop_events_partition(text) TO {name};"
    ))
}

/// The user name and password new connections log in with.
type Login = Arc<Mutex<Option<(String, String)>>>;

/// Database credentials read from Secrets Manager (`{"username", "password"}`, the shape RDS
/// generates) at run time: refreshed before a connection is taken once the store's cache has
/// expired, so a rotated password reaches new connections with no redeploy (open ones were
/// already authenticated).
#[derive(Clone)]
struct Credentials {
    store: Arc<SecretStore>,
    id: String,
    login: Login,
    last: Arc<Mutex<Option<Arc<str>>>>,
}

#[derive(serde::Deserialize)]
struct DatabaseSecret {
    username: String,
    password: String,
}

impl Credentials {
    async fn refresh(&self) -> Result<()> {
        crate::uses::record(crate::uses::Resource::DatabaseSecret);
        let raw = self.store.get(&self.id).await.map_err(crate::Error::Unavailable)?;
        let unchanged = self.last.lock().ok().and_then(|l| l.clone()).is_some_and(|l| Arc::ptr_eq(&l, &raw));
        if unchanged {
            return Ok(());
        }
        let secret: DatabaseSecret = serde_json::from_str(&raw)
            .map_err(|e| anyhow::anyhow!("the database secret is not {{\"username\", \"password\"}}: {e}"))?;
        if let (Ok(mut login), Ok(mut last)) = (self.login.lock(), self.last.lock()) {
            *login = Some((secret.username, secret.password));
            *last = Some(raw);
        }
        Ok(())
    }
}

impl Db {
    /// Builds both pools without connecting; credentials come with the URLs.
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        Self::build(config, None)
    }

    /// As [`Db::new`], logging in with the credentials in `DATABASE_SECRET_ID` (read from
    /// `store` when a connection is first needed), when it is set.
    pub fn with_secrets(config: &Config, store: Arc<SecretStore>) -> anyhow::Result<Self> {
        let credentials = config.database_secret_id.clone().map(|id| Credentials {
            store: store.clone(),
            id,
            login: Login::default(),
            last: Arc::default(),
        });
        let mut db = Self::build(config, credentials)?;
        db.app_login = config.app_database_secret_id.clone().map(|id| AppLogin { store, id });
        Ok(db)
    }

    fn build(config: &Config, credentials: Option<Credentials>) -> anyhow::Result<Self> {
        let login = credentials.as_ref().map(|c| c.login.clone());
        let build = |url: &Secret| {
            pool(
                url,
                config.database_pool_size,
                config.database_connect_timeout,
                config.database_ca_file.as_deref(),
                login.clone(),
            )
        };
        Ok(Db {
            write: build(&config.database_url).context("DATABASE_URL")?,
            read: build(&config.database_read_url).context("DATABASE_READ_URL")?,
            statements: Arc::default(),
            credentials,
            app_login: None,
            phone_region: config.phone_region,
            reader_down_until: Arc::default(),
        })
    }

    async fn ready(&self) -> Result<()> {
        match &self.credentials {
            Some(credentials) => credentials.refresh().await,
            None => Ok(()),
        }
    }

    /// A connection to the writer.
    pub async fn writer(&self) -> Result<Conn> {
        self.ready().await?;
        Ok(Conn::new(self.write.get().await?, self.write.clone(), self.statements.clone()))
    }

    /// A connection to the reader; it may lag the writer by a moment. When the reader cannot
    /// be reached, the writer serves reads for [`READER_FALLBACK`] before the reader is tried
    /// again.
    pub async fn reader(&self) -> Result<Conn> {
        if self.reading_from_writer() {
            return self.writer().await;
        }
        self.ready().await?;
        match self.read.get().await {
            Ok(client) => Ok(Conn::new(client, self.read.clone(), self.statements.clone())),
            Err(error) => {
                tracing::warn!(%error, "the reader is unreachable; reads go to the writer for a while");
                if let Ok(mut until) = self.reader_down_until.lock() {
                    *until = Some(std::time::Instant::now() + READER_FALLBACK);
                }
                self.writer().await
            }
        }
    }

    /// Whether reads are on the writer now, the reader having failed.
    pub fn reading_from_writer(&self) -> bool {
        self.reader_down_until.lock().ok().and_then(|u| *u).is_some_and(|until| std::time::Instant::now() < until)
    }

    /// Statements run through this handle (and its clones) so far.
    pub fn statements_run(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Applies every pending migration in migrations/ on the writer, and hands back the
    /// connection for the steps that follow them (`crate::migrate::run`).
    pub async fn apply_migrations(&self) -> anyhow::Result<deadpool_postgres::Object> {
        self.ready().await?;
        let mut conn = self.write.get().await.context("connect for migrations")?;
        let client: &mut tokio_postgres::Client = &mut conn;
        // A schema ahead of this code (a release rolled back after its migration ran) is not
        // an error: migrations only add, so the code before them still runs on it, and the
        // rollback's own migrate step must not fail the stack into UPDATE_ROLLBACK_FAILED.
        let report = embedded::migrations::runner()
            .set_abort_missing(false)
            .run_async(client)
            .await
            .context("apply migrations")?;
        for migration in report.applied_migrations() {
            tracing::info!(migration = %migration, "applied migration");
        }
        Ok(conn)
    }

    /// The region whose numbers may be written without their country code.
    pub fn phone_region(&self) -> crate::users::PhoneRegion {
        self.phone_region
    }

    /// Makes (or updates) the application's DML-only login from its secret, where the stack
    /// has one (in AWS; locally the tests' own login is used).
    pub async fn grant_app_role(&self, client: &tokio_postgres::Client) -> anyhow::Result<()> {
        if let Some(app) = &self.app_login {
            let raw = app.store.get(&app.id).await.context("read the application's database secret")?;
            let secret: DatabaseSecret = serde_json::from_str(&raw).context("the application's database secret")?;
            client.batch_execute(&app_role_sql(&secret)?).await.context("grant the application role")?;
            tracing::info!(role = secret.username, "application role ready (DML only)");
        }
        Ok(())
    }
}

fn pool(
    url: &Secret,
    size: usize,
    connect_timeout: Duration,
    ca_file: Option<&Path>,
    login: Option<Login>,
) -> anyhow::Result<Pool> {
    let mut pg = tokio_postgres::Config::from_str(url.expose()).context("not a valid Postgres URL")?;
    pg.connect_timeout(connect_timeout);
    let recycling = ManagerConfig { recycling_method: RecyclingMethod::Fast };
    // `sslmode=require` (RDS Proxy requires TLS) gets verified TLS; anything else stays plain,
    // as local servers are.
    let manager = if pg.get_ssl_mode() == SslMode::Require {
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(crate::tls::client_config(ca_file)?);
        Manager::from_connect(pg, LoginConnect { tls, login }, recycling)
    } else {
        Manager::from_connect(pg, LoginConnect { tls: NoTls, login }, recycling)
    };
    // The create timeout also bounds a server that accepts TCP but never answers; together
    // with the wait timeout it keeps an unreachable database to a fast 503.
    Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .timeouts(Timeouts {
            wait: Some(connect_timeout),
            create: Some(connect_timeout),
            recycle: Some(connect_timeout),
        })
        .build()
        .context("build Postgres pool")
}

/// Connects with the URL's settings and, when there are credentials from Secrets Manager,
/// the current ones.
struct LoginConnect<T> {
    tls: T,
    login: Option<Login>,
}

impl<T> deadpool_postgres::Connect for LoginConnect<T>
where
    T: MakeTlsConnect<Socket> + Clone + Sync + Send + 'static,
    T::Stream: Sync + Send,
    T::TlsConnect: Sync + Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    fn connect(
        &self,
        pg_config: &tokio_postgres::Config,
    ) -> Pin<Box<dyn Future<Output = std::result::Result<(Client, JoinHandle<()>), tokio_postgres::Error>> + Send + '_>>
    {
        let mut pg_config = pg_config.clone();
        if let Some((user, password)) = self.login.as_ref().and_then(|l| l.lock().ok().and_then(|l| l.clone())) {
            pg_config.user(user).password(password);
        }
        let tls = self.tls.clone();
        Box::pin(async move {
            let (client, connection) = pg_config.connect(tls).await?;
            let task = tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!(error = %e, "Postgres connection ended");
                }
            });
            Ok((client, task))
        })
    }
}

tokio::task_local! {
    /// Set while a request that changes nothing (GET, HEAD) runs: its statements may be
    /// run again on a fresh connection when theirs is lost.
    static READ_ONLY: bool;
}

/// Runs `work` as a request that only reads: a statement whose connection is lost midway
/// (a failover, a proxy restart, an administrator's shutdown) is retried once on a fresh
/// connection instead of failing the request.
pub async fn read_only<F: Future>(work: F) -> F::Output {
    READ_ONLY.scope(true, work).await
}

/// Times a statement that lost a deadlock or a serialization check is tried. Outside
/// [`Conn::atomically`] every statement is a transaction of its own, which Postgres rolled
/// back whole, so running it again is safe; inside, nothing is retried on its own.
const CONFLICT_ATTEMPTS: usize = 3;

/// A pooled connection that counts the statements it runs. Statements are prepared once per
/// connection and cached.
pub struct Conn {
    /// Always `Some` but while being dropped (see the `Drop` below).
    client: Option<deadpool_postgres::Object>,
    /// Where a fresh connection for a retried read comes from.
    pool: Pool,
    statements: Arc<AtomicU64>,
    /// Inside [`Conn::atomically`]: no statement is retried on its own.
    in_transaction: AtomicBool,
}

/// A connection dropped inside a transaction (its request cancelled midway) is closed, not
/// returned to the pool, so no later request runs inside that half-done transaction.
impl Drop for Conn {
    fn drop(&mut self) {
        if self.in_transaction.load(Ordering::Relaxed) {
            if let Some(object) = self.client.take() {
                drop(deadpool_postgres::Object::take(object));
            }
        }
    }
}

impl Conn {
    fn new(client: deadpool_postgres::Object, pool: Pool, statements: Arc<AtomicU64>) -> Self {
        Conn { client: Some(client), pool, statements, in_transaction: AtomicBool::new(false) }
    }

    fn client(&self) -> &deadpool_postgres::Object {
        self.client.as_ref().expect("a connection is only taken while it is dropped")
    }

    /// Whether a failed statement may run again on its own: not inside a transaction, which
    /// the failure aborted whole.
    fn may_retry(&self) -> bool {
        !self.in_transaction.load(Ordering::Relaxed)
    }

    /// Runs `work` in one transaction on this connection: committed when it succeeds, rolled
    /// back when it fails. Within a transaction already, `work` joins it.
    pub async fn atomically<T>(&self, work: impl AsyncFnOnce(&Conn) -> Result<T>) -> Result<T> {
        if self.in_transaction.load(Ordering::Relaxed) {
            return work(self).await;
        }
        self.batch_execute("BEGIN").await?;
        self.in_transaction.store(true, Ordering::Relaxed);
        let result = work(self).await;
        let end = self.batch_execute(if result.is_ok() { "COMMIT" } else { "ROLLBACK" }).await;
        // A connection whose COMMIT or ROLLBACK failed stays marked, and is closed on drop.
        if end.is_ok() {
            self.in_transaction.store(false, Ordering::Relaxed);
        }
        let value = result?;
        end?;
        Ok(value)
    }

    fn count(&self) {
        self.statements.fetch_add(1, Ordering::Relaxed);
    }

    async fn prepare(&self, sql: &str) -> Result<tokio_postgres::Statement> {
        Ok(self.client().prepare_cached(sql).await?)
    }

    async fn rows_on(
        client: &deadpool_postgres::Object,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> std::result::Result<Vec<Row>, tokio_postgres::Error> {
        let statement = client.prepare_cached(sql).await?;
        client.query(&statement, params).await
    }

    /// Whether a statement that failed with `e` on its `attempt`th run may run again: it
    /// lost a deadlock or a serialization check, and not inside a transaction (which the loss
    /// aborted whole), a few times at most.
    fn runs_again(&self, e: &tokio_postgres::Error, attempt: &mut usize) -> bool {
        *attempt += 1;
        crate::error::is_conflict(e) && self.may_retry() && *attempt <= CONFLICT_ATTEMPTS
    }

    /// Runs a statement returning rows: again after a lost deadlock, and once more on a
    /// fresh connection when the connection is lost during a read-only request.
    async fn rows(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        self.count();
        let mut attempt = 1;
        let mut result = Self::rows_on(self.client(), sql, params).await;
        while matches!(&result, Err(e) if self.runs_again(e, &mut attempt)) {
            result = Self::rows_on(self.client(), sql, params).await;
        }
        match result {
            Err(e)
                if crate::error::is_connection_lost(&e)
                    && self.may_retry()
                    && READ_ONLY.try_with(|r| *r).unwrap_or(false) =>
            {
                tracing::warn!(error = %e, "connection lost during a read; retrying on a fresh connection");
                let fresh = self.pool.get().await?;
                Ok(Self::rows_on(&fresh, sql, params).await?)
            }
            result => Ok(result?),
        }
    }

    pub async fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        self.rows(sql, params).await
    }

    /// At most one row; more is a bug in the statement.
    pub async fn query_opt(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>> {
        let mut rows = self.rows(sql, params).await?;
        if rows.len() > 1 {
            return Err(
                anyhow::anyhow!("a statement expected to return at most one row returned {}", rows.len()).into()
            );
        }
        Ok(rows.pop())
    }

    /// Like `query_opt`, but hands back the raw driver error so the caller can map the
    /// constraint violations it expects.
    pub async fn try_query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<std::result::Result<Option<Row>, tokio_postgres::Error>> {
        self.count();
        let statement = self.prepare(sql).await?;
        let mut attempt = 1;
        let mut result = self.client().query_opt(&statement, params).await;
        while matches!(&result, Err(e) if self.runs_again(e, &mut attempt)) {
            result = self.client().query_opt(&statement, params).await;
        }
        Ok(result)
    }

    /// Exactly one row; anything else is a bug in the statement.
    pub async fn query_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row> {
        self.query_opt(sql, params)
            .await?
            .ok_or_else(|| anyhow::anyhow!("a statement expected to return a row returned none").into())
    }

    /// Runs statements with no parameters (DDL), unprepared.
    pub async fn batch_execute(&self, sql: &str) -> Result<()> {
        self.count();
        Ok(self.client().batch_execute(sql).await?)
    }

    pub async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        self.count();
        let statement = self.prepare(sql).await?;
        let mut attempt = 1;
        let mut result = self.client().execute(&statement, params).await;
        while matches!(&result, Err(e) if self.runs_again(e, &mut attempt)) {
            result = self.client().execute(&statement, params).await;
        }
        Ok(result?)
    }
}
