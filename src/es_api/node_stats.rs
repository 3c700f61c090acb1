//! `GET /_nodes/stats[/{metric}]` and `GET /_nodes/{node}/stats[/{metric}]`
//! (RestNodesStatsAction): the one node's statistics in Elasticsearch's shape, so monitoring tools
//! and esrally (which reads `jvm` and `indices` at start) run. Values are the daemon's own: the
//! process's memory and CPU from `/proc`, documents and bytes from ClickHouse's `system.parts`;
//! the JVM sections hold the daemon's memory (there is no JVM) and zero garbage collections.

use super::cluster::{node_id, publish_address, selects_node, split};
use super::{ApiResult, EsJson, Params};
use crate::error::EsError;
use crate::server::AppState;
use crate::sql;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Map, json};

/// The metrics Elasticsearch's node stats know (NodesStatsRequestParameters.Metric).
const METRICS: &[&str] = &[
    "os",
    "process",
    "jvm",
    "thread_pool",
    "fs",
    "transport",
    "http",
    "breaker",
    "script",
    "discovery",
    "ingest",
    "adaptive_selection",
    "script_cache",
    "indexing_pressure",
    "repositories",
    "allocations",
    "indices",
];

const PARAMS: &[&str] = &[
    "level",
    "types",
    "completion_fields",
    "fielddata_fields",
    "fields",
    "groups",
    "include_segment_file_sizes",
    "include_unloaded_segments",
    "timeout",
    "human",
    "pretty",
    "filter_path",
    "error_trace",
];

/// (resident bytes, virtual bytes, CPU milliseconds, open file descriptors) of this process.
fn process_figures() -> (u64, u64, u64, u64) {
    let page = 4096u64;
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let mut it = statm
        .split_whitespace()
        .map(|v| v.parse::<u64>().unwrap_or(0));
    let virt = it.next().unwrap_or(0) * page;
    let rss = it.next().unwrap_or(0) * page;
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15 (11 and 12 after the command), in clock ticks (100/s).
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let cpu_ms = (ticks(11) + ticks(12)) * 10;
    let fds = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as u64)
        .unwrap_or(0);
    (rss, virt, cpu_ms, fds)
}

async fn index_totals(s: &AppState) -> Result<(u64, u64), EsError> {
    let q = super::cat::active_parts(
        s,
        vec![
            sql::Expr::func("sum", vec![sql::col("rows")]).alias("docs"),
            sql::Expr::func("sum", vec![sql::col("bytes_on_disk")]).alias("bytes"),
        ],
    );
    let rows = s.ch.query_rows(&q).await?;
    let r = rows.first();
    let get = |k: &str| r.and_then(|r| r[k].as_u64()).unwrap_or(0);
    Ok((get("docs"), get("bytes")))
}

async fn stats(
    s: AppState,
    headers: HeaderMap,
    nodes: Vec<String>,
    metrics: Vec<String>,
) -> ApiResult {
    for m in &metrics {
        if m != "_all" && !METRICS.contains(&m.as_str()) {
            return Err(EsError::illegal_argument(format!(
                "request [/_nodes/stats] contains unrecognized metric: [{m}]"
            )));
        }
    }
    let all = metrics.is_empty() || metrics.iter().any(|m| m == "_all");
    let want = |m: &str| all || metrics.iter().any(|x| x == m);
    let id = node_id(&s);
    let mut out = Map::new();
    if selects_node(&nodes, &id, &s.cfg.node_name) {
        let addr = publish_address(&s, &headers);
        let now = chrono::Utc::now().timestamp_millis();
        let uptime = s.stats.started.elapsed().as_millis() as u64;
        let (rss, virt, cpu_ms, fds) = process_figures();
        let mut node = json!({
            "timestamp": now,
            "name": s.cfg.node_name,
            "transport_address": addr.to_string(),
            "host": addr.ip().to_string(),
            "ip": addr.to_string(),
            "roles": ["data", "ingest", "master"],
            "attributes": {},
        });
        if want("indices") {
            let (docs, bytes) = index_totals(&s).await?;
            node["indices"] = json!({
                "docs": {"count": docs, "deleted": 0},
                "store": {"size_in_bytes": bytes, "reserved_in_bytes": 0},
                "indexing": {"index_total": s.stats.docs_ingested.load(std::sync::atomic::Ordering::Relaxed),
                    "index_time_in_millis": 0, "index_failed": 0},
                "search": {"query_total": 0, "query_time_in_millis": 0, "open_contexts": 0},
                "segments": {"count": 0, "memory_in_bytes": 0},
            });
        }
        if want("os") {
            node["os"] = json!({"timestamp": now, "cpu": {"percent": 0},
                "mem": {"total_in_bytes": 0, "free_in_bytes": 0, "used_in_bytes": 0}});
        }
        if want("process") {
            node["process"] = json!({"timestamp": now, "open_file_descriptors": fds,
                "max_file_descriptors": 1_048_576,
                "cpu": {"percent": 0, "total_in_millis": cpu_ms},
                "mem": {"total_virtual_in_bytes": virt}});
        }
        if want("jvm") {
            let pool = |used: u64| {
                json!({"used_in_bytes": used, "max_in_bytes": 0,
                "peak_used_in_bytes": used, "peak_max_in_bytes": 0})
            };
            let collector = json!({"collection_count": 0, "collection_time_in_millis": 0});
            node["jvm"] = json!({
                "timestamp": now,
                "uptime_in_millis": uptime,
                "mem": {"heap_used_in_bytes": rss, "heap_used_percent": 0,
                    "heap_committed_in_bytes": rss, "heap_max_in_bytes": rss,
                    "non_heap_used_in_bytes": 0, "non_heap_committed_in_bytes": 0,
                    "pools": {"young": pool(0), "old": pool(rss), "survivor": pool(0)}},
                "threads": {"count": 0, "peak_count": 0},
                "gc": {"collectors": {"young": collector.clone(), "old": collector}},
                "buffer_pools": {},
                "classes": {"current_loaded_count": 0, "total_loaded_count": 0, "total_unloaded_count": 0},
            });
        }
        if want("thread_pool") {
            node["thread_pool"] = json!({});
        }
        if want("fs") {
            node["fs"] = json!({"timestamp": now, "total": {}, "data": []});
        }
        if want("http") {
            node["http"] = json!({"current_open": 0, "total_opened": 0});
        }
        if want("breaker") {
            node["breakers"] = json!({});
        }
        out.insert(id, node);
    }
    Ok(EsJson(
        StatusCode::OK,
        json!({
            "_nodes": {"total": out.len(), "successful": out.len(), "failed": 0},
            "cluster_name": s.cfg.cluster_name,
            "nodes": out,
        }),
    )
    .into_response())
}

fn check(uri: &axum::http::Uri, p: &Params) -> Result<(), EsError> {
    super::search::check_params(uri.path(), p, PARAMS)
}

/// `GET /_nodes/stats`
pub async fn all(
    State(s): State<AppState>,
    headers: HeaderMap,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
    Query(p): Query<Params>,
) -> ApiResult {
    check(&uri, &p)?;
    stats(s, headers, vec!["_all".into()], vec![]).await
}

/// `GET /_nodes/stats/{metric}`
pub async fn metric(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(m): Path<String>,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
    Query(p): Query<Params>,
) -> ApiResult {
    check(&uri, &p)?;
    stats(s, headers, vec!["_all".into()], split(&m)).await
}

/// `GET /_nodes/{node}/stats`
pub async fn node(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(n): Path<String>,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
    Query(p): Query<Params>,
) -> ApiResult {
    check(&uri, &p)?;
    stats(s, headers, split(&n), vec![]).await
}

/// `GET /_nodes/{node}/stats/{metric}`
pub async fn node_metric(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((n, m)): Path<(String, String)>,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
    Query(p): Query<Params>,
) -> ApiResult {
    check(&uri, &p)?;
    stats(s, headers, split(&n), split(&m)).await
}
