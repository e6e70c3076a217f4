//! One request through the pipeline: path → preflight → auth → rate limit → route → body →
//! handler, then the headers every response carries (docs/API.md §1).

use std::borrow::Cow;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{HeaderMap, StatusCode};
use sha2::{Digest, Sha256};

use super::Shared;
use super::body::{ResponseBody, StreamBody};
use super::client::{ClientKey, client_ip, client_key};
use super::fair::Slot;
use super::ratelimit::Decision;
use crate::api::{
    self, Auth, Bucket, Caller, Endpoint, Family, Method, OrgId, Path, RequestError, Response,
};
use crate::ids;
use crate::store::credentials::{self, OrgToken};

const X_ORG_ID: HeaderName = HeaderName::from_static("x-org-id");
const X_ACTOR: HeaderName = HeaderName::from_static("x-actor");
const X_ADMIN_TOKEN: HeaderName = HeaderName::from_static("x-spar-admin-token");

const EXPOSED: &str =
    "X-Request-Id, X-API-Version, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining";

pub async fn serve_request(
    shared: Arc<Shared>,
    peer: SocketAddr,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<ResponseBody>, Infallible> {
    let started = Instant::now();
    let request_id = ids::request_id();
    let method = Method::parse(req.method().as_str());
    let origin = req.headers().get(header::ORIGIN).cloned();
    // What the access log needs of the request, taken before `respond` consumes it (nothing
    // when it is off, or `RUST_LOG` filters it out).
    let logging =
        shared.config.access_log && tracing::enabled!(target: "spar::access", tracing::Level::INFO);
    let seen = logging.then(|| Seen {
        method: req.method().clone(),
        path: req.uri().path().to_owned(),
        client: client_ip(peer, req.headers(), shared.config.trust_proxy_hops),
    });
    let (mut response, route, place) = respond(&shared, peer, req, method, &request_id).await;
    common_headers(&shared, &mut response, origin.as_ref(), &request_id);
    let took = started.elapsed();
    shared.state.metrics.request(route, method.as_str(), response.status, took);
    if let Some(seen) = seen {
        // Once the answer is ready (for an event stream: its head, not its end).
        tracing::info!(
            target: "spar::access",
            method = seen.method.as_str(),
            path = logged_path(&seen.path),
            status = response.status,
            duration_ms = (took.as_secs_f64() * 1_000_000.0).round() / 1000.0,
            request_id,
            client = %seen.client,
            peer = %peer,
            endpoint = route,
            "request"
        );
    }
    Ok(into_hyper(response, place))
}

/// A request as the access log names it.
struct Seen {
    method: hyper::Method,
    path: String,
    client: std::net::IpAddr,
}

/// Longest path the access log writes; a longer one ends with `…`.
const LOGGED_PATH_MAX: usize = 512;

/// The path for the access log: the query string is never in it (`uri().path()` has none),
/// and a segment that is a credential is `:token`: the ingest token of `/ingest/:token` and
/// `/:token/push-events` (the same token in `/integrations/:token`) and an approval's token
/// (`/api/approvals/:token`, a vote's capability). Segments are compared decoded, as routing
/// does, and empty and dot segments are skipped, so `/%69ngest/<token>` and `//ingest/<token>`
/// (which route nowhere) are caught too; a `/v1` prefix stays.
fn logged_path(raw: &str) -> String {
    let mut segs: Vec<&str> = raw.split('/').collect();
    let named: Vec<(usize, Cow<'_, str>)> = segs
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.is_empty() && **s != "." && **s != "..")
        .map(|(i, s)| (i, decoded(s)))
        .collect();
    let skip = named.iter().take_while(|(_, name)| name == "v1").count();
    let names: Vec<&str> = named[skip..].iter().map(|(_, name)| name.as_ref()).collect();
    let secret = match names.as_slice() {
        ["ingest" | "integrations", _, ..] => Some(1),
        [_, "push-events", ..] => Some(0),
        ["api", "approvals", _, ..] => Some(2),
        _ => None,
    };
    if let Some(&(at, _)) = secret.and_then(|i| named.get(skip + i)) {
        segs[at] = ":token";
    }
    let mut path = segs.join("/");
    if path.len() > LOGGED_PATH_MAX {
        let mut end = LOGGED_PATH_MAX;
        while !path.is_char_boundary(end) {
            end -= 1;
        }
        path.truncate(end);
        path.push('…');
    }
    path
}

/// A path segment percent-decoded, as the routers see it.
fn decoded(seg: &str) -> Cow<'_, str> {
    if !seg.contains('%') {
        return Cow::Borrowed(seg);
    }
    let parsed = Path::parse(&format!("/x/{seg}")).and_then(|p| p.segments.into_iter().nth(1));
    parsed.map_or(Cow::Borrowed(seg), Cow::Owned)
}

/// The response, the route name metrics count it under, and the client's place for a stream.
async fn respond(
    shared: &Shared,
    peer: SocketAddr,
    req: hyper::Request<Incoming>,
    method: Method,
    request_id: &str,
) -> (Response, &'static str, Option<Slot>) {
    const UNMATCHED: &str = "unmatched";
    let Some(path) = Path::parse(req.uri().path()) else {
        return (RequestError::NotFound.into_response(request_id), UNMATCHED, None);
    };
    if method == Method::Options {
        return (preflight(&path, req.headers(), request_id), "preflight", None);
    }
    let routed = api::route(method, &path);
    let (family, auth, bucket) = match &routed {
        Ok(endpoint) => (Some(endpoint.family()), endpoint.auth(), endpoint.bucket()),
        Err(unrouted) => match unrouted.family {
            Some(family) => (Some(family), family.auth(), family.bucket()),
            None => (None, Auth::Public, None),
        },
    };
    let reject = |e: RequestError| match family {
        Some(family) => family.reject(e, request_id),
        None => e.into_response(request_id),
    };
    // The admin listener serves the admin family only, and the public one never does.
    let admin_family = family == Some(Family::Admin);
    match &shared.admin_token {
        Some(token) if admin_family => {
            let presented = header_text(req.headers(), X_ADMIN_TOKEN);
            if !same_secret(presented.as_deref(), token) {
                return (reject(RequestError::Unauthorized), UNMATCHED, None);
            }
        }
        Some(_) => return (RequestError::NotFound.into_response(request_id), UNMATCHED, None),
        None if admin_family => {
            return (RequestError::NotFound.into_response(request_id), UNMATCHED, None);
        }
        None => {}
    }
    let caller = match caller_of(shared, req.headers(), auth) {
        Ok(caller) => caller,
        Err(e) => return (reject(e), "unauthorized", None),
    };
    let client = client_key(peer, req.headers(), shared.config.trust_proxy_hops);
    let limiter = match bucket {
        Some(Bucket::Api) => shared.api_limiter.as_ref(),
        Some(Bucket::Webhooks) => shared.webhook_limiter.as_ref(),
        None => None,
    };
    let decision = limiter.map(|l| l.check(client.ip()));
    let mut route = UNMATCHED;
    let mut place = None;
    let response = match (decision, routed) {
        (Some(Decision::Limited { retry_after_secs, .. }), _) => {
            shared.state.metrics.rate_limited(bucket == Some(Bucket::Webhooks));
            route = "rate_limited";
            reject(RequestError::RateLimited { retry_after: retry_after_secs })
        }
        (_, Err(unrouted)) => reject(unrouted.error),
        (_, Ok(endpoint)) => {
            route = endpoint.name();
            match stream_place(shared, &endpoint, client) {
                Err(e) => reject(e),
                Ok(taken) => {
                    place = taken;
                    match build_request(shared, endpoint, method, req, caller, request_id).await {
                        Ok(request) => api::handle(&shared.state, request).await,
                        Err(e) => reject(e),
                    }
                }
            }
        }
    };
    let response = match decision {
        Some(Decision::Allowed { limit, remaining }) => {
            with_limit_headers(response, limit, remaining)
        }
        Some(Decision::Limited { limit, .. }) => with_limit_headers(response, limit, 0),
        None => response,
    };
    (response, route, place)
}

/// A client's place for an event stream, when the endpoint streams: at most
/// `--max-streams-per-client` at once (docs/API.md §1.7).
fn stream_place(
    shared: &Shared,
    endpoint: &Endpoint,
    client: ClientKey,
) -> Result<Option<Slot>, RequestError> {
    let Some(streams) = shared.streams.as_ref().filter(|_| endpoint.streams()) else {
        return Ok(None);
    };
    streams.take(client).map(Some).ok_or(RequestError::TooManyStreams { cap: streams.cap() })
}

/// Who the request acts as (docs/API.md §1.4): the operator (`ENGINE_API_TOKEN`), the org of an
/// org token, or, with neither presented, anonymous, which only an endpoint needing no
/// credential (or a server without `ENGINE_API_TOKEN`) lets in. A token that is neither is
/// refused wherever a bearer token is read.
fn caller_of(shared: &Shared, headers: &HeaderMap, auth: Auth) -> Result<Caller, RequestError> {
    if !matches!(auth, Auth::Bearer | Auth::Public) {
        return Ok(Caller::Anonymous);
    }
    let header = header_text(headers, header::AUTHORIZATION);
    let presented = header.as_deref().and_then(|v| v.strip_prefix("Bearer "));
    let operator = shared.config.api_token.as_deref();
    let caller = match presented {
        None if operator.is_some() => None,
        None => Some(Caller::Anonymous),
        Some(token) if operator.is_some_and(|o| same_secret(Some(token), o)) => {
            Some(Caller::Operator)
        }
        Some(token) => {
            let found = credentials::authenticate::<OrgToken>(&shared.state.store.read()?, token)?;
            found.map(|record| Caller::Org(OrgId::trusted(record.org_id)))
        }
    };
    match caller {
        Some(caller) => Ok(caller),
        // `/health`, `/metrics`, `/openapi.json` and `/api/session` answer anyone; a bad token
        // only loses the operator's view of `/metrics` (and `/api/session` says so).
        None if auth == Auth::Public => Ok(Caller::Unauthenticated),
        None => Err(RequestError::Unauthorized),
    }
}

fn with_limit_headers(response: Response, limit: u32, remaining: u32) -> Response {
    response
        .with_header("x-ratelimit-limit", limit.to_string())
        .with_header("x-ratelimit-remaining", remaining.to_string())
}

async fn build_request(
    shared: &Shared,
    endpoint: Endpoint,
    method: Method,
    req: hyper::Request<Incoming>,
    caller: Caller,
    request_id: &str,
) -> Result<api::Request, RequestError> {
    let mut request = api::Request::new(endpoint, req.uri().query(), request_id.to_owned());
    request.caller = caller;
    let headers = req.headers();
    request.org_header = header_text(headers, X_ORG_ID).filter(|v| !v.is_empty());
    request.actor = header_text(headers, X_ACTOR)
        .filter(|v| !v.is_empty() && v.len() <= 128 && !v.chars().any(char::is_control));
    let webhook = request.endpoint.is_webhook();
    if request.endpoint.reads_headers() {
        // Webhooks read their own headers (event, delivery, signature, content type), the
        // event stream `Last-Event-ID`.
        request.headers = headers
            .iter()
            .map(|(k, v)| {
                (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned())
            })
            .collect();
    }
    if method.has_body() {
        let accepted = header_text(headers, header::CONTENT_TYPE)
            .is_some_and(|ct| is_json(&ct) || (webhook && is_form(&ct)));
        let limit = request.endpoint.body_limit();
        let body = read_body(req, limit, shared.config.body_timeout).await?;
        if !body.is_empty() && !accepted {
            return Err(RequestError::UnsupportedMediaType);
        }
        request.body = body;
    }
    Ok(request)
}

/// What Spar reads and throws away of a body it refuses as too large, before answering: a client
/// that writes its whole body before reading (most do) would otherwise find the connection
/// reset under it and never see the 413 (nginx's lingering close exists for the same reason).
/// Bounded in bytes and time, so refusing costs a client's bandwidth, never Spar's memory.
const LINGER_BYTES: u64 = 16 * 1024 * 1024;
const LINGER_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// Reads at most `limit` bytes; an oversized body is refused from its `Content-Length` or as
/// soon as the limit is crossed, never buffered whole (docs/API.md §1.7).
async fn read_body(
    req: hyper::Request<Incoming>,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<Vec<u8>, RequestError> {
    let declared =
        header_text(req.headers(), header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    // A client waiting for `100 Continue` sends nothing until asked: it reads the 413 at once.
    let waits_to_send = header_text(req.headers(), header::EXPECT)
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"));
    let mut body = req.into_body();
    if let Some(len) = declared.filter(|len| *len > limit as u64) {
        if !waits_to_send {
            linger(&mut body, len.min(LINGER_BYTES)).await;
        }
        return Err(RequestError::PayloadTooLarge { limit });
    }
    let read = async {
        let mut buf = Vec::with_capacity(declared.map_or(0, |l| l as usize).min(limit));
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| RequestError::UnreadableBody(e.to_string()))?;
            let Ok(data) = frame.into_data() else { continue };
            if buf.len() + data.len() > limit {
                linger(&mut body, LINGER_BYTES).await;
                return Err(RequestError::PayloadTooLarge { limit });
            }
            buf.extend_from_slice(&data);
        }
        Ok(buf)
    };
    tokio::time::timeout(timeout, read).await.unwrap_or(Err(RequestError::BodyTimeout))
}

/// Reads and drops up to `max` more bytes of `body`, for at most [`LINGER_TIME`].
async fn linger(body: &mut Incoming, max: u64) {
    let drain = async {
        let mut seen = 0u64;
        while seen < max {
            match body.frame().await {
                Some(Ok(frame)) => seen += frame.data_ref().map_or(0, |d| d.len() as u64),
                Some(Err(_)) | None => break,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER_TIME, drain).await;
}

/// `application/json`, parameters such as `; charset=utf-8` allowed.
fn is_json(content_type: &str) -> bool {
    media_type_is(content_type, "application/json")
}

/// `application/x-www-form-urlencoded`: GitHub hooks created with `content_type: form`.
fn is_form(content_type: &str) -> bool {
    media_type_is(content_type, "application/x-www-form-urlencoded")
}

fn media_type_is(content_type: &str, expected: &str) -> bool {
    content_type.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case(expected))
}

/// Compares in constant time (hashing first makes it length-independent).
fn same_secret(presented: Option<&str>, expected: &str) -> bool {
    let Some(presented) = presented else { return false };
    let (a, b) = (Sha256::digest(presented.as_bytes()), Sha256::digest(expected.as_bytes()));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn preflight(path: &Path, headers: &HeaderMap, request_id: &str) -> Response {
    let allowed = match api::route(Method::Other, path) {
        Err(api::Unrouted { error: RequestError::MethodNotAllowed(allowed), .. }) => allowed,
        Ok(_) | Err(_) => return RequestError::NotFound.into_response(request_id),
    };
    let methods = allowed.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ");
    let requested = header_text(headers, header::ACCESS_CONTROL_REQUEST_HEADERS)
        .unwrap_or_else(|| "Content-Type, Authorization, X-Org-Id".to_owned());
    Response::empty(204)
        .with_header("allow", format!("{methods}, OPTIONS"))
        .with_header("access-control-allow-methods", format!("{methods}, OPTIONS"))
        .with_header("access-control-allow-headers", requested)
        .with_header("access-control-max-age", "600")
}

fn common_headers(
    shared: &Shared,
    response: &mut Response,
    origin: Option<&HeaderValue>,
    request_id: &str,
) {
    response.headers.push(("x-api-version", "v1".into()));
    response.headers.push(("x-request-id", request_id.to_owned().into()));
    let typed = response.headers.iter().any(|(name, _)| *name == "content-type");
    if !response.body.is_empty() && !typed {
        response.headers.push(("content-type", "application/json; charset=utf-8".into()));
    }
    let allowed = origin.and_then(|o| o.to_str().ok()).filter(|o| {
        shared.config.cors_origins.as_ref().is_none_or(|list| list.iter().any(|a| a == o))
    });
    if let Some(origin) = allowed {
        response.headers.push(("access-control-allow-origin", origin.to_owned().into()));
        response.headers.push(("vary", "Origin".into()));
        response.headers.push(("access-control-expose-headers", EXPOSED.into()));
    }
}

fn into_hyper(response: Response, place: Option<Slot>) -> hyper::Response<ResponseBody> {
    let body = match response.stream {
        Some(chunks) => Either::Right(StreamBody::new(chunks, place)),
        None => Either::Left(Full::new(response.body)),
    };
    let mut out = hyper::Response::new(body);
    *out.status_mut() =
        StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = out.headers_mut();
    for (name, value) in response.headers {
        let value = match value {
            Cow::Borrowed(v) => Ok(HeaderValue::from_static(v)),
            Cow::Owned(v) => HeaderValue::try_from(v),
        };
        if let Ok(value) = value {
            headers.append(HeaderName::from_static(name), value);
        }
    }
    out
}

/// A header as text; bytes that are not UTF-8 become U+FFFD (and so fail any validation).
fn header_text(headers: &HeaderMap, name: HeaderName) -> Option<String> {
    headers.get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::{is_json, logged_path};

    #[test]
    fn the_access_log_never_writes_a_token() {
        for (raw, logged) in [
            ("/ingest/s3cr3t", "/ingest/:token"),
            ("/ingest/s3cr3t/", "/ingest/:token/"),
            ("/v1/ingest/s3cr3t", "/v1/ingest/:token"),
            ("/%69ngest/s3cr3t", "/%69ngest/:token"),
            ("/s3cr3t/push-events", "/:token/push-events"),
            ("/v1/s3cr3t/push-events", "/v1/:token/push-events"),
            ("/integrations/s3cr3t/archive", "/integrations/:token/archive"),
            ("/api/approvals/s3cr3t", "/api/approvals/:token"),
            ("/ingest/s3cr3t/..", "/ingest/:token/.."),
            ("/ingest//s3cr3t", "/ingest//:token"),
            ("//ingest/s3cr3t", "//ingest/:token"),
            ("/v1/v1/s3cr3t/push-events", "/v1/v1/:token/push-events"),
            ("/api/agents/agent-1", "/api/agents/agent-1"),
            ("/api/approvals", "/api/approvals"),
            ("/integrations", "/integrations"),
            ("/", "/"),
        ] {
            assert_eq!(logged_path(raw), logged, "{raw}");
        }
        let long = format!("/api/{}", "a".repeat(2000));
        assert_eq!(logged_path(&long).chars().count(), super::LOGGED_PATH_MAX + 1);
    }

    #[test]
    fn json_content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/jsonx"));
    }
}
