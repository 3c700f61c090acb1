//! Data streams: created by a write (or `PUT /_data_stream/{name}`) to a name whose matching index
//! template has `data_stream: {}`, backed by hidden indices `.ds-<name>-<yyyy.MM.dd>-<generation>`
//! (DataStream#getDefaultBackingIndexName). A backing index is an ordinary table whose comment
//! names its data stream, so the data stream needs no state of its own: the catalog groups backing
//! indices by that name. `GET|PUT|DELETE /_data_stream`.

use super::templates::{self, Composed};
use super::{ApiResult, ok};
use crate::catalog::{IndexMeta, WriteTarget, glob_match};
use crate::error::{EsError, EsResult};
use crate::server::AppState;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use serde_json::{Value, json};
use std::sync::Arc;

/// The name of generation `generation` of data stream `name`, created now.
pub fn backing_index_name(name: &str, generation: u64) -> String {
    let date = chrono::Utc::now().format("%Y.%m.%d");
    format!(".ds-{name}-{date}-{generation:06}")
}

/// Creates data stream `name` (its first backing index) as `plan` (from its template) says, and
/// returns the backing index. If another request created it meanwhile, returns that one's.
pub async fn create(state: &AppState, name: &str, plan: Composed) -> EsResult<Arc<IndexMeta>> {
    crate::catalog::validate_index_name(name)?;
    if name.starts_with(".ds-") {
        return Err(EsError::invalid_index_name(
            name,
            "data_stream [name] must not start with '.ds-'",
        ));
    }
    if !plan.aliases.is_empty() {
        return Err(EsError::unsupported("aliases on data streams"));
    }
    let lock = state
        .catalog
        .write_lock(&format!("\u{0}data_stream {name}"));
    let _g = lock.lock().await;
    if let WriteTarget::DataStream(m) = state.catalog.write_target(name).await? {
        return Ok(m);
    }
    // The stream's options come from its template when it is created (failure_store.rs).
    super::failure_store::record_options(state, name, plan.data_stream_options.as_ref()).await?;
    let backing = backing_index_name(name, 1);
    let meta = state
        .catalog
        .create_with(
            &backing,
            plan.mappings,
            plan.settings,
            Default::default(),
            Some(name.to_string()),
        )
        .await?;
    tracing::info!(data_stream = name, backing_index = %backing, template = ?plan.template, "data stream created");
    Ok(meta)
}

/// `PUT /_data_stream/{name}` (MetadataCreateDataStreamService).
pub async fn put(State(s): State<AppState>, Path(name): Path<String>) -> ApiResult {
    crate::catalog::validate_index_name(&name)?;
    match s.catalog.write_target(&name).await? {
        WriteTarget::DataStream(_) => {
            return Err(EsError::new(
                400,
                "resource_already_exists_exception",
                format!("data_stream [{name}] already exists"),
            ));
        }
        WriteTarget::Index(m) => return Err(EsError::index_already_exists(&name, &m.uuid)),
        WriteTarget::Alias(_) => {
            return Err(EsError::invalid_index_name(
                &name,
                "already exists as alias",
            ));
        }
        WriteTarget::Missing => {}
    }
    let all = templates::index_templates(&s).await?;
    let Some((tname, t)) = templates::find_template(&all, &name) else {
        return Err(EsError::illegal_argument(format!(
            "no matching index template found for data stream [{name}]"
        )));
    };
    if !t["data_stream"].is_object() {
        return Err(EsError::illegal_argument(format!(
            "matching index template [{tname}] for data stream [{name}] has no data stream template"
        )));
    }
    let plan = templates::compose(&s, &name, None).await?;
    create(&s, &name, plan).await?;
    Ok(ok(json!({"acknowledged": true})).into_response())
}

/// The names an expression picks among the data streams; an explicit missing name is a 404.
async fn select(s: &AppState, expr: Option<&str>) -> EsResult<Vec<(String, Vec<Arc<IndexMeta>>)>> {
    let view = s.catalog.view().await?;
    let parts: Vec<&str> = match expr {
        None | Some("") | Some("_all") => vec!["*"],
        Some(e) => e.split(',').collect(),
    };
    let mut out: Vec<(String, Vec<Arc<IndexMeta>>)> = Vec::new();
    for p in parts {
        let p = if p == "_all" { "*" } else { p };
        if p.contains('*') {
            for (n, b) in &view.data_streams {
                if glob_match(p, n) && !out.iter().any(|(o, _)| o == n) {
                    out.push((n.clone(), b.clone()));
                }
            }
        } else {
            match s.catalog.view().await?.data_streams.get(p) {
                Some(b) => {
                    if !out.iter().any(|(o, _)| o == p) {
                        out.push((p.to_string(), b.clone()));
                    }
                }
                None => return Err(EsError::index_not_found(p)),
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// One entry of `GET /_data_stream` (GetDataStreamAction.Response.DataStreamInfo).
async fn info(s: &AppState, name: &str, backing: &[Arc<IndexMeta>]) -> EsResult<Value> {
    let all = templates::index_templates(s).await?;
    let template = templates::find_template(&all, name);
    let hidden = template
        .and_then(|(_, t)| t["data_stream"]["hidden"].as_bool())
        .unwrap_or(false);
    let indices: Vec<Value> = backing
        .iter()
        .map(|m| {
            json!({
                "index_name": m.name,
                "index_uuid": m.uuid,
                "prefer_ilm": true,
                "managed_by": "Unmanaged",
            })
        })
        .collect();
    let view = s.catalog.view().await?;
    let generation = super::failure_store::generation(&view, name).max(1);
    let failure_indices: Vec<Value> = view
        .failure_stores
        .get(name)
        .into_iter()
        .flatten()
        .map(|m| {
            json!({
                "index_name": m.name,
                "index_uuid": m.uuid,
                "prefer_ilm": true,
                "managed_by": "Unmanaged",
            })
        })
        .collect();
    let mut v = json!({
        "name": name,
        "timestamp_field": {"name": "@timestamp"},
        "indices": indices,
        "generation": generation,
        "status": "GREEN",
        "next_generation_managed_by": "Unmanaged",
        "prefer_ilm": true,
        "hidden": hidden,
        "system": false,
        "allow_custom_routing": false,
        "replicated": false,
        "rollover_on_write": false,
        // GetDataStreamAction.Response.DataStreamInfo: the failure store's first index is created
        // by the first failure (rollover on write).
        "failure_store": {
            "enabled": super::failure_store::enabled(s, name).await?,
            "rollover_on_write": failure_indices.is_empty(),
            "indices": failure_indices,
        },
    });
    if let Some((t, _)) = template {
        v["template"] = json!(t);
    }
    Ok(v)
}

async fn get_impl(s: &AppState, expr: Option<&str>) -> ApiResult {
    let mut list = Vec::new();
    for (name, backing) in select(s, expr).await? {
        list.push(info(s, &name, &backing).await?);
    }
    Ok(ok(json!({ "data_streams": list })).into_response())
}

pub async fn get_all(State(s): State<AppState>) -> ApiResult {
    get_impl(&s, None).await
}

pub async fn get(State(s): State<AppState>, Path(name): Path<String>) -> ApiResult {
    get_impl(&s, Some(&name)).await
}

/// `DELETE /_data_stream/{name}`: drops the backing indices, the failure store and the options.
pub async fn delete(State(s): State<AppState>, Path(name): Path<String>) -> ApiResult {
    for (ds, backing) in select(&s, Some(&name)).await? {
        let failures = s
            .catalog
            .view()
            .await?
            .failure_stores
            .get(&ds)
            .cloned()
            .unwrap_or_default();
        for m in backing.into_iter().chain(failures) {
            s.catalog.delete(&m.name).await?;
        }
        super::failure_store::record_options(&s, &ds, None).await?;
        tracing::info!(data_stream = %ds, "data stream deleted");
    }
    Ok(ok(json!({"acknowledged": true})).into_response())
}

/// `POST /{data_stream}/_rollover` without conditions: a new backing index (generation + 1, shaped
/// by the current template) becomes the write index (MetadataRolloverService#rolloverDataStream).
/// Conditions, `dry_run` and rolling over aliases are refused with a 400.
pub async fn rollover(
    State(s): State<AppState>,
    Path(name): Path<String>,
    axum::extract::Query(p): axum::extract::Query<super::Params>,
    body: axum::body::Bytes,
) -> ApiResult {
    if let Some(b) = super::parse_body(&body)?
        && b.get("conditions")
            .is_some_and(|c| c.as_object().is_none_or(|m| !m.is_empty()))
    {
        return Err(EsError::unsupported("rollover conditions"));
    }
    if super::flag(&p, "dry_run")? {
        return Err(EsError::unsupported("rollover dry_run"));
    }
    // `<stream>::failures`: rolls over the failure store (a new failure index becomes its write index).
    if let Some(ds) = name.strip_suffix("::failures") {
        if !s.catalog.view().await?.data_streams.contains_key(ds) {
            return Err(EsError::index_not_found(&name));
        }
        let lock = s.catalog.write_lock(&format!("\u{0}data_stream {ds}"));
        let _g = lock.lock().await;
        let old = s
            .catalog
            .view()
            .await?
            .failure_stores
            .get(ds)
            .and_then(|f| f.last())
            .map(|m| m.name.clone());
        let new = super::failure_store::rollover(&s, ds, None).await?;
        return Ok(ok(json!({
            "acknowledged": true,
            "shards_acknowledged": true,
            "old_index": old,
            "new_index": new.name,
            "rolled_over": true,
            "dry_run": false,
            "lazy": false,
            "conditions": {},
        }))
        .into_response());
    }
    let old = match s.catalog.write_target(&name).await? {
        WriteTarget::DataStream(m) => m,
        WriteTarget::Alias(_) => return Err(EsError::unsupported("rollover of aliases")),
        WriteTarget::Index(_) => {
            return Err(EsError::illegal_argument(format!(
                "rollover target [{name}] does not point to a write index"
            )));
        }
        WriteTarget::Missing => return Err(EsError::index_not_found(&name)),
    };
    let lock = s.catalog.write_lock(&format!("\u{0}data_stream {name}"));
    let _g = lock.lock().await;
    let generation = super::failure_store::generation(&*s.catalog.view().await?, &name).max(1) + 1;
    let plan = templates::compose(&s, &name, None).await?;
    let new = backing_index_name(&name, generation);
    s.catalog
        .create_with(
            &new,
            plan.mappings,
            plan.settings,
            Default::default(),
            Some(name.clone()),
        )
        .await?;
    tracing::info!(data_stream = %name, old_index = %old.name, new_index = %new, "data stream rolled over");
    Ok(ok(json!({
        "acknowledged": true,
        "shards_acknowledged": true,
        "old_index": old.name,
        "new_index": new,
        "rolled_over": true,
        "dry_run": false,
        "lazy": false,
        "conditions": {},
    }))
    .into_response())
}
