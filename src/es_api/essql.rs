//! `POST /_sql` (Elasticsearch SQL): the statement is parsed by `crate::esql::essql` (the
//! `sqlparser` crate), rewritten into an ES|QL pipeline and run through the ES|QL planner; the
//! answer has Elasticsearch SQL's shape (`columns` + `rows`, or `values` when columnar).
//! `SHOW TABLES`, `DESCRIBE` / `SHOW COLUMNS` and `SHOW FUNCTIONS` are answered from the catalog
//! and the function list.
//!
//! Cursors and async ids are self-contained: a cursor holds the request (query, params, filter,
//! `fetch_size`, `time_zone`), the `now` of its first page and the offset of the next one; an
//! async id holds the request body and its `now`. Nothing is stored, so any daemon can continue a
//! cursor or answer for an id; each page runs the statement again with `LIMIT`/`OFFSET` over an
//! order made total by every output column, so pages neither overlap nor skip rows while the
//! documents do not change.

use super::esql::{
    Format, content_type, delimited, delimiter_of, fetch_rows, format_of, plan_parsed_in,
    structured_body, text_value, txt_table,
};
use super::{ApiResult, Params, parse_body};
use crate::error::EsError;
use crate::esql::Ty;
use crate::esql::essql::{self, SqlStatement};
use crate::esql::parser::{Command, Named, Query};
use crate::server::AppState;
use crate::sql;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query as UrlQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use base64::Engine;
use serde_json::{Map, Value, json};

const SQL_PARAMS: &[&str] = &["format", "delimiter"];
const ASYNC_PARAMS: &[&str] = &[
    "format",
    "delimiter",
    "keep_alive",
    "wait_for_completion_timeout",
];
const DEFAULT_FETCH_SIZE: u64 = 1000;
const CURSOR_PREFIX: &str = "ehc1.";
const ASYNC_ID_PREFIX: &str = "ehs1.";

/// A request's time zone: the ClickHouse name its dates are computed in, and how its answer
/// renders dates (Elasticsearch SQL shows datetimes in the request's zone, `Z` for UTC).
#[derive(Debug, Clone)]
struct Zone {
    /// As the request spelt it (kept in cursors).
    spelt: String,
    clickhouse: String,
    render: ZoneRender,
}

#[derive(Debug, Clone)]
enum ZoneRender {
    Utc,
    Fixed(chrono::FixedOffset),
    Named(chrono_tz::Tz),
}

impl Zone {
    fn utc() -> Zone {
        Zone {
            spelt: "Z".into(),
            clickhouse: "UTC".into(),
            render: ZoneRender::Utc,
        }
    }

    /// A `java.time.ZoneId` spelling: `Z`, `UTC`, `+02:00`, `-05`, `Europe/Paris`. ClickHouse
    /// names fixed offsets `Etc/GMT∓h`, so only whole hours are possible for them.
    fn parse(tz: &str) -> Result<Zone, EsError> {
        let bad = || {
            EsError::x_content_parse(format!(
                "[sql/query] failed to parse field [time_zone]: Invalid ID for time zone [{tz}]"
            ))
        };
        if matches!(
            tz,
            "Z" | "UTC" | "GMT" | "Etc/UTC" | "Etc/GMT" | "+00:00" | "-00:00"
        ) {
            return Ok(Zone {
                spelt: tz.to_string(),
                ..Zone::utc()
            });
        }
        let offset = tz
            .strip_prefix("UTC")
            .or_else(|| tz.strip_prefix("GMT"))
            .unwrap_or(tz);
        if let Some(sign) = offset.chars().next().filter(|c| matches!(c, '+' | '-')) {
            let digits = &offset[1..];
            let (h, m) = match digits.split_once(':') {
                Some((h, m)) => (h, m),
                None if digits.len() == 4 => (&digits[..2], &digits[2..]),
                None => (digits, "0"),
            };
            let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
            if !(0..=18).contains(&h) || !(0..60).contains(&m) {
                return Err(bad());
            }
            if m != 0 {
                return Err(EsError::unsupported(format!(
                    "Elasticsearch SQL [time_zone: {tz}] (offsets must be whole hours)"
                )));
            }
            let secs = if sign == '-' { -h * 3600 } else { h * 3600 };
            let fixed = chrono::FixedOffset::east_opt(secs).ok_or_else(bad)?;
            // Etc/GMT-2 is two hours east of Greenwich (POSIX signs).
            let clickhouse = match secs {
                0 => "UTC".to_string(),
                s if s > 0 => format!("Etc/GMT-{}", s / 3600),
                s => format!("Etc/GMT+{}", -s / 3600),
            };
            return Ok(Zone {
                spelt: tz.to_string(),
                clickhouse,
                render: ZoneRender::Fixed(fixed),
            });
        }
        let named: chrono_tz::Tz = tz.parse().map_err(|_| bad())?;
        Ok(Zone {
            spelt: tz.to_string(),
            clickhouse: named.name().to_string(),
            render: ZoneRender::Named(named),
        })
    }

    /// A rendered UTC datetime (`…Z`) as the zone shows it.
    fn show(&self, v: &mut Value) {
        let Value::String(s) = v else { return };
        let Ok(d) = chrono::DateTime::parse_from_rfc3339(s) else {
            return;
        };
        let out = match &self.render {
            ZoneRender::Utc => return,
            ZoneRender::Fixed(o) => d.with_timezone(o).format("%Y-%m-%dT%H:%M:%S%.3f%:z"),
            ZoneRender::Named(z) => d.with_timezone(z).format("%Y-%m-%dT%H:%M:%S%.3f%:z"),
        };
        *s = out.to_string();
    }
}

#[derive(Debug, Clone)]
struct Request {
    query: String,
    params: Vec<Value>,
    fetch_size: u64,
    /// The `filter` as sent (cursors carry it) and parsed.
    filter_json: Option<Value>,
    filter: Option<crate::dsl::Query>,
    columnar: bool,
    leniency: bool,
    zone: Zone,
    cursor: Option<String>,
    /// Async: `wait_for_completion_timeout` or `keep_on_completion` was given.
    is_async: bool,
    keep_on_completion: bool,
}

fn bad_field(k: &str) -> EsError {
    EsError::x_content_parse(format!("[sql/query] failed to parse field [{k}]"))
}

fn required() -> EsError {
    EsError::action_request_validation(
        "Validation Failed: 1: one of [query] or [cursor] is required;",
    )
}

fn parse_request(body: &[u8]) -> Result<Request, EsError> {
    let Some(Value::Object(m)) = parse_body(body)? else {
        return Err(required());
    };
    let mut req = Request {
        query: String::new(),
        params: Vec::new(),
        fetch_size: DEFAULT_FETCH_SIZE,
        filter_json: None,
        filter: None,
        columnar: false,
        leniency: false,
        zone: Zone::utc(),
        cursor: None,
        is_async: false,
        keep_on_completion: false,
    };
    for (k, v) in &m {
        match k.as_str() {
            "query" => req.query = v.as_str().ok_or_else(|| bad_field(k))?.to_string(),
            "params" => req.params = v.as_array().ok_or_else(|| bad_field(k))?.clone(),
            "fetch_size" => {
                req.fetch_size = v.as_u64().filter(|n| *n > 0).ok_or_else(|| {
                    EsError::action_request_validation(
                        "Validation Failed: 1: [fetch_size] must be greater than 0.;",
                    )
                })?
            }
            "filter" => {
                req.filter = Some(crate::dsl::parse_query(v)?);
                req.filter_json = Some(v.clone());
            }
            "columnar" => req.columnar = v.as_bool().ok_or_else(|| bad_field(k))?,
            "field_multi_value_leniency" => {
                req.leniency = v.as_bool().ok_or_else(|| bad_field(k))?
            }
            "time_zone" => req.zone = Zone::parse(v.as_str().ok_or_else(|| bad_field(k))?)?,
            "mode" => {
                let mode = v.as_str().ok_or_else(|| bad_field(k))?;
                if !mode.eq_ignore_ascii_case("plain") {
                    return Err(EsError::unsupported(format!(
                        "Elasticsearch SQL [mode: {mode}]"
                    )));
                }
            }
            "cursor" => {
                let c = v.as_str().ok_or_else(|| bad_field(k))?;
                if !c.is_empty() {
                    req.cursor = Some(c.to_string());
                }
            }
            "wait_for_completion_timeout" => {
                v.as_str().ok_or_else(|| bad_field(k))?;
                req.is_async = true;
            }
            "keep_on_completion" => {
                req.keep_on_completion = v.as_bool().ok_or_else(|| bad_field(k))?;
                req.is_async |= req.keep_on_completion;
            }
            "request_timeout" | "page_timeout" | "catalog" | "keep_alive" | "client_id"
            | "version" => {}
            "index_using_frozen"
            | "index_include_frozen"
            | "binary_format"
            | "allow_partial_search_results" => {
                if v.as_bool() == Some(true) && k != "allow_partial_search_results" {
                    return Err(EsError::unsupported(format!(
                        "Elasticsearch SQL [{k}: true]"
                    )));
                }
            }
            "runtime_mappings" => {
                return Err(EsError::unsupported(format!("Elasticsearch SQL [{k}]")));
            }
            other => {
                return Err(EsError::x_content_parse(format!(
                    "[sql/query] unknown field [{other}]"
                )));
            }
        }
    }
    if req.query.trim().is_empty() && req.cursor.is_none() {
        return Err(required());
    }
    Ok(req)
}

/// Where a page starts: the request's `now` and the rows already returned.
#[derive(Debug, Clone, Copy)]
struct Page {
    now_millis: i64,
    offset: u64,
}

fn encode_cursor(req: &Request, page: Page, widths: Option<&[usize]>) -> String {
    let v = json!({
        "q": req.query, "p": req.params, "f": req.filter_json, "fs": req.fetch_size,
        "tz": req.zone.spelt, "l": req.leniency, "n": page.now_millis, "o": page.offset,
        "w": widths,
    });
    format!(
        "{CURSOR_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    )
}

fn invalid_cursor() -> EsError {
    EsError::illegal_argument("Invalid cursor: it was not issued by elastichouse")
}

/// A cursor's request, page and (txt) column widths.
fn decode_cursor(cursor: &str) -> Result<(Request, Page, Option<Vec<usize>>), EsError> {
    let raw = cursor
        .strip_prefix(CURSOR_PREFIX)
        .ok_or_else(invalid_cursor)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .map_err(|_| invalid_cursor())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| invalid_cursor())?;
    let (Some(query), Some(fetch_size), Some(now_millis), Some(offset)) = (
        v["q"].as_str(),
        v["fs"].as_u64(),
        v["n"].as_i64(),
        v["o"].as_u64(),
    ) else {
        return Err(invalid_cursor());
    };
    let filter_json = v.get("f").filter(|f| !f.is_null()).cloned();
    let filter = filter_json
        .as_ref()
        .map(crate::dsl::parse_query)
        .transpose()?;
    let req = Request {
        query: query.to_string(),
        params: v["p"].as_array().cloned().unwrap_or_default(),
        fetch_size: fetch_size.max(1),
        filter_json,
        filter,
        columnar: false,
        leniency: v["l"].as_bool().unwrap_or(false),
        zone: Zone::parse(v["tz"].as_str().unwrap_or("Z"))?,
        cursor: None,
        is_async: false,
        keep_on_completion: false,
    };
    let widths = v["w"].as_array().map(|w| {
        w.iter()
            .map(|x| x.as_u64().unwrap_or(15) as usize)
            .collect()
    });
    Ok((req, Page { now_millis, offset }, widths))
}

/// Elasticsearch SQL's names of the ES types (`datetime` for dates).
fn sql_type_name(t: Ty) -> &'static str {
    match t {
        Ty::Date => "datetime",
        t => t.name(),
    }
}

/// The JDBC-style SQL type DESCRIBE reports.
fn jdbc_type(t: Ty) -> &'static str {
    match t {
        Ty::Keyword | Ty::Text | Ty::Version => "VARCHAR",
        Ty::Long => "BIGINT",
        Ty::Integer => "INTEGER",
        Ty::UnsignedLong => "NUMERIC",
        Ty::Double => "DOUBLE",
        Ty::Boolean => "BOOLEAN",
        Ty::Date | Ty::DateNanos => "TIMESTAMP",
        Ty::Ip => "IP",
        Ty::Null => "NULL",
        _ => "OTHER",
    }
}

/// One answer: the columns (first page only), the rows, the cursor of the next page and, for an
/// async request, its id.
struct Answer {
    columns: Option<Vec<(String, &'static str)>>,
    rows: Vec<Vec<Value>>,
    cursor: Option<String>,
    /// txt pages after the first: the first page's column widths.
    widths: Option<Vec<usize>>,
    async_id: Option<String>,
}

/// txt column widths of a page (at least 15, as Elasticsearch's CLI-like table).
fn txt_widths(names: &[String], rows: &[Vec<Value>]) -> Vec<usize> {
    (0..names.len())
        .map(|i| {
            rows.iter()
                .map(|r| text_value(&r[i], "null").chars().count())
                .chain([names[i].chars().count(), 15])
                .max()
                .unwrap_or(15)
        })
        .collect()
}

/// txt rows of a page after the first, padded to the first page's widths.
fn txt_rows(widths: &[usize], rows: &[Vec<Value>]) -> String {
    let mut out = String::new();
    for r in rows {
        for (i, v) in r.iter().enumerate() {
            if i > 0 {
                out.push('|');
            }
            let c = text_value(v, "null");
            let w = widths.get(i).copied().unwrap_or(15);
            out.push_str(&c);
            out.push_str(&" ".repeat(w.saturating_sub(c.chars().count())));
        }
        out.push('\n');
    }
    out
}

fn respond(format: Format, delimiter: char, columnar: bool, a: Answer) -> ApiResult {
    let mut headers: Vec<(HeaderName, HeaderValue)> = vec![(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(format)),
    )];
    let width = a
        .columns
        .as_ref()
        .map_or_else(|| a.rows.first().map_or(0, Vec::len), Vec::len);
    let body: Vec<u8> = if format.is_structured() {
        let mut out = Map::new();
        if let Some(id) = &a.async_id {
            out.insert("id".into(), json!(id));
            out.insert("is_partial".into(), json!(false));
            out.insert("is_running".into(), json!(false));
        }
        if let Some(cols) = &a.columns {
            out.insert(
                "columns".into(),
                cols.iter()
                    .map(|(n, t)| json!({"name": n, "type": t}))
                    .collect(),
            );
        }
        if columnar {
            let values: Vec<Value> = (0..width)
                .map(|i| Value::Array(a.rows.iter().map(|r| r[i].clone()).collect()))
                .collect();
            out.insert("values".into(), Value::Array(values));
        } else {
            out.insert(
                "rows".into(),
                Value::Array(a.rows.into_iter().map(Value::Array).collect()),
            );
        }
        if let Some(c) = &a.cursor {
            out.insert("cursor".into(), json!(c));
        }
        structured_body(format, &Value::Object(out))
    } else {
        // Text formats: the cursor and the async state travel in headers (sql-rest-pagination,
        // sql-async).
        if let Some(c) = a
            .cursor
            .as_deref()
            .and_then(|c| HeaderValue::from_str(c).ok())
        {
            headers.push((HeaderName::from_static("cursor"), c));
        }
        if let Some(id) = a
            .async_id
            .as_deref()
            .and_then(|i| HeaderValue::from_str(i).ok())
        {
            headers.push((HeaderName::from_static("async-id"), id));
            headers.push((
                HeaderName::from_static("async-partial"),
                HeaderValue::from_static("false"),
            ));
            headers.push((
                HeaderName::from_static("async-running"),
                HeaderValue::from_static("false"),
            ));
        }
        match (&a.columns, format) {
            (Some(cols), Format::Txt) => {
                let names: Vec<String> = cols.iter().map(|c| c.0.clone()).collect();
                txt_table(&names, &a.rows).into_bytes()
            }
            (None, Format::Txt) => {
                let widths = a.widths.unwrap_or_else(|| vec![15; width]);
                txt_rows(&widths, &a.rows).into_bytes()
            }
            (Some(cols), _) => {
                let names: Vec<String> = cols.iter().map(|c| c.0.clone()).collect();
                delimited(format, delimiter, &names, &a.rows).into_bytes()
            }
            (None, _) => {
                // Pages after the first have no header line.
                let text = delimited(format, delimiter, &[], &a.rows);
                let eol = if format == Format::Csv { 2 } else { 1 };
                text.as_bytes()[eol.min(text.len())..].to_vec()
            }
        }
    };
    let mut resp = (StatusCode::OK, body).into_response();
    for (k, v) in headers {
        resp.headers_mut().insert(k, v);
    }
    Ok(resp)
}

/// Runs a SELECT page: the statement with `LIMIT`/`OFFSET` for the page and one row more (to
/// know whether another page follows), ordered by its ORDER BY and then by every output column.
async fn select_page(
    s: &AppState,
    req: &Request,
    query: &Query,
    limit: Option<u64>,
    page: Page,
    format: Format,
    first_widths: Option<Vec<usize>>,
) -> Result<Answer, EsError> {
    let mut planned = plan_parsed_in(
        s,
        query,
        req.filter.as_ref(),
        page.now_millis,
        &req.zone.clickhouse,
    )
    .await?;
    let remaining = limit.map_or(u64::MAX, |l| l.saturating_sub(page.offset));
    let want = remaining.min(req.fetch_size.saturating_add(1));
    planned.select.limit = Some(want);
    planned.select.offset = (page.offset > 0).then_some(page.offset);
    let ties: Vec<sql::OrderBy> = planned
        .select
        .items
        .iter()
        .filter_map(|i| i.alias.clone())
        .map(|a| sql::OrderBy::new(sql::col(a), false))
        .collect();
    planned.select.order_by.extend(ties);
    let mut rows = fetch_rows(s, &planned).await?;
    let more = rows.len() as u64 > req.fetch_size;
    rows.truncate(req.fetch_size as usize);
    for r in &mut rows {
        for (v, (name, ty, _)) in r.iter_mut().zip(&planned.columns) {
            if let Value::Array(items) = v {
                if !req.leniency {
                    return Err(EsError::new(
                        400,
                        "ql_illegal_argument_exception",
                        format!("Arrays (returned by [{name}]) are not supported"),
                    ));
                }
                *v = items.first().cloned().unwrap_or(Value::Null);
            }
            if *ty == Ty::Date {
                req.zone.show(v);
            }
        }
    }
    let columns: Vec<(String, &'static str)> = planned
        .columns
        .iter()
        .map(|(n, t, _)| (n.clone(), sql_type_name(*t)))
        .collect();
    let first = page.offset == 0;
    let widths = match (&first_widths, format) {
        (Some(w), _) => Some(w.clone()),
        (None, Format::Txt) if first => {
            let names: Vec<String> = columns.iter().map(|c| c.0.clone()).collect();
            Some(txt_widths(&names, &rows))
        }
        _ => None,
    };
    let cursor = more.then(|| {
        let next = Page {
            now_millis: page.now_millis,
            offset: page.offset + rows.len() as u64,
        };
        encode_cursor(req, next, widths.as_deref())
    });
    Ok(Answer {
        columns: first.then_some(columns),
        rows,
        cursor,
        widths: if first { None } else { first_widths },
        async_id: None,
    })
}

/// Answers one statement (first page, or the page a cursor names).
async fn answer(
    s: &AppState,
    req: &Request,
    page: Page,
    format: Format,
    widths: Option<Vec<usize>>,
) -> Result<Answer, EsError> {
    let table = |columns: Vec<(String, &'static str)>, rows: Vec<Vec<Value>>| Answer {
        columns: Some(columns),
        rows,
        cursor: None,
        widths: None,
        async_id: None,
    };
    match essql::parse(&req.query, &req.params)? {
        SqlStatement::Select { query, limit } => {
            select_page(s, req, &query, limit, page, format, widths).await
        }
        SqlStatement::ShowTables(pattern) => {
            let glob = pattern.map(|p| like_glob(&p));
            let mut rows: Vec<Vec<Value>> = Vec::new();
            let mut aliases = std::collections::BTreeSet::new();
            for m in s.catalog.list().await? {
                for a in m.aliases.keys() {
                    aliases.insert(a.clone());
                }
                if m.name.starts_with('.') {
                    continue;
                }
                rows.push(vec![
                    json!(s.cfg.cluster_name),
                    json!(m.name),
                    json!("TABLE"),
                    json!("INDEX"),
                ]);
            }
            for a in aliases {
                rows.push(vec![
                    json!(s.cfg.cluster_name),
                    json!(a),
                    json!("VIEW"),
                    json!("ALIAS"),
                ]);
            }
            rows.retain(|r| {
                glob.as_deref()
                    .is_none_or(|g| crate::catalog::glob_match(g, r[1].as_str().unwrap_or("")))
            });
            rows.sort_by(|a, b| a[1].as_str().cmp(&b[1].as_str()));
            Ok(table(
                vec![
                    ("catalog".to_string(), "keyword"),
                    ("name".to_string(), "keyword"),
                    ("type".to_string(), "keyword"),
                    ("kind".to_string(), "keyword"),
                ],
                rows,
            ))
        }
        SqlStatement::ShowFunctions(pattern) => {
            let glob = pattern.map(|p| like_glob(&p));
            let rows = essql::FUNCTIONS
                .iter()
                .filter(|(n, _)| {
                    glob.as_deref()
                        .is_none_or(|g| crate::catalog::glob_match(g, n))
                })
                .map(|(n, t)| vec![json!(n), json!(t)])
                .collect();
            Ok(table(
                vec![
                    ("name".to_string(), "keyword"),
                    ("type".to_string(), "keyword"),
                ],
                rows,
            ))
        }
        SqlStatement::Describe(table_name) => {
            let q = Query {
                commands: vec![
                    (
                        Command::From {
                            patterns: vec![Named {
                                name: table_name,
                                pos: crate::esql::Pos { line: 1, col: 1 },
                            }],
                            metadata: vec![],
                        },
                        Default::default(),
                    ),
                    (Command::Limit(0), Default::default()),
                ],
            };
            let planned = plan_parsed_in(s, &q, None, page.now_millis, "UTC").await?;
            let rows: Vec<Vec<Value>> = planned
                .columns
                .iter()
                .map(|(n, t, _)| vec![json!(n), json!(jdbc_type(*t)), json!(sql_type_name(*t))])
                .collect();
            Ok(table(
                vec![
                    ("column".to_string(), "keyword"),
                    ("type".to_string(), "keyword"),
                    ("mapping".to_string(), "keyword"),
                ],
                rows,
            ))
        }
    }
}

/// An SQL LIKE pattern (`%`, `_`) as a glob.
fn like_glob(p: &str) -> String {
    p.replace('%', "*").replace('_', "?")
}

fn encode_async_id(body: &[u8], now_millis: i64) -> String {
    let v = json!({"b": String::from_utf8_lossy(body), "n": now_millis});
    format!(
        "{ASYNC_ID_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    )
}

fn decode_async_id(id: &str) -> Result<(Bytes, i64), EsError> {
    let not_found = || EsError::new(404, "resource_not_found_exception", id);
    let raw = id.strip_prefix(ASYNC_ID_PREFIX).ok_or_else(not_found)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .map_err(|_| not_found())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| not_found())?;
    match (v["b"].as_str(), v["n"].as_i64()) {
        (Some(b), Some(n)) => Ok((Bytes::from(b.to_string()), n)),
        _ => Err(not_found()),
    }
}

/// Runs one request; `kept`: the id and `now` of an async search being fetched again.
async fn run(
    s: &AppState,
    path: &str,
    p: &Params,
    headers: &HeaderMap,
    body: &Bytes,
    kept: Option<(String, i64)>,
) -> ApiResult {
    let known = if kept.is_some() {
        ASYNC_PARAMS
    } else {
        SQL_PARAMS
    };
    super::search::check_params(path, p, known)?;
    let format = format_of(p, headers)?;
    let delimiter = delimiter_of(p, format, path)?;
    let req = parse_request(body)?;
    let a = match &req.cursor {
        Some(c) => {
            // sql-rest-pagination: a follow-up page needs only the cursor (and `columnar`).
            let (mut creq, page, widths) = decode_cursor(c)?;
            creq.columnar = req.columnar;
            answer(s, &creq, page, format, widths).await?
        }
        None => {
            let now_millis = kept
                .as_ref()
                .map_or_else(|| chrono::Utc::now().timestamp_millis(), |k| k.1);
            let page = Page {
                now_millis,
                offset: 0,
            };
            let mut a = answer(s, &req, page, format, None).await?;
            a.async_id = match kept {
                Some((id, _)) => Some(id),
                None if req.keep_on_completion => Some(encode_async_id(body, now_millis)),
                None => None,
            };
            a
        }
    };
    respond(format, delimiter, req.columnar, a)
}

pub async fn query(
    State(s): State<AppState>,
    OriginalUri(uri): OriginalUri,
    UrlQuery(p): UrlQuery<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    run(&s, uri.path(), &p, &headers, &body, None).await
}

/// `POST /_sql/close`: cursors hold no state here, so closing a valid one succeeds.
pub async fn close(body: Bytes) -> ApiResult {
    match parse_body(&body)? {
        Some(Value::Object(m)) => match m.get("cursor").and_then(Value::as_str) {
            Some(c) => {
                decode_cursor(c)?;
                Ok(super::ok(json!({"succeeded": true})).into_response())
            }
            None => Err(EsError::action_request_validation(
                "Validation Failed: 1: [cursor] is required;",
            )),
        },
        _ => Err(EsError::action_request_validation(
            "Validation Failed: 1: [cursor] is required;",
        )),
    }
}

/// `GET /_sql/async/{id}`: the kept search's answer, computed again as of its `now` (the same
/// answer unless documents changed since).
pub async fn async_get(
    State(s): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
    UrlQuery(p): UrlQuery<Params>,
    headers: HeaderMap,
) -> ApiResult {
    let (body, now) = decode_async_id(&id)?;
    run(&s, uri.path(), &p, &headers, &body, Some((id, now))).await
}

/// `GET /_sql/async/status/{id}`: searches finish before their first answer, so a valid id is
/// a completed search (get-async-sql-search-status-api).
pub async fn async_status(Path(id): Path<String>) -> ApiResult {
    let (_, now) = decode_async_id(&id)?;
    Ok(super::ok(json!({
        "id": id,
        "is_running": false,
        "is_partial": false,
        "expiration_time_in_millis": now + 5 * 24 * 3_600_000,
        "completion_status": 200
    }))
    .into_response())
}

/// `DELETE /_sql/async/delete/{id}`: nothing is stored, so a valid id is acknowledged.
pub async fn async_delete(Path(id): Path<String>) -> ApiResult {
    decode_async_id(&id)?;
    Ok(super::ok(json!({"acknowledged": true})).into_response())
}

/// `POST /_sql/translate`: the query DSL search Elasticsearch would run for a SELECT (see
/// `crate::esql::translate`), with field types from the mappings of the FROM's indices.
pub async fn translate(State(s): State<AppState>, body: Bytes) -> ApiResult {
    let req = parse_request(&body)?;
    if req.cursor.is_some() {
        return Err(EsError::x_content_parse(
            "[sql/query] unknown field [cursor]",
        ));
    }
    let tables = crate::esql::translate::tables(&req.query)?;
    let mut types = std::collections::BTreeMap::new();
    for t in tables {
        let metas = match s
            .catalog
            .resolve(&t, crate::catalog::ResolveOptions::default())
            .await
        {
            Ok(m) => m,
            Err(e) if e.kind == "index_not_found_exception" => Vec::new(),
            Err(e) => return Err(e),
        };
        if metas.is_empty() {
            return Err(crate::esql::verification_error(
                crate::esql::Pos { line: 1, col: 1 },
                format!("Unknown index [{t}]"),
            ));
        }
        for m in metas {
            for f in m.mappings.leaf_fields() {
                types
                    .entry(f.path.clone())
                    .or_insert_with(|| f.es_type.clone());
            }
        }
    }
    let dsl = crate::esql::translate::translate(
        &req.query,
        &req.params,
        req.fetch_size,
        req.filter_json.as_ref(),
        &types,
        &req.zone.spelt,
    )?;
    Ok(super::ok(dsl).into_response())
}
