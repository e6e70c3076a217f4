//! HTTP transport: the listener, connection and header limits, timeouts, and the request pipeline
//! (CORS, bearer auth, rate limiting, body limits) in front of [`crate::api`].
//!
//! **Invariant:** this is the only module that knows hyper types.

mod body;
pub mod client;
mod fair;
pub mod ratelimit;
mod server;
mod service;

use std::sync::Arc;
use std::time::Duration;

pub use server::serve;

use crate::api::State;
use ratelimit::RateLimiter;

/// Transport settings, resolved from flags and environment by the CLI.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// `ENGINE_API_TOKEN`: when set, `/api/*` needs `Authorization: Bearer <token>`.
    pub api_token: Option<String>,
    /// `CORS_ORIGIN`: allowed origins; `None` reflects any origin.
    pub cors_origins: Option<Vec<String>>,
    /// Proxies of ours in front of the server: the client is the address the last of them
    /// appended to `X-Forwarded-For` (0: the socket peer; see `client.rs`).
    pub trust_proxy_hops: u8,
    /// Requests per minute per IP; 0 disables.
    pub rate_limit_api: u32,
    pub rate_limit_webhooks: u32,
    /// Longest wait for a request's headers, idle keep-alive included.
    pub header_timeout: Duration,
    /// Longest wait for a request's body once its headers arrived.
    pub body_timeout: Duration,
    /// Connections served at once; further ones wait in the kernel's backlog.
    pub max_connections: usize,
    /// Connections one client address may hold open; more are closed at once (0: no cap).
    pub max_connections_per_client: usize,
    /// Event streams one client may hold open; more are answered 429 (0: no cap).
    pub max_streams_per_client: usize,
    /// Longest a connection may wait for its client to take bytes we send (a stream whose
    /// reader stopped reading is closed after it).
    pub write_timeout: Duration,
    /// `--access-log`: one `info` line per answered request, target `spar::access`.
    pub access_log: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            api_token: None,
            cors_origins: None,
            trust_proxy_hops: 0,
            rate_limit_api: 100,
            rate_limit_webhooks: 30,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 1024,
            max_connections_per_client: 64,
            max_streams_per_client: 8,
            write_timeout: Duration::from_secs(30),
            access_log: true,
        }
    }
}

/// What every connection shares.
pub struct Shared {
    pub state: Arc<State>,
    config: HttpConfig,
    api_limiter: Option<RateLimiter>,
    webhook_limiter: Option<RateLimiter>,
    connections: Option<Arc<fair::PerClient>>,
    streams: Option<Arc<fair::PerClient>>,
    /// Set on the loopback admin listener only: the token `/admin/*` requests must present.
    admin_token: Option<String>,
}

impl Shared {
    /// The admin listener's: only `/admin/*`, with `token` in `X-Spar-Admin-Token`; its
    /// requests are in the access log when the public listener's are.
    pub fn admin(state: Arc<State>, token: String, access_log: bool) -> Self {
        let config = HttpConfig {
            rate_limit_api: 0,
            rate_limit_webhooks: 0,
            access_log,
            ..HttpConfig::default()
        };
        Self { admin_token: Some(token), ..Self::new(state, config) }
    }

    pub fn new(state: Arc<State>, config: HttpConfig) -> Self {
        Self {
            admin_token: None,
            api_limiter: RateLimiter::per_minute(config.rate_limit_api, ratelimit::DEFAULT_CAP),
            connections: fair::PerClient::new(config.max_connections_per_client),
            streams: fair::PerClient::new(config.max_streams_per_client),
            webhook_limiter: RateLimiter::per_minute(
                config.rate_limit_webhooks,
                ratelimit::DEFAULT_CAP,
            ),
            state,
            config,
        }
    }

    fn sweep_limiters(&self) {
        self.api_limiter.iter().chain(self.webhook_limiter.iter()).for_each(RateLimiter::sweep);
    }
}
