//! `POST /_reindex`: copies the documents of one or more indices that match a query into another
//! index, keeping their `_id`s (docs-reindex.html, RestReindexAction, ReindexRequest).
//!
//! Runs on the by-scroll engine of src/es_api/by_query.rs: batches read in `_seq_no` order from
//! the source indices with the query's WHERE, written through the normal write path to `dest`
//! (which creates the index as a write would, applies its pipelines and templates, and counts
//! `created`/`updated`; `op_type: create` makes an existing `_id` a version conflict).

use super::by_query::{self, Dest, Job, Kind};
use super::update_script::UpdateScript;
use super::{ApiResult, Params, parse_body};
use crate::dsl::{self, Query};
use crate::error::EsError;
use crate::ingest::bulk::OpType;
use crate::render::SourceFilter;
use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Query as UrlQuery, State};
use serde_json::{Value, json};

/// RestReindexAction's parameters.
const REINDEX_PARAMS: &[&str] = &[
    "refresh",
    "timeout",
    "wait_for_active_shards",
    "wait_for_completion",
    "requests_per_second",
    "scroll",
    "slices",
    "max_docs",
    "require_alias",
];

fn unknown(section: &str, k: &str) -> EsError {
    EsError::parsing(format!("[{section}] unknown field [{k}]"))
}

pub async fn reindex(
    State(s): State<AppState>,
    OriginalUri(uri): OriginalUri,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> ApiResult {
    super::search::check_params(uri.path(), &p, REINDEX_PARAMS)?;
    let common = by_query::common_params(&p)?;
    let Some(Value::Object(body)) = parse_body(&body)? else {
        return Err(EsError::action_request_validation(
            "Validation Failed: 1: use _all if you really want to copy from all existing indexes;2: index must be specified;",
        ));
    };
    let mut sources: Vec<String> = Vec::new();
    let mut query = Query::MatchAll { boost: 1.0 };
    let mut filter = SourceFilter::All;
    let mut batch = common.batch;
    let mut dest_index = None;
    let mut op_type = OpType::Index;
    let mut pipeline = None;
    let mut script = None;
    let mut max_docs = None;
    let mut abort = true;
    for (k, v) in &body {
        match k.as_str() {
            "source" => {
                let Some(m) = v.as_object() else {
                    return Err(EsError::parsing("[source] must be an object"));
                };
                for (k, v) in m {
                    match k.as_str() {
                        "index" => {
                            sources = match v {
                                Value::String(s) => {
                                    s.split(',').map(|x| x.trim().to_string()).collect()
                                }
                                Value::Array(a) => a
                                    .iter()
                                    .filter_map(Value::as_str)
                                    .map(str::to_string)
                                    .collect(),
                                _ => {
                                    return Err(EsError::parsing(
                                        "[source] [index] must be a string or a list",
                                    ));
                                }
                            }
                        }
                        "query" => query = dsl::parse_query(v)?,
                        "_source" => {
                            filter = SourceFilter::from_json(v).map_err(EsError::parsing)?
                        }
                        "size" => {
                            batch = v.as_u64().filter(|n| *n > 0).ok_or_else(|| {
                                EsError::parsing("[source] [size] must be a positive number")
                            })?
                        }
                        "remote" => return Err(EsError::unsupported("reindex from [remote]")),
                        "slice" => {
                            return Err(EsError::unsupported("[source] [slice] (manual slicing)"));
                        }
                        "sort" => return Err(EsError::unsupported("[source] [sort]")),
                        other => return Err(unknown("source", other)),
                    }
                }
            }
            "dest" => {
                let Some(m) = v.as_object() else {
                    return Err(EsError::parsing("[dest] must be an object"));
                };
                for (k, v) in m {
                    match (k.as_str(), v.as_str()) {
                        ("index", Some(i)) => dest_index = Some(i.to_string()),
                        ("op_type", Some("index")) => op_type = OpType::Index,
                        ("op_type", Some("create")) => op_type = OpType::Create,
                        ("op_type", Some(o)) => {
                            return Err(EsError::illegal_argument(format!(
                                "opType must be 'create' or 'index', found: [{o}]"
                            )));
                        }
                        ("pipeline", Some(pl)) => pipeline = Some(pl.to_string()),
                        ("version_type", Some("internal")) => {}
                        ("version_type", Some(t)) => {
                            return Err(EsError::unsupported(format!(
                                "reindex with [dest] [version_type] [{t}]"
                            )));
                        }
                        ("routing", Some("keep")) => {}
                        ("routing", _) => {
                            return Err(EsError::unsupported("reindex with [dest] [routing]"));
                        }
                        (other, _) => return Err(unknown("dest", other)),
                    }
                }
            }
            "script" => script = Some(UpdateScript::compile(v)?),
            "max_docs" => max_docs = Some(by_query::parse_max_docs(v)?),
            "size" => {
                return Err(EsError::parsing(
                    "[reindex] unknown field [size] (use [max_docs])",
                ));
            }
            "conflicts" => abort = by_query::parse_conflicts(v.as_str().unwrap_or_default())?,
            other => return Err(unknown("reindex", other)),
        }
    }
    let mut problems = Vec::new();
    if sources.is_empty() {
        problems.push("use _all if you really want to copy from all existing indexes");
    }
    if dest_index.is_none() {
        problems.push("index must be specified");
    }
    if !problems.is_empty() {
        let list: String = problems
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{}: {p};", i + 1))
            .collect();
        return Err(EsError::action_request_validation(format!(
            "Validation Failed: {list}"
        )));
    }
    let dest = dest_index.expect("checked");
    if let Some(v) = p.get("max_docs") {
        max_docs = Some(by_query::parse_max_docs(&json!(v))?);
    }
    let metas = s
        .catalog
        .resolve(&sources.join(","), Default::default())
        .await?;
    // Writing into an index being read (ReindexValidator#validateAgainstAliases).
    let dest_concrete = match s.catalog.write_target(&dest).await? {
        crate::catalog::WriteTarget::Index(m)
        | crate::catalog::WriteTarget::Alias(m)
        | crate::catalog::WriteTarget::DataStream(m) => Some(m.name.clone()),
        crate::catalog::WriteTarget::Missing => None,
    };
    if let Some(d) = &dest_concrete
        && metas.iter().any(|m| &m.name == d)
    {
        return Err(EsError::action_request_validation(format!(
            "Validation Failed: 1: reindex cannot write into an index its reading from [{d}];"
        )));
    }
    let job = Job {
        kind: Kind::Reindex,
        description: format!(
            "reindex from [{}] to [{dest}]",
            metas
                .iter()
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        metas,
        query,
        max_docs,
        abort_on_conflict: abort,
        batch,
        script,
        pipeline,
        dest: Some(Dest {
            index: dest,
            op_type,
            source_filter: filter,
        }),
        rps: common.rps,
    };
    by_query::start(s, job, common.wait).await
}
