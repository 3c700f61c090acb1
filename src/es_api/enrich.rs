//! Enrich policies (`PUT|GET|DELETE /_enrich/policy/{name}`, `POST …/_execute`), for ES|QL's
//! ENRICH command (put-enrich-policy-api.md, execute-enrich-policy-api.md).
//!
//! A policy is stored in the cluster metadata table (kind `enrich_policy`, like templates), so
//! every daemon sees it. `match` policies only: `range` and `geo_match` need field types that are
//! not stored here (a 400 naming them). Executing a policy marks it runnable; ENRICH then reads
//! the policy's source index as it is at query time — Elasticsearch reads a snapshot made by the
//! last execution (documented in docs/esql.md).

use super::{ApiResult, parse_body};
use crate::error::EsError;
use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use serde_json::{Value, json};

pub const KIND: &str = "enrich_policy";

fn not_found(name: &str) -> EsError {
    EsError::new(
        404,
        "resource_not_found_exception",
        format!("policy [{name}] not found"),
    )
}

/// The stored policies: name → stored document (`{"config": {"match": {…}}, "executed": bool}`).
pub async fn policies(s: &AppState) -> Result<Vec<(String, Value)>, EsError> {
    Ok(s.catalog
        .metadata_docs()
        .await?
        .iter()
        .filter(|((k, _), _)| k == KIND)
        .map(|((_, n), v)| (n.clone(), v.clone()))
        .collect())
}

/// A policy's `match` definition (name, indices, match_field, enrich_fields, query).
fn validate(name: &str, body: &Value) -> Result<Value, EsError> {
    let Some(Value::Object(m)) = Some(body) else {
        return Err(EsError::parsing("request body is required"));
    };
    let (kind, def) = match m.iter().next() {
        Some((k, v)) if m.len() == 1 => (k.as_str(), v),
        _ => {
            return Err(EsError::x_content_parse(
                "[policy] expected exactly one policy type: [match], [range] or [geo_match]",
            ));
        }
    };
    match kind {
        "match" => {}
        "range" | "geo_match" => {
            return Err(EsError::unsupported(format!("enrich policy type [{kind}]")));
        }
        other => {
            return Err(EsError::x_content_parse(format!(
                "[policy] unknown field [{other}]"
            )));
        }
    }
    let indices: Vec<Value> = match &def["indices"] {
        Value::String(s) => vec![json!(s)],
        Value::Array(a) if !a.is_empty() && a.iter().all(Value::is_string) => a.clone(),
        _ => {
            return Err(EsError::x_content_parse(
                "[match] failed to parse field [indices]",
            ));
        }
    };
    let Some(match_field) = def["match_field"].as_str() else {
        return Err(EsError::x_content_parse(
            "[match] failed to parse field [match_field]",
        ));
    };
    let fields: Vec<Value> = match &def["enrich_fields"] {
        Value::String(s) => vec![json!(s)],
        Value::Array(a) if !a.is_empty() && a.iter().all(Value::is_string) => a.clone(),
        _ => {
            return Err(EsError::x_content_parse(
                "[match] failed to parse field [enrich_fields]",
            ));
        }
    };
    if let Some(q) = def.get("query") {
        crate::dsl::parse_query(q)?;
    }
    if let Some(other) = def.as_object().and_then(|o| {
        o.keys().find(|k| {
            !matches!(
                k.as_str(),
                "indices" | "match_field" | "enrich_fields" | "query"
            )
        })
    }) {
        return Err(EsError::x_content_parse(format!(
            "[match] unknown field [{other}]"
        )));
    }
    let mut out = json!({
        "name": name, "indices": indices, "match_field": match_field, "enrich_fields": fields
    });
    if let Some(q) = def.get("query") {
        out["query"] = q.clone();
    }
    Ok(out)
}

/// `PUT /_enrich/policy/{name}`: a policy cannot be replaced (Elasticsearch: delete it first).
pub async fn put(State(s): State<AppState>, Path(name): Path<String>, body: Bytes) -> ApiResult {
    let body = parse_body(&body)?.ok_or_else(|| EsError::parsing("request body is required"))?;
    let def = validate(&name, &body)?;
    if policies(&s).await?.iter().any(|(n, _)| *n == name) {
        return Err(EsError::new(
            400,
            "resource_already_exists_exception",
            format!("policy [{name}] already exists"),
        ));
    }
    let doc = json!({"config": {"match": def}, "executed": false});
    s.catalog.put_metadata_doc(KIND, &name, Some(&doc)).await?;
    Ok(super::ok(json!({"acknowledged": true})).into_response())
}

async fn get_some(s: &AppState, names: Option<&str>) -> ApiResult {
    let wanted: Option<Vec<&str>> = names.map(|n| n.split(',').collect());
    let list: Vec<Value> = policies(s)
        .await?
        .into_iter()
        .filter(|(n, _)| {
            wanted
                .as_ref()
                .is_none_or(|w| w.iter().any(|p| crate::catalog::glob_match(p, n)))
        })
        .map(|(_, v)| json!({"config": v["config"]}))
        .collect();
    Ok(super::ok(json!({ "policies": list })).into_response())
}

/// `GET /_enrich/policy/{name}` (names and wildcards, comma-separated).
pub async fn get(State(s): State<AppState>, Path(name): Path<String>) -> ApiResult {
    get_some(&s, Some(&name)).await
}

/// `GET /_enrich/policy`.
pub async fn get_all(State(s): State<AppState>) -> ApiResult {
    get_some(&s, None).await
}

/// `DELETE /_enrich/policy/{name}`.
pub async fn delete(State(s): State<AppState>, Path(name): Path<String>) -> ApiResult {
    if !policies(&s).await?.iter().any(|(n, _)| *n == name) {
        return Err(not_found(&name));
    }
    s.catalog.put_metadata_doc(KIND, &name, None).await?;
    Ok(super::ok(json!({"acknowledged": true})).into_response())
}

/// `POST|PUT /_enrich/policy/{name}/_execute`: checks the source indices and marks the policy
/// executed; it completes at once (`wait_for_completion` has nothing to wait for).
pub async fn execute(State(s): State<AppState>, Path(name): Path<String>) -> ApiResult {
    let Some((_, mut doc)) = policies(&s).await?.into_iter().find(|(n, _)| *n == name) else {
        return Err(not_found(&name));
    };
    let def = &doc["config"]["match"];
    let indices: Vec<&str> = def["indices"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let metas = s
        .catalog
        .resolve(
            &indices.join(","),
            crate::catalog::ResolveOptions::default(),
        )
        .await?;
    let field = def["match_field"].as_str().unwrap_or("");
    if !metas
        .iter()
        .any(|m| m.mappings.leaf_fields().iter().any(|f| f.path == field))
    {
        return Err(EsError::illegal_argument(format!(
            "Could not traverse mapping to field [{field}]. The [{field}] field must be regular field in the source indices"
        )));
    }
    doc["executed"] = json!(true);
    s.catalog.put_metadata_doc(KIND, &name, Some(&doc)).await?;
    Ok(super::ok(json!({"status": {"phase": "COMPLETE"}})).into_response())
}
