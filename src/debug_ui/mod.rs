//! The debug UI on its own port (default 127.0.0.1:9999): what the daemon is doing, readable without
//! JavaScript. This first version shows the overview, the latest requests, the SQL sent to ClickHouse,
//! the unsupported features clients asked for, and the indices with their columns.

use crate::server::AppState;
use axum::Router;
use axum::extract::State;
use axum::http::Method;
use axum::response::Html;
use axum::routing::get;
use parking_lot::Mutex;
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

const RECENT: usize = 200;

#[derive(Debug, Clone)]
pub struct RequestRecord {
    pub at: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub millis: f64,
}

#[derive(Debug, Clone)]
pub struct Unsupported {
    pub count: u64,
    pub example: String,
    pub last_seen: String,
}

/// Counters and bounded recent history, shared by all handlers.
#[derive(Default)]
pub struct Stats {
    pub requests_total: AtomicU64,
    pub errors_total: AtomicU64,
    pub docs_ingested: AtomicU64,
    recent: Mutex<VecDeque<RequestRecord>>,
    unsupported: Mutex<BTreeMap<String, Unsupported>>,
}

impl Stats {
    pub fn record_request(&self, method: &Method, path: &str, status: u16, millis: f64) {
        self.requests_total.fetch_add(1, Ordering::Relaxed);
        if status >= 400 {
            self.errors_total.fetch_add(1, Ordering::Relaxed);
        }
        let mut r = self.recent.lock();
        if r.len() == RECENT {
            r.pop_front();
        }
        r.push_back(RequestRecord {
            at: chrono::Utc::now().format("%H:%M:%S%.3f").to_string(),
            method: method.to_string(),
            path: path.to_string(),
            status,
            millis,
        });
    }

    pub fn record_unsupported(&self, feature: &str, example: &str) {
        let now = chrono::Utc::now().to_rfc3339();
        let mut u = self.unsupported.lock();
        let e = u.entry(feature.to_string()).or_insert(Unsupported {
            count: 0,
            example: example.to_string(),
            last_seen: now.clone(),
        });
        e.count += 1;
        e.last_seen = now;
    }

    pub fn unsupported(&self) -> BTreeMap<String, Unsupported> {
        self.unsupported.lock().clone()
    }

    pub fn recent_requests(&self) -> Vec<RequestRecord> {
        self.recent.lock().iter().cloned().collect()
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(overview))
        .route("/requests", get(requests))
        .route("/sql", get(sql))
        .route("/unsupported", get(unsupported))
        .route("/indices", get(indices))
        .with_state(state)
}

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>elastichouse · {t}</title>\
<style>body{{font-family:system-ui,sans-serif;margin:1.5em;color:#222}}nav a{{margin-right:1em}}\
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}}\
pre{{white-space:pre-wrap;margin:0}}.err{{color:#b00}}</style></head><body>\
<nav><a href=\"/\">overview</a><a href=\"/requests\">requests</a><a href=\"/sql\">SQL</a>\
<a href=\"/unsupported\">unsupported</a><a href=\"/indices\">indices</a></nav><h1>{t}</h1>{body}</body></html>",
        t = esc(title)
    ))
}

async fn overview(State(s): State<AppState>) -> Html<String> {
    let st = &s.stats;
    let mut b = String::new();
    let _ = write!(
        b,
        "<table><tr><th>ClickHouse</th><td>{}{}</td></tr><tr><th>database</th><td>{}</td></tr>\
<tr><th>reported version</th><td>{}</td></tr><tr><th>requests</th><td>{}</td></tr>\
<tr><th>errors</th><td>{}</td></tr><tr><th>documents ingested</th><td>{}</td></tr>\
<tr><th>unsupported features seen</th><td>{}</td></tr></table>",
        esc(&s.ch.url),
        if s.ch.embedded.is_some() {
            " (embedded chDB)"
        } else {
            ""
        },
        esc(&s.ch.database),
        esc(&s.cfg.es_version),
        st.requests_total.load(Ordering::Relaxed),
        st.errors_total.load(Ordering::Relaxed),
        st.docs_ingested.load(Ordering::Relaxed),
        st.unsupported().len(),
    );
    page("overview", &b)
}

async fn requests(State(s): State<AppState>) -> Html<String> {
    let mut b = String::from(
        "<table><tr><th>at</th><th>method</th><th>path</th><th>status</th><th>ms</th></tr>",
    );
    for r in s.stats.recent_requests().iter().rev() {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td{}>{}</td><td>{:.1}</td></tr>",
            esc(&r.at),
            esc(&r.method),
            esc(&r.path),
            if r.status >= 400 {
                " class=\"err\""
            } else {
                ""
            },
            r.status,
            r.millis
        );
    }
    b.push_str("</table>");
    page("latest requests", &b)
}

async fn sql(State(s): State<AppState>) -> Html<String> {
    let mut b = String::from(
        "<table><tr><th>at</th><th>query id</th><th>SQL</th><th>ms</th><th>rows</th><th>error</th></tr>",
    );
    for q in s.ch.recent_queries().iter().rev() {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td><pre>{}</pre></td><td>{:.1}</td><td>{}</td><td class=\"err\">{}</td></tr>",
            esc(&q.at),
            esc(&q.query_id),
            esc(&q.sql),
            q.millis,
            q.rows.map(|r| r.to_string()).unwrap_or_default(),
            esc(q.error.as_deref().unwrap_or(""))
        );
    }
    b.push_str("</table>");
    page("SQL sent to ClickHouse", &b)
}

async fn unsupported(State(s): State<AppState>) -> Html<String> {
    let u = s.stats.unsupported();
    if u.is_empty() {
        return page(
            "unsupported features",
            "<p>No client has asked for an unsupported feature.</p>",
        );
    }
    let mut b = String::from(
        "<table><tr><th>feature</th><th>count</th><th>example request</th><th>last seen</th></tr>",
    );
    for (f, e) in u {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&f),
            e.count,
            esc(&e.example),
            esc(&e.last_seen)
        );
    }
    b.push_str("</table>");
    page("unsupported features", &b)
}

async fn indices(State(s): State<AppState>) -> Html<String> {
    let mut b = String::new();
    match s.catalog.list().await {
        Err(e) => {
            let _ = write!(b, "<p class=\"err\">{}</p>", esc(&e.reason));
        }
        Ok(list) => {
            b.push_str("<table><tr><th>index</th><th>ClickHouse table</th><th>columns</th></tr>");
            for m in list {
                let cols: Vec<String> = m
                    .columns
                    .iter()
                    .map(|(n, t)| format!("{} {}", esc(n), esc(&t.to_string())))
                    .collect();
                let _ = write!(
                    b,
                    "<tr><td>{}</td><td>{}.{}</td><td><pre>{}</pre></td></tr>",
                    esc(&m.name),
                    esc(&s.ch.database),
                    esc(&m.name),
                    cols.join("\n")
                );
            }
            b.push_str("</table>");
        }
    }
    page("indices and schemas", &b)
}
