//! Request traces: what one Elasticsearch API request asked, which ClickHouse statements it caused,
//! and what it answered, kept in a bounded ring for the debug UI.
//!
//! The ES API middleware opens a trace per request and runs the handler inside a tokio task-local
//! scope holding it; the ClickHouse client looks the trace up when it records a statement, so every
//! statement is attributed to the request that issued it without passing anything through the
//! handlers. Bodies are kept up to [`BODY_LIMIT`] bytes each.

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use http_body_util::BodyExt;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Bytes of each request and response body kept per trace.
pub const BODY_LIMIT: usize = 64 * 1024;
/// Requests kept in the ring.
pub const RING_LEN: usize = 500;
/// Statements kept per request (a large `_bulk` issues many).
const SQL_PER_REQUEST: usize = 200;
/// Characters of one statement's SQL kept in a trace.
const SQL_TEXT_LIMIT: usize = 16 * 1024;

/// One ClickHouse statement, as the client's log and a request's trace keep it (and the debug UI
/// shows it).
#[derive(Debug, Clone, serde::Serialize)]
pub struct QueryRecord {
    pub query_id: String,
    pub sql: String,
    pub millis: f64,
    pub rows: Option<usize>,
    pub error: Option<String>,
    pub at: String,
}

tokio::task_local! {
    static CURRENT: Arc<RequestTrace>;
}

/// The trace of the request being served by this task, if any.
pub fn current() -> Option<Arc<RequestTrace>> {
    CURRENT.try_with(Arc::clone).ok()
}

/// Runs `fut` with `trace` as the current request.
pub async fn scope<F: Future>(trace: Arc<RequestTrace>, fut: F) -> F::Output {
    CURRENT.scope(trace, fut).await
}

pub struct RequestTrace {
    pub id: u64,
    pub at: chrono::DateTime<chrono::Utc>,
    pub started: Instant,
    pub method: String,
    pub path: String,
    pub query: String,
    /// Route pattern reduced to its API name (`_search`, `_bulk`, …), see `metrics::endpoint_of`.
    pub endpoint: String,
    pub opaque_id: Option<String>,
    pub content_type: Option<String>,
    data: Mutex<TraceData>,
}

/// The parts of a trace that fill in while the request runs.
#[derive(Clone, Default)]
pub struct TraceData {
    pub request_body: Vec<u8>,
    pub request_bytes: u64,
    pub status: Option<u16>,
    pub millis: Option<f64>,
    pub sql: Vec<QueryRecord>,
    pub sql_dropped: usize,
    pub response_body: Vec<u8>,
    pub response_bytes: u64,
    pub response_content_type: Option<String>,
    pub unsupported: Option<String>,
    /// Where routing sent the request (`clickhouse`, `elasticsearch`, `dual_write (primary …)`, …),
    /// when an Elasticsearch is configured.
    pub routing: Option<String>,
    /// The A/B mismatch this request produced, in the compare store.
    pub mismatch: Option<u64>,
}

impl RequestTrace {
    pub fn data(&self) -> TraceData {
        self.data.lock().clone()
    }

    pub fn status(&self) -> Option<u16> {
        self.data.lock().status
    }

    pub fn millis(&self) -> Option<f64> {
        self.data.lock().millis
    }

    pub fn set_routing(&self, decision: String) {
        self.data.lock().routing = Some(decision);
    }

    pub fn set_mismatch(&self, id: u64) {
        self.data.lock().mismatch = Some(id);
    }

    /// A ClickHouse statement issued while serving this request.
    pub fn add_sql(&self, q: &QueryRecord) {
        let mut d = self.data.lock();
        if d.sql.len() >= SQL_PER_REQUEST {
            d.sql_dropped += 1;
            return;
        }
        let mut q = q.clone();
        if q.sql.len() > SQL_TEXT_LIMIT {
            let cut = floor_char_boundary(&q.sql, SQL_TEXT_LIMIT);
            q.sql.truncate(cut);
            q.sql.push_str(" …(truncated)");
        }
        d.sql.push(q);
    }

    fn add_request_chunk(&self, chunk: &[u8]) {
        let mut d = self.data.lock();
        d.request_bytes += chunk.len() as u64;
        append_bounded(&mut d.request_body, chunk);
    }

    fn add_response_chunk(&self, chunk: &[u8]) {
        let mut d = self.data.lock();
        d.response_bytes += chunk.len() as u64;
        append_bounded(&mut d.response_body, chunk);
    }

    pub(crate) fn finish(
        &self,
        status: u16,
        millis: f64,
        content_type: Option<String>,
        unsupported: Option<String>,
    ) {
        let mut d = self.data.lock();
        d.status = Some(status);
        d.millis = Some(millis);
        d.response_content_type = content_type;
        d.unsupported = unsupported;
    }
}

fn append_bounded(buf: &mut Vec<u8>, chunk: &[u8]) {
    let room = BODY_LIMIT.saturating_sub(buf.len());
    buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The last [`RING_LEN`] requests, oldest first.
#[derive(Default)]
pub struct Ring {
    next_id: AtomicU64,
    traces: Mutex<VecDeque<Arc<RequestTrace>>>,
}

impl Ring {
    /// Opens the trace of a request that is starting.
    pub fn begin(&self, req: &Request, endpoint: String) -> Arc<RequestTrace> {
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        // The id is taken under the ring's lock, so ids in the ring are consecutive and `get` can
        // index by them: concurrent requests would otherwise push out of id order.
        let mut ring = self.traces.lock();
        let trace = Arc::new(RequestTrace {
            id: self.next_id.fetch_add(1, Ordering::Relaxed) + 1,
            at: chrono::Utc::now(),
            started: Instant::now(),
            method: req.method().to_string(),
            path: req.uri().path().to_string(),
            query: req.uri().query().unwrap_or("").to_string(),
            endpoint,
            opaque_id: header("x-opaque-id"),
            content_type: header("content-type"),
            data: Mutex::new(TraceData::default()),
        });
        if ring.len() == RING_LEN {
            ring.pop_front();
        }
        ring.push_back(trace.clone());
        trace
    }

    pub fn get(&self, id: u64) -> Option<Arc<RequestTrace>> {
        let ring = self.traces.lock();
        let first = ring.front()?.id;
        let t = ring.get(usize::try_from(id.checked_sub(first)?).ok()?)?;
        (t.id == id).then(|| t.clone())
    }

    /// All kept traces, oldest first.
    pub fn all(&self) -> Vec<Arc<RequestTrace>> {
        self.traces.lock().iter().cloned().collect()
    }
}

/// Replaces the request body by one that copies what the handler reads into the trace, and calls
/// `on_bytes` with the size of every chunk.
pub fn tee_request(
    trace: &Arc<RequestTrace>,
    req: Request,
    on_bytes: impl Fn(u64) + Send + Sync + 'static,
) -> Request {
    let (parts, body) = req.into_parts();
    let t = trace.clone();
    let stream = body.into_data_stream().inspect(move |chunk| {
        if let Ok(c) = chunk {
            t.add_request_chunk(c);
            on_bytes(c.len() as u64);
        }
    });
    Request::from_parts(parts, Body::from_stream(stream))
}

/// Copies the response body into the trace. A body already in memory (the usual JSON answer) is
/// taken whole and put back with its length; a streamed one is copied as it goes out.
pub async fn tee_response(trace: &Arc<RequestTrace>, resp: Response) -> Response {
    let (parts, body) = resp.into_parts();
    if axum::body::HttpBody::size_hint(&body).exact().is_some() {
        match body.collect().await {
            Ok(c) => {
                let bytes: Bytes = c.to_bytes();
                trace.add_response_chunk(&bytes);
                Response::from_parts(parts, Body::from(bytes))
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading a response body failed");
                Response::from_parts(parts, Body::empty())
            }
        }
    } else {
        let t = trace.clone();
        let stream = body.into_data_stream().inspect(move |chunk| {
            if let Ok(c) = chunk {
                t.add_response_chunk(c);
            }
        });
        Response::from_parts(parts, Body::from_stream(stream))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Requests begun on several threads at once are all found by their id (a flaky CI failure:
    /// ids were taken before the lock, so the ring could hold them out of order).
    #[test]
    fn concurrent_requests_are_found_by_id() {
        let ring = Arc::new(Ring::default());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let ring = ring.clone();
                std::thread::spawn(move || {
                    (0..50)
                        .map(|_| {
                            let req = Request::builder().uri("/_search").body(Body::empty());
                            ring.begin(&req.unwrap(), "search".into()).id
                        })
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        let ids: Vec<u64> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        assert_eq!(ids.len(), 400);
        for id in ids {
            assert_eq!(ring.get(id).map(|t| t.id), Some(id));
        }
    }
}
