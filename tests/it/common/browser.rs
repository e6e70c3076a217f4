//! A real browser for the console tests: Debian's headless Chromium, driven through chromedriver
//! with the fantoccini WebDriver client. Synchronous on the outside (each call blocks on a
//! runtime of its own), so a test reads top to bottom like the other tests.
//!
//! Besides driving pages it keeps what the browser saw: every console message (`browser` log)
//! and every URL the page requested (the `performance` log's `Network.requestWillBeSent`), so a
//! test can assert that no page logged an error and nothing left the server's origin.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

pub struct Browser {
    rt: tokio::runtime::Runtime,
    client: Option<Client>,
    driver: Child,
    /// The server's origin, `http://127.0.0.1:PORT`.
    pub origin: String,
    _profile: tempfile::TempDir,
    console: Vec<Value>,
    requests: Vec<String>,
}

/// chromedriver's log command (`POST /session/:id/se/log`), which fantoccini does not wrap.
#[derive(Debug)]
struct GetLog(&'static str);

impl WebDriverCompatibleCommand for GetLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({ "type": self.0 }).to_string()))
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a viewport `width` px wide (a phone's
    /// below 500) for the server at `origin`.
    pub fn open(origin: &str, width: u32) -> Self {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver package) must be installed");
        let profile = tempfile::tempdir().expect("profile dir");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        let caps = json!({
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    format!("--window-size={width},900"),
                    format!("--user-data-dir={}", profile.path().display()),
                    "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--disable-default-apps",
                ],
            },
            "goog:loggingPrefs": { "browser": "ALL", "performance": "ALL" },
        });
        let mut caps = caps.as_object().cloned().expect("object");
        // A desktop window is at least 500 px wide; a phone's viewport needs emulating.
        if width < 500 {
            let metrics =
                json!({ "deviceMetrics": { "width": width, "height": 800, "pixelRatio": 1 } });
            caps["goog:chromeOptions"]["mobileEmulation"] = metrics;
        }
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + WAIT;
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            let attempt =
                rt.block_on(ClientBuilder::new(connector).capabilities(caps.clone()).connect(&url));
            match attempt {
                Ok(client) => break client,
                Err(e) => {
                    assert!(Instant::now() < deadline, "no browser session: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        };
        Self {
            rt,
            client: Some(client),
            driver,
            origin: origin.trim_end_matches('/').to_owned(),
            _profile: profile,
            console: Vec::new(),
            requests: Vec::new(),
        }
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("open browser")
    }

    /// Opens `path` of the server (`/ui/#/agents`).
    pub fn goto(&mut self, path: &str) {
        let url = format!("{}{path}", self.origin);
        self.rt.block_on(self.client().goto(&url)).expect("goto");
    }

    /// Loads the page again (going to the URL it is on would not: only its hash would match).
    pub fn reload(&self) {
        self.rt.block_on(self.client().refresh()).expect("reload");
    }

    /// Runs `script` (its `arguments` are `args`) and answers what it returned.
    pub fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.rt.block_on(self.client().execute(script, args)).expect("execute")
    }

    /// The visible text of the page's `<main>`.
    pub fn main_text(&self) -> String {
        let text = self.js("return document.getElementById('main')?.innerText ?? ''", vec![]);
        text.as_str().unwrap_or_default().to_owned()
    }

    /// Waits until the page's `<main>` shows `text`.
    pub fn wait_for_text(&self, text: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let shown = self.main_text();
            if shown.contains(text) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the page never showed {text:?}; it shows:\n{shown}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Goes to a console page and waits until it has rendered `text`.
    pub fn page(&mut self, hash: &str, text: &str) {
        self.goto(&format!("/ui/#/{hash}"));
        self.wait_for_text(text);
    }

    /// Clicks the button whose accessible name (label or text) is `name`.
    pub fn click_button(&self, name: &str) {
        let xpath =
            format!("//button[@aria-label={0} or normalize-space()={0}]", xpath_literal(name));
        let found = self
            .rt
            .block_on(self.client().wait().at_most(WAIT).for_element(Locator::XPath(&xpath)));
        let button =
            found.unwrap_or_else(|e| panic!("no button {name:?}: {e}\n{}", self.main_text()));
        self.rt.block_on(button.click()).expect("click");
    }

    /// Types `text` into the element `css` finds.
    pub fn type_into(&self, css: &str, text: &str) {
        let found =
            self.rt.block_on(self.client().wait().at_most(WAIT).for_element(Locator::Css(css)));
        let input = found.unwrap_or_else(|e| panic!("no {css}: {e}"));
        self.rt.block_on(input.clear()).expect("clear");
        self.rt.block_on(input.send_keys(text)).expect("type");
    }

    /// Chooses `value` in the `<select>` `css` finds, as a user would (a change event fires).
    pub fn choose(&self, css: &str, value: &str) {
        let script = "const s = document.querySelector(arguments[0]); s.value = arguments[1]; \
                      s.dispatchEvent(new Event('change', { bubbles: true })); return s.value";
        let chosen = self.js(script, vec![json!(css), json!(value)]);
        assert_eq!(chosen, json!(value), "{css} has no option {value}");
    }

    /// Presses Enter in the element `css` finds (submits its form).
    pub fn submit(&self, css: &str) {
        let found = self.rt.block_on(self.client().find(Locator::Css(css))).expect("element");
        self.rt.block_on(found.send_keys("\u{E007}")).expect("enter");
    }

    /// Saves a screenshot as `target/ui-screenshots/<name>.png`.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.rt.block_on(self.client().screenshot()).expect("screenshot");
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Moves what the browser logged since the last call into `console` and `requests`.
    fn collect_logs(&mut self) {
        let browser = self.rt.block_on(self.client().issue_cmd(GetLog("browser"))).expect("log");
        self.console.extend(browser.as_array().cloned().unwrap_or_default());
        let performance =
            self.rt.block_on(self.client().issue_cmd(GetLog("performance"))).expect("log");
        for entry in performance.as_array().into_iter().flatten() {
            let message: Value =
                serde_json::from_str(entry["message"].as_str().unwrap_or("{}")).unwrap_or_default();
            let message = &message["message"];
            // Only what the server's pages asked for, not the browser's own start page.
            let params = &message["params"];
            let from_origin =
                params["documentURL"].as_str().is_some_and(|d| d.starts_with(&self.origin));
            if message["method"] == "Network.requestWillBeSent"
                && from_origin
                && let Some(url) = params["request"]["url"].as_str()
            {
                self.requests.push(url.to_owned());
            }
        }
    }

    /// Every console message of level WARNING or SEVERE so far (an error, a failed request, a
    /// CSP violation).
    pub fn console_problems(&mut self) -> Vec<String> {
        self.collect_logs();
        self.console
            .iter()
            .filter(|e| e["level"] == "SEVERE" || e["level"] == "WARNING")
            .map(|e| format!("{}: {}", e["level"], e["message"]))
            .collect()
    }

    /// Every URL the server's pages requested so far (the page itself included).
    pub fn requested(&mut self) -> Vec<String> {
        self.collect_logs();
        self.requests.clone()
    }
}

/// `s` as an XPath string literal.
fn xpath_literal(s: &str) -> String {
    if s.contains('\'') { format!("\"{s}\"") } else { format!("'{s}'") }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = self.rt.block_on(client.close());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
