//! Where an offline command does its work: on a stopped server's store directly, or through
//! the running server's loopback admin listener (redb lets one process open the file; the server
//! keeps the listener's address and token in `<data-dir>/spar.admin`, mode 0600).

use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::serve::ADMIN_FILE;
use crate::api::admin::AdminError;
use crate::store::{Store, StoreError};

/// Where the command does its work.
pub enum Target {
    /// No server holds the store: open it here.
    Stopped(PathBuf),
    /// A server runs on the data dir: its admin listener.
    Running(AdminClient),
}

impl Target {
    pub fn of(dir: &Path, may_create: bool) -> Result<Self, String> {
        if !may_create && !dir.join("spar.redb").is_file() {
            return Err(format!("no store in {} (is --data-dir right?)", dir.display()));
        }
        // A server writes the admin file on start and removes it on a clean stop; after a
        // crash it is stale, and opening the store then works.
        match Store::open(dir) {
            Ok(store) => {
                store.close();
                Ok(Self::Stopped(dir.to_owned()))
            }
            Err(StoreError::AlreadyOpen(_)) => AdminClient::read(dir).map(Self::Running),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Runs `work` on the data dir's store, then closes it.
pub fn local<T, F, Fut>(dir: &Path, work: F) -> Result<T, String>
where
    F: FnOnce(Store) -> Fut,
    Fut: std::future::Future<Output = Result<T, AdminError>>,
{
    let store = Store::open(dir).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let result = runtime.block_on(work(store.clone()));
    store.close();
    result.map_err(|e| e.to_string())
}

pub struct AdminClient {
    addr: String,
    token: String,
}

impl AdminClient {
    fn read(dir: &Path) -> Result<Self, String> {
        let path = dir.join(ADMIN_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "a server holds {} but its admin file {} cannot be read: {e}",
                dir.display(),
                path.display()
            )
        })?;
        let (addr, token) = text
            .trim()
            .split_once(' ')
            .ok_or_else(|| format!("{} is malformed", path.display()))?;
        Ok(Self { addr: addr.to_owned(), token: token.to_owned() })
    }

    /// An admin call whose answer is a stream of JSON lines, each handed to `line` as it
    /// arrives (no overall timeout: a backup of a large store takes a while).
    pub fn stream(
        &self,
        path: &str,
        body: Value,
        mut line: impl FnMut(Value),
    ) -> Result<(), String> {
        let agent: ureq::Agent =
            ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let request = ureq::http::Request::builder()
            .method("POST")
            .uri(format!("http://{}{path}", self.addr))
            .header("X-Spar-Admin-Token", self.token.as_str())
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .map_err(|e| e.to_string())?;
        let mut response =
            agent.run(request).map_err(|e| format!("cannot reach the running server: {e}"))?;
        let status = response.status().as_u16();
        let reader = std::io::BufReader::new(response.body_mut().as_reader());
        for text in reader.lines() {
            let text = text.map_err(|e| format!("the server stopped answering: {e}"))?;
            let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if !(200..300).contains(&status) {
                return Err(value["error"]
                    .as_str()
                    .map_or_else(|| format!("the server answered {status}"), str::to_owned));
            }
            line(value);
        }
        Ok(())
    }

    /// One admin call; the answer's JSON, or its error message.
    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(30)))
            .build()
            .into();
        let url = format!("http://{}{path}", self.addr);
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(url)
            .header("X-Spar-Admin-Token", self.token.as_str())
            .header("Content-Type", "application/json");
        let sent = match body {
            Some(b) => agent.run(request.body(b.to_string()).map_err(|e| e.to_string())?),
            None => agent.run(request.body(()).map_err(|e| e.to_string())?),
        };
        let mut response = sent.map_err(|e| format!("cannot reach the running server: {e}"))?;
        let status = response.status().as_u16();
        let bytes = response.body_mut().read_to_vec().unwrap_or_default();
        let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            Ok(answer)
        } else {
            Err(answer["error"]
                .as_str()
                .map_or_else(|| format!("the server answered {status}"), str::to_owned))
        }
    }
}

pub fn decode<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, String> {
    serde_json::from_value(value).map_err(|e| format!("unexpected answer from the server: {e}"))
}
