//! The debug UI on its own port (default 127.0.0.1:9999): what the daemon is doing, readable without
//! JavaScript. Pages: overview, live tail of requests with a detail page per request (request,
//! SQL, response), SQL log, unsupported features, indices and schemas, ingest status; plus
//! `/metrics` (Prometheus) and `/debug/pprof/*` (CPU and heap profiles).
//!
//! The UI only renders: what it shows is recorded by [`crate::telemetry`] (requests, statements,
//! metrics, unsupported features) and read from the rest of the daemon's state.

mod explore;
mod pages;
mod pprof;
mod proxy_pages;

use crate::server::AppState;
use axum::Router;
use axum::routing::get;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(pages::overview))
        .route("/requests", get(pages::requests))
        .route("/requests/{id}", get(pages::request_detail))
        .route("/sql", get(pages::sql))
        .route("/unsupported", get(pages::unsupported))
        .route("/indices", get(pages::indices))
        .route("/ingest", get(pages::ingest))
        .route("/routing", get(proxy_pages::routing))
        .route("/mismatches", get(proxy_pages::mismatches))
        .route("/mismatches/{id}", get(proxy_pages::mismatch))
        .route("/readiness", get(proxy_pages::readiness))
        .route("/api/mismatches", get(proxy_pages::api_mismatches))
        .route(
            "/api/secondary_failures",
            get(proxy_pages::api_secondary_failures),
        )
        .route("/api/readiness", get(proxy_pages::api_readiness))
        .route("/api/requests", get(pages::api_requests))
        .route("/api/requests/{id}", get(pages::api_request))
        .route("/metrics", get(pages::metrics))
        .route("/explore", get(explore::explore))
        .route("/api/kql", axum::routing::post(explore::api_kql))
        .route("/debug/pprof", get(pprof::index))
        .route("/debug/pprof/", get(pprof::index))
        .route("/debug/pprof/profile", get(pprof::profile))
        .route("/debug/pprof/flamegraph", get(pprof::flamegraph))
        .route("/debug/pprof/heap", get(pprof::heap))
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::security::layer::ui_layer,
        ))
        .with_state(state)
}
