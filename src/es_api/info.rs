//! `GET /` and `HEAD /`: the cluster's identity, as `RestMainAction` renders it
//! (elastic/elasticsearch: server/src/main/java/org/elasticsearch/rest/root/MainResponse.java).

use super::{EsJson, ok};
use crate::server::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;

/// Lucene version shipped with each Elasticsearch minor (what clients display; none depend on it).
fn lucene_version(es: &str) -> &'static str {
    let mut it = es.split('.');
    match (it.next(), it.next().and_then(|m| m.parse::<u32>().ok())) {
        (Some("9"), _) => "10.2.2",
        (Some("8"), Some(m)) if m >= 16 => "9.12.0",
        (Some("8"), Some(m)) if m >= 12 => "9.9.2",
        (Some("8"), _) => "9.5.0",
        _ => "9.12.0",
    }
}

pub fn info_body(state: &AppState) -> serde_json::Value {
    let cfg = &state.cfg;
    let major = cfg.es_version.split('.').next().unwrap_or("8");
    // Elasticsearch 8.x reads 7.17 indices and speaks to 7.17 nodes; 9.x to 8.18.
    let (wire, index_compat) = if major == "9" {
        ("8.18.0", "8.0.0")
    } else {
        ("7.17.0", "7.0.0")
    };
    json!({
        "name": cfg.node_name,
        "cluster_name": cfg.cluster_name,
        "cluster_uuid": state.cluster_uuid,
        "version": {
            "number": cfg.es_version,
            "build_flavor": "default",
            "build_type": "tar",
            "build_hash": "elastichouse",
            "build_date": "2026-01-01T00:00:00.000Z",
            "build_snapshot": false,
            "lucene_version": lucene_version(&cfg.es_version),
            "minimum_wire_compatibility_version": wire,
            "minimum_index_compatibility_version": index_compat
        },
        "tagline": "You Know, for Search"
    })
}

pub async fn root(State(state): State<AppState>) -> EsJson {
    ok(info_body(&state))
}

pub async fn root_head() -> impl IntoResponse {
    (StatusCode::OK, [("content-type", "application/json")])
}
