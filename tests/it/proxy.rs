//! Routing to a real Elasticsearch: transparent proxy, pass-through, dual write and A/B queries.
//!
//! Elasticsearch is played by a small fake written here (axum on a free port): plumbing only. It
//! records every request it receives and answers with canned bodies, so the tests know exactly what
//! "Elasticsearch" said and can check what elastichouse passed on, recorded and compared.
//! Two daemons of their own run on the real embedded engine: one in `mode = "proxy"`, one routing
//! per index (`dw-*` dual write, `ab-*` A/B with ClickHouse as primary, `es-*` to Elasticsearch),
//! the latter also writing its mismatches to the ClickHouse table (`store_mismatches = true`).

use crate::common::*;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use elastichouse::config::{Backend, Mode, RouteRule, TargetName};
use parking_lot::Mutex;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::OnceLock;

// ---------------------------------------------------------------- the fake Elasticsearch

#[derive(Clone, Debug)]
struct Received {
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Bytes,
}

struct Fake {
    addr: SocketAddr,
    received: Mutex<Vec<Received>>,
    /// Canned answers of `_search`/`_count`/`_msearch` by index (first path segment):
    /// status, content type, body bytes.
    canned: Mutex<HashMap<String, (u16, String, String)>>,
}

static FAKE: OnceLock<&'static Fake> = OnceLock::new();

/// The answer to anything not canned: odd spacing on purpose, so a re-serialisation would show.
const DEFAULT_BODY: &str = "{ \"fake\" :  \"elasticsearch\",\n  \"n\": 1.50 }\n";

async fn fake_handler(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let f = fake();
    f.received.lock().push(Received {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or("").to_string(),
        headers,
        body: body.clone(),
    });
    let first = uri
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("")
        .to_string();
    let api_is = |a: &str| uri.path().ends_with(a);
    let canned = f.canned.lock().get(&first).cloned();
    // Canned answers for searches, and for document writes of dual-write indices.
    let doc_write = first.starts_with("dw-") && uri.path().contains("/_doc/");
    if (api_is("/_search") || api_is("/_count") || api_is("/_msearch") || doc_write)
        && let Some((status, ct, b)) = canned
    {
        let mut r = (StatusCode::from_u16(status).unwrap(), b).into_response();
        r.headers_mut()
            .insert("content-type", HeaderValue::from_str(&ct).unwrap());
        r.headers_mut().insert(
            "x-elastic-product",
            HeaderValue::from_static("Elasticsearch"),
        );
        return r;
    }
    if api_is("/_bulk") {
        if String::from_utf8_lossy(&body).contains("dw-fail") || first == "dw-fail" {
            let err = json!({"error": {"root_cause": [], "type": "es_rejected_execution_exception",
                "reason": "rejected by the fake"}, "status": 500});
            return (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(err)).into_response();
        }
        return axum::Json(json!({"took": 1, "errors": false, "items": []})).into_response();
    }
    let mut r = (StatusCode::OK, DEFAULT_BODY).into_response();
    let h = r.headers_mut();
    h.insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    h.insert("x-fake-es", HeaderValue::from_static("yes"));
    h.append("x-multi", HeaderValue::from_static("a"));
    h.append("x-multi", HeaderValue::from_static("b"));
    r
}

fn fake() -> &'static Fake {
    FAKE.get_or_init(|| {
        let addr = serve_in_background(axum::Router::new().fallback(fake_handler));
        Box::leak(Box::new(Fake {
            addr,
            received: Mutex::new(Vec::new()),
            canned: Mutex::new(HashMap::new()),
        }))
    })
}

fn can(index: &str, status: u16, body: &Value) {
    fake().canned.lock().insert(
        index.to_string(),
        (status, "application/json".into(), body.to_string()),
    );
}

/// What the fake received on `path` (exact), oldest first.
fn received(path: &str) -> Vec<Received> {
    fake()
        .received
        .lock()
        .iter()
        .filter(|r| r.path == path)
        .cloned()
        .collect()
}

// ---------------------------------------------------------------- the daemons

fn es_url() -> Option<String> {
    Some(format!("http://{}", fake().addr))
}

fn proxy_daemon() -> &'static Daemon {
    static D: OnceLock<Daemon> = OnceLock::new();
    D.get_or_init(|| {
        start_daemon(|c| {
            c.elasticsearch_url = es_url();
            c.mode = Mode::Proxy;
        })
    })
}

fn rule(indices: &str, target: TargetName, primary: Option<Backend>) -> RouteRule {
    RouteRule {
        indices: vec![indices.to_string()],
        target,
        primary,
    }
}

fn routing_daemon() -> &'static Daemon {
    static D: OnceLock<Daemon> = OnceLock::new();
    D.get_or_init(|| {
        start_daemon(|c| {
            c.elasticsearch_url = es_url();
            c.routing.ingest = vec![
                rule("dw-*", TargetName::Both, Some(Backend::Clickhouse)),
                rule("es-*", TargetName::Elasticsearch, None),
            ];
            c.routing.query = vec![
                rule("ab-*", TargetName::Both, Some(Backend::Clickhouse)),
                rule("abe-*", TargetName::Both, Some(Backend::Elasticsearch)),
                rule("es-*", TargetName::Elasticsearch, None),
            ];
            c.store_mismatches = true;
        })
    })
}

async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Resp {
    let mut r = client().request(method.parse().unwrap(), format!("http://{addr}{path}"));
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    if let Some(b) = body {
        r = r.body(b.to_string());
    }
    let resp = r.send().await.expect("request");
    Resp {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        text: resp.text().await.unwrap(),
    }
}

async fn ui(d: &Daemon, path: &str) -> Resp {
    send(d.ui, "GET", path, &[], None).await
}

/// Renders a debug UI page in headless Chromium (Debian's `chromium`, as tests/it/debug_ui.rs does):
/// the DOM after scripts ran must hold the heading, the menu and `want`, and the browser console
/// must stay silent (no script error).
fn render_in_chromium(d: &Daemon, path: &str, want: &str) {
    let (dom, log) = chromium(&["--dump-dom"], &format!("http://{}{path}", d.ui));
    assert!(dom.contains("<h1>"), "{path} has no heading: {dom}");
    assert!(
        dom.contains("<header><b>elastichouse</b>"),
        "{path} lacks the menu"
    );
    assert!(
        dom.contains(&html_escape(want)),
        "{path} lacks {want:?}: {dom}"
    );
    for line in log.lines() {
        assert!(
            !line.contains(":CONSOLE"),
            "{path}: browser console: {line}"
        );
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The recorded mismatch of the request to `path` (with `index`), waiting for it: the comparison
/// runs after the primary answered.
async fn mismatch_of(d: &Daemon, path: &str, index: &str) -> (Value, Value) {
    for _ in 0..100 {
        let all = ui(d, "/api/mismatches").await.json();
        if let Some(m) = all["mismatches"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["path"] == path && m["index"] == index)
        {
            return (m.clone(), all.clone());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no mismatch recorded for {path}");
}

/// The value of one sample of the `/metrics` exposition (0 when absent).
fn metric(text: &str, sample: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(sample).map(|v| v.trim().parse().unwrap()))
        .unwrap_or(0.0)
}

// ---------------------------------------------------------------- transparent proxy

/// Transparent mode forwards the request unchanged (method, path, query string, body bytes,
/// end-to-end headers such as `X-Opaque-Id`) and returns Elasticsearch's answer unchanged (status,
/// headers, body bytes), even with `?pretty`, which Elasticsearch itself applied. Hop-by-hop headers
/// are the only ones a proxy must not forward (RFC 9110 §7.6.1). `X-Opaque-Id` is the header
/// clients (Kibana: one per panel) use to tag requests
/// (https://www.elastic.co/guide/en/elasticsearch/reference/current/api-conventions.html).
#[tokio::test]
async fn transparent_mode_passes_bodies_and_headers_byte_for_byte() {
    let d = proxy_daemon();
    let body = "{ \"query\" : {\"match_all\":{}} ,\n \"size\": 1 }";
    let r = send(
        d.es,
        "POST",
        "/tp-plain/_doc/1?refresh=true&pretty",
        &[
            ("content-type", "application/json"),
            ("x-opaque-id", "tp-1"),
            ("x-custom", "kept as is"),
        ],
        Some(body),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text, DEFAULT_BODY, "the body comes back byte for byte");
    assert_eq!(r.headers["x-fake-es"], "yes");
    assert_eq!(r.headers["content-type"], "application/json; charset=UTF-8");
    let multi: Vec<_> = r.headers.get_all("x-multi").iter().collect();
    assert_eq!(multi, vec!["a", "b"]);

    let got = received("/tp-plain/_doc/1");
    assert_eq!(got.len(), 1);
    let g = &got[0];
    assert_eq!(g.method, "POST");
    assert_eq!(g.query, "refresh=true&pretty");
    assert_eq!(&g.body[..], body.as_bytes());
    assert_eq!(g.headers["x-opaque-id"], "tp-1");
    assert_eq!(g.headers["x-custom"], "kept as is");
    assert_eq!(g.headers["content-type"], "application/json");

    // A large body is streamed through unchanged too.
    let mut big = String::new();
    let mut i = 0;
    while big.len() < 1_500_000 {
        big.push_str(&format!(
            "{{\"index\":{{\"_index\":\"tp-big\",\"_id\":\"{i}\"}}}}\n{{\"n\":{i},\"pad\":\"{}\"}}\n",
            "x".repeat(i % 300)
        ));
        i += 1;
    }
    let r = send(
        d.es,
        "POST",
        "/tp-big/_bulk",
        &[("content-type", "application/x-ndjson")],
        Some(&big),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let got = received("/tp-big/_bulk");
    assert_eq!(got.len(), 1);
    assert!(
        got[0].body == big.as_bytes(),
        "{} bytes arrived",
        got[0].body.len()
    );

    // An API elastichouse has no handler for passes too.
    let r = send(d.es, "GET", "/_nodes/stats?human", &[], None).await;
    assert_eq!((r.status, r.text.as_str()), (200, DEFAULT_BODY));
    assert_eq!(received("/_nodes/stats")[0].query, "human");

    // A canned search answer with an unusual status and media type comes back unchanged.
    let canned = "{\"took\":1,\"hits\":{\"total\":{\"value\":0,\"relation\":\"eq\"},\"hits\":[]}}";
    fake().canned.lock().insert(
        "tp-search".into(),
        (
            200,
            "application/vnd.elasticsearch+json;compatible-with=8".into(),
            canned.into(),
        ),
    );
    let search = "{\"query\":{\"bool\":{\"must\":[{\"script_score\":{\"query\":{\"match_all\":{}},\"script\":{\"source\":\"1\"}}}]}},\
\"aggs\":{\"t\":{\"terms\":{\"field\":\"k\"}}}}";
    let r = send(
        d.es,
        "POST",
        "/tp-search/_search",
        &[("content-type", "application/json")],
        Some(search),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text, canned);
    assert_eq!(
        r.headers["content-type"],
        "application/vnd.elasticsearch+json;compatible-with=8"
    );
    assert_eq!(
        &received("/tp-search/_search")[0].body[..],
        search.as_bytes()
    );

    // Readiness: the search body uses script_score, which elastichouse rejects; the terms
    // aggregation is fine. Counts per endpoint and index.
    let rd = ui(d, "/api/readiness").await.json();
    let features = rd["features"].as_array().unwrap();
    assert!(
        features
            .iter()
            .any(|f| f["index"] == "tp-search" && f["feature"] == "query [script_score]"),
        "{rd}"
    );
    assert!(
        !features
            .iter()
            .any(|f| f["feature"].as_str().unwrap().contains("terms")),
        "{rd}"
    );
    assert!(
        rd["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["endpoint"] == "_search"
                && e["index"] == "tp-search"
                && e["count"] == 1
                && e["statuses"]["200"] == 1),
        "{rd}"
    );
    let page = ui(d, "/readiness").await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("query [script_score]"), "{}", page.text);
    assert!(page.text.contains("tp-search"));
    render_in_chromium(d, "/readiness", "query [script_score]");
}

// ---------------------------------------------------------------- routing

/// Dot/system indices (`.kibana*` and any name starting with `.`) and indices routed to
/// `elasticsearch` pass through; a request naming indices with different targets is refused with
/// Elasticsearch's error shape (400 `illegal_argument_exception`).
#[tokio::test]
async fn system_indices_and_elasticsearch_routes_pass_through_and_mixes_are_refused() {
    let d = routing_daemon();
    let r = send(d.es, "GET", "/.kibana_8.17.0/_doc/space:default", &[], None).await;
    assert_eq!((r.status, r.text.as_str()), (200, DEFAULT_BODY));
    assert_eq!(received("/.kibana_8.17.0/_doc/space:default").len(), 1);

    can("es-logs", 200, &json!({"count": 42}));
    let r = send(d.es, "GET", "/es-logs/_count", &[], None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"count": 42}));

    let r = send(d.es, "GET", "/es-logs,plain/_search", &[], None).await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    let reason = e["reason"].as_str().unwrap();
    assert!(reason.contains("[es-logs] to elasticsearch"), "{reason}");
    assert!(reason.contains("[plain] to clickhouse"), "{reason}");

    // An API elastichouse does not implement goes to Elasticsearch when one is configured.
    let r = send(d.es, "GET", "/_ilm/policy", &[], None).await;
    assert_eq!((r.status, r.text.as_str()), (200, DEFAULT_BODY));
    // Also one whose name would fit the `/{index}` route (an index name cannot start with `_`).
    let r = send(d.es, "GET", "/_snapshot", &[], None).await;
    assert_eq!((r.status, r.text.as_str()), (200, DEFAULT_BODY));
    assert_eq!(received("/_snapshot").len(), 1);
    // Start-up APIs Kibana checks (version, licence, settings) are answered by elastichouse itself,
    // even with an Elasticsearch configured: Kibana must see the version elastichouse reports.
    let r = send(d.es, "GET", "/_nodes", &[], None).await;
    assert_eq!(r.status, 200);
    assert!(received("/_nodes").is_empty());
    // Node APIs other than node info and stats share their path shape; Elasticsearch answers them
    // (node stats are this node's own, answered here).
    for path in [
        "/_nodes/_local/usage",
        "/_nodes/n1/usage/rest_actions",
        "/_nodes/hot_threads",
    ] {
        let r = send(d.es, "GET", path, &[], None).await;
        assert_eq!((r.status, r.text.as_str()), (200, DEFAULT_BODY), "{path}");
        assert_eq!(received(path).len(), 1, "{path}");
    }

    let page = ui(d, "/routing?index=dw-x").await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("dual write"), "{}", page.text);
}

/// Scroll, point-in-time and async-search continuations name no index: each goes to the backend
/// that issued its id — elastichouse's own ids are served from ClickHouse, any other id is passed
/// to Elasticsearch (an id Elasticsearch issued means nothing to ClickHouse, and the reverse).
#[tokio::test]
async fn continuations_go_to_the_backend_that_issued_their_id() {
    let d = routing_daemon();
    ab_index(
        d,
        "cont-1",
        "{\"index\":{\"_id\":\"1\"}}\n{\"n\":1,\"k\":\"x\"}\n{\"index\":{\"_id\":\"2\"}}\n{\"n\":2,\"k\":\"y\"}\n",
    )
    .await;
    let json_ct = [("content-type", "application/json")];
    let forwarded = |needle: &str| {
        fake()
            .received
            .lock()
            .iter()
            .filter(|r| {
                String::from_utf8_lossy(&r.body).contains(needle) || r.path.contains(needle)
            })
            .count()
    };
    // Scroll: the first page is a search on a ClickHouse index; the next page follows its id.
    let r = send(
        d.es,
        "POST",
        "/cont-1/_search?scroll=1m",
        &json_ct,
        Some(r#"{"size": 1, "sort": ["n"]}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let scroll_id = r.json()["_scroll_id"].as_str().unwrap().to_string();
    let body = json!({"scroll": "1m", "scroll_id": scroll_id}).to_string();
    let r = send(d.es, "POST", "/_search/scroll", &json_ct, Some(&body)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(ids(&r.json()), vec!["2"]);
    assert_eq!(forwarded(&scroll_id), 0);
    let foreign = "DXF1ZXJ5QW5kRmV0Y2gBAAAAAAAAAD4WYm9laVYtZndUQlNsdDcwakFMNjU1QQ==";
    let body = json!({"scroll": "1m", "scroll_id": foreign}).to_string();
    let r = send(d.es, "POST", "/_search/scroll", &json_ct, Some(&body)).await;
    assert_eq!((r.status, r.text.as_str()), (200, DEFAULT_BODY));
    assert_eq!(forwarded(foreign), 1);

    // Point in time: opened on the ClickHouse index, searched and closed here.
    let r = send(d.es, "POST", "/cont-1/_pit?keep_alive=1m", &[], None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let pit = r.json()["id"].as_str().unwrap().to_string();
    let body = json!({"pit": {"id": pit}, "sort": ["n"]}).to_string();
    let r = send(d.es, "POST", "/_search", &json_ct, Some(&body)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(ids(&r.json()), vec!["1", "2"]);
    let body = json!({"id": pit}).to_string();
    let r = send(d.es, "DELETE", "/_pit", &json_ct, Some(&body)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(forwarded(&pit), 0);
    let foreign_pit = "46ToAwMDaWR5BXV1aWQyKwZub2RlXzMAAAAAAAAAACoBYwADaWR4";
    let body = json!({"pit": {"id": foreign_pit}}).to_string();
    let r = send(d.es, "POST", "/_search", &json_ct, Some(&body)).await;
    assert_eq!((r.status, r.text.as_str()), (200, DEFAULT_BODY));
    assert_eq!(forwarded(foreign_pit), 1);

    // Async search ids: a foreign one goes to Elasticsearch.
    let foreign_async = "FmRldE8zcHlGVEFPQ2dmXzdvOVVmd0EfQ1d3bGR5ZnNSVHljdHdHeE9WMkl1QToxMjM0";
    let r = send(
        d.es,
        "GET",
        &format!("/_async_search/{foreign_async}"),
        &[],
        None,
    )
    .await;
    assert_eq!((r.status, r.text.as_str()), (200, DEFAULT_BODY));
    assert_eq!(forwarded(foreign_async), 1);
}

// ---------------------------------------------------------------- dual write

/// Dual write: `_bulk` and the document APIs reach both backends; the primary's (ClickHouse's)
/// answer goes back; a failure of the secondary is recorded (UI and metric) and does not fail the
/// client. The bulk answer's `errors` flag says whether an item failed
/// (https://www.elastic.co/guide/en/elasticsearch/reference/current/docs-bulk.html).
#[tokio::test]
async fn dual_write_reaches_both_and_records_a_secondary_failure() {
    let d = routing_daemon();
    let ndjson = "{\"index\":{\"_index\":\"dw-ok\",\"_id\":\"1\"}}\n{\"n\":1}\n\
{\"index\":{\"_index\":\"dw-ok\",\"_id\":\"2\"}}\n{\"n\":2}\n";
    let r = send(
        d.es,
        "POST",
        "/_bulk?refresh=true",
        &[("content-type", "application/x-ndjson")],
        Some(ndjson),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["errors"], false, "{v}");
    // ClickHouse's answer (the fake answers an empty item list).
    assert_eq!(v["items"].as_array().unwrap().len(), 2, "{v}");
    let got: Vec<_> = received("/_bulk")
        .into_iter()
        .filter(|g| g.body == ndjson.as_bytes())
        .collect();
    assert_eq!(got.len(), 1, "the fake got the bulk body byte for byte");
    assert_eq!(got[0].query, "refresh=true");
    let c = send(d.es, "GET", "/dw-ok/_count", &[], None).await;
    assert_eq!(c.json()["count"], 2, "{}", c.text);

    let r = send(
        d.es,
        "PUT",
        "/dw-ok/_doc/3?refresh=true",
        &[("content-type", "application/json")],
        Some("{\"n\":3}"),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["result"], "created");
    assert_eq!(&received("/dw-ok/_doc/3")[0].body[..], b"{\"n\":3}");

    // The fake fails every bulk for dw-fail: the client still gets ClickHouse's success.
    let before = metric(
        &ui(d, "/metrics").await.text,
        "elastichouse_secondary_write_failures_total{backend=\"elasticsearch\"}",
    );
    let r = send(
        d.es,
        "POST",
        "/dw-fail/_bulk?refresh=true",
        &[("content-type", "application/x-ndjson")],
        Some("{\"index\":{\"_id\":\"1\"}}\n{\"n\":1}\n"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["errors"], false);
    let f = ui(d, "/api/secondary_failures").await.json();
    let failure = f["failures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["path"] == "/dw-fail/_bulk")
        .unwrap_or_else(|| panic!("no recorded failure: {f}"))
        .clone();
    assert_eq!(failure["backend"], "elasticsearch");
    assert_eq!(failure["status"], 500);
    assert_eq!(failure["reason"], "http_error");
    assert!(
        failure["detail"]
            .as_str()
            .unwrap()
            .contains("es_rejected_execution_exception")
    );
    let after = metric(
        &ui(d, "/metrics").await.text,
        "elastichouse_secondary_write_failures_total{backend=\"elasticsearch\"}",
    );
    assert!(after >= before + 1.0, "{before} → {after}");
    let page = ui(d, "/routing").await;
    assert!(page.text.contains("/dw-fail/_bulk"), "{}", page.text);
}

/// In a dual write, Elasticsearch's 401/403 (its security refusing the credentials or the action)
/// reaches the client even when ClickHouse is the primary: a refusal must not be hidden behind the
/// other backend's success (issue: "In dual write and A/B, Elasticsearch's 401/403 reaches the
/// client").
#[tokio::test]
async fn dual_write_passes_elasticsearch_security_refusals_through() {
    let d = routing_daemon();
    for (index, status) in [("dw-unauth", 401u16), ("dw-forbidden", 403)] {
        can(
            index,
            status,
            &json!({"error": {"root_cause": [{"type": "security_exception", "reason": "refused"}],
                "type": "security_exception", "reason": "refused"}, "status": status}),
        );
        let r = send(
            d.es,
            "PUT",
            &format!("/{index}/_doc/1"),
            &[
                ("content-type", "application/json"),
                ("authorization", "Basic ZTp4"),
            ],
            Some("{\"n\":1}"),
        )
        .await;
        assert_eq!(r.status, status, "{}", r.text);
        assert_eq!(r.json()["error"]["type"], "security_exception");
        assert_eq!(
            received(&format!("/{index}/_doc/1"))[0]
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok()),
            Some("Basic ZTp4"),
            "the client's credentials reach Elasticsearch"
        );
    }
}

// ---------------------------------------------------------------- A/B

/// Creates an A/B index `name` (`n` long, `k` keyword) on the daemon and writes `ndjson` to it.
async fn ab_index(d: &Daemon, name: &str, ndjson: &str) {
    let r = send(
        d.es,
        "PUT",
        &format!("/{name}"),
        &[("content-type", "application/json")],
        Some(r#"{"mappings":{"properties":{"n":{"type":"long"},"k":{"type":"keyword"}}}}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = send(
        d.es,
        "POST",
        &format!("/{name}/_bulk?refresh=true"),
        &[("content-type", "application/x-ndjson")],
        Some(ndjson),
    )
    .await;
    assert_eq!(r.json()["errors"], false, "{}", r.text);
}

/// The A/B tests' search (hits sorted by `n` desc, a terms aggregation on `k`) as a Kibana panel
/// `opaque_id` sends it.
fn ab_query() -> Value {
    json!({"sort": [{"n": "desc"}], "aggs": {"by": {"terms": {"field": "k"}}}})
}

async fn ab_search(d: &Daemon, name: &str, opaque_id: &str) -> Resp {
    let query = ab_query();
    let r = send(
        d.es,
        "POST",
        &format!("/{name}/_search"),
        &[
            ("content-type", "application/json"),
            ("x-opaque-id", opaque_id),
        ],
        Some(&query.to_string()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r
}

/// A/B: the query runs on both; ClickHouse (primary) answers at once; the matcher then records each
/// difference
/// with its kind and JSON path. The expected Elasticsearch answer is written out here from the
/// documents (sorted by `n` desc, `terms` buckets by doc_count desc — the search and terms
/// aggregation docs: https://www.elastic.co/guide/en/elasticsearch/reference/current/search-search.html,
/// https://www.elastic.co/guide/en/elasticsearch/reference/current/search-aggregations-bucket-terms-aggregation.html),
/// then perturbed in known ways; the recorded differences must be exactly those.
#[tokio::test]
async fn ab_returns_the_primary_and_records_each_mismatch_kind_with_its_path() {
    let d = routing_daemon();
    ab_index(
        d,
        "ab-1",
        "{\"index\":{\"_id\":\"1\"}}\n{\"n\":1,\"k\":\"x\"}\n{\"index\":{\"_id\":\"2\"}}\n{\"n\":2,\"k\":\"x\"}\n\
{\"index\":{\"_id\":\"3\"}}\n{\"n\":3,\"k\":\"y\"}\n",
    )
    .await;

    let hit = |id: &str, n: i64, source: Value| json!({"_index": "ab-1", "_id": id, "_score": null, "_source": source, "sort": [n]});
    // What Elasticsearch would answer...
    let mut es = json!({
        "took": 5, "timed_out": false,
        "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
        "hits": {"total": {"value": 3, "relation": "eq"}, "max_score": null, "hits": [
            hit("3", 3, json!({"n": 3, "k": "y"})),
            hit("2", 2, json!({"n": 2, "k": "x"})),
            hit("1", 1, json!({"n": 1, "k": "x"})),
        ]},
        "aggregations": {"by": {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0,
            "buckets": [{"key": "x", "doc_count": 2}, {"key": "y", "doc_count": 1}]}}
    });
    // ...perturbed.
    es["hits"]["total"]["value"] = json!(4);
    es["hits"]["hits"] = json!([
        hit("2", 2, json!({"n": 2, "k": "x", "extra_es": true})),
        hit("3", 3, json!({"n": 3, "k": "z"})),
        hit("9", 0, json!({"n": 0, "k": "x"})),
    ]);
    es["aggregations"]["by"]["buckets"] =
        json!([{"key": "x", "doc_count": 3}, {"key": "w", "doc_count": 5}]);
    can("ab-1", 200, &es);

    let r = ab_search(d, "ab-1", "panel-ab").await;
    let v = r.json();
    assert_eq!(ids(&v), vec!["3", "2", "1"], "ClickHouse answered: {v}");
    assert_eq!(v["hits"]["total"]["value"], 3);

    let (m, all) = mismatch_of(d, "/ab-1/_search", "ab-1").await;
    assert_eq!(m["opaque_id"], "panel-ab");
    assert_eq!(m["primary"], "clickhouse");
    let mut got: Vec<(String, String)> = m["diffs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap().to_string(),
                d["path"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    let mut want: Vec<(String, String)> = [
        ("total_differs", "hits.total"),
        ("missing_hit", "hits.hits[_id=9]"),
        ("extra_hit", "hits.hits[_id=1]"),
        ("order_differs", "hits.hits"),
        ("missing_field", "hits.hits[_id=2]._source.extra_es"),
        ("value_differs", "hits.hits[_id=3]._source.k"),
        ("missing_bucket", "aggregations.by.buckets[key=w]"),
        ("extra_bucket", "aggregations.by.buckets[key=y]"),
        ("value_differs", "aggregations.by.buckets[key=x].doc_count"),
    ]
    .iter()
    .map(|(k, p)| (k.to_string(), p.to_string()))
    .collect();
    want.sort();
    assert_eq!(got, want, "{m}");
    assert!(
        all["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["index"] == "ab-1" && g["opaque_id"] == "panel-ab" && g["mismatched"] == 1),
        "{all}"
    );

    // An error on one side: the index does not exist in ClickHouse, Elasticsearch answers.
    can("ab-missing", 200, &json!({"count": 0}));
    let r = send(d.es, "GET", "/ab-missing/_count", &[], None).await;
    assert_es_error(&r, 404, "index_not_found_exception");
    let (m, _) = mismatch_of(d, "/ab-missing/_count", "ab-missing").await;
    assert_eq!(m["diffs"][0]["kind"], "error_on_one_side", "{m}");
    assert_eq!(m["diffs"][0]["path"], "(response)");

    // Elasticsearch as primary: its answer goes back unchanged.
    can("abe-1", 200, &json!({"count": 7}));
    let r = send(d.es, "GET", "/abe-1/_count", &[], None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text, json!({"count": 7}).to_string());

    let metrics = ui(d, "/metrics").await.text;
    for kind in [
        "total_differs",
        "missing_hit",
        "extra_hit",
        "order_differs",
        "missing_field",
        "value_differs",
        "missing_bucket",
        "extra_bucket",
        "error_on_one_side",
    ] {
        let v = metric(
            &metrics,
            &format!("elastichouse_mismatches_total{{kind=\"{kind}\"}}"),
        );
        assert!(v >= 1.0, "{kind}: {metrics}");
    }
    assert!(
        metric(
            &metrics,
            "elastichouse_ab_comparisons_total{result=\"mismatch\"}"
        ) >= 2.0
    );

    let id = m["id"].as_u64().unwrap();
    // The request's trace says where it went and links the mismatch.
    let rid = m["request_id"].as_u64().unwrap();
    let mut t = Value::Null;
    for _ in 0..100 {
        t = ui(d, &format!("/api/requests/{rid}")).await.json();
        if t["mismatch"].is_u64() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        t["routing"], "A/B query, primary clickhouse (indices [ab-missing])",
        "{t}"
    );
    assert_eq!(t["mismatch"], id);
    for (path, want) in [
        (format!("/mismatches/{id}"), "answers side by side"),
        ("/mismatches".to_string(), "panel-ab"),
        (format!("/requests/{rid}"), "A/B query, primary clickhouse"),
        ("/routing?index=ab-1".to_string(), "A/B: both run"),
    ] {
        render_in_chromium(d, &path, want);
    }
    let page = ui(d, &format!("/mismatches/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("error_on_one_side"), "{}", page.text);
    assert!(page.text.contains("answers side by side"));
    let list = ui(d, "/mismatches").await;
    assert!(list.text.contains("panel-ab"), "{}", list.text);
}

/// Runs SQL on a daemon's ClickHouse (the embedded engine's HTTP interface), rows as JSON.
async fn clickhouse_rows(d: &Daemon, sql: &str) -> Vec<Value> {
    let r = client()
        .post(format!("{}/?database={}", d.clickhouse, d.database))
        .body(format!("{sql} FORMAT JSONEachRow"))
        .send()
        .await
        .expect("clickhouse request");
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(
        status.is_success(),
        "ClickHouse said {status} to {sql}: {text}"
    );
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Issue 6: A/B results are "kept in a bounded in-memory store and optionally in a ClickHouse
/// table" so that mismatches can be grouped by index and by Kibana panel (`X-Opaque-Id`). With
/// `store_mismatches = true` (the routing daemon), a mismatching A/B search becomes one row of
/// `{database}_compare.mismatches` — index, opaque id, primary, the differences' kinds and paths,
/// the request body and both answers — written after the client got its answer (so the test
/// polls, bounded), and groupable with plain SQL. A comparison that matches writes no row.
/// Without the option (the proxy daemon) no such database is created.
#[tokio::test]
async fn ab_mismatches_are_written_to_the_clickhouse_table_when_configured() {
    let d = routing_daemon();
    let table = format!("`{}_compare`.`mismatches`", d.database);
    ab_index(
        d,
        "ab-store",
        "{\"index\":{\"_id\":\"1\"}}\n{\"n\":1,\"k\":\"x\"}\n\
{\"index\":{\"_id\":\"2\"}}\n{\"n\":2,\"k\":\"x\"}\n",
    )
    .await;
    // The table exists from startup on.
    let t = clickhouse_rows(
        d,
        &format!(
            "SELECT name FROM system.tables WHERE database = '{}_compare'",
            d.database
        ),
    )
    .await;
    assert_eq!(t, vec![json!({"name": "mismatches"})]);

    // "Elasticsearch" has a third document (id 9) and counts it in the bucket.
    let hit = |id: &str, n: i64| json!({"_index": "ab-store", "_id": id, "_score": null, "_source": {"n": n, "k": "x"}, "sort": [n]});
    can(
        "ab-store",
        200,
        &json!({"took": 2, "timed_out": false, "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": {"total": {"value": 3, "relation": "eq"}, "max_score": null,
                     "hits": [hit("2", 2), hit("1", 1), hit("9", 0)]},
            "aggregations": {"by": {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0,
                                    "buckets": [{"key": "x", "doc_count": 3}]}}}),
    );
    let r = ab_search(d, "ab-store", "panel-store").await;
    assert_eq!(ids(&r.json()), vec!["2", "1"]);
    let (kept, _) = mismatch_of(d, "/ab-store/_search", "ab-store").await;

    let select =
        format!("SELECT * FROM {table} WHERE index = 'ab-store' AND opaque_id = 'panel-store'");
    let mut rows = Vec::new();
    for _ in 0..200 {
        rows = clickhouse_rows(d, &select).await;
        if !rows.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row["method"], "POST");
    assert_eq!(row["path"], "/ab-store/_search");
    assert_eq!(row["primary"], "clickhouse");
    assert_eq!(row["mismatch_id"], kept["id"], "the in-memory store's id");
    assert_eq!(row["request_id"], kept["request_id"]);
    assert_eq!(row["diff_count"], 3);
    let mut kinds: Vec<&str> = row["diff_kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["missing_hit", "total_differs", "value_differs"]);
    let diffs: Value = serde_json::from_str(row["diffs"].as_str().unwrap()).unwrap();
    let mut paths: Vec<(&str, &str)> = diffs
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["kind"].as_str().unwrap(), d["path"].as_str().unwrap()))
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            ("missing_hit", "hits.hits[_id=9]"),
            ("total_differs", "hits.total"),
            ("value_differs", "aggregations.by.buckets[key=x].doc_count"),
        ]
    );
    let total = diffs
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "total_differs")
        .unwrap();
    assert_eq!(total["elasticsearch"]["value"], 3, "{total}");
    assert_eq!(total["clickhouse"]["value"], 2, "{total}");
    let parse = |k: &str| serde_json::from_str::<Value>(row[k].as_str().unwrap()).unwrap();
    assert_eq!(parse("request_body"), ab_query());
    assert_eq!(row["elasticsearch_status"], 200);
    assert_eq!(row["clickhouse_status"], 200);
    assert_eq!(parse("elasticsearch_body")["hits"]["total"]["value"], 3);
    assert_eq!(parse("clickhouse_body")["hits"]["total"]["value"], 2);
    assert!(row["elasticsearch_millis"].as_f64().unwrap() >= 0.0);
    assert!(row["at"].as_str().unwrap().starts_with("20"), "{row}");

    // A matching comparison writes nothing; the next mismatch (another panel) is a row of its own.
    can("ab-store", 200, &json!({"count": 2}));
    let r = send(
        d.es,
        "GET",
        "/ab-store/_count",
        &[("x-opaque-id", "panel-match")],
        None,
    )
    .await;
    assert_eq!(r.json()["count"], 2);
    // Compared once Elasticsearch answered (after the client got ClickHouse's answer): wait for
    // it before the fake's answer changes.
    let mut group = Value::Null;
    for _ in 0..200 {
        let all = ui(d, "/api/mismatches").await.json();
        if let Some(g) = all["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["index"] == "ab-store" && g["opaque_id"] == "panel-match")
        {
            group = g.clone();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(group["compared"], 1, "{group}");
    assert_eq!(group["mismatched"], 0, "{group}");
    can("ab-store", 200, &json!({"count": 5}));
    let r = send(
        d.es,
        "GET",
        "/ab-store/_count",
        &[("x-opaque-id", "panel-count")],
        None,
    )
    .await;
    assert_eq!(r.json()["count"], 2);
    // The view the issue asks for, in plain SQL.
    let grouped = format!(
        "SELECT index, opaque_id, toUInt32(count()) AS n, toUInt32(sum(diff_count)) AS diffs \
         FROM {table} WHERE index = 'ab-store' GROUP BY index, opaque_id ORDER BY opaque_id"
    );
    let mut groups = Vec::new();
    for _ in 0..200 {
        groups = clickhouse_rows(d, &grouped).await;
        if groups.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        groups,
        vec![
            json!({"index": "ab-store", "opaque_id": "panel-count", "n": 1, "diffs": 1}),
            json!({"index": "ab-store", "opaque_id": "panel-store", "n": 1, "diffs": 3}),
        ]
    );
    let metrics = ui(d, "/metrics").await.text;
    assert!(
        !metrics.contains("elastichouse_mismatch_store_failures_total{"),
        "{metrics}"
    );

    // The option is off by default: the proxy daemon created no such database.
    let p = proxy_daemon();
    let dbs = clickhouse_rows(
        p,
        &format!(
            "SELECT name FROM system.databases WHERE name = '{}_compare'",
            p.database
        ),
    )
    .await;
    assert!(dbs.is_empty(), "{dbs:?}");
}

// ---------------------------------------------------------------- docker/

/// docker/docker-compose.yml parses as YAML and holds what docker/README.md promises: ClickHouse,
/// Elasticsearch, elastichouse (built from docker/Dockerfile, configured by docker/elastichouse.toml
/// in A/B mode), Kibana pointed at elastichouse, Prometheus scraping elastichouse's /metrics; every
/// `depends_on` names a service, every mounted file exists. (Docker itself is not usable in CI.)
#[test]
fn docker_compose_file_is_valid() {
    use yaml_rust2::{Yaml, YamlLoader};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docker");
    let text = std::fs::read_to_string(dir.join("docker-compose.yml")).unwrap();
    let docs = YamlLoader::load_from_str(&text).expect("docker-compose.yml is YAML");
    let doc = &docs[0];
    let services = doc["services"].as_hash().expect("services");
    let names: Vec<&str> = services.keys().filter_map(Yaml::as_str).collect();
    for want in [
        "clickhouse",
        "elasticsearch",
        "elastichouse",
        "kibana",
        "prometheus",
    ] {
        assert!(names.contains(&want), "service {want} missing: {names:?}");
    }
    const KEYS: [&str; 11] = [
        "image",
        "build",
        "command",
        "environment",
        "volumes",
        "ports",
        "depends_on",
        "healthcheck",
        "ulimits",
        "restart",
        "entrypoint",
    ];
    for (name, s) in services {
        let name = name.as_str().unwrap();
        let s = s
            .as_hash()
            .unwrap_or_else(|| panic!("{name} is not a mapping"));
        for k in s.keys() {
            let k = k.as_str().unwrap();
            assert!(KEYS.contains(&k), "{name}: unknown key {k}");
        }
        let has = |k: &str| s.contains_key(&Yaml::String(k.to_string()));
        assert!(
            has("image") || has("build"),
            "{name} has neither image nor build"
        );
        let deps = &doc["services"][name]["depends_on"];
        let dep_names: Vec<&str> = match deps {
            Yaml::Hash(h) => h.keys().filter_map(Yaml::as_str).collect(),
            Yaml::Array(a) => a.iter().filter_map(Yaml::as_str).collect(),
            _ => vec![],
        };
        for d in dep_names {
            assert!(names.contains(&d), "{name} depends on unknown {d}");
        }
        if let Some(vols) = doc["services"][name]["volumes"].as_vec() {
            for v in vols.iter().filter_map(Yaml::as_str) {
                let src = v.split(':').next().unwrap();
                if let Some(file) = src.strip_prefix("./") {
                    assert!(dir.join(file).exists(), "{name} mounts missing {src}");
                }
            }
        }
        if let Some(ports) = doc["services"][name]["ports"].as_vec() {
            for p in ports {
                let p = p.as_str().expect("ports are quoted strings");
                let parts: Vec<&str> = p.split(':').collect();
                assert!(
                    parts.len() == 2 && parts.iter().all(|x| x.parse::<u16>().is_ok()),
                    "{name}: port {p}"
                );
            }
        }
    }
    let eh = &doc["services"]["elastichouse"];
    assert_eq!(
        eh["build"]["dockerfile"].as_str(),
        Some("docker/Dockerfile")
    );
    let kibana_hosts = doc["services"]["kibana"]["environment"]["ELASTICSEARCH_HOSTS"]
        .as_str()
        .unwrap();
    assert!(
        kibana_hosts.contains("http://elastichouse:9200"),
        "{kibana_hosts}"
    );

    // The configuration elastichouse runs with is valid and routes both ways.
    let toml_text = std::fs::read_to_string(dir.join("elastichouse.toml")).unwrap();
    let f: elastichouse::config::FileConfig =
        toml::from_str(&toml_text).expect("elastichouse.toml");
    let cfg = elastichouse::config::Config::resolve(f, Default::default()).expect("valid config");
    assert_eq!(
        cfg.elasticsearch_url.as_deref(),
        Some("http://elasticsearch:9200")
    );
    assert_eq!(cfg.routing.query[0].target, TargetName::Both);
    assert_eq!(cfg.routing.ingest[0].target, TargetName::Both);

    // Prometheus scrapes the debug UI port's /metrics.
    let prom = std::fs::read_to_string(dir.join("prometheus.yml")).unwrap();
    let prom = &YamlLoader::load_from_str(&prom).expect("prometheus.yml is YAML")[0];
    let job = &prom["scrape_configs"][0];
    assert_eq!(job["metrics_path"].as_str(), Some("/metrics"));
    assert_eq!(
        job["static_configs"][0]["targets"][0].as_str(),
        Some("elastichouse:9999")
    );

    let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    let stages = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .count();
    assert!(stages >= 2, "the Dockerfile is multi-stage");
    assert!(dockerfile.contains("chdb-core"));
}

/// `_msearch` is routed by the `index` of its header lines: all `ab-*` → A/B, compared response by
/// response; a header line naming an Elasticsearch-routed index beside them → the mixed-target 400.
/// (Multi search: one header and one body line per search,
/// https://www.elastic.co/guide/en/elasticsearch/reference/current/search-multi-search.html)
#[tokio::test]
async fn msearch_is_routed_by_its_header_lines() {
    let d = routing_daemon();
    // The fake answers a different number of responses than there are searches.
    can("_msearch", 200, &json!({"took": 1, "responses": []}));
    let body = "{\"index\":\"ab-ms\"}\n{\"query\":{\"match_all\":{}}}\n";
    let r = send(
        d.es,
        "POST",
        "/_msearch",
        &[("content-type", "application/x-ndjson")],
        Some(body),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // ClickHouse answered (one response: the index does not exist there → its error).
    assert_eq!(
        r.json()["responses"].as_array().unwrap().len(),
        1,
        "{}",
        r.text
    );
    let (m, _) = mismatch_of(d, "/_msearch", "ab-ms").await;
    assert_eq!(m["diffs"][0]["kind"], "shape_differs", "{m}");
    assert_eq!(m["diffs"][0]["path"], "responses", "{m}");

    let mixed = "{\"index\":\"ab-ms\"}\n{}\n{\"index\":\"es-logs\"}\n{}\n";
    let r = send(
        d.es,
        "POST",
        "/_msearch",
        &[("content-type", "application/x-ndjson")],
        Some(mixed),
    )
    .await;
    assert_es_error(&r, 400, "illegal_argument_exception");
}

/// With `fail_on_secondary_error = true` a failed secondary write fails the client's request
/// (after the primary wrote it), with Elasticsearch's error shape.
#[tokio::test]
async fn a_failed_secondary_write_can_fail_the_request() {
    let d = start_daemon(|c| {
        c.elasticsearch_url = es_url();
        c.routing.fail_on_secondary_error = true;
        c.routing.ingest = vec![rule("dw-*", TargetName::Both, Some(Backend::Clickhouse))];
    });
    let r = send(
        d.es,
        "POST",
        "/dw-fail-strict/_bulk?refresh=true",
        &[("content-type", "application/x-ndjson")],
        Some("{\"index\":{\"_index\":\"dw-fail\",\"_id\":\"1\"}}\n{\"n\":1}\n"),
    )
    .await;
    let e = assert_es_error(&r, 502, "secondary_write_failed_exception");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .contains("failed on elasticsearch"),
        "{e}"
    );
}

// ---------------------------------------------------------------- without Elasticsearch, CLI

/// Without `elasticsearch_url` nothing is routed, and an Elasticsearch API elastichouse does not
/// implement is a 400 that names it and says it needs Elasticsearch (issue: "Without one
/// configured: a clear error that says which Elasticsearch feature needed it"), also where its
/// path would fit the `/{index}` route (`GET /_snapshot`) or the node-info routes
/// (`/_nodes/usage`); it is listed on the debug UI's unsupported page. A path naming no API
/// keeps Elasticsearch's answer for a path it has no handler for
/// (elastic/elasticsearch server/src/main/java/org/elasticsearch/rest/RestController.java,
/// `handleBadRequest`: 400 `no handler found for uri [...] and method [...]`).
#[tokio::test]
async fn without_elasticsearch_unimplemented_apis_are_named() {
    for (method, path) in [
        ("GET", "/_ilm/policy"),
        ("GET", "/_snapshot"),
        ("GET", "/_slm/policy"),
        ("GET", "/_nodes/usage"),
        ("GET", "/_nodes/n1/usage/rest_actions"),
        ("GET", "/logs/_ilm/explain"),
    ] {
        let r = req(method, path, None).await;
        let e = assert_es_error(&r, 400, "illegal_argument_exception");
        assert_eq!(
            e["reason"],
            format!(
                "elastichouse does not implement [{method} {path}]: it passes the Elasticsearch \
                 APIs it does not implement to Elasticsearch, and no elasticsearch_url is configured"
            ),
            "{path}"
        );
    }
    let r = req("GET", "/a/b/c/d", None).await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert_eq!(
        e["reason"],
        "no handler found for uri [/a/b/c/d] and method [GET]"
    );
    // An unknown one-segment name is still an index name: index_not_found as in Elasticsearch.
    let r = get("/_nosuchapi").await;
    assert_es_error(&r, 404, "index_not_found_exception");
    let page = ui_get("/routing").await;
    assert!(page.text.contains("none configured"), "{}", page.text);
    let page = ui_get("/unsupported").await;
    assert!(page.text.contains("GET /_snapshot"), "{}", page.text);
}

/// Kibana's and the stack's system indices (`.kibana*`, `.security*`, `.tasks`, …) belong to a real
/// Elasticsearch (issue: "Without one configured: a clear error that says which Elasticsearch
/// feature needed it"): a 400 naming the index, for reads and writes, and nothing created here.
#[tokio::test]
async fn without_elasticsearch_system_indices_are_a_clear_error() {
    for (method, path) in [
        ("GET", "/.kibana_8.17.0_001/_search"),
        ("PUT", "/.kibana_task_manager_8.17.0_001"),
        ("GET", "/.security-7/_doc/x"),
    ] {
        let r = req(method, path, None).await;
        let e = assert_es_error(&r, 400, "illegal_argument_exception");
        let reason = e["reason"].as_str().unwrap();
        assert!(reason.contains("is a system index"), "{reason}");
        assert!(
            reason.contains("no elasticsearch_url is configured"),
            "{reason}"
        );
    }
    let r = get("/_cat/indices?format=json&expand_wildcards=all").await;
    assert!(!r.text.contains(".kibana_task_manager"), "{}", r.text);
}

/// `elastichouse config check --index NAME` explains where a name's writes and queries go and
/// which rule decided.
#[test]
fn config_check_explains_the_routing_of_an_index() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("eh.toml");
    std::fs::write(
        &f,
        "elasticsearch_url = \"http://es:9200\"\n[[routing.query]]\nindices = [\"logs-*\"]\n\
target = \"both\"\nprimary = \"elasticsearch\"\n",
    )
    .unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_elastichouse"));
    for (k, _) in std::env::vars() {
        if k.starts_with("ELASTICHOUSE_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .args(["config", "check", "--config"])
        .arg(&f)
        .args(["--index", "logs-1", "--index", ".kibana"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(
            "query  logs-1: both (primary elasticsearch)  (rule routing.query[0], pattern [logs-*])"
        ),
        "{text}"
    );
    assert!(text.contains("ingest logs-1: clickhouse"), "{text}");
    assert!(
        text.contains("query  .kibana: elasticsearch  (system index"),
        "{text}"
    );
}

// ---------------------------------------------------------------- https

/// The fake served over TLS on a loopback port, with a certificate for `localhost` signed by a CA
/// made here; returns the port and the CA's PEM.
fn tls_fake() -> (u16, String) {
    use tokio_rustls::rustls;
    let TestCerts { ca, cert, key } = localhost_certs();
    let server = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(server));

    struct TlsListener {
        tcp: tokio::net::TcpListener,
        acceptor: tokio_rustls::TlsAcceptor,
    }
    impl axum::serve::Listener for TlsListener {
        type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
        type Addr = SocketAddr;
        async fn accept(&mut self) -> (Self::Io, Self::Addr) {
            loop {
                let Ok((s, a)) = self.tcp.accept().await else {
                    continue;
                };
                if let Ok(t) = self.acceptor.accept(s).await {
                    return (t, a);
                }
            }
        }
        fn local_addr(&self) -> std::io::Result<Self::Addr> {
            self.tcp.local_addr()
        }
    }

    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(tcp.local_addr().unwrap().port()).unwrap();
            let app = axum::Router::new().fallback(fake_handler);
            axum::serve(TlsListener { tcp, acceptor }, app)
                .await
                .unwrap();
        });
    });
    (rx.recv().unwrap(), ca.pem())
}

/// An `https://` Elasticsearch whose certificate a private CA signed (as Elasticsearch 8 sets
/// itself up: config/certs/http_ca.crt) is reached once `elasticsearch_ca_cert` names that CA, and
/// refused (a 502 naming the failure) without it.
#[tokio::test]
async fn https_elasticsearch_with_its_own_ca() {
    let (port, ca_pem) = tls_fake();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("http_ca.crt");
    std::fs::write(&ca, ca_pem).unwrap();
    let url = format!("https://localhost:{port}");
    let trusted = start_daemon(|c| {
        c.elasticsearch_url = Some(url.clone());
        c.elasticsearch_ca_cert = Some(ca.clone());
    });
    let r = send(trusted.es, "GET", "/.tls-check/_doc/1", &[], None).await;
    assert_eq!((r.status, r.text.as_str()), (200, DEFAULT_BODY));
    assert_eq!(received("/.tls-check/_doc/1").len(), 1);

    let untrusted = start_daemon(|c| c.elasticsearch_url = Some(url.clone()));
    let r = send(untrusted.es, "GET", "/.tls-check/_doc/2", &[], None).await;
    let e = assert_es_error(&r, 502, "elasticsearch_unreachable_exception");
    assert!(e["reason"].as_str().unwrap().contains(&url), "{e}");
    assert!(received("/.tls-check/_doc/2").is_empty());
}
