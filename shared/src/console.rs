//! The growth console (`console/`, a static web app built into `console/dist`), served by the
//! always-on binary at `/console/` from the API's own origin, so it needs no CORS. Any path
//! under `/console/` that is not a file is the app's own route: it gets `index.html`.

use std::path::Path;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{Redirect, Response};
use axum::Router;
use tower_http::services::{ServeDir, ServeFile};

pub const PATH: &str = "/console";

/// The console's routes from `dir`, else from `console/` beside the binary (looked up here,
/// by the server alone, not in every Lambda's init); none when it has not been built
/// (`/console` is then a 404).
pub fn router(dir: Option<&Path>) -> Router {
    let beside_binary = || Some(std::env::current_exe().ok()?.parent()?.join("console"));
    let dir = dir.map(Path::to_path_buf).or_else(beside_binary);
    let Some(dir) = dir.filter(|d| d.join("index.html").is_file()) else {
        return Router::new();
    };
    let dir = dir.as_path();
    let files = ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html")));
    Router::new()
        .route(PATH, axum::routing::get(|| async { Redirect::permanent("/console/") }))
        .nest_service("/console/", files)
        .layer(axum::middleware::from_fn(headers))
}

/// The console runs only its own scripts and styles (the build has no inline script), talks
/// only to its own origin, and is framed by nobody.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

async fn headers(req: Request<Body>, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}
