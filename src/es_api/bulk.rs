//! `POST /_bulk` and `/{index}/_bulk`.

use super::{ApiResult, EsJson, Params, flag};
use crate::error::EsError;
use crate::ingest::bulk::{self, BulkDefaults};
use crate::ingest::write::{self, WriteOp};
use crate::server::AppState;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use serde_json::json;
use std::time::Instant;

async fn run(s: AppState, index: Option<String>, p: Params, body: Body) -> ApiResult {
    let started = Instant::now();
    if let Some(pl) = p.get("pipeline")
        && pl != "_none"
    {
        return Err(EsError::unsupported("ingest pipelines"));
    }
    if let Some(i) = &index {
        crate::catalog::validate_index_name(i)?;
    }
    let defaults = BulkDefaults {
        index,
        pipeline: p.get("pipeline").cloned(),
        require_alias: flag(&p, "require_alias")?,
    };
    let mut parsed = bulk::parse(body.into_data_stream(), defaults).await?;
    let refresh = matches!(
        p.get("refresh").map(String::as_str),
        Some("") | Some("true")
    );
    let batch = s.cfg.bulk_batch_docs;
    let total = parsed.actions.len();
    let mut items = Vec::with_capacity(total);
    let mut errors = false;
    let mut done = 0usize;
    let mut is_alias: std::collections::HashMap<String, bool> = Default::default();
    for chunk in parsed.actions.chunks(batch) {
        let mut ops = Vec::with_capacity(chunk.len());
        // Items refused before writing (`require_alias` on a name that is not an alias).
        let mut refused: Vec<Option<write::WriteResult>> = vec![None; chunk.len()];
        for (pos, a) in chunk.iter().enumerate() {
            if a.require_alias {
                let alias = match is_alias.get(&a.index) {
                    Some(b) => *b,
                    None => {
                        let b = s.catalog.is_alias(&a.index).await?;
                        is_alias.insert(a.index.clone(), b);
                        b
                    }
                };
                if !alias {
                    refused[pos] = Some(write::WriteResult {
                        index: a.index.clone(),
                        id: a.id.clone().unwrap_or_default(),
                        outcome: Err(require_alias_error(&a.index)),
                    });
                    continue;
                }
            }
            let source = match a.source {
                Some(range) if a.update.is_none() => {
                    Some(parsed.spool.read(range).map_err(|e| {
                        EsError::storage(format!("cannot read the spooled bulk body: {e}"))
                    })?)
                }
                _ => None,
            };
            if let Some(pl) = &a.pipeline
                && pl != "_none"
            {
                return Err(EsError::unsupported("ingest pipelines"));
            }
            ops.push((
                a.index.clone(),
                WriteOp {
                    op: a.op,
                    id: a.id.clone(),
                    source,
                    update: a.update.clone(),
                    if_seq_no: a.if_seq_no,
                    if_primary_term: a.if_primary_term,
                },
            ));
        }
        let mut applied = write::apply_many(&s, ops).await.into_iter();
        let results = refused.into_iter().map(|r| {
            r.or_else(|| applied.next())
                .expect("every item has a result")
        });
        for (a, r) in chunk.iter().zip(results) {
            errors |= r.outcome.is_err();
            items.push(r.bulk_item(a.op, refresh));
        }
        done += chunk.len();
        if total > batch {
            tracing::info!(done, total, "bulk progress");
        }
    }
    let took = started.elapsed().as_millis() as u64;
    tracing::debug!(items = total, took, errors, "bulk done");
    Ok(EsJson(
        axum::http::StatusCode::OK,
        json!({"errors": errors, "took": took, "items": items}),
    )
    .into_response())
}

/// TransportBulkAction: `require_alias` on a target that is not an alias.
fn require_alias_error(index: &str) -> EsError {
    let e = EsError::index_not_found(index);
    EsError {
        reason: format!(
            "no such index [{index}] and [require_alias] request flag is [true] and [{index}] is not an alias"
        ),
        ..e
    }
}

pub async fn bulk(State(s): State<AppState>, Query(p): Query<Params>, body: Body) -> ApiResult {
    run(s, None, p, body).await
}

pub async fn bulk_index(
    State(s): State<AppState>,
    Path(index): Path<String>,
    Query(p): Query<Params>,
    body: Body,
) -> ApiResult {
    run(s, Some(index), p, body).await
}
