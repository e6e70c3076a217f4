//! The operator console (docs/CONSOLE.md): HTML, CSS and JavaScript modules written for Spar,
//! compiled into the binary from `ui/` and served as they are (no build step, no framework).
//! Everything the console shows it reads from the API with the operator's token, like any
//! client; these routes serve only the files.
//!
//! | method | path | endpoint |
//! |---|---|---|
//! | GET | `/` | [`Endpoint::Root`]: a redirect to `/ui/` |
//! | GET | `/ui` | [`Endpoint::Index`]: `index.html` |
//! | GET | `/ui/<file>` | [`Endpoint::Asset`] |
//!
//! **Invariant:** nothing the console loads comes from another host. Its Content-Security-Policy
//! allows scripts, styles, images and connections from this origin only (and `data:` images),
//! no inline script or style, no frames, no forms posting elsewhere.

use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use super::path::{Method, Routed, endpoints};
use super::{Request, RequestError, Response};

endpoints! {
    pub enum Endpoint {
        Root => "console_root",
        Index => "console_index",
        Asset(String) => "console_asset",
    }
}

/// Sent with every console file. `'self'` only: the console works on an air-gapped VM and no
/// other origin can inject into it.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One file of `ui/`.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $type:expr) => {
        Asset {
            path: $path,
            content_type: $type,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/ui/", $path)),
        }
    };
}

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// Every file the console has (BENCHMARKS.md keeps their total under budget).
static ASSETS: &[Asset] = &[
    asset!("index.html", HTML),
    asset!("app.css", CSS),
    asset!("app.js", JS),
    asset!("lib/api.js", JS),
    asset!("lib/dom.js", JS),
    asset!("lib/chart.js", JS),
    asset!("lib/sse.js", JS),
    asset!("pages/overview.js", JS),
    asset!("pages/events.js", JS),
    asset!("pages/agents.js", JS),
    asset!("pages/projects.js", JS),
    asset!("pages/audit.js", JS),
    asset!("pages/deliveries.js", JS),
    asset!("pages/approvals.js", JS),
    asset!("pages/incidents.js", JS),
    asset!("pages/tasks.js", JS),
    asset!("pages/channels.js", JS),
];

/// The bytes of every console file together.
pub fn total_bytes() -> usize {
    ASSETS.iter().map(|a| a.body.len()).sum()
}

pub fn route(method: Method, segs: &[&str]) -> Routed<Endpoint> {
    use Method::{Get, Head};
    let endpoint = match segs {
        [] => Endpoint::Root,
        ["ui"] | ["ui", "index.html"] => Endpoint::Index,
        ["ui", rest @ ..] => Endpoint::Asset(rest.join("/")),
        _ => return Routed::NoRoute,
    };
    if matches!(method, Get) { Routed::Found(endpoint) } else { Routed::WrongMethod(&[Get, Head]) }
}

pub async fn handle(_state: &super::State, endpoint: Endpoint, req: Request) -> Response {
    let path = match &endpoint {
        Endpoint::Root => {
            return Response::empty(302).with_header("location", "/ui/");
        }
        Endpoint::Index => "index.html",
        Endpoint::Asset(path) => path.as_str(),
    };
    let Some((asset, etag)) = find(path) else {
        return RequestError::NotFound.into_response(&req.request_id);
    };
    let fresh = req
        .header("if-none-match")
        .is_some_and(|tags| tags.split(',').any(|t| t.trim().trim_start_matches("W/") == etag));
    let response = if fresh {
        Response::empty(304)
    } else {
        Response::raw_json(200, bytes::Bytes::from_static(asset.body))
            .with_header("content-type", asset.content_type)
    };
    with_console_headers(response).with_header("etag", etag.to_owned())
}

/// The asset at `path` and its ETag (a digest of its bytes, computed once).
fn find(path: &str) -> Option<(&'static Asset, &'static str)> {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let digest = Sha256::digest(a.body);
                let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
                format!("\"{hex}\"")
            })
            .collect()
    });
    let i = ASSETS.iter().position(|a| a.path == path)?;
    Some((ASSETS.get(i)?, tags.get(i)?.as_str()))
}

/// What every console file is sent with: the CSP, and no sniffing, framing or referrers.
fn with_console_headers(response: Response) -> Response {
    response
        .with_header("content-security-policy", CONTENT_SECURITY_POLICY)
        .with_header("x-content-type-options", "nosniff")
        .with_header("x-frame-options", "DENY")
        .with_header("referrer-policy", "no-referrer")
        .with_header("cross-origin-opener-policy", "same-origin")
        .with_header("cross-origin-resource-policy", "same-origin")
        // Revalidated each time (a new binary has new files), answered 304 when unchanged.
        .with_header("cache-control", "no-cache")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_found_by_its_path_and_the_root_redirects() {
        for asset in ASSETS {
            assert!(find(asset.path).is_some(), "{}", asset.path);
        }
        assert!(find("nope.js").is_none());
        assert!(matches!(route(Method::Get, &[]), Routed::Found(Endpoint::Root)));
        assert!(matches!(route(Method::Get, &["ui"]), Routed::Found(Endpoint::Index)));
        assert!(matches!(route(Method::Post, &["ui"]), Routed::WrongMethod(_)));
    }
}
