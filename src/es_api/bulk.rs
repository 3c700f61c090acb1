//! `POST /_bulk` and `/{index}/_bulk`.

use super::{ApiResult, Params, flag};
use crate::error::EsError;
use crate::ingest::bulk::{self, BulkDefaults};
use crate::ingest::write::{self, WriteOp};
use crate::server::AppState;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
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
    let parse_ms = started.elapsed().as_secs_f64() * 1000.0;
    let (mut apply_ms, mut items_ms) = (0.0, 0.0);
    let refresh = matches!(
        p.get("refresh").map(String::as_str),
        Some("") | Some("true")
    );
    let batch = s.cfg.bulk_batch_docs;
    let total = parsed.actions.len();
    // Items are written as JSON as they come (no `Value` tree for thousands of items).
    let mut items: Vec<u8> = Vec::with_capacity(total * 160 + 2);
    items.push(b'[');
    let mut errors = false;
    let mut done = 0usize;
    for chunk in parsed.actions.chunks(batch) {
        let mut ops = Vec::with_capacity(chunk.len());
        for a in chunk {
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
        let t = Instant::now();
        let results = write::apply_many(&s, ops).await;
        apply_ms += t.elapsed().as_secs_f64() * 1000.0;
        let t = Instant::now();
        for (a, r) in chunk.iter().zip(results) {
            errors |= r.outcome.is_err();
            if items.len() > 1 {
                items.push(b',');
            }
            r.write_bulk_item(a.op, refresh, &mut items);
        }
        items_ms += t.elapsed().as_secs_f64() * 1000.0;
        done += chunk.len();
        if total > batch {
            tracing::info!(done, total, "bulk progress");
        }
    }
    let took = started.elapsed().as_millis() as u64;
    tracing::debug!(
        items = total,
        took,
        errors,
        parse_ms,
        apply_ms,
        items_ms,
        "bulk done"
    );
    items.push(b']');
    // {"errors":…,"took":…,"items":[…]}, the key order of Elasticsearch's BulkResponse.
    let mut body = Vec::with_capacity(items.len() + 40);
    body.extend_from_slice(format!("{{\"errors\":{errors},\"took\":{took},\"items\":").as_bytes());
    body.extend_from_slice(&items);
    body.push(b'}');
    Ok((
        axum::http::StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
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
