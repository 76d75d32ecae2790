//! What AWS each function's code uses — the queues, the table, SES — declared next to its
//! route (or in [`BACKGROUND`] for the workers), so that its IAM policy can be checked
//! against the code rather than against a list kept by hand. The clients record each use
//! while a request runs; the router compares the record with the declaration, and in
//! debug builds (the tests) an undeclared use fails the request.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::future::Future;

/// An AWS resource a function's IAM policy must grant it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    /// `sqs:SendMessage` on the email queue.
    EmailQueue,
    /// `sqs:SendMessage` on the notification queue.
    NotificationQueue,
    /// `sqs:SendMessage` on the webhook queue.
    WebhookQueue,
    /// Read and write the idempotency table.
    IdempotencyTable,
    /// `ses:SendEmail` from the sender through the configuration set.
    SesSend,
    /// `firehose:PutRecordBatch` on the events delivery stream.
    EventsStream,
    /// `s3:PutObject` under the archive's `erasures/`: the list the Athena view applies.
    ErasureList,
    /// Read and write the archive's `events/` objects: the rewrite without erased accounts.
    EventsArchive,
    /// `s3:PutObject` under the exports bucket's `exports/`: a person's full export.
    ExportsWrite,
    /// `s3:GetObject` there: what a download link's presigned URL is signed for.
    ExportsRead,
    /// `secretsmanager:GetSecretValue` on the tokens' private keys: only what signs people in.
    TokenSigningKey,
    /// `secretsmanager:GetSecretValue` on the tokens' public keys: anything that checks a token.
    TokenPublicKeys,
    /// `secretsmanager:PutSecretValue` on the tokens' public keys: what signs tokens lists
    /// its keys' public halves there.
    TokenPublicKeysWrite,
    /// `secretsmanager:GetSecretValue` on the key of the links we mail: what makes or checks one.
    LinkKey,
    /// `secretsmanager:GetSecretValue` on the database login (the DML-only application
    /// role): anything that uses Postgres.
    DatabaseSecret,
    /// `secretsmanager:GetSecretValue` on the master credentials: the migration alone.
    MasterDatabaseSecret,
    /// `secretsmanager:GetSecretValue` on the Redis AUTH token: anything that uses Redis.
    RedisSecret,
    /// `secretsmanager:GetSecretValue` on the secret the KYC provider signs callbacks with.
    KycSecret,
}

/// A function that serves no HTTP route, and what it uses. Consuming its trigger (an SQS
/// event source, a schedule, an SNS subscription) is granted by the trigger itself.
pub struct Background {
    pub function: &'static str,
    pub uses: &'static [Resource],
}

/// Every function without a route.
pub const BACKGROUND: &[Background] = &[
    Background {
        function: "email-worker",
        uses: &[
            Resource::IdempotencyTable,
            Resource::SesSend,
            Resource::LinkKey,
            Resource::DatabaseSecret,
            Resource::RedisSecret,
        ],
    },
    Background {
        function: "notification-worker",
        uses: &[Resource::IdempotencyTable, Resource::EmailQueue, Resource::DatabaseSecret],
    },
    Background {
        function: "scheduler",
        uses: &[
            Resource::EmailQueue,
            Resource::NotificationQueue,
            Resource::WebhookQueue,
            Resource::EventsStream,
            Resource::ErasureList,
            Resource::EventsArchive,
            Resource::ExportsWrite,
            Resource::DatabaseSecret,
        ],
    },
    Background { function: "webhook-worker", uses: &[Resource::DatabaseSecret] },
    Background { function: "ses-feedback", uses: &[Resource::DatabaseSecret] },
    Background { function: "migrate", uses: &[Resource::MasterDatabaseSecret, Resource::DatabaseSecret] },
];

tokio::task_local! {
    static USED: RefCell<BTreeSet<Resource>>;
}

/// Notes that the running request (or job) used `resource`. Outside [`recording`], nothing.
pub fn record(resource: Resource) {
    let _ = USED.try_with(|used| used.borrow_mut().insert(resource));
}

/// Runs `work`, returning what it used besides its output.
pub async fn recording<F: Future>(work: F) -> (F::Output, BTreeSet<Resource>) {
    USED.scope(RefCell::default(), async move {
        let output = work.await;
        (output, USED.with(|used| used.borrow().clone()))
    })
    .await
}

/// The uses in `used` that `declared` does not list.
pub fn undeclared(used: &BTreeSet<Resource>, declared: &[Resource]) -> Vec<Resource> {
    used.iter().filter(|r| !declared.contains(r)).copied().collect()
}
