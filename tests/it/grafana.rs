//! The Grafana dashboard and the compose services of issue 14 (`docker/grafana/`,
//! `docker/docker-compose.yml`), checked without Docker (which CI cannot run):
//! * the compose file's Grafana service mounts the provisioning and dashboard directories that
//!   exist, at the paths the provisioning files name; its datasource is the compose Prometheus;
//! * the load generator services run `elastichouse loadgen` with arguments the real command line
//!   accepts, against the elastichouse service, for (practically) ever;
//! * the dashboard JSON has Grafana's dashboard shape (schema:
//!   https://grafana.com/docs/grafana/latest/dashboards/build-dashboards/view-dashboard-json-model/):
//!   panels with unique ids, grid positions that do not overlap, targets with unique `refId`s and
//!   the provisioned datasource's uid;
//! * every metric any panel's PromQL selects is in a real daemon's `/metrics` after it served a
//!   `_bulk` with a failed item, searches, errors (one of them ClickHouse's), an unsupported
//!   feature, a rejected write, a failed dual write and an A/B comparison (against a small fake
//!   Elasticsearch written here).

use crate::common::*;
use axum::body::Bytes;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use elastichouse::config::{Backend, Cli, Command, RouteRule, TargetName};
use elastichouse::telemetry::metrics::{ClickHouseMetrics, Metrics};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use yaml_rust2::{Yaml, YamlLoader};

fn docker_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docker")
}

fn yaml(path: &Path) -> Yaml {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
        .remove(0)
}

fn compose() -> Yaml {
    yaml(&docker_dir().join("docker-compose.yml"))
}

/// The `host:container[:mode]` volumes of a service: (host path relative to docker/, container
/// path) for bind mounts, (volume name, container path) for named volumes.
fn volumes(service: &Yaml) -> Vec<(String, String)> {
    service["volumes"]
        .as_vec()
        .map(|v| {
            v.iter()
                .map(|m| {
                    let m = m.as_str().expect("short volume syntax");
                    let parts: Vec<&str> = m.split(':').collect();
                    assert!(parts.len() >= 2, "volume {m}");
                    (parts[0].to_string(), parts[1].to_string())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The host directory (under docker/) mounted at `container_path` or at one of its parents, and
/// the rest of the path below the mount.
fn host_path(service: &Yaml, container_path: &str) -> Option<PathBuf> {
    volumes(service).into_iter().find_map(|(host, target)| {
        let rest = container_path.strip_prefix(target.trim_end_matches('/'))?;
        if !(rest.is_empty() || rest.starts_with('/')) {
            return None;
        }
        let host = host.strip_prefix("./")?;
        Some(docker_dir().join(host).join(rest.trim_start_matches('/')))
    })
}

const DATASOURCE_UID: &str = "elastichouse-prometheus";

/// Grafana's service: image, port, its provisioning and dashboards mounted from files that exist,
/// the dashboard provider's path inside a mount holding the dashboard, the datasource pointing at
/// the compose Prometheus. (Provisioning: https://grafana.com/docs/grafana/latest/administration/provisioning/)
#[test]
fn grafana_service_is_provisioned_with_the_dashboard() {
    let doc = compose();
    let g = &doc["services"]["grafana"];
    assert!(
        g["image"]
            .as_str()
            .is_some_and(|i| i.starts_with("grafana/grafana:")),
        "{g:?}"
    );
    assert!(
        g["ports"]
            .as_vec()
            .unwrap()
            .iter()
            .any(|p| p.as_str() == Some("3000:3000"))
    );
    let deps: Vec<&str> = g["depends_on"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert!(deps.contains(&"prometheus"), "{deps:?}");
    for (host, _) in volumes(g) {
        match host.strip_prefix("./") {
            Some(rel) => assert!(
                docker_dir().join(rel).exists(),
                "grafana mounts missing {host}"
            ),
            None => assert!(
                doc["volumes"]
                    .as_hash()
                    .unwrap()
                    .contains_key(&Yaml::String(host.clone())),
                "named volume {host} is not declared"
            ),
        }
    }
    // Grafana reads its provisioning from /etc/grafana/provisioning/{datasources,dashboards}.
    let prov = host_path(g, "/etc/grafana/provisioning").expect("provisioning mounted");
    let ds = yaml(&prov.join("datasources/prometheus.yml"));
    assert_eq!(ds["apiVersion"].as_i64(), Some(1));
    let ds = &ds["datasources"][0];
    assert_eq!(ds["type"].as_str(), Some("prometheus"));
    assert_eq!(ds["uid"].as_str(), Some(DATASOURCE_UID));
    // The datasource is the compose Prometheus, on the port its image listens on.
    let url = ds["url"].as_str().unwrap();
    assert_eq!(url, "http://prometheus:9090");
    assert!(
        doc["services"]["prometheus"]["ports"]
            .as_vec()
            .unwrap()
            .iter()
            .any(|p| p.as_str().is_some_and(|p| p.ends_with(":9090")))
    );

    let providers = yaml(&prov.join("dashboards/elastichouse.yml"));
    assert_eq!(providers["apiVersion"].as_i64(), Some(1));
    let p = &providers["providers"][0];
    assert_eq!(p["type"].as_str(), Some("file"));
    let path = p["options"]["path"].as_str().unwrap();
    let dir = host_path(g, path).expect("the provider's path is a mounted directory");
    assert!(dir.join("elastichouse.json").exists(), "{}", dir.display());
    let home = g["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
        .as_str()
        .unwrap();
    assert!(
        host_path(g, home).is_some_and(|f| f.exists()),
        "home dashboard {home}"
    );
    assert_eq!(
        dashboard_path(),
        dir.join("elastichouse.json"),
        "the dashboard checked below is the provisioned one"
    );
}

/// The load generators are the daemon's own image running `elastichouse loadgen` against the
/// elastichouse service, writing application and device logs with wall-clock timestamps for a very
/// long time (restarted if they stop); their arguments are accepted by the real command line.
#[test]
fn loadgen_services_keep_writing_app_and_device_logs() {
    let doc = compose();
    let services = doc["services"].as_hash().unwrap();
    let eh = &doc["services"]["elastichouse"];
    let mut kinds = BTreeSet::new();
    for (name, s) in services {
        let name = name.as_str().unwrap();
        if !name.starts_with("loadgen") {
            continue;
        }
        assert_eq!(s["image"], eh["image"], "{name} runs the daemon's image");
        assert_eq!(s["build"], eh["build"], "{name} builds it the same way");
        assert_eq!(s["restart"].as_str(), Some("unless-stopped"), "{name}");
        assert_eq!(
            s["depends_on"]["elastichouse"]["condition"].as_str(),
            Some("service_healthy"),
            "{name}"
        );
        let cmd: Vec<&str> = s["command"]
            .as_vec()
            .unwrap()
            .iter()
            .map(|a| a.as_str().expect("command arguments are strings"))
            .collect();
        // The image's entrypoint is the binary: the command is its arguments.
        let argv = std::iter::once("elastichouse").chain(cmd.iter().copied());
        let cli =
            <Cli as clap::Parser>::try_parse_from(argv).unwrap_or_else(|e| panic!("{name}: {e}"));
        let Some(Command::Loadgen(a)) = cli.command else {
            panic!("{name} does not run loadgen: {cmd:?}")
        };
        let target: url::Url = a.target.parse().unwrap();
        assert_eq!(target.host_str(), Some("elastichouse"), "{name}");
        assert_eq!(target.port(), Some(9200), "{name}");
        assert!(a.docs.is_none(), "{name} is bounded by --docs");
        assert!(
            a.duration
                .is_some_and(|d| d >= std::time::Duration::from_secs(365 * 86_400)),
            "{name} keeps writing"
        );
        assert!(
            a.span.is_zero(),
            "{name} stamps documents with the wall clock"
        );
        assert!(a.rate.is_some(), "{name} is rate limited");
        kinds.insert(
            serde_json::to_value(a.kind)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert!(
        kinds.contains("app") && kinds.contains("device"),
        "{kinds:?}"
    );
}

fn dashboard_path() -> PathBuf {
    docker_dir().join("grafana/dashboards/elastichouse.json")
}

fn dashboard() -> Value {
    serde_json::from_str(&std::fs::read_to_string(dashboard_path()).unwrap())
        .expect("the dashboard is JSON")
}

/// Every panel, rows' nested panels included.
fn panels(d: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().expect("panels") {
        out.push(p);
        out.extend(p["panels"].as_array().into_iter().flatten());
    }
    out
}

/// (panel title, PromQL) of every target.
fn queries(d: &Value) -> Vec<(String, String)> {
    panels(d)
        .into_iter()
        .flat_map(|p| {
            let title = p["title"].as_str().unwrap_or("").to_string();
            p["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |t| (title.clone(), t["expr"].as_str().unwrap_or("").to_string()))
        })
        .collect()
}

/// The dashboard has Grafana's shape: uid, title, schemaVersion, time; panels with unique ids,
/// types, titles and 24-column grid positions that do not overlap; each graph panel with targets
/// (unique refIds, a PromQL `expr`) on the provisioned Prometheus datasource; and it covers what
/// issue 14 asks for.
#[test]
fn dashboard_has_grafanas_shape() {
    let d = dashboard();
    assert_eq!(d["uid"], "elastichouse");
    assert!(d["title"].is_string());
    assert!(d["schemaVersion"].as_u64().is_some_and(|v| v >= 30));
    assert!(d["time"]["from"].is_string() && d["time"]["to"].is_string());
    let mut ids = HashSet::new();
    let mut cells: HashSet<(u64, u64)> = HashSet::new();
    for p in panels(&d) {
        let id = p["id"].as_u64().expect("panel id");
        assert!(ids.insert(id), "duplicate panel id {id}");
        let title = p["title"].as_str().expect("title");
        let kind = p["type"].as_str().expect("type");
        let g = &p["gridPos"];
        let (x, y, w, h) = (
            g["x"].as_u64().unwrap(),
            g["y"].as_u64().unwrap(),
            g["w"].as_u64().unwrap(),
            g["h"].as_u64().unwrap(),
        );
        assert!(w > 0 && h > 0 && x + w <= 24, "{title}: {g}");
        for cx in x..x + w {
            for cy in y..y + h {
                assert!(cells.insert((cx, cy)), "{title} overlaps another panel");
            }
        }
        if kind == "row" {
            continue;
        }
        assert!(
            ["timeseries", "stat", "bargauge", "table", "gauge"].contains(&kind),
            "{title}: {kind}"
        );
        assert_eq!(p["datasource"]["uid"], DATASOURCE_UID, "{title}");
        assert_eq!(p["datasource"]["type"], "prometheus", "{title}");
        let targets = p["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title} has no target");
        let mut refs = HashSet::new();
        for t in targets {
            assert!(refs.insert(t["refId"].as_str().unwrap()), "{title}: refId");
            let uid = &t["datasource"]["uid"];
            assert!(uid.is_null() || uid == DATASOURCE_UID, "{title}");
            let e = t["expr"].as_str().expect("expr");
            assert!(balanced(e), "{title}: unbalanced {e}");
            assert!(!metric_names(e).is_empty(), "{title}: no metric in {e}");
        }
    }
    // What the issue lists, by the metric families the panels read.
    let all: BTreeSet<String> = queries(&d)
        .iter()
        .flat_map(|(_, e)| metric_names(e))
        .collect();
    for want in [
        "elastichouse_ingest_documents_total",
        "elastichouse_ingest_bytes_total",
        "elastichouse_bulk_item_errors_total",
        "elastichouse_http_requests_total",
        "elastichouse_http_request_duration_seconds_bucket",
        "elastichouse_http_errors_total",
        "elastichouse_clickhouse_query_duration_seconds_count",
        "elastichouse_clickhouse_query_duration_seconds_sum",
        "elastichouse_embedded_engine_restarts_total",
        "elastichouse_ab_comparisons_by_index_total",
        "elastichouse_mismatches_by_index_total",
        "elastichouse_unsupported_features_total",
        "elastichouse_searches_in_flight",
        "elastichouse_indexing_pressure_bytes",
        "elastichouse_rejected_requests_total",
    ] {
        assert!(all.contains(want), "no panel reads {want}: {all:?}");
    }
}

/// Brackets, braces and parentheses of a PromQL expression are balanced (outside strings).
fn balanced(e: &str) -> bool {
    let mut stack = Vec::new();
    let mut quote = None;
    let mut escaped = false;
    for c in e.chars() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => quote = Some(c),
            '(' | '[' | '{' => stack.push(c),
            ')' | ']' | '}' => {
                let open = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                if stack.pop() != Some(open) {
                    return false;
                }
            }
            _ => {}
        }
    }
    stack.is_empty() && quote.is_none()
}

/// The metric names a PromQL expression selects. Left out: string literals; label matchers
/// (`{…}`) and range/subquery brackets (`[…]`, with Grafana's `$__rate_interval`); identifiers
/// followed by `(` or by `by`/`without` (functions and aggregations); the label lists of `by`, `without`, `on`,
/// `ignoring`, `group_left` and `group_right`; keywords (`and`, `or`, `unless`, `bool`,
/// `offset`, …); numbers and durations; Grafana variables (`$x`). A selector by `__name__` is
/// refused: it would hide the metric's name from this check.
/// (PromQL grammar: https://prometheus.io/docs/prometheus/latest/querying/basics/)
fn metric_names(expr: &str) -> Vec<String> {
    let c: Vec<char> = expr.chars().collect();
    let n = c.len();
    let mut out = Vec::new();
    let mut i = 0;
    let mut label_list = false;
    let skip_string = |mut i: usize| {
        let q = c[i];
        i += 1;
        while i < n && c[i] != q {
            if c[i] == '\\' && q != '`' {
                i += 1;
            }
            i += 1;
        }
        i + 1
    };
    // The index after the bracket closing the one at `i`, strings skipped.
    let skip_group = |mut i: usize, open: char, close: char| {
        let mut depth = 0;
        while i < n {
            match c[i] {
                '"' | '\'' | '`' => {
                    i = skip_string(i);
                    continue;
                }
                x if x == open => depth += 1,
                x if x == close => {
                    depth -= 1;
                    if depth == 0 {
                        return i + 1;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        n
    };
    let ident = |x: char| x.is_ascii_alphanumeric() || x == '_' || x == ':';
    while i < n {
        match c[i] {
            '"' | '\'' | '`' => i = skip_string(i),
            '{' => {
                let end = skip_group(i, '{', '}');
                let inner: String = c[i..end].iter().collect();
                assert!(
                    !inner.contains("__name__"),
                    "selector by __name__ in {expr}"
                );
                i = end;
            }
            '[' => i = skip_group(i, '[', ']'),
            '(' if label_list => {
                i = skip_group(i, '(', ')');
                label_list = false;
            }
            '$' => {
                i += 1;
                while i < n && ident(c[i]) {
                    i += 1;
                }
            }
            x if x.is_ascii_digit() || x == '.' => {
                while i < n && (ident(c[i]) || c[i] == '.') {
                    i += 1;
                }
            }
            x if x.is_ascii_alphabetic() || x == '_' || x == ':' => {
                let start = i;
                while i < n && ident(c[i]) {
                    i += 1;
                }
                let word: String = c[start..i].iter().collect();
                let mut j = i;
                while j < n && c[j].is_whitespace() {
                    j += 1;
                }
                // A function or aggregation: `(` follows, or (aggregations) `by`/`without`.
                let next: String = c[j..].iter().take_while(|x| ident(**x)).collect();
                let call = (j < n && c[j] == '(')
                    || ["by", "without"].contains(&next.to_ascii_lowercase().as_str());
                match word.to_ascii_lowercase().as_str() {
                    "by" | "without" | "on" | "ignoring" | "group_left" | "group_right" => {
                        label_list = true
                    }
                    "and" | "or" | "unless" | "bool" | "offset" | "atan2" | "inf" | "nan" => {}
                    _ if call => {}
                    _ => out.push(word),
                }
            }
            _ => i += 1,
        }
    }
    out
}

#[test]
fn metric_names_are_read_out_of_promql() {
    let e = r#"histogram_quantile(0.99, sum by (le, endpoint) (rate(a_seconds_bucket{endpoint=~"_search|x{y}", k!="by(z)"}[$__rate_interval])))"#;
    assert_eq!(metric_names(e), ["a_seconds_bucket"]);
    let e = "sum(rate(x_total[5m] offset 1h)) / on (i) group_left (k) sum without (j) (y) and z > bool 0.5e3";
    assert_eq!(metric_names(e), ["x_total", "y", "z"]);
    assert_eq!(
        metric_names("sort_desc(sum by (f) (increase(u_total[$__range])))"),
        ["u_total"]
    );
    assert_eq!(metric_names("g"), ["g"]);
    assert!(balanced(r#"a{b="}"}"#) && !balanced("sum(a[5m)"));
}

// ------------------------------------------------------------- the daemon and its /metrics

/// A fake Elasticsearch for the A/B and dual-write routes: searches find nothing (so ClickHouse's
/// hits are "missing" on its side), `_bulk` of the index `gf-dw-fail` fails with 500, everything
/// else answers `{}`.
async fn fake_es(uri: Uri, body: Bytes) -> Response {
    let path = uri.path();
    let v = if path.ends_with("/_search") {
        json!({"took": 1, "timed_out": false,
            "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": {"total": {"value": 0, "relation": "eq"}, "max_score": null, "hits": []}})
    } else if path.ends_with("/_bulk") {
        if String::from_utf8_lossy(&body).contains("gf-dw-fail") {
            let e = json!({"error": {"root_cause": [], "type": "exception", "reason": "fake"},
                "status": 500});
            return (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(e)).into_response();
        }
        json!({"took": 1, "errors": false, "items": []})
    } else {
        json!({})
    };
    let mut r = axum::Json(v).into_response();
    r.headers_mut()
        .insert("x-elastic-product", "Elasticsearch".parse().unwrap());
    r
}

fn start_fake_es() -> String {
    let addr = serve_in_background(axum::Router::new().fallback(fake_es));
    format!("http://{addr}")
}

async fn send(d: &Daemon, method: &str, path: &str, ct: &str, body: &str) -> Resp {
    let r = client()
        .request(method.parse().unwrap(), format!("http://{}{}", d.es, path))
        .header("content-type", ct)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    Resp {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        text: r.text().await.unwrap(),
    }
}

async fn metrics_text(d: &Daemon) -> String {
    client()
        .get(format!("http://{}/metrics", d.ui))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// What an OpenMetrics exposition holds: family name → type, and the sample names present.
struct Exposition {
    types: HashMap<String, String>,
    samples: HashSet<String>,
}

fn exposition(text: &str) -> Exposition {
    let mut types = HashMap::new();
    let mut samples = HashSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut w = rest.split_whitespace();
            if let (Some(name), Some(t)) = (w.next(), w.next()) {
                types.insert(name.to_string(), t.to_string());
            }
        } else if !line.starts_with('#') && !line.is_empty() {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            samples.insert(line[..end].to_string());
        }
    }
    Exposition { types, samples }
}

impl Exposition {
    /// The family a sample name belongs to (`x_total` of counter `x`, `x_bucket` of histogram
    /// `x`, …), if the exposition declares it.
    fn family_of(&self, sample: &str) -> Option<(&str, &str)> {
        let suffixes: &[(&str, &[&str])] = &[
            ("_total", &["counter"]),
            ("_bucket", &["histogram"]),
            ("_sum", &["histogram", "summary"]),
            ("_count", &["histogram", "summary"]),
            ("", &["gauge", "counter", "histogram", "unknown"]),
        ];
        suffixes.iter().find_map(|(suffix, kinds)| {
            let base = sample.strip_suffix(suffix)?;
            let (name, t) = self.types.get_key_value(base)?;
            kinds
                .contains(&t.as_str())
                .then_some((name.as_str(), t.as_str()))
        })
    }
}

/// Metrics this test does not bring about in the daemon (which prints a labelled family only once
/// it has a sample), with why; their names are checked on the daemon's own registry
/// ([`Metrics`]) after the call that feeds them.
const REGISTRY_ONLY: &[(&str, &str)] = &[(
    "elastichouse_mismatch_store_failures_total",
    "a failure to write A/B mismatches to the ClickHouse table (store_mismatches)",
)];

fn registry_only() -> Exposition {
    let ch = ClickHouseMetrics::default();
    let m = Metrics::new(&ch);
    m.mismatch_store_failure("queue_full", 1);
    exposition(&m.encode(0, 0))
}

/// Every metric the dashboard's PromQL selects is in a real daemon's `/metrics`, with samples,
/// once the daemon has served what each panel is about.
#[tokio::test]
async fn every_metric_the_dashboard_queries_is_served() {
    let es = start_fake_es();
    let d = start_daemon(|c| {
        c.elasticsearch_url = Some(es);
        c.routing.query = vec![RouteRule {
            indices: vec!["gf-ab*".into()],
            target: TargetName::Both,
            primary: Some(Backend::Clickhouse),
        }];
        c.routing.ingest = vec![RouteRule {
            indices: vec!["gf-dw*".into()],
            target: TargetName::Both,
            primary: Some(Backend::Clickhouse),
        }];
        c.indexing_pressure_memory_limit = 4096;
    });
    let nd = "application/x-ndjson";
    let js = "application/json";
    // A _bulk with a failed item (a string for a long).
    let r = send(&d, "PUT", "/gf-logs", js, r#"{"mappings":{"properties":{"n":{"type":"long"},"msg":{"type":"keyword"},"@timestamp":{"type":"date"}}}}"#).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let bulk = "{\"index\":{\"_index\":\"gf-logs\"}}\n{\"@timestamp\":\"2026-01-01T00:00:00Z\",\"n\":1}\n\
                {\"index\":{\"_index\":\"gf-logs\"}}\n{\"@timestamp\":\"2026-01-01T00:00:01Z\",\"n\":\"abc\"}\n";
    let r = send(&d, "POST", "/_bulk?refresh=true", nd, bulk).await;
    assert_eq!(r.json()["errors"], true, "{}", r.text);
    // Searches: one answered, one refused with a parsing error.
    let r = send(
        &d,
        "POST",
        "/gf-logs/_search",
        js,
        r#"{"query":{"match_all":{}}}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = send(
        &d,
        "POST",
        "/gf-logs/_search",
        js,
        r#"{"query":{"no_such_query":{}}}"#,
    )
    .await;
    assert!(r.status >= 400, "{}", r.text);
    // A statement ClickHouse refuses (integer division by zero in a runtime field's script).
    let r = send(
        &d,
        "POST",
        "/gf-logs/_search",
        js,
        r#"{"runtime_mappings":{"x":{"type":"long","script":{"source":"emit(doc['n'].value / 0)"}}},"fields":["x"]}"#,
    )
    .await;
    assert!(r.status >= 400, "{}", r.text);
    // An unsupported feature (legacy templates answer a 400 naming it).
    let r = send(&d, "GET", "/_template", js, "").await;
    assert_eq!(r.status, 400, "{}", r.text);
    // A write over the indexing pressure limit: 429.
    let big: String = (0..40)
        .map(|i| {
            format!(
                "{{\"index\":{{\"_index\":\"gf-logs\"}}}}\n{{\"n\":{i},\"pad\":\"{}\"}}\n",
                "x".repeat(100)
            )
        })
        .collect();
    let r = send(&d, "POST", "/_bulk", nd, &big).await;
    assert_eq!(r.status, 429, "{}", r.text);
    // A dual write whose Elasticsearch side fails.
    let r = send(
        &d,
        "POST",
        "/_bulk?refresh=true",
        nd,
        "{\"index\":{\"_index\":\"gf-dw-fail\"}}\n{\"n\":1}\n",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // An A/B search whose answers differ (the fake finds nothing).
    let r = send(
        &d,
        "POST",
        "/_bulk?refresh=true",
        nd,
        "{\"index\":{\"_index\":\"gf-ab\"}}\n{\"n\":1}\n",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = send(
        &d,
        "POST",
        "/gf-ab/_search",
        js,
        r#"{"query":{"match_all":{}}}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The comparison runs after the answer: wait for it to be counted (bounded).
    let mut text = String::new();
    for _ in 0..300 {
        text = metrics_text(&d).await;
        if text.contains("elastichouse_mismatches_by_index_total{index=\"gf-ab\"") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let exp = exposition(&text);

    let reg = registry_only();
    let d = dashboard();
    let mut missing = Vec::new();
    for (title, e) in queries(&d) {
        for m in metric_names(&e) {
            if exp.samples.contains(&m)
                || (REGISTRY_ONLY.iter().any(|(r, _)| *r == m) && reg.samples.contains(&m))
            {
                continue;
            }
            match exp.family_of(&m) {
                Some((family, t)) => missing.push(format!(
                    "{title}: {m} ({t} {family} is declared but has no sample)"
                )),
                None => missing.push(format!("{title}: {m} is not in /metrics")),
            }
        }
    }
    assert!(missing.is_empty(), "{missing:#?}\n{text}");

    // The samples of the new metrics carry the labels the panels group by.
    for want in [
        "elastichouse_bulk_item_errors_total{type=\"document_parsing_exception\"} 1",
        "elastichouse_http_errors_total{endpoint=\"_template\",type=\"illegal_argument_exception\"} 1",
        "elastichouse_rejected_requests_total{kind=\"write\"} 1",
        "elastichouse_ab_comparisons_by_index_total{index=\"gf-ab\",result=\"mismatch\"} 1",
    ] {
        assert!(text.contains(want), "{want} not in\n{text}");
    }
    assert!(
        text.contains("elastichouse_http_errors_total{endpoint=\"_search\",type=\""),
        "{text}"
    );
    assert!(
        text.contains("elastichouse_http_errors_total{endpoint=\"_bulk\",type=\"es_rejected_execution_exception\"} 1"),
        "{text}"
    );
}
