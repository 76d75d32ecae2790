//! The growth console (`console/`, a static web app built into `console/dist`), served by the
//! always-on binary at `/console/` from the API's own origin, so it needs no CORS. Any path
//! under `/console/` that is not a file is the app's own route: it gets `index.html`.

use std::path::Path;

use axum::response::Redirect;
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
}
