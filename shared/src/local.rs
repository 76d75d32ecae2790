//! Creating, on moto (or any account), the queues, dead-letter queues, idempotency table and
//! verified sender that the workers need: for the local run and for each test.

use anyhow::Context;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;

use crate::aws::Aws;

#[derive(Debug, Clone)]
pub struct Provisioned {
    pub email_queue_url: String,
    pub email_dlq_url: String,
    pub notification_queue_url: String,
    pub notification_dlq_url: String,
    pub webhook_queue_url: String,
    pub webhook_dlq_url: String,
    pub idempotency_table: String,
    /// The events archive: a Firehose delivery stream into this bucket, under `events/`.
    pub events_stream: String,
    pub events_bucket: String,
    /// People's full exports.
    pub exports_bucket: String,
}

impl Provisioned {
    /// Shell `export` lines for the settings that point the app at these resources.
    pub fn exports(&self) -> String {
        format!(
            "export EMAIL_QUEUE_URL='{}'\nexport NOTIFICATION_QUEUE_URL='{}'\nexport WEBHOOK_QUEUE_URL='{}'\n\
             export IDEMPOTENCY_TABLE='{}'\nexport EVENTS_FIREHOSE_STREAM='{}'\nexport EVENTS_ARCHIVE_BUCKET='{}'\nexport EXPORTS_BUCKET='{}'\n",
            self.email_queue_url,
            self.notification_queue_url,
            self.webhook_queue_url,
            self.idempotency_table,
            self.events_stream,
            self.events_bucket,
            self.exports_bucket
        )
    }
}

/// Settings for [`provision`].
pub struct Plan<'a> {
    /// Names start with this: `<prefix>-email`, `<prefix>-email-dlq`, …
    pub prefix: &'a str,
    pub sender: &'a str,
    /// Receives before a message is dead-lettered.
    pub max_receive_count: u32,
    /// Seconds a received message stays invisible (a failed one is retried after this).
    pub visibility_timeout: u32,
    /// Names of the events archive (`<archive>-events`): shared by the tests, since moto,
    /// like AWS, allows 50 delivery streams an account.
    pub archive: &'a str,
}

/// Creates whatever is missing; safe to run again.
pub async fn provision(aws: &Aws, plan: &Plan<'_>) -> anyhow::Result<Provisioned> {
    let (email_queue_url, email_dlq_url) = queue_with_dlq(aws, &format!("{}-email", plan.prefix), plan).await?;
    let (notification_queue_url, notification_dlq_url) =
        queue_with_dlq(aws, &format!("{}-notification", plan.prefix), plan).await?;
    let (webhook_queue_url, webhook_dlq_url) = queue_with_dlq(aws, &format!("{}-webhook", plan.prefix), plan).await?;
    let idempotency_table = format!("{}-idempotency", plan.prefix);
    let created = aws
        .dynamodb()
        .create_table()
        .table_name(&idempotency_table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build()?,
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build()?)
        .send()
        .await;
    match created {
        Ok(_) => {
            aws.dynamodb()
                .update_time_to_live()
                .table_name(&idempotency_table)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder().enabled(true).attribute_name("ttl").build()?,
                )
                .send()
                .await
                .context("enable TTL")?;
        }
        Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => {}
        Err(e) => return Err(anyhow::Error::new(e).context("create idempotency table")),
    }
    match aws.ses().create_email_identity().email_identity(plan.sender).send().await {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|e| e.is_already_exists_exception()) => {}
        Err(e) => return Err(anyhow::Error::new(e).context("verify sender")),
    }
    let (events_stream, events_bucket) = events_archive(aws, plan).await?;
    let exports_bucket = format!("{}-exports", plan.archive.to_lowercase().replace('_', "-"));
    ensure_bucket(aws, &exports_bucket).await?;
    Ok(Provisioned {
        email_queue_url,
        email_dlq_url,
        notification_queue_url,
        notification_dlq_url,
        webhook_queue_url,
        webhook_dlq_url,
        idempotency_table,
        events_stream,
        events_bucket,
        exports_bucket,
    })
}

async fn ensure_bucket(aws: &Aws, bucket: &str) -> anyhow::Result<()> {
    match aws.s3().create_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_bucket_already_owned_by_you()) => Ok(()),
        Err(e) => Err(anyhow::Error::new(e).context(format!("create bucket {bucket}"))),
    }
}

/// The bucket and the delivery stream writing events into it under `events/`.
async fn events_archive(aws: &Aws, plan: &Plan<'_>) -> anyhow::Result<(String, String)> {
    use aws_sdk_firehose::types::{BufferingHints, DeliveryStreamType, ExtendedS3DestinationConfiguration};
    let bucket = format!("{}-events", plan.archive.to_lowercase().replace('_', "-"));
    let stream = format!("{}-events", plan.archive);
    ensure_bucket(aws, &bucket).await?;
    // Versioned, as the template's bucket is: the erasure rewrite deletes the versions it replaces.
    aws.s3()
        .put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .context("version the events bucket")?;
    let destination = ExtendedS3DestinationConfiguration::builder()
        .role_arn("arn:aws:iam::123456789012:role/growstack-firehose")
        .bucket_arn(format!("arn:aws:s3:::{bucket}"))
        .prefix("events/")
        .buffering_hints(BufferingHints::builder().interval_in_seconds(60).size_in_mbs(1).build())
        .build()
        .context("destination")?;
    let created = aws
        .firehose()
        .create_delivery_stream()
        .delivery_stream_name(&stream)
        .delivery_stream_type(DeliveryStreamType::DirectPut)
        .extended_s3_destination_configuration(destination)
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => {}
        Err(e) => return Err(anyhow::Error::new(e).context("create events delivery stream")),
    }
    Ok((stream, bucket))
}

async fn queue_with_dlq(aws: &Aws, name: &str, plan: &Plan<'_>) -> anyhow::Result<(String, String)> {
    let dlq_url = aws
        .sqs
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600")
        .send()
        .await
        .context("create DLQ")?
        .queue_url
        .context("DLQ URL")?;
    let dlq_arn = aws
        .sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .context("DLQ ARN")?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .context("DLQ ARN")?;
    let redrive = serde_json::json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": plan.max_receive_count });
    let url = aws
        .sqs
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .attributes(QueueAttributeName::VisibilityTimeout, plan.visibility_timeout.to_string())
        .send()
        .await
        .context("create queue")?
        .queue_url
        .context("queue URL")?;
    Ok((url, dlq_url))
}
