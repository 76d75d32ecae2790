//! The router, the binaries in functions/, template.yaml and events/ describe the same set
//! of functions: every route has exactly one function, one binary and one event.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use growstack::app::ENDPOINTS;
use growstack::uses::{Resource, BACKGROUND};
use serde_yaml_ng::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn template() -> Value {
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

/// A function in template.yaml: logical id, binary, and the (method, path) routes of the
/// API that integrate with it.
type TemplateFunction = (String, String, Vec<(String, String)>);

/// Every (method, path, function logical id) of the API's routes: its OpenAPI body, each
/// operation a Lambda proxy integration whose URI names the function's ARN.
fn api_routes(template: &Value) -> Vec<(String, String, String)> {
    let paths = template["Resources"]["GrowStackApi"]["Properties"]["DefinitionBody"]["paths"]
        .as_mapping()
        .expect("GrowStackApi's DefinitionBody has paths");
    let mut routes = Vec::new();
    for (path, methods) in paths {
        for (method, operation) in methods.as_mapping().unwrap() {
            let integration = &operation["x-amazon-apigateway-integration"];
            assert_eq!(integration["type"].as_str(), Some("aws_proxy"), "{path:?} {method:?}");
            assert_eq!(integration["payloadFormatVersion"].as_str(), Some("2.0"), "{path:?} {method:?}");
            let uri = match &integration["uri"] {
                Value::Tagged(tagged) => tagged.value.as_str().unwrap_or_default().to_owned(),
                other => panic!("{path:?} {method:?}: uri {other:?} is not a !Sub"),
            };
            let function = uri
                .split("${")
                .nth(3)
                .and_then(|s| s.strip_suffix(".Arn}/invocations"))
                .unwrap_or_else(|| panic!("{path:?} {method:?}: {uri} does not invoke a function of the template"));
            routes.push((
                method.as_str().unwrap().to_uppercase(),
                path.as_str().unwrap().to_owned(),
                function.to_owned(),
            ));
        }
    }
    routes
}

fn template_functions() -> Vec<TemplateFunction> {
    let template = template();
    let routes = api_routes(&template);
    let resources = template["Resources"].as_mapping().unwrap();
    resources
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        // Inline glue (the migration runner custom resource) is not one of our binaries.
        .filter(|(_, r)| r["Properties"].get("InlineCode").is_none())
        .map(|(id, r)| {
            let id = id.as_str().unwrap();
            let binary =
                r["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap_or_else(|| panic!("{id:?} has no Binary"));
            assert!(
                r["Properties"]["Events"]
                    .as_mapping()
                    .is_none_or(|events| events.values().all(|e| e["Type"].as_str() != Some("HttpApi"))),
                "{id}: an HttpApi event adds a permission per route; routes are in GrowStackApi's DefinitionBody"
            );
            let mine = routes.iter().filter(|(_, _, f)| f == id).map(|(m, p, _)| (m.clone(), p.clone())).collect();
            (id.to_owned(), binary.to_owned(), mine)
        })
        .collect()
}

fn files(dir: &Path, extension: &str) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            (path.extension()? == extension).then(|| path.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect()
}

#[test]
fn every_route_has_one_function_one_binary_and_one_event() {
    let functions = template_functions();
    let binaries = files(&root().join("functions/src/bin"), "rs");
    let events = files(&root().join("events"), "json");
    for endpoint in ENDPOINTS {
        let matching: Vec<_> = functions.iter().filter(|(_, binary, _)| binary == endpoint.function).collect();
        assert_eq!(matching.len(), 1, "{} must have exactly one function in template.yaml", endpoint.function);
        let mut routes = vec![(endpoint.method.to_string(), endpoint.path.to_owned())];
        routes.extend(growstack::endpoint::v1_path(endpoint.path).map(|v1| (endpoint.method.to_string(), v1)));
        let mut in_template = matching[0].2.clone();
        in_template.sort();
        routes.sort();
        assert_eq!(in_template, routes, "{}: template routes differ from the router's", endpoint.function);
        assert!(binaries.contains(endpoint.function), "no functions/src/bin/{}.rs", endpoint.function);
        assert!(events.contains(endpoint.function), "no events/{}.json", endpoint.function);

        let event: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(root().join(format!("events/{}.json", endpoint.function))).unwrap(),
        )
        .unwrap();
        assert_eq!(
            event["routeKey"],
            format!("{} {}", endpoint.method, endpoint.path),
            "events/{}.json",
            endpoint.function
        );
    }
}

#[test]
fn nothing_exists_without_a_route_or_a_reason() {
    let routed: BTreeSet<&str> =
        ENDPOINTS.iter().map(|e| e.function).chain(BACKGROUND.iter().map(|b| b.function)).collect();
    let in_template: BTreeSet<String> = template_functions().into_iter().map(|(_, binary, _)| binary).collect();
    let binaries = files(&root().join("functions/src/bin"), "rs");
    let events = files(&root().join("events"), "json");
    for binary in &in_template {
        assert!(routed.contains(binary.as_str()), "template function {binary} serves no known endpoint");
    }
    for binary in &binaries {
        assert!(
            binary == "growstack" || in_template.contains(binary),
            "binary {binary} has no function in template.yaml"
        );
    }
    for name in &routed {
        assert!(in_template.contains(*name), "{name} missing from template.yaml");
        assert!(events.contains(*name), "events/{name}.json missing");
    }
    for name in &events {
        assert!(routed.contains(name.as_str()), "events/{name}.json belongs to no function");
    }
}

#[test]
fn function_names_are_unique() {
    let mut seen = BTreeSet::new();
    for endpoint in ENDPOINTS {
        assert!(seen.insert(endpoint.function), "{} twice", endpoint.function);
    }
}

/// The logical id a `!Ref X` or `!GetAtt X.Attr` (as YAML tags) points at.
fn target(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(tagged) => {
            let inner = tagged.value.as_str()?;
            Some(inner.split('.').next().unwrap_or(inner).to_owned())
        }
        _ => None,
    }
}

/// Every metric an alarm watches, as (alarm id, metric name, logical ids its dimensions
/// point at): the alarm's own metric, or each metric of a metric-math alarm.
fn alarms(template: &Value) -> Vec<(String, String, Vec<String>)> {
    let metric = |id: &str, m: &Value| {
        let dims = m["Dimensions"]
            .as_sequence()
            .map(|d| d.iter().filter_map(|d| target(&d["Value"])).collect())
            .unwrap_or_default();
        (id.to_owned(), m["MetricName"].as_str().unwrap_or("").to_owned(), dims)
    };
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::CloudWatch::Alarm"))
        .flat_map(|(id, r)| {
            let id = id.as_str().unwrap();
            let p = &r["Properties"];
            let mut watched: Vec<_> = p["Metrics"]
                .as_sequence()
                .into_iter()
                .flatten()
                .filter(|q| q.get("MetricStat").is_some())
                .map(|q| metric(id, &q["MetricStat"]["Metric"]))
                .collect();
            if p.get("MetricName").is_some() {
                watched.push(metric(id, p));
            }
            watched
        })
        .collect()
}

#[test]
fn every_queue_has_a_dlq_and_alarms() {
    let template = template();
    let resources = template["Resources"].as_mapping().unwrap();
    let alarms = alarms(&template);
    let queues: Vec<(&str, &Value)> = resources
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::SQS::Queue"))
        .map(|(id, r)| (id.as_str().unwrap(), r))
        .collect();
    let main: Vec<_> = queues.iter().filter(|(_, r)| r["Properties"].get("RedrivePolicy").is_some()).collect();
    assert!(main.len() >= 2, "the email and notification queues");
    for (id, queue) in main {
        let dlq = target(&queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
            .unwrap_or_else(|| panic!("{id}: the redrive policy names no DLQ of this template"));
        assert!(resources.iter().any(|(k, _)| k.as_str() == Some(dlq.as_str())), "{id}: DLQ {dlq} missing");
        let has =
            |metric: &str, on: &str| alarms.iter().any(|(_, m, dims)| m == metric && dims.iter().any(|d| d == on));
        assert!(has("ApproximateNumberOfMessagesVisible", &dlq), "no alarm on the depth of {dlq}");
        assert!(has("ApproximateAgeOfOldestMessage", id), "no alarm on the age of {id}'s oldest message");
    }
}

#[test]
fn no_function_policy_grants_everything() {
    let template = template();
    for (id, r) in template["Resources"].as_mapping().unwrap() {
        let statements: Vec<&Value> = match r["Type"].as_str() {
            Some("AWS::Serverless::Function") => r["Properties"]["Policies"]
                .as_sequence()
                .into_iter()
                .flatten()
                .flat_map(|p| p["Statement"].as_sequence().into_iter().flatten())
                .collect(),
            Some("AWS::IAM::Role") => r["Properties"]["Policies"]
                .as_sequence()
                .into_iter()
                .flatten()
                .flat_map(|p| p["PolicyDocument"]["Statement"].as_sequence().into_iter().flatten())
                .collect(),
            _ => continue,
        };
        for statement in statements {
            let resources = match &statement["Resource"] {
                Value::Sequence(list) => list.clone(),
                other => vec![other.clone()],
            };
            for resource in resources {
                assert_ne!(resource.as_str(), Some("*"), "{id:?} grants {:?} on every resource", statement["Action"]);
            }
            let actions = match &statement["Action"] {
                Value::Sequence(list) => list.clone(),
                other => vec![other.clone()],
            };
            for action in actions {
                let action = action.as_str().unwrap_or("");
                assert!(!action.ends_with(":*") && action != "*", "{id:?} grants {action}");
            }
        }
    }
}

#[test]
fn every_function_has_error_and_throttle_alarms() {
    let template = template();
    let alarms = alarms(&template);
    for (id, r) in template["Resources"].as_mapping().unwrap() {
        let metrics = r["Properties"]["Metrics"].as_sequence().into_iter().flatten();
        let read = metrics.filter(|m| m.get("MetricStat").is_some()).count();
        assert!(read <= 10, "{id:?} reads {read} metrics: CloudWatch allows a metric math alarm 10");
    }
    for (id, r) in template["Resources"].as_mapping().unwrap() {
        if r["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let id = id.as_str().unwrap();
        for metric in ["Errors", "Throttles"] {
            let watching: Vec<&str> = alarms
                .iter()
                .filter(|(_, m, dims)| m == metric && dims.iter().any(|d| d == id))
                .map(|(alarm, _, _)| alarm.as_str())
                .collect();
            assert_eq!(watching.len(), 1, "{id}'s {metric} must be in exactly one alarm, found {watching:?}");
        }
    }
}

/// The profiles we ship unwind on panic, so that the router's panic-catching layer can turn
/// a bug into a 500 instead of killing the Lambda sandbox or the whole server; and password
/// hashing is optimised in every profile.
#[test]
fn shipped_profiles_unwind_and_hash_fast() {
    let text = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let manifest: toml_edit::DocumentMut = text.parse().unwrap();
    let profiles = manifest["profile"].as_table().expect("[profile.*] tables");
    for (name, profile) in profiles.iter() {
        assert_ne!(profile.get("panic").and_then(|p| p.as_str()), Some("abort"), "profile {name} aborts on panic");
    }
    for profile in ["dev", "release"] {
        for package in ["argon2", "blake2"] {
            let level = manifest["profile"][profile]["package"][package]["opt-level"].as_integer();
            assert_eq!(level, Some(3), "[profile.{profile}.package.{package}] opt-level");
        }
    }
}

/// The text of each tagged resource of a statement (`!GetAtt X.Arn`, `!Sub …`), one or a list.
fn resources(value: &Value) -> Vec<String> {
    let one = |v: &Value| match v {
        Value::Tagged(tagged) => tagged.value.as_str().map(str::to_owned),
        _ => None,
    };
    match value {
        Value::Sequence(list) => list.iter().filter_map(one).collect(),
        other => one(other).into_iter().collect(),
    }
}

/// The secret a `!Ref` names, as the use it grants.
fn secret_use(id: &str, secret: Option<&str>) -> Resource {
    match secret {
        Some("TokenSigningKeySecret") => Resource::TokenSigningKey,
        Some("TokenPublicKeysSecret") => Resource::TokenPublicKeys,
        Some("JwtKeysSecret") => Resource::LinkKey,
        Some("AppDatabaseSecret") => Resource::DatabaseSecret,
        Some("DatabaseSecret") => Resource::MasterDatabaseSecret,
        Some("RedisAuthSecret") => Resource::RedisSecret,
        Some("KycWebhookSecretValue") => Resource::KycSecret,
        other => panic!("{id}: GetSecretValue on unknown secret {other:?}"),
    }
}

/// What one IAM statement grants, in terms of [`Resource`]. A statement this does not
/// recognise fails the test: teach it here, and declare the use in the code.
fn statement_use(id: &str, statement: &Value) -> Resource {
    assert_eq!(statement["Effect"].as_str(), Some("Allow"), "{id}: {statement:?}");
    let actions: Vec<String> = match &statement["Action"] {
        Value::Sequence(list) => list.iter().filter_map(|a| a.as_str().map(str::to_owned)).collect(),
        other => other.as_str().map(|a| vec![a.to_owned()]).unwrap_or_default(),
    };
    let on = target(&statement["Resource"]);
    let actions: Vec<&str> = actions.iter().map(String::as_str).collect();
    match (actions.as_slice(), on.as_deref()) {
        (["secretsmanager:GetSecretValue"], secret) => secret_use(id, secret),
        (["secretsmanager:PutSecretValue"], Some("TokenPublicKeysSecret")) => Resource::TokenPublicKeysWrite,
        (["sqs:SendMessage"], Some("EmailQueue")) => Resource::EmailQueue,
        (["sqs:SendMessage"], Some("NotificationQueue")) => Resource::NotificationQueue,
        (["sqs:SendMessage"], Some("WebhookQueue")) => Resource::WebhookQueue,
        (["ses:SendEmail"], _) => Resource::SesSend,
        (["firehose:PutRecord", "firehose:PutRecordBatch"], Some("EventsDeliveryStream")) => Resource::EventsStream,
        (["s3:PutObject"], _) if resources(&statement["Resource"]) == ["${EventsArchiveBucket.Arn}/erasures/*"] => {
            Resource::ErasureList
        }
        (["s3:PutObject"], _) if resources(&statement["Resource"]) == ["${ExportsBucket.Arn}/exports/*"] => {
            Resource::ExportsWrite
        }
        (["s3:GetObject"], _) if resources(&statement["Resource"]) == ["${ExportsBucket.Arn}/exports/*"] => {
            Resource::ExportsRead
        }
        // What shared/src/privacy/archive.rs calls, on the bucket and its events only.
        (calls, None)
            if calls == growstack::privacy::ARCHIVE_ACTIONS
                && resources(&statement["Resource"])
                    == ["EventsArchiveBucket.Arn", "${EventsArchiveBucket.Arn}/events/*"] =>
        {
            Resource::EventsArchive
        }
        // What shared/src/idempotency.rs calls, and nothing else.
        (calls, Some("IdempotencyTable")) if calls == growstack::idempotency::DYNAMODB_ACTIONS => {
            Resource::IdempotencyTable
        }
        _ => panic!("{id}: unrecognised statement {actions:?} on {on:?}"),
    }
}

/// What a function may use, in terms of [`Resource`]: its `Role`'s policies (the HTTP
/// functions share a role per set of uses) or the `Policies` SAM makes a role of. A policy
/// this does not recognise fails the test.
fn granted(template: &Value, id: &str, function: &Value) -> BTreeSet<Resource> {
    let mut granted = BTreeSet::new();
    let mut grant = |resource: Resource| assert!(granted.insert(resource), "{id}: {resource:?} granted twice");
    if let Some(role) = target(&function["Properties"]["Role"]) {
        assert!(function["Properties"].get("Policies").is_none(), "{id}: a Role and Policies");
        let role = &template["Resources"][role.as_str()];
        assert_eq!(role["Type"].as_str(), Some("AWS::IAM::Role"), "{id}");
        for policy in role["Properties"]["Policies"].as_sequence().into_iter().flatten() {
            for statement in policy["PolicyDocument"]["Statement"].as_sequence().into_iter().flatten() {
                grant(statement_use(id, statement));
            }
        }
    }
    for policy in function["Properties"]["Policies"].as_sequence().into_iter().flatten() {
        let (name, body) = policy.as_mapping().and_then(|m| m.iter().next()).expect("a policy is a one-key map");
        match name.as_str().unwrap() {
            "SQSSendMessagePolicy" => grant(match target(&body["QueueName"]).as_deref() {
                Some("EmailQueue") => Resource::EmailQueue,
                Some("NotificationQueue") => Resource::NotificationQueue,
                Some("WebhookQueue") => Resource::WebhookQueue,
                other => panic!("{id}: SQSSendMessagePolicy on unknown queue {other:?}"),
            }),
            "FirehoseWritePolicy" => grant(match target(&body["DeliveryStreamName"]).as_deref() {
                Some("EventsDeliveryStream") => Resource::EventsStream,
                other => panic!("{id}: FirehoseWritePolicy on unknown stream {other:?}"),
            }),
            "AWSSecretsManagerGetSecretValuePolicy" => grant(secret_use(id, target(&body["SecretArn"]).as_deref())),
            // SAM's DynamoDBCrudPolicy grants Scan, Query and Batch* too, which nothing calls.
            "DynamoDBCrudPolicy" => panic!("{id}: DynamoDBCrudPolicy grants more than the code uses"),
            "Statement" => {
                for statement in body.as_sequence().into_iter().flatten() {
                    grant(statement_use(id, statement));
                }
            }
            other => panic!("{id}: unrecognised policy {other}"),
        }
    }
    granted
}

/// Every function's IAM policy grants exactly what its code declares it uses — no more, no
/// less — and the declarations are checked against what the code really does by the router
/// (see `growstack::uses`) in every test that drives an endpoint.
#[test]
fn every_function_is_granted_exactly_what_its_code_uses() {
    let template = template();
    let mut checked = 0;
    let mut wrong = Vec::new();
    for (id, r) in template["Resources"].as_mapping().unwrap() {
        if r["Type"].as_str() != Some("AWS::Serverless::Function") || r["Properties"].get("InlineCode").is_some() {
            continue;
        }
        let id = id.as_str().unwrap();
        let binary = r["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
        let declared: BTreeSet<Resource> = ENDPOINTS
            .iter()
            .find(|e| e.function == binary)
            .map(|e| e.uses)
            .or_else(|| BACKGROUND.iter().find(|b| b.function == binary).map(|b| b.uses))
            .unwrap_or_else(|| panic!("{binary} declares nothing: add it to ENDPOINTS or uses::BACKGROUND"))
            .iter()
            .copied()
            .collect();
        let granted = granted(&template, id, r);
        if granted != declared {
            wrong.push(format!("{id} ({binary}): the code uses {declared:?}, the template grants {granted:?}"));
        }
        checked += 1;
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(checked, ENDPOINTS.len() + BACKGROUND.len());
}

/// A route's own throttling (the password routes') holds under its /api/v1 twin too, or a
/// flood would take the other door.
#[test]
fn route_throttling_covers_both_mounts() {
    let template = template();
    let settings = template["Resources"]["GrowStackApi"]["Properties"]["RouteSettings"].as_mapping().unwrap();
    assert!(!settings.is_empty());
    for (key, value) in settings {
        let key = key.as_str().unwrap();
        let (method, path) = key.split_once(' ').unwrap();
        if let Some(v1) = growstack::endpoint::v1_path(path).filter(|_| !path.starts_with("/api/v1/")) {
            let twin = settings.get(format!("{method} {v1}").as_str());
            assert_eq!(twin, Some(value), "{key} is throttled, {method} {v1} is not the same way");
        }
    }
}

#[test]
fn the_consoles_security_headers_in_aws_are_the_servers() {
    let template = template();
    let policy = &template["Resources"]["ConsoleSecurityHeaders"]["Properties"]["ResponseHeadersPolicyConfig"]
        ["SecurityHeadersConfig"];
    assert_eq!(
        policy["ContentSecurityPolicy"]["ContentSecurityPolicy"].as_str(),
        Some(growstack::console::CONTENT_SECURITY_POLICY),
        "the CloudFront policy and shared/src/console.rs say the same"
    );
    assert_eq!(policy["FrameOptions"]["FrameOption"].as_str(), Some("DENY"));
    let behavior =
        &template["Resources"]["ConsoleDistribution"]["Properties"]["DistributionConfig"]["DefaultCacheBehavior"];
    assert!(!behavior["ResponseHeadersPolicyId"].is_null(), "the console's files get the policy");
}

/// SES publishes bounces and complaints to the feedback topic only if the topic's KMS key lets
/// it (the AWS managed `alias/aws/sns` cannot be opened to SES): every SNS topic an SES event
/// destination publishes to is encrypted with a key of the template whose policy grants
/// `ses.amazonaws.com` what publishing to an encrypted topic needs, from this account only.
#[test]
fn ses_can_publish_to_its_encrypted_feedback_topic() {
    let template = template();
    let resources = &template["Resources"];
    let mut checked = 0;
    for (id, r) in resources.as_mapping().unwrap() {
        if r["Type"].as_str() != Some("AWS::SES::ConfigurationSetEventDestination") {
            continue;
        }
        let id = id.as_str().unwrap();
        let topic =
            target(&r["Properties"]["EventDestination"]["SnsDestination"]["TopicARN"]).expect("a topic of ours");
        let key = target(&resources[topic.as_str()]["Properties"]["KmsMasterKeyId"]).unwrap_or_else(|| {
            panic!("{id}: topic {topic} must be encrypted with a key of the template, not an AWS managed one")
        });
        let key = &resources[key.as_str()];
        assert_eq!(key["Type"].as_str(), Some("AWS::KMS::Key"));
        let admits_ses = key["Properties"]["KeyPolicy"]["Statement"].as_sequence().unwrap().iter().any(|s| {
            let actions: Vec<&str> = match &s["Action"] {
                Value::Sequence(list) => list.iter().filter_map(Value::as_str).collect(),
                other => other.as_str().into_iter().collect(),
            };
            s["Effect"].as_str() == Some("Allow")
                && s["Principal"]["Service"].as_str() == Some("ses.amazonaws.com")
                && actions.iter().any(|a| *a == "kms:GenerateDataKey*" || *a == "kms:GenerateDataKey")
                && actions.contains(&"kms:Decrypt")
                && !s["Condition"]["StringEquals"]["aws:SourceAccount"].is_null()
        });
        assert!(admits_ses, "{id}: the key of topic {topic} must let SES (from this account) publish");
        checked += 1;
    }
    assert!(checked >= 1, "no SES event destination found");
}

/// Whether `text` matches `pattern`, in which `*` stands for any run of characters (as in
/// IAM's ArnLike).
fn arn_like(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            text.starts_with(head)
                && (0..=text.len() - head.len()).any(|skip| arn_like(tail, &text[head.len() + skip..]))
        }
    }
}

/// SAM would add an invoke permission per route (two per function); each HTTP function has
/// one, and it admits the function's routes on both mounts.
#[test]
fn one_invoke_permission_per_function_admits_both_mounts() {
    let template = template();
    let resources = template["Resources"].as_mapping().unwrap();
    for endpoint in ENDPOINTS {
        let id = growstack::generate::function_id(endpoint.function);
        let permissions: Vec<&Value> = resources
            .values()
            .filter(|r| r["Type"].as_str() == Some("AWS::Lambda::Permission"))
            .filter(|r| target(&r["Properties"]["FunctionName"]).as_deref() == Some(id.as_str()))
            .collect();
        assert_eq!(permissions.len(), 1, "{id}: one invoke permission");
        let p = &permissions[0]["Properties"];
        assert_eq!(p["Principal"].as_str(), Some("apigateway.amazonaws.com"));
        let arn = match &p["SourceArn"] {
            Value::Tagged(tagged) => tagged.value.as_str().unwrap().to_owned(),
            other => panic!("{id}: SourceArn {other:?}"),
        };
        let pattern = arn.split_once("${GrowStackApi}/").map(|(_, route)| route).expect("scoped to the API");
        let concrete = endpoint
            .path
            .split('/')
            .map(|s| if s.starts_with('{') { "0192f0c4" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let mut mounts = vec![concrete.clone()];
        mounts.extend(growstack::endpoint::v1_path(&concrete));
        for path in mounts {
            let route = format!("$default/{}{path}", endpoint.method);
            assert!(arn_like(pattern, &route), "{id}: {pattern} does not admit {route}");
        }
        let other = if endpoint.method == http::Method::GET { "POST" } else { "GET" };
        assert!(!arn_like(pattern, &format!("$default/{other}{concrete}")), "{id}: {pattern} admits {other}");
    }
}

/// What restates the endpoint declarations (template.yaml's routes, HTTP functions and
/// domain alarms, the functions' mains, the events/ skeletons, docs/api.md's table) is what
/// `growstack generate` writes from them now.
#[test]
fn the_generated_files_are_what_the_declarations_make() {
    let stale: Vec<String> = growstack::generate::outputs(&root())
        .unwrap()
        .into_iter()
        .filter(|output| std::fs::read_to_string(root().join(&output.path)).ok().as_deref() != Some(&output.text))
        .map(|output| output.path)
        .collect();
    assert!(stale.is_empty(), "not what the declarations make: {stale:?}; run scripts/generate.sh and commit");
}

/// Every environment variable the code reads: those `Config` asks for (recorded by running
/// it with a local, an AWS-managed-keys and a Lambda environment), and the few read directly
/// (`env::var("…")`, clap's `env = "…"`) anywhere in shared/ and functions/.
fn variables_read() -> BTreeSet<String> {
    let asked = std::cell::RefCell::new(BTreeSet::new());
    let scenarios: [&[(&str, &str)]; 3] = [
        &[("GROWSTACK_ENV", "local")],
        &[("TOKEN_PUBLIC_KEYS_ID", "p"), ("LINK_KEY_ID", "l"), ("TOKEN_SIGNING_KEY_ID", "s")],
        &[("AWS_LAMBDA_FUNCTION_NAME", "f")],
    ];
    for vars in scenarios {
        let _ = growstack::config::Config::from_lookup(|key| {
            asked.borrow_mut().insert(key.to_owned());
            vars.iter().find(|(k, _)| *k == key).map(|(_, v)| (*v).to_owned())
        });
    }
    let mut read = asked.into_inner();
    for dir in ["shared/src", "functions/src"] {
        let mut stack = vec![root().join(dir)];
        while let Some(path) = stack.pop() {
            if path.is_dir() {
                stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for marker in ["env::var(\"", "env::var_os(\"", "env = \""] {
                for rest in text.split(marker).skip(1) {
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_uppercase() || *c == '_' || c.is_ascii_digit())
                        .collect();
                    if !name.is_empty() {
                        read.insert(name);
                    }
                }
            }
        }
    }
    read
}

/// docs/configuration.md's table names every variable the code reads, and nothing that
/// neither the code nor the scripts read.
#[test]
fn the_configuration_table_is_what_the_code_reads() {
    let doc = std::fs::read_to_string(root().join("docs/configuration.md")).unwrap();
    let documented: BTreeSet<String> = doc
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split('`').next())
        .filter(|name| name.chars().all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit()))
        .map(str::to_owned)
        .collect();
    let read = variables_read();
    let missing: Vec<&String> = read.difference(&documented).collect();
    assert!(missing.is_empty(), "read by the code, not in docs/configuration.md: {missing:?}");
    let scripts: String = std::fs::read_dir(root().join("scripts"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
        .collect();
    let unknown: Vec<&String> =
        documented.iter().filter(|name| !read.contains(*name) && !scripts.contains(name.as_str())).collect();
    assert!(unknown.is_empty(), "documented, but read by neither the code nor the scripts: {unknown:?}");
}

/// The application's metrics (EMF, namespace GrowStack) are published once, per stack
/// (`Service`): every alarm on one names this stack's `Service`, and every dashboard search
/// over them filters by it, so that two stacks in one account never mix.
#[test]
fn alarms_and_the_dashboard_read_this_stacks_metrics_only() {
    let template = template();
    let mut checked = 0;
    for (id, r) in template["Resources"].as_mapping().unwrap() {
        if r["Type"].as_str() != Some("AWS::CloudWatch::Alarm")
            || r["Properties"]["Namespace"].as_str() != Some("GrowStack")
        {
            continue;
        }
        let service = r["Properties"]["Dimensions"]
            .as_sequence()
            .into_iter()
            .flatten()
            .find(|d| d["Name"].as_str() == Some("Service"))
            .unwrap_or_else(|| panic!("{id:?} watches GrowStack metrics without a Service dimension"));
        assert_eq!(target(&service["Value"]).as_deref(), Some("AWS::StackName"), "{id:?}");
        checked += 1;
    }
    assert!(checked >= 3, "the outbox, export-lag and heartbeat alarms");
    let body = match &template["Resources"]["Dashboard"]["Properties"]["DashboardBody"] {
        // `!Sub [body, {names}]` or `!Sub body`.
        Value::Tagged(tagged) => match &tagged.value {
            Value::Sequence(parts) => parts[0].as_str().unwrap().to_owned(),
            body => body.as_str().unwrap().to_owned(),
        },
        other => other.as_str().unwrap().to_owned(),
    };
    let searches: Vec<&str> = body.split("SEARCH('{GrowStack").skip(1).collect();
    assert!(searches.len() >= 5);
    for search in searches {
        let expression = search.split("',").next().unwrap();
        assert!(expression.starts_with(",Service,"), "a search without Service in its schema: {expression}");
        assert!(expression.contains("Service=\\\"${AWS::StackName}\\\""), "not filtered to this stack: {expression}");
    }
}

/// Every `!Sub [text, {names}]` in `value`, as (text, names).
fn subs(value: &Value, out: &mut Vec<(String, serde_yaml_ng::Mapping)>) {
    match value {
        Value::Tagged(tagged) => {
            if let Value::Sequence(parts) = &tagged.value {
                if let (Some(Value::String(text)), Some(Value::Mapping(names))) = (parts.first(), parts.get(1)) {
                    out.push((text.clone(), names.clone()));
                }
            }
            subs(&tagged.value, out);
        }
        Value::Mapping(map) => map.values().for_each(|v| subs(v, out)),
        Value::Sequence(items) => items.iter().for_each(|v| subs(v, out)),
        _ => {}
    }
}

/// The EC2 variant's server reads the same secrets as the functions — the tokens' keys (so a
/// token from either side works on both) and the DML-only database login — through the data
/// stack's exports, and has no key of its own: each variable its boot script writes names
/// the secret the functions' Globals name.
#[test]
fn the_ec2_variant_uses_the_functions_keys_and_login() {
    let ec2: Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(root().join("deploy/ec2.yaml")).unwrap()).unwrap();
    let data = template();
    let mut found = Vec::new();
    subs(&ec2["Resources"], &mut found);
    let (script, names) =
        found.into_iter().find(|(text, _)| text.contains("put TOKEN_SIGNING_KEY_ID")).expect("the boot script");
    assert!(!script.contains("JWT_ACCESS_SECRET") && !script.contains("JWT_REFRESH_SECRET"), "keys of its own");
    let globals = &data["Globals"]["Function"]["Environment"]["Variables"];
    for variable in ["TOKEN_SIGNING_KEY_ID", "TOKEN_PUBLIC_KEYS_ID", "LINK_KEY_ID", "DATABASE_SECRET_ID"] {
        let functions_secret = target(&globals[variable]).unwrap_or_else(|| panic!("Globals' {variable}"));
        let line = script
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("put {variable} ")))
            .unwrap_or_else(|| panic!("the boot script does not set {variable}"));
        let name = line.split("\"${").nth(1).and_then(|s| s.split('}').next()).expect("put VAR \"${Name}\"");
        let import = names
            .get(name)
            .and_then(|v| v.get("Fn::ImportValue"))
            .and_then(|v| match v {
                Value::Tagged(t) => t.value.as_str().map(str::to_owned),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{name} is not an import of the data stack"));
        let export = import.strip_prefix("${DataStackName}-").expect("an export of the data stack");
        let output = data["Outputs"]
            .as_mapping()
            .unwrap()
            .values()
            .find(|o| matches!(&o["Export"]["Name"], Value::Tagged(t) if t.value.as_str() == Some(&format!("${{AWS::StackName}}-{export}"))))
            .unwrap_or_else(|| panic!("template.yaml exports no {export}"));
        assert_eq!(
            target(&output["Value"]),
            Some(functions_secret.clone()),
            "{variable}: the functions' {functions_secret}"
        );
    }
}

/// The functions' schedules and `Task::period` agree: a server's or a function's claim of a
/// tick asks for the period the schedules run at.
#[test]
fn each_schedule_runs_its_task_at_the_period_the_claims_use() {
    let template = template();
    let events = template["Resources"]["SchedulerFunction"]["Properties"]["Events"].as_mapping().unwrap();
    let mut scheduled = BTreeSet::new();
    for (name, event) in events {
        let properties = &event["Properties"];
        let input: serde_json::Value = serde_json::from_str(properties["Input"].as_str().unwrap()).unwrap();
        let tasks = growstack::scheduler::Task::from_event(&input).unwrap();
        let [task] = tasks[..] else { panic!("{name:?} runs {} tasks", tasks.len()) };
        let expression = properties["Schedule"].as_str().unwrap();
        let seconds = if let Some(rate) = expression.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
            let (n, unit) = rate.split_once(' ').unwrap();
            let n: u64 = n.parse().unwrap();
            n * match unit.trim_end_matches('s') {
                "minute" => 60,
                "hour" => 3600,
                "day" => 86_400,
                other => panic!("{other}"),
            }
        } else {
            // cron(M H * * ? *): once a day.
            let fields: Vec<&str> = expression.trim_start_matches("cron(").trim_end_matches(')').split(' ').collect();
            assert!(fields[0].parse::<u32>().is_ok() && fields[1].parse::<u32>().is_ok(), "{expression}");
            assert_eq!(fields[2..], ["*", "*", "?", "*"], "{expression}");
            86_400
        };
        assert_eq!(task.period().as_secs(), seconds, "{name:?}: {expression}");
        scheduled.insert(task.name());
    }
    let all: BTreeSet<_> = growstack::scheduler::Task::ALL.iter().map(|t| t.name()).collect();
    assert_eq!(scheduled, all, "every task has a schedule");
}

/// Exactly one side consumes the queues: the functions' event source mappings are enabled
/// when `QueueConsumers` is "functions", and the EC2 servers consume when it is "ec2".
#[test]
fn one_side_consumes_the_queues() {
    let data = template();
    let tagged = |v: &Value| serde_yaml_ng::to_string(v).unwrap();
    // Every function an SQS queue triggers.
    let mut consumers = 0;
    for (function, resource) in data["Resources"].as_mapping().unwrap() {
        let Some(events) = resource["Properties"]["Events"].as_mapping() else { continue };
        for event in events.values().filter(|e| e["Type"].as_str() == Some("SQS")) {
            let enabled = &event["Properties"]["Enabled"];
            assert_eq!(tagged(enabled).trim(), "!If\n- FunctionsConsumeQueues\n- true\n- false", "{function:?}");
            consumers += 1;
        }
    }
    assert_eq!(consumers, 3, "the email, notification and webhook workers");
    assert_eq!(
        tagged(&data["Conditions"]["FunctionsConsumeQueues"]).trim(),
        "!Equals\n- !Ref QueueConsumers\n- functions"
    );
    let export = &data["Outputs"]["QueueConsumers"];
    assert_eq!(tagged(&export["Value"]).trim(), "!Ref QueueConsumers");
    let ec2: Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(root().join("deploy/ec2.yaml")).unwrap()).unwrap();
    let mut found = Vec::new();
    subs(&ec2["Resources"], &mut found);
    let (script, names) = found.into_iter().find(|(text, _)| text.contains("put CONSUME_QUEUES")).expect("boot script");
    assert!(script.contains(
        r#"if [ "${QueueConsumers}" = ec2 ]; then put CONSUME_QUEUES true; else put CONSUME_QUEUES false; fi"#
    ));
    assert_eq!(
        tagged(names.get("QueueConsumers").unwrap()).trim(),
        "Fn::ImportValue: !Sub ${DataStackName}-QueueConsumers"
    );
}

/// `Profile=small` leaves out the proxy, the reader and the replica, and the functions then
/// reach Aurora itself with the RDS CA from the layer (cfn-lint, in the test command, checks
/// that nothing else refers to what a profile leaves out).
#[test]
fn the_small_profile_reaches_aurora_directly_with_the_rds_ca() {
    let data = template();
    let yaml = |v: &Value| serde_yaml_ng::to_string(v).unwrap().trim().to_owned();
    let resources = data["Resources"].as_mapping().unwrap();
    let production_only: BTreeSet<&str> = resources
        .iter()
        .filter(|(_, r)| r["Condition"].as_str() == Some("Production"))
        .map(|(name, _)| name.as_str().unwrap())
        .collect();
    for name in [
        "DatabaseProxy",
        "DatabaseProxyTargetGroup",
        "DatabaseProxyReadOnlyEndpoint",
        "ProxyRole",
        "ProxySecurityGroup",
        "DatabaseReaderInstance",
    ] {
        assert!(production_only.contains(name), "{name} is not production-only");
    }
    // Every alarm on the proxy's metrics goes with it.
    for (name, resource) in resources {
        if resource["Type"].as_str() == Some("AWS::CloudWatch::Alarm") && yaml(resource).contains("ProxyName") {
            assert_eq!(resource["Condition"].as_str(), Some("Production"), "{name:?}");
        }
    }
    let writer = &data["Resources"]["DatabaseWriterInstance"]["Properties"];
    assert_eq!(yaml(&writer["DBInstanceClass"]), "!If\n- Small\n- db.serverless\n- !Ref DatabaseInstanceClass");
    let scaling = yaml(&data["Resources"]["DatabaseCluster"]["Properties"]["ServerlessV2ScalingConfiguration"]);
    assert!(scaling.starts_with("!If\n- Small\n- MinCapacity: 0.5"), "{scaling}");
    let redis = &data["Resources"]["RedisReplicationGroup"]["Properties"];
    assert_eq!(yaml(&redis["NumCacheClusters"]), "!If\n- Small\n- 1\n- 2");
    assert_eq!(yaml(&redis["AutomaticFailoverEnabled"]), "!If\n- Small\n- false\n- true");

    // The functions: the cluster's endpoint with verified TLS, and the CA file where the
    // layer puts it.
    let globals = &data["Globals"]["Function"];
    let variables = &globals["Environment"]["Variables"];
    let url = yaml(&variables["DATABASE_URL"]);
    assert!(url.contains("${DatabaseCluster.Endpoint.Address}:5432/growstack?sslmode=require"), "{url}");
    let ca_file = yaml(&variables["DATABASE_CA_FILE"]);
    let ca_path = ca_file.rsplit("- ").next().unwrap().to_owned();
    assert_eq!(ca_file, format!("!If\n- Production\n- !Ref AWS::NoValue\n- {ca_path}"));
    assert_eq!(yaml(&globals["Layers"]), "!If\n- Small\n- - !Ref RdsCaBundleLayer\n- !Ref AWS::NoValue");
    let layer = &data["Resources"]["RdsCaBundleLayer"];
    assert_eq!(layer["Condition"].as_str(), Some("Small"));
    let content = layer["Properties"]["ContentUri"].as_str().unwrap();
    // Lambda extracts a layer under /opt; scripts/rds_ca.sh writes the file the path names.
    let in_layer = ca_path.strip_prefix("/opt/").expect("a path in a layer");
    let script = std::fs::read_to_string(root().join("scripts/rds_ca.sh")).unwrap();
    assert!(script.contains(&format!("DEST=\"$ROOT/{content}/{in_layer}\"")), "rds_ca.sh writes {content}/{in_layer}");
    assert!(root().join(content).is_dir());
    // The migrations wait for the proxy's targets or, without them, the writer.
    assert_eq!(
        yaml(&data["Resources"]["DatabaseReady"]["Metadata"]["Target"]),
        "!If\n- Production\n- !Ref DatabaseProxyTargetGroup\n- !Ref DatabaseWriterInstance"
    );
    assert!(yaml(&data["Resources"]["RunMigrations"]["DependsOn"]).contains("DatabaseReady"));
}

/// The logs RDS writes go to groups the template makes, with a retention: RDS would make
/// ones that never expire. The names are what RDS writes to.
#[test]
fn the_databases_logs_expire() {
    let data = template();
    let yaml = |v: &Value| serde_yaml_ng::to_string(v).unwrap().trim().to_owned();
    let cluster = &data["Resources"]["DatabaseLogGroup"]["Properties"];
    assert_eq!(yaml(&cluster["LogGroupName"]), "!Sub /aws/rds/cluster/${DatabaseCluster}/postgresql");
    assert_eq!(yaml(&cluster["RetentionInDays"]), "!Ref LogRetentionInDays");
    assert_eq!(data["Resources"]["DatabaseWriterInstance"]["DependsOn"].as_str(), Some("DatabaseLogGroup"));
    let exported = yaml(&data["Resources"]["DatabaseCluster"]["Properties"]["EnableCloudwatchLogsExports"]);
    assert_eq!(exported, "- postgresql");
    let proxy = &data["Resources"]["DatabaseProxyLogGroup"]["Properties"];
    let name = yaml(&data["Resources"]["DatabaseProxy"]["Properties"]["DBProxyName"]);
    let name = name.strip_prefix("!Sub ").unwrap();
    assert_eq!(yaml(&proxy["LogGroupName"]), format!("!Sub /aws/rds/proxy/{name}"));
    assert_eq!(yaml(&proxy["RetentionInDays"]), "!Ref LogRetentionInDays");
    assert_eq!(data["Resources"]["DatabaseProxy"]["DependsOn"].as_str(), Some("DatabaseProxyLogGroup"));
}

/// The EC2 variant's servers publish their metrics under the serverless stack's `Service`,
/// with the functions' namespace, so one service's alarms (the scheduler's heartbeat counts
/// runs from whichever side claims a tick) and searches see both runtimes.
#[test]
fn the_ec2_variant_publishes_under_the_data_stacks_service() {
    let ec2_text = std::fs::read_to_string(root().join("deploy/ec2.yaml")).unwrap();
    let ec2: Value = serde_yaml_ng::from_str(&ec2_text).unwrap();
    let mut found = Vec::new();
    subs(&ec2["Resources"], &mut found);
    let (script, _) = found.into_iter().find(|(text, _)| text.contains("put METRICS_EMF true")).expect("boot script");
    assert!(script.contains(r#"put METRICS_SERVICE "${DataStackName}""#));
    // The namespace is the functions' (the server's default is the same).
    let data = template();
    let namespace = &data["Globals"]["Function"]["Environment"]["Variables"]["METRICS_NAMESPACE"];
    assert_eq!(namespace.as_str(), Some("GrowStack"));
    assert!(!script.contains("METRICS_NAMESPACE"), "the server's default namespace, GrowStack");
    let searches: Vec<&str> = ec2_text.split("SEARCH('{GrowStack").skip(1).collect();
    assert!(!searches.is_empty());
    for search in searches {
        let expression = search.split("',").next().unwrap();
        assert!(expression.starts_with(",Service,"), "{expression}");
        assert!(expression.contains("Service=\\\"${DataStackName}\\\""), "{expression}");
    }
}
