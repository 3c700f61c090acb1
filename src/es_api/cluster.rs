//! What Kibana (and the official clients) ask a cluster at start-up and for its health checks,
//! answered locally for the one node elastichouse presents:
//!
//! - `GET /_nodes[/{node_id_or_metrics}[/{metrics}]]`: `NodesInfoResponse#toXContent`
//!   (elastic/elasticsearch server/.../action/admin/cluster/node/info/NodesInfoResponse.java), routes
//!   and the node-id/metric disambiguation of `RestNodesInfoAction`.
//! - `GET /_cluster/health[/{index}]`: `ClusterHealthResponse#toXContent` and the waiting rules of
//!   `TransportClusterHealthAction` (a missing index is red and waited for until `timeout`; 408).
//! - `GET /_cluster/settings`: `RestClusterGetSettingsAction` (`persistent`, `transient`, `defaults`).
//! - `GET /_xpack`, `GET /_license`, `GET /_xpack/usage`: `XPackInfoResponse`, `License#toInnerXContent`
//!   (rest view) for a self-generated basic licence.
//! - `GET /_security/_authenticate`: security is off, so the answer of a basic-licence cluster with
//!   security disabled (a 500 `exception`).

use super::{ApiResult, EsJson, Params, flag, ok};
use crate::catalog::ResolveOptions;
use crate::error::EsError;
use crate::server::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};
use std::time::{Duration, Instant};

/// `NodesInfoRequest.Metric` names.
const NODE_METRICS: &[&str] = &[
    "settings",
    "os",
    "process",
    "jvm",
    "thread_pool",
    "transport",
    "http",
    "remote_cluster_server",
    "plugins",
    "ingest",
    "aggregations",
    "indices",
];

/// The node's id: 22 characters like Elasticsearch's node ids, stable for a node name and cluster.
pub fn node_id(s: &AppState) -> String {
    crate::ids::index_uuid(&format!("node:{}:{}", s.cfg.cluster_name, s.cfg.node_name))
}

pub(crate) fn split(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whether the node-id expression selects our only node (`_all`, `_local`, `_master`, its id, its
/// name, a wildcard on either, or an attribute/role selector that we treat as matching).
pub(crate) fn selects_node(expr: &[String], id: &str, name: &str) -> bool {
    expr.iter().any(|e| {
        matches!(
            e.as_str(),
            "_all" | "_local" | "_master" | "_only_master" | "master:true" | "data:true"
        ) || crate::catalog::glob_match(e, id)
            || crate::catalog::glob_match(e, name)
    })
}

/// The address the ES API is reached at: the configured one, or (listening on port 0) the port
/// the client connected to, from its `Host` header.
pub(crate) fn publish_address(s: &AppState, headers: &HeaderMap) -> std::net::SocketAddr {
    let mut addr = s.cfg.listen;
    if addr.port() == 0
        && let Some(port) = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.rsplit_once(':'))
            .and_then(|(_, p)| p.parse::<u16>().ok())
    {
        addr.set_port(port);
    }
    addr
}

fn node_body(s: &AppState, addr: std::net::SocketAddr, metrics: &[String]) -> Value {
    let cfg = &s.cfg;
    let ip = addr.ip().to_string();
    let publish = addr.to_string();
    let all = metrics.iter().any(|m| m == "_all");
    let want = |m: &str| all || metrics.iter().any(|x| x == m);
    let mut n = Map::new();
    n.insert("name".into(), json!(cfg.node_name));
    n.insert("transport_address".into(), json!(format!("{ip}:{}", 9300)));
    n.insert("host".into(), json!(ip));
    n.insert("ip".into(), json!(ip));
    n.insert("version".into(), json!(cfg.es_version));
    n.insert("build_flavor".into(), json!("default"));
    n.insert("build_type".into(), json!("tar"));
    n.insert("build_hash".into(), json!("elastichouse"));
    n.insert(
        "roles".into(),
        json!([
            "data",
            "data_content",
            "data_hot",
            "ingest",
            "master",
            "remote_cluster_client"
        ]),
    );
    if want("settings") {
        n.insert(
            "settings".into(),
            json!({
                "cluster": {"name": cfg.cluster_name},
                "node": {"name": cfg.node_name},
                "http": {"port": addr.port().to_string()},
                "xpack": {"security": {"enabled": "false"}}
            }),
        );
    }
    if want("os") {
        n.insert(
            "os".into(),
            json!({
                "refresh_interval_in_millis": 1000,
                "name": std::env::consts::OS,
                "arch": std::env::consts::ARCH,
                "available_processors": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
                "allocated_processors": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
            }),
        );
    }
    if want("process") {
        n.insert(
            "process".into(),
            json!({"refresh_interval_in_millis": 1000, "id": std::process::id(), "mlockall": false}),
        );
    }
    if want("http") {
        n.insert(
            "http".into(),
            json!({
                "bound_address": [publish],
                "publish_address": publish,
                "max_content_length_in_bytes": s.cfg.http_max_content_length
            }),
        );
    }
    if want("plugins") {
        n.insert("plugins".into(), json!([]));
        n.insert("modules".into(), json!([]));
    }
    if want("ingest") {
        n.insert("ingest".into(), json!({"processors": []}));
    }
    Value::Object(n)
}

const NODES_PARAMS: &[&str] = &["timeout", "flat_settings", "master_timeout"];

async fn nodes_impl(
    s: AppState,
    headers: HeaderMap,
    node_ids: Vec<String>,
    metrics: Vec<String>,
) -> ApiResult {
    let id = node_id(&s);
    let mut nodes = Map::new();
    if selects_node(&node_ids, &id, &s.cfg.node_name) {
        let addr = publish_address(&s, &headers);
        nodes.insert(id, node_body(&s, addr, &metrics));
    }
    Ok(ok(json!({
        "_nodes": {"total": nodes.len(), "successful": nodes.len(), "failed": 0},
        "cluster_name": s.cfg.cluster_name,
        "nodes": nodes
    }))
    .into_response())
}

/// `GET /_nodes`
pub async fn nodes(
    State(s): State<AppState>,
    headers: HeaderMap,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
    Query(p): Query<Params>,
) -> ApiResult {
    super::search::check_params(uri.path(), &p, NODES_PARAMS)?;
    nodes_impl(s, headers, vec!["_all".into()], vec!["_all".into()]).await
}

/// Node APIs other than node info that share its path shape (`_nodes/stats`, `_nodes/usage`, …):
/// not answered (yet) — a clear 400 rather than an empty node-info answer.
fn other_node_api(parts: &[&str]) -> Option<EsError> {
    parts
        .iter()
        .find(|p| OTHER_NODE_APIS.contains(p))
        .map(|p| EsError::unsupported(format!("GET /_nodes/.../{p}")))
}

const OTHER_NODE_APIS: &[&str] = &["usage", "hot_threads", "reload_secure_settings", "shutdown"];

/// Whether a `/_nodes/...` path is one of the node APIs answered by Elasticsearch only (the router
/// passes them through when one is configured).
pub fn is_other_node_api(path: &str) -> bool {
    let mut parts = path.trim_start_matches('/').split('/');
    parts.next() == Some("_nodes") && parts.any(|p| OTHER_NODE_APIS.contains(&p))
}

/// `GET /_nodes/{nodeId}`: metric names alone (`/_nodes/http`) are metrics, anything else node ids
/// (RestNodesInfoAction#prepareRequest).
pub async fn nodes_one(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(first): Path<String>,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
    Query(p): Query<Params>,
) -> ApiResult {
    if let Some(e) = other_node_api(&[first.as_str()]) {
        return Err(e);
    }
    super::search::check_params(uri.path(), &p, NODES_PARAMS)?;
    let parts = split(&first);
    if !parts.is_empty() && parts.iter().all(|p| NODE_METRICS.contains(&p.as_str())) {
        nodes_impl(s, headers, vec!["_all".into()], parts).await
    } else {
        nodes_impl(s, headers, parts, vec!["_all".into()]).await
    }
}

/// `GET /_nodes/{nodeId}/info/{metrics}` (the form aligned with node stats).
pub async fn nodes_info_metrics(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((ids, metrics)): Path<(String, String)>,
    uri: axum::extract::OriginalUri,
    q: Query<Params>,
) -> ApiResult {
    nodes_two(State(s), headers, Path((ids, metrics)), uri, q).await
}

/// `GET /_nodes/{nodeId}/{metrics}`; unknown metrics are disregarded as Elasticsearch does.
pub async fn nodes_two(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((ids, metrics)): Path<(String, String)>,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
    Query(p): Query<Params>,
) -> ApiResult {
    if let Some(e) = other_node_api(&[ids.as_str(), metrics.as_str()]) {
        return Err(e);
    }
    super::search::check_params(uri.path(), &p, NODES_PARAMS)?;
    let mut m = split(&metrics);
    if !(m.len() == 1 && m[0] == "_all") {
        m.retain(|x| NODE_METRICS.contains(&x.as_str()));
    }
    nodes_impl(s, headers, split(&ids), m).await
}

// ---------------------------------------------------------------------------------------------
// _cluster/health
// ---------------------------------------------------------------------------------------------

fn status_rank(s: &str) -> Option<u8> {
    match s {
        "green" => Some(0),
        "yellow" => Some(1),
        "red" => Some(2),
        _ => None,
    }
}

pub(crate) struct Health {
    /// Concrete indices of the request (or every index).
    pub(crate) indices: Vec<String>,
    /// A named index does not exist.
    missing: bool,
}

pub(crate) async fn health_state(s: &AppState, expr: Option<&str>) -> Result<Health, EsError> {
    match expr {
        None => Ok(Health {
            indices: s
                .catalog
                .list()
                .await?
                .iter()
                .map(|m| m.name.clone())
                .collect(),
            missing: false,
        }),
        Some(e) => {
            // Lenient resolution for the numbers, strict for the "indices exist" condition.
            let lenient = ResolveOptions {
                ignore_unavailable: true,
                allow_no_indices: true,
            };
            let found = s.catalog.resolve(e, lenient).await?;
            let strict = s.catalog.resolve(e, ResolveOptions::default()).await;
            Ok(Health {
                indices: found.iter().map(|m| m.name.clone()).collect(),
                missing: strict.is_err(),
            })
        }
    }
}

fn health_body(s: &AppState, h: &Health, timed_out: bool, level: &str) -> Value {
    let n = h.indices.len();
    let status = if h.missing { "red" } else { "green" };
    let mut v = json!({
        "cluster_name": s.cfg.cluster_name,
        "status": status,
        "timed_out": timed_out,
        "number_of_nodes": 1,
        "number_of_data_nodes": 1,
        "active_primary_shards": n,
        "active_shards": n,
        "relocating_shards": 0,
        "initializing_shards": 0,
        "unassigned_shards": 0,
    });
    let m = v.as_object_mut().expect("object");
    if version_at_least(&s.cfg.es_version, 8, 16) {
        m.insert("unassigned_primary_shards".into(), json!(0));
    }
    m.insert("delayed_unassigned_shards".into(), json!(0));
    m.insert("number_of_pending_tasks".into(), json!(0));
    m.insert("number_of_in_flight_fetch".into(), json!(0));
    m.insert("task_max_waiting_in_queue_millis".into(), json!(0));
    m.insert("active_shards_percent_as_number".into(), json!(100.0));
    if level == "indices" || level == "shards" {
        let mut idx = Map::new();
        for name in &h.indices {
            let mut i = json!({
                "status": "green",
                "number_of_shards": 1,
                "number_of_replicas": 0,
                "active_primary_shards": 1,
                "active_shards": 1,
                "relocating_shards": 0,
                "initializing_shards": 0,
                "unassigned_shards": 0,
            });
            if version_at_least(&s.cfg.es_version, 8, 16) {
                i["unassigned_primary_shards"] = json!(0);
            }
            if level == "shards" {
                let mut shard = json!({
                    "status": "green",
                    "primary_active": true,
                    "active_shards": 1,
                    "relocating_shards": 0,
                    "initializing_shards": 0,
                    "unassigned_shards": 0,
                });
                if version_at_least(&s.cfg.es_version, 8, 16) {
                    shard["unassigned_primary_shards"] = json!(0);
                }
                i["shards"] = json!({ "0": shard });
            }
            idx.insert(name.clone(), i);
        }
        m.insert("indices".into(), Value::Object(idx));
    }
    v
}

#[derive(Clone, Copy)]
enum Cmp {
    Ge,
    Le,
    Gt,
    Lt,
    Eq,
}

impl Cmp {
    fn holds(self, have: u64, want: u64) -> bool {
        match self {
            Cmp::Ge => have >= want,
            Cmp::Le => have <= want,
            Cmp::Gt => have > want,
            Cmp::Lt => have < want,
            Cmp::Eq => have == want,
        }
    }
}

/// `wait_for_nodes`: `N`, `>=N`, `<=N`, `>N`, `<N`, `ge(N)`, `le(N)`, `gt(N)`, `lt(N)`
/// (TransportClusterHealthAction#prepareResponse).
fn parse_node_count(w: &str) -> Result<(Cmp, u64), EsError> {
    let (op, rest) = if let Some(r) = w.strip_prefix(">=") {
        (Cmp::Ge, r)
    } else if let Some(r) = w.strip_prefix("<=") {
        (Cmp::Le, r)
    } else if let Some(r) = w.strip_prefix("ge(") {
        (Cmp::Ge, r.trim_end_matches(')'))
    } else if let Some(r) = w.strip_prefix("le(") {
        (Cmp::Le, r.trim_end_matches(')'))
    } else if let Some(r) = w.strip_prefix("gt(") {
        (Cmp::Gt, r.trim_end_matches(')'))
    } else if let Some(r) = w.strip_prefix("lt(") {
        (Cmp::Lt, r.trim_end_matches(')'))
    } else if let Some(r) = w.strip_prefix('>') {
        (Cmp::Gt, r)
    } else if let Some(r) = w.strip_prefix('<') {
        (Cmp::Lt, r)
    } else {
        (Cmp::Eq, w)
    };
    rest.trim().parse::<u64>().map(|n| (op, n)).map_err(|_| {
        EsError::new(
            400,
            "number_format_exception",
            format!("For input string: \"{}\"", rest.trim()),
        )
    })
}

/// `wait_for_active_shards`: a number, `all` (`None`: every shard, always true here) or `default`.
fn parse_active_shards(w: &str) -> Result<Option<u64>, EsError> {
    match w {
        "all" | "default" => Ok(None),
        n => n.parse::<u64>().map(Some).map_err(|_| {
            EsError::illegal_argument(format!(
                "failed to parse value [{n}] for wait_for_active_shards"
            ))
        }),
    }
}

pub fn version_at_least(v: &str, major: u32, minor: u32) -> bool {
    let mut it = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (a, b) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
    (a, b) >= (major, minor)
}

const HEALTH_PARAMS: &[&str] = &[
    "level",
    "local",
    "master_timeout",
    "timeout",
    "wait_for_active_shards",
    "wait_for_nodes",
    "wait_for_events",
    "wait_for_no_relocating_shards",
    "wait_for_no_initializing_shards",
    "wait_for_status",
    "expand_wildcards",
    "return_200_for_cluster_health_timeout",
];

async fn health_impl(s: AppState, expr: Option<&str>, path: &str, p: Params) -> ApiResult {
    super::search::check_params(path, &p, HEALTH_PARAMS)?;
    let level = p.get("level").map(String::as_str).unwrap_or("cluster");
    if !matches!(level, "cluster" | "indices" | "shards") {
        return Err(EsError::illegal_argument(format!(
            "level must be one of [cluster, indices, shards] but was [{level}]"
        )));
    }
    let wait_status = match p.get("wait_for_status") {
        None => None,
        Some(w) => Some(status_rank(&w.to_ascii_lowercase()).ok_or_else(|| {
            EsError::illegal_argument(format!(
                "unknown cluster health status [{}]",
                w.to_ascii_lowercase()
            ))
        })?),
    };
    let timeout = match p.get("timeout") {
        Some(t) => super::cursor::parse_time_value(t, "timeout")?,
        None => 30_000,
    };
    for f in [
        "local",
        "wait_for_no_relocating_shards",
        "wait_for_no_initializing_shards",
        "return_200_for_cluster_health_timeout",
    ] {
        flag(&p, f)?;
    }
    let wait_nodes = p
        .get("wait_for_nodes")
        .map(|w| parse_node_count(w))
        .transpose()?;
    let wait_active = p
        .get("wait_for_active_shards")
        .map(|w| parse_active_shards(w))
        .transpose()?;
    let deadline = Instant::now() + Duration::from_millis(timeout.max(0) as u64);
    loop {
        // Storage unreachable: the cluster is red (as with no master or no data node), answered
        // with 200 like any other health status so that monitors read it.
        if let Err(e) = s.ch.ping().await
            && e.is_unavailable()
        {
            tracing::warn!(error = %e, "cluster health: ClickHouse is unreachable");
            let mut body = health_body(
                &s,
                &Health {
                    indices: vec![],
                    missing: true,
                },
                false,
                "cluster",
            );
            body["number_of_data_nodes"] = json!(0);
            body["active_shards_percent_as_number"] = json!(0.0);
            return Ok(EsJson(StatusCode::OK, body).into_response());
        }
        let h = health_state(&s, expr).await?;
        let rank = if h.missing { 2 } else { 0 };
        let ok_status = wait_status.is_none_or(|w| rank <= w);
        let ok_indices = !h.missing;
        // One node; every shard active (no replicas, nothing initialising or relocating).
        let ok_nodes = wait_nodes.is_none_or(|(op, n)| op.holds(1, n));
        let ok_active = wait_active.is_none_or(|n| n.is_none_or(|n| h.indices.len() as u64 >= n));
        let satisfied = ok_status && ok_indices && ok_nodes && ok_active;
        if satisfied || timeout <= 0 || Instant::now() >= deadline {
            let timed_out = !satisfied;
            let body = health_body(&s, &h, timed_out, level);
            // ClusterHealthResponse#status: 408 on a timeout unless the caller opted into 200.
            let code = if timed_out && !flag(&p, "return_200_for_cluster_health_timeout")? {
                StatusCode::REQUEST_TIMEOUT
            } else {
                StatusCode::OK
            };
            return Ok(EsJson(code, body).into_response());
        }
        tokio::time::sleep(Duration::from_millis(250).min(deadline - Instant::now())).await;
    }
}

pub async fn health(
    State(s): State<AppState>,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
    Query(p): Query<Params>,
) -> ApiResult {
    health_impl(s, None, uri.path(), p).await
}

pub async fn health_index(
    State(s): State<AppState>,
    Path(index): Path<String>,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
    Query(p): Query<Params>,
) -> ApiResult {
    health_impl(s, Some(&index), uri.path(), p).await
}

// ---------------------------------------------------------------------------------------------
// _cluster/settings
// ---------------------------------------------------------------------------------------------

/// The defaults elastichouse reports (flat keys). What Kibana and the clients read: scripting
/// (`script.allowed_types`, empty = every type allowed), expensive queries, auto-creation, limits.
fn default_settings(s: &AppState) -> Vec<(&'static str, Value)> {
    vec![
        ("action.auto_create_index", json!("true")),
        ("action.destructive_requires_name", json!("true")),
        ("cluster.max_shards_per_node", json!("1000")),
        ("cluster.name", json!(s.cfg.cluster_name)),
        (
            "http.max_content_length",
            json!(match s.cfg.http_max_content_length {
                n if n % (1 << 20) == 0 => format!("{}mb", n >> 20),
                n => format!("{n}b"),
            }),
        ),
        ("indices.query.bool.max_clause_count", json!("4096")),
        ("node.name", json!(s.cfg.node_name)),
        ("script.allowed_contexts", json!([])),
        ("script.allowed_types", json!([])),
        ("search.allow_expensive_queries", json!("true")),
        ("search.default_search_timeout", json!("-1")),
        ("search.max_buckets", json!("65536")),
        ("xpack.license.self_generated.type", json!("basic")),
        ("xpack.security.enabled", json!("false")),
    ]
}

/// Flat `a.b.c` keys to nested objects (Settings#toXContent without `flat_settings`).
fn nest(flat: &[(&str, Value)]) -> Value {
    let mut root = Map::new();
    for (k, v) in flat {
        let parts: Vec<&str> = k.split('.').collect();
        let mut cur = &mut root;
        for p in &parts[..parts.len() - 1] {
            cur = cur
                .entry(p.to_string())
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("settings keys do not collide");
        }
        cur.insert(parts[parts.len() - 1].to_string(), v.clone());
    }
    Value::Object(root)
}

fn flat(settings: &[(&str, Value)]) -> Value {
    Value::Object(
        settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

pub async fn get_settings(
    State(s): State<AppState>,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
    Query(p): Query<Params>,
) -> ApiResult {
    super::search::check_params(
        uri.path(),
        &p,
        &[
            "flat_settings",
            "include_defaults",
            "master_timeout",
            "timeout",
            "local",
        ],
    )?;
    let flat_settings = flag(&p, "flat_settings")?;
    let mut body = json!({"persistent": {}, "transient": {}});
    if flag(&p, "include_defaults")? {
        let d = default_settings(&s);
        body["defaults"] = if flat_settings { flat(&d) } else { nest(&d) };
    }
    Ok(ok(body).into_response())
}

// ---------------------------------------------------------------------------------------------
// _xpack, _license
// ---------------------------------------------------------------------------------------------

/// Features of the default distribution, as `GET /_xpack` lists them under a basic licence
/// (available = allowed by the licence, enabled = switched on).
const FEATURES: &[(&str, bool, bool)] = &[
    ("aggregate_metric", true, true),
    ("analytics", true, true),
    ("archive", false, true),
    ("ccr", false, true),
    ("data_streams", true, true),
    ("data_tiers", true, true),
    ("enrich", true, true),
    ("enterprise_search", false, true),
    ("eql", true, true),
    ("esql", true, true),
    ("frozen_indices", true, true),
    ("graph", false, true),
    ("ilm", true, true),
    ("logsdb", false, true),
    ("logstash", false, true),
    ("ml", false, true),
    ("monitoring", true, true),
    ("rollup", true, true),
    ("searchable_snapshots", false, true),
    ("security", true, false),
    ("slm", true, true),
    ("spatial", true, true),
    ("sql", true, true),
    ("transform", true, true),
    ("universal_profiling", true, true),
    ("voting_only", true, true),
    ("watcher", false, true),
];

/// The uid of our self-generated basic licence: stable per cluster.
fn license_uid(s: &AppState) -> String {
    let h = crate::ids::index_uuid(&format!("license:{}", s.cluster_uuid));
    // A UUID-shaped string like Elasticsearch's licence uids.
    let hex: String = h
        .bytes()
        .map(|b| format!("{:02x}", b))
        .collect::<String>()
        .chars()
        .take(32)
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

pub async fn xpack(
    State(s): State<AppState>,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
    Query(p): Query<Params>,
) -> ApiResult {
    super::search::check_params(
        uri.path(),
        &p,
        &["categories", "accept_enterprise", "human"],
    )?;
    flag(&p, "accept_enterprise")?;
    let mut build = false;
    let mut license = false;
    let mut features = false;
    for c in split(p.get("categories").map(String::as_str).unwrap_or("_all")) {
        match c.as_str() {
            "_all" => {
                (build, license, features) = (true, true, true);
                break;
            }
            "_none" => {
                (build, license, features) = (false, false, false);
                break;
            }
            "build" => build = true,
            "license" => license = true,
            "features" => features = true,
            other => {
                return Err(EsError::illegal_argument(format!(
                    "No enum constant org.elasticsearch.protocol.xpack.XPackInfoRequest.Category.{}",
                    other.to_uppercase()
                )));
            }
        }
    }
    let mut v = Map::new();
    if build {
        v.insert(
            "build".into(),
            json!({"hash": "elastichouse", "date": "2026-01-01T00:00:00.000Z"}),
        );
    }
    if license {
        v.insert(
            "license".into(),
            json!({"uid": license_uid(&s), "type": "basic", "mode": "basic", "status": "active"}),
        );
    }
    if features {
        let f: Map<String, Value> = FEATURES
            .iter()
            .map(|(n, a, e)| (n.to_string(), json!({"available": a, "enabled": e})))
            .collect();
        v.insert("features".into(), Value::Object(f));
    }
    if p.get("human").map(String::as_str) != Some("false") {
        v.insert("tagline".into(), json!("You know, for X"));
    }
    Ok(ok(Value::Object(v)).into_response())
}

pub async fn xpack_usage(State(_s): State<AppState>) -> ApiResult {
    // XPackUsageResponse: one object per feature with at least `available` and `enabled`.
    let f: Map<String, Value> = FEATURES
        .iter()
        .map(|(n, a, e)| (n.to_string(), json!({"available": a, "enabled": e})))
        .collect();
    Ok(ok(Value::Object(f)).into_response())
}

pub async fn license(
    State(s): State<AppState>,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
    Query(p): Query<Params>,
) -> ApiResult {
    super::search::check_params(uri.path(), &p, &["local", "accept_enterprise"])?;
    flag(&p, "local")?;
    flag(&p, "accept_enterprise")?;
    // The issue date: when the cluster's database came to be is not known; a fixed epoch keeps the
    // answer identical across daemons.
    let issue: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
    Ok(ok(json!({"license": {
        "status": "active",
        "uid": license_uid(&s),
        "type": "basic",
        "issue_date": "2026-01-01T00:00:00.000Z",
        "issue_date_in_millis": issue,
        "max_nodes": 1000,
        "max_resource_units": null,
        "issued_to": s.cfg.cluster_name,
        "issuer": "elasticsearch",
        "start_date_in_millis": -1
    }}))
    .into_response())
}

/// Security is not enabled: Elasticsearch answers its security APIs on a basic licence with this
/// 500 (SecurityActionFilter / the licence check of the security REST handlers).
pub async fn security_disabled() -> EsError {
    EsError::new(
        500,
        "exception",
        "Security must be explicitly enabled when using a [basic] license. Enable security by setting [xpack.security.enabled] to [true] in the elasticsearch.yml file and restart the node.",
    )
}
