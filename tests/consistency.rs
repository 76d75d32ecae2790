//! The router, the binaries in functions/, template.yaml and events/ describe the same set
//! of functions: every route has exactly one function, one binary and one event.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use growstack::app::ENDPOINTS;
use serde_yaml_ng::Value;

/// Functions that serve no HTTP route.
const NON_HTTP: &[&str] = &["migrate", "email-worker", "notification-worker", "scheduler"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn template() -> Value {
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

/// A function in template.yaml: logical id, binary, and its HttpApi (method, path) routes.
type TemplateFunction = (String, String, Vec<(String, String)>);

fn template_functions() -> Vec<TemplateFunction> {
    let template = template();
    let resources = template["Resources"].as_mapping().unwrap();
    resources
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(id, r)| {
            let binary =
                r["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap_or_else(|| panic!("{id:?} has no Binary"));
            let routes = r["Properties"]["Events"]
                .as_mapping()
                .map(|events| {
                    events
                        .values()
                        .filter(|e| e["Type"].as_str() == Some("HttpApi"))
                        .map(|e| {
                            let p = &e["Properties"];
                            (p["Method"].as_str().unwrap().to_uppercase(), p["Path"].as_str().unwrap().to_owned())
                        })
                        .collect()
                })
                .unwrap_or_default();
            (id.as_str().unwrap().to_owned(), binary.to_owned(), routes)
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
        assert_eq!(
            matching[0].2,
            vec![(endpoint.method.to_string(), endpoint.path.to_owned())],
            "{}: template route differs from the router",
            endpoint.function
        );
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
    let routed: BTreeSet<&str> = ENDPOINTS.iter().map(|e| e.function).chain(NON_HTTP.iter().copied()).collect();
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
