//! Metrics and request tracing: what the daemon counts and what each request did. A leaf module:
//! it imports nothing of the crate, so every layer (the ES API middleware, the ClickHouse client,
//! the write path, the A/B comparison) may record into it, and the debug UI only reads it.
//!
//! [`Stats`] is the state the ES API middleware feeds: the request ring ([`trace`]), the metrics
//! ([`metrics`]), the unsupported features and the rates the debug UI's overview shows.

pub mod metrics;
pub mod trace;

use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use parking_lot::Mutex;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use trace::{RequestTrace, Ring};

/// The pseudo index name of requests that name no index (`/_search`, `/_cat/indices`, `/`): only
/// routing rules whose glob matches it (`*`) apply, and A/B metrics count such requests under it.
pub const NO_INDEX: &str = "_all";

#[derive(Debug, Clone)]
pub struct Unsupported {
    pub count: u64,
    pub example: String,
    /// The request of the example, while it is still in the ring.
    pub example_request: Option<u64>,
    /// The start of the example's body.
    pub example_body: String,
    pub last_seen: String,
}

/// Counters and bounded recent history, shared by all handlers.
pub struct Stats {
    pub requests_total: AtomicU64,
    pub errors_total: AtomicU64,
    pub docs_ingested: AtomicU64,
    pub started: Instant,
    pub ring: Ring,
    pub metrics: metrics::Metrics,
    unsupported: Mutex<BTreeMap<String, Unsupported>>,
    /// Requests and errors per wall-clock second, the last minute.
    seconds: Mutex<VecDeque<(i64, u64, u64)>>,
    /// (when, docs_ingested) samples for the ingest rate.
    doc_samples: Mutex<VecDeque<(Instant, u64)>>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats::new(&metrics::ClickHouseMetrics::default())
    }
}

/// Characters of a request body kept as the example of an unsupported feature.
const EXAMPLE_BODY: usize = 2048;

impl Stats {
    pub fn new(ch: &metrics::ClickHouseMetrics) -> Stats {
        Stats {
            requests_total: AtomicU64::new(0),
            errors_total: AtomicU64::new(0),
            docs_ingested: AtomicU64::new(0),
            started: Instant::now(),
            ring: Ring::default(),
            metrics: metrics::Metrics::new(ch),
            unsupported: Mutex::new(BTreeMap::new()),
            seconds: Mutex::new(VecDeque::new()),
            doc_samples: Mutex::new(VecDeque::new()),
        }
    }

    /// Opens the trace of an ES API request: returns it, the request with a body that is copied into
    /// it, and the `tracing` span to run the request in.
    pub fn begin(&self, req: Request) -> (Arc<RequestTrace>, Request, tracing::Span) {
        let endpoint =
            metrics::endpoint_of(req.extensions().get::<MatchedPath>().map(|m| m.as_str()));
        let trace = self.ring.begin(&req, endpoint);
        self.metrics.request_started();
        self.sample_docs();
        let span = tracing::info_span!(
            "request",
            request_id = trace.id,
            method = %trace.method,
            path = %trace.path,
            endpoint = %trace.endpoint,
            opaque_id = trace.opaque_id.as_deref(),
        );
        // Body bytes of the write endpoints count as ingested bytes, as they arrive.
        let ingest = metrics::is_ingest_endpoint(&trace.endpoint)
            .then(|| self.metrics.ingest_counter(&trace.endpoint));
        let req = trace::tee_request(&trace, req, move |n| {
            if let Some(c) = &ingest {
                c.inc_by(n);
            }
        });
        (trace, req, span)
    }

    /// Closes the trace: status, latency, metrics, the log line; copies the response body.
    pub async fn finish(
        &self,
        trace: &Arc<RequestTrace>,
        resp: Response,
        unsupported: Option<String>,
    ) -> Response {
        let status = resp.status().as_u16();
        let elapsed = trace.started.elapsed();
        let millis = elapsed.as_secs_f64() * 1000.0;
        let content_type = resp
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        trace.finish(status, millis, content_type, unsupported.clone());
        self.metrics.request_finished(
            &trace.endpoint,
            &trace.method,
            status,
            elapsed.as_secs_f64(),
        );
        self.metrics
            .error_answer(&trace.endpoint, status, resp.extensions().get());
        tracing::info!(
            request_id = trace.id,
            method = %trace.method,
            path = %trace.path,
            status,
            millis,
            opaque_id = trace.opaque_id.as_deref(),
            "request"
        );
        if let Some(feature) = &unsupported {
            tracing::warn!(request_id = trace.id, method = %trace.method, path = %trace.path,
                feature, "unsupported feature requested");
            self.record_unsupported_request(feature, trace);
        }
        self.count_request(status);
        self.sample_docs();
        trace::tee_response(trace, resp).await
    }

    fn count_request(&self, status: u16) {
        self.requests_total.fetch_add(1, Ordering::Relaxed);
        let error = status >= 400;
        if error {
            self.errors_total.fetch_add(1, Ordering::Relaxed);
        }
        let now = chrono::Utc::now().timestamp();
        let mut s = self.seconds.lock();
        match s.back_mut() {
            Some(b) if b.0 == now => {
                b.1 += 1;
                b.2 += u64::from(error);
            }
            _ => s.push_back((now, 1, u64::from(error))),
        }
        while s.front().is_some_and(|b| b.0 <= now - 60) {
            s.pop_front();
        }
    }

    fn sample_docs(&self) {
        let now = Instant::now();
        let docs = self.docs_ingested.load(Ordering::Relaxed);
        let mut s = self.doc_samples.lock();
        if s.back()
            .is_some_and(|(t, _)| now.duration_since(*t) < Duration::from_millis(500))
        {
            return;
        }
        s.push_back((now, docs));
        // Keep one sample older than a minute as the baseline.
        while s.len() > 2 && now.duration_since(s[1].0) > Duration::from_secs(60) {
            s.pop_front();
        }
    }

    /// Requests and errors in the last 60 seconds.
    pub fn last_minute(&self) -> (u64, u64) {
        let now = chrono::Utc::now().timestamp();
        let s = self.seconds.lock();
        s.iter()
            .filter(|b| b.0 > now - 60)
            .fold((0, 0), |(r, e), b| (r + b.1, e + b.2))
    }

    /// Documents ingested per second over (about) the last minute.
    pub fn docs_per_second(&self) -> f64 {
        self.sample_docs();
        let now = Instant::now();
        let docs = self.docs_ingested.load(Ordering::Relaxed);
        let s = self.doc_samples.lock();
        let base = s
            .iter()
            .rev()
            .find(|(t, _)| now.duration_since(*t) >= Duration::from_secs(60))
            .or_else(|| s.front());
        match base {
            Some((t, d)) => {
                let secs = now.duration_since(*t).as_secs_f64().max(1.0);
                docs.saturating_sub(*d) as f64 / secs
            }
            None => 0.0,
        }
    }

    /// Records an unsupported feature with a textual example (kept for callers outside requests).
    pub fn record_unsupported(&self, feature: &str, example: &str) {
        self.metrics.unsupported(feature);
        self.upsert_unsupported(feature, example.to_string(), None, String::new());
    }

    fn record_unsupported_request(&self, feature: &str, trace: &RequestTrace) {
        self.metrics.unsupported(feature);
        let body = trace.data().request_body;
        let body = String::from_utf8_lossy(&body[..body.len().min(EXAMPLE_BODY)]).into_owned();
        let mut example = format!("{} {}", trace.method, trace.path);
        if !trace.query.is_empty() {
            example.push('?');
            example.push_str(&trace.query);
        }
        self.upsert_unsupported(feature, example, Some(trace.id), body);
    }

    fn upsert_unsupported(
        &self,
        feature: &str,
        example: String,
        request: Option<u64>,
        body: String,
    ) {
        let now = chrono::Utc::now()
            .format("%Y-%m-%d %H:%M:%S UTC")
            .to_string();
        let mut u = self.unsupported.lock();
        let e = u.entry(feature.to_string()).or_insert(Unsupported {
            count: 0,
            example,
            example_request: request,
            example_body: body,
            last_seen: now.clone(),
        });
        e.count += 1;
        e.last_seen = now;
    }

    pub fn unsupported(&self) -> BTreeMap<String, Unsupported> {
        self.unsupported.lock().clone()
    }
}
