//! Back-pressure as Elasticsearch's: a bounded number of searches in flight (its `search` thread
//! pool: workers plus a queue of 1000) and a bound on the bytes of write requests being handled
//! (`indexing_pressure.memory.limit`). Past either, the request is refused at once with 429
//! `es_rejected_execution_exception`, which clients and shippers retry with back-off, instead of
//! queueing without bound (docs/limits.md).

use crate::error::EsError;
use crate::server::AppState;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::Semaphore;

/// A write request whose size is not declared (chunked) counts as this many bytes.
const UNDECLARED_BODY_BYTES: u64 = 1 << 20;

pub struct Admission {
    searches: Arc<Semaphore>,
    search_capacity: usize,
    write_bytes: AtomicU64,
    write_limit: u64,
}

impl Admission {
    pub fn new(search_capacity: usize, write_limit: u64) -> Admission {
        Admission {
            searches: Arc::new(Semaphore::new(search_capacity)),
            search_capacity,
            write_bytes: AtomicU64::new(0),
            write_limit,
        }
    }
}

/// Gives the reserved bytes back when the write request is done (or dropped).
struct WriteBytes<'a> {
    adm: &'a Admission,
    n: u64,
    gauge: &'a prometheus_client::metrics::gauge::Gauge,
}

impl Drop for WriteBytes<'_> {
    fn drop(&mut self) {
        self.adm.write_bytes.fetch_sub(self.n, Ordering::SeqCst);
        self.gauge.dec_by(self.n as i64);
    }
}

pub async fn layer(State(s): State<AppState>, req: Request, next: Next) -> Response {
    // Set by the security layer outside this one.
    let action = match req.extensions().get::<crate::security::actions::Action>() {
        Some(a) => *a,
        None => crate::security::actions::classify(req.method(), req.uri().path()).0,
    };
    let adm = &s.admission;
    if action.name == crate::security::actions::SEARCH.name {
        let Ok(permit) = adm.searches.clone().try_acquire_owned() else {
            s.stats.metrics.rejected("search");
            tracing::warn!(capacity = adm.search_capacity, path = %req.uri().path(),
                "search rejected: search queue full");
            return EsError::new(
                429,
                "es_rejected_execution_exception",
                format!(
                    "rejected execution of search request on EsThreadPoolExecutor[name = {}/search, queue capacity = {}, active threads = {}]",
                    s.cfg.node_name, adm.search_capacity, adm.search_capacity
                ),
            )
            .into_response();
        };
        let gauge = s.stats.metrics.searches_in_flight.clone();
        gauge.inc();
        let resp = next.run(req).await;
        gauge.dec();
        drop(permit);
        return resp;
    }
    if action.name.starts_with("indices:data/write/") {
        let n = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(UNDECLARED_BODY_BYTES);
        let before = adm.write_bytes.fetch_add(n, Ordering::SeqCst);
        let metrics = &s.stats.metrics;
        let _held = WriteBytes {
            adm,
            n,
            gauge: &metrics.indexing_pressure_bytes,
        };
        metrics.indexing_pressure_bytes.inc_by(n as i64);
        // As IndexingPressure#markCoordinatingOperationStarted: the bytes in flight plus this
        // request's, against the limit.
        if before.saturating_add(n) > adm.write_limit {
            metrics.rejected("write");
            tracing::warn!(
                in_flight = before,
                request = n,
                limit = adm.write_limit,
                "write rejected: indexing pressure"
            );
            return EsError::new(
                429,
                "es_rejected_execution_exception",
                format!(
                    "rejected execution of coordinating operation [coordinating_and_primary_bytes={before}, replica_bytes=0, all_bytes={before}, coordinating_operation_bytes={n}, max_coordinating_and_primary_bytes={}]",
                    adm.write_limit
                ),
            )
            .into_response();
        }
        return next.run(req).await;
    }
    next.run(req).await
}
