//! Setup shared by the benches: the real app on a temp dir, and requests built as the HTTP
//! layer builds them.

use std::sync::Arc;

use spar::api::{self, Method, Path, State, route};
use spar::app::App;
use spar::settings::Settings;

/// The real store and search indexes on `dir`, as `spar serve` opens them (no workers).
pub fn app(dir: &std::path::Path) -> Arc<State> {
    App::open(dir, Settings::default()).expect("app").state()
}

/// A routed request with `body` (empty for none).
pub fn request(method: Method, raw: &str, body: &str) -> api::Request {
    let path = Path::parse(raw).expect("path");
    let mut req = api::Request::new(route(method, &path).expect("route"), None, String::new());
    req.body = body.as_bytes().to_vec();
    req
}
