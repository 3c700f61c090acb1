//! Composable index templates and component templates: `PUT|GET|HEAD|DELETE /_index_template`,
//! `PUT|GET|DELETE /_component_template`, `POST /_index_template/_simulate_index/{name}`, and the
//! composition that shapes every new index (explicit `PUT /{index}` or auto-created by a write).
//!
//! Templates are cluster metadata: they live in the metadata table (see docs/storage.md), not in the
//! daemon. Composition follows MetadataIndexTemplateService: the matching template with the
//! highest priority wins; its component templates apply in `composed_of` order, then its own
//! `template`, then the create-index request; mappings merge field by field, settings and aliases
//! key by key.

use super::{ApiResult, EsJson, Params, flag, ok, parse_body};
use crate::catalog::glob_match;
use crate::error::{EsError, EsResult};
use crate::schema::{self, Mappings};
use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

pub const INDEX_TEMPLATE: &str = "index_template";
pub const COMPONENT_TEMPLATE: &str = "component_template";

/// What a new index is created with.
#[derive(Debug, Clone)]
pub struct Composed {
    pub mappings: Mappings,
    /// `settings.index` as stored (see `indices::normalise_settings`).
    pub settings: Value,
    pub aliases: BTreeMap<String, Value>,
    /// The matching template, if any.
    pub template: Option<String>,
    /// The template's `data_stream` object when it makes data streams.
    pub data_stream: Option<Value>,
    /// `template.data_stream_options` composed over the component templates (the failure store,
    /// src/es_api/failure_store.rs); `None` when no layer sets them (or the last resets them).
    pub data_stream_options: Option<Value>,
    /// The template's `allow_auto_create` and index patterns (for the error when it forbids).
    pub allow_auto_create: Option<bool>,
    pub index_patterns: Vec<String>,
}

impl Composed {
    /// AutoCreateIndex#shouldAutoCreate: a matching template with `allow_auto_create: false`
    /// forbids creating the index by a write.
    pub fn auto_create_forbidden(&self, index: &str) -> Option<EsError> {
        (self.allow_auto_create == Some(false)).then(|| EsError {
            reason: format!(
                "no such index [{index}] and composable template [{}] forbids index auto creation",
                self.index_patterns.join(", ")
            ),
            ..EsError::index_not_found(index)
        })
    }
}

impl Default for Composed {
    fn default() -> Self {
        Composed {
            mappings: Mappings::default(),
            settings: json!({}),
            aliases: BTreeMap::new(),
            template: None,
            data_stream: None,
            data_stream_options: None,
            allow_auto_create: None,
            index_patterns: vec![],
        }
    }
}

/// Index templates by name.
pub async fn index_templates(s: &AppState) -> EsResult<BTreeMap<String, Value>> {
    docs_of(s, INDEX_TEMPLATE).await
}

async fn docs_of(s: &AppState, kind: &str) -> EsResult<BTreeMap<String, Value>> {
    Ok(s.catalog
        .metadata_docs()
        .await?
        .iter()
        .filter(|((k, _), _)| k == kind)
        .map(|((_, n), v)| (n.clone(), v.clone()))
        .collect())
}

fn patterns(t: &Value) -> Vec<&str> {
    t["index_patterns"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn priority(t: &Value) -> i64 {
    t["priority"].as_i64().unwrap_or(0)
}

/// The template that applies to a new index `name` (MetadataIndexTemplateService#findV2Template):
/// the matching one with the highest priority.
pub fn find_template<'a>(
    templates: &'a BTreeMap<String, Value>,
    name: &str,
) -> Option<(&'a String, &'a Value)> {
    templates
        .iter()
        .filter(|(_, t)| patterns(t).iter().any(|p| glob_match(p, name)))
        .max_by_key(|(n, t)| (priority(t), std::cmp::Reverse((*n).clone())))
}

/// Merges mapping `over` into `base` as template composition does: fields of `properties` merge
/// recursively for objects, a later leaf definition replaces an earlier one, other keys are
/// replaced.
pub fn merge_mappings(base: &mut Value, over: &Value) {
    let (Value::Object(b), Value::Object(o)) = (&mut *base, over) else {
        *base = over.clone();
        return;
    };
    for (k, v) in o {
        if k == "properties" {
            let props = b
                .entry("properties")
                .or_insert_with(|| Value::Object(Map::new()));
            let (Value::Object(bp), Value::Object(op)) = (props, v) else {
                continue;
            };
            for (field, def) in op {
                let is_object = |d: &Value| {
                    d.get("properties").is_some()
                        && d.get("type").is_none_or(|t| t == "object" || t == "nested")
                };
                match bp.get_mut(field) {
                    Some(existing) if is_object(existing) && is_object(def) => {
                        merge_mappings(existing, def)
                    }
                    _ => {
                        bp.insert(field.clone(), def.clone());
                    }
                }
            }
        } else {
            b.insert(k.clone(), v.clone());
        }
    }
}

/// Deep merge of settings objects (later wins per key).
fn merge_objects(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        merge_objects(existing, v)
                    }
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// `{"_doc": {...}}` → `{...}` (a typed mapping request, as create-index accepts).
fn untyped(m: &Value) -> Value {
    match m.as_object() {
        Some(o) if o.len() == 1 && o.contains_key("_doc") => o["_doc"].clone(),
        _ => m.clone(),
    }
}

/// The settings as stored in a template: nested under `index`, values as strings, the way
/// Elasticsearch normalises them (GET shows `{"index": {"number_of_shards": "1"}}`).
fn template_settings(v: &Value) -> EsResult<Value> {
    fn walk(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
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
            Value::String(_) | Value::Array(_) => out.push((prefix.to_string(), v.clone())),
            other => out.push((prefix.to_string(), Value::String(other.to_string()))),
        }
    }
    if !v.is_object() {
        return Err(EsError::illegal_argument("settings must be an object"));
    }
    // Unknown settings are refused as when creating an index.
    super::indices::normalise_settings(v)?;
    let mut flat = Vec::new();
    walk("", v, &mut flat);
    let mut root = Map::new();
    for (k, val) in flat {
        let k = if k.starts_with("index.") {
            k
        } else {
            format!("index.{k}")
        };
        let parts: Vec<&str> = k.split('.').collect();
        let mut cur = &mut root;
        for p in &parts[..parts.len() - 1] {
            cur = cur
                .entry(p.to_string())
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .expect("object");
        }
        cur.insert(parts[parts.len() - 1].to_string(), val);
    }
    Ok(Value::Object(root))
}

/// Validates and normalises a `template` object (settings, mappings, aliases, lifecycle).
fn parse_template_body(t: &Value, what: &str) -> EsResult<Value> {
    let Some(m) = t.as_object() else {
        return Err(EsError::x_content_parse(format!(
            "[{what}] template must be an object"
        )));
    };
    let mut out = Map::new();
    for (k, v) in m {
        match k.as_str() {
            "settings" => {
                if !v.is_null() {
                    out.insert(k.clone(), template_settings(v)?);
                }
            }
            "mappings" => {
                if !v.is_null() {
                    let m = untyped(v);
                    schema::parse_mapping_request(&m)?;
                    out.insert(k.clone(), m);
                }
            }
            "aliases" => {
                let Some(a) = v.as_object() else {
                    return Err(EsError::x_content_parse(
                        "[template] aliases must be an object",
                    ));
                };
                let mut aliases = Map::new();
                for (name, props) in a {
                    super::aliases::validate_alias_name(name)?;
                    let props = props.as_object().cloned().unwrap_or_default();
                    aliases.insert(
                        name.clone(),
                        super::aliases::alias_properties("alias", name, &props)?,
                    );
                }
                out.insert(k.clone(), Value::Object(aliases));
            }
            "data_stream_options" => {
                // `null` resets what a component template set (kept as null, composed later).
                let opts = if v.is_null() {
                    Value::Null
                } else {
                    super::failure_store::parse_options(v, "template")?
                };
                out.insert(k.clone(), opts);
            }
            "lifecycle" => {
                return Err(EsError::unsupported(format!("template [{k}]")));
            }
            other => {
                return Err(EsError::x_content_parse(format!(
                    "[1:2] [template] unknown field [{other}]"
                )));
            }
        }
    }
    Ok(Value::Object(out))
}

/// The settings, mappings and aliases a new index `name` gets from the templates, merged with the
/// create-index `request` (`{"settings", "mappings", "aliases"}`) if there is one.
pub async fn compose(
    s: &AppState,
    name: &str,
    request: Option<&Map<String, Value>>,
) -> EsResult<Composed> {
    let docs = s.catalog.metadata_docs().await?;
    let templates: BTreeMap<String, Value> = docs
        .iter()
        .filter(|((k, _), _)| k == INDEX_TEMPLATE)
        .map(|((_, n), v)| (n.clone(), v.clone()))
        .collect();
    // Dot-prefixed hidden indices are not shaped by templates matching everything.
    let found = find_template(&templates, name);
    let mut mappings = json!({});
    let mut settings = json!({});
    let mut aliases: Map<String, Value> = Map::new();
    let mut data_stream = None;
    let mut data_stream_options: Option<Value> = None;
    if let Some((tname, t)) = found {
        let mut layers: Vec<&Value> = Vec::new();
        for c in t["composed_of"].as_array().into_iter().flatten() {
            let c = c.as_str().unwrap_or_default();
            if let Some(ct) = docs.get(&(COMPONENT_TEMPLATE.to_string(), c.to_string())) {
                layers.push(&ct["template"]);
            }
        }
        layers.push(&t["template"]);
        for l in layers {
            if let Some(m) = l.get("mappings") {
                merge_mappings(&mut mappings, m);
            }
            if let Some(st) = l.get("settings") {
                merge_objects(&mut settings, st);
            }
            // Later layers override earlier ones; `null` resets (Template#dataStreamOptions).
            match l.get("data_stream_options") {
                Some(Value::Null) => data_stream_options = None,
                Some(o) => match &mut data_stream_options {
                    Some(cur) => merge_objects(cur, o),
                    None => data_stream_options = Some(o.clone()),
                },
                None => {}
            }
            if let Some(a) = l.get("aliases").and_then(Value::as_object) {
                // `{index}` in a template's alias name is the new index's name (Template docs).
                aliases.extend(
                    a.iter()
                        .map(|(k, v)| (k.replace("{index}", name), v.clone())),
                );
            }
        }
        if let Some(ds) = t.get("data_stream").filter(|d| d.is_object()) {
            if request.is_some() {
                // MetadataCreateIndexService#applyCreateIndexRequestWithV2Template
                return Err(EsError::illegal_argument(format!(
                    "cannot create index with name [{name}], because it matches with template [{tname}] that creates data streams only, use create data stream api instead"
                )));
            }
            data_stream = Some(ds.clone());
            // Data streams map `@timestamp` as a date unless the template says otherwise.
            let has_ts = mappings
                .pointer("/properties/@timestamp")
                .is_some_and(|v| !v.is_null());
            if !has_ts {
                merge_mappings(
                    &mut mappings,
                    &json!({"properties": {"@timestamp": {"type": "date"}}}),
                );
            }
        }
    }
    if let Some(req) = request {
        if let Some(m) = req.get("mappings") {
            merge_mappings(&mut mappings, &untyped(m));
        }
        if let Some(st) = req.get("settings") {
            merge_objects(&mut settings, st);
        }
        if let Some(a) = req.get("aliases") {
            let Some(a) = a.as_object() else {
                return Err(EsError::parsing("aliases must be an object"));
            };
            for (n, props) in a {
                super::aliases::validate_alias_name(n)?;
                let props = props.as_object().cloned().unwrap_or_default();
                aliases.insert(
                    n.clone(),
                    super::aliases::alias_properties("alias", n, &props)?,
                );
            }
        }
    }
    let mut settings = super::indices::normalise_settings(&settings)?;
    if data_stream.is_some()
        && let Value::Object(m) = &mut settings
    {
        m.insert("hidden".into(), json!("true"));
    }
    Ok(Composed {
        mappings: schema::parse_mapping_request(&mappings)?,
        settings,
        aliases: aliases.into_iter().collect(),
        template: found.map(|(n, _)| n.clone()),
        data_stream_options: data_stream_options.filter(|_| data_stream.is_some()),
        data_stream,
        allow_auto_create: found.and_then(|(_, t)| t["allow_auto_create"].as_bool()),
        index_patterns: found
            .map(|(_, t)| patterns(t).into_iter().map(String::from).collect())
            .unwrap_or_default(),
    })
}

/// Whether two index patterns can match a common name (an approximation of Elasticsearch's
/// automaton intersection: equal literal prefixes up to the first wildcard).
fn patterns_overlap(a: &str, b: &str) -> bool {
    if glob_match(a, b) || glob_match(b, a) {
        return true;
    }
    let pa = a.split('*').next().unwrap_or("");
    let pb = b.split('*').next().unwrap_or("");
    (a.contains('*') && pb.starts_with(pa)) || (b.contains('*') && pa.starts_with(pb))
}

fn string_list(v: &Value, field: &str) -> EsResult<Vec<String>> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str().map(str::to_string).ok_or_else(|| {
                    EsError::x_content_parse(format!("[{field}] must be a list of strings"))
                })
            })
            .collect(),
        _ => Err(EsError::x_content_parse(format!(
            "[{field}] must be a list of strings"
        ))),
    }
}

fn invalid_template(name: &str, cause: &str) -> EsError {
    EsError::new(
        400,
        "invalid_index_template_exception",
        format!("index_template [{name}] invalid, cause [{cause}]"),
    )
}

/// The JSON object a template PUT must have as its body.
fn body_object(body: &Bytes) -> Result<Map<String, Value>, EsError> {
    match parse_body(body)? {
        Some(Value::Object(o)) => Ok(o),
        Some(_) => Err(EsError::parsing("request body must be an object")),
        None => Err(EsError::parsing("request body is required")),
    }
}

fn java_list(v: &[String]) -> String {
    format!("[{}]", v.join(", "))
}

/// `PUT|POST /_index_template/{name}` (MetadataIndexTemplateService#putIndexTemplateV2).
pub async fn put_index_template(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(p): Query<Params>,
    body: Bytes,
) -> ApiResult {
    let obj = body_object(&body)?;
    let mut t = Map::new();
    for (k, v) in &obj {
        match k.as_str() {
            "index_patterns" => {
                t.insert(k.clone(), json!(string_list(v, k)?));
            }
            "composed_of" | "ignore_missing_component_templates" => {
                t.insert(k.clone(), json!(string_list(v, k)?));
            }
            "template" => {
                t.insert(k.clone(), parse_template_body(v, "index_template")?);
            }
            "priority" | "version" => {
                let n = v
                    .as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    .ok_or_else(|| {
                        EsError::x_content_parse(format!(
                            "[1:2] [index_template] failed to parse field [{k}]"
                        ))
                    })?;
                if k == "priority" && n < 0 {
                    return Err(EsError::action_request_validation(
                        "Validation Failed: 1: priority must be a positive number;",
                    ));
                }
                t.insert(k.clone(), json!(n));
            }
            "_meta" | "allow_auto_create" | "deprecated" => {
                t.insert(k.clone(), v.clone());
            }
            "data_stream" => {
                let Some(ds) = v.as_object() else {
                    return Err(EsError::x_content_parse(
                        "[1:2] [index_template] failed to parse field [data_stream]",
                    ));
                };
                let mut out = Map::new();
                for (dk, dv) in ds {
                    match dk.as_str() {
                        "hidden" | "allow_custom_routing" => {
                            out.insert(dk.clone(), dv.clone());
                        }
                        other => {
                            return Err(EsError::x_content_parse(format!(
                                "[1:2] [data_stream_template] unknown field [{other}]"
                            )));
                        }
                    }
                }
                t.insert(k.clone(), Value::Object(out));
            }
            other => {
                return Err(EsError::x_content_parse(format!(
                    "[1:2] [index_template] unknown field [{other}]"
                )));
            }
        }
    }
    let Some(pats) = t.get("index_patterns").and_then(Value::as_array).cloned() else {
        return Err(EsError::illegal_argument("Required [index_patterns]"));
    };
    let pats: Vec<String> = pats
        .iter()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    if pats.is_empty() {
        return Err(EsError::action_request_validation(
            "Validation Failed: 1: index patterns are missing;",
        ));
    }
    let docs = s.catalog.metadata_docs().await?;
    let existing = index_templates(&s).await?;
    if flag(&p, "create")? && existing.contains_key(&name) {
        return Err(EsError::illegal_argument(format!(
            "index template [{name}] already exists"
        )));
    }
    let ignore_missing = t
        .get("ignore_missing_component_templates")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let missing: Vec<String> = t
        .get("composed_of")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|c| !docs.contains_key(&(COMPONENT_TEMPLATE.to_string(), c.to_string())))
        .filter(|c| !ignore_missing.iter().any(|i| i == c))
        .map(String::from)
        .collect();
    if !missing.is_empty() {
        return Err(invalid_template(
            &name,
            &format!(
                "index template [{name}] specifies component templates {} that do not exist",
                java_list(&missing)
            ),
        ));
    }
    // MetadataIndexTemplateService#validateDataStreamOptions.
    if !t.get("data_stream").is_some_and(Value::is_object) {
        let mut layers: Vec<&Value> = Vec::new();
        for c in t
            .get("composed_of")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(ct) = docs.get(&(
                COMPONENT_TEMPLATE.to_string(),
                c.as_str().unwrap_or_default().to_string(),
            )) {
                layers.push(&ct["template"]);
            }
        }
        if let Some(tt) = t.get("template") {
            layers.push(tt);
        }
        let mut opts = false;
        for l in layers {
            match l.get("data_stream_options") {
                Some(Value::Null) => opts = false,
                Some(_) => opts = true,
                None => {}
            }
        }
        if opts {
            return Err(EsError::illegal_argument(format!(
                "index template [{name}] specifies data stream options that can only be used in combination with a data stream"
            )));
        }
    }
    let prio = t.get("priority").and_then(Value::as_i64).unwrap_or(0);
    let mut clash: Vec<(String, Vec<String>)> = Vec::new();
    for (other, ot) in &existing {
        if *other == name || priority(ot) != prio {
            continue;
        }
        let op: Vec<String> = patterns(ot).into_iter().map(String::from).collect();
        if pats
            .iter()
            .any(|a| op.iter().any(|b| patterns_overlap(a, b)))
        {
            clash.push((other.clone(), op));
        }
    }
    if !clash.is_empty() {
        let names: Vec<String> = clash.iter().map(|(n, _)| n.clone()).collect();
        let detail: Vec<String> = clash
            .iter()
            .map(|(n, p)| format!("{n} => {}", java_list(p)))
            .collect();
        return Err(EsError::illegal_argument(format!(
            "index template [{name}] has index patterns {} matching patterns from existing templates [{}] with patterns ({}) that have the same priority [{prio}], multiple index templates may not match during index creation, please use a different priority",
            java_list(&pats),
            names.join(","),
            detail.join(",")
        )));
    }
    s.catalog
        .put_metadata_doc(INDEX_TEMPLATE, &name, Some(&Value::Object(t)))
        .await?;
    Ok(ok(json!({"acknowledged": true})).into_response())
}

/// The stored template as GET shows it (`composed_of` always present).
fn index_template_json(t: &Value) -> Value {
    let mut out = t.clone();
    if let Value::Object(m) = &mut out
        && !m.contains_key("composed_of")
    {
        m.insert("composed_of".into(), json!([]));
    }
    out
}

fn select<'a>(
    all: &'a BTreeMap<String, Value>,
    name: Option<&str>,
) -> Vec<(&'a String, &'a Value)> {
    let pats: Vec<&str> = name
        .map(|n| n.split(',').collect())
        .unwrap_or_else(|| vec!["*"]);
    all.iter()
        .filter(|(n, _)| pats.iter().any(|p| glob_match(p, n)))
        .collect()
}

async fn get_index_templates_impl(s: &AppState, name: Option<&str>) -> ApiResult {
    let all = index_templates(s).await?;
    let found = select(&all, name);
    if found.is_empty()
        && let Some(n) = name
        && !n.contains('*')
    {
        return Err(EsError::new(
            404,
            "resource_not_found_exception",
            format!("index template matching [{n}] not found"),
        ));
    }
    let list: Vec<Value> = found
        .into_iter()
        .map(|(n, t)| json!({"name": n, "index_template": index_template_json(t)}))
        .collect();
    Ok(ok(json!({ "index_templates": list })).into_response())
}

pub async fn get_index_templates(State(s): State<AppState>) -> ApiResult {
    get_index_templates_impl(&s, None).await
}

pub async fn get_index_template(State(s): State<AppState>, Path(name): Path<String>) -> ApiResult {
    get_index_templates_impl(&s, Some(&name)).await
}

pub async fn head_index_template(State(s): State<AppState>, Path(name): Path<String>) -> ApiResult {
    let all = index_templates(&s).await?;
    let status = if select(&all, Some(&name)).is_empty() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    Ok(status.into_response())
}

fn template_missing(name: &str) -> EsError {
    EsError::new(
        404,
        "index_template_missing_exception",
        format!("index_template [{name}] missing"),
    )
}

/// `DELETE /_index_template/{name}`: refused while a data stream uses the template.
pub async fn delete_index_template(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult {
    let all = index_templates(&s).await?;
    let mut names: Vec<String> = Vec::new();
    for part in name.split(',') {
        let matched: Vec<String> = select(&all, Some(part))
            .into_iter()
            .map(|(n, _)| n.clone())
            .collect();
        if matched.is_empty() && !part.contains('*') {
            return Err(template_missing(part));
        }
        names.extend(matched);
    }
    let view = s.catalog.view().await?;
    let mut in_use: Vec<String> = Vec::new();
    for ds in view.data_streams.keys() {
        if let Some((t, _)) = find_template(&all, ds)
            && names.contains(t)
        {
            in_use.push(ds.clone());
        }
    }
    if !in_use.is_empty() {
        return Err(EsError::illegal_argument(format!(
            "unable to remove composable templates {} as they are in use by a data streams {}",
            java_list(&names),
            java_list(&in_use)
        )));
    }
    for n in &names {
        s.catalog.put_metadata_doc(INDEX_TEMPLATE, n, None).await?;
    }
    Ok(ok(json!({"acknowledged": true})).into_response())
}

/// `PUT|POST /_component_template/{name}`
pub async fn put_component_template(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(p): Query<Params>,
    body: Bytes,
) -> ApiResult {
    let obj = body_object(&body)?;
    let mut t = Map::new();
    for (k, v) in &obj {
        match k.as_str() {
            "template" => {
                t.insert(k.clone(), parse_template_body(v, "component_template")?);
            }
            "version" | "_meta" | "deprecated" => {
                t.insert(k.clone(), v.clone());
            }
            other => {
                return Err(EsError::x_content_parse(format!(
                    "[1:2] [component_template] unknown field [{other}]"
                )));
            }
        }
    }
    if !t.contains_key("template") {
        return Err(EsError::illegal_argument("Required [template]"));
    }
    let docs = docs_of(&s, COMPONENT_TEMPLATE).await?;
    if flag(&p, "create")? && docs.contains_key(&name) {
        return Err(EsError::illegal_argument(format!(
            "component template [{name}] already exists"
        )));
    }
    s.catalog
        .put_metadata_doc(COMPONENT_TEMPLATE, &name, Some(&Value::Object(t)))
        .await?;
    Ok(ok(json!({"acknowledged": true})).into_response())
}

async fn get_component_templates_impl(s: &AppState, name: Option<&str>) -> ApiResult {
    let all = docs_of(s, COMPONENT_TEMPLATE).await?;
    let found = select(&all, name);
    if found.is_empty()
        && let Some(n) = name
        && !n.contains('*')
    {
        return Err(EsError::new(
            404,
            "resource_not_found_exception",
            format!("component template matching [{n}] not found"),
        ));
    }
    let list: Vec<Value> = found
        .into_iter()
        .map(|(n, t)| json!({"name": n, "component_template": t}))
        .collect();
    Ok(ok(json!({ "component_templates": list })).into_response())
}

pub async fn get_component_templates(State(s): State<AppState>) -> ApiResult {
    get_component_templates_impl(&s, None).await
}

pub async fn get_component_template(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult {
    get_component_templates_impl(&s, Some(&name)).await
}

pub async fn head_component_template(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult {
    let all = docs_of(&s, COMPONENT_TEMPLATE).await?;
    let status = if select(&all, Some(&name)).is_empty() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    Ok(status.into_response())
}

/// `DELETE /_component_template/{name}`: refused while an index template is composed of it.
pub async fn delete_component_template(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult {
    let all = docs_of(&s, COMPONENT_TEMPLATE).await?;
    let mut names: Vec<String> = Vec::new();
    for part in name.split(',') {
        let matched: Vec<String> = select(&all, Some(part))
            .into_iter()
            .map(|(n, _)| n.clone())
            .collect();
        if matched.is_empty() && !part.contains('*') {
            return Err(template_missing(part));
        }
        names.extend(matched);
    }
    let users: Vec<(String, Vec<String>)> = index_templates(&s)
        .await?
        .into_iter()
        .filter_map(|(t, v)| {
            let used: Vec<String> = v["composed_of"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter(|c| names.iter().any(|n| n == c))
                .map(String::from)
                .collect();
            (!used.is_empty()).then_some((t, used))
        })
        .collect();
    if !users.is_empty() {
        let mut used: Vec<String> = users.iter().flat_map(|(_, u)| u.clone()).collect();
        used.sort();
        used.dedup();
        let templates: Vec<String> = users.into_iter().map(|(t, _)| t).collect();
        return Err(EsError::illegal_argument(format!(
            "component templates {} cannot be removed as they are still in use by index templates {}",
            java_list(&used),
            java_list(&templates)
        )));
    }
    for n in &names {
        s.catalog
            .put_metadata_doc(COMPONENT_TEMPLATE, n, None)
            .await?;
    }
    Ok(ok(json!({"acknowledged": true})).into_response())
}

/// `POST /_index_template/_simulate_index/{name}`: the settings, mappings and aliases a new index
/// of that name would get, and the other templates that match it with a lower priority.
pub async fn simulate_index(State(s): State<AppState>, Path(name): Path<String>) -> ApiResult {
    let composed = compose(&s, &name, None).await?;
    let all = index_templates(&s).await?;
    let overlapping: Vec<Value> = all
        .iter()
        .filter(|(n, t)| {
            Some(*n) != composed.template.as_ref()
                && patterns(t).iter().any(|p| glob_match(p, &name))
        })
        .map(|(n, t)| json!({"name": n, "index_patterns": patterns(t)}))
        .collect();
    let mut settings = composed.settings.clone();
    if let Value::Object(m) = &mut settings {
        m.entry("number_of_shards").or_insert(json!("1"));
        m.entry("number_of_replicas").or_insert(json!("0"));
    }
    let mut out = json!({
        "template": {
            "settings": {"index": settings},
            "mappings": composed.mappings.to_json(),
            "aliases": composed.aliases,
        },
        "overlapping": overlapping,
    });
    if composed.template.is_none() {
        // No template matches: Elasticsearch answers with an empty body.
        out = json!({});
    }
    Ok(EsJson(StatusCode::OK, out).into_response())
}

/// Legacy `/_template` APIs: a clear 400 pointing at composable templates.
pub async fn legacy_template() -> ApiResult {
    Err(EsError::unsupported(
        "legacy index templates (/_template); use composable index templates (/_index_template)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_mapping_layers_override_fields_and_merge_objects() {
        // Template composition (index-templates.html): a later layer's field definition replaces an
        // earlier one; object fields merge their properties.
        let mut m = json!({"properties": {
            "a": {"type": "keyword"},
            "o": {"properties": {"x": {"type": "long"}}}}});
        merge_mappings(
            &mut m,
            &json!({"dynamic": "strict", "properties": {
                "a": {"type": "text"},
                "o": {"properties": {"y": {"type": "keyword"}}}}}),
        );
        assert_eq!(
            m,
            json!({"dynamic": "strict", "properties": {
                "a": {"type": "text"},
                "o": {"properties": {"x": {"type": "long"}, "y": {"type": "keyword"}}}}})
        );
    }

    #[test]
    fn highest_priority_matching_template_wins() {
        let mut all = BTreeMap::new();
        all.insert(
            "low".to_string(),
            json!({"index_patterns": ["logs-*"], "priority": 1}),
        );
        all.insert(
            "high".to_string(),
            json!({"index_patterns": ["logs-web-*"], "priority": 9}),
        );
        all.insert(
            "other".to_string(),
            json!({"index_patterns": ["metrics-*"], "priority": 99}),
        );
        assert_eq!(find_template(&all, "logs-web-1").unwrap().0, "high");
        assert_eq!(find_template(&all, "logs-db-1").unwrap().0, "low");
        assert!(find_template(&all, "traces-1").is_none());
    }

    #[test]
    fn overlapping_patterns() {
        assert!(patterns_overlap("logs-*", "logs-web-*"));
        assert!(patterns_overlap("logs-*", "logs-a"));
        assert!(patterns_overlap("*", "x"));
        assert!(!patterns_overlap("logs-*", "metrics-*"));
        assert!(!patterns_overlap("a", "b"));
    }

    #[test]
    fn template_settings_are_nested_strings_under_index() {
        assert_eq!(
            template_settings(&json!({"number_of_shards": 1, "index.refresh_interval": "5s"}))
                .unwrap(),
            json!({"index": {"number_of_shards": "1", "refresh_interval": "5s"}})
        );
    }
}
