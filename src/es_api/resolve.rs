//! `GET /_resolve/index/{expr}`: the indices, aliases and data streams an expression names, as
//! Elasticsearch's ResolveIndexAction lists them (names and wildcards match each kind by its own
//! name; nothing is expanded into its members; `expand_wildcards` decides whether hidden ones show).

use super::{ApiResult, Params, flag, ok};
use crate::catalog::{IndexMeta, glob_match};
use crate::error::EsError;
use crate::server::AppState;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Which states `expand_wildcards` lets wildcards reach. Every index is open here.
struct Expand {
    open: bool,
    hidden: bool,
}

fn expand_wildcards(p: &Params) -> Result<Expand, EsError> {
    let mut e = Expand {
        open: false,
        hidden: false,
    };
    let v = p
        .get("expand_wildcards")
        .map(String::as_str)
        .unwrap_or("open");
    for part in v.split(',').map(str::trim) {
        match part {
            "open" => e.open = true,
            "closed" => {}
            "hidden" => e.hidden = true,
            "all" => {
                e.open = true;
                e.hidden = true;
            }
            "none" => {}
            other => {
                return Err(EsError::illegal_argument(format!(
                    "No enum constant org.elasticsearch.action.support.IndicesOptions.WildcardStates.{}",
                    other.to_uppercase()
                )));
            }
        }
    }
    Ok(e)
}

fn index_hidden(m: &IndexMeta) -> bool {
    m.data_stream.is_some() || m.settings["hidden"] == json!("true")
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Index,
    Alias,
    DataStream,
}

pub async fn resolve_index(
    State(s): State<AppState>,
    Path(expr): Path<String>,
    Query(p): Query<Params>,
) -> ApiResult {
    let expand = expand_wildcards(&p)?;
    let ignore_unavailable = flag(&p, "ignore_unavailable")?;
    let view = s.catalog.view().await?;
    let templates = super::templates::index_templates(&s).await?;
    let ds_hidden = |name: &str| {
        super::templates::find_template(&templates, name)
            .and_then(|(_, t)| t["data_stream"]["hidden"].as_bool())
            .unwrap_or(false)
    };
    // Every resource with its kind and whether it is hidden.
    let mut all: BTreeMap<(String, Kind), bool> = BTreeMap::new();
    for (n, m) in &view.indices {
        all.insert((n.clone(), Kind::Index), index_hidden(m));
    }
    for (a, members) in &view.aliases {
        let hidden = members
            .iter()
            .any(|m| m.aliases[a]["is_hidden"] == json!(true));
        all.insert((a.clone(), Kind::Alias), hidden);
    }
    for n in view.data_streams.keys() {
        all.insert((n.clone(), Kind::DataStream), ds_hidden(n));
    }

    let mut picked: Vec<(String, Kind)> = Vec::new();
    let parts: Vec<&str> = expr
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .collect();
    for (i, part) in parts.iter().enumerate() {
        if let Some(excl) = part.strip_prefix('-')
            && i > 0
        {
            picked.retain(|(n, _)| !glob_match(excl, n));
            continue;
        }
        let part = if *part == "_all" { "*" } else { part };
        if part.contains('*') {
            if !expand.open {
                continue;
            }
            for ((n, k), hidden) in &all {
                let visible =
                    expand.hidden || (!hidden && (!n.starts_with('.') || part.starts_with('.')));
                if visible && glob_match(part, n) && !picked.iter().any(|x| x.0 == *n && x.1 == *k)
                {
                    picked.push((n.clone(), *k));
                }
            }
        } else {
            let found: Vec<(String, Kind)> =
                all.keys().filter(|(n, _)| n == part).cloned().collect();
            if found.is_empty() && !ignore_unavailable {
                return Err(EsError::index_not_found(part));
            }
            for f in found {
                if !picked.contains(&f) {
                    picked.push(f);
                }
            }
        }
    }
    picked.sort();

    let mut indices = Vec::new();
    let mut aliases = Vec::new();
    let mut data_streams = Vec::new();
    for (name, kind) in picked {
        match kind {
            Kind::Index => {
                let m: &Arc<IndexMeta> = &view.indices[&name];
                let mut attributes = vec!["open"];
                if index_hidden(m) {
                    attributes.push("hidden");
                }
                attributes.sort_unstable();
                let mut v = json!({"name": name});
                if !m.aliases.is_empty() {
                    v["aliases"] = json!(m.aliases.keys().collect::<Vec<_>>());
                }
                v["attributes"] = json!(attributes);
                if let Some(ds) = &m.data_stream {
                    v["data_stream"] = json!(ds);
                }
                indices.push(v);
            }
            Kind::Alias => {
                let members: Vec<&str> = view.aliases[&name]
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect();
                aliases.push(json!({"name": name, "indices": members}));
            }
            Kind::DataStream => {
                let backing: Vec<&str> = view.data_streams[&name]
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect();
                data_streams.push(json!({
                    "name": name,
                    "backing_indices": backing,
                    "timestamp_field": "@timestamp",
                }));
            }
        }
    }
    Ok(ok(json!({
        "indices": indices,
        "aliases": aliases,
        "data_streams": data_streams,
    }))
    .into_response())
}
