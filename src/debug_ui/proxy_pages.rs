//! Pages of the routing side: the routing table (with dual-write failures), A/B mismatches (list
//! and side-by-side diff) and the transparent proxy's readiness report; and their JSON twins.

use super::pages::page;
use crate::config::{Mode, RouteRule};
use crate::render::esc;
use crate::router::Table;
use crate::server::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::fmt::Write;
use std::sync::atomic::Ordering;

fn card(out: &mut String, key: &str, value: &str) {
    let _ = write!(
        out,
        "<div class=\"card\"><div class=\"v\">{}</div><div class=\"k\">{}</div></div>",
        esc(value),
        esc(key)
    );
}

fn request_link(s: &AppState, id: Option<u64>) -> String {
    match id {
        Some(id) if s.stats.ring.get(id).is_some() => {
            format!("<a href=\"/requests/{id}\">{id}</a>")
        }
        Some(id) => id.to_string(),
        None => String::new(),
    }
}

fn pretty(body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_default(),
        Err(_) => body.to_string(),
    }
}

fn short(v: &Option<Value>) -> String {
    match v {
        None => "—".into(),
        Some(v) => {
            let s = v.to_string();
            if s.chars().count() > 300 {
                let mut t: String = s.chars().take(300).collect();
                t.push('…');
                t
            } else {
                s
            }
        }
    }
}

#[derive(Deserialize, Default)]
pub struct IndexQuery {
    index: Option<String>,
}

fn rules_table(b: &mut String, table: Table, rules: &[RouteRule]) {
    let _ = write!(
        b,
        "<h2>{} routing</h2><table><tr><th>#</th><th>index patterns</th><th>target</th><th>primary</th></tr>",
        table.as_str()
    );
    for (i, r) in rules.iter().enumerate() {
        let _ = write!(
            b,
            "<tr><td class=\"n\">{i}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.indices.join(", ")),
            esc(&format!("{:?}", r.target).to_lowercase()),
            esc(&r
                .primary
                .map(|p| p.as_str().to_string())
                .unwrap_or_default()),
        );
    }
    b.push_str(
        "<tr><td class=\"muted\">–</td><td class=\"muted\">anything else</td><td>clickhouse</td><td></td></tr></table>",
    );
}

pub async fn routing(State(s): State<AppState>, Query(q): Query<IndexQuery>) -> Html<String> {
    let r = &s.routing;
    let mut b = String::from("<table>");
    let _ = write!(
        b,
        "<tr><th>mode</th><td>{}</td></tr><tr><th>Elasticsearch</th><td>{}</td></tr>\
<tr><th>fail the client when a secondary write fails</th><td>{}</td></tr></table>",
        match s.cfg.mode {
            Mode::Elastichouse => "elastichouse (routing per index)",
            Mode::Proxy => "proxy (transparent: every request to Elasticsearch)",
        },
        esc(s
            .cfg
            .elasticsearch_url
            .as_deref()
            .unwrap_or("none configured: everything is served from ClickHouse")),
        r.fail_on_secondary_error
    );
    b.push_str(
        "<p class=\"muted\">Rules are tried in order; the first whose pattern matches the index wins. \
Indices starting with <code>.</code> (<code>.kibana*</code>, <code>.security*</code>, <code>.tasks</code>, …) \
go to Elasticsearch whenever it is configured. APIs elastichouse does not implement go to Elasticsearch \
when it is configured.</p>",
    );
    rules_table(&mut b, Table::Ingest, &r.ingest);
    rules_table(&mut b, Table::Query, &r.query);
    let index = q.index.unwrap_or_default();
    let _ = write!(
        b,
        "<h2>explain</h2><form class=\"filter\" method=\"get\"><input name=\"index\" placeholder=\"index name\" \
value=\"{}\"><button>explain</button></form>",
        esc(&index)
    );
    if !index.is_empty() {
        let _ = write!(b, "<pre class=\"box\">{}</pre>", esc(&r.explain(&index)));
    }
    let failures = s.records.failures();
    let _ = write!(
        b,
        "<h2>dual write: secondary failures ({} since start)</h2>",
        s.records.failures_total.load(Ordering::Relaxed)
    );
    if failures.is_empty() {
        b.push_str("<p class=\"muted\">No secondary write has failed.</p>");
    } else {
        b.push_str(
            "<table><tr><th>at (UTC)</th><th>request</th><th>method</th><th>path</th><th>secondary</th>\
<th>status</th><th>reason</th><th>answer</th></tr>",
        );
        for f in failures.iter().take(100) {
            let _ = write!(
                b,
                "<tr><td class=\"nw\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"err\">{}</td>\
<td>{}</td><td><pre>{}</pre></td></tr>",
                esc(&f.at),
                request_link(&s, f.request_id),
                esc(&f.method),
                esc(&f.path),
                f.backend.as_str(),
                f.status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "–".into()),
                esc(&f.reason),
                esc(&f.detail.chars().take(600).collect::<String>()),
            );
        }
        b.push_str("</table>");
    }
    page("routing", "routing", &b)
}

pub async fn mismatches(State(s): State<AppState>) -> Html<String> {
    let st = &s.compare;
    let compared = st.compared.load(Ordering::Relaxed);
    let mismatched = st.mismatched.load(Ordering::Relaxed);
    let mut b = String::from("<div class=\"cards\">");
    card(&mut b, "A/B queries compared", &compared.to_string());
    card(&mut b, "with differences", &mismatched.to_string());
    card(
        &mut b,
        "mismatch rate",
        &if compared == 0 {
            "–".to_string()
        } else {
            format!("{:.1} %", mismatched as f64 * 100.0 / compared as f64)
        },
    );
    b.push_str("</div>");
    let groups = st.groups();
    b.push_str("<h2>by index and X-Opaque-Id (Kibana panel)</h2>");
    if groups.is_empty() {
        b.push_str(
            "<p class=\"muted\">No A/B query yet: route an index's queries to <code>both</code> \
(see <a href=\"/routing\">routing</a>).</p>",
        );
    } else {
        b.push_str(
            "<table><tr><th>index</th><th>X-Opaque-Id</th><th>compared</th><th>mismatched</th><th>latest</th></tr>",
        );
        for ((index, opaque), g) in &groups {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n{}\">{}</td><td>{}</td></tr>",
                esc(index),
                esc(opaque),
                g.compared,
                if g.mismatched > 0 { " err" } else { "" },
                g.mismatched,
                g.last_mismatch
                    .filter(|id| st.get(*id).is_some())
                    .map(|id| format!("<a href=\"/mismatches/{id}\">#{id}</a>"))
                    .unwrap_or_default()
            );
        }
        b.push_str("</table>");
    }
    let list = st.mismatches();
    let _ = write!(
        b,
        "<h2>latest mismatches</h2><p class=\"muted\">Newest first; the last {} are kept with both answers.</p>",
        crate::compare::store::KEPT
    );
    if list.is_empty() {
        b.push_str("<p>No mismatch.</p>");
    } else {
        b.push_str(
            "<table><tr><th>#</th><th>at (UTC)</th><th>request</th><th>path</th><th>index</th><th>opaque id</th>\
<th>primary</th><th>differences</th></tr>",
        );
        for c in list.iter().take(100) {
            let mut kinds: Vec<&str> = c.diffs.iter().map(|d| d.kind.as_str()).collect();
            kinds.sort_unstable();
            kinds.dedup();
            let _ = write!(
                b,
                "<tr><td><a href=\"/mismatches/{id}\">{id}</a></td><td class=\"nw\">{}</td><td>{}</td>\
<td><a href=\"/mismatches/{id}\">{} {}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{} · {}</td></tr>",
                esc(&c.at),
                request_link(&s, c.request_id),
                esc(&c.method),
                esc(&c.path),
                esc(&c.index),
                esc(c.opaque_id.as_deref().unwrap_or("")),
                c.primary.as_str(),
                c.diffs.len(),
                esc(&kinds.join(", ")),
                id = c.id,
            );
        }
        b.push_str("</table>");
    }
    page("A/B mismatches", "mismatches", &b)
}

pub async fn mismatch(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    let Some(c) = id.parse().ok().and_then(|id| s.compare.get(id)) else {
        return (
            StatusCode::NOT_FOUND,
            page(
                "mismatch not found",
                "mismatches",
                "<p>This mismatch is not kept any more.</p><p><a href=\"/mismatches\">mismatches</a></p>",
            ),
        )
            .into_response();
    };
    let mut b = String::from("<table>");
    let row = |b: &mut String, k: &str, v: &str| {
        let _ = write!(b, "<tr><th>{}</th><td>{}</td></tr>", esc(k), v);
    };
    row(&mut b, "at", &esc(&c.at));
    row(&mut b, "request", &request_link(&s, c.request_id));
    row(
        &mut b,
        "request line",
        &esc(&format!("{} {}", c.method, c.path)),
    );
    row(&mut b, "index", &esc(&c.index));
    row(
        &mut b,
        "X-Opaque-Id",
        &esc(c.opaque_id.as_deref().unwrap_or("")),
    );
    row(&mut b, "primary (answered the client)", c.primary.as_str());
    b.push_str("</table><h2>request body</h2>");
    let _ = write!(
        b,
        "<pre class=\"box\">{}</pre>",
        esc(&pretty(&c.request_body))
    );
    let _ = write!(
        b,
        "<h2>differences ({})</h2><table><tr><th>kind</th><th>path</th><th>Elasticsearch</th><th>ClickHouse</th></tr>",
        c.diffs.len()
    );
    for d in &c.diffs {
        let _ = write!(
            b,
            "<tr><td class=\"err nw\">{}</td><td><code>{}</code></td><td><pre>{}</pre></td><td><pre>{}</pre></td></tr>",
            d.kind.as_str(),
            esc(&d.path),
            esc(&short(&d.elasticsearch)),
            esc(&short(&d.clickhouse)),
        );
    }
    b.push_str("</table><h2>answers side by side</h2>");
    let _ = write!(
        b,
        "<table style=\"width:100%;table-layout:fixed\"><tr><th>Elasticsearch · status {} · {:.1} ms</th>\
<th>ClickHouse (elastichouse) · status {} · {:.1} ms</th></tr><tr><td><pre class=\"box\">{}</pre></td>\
<td><pre class=\"box\">{}</pre></td></tr></table>",
        c.elasticsearch.status,
        c.elasticsearch.millis,
        c.clickhouse.status,
        c.clickhouse.millis,
        esc(&pretty(&c.elasticsearch.body)),
        esc(&pretty(&c.clickhouse.body)),
    );
    page(&format!("mismatch {}", c.id), "mismatches", &b).into_response()
}

pub async fn readiness(State(s): State<AppState>) -> Html<String> {
    let mut b = String::new();
    if s.cfg.mode != Mode::Proxy {
        b.push_str(
            "<p class=\"muted\">The readiness report fills in transparent-proxy mode \
(<code>mode = \"proxy\"</code>): every request goes to Elasticsearch, and elastichouse records what \
it would have to support to serve each index.</p>",
        );
    }
    let analysed = s.records.analysed_by_index();
    b.push_str("<h2>indices</h2>");
    if analysed.is_empty() {
        b.push_str("<p class=\"muted\">No search request seen yet.</p>");
    } else {
        b.push_str(
            "<table><tr><th>index</th><th>search bodies seen</th><th>using unsupported features</th><th>ready</th></tr>",
        );
        for (index, (n, bad)) in &analysed {
            let ready = if *n == 0 {
                0.0
            } else {
                (*n - *bad) as f64 * 100.0 / *n as f64
            };
            let _ = write!(
                b,
                "<tr><td>{}</td><td class=\"n\">{n}</td><td class=\"n{}\">{bad}</td><td class=\"n\">{ready:.1} %</td></tr>",
                esc(index),
                if *bad > 0 { " err" } else { "" },
            );
        }
        b.push_str("</table>");
    }
    let features = s.records.features();
    b.push_str("<h2>unsupported features in use</h2>");
    if features.is_empty() {
        b.push_str("<p class=\"muted\">None seen.</p>");
    } else {
        b.push_str(
            "<table><tr><th>index</th><th>feature</th><th>requests</th><th>example</th><th>example body</th></tr>",
        );
        let mut rows: Vec<_> = features.into_iter().collect();
        rows.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(&b.0)));
        for ((index, feature), f) in rows {
            let example = match f.example_request {
                Some(id) if s.stats.ring.get(id).is_some() => {
                    format!("<a href=\"/requests/{id}\">{}</a>", esc(&f.example_path))
                }
                _ => esc(&f.example_path),
            };
            let _ = write!(
                b,
                "<tr><td>{}</td><td class=\"err\">{}</td><td class=\"n\">{}</td><td>{}</td><td><pre>{}</pre></td></tr>",
                esc(&index),
                esc(&feature),
                f.count,
                example,
                esc(&f.example_body.chars().take(400).collect::<String>()),
            );
        }
        b.push_str("</table>");
    }
    let endpoints = s.records.endpoints();
    b.push_str("<h2>traffic by endpoint and index</h2>");
    if endpoints.is_empty() {
        b.push_str("<p class=\"muted\">No proxied request yet.</p>");
    } else {
        b.push_str(
            "<table><tr><th>endpoint</th><th>index</th><th>requests</th><th>errors</th><th>statuses</th>\
<th>mean ms</th><th>p50 ms</th><th>p99 ms</th><th>max ms</th></tr>",
        );
        for ((endpoint, index), e) in &endpoints {
            let statuses: Vec<String> = e
                .statuses
                .iter()
                .map(|(s, n)| format!("{s}: {n}"))
                .collect();
            let f = |v: Option<f64>| v.map_or_else(|| "–".into(), |v| format!("{v:.1}"));
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td>\
<td class=\"n\">{:.1}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{:.1}</td></tr>",
                esc(endpoint),
                esc(index),
                e.count,
                e.errors,
                esc(&statuses.join(", ")),
                e.total_millis / e.count.max(1) as f64,
                f(e.percentile(50.0)),
                f(e.percentile(99.0)),
                e.max_millis,
            );
        }
        b.push_str("</table>");
    }
    page("readiness", "readiness", &b)
}

pub async fn api_mismatches(State(s): State<AppState>) -> Json<Value> {
    let list: Vec<Value> = s
        .compare
        .mismatches()
        .iter()
        .map(|c| serde_json::to_value(c.as_ref()).unwrap_or_default())
        .collect();
    let groups: Vec<Value> = s
        .compare
        .groups()
        .into_iter()
        .map(|((index, opaque), g)| {
            json!({"index": index, "opaque_id": opaque, "compared": g.compared,
                   "mismatched": g.mismatched, "last_mismatch": g.last_mismatch})
        })
        .collect();
    Json(json!({
        "compared": s.compare.compared.load(Ordering::Relaxed),
        "mismatched": s.compare.mismatched.load(Ordering::Relaxed),
        "groups": groups,
        "mismatches": list,
    }))
}

pub async fn api_secondary_failures(State(s): State<AppState>) -> Json<Value> {
    Json(json!({
        "total": s.records.failures_total.load(Ordering::Relaxed),
        "failures": s.records.failures(),
    }))
}

pub async fn api_readiness(State(s): State<AppState>) -> Json<Value> {
    let endpoints: Vec<Value> = s
        .records
        .endpoints()
        .into_iter()
        .map(|((endpoint, index), e)| {
            json!({"endpoint": endpoint, "index": index, "count": e.count, "errors": e.errors,
                   "statuses": e.statuses, "p50_millis": e.percentile(50.0),
                   "max_millis": e.max_millis})
        })
        .collect();
    let features: Vec<Value> = s
        .records
        .features()
        .into_iter()
        .map(|((index, feature), f)| {
            json!({"index": index, "feature": feature, "count": f.count,
                   "example_path": f.example_path, "example_body": f.example_body})
        })
        .collect();
    Json(json!({"endpoints": endpoints, "features": features}))
}
