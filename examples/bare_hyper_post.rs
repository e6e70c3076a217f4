//! The baseline for webhook ingest: a bare hyper 1.x server that reads every request's body to
//! the end and answers a fixed JSON body about the size of Spar's ingest answer, on the same
//! runtime settings as spar. Nothing is parsed, verified or stored: this is what the socket,
//! hyper and reading a 9 KB body cost on this machine.
//!
//! `cargo run --release --example bare_hyper_post -- 127.0.0.1:3989`

// A bench or example fails loudly on broken setup; the server code never panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

/// What Spar answers a recorded push (about 150 bytes).
const ANSWER: &str = r#"{"received":true,"event":"push","repo":"acme/api-gateway","processed":true,"eventId":"evt-123456","projectId":"proj-abcdef"}"#;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:3989".into());
    let listener = TcpListener::bind(&addr).await?;
    eprintln!("bare hyper POST on {addr}");
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                // Read the whole body, as Spar must before it can verify a signature.
                let len = match req.into_body().collect().await {
                    Ok(body) => body.to_bytes().len(),
                    Err(_) => 0,
                };
                let mut res =
                    hyper::Response::new(Full::new(Bytes::from_static(ANSWER.as_bytes())));
                if len == 0 {
                    *res.status_mut() = hyper::StatusCode::BAD_REQUEST;
                }
                res.headers_mut().insert(
                    "content-type",
                    hyper::header::HeaderValue::from_static("application/json; charset=utf-8"),
                );
                Ok::<_, Infallible>(res)
            });
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
