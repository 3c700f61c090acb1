//! The debug UI: request traces with their SQL, `/metrics`, pprof, and every page rendered in
//! headless Chromium.

use crate::common::*;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

// Its own daemon: the tests count requests in `/metrics` and read the request ring and the
// SQL log, which the other modules' requests would change.
crate::common::own_daemon!();

/// Sends a request to the ES API with an `X-Opaque-Id`.
async fn req_with_opaque(method: &str, path: &str, body: Option<&Value>, opaque: &str) -> Resp {
    let d = daemon();
    let mut r = client()
        .request(method.parse().unwrap(), format!("http://{}{}", d.es, path))
        .header("x-opaque-id", opaque);
    if let Some(b) = body {
        r = r
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let resp = r.send().await.expect("request");
    Resp {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        text: resp.text().await.unwrap(),
    }
}

/// The id of the latest traced request with this opaque id.
async fn request_id(opaque: &str) -> u64 {
    let list = ui_get(&format!("/api/requests?q={opaque}")).await.json();
    list["requests"][0]["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("no traced request with opaque id {opaque}: {list}"))
}

async fn seed_index(index: &str) {
    let r = bulk(
        &format!("/{index}/_bulk?refresh=true"),
        "{\"index\":{\"_id\":\"1\"}}\n{\"title\":\"Hello <b>world</b>\",\"n\":1}\n\
{\"index\":{\"_id\":\"2\"}}\n{\"title\":\"second & last\",\"n\":2}\n",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["errors"], false, "{}", r.text);
}

#[tokio::test]
async fn request_detail_shows_the_sql_of_a_search() {
    seed_index("ui-trace").await;
    let body = json!({"query": {"term": {"n": 2}}});
    let r = req_with_opaque("POST", "/ui-trace/_search", Some(&body), "ui-trace-panel-1").await;
    assert_eq!(r.status, 200, "{}", r.text);

    let id = request_id("ui-trace-panel-1").await;
    let full = ui_get(&format!("/api/requests/{id}")).await.json();
    assert_eq!(full["method"], "POST");
    assert_eq!(full["path"], "/ui-trace/_search");
    assert_eq!(full["endpoint"], "_search");
    assert_eq!(full["opaque_id"], "ui-trace-panel-1");
    assert_eq!(full["status"], 200);
    assert_eq!(full["request_body"], body.to_string());
    assert_eq!(full["response_body"], r.text);
    let sql = full["sql"].as_array().expect("sql list");
    let select = sql
        .iter()
        .find(|q| {
            let q = q["sql"].as_str().unwrap();
            q.starts_with("SELECT") && q.contains("`ui-trace`")
        })
        .unwrap_or_else(|| panic!("no SELECT on the index attributed to the search: {full}"));
    assert!(select["millis"].as_f64().is_some(), "{select}");

    let page = ui_get(&format!("/requests/{id}")).await;
    assert_eq!(page.status, 200);
    for want in [
        "ClickHouse statements",
        "SELECT",
        "ui-trace-panel-1",
        "request body",
        "response body",
        "&quot;term&quot;",
    ] {
        assert!(page.text.contains(want), "missing {want}: {}", page.text);
    }
    // User data is escaped: the stored title comes back inside the response body.
    assert!(
        page.text.contains("Hello &lt;b&gt;world&lt;/b&gt;") || !r.text.contains("Hello"),
        "{}",
        page.text
    );
    assert!(!page.text.contains("<b>world</b>"));
    // The live tail lists it with a link to the detail page.
    let tail = ui_get("/requests?q=ui-trace-panel-1").await;
    assert!(
        tail.text.contains(&format!("href=\"/requests/{id}\"")),
        "{}",
        tail.text
    );
    let gone = ui_get("/requests/999999999").await;
    assert_eq!(gone.status, 404);
}

/// A parsed text exposition: (name, labels) → value, and the declared metric types.
struct Exposition {
    samples: HashMap<(String, Vec<(String, String)>), f64>,
    types: HashMap<String, String>,
}

impl Exposition {
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let mut l: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        l.sort();
        self.samples
            .get(&(name.to_string(), l))
            .copied()
            .unwrap_or(0.0)
    }

    fn has(&self, name: &str) -> bool {
        self.samples.keys().any(|(n, _)| n == name)
    }
}

/// Parses the Prometheus/OpenMetrics text format strictly enough to catch malformed output.
fn parse_exposition(text: &str) -> Exposition {
    let mut samples = HashMap::new();
    let mut types = HashMap::new();
    let mut eof = false;
    for line in text.lines() {
        assert!(!eof, "content after # EOF: {line}");
        if line == "# EOF" {
            eof = true;
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let kind = parts.next().unwrap();
            let name = parts.next().expect("metric name in comment");
            assert!(
                ["HELP", "TYPE", "UNIT"].contains(&kind),
                "unknown comment: {line}"
            );
            if kind == "TYPE" {
                types.insert(name.to_string(), parts.next().unwrap().to_string());
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("sample has a value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series.to_string(), Vec::new()),
            Some((n, rest)) => {
                let rest = rest.strip_suffix('}').expect("labels end with }");
                let mut labels = Vec::new();
                // Label values here never contain `",`; split on it.
                for pair in rest.split("\",").filter(|p| !p.is_empty()) {
                    let (k, v) = pair.split_once("=\"").expect("label k=\"v\"");
                    labels.push((k.to_string(), v.trim_end_matches('"').to_string()));
                }
                labels.sort();
                (n.to_string(), labels)
            }
        };
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in {line}"
        );
        samples.insert((name, labels), value);
    }
    assert!(eof, "exposition ends with # EOF");
    Exposition { samples, types }
}

async fn scrape() -> Exposition {
    let r = ui_get("/metrics").await;
    assert_eq!(r.status, 200);
    let ct = r.headers["content-type"].to_str().unwrap();
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    parse_exposition(&r.text)
}

#[tokio::test]
async fn metrics_parse_and_count_requests() {
    seed_index("ui-metrics").await;
    let labels = [
        ("endpoint", "_cat/indices"),
        ("method", "GET"),
        ("status", "200"),
    ];
    let before = scrape().await;
    let r = get("/_cat/indices/ui-metrics").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let after = scrape().await;
    assert_eq!(
        after.value("elastichouse_http_requests_total", &labels)
            - before.value("elastichouse_http_requests_total", &labels),
        1.0
    );
    assert_eq!(
        after
            .types
            .get("elastichouse_http_request_duration_seconds"),
        Some(&"histogram".to_string())
    );
    assert!(
        after.value(
            "elastichouse_http_request_duration_seconds_count",
            &[("endpoint", "_cat/indices")]
        ) >= 1.0
    );
    assert!(after.value("elastichouse_ingest_bytes_total", &[("endpoint", "_bulk")]) > 100.0);
    assert!(after.value("elastichouse_ingest_documents_total", &[]) >= 2.0);
    assert!(
        after.value(
            "elastichouse_clickhouse_query_duration_seconds_count",
            &[("kind", "insert")]
        ) >= 1.0
    );
    assert!(after.has("elastichouse_embedded_engine_restarts_total"));
    assert!(after.has("elastichouse_http_requests_in_flight"));

    // Unsupported features are counted by name.
    let r = json_req(
        "POST",
        "/_search",
        &json!({"query": {"script_score": {"query": {"match_all": {}}, "script": "1"}}}),
    )
    .await;
    assert_eq!(r.status, 400);
    let m = scrape().await;
    assert!(
        m.value(
            "elastichouse_unsupported_features_total",
            &[("feature", "query [script_score]")]
        ) >= 1.0,
        "{:?}",
        m.samples
            .keys()
            .filter(|k| k.0.contains("unsupported"))
            .collect::<Vec<_>>()
    );
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    assert_eq!(&b[..2], &[0x1f, 0x8b], "gzip magic");
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .expect("gunzip");
    out
}

async fn ui_bytes(path: &str) -> (u16, Vec<u8>, String) {
    let r = client()
        .get(format!("http://{}{}", daemon().ui, path))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, r.bytes().await.unwrap().to_vec(), ct)
}

#[tokio::test]
async fn pprof_answers_profiles() {
    use pprof::protos::Message;
    // Some work to sample while the profile runs.
    let load = tokio::spawn(async {
        for _ in 0..20 {
            let _ = get("/_cat/indices").await;
        }
    });
    let (status, body, _) = ui_bytes("/debug/pprof/profile?seconds=1").await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let raw = gunzip(&body);
    assert!(!raw.is_empty());
    let profile = pprof::protos::Profile::parse_from_bytes(&raw).expect("pprof protobuf");
    assert!(!profile.sample_type.is_empty());
    assert!(!profile.string_table.is_empty());
    load.await.unwrap();

    // Idle or busy, the flame graph is an SVG.
    let (status, body, ct) = ui_bytes("/debug/pprof/flamegraph?seconds=1").await;
    assert_eq!(status, 200);
    assert_eq!(ct, "image/svg+xml");
    let svg = String::from_utf8_lossy(&body);
    assert!(svg.contains("<svg"), "{svg}");
    let busy = tokio::task::spawn_blocking(|| {
        let until = std::time::Instant::now() + std::time::Duration::from_millis(1500);
        let mut x = 0u64;
        while std::time::Instant::now() < until {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        x
    });
    let (status, body, _) = ui_bytes("/debug/pprof/flamegraph?seconds=1").await;
    busy.await.unwrap();
    assert_eq!(status, 200);
    let svg = String::from_utf8_lossy(&body);
    assert!(svg.contains("<svg") && svg.contains("samples"), "{svg}");

    for bad in ["0", "61", "x"] {
        let (status, _, _) = ui_bytes(&format!("/debug/pprof/profile?seconds={bad}")).await;
        assert_eq!(status, 400, "seconds={bad}");
    }

    let (status, body, _) = ui_bytes("/debug/pprof/heap").await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let raw = gunzip(&body);
    let heap = pprof::protos::Profile::parse_from_bytes(&raw).expect("heap pprof protobuf");
    assert!(!heap.sample_type.is_empty());
}

#[tokio::test]
async fn pages_render_in_headless_chromium() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: scripts/setup installs Debian's chromium package"
    );
    seed_index("ui-render").await;
    let r = req_with_opaque(
        "POST",
        "/ui-render/_search",
        Some(&json!({"query": {"match_all": {}}, "size": 1})),
        "ui-render-search",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let _ = json_req(
        "POST",
        "/ui-render/_search",
        &json!({"query": {"script_score": {"query": {"match_all": {}}, "script": "1"}}}),
    )
    .await;
    let id = request_id("ui-render-search").await;
    let detail = format!("/requests/{id}");
    let pages: [(&str, &str); 12] = [
        ("/", "latency p99"),
        ("/requests", "ui-render-search"),
        (&detail, "ClickHouse statements"),
        ("/sql", "SELECT"),
        ("/unsupported", "script_score"),
        ("/indices", "ui-render"),
        ("/ingest", "documents ingested"),
        ("/debug/pprof", "flamegraph"),
        (
            "/routing?index=logs",
            "everything is served from ClickHouse",
        ),
        ("/mismatches", "A/B queries compared"),
        ("/readiness", "transparent-proxy mode"),
        ("/no-such-page", "Nothing at"),
    ];
    let shots = std::env::var_os("ELASTICHOUSE_UI_SCREENSHOTS").map(PathBuf::from);
    let d = daemon().ui;
    for (path, want) in pages {
        let url = format!("http://{d}{path}");
        let (dom, log) = chromium(&["--dump-dom"], &url);
        assert!(dom.contains("<h1>"), "{path} has no heading: {dom}");
        assert!(dom.contains(want), "{path} lacks {want:?}: {dom}");
        assert!(
            dom.contains("<header><b>elastichouse</b>"),
            "{path} lacks the menu"
        );
        // The pages' own script logs nothing: any console line is an error (an exception, a
        // failed load, a CSP violation).
        for line in log.lines() {
            assert!(
                !line.contains(":CONSOLE"),
                "{path}: browser console: {line}"
            );
        }
        if let Some(dir) = &shots {
            std::fs::create_dir_all(dir).unwrap();
            let name = path.trim_matches('/').replace('/', "_");
            let file = dir.join(format!(
                "{}.png",
                if name.is_empty() { "overview" } else { &name }
            ));
            chromium(
                &[
                    &format!("--screenshot={}", file.display()),
                    "--window-size=1280,900",
                    "--hide-scrollbars",
                ],
                &url,
            );
            assert!(file.exists(), "screenshot of {path}");
        }
    }
}
