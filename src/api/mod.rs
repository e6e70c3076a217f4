//! The API: framework-free requests in, responses out. `http/` turns hyper requests into
//! [`Request`]s and [`Response`]s back into hyper; everything here is plain functions over
//! [`State`].
//!
//! Spar serves five API families and the console's files, each a module with its endpoint enum,
//! its router (a plain `match` listing every route in its module doc), its error type and its
//! handlers:
//!
//! | family | paths | credential | errors |
//! |---|---|---|---|
//! | [`codespar`] | `/api/*`, `/a2a/*`, `/health`, `/metrics`, `/openapi.json`, `/.well-known/agent.json` | bearer token when `ENGINE_API_TOKEN` is set (an org token confines) | `{"error","code","status"}` |
//! | [`webhooks`] | `/webhooks/*` | the sender's signature | `{"error","code","status"}` |
//! | [`spike`] | `/integrations*`, `/ingest/:token`, `/:token/push-events` | `x-api-key` and `x-team-id`; the ingest token | `{"message","error"}` |
//! | [`potpie`] | `/api/v1/integrations/*`, `/api/v2/integrations/save` | `x-api-key` | FastAPI's `{"detail"}` |
//! | [`admin`] | `/admin/*`, on the loopback admin listener only | the admin token | `{"error","code","status"}` |
//! | [`console`] | `/`, `/ui/*`: the operator console's files | none (the console asks for a token and sends it to the API) | `{"error","code","status"}` |
//!
//! **Invariant:** nothing here knows about hyper. **Invariant:** what a request must present is
//! decided by its endpoint ([`Endpoint::auth`]); a path a family owns but does not route is
//! answered with that family's credential checked first ([`Family::auth`]), so the route table
//! is not revealed to a client without one.

pub mod admin;
mod body;
mod cache;
pub mod codespar;
pub mod console;
pub mod error;
mod openapi;
pub mod path;
pub mod potpie;
mod request;
pub mod scope;
pub mod spike;
mod state;
pub mod webhooks;

pub use error::RequestError;
pub use path::{Method, Path, Routed};
pub use request::{Request, Response};
pub use scope::{Caller, OrgId, Scope};
pub use state::State;

/// The API families (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    CodeSpar,
    Webhooks,
    Spike,
    Potpie,
    Admin,
    Console,
}

/// What a request must present before its handler runs, or how its handler authenticates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Nothing: `/health`, `/metrics`, `/openapi.json`.
    Public,
    /// `Authorization: Bearer <ENGINE_API_TOKEN>` when that is set (checked by `http/`).
    Bearer,
    /// `X-Spar-Admin-Token` (checked by `http/`; only the admin listener serves these).
    AdminToken,
    /// The handler verifies the sender's signature over the raw body.
    Signature,
    /// The handler checks `x-api-key` against the stored key hashes.
    ApiKey,
    /// The ingest URL's token is the credential (the handler looks it up).
    IngestToken,
}

/// The per-IP rate-limit bucket a request draws from (docs/API.md §1.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Api,
    Webhooks,
}

impl Family {
    /// The family whose paths these are, by their first segments.
    pub fn of(path: &Path) -> Option<Self> {
        let segs = path.segs();
        match segs.as_slice() {
            ["api", "v1" | "v2", "integrations", ..] => Some(Self::Potpie),
            ["webhooks", ..] => Some(Self::Webhooks),
            ["api", ..] | ["health" | "metrics" | "openapi.json"] => Some(Self::CodeSpar),
            // Only the card itself: the rest of `/.well-known` is no family's.
            [".well-known", "agent.json"] | ["a2a", ..] => Some(Self::CodeSpar),
            ["integrations", ..] | ["ingest", ..] | [_, "push-events"] => Some(Self::Spike),
            ["admin", ..] => Some(Self::Admin),
            [] | ["ui", ..] => Some(Self::Console),
            _ => None,
        }
    }

    fn route(self, method: Method, segs: &[&str]) -> Routed<Endpoint> {
        let method = method.routed();
        match self {
            Self::CodeSpar => codespar::route(method, segs).map(Endpoint::CodeSpar),
            Self::Webhooks => webhooks::route(method, segs).map(Endpoint::Webhooks),
            Self::Spike => spike::route(method, segs).map(Endpoint::Spike),
            Self::Potpie => potpie::route(method, segs).map(Endpoint::Potpie),
            Self::Admin => admin::route(method, segs).map(Endpoint::Admin),
            Self::Console => console::route(method, segs).map(Endpoint::Console),
        }
    }

    /// What a path of this family that no route matches must present (before its 404 or 405).
    pub fn auth(self) -> Auth {
        match self {
            Self::CodeSpar => Auth::Bearer,
            Self::Webhooks => Auth::Signature,
            Self::Spike | Self::Potpie => Auth::ApiKey,
            Self::Admin => Auth::AdminToken,
            Self::Console => Auth::Public,
        }
    }

    /// The bucket of a path of this family that no route matches.
    pub fn bucket(self) -> Option<Bucket> {
        match self {
            Self::CodeSpar | Self::Potpie | Self::Spike => Some(Bucket::Api),
            Self::Webhooks => Some(Bucket::Webhooks),
            Self::Admin | Self::Console => None,
        }
    }

    /// A request error in this family's error shape.
    pub fn reject(self, e: RequestError, request_id: &str) -> Response {
        match self {
            Self::CodeSpar | Self::Webhooks | Self::Admin | Self::Console => {
                e.into_response(request_id)
            }
            Self::Spike => spike::SpikeError::from(e).into_response(request_id),
            Self::Potpie => potpie::PotpieError::from(e).into_response(request_id),
        }
    }
}

/// An endpoint of one of the families.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    CodeSpar(codespar::Endpoint),
    Webhooks(webhooks::Endpoint),
    Spike(spike::Endpoint),
    Potpie(potpie::Endpoint),
    Admin(admin::Endpoint),
    Console(console::Endpoint),
}

impl Endpoint {
    pub fn family(&self) -> Family {
        match self {
            Self::CodeSpar(_) => Family::CodeSpar,
            Self::Webhooks(_) => Family::Webhooks,
            Self::Spike(_) => Family::Spike,
            Self::Potpie(_) => Family::Potpie,
            Self::Admin(_) => Family::Admin,
            Self::Console(_) => Family::Console,
        }
    }

    /// A stable name for logs, metrics and the OpenAPI document's `operationId`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::CodeSpar(e) => e.name(),
            Self::Webhooks(e) => e.name(),
            Self::Spike(e) => e.name(),
            Self::Potpie(e) => e.name(),
            Self::Admin(e) => e.name(),
            Self::Console(e) => e.name(),
        }
    }

    /// Every public endpoint's name (the admin listener's and the console's files aside): the
    /// OpenAPI document's operations.
    pub fn public_names() -> impl Iterator<Item = &'static str> {
        let families = [
            codespar::Endpoint::NAMES,
            webhooks::Endpoint::NAMES,
            spike::Endpoint::NAMES,
            potpie::Endpoint::NAMES,
        ];
        families.into_iter().flatten().copied()
    }

    pub fn auth(&self) -> Auth {
        match self {
            Self::CodeSpar(e) => e.auth(),
            Self::Webhooks(e) => e.auth(),
            Self::Spike(e) => e.auth(),
            Self::Potpie(_) => Auth::ApiKey,
            Self::Admin(_) => Auth::AdminToken,
            Self::Console(_) => Auth::Public,
        }
    }

    pub fn bucket(&self) -> Option<Bucket> {
        match self {
            Self::CodeSpar(e) => e.bucket(),
            Self::Webhooks(e) => e.bucket(),
            Self::Spike(e) => e.bucket(),
            Self::Potpie(_) => Some(Bucket::Api),
            Self::Admin(_) | Self::Console(_) => None,
        }
    }

    /// Largest body this endpoint accepts (docs/API.md §1.2: webhooks 5 MiB, the rest 1 MiB).
    pub fn body_limit(&self) -> usize {
        if self.is_webhook() { 5 * 1024 * 1024 } else { 1024 * 1024 }
    }

    /// Inbound webhooks and ingest URLs: they take form-encoded bodies as well as JSON
    /// (GitHub sends either).
    pub fn is_webhook(&self) -> bool {
        match self {
            Self::CodeSpar(e) => *e == codespar::Endpoint::SentryWebhookAlias,
            Self::Webhooks(_) => true,
            Self::Spike(e) => matches!(e, spike::Endpoint::Ingest(_)),
            Self::Potpie(_) | Self::Admin(_) | Self::Console(_) => false,
        }
    }

    /// Endpoints whose answer is a stream that stays open (per-client caps apply).
    pub fn streams(&self) -> bool {
        *self == Self::CodeSpar(codespar::Endpoint::EventStream)
    }

    /// Endpoints that read request headers beyond the common ones: webhooks (event, delivery,
    /// signature), the dialects (their keys), the event stream (`Last-Event-ID`) and the
    /// console's files (`If-None-Match`).
    pub fn reads_headers(&self) -> bool {
        match self {
            Self::CodeSpar(e) => {
                matches!(
                    e,
                    codespar::Endpoint::EventStream
                        | codespar::Endpoint::SentryWebhookAlias
                        | codespar::Endpoint::WellKnownAgentCard
                )
            }
            Self::Webhooks(_) | Self::Spike(_) | Self::Potpie(_) | Self::Console(_) => true,
            Self::Admin(_) => false,
        }
    }
}

/// Why a request has no endpoint: the error, and the family whose path it is (which renders the
/// error and says what must be presented first).
#[derive(Debug)]
pub struct Unrouted {
    pub family: Option<Family>,
    pub error: RequestError,
}

/// Maps method and path to an endpoint; `HEAD` routes like `GET`.
pub fn route(method: Method, path: &Path) -> Result<Endpoint, Unrouted> {
    let Some(family) = Family::of(path) else {
        return Err(Unrouted { family: None, error: RequestError::NotFound });
    };
    let unrouted = |error| Unrouted { family: Some(family), error };
    match family.route(method, &path.segs()) {
        Routed::Found(endpoint) => Ok(endpoint),
        Routed::WrongMethod(allowed) => Err(unrouted(RequestError::MethodNotAllowed(allowed))),
        Routed::NoRoute => Err(unrouted(RequestError::NotFound)),
    }
}

/// Runs a request to completion. Never fails: errors become their family's responses.
pub async fn handle(state: &State, req: Request) -> Response {
    match req.endpoint.clone() {
        Endpoint::CodeSpar(e) => codespar::handle(state, e, req).await,
        Endpoint::Webhooks(e) => webhooks::handle(state, e, req).await,
        Endpoint::Spike(e) => spike::handle(state, e, req).await,
        Endpoint::Potpie(e) => potpie::handle(state, e, req).await,
        Endpoint::Admin(e) => admin::handle(state, e, req).await,
        Endpoint::Console(e) => console::handle(state, e, req).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(method: &str, path: &str) -> Result<Endpoint, RequestError> {
        let path = Path::parse(path).ok_or(RequestError::NotFound)?;
        route(Method::parse(method), &path).map_err(|u| u.error)
    }

    #[test]
    fn matches_routes_with_v1_and_trailing_slash() {
        let agents = Endpoint::CodeSpar(codespar::Endpoint::ListAgents);
        assert_eq!(r("GET", "/api/agents").ok(), Some(agents.clone()));
        assert_eq!(r("GET", "/v1/api/agents/").ok(), Some(agents));
        assert_eq!(r("HEAD", "/health").ok(), Some(Endpoint::CodeSpar(codespar::Endpoint::Health)));
        assert_eq!(
            r("POST", "/api/agents/agent-x/action").ok(),
            Some(Endpoint::CodeSpar(codespar::Endpoint::AgentAction("agent-x".into())))
        );
        assert_eq!(
            r("GET", "/api/agents/a%20b").ok(),
            Some(Endpoint::CodeSpar(codespar::Endpoint::GetAgent("a b".into())))
        );
    }

    #[test]
    fn each_family_owns_its_paths() {
        let family = |p: &str| r("GET", p).map(|e| e.family()).ok();
        assert_eq!(family("/api/v1/integrations/list"), Some(Family::Potpie));
        assert_eq!(family("/integrations"), Some(Family::Spike));
        assert_eq!(family("/api/agents"), Some(Family::CodeSpar));
        let of = |p: &str| Path::parse(p).and_then(|p| Family::of(&p));
        assert_eq!(of("/ingest/abc"), Some(Family::Spike));
        assert_eq!(of("/abc/push-events"), Some(Family::Spike));
        assert_eq!(of("/webhooks/github"), Some(Family::Webhooks));
        assert_eq!(of("/api/webhooks/sentry"), Some(Family::CodeSpar));
        assert_eq!(of("/admin/api-keys"), Some(Family::Admin));
        assert_eq!(of("/health/x"), None);
        assert_eq!(of("/.well-known/agent.json"), Some(Family::CodeSpar));
        assert_eq!(of("/.well-known/other"), None);
        assert_eq!(of("/a2a/tasks"), Some(Family::CodeSpar));
        assert_eq!(of("/v1/.well-known/agent.json"), None);
        assert_eq!(of("/nothing"), None);
    }

    #[test]
    fn odd_paths_match_nothing() {
        for p in [
            "//api/agents",
            "/api/../api/agents",
            "/api/./agents",
            "/v1",
            "/v1/v1/api/agents",
            "api/agents",
            "/api/agents//",
        ] {
            assert!(matches!(r("GET", p), Err(RequestError::NotFound)), "{p}");
        }
    }

    #[test]
    fn wrong_method_lists_allowed() {
        match r("PUT", "/api/agents") {
            Err(RequestError::MethodNotAllowed(allowed)) => {
                assert_eq!(allowed, &[Method::Get, Method::Head, Method::Post]);
            }
            other => panic!("expected 405, got {other:?}"),
        }
    }
}
