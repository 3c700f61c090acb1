//! The HTML pages and their JSON twins. Every value that comes from a client or from ClickHouse
//! goes through [`esc`].

use crate::render::esc;
use crate::server::AppState;
use crate::telemetry::trace::{BODY_LIMIT, RING_LEN, RequestTrace, TraceData};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d2330;background:#f6f7f9;font-size:14px}\
header{background:#1d2330;color:#fff;padding:.6em 1.5em;display:flex;align-items:center;gap:1.5em;flex-wrap:wrap}\
header b{font-size:1.1em;margin-right:.5em}\
header a{color:#c9d3e6;text-decoration:none;padding:.2em .1em}\
header a.on{color:#fff;border-bottom:2px solid #f5b700}\
main{padding:1em 1.5em}h1{font-size:1.35em;margin:.3em 0 .8em}h2{font-size:1.1em;margin:1.4em 0 .5em}\
table{border-collapse:collapse;background:#fff;margin-bottom:1em}\
td,th{border:1px solid #d8dce3;padding:4px 8px;text-align:left;vertical-align:top}\
th{background:#eef0f4;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}\
pre{white-space:pre-wrap;word-break:break-all;margin:0;font-size:12.5px}\
pre.box{background:#fff;border:1px solid #d8dce3;padding:.6em;max-height:40em;overflow:auto}\
.err{color:#b00020}.ok{color:#18794e}.muted{color:#667085}\
.cards{display:flex;flex-wrap:wrap;gap:.8em;margin-bottom:1em}\
.card{background:#fff;border:1px solid #d8dce3;border-radius:6px;padding:.6em 1em;min-width:10em}\
.card .v{font-size:1.5em;font-weight:600}.card .k{color:#667085;font-size:.9em}\
form.filter{margin-bottom:.8em}form.filter input{margin-right:.6em}\
a{color:#1f5fbf}.nw{white-space:nowrap}";

/// Reloads the page every 2 s while the box is ticked (remembered per page).
const AUTO_REFRESH: &str = "<label class=\"muted\"><input type=\"checkbox\" id=\"live\"> auto-refresh</label>\
<script>(function(){var k='live:'+location.pathname,b=document.getElementById('live');\
b.checked=localStorage.getItem(k)==='1';\
b.addEventListener('change',function(){localStorage.setItem(k,b.checked?'1':'0');if(b.checked)location.reload();});\
if(b.checked)setTimeout(function(){location.reload();},2000);})();</script>";

const NAV: [(&str, &str); 11] = [
    ("overview", "/"),
    ("requests", "/requests"),
    ("SQL", "/sql"),
    ("unsupported", "/unsupported"),
    ("indices", "/indices"),
    ("ingest", "/ingest"),
    ("routing", "/routing"),
    ("mismatches", "/mismatches"),
    ("readiness", "/readiness"),
    ("metrics", "/metrics"),
    ("pprof", "/debug/pprof"),
];

/// A whole page: `nav` names the active menu entry.
pub fn page(title: &str, nav: &str, body: &str) -> Html<String> {
    let mut links = String::new();
    for (name, href) in NAV {
        let _ = write!(
            links,
            "<a href=\"{href}\"{}>{name}</a>",
            if name == nav { " class=\"on\"" } else { "" }
        );
    }
    Html(format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>elastichouse · {t}</title><style>{STYLE}</style></head><body>\
<header><b>elastichouse</b>{links}</header><main><h1>{t}</h1>{body}</main></body></html>",
        t = esc(title)
    ))
}

fn card(out: &mut String, key: &str, value: &str) {
    let _ = write!(
        out,
        "<div class=\"card\"><div class=\"v\">{}</div><div class=\"k\">{}</div></div>",
        esc(value),
        esc(key)
    );
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:.1} ms"))
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

fn status_cell(status: Option<u16>) -> String {
    match status {
        None => "<td class=\"muted\">…</td>".into(),
        Some(s) if s >= 400 => format!("<td class=\"err\">{s}</td>"),
        Some(s) => format!("<td class=\"ok\">{s}</td>"),
    }
}

fn full_path(t: &RequestTrace) -> String {
    if t.query.is_empty() {
        t.path.clone()
    } else {
        format!("{}?{}", t.path, t.query)
    }
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max).collect();
        out.push('…');
        out
    }
}

pub async fn overview(State(s): State<AppState>) -> Html<String> {
    let st = &s.stats;
    let (req_min, err_min) = st.last_minute();
    let now = chrono::Utc::now();
    let traces = st.ring.all();
    let mut lat: Vec<f64> = traces
        .iter()
        .filter(|t| (now - t.at).num_seconds() < 60)
        .filter_map(|t| t.millis())
        .collect();
    lat.sort_by(f64::total_cmp);
    let unsupported = st.unsupported();
    let unsupported_count: u64 = unsupported.values().map(|u| u.count).sum();
    let mut b = String::from("<h2>last minute</h2><div class=\"cards\">");
    card(
        &mut b,
        "requests/s",
        &format!("{:.2}", req_min as f64 / 60.0),
    );
    card(&mut b, "latency p50", &ms(percentile(&lat, 50.0)));
    card(&mut b, "latency p90", &ms(percentile(&lat, 90.0)));
    card(&mut b, "latency p99", &ms(percentile(&lat, 99.0)));
    card(&mut b, "errors", &err_min.to_string());
    card(
        &mut b,
        "ingest docs/s",
        &format!("{:.1}", st.docs_per_second()),
    );
    b.push_str("</div><h2>since start</h2><div class=\"cards\">");
    card(
        &mut b,
        "requests",
        &st.requests_total.load(Ordering::Relaxed).to_string(),
    );
    card(
        &mut b,
        "errors",
        &st.errors_total.load(Ordering::Relaxed).to_string(),
    );
    card(
        &mut b,
        &format!("unsupported requests (features: {})", unsupported.len()),
        &unsupported_count.to_string(),
    );
    card(
        &mut b,
        "documents ingested",
        &st.docs_ingested.load(Ordering::Relaxed).to_string(),
    );
    card(
        &mut b,
        "ingest bytes",
        &bytes(st.metrics.ingest_bytes_total()),
    );
    let compared = s.compare.compared.load(Ordering::Relaxed);
    card(
        &mut b,
        "A/B mismatch rate",
        &if compared == 0 {
            "–".to_string()
        } else {
            format!(
                "{:.1} % of {compared}",
                s.compare.mismatched.load(Ordering::Relaxed) as f64 * 100.0 / compared as f64
            )
        },
    );
    card(
        &mut b,
        "uptime",
        &format!("{} s", st.started.elapsed().as_secs()),
    );
    b.push_str("</div>");
    let engine = match &s.ch.embedded {
        Some(e) => format!("embedded chDB (restarts: {})", e.restarts()),
        None => "ClickHouse server".into(),
    };
    let _ = write!(
        b,
        "<h2>storage</h2><table><tr><th>ClickHouse</th><td>{}</td></tr><tr><th>engine</th><td>{}</td></tr>\
<tr><th>database</th><td>{}</td></tr><tr><th>reported Elasticsearch version</th><td>{}</td></tr></table>",
        esc(&s.ch.url),
        esc(&engine),
        esc(&s.ch.database),
        esc(&s.cfg.es_version),
    );
    let errors: Vec<_> = traces
        .iter()
        .rev()
        .filter(|t| t.status().is_some_and(|s| s >= 400))
        .take(10)
        .cloned()
        .collect();
    b.push_str("<h2>latest errors</h2>");
    if errors.is_empty() {
        b.push_str("<p class=\"muted\">No request failed recently.</p>");
    } else {
        request_table(&mut b, &errors);
    }
    b.push_str(AUTO_REFRESH);
    page("overview", "overview", &b)
}

fn request_table(b: &mut String, traces: &[Arc<RequestTrace>]) {
    b.push_str(
        "<table><tr><th>#</th><th>at (UTC)</th><th>method</th><th>path</th><th>endpoint</th>\
<th>opaque id</th><th>status</th><th>ms</th><th>SQL</th><th>in</th><th>out</th></tr>",
    );
    for t in traces {
        let d = t.data();
        let _ = write!(
            b,
            "<tr><td><a href=\"/requests/{id}\">{id}</a></td><td>{}</td><td>{}</td>\
<td><a href=\"/requests/{id}\">{}</a></td><td>{}</td><td>{}</td>{}<td class=\"n\">{}</td>\
<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            t.at.format("%H:%M:%S%.3f"),
            esc(&t.method),
            esc(&shorten(&full_path(t), 120)),
            esc(&t.endpoint),
            esc(t.opaque_id.as_deref().unwrap_or("")),
            status_cell(d.status),
            d.millis.map_or_else(String::new, |m| format!("{m:.1}")),
            d.sql.len() + d.sql_dropped,
            bytes(d.request_bytes),
            bytes(d.response_bytes),
            id = t.id,
        );
    }
    b.push_str("</table>");
}

#[derive(Deserialize, Default)]
pub struct RequestFilter {
    /// Substring of method, path, query, endpoint or opaque id.
    q: Option<String>,
    /// Only failed requests.
    errors: Option<String>,
    limit: Option<usize>,
}

impl RequestFilter {
    fn select(&self, all: Vec<Arc<RequestTrace>>) -> Vec<Arc<RequestTrace>> {
        let q = self.q.as_deref().unwrap_or("").to_lowercase();
        let errors = matches!(self.errors.as_deref(), Some("1" | "true" | "on"));
        all.into_iter()
            .rev()
            .filter(|t| !errors || t.status().is_some_and(|s| s >= 400))
            .filter(|t| {
                q.is_empty()
                    || [
                        t.method.as_str(),
                        t.path.as_str(),
                        t.query.as_str(),
                        t.endpoint.as_str(),
                        t.opaque_id.as_deref().unwrap_or(""),
                    ]
                    .iter()
                    .any(|f| f.to_lowercase().contains(&q))
            })
            .take(self.limit.unwrap_or(100).min(RING_LEN))
            .collect()
    }
}

pub async fn requests(State(s): State<AppState>, Query(f): Query<RequestFilter>) -> Html<String> {
    let shown = f.select(s.stats.ring.all());
    let mut b = format!(
        "<form class=\"filter\" method=\"get\"><input name=\"q\" placeholder=\"path, endpoint, opaque id\" \
value=\"{}\"><label><input type=\"checkbox\" name=\"errors\" value=\"1\"{}> errors only</label> \
<button>filter</button></form><p class=\"muted\">Newest first; the last {RING_LEN} requests are kept.</p>",
        esc(f.q.as_deref().unwrap_or("")),
        if matches!(f.errors.as_deref(), Some("1" | "true" | "on")) {
            " checked"
        } else {
            ""
        }
    );
    if shown.is_empty() {
        b.push_str("<p>No request yet.</p>");
    } else {
        request_table(&mut b, &shown);
    }
    b.push_str(AUTO_REFRESH);
    page("latest requests", "requests", &b)
}

/// A body as the UI shows it: JSON pretty-printed when it is whole, NDJSON line by line, the rest
/// as text.
fn show_body(body: &[u8], total: u64, content_type: Option<&str>) -> String {
    if total == 0 {
        return "<p class=\"muted\">(empty)</p>".into();
    }
    let whole = body.len() as u64 == total;
    let text = String::from_utf8_lossy(body);
    let ndjson = content_type.is_some_and(|c| c.contains("ndjson"));
    let shown = match serde_json::from_slice::<Value>(body) {
        Ok(v) if whole && !ndjson => serde_json::to_string_pretty(&v).unwrap_or_default(),
        _ => text.into_owned(),
    };
    let mut out = format!("<pre class=\"box\">{}</pre>", esc(&shown));
    if !whole {
        let _ = write!(
            out,
            "<p class=\"muted\">First {} of {} shown.</p>",
            bytes(BODY_LIMIT as u64),
            bytes(total)
        );
    }
    out
}

fn missing_request(id: u64) -> Response {
    (
        StatusCode::NOT_FOUND,
        page(
            "request not found",
            "requests",
            &format!(
                "<p>Request {id} is not in the ring (the last {RING_LEN} requests are kept).</p>\
<p><a href=\"/requests\">latest requests</a></p>"
            ),
        ),
    )
        .into_response()
}

pub async fn request_detail(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    let Some(t) = id.parse().ok().and_then(|id| s.stats.ring.get(id)) else {
        return missing_request(id.parse().unwrap_or(0));
    };
    let d = t.data();
    let mut b = String::from("<table>");
    let row = |b: &mut String, k: &str, v: &str| {
        let _ = write!(b, "<tr><th>{}</th><td>{}</td></tr>", esc(k), v);
    };
    row(&mut b, "request id", &t.id.to_string());
    row(
        &mut b,
        "received",
        &esc(&t.at.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string()),
    );
    row(&mut b, "method", &esc(&t.method));
    row(&mut b, "path", &esc(&t.path));
    row(&mut b, "query string", &esc(&t.query));
    row(&mut b, "endpoint", &esc(&t.endpoint));
    row(
        &mut b,
        "X-Opaque-Id",
        &esc(t.opaque_id.as_deref().unwrap_or("")),
    );
    row(
        &mut b,
        "content type",
        &esc(t.content_type.as_deref().unwrap_or("")),
    );
    row(
        &mut b,
        "status",
        &d.status
            .map_or_else(|| "in progress".into(), |s| s.to_string()),
    );
    row(&mut b, "latency", &esc(&ms(d.millis)));
    if let Some(r) = &d.routing {
        row(&mut b, "routing", &esc(r));
    }
    if let Some(id) = d.mismatch {
        row(
            &mut b,
            "A/B",
            &format!(
                "<a class=\"err\" href=\"/mismatches/{id}\">mismatch {id}: the two answers differ</a>"
            ),
        );
    }
    if let Some(f) = &d.unsupported {
        row(
            &mut b,
            "unsupported feature",
            &format!("<span class=\"err\">{}</span>", esc(f)),
        );
    }
    b.push_str("</table>");
    let _ = write!(b, "<h2>request body ({})</h2>", bytes(d.request_bytes));
    b.push_str(&show_body(
        &d.request_body,
        d.request_bytes,
        t.content_type.as_deref(),
    ));
    let _ = write!(b, "<h2>ClickHouse statements ({})</h2>", d.sql.len());
    if d.sql.is_empty() {
        b.push_str("<p class=\"muted\">This request sent nothing to ClickHouse.</p>");
    } else {
        sql_table(&mut b, &d.sql);
    }
    if d.sql_dropped > 0 {
        let _ = write!(
            b,
            "<p class=\"muted\">{} more statements not kept.</p>",
            d.sql_dropped
        );
    }
    let _ = write!(b, "<h2>response body ({})</h2>", bytes(d.response_bytes));
    b.push_str(&show_body(
        &d.response_body,
        d.response_bytes,
        d.response_content_type.as_deref(),
    ));
    page(
        &format!("request {} · {} {}", t.id, t.method, shorten(&t.path, 80)),
        "requests",
        &b,
    )
    .into_response()
}

fn sql_table(b: &mut String, queries: &[crate::telemetry::trace::QueryRecord]) {
    b.push_str(
        "<table><tr><th>at (UTC)</th><th>query id</th><th>SQL</th><th>ms</th><th>rows</th><th>error</th></tr>",
    );
    for q in queries {
        let at = chrono::DateTime::parse_from_rfc3339(&q.at)
            .map(|t| t.format("%H:%M:%S%.3f").to_string())
            .unwrap_or_else(|_| q.at.clone());
        let _ = write!(
            b,
            "<tr><td>{}</td><td class=\"nw\">{}</td><td><pre>{}</pre></td><td class=\"n\">{:.1}</td><td class=\"n\">{}</td>\
<td class=\"err\"><pre>{}</pre></td></tr>",
            esc(&at),
            esc(&q.query_id),
            esc(&q.sql),
            q.millis,
            q.rows.map(|r| r.to_string()).unwrap_or_default(),
            esc(q.error.as_deref().unwrap_or(""))
        );
    }
    b.push_str("</table>");
}

pub async fn sql(State(s): State<AppState>) -> Html<String> {
    let mut q = s.ch.recent_queries();
    q.reverse();
    let mut b = String::from(
        "<p class=\"muted\">Every statement sent to ClickHouse, newest first (the last 500). \
A request's own statements are on its page under <a href=\"/requests\">requests</a>.</p>",
    );
    if q.is_empty() {
        b.push_str("<p>No statement yet.</p>");
    } else {
        sql_table(&mut b, &q);
    }
    b.push_str(AUTO_REFRESH);
    page("SQL sent to ClickHouse", "SQL", &b)
}

pub async fn unsupported(State(s): State<AppState>) -> Html<String> {
    let u = s.stats.unsupported();
    if u.is_empty() {
        return page(
            "unsupported features",
            "unsupported",
            "<p>No client has asked for an unsupported feature.</p>",
        );
    }
    let mut rows: Vec<_> = u.into_iter().collect();
    rows.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(&b.0)));
    let mut b = String::from(
        "<p class=\"muted\">Requests answered with an error because they use something elastichouse \
does not support yet, grouped by feature, most asked first.</p><table><tr><th>feature</th><th>count</th>\
<th>example request</th><th>example body</th><th>last seen</th></tr>",
    );
    for (f, e) in rows {
        let example = match e.example_request {
            Some(id) if s.stats.ring.get(id).is_some() => {
                format!("<a href=\"/requests/{id}\">{}</a>", esc(&e.example))
            }
            _ => esc(&e.example),
        };
        let _ = write!(
            b,
            "<tr><td>{}</td><td class=\"n\">{}</td><td>{}</td><td><pre>{}</pre></td><td>{}</td></tr>",
            esc(&f),
            e.count,
            example,
            esc(&shorten(&e.example_body, 600)),
            esc(&e.last_seen)
        );
    }
    b.push_str("</table>");
    page("unsupported features", "unsupported", &b)
}

pub async fn indices(State(s): State<AppState>) -> Html<String> {
    let mut b = String::new();
    match s.catalog.list().await {
        Err(e) => {
            let _ = write!(b, "<p class=\"err\">{}</p>", esc(&e.reason));
        }
        Ok(list) if list.is_empty() => b.push_str("<p>No index yet.</p>"),
        Ok(list) => {
            b.push_str("<table><tr><th>index</th><th>ClickHouse table</th><th>kind</th><th>fields</th></tr>");
            for m in &list {
                let _ = write!(
                    b,
                    "<tr><td><a href=\"#idx-{n}\">{n}</a></td><td>{}.{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
                    esc(&s.ch.database),
                    esc(&m.name),
                    if m.managed {
                        "managed"
                    } else {
                        "existing table (read-only)"
                    },
                    m.mappings.leaf_fields().len(),
                    n = esc(&m.name),
                );
            }
            b.push_str("</table>");
            for m in &list {
                let _ = write!(
                    b,
                    "<h2 id=\"idx-{n}\">{n} → <code>{}.{n}</code></h2>\
<table><tr><th>field</th><th>mapping type</th><th>column</th><th>ClickHouse type</th></tr>",
                    esc(&s.ch.database),
                    n = esc(&m.name),
                );
                let mut used = std::collections::BTreeSet::new();
                for f in m.mappings.leaf_fields() {
                    let ty = f
                        .column
                        .as_ref()
                        .and_then(|c| m.columns.get(c))
                        .map(|t| t.to_string())
                        .unwrap_or_default();
                    if let Some(c) = &f.column {
                        used.insert(c.clone());
                    }
                    let _ = write!(
                        b,
                        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        esc(&f.path),
                        esc(&f.es_type),
                        esc(f.column.as_deref().unwrap_or("(none)")),
                        esc(&ty)
                    );
                }
                for (c, t) in m.columns.iter().filter(|(c, _)| !used.contains(*c)) {
                    let _ = write!(
                        b,
                        "<tr><td class=\"muted\">(no mapped field)</td><td></td><td>{}</td><td>{}</td></tr>",
                        esc(c),
                        esc(&t.to_string())
                    );
                }
                b.push_str("</table>");
            }
        }
    }
    page("indices and schemas", "indices", &b)
}

pub async fn ingest(State(s): State<AppState>) -> Html<String> {
    let st = &s.stats;
    let mut b = String::from("<div class=\"cards\">");
    card(
        &mut b,
        "documents ingested",
        &st.docs_ingested.load(Ordering::Relaxed).to_string(),
    );
    card(
        &mut b,
        "docs/s (last minute)",
        &format!("{:.1}", st.docs_per_second()),
    );
    card(
        &mut b,
        "bytes received by write endpoints",
        &bytes(st.metrics.ingest_bytes_total()),
    );
    card(
        &mut b,
        "batch size (docs per INSERT)",
        &s.cfg.bulk_batch_docs.to_string(),
    );
    b.push_str("</div><h2>latest write requests</h2>");
    let writes: Vec<_> = st
        .ring
        .all()
        .into_iter()
        .rev()
        .filter(|t| crate::telemetry::metrics::is_ingest_endpoint(&t.endpoint))
        .take(50)
        .collect();
    if writes.is_empty() {
        b.push_str("<p class=\"muted\">No write request yet.</p>");
    } else {
        b.push_str(
            "<table><tr><th>#</th><th>at (UTC)</th><th>request</th><th>status</th><th>bytes</th>\
<th>ms</th><th>INSERTs</th><th>rows inserted</th><th>item errors</th></tr>",
        );
        for t in writes {
            let d = t.data();
            let inserts: Vec<_> = d
                .sql
                .iter()
                .filter(|q| crate::telemetry::metrics::statement_kind(&q.sql) == "insert")
                .collect();
            let rows: usize = inserts.iter().filter_map(|q| q.rows).sum();
            let item_errors = item_errors(&d);
            let _ = write!(
                b,
                "<tr><td><a href=\"/requests/{id}\">{id}</a></td><td>{}</td><td>{} {}</td>{}<td class=\"n\">{}</td>\
<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                t.at.format("%H:%M:%S%.3f"),
                esc(&t.method),
                esc(&shorten(&full_path(&t), 100)),
                status_cell(d.status),
                bytes(d.request_bytes),
                d.millis.map_or_else(String::new, |m| format!("{m:.1}")),
                inserts.len(),
                rows,
                item_errors,
                id = t.id,
            );
        }
        b.push_str("</table>");
    }
    b.push_str(AUTO_REFRESH);
    page("ingest", "ingest", &b)
}

/// For a `_bulk` answer: whether some items failed (read from the start of the response).
fn item_errors(d: &TraceData) -> &'static str {
    let head = &d.response_body[..d.response_body.len().min(256)];
    let head = String::from_utf8_lossy(head);
    if head.contains("\"errors\":true") {
        "<span class=\"err\">yes</span>"
    } else if head.contains("\"errors\":false") {
        "no"
    } else {
        ""
    }
}

fn trace_json(t: &RequestTrace, full: bool) -> Value {
    let d = t.data();
    let mut v = json!({
        "id": t.id,
        "at": t.at.to_rfc3339(),
        "method": t.method,
        "path": t.path,
        "query": t.query,
        "endpoint": t.endpoint,
        "opaque_id": t.opaque_id,
        "status": d.status,
        "millis": d.millis,
        "request_bytes": d.request_bytes,
        "response_bytes": d.response_bytes,
        "sql_count": d.sql.len() + d.sql_dropped,
        "unsupported": d.unsupported,
        "routing": d.routing,
        "mismatch": d.mismatch,
    });
    if full {
        v["content_type"] = json!(t.content_type);
        v["request_body"] = json!(String::from_utf8_lossy(&d.request_body));
        v["response_body"] = json!(String::from_utf8_lossy(&d.response_body));
        v["sql"] = serde_json::to_value(&d.sql).unwrap_or_default();
    }
    v
}

pub async fn api_requests(
    State(s): State<AppState>,
    Query(f): Query<RequestFilter>,
) -> Json<Value> {
    let list: Vec<Value> = f
        .select(s.stats.ring.all())
        .iter()
        .map(|t| trace_json(t, false))
        .collect();
    Json(json!({ "requests": list }))
}

pub async fn api_request(State(s): State<AppState>, Path(id): Path<u64>) -> Response {
    match s.stats.ring.get(id) {
        Some(t) => Json(trace_json(&t, true)).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("request {id} is not in the ring")})),
        )
            .into_response(),
    }
}

pub async fn metrics(State(s): State<AppState>) -> Response {
    let restarts =
        s.ch.embedded
            .as_ref()
            .map_or(0, |e| u64::from(e.restarts()));
    let text = s
        .stats
        .metrics
        .encode(s.stats.docs_ingested.load(Ordering::Relaxed), restarts);
    (
        [(
            header::CONTENT_TYPE,
            crate::telemetry::metrics::CONTENT_TYPE,
        )],
        text,
    )
        .into_response()
}

pub async fn not_found(uri: axum::http::Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        page(
            "not found",
            "",
            &format!(
                "<p>Nothing at <code>{}</code>.</p><p><a href=\"/\">overview</a></p>",
                esc(uri.path())
            ),
        ),
    )
        .into_response()
}
