//! `POST /_query`: ES|QL over ClickHouse (see `crate::esql` and `docs/esql.md`).
//!
//! The request body (`query`, `params`, `filter`, `columnar`, `locale`) is read here, the indices
//! of the query's `FROM` are resolved through the catalog (aliases, data streams, patterns), the
//! planner turns the query into one `SELECT`, and the rows come back as `JSONCompactEachRow`
//! arrays that are rendered in the requested format (json, csv, tsv, txt).

use super::{ApiResult, Params, flag, parse_body};
use crate::catalog::ResolveOptions;
use crate::error::EsError;
use crate::esql::plan::{Planner, SourceIndex};
use crate::esql::{Ty, parser, verification_error};
use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query as UrlQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};
use std::time::Instant;

const QUERY_PARAMS: &[&str] = &[
    "format",
    "delimiter",
    "drop_null_columns",
    "allow_partial_results",
];

/// The response formats. Smile and Arrow are refused with a 406 (no well-kept Rust crate writes
/// them); an unknown name is Elasticsearch's 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Yaml,
    Cbor,
    Csv,
    Tsv,
    Txt,
}

impl Format {
    /// json, yaml and cbor carry the response object; csv, tsv and txt a table.
    pub(crate) fn is_structured(self) -> bool {
        matches!(self, Format::Json | Format::Yaml | Format::Cbor)
    }
}

pub(crate) fn format_of(p: &Params, h: &HeaderMap) -> Result<Format, EsError> {
    let name = match p.get("format") {
        Some(f) => f.to_ascii_lowercase(),
        None => {
            let accept = h
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            match accept.as_str() {
                "text/csv" => "csv".into(),
                "text/tab-separated-values" => "tsv".into(),
                "text/plain" => "txt".into(),
                "application/yaml" => "yaml".into(),
                "application/cbor" => "cbor".into(),
                "application/smile" => "smile".into(),
                "application/vnd.apache.arrow.stream" => "arrow".into(),
                _ => "json".into(),
            }
        }
    };
    match name.as_str() {
        "json" => Ok(Format::Json),
        "yaml" => Ok(Format::Yaml),
        "cbor" => Ok(Format::Cbor),
        "csv" => Ok(Format::Csv),
        "tsv" => Ok(Format::Tsv),
        "txt" => Ok(Format::Txt),
        "smile" | "arrow" => Err(EsError::new(
            406,
            "media_type_header_exception",
            format!(
                "elastichouse cannot produce the [{name}] response format; use json, yaml, cbor, csv, tsv or txt"
            ),
        )),
        other => Err(EsError::illegal_argument(format!(
            "Invalid format [{other}], supported formats are [csv, json, tsv, txt, yaml, cbor, smile, arrow]"
        ))),
    }
}

/// A JSON value as YAML (Elasticsearch's yaml answers start with `---`).
fn to_yaml(v: &Value) -> yaml_rust2::Yaml {
    use yaml_rust2::Yaml;
    match v {
        Value::Null => Yaml::Null,
        Value::Bool(b) => Yaml::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Integer(i),
            None => Yaml::Real(n.to_string()),
        },
        Value::String(s) => Yaml::String(s.clone()),
        Value::Array(items) => Yaml::Array(items.iter().map(to_yaml).collect()),
        Value::Object(m) => Yaml::Hash(
            m.iter()
                .map(|(k, v)| (Yaml::String(k.clone()), to_yaml(v)))
                .collect(),
        ),
    }
}

/// The bytes of a response object in a structured format (json, yaml, cbor).
pub(crate) fn structured_body(format: Format, v: &Value) -> Vec<u8> {
    match format {
        Format::Yaml => {
            let mut out = String::new();
            let mut emitter = yaml_rust2::YamlEmitter::new(&mut out);
            if emitter.dump(&to_yaml(v)).is_err() {
                out.clear();
            }
            out.push('\n');
            out.into_bytes()
        }
        Format::Cbor => {
            let mut out = Vec::new();
            // Writing into a Vec cannot fail.
            let _ = ciborium::into_writer(v, &mut out);
            out
        }
        _ => serde_json::to_vec(v).unwrap_or_default(),
    }
}

struct Request {
    query: String,
    params: parser::Params,
    filter: Option<crate::dsl::Query>,
    columnar: bool,
    /// Async: hand out an id for the (finished) query.
    keep: bool,
}

fn parse_request(body: &[u8], is_async: bool) -> Result<Request, EsError> {
    let Some(v) = parse_body(body)? else {
        return Err(EsError::parsing("request body is required"));
    };
    let Value::Object(m) = v else {
        return Err(EsError::parsing("request body must be an object"));
    };
    let mut req = Request {
        query: String::new(),
        params: parser::Params::default(),
        filter: None,
        columnar: false,
        keep: false,
    };
    let mut has_query = false;
    for (k, v) in &m {
        match k.as_str() {
            "query" => match v {
                Value::String(s) => {
                    req.query = s.clone();
                    has_query = true;
                }
                _ => {
                    return Err(EsError::x_content_parse(
                        "[esql/query] failed to parse field [query]",
                    ));
                }
            },
            "params" => req.params = parser::Params::from_json(v)?,
            "filter" => req.filter = Some(crate::dsl::parse_query(v)?),
            "columnar" => {
                req.columnar = v.as_bool().ok_or_else(|| {
                    EsError::x_content_parse("[esql/query] failed to parse field [columnar]")
                })?
            }
            "locale" => {
                let l = v.as_str().unwrap_or("");
                if !(l.is_empty()
                    || l.eq_ignore_ascii_case("root")
                    || l.to_ascii_lowercase().starts_with("en"))
                {
                    return Err(EsError::unsupported(format!("ES|QL locale [{l}]")));
                }
            }
            "profile" | "include_ccs_metadata" | "include_execution_metadata" => {
                if v.as_bool() == Some(true) && k == "profile" {
                    return Err(EsError::unsupported("ES|QL [profile]"));
                }
            }
            "tables" => return Err(EsError::unsupported("ES|QL [tables]")),
            "keep_on_completion" if is_async => {
                req.keep = v.as_bool().ok_or_else(|| {
                    EsError::x_content_parse(
                        "[esql/query] failed to parse field [keep_on_completion]",
                    )
                })?;
            }
            "wait_for_completion_timeout" | "keep_alive" if is_async => {
                if !v.is_string() {
                    return Err(EsError::x_content_parse(format!(
                        "[esql/query] failed to parse field [{k}]"
                    )));
                }
            }
            other => {
                return Err(EsError::x_content_parse(format!(
                    "[esql/query] unknown field [{other}]"
                )));
            }
        }
    }
    if !has_query || req.query.trim().is_empty() {
        return Err(EsError::action_request_validation(
            "Validation Failed: 1: [query] is required;",
        ));
    }
    Ok(req)
}

/// Plans a request: parse, resolve the FROM indices, translate.
async fn plan(
    s: &AppState,
    req: &Request,
    now_millis: i64,
) -> Result<crate::esql::plan::Planned, EsError> {
    let q = parser::parse(&req.query, &req.params)?;
    plan_parsed(s, &q, req.filter.as_ref(), now_millis).await
}

/// The full-text conditions of a query (see [`crate::esql::plan::take_full_text`]) as one DSL
/// query ANDed with the request's `filter`.
fn with_full_text(
    q: &mut parser::Query,
    filter: Option<&crate::dsl::Query>,
) -> Result<Option<crate::dsl::Query>, EsError> {
    let full_text = crate::esql::plan::take_full_text(q)?;
    if full_text.is_empty() {
        return Ok(filter.cloned());
    }
    let mut all: Vec<crate::dsl::Query> = full_text
        .iter()
        .map(crate::dsl::parse_query)
        .collect::<Result<_, _>>()?;
    all.extend(filter.cloned());
    Ok(Some(crate::dsl::Query::Bool(Box::new(crate::dsl::Bool {
        must: Vec::new(),
        filter: all,
        should: Vec::new(),
        must_not: Vec::new(),
        minimum_should_match: None,
        boost: 1.0,
    }))))
}

/// Plans a parsed pipeline: resolves the indices of its FROM (aliases, data streams, patterns)
/// and ANDs `filter` (query DSL) and alias filters to each.
pub(crate) async fn plan_parsed(
    s: &AppState,
    q: &parser::Query,
    filter: Option<&crate::dsl::Query>,
    now_millis: i64,
) -> Result<crate::esql::plan::Planned, EsError> {
    plan_parsed_in(s, q, filter, now_millis, "UTC").await
}

/// [`plan_parsed`] with dates computed in time zone `tz` (a ClickHouse time zone name).
pub(crate) async fn plan_parsed_in(
    s: &AppState,
    q: &parser::Query,
    filter: Option<&crate::dsl::Query>,
    now_millis: i64,
    tz: &str,
) -> Result<crate::esql::plan::Planned, EsError> {
    let mut q = q.clone();
    let filter = with_full_text(&mut q, filter)?;
    let filter = filter.as_ref();
    let q = &q;
    let mut sources = Vec::new();
    if let Some((patterns, _)) = crate::esql::plan::source(q) {
        if patterns.iter().any(|p| p.name.contains(':')) {
            return Err(EsError::unsupported("ES|QL cross-cluster FROM"));
        }
        // One index expression, so that an index reached both directly and through a filtered
        // alias is read unfiltered, as Elasticsearch resolves it.
        let expr: Vec<&str> = patterns.iter().map(|p| p.name.as_str()).collect();
        let expr = expr.join(",");
        let unknown = |name: &str| {
            let pos = patterns
                .iter()
                .find(|p| p.name == name)
                .map_or(patterns[0].pos, |p| p.pos);
            verification_error(pos, format!("Unknown index [{name}]"))
        };
        let metas = match s.catalog.resolve(&expr, ResolveOptions::default()).await {
            Ok(m) => m,
            Err(e) if e.kind == "index_not_found_exception" => {
                let name = e
                    .extra
                    .get("index")
                    .and_then(Value::as_str)
                    .unwrap_or(&expr);
                return Err(unknown(name));
            }
            Err(e) => return Err(e),
        };
        if metas.is_empty() {
            return Err(unknown(&expr));
        }
        let query = filter
            .cloned()
            .unwrap_or(crate::dsl::Query::MatchAll { boost: 1.0 });
        for meta in metas {
            let ctx = crate::plan::Ctx::new(&meta, now_millis);
            let filter = crate::plan::search_filter(&ctx, &query)?;
            sources.push(SourceIndex { meta, filter });
        }
    }
    let mut lookups = Vec::new();
    for index in crate::esql::plan::lookup_indices(q) {
        let metas = match s
            .catalog
            .resolve(&index.name, ResolveOptions::default())
            .await
        {
            Ok(m) => m,
            Err(e) if e.kind == "index_not_found_exception" => Vec::new(),
            Err(e) => return Err(e),
        };
        match metas.as_slice() {
            [meta] => {
                let ctx = crate::plan::Ctx::new(meta, now_millis);
                let filter =
                    crate::plan::search_filter(&ctx, &crate::dsl::Query::MatchAll { boost: 1.0 })?;
                lookups.push(SourceIndex {
                    meta: meta.clone(),
                    filter,
                });
            }
            [] => {
                return Err(verification_error(
                    index.pos,
                    format!("Unknown index [{}]", index.name),
                ));
            }
            _ => {
                return Err(verification_error(
                    index.pos,
                    format!(
                        "invalid [{}] resolution in lookup mode to [{}] indices",
                        index.name,
                        metas.len()
                    ),
                ));
            }
        }
    }
    let mut policies = Vec::new();
    let wanted = crate::esql::plan::enrich_policies(q);
    if !wanted.is_empty() {
        let stored = super::enrich::policies(s).await?;
        for p in wanted {
            let Some((_, doc)) = stored.iter().find(|(n, _)| *n == p.name) else {
                let close: Vec<&str> = stored
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .filter(|n| strsim_close(n, &p.name))
                    .collect();
                let hint = match close.as_slice() {
                    [] => String::new(),
                    [one] => format!(", did you mean [{one}]?"),
                    many => format!(", did you mean any of [{}]?", many.join(", ")),
                };
                return Err(verification_error(
                    p.pos,
                    format!("cannot find enrich policy [{}]{hint}", p.name),
                ));
            };
            if doc["executed"] != json!(true) {
                return Err(verification_error(
                    p.pos,
                    format!(
                        "enrich policy [{}] has not been executed (POST /_enrich/policy/{}/_execute)",
                        p.name, p.name
                    ),
                ));
            }
            let def = &doc["config"]["match"];
            let indices: Vec<&str> = def["indices"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let metas = s
                .catalog
                .resolve(&indices.join(","), ResolveOptions::default())
                .await?;
            let meta = match metas.as_slice() {
                [m] => m.clone(),
                [] => {
                    return Err(verification_error(
                        p.pos,
                        format!("enrich policy [{}] has no source index", p.name),
                    ));
                }
                _ => {
                    return Err(EsError::unsupported(format!(
                        "ES|QL ENRICH with a policy over several indices [{}]",
                        p.name
                    )));
                }
            };
            let query = match def.get("query") {
                Some(q) => crate::dsl::parse_query(q)?,
                None => crate::dsl::Query::MatchAll { boost: 1.0 },
            };
            let ctx = crate::plan::Ctx::new(&meta, now_millis);
            let filter = crate::plan::search_filter(&ctx, &query)?;
            let strings = |v: &Value| -> Vec<String> {
                v.as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            policies.push(crate::esql::plan::EnrichPolicy {
                name: p.name.clone(),
                match_field: def["match_field"].as_str().unwrap_or("").to_string(),
                enrich_fields: strings(&def["enrich_fields"]),
                source: SourceIndex { meta, filter },
            });
        }
    }
    Planner::new(now_millis, &s.cfg.es_version)
        .with_lookups(lookups)
        .with_policies(policies)
        .with_time_zone(tz)
        .plan(q, &sources)
}

/// Whether two names are within two edits (the "did you mean" of unknown policies).
fn strsim_close(a: &str, b: &str) -> bool {
    crate::esql::plan::edit_distance(a, b) <= 2
}

/// One value of the ClickHouse answer as the response shows it.
pub(crate) fn render_value(v: Value, ty: Ty, multi: bool) -> Value {
    if multi {
        return match v {
            Value::Array(mut items) => match items.len() {
                0 => Value::Null,
                1 => render_value(items.remove(0), ty, false),
                _ => Value::Array(
                    items
                        .into_iter()
                        .map(|x| render_value(x, ty, false))
                        .collect(),
                ),
            },
            Value::Null => Value::Null,
            other => render_value(other, ty, false),
        };
    }
    if v.is_null() {
        return v;
    }
    match ty {
        Ty::Date | Ty::DateNanos => {
            let n = v.as_i64().unwrap_or(0);
            let (secs, nanos) = if ty == Ty::Date {
                (n.div_euclid(1000), (n.rem_euclid(1000) * 1_000_000) as u32)
            } else {
                (
                    n.div_euclid(1_000_000_000),
                    n.rem_euclid(1_000_000_000) as u32,
                )
            };
            match chrono::DateTime::from_timestamp(secs, nanos) {
                Some(d) if ty == Ty::Date => {
                    Value::String(d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
                }
                Some(d) => Value::String(d.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()),
                None => Value::Null,
            }
        }
        Ty::Ip => match v.as_str() {
            Some(s) => match s.strip_prefix("::ffff:") {
                Some(v4) if v4.contains('.') => Value::String(v4.to_string()),
                _ => Value::String(s.to_string()),
            },
            None => v,
        },
        Ty::Boolean => match &v {
            Value::Number(n) => Value::Bool(n.as_f64().unwrap_or(0.0) != 0.0),
            _ => v,
        },
        Ty::Double => match &v {
            Value::Number(n) => n.as_f64().map_or(Value::Null, Value::from),
            // Non-finite values (`nan`, `inf`) come quoted.
            _ => Value::Null,
        },
        Ty::Source => match v.as_str().and_then(|s| serde_json::from_str(s).ok()) {
            Some(doc) => doc,
            None => v,
        },
        Ty::Keyword | Ty::Text | Ty::Version => match v {
            Value::String(_) => v,
            other => Value::String(other.to_string()),
        },
        _ => v,
    }
}

/// The text of one value in csv/tsv/txt answers.
pub(crate) fn text_value(v: &Value, null: &str) -> String {
    match v {
        Value::Null => null.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(|x| text_value(x, null)).collect();
            format!("[{}]", parts.join(", "))
        }
        other => other.to_string(),
    }
}

pub(crate) fn csv_field(s: &str, delim: char) -> String {
    if s.contains(delim) || s.contains('"') || s.contains('\n') || s.contains('\r') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Elasticsearch's `txt` table: centred headers, `-`/`+` rule, left-aligned cells, columns at
/// least 15 wide (esql TextFormatter, MIN_COLUMN_WIDTH).
pub(crate) fn txt_table(names: &[String], rows: &[Vec<Value>]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|v| text_value(v, "null")).collect())
        .collect();
    let widths: Vec<usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([n.chars().count(), 15])
                .max()
                .unwrap_or(15)
        })
        .collect();
    let mut out = String::new();
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            out.push('|');
        }
        let len = n.chars().count();
        let left = (widths[i] - len) / 2;
        out.push_str(&" ".repeat(left));
        out.push_str(n);
        out.push_str(&" ".repeat(widths[i] - len - left));
    }
    out.push('\n');
    for (i, w) in widths.iter().enumerate() {
        if i > 0 {
            out.push('+');
        }
        out.push_str(&"-".repeat(*w));
    }
    out.push('\n');
    for r in &cells {
        for (i, c) in r.iter().enumerate() {
            if i > 0 {
                out.push('|');
            }
            out.push_str(c);
            out.push_str(&" ".repeat(widths[i] - c.chars().count()));
        }
        out.push('\n');
    }
    out
}

/// Runs a planned query: its rows, rendered per column type.
pub(crate) async fn fetch_rows(
    s: &AppState,
    planned: &crate::esql::plan::Planned,
) -> Result<Vec<Vec<Value>>, EsError> {
    let bytes =
        s.ch.query_bytes(&planned.select, "JSONCompactEachRow")
            .await?;
    let mut rows: Vec<Vec<Value>> = Vec::new();
    for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let raw: Vec<Value> = serde_json::from_slice(line)
            .map_err(|e| EsError::storage(format!("cannot parse ClickHouse answer: {e}")))?;
        rows.push(
            raw.into_iter()
                .zip(&planned.columns)
                .map(|(v, (_, ty, multi))| render_value(v, *ty, *multi))
                .collect(),
        );
    }
    Ok(rows)
}

/// The csv or tsv text of a table.
pub(crate) fn delimited(
    format: Format,
    delimiter: char,
    names: &[String],
    rows: &[Vec<Value>],
) -> String {
    let sep = if format == Format::Csv {
        delimiter
    } else {
        '\t'
    };
    let eol = if format == Format::Csv { "\r\n" } else { "\n" };
    let cell = |s: &str| {
        if format == Format::Csv {
            csv_field(s, sep)
        } else {
            s.replace('\\', "\\\\")
                .replace('\t', "\\t")
                .replace('\n', "\\n")
        }
    };
    let mut out = String::new();
    let header: Vec<String> = names.iter().map(|n| cell(n)).collect();
    out.push_str(&header.join(&sep.to_string()));
    out.push_str(eol);
    for r in rows {
        let line: Vec<String> = r.iter().map(|v| cell(&text_value(v, ""))).collect();
        out.push_str(&line.join(&sep.to_string()));
        out.push_str(eol);
    }
    out
}

/// The `delimiter` parameter (csv only).
pub(crate) fn delimiter_of(p: &Params, format: Format, path: &str) -> Result<char, EsError> {
    match p.get("delimiter") {
        None => Ok(','),
        Some(_) if format != Format::Csv => Err(EsError::illegal_argument(format!(
            "parameter: [delimiter] can only be used with the format [csv] for request [{path}]"
        ))),
        Some(d) => {
            let mut chars = d.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if !matches!(c, '"' | '\n' | '\r' | '\t') => Ok(c),
                _ => Err(EsError::illegal_argument(format!(
                    "invalid delimiter [{d}]"
                ))),
            }
        }
    }
}

pub(crate) fn content_type(format: Format) -> &'static str {
    match format {
        Format::Json => "application/json",
        Format::Yaml => "application/yaml",
        Format::Cbor => "application/cbor",
        Format::Csv => "text/csv; charset=utf-8; header=present",
        Format::Tsv => "text/tab-separated-values; charset=utf-8",
        Format::Txt => "text/plain; charset=utf-8",
    }
}

pub async fn query(
    State(s): State<AppState>,
    OriginalUri(uri): OriginalUri,
    UrlQuery(p): UrlQuery<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    run(s, uri.path(), p, headers, body, false).await
}

/// `POST /_query/async`: the query runs to completion before the answer (`is_running: false`).
/// With `keep_on_completion`, the answer carries an `id` that holds the request itself and its
/// `now` (nothing is stored, so any daemon can answer for it): `GET /_query/async/{id}` runs the
/// query again as of that `now` — the same answer unless documents changed since.
pub async fn query_async(
    State(s): State<AppState>,
    OriginalUri(uri): OriginalUri,
    UrlQuery(p): UrlQuery<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    run(s, uri.path(), p, headers, body, true).await
}

const ASYNC_ID_PREFIX: &str = "ehq1.";

fn encode_async_id(body: &[u8], now_millis: i64) -> String {
    use base64::Engine;
    let v = json!({"b": String::from_utf8_lossy(body), "n": now_millis});
    format!(
        "{ASYNC_ID_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    )
}

fn decode_async_id(id: &str) -> Result<(Bytes, i64), EsError> {
    use base64::Engine;
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

/// `GET /_query/async/{id}`: the kept query's answer (see [`query_async`]).
pub async fn async_get(
    State(s): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
    UrlQuery(p): UrlQuery<Params>,
    headers: HeaderMap,
) -> ApiResult {
    let (body, now) = decode_async_id(&id)?;
    execute(&s, uri.path(), p, headers, body, true, Some((id, now))).await
}

/// `DELETE /_query/async/{id}`: nothing is stored, so a valid id is simply acknowledged.
pub async fn async_delete(Path(id): Path<String>) -> ApiResult {
    decode_async_id(&id)?;
    Ok(super::ok(json!({"acknowledged": true})).into_response())
}

async fn run(
    s: AppState,
    path: &str,
    p: Params,
    headers: HeaderMap,
    body: Bytes,
    is_async: bool,
) -> ApiResult {
    execute(&s, path, p, headers, body, is_async, None).await
}

/// Runs one query request; `kept`: the async id and `now` of a kept query being fetched again.
async fn execute(
    s: &AppState,
    path: &str,
    p: Params,
    headers: HeaderMap,
    body: Bytes,
    is_async: bool,
    kept: Option<(String, i64)>,
) -> ApiResult {
    let started = Instant::now();
    let known: &[&str] = if is_async {
        &[
            "format",
            "delimiter",
            "drop_null_columns",
            "allow_partial_results",
            "wait_for_completion_timeout",
            "keep_alive",
            "keep_on_completion",
        ]
    } else {
        QUERY_PARAMS
    };
    super::search::check_params(path, &p, known)?;
    let format = format_of(&p, &headers)?;
    let drop_nulls = flag(&p, "drop_null_columns")?;
    flag(&p, "allow_partial_results")?;
    let delimiter = delimiter_of(&p, format, path)?;
    let req = parse_request(&body, is_async)?;
    let now_millis = kept
        .as_ref()
        .map_or_else(|| chrono::Utc::now().timestamp_millis(), |k| k.1);
    let planned = plan(s, &req, now_millis).await?;
    let rows = fetch_rows(s, &planned).await?;
    let keep_requested = req.keep || p.get("keep_on_completion").is_some_and(|v| v == "true");
    let id = match kept {
        Some((id, _)) => Some(id),
        None if is_async && keep_requested => Some(encode_async_id(&body, now_millis)),
        None => None,
    };
    let all: Vec<Value> = planned
        .columns
        .iter()
        .map(|(n, t, _)| json!({"name": n, "type": t.name()}))
        .collect();
    let keep: Vec<bool> = (0..all.len())
        .map(|i| !drop_nulls || rows.iter().any(|r| !r[i].is_null()))
        .collect();
    let kept = |r: &[Value]| -> Vec<Value> {
        r.iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(v, _)| v.clone())
            .collect()
    };
    let names: Vec<String> = planned
        .columns
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|((n, _, _), _)| n.clone())
        .collect();
    let rows: Vec<Vec<Value>> = rows.iter().map(|r| kept(r)).collect();
    let text: Vec<u8> = match format {
        f if f.is_structured() => {
            let mut out = Map::new();
            if let Some(id) = &id {
                out.insert("id".into(), json!(id));
            }
            if is_async {
                out.insert("is_running".into(), json!(false));
            }
            out.insert("took".into(), json!(started.elapsed().as_millis() as u64));
            out.insert("is_partial".into(), json!(false));
            if drop_nulls {
                out.insert("all_columns".into(), Value::Array(all.clone()));
            }
            out.insert("columns".into(), Value::Array(kept(&all)));
            let values = if req.columnar {
                (0..names.len())
                    .map(|i| Value::Array(rows.iter().map(|r| r[i].clone()).collect()))
                    .collect()
            } else {
                rows.into_iter().map(Value::Array).collect()
            };
            out.insert("values".into(), Value::Array(values));
            structured_body(format, &Value::Object(out))
        }
        Format::Txt => txt_table(&names, &rows).into_bytes(),
        _ => delimited(format, delimiter, &names, &rows).into_bytes(),
    };
    let ct = content_type(format);
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, ct)], text).into_response())
}
