//! The routing middleware of the Elasticsearch API: runs inside the request's trace (after the API
//! layer opened it, before the handlers) and decides per request where it goes.
//!
//! - No `elasticsearch_url`: everything is served here (the layer does nothing).
//! - `mode = "proxy"`: everything is streamed to Elasticsearch and back unchanged; search bodies
//!   are read (and passed on byte for byte) to record the features elastichouse would not support.
//! - Otherwise the [`Routing`](super::Routing) decides from the path (and the action/header lines
//!   of `_bulk`/`_msearch`): served here, passed through, dual write, or A/B query.

use super::record::SecondaryFailure;
use super::{Classified, Decision, body_has_lines_without_index, body_indices, classify};
use crate::compare::store::{Comparison, Side, truncate};
use crate::compare::{self, Options};
use crate::config::{Backend, Mode};
use crate::elastic::{Buffered, Elastic};
use crate::error::EsError;
use crate::es_api::Params;
use crate::server::AppState;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;

/// Serves a request here (`Local`) or streams it to Elasticsearch (`Forward`), counting the
/// decision.
async fn serve_or_forward(
    s: &AppState,
    es: &Elastic,
    decision: Decision,
    req: Request,
    next: Next,
) -> Response {
    s.stats.metrics.routed(decision.as_str());
    match decision {
        Decision::Local => next.run(req).await,
        _ => es.forward(req).await.unwrap_or_else(|e| e.into_response()),
    }
}

/// Largest request body read into memory (Elasticsearch's default `http.max_content_length`).
const MAX_BODY: usize = 100 * 1024 * 1024;

/// Whether elastichouse has a handler for the request. A route that matched only because an API
/// name took the place of `{index}` (`GET /_nodes` matching `/{index}`) does not count.
fn handled_here(req: &Request) -> bool {
    let Some(m) = req.extensions().get::<MatchedPath>() else {
        return false;
    };
    let first = req
        .uri()
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("");
    let api_read_as_index =
        m.as_str().starts_with("/{index}") && first.starts_with('_') && first != "_all";
    !(api_read_as_index || crate::es_api::cluster::is_other_node_api(req.uri().path()))
}

/// Top-level names of Elasticsearch APIs that elastichouse does not implement and whose
/// one-segment paths (`GET /_snapshot`) would otherwise be read as an index name (from the
/// rest-api-spec of elastic/elasticsearch 8.x).
const ES_API_ROOTS: &[&str] = &[
    "_analyze",
    "_application",
    "_autoscaling",
    "_cache",
    "_capabilities",
    "_ccr",
    "_connector",
    "_dangling",
    "_delete_by_query",
    "_enrich",
    "_eql",
    "_esql",
    "_features",
    "_fleet",
    "_forcemerge",
    "_graph",
    "_health_report",
    "_ilm",
    "_inference",
    "_ingest",
    "_internal",
    "_knn_search",
    "_migration",
    "_ml",
    "_monitoring",
    "_mtermvectors",
    "_query_rules",
    "_rank_eval",
    "_recovery",
    "_reindex",
    "_remote",
    "_render",
    "_rollup",
    "_script_context",
    "_script_language",
    "_scripts",
    "_search_shards",
    "_searchable_snapshots",
    "_segments",
    "_settings",
    "_shard_stores",
    "_shutdown",
    "_slm",
    "_snapshot",
    "_sql",
    "_stats",
    "_synonyms",
    "_tasks",
    "_text_structure",
    "_transform",
    "_update_by_query",
    "_validate",
    "_watcher",
];

/// Without Elasticsearch: an Elasticsearch API that would otherwise be answered as an index of its
/// name, or a node API answered by Elasticsearch only.
fn needs_elasticsearch(req: &Request) -> Option<EsError> {
    let path = req.uri().path();
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    let read_as_index = !handled_here(req) && ES_API_ROOTS.contains(&first);
    (read_as_index || crate::es_api::cluster::is_other_node_api(path))
        .then(|| crate::es_api::needs_elasticsearch(req.method(), path))
}

pub async fn layer(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(es) = s.elastic.clone() else {
        if let Some(e) = needs_elasticsearch(&req) {
            return e.into_response();
        }
        // Without Elasticsearch only the path is looked at: a system index named there is refused
        // with a clear error (`Routing::decide`); everything else is served here.
        if handled_here(&req) && req.uri().path().contains("/.") {
            let c = classify(
                req.method(),
                req.uri().path(),
                req.uri().query().unwrap_or(""),
            );
            if let Err(e) = s.routing.decide(&c) {
                return e.into_response();
            }
        }
        return next.run(req).await;
    };
    if s.cfg.mode == Mode::Proxy {
        return transparent(&s, &es, req).await;
    }
    if !handled_here(&req) {
        // An API elastichouse does not implement: Elasticsearch answers it (once, even for a
        // dual-write index).
        if let Some(t) = crate::telemetry::trace::current() {
            t.set_routing("elasticsearch (no handler here)".into());
        }
        return serve_or_forward(&s, &es, Decision::Forward, req, next).await;
    }
    if super::may_continue(req.method(), req.uri().path()) {
        // A scroll, PIT or async-search continuation names no index: it goes to the backend that
        // issued its id (ours decode; any other id is Elasticsearch's).
        let (parts, body) = req.into_parts();
        let b = match read(body).await {
            Ok(b) => b,
            Err(r) => return r,
        };
        let ids = super::continuation_ids(parts.uri.path(), parts.uri.query().unwrap_or(""), &b);
        req = Request::from_parts(parts, Body::from(b));
        if let Some(ids) = ids {
            let ours = ids.iter().any(|id| crate::es_api::issued_here(id));
            let decision = if ours {
                Decision::Local
            } else {
                Decision::Forward
            };
            if let Some(t) = crate::telemetry::trace::current() {
                t.set_routing(format!(
                    "{} (continuation of a search whose id it issued)",
                    decision.as_str()
                ));
            }
            return serve_or_forward(&s, &es, decision, req, next).await;
        }
    }
    let query = req.uri().query().unwrap_or("").to_string();
    let mut c = classify(req.method(), req.uri().path(), &query);
    let (parts, body) = req.into_parts();
    if !c.body_names_indices {
        let decision = match s.routing.decide(&c) {
            Ok(d) => d,
            Err(e) => return e.into_response(),
        };
        if matches!(decision, Decision::Local | Decision::Forward) {
            // Streamed: the body is read only when both backends need it.
            note(decision, &c);
            let req = Request::from_parts(parts, body);
            return serve_or_forward(&s, &es, decision, req, next).await;
        }
        let b = match read(body).await {
            Ok(b) => b,
            Err(r) => return r,
        };
        return run(&s, &es, &c, decision, parts, b, next).await;
    }
    let b = match read(body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut named = body_indices(&c.api, &b);
    if body_has_lines_without_index(&c.api, &b) || named.is_empty() {
        for i in &c.indices {
            if !named.contains(i) {
                named.push(i.clone());
            }
        }
    }
    c.indices = named;
    let decision = match s.routing.decide(&c) {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    run(&s, &es, &c, decision, parts, b, next).await
}

async fn read(body: Body) -> Result<Bytes, Response> {
    axum::body::to_bytes(body, MAX_BODY).await.map_err(|e| {
        EsError::new(
            413,
            "illegal_argument_exception",
            format!("the request body could not be read (larger than {MAX_BODY} bytes?): {e}"),
        )
        .into_response()
    })
}

/// Writes the decision into the request's trace (shown on its debug UI page).
fn note(decision: Decision, c: &Classified) {
    if let Some(t) = crate::telemetry::trace::current() {
        let what = match decision {
            Decision::Local => "clickhouse".to_string(),
            Decision::Forward => "elasticsearch (passed through)".to_string(),
            Decision::DualWrite { primary } => {
                format!("dual write, primary {}", primary.as_str())
            }
            Decision::AbQuery { primary } => format!("A/B query, primary {}", primary.as_str()),
        };
        let indices = if c.indices.is_empty() {
            super::NO_INDEX.to_string()
        } else {
            c.indices.join(",")
        };
        t.set_routing(format!("{what} (indices [{indices}])"));
    }
}

/// Carries out a decision on a request whose body is in memory.
async fn run(
    s: &AppState,
    es: &Arc<Elastic>,
    c: &Classified,
    decision: Decision,
    parts: Parts,
    body: Bytes,
    next: Next,
) -> Response {
    s.stats.metrics.routed(decision.as_str());
    note(decision, c);
    match decision {
        Decision::Local => next.run(Request::from_parts(parts, Body::from(body))).await,
        Decision::Forward => es
            .send(&parts.method, &parts.uri, &parts.headers, body)
            .await
            .map_or_else(|e| e.into_response(), Buffered::into_response),
        Decision::DualWrite { primary } => dual_write(s, es, c, primary, parts, body, next).await,
        Decision::AbQuery { primary } => ab_query(s, es, c, primary, parts, body, next).await,
    }
}

/// Both answers of a dual write: the request goes to both concurrently and both are awaited (so a
/// failed secondary can be reported, or fail the request when so configured).
struct Both {
    local: (axum::http::response::Parts, Bytes),
    remote: Result<Buffered, EsError>,
}

async fn both(es: &Elastic, parts: Parts, body: Bytes, next: Next) -> Both {
    let (method, uri, headers) = (
        parts.method.clone(),
        parts.uri.clone(),
        parts.headers.clone(),
    );
    let local = async {
        let r = next
            .run(Request::from_parts(parts, Body::from(body.clone())))
            .await;
        let (p, b) = r.into_parts();
        let b = axum::body::to_bytes(b, usize::MAX)
            .await
            .unwrap_or_default();
        (p, b)
    };
    let remote = es.send(&method, &uri, &headers, body.clone());
    let (local, remote) = tokio::join!(local, remote);
    Both { local, remote }
}

fn error_bytes(e: &EsError) -> Bytes {
    Bytes::from(serde_json::to_vec(&e.to_json()).unwrap_or_default())
}

/// Status and body of each side.
fn sides(b: &Both) -> ((u16, Bytes), (u16, Bytes)) {
    let ch = (b.local.0.status.as_u16(), b.local.1.clone());
    let es = match &b.remote {
        Ok(r) => (r.status.as_u16(), r.body.clone()),
        Err(e) => (e.status, error_bytes(e)),
    };
    (es, ch)
}

fn answer(b: Both, primary: Backend) -> Response {
    match primary {
        Backend::Clickhouse => {
            let (mut p, body) = b.local;
            p.headers.remove(axum::http::header::CONTENT_LENGTH);
            Response::from_parts(p, Body::from(body))
        }
        Backend::Elasticsearch => b
            .remote
            .map_or_else(|e| e.into_response(), Buffered::into_response),
    }
}

fn bulk_item_errors(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("errors").and_then(Value::as_bool))
        .unwrap_or(false)
}

async fn dual_write(
    s: &AppState,
    es: &Elastic,
    c: &Classified,
    primary: Backend,
    parts: Parts,
    body: Bytes,
    next: Next,
) -> Response {
    let (method, path) = (parts.method.to_string(), parts.uri.path().to_string());
    let b = both(es, parts, body, next).await;
    let ((es_status, es_body), (ch_status, ch_body)) = sides(&b);
    let (p_status, (sec_status, sec_body)) = match primary {
        Backend::Clickhouse => (ch_status, (es_status, &es_body)),
        Backend::Elasticsearch => (es_status, (ch_status, &ch_body)),
    };
    let secondary = primary.other();
    let unreachable = secondary == Backend::Elasticsearch && b.remote.is_err();
    let failure = if unreachable {
        Some("unreachable")
    } else if sec_status >= 400 && sec_status != p_status {
        Some("http_error")
    } else if c.api == "_bulk"
        && bulk_item_errors(sec_body)
        && !bulk_item_errors(match primary {
            Backend::Clickhouse => &ch_body,
            Backend::Elasticsearch => &es_body,
        })
    {
        Some("item_errors")
    } else {
        None
    };
    let Some(reason) = failure else {
        return answer(b, primary);
    };
    let trace = crate::telemetry::trace::current();
    let detail: String =
        String::from_utf8_lossy(&sec_body[..sec_body.len().min(4096)]).into_owned();
    tracing::warn!(
        request_id = trace.as_ref().map(|t| t.id),
        method = %method,
        path = %path,
        secondary = secondary.as_str(),
        status = sec_status,
        reason,
        "dual write: the secondary failed"
    );
    s.stats.metrics.secondary_failure(secondary.as_str());
    s.records.secondary_failure(SecondaryFailure {
        at: chrono::Utc::now()
            .format("%Y-%m-%d %H:%M:%S%.3f UTC")
            .to_string(),
        request_id: trace.as_ref().map(|t| t.id),
        method: method.clone(),
        path: path.clone(),
        backend: secondary,
        status: (!unreachable).then_some(sec_status),
        reason: reason.into(),
        detail,
    });
    // Elasticsearch refusing the credentials or the action is the client's to know, whichever
    // backend is primary: its 401/403 reaches the client (recorded above like any failure).
    if secondary == Backend::Elasticsearch && matches!(sec_status, 401 | 403) && !unreachable {
        return answer(b, Backend::Elasticsearch);
    }
    if s.routing.fail_on_secondary_error && p_status < 400 {
        return EsError::new(
            502,
            "secondary_write_failed_exception",
            format!(
                "[{method} {path}] succeeded on {} but failed on {} ({reason}, status {sec_status}); fail_on_secondary_error is set",
                primary.as_str(),
                secondary.as_str()
            ),
        )
        .into_response();
    }
    answer(b, primary)
}

/// The search bodies of an `_msearch` (every second line).
fn msearch_bodies(body: &[u8]) -> Vec<Option<Value>> {
    body.split(|b| *b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .skip(1)
        .step_by(2)
        .map(|l| serde_json::from_slice(l).ok())
        .collect()
}

fn params_of(uri: &axum::http::Uri) -> Params {
    axum::extract::Query::<Params>::try_from_uri(uri)
        .map(|q| q.0)
        .unwrap_or_default()
}

/// How long the secondary of an A/B query may take before it counts as failed.
const AB_SECONDARY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// What a comparison needs besides the two answers.
struct AbContext {
    method: String,
    uri: axum::http::Uri,
    api: String,
    indices: Vec<String>,
    primary: Backend,
    request_body: Bytes,
    trace: Option<Arc<crate::telemetry::trace::RequestTrace>>,
}

/// A/B: the primary answers as soon as it is done; the secondary's answer is awaited in a task of
/// its own (at most [`AB_SECONDARY_TIMEOUT`]) and then compared, so the client never waits for it.
async fn ab_query(
    s: &AppState,
    es: &Arc<Elastic>,
    c: &Classified,
    primary: Backend,
    parts: Parts,
    body: Bytes,
    next: Next,
) -> Response {
    let (method, uri, headers) = (
        parts.method.clone(),
        parts.uri.clone(),
        parts.headers.clone(),
    );
    let trace = crate::telemetry::trace::current();
    let cx = AbContext {
        method: method.to_string(),
        uri: uri.clone(),
        api: c.api.clone(),
        indices: c.indices.clone(),
        primary,
        request_body: body.clone(),
        trace: trace.clone(),
    };
    let local = {
        let body = body.clone();
        async move {
            let t = Instant::now();
            let r = next.run(Request::from_parts(parts, Body::from(body))).await;
            let (p, b) = r.into_parts();
            let b = axum::body::to_bytes(b, usize::MAX)
                .await
                .unwrap_or_default();
            (p, b, t.elapsed().as_secs_f64() * 1000.0)
        }
    };
    let remote = {
        let es = es.clone();
        async move {
            let t = Instant::now();
            let r = es.send(&method, &uri, &headers, body).await;
            (r, t.elapsed().as_secs_f64() * 1000.0)
        }
    };
    let timed_out = |what: &str| {
        EsError::new(
            504,
            "timeout_exception",
            format!("the {what} answer of the A/B query took longer than {AB_SECONDARY_TIMEOUT:?}"),
        )
    };
    let state = s.clone();
    match primary {
        Backend::Clickhouse => {
            let (p, b, millis) = local.await;
            let ch = (p.status.as_u16(), b.clone(), millis);
            tokio::spawn(async move {
                let es = match tokio::time::timeout(AB_SECONDARY_TIMEOUT, remote).await {
                    Ok((Ok(r), ms)) => (r.status.as_u16(), r.body, ms),
                    Ok((Err(e), ms)) => (e.status, error_bytes(&e), ms),
                    Err(_) => {
                        let e = timed_out("Elasticsearch");
                        (
                            e.status,
                            error_bytes(&e),
                            AB_SECONDARY_TIMEOUT.as_secs_f64() * 1000.0,
                        )
                    }
                };
                compare_and_record(&state, cx, es, ch);
            });
            let mut p = p;
            p.headers.remove(axum::http::header::CONTENT_LENGTH);
            Response::from_parts(p, Body::from(b))
        }
        Backend::Elasticsearch => {
            let (r, millis) = remote.await;
            let es = match &r {
                Ok(r) => (r.status.as_u16(), r.body.clone(), millis),
                Err(e) => (e.status, error_bytes(e), millis),
            };
            let task = async move {
                let ch = match tokio::time::timeout(AB_SECONDARY_TIMEOUT, local).await {
                    Ok((p, b, ms)) => (p.status.as_u16(), b, ms),
                    Err(_) => {
                        let e = timed_out("ClickHouse");
                        (
                            e.status,
                            error_bytes(&e),
                            AB_SECONDARY_TIMEOUT.as_secs_f64() * 1000.0,
                        )
                    }
                };
                compare_and_record(&state, cx, es, ch);
            };
            // The local search keeps attributing its statements to this request's trace.
            let task = crate::security::inherit(task);
            match trace {
                Some(t) => tokio::spawn(crate::telemetry::trace::scope(t, task)),
                None => tokio::spawn(task),
            };
            r.map_or_else(|e| e.into_response(), Buffered::into_response)
        }
    }
}

/// Compares the two answers (status, body, milliseconds) and records the outcome.
fn compare_and_record(
    s: &AppState,
    cx: AbContext,
    (es_status, es_body, es_millis): (u16, Bytes, f64),
    (ch_status, ch_body, ch_millis): (u16, Bytes, f64),
) {
    let parse = |v: &[u8]| serde_json::from_slice::<Value>(v).ok();
    let params = params_of(&cx.uri);
    let filter = params
        .get("filter_path")
        .and_then(|f| crate::render::filter_path::FilterPath::parse(f));
    let diffs = match (parse(&es_body), parse(&ch_body)) {
        (Some(e), Some(ch)) => {
            // Elasticsearch filtered its answer; ours is filtered after this layer.
            let ch = match &filter {
                Some(f) => f.apply(ch),
                None => ch,
            };
            // An async search that completed answers the search response under `response`
            // (its id, timings and `is_running` are the backend's own).
            // One still running: nothing to compare yet (its continuation is fetched by id
            // from the primary alone).
            let (e, ch) = if cx.api == "_async_search" {
                let running = |v: &Value| v.get("is_running") == Some(&Value::Bool(true));
                if running(&e) || running(&ch) {
                    return;
                }
                let inner = |v: Value| v.get("response").cloned().unwrap_or(v);
                (inner(e), inner(ch))
            } else {
                (e, ch)
            };
            if cx.api == "_msearch" {
                compare::compare_msearch(
                    &msearch_bodies(&cx.request_body),
                    es_status,
                    &e,
                    ch_status,
                    &ch,
                )
            } else {
                let body = parse(&cx.request_body);
                compare::compare_search(
                    &Options::from_search_body(body.as_ref()),
                    es_status,
                    &e,
                    ch_status,
                    &ch,
                )
            }
        }
        (e, ch) => {
            if e.is_none() && ch.is_none() && es_body == ch_body {
                vec![]
            } else {
                vec![compare::Diff {
                    kind: compare::Kind::ShapeDiffers,
                    path: "(body)".into(),
                    elasticsearch: Some(e.unwrap_or_else(|| json!(truncate(&es_body)))),
                    clickhouse: Some(ch.unwrap_or_else(|| json!(truncate(&ch_body)))),
                }]
            }
        }
    };
    s.stats
        .metrics
        .ab_compared(&cx.indices, diffs.iter().map(|d| d.kind.as_str()));
    let trace = cx.trace;
    if !diffs.is_empty() {
        tracing::info!(
            request_id = trace.as_ref().map(|t| t.id),
            path = %cx.uri.path(),
            differences = diffs.len(),
            first = %format!("{} {}", diffs[0].kind.as_str(), diffs[0].path),
            "A/B: the answers differ"
        );
    }
    let kept = s.compare.record(Comparison {
        id: 0,
        at: chrono::Utc::now()
            .format("%Y-%m-%d %H:%M:%S%.3f UTC")
            .to_string(),
        request_id: trace.as_ref().map(|t| t.id),
        method: cx.method,
        path: match cx.uri.query() {
            Some(q) => format!("{}?{q}", cx.uri.path()),
            None => cx.uri.path().to_string(),
        },
        index: if cx.indices.is_empty() {
            super::NO_INDEX.to_string()
        } else {
            cx.indices.join(",")
        },
        opaque_id: trace.as_ref().and_then(|t| t.opaque_id.clone()),
        primary: cx.primary,
        request_body: truncate(&cx.request_body),
        elasticsearch: Side {
            status: es_status,
            millis: es_millis,
            body: truncate(&es_body),
        },
        clickhouse: Side {
            status: ch_status,
            millis: ch_millis,
            body: truncate(&ch_body),
        },
        diffs,
    });
    if let Some(c) = kept {
        if let Some(t) = &trace {
            t.set_mismatch(c.id);
        }
        // Queued for the ClickHouse table; written by a task of its own.
        if let Some(w) = &s.mismatch_table {
            w.send(c);
        }
    }
}

/// Transparent mode: stream to Elasticsearch; read search bodies to record readiness.
async fn transparent(s: &AppState, es: &Elastic, req: Request) -> Response {
    let started = Instant::now();
    let query = req.uri().query().unwrap_or("").to_string();
    let c = classify(req.method(), req.uri().path(), &query);
    let matched = handled_here(&req);
    let method = req.method().to_string();
    let endpoint = if matched {
        crate::telemetry::metrics::endpoint_of(
            req.extensions().get::<MatchedPath>().map(|m| m.as_str()),
        )
    } else {
        c.api.clone()
    };
    let index = c
        .indices
        .first()
        .cloned()
        .unwrap_or_else(|| super::NO_INDEX.to_string());
    let analysable =
        matches!(
            c.api.as_str(),
            "_search" | "_count" | "_msearch" | "_async_search"
        ) && !(c.api == "_search" && c.indices.is_empty() && req.uri().path().contains("/scroll"));
    s.stats.metrics.routed("proxy");
    if let Some(t) = crate::telemetry::trace::current() {
        t.set_routing("elasticsearch (mode = \"proxy\")".into());
    }
    let (resp, analysed) = if analysable {
        let (parts, body) = req.into_parts();
        let bytes = match read(body).await {
            Ok(b) => b,
            Err(r) => return r,
        };
        let uri = parts.uri.clone();
        let resp = es
            .forward(Request::from_parts(parts, Body::from(bytes.clone())))
            .await
            .unwrap_or_else(|e| e.into_response());
        (resp, Some((uri, bytes)))
    } else {
        let resp = es.forward(req).await.unwrap_or_else(|e| e.into_response());
        (resp, None)
    };
    let status = resp.status();
    s.records.request(
        &endpoint,
        &index,
        status.as_u16(),
        started.elapsed().as_secs_f64() * 1000.0,
    );
    let trace = crate::telemetry::trace::current();
    if !matched && status != StatusCode::BAD_GATEWAY {
        // An API elastichouse has no handler for.
        s.records.analysed(
            &index,
            &[format!("API [{method} {endpoint}]")],
            &trace.as_ref().map(|t| t.path.clone()).unwrap_or_default(),
            "",
            trace.as_ref().map(|t| t.id),
        );
    }
    if let Some((uri, bytes)) = analysed
        && status.is_success()
    {
        let features = readiness_features(&c.api, &params_of(&uri), &bytes);
        s.records.analysed(
            &index,
            &features,
            &match uri.query() {
                Some(q) => format!("{}?{q}", uri.path()),
                None => uri.path().to_string(),
            },
            &String::from_utf8_lossy(&bytes[..bytes.len().min(2048)]),
            trace.as_ref().map(|t| t.id),
        );
    }
    resp
}

/// The features of a search body elastichouse does not support, by the names its own parser
/// reports (`query [script_score]`, `aggregation [...]`, …). Bodies it cannot parse for another
/// reason count as `not understood: <reason>`.
pub fn readiness_features(api: &str, params: &Params, body: &[u8]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if api == "_msearch" {
        for b in msearch_bodies(body).into_iter().flatten() {
            for f in search_features(&b, &Params::new()) {
                if !out.contains(&f) {
                    out.push(f);
                }
            }
        }
        return out;
    }
    match crate::es_api::parse_body(body) {
        Ok(Some(v)) => search_features(&v, params),
        Ok(None) => search_features(&json!({}), params),
        Err(e) => vec![feature_of(&e)],
    }
}

fn feature_of(e: &EsError) -> String {
    match e.unsupported_feature() {
        Some(f) => f.to_string(),
        None => {
            let reason: String = e.reason.chars().take(160).collect();
            format!("not understood: {reason}")
        }
    }
}

fn search_features(body: &Value, p: &Params) -> Vec<String> {
    let Value::Object(m) = body else {
        return vec!["not understood: body is not an object".into()];
    };
    let parse = |b: Value| crate::es_api::search::parse_request(Some(&b), p, true).err();
    let mut out: Vec<String> = Vec::new();
    let mut push = |f: String| {
        if !out.contains(&f) {
            out.push(f);
        }
    };
    let mut rest = m.clone();
    let aggs = rest
        .remove("aggs")
        .into_iter()
        .chain(rest.remove("aggregations"))
        .next();
    if let Some(e) = parse(Value::Object(rest.clone())) {
        push(feature_of(&e));
        // The parser stops at the first problem: look at each part alone for more.
        if rest.len() > 1 {
            for (k, v) in &rest {
                if let Some(e) = parse(json!({ k: v }))
                    && let Some(f) = e.unsupported_feature()
                {
                    push(f.to_string());
                }
            }
        }
    }
    if let Some(Value::Object(a)) = aggs {
        for (name, def) in a {
            if let Some(e) = parse(json!({"size": 0, "aggs": { name: def }})) {
                push(feature_of(&e));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_names_unsupported_query_and_aggregation_features() {
        let body = br#"{"query":{"bool":{"must":[{"script_score":{"query":{"match_all":{}},"script":"1"}}]}},
            "aggs":{"ok":{"terms":{"field":"k"}},"odd":{"no_such_agg_type":{}}},"size":5}"#;
        let f = readiness_features("_search", &Params::new(), body);
        assert!(f.iter().any(|f| f.contains("script_score")), "{f:?}");
        assert!(f.iter().any(|f| f.contains("no_such_agg_type")), "{f:?}");
        assert!(!f.iter().any(|f| f.contains("terms")), "{f:?}");
        assert_eq!(
            readiness_features("_search", &Params::new(), br#"{"query":{"match_all":{}}}"#),
            Vec::<String>::new()
        );
        let ms = b"{\"index\":\"a\"}\n{\"query\":{\"percolate\":{}}}\n{}\n{\"size\":1}\n";
        let f = readiness_features("_msearch", &Params::new(), ms);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].contains("percolate"), "{f:?}");
    }
}
