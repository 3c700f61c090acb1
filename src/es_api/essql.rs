//! `POST /_sql` (Elasticsearch SQL): the statement is parsed by `crate::esql::essql` (the
//! `sqlparser` crate), rewritten into an ES|QL pipeline and run through the ES|QL planner; the
//! answer has Elasticsearch SQL's shape (`columns` + `rows`, or `values` when columnar).
//! `SHOW TABLES` and `DESCRIBE` / `SHOW COLUMNS` are answered from the catalog.

use super::esql::{
    Format, content_type, delimited, delimiter_of, fetch_rows, format_of, plan_parsed, txt_table,
};
use super::{ApiResult, Params, parse_body};
use crate::error::EsError;
use crate::esql::Ty;
use crate::esql::essql::{self, SqlStatement};
use crate::esql::parser::{Command, Named, Query};
use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Query as UrlQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};

const SQL_PARAMS: &[&str] = &["format", "delimiter"];
const DEFAULT_FETCH_SIZE: u64 = 1000;

struct Request {
    query: String,
    params: Vec<Value>,
    fetch_size: u64,
    filter: Option<crate::dsl::Query>,
    columnar: bool,
    leniency: bool,
}

fn bad_field(k: &str) -> EsError {
    EsError::x_content_parse(format!("[sql/query] failed to parse field [{k}]"))
}

fn parse_request(body: &[u8]) -> Result<Request, EsError> {
    let Some(Value::Object(m)) = parse_body(body)? else {
        return Err(EsError::action_request_validation(
            "Validation Failed: 1: one of [query] or [cursor] is required;",
        ));
    };
    let mut req = Request {
        query: String::new(),
        params: Vec::new(),
        fetch_size: DEFAULT_FETCH_SIZE,
        filter: None,
        columnar: false,
        leniency: false,
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
            "filter" => req.filter = Some(crate::dsl::parse_query(v)?),
            "columnar" => req.columnar = v.as_bool().ok_or_else(|| bad_field(k))?,
            "field_multi_value_leniency" => {
                req.leniency = v.as_bool().ok_or_else(|| bad_field(k))?
            }
            "time_zone" => {
                let tz = v.as_str().ok_or_else(|| bad_field(k))?;
                if !matches!(tz, "Z" | "UTC" | "+00:00" | "Etc/UTC" | "GMT") {
                    return Err(EsError::unsupported(format!(
                        "Elasticsearch SQL [time_zone: {tz}]"
                    )));
                }
            }
            "mode" => {
                let mode = v.as_str().ok_or_else(|| bad_field(k))?;
                if !mode.eq_ignore_ascii_case("plain") {
                    return Err(EsError::unsupported(format!(
                        "Elasticsearch SQL [mode: {mode}]"
                    )));
                }
            }
            "request_timeout" | "page_timeout" | "catalog" => {}
            "index_using_frozen" | "binary_format" | "allow_partial_search_results" => {
                if v.as_bool() == Some(true) && k != "allow_partial_search_results" {
                    return Err(EsError::unsupported(format!(
                        "Elasticsearch SQL [{k}: true]"
                    )));
                }
            }
            "cursor" => {
                return Err(EsError::unsupported(
                    "Elasticsearch SQL [cursor] (elastichouse hands out no cursors)",
                ));
            }
            "runtime_mappings"
            | "keep_alive"
            | "keep_on_completion"
            | "wait_for_completion_timeout" => {
                return Err(EsError::unsupported(format!("Elasticsearch SQL [{k}]")));
            }
            other => {
                return Err(EsError::x_content_parse(format!(
                    "[sql/query] unknown field [{other}]"
                )));
            }
        }
    }
    if req.query.trim().is_empty() {
        return Err(EsError::action_request_validation(
            "Validation Failed: 1: one of [query] or [cursor] is required;",
        ));
    }
    Ok(req)
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

fn respond(
    format: Format,
    delimiter: char,
    columnar: bool,
    columns: &[(String, &'static str)],
    rows: Vec<Vec<Value>>,
) -> ApiResult {
    let names: Vec<String> = columns.iter().map(|c| c.0.clone()).collect();
    let body = match format {
        Format::Json => {
            let cols: Vec<Value> = columns
                .iter()
                .map(|(n, t)| json!({"name": n, "type": t}))
                .collect();
            let v = if columnar {
                let values: Vec<Value> = (0..names.len())
                    .map(|i| Value::Array(rows.iter().map(|r| r[i].clone()).collect()))
                    .collect();
                json!({"columns": cols, "values": values})
            } else {
                json!({"columns": cols, "rows": rows})
            };
            serde_json::to_string(&v).unwrap_or_default()
        }
        Format::Csv | Format::Tsv => delimited(format, delimiter, &names, &rows),
        Format::Txt => txt_table(&names, &rows),
    };
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type(format))],
        body,
    )
        .into_response())
}

async fn run(s: AppState, path: &str, p: Params, headers: HeaderMap, body: Bytes) -> ApiResult {
    super::search::check_params(path, &p, SQL_PARAMS)?;
    let format = format_of(&p, &headers)?;
    let delimiter = delimiter_of(&p, format, path)?;
    let req = parse_request(&body)?;
    let now_millis = chrono::Utc::now().timestamp_millis();
    match essql::parse(&req.query, &req.params)? {
        SqlStatement::Select(mut q) => {
            // One row more than a page tells whether a cursor would be needed.
            let pos = q.commands.last().map(|c| c.1).unwrap_or_default();
            q.commands.push((Command::Limit(req.fetch_size + 1), pos));
            let planned = plan_parsed(&s, &q, req.filter.as_ref(), now_millis).await?;
            let mut rows = fetch_rows(&s, &planned).await?;
            if rows.len() as u64 > req.fetch_size {
                return Err(EsError::unsupported(format!(
                    "Elasticsearch SQL cursors (the answer has more than fetch_size [{}] rows; add a LIMIT)",
                    req.fetch_size
                )));
            }
            for r in &mut rows {
                for (v, (name, _, _)) in r.iter_mut().zip(&planned.columns) {
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
                }
            }
            let columns: Vec<(String, &'static str)> = planned
                .columns
                .iter()
                .map(|(n, t, _)| (n.clone(), sql_type_name(*t)))
                .collect();
            respond(format, delimiter, req.columnar, &columns, rows)
        }
        SqlStatement::ShowTables(pattern) => {
            let glob = pattern.map(|p| p.replace('%', "*").replace('_', "?"));
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
            let columns = [
                ("catalog".to_string(), "keyword"),
                ("name".to_string(), "keyword"),
                ("type".to_string(), "keyword"),
                ("kind".to_string(), "keyword"),
            ];
            respond(format, delimiter, req.columnar, &columns, rows)
        }
        SqlStatement::Describe(table) => {
            let q = Query {
                commands: vec![
                    (
                        Command::From {
                            patterns: vec![Named {
                                name: table,
                                pos: crate::esql::Pos { line: 1, col: 1 },
                            }],
                            metadata: vec![],
                        },
                        Default::default(),
                    ),
                    (Command::Limit(0), Default::default()),
                ],
            };
            let planned = plan_parsed(&s, &q, None, now_millis).await?;
            let rows: Vec<Vec<Value>> = planned
                .columns
                .iter()
                .map(|(n, t, _)| vec![json!(n), json!(jdbc_type(*t)), json!(sql_type_name(*t))])
                .collect();
            let columns = [
                ("column".to_string(), "keyword"),
                ("type".to_string(), "keyword"),
                ("mapping".to_string(), "keyword"),
            ];
            respond(format, delimiter, req.columnar, &columns, rows)
        }
    }
}

pub async fn query(
    State(s): State<AppState>,
    OriginalUri(uri): OriginalUri,
    UrlQuery(p): UrlQuery<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    run(s, uri.path(), p, headers, body).await
}

/// `POST /_sql/close`: no cursor is ever open (answers never page), so closing succeeds.
pub async fn close(body: Bytes) -> ApiResult {
    match parse_body(&body)? {
        Some(Value::Object(m)) if m.get("cursor").is_some_and(Value::is_string) => {
            Ok(super::ok(json!({"succeeded": true})).into_response())
        }
        _ => Err(EsError::action_request_validation(
            "Validation Failed: 1: [cursor] is required;",
        )),
    }
}

/// `POST /_sql/translate` answers the query DSL of a statement in Elasticsearch; here statements
/// become ClickHouse SQL, not query DSL.
pub async fn translate() -> ApiResult {
    Err(EsError::unsupported("POST /_sql/translate"))
}
