//! HTTP transport: the listener, connection and header limits, timeouts, and the request pipeline
//! (CORS, bearer auth, rate limiting, body limits) in front of [`crate::api`].
//!
//! **Invariant:** this is the only module that knows hyper types.

mod body;
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
    /// Take the client IP from the first `X-Forwarded-For` address.
    pub trust_proxy: bool,
    /// Requests per minute per IP; 0 disables.
    pub rate_limit_api: u32,
    pub rate_limit_webhooks: u32,
    /// Longest wait for a request's headers, idle keep-alive included.
    pub header_timeout: Duration,
    /// Longest wait for a request's body once its headers arrived.
    pub body_timeout: Duration,
    /// Connections served at once; further ones wait in the kernel's backlog.
    pub max_connections: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            api_token: None,
            cors_origins: None,
            trust_proxy: false,
            rate_limit_api: 100,
            rate_limit_webhooks: 30,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 1024,
        }
    }
}

/// What every connection shares.
pub struct Shared {
    pub state: Arc<State>,
    config: HttpConfig,
    api_limiter: Option<RateLimiter>,
    webhook_limiter: Option<RateLimiter>,
    /// Set on the loopback admin listener only: the token `/admin/*` requests must present.
    admin_token: Option<String>,
}

impl Shared {
    /// The admin listener's: only `/admin/*`, with `token` in `X-Spar-Admin-Token`.
    pub fn admin(state: Arc<State>, token: String) -> Self {
        let config =
            HttpConfig { rate_limit_api: 0, rate_limit_webhooks: 0, ..HttpConfig::default() };
        Self { admin_token: Some(token), ..Self::new(state, config) }
    }

    pub fn new(state: Arc<State>, config: HttpConfig) -> Self {
        Self {
            admin_token: None,
            api_limiter: RateLimiter::per_minute(config.rate_limit_api, ratelimit::DEFAULT_CAP),
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
