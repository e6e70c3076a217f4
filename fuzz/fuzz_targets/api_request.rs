//! Whole requests through the real router and handlers, on a real store in a temp dir: the
//! input's first line is `METHOD /path?query`, the rest is the body. Whatever it is, the answer
//! is never a 5xx (bad input is a 4xx) and nothing panics.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use spar::api::{Method, Path, Request, State, handle, route};
use spar::app::App;
use spar::settings::Settings;

struct Harness {
    runtime: tokio::runtime::Runtime,
    app: Arc<State>,
    _dir: tempfile::TempDir,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let app = App::open(dir.path(), Settings::default()).expect("app").state();
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        Harness { runtime, app, _dir: dir }
    })
}

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let (head, body) =
        (String::from_utf8_lossy(&data[..split]), data.get(split + 1..).unwrap_or(&[]));
    let Some((method, target)) = head.split_once(' ') else { return };
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let Some(path) = Path::parse(path) else { return };
    let Ok(endpoint) = route(Method::parse(method), &path) else { return };
    let mut request = Request::new(endpoint, query, "fuzz".into());
    request.body = body.to_vec();
    let h = harness();
    let response = h.runtime.block_on(handle(&h.app, request));
    assert!(
        response.status < 500,
        "{head}: {} {}",
        response.status,
        String::from_utf8_lossy(&response.body)
    );
});
