//! Index aliases: `POST /_aliases`, `PUT|DELETE /{index}/_alias/{name}`, `GET|HEAD /_alias…`.
//!
//! An alias lives in the metadata of each index it points to (the table comment, like the
//! mapping), as in Elasticsearch's `IndexMetadata`. The catalog expands alias names in every index
//! expression and sends writes through an alias to its write index. See docs/storage.md.
//! (elastic/elasticsearch: MetadataIndexAliasesService, IndicesAliasesRequest, RestGetAliasesAction.)

use super::{ApiResult, EsJson, Params, ok, parse_body};
use crate::catalog::{View, glob_match, invalid_alias_name};
use crate::error::EsError;
use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The alias metadata we keep and show (`is_write_index`, `is_hidden`, `filter`); routing is
/// refused with a 400 that names it. `names` names the alias(es) in errors.
pub fn alias_properties(
    action: &str,
    names: &str,
    m: &Map<String, Value>,
) -> Result<Value, EsError> {
    let mut out = Map::new();
    for (k, v) in m {
        match k.as_str() {
            "is_write_index" | "is_hidden" => match v {
                Value::Bool(_) => {
                    out.insert(k.clone(), v.clone());
                }
                Value::Null => {}
                _ => {
                    return Err(EsError::x_content_parse(format!(
                        "[{action}] failed to parse field [{k}]"
                    )));
                }
            },
            // AliasValidator#validateAliasFilter: the filter must be a query; searches through
            // the alias AND it to their query (Catalog::resolve, plan::search_filter).
            "filter" => match v {
                Value::Null => {}
                Value::Object(o) if o.is_empty() => {}
                _ => {
                    crate::dsl::parse_query(v).map_err(|e| {
                        EsError::illegal_argument(format!(
                            "failed to parse filter for alias [{names}]"
                        ))
                        .caused_by(e)
                    })?;
                    out.insert(k.clone(), v.clone());
                }
            },
            "routing" | "index_routing" | "search_routing" => {
                return Err(EsError::unsupported("alias routing"));
            }
            _ => {}
        }
    }
    Ok(Value::Object(out))
}

/// Alias-name rules (MetadataCreateIndexService#validateIndexOrAliasName; unlike index names,
/// aliases may contain upper-case letters).
pub fn validate_alias_name(alias: &str) -> Result<(), EsError> {
    if alias.is_empty() {
        return Err(EsError::illegal_argument("alias name is required"));
    }
    match crate::catalog::validate_index_name(alias) {
        Ok(()) => Ok(()),
        Err(e) if e.reason.ends_with("must be lowercase") => Ok(()),
        Err(e) => {
            let why = e
                .reason
                .split_once("], ")
                .map(|(_, w)| w.to_string())
                .unwrap_or(e.reason);
            Err(invalid_alias_name(alias, &why))
        }
    }
}

/// `aliases_not_found_exception`, 404 (AliasesNotFoundException).
pub fn aliases_not_found(names: &[String]) -> EsError {
    let list = names.join(",");
    EsError::new(
        404,
        "aliases_not_found_exception",
        format!("aliases [{list}] missing"),
    )
    .with("resource.type", "aliases")
    .with("resource.id", list)
}

/// TransportBulkAction / TransportUpdateAction: `require_alias` on a target that is not an alias.
pub fn require_alias_error(index: &str) -> EsError {
    EsError {
        reason: format!(
            "no such index [{index}] and [require_alias] request flag is [true] and [{index}] is not an alias"
        ),
        ..EsError::index_not_found(index)
    }
}

enum Action {
    Add {
        indices: Vec<String>,
        aliases: Vec<String>,
        props: Value,
    },
    Remove {
        indices: Vec<String>,
        aliases: Vec<String>,
        must_exist: Option<bool>,
    },
    RemoveIndex {
        indices: Vec<String>,
    },
}

fn names_of(m: &Map<String, Value>, one: &str, many: &str) -> Result<Vec<String>, EsError> {
    let mut out = Vec::new();
    if let Some(v) = m.get(one) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(a) => out.extend(a.iter().filter_map(|x| x.as_str().map(String::from))),
            _ => {
                return Err(EsError::x_content_parse(format!(
                    "[{one}] must be a string"
                )));
            }
        }
    }
    if let Some(v) = m.get(many) {
        match v {
            Value::Array(a) => out.extend(a.iter().filter_map(|x| x.as_str().map(String::from))),
            Value::String(s) => out.push(s.clone()),
            _ => {
                return Err(EsError::x_content_parse(format!(
                    "[{many}] must be an array"
                )));
            }
        }
    }
    Ok(out)
}

fn parse_action(v: &Value) -> Result<Action, EsError> {
    let Some((kind, body)) = v.as_object().and_then(|o| o.iter().next()) else {
        return Err(EsError::illegal_argument("No action specified"));
    };
    let Some(m) = body.as_object() else {
        return Err(EsError::x_content_parse(format!(
            "[{kind}] expected an object"
        )));
    };
    const KNOWN: [&str; 12] = [
        "index",
        "indices",
        "alias",
        "aliases",
        "filter",
        "routing",
        "index_routing",
        "search_routing",
        "is_write_index",
        "is_hidden",
        "must_exist",
        "must_not_exist",
    ];
    for k in m.keys() {
        if !KNOWN.contains(&k.as_str()) {
            return Err(EsError::x_content_parse(format!(
                "[{kind}] unknown field [{k}]"
            )));
        }
    }
    let indices = names_of(m, "index", "indices")?;
    if indices.is_empty() {
        // IndicesAliasesRequest.AliasActions#validate
        return Err(EsError::action_request_validation(
            "Validation Failed: 1: One of [index] or [indices] is required;",
        ));
    }
    let aliases = names_of(m, "alias", "aliases")?;
    match kind.as_str() {
        "add" => {
            if aliases.is_empty() {
                return Err(EsError::action_request_validation(
                    "Validation Failed: 1: One of [alias] or [aliases] is required;",
                ));
            }
            let props = alias_properties(kind, &aliases.join(","), m)?;
            Ok(Action::Add {
                indices,
                aliases,
                props,
            })
        }
        "remove" => {
            if aliases.is_empty() {
                return Err(EsError::action_request_validation(
                    "Validation Failed: 1: One of [alias] or [aliases] is required;",
                ));
            }
            Ok(Action::Remove {
                indices,
                aliases,
                must_exist: m.get("must_exist").and_then(Value::as_bool),
            })
        }
        "remove_index" => Ok(Action::RemoveIndex { indices }),
        other => Err(EsError::x_content_parse(format!(
            "[aliases] unknown field [{other}]"
        ))),
    }
}

/// Concrete indices of the `index` part of an alias action: names, wildcards and aliases
/// resolve to indices; a data stream (or its backing index) cannot take aliases here.
async fn action_indices(s: &AppState, names: &[String]) -> Result<Vec<String>, EsError> {
    let metas = s
        .catalog
        .resolve(&names.join(","), Default::default())
        .await?;
    if metas.is_empty() {
        return Err(EsError::index_not_found(&names.join(",")));
    }
    if let Some(m) = metas.iter().find(|m| m.data_stream.is_some()) {
        return Err(EsError::unsupported(format!(
            "aliases on data streams and their backing indices ([{}])",
            m.name
        )));
    }
    Ok(metas.iter().map(|m| m.name.clone()).collect())
}

/// Applies alias actions the way MetadataIndexAliasesService does: the whole new state is computed
/// and validated first, then written (deleted indices first, then the changed alias sets).
pub async fn apply_actions(s: &AppState, actions: Vec<Value>) -> Result<(), EsError> {
    if actions.is_empty() {
        return Err(EsError::action_request_validation(
            "Validation Failed: 1: no actions specified;",
        ));
    }
    let parsed: Vec<Action> = actions.iter().map(parse_action).collect::<Result<_, _>>()?;
    let view = s.catalog.view().await?;
    let mut state: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    let mut deleted: BTreeSet<String> = BTreeSet::new();
    let current = |state: &mut BTreeMap<String, BTreeMap<String, Value>>, v: &View, i: &str| {
        if !state.contains_key(i) {
            let a = v
                .indices
                .get(i)
                .map(|m| m.aliases.clone())
                .unwrap_or_default();
            state.insert(i.to_string(), a);
        }
    };
    for action in parsed {
        match action {
            Action::Add {
                indices,
                aliases,
                props,
            } => {
                let indices = action_indices(s, &indices).await?;
                for alias in &aliases {
                    validate_alias_name(alias)?;
                    let clashes = (view.indices.contains_key(alias) && !deleted.contains(alias))
                        || view.data_streams.contains_key(alias);
                    if clashes {
                        return Err(invalid_alias_name(
                            alias,
                            "an index or data stream exists with the same name as the alias",
                        ));
                    }
                }
                for i in &indices {
                    current(&mut state, &view, i);
                    let set = state.get_mut(i).expect("loaded");
                    for alias in &aliases {
                        set.insert(alias.clone(), props.clone());
                    }
                }
            }
            Action::Remove {
                indices,
                aliases,
                must_exist,
            } => {
                let indices = action_indices(s, &indices).await?;
                let mut found = false;
                for i in &indices {
                    current(&mut state, &view, i);
                    let set = state.get_mut(i).expect("loaded");
                    let before = set.len();
                    set.retain(|name, _| {
                        !aliases
                            .iter()
                            .any(|p| p == "_all" || p == name || glob_match(p, name))
                    });
                    found |= set.len() != before;
                }
                if !found && must_exist != Some(false) {
                    return Err(aliases_not_found(&aliases));
                }
            }
            Action::RemoveIndex { indices } => {
                for n in &indices {
                    if view.aliases.contains_key(n) && !view.indices.contains_key(n) {
                        return Err(EsError::illegal_argument(format!(
                            "The provided expression [{n}] matches an alias, specify the corresponding concrete indices instead."
                        )));
                    }
                }
                for i in action_indices(s, &indices).await? {
                    state.remove(&i);
                    deleted.insert(i);
                }
            }
        }
    }
    // At most one write index per alias, over the whole new state (MetadataIndexAliasesService).
    let mut writers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, meta) in &view.indices {
        if deleted.contains(name) {
            continue;
        }
        let aliases = state.get(name).unwrap_or(&meta.aliases);
        for (a, props) in aliases {
            if props["is_write_index"] == json!(true) {
                writers.entry(a).or_default().push(name);
            }
        }
    }
    for (a, mut w) in writers {
        if w.len() > 1 {
            w.sort_unstable();
            return Err(EsError::new(
                500,
                "illegal_state_exception",
                format!(
                    "alias [{a}] has more than one write index [{}]",
                    w.join(",")
                ),
            ));
        }
    }
    for i in &deleted {
        let meta = s.catalog.require(i).await?;
        if !meta.managed {
            return Err(EsError::illegal_argument(format!(
                "index [{i}] is an existing ClickHouse table that elastichouse did not create; elastichouse does not drop it"
            )));
        }
        s.catalog.delete(i).await?;
    }
    for (i, aliases) in state {
        let unchanged = view.indices.get(&i).is_some_and(|m| m.aliases == aliases);
        if !unchanged {
            s.catalog.set_aliases(&i, aliases).await?;
        }
    }
    Ok(())
}

fn acknowledged() -> ApiResult {
    Ok(ok(json!({"acknowledged": true, "errors": false})).into_response())
}

/// `POST /_aliases`
pub async fn update_aliases(State(s): State<AppState>, body: Bytes) -> ApiResult {
    let body = parse_body(&body)?.ok_or_else(|| {
        EsError::action_request_validation("Validation Failed: 1: no actions specified;")
    })?;
    let Some(obj) = body.as_object() else {
        return Err(EsError::parsing("request body must be an object"));
    };
    if let Some(k) = obj.keys().find(|k| *k != "actions") {
        return Err(EsError::x_content_parse(format!(
            "[1:2] [aliases] unknown field [{k}]"
        )));
    }
    let actions = obj
        .get("actions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    apply_actions(&s, actions).await?;
    acknowledged()
}

/// `PUT|POST /{index}/_alias/{name}` (body: `is_write_index`, `is_hidden`, …).
pub async fn put_alias(
    State(s): State<AppState>,
    Path((index, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let mut add = match parse_body(&body)? {
        Some(Value::Object(m)) => m,
        None => Map::new(),
        Some(_) => return Err(EsError::parsing("request body must be an object")),
    };
    add.insert("index".into(), json!(index));
    add.insert("alias".into(), json!(name));
    apply_actions(&s, vec![json!({ "add": add })]).await?;
    acknowledged()
}

/// `DELETE /{index}/_alias/{name}`
pub async fn delete_alias(
    State(s): State<AppState>,
    Path((index, name)): Path<(String, String)>,
) -> ApiResult {
    let aliases: Vec<&str> = name.split(',').collect();
    apply_actions(
        &s,
        vec![json!({"remove": {"index": index, "aliases": aliases}})],
    )
    .await?;
    acknowledged()
}

/// The answer of `GET /_alias` (RestGetAliasesAction#buildRestResponse): with alias names given,
/// only indices having one of them are listed and a missing explicit name turns the answer into a
/// 404 that still lists what was found.
async fn get_aliases_impl(
    s: &AppState,
    index: Option<&str>,
    names: Option<&str>,
    p: &Params,
) -> Result<(StatusCode, Value), EsError> {
    let metas = match index {
        Some(i) => {
            s.catalog
                .resolve(i, super::indices::resolve_options(p)?)
                .await?
        }
        None => s.catalog.list().await?,
    };
    let requested: Vec<&str> = names
        .map(|n| n.split(',').filter(|x| !x.is_empty()).collect())
        .unwrap_or_default();
    let wanted = |alias: &str| -> bool {
        if requested.is_empty() {
            return true;
        }
        let mut keep = false;
        for (i, r) in requested.iter().enumerate() {
            if let Some(excl) = r.strip_prefix('-')
                && i > 0
            {
                if glob_match(excl, alias) {
                    keep = false;
                }
            } else if *r == "_all" || *r == "*" || glob_match(r, alias) {
                keep = true;
            }
        }
        keep
    };
    let mut out = Map::new();
    let mut returned: BTreeSet<String> = BTreeSet::new();
    for m in &metas {
        // GetAliasesRequest expands to hidden indices too (strictExpandHidden).
        let aliases: Map<String, Value> = m
            .aliases
            .iter()
            .filter(|(a, _)| wanted(a))
            .map(|(a, v)| (a.clone(), v.clone()))
            .collect();
        returned.extend(aliases.keys().cloned());
        if names.is_some() && aliases.is_empty() {
            continue;
        }
        out.insert(m.name.clone(), json!({ "aliases": aliases }));
    }
    let first_wildcard = requested
        .iter()
        .position(|r| r.contains('*'))
        .unwrap_or(requested.len());
    let mut missing: BTreeSet<String> = BTreeSet::new();
    for (i, r) in requested.iter().enumerate() {
        if *r == "_all" || r.contains('*') || (i > first_wildcard && r.starts_with('-')) {
            continue;
        }
        let excluded = requested[(i + 1).max(first_wildcard)..]
            .iter()
            .filter_map(|x| x.strip_prefix('-'))
            .any(|x| x == "_all" || glob_match(x, r));
        if !excluded && !returned.contains(*r) {
            missing.insert(r.to_string());
        }
    }
    if missing.is_empty() {
        return Ok((StatusCode::OK, Value::Object(out)));
    }
    let list: Vec<String> = missing.into_iter().collect();
    let msg = if list.len() == 1 {
        format!("alias [{}] missing", list[0])
    } else {
        format!("aliases [{}] missing", list.join(","))
    };
    let mut body = Map::new();
    body.insert("error".into(), json!(msg));
    body.insert("status".into(), json!(404));
    body.extend(out);
    Ok((StatusCode::NOT_FOUND, Value::Object(body)))
}

pub async fn get_all(State(s): State<AppState>, Query(p): Query<Params>) -> ApiResult {
    let (st, v) = get_aliases_impl(&s, None, None, &p).await?;
    Ok(EsJson(st, v).into_response())
}

pub async fn get_named(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(p): Query<Params>,
) -> ApiResult {
    let (st, v) = get_aliases_impl(&s, None, Some(&name), &p).await?;
    Ok(EsJson(st, v).into_response())
}

pub async fn head_named(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(p): Query<Params>,
) -> ApiResult {
    let (st, _) = get_aliases_impl(&s, None, Some(&name), &p).await?;
    Ok(st.into_response())
}

pub async fn get_of_index(
    State(s): State<AppState>,
    Path(index): Path<String>,
    Query(p): Query<Params>,
) -> ApiResult {
    let (st, v) = get_aliases_impl(&s, Some(&index), None, &p).await?;
    Ok(EsJson(st, v).into_response())
}

pub async fn get_of_index_named(
    State(s): State<AppState>,
    Path((index, name)): Path<(String, String)>,
    Query(p): Query<Params>,
) -> ApiResult {
    let (st, v) = get_aliases_impl(&s, Some(&index), Some(&name), &p).await?;
    Ok(EsJson(st, v).into_response())
}

pub async fn head_of_index_named(
    State(s): State<AppState>,
    Path((index, name)): Path<(String, String)>,
    Query(p): Query<Params>,
) -> ApiResult {
    let (st, _) = get_aliases_impl(&s, Some(&index), Some(&name), &p).await?;
    Ok(st.into_response())
}

/// `GET /_cat/aliases[/{name}]`: alias, index, filter, routing.index, routing.search,
/// is_write_index (RestAliasAction), as text or `format=json`.
pub async fn cat_aliases(s: &AppState, name: Option<&str>, p: &Params) -> ApiResult {
    let (_, v) = get_aliases_impl(s, None, name, p).await?;
    let mut rows: Vec<[String; 6]> = Vec::new();
    for (index, entry) in v.as_object().into_iter().flatten() {
        let Some(aliases) = entry["aliases"].as_object() else {
            continue;
        };
        for (alias, props) in aliases {
            let write = match props["is_write_index"].as_bool() {
                Some(b) => b.to_string(),
                None => "-".into(),
            };
            // RestAliasAction: `*` for a filtered alias.
            let filter = if props.get("filter").is_some() {
                "*"
            } else {
                "-"
            };
            rows.push([
                alias.clone(),
                index.clone(),
                filter.into(),
                "-".into(),
                "-".into(),
                write,
            ]);
        }
    }
    rows.sort();
    const HEADERS: [&str; 6] = [
        "alias",
        "index",
        "filter",
        "routing.index",
        "routing.search",
        "is_write_index",
    ];
    super::cat::render(
        p,
        &HEADERS,
        &HEADERS,
        rows.into_iter().map(|r| r.to_vec()).collect(),
    )
}

pub async fn cat_all(State(s): State<AppState>, Query(p): Query<Params>) -> ApiResult {
    cat_aliases(&s, None, &p).await
}

pub async fn cat_named(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(p): Query<Params>,
) -> ApiResult {
    cat_aliases(&s, Some(&name), &p).await
}
