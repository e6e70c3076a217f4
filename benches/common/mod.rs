//! Setup shared by the benches: the real app on a temp dir, and requests built as the HTTP
//! layer builds them.

use std::sync::Arc;

use spar::api::routes::{Path, route};
use spar::api::{self, App, Method};
use spar::search::Search;
use spar::store::Store;

/// The real store and search indexes on `dir`, as `spar serve` opens them.
pub fn app(dir: &std::path::Path) -> Arc<App> {
    let store = Store::open(dir).expect("store");
    let search = Search::open(dir, &store).expect("search");
    Arc::new(App::new(store, Arc::new(search)))
}

/// A routed request with `body` (empty for none).
pub fn request(method: Method, raw: &str, body: &str) -> api::Request {
    let path = Path::parse(raw).expect("path");
    let mut req = api::Request::new(route(method, &path).expect("route"), None, String::new());
    req.body = body.as_bytes().to_vec();
    req
}
