//! `_field_caps` (GET/POST, `/_field_caps` and `/{index}/_field_caps`): the fields of the matched
//! indices with their type family and whether they are searchable and aggregatable. Kibana builds
//! data views (and Discover's field list) from it.
//!
//! Behaviour learnt from elastic/elasticsearch 8.x: `RestFieldCapabilitiesAction` (parameters, body
//! `fields`/`index_filter`/`runtime_mappings`), `FieldCapabilitiesFetcher#retrieveFieldCaps` (the
//! field-name patterns, `filters`, `types`, parent objects as `object`/`nested`, empty fields),
//! `TransportFieldCapabilitiesAction` (merging across indices, `unmapped` with `include_unmapped`),
//! `FieldCapabilities#toXContent` and its `Builder#build` (`indices` only when a field has several
//! types, `non_searchable_indices`/`non_aggregatable_indices` only when mixed, merged `meta`).
//!
//! `index_filter` drops the indices with no document matching the query (one `LIMIT 1` query per
//! index). Elasticsearch only drops indices it can prove cannot match (its can-match phase, e.g. a
//! time range outside the index's values); for the range filters Kibana sends the result is the same.

use super::search::check_params;
use super::{ApiResult, Params, flag, ok};
use crate::catalog::{IndexMeta, glob_match};
use crate::error::EsError;
use crate::schema::{FieldMapping, FieldType};
use crate::server::AppState;
use crate::sql::{self, ChType, Expr};
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

const PARAMS: &[&str] = &[
    "fields",
    "ignore_unavailable",
    "allow_no_indices",
    "expand_wildcards",
    "include_unmapped",
    "include_empty_fields",
    "filters",
    "types",
    "include_indices",
];

/// The metadata fields of every Elasticsearch 8.x index: name, searchable, aggregatable (their
/// type is their name). From the MetadataFieldMappers of the default distribution.
const METADATA_FIELDS: &[(&str, bool, bool)] = &[
    ("_data_stream_timestamp", false, false),
    ("_doc_count", false, false),
    ("_feature", true, false),
    ("_field_names", true, false),
    ("_id", true, false),
    ("_ignored", true, true),
    ("_ignored_source", false, false),
    ("_index", true, true),
    ("_nested_path", true, false),
    ("_routing", true, false),
    ("_seq_no", true, true),
    ("_source", false, false),
    ("_tier", true, true),
    ("_version", false, true),
];

/// What one index says about one field (IndexFieldCapabilities).
#[derive(Debug, Clone)]
struct IndexCap {
    ty: String,
    metadata: bool,
    searchable: bool,
    aggregatable: bool,
    meta: Map<String, Value>,
}

/// The request, parsed.
struct Request {
    patterns: Vec<String>,
    include_unmapped: bool,
    include_empty: bool,
    include_indices: bool,
    filters: Vec<String>,
    types: Vec<String>,
    index_filter: Option<Value>,
    runtime: Map<String, Value>,
}

fn list(v: &Value, what: &str) -> Result<Vec<String>, EsError> {
    match v {
        Value::String(s) => Ok(split(s)),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str().map(str::to_string).ok_or_else(|| {
                    EsError::x_content_parse(format!(
                        "[field_caps_request] failed to parse field [{what}]"
                    ))
                })
            })
            .collect(),
        _ => Err(EsError::x_content_parse(format!(
            "[field_caps_request] failed to parse field [{what}]"
        ))),
    }
}

fn split(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

fn parse_request(p: &Params, body: &Bytes) -> Result<Request, EsError> {
    let mut patterns = Vec::new();
    let mut index_filter = None;
    let mut runtime = Map::new();
    if let Some(v) = super::parse_body(body)? {
        let Value::Object(m) = v else {
            return Err(EsError::x_content_parse(
                "[field_caps_request] Expected START_OBJECT",
            ));
        };
        for (k, v) in m {
            match k.as_str() {
                "fields" => patterns = list(&v, "fields")?,
                "index_filter" => index_filter = Some(v),
                "runtime_mappings" => match v {
                    Value::Object(r) => runtime = r,
                    _ => {
                        return Err(EsError::x_content_parse(
                            "[field_caps_request] failed to parse field [runtime_mappings]",
                        ));
                    }
                },
                other => {
                    return Err(EsError::x_content_parse(format!(
                        "[field_caps_request] unknown field [{other}]"
                    )));
                }
            }
        }
    }
    // RestFieldCapabilitiesAction: fields in the URL or in the body, not both.
    if let Some(f) = p.get("fields") {
        if !patterns.is_empty() {
            return Err(EsError::illegal_argument(
                "can't specify a request body and [fields] request parameter, either specify a request body or the [fields] request parameter",
            ));
        }
        patterns = split(f);
    }
    if patterns.is_empty() {
        return Err(EsError::action_request_validation(
            "Validation Failed: 1: specified fields can't be null or empty;",
        ));
    }
    let filters = p.get("filters").map(|f| split(f)).unwrap_or_default();
    for f in &filters {
        if !matches!(
            f.as_str(),
            "+metadata"
                | "-metadata"
                | "-nested"
                | "-multifield"
                | "-parent"
                | "parent"
                | "+dimension"
        ) {
            return Err(EsError::illegal_argument(format!(
                "Unknown field caps filter [{f}]"
            )));
        }
    }
    for (name, def) in &runtime {
        let ty = def.get("type").and_then(Value::as_str).unwrap_or("");
        if !matches!(
            ty,
            "boolean" | "date" | "double" | "geo_point" | "ip" | "keyword" | "long"
        ) {
            if ty == "composite" || ty == "lookup" {
                return Err(EsError::unsupported(format!(
                    "runtime field type [{ty}] in _field_caps"
                )));
            }
            return Err(EsError::mapper_parsing(format!(
                "No handler for type [{ty}] declared on runtime field [{name}]"
            )));
        }
    }
    Ok(Request {
        patterns,
        include_unmapped: flag(p, "include_unmapped")?,
        include_empty: match p.get("include_empty_fields") {
            Some(_) => flag(p, "include_empty_fields")?,
            None => true,
        },
        include_indices: flag(p, "include_indices")?,
        filters,
        types: p.get("types").map(|t| split(t)).unwrap_or_default(),
        index_filter,
        runtime,
    })
}

/// The field-name predicate: patterns with `*`, and `-pattern` exclusions after them.
fn name_matches(patterns: &[String], name: &str) -> bool {
    let mut matched = false;
    for p in patterns {
        if let Some(ex) = p.strip_prefix('-')
            && matched
        {
            if glob_match(ex, name) {
                matched = false;
            }
        } else if glob_match(p, name) {
            matched = true;
        }
    }
    matched
}

/// The type family Elasticsearch reports (MappedFieldType#familyTypeName).
fn family(t: &FieldType) -> &'static str {
    match t {
        FieldType::ConstantKeyword { .. } | FieldType::Wildcard => "keyword",
        FieldType::MatchOnlyText => "text",
        other => other.name(),
    }
}

/// Searchable and aggregatable as the field type decides them. Doc-value fields are searchable
/// through their doc values even with `index: false` (8.x).
fn capabilities(f: &FieldMapping) -> (bool, bool) {
    let indexed = f.index != Some(false);
    let dv = f.doc_values != Some(false);
    match &f.ty {
        FieldType::Text => (
            indexed,
            f.other.get("fielddata") == Some(&Value::Bool(true)),
        ),
        FieldType::MatchOnlyText => (true, false),
        FieldType::ConstantKeyword { .. } | FieldType::Wildcard | FieldType::Flattened => {
            (true, true)
        }
        _ => (indexed || dv, dv),
    }
}

fn meta_of(f: &FieldMapping) -> Map<String, Value> {
    f.meta.clone().unwrap_or_default()
}

/// Whether a leaf field has a column and values (for `include_empty_fields=false`).
fn has_value_expr(col: &str, ty: &ChType) -> Expr {
    let c = sql::col(col);
    let present = match ty.base() {
        ChType::Array(_) | ChType::Map(_, _) => Expr::func("notEmpty", vec![c]),
        _ => c.is_not_null(),
    };
    Expr::func("max", vec![Expr::func("toUInt8", vec![present])])
}

/// The leaf fields of `meta` that hold at least one value (one query for the index).
async fn fields_with_values(s: &AppState, meta: &IndexMeta) -> Result<BTreeSet<String>, EsError> {
    let cols: Vec<(&String, &ChType)> = meta
        .columns
        .iter()
        .filter(|(c, _)| crate::analysis::value_column_of_tokens(c).is_none())
        .collect();
    let mut out = BTreeSet::new();
    if cols.is_empty() {
        return Ok(out);
    }
    let items: Vec<sql::SelectItem> = cols
        .iter()
        .enumerate()
        .map(|(i, (c, t))| has_value_expr(c, t).alias(format!("__c{i}")))
        .collect();
    let q = sql::Select {
        items,
        from: Some(meta.from_clause()),
        ..Default::default()
    };
    let rows = s.ch.query_rows(&q).await?;
    if let Some(r) = rows.first() {
        for (i, (c, _)) in cols.iter().enumerate() {
            if r.get(&format!("__c{i}"))
                .and_then(Value::as_u64)
                .unwrap_or(0)
                > 0
            {
                out.insert(crate::catalog::logical_name(c).to_string());
            }
        }
    }
    Ok(out)
}

/// Whether any document of the index matches `filter`.
pub(crate) async fn index_matches(
    s: &AppState,
    meta: &IndexMeta,
    filter: &Value,
) -> Result<bool, EsError> {
    let q = crate::dsl::parse_query(filter)?;
    if matches!(q, crate::dsl::Query::MatchAll { .. }) {
        return Ok(true);
    }
    let ctx = crate::plan::Ctx::new(meta, chrono::Utc::now().timestamp_millis());
    let where_ =
        crate::plan::filter(&ctx, &q).map_err(|e| super::search::phase_failure(e, Some(meta)))?;
    let sel = sql::Select {
        // `__m`: not a name a column can have (the WHERE holds the user's index_filter).
        items: vec![sql::lit(1u64).alias("__m")],
        from: Some(meta.from_clause()),
        rows: meta.rows(),
        where_: Some(where_),
        limit: Some(1),
        ..Default::default()
    };
    Ok(!s.ch.query_rows(&sel).await?.is_empty())
}

/// The capabilities of every requested field of one index (FieldCapabilitiesFetcher).
async fn index_caps(
    s: &AppState,
    meta: &IndexMeta,
    r: &Request,
) -> Result<BTreeMap<String, IndexCap>, EsError> {
    let has = |f: &str| r.filters.iter().any(|x| x == f);
    let include_parents = !has("-parent");
    let with_values = if r.include_empty {
        None
    } else {
        Some(fields_with_values(s, meta).await?)
    };
    let type_ok = |t: &str| r.types.is_empty() || r.types.iter().any(|x| x == t);
    let mut out: BTreeMap<String, IndexCap> = BTreeMap::new();

    // Metadata fields.
    if !has("-metadata") {
        for (name, searchable, aggregatable) in METADATA_FIELDS {
            if name_matches(&r.patterns, name) && type_ok(name) {
                out.insert(
                    name.to_string(),
                    IndexCap {
                        ty: name.to_string(),
                        metadata: true,
                        searchable: *searchable,
                        aggregatable: *aggregatable,
                        meta: Map::new(),
                    },
                );
            }
        }
    }
    if has("+metadata") {
        return Ok(out);
    }

    // Mapped fields, then the mapping's runtime fields and the request's runtime_mappings (which
    // shadow mapped fields of the same name).
    let mut leaves: Vec<(String, IndexCap, bool)> = Vec::new();
    for info in meta.mappings.leaf_fields() {
        if info.runtime {
            continue;
        }
        if has("-nested") && info.nested_path.is_some() {
            continue;
        }
        if has("-multifield") && info.multi_field_of.is_some() {
            continue;
        }
        let m = &info.mapping;
        let (searchable, aggregatable) = capabilities(m);
        let present = match (&with_values, &m.ty) {
            (None, _) => true,
            (Some(_), FieldType::ConstantKeyword { value }) => value.is_some(),
            (Some(v), _) => info.column.as_deref().is_some_and(|c| v.contains(c)),
        };
        if !present {
            continue;
        }
        leaves.push((
            info.path.clone(),
            IndexCap {
                ty: family(&m.ty).to_string(),
                metadata: false,
                searchable,
                aggregatable,
                meta: meta_of(m),
            },
            false,
        ));
    }
    let runtime_defs = meta.mappings.runtime.iter().chain(r.runtime.iter());
    for (name, def) in runtime_defs {
        let ty = def
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("keyword")
            .to_string();
        leaves.retain(|(p, _, _)| p != name);
        leaves.push((
            name.clone(),
            IndexCap {
                ty,
                metadata: false,
                searchable: true,
                aggregatable: true,
                meta: def
                    .get("meta")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default(),
            },
            true,
        ));
    }
    for (path, cap, runtime) in leaves {
        if !name_matches(&r.patterns, &path) || !type_ok(&cap.ty) {
            continue;
        }
        out.insert(path.clone(), cap);
        if runtime || !include_parents {
            continue;
        }
        // Ancestors that are objects (not fields) are reported as object/nested.
        let mut cur = path.as_str();
        while let Some(dot) = cur.rfind('.') {
            let parent = &cur[..dot];
            if out.contains_key(parent) {
                break;
            }
            if let Some((nested, _)) = meta.mappings.object_at(parent) {
                out.insert(
                    parent.to_string(),
                    IndexCap {
                        ty: if nested { "nested" } else { "object" }.to_string(),
                        metadata: false,
                        searchable: false,
                        aggregatable: false,
                        meta: Map::new(),
                    },
                );
            }
            cur = parent;
        }
    }
    Ok(out)
}

/// FieldCapabilities.Builder: one type of one field across indices.
#[derive(Default)]
struct TypeCaps {
    metadata: bool,
    indices: Vec<(String, bool, bool)>,
    meta: BTreeMap<String, BTreeSet<String>>,
}

impl TypeCaps {
    fn build(&self, ty: &str, with_indices: bool) -> Value {
        let total = self.indices.len();
        let searchable_n = self.indices.iter().filter(|i| i.1).count();
        let aggregatable_n = self.indices.iter().filter(|i| i.2).count();
        let mut v = Map::new();
        v.insert("type".into(), json!(ty));
        v.insert("metadata_field".into(), json!(self.metadata));
        v.insert("searchable".into(), json!(searchable_n == total));
        v.insert("aggregatable".into(), json!(aggregatable_n == total));
        if with_indices {
            let all: Vec<&String> = self.indices.iter().map(|i| &i.0).collect();
            v.insert("indices".into(), json!(all));
        }
        if searchable_n != total && searchable_n != 0 {
            let non: Vec<&String> = self.indices.iter().filter(|i| !i.1).map(|i| &i.0).collect();
            v.insert("non_searchable_indices".into(), json!(non));
        }
        if aggregatable_n != total && aggregatable_n != 0 {
            let non: Vec<&String> = self.indices.iter().filter(|i| !i.2).map(|i| &i.0).collect();
            v.insert("non_aggregatable_indices".into(), json!(non));
        }
        if !self.meta.is_empty() {
            let m: Map<String, Value> = self
                .meta
                .iter()
                .map(|(k, vals)| (k.clone(), json!(vals)))
                .collect();
            v.insert("meta".into(), Value::Object(m));
        }
        Value::Object(v)
    }
}

async fn field_caps_impl(
    s: AppState,
    expr: Option<&str>,
    path: &str,
    p: Params,
    body: Bytes,
) -> ApiResult {
    check_params(path, &p, PARAMS)?;
    if let Some(w) = p.get("expand_wildcards") {
        for x in split(w) {
            if !matches!(x.as_str(), "open" | "closed" | "hidden" | "none" | "all") {
                return Err(EsError::illegal_argument(format!(
                    "No enum constant org.elasticsearch.action.support.IndicesOptions.WildcardStates.{}",
                    x.to_uppercase()
                )));
            }
        }
    }
    let r = parse_request(&p, &body)?;
    let metas: Vec<Arc<IndexMeta>> = s
        .catalog
        .resolve(expr.unwrap_or("*"), super::indices::resolve_options(&p)?)
        .await?;
    let mut indices: Vec<String> = Vec::new();
    // field → type → builder
    let mut merged: BTreeMap<String, BTreeMap<String, TypeCaps>> = BTreeMap::new();
    let mut sorted = metas.clone();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    for meta in &sorted {
        if let Some(f) = &r.index_filter
            && !index_matches(&s, meta, f).await?
        {
            continue;
        }
        indices.push(meta.name.clone());
        for (field, cap) in index_caps(&s, meta, &r).await? {
            let b = merged
                .entry(field)
                .or_default()
                .entry(cap.ty.clone())
                .or_default();
            b.metadata |= cap.metadata;
            b.indices
                .push((meta.name.clone(), cap.searchable, cap.aggregatable));
            for (k, v) in cap.meta {
                let v = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                b.meta.entry(k).or_default().insert(v);
            }
        }
    }
    let mut fields = Map::new();
    for (field, mut types) in merged {
        if r.include_unmapped {
            let mapped: BTreeSet<&String> = types
                .values()
                .flat_map(|t| t.indices.iter().map(|i| &i.0))
                .collect();
            let missing: Vec<String> = indices
                .iter()
                .filter(|i| !mapped.contains(i))
                .cloned()
                .collect();
            if !missing.is_empty() {
                types.insert(
                    "unmapped".into(),
                    TypeCaps {
                        metadata: false,
                        indices: missing.into_iter().map(|i| (i, false, false)).collect(),
                        meta: BTreeMap::new(),
                    },
                );
            }
        }
        let multi = types.len() > 1 || r.include_indices;
        let t: Map<String, Value> = types
            .iter()
            .map(|(ty, b)| (ty.clone(), b.build(ty, multi)))
            .collect();
        fields.insert(field, Value::Object(t));
    }
    tracing::debug!(indices = indices.len(), fields = fields.len(), "field_caps");
    Ok(ok(json!({"indices": indices, "fields": fields})).into_response())
}

pub async fn field_caps(
    State(s): State<AppState>,
    Path(index): Path<String>,
    OriginalUri(uri): OriginalUri,
    Query(p): Query<Params>,
    body: Bytes,
) -> ApiResult {
    field_caps_impl(s, Some(&index), uri.path(), p, body).await
}

pub async fn field_caps_all(
    State(s): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Query(p): Query<Params>,
    body: Bytes,
) -> ApiResult {
    field_caps_impl(s, None, uri.path(), p, body).await
}
