//! The baseline for `GET /api/agents`: a bare hyper 1.x server answering every request with a
//! fixed JSON body of the same size as ten agents, on the same runtime settings as spar.
//!
//! `cargo run --release --example bare_hyper -- 127.0.0.1:3997`

// A bench or example fails loudly on broken setup; the server code never panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

/// Ten agents as `GET /api/agents` returns them (about 2.3 KB).
fn body() -> Bytes {
    let agent = r#"{"id":"agent-task-hr60hx","name":"bench-agent-0","type":"task","status":"ACTIVE","autonomyLevel":1,"projectId":null,"orgId":"default","uptime":10,"lastActivity":null,"createdAt":"2026-11-23T08:27:44.147Z"}"#;
    Bytes::from(format!("[{}]", [agent; 10].join(",")))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:3997".into());
    let listener = TcpListener::bind(&addr).await?;
    let body = body();
    eprintln!("bare hyper on {addr}, body {} bytes", body.len());
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let body = body.clone();
        tokio::spawn(async move {
            let service = service_fn(move |_req| {
                let body = body.clone();
                async move {
                    let mut res = hyper::Response::new(Full::new(body));
                    res.headers_mut().insert(
                        "content-type",
                        hyper::header::HeaderValue::from_static("application/json; charset=utf-8"),
                    );
                    Ok::<_, Infallible>(res)
                }
            });
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
