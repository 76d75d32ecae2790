//! The registry of endpoints: every route the API serves, in the order of its reference,
//! and the OpenAPI document written from their declarations.

use utoipa::openapi::OpenApi;

use crate::endpoint::{Endpoint, Served};
use crate::{
    analytics, apikeys, auth, email, events, experiments, health, kyc, notifications, onboarding, privacy, referrals,
    rewards, users, webhooks,
};

/// Every endpoint, in the order of the API reference.
pub const ENDPOINTS: &[Endpoint] = &[
    health::HEALTH,
    auth::REGISTER,
    auth::LOGIN,
    auth::REFRESH_TOKEN,
    auth::LOGOUT,
    auth::LOGOUT_ALL,
    auth::VERIFY_EMAIL,
    auth::RESEND_VERIFICATION,
    users::PROFILE_GET,
    users::PROFILE_UPDATE,
    users::PASSWORD,
    users::LIST,
    users::GET,
    users::BLOCK,
    users::ROLE,
    privacy::EXPORT,
    privacy::ADMIN_EXPORT,
    privacy::ERASE,
    privacy::ADMIN_ERASE,
    privacy::DOWNLOAD,
    notifications::LIST,
    notifications::MARK_READ,
    notifications::SEND,
    notifications::BATCH,
    notifications::INACTIVITY_NUDGE,
    notifications::KYC_REMINDER,
    email::UNSUBSCRIBE,
    email::UNSUBSCRIBE_PAGE,
    referrals::CODE,
    referrals::LINK,
    referrals::LIST,
    referrals::INVITE,
    referrals::CLAIM_REWARD,
    referrals::STATS,
    referrals::TREE,
    referrals::ADMIN_UPDATE,
    onboarding::STEP,
    onboarding::STATS,
    onboarding::TIME_STATS,
    kyc::WEBHOOK,
    rewards::ADMIN_LIST,
    rewards::ADMIN_UPDATE,
    apikeys::CREATE,
    apikeys::LIST,
    apikeys::REVOKE,
    webhooks::CREATE,
    webhooks::LIST,
    webhooks::UPDATE,
    webhooks::DELETE,
    webhooks::ROTATE,
    webhooks::DELIVERIES,
    webhooks::REDELIVER,
    webhooks::TEST,
    events::TRACK,
    events::BATCH,
    events::LIST,
    events::STATS,
    analytics::ONBOARDING,
    analytics::REFERRALS,
    analytics::EVENTS,
    analytics::NOTIFICATIONS,
    analytics::USERS,
    analytics::RETENTION,
    analytics::FUNNELS,
    experiments::CREATE,
    experiments::LIST,
    experiments::GET,
    experiments::UPDATE,
    experiments::ASSIGNMENT,
    experiments::RESULTS,
    experiments::POWER,
];

/// What serving the endpoint of `function` takes, looked up at compile time by a function's
/// `main` (`const { served("users-list") }`): the lookup leaves only that endpoint's route
/// in the binary. An unknown name fails the build.
pub const fn served(function: &str) -> Served {
    const fn same(a: &str, b: &str) -> bool {
        let (a, b) = (a.as_bytes(), b.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        let mut i = 0;
        while i < a.len() {
            if a[i] != b[i] {
                return false;
            }
            i += 1;
        }
        true
    }
    let mut i = 0;
    while i < ENDPOINTS.len() {
        if same(ENDPOINTS[i].function, function) {
            return ENDPOINTS[i].served();
        }
        i += 1;
    }
    panic!("no endpoint is served by a function of this name")
}

/// The OpenAPI document of every endpoint, from their declarations and annotations.
pub fn openapi() -> OpenApi {
    crate::openapi::document(ENDPOINTS.iter().map(|e| crate::openapi::Operated {
        function: e.function,
        method: &e.method,
        path: e.path,
        doc: e.doc,
        key_scope: e.key_scope.map(|s| s.as_str()),
    }))
}

/// The document as committed in `openapi.json`.
pub fn openapi_json() -> String {
    crate::openapi::to_json(&openapi())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::{method, Schemas};

    #[test]
    fn every_endpoint_is_described_at_its_own_path_and_method() {
        for endpoint in ENDPOINTS {
            let described = (endpoint.doc)(&mut Schemas::new());
            assert_eq!(described.path, endpoint.path, "{}", endpoint.function);
            assert!(described.methods == vec![method(&endpoint.method)], "{}", endpoint.function);
        }
    }

    #[test]
    fn every_operation_has_a_success_answer_and_the_errors_it_can_meet() {
        let api = openapi();
        for endpoint in ENDPOINTS {
            let item = &api.paths.paths[endpoint.path];
            let operation = match endpoint.method {
                axum::http::Method::POST => item.post.as_ref(),
                axum::http::Method::PUT => item.put.as_ref(),
                axum::http::Method::PATCH => item.patch.as_ref(),
                axum::http::Method::DELETE => item.delete.as_ref(),
                _ => item.get.as_ref(),
            }
            .expect("operation");
            let statuses: Vec<&String> = operation.responses.responses.keys().collect();
            assert!(statuses.iter().any(|s| s.starts_with('2') || s.starts_with('3')), "{}", endpoint.function);
            assert!(statuses.iter().any(|s| *s == "400") && statuses.iter().any(|s| *s == "500"));
        }
    }

    #[test]
    fn no_two_types_share_a_schema_name() {
        let mut schemas = Schemas::new();
        for endpoint in ENDPOINTS {
            (endpoint.doc)(&mut schemas);
        }
        let mut seen = std::collections::BTreeMap::new();
        for (name, schema) in schemas {
            let text = serde_json::to_string(&schema).unwrap();
            if let Some(earlier) = seen.insert(name.clone(), text.clone()) {
                assert_eq!(earlier, text, "two different schemas are named {name}");
            }
        }
    }

    #[test]
    fn every_reference_resolves() {
        fn refs(value: &serde_json::Value, out: &mut Vec<String>) {
            match value {
                serde_json::Value::Object(map) => {
                    if let Some(serde_json::Value::String(r)) = map.get("$ref") {
                        out.push(r.clone());
                    }
                    map.values().for_each(|v| refs(v, out));
                }
                serde_json::Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let document: serde_json::Value = serde_json::from_str(&openapi_json()).unwrap();
        let mut found = Vec::new();
        refs(&document, &mut found);
        for r in found {
            let pointer = r.strip_prefix('#').unwrap();
            assert!(document.pointer(pointer).is_some(), "{r} points nowhere");
        }
    }
}
