//! The HTTP server of `--metrics-listen`: `GET /metrics` (the registry in the text
//! format Prometheus scrapes) and `GET /healthz` (200 while every link synced well within
//! its limit, else 503 with the reasons). Read-only; it stops with the watch.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;

use super::{CONTENT_TYPE, Metrics};

/// Serves `listener` until `stop` turns true.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let app = Router::new()
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(healthz))
        .with_state(metrics);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await;
    if let Err(e) = served {
        tracing::warn!("the metrics server stopped: {e}");
    }
}

async fn metrics_text(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], metrics.render())
}

async fn healthz(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    let (status, text) = match metrics.health() {
        Ok(summary) => (StatusCode::OK, summary),
        Err(reasons) => (StatusCode::SERVICE_UNAVAILABLE, reasons),
    };
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{text}\n"),
    )
}
