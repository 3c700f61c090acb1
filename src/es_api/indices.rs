//! Index management: create, delete, get, exists, mappings, refresh.

use super::{ApiResult, Params, flag, ok, parse_body};
use crate::catalog::ResolveOptions;
use crate::error::EsError;
use crate::schema;
use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};

pub fn resolve_options(p: &Params) -> Result<ResolveOptions, EsError> {
    let mut o = ResolveOptions::default();
    if p.contains_key("ignore_unavailable") {
        o.ignore_unavailable = flag(p, "ignore_unavailable")?;
    }
    if p.contains_key("allow_no_indices") {
        o.allow_no_indices = flag(p, "allow_no_indices")?;
    }
    Ok(o)
}

/// Settings as given (`{"number_of_shards": 1}`, `{"index": {...}}` or `{"index.x": ..}`), flattened
/// into the `index` object the way Elasticsearch normalises them.
pub fn normalise_settings(v: &Value) -> Result<Value, EsError> {
    fn walk(prefix: &str, v: &Value, out: &mut Map<String, Value>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            other => {
                let s = match other {
                    Value::String(s) => s.clone(),
                    Value::Array(a) => {
                        return {
                            out.insert(prefix.to_string(), Value::Array(a.clone()));
                        };
                    }
                    o => o.to_string(),
                };
                out.insert(prefix.to_string(), Value::String(s));
            }
        }
    }
    let Value::Object(_) = v else {
        return Err(EsError::illegal_argument("settings must be an object"));
    };
    let mut flat = Map::new();
    walk("", v, &mut flat);
    let mut index = Map::new();
    for (k, v) in flat {
        let k = k.strip_prefix("index.").unwrap_or(&k).to_string();
        match k.as_str() {
            // Shards and replicas are ClickHouse's business: reported as one primary, no replica.
            "number_of_shards"
            | "number_of_replicas"
            | "refresh_interval"
            | "hidden"
            | "max_result_window"
            | "codec"
            | "auto_expand_replicas"
            | "mapping.total_fields.limit"
            | "mapping.depth.limit"
            | "mapping.nested_fields.limit"
            | "max_terms_count"
            | "max_regex_length"
            | "query.default_field"
            // Index sorting: the log-native table's sorting key (docs/storage.md).
            | "sort.field"
            | "sort.order"
            | "sort.missing"
            | "sort.mode"
            // Ingest pipelines run on every write (src/es_api/ingest.rs).
            | "default_pipeline"
            | "final_pipeline" => {}
            // `lookup` mode marks an index ES|QL's LOOKUP JOIN may read (docs/esql.md); it is
            // stored like any other. `logsdb` sorts by host.name and @timestamp and rebuilds
            // `_source` from the columns (src/schema/synthetic.rs). time_series is not implemented.
            "mode" if matches!(v.as_str(), Some("standard" | "lookup" | "logsdb")) => {}
            "mode" => {
                return Err(EsError::unsupported(format!(
                    "[index.mode] [{}]: only standard, lookup and logsdb are implemented",
                    v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())
                )));
            }
            // SourceFieldMapper.INDEX_MAPPER_SOURCE_MODE_SETTING.
            "mapping.source.mode" => {
                let ok = v.as_str().map(str::to_ascii_lowercase);
                if !matches!(ok.as_deref(), Some("stored" | "synthetic" | "disabled")) {
                    return Err(EsError::illegal_argument(format!(
                        "No enum constant org.elasticsearch.index.mapper.SourceFieldMapper.Mode.{}",
                        v.as_str().unwrap_or_default().to_ascii_uppercase()
                    )));
                }
            }
            k if k.starts_with("analysis.")
                || k.starts_with("lifecycle.")
                || k.starts_with("routing.") => {}
            other => {
                return Err(EsError::illegal_argument(format!(
                    "unknown setting [index.{other}] please check that any required plugins are installed, or check the breaking changes documentation for removed settings"
                )));
            }
        }
        // Store nested, as GET shows it.
        let mut cur = &mut index;
        let parts: Vec<&str> = k.split('.').collect();
        for p in &parts[..parts.len() - 1] {
            cur = cur
                .entry(p.to_string())
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .expect("object");
        }
        cur.insert(parts[parts.len() - 1].to_string(), v);
    }
    // Shard counts are always reported as 1 / 0 (see IndexMeta::settings_json).
    index.remove("number_of_shards");
    index.remove("number_of_replicas");
    Ok(Value::Object(index))
}

pub async fn create(
    State(s): State<AppState>,
    Path(index): Path<String>,
    body: Bytes,
) -> ApiResult {
    crate::catalog::validate_index_name(&index)?;
    let body = parse_body(&body)?.unwrap_or(json!({}));
    let Value::Object(body) = body else {
        return Err(EsError::parsing("request body must be an object"));
    };
    for (k, v) in &body {
        match k.as_str() {
            // Validated on their own first, for the error Elasticsearch gives.
            "mappings" => {
                schema::parse_mapping_request(v)?;
            }
            "settings" => {
                normalise_settings(v)?;
            }
            "aliases" => {}
            other => {
                return Err(EsError::parsing(format!(
                    "unknown key [{other}] for create index"
                )));
            }
        }
    }
    // Index templates, then the request (MetadataCreateIndexService#applyCreateIndexRequestWithV2Template).
    let plan = super::templates::compose(&s, &index, Some(&body)).await?;
    crate::limits::MappingLimits::from_settings(&plan.settings).check(&plan.mappings)?;
    let meta = s
        .catalog
        .create_with(&index, plan.mappings, plan.settings, plan.aliases, None)
        .await?;
    Ok(
        ok(json!({"acknowledged": true, "shards_acknowledged": true, "index": meta.name}))
            .into_response(),
    )
}

pub async fn delete(
    State(s): State<AppState>,
    Path(index): Path<String>,
    Query(p): Query<Params>,
) -> ApiResult {
    // action.destructive_requires_name defaults to true since 8.0.
    if index.split(',').any(|i| i.contains('*') || i == "_all") {
        return Err(EsError::illegal_argument(
            "Wildcard expressions or all indices are not allowed",
        ));
    }
    // An alias is not a way to delete its indices (MetadataDeleteIndexService via
    // IndexNameExpressionResolver with ignoreAliases).
    for i in index.split(',') {
        if s.catalog.is_alias(i).await? {
            return Err(EsError::illegal_argument(format!(
                "The provided expression [{i}] matches an alias, specify the corresponding concrete indices instead."
            )));
        }
    }
    let metas = s.catalog.resolve(&index, resolve_options(&p)?).await?;
    let view = s.catalog.view().await?;
    for m in &metas {
        // MetadataDeleteIndexService: a data stream's write index goes only with its data stream.
        if let Some(ds) = &m.data_stream
            && view
                .data_streams
                .get(ds)
                .and_then(|b| b.last())
                .is_some_and(|w| w.name == m.name)
        {
            return Err(EsError::illegal_argument(format!(
                "index [{}] is the write index for data stream [{ds}] and cannot be deleted",
                m.name
            )));
        }
    }
    for m in metas {
        if !m.managed {
            return Err(EsError::illegal_argument(format!(
                "index [{}] is an existing ClickHouse table that elastichouse did not create; elastichouse does not drop it",
                m.name
            )));
        }
        s.catalog.delete(&m.name).await?;
    }
    Ok(ok(json!({"acknowledged": true})).into_response())
}

pub async fn get(
    State(s): State<AppState>,
    Path(index): Path<String>,
    Query(p): Query<Params>,
) -> ApiResult {
    let metas = s.catalog.resolve(&index, resolve_options(&p)?).await?;
    let mut out = Map::new();
    for m in metas {
        out.insert(
            m.name.clone(),
            {
                let mut v = json!({"aliases": m.aliases_json(), "mappings": m.mappings.to_json(), "settings": m.settings_json()});
                if let Some(ds) = &m.data_stream {
                    v["data_stream"] = json!(ds);
                }
                v
            },
        );
    }
    Ok(ok(Value::Object(out)).into_response())
}

pub async fn exists(
    State(s): State<AppState>,
    Path(index): Path<String>,
    Query(p): Query<Params>,
) -> ApiResult {
    let status = match s.catalog.resolve(&index, resolve_options(&p)?).await {
        Ok(v) if !v.is_empty() => StatusCode::OK,
        Ok(_) => StatusCode::NOT_FOUND,
        Err(e) if e.status == 404 => StatusCode::NOT_FOUND,
        Err(e) => return Err(e),
    };
    Ok((status, [("content-type", "application/json")]).into_response())
}

async fn mappings_of(s: &AppState, expr: &str, p: &Params) -> ApiResult {
    let metas = s.catalog.resolve(expr, resolve_options(p)?).await?;
    let mut out = Map::new();
    for m in metas {
        out.insert(m.name.clone(), json!({"mappings": m.mappings.to_json()}));
    }
    Ok(ok(Value::Object(out)).into_response())
}

pub async fn get_mapping(
    State(s): State<AppState>,
    Path(index): Path<String>,
    Query(p): Query<Params>,
) -> ApiResult {
    mappings_of(&s, &index, &p).await
}

pub async fn get_mapping_all(State(s): State<AppState>, Query(p): Query<Params>) -> ApiResult {
    mappings_of(&s, "*", &p).await
}

pub async fn put_mapping(
    State(s): State<AppState>,
    Path(index): Path<String>,
    Query(p): Query<Params>,
    body: Bytes,
) -> ApiResult {
    let body = parse_body(&body)?.ok_or_else(|| {
        EsError::action_request_validation("Validation Failed: 1: mapping source is missing;")
    })?;
    let update = schema::parse_mapping_request(&body)?;
    let metas = s.catalog.resolve(&index, resolve_options(&p)?).await?;
    for m in metas {
        let lock = s.catalog.write_lock(&m.name);
        let _g = lock.lock().await;
        let current = s.catalog.require(&m.name).await?;
        if !current.managed {
            return Err(EsError::illegal_argument(format!(
                "index [{}] is an existing ClickHouse table that elastichouse did not create; its mapping follows its columns",
                m.name
            )));
        }
        // MapperService#merge checks the merged mapping against the index's limits.
        let mut merged = current.mappings.clone();
        merged.merge(&update)?;
        crate::limits::MappingLimits::from_settings(&current.settings).check(&merged)?;
        s.catalog.update_mapping(&current, &update, &[]).await?;
    }
    Ok(ok(json!({"acknowledged": true})).into_response())
}

fn refresh_body(n: usize) -> Value {
    json!({"_shards": {"total": n, "successful": n, "failed": 0}})
}

/// Writes are visible as soon as ClickHouse acknowledged them, so refresh has nothing to do.
pub async fn refresh(
    State(s): State<AppState>,
    Path(index): Path<String>,
    Query(p): Query<Params>,
) -> ApiResult {
    let metas = s.catalog.resolve(&index, resolve_options(&p)?).await?;
    Ok(ok(refresh_body(metas.len())).into_response())
}

pub async fn refresh_all(State(s): State<AppState>) -> ApiResult {
    let metas = s.catalog.list().await?;
    Ok(ok(refresh_body(metas.len())).into_response())
}
