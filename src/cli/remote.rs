//! How the operator commands (`spar status`, `deliveries`, `tasks`, `audit`, `events`, …) reach
//! the running server, in the amtool manner: over its public HTTP API, exactly as curl would,
//! with the same credentials and the same answers.
//!
//! The server is found by `--url`, else `SPAR_URL`, else the address the server wrote to
//! `<data-dir>/spar.addr` (so a command on the server's own host needs no flags), else the
//! default `http://127.0.0.1:3000`. `SPAR_TOKEN`
//! is sent as the bearer token and `--org` (or `SPAR_ORG`) as `x-org-id`. A refusal comes back
//! as the server's own message.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use super::serve::ADDR_FILE;

/// Declares an operator command: its own options plus the ones every such command takes
/// (`--url`, `--data-dir`, `--org`, `--json`), and `remote()` to reach the server with them.
macro_rules! remote_command {
    // The command's own fields are passed as raw tokens: argh recognises `Option<T>` and `bool`
    // by how they are spelled, which a `ty` fragment would hide.
    ($(#[$meta:meta])* $name:ident $command:literal { $($fields:tt)* }) => {
        $(#[$meta])*
        #[derive(argh::FromArgs)]
        #[argh(subcommand, name = $command)]
        pub struct $name {
            $($fields)*
            /// the server's base URL [env SPAR_URL, else the address in <data-dir>/spar.addr]
            #[argh(option)]
            url: Option<String>,
            /// the data dir whose spar.addr names the server [env SPAR_DATA_DIR, else
            /// $STATE_DIRECTORY, else ./spar-data]
            #[argh(option)]
            data_dir: Option<std::path::PathBuf>,
            /// the org to act for, sent as x-org-id [env SPAR_ORG]
            #[argh(option)]
            org: Option<String>,
            /// print the server's JSON answer instead of a table
            #[argh(switch)]
            json: bool,
        }

        impl $name {
            #[allow(dead_code)]
            fn remote(&self) -> Result<$crate::cli::remote::Remote, String> {
                $crate::cli::remote::Remote::new(
                    self.url.clone(),
                    self.data_dir.clone(),
                    self.org.clone(),
                )
            }
        }
    };
}

/// Where the server is: a URL given, or the address file of a data dir (read again on every
/// call, so a restarted server on a new port is found).
enum Location {
    Url(String),
    AddrFile(PathBuf),
}

pub struct Remote {
    location: Location,
    token: Option<String>,
    org: Option<String>,
    agent: ureq::Agent,
}

/// Where a server started with the defaults listens.
const DEFAULT_URL: &str = "http://127.0.0.1:3000";

/// Time allowed for one answer (event streams excepted).
const TIMEOUT: Duration = Duration::from_secs(30);

impl Remote {
    pub fn new(
        url: Option<String>,
        data_dir: Option<PathBuf>,
        org: Option<String>,
    ) -> Result<Self, String> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let location = match url.or_else(|| env("SPAR_URL")) {
            Some(url) => Location::Url(url.trim_end_matches('/').to_owned()),
            None => Location::AddrFile(super::data_dir(data_dir)?.join(ADDR_FILE)),
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(5)))
            .build()
            .into();
        Ok(Self { location, token: env("SPAR_TOKEN"), org: org.or_else(|| env("SPAR_ORG")), agent })
    }

    /// The server's base URL (`http://127.0.0.1:3000`).
    pub fn base(&self) -> Result<String, String> {
        match &self.location {
            Location::Url(url) => Ok(url.clone()),
            Location::AddrFile(path) => {
                let Ok(text) = std::fs::read_to_string(path) else {
                    return Ok(DEFAULT_URL.to_owned());
                };
                let addr: std::net::SocketAddr = text
                    .trim()
                    .parse()
                    .map_err(|_| format!("{} does not hold an address", path.display()))?;
                Ok(format!("http://{}", reachable(addr)))
            }
        }
    }

    /// Why a call failed to connect, with where the address came from.
    fn unreachable(&self, base: &str, e: &ureq::Error) -> String {
        let whence = match &self.location {
            Location::Url(_) => String::new(),
            Location::AddrFile(path) if path.is_file() => format!(" (from {})", path.display()),
            Location::AddrFile(path) => format!(
                " (the default: {} does not exist; pass --data-dir, --url or SPAR_URL)",
                path.display()
            ),
        };
        format!("cannot reach the server at {base}{whence}: {e}")
    }

    /// A request to `path` of the server at `base` with the credentials.
    fn request(&self, base: &str, method: &str, path: &str) -> ureq::http::request::Builder {
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{base}{path}"))
            .header("Accept", "application/json");
        if let Some(token) = &self.token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        if let Some(org) = &self.org {
            request = request.header("x-org-id", org.as_str());
        }
        request
    }

    pub fn get(&self, path: &str) -> Result<Value, String> {
        self.call("GET", path, None)
    }

    pub fn post(&self, path: &str, body: Option<Value>) -> Result<Value, String> {
        self.call("POST", path, Some(body.unwrap_or_else(|| Value::Object(Default::default()))))
    }

    /// One call; the answer's JSON, or the server's error message.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let (status, answer) = self.call_any(method, path, body)?;
        if (200..300).contains(&status) { Ok(answer) } else { Err(refusal(status, &answer)) }
    }

    /// One call; its status and JSON, whatever the status.
    pub fn call_any(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), String> {
        let base = self.base()?;
        let request = self.request(&base, method, path);
        let config = self.agent.configure_request(match body {
            Some(b) => request
                .header("Content-Type", "application/json")
                .body(b.to_string())
                .map_err(|e| e.to_string())?,
            None => request.body(String::new()).map_err(|e| e.to_string())?,
        });
        let request = config.timeout_global(Some(TIMEOUT)).build();
        let mut response = self.agent.run(request).map_err(|e| self.unreachable(&base, &e))?;
        let status = response.status().as_u16();
        let bytes = response
            .body_mut()
            .read_to_vec()
            .map_err(|e| format!("the answer from {base} could not be read: {e}"))?;
        match serde_json::from_slice(&bytes) {
            Ok(answer) => Ok((status, answer)),
            // An error's body may be anything; a success that is not JSON is not Spar's.
            Err(_) if !(200..300).contains(&status) => Ok((status, Value::Null)),
            Err(e) => Err(format!("the answer from {base} is not JSON: {e}")),
        }
    }

    /// An event stream (`GET path` as `text/event-stream`), resuming after `last_id`.
    pub fn stream(
        &self,
        path: &str,
        last_id: Option<&str>,
    ) -> Result<ureq::http::Response<ureq::Body>, String> {
        let base = self.base()?;
        let mut request = self.request(&base, "GET", path).header("Accept", "text/event-stream");
        if let Some(id) = last_id {
            request = request.header("Last-Event-ID", id);
        }
        let request = request.body(()).map_err(|e| e.to_string())?;
        // The head must come in time; the body is an open-ended stream.
        let request =
            self.agent.configure_request(request).timeout_recv_response(Some(TIMEOUT)).build();
        let response = self.agent.run(request).map_err(|e| self.unreachable(&base, &e))?;
        let status = response.status().as_u16();
        if status == 200 {
            return Ok(response);
        }
        let mut response = response;
        let bytes = response.body_mut().read_to_vec().unwrap_or_default();
        Err(refusal(status, &serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
    }
}

/// A server that listens on every address is reached on loopback.
fn reachable(addr: std::net::SocketAddr) -> std::net::SocketAddr {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, addr.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, addr.port()).into(),
        _ => addr,
    }
}

/// The server's refusal as the user reads it: `404 DELIVERY_NOT_FOUND: Delivery 'dlv-9' not
/// found`. Every Spar API answers errors with a message in `error`, `message` or `detail`.
fn refusal(status: u16, answer: &Value) -> String {
    let message = ["error", "message", "detail"].iter().find_map(|k| answer[*k].as_str());
    let code = answer["code"].as_str().map(|c| format!(" {c}")).unwrap_or_default();
    match message {
        Some(m) => format!("the server answered {status}{code}: {m}"),
        None => format!("the server answered {status}"),
    }
}

/// Prints `value` as pretty JSON (`--json`).
pub fn print_json(value: &Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

/// Prints rows under headings, each column as wide as its widest cell. Cells longer than
/// [`CELL_MAX`] characters are cut on a terminal only, so a pipe gets the whole text.
pub fn print_table(headings: &[&str], rows: &[Vec<String>]) {
    let cut = std::io::stdout().is_terminal();
    let cell = |text: &str| -> String {
        let one_line = text.replace(['\n', '\r', '\t'], " ");
        if cut && one_line.chars().count() > CELL_MAX {
            let kept: String = one_line.chars().take(CELL_MAX - 1).collect();
            format!("{kept}…")
        } else {
            one_line
        }
    };
    let rows: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(|c| cell(c)).collect()).collect();
    let mut widths: Vec<usize> = headings.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, c) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w.saturating_sub(c.chars().count()))))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    // A list of facts (`status`) has no headings to print.
    if headings.iter().any(|h| !h.is_empty()) {
        line(headings.to_vec());
    }
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
    if rows.is_empty() {
        println!("(none)");
    }
}

const CELL_MAX: usize = 60;

/// A JSON field as table text: strings bare, `null` as `-`, the rest as JSON.
pub fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(s) if s.is_empty() => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The end of an operator command: its error, if any, on stderr with the command's name.
pub fn finish(command: &str, outcome: Result<bool, String>) -> std::process::ExitCode {
    match outcome {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("spar {command}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_quote_the_server() {
        let answer = serde_json::json!({ "error": "Delivery 'dlv-9' not found", "code": "DELIVERY_NOT_FOUND" });
        assert_eq!(
            refusal(404, &answer),
            "the server answered 404 DELIVERY_NOT_FOUND: Delivery 'dlv-9' not found"
        );
        assert_eq!(refusal(502, &Value::Null), "the server answered 502");
        let potpie = serde_json::json!({ "detail": "Invalid API key" });
        assert_eq!(refusal(401, &potpie), "the server answered 401: Invalid API key");
    }

    #[test]
    fn every_address_is_reached_on_loopback() {
        assert_eq!(reachable("0.0.0.0:3000".parse().unwrap()).to_string(), "127.0.0.1:3000");
        assert_eq!(reachable("[::]:3000".parse().unwrap()).to_string(), "[::1]:3000");
        assert_eq!(reachable("10.0.0.5:80".parse().unwrap()).to_string(), "10.0.0.5:80");
    }
}
