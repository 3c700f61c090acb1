//! `POST /_bulk` and `/{index}/_bulk`.

use super::{ApiResult, Params, flag};
use crate::error::EsError;
use crate::ingest::bulk::{self, BulkDefaults, OpType};
use crate::ingest::write::{self, WriteOp};
use crate::server::AppState;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use std::time::Instant;

async fn run(s: AppState, index: Option<String>, p: Params, body: Body) -> ApiResult {
    let started = Instant::now();
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
    let mut apply_ms = 0.0;
    let refresh = matches!(
        p.get("refresh").map(String::as_str),
        Some("") | Some("true")
    );
    let batch = s.cfg.bulk_batch_docs;
    let total = parsed.actions.len();
    // Items are written as JSON as they come (no `Value` tree for thousands of items).
    let mut items: Vec<u8> = Vec::with_capacity(total * 160 + 2);
    items.push(b'[');
    let mut errors = crate::telemetry::metrics::ItemErrors::default();
    let mut done = 0usize;
    let mut prior = write::Prior::Idle;
    let mut prior_kinds: Vec<OpType> = Vec::new();
    let mut is_alias: std::collections::HashMap<String, bool> = Default::default();
    // Ingest pipelines: compiled once per request (src/es_api/ingest.rs).
    let mut ingest = super::ingest::Ingest::load(&s).await?;
    // Failure stores of data streams (src/es_api/failure_store.rs).
    let mut failures = super::failure_store::Redirect::default();
    for chunk in parsed.actions.chunks(batch) {
        failures.begin_batch();
        let mut ops = Vec::with_capacity(chunk.len());
        // Items refused before writing (`require_alias` on a name that is not an alias).
        let mut refused: Vec<Option<write::WriteResult>> = vec![None; chunk.len()];
        // Items a `drop` processor dropped (answered `noop`, not written).
        let mut dropped: Vec<bool> = vec![false; chunk.len()];
        for (pos, a) in chunk.iter().enumerate() {
            // Each item needs its own privilege on its index (a 403 item, the others go on).
            if let Err(e) = crate::security::check_bulk_item(a.op.name(), &a.index) {
                refused[pos] = Some(write::WriteResult {
                    index: a.index.clone(),
                    id: a.id.clone().unwrap_or_default(),
                    outcome: Err(e),
                });
                continue;
            }
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
                        outcome: Err(super::aliases::require_alias_error(&a.index)),
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
            let mut op = WriteOp {
                op: a.op,
                id: a.id.clone(),
                source,
                update: a.update.clone(),
                if_seq_no: a.if_seq_no,
                if_primary_term: a.if_primary_term,
            };
            let index = match ingest
                .prepare_op(&s, &a.index, &mut op, a.pipeline.as_deref())
                .await
            {
                Ok(super::ingest::OpOutcome::Write(i)) => i,
                Ok(super::ingest::OpOutcome::Dropped) => {
                    dropped[pos] = true;
                    refused[pos] = Some(write::WriteResult {
                        index: a.index.clone(),
                        id: a.id.clone().unwrap_or_default(),
                        outcome: Err(EsError::illegal_argument("dropped")),
                    });
                    continue;
                }
                Err(e) => {
                    let origin = ingest.take_failure();
                    failures
                        .ingest_failed(&s, pos, &a.index, &op, &e, origin)
                        .await?;
                    refused[pos] = Some(write::WriteResult {
                        index: a.index.clone(),
                        id: a.id.clone().unwrap_or_default(),
                        outcome: Err(e),
                    });
                    continue;
                }
            };
            failures.writing(&s, pos, &index, &op).await?;
            ops.push((index, op));
        }
        let t = Instant::now();
        // Log ingestion (one index, generated ids): this batch is prepared while the previous one
        // is being inserted. Anything else runs after it, as one batch.
        let single_index = ops
            .first()
            .map(|(i, _)| i.clone())
            .filter(|first| ops.iter().all(|(i, _)| i == first));
        let any_refused = refused.iter().any(Option::is_some);
        let pipelined = single_index.filter(|i| {
            !any_refused
                && crate::catalog::validate_index_name(i).is_ok()
                && ops
                    .iter()
                    .all(|(_, o)| write::Staged::append_only(std::slice::from_ref(o)))
        });
        // Only a plain existing index is pipelined: aliases, data streams and indices still to be
        // created (through templates) take the one-batch path, which resolves them.
        let pipelined = match pipelined {
            Some(i) => match s.catalog.write_target(&i).await? {
                crate::catalog::WriteTarget::Index(m) if m.data_stream.is_none() => Some(i),
                _ => None,
            },
            None => None,
        };
        let kinds: Vec<OpType> = chunk.iter().map(|a| a.op).collect();
        match pipelined {
            Some(index) => {
                let ids: Vec<String> = vec![String::new(); ops.len()];
                let ops: Vec<WriteOp> = ops.into_iter().map(|(_, o)| o).collect();
                match write::stage(&s, &index, ops, &mut prior).await {
                    Ok(staged) => {
                        if let Some(rs) = prior.take().await {
                            emit(&mut items, &mut errors, &prior_kinds, rs, refresh);
                        }
                        let st = s.clone();
                        prior = write::Prior::Running(tokio::spawn(async move {
                            write::commit(&st, staged).await
                        }));
                        prior_kinds = kinds;
                    }
                    Err(e) => {
                        if let Some(rs) = prior.take().await {
                            emit(&mut items, &mut errors, &prior_kinds, rs, refresh);
                        }
                        let rs = ids
                            .into_iter()
                            .map(|id| write::WriteResult {
                                index: index.clone(),
                                id,
                                outcome: Err(e.clone()),
                            })
                            .collect();
                        emit(&mut items, &mut errors, &kinds, rs, refresh);
                    }
                }
            }
            None => {
                if let Some(rs) = prior.take().await {
                    emit(&mut items, &mut errors, &prior_kinds, rs, refresh);
                }
                let mut applied = write::apply_many(&s, ops).await.into_iter();
                let mut results: Vec<write::WriteResult> = refused
                    .into_iter()
                    .map(|r| {
                        r.or_else(|| applied.next())
                            .expect("every item has a result")
                    })
                    .collect();
                let fs_status = if failures.is_idle() {
                    vec![None; results.len()]
                } else {
                    failures.settle(&s, &mut results).await
                };
                for (((r, op), drop), st) in
                    results.into_iter().zip(&kinds).zip(dropped).zip(fs_status)
                {
                    if drop {
                        emit_dropped(&mut items, *op, &r);
                    } else if let Some(st) = st {
                        if let Err(e) = &r.outcome {
                            errors.add(&e.kind);
                        }
                        if items.len() > 1 {
                            items.push(b',');
                        }
                        super::failure_store::write_item(&mut items, &r, *op, refresh, st);
                    } else {
                        emit(
                            &mut items,
                            &mut errors,
                            std::slice::from_ref(op),
                            vec![r],
                            refresh,
                        );
                    }
                }
            }
        }
        apply_ms += t.elapsed().as_secs_f64() * 1000.0;
        done += chunk.len();
        if total > batch {
            tracing::info!(done, total, "bulk progress");
        }
    }
    if let Some(rs) = prior.take().await {
        emit(&mut items, &mut errors, &prior_kinds, rs, refresh);
    }
    let took = started.elapsed().as_millis() as u64;
    tracing::debug!(
        items = total,
        took,
        errors = errors.any(),
        parse_ms,
        apply_ms,
        "bulk done"
    );
    items.push(b']');
    // {"errors":…,"took":…,"items":[…]}, the key order of Elasticsearch's BulkResponse.
    let mut body = Vec::with_capacity(items.len() + 40);
    body.extend_from_slice(
        format!("{{\"errors\":{},\"took\":{took},\"items\":", errors.any()).as_bytes(),
    );
    s.stats.metrics.bulk_item_errors(&errors);
    body.extend_from_slice(&items);
    body.push(b'}');
    Ok((
        axum::http::StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

/// Appends the items of one batch's results to the `items` array being written.
fn emit(
    items: &mut Vec<u8>,
    errors: &mut crate::telemetry::metrics::ItemErrors,
    kinds: &[OpType],
    results: Vec<write::WriteResult>,
    refresh: bool,
) {
    for (op, r) in kinds.iter().zip(results) {
        if let Err(e) = &r.outcome {
            errors.add(&e.kind);
        }
        if items.len() > 1 {
            items.push(b',');
        }
        r.write_bulk_item(*op, refresh, items);
    }
}

/// The item of a document a `drop` processor dropped (see ingest::dropped_body), status 200.
fn emit_dropped(items: &mut Vec<u8>, op: OpType, r: &write::WriteResult) {
    if items.len() > 1 {
        items.push(b',');
    }
    let id = Some(r.id.as_str()).filter(|i| !i.is_empty());
    let mut body = super::ingest::dropped_body(&r.index, id);
    body["status"] = serde_json::json!(200);
    let item = serde_json::json!({ op.name(): body });
    items.extend_from_slice(item.to_string().as_bytes());
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
