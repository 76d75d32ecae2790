//! Everything that restates the endpoint declarations ([`ENDPOINTS`], [`BACKGROUND`]),
//! written from them: in template.yaml the API's routes and route throttling, each HTTP
//! function with its one invoke permission and a role per distinct set of uses, and the
//! Errors/Throttles alarms per domain; each HTTP function's `main`; the skeleton of each
//! `events/` payload; the endpoint table in docs/api.md. `growstack generate` (run by
//! scripts/generate.sh) writes them; tests/it/consistency.rs fails when a committed file differs.
//!
//! The hand-written parts of the template (network, data tier, queues, the background
//! functions and their triggers, alarms that are not per function) stay where they are:
//! only the text between a `BEGIN GENERATED <name>` and its `END GENERATED <name>` line is
//! replaced.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::Path;

use serde_json::{json, Value};

use crate::app::ENDPOINTS;
use crate::endpoint::{v1_path, Endpoint, Tier};
use crate::uses::{Resource, BACKGROUND};

/// A file the generator writes, relative to the repository's root.
pub struct Output {
    pub path: String,
    pub text: String,
}

/// Every generated file, its text as the declarations make it now. `root` is read for the
/// hand-written parts around the generated ones (template.yaml, docs/api.md) and for the
/// sample inputs of existing event payloads.
pub fn outputs(root: &Path) -> anyhow::Result<Vec<Output>> {
    let read = |path: &str| std::fs::read_to_string(root.join(path));
    let mut template = read("template.yaml")?;
    template = replace_region(&template, "routes", &routes())?;
    template = replace_region(&template, "functions", &functions())?;
    template = replace_region(&template, "alarms", &alarms())?;
    let mut outputs = vec![Output { path: "template.yaml".into(), text: template }];
    let api = read("docs/api.md")?;
    outputs.push(Output { path: "docs/api.md".into(), text: replace_region(&api, "endpoints", &endpoint_table())? });
    for endpoint in ENDPOINTS {
        outputs.push(Output { path: format!("functions/src/bin/{}.rs", endpoint.function), text: main_of(endpoint) });
        let path = format!("events/{}.json", endpoint.function);
        let existing = read(&path).ok().and_then(|text| serde_json::from_str(&text).ok());
        outputs.push(Output { path, text: event_of(endpoint, existing.as_ref()) });
    }
    Ok(outputs)
}

/// Writes every output that differs from the file on disk; returns the paths written.
pub fn write(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut written = Vec::new();
    for output in outputs(root)? {
        let path = root.join(&output.path);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(output.text.as_str()) {
            std::fs::write(&path, &output.text)?;
            written.push(output.path);
        }
    }
    Ok(written)
}

/// `text` with the lines between its `BEGIN GENERATED name` and `END GENERATED name` marker
/// lines replaced by `generated`.
fn replace_region(text: &str, name: &str, generated: &str) -> anyhow::Result<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let find = |word: &str| {
        lines
            .iter()
            .position(|line| {
                let words: Vec<&str> = line.split_whitespace().map(|w| w.trim_end_matches(':')).collect();
                words.windows(3).any(|w| w == [word, "GENERATED", name])
            })
            .ok_or_else(|| anyhow::anyhow!("no `{word} GENERATED {name}` line"))
    };
    let (from, to) = (find("BEGIN")?, find("END")?);
    anyhow::ensure!(from < to, "`END GENERATED {name}` comes before its BEGIN");
    let mut out: String = lines[..=from].concat();
    out.push_str(generated);
    out.push_str(&lines[to..].concat());
    Ok(out)
}

/// `auth-register` → `AuthRegister`: the stem of a function's logical ids.
pub fn pascal(function: &str) -> String {
    function
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

/// `auth-register` → `authRegister`: a metric id in an alarm's math.
fn camel(function: &str) -> String {
    let pascal = pascal(function);
    let mut chars = pascal.chars();
    chars.next().map(|c| c.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// The logical id of a function in template.yaml.
pub fn function_id(function: &str) -> String {
    format!("{}Function", pascal(function))
}

/// Each route as API Gateway sees it: (method, path), the `/api/v1` twin included.
fn mounts(endpoint: &Endpoint) -> Vec<(String, String)> {
    let method = endpoint.method.to_string();
    std::iter::once(endpoint.path.to_owned()).chain(v1_path(endpoint.path)).map(|path| (method.clone(), path)).collect()
}

/// The API's routes (an OpenAPI body whose every operation is a Lambda proxy integration)
/// and the tighter throttling of the password routes, on both mounts.
fn routes() -> String {
    let mut out = String::new();
    out.push_str("      # Tighter on the routes that hash a password (Tier::PasswordHashing): each costs a\n");
    out.push_str("      # core for tens of milliseconds, and a flood should meet API Gateway before Lambda.\n");
    out.push_str("      RouteSettings:\n");
    for endpoint in ENDPOINTS.iter().filter(|e| e.tier == Tier::PasswordHashing) {
        for (method, path) in mounts(endpoint) {
            let _ = writeln!(out, "        \"{method} {path}\":");
            out.push_str("          ThrottlingBurstLimit: !Ref AuthThrottlingBurstLimit\n");
            out.push_str("          ThrottlingRateLimit: !Ref AuthThrottlingRateLimit\n");
        }
    }
    out.push_str("      # The routes, written here rather than as each function's HttpApi events, for which\n");
    out.push_str("      # SAM would add one invoke permission per route (two per function); each function\n");
    out.push_str("      # has one, below, covering both mounts. Each function's integration is written\n");
    out.push_str("      # once (&anchor) and its /api/v1 twin refers to it.\n");
    out.push_str("      DefinitionBody:\n");
    out.push_str("        openapi: \"3.0.1\"\n");
    out.push_str("        info:\n          title: !Ref AWS::StackName\n          version: \"1.0\"\n");
    out.push_str("        paths:\n");
    // Paths in first-declared order, each with its methods.
    let mut paths: Vec<(String, Vec<(String, &Endpoint)>)> = Vec::new();
    for endpoint in ENDPOINTS {
        for (method, path) in mounts(endpoint) {
            match paths.iter_mut().find(|(p, _)| *p == path) {
                Some((_, methods)) => methods.push((method, endpoint)),
                None => paths.push((path, vec![(method, endpoint)])),
            }
        }
    }
    let mut anchored = BTreeSet::new();
    for (path, methods) in &paths {
        let _ = writeln!(out, "          {path}:");
        for (method, endpoint) in methods {
            let method = method.to_lowercase();
            let anchor = pascal(endpoint.function);
            if anchored.insert(endpoint.function) {
                let _ = writeln!(out, "            {method}: &{anchor}");
                out.push_str("              x-amazon-apigateway-integration:\n");
                out.push_str("                type: aws_proxy\n                httpMethod: POST\n");
                out.push_str("                payloadFormatVersion: \"2.0\"\n");
                let _ = writeln!(
                    out,
                    "                uri: !Sub arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/${{{}.Arn}}/invocations",
                    function_id(endpoint.function)
                );
                out.push_str("              responses: {}\n");
            } else {
                let _ = writeln!(out, "            {method}: *{anchor}");
            }
        }
    }
    out
}

/// What a role grants for one use: a comment, the actions, and the resource (YAML).
fn grant(resource: Resource) -> (&'static str, String, String) {
    let secret = |comment, id: &str| (comment, "secretsmanager:GetSecretValue".to_owned(), format!("!Ref {id}"));
    match resource {
        Resource::EmailQueue => ("the email queue", "sqs:SendMessage".into(), "!GetAtt EmailQueue.Arn".into()),
        Resource::NotificationQueue => {
            ("the notification queue", "sqs:SendMessage".into(), "!GetAtt NotificationQueue.Arn".into())
        }
        Resource::WebhookQueue => ("the webhook queue", "sqs:SendMessage".into(), "!GetAtt WebhookQueue.Arn".into()),
        Resource::IdempotencyTable => (
            "idempotency records: the three calls shared/src/idempotency.rs makes",
            format!("[{}]", crate::idempotency::DYNAMODB_ACTIONS.join(", ")),
            "!GetAtt IdempotencyTable.Arn".into(),
        ),
        Resource::SesSend => (
            "mail from the sender's identity through the stack's configuration set only",
            "ses:SendEmail".into(),
            "\n                  - !Sub arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${EmailFrom}\n                  - !If [HasEmailDomain, !Sub \"arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${EmailDomain}\", !Ref AWS::NoValue]\n                  - !Sub arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:configuration-set/${EmailConfigurationSet}".into(),
        ),
        Resource::EventsStream => (
            "the events delivery stream",
            "[firehose:PutRecord, firehose:PutRecordBatch]".into(),
            "!GetAtt EventsDeliveryStream.Arn".into(),
        ),
        Resource::ErasureList => (
            "the archive's erasure list, which the Athena view applies",
            "s3:PutObject".into(),
            "!Sub ${EventsArchiveBucket.Arn}/erasures/*".into(),
        ),
        Resource::EventsArchive => (
            "the archive's events, rewritten without erased accounts (and the versions replaced)",
            format!("[{}]", crate::privacy::ARCHIVE_ACTIONS.join(", ")),
            "\n                  - !GetAtt EventsArchiveBucket.Arn\n                  - !Sub ${EventsArchiveBucket.Arn}/events/*".into(),
        ),
        Resource::ExportsWrite => (
            "people's full exports",
            "s3:PutObject".into(),
            "!Sub ${ExportsBucket.Arn}/exports/*".into(),
        ),
        Resource::ExportsRead => (
            "people's full exports: the presigned downloads",
            "s3:GetObject".into(),
            "!Sub ${ExportsBucket.Arn}/exports/*".into(),
        ),
        Resource::TokenSigningKey => secret("the tokens' private keys: it signs people in", "TokenSigningKeySecret"),
        Resource::TokenPublicKeys => secret("the tokens' public keys", "TokenPublicKeysSecret"),
        Resource::TokenPublicKeysWrite => (
            "it lists its signing keys' public halves",
            "secretsmanager:PutSecretValue".into(),
            "!Ref TokenPublicKeysSecret".into(),
        ),
        Resource::LinkKey => secret("the key of the links we mail", "JwtKeysSecret"),
        Resource::DatabaseSecret => secret("the database login", "AppDatabaseSecret"),
        Resource::MasterDatabaseSecret => secret("the master credentials, for DDL", "DatabaseSecret"),
        Resource::RedisSecret => secret("the Redis AUTH token", "RedisAuthSecret"),
        Resource::KycSecret => secret("the secret the KYC provider signs with", "KycWebhookSecretValue"),
    }
}

/// The environment a use needs beyond Globals': where to find what it names.
fn environment(resource: Resource) -> Option<(&'static str, &'static str)> {
    match resource {
        Resource::KycSecret => Some(("KYC_WEBHOOK_SECRET_ID", "!Ref KycWebhookSecretValue")),
        Resource::SesSend => Some(("SES_MAX_SEND_RATE", "!Ref SesMaxSendRate")),
        Resource::EventsStream => Some(("EVENTS_FIREHOSE_STREAM", "!Ref EventsDeliveryStream")),
        Resource::ErasureList | Resource::EventsArchive => Some(("EVENTS_ARCHIVE_BUCKET", "!Ref EventsArchiveBucket")),
        Resource::ExportsWrite | Resource::ExportsRead => Some(("EXPORTS_BUCKET", "!Ref ExportsBucket")),
        _ => None,
    }
}

/// A short name per use, for the logical id of the role a set of uses makes.
fn label(resource: Resource) -> &'static str {
    match resource {
        Resource::EmailQueue => "EmailQueue",
        Resource::NotificationQueue => "NotificationQueue",
        Resource::WebhookQueue => "WebhookQueue",
        Resource::IdempotencyTable => "Idempotency",
        Resource::SesSend => "Ses",
        Resource::EventsStream => "EventsStream",
        Resource::ErasureList => "ErasureList",
        Resource::EventsArchive => "EventsArchive",
        Resource::ExportsWrite => "ExportsWrite",
        Resource::ExportsRead => "ExportsRead",
        Resource::TokenSigningKey => "TokenSigning",
        Resource::TokenPublicKeys => "TokenKeys",
        Resource::TokenPublicKeysWrite => "TokenKeysWrite",
        Resource::LinkKey => "LinkKey",
        Resource::DatabaseSecret => "Database",
        Resource::MasterDatabaseSecret => "MasterDatabase",
        Resource::RedisSecret => "Redis",
        Resource::KycSecret => "Kyc",
    }
}

/// The logical id of the role shared by the functions that use exactly `uses`.
pub fn role_id(uses: &BTreeSet<Resource>) -> String {
    let labels: String = uses.iter().map(|r| label(*r)).collect();
    format!("Uses{labels}Role")
}

/// The HTTP functions: a role per distinct set of uses (so least privilege holds with far
/// fewer roles than functions), then each function and its one invoke permission.
fn functions() -> String {
    let mut out = String::new();
    let mut roles: BTreeMap<String, BTreeSet<Resource>> = BTreeMap::new();
    for endpoint in ENDPOINTS {
        let uses: BTreeSet<Resource> = endpoint.uses.iter().copied().collect();
        roles.insert(role_id(&uses), uses);
    }
    out.push_str("  # A role per distinct set of uses (shared/src/uses.rs), shared by the HTTP functions\n");
    out.push_str("  # declaring exactly that set: each grants what its functions' code uses, nothing more.\n");
    for (id, uses) in &roles {
        let _ = writeln!(out, "  {id}:");
        out.push_str("    Type: AWS::IAM::Role\n    Properties:\n");
        out.push_str("      AssumeRolePolicyDocument:\n        Version: \"2012-10-17\"\n        Statement:\n");
        out.push_str("          - Effect: Allow\n            Principal: {Service: lambda.amazonaws.com}\n            Action: sts:AssumeRole\n");
        out.push_str("      # Logs and the VPC's network interfaces (as SAM gives its functions), and X-Ray.\n");
        out.push_str("      ManagedPolicyArns:\n");
        out.push_str(
            "        - !Sub arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole\n",
        );
        out.push_str("        - !Sub arn:${AWS::Partition}:iam::aws:policy/AWSXrayWriteOnlyAccess\n");
        out.push_str("      Policies:\n        - PolicyName: uses\n          PolicyDocument:\n");
        out.push_str("            Version: \"2012-10-17\"\n            Statement:\n");
        for resource in uses {
            let (comment, action, target) = grant(*resource);
            let _ = writeln!(out, "              - Effect: Allow # {comment}");
            let _ = writeln!(out, "                Action: {action}");
            let _ = writeln!(out, "                Resource: {target}");
        }
        out.push('\n');
    }
    for (i, endpoint) in ENDPOINTS.iter().enumerate() {
        let id = function_id(endpoint.function);
        let uses: BTreeSet<Resource> = endpoint.uses.iter().copied().collect();
        let routes: Vec<String> = mounts(endpoint).iter().map(|(m, p)| format!("{m} {p}")).collect();
        let _ = writeln!(out, "  {id}: # {}", routes.join(", "));
        out.push_str("    Type: AWS::Serverless::Function\n    DependsOn: RunMigrations\n    Metadata:\n");
        out.push_str("      BuildMethod: rust-cargolambda\n");
        let _ = writeln!(out, "      BuildProperties: {{Binary: {}}}", endpoint.function);
        if i == 0 {
            // checkov findings that do not apply, each with its reason, written once (&name)
            // and referred to (*name) by every other function, the hand-written ones too.
            out.push_str("      checkov:\n        skip:\n");
            out.push_str(CHECKOV_ANCHORS);
        } else if endpoint.tier == Tier::Standard {
            out.push_str("      checkov: {skip: [*sync_no_dlq, *api_bounds_concurrency, *env_default_key]}\n");
        } else {
            out.push_str("      checkov: {skip: [*sync_no_dlq, *env_default_key]}\n");
        }
        out.push_str("    Properties:\n      CodeUri: functions\n");
        let _ = writeln!(out, "      Role: !GetAtt {}.Arn", role_id(&uses));
        if endpoint.tier == Tier::PasswordHashing {
            out.push_str(
                "      MemorySize: 1024 # Tier::PasswordHashing: Argon2 needs the CPU share that comes with it\n",
            );
            out.push_str("      ReservedConcurrentExecutions: !If [ReserveAuthConcurrency, !Ref AuthReservedConcurrency, !Ref AWS::NoValue]\n");
        }
        let mut env: Vec<_> = uses.iter().filter_map(|r| environment(*r)).collect();
        env.dedup();
        if !env.is_empty() {
            out.push_str("      Environment:\n        Variables:\n");
            for (name, value) in env {
                let _ = writeln!(out, "          {name}: {value}");
            }
        }
        let pascal = pascal(endpoint.function);
        let _ = writeln!(out, "  {pascal}Permission: # API Gateway may invoke it, from its routes on both mounts");
        out.push_str("    Type: AWS::Lambda::Permission\n    Properties:\n      Action: lambda:InvokeFunction\n");
        let _ = writeln!(out, "      FunctionName: !Ref {id}");
        out.push_str("      Principal: apigateway.amazonaws.com\n");
        let _ = writeln!(
            out,
            "      SourceArn: !Sub arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{GrowStackApi}}/*/{}/{}",
            endpoint.method,
            source_path(endpoint.path)
        );
        out.push('\n');
    }
    out
}

/// The part of an execute-api ARN after the method that matches `path` and its `/api/v1`
/// twin: `/api/users/{id}` → `api/*users/*` (a path parameter is one `*`, and `api/*` also
/// matches `api/v1/`). Only the routes integrated with the function can invoke it anyway.
fn source_path(path: &str) -> String {
    let wildcards: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(|segment| if segment.starts_with('{') { "*".to_owned() } else { segment.to_owned() })
        .collect();
    let joined = wildcards.join("/");
    match joined.strip_prefix("api/") {
        Some(rest) if v1_path(path).is_some() => format!("api/*{rest}"),
        _ => joined,
    }
}

const CHECKOV_ANCHORS: &str = r#"          - &sync_no_dlq
            id: CKV_AWS_116
            comment: >-
              API Gateway invokes it synchronously and gets the error back (a 5xx to the
              client); a Lambda DLQ only ever receives failed asynchronous invocations.
          - &api_bounds_concurrency
            id: CKV_AWS_115
            comment: >-
              No reserved concurrency: the API's throttling (stage and route limits) bounds
              its invocations, and reserving some for each of ~50 functions would carve up
              the account's pool. Only the password-hashing functions reserve (and cap) theirs.
          - &env_default_key
            id: CKV_AWS_173
            comment: >-
              The environment (Globals) holds addresses and the names of secrets, never a
              credential (those are read from Secrets Manager at run time); Lambda encrypts it
              at rest with the AWS managed key (aws/lambda). A customer managed key would only
              narrow who may read it through the function's configuration, which IAM already
              limits to deployers and operators, and would make every cold start depend on one
              more key.
"#;

/// The functions' domains, each with the logical ids of its functions, in order: an HTTP
/// function belongs to the first part of its name (`admin-rewards-update` to rewards), the
/// background ones (and the migration runner, deploy glue) to Workers.
fn domains() -> Vec<(String, Vec<String>)> {
    let mut domains: Vec<(String, Vec<String>)> = Vec::new();
    for endpoint in ENDPOINTS {
        let name = endpoint.function.strip_prefix("admin-").unwrap_or(endpoint.function);
        let domain = pascal(name.split('-').next().unwrap_or(name));
        let id = endpoint.function.to_owned();
        match domains.iter_mut().find(|(d, _)| *d == domain) {
            Some((_, members)) => members.push(id),
            None => domains.push((domain, vec![id])),
        }
    }
    let mut workers: Vec<String> = BACKGROUND.iter().map(|b| b.function.to_owned()).collect();
    workers.push("migration-runner".to_owned());
    domains.push(("Workers".to_owned(), workers));
    domains
}

/// One Errors and one Throttles alarm per domain, each over every function of the domain.
fn alarms() -> String {
    let mut out = String::new();
    for (domain, functions) in domains() {
        let names = functions.join(", ");
        let which = if functions.len() == 1 {
            format!("The {names} function")
        } else {
            format!("One or more of the {} functions ({names})", domain.to_lowercase())
        };
        let first = if functions.len() == 1 {
            format!(
                "First: why - Logs Insights on ${{FunctionsLogGroup}}: filter @logStream like \\\"${{{}}}\\\" and (level = \\\"ERROR\\\" or record.status != \\\"success\\\" or @message like /panicked/)",
                function_id(&functions[0])
            )
        } else {
            "First: find which function and why - the dashboard's Function errors widget, then Logs Insights on ${FunctionsLogGroup}: filter level = \\\"ERROR\\\" or record.status != \\\"success\\\" or @message like /panicked/ | stats count() by @logStream".to_owned()
        };
        let errors = format!(
            "{which} had failed invocations (crash, timeout, failed init or a failed batch; not HTTP error responses) in 2 of the last 3 five-minute periods. {first} - and check whether a deploy just happened. Runbook: docs/operations.md#function-errors-and-throttles"
        );
        let throttles = format!(
            "Lambda refused invocations of {} for lack of concurrency (the dashboard's Function throttles widget shows which). First: compare ConcurrentExecutions with the account limit (aws lambda get-account-settings) and look for a traffic burst or a runaway caller; raise the quota or lower API throttling / SQS MaximumConcurrency. Runbook: docs/operations.md#function-errors-and-throttles",
            if functions.len() == 1 { format!("the {names} function") } else { format!("the {} functions ({names})", domain.to_lowercase()) }
        );
        // A metric math alarm reads at most 10 metrics (a hard CloudWatch limit): a domain
        // that outgrows that gets a second pair (Auth2ErrorsAlarm, ...).
        for (i, chunk) in functions.chunks(10).enumerate() {
            let name = if i == 0 { domain.clone() } else { format!("{domain}{}", i + 1) };
            let (errors, throttles) = (&errors, &throttles);
            let two_of_three = "      EvaluationPeriods: 3\n      DatapointsToAlarm: 2\n";
            alarm(&mut out, &name, "Errors", "Failed", errors, chunk, two_of_three);
            alarm(&mut out, &name, "Throttles", "Throttled", throttles, chunk, "      EvaluationPeriods: 1\n");
        }
    }
    out
}

fn alarm(
    out: &mut String,
    name: &str,
    metric: &str,
    label: &str,
    description: &str,
    functions: &[String],
    periods: &str,
) {
    let _ = writeln!(out, "  {name}{metric}Alarm:");
    out.push_str("    Type: AWS::CloudWatch::Alarm\n    Properties:\n");
    let _ = writeln!(out, "      AlarmName: !Sub ${{AWS::StackName}}-{name}{metric}Alarm");
    let _ = writeln!(out, "      AlarmDescription: !Sub \"{description}\"");
    out.push_str("      Metrics:\n");
    for function in functions {
        let _ = writeln!(out, "        - Id: {}", camel(function));
        out.push_str("          ReturnData: false\n          MetricStat:\n            Metric:\n");
        out.push_str("              Namespace: AWS/Lambda\n");
        let _ = writeln!(out, "              MetricName: {metric}");
        out.push_str("              Dimensions:\n                - Name: FunctionName\n");
        let _ = writeln!(out, "                  Value: !Ref {}", function_id(function));
        out.push_str("            Period: 300\n            Stat: Sum\n");
    }
    let ids: Vec<String> = functions.iter().map(|f| camel(f)).collect();
    out.push_str("        - Id: total\n");
    let _ = writeln!(out, "          Label: {label} invocations, all functions of the alarm");
    let _ = writeln!(out, "          Expression: SUM([{}])", ids.join(", "));
    out.push_str("          ReturnData: true\n");
    out.push_str(periods);
    out.push_str(
        "      ComparisonOperator: GreaterThanThreshold\n      Threshold: 0\n      TreatMissingData: notBreaching\n",
    );
    out.push_str("      AlarmActions: [!Ref AlarmTopic]\n      OKActions: [!Ref AlarmTopic]\n\n");
}

/// A function's entry point: its endpoint's route alone, found at compile time, so that no
/// other endpoint's code is in its binary.
fn main_of(endpoint: &Endpoint) -> String {
    format!(
        "//! Lambda function `{f}`: {m} {p}. Written by `growstack generate` from its declaration.\n\
         #[tokio::main]\n\
         async fn main() -> Result<(), growstack::lambda::Error> {{\n    \
         growstack::lambda::run_http(const {{ growstack::app::served(\"{f}\") }}).await\n\
         }}\n",
        f = endpoint.function,
        m = endpoint.method,
        p = endpoint.path
    )
}

/// An API Gateway (payload 2.0) event for `endpoint`: its route, path and method from the
/// declaration, around the sample inputs (query, path parameters, body, headers, ids) of the
/// payload committed before, kept as they are. A new endpoint gets placeholders to fill.
fn event_of(endpoint: &Endpoint, existing: Option<&Value>) -> String {
    let empty = json!({});
    let old = existing.unwrap_or(&empty);
    let route_key = format!("{} {}", endpoint.method, endpoint.path);
    let path_parameters: BTreeMap<String, String> = endpoint
        .path
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let value = old["pathParameters"][name]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("REPLACE_WITH_{}", name.to_uppercase()));
            (name.to_owned(), value)
        })
        .collect();
    let raw_path = path_parameters
        .iter()
        .fold(endpoint.path.to_owned(), |path, (name, value)| path.replace(&format!("{{{name}}}"), value));
    let mut headers = old["headers"].as_object().cloned().unwrap_or_else(|| {
        serde_json::from_value(json!({
            "accept": "application/json",
            "authorization": "Bearer REPLACE_WITH_ACCESS_TOKEN",
            "host": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
            "user-agent": "GrowStack/2.3.1 (Android 14; Pixel 8)",
            "x-amzn-trace-id": "Root=1-67878160-a1b2c3d4e5f6a7b8c9d0e1f2",
            "x-forwarded-for": "203.0.113.42",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https"
        }))
        .unwrap_or_default()
    });
    let body = old.get("body").cloned().filter(|b| !b.is_null());
    if body.is_some() {
        headers.entry("content-type").or_insert_with(|| json!("application/json"));
    }
    let user_agent = headers.get("user-agent").cloned().unwrap_or(json!(""));
    let old_context = &old["requestContext"];
    let context = json!({
        "accountId": "123456789012",
        "apiId": "a1b2c3d4e5",
        "domainName": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
        "domainPrefix": "a1b2c3d4e5",
        "http": {
            "method": endpoint.method.as_str(),
            "path": raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": old_context["http"]["sourceIp"].as_str().unwrap_or("203.0.113.42"),
            "userAgent": user_agent,
        },
        "requestId": old_context["requestId"].as_str().unwrap_or("Kd3fA1B2oAMEa1b="),
        "routeKey": route_key,
        "stage": "$default",
        "time": old_context["time"].as_str().unwrap_or("15/Jan/2025:09:30:00 +0000"),
        "timeEpoch": old_context["timeEpoch"].as_i64().unwrap_or(1736933400000),
    });
    let mut fields: Vec<(&str, Value)> = vec![
        ("version", json!("2.0")),
        ("routeKey", json!(route_key)),
        ("rawPath", json!(raw_path)),
        ("rawQueryString", json!(old["rawQueryString"].as_str().unwrap_or(""))),
        ("headers", Value::Object(headers)),
    ];
    if let Some(query) = old.get("queryStringParameters").filter(|q| !q.is_null()) {
        fields.push(("queryStringParameters", query.clone()));
    }
    fields.push(("requestContext", context));
    if !path_parameters.is_empty() {
        fields.push(("pathParameters", json!(path_parameters)));
    }
    if let Some(body) = body {
        fields.push(("body", body));
    }
    fields.push(("isBase64Encoded", json!(false)));
    let mut out = String::from("{\n");
    for (i, (key, value)) in fields.iter().enumerate() {
        let pretty = serde_json::to_string_pretty(value).unwrap_or_default().replace('\n', "\n  ");
        let comma = if i + 1 < fields.len() { "," } else { "" };
        let _ = writeln!(out, "  \"{key}\": {pretty}{comma}");
    }
    out.push_str("}\n");
    out
}

/// The endpoint table of docs/api.md: each route, its function, what it does and who may
/// call it, from the OpenAPI document (itself from the handlers' annotations).
fn endpoint_table() -> String {
    let document = serde_json::to_value(crate::app::openapi()).unwrap_or_default();
    let mut out = String::from("| route | function | what it does | who |\n|---|---|---|---|\n");
    for endpoint in ENDPOINTS {
        let operation = &document["paths"][endpoint.path][endpoint.method.as_str().to_lowercase()];
        let summary = operation["summary"]
            .as_str()
            .or_else(|| operation["description"].as_str())
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .replace('|', "\\|");
        let who = match operation["security"].as_array() {
            None => "anyone".to_owned(),
            Some(schemes) => {
                let roles: Vec<&str> = schemes
                    .iter()
                    .filter_map(|s| s.as_object())
                    .flat_map(|s| s.values())
                    .filter_map(Value::as_array)
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                if roles.is_empty() {
                    "any signed-in user".to_owned()
                } else {
                    roles.join(", ")
                }
            }
        };
        let _ =
            writeln!(out, "| `{} {}` | `{}` | {summary} | {who} |", endpoint.method, endpoint.path, endpoint.function);
    }
    out
}
