//! `_cat/indices` and `_cat/count`: text tables (with `v`, `h`, `s`, `bytes`) or JSON (`format=json`).

use super::{ApiResult, Params, flag};
use crate::catalog::IndexMeta;
use crate::error::EsError;
use crate::server::AppState;
use crate::sql;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Live document count of an index.
pub async fn doc_count(s: &AppState, meta: &IndexMeta) -> Result<u64, EsError> {
    let q = sql::Select {
        items: vec![sql::Expr::func("count", vec![]).alias("n")],
        from: Some(sql::FromClause::table(s.catalog.db(), meta.table())),
        rows: meta.rows(),
        ..Default::default()
    };
    let rows = s.ch.query_rows(&q).await?;
    Ok(rows.first().and_then(|r| r["n"].as_u64()).unwrap_or(0))
}

/// `items` over the active parts of the indices' tables (`system.parts` of our database).
pub(super) fn active_parts(s: &AppState, items: Vec<sql::SelectItem>) -> sql::Select {
    sql::Select {
        items,
        from: Some(sql::FromClause::table(
            sql::Ident::new("system"),
            sql::Ident::new("parts"),
        )),
        where_: Some(
            sql::col("database")
                .eq(sql::lit(s.ch.database.as_str()))
                .and(sql::col("active")),
        ),
        ..Default::default()
    }
}

/// Bytes on disk of each table.
async fn sizes(s: &AppState) -> Result<std::collections::HashMap<String, u64>, EsError> {
    let q = sql::Select {
        group_by: vec![sql::col("table")],
        ..active_parts(
            s,
            vec![
                sql::col("table").alias("t"),
                sql::Expr::func("sum", vec![sql::col("bytes_on_disk")]).alias("b"),
            ],
        )
    };
    let rows = s.ch.query_rows(&q).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r["t"].as_str().unwrap_or_default().to_string(),
                r["b"].as_u64().unwrap_or(0),
            )
        })
        .collect())
}

fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["b", "kb", "mb", "gb", "tb"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b}b")
    } else {
        format!("{v:.1}{}", UNITS[u])
    }
}

/// Renders rows as `_cat` does: aligned text columns, `v` for a header, `h` to pick columns,
/// `format=json` for an array of objects.
pub(super) fn render(
    p: &Params,
    columns: &[&str],
    default_cols: &[&str],
    rows: Vec<Vec<String>>,
) -> ApiResult {
    let selected: Vec<usize> = match p.get("h") {
        Some(h) => {
            let mut v = Vec::new();
            for name in h.split(',').map(str::trim) {
                match columns.iter().position(|c| *c == name) {
                    Some(i) => v.push(i),
                    None => {
                        return Err(EsError::illegal_argument(format!(
                            "header [{name}] does not exist"
                        )));
                    }
                }
            }
            v
        }
        None => default_cols
            .iter()
            .map(|d| columns.iter().position(|c| c == d).expect("column"))
            .collect(),
    };
    let format = p.get("format").map(String::as_str).unwrap_or("text");
    if format == "json" {
        let arr: Vec<Value> = rows
            .iter()
            .map(|r| {
                let mut m = Map::new();
                for &i in &selected {
                    m.insert(columns[i].to_string(), Value::String(r[i].clone()));
                }
                Value::Object(m)
            })
            .collect();
        return Ok(super::ok(Value::Array(arr)).into_response());
    }
    if format != "text" {
        return Err(EsError::illegal_argument(format!(
            "unsupported format [{format}]"
        )));
    }
    let mut table: Vec<Vec<&str>> = Vec::new();
    if flag(p, "v")? {
        table.push(selected.iter().map(|&i| columns[i]).collect());
    }
    for r in &rows {
        table.push(selected.iter().map(|&i| r[i].as_str()).collect());
    }
    let widths: Vec<usize> = (0..selected.len())
        .map(|c| {
            table
                .iter()
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in table {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(c, v)| format!("{v:<w$}", w = widths[c]))
            .collect();
        out.push_str(line.join(" ").trim_end());
        out.push('\n');
    }
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=UTF-8")],
        out,
    )
        .into_response())
}

async fn indices_impl(s: AppState, expr: &str, p: Params) -> ApiResult {
    let metas: Vec<Arc<IndexMeta>> = s
        .catalog
        .resolve(expr, super::indices::resolve_options(&p)?)
        .await?;
    let sizes = sizes(&s).await?;
    let mut rows = Vec::new();
    for m in metas {
        let count = doc_count(&s, &m).await?;
        let size = sizes.get(&m.name).copied().unwrap_or(0);
        let size_s = if p.contains_key("bytes") {
            size.to_string()
        } else {
            human_bytes(size)
        };
        rows.push(vec![
            "green".into(),
            "open".into(),
            m.name.clone(),
            m.uuid.clone(),
            "1".into(),
            "0".into(),
            count.to_string(),
            "0".into(),
            size_s.clone(),
            size_s,
            m.creation_date.to_string(),
        ]);
    }
    if let Some(sort) = p.get("s") {
        let desc = sort.ends_with(":desc");
        let key = sort.trim_end_matches(":desc").trim_end_matches(":asc");
        let cols = [
            "health",
            "status",
            "index",
            "uuid",
            "pri",
            "rep",
            "docs.count",
            "docs.deleted",
            "store.size",
            "pri.store.size",
            "creation.date",
        ];
        if let Some(i) = cols.iter().position(|c| *c == key) {
            rows.sort_by(|a, b| {
                let o = match (a[i].parse::<f64>(), b[i].parse::<f64>()) {
                    (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
                    _ => a[i].cmp(&b[i]),
                };
                if desc { o.reverse() } else { o }
            });
        }
    }
    let columns = [
        "health",
        "status",
        "index",
        "uuid",
        "pri",
        "rep",
        "docs.count",
        "docs.deleted",
        "store.size",
        "pri.store.size",
        "creation.date",
    ];
    render(&p, &columns, &columns[..10], rows)
}

pub async fn indices(
    State(s): State<AppState>,
    Path(index): Path<String>,
    Query(p): Query<Params>,
) -> ApiResult {
    indices_impl(s, &index, p).await
}

pub async fn indices_all(State(s): State<AppState>, Query(p): Query<Params>) -> ApiResult {
    indices_impl(s, "*", p).await
}

async fn count_impl(s: AppState, expr: &str, p: Params) -> ApiResult {
    let metas = s
        .catalog
        .resolve(expr, super::indices::resolve_options(&p)?)
        .await?;
    let mut total = 0;
    for m in metas {
        total += doc_count(&s, &m).await?;
    }
    let now = chrono::Utc::now();
    let rows = vec![vec![
        now.timestamp().to_string(),
        now.format("%H:%M:%S").to_string(),
        total.to_string(),
    ]];
    let columns = ["epoch", "timestamp", "count"];
    render(&p, &columns, &columns, rows)
}

pub async fn count(
    State(s): State<AppState>,
    Path(index): Path<String>,
    Query(p): Query<Params>,
) -> ApiResult {
    count_impl(s, &index, p).await
}

pub async fn count_all(State(s): State<AppState>, Query(p): Query<Params>) -> ApiResult {
    count_impl(s, "*", p).await
}

/// `GET /_cat/health` (RestHealthAction): the cluster health as one row. Storage unreachable is
/// `red` with no data node, as `_cluster/health` answers.
pub async fn health(State(s): State<AppState>, Query(p): Query<Params>) -> ApiResult {
    let now = chrono::Utc::now();
    let up = !matches!(s.ch.ping().await, Err(e) if e.is_unavailable());
    let shards = if up {
        super::cluster::health_state(&s, None).await?.indices.len()
    } else {
        0
    };
    let (status, data_nodes, percent) = if up {
        ("green", "1", "100.0%")
    } else {
        ("red", "0", "0.0%")
    };
    let rows = vec![vec![
        now.timestamp().to_string(),
        now.format("%H:%M:%S").to_string(),
        s.cfg.cluster_name.clone(),
        status.to_string(),
        "1".to_string(),
        data_nodes.to_string(),
        shards.to_string(),
        shards.to_string(),
        "0".into(),
        "0".into(),
        "0".into(),
        "0".into(),
        "0".into(),
        "-".into(),
        percent.to_string(),
    ]];
    let columns = [
        "epoch",
        "timestamp",
        "cluster",
        "status",
        "node.total",
        "node.data",
        "shards",
        "pri",
        "relo",
        "init",
        "unassign",
        "unassign.pri",
        "pending_tasks",
        "max_task_wait_time",
        "active_shards_percent",
    ];
    render(&p, &columns, &columns, rows)
}
