//! `GET /metrics` over HTTP/1.1 (hyper), on the metrics listener only,
//! with its own bounds: at most [`MAX_SCRAPERS`] connections at once
//! (more are closed as they are accepted) and [`SCRAPE_TIME`] each, so
//! nothing done to this port can use up the daemon's descriptors or
//! touch sign-ins on the exec port.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::Metrics;

/// The OpenMetrics text content type.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

fn reply(metrics: &Metrics, req: &Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    let (status, body, kind) = match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => (StatusCode::OK, metrics.encode(), CONTENT_TYPE),
        (_, "/metrics") => (StatusCode::METHOD_NOT_ALLOWED, String::new(), "text/plain"),
        _ => (StatusCode::NOT_FOUND, "see /metrics\n".into(), "text/plain"),
    };
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = kind.parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

/// Metrics connections open at once; Prometheus needs one per server.
pub const MAX_SCRAPERS: usize = 16;
/// How long one metrics connection may stay open, whatever it does.
pub const SCRAPE_TIME: std::time::Duration = std::time::Duration::from_secs(10);

/// Serve `metrics` on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>) {
    let open = Arc::new(tokio::sync::Semaphore::new(MAX_SCRAPERS));
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        // Over the cap: closed at once (its descriptor is back right away).
        let Ok(permit) = open.clone().try_acquire_owned() else {
            drop(tcp);
            continue;
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(move |req| {
                let r = reply(&metrics, &req);
                async move { Ok::<_, Infallible>(r) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service);
            // A scraper that stalls is cut off.
            let _ = tokio::time::timeout(SCRAPE_TIME, conn).await;
        });
    }
}
