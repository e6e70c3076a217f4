//! The console's files as the binary serves them: all of `ui/`, byte for byte, with a strict
//! Content-Security-Policy, revalidated by ETag, within the size budget of BENCHMARKS.md.

use std::path::{Path, PathBuf};

use crate::common::Server;

/// BENCHMARKS.md, "Console size": the whole console stays under this.
const BUDGET_BYTES: u64 = 200 * 1024;

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("ui dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() { files(&path, out) } else { out.push(path) }
    }
}

#[test]
fn every_file_of_ui_is_served_as_written_and_the_whole_stays_in_budget() {
    let s = Server::start();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
    let mut all = Vec::new();
    files(&root, &mut all);
    assert!(all.len() >= 10, "{all:?}");
    let mut total = 0;
    for path in &all {
        let name = path.strip_prefix(&root).expect("under ui").to_string_lossy().into_owned();
        let r = s.get(&format!("/ui/{name}"));
        assert_eq!(r.status, 200, "ui/{name} is not served (add it to src/api/console)");
        let on_disk = std::fs::read(path).expect("read");
        assert_eq!(r.body, on_disk, "ui/{name}");
        total += on_disk.len() as u64;
        let kind = r.header("content-type").unwrap_or_default();
        let expected = match path.extension().and_then(|e| e.to_str()) {
            Some("js") => "text/javascript",
            Some("css") => "text/css",
            _ => "text/html",
        };
        assert!(kind.starts_with(expected), "{name}: {kind}");
    }
    assert!(total < BUDGET_BYTES, "the console is {total} bytes, over its budget");
}

#[test]
fn the_root_redirects_to_the_console_which_allows_its_own_origin_only() {
    let s = Server::start();
    let r = s.get("/");
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("/ui/"));
    for path in ["/ui", "/ui/", "/ui/app.js"] {
        let r = s.get(path);
        assert_eq!(r.status, 200, "{path}");
        let csp = r.header("content-security-policy").expect("CSP");
        assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe-inline") && !csp.contains("http"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
    }
    // The HTML carries no inline script or style for the policy to refuse.
    let html = String::from_utf8(s.get("/ui/").body).expect("utf-8");
    assert!(!html.contains("<script>") && !html.contains("style="), "{html}");
    assert!(!html.contains("http://") && !html.contains("https://"), "no other host: {html}");
}

#[test]
fn files_revalidate_by_etag_and_unknown_ones_are_404() {
    let s = Server::start();
    let first = s.get("/ui/app.css");
    let tag = first.header("etag").expect("etag").to_owned();
    let again = s.call("GET", "/ui/app.css", &[("If-None-Match", &tag)], None);
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    let other = s.call("GET", "/ui/app.css", &[("If-None-Match", "\"other\"")], None);
    assert_eq!(other.status, 200);
    for path in ["/ui/nope.js", "/ui/../Cargo.toml", "/ui/pages/", "/ui/%2e%2e/Cargo.toml"] {
        let r = s.get(path);
        assert_eq!(r.status, 404, "{path}");
    }
    assert_eq!(s.post("/ui/app.js", &serde_json::json!({})).status, 405);
}
