//! `/explore`: a log explorer on the UI port, and `POST /api/kql` (KQL → query DSL for scripts).
//!
//! Every search goes through the daemon's own `_search` path ([`search::parse_request`] and
//! [`search::run_search`]) with a DSL body, as Kibana's requests do; the page never writes SQL.
//! The whole page state is in the URL: `index`, `q`, `lang` (kql|lucene), `from`/`to` (date math
//! `now-15m` or ISO dates), `refresh` (s), `f` (repeated filters, `+field:value` or `-field:value`),
//! `cols` (comma-separated), `after` (the `search_after` sort values of the page), `page`, `doc`
//! (the open document) and `tail` (live tail). Rendered with minijinja (`page.html`); the only
//! scripts are the live-tail reload and the histogram's click-drag zoom.

use crate::dsl::kql;
use crate::error::EsError;
use crate::es_api::{Params, search};
use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, context};
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Rows per page (Discover's default sample size per page).
const PAGE_SIZE: usize = 50;
/// Kibana's `histogram:barTarget`.
const BAR_TARGET: i64 = 50;

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut e = Environment::new();
        e.add_template("page.html", include_str!("page.html"))
            .expect("the explorer template parses");
        e
    })
}

/// The page state, read from and written back to the URL.
#[derive(Debug, Clone, Default)]
pub struct ViewState {
    pub index: String,
    pub q: String,
    pub lang: String,
    pub from: String,
    pub to: String,
    pub refresh: Option<u32>,
    /// (excluded, field, value)
    pub filters: Vec<(bool, String, String)>,
    pub cols: Vec<String>,
    pub after: Option<String>,
    pub page: u32,
    pub doc: Option<String>,
    pub tail: bool,
}

fn decode(s: &str) -> String {
    percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

fn enc(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

impl ViewState {
    pub fn parse(query: &str) -> ViewState {
        let mut v = ViewState {
            lang: "kql".into(),
            from: "now-15m".into(),
            to: "now".into(),
            page: 1,
            ..Default::default()
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, val) = pair.split_once('=').unwrap_or((pair, ""));
            let val = decode(val);
            match k {
                "index" => v.index = val,
                "q" => v.q = val,
                "lang" if val == "lucene" => v.lang = val,
                "from" if !val.is_empty() => v.from = val,
                "to" if !val.is_empty() => v.to = val,
                "refresh" => v.refresh = val.parse().ok().filter(|r| *r > 0),
                "f" => {
                    let neg = val.starts_with('-');
                    let body = val.trim_start_matches(['+', '-']);
                    if let Some((f, x)) = body.split_once(':') {
                        v.filters.push((neg, f.to_string(), x.to_string()));
                    }
                }
                "cols" => {
                    v.cols = val
                        .split(',')
                        .filter(|c| !c.is_empty())
                        .map(str::to_string)
                        .collect()
                }
                "after" if !val.is_empty() => v.after = Some(val),
                "page" => v.page = val.parse().unwrap_or(1).max(1),
                "doc" if !val.is_empty() => v.doc = Some(val),
                "tail" => v.tail = val == "1",
                _ => {}
            }
        }
        v
    }

    /// The URL of this state.
    pub fn href(&self) -> String {
        let mut parts = vec![format!("index={}", enc(&self.index))];
        if !self.q.is_empty() {
            parts.push(format!("q={}", enc(&self.q)));
        }
        if self.lang != "kql" {
            parts.push(format!("lang={}", enc(&self.lang)));
        }
        parts.push(format!("from={}", enc(&self.from)));
        parts.push(format!("to={}", enc(&self.to)));
        if let Some(r) = self.refresh {
            parts.push(format!("refresh={r}"));
        }
        for f in &self.filters {
            parts.push(format!("f={}", enc(&filter_raw(f))));
        }
        if !self.cols.is_empty() {
            parts.push(format!("cols={}", enc(&self.cols.join(","))));
        }
        if let Some(a) = &self.after {
            parts.push(format!("after={}", enc(a)));
            parts.push(format!("page={}", self.page));
        }
        if let Some(d) = &self.doc {
            parts.push(format!("doc={}", enc(d)));
        }
        if self.tail {
            parts.push("tail=1".into());
        }
        format!("/explore?{}", parts.join("&"))
    }

    /// The same view from its first page, without an open document.
    fn reset(&self) -> ViewState {
        ViewState {
            after: None,
            page: 1,
            doc: None,
            ..self.clone()
        }
    }
}

fn filter_raw(f: &(bool, String, String)) -> String {
    format!("{}{}:{}", if f.0 { '-' } else { '+' }, f.1, f.2)
}

/// Milliseconds of a time bound: `now`, `now-15m` (s, m, h, d, w), epoch millis, RFC 3339, or a
/// date / date-time without zone (UTC).
pub fn parse_time(s: &str, now: i64) -> Option<i64> {
    let s = s.trim();
    if s == "now" {
        return Some(now);
    }
    if let Some(rest) = s.strip_prefix("now-") {
        let (n, unit) = rest.split_at(rest.find(|c: char| !c.is_ascii_digit())?);
        let n: i64 = n.parse().ok()?;
        let ms = match unit {
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            _ => return None,
        };
        return Some(now - n * ms);
    }
    if let Ok(ms) = s.parse::<i64>() {
        return Some(ms);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .map(|d| d.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_millis())
}

/// Kibana's `calcAutoIntervalNear(barTarget, duration)` (`data/common/search/aggs/buckets/lib/
/// time_buckets/calc_auto_interval.ts`): the round interval nearest duration / barTarget. Each
/// row is (bound, interval): the interval is chosen when the target exceeds the next row's bound.
pub fn auto_interval(duration_ms: i64) -> (i64, &'static str) {
    const S: i64 = 1_000;
    const M: i64 = 60 * S;
    const H: i64 = 60 * M;
    const D: i64 = 24 * H;
    const ROWS: &[(i64, i64, &str)] = &[
        (i64::MAX, 365 * D, "1y"),
        (365 * D, 30 * D, "30d"),
        (21 * D, 7 * D, "7d"),
        (7 * D, D, "1d"),
        (D, 12 * H, "12h"),
        (6 * H, 3 * H, "3h"),
        (2 * H, H, "1h"),
        (45 * M, 30 * M, "30m"),
        (20 * M, 10 * M, "10m"),
        (9 * M, 5 * M, "5m"),
        (3 * M, M, "1m"),
        (45 * S, 30 * S, "30s"),
        (15 * S, 10 * S, "10s"),
        (7_500, 5 * S, "5s"),
        (5 * S, S, "1s"),
        (500, 100, "100ms"),
        (50, 10, "10ms"),
        (5, 1, "1ms"),
    ];
    let target = duration_ms / BAR_TARGET;
    for (i, row) in ROWS.iter().enumerate() {
        match ROWS.get(i + 1) {
            Some(next) if target <= next.0 => continue,
            _ => return (row.1, row.2),
        }
    }
    (1, "1ms")
}

/// A value at a dotted path of `_source` (objects walked, or a flat dotted key).
fn at_path<'a>(src: &'a Value, path: &str) -> Option<&'a Value> {
    if let Some(v) = src.get(path) {
        return Some(v);
    }
    let (head, rest) = path.split_once('.')?;
    let mut cur = src.get(head)?;
    let mut rest = rest;
    loop {
        if let Some(v) = cur.get(rest) {
            return Some(v);
        }
        let (h, r) = rest.split_once('.')?;
        cur = cur.get(h)?;
        rest = r;
    }
}

fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

fn fmt_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

#[derive(Serialize)]
struct Row {
    time: String,
    open_href: String,
    cells: Vec<String>,
    summary: String,
    open: bool,
    json: String,
}

#[derive(Serialize)]
struct Bucket {
    key: String,
    /// The end of the bucket (the `to` of a zoom that ends on it).
    end: String,
    count: u64,
    pct: u64,
    href: String,
}

#[derive(Serialize)]
struct Top {
    value: String,
    count: usize,
    in_href: String,
    out_href: String,
}

#[derive(Serialize)]
struct SideField {
    name: String,
    shown: bool,
    open: bool,
    col_href: String,
    top: Vec<Top>,
}

#[derive(Serialize)]
struct Pill {
    raw: String,
    neg: bool,
    field: String,
    value: String,
    remove_href: String,
}

#[derive(Serialize)]
struct Link {
    label: String,
    href: String,
}

/// The search targets: indices, aliases and data streams (hidden ones left out).
async fn targets(s: &AppState) -> Result<Vec<String>, EsError> {
    let view = s.catalog.view().await?;
    let mut out: Vec<String> = view
        .indices
        .keys()
        .filter(|n| !n.starts_with('.'))
        .cloned()
        .collect();
    out.extend(view.aliases.keys().filter(|n| !n.starts_with('.')).cloned());
    out.extend(view.data_streams.keys().cloned());
    out.sort();
    out.dedup();
    Ok(out)
}

/// The fields of the indices `expr` resolves to, and the time field (`@timestamp` when it is a
/// date, else the first date field), as Kibana's data view picks it.
async fn fields_of(s: &AppState, expr: &str) -> Result<(Vec<String>, Option<String>), EsError> {
    let metas = s.catalog.resolve(expr, Default::default()).await?;
    let mut fields = BTreeMap::new();
    for m in &metas {
        for f in m.mappings.leaf_fields() {
            fields.insert(f.path.clone(), f.es_type.clone());
        }
    }
    let is_date = |t: &str| t == "date" || t == "date_nanos";
    let time = if fields.get("@timestamp").is_some_and(|t| is_date(t)) {
        Some("@timestamp".to_string())
    } else {
        fields
            .iter()
            .find(|(_, t)| is_date(t))
            .map(|(f, _)| f.clone())
    };
    Ok((fields.into_keys().collect(), time))
}

/// The query of the query bar.
fn user_query(v: &ViewState, fields: &[String]) -> Result<Value, EsError> {
    if v.q.trim().is_empty() {
        return Ok(json!({"match_all": {}}));
    }
    if v.lang == "lucene" {
        return Ok(json!({"query_string": {"query": v.q}}));
    }
    kql::to_dsl(&v.q, Some(fields))
}

/// `GET /explore`.
pub async fn explore(State(s): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let mut v = ViewState::parse(raw.as_deref().unwrap_or(""));
    let targets = targets(&s).await.unwrap_or_default();
    if v.index.is_empty() {
        v.index = targets.first().cloned().unwrap_or_default();
    }
    let now = chrono::Utc::now().timestamp_millis();
    let mut error = None;
    let (fields, time_field) = if v.index.is_empty() {
        error = Some("no index to search yet".to_string());
        (Vec::new(), None)
    } else {
        match fields_of(&s, &v.index).await {
            Ok(x) => x,
            Err(e) => {
                error = Some(e.reason);
                (Vec::new(), None)
            }
        }
    };
    let from = parse_time(&v.from, now);
    let to = parse_time(&v.to, now);
    if from.is_none() || to.is_none() {
        error = Some(format!(
            "cannot read the time range [{}] – [{}]",
            v.from, v.to
        ));
    }
    let (from, to) = (from.unwrap_or(now - 900_000), to.unwrap_or(now));
    let (interval_ms, interval) = auto_interval((to - from).max(1));

    let mut out = Value::Null;
    if error.is_none() {
        match run(&s, &v, &fields, time_field.as_deref(), from, to, interval).await {
            Ok(o) => out = o,
            Err(e) => error = Some(e.reason),
        }
    }
    let hits = out["hits"]["hits"].as_array().cloned().unwrap_or_default();
    let total = out["hits"]["total"]["value"].as_u64().unwrap_or(0);

    let rows: Vec<Row> = hits
        .iter()
        .map(|h| {
            let id = h["_id"].as_str().unwrap_or("").to_string();
            let src = &h["_source"];
            let time = match (&time_field, h["sort"][0].as_i64()) {
                (Some(_), Some(ms)) => fmt_ms(ms),
                (Some(tf), None) => cell(at_path(src, tf)),
                (None, _) => id.clone(),
            };
            let open = v.doc.as_deref() == Some(id.as_str());
            let mut link = v.clone();
            link.doc = if open { None } else { Some(id.clone()) };
            let summary: String = src.to_string().chars().take(400).collect();
            Row {
                time,
                open_href: link.href(),
                cells: v.cols.iter().map(|c| cell(at_path(src, c))).collect(),
                summary,
                open,
                json: serde_json::to_string_pretty(h).unwrap_or_default(),
            }
        })
        .collect();

    let sidebar: Vec<SideField> = fields
        .iter()
        .take(200)
        .enumerate()
        .map(|(i, f)| {
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for h in &hits {
                let c = cell(at_path(&h["_source"], f));
                if !c.is_empty() {
                    *counts.entry(c).or_default() += 1;
                }
            }
            let mut top: Vec<(String, usize)> = counts.into_iter().collect();
            top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            top.truncate(5);
            let shown = v.cols.contains(f);
            let mut c = v.reset();
            if shown {
                c.cols.retain(|x| x != f);
            } else {
                c.cols.push(f.clone());
            }
            SideField {
                name: f.clone(),
                shown,
                open: shown || i < 8,
                col_href: c.href(),
                top: top
                    .into_iter()
                    .map(|(value, count)| {
                        let with = |neg: bool| {
                            let mut x = v.reset();
                            x.filters.push((neg, f.clone(), value.clone()));
                            x.href()
                        };
                        Top {
                            in_href: with(false),
                            out_href: with(true),
                            value,
                            count,
                        }
                    })
                    .collect(),
            }
        })
        .collect();

    let pills: Vec<Pill> = v
        .filters
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut x = v.reset();
            x.filters.remove(i);
            Pill {
                raw: filter_raw(f),
                neg: f.0,
                field: f.1.clone(),
                value: f.2.clone(),
                remove_href: x.href(),
            }
        })
        .collect();

    let raw_buckets = out["aggregations"]["h"]["buckets"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let max = raw_buckets
        .iter()
        .filter_map(|b| b["doc_count"].as_u64())
        .max()
        .unwrap_or(0)
        .max(1);
    let buckets: Vec<Bucket> = raw_buckets
        .iter()
        .map(|b| {
            let key = b["key"].as_i64().unwrap_or(0);
            let count = b["doc_count"].as_u64().unwrap_or(0);
            let mut z = v.reset();
            z.tail = false;
            z.from = fmt_ms(key);
            z.to = fmt_ms(key + interval_ms);
            Bucket {
                key: fmt_ms(key),
                end: z.to.clone(),
                count,
                pct: count * 100 / max,
                href: z.href(),
            }
        })
        .collect();

    let next_href = (hits.len() == PAGE_SIZE)
        .then(|| hits.last().map(|h| h["sort"].to_string()))
        .flatten()
        .map(|sort| {
            let mut n = v.reset();
            n.after = Some(sort);
            n.page = v.page + 1;
            n.href()
        });
    let first_href = (v.page > 1).then(|| v.reset().href());
    let quick: Vec<Link> = [
        ("15m", "15 min"),
        ("1h", "1 h"),
        ("24h", "24 h"),
        ("7d", "7 d"),
    ]
    .iter()
    .map(|(r, label)| {
        let mut x = v.reset();
        x.from = format!("now-{r}");
        x.to = "now".into();
        Link {
            label: format!("last {label}"),
            href: x.href(),
        }
    })
    .collect();
    let mut t = v.reset();
    t.tail = !v.tail;
    if t.tail {
        t.to = "now".into();
    }
    let last_doc = rows.first().map(|r| r.time.clone()).unwrap_or_default();
    let ncols = 1 + v.cols.len().max(1);
    let ctx = context! {
        index => v.index, q => v.q, lang => v.lang, from => v.from, to => v.to,
        refresh => v.refresh, targets => targets, time_field => time_field,
        filters => pills, cols => v.cols, cols_raw => v.cols.join(","),
        quick => quick, tail => v.tail, tail_href => t.href(), sidebar => sidebar,
        error => error, total => total, interval => time_field.as_ref().map(|_| interval),
        buckets => buckets, rows => rows, ncols => ncols, next_href => next_href,
        first_href => first_href, page => v.page,
        docs_per_s => format!("{:.1}", s.stats.docs_per_second()), last_doc => last_doc,
    };
    match env().get_template("page.html").and_then(|t| t.render(ctx)) {
        Ok(html) => Html(html).into_response(),
        Err(e) => EsError::new(500, "exception", format!("explorer template: {e}")).into_response(),
    }
}

/// The search of one page, through the `_search` path.
async fn run(
    s: &AppState,
    v: &ViewState,
    fields: &[String],
    time_field: Option<&str>,
    from: i64,
    to: i64,
    interval: &str,
) -> Result<Value, EsError> {
    let mut filter = vec![user_query(v, fields)?];
    let mut must_not = Vec::new();
    for (neg, f, x) in &v.filters {
        let q = json!({"match_phrase": {f: x}});
        if *neg {
            must_not.push(q);
        } else {
            filter.push(q);
        }
    }
    let mut body = json!({"size": PAGE_SIZE, "track_total_hits": true});
    if let Some(tf) = time_field {
        filter.push(json!({"range": {tf: {"gte": from, "lte": to, "format": "epoch_millis"}}}));
        // `_doc` breaks ties: documents sharing a timestamp across a page boundary are neither
        // skipped nor repeated by `search_after` (Kibana sorts on the time field, then on
        // `_shard_doc` in a point in time; `_doc` is the same per-index order without one).
        body["sort"] = json!([{tf: {"order": "desc"}}, {"_doc": {"order": "desc"}}]);
        body["aggs"] = json!({"h": {"date_histogram": {
            "field": tf, "fixed_interval": interval, "min_doc_count": 0,
            "extended_bounds": {"min": from, "max": to}
        }}});
    }
    if time_field.is_none() {
        body["sort"] = json!([{"_doc": {"order": "asc"}}]);
    }
    body["query"] = json!({"bool": {"filter": filter, "must_not": must_not}});
    if let Some(a) = &v.after {
        let after: Value = serde_json::from_str(a)
            .map_err(|e| EsError::parsing(format!("the after parameter is not JSON: {e}")))?;
        body["search_after"] = after;
    }
    let p = Params::new();
    let (req, folded) = search::parse_request(Some(&body), &p, true)?;
    let text = search::run_search(s, Some(&v.index), &p, &req, &folded).await?;
    serde_json::from_str(&text).map_err(|e| EsError::new(500, "exception", e.to_string()))
}

/// `POST /api/kql` with `{"query": "…", "index": "…"?}` → `{"query": {…DSL…}}`; with `index`,
/// field names with wildcards expand to that index's fields.
pub async fn api_kql(State(s): State<AppState>, body: Bytes) -> Response {
    match api_kql_impl(&s, &body).await {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn api_kql_impl(s: &AppState, body: &[u8]) -> Result<Value, EsError> {
    let b: Value = serde_json::from_slice(body)
        .map_err(|e| EsError::parsing(format!("the body must be JSON: {e}")))?;
    let Some(q) = b["query"].as_str() else {
        return Err(EsError::parsing("[query] must be a string of KQL"));
    };
    if let Some(k) = b
        .as_object()
        .and_then(|o| o.keys().find(|k| *k != "query" && *k != "index"))
    {
        return Err(EsError::parsing(format!(
            "unknown key [{k}] in the KQL request"
        )));
    }
    let fields = match b["index"].as_str() {
        Some(i) => Some(fields_of(s, i).await?.0),
        None => None,
    };
    Ok(json!({"query": kql::to_dsl(q, fields.as_deref())?}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kibana_auto_intervals() {
        assert_eq!(auto_interval(15 * 60_000).1, "30s");
        assert_eq!(auto_interval(3_600_000).1, "1m");
        assert_eq!(auto_interval(86_400_000).1, "30m");
        assert_eq!(auto_interval(7 * 86_400_000).1, "3h");
    }

    #[test]
    fn state_round_trips_through_the_url() {
        let v = ViewState::parse(
            "index=logs&q=a%20and%20b&from=now-1h&to=now&f=%2Bhost%3Ax&f=-level%3Aerror&cols=a,b&after=%5B1%5D&page=2&tail=1",
        );
        assert_eq!(v.filters.len(), 2);
        assert!(v.filters[1].0);
        let again = ViewState::parse(v.href().trim_start_matches("/explore?"));
        assert_eq!(again.href(), v.href());
        assert_eq!(again.q, "a and b");
        assert_eq!(again.page, 2);
    }
}
