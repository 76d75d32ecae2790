//! The API described to machines: an OpenAPI 3.1 document built from each endpoint's own
//! `#[utoipa::path]` annotation and the types its handler takes and answers, so that it
//! cannot drift from the routes. What every operation shares (the error envelope and the
//! errors any request can meet, the bearer scheme, tags, operation ids) is added here, once.

use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Components, ContentBuilder, InfoBuilder, OpenApi, Ref, RefOr, ResponseBuilder};
use utoipa::{PartialSchema, ToSchema};

pub use crate::error::{ErrorBody, ErrorCode, ErrorDetail};

/// Where the document is served, and Swagger UI.
pub const DOCUMENT_PATH: &str = "/openapi.json";
pub const UI_PATH: &str = "/api-docs";

/// The schemas an annotation names, collected as the document is built.
pub type Schemas = Vec<(String, RefOr<Schema>)>;

/// What an endpoint's annotation says: its path, methods and operation.
pub struct Described {
    pub path: String,
    pub methods: Vec<HttpMethod>,
    pub operation: Operation,
}

/// An endpoint's description: `openapi::describe::<__path_handler>`, the struct that
/// `#[utoipa::path]` generates beside the handler.
pub type Describe = fn(&mut Schemas) -> Described;

pub fn describe<P: utoipa::Path + utoipa::__dev::SchemaReferences>(schemas: &mut Schemas) -> Described {
    P::schemas(schemas);
    Described { path: P::path(), methods: P::methods(), operation: P::operation() }
}

/// `{"success": true, "data": …}`: every success answer.
#[derive(ToSchema)]
pub struct Ok<T> {
    /// Always `true`.
    pub success: bool,
    pub data: T,
}

/// The errors any operation can meet, by what it has: every one can be malformed, fail or
/// find the database away; a secured one can be refused the caller, the role or a blocked
/// account; one with a body can be sent too much. What only some can meet (404, 409, 429)
/// their annotations say.
fn common_errors(operation: &Operation) -> Vec<&'static str> {
    let mut errors = vec!["400"];
    if roles(operation).is_some() {
        errors.extend(["401", "403"]);
    }
    if operation.request_body.is_some() {
        errors.push("413");
    }
    errors.extend(["500", "503"]);
    errors
}

/// The shared error responses, in `components.responses` under their status.
const COMMON_ERRORS: &[(&str, &str)] = &[
    ("400", "The request is malformed or breaks a rule; `error.details.field` names the field."),
    ("401", "No token, or one that is expired, forged or revoked."),
    ("403", "The caller's role may not do this, or their account is blocked."),
    ("413", "The body is over 64 KiB."),
    ("500", "A bug; logged with the request id."),
    ("503", "The database is unreachable; retry after `Retry-After` seconds."),
];

/// The roles an operation's bearer requirement names (`None`: no token needed; empty: any
/// signed-in user).
fn roles(operation: &Operation) -> Option<Vec<String>> {
    let security = operation.security.as_ref()?;
    let value = serde_json::to_value(security).ok()?;
    let roles = value.as_array()?.iter().filter_map(|r| r.get("bearer")).flat_map(|r| r.as_array().cloned()).flatten();
    Some(roles.filter_map(|r| r.as_str().map(str::to_owned)).collect())
}

/// The error envelope with the code an answer of `status` carries.
fn error_response(status: &str, description: &str) -> utoipa::openapi::Response {
    let code = match status {
        "400" | "413" => "VALIDATION_ERROR",
        "401" => "UNAUTHORIZED",
        "403" => "FORBIDDEN",
        "404" => "NOT_FOUND",
        "409" => "CONFLICT",
        "429" => "RATE_LIMITED",
        "503" => "SERVICE_UNAVAILABLE",
        _ => "INTERNAL_ERROR",
    };
    let object = utoipa::openapi::ObjectBuilder::new;
    let code = object().schema_type(utoipa::openapi::schema::Type::String).enum_values(Some([code]));
    let this_code = object().property("error", object().property("code", code));
    let schema = Schema::AllOf(
        utoipa::openapi::schema::AllOfBuilder::new().item(Ref::from_schema_name("Error")).item(this_code).build(),
    );
    let mut response = ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(schema)).build());
    if matches!(status, "429" | "503") {
        response = response.header(
            "Retry-After",
            utoipa::openapi::HeaderBuilder::new()
                .schema(Some(utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::schema::Type::Integer)))
                .description(Some("Seconds to wait before trying again."))
                .build(),
        );
    }
    response.build()
}

/// The operation of the endpoint that `function` serves at `path`, with what every operation
/// shares.
fn complete(function: &str, path: &str, key_scope: Option<&str>, mut operation: Operation) -> Operation {
    operation.operation_id = Some(function.to_owned());
    operation.tags = Some(vec![tag(path).to_owned()]);
    let mut lines = Vec::new();
    if let Some(roles) = roles(&operation).filter(|r| !r.is_empty()) {
        lines.push(format!("Roles: {}.", roles.join(", ")));
    }
    // The declaration's key scope, as a second way in: a requirement of its own (either one
    // will do).
    if let Some(scope) = key_scope {
        lines.push(format!("Or an API key with the `{scope}` scope."));
        operation.security.get_or_insert_with(Vec::new).push(SecurityRequirement::new("apiKey", [scope]));
    }
    if !lines.is_empty() {
        let line = lines.join(" ");
        operation.description = Some(match operation.description.take() {
            Some(d) => format!("{d}\n\n{line}"),
            None => line,
        });
    }
    let common = common_errors(&operation);
    let responses = &mut operation.responses.responses;
    // An annotation names a failure it can meet with only a description: its body is the
    // error envelope.
    for (status, response) in responses.iter_mut() {
        if let RefOr::T(response) = response {
            if status.starts_with(['4', '5']) && response.content.is_empty() {
                *response = error_response(status, &response.description);
            }
        }
    }
    for status in common {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| Ref::new(format!("#/components/responses/{status}")).into());
    }
    operation
}

/// `/api/admin/referrals/{id}` → `referrals`: the entity a path is about.
fn tag(path: &str) -> &str {
    let mut segments = path.split('/').filter(|s| !s.is_empty() && *s != "api" && *s != "admin" && *s != "v1");
    segments.next().unwrap_or("health")
}

/// An endpoint as the document describes it: the function serving it, its method and path,
/// and its description.
pub struct Operated<'a> {
    pub function: &'a str,
    pub method: &'a axum::http::Method,
    pub path: &'a str,
    pub doc: Describe,
    /// The scope an API key needs here, if keys are taken.
    pub key_scope: Option<&'a str>,
}

/// The whole document, of these endpoints (the registry's: `app::openapi`).
pub fn document<'a>(endpoints: impl IntoIterator<Item = Operated<'a>>) -> OpenApi {
    let mut schemas = Schemas::new();
    let mut paths = utoipa::openapi::Paths::new();
    for endpoint in endpoints {
        let described = (endpoint.doc)(&mut schemas);
        paths.add_path_operation(
            endpoint.path,
            vec![method(endpoint.method)],
            complete(endpoint.function, endpoint.path, endpoint.key_scope, described.operation),
        );
    }
    schemas.push(("Error".to_owned(), ErrorBody::schema()));
    <ErrorBody as ToSchema>::schemas(&mut schemas);
    let mut components = Components::new();
    components.schemas.extend(schemas);
    for (status, description) in COMMON_ERRORS {
        components.responses.insert((*status).to_owned(), error_response(status, description).into());
    }
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            Http::builder()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some(
                    "The access token from sign-up, sign-in or refresh. An operation's requirement \
                     lists the roles allowed; none listed means any signed-in user.",
                ))
                .build(),
        ),
    );
    components.add_security_scheme(
        "apiKey",
        SecurityScheme::Http(
            Http::builder()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("gs_…")
                .description(Some(
                    "An API key for the operator's servers (`POST /api/admin/api-keys`), sent as \
                     `Authorization: Bearer gs_…`. Accepted only on the operations that list this scheme, \
                     and only with the scope they name; refused (403) everywhere else.",
                ))
                .build(),
        ),
    );
    let mut api = OpenApi::new(
        InfoBuilder::new()
            .title("GrowStack")
            .version(env!("CARGO_PKG_VERSION"))
            .description(Some(
                "The growth backend: accounts, KYC onboarding, referrals and rewards, notifications, \
                 events, analytics and experiments. Every answer is an envelope: `{\"success\": true, \
                 \"data\": …}` or `{\"success\": false, \"error\": {\"code\", \"message\", \"details\"}}`. \
                 Every `/api/…` path is also served at `/api/v1/…`, as the Node version's clients call it.",
            ))
            .build(),
        paths,
    );
    api.components = Some(components);
    api
}

/// The document as committed in `openapi.json`: pretty, one trailing newline.
pub fn to_json(document: &OpenApi) -> String {
    let mut text = document.to_pretty_json().unwrap_or_default();
    text.push('\n');
    text
}

/// `/openapi.json` (`document`) and Swagger UI at `/api-docs`, from the UI's files embedded
/// in the binary.
pub fn router(document: OpenApi) -> axum::Router {
    utoipa_swagger_ui::SwaggerUi::new(UI_PATH).url(DOCUMENT_PATH, document).into()
}

pub fn method(method: &axum::http::Method) -> HttpMethod {
    match *method {
        axum::http::Method::POST => HttpMethod::Post,
        axum::http::Method::PUT => HttpMethod::Put,
        axum::http::Method::PATCH => HttpMethod::Patch,
        axum::http::Method::DELETE => HttpMethod::Delete,
        _ => HttpMethod::Get,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_name_the_entity() {
        assert_eq!(tag("/api/admin/referrals/{id}"), "referrals");
        assert_eq!(tag("/api/users"), "users");
        assert_eq!(tag("/health"), "health");
    }
}
