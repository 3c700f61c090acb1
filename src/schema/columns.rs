//! Mapped fields ↔ ClickHouse columns.
//!
//! One column per leaf field that has values, named by the field's full dotted path exactly as
//! given. The element type follows the Elasticsearch type; the shape follows the values seen:
//!
//! | values of the field                         | column                     |
//! |---------------------------------------------|----------------------------|
//! | one per document                            | `Nullable(T)`              |
//! | from a JSON array (or an array of objects)  | `Array(T)` (nulls dropped) |
//! | under a `nested` object, one per object     | `Array(Nullable(T))`       |
//! | under a `nested` object, arrays in it       | `Array(Array(T))`          |
//!
//! Exceptions, because ClickHouse cannot wrap them in `Nullable`: `geo_point` is always
//! `Array(Tuple(lat Float64, lon Float64))` (empty array = missing) and `flattened` always
//! `Map(String, Array(String))` (leaf key path → values); under `nested` they get one more `Array`.
//! A `keyword`/`text`/`match_only_text`/`wildcard` multi-field of a field of one of those types
//! shares its parent's column (the query side applies `ignore_above` with `lengthUTF8(col) <= N`);
//! other multi-fields get a column `parent.sub`. `alias`, `constant_keyword` (its value lives in the
//! mapping), `object`, `nested` and runtime fields have no column.

use std::collections::BTreeMap;

use serde_json::Value;

use super::mapping::{FieldMapping, FieldType, Lookup, Mappings, ObjectMapping};
use crate::sql::ChType;

/// How the values of one field are laid out in its column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Shape {
    Single,
    Multi,
    NestedSingle,
    NestedMulti,
}

fn geo_tuple() -> ChType {
    ChType::Tuple(vec![
        (Some("lat".into()), ChType::Float64),
        (Some("lon".into()), ChType::Float64),
    ])
}

fn flattened_map() -> ChType {
    ChType::Map(
        Box::new(ChType::String),
        Box::new(ChType::array(ChType::String)),
    )
}

/// The ClickHouse type of one value of `f` (`None`: the field has no column).
pub fn element_type(f: &FieldMapping) -> Option<ChType> {
    Some(match &f.ty {
        FieldType::Text | FieldType::MatchOnlyText | FieldType::Keyword | FieldType::Wildcard => {
            ChType::String
        }
        FieldType::Long => ChType::Int64,
        FieldType::Integer => ChType::Int32,
        FieldType::Short => ChType::Int16,
        FieldType::Byte => ChType::Int8,
        FieldType::UnsignedLong => ChType::UInt64,
        FieldType::Double | FieldType::ScaledFloat { .. } => ChType::Float64,
        FieldType::Float | FieldType::HalfFloat => ChType::Float32,
        FieldType::Boolean => ChType::Bool,
        FieldType::Date { .. } => ChType::DateTime64(3, Some("UTC".into())),
        FieldType::DateNanos { .. } => ChType::DateTime64(9, Some("UTC".into())),
        FieldType::Ip => ChType::IPv6,
        FieldType::GeoPoint => geo_tuple(),
        FieldType::Flattened => flattened_map(),
        FieldType::ConstantKeyword { .. }
        | FieldType::Object(_)
        | FieldType::Nested(_)
        | FieldType::Alias { .. } => {
            return None;
        }
    })
}

/// The column type for field `f` outside nested objects: `Nullable(T)`, or `Array(T)` when its
/// values came from arrays.
pub fn column_type(f: &FieldMapping, multi_valued: bool) -> Option<ChType> {
    shaped_type(
        f,
        if multi_valued {
            Shape::Multi
        } else {
            Shape::Single
        },
    )
}

pub(crate) fn shaped_type(f: &FieldMapping, shape: Shape) -> Option<ChType> {
    let t = element_type(f)?;
    Some(match &f.ty {
        FieldType::GeoPoint => match shape {
            Shape::Single | Shape::Multi => ChType::array(t),
            _ => ChType::array(ChType::array(t)),
        },
        FieldType::Flattened => match shape {
            Shape::Single | Shape::Multi => t,
            _ => ChType::array(t),
        },
        _ => match shape {
            Shape::Single => ChType::nullable(t),
            Shape::Multi => ChType::array(t),
            Shape::NestedSingle => ChType::array(ChType::nullable(t)),
            Shape::NestedMulti => ChType::array(ChType::array(t)),
        },
    })
}

/// The shape of an existing column.
pub(crate) fn shape_of(t: &ChType, nested: bool) -> Shape {
    let outer_array = matches!(t.base(), ChType::Array(_));
    let inner_array =
        matches!(t.base(), ChType::Array(inner) if matches!(inner.base(), ChType::Array(_)));
    match (nested, outer_array, inner_array) {
        (true, _, true) => Shape::NestedMulti,
        (true, _, false) => Shape::NestedSingle,
        (false, true, _) => Shape::Multi,
        (false, false, _) => Shape::Single,
    }
}

/// Whether a multi-field shares its parent's column.
pub(crate) fn shares_parent_column(parent: &FieldMapping, sub: &FieldMapping) -> bool {
    parent.ty.is_string_family() && sub.ty.is_string_family()
}

/// What the query side needs to know about one field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldInfo {
    /// The path asked for (for an alias, the alias's path).
    pub path: String,
    /// Elasticsearch's type name (`keyword`, `long`, …; the target's type for an alias).
    pub es_type: String,
    /// The column that holds the values (`None`: constant_keyword, runtime field).
    pub column: Option<String>,
    pub ignore_above: Option<i64>,
    /// Effective date format of date fields.
    pub format: Option<String>,
    pub scaling_factor: Option<f64>,
    pub null_value: Option<Value>,
    /// The innermost `nested` object containing the field.
    pub nested_path: Option<String>,
    /// The value of a constant_keyword field.
    pub constant_value: Option<String>,
    /// The parent field when this is a multi-field.
    pub multi_field_of: Option<String>,
    /// The target when `path` is an alias.
    pub alias_of: Option<String>,
    /// A runtime field (mapping `runtime` section): values only in `_source`.
    pub runtime: bool,
    /// `index` is not false.
    pub searchable: bool,
    /// `doc_values` is not false (text fields: `fielddata: true`).
    pub aggregatable: bool,
    /// The field's mapping.
    pub mapping: FieldMapping,
}

fn info(
    path: &str,
    f: &FieldMapping,
    multi_field_of: Option<(&str, &FieldMapping)>,
    nested: Option<String>,
) -> FieldInfo {
    let column = match (&f.ty, multi_field_of) {
        (FieldType::ConstantKeyword { .. }, _) => None,
        (_, Some((parent_path, parent))) if shares_parent_column(parent, f) => {
            Some(parent_path.to_string())
        }
        _ if element_type(f).is_some() => Some(path.to_string()),
        _ => None,
    };
    let aggregatable = match &f.ty {
        FieldType::Text | FieldType::MatchOnlyText => {
            f.other.get("fielddata") == Some(&Value::Bool(true))
        }
        _ => f.doc_values != Some(false),
    };
    FieldInfo {
        path: path.to_string(),
        es_type: f.ty.name().to_string(),
        column,
        ignore_above: f.ignore_above,
        format: f.ty.date_format().map(str::to_string),
        scaling_factor: match f.ty {
            FieldType::ScaledFloat { scaling_factor } => Some(scaling_factor),
            _ => None,
        },
        null_value: f.null_value.clone(),
        nested_path: nested,
        constant_value: match &f.ty {
            FieldType::ConstantKeyword { value } => value.clone(),
            _ => None,
        },
        multi_field_of: multi_field_of.map(|(p, _)| p.to_string()),
        alias_of: None,
        runtime: false,
        searchable: f.index != Some(false),
        aggregatable,
        mapping: f.clone(),
    }
}

fn runtime_info(path: &str, def: &Value) -> FieldInfo {
    let ty = def
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("keyword")
        .to_string();
    let mut mapping = FieldMapping::new(FieldType::Keyword);
    if ty == "date" {
        mapping.ty = FieldType::Date {
            format: def
                .get("format")
                .and_then(Value::as_str)
                .map(str::to_string),
        };
    }
    FieldInfo {
        path: path.to_string(),
        format: mapping.ty.date_format().map(str::to_string),
        es_type: ty,
        column: None,
        ignore_above: None,
        scaling_factor: None,
        null_value: None,
        nested_path: None,
        constant_value: None,
        multi_field_of: None,
        alias_of: None,
        runtime: true,
        searchable: true,
        aggregatable: true,
        mapping,
    }
}

impl Mappings {
    /// Resolves a field path as the query side names it: through objects, multi-fields
    /// (`msg.keyword`), aliases and runtime fields. `None` for unmapped paths and for objects.
    pub fn field(&self, path: &str) -> Option<FieldInfo> {
        match self.lookup(path) {
            Some(Lookup::Field {
                mapping,
                multi_field_of,
                nested_path,
            }) => {
                if let FieldType::Alias { path: target } = &mapping.ty {
                    let mut resolved = self.field(target)?;
                    resolved.alias_of = Some(target.clone());
                    resolved.path = path.to_string();
                    return Some(resolved);
                }
                let mf = multi_field_of.as_ref().map(|(p, f)| (p.as_str(), *f));
                Some(info(path, mapping, mf, nested_path))
            }
            Some(Lookup::Object { .. }) => None,
            None => self.runtime.get(path).map(|def| runtime_info(path, def)),
        }
    }

    /// Whether `path` is an object or nested field (and which nested path contains it).
    pub fn object_at(&self, path: &str) -> Option<(bool, Option<String>)> {
        match self.lookup(path)? {
            Lookup::Object {
                mapping,
                nested_path,
            } => Some((matches!(mapping.ty, FieldType::Nested(_)), nested_path)),
            Lookup::Field { .. } => None,
        }
    }

    /// Whether the fields of the nested object at `nested_path` are also indexed in the root
    /// document, so that queries, sorts and aggregations outside a `nested` context see them:
    /// `include_in_root`, or `include_in_parent` up a chain of nested objects that reaches the
    /// root (nested.html, "include_in_parent" / "include_in_root").
    pub fn visible_from_root(&self, nested_path: &str) -> bool {
        let Some(Lookup::Object { mapping, .. }) = self.lookup(nested_path) else {
            return false;
        };
        let FieldType::Nested(o) = &mapping.ty else {
            return true;
        };
        if o.include_in_root == Some(true) {
            return true;
        }
        if o.include_in_parent != Some(true) {
            return false;
        }
        // The enclosing nested object, if any: the longest proper prefix that is one.
        let parent = nested_path
            .match_indices('.')
            .map(|(i, _)| &nested_path[..i])
            .rev()
            .find(|p| matches!(self.object_at(p), Some((true, _))));
        match parent {
            Some(p) => self.visible_from_root(p),
            None => true,
        }
    }

    /// Every leaf field with its full path (multi-fields and aliases included, runtime fields last),
    /// in path order.
    pub fn leaf_fields(&self) -> Vec<FieldInfo> {
        let mut out = Vec::new();
        walk_leaves(
            &self.properties,
            "",
            None,
            &mut |path, f, parent, nested| {
                if let FieldType::Alias { .. } = f.ty {
                    if let Some(i) = self.field(path) {
                        out.push(i);
                    }
                } else {
                    out.push(info(path, f, parent, nested));
                }
            },
        );
        for (name, def) in &self.runtime {
            out.push(runtime_info(name, def));
        }
        out
    }

    /// The columns an index with these mappings starts with: every leaf that has a column, single
    /// valued (`Nullable(T)`, or `Array(Nullable(T))` under nested objects).
    pub fn columns(&self) -> Vec<(String, ChType)> {
        let mut out = Vec::new();
        walk_leaves(
            &self.properties,
            "",
            None,
            &mut |path, f, parent, nested| {
                if let Some((_, p)) = parent
                    && shares_parent_column(p, f)
                {
                    return;
                }
                let shape = if nested.is_some() {
                    Shape::NestedSingle
                } else {
                    Shape::Single
                };
                if let Some(t) = shaped_type(f, shape) {
                    out.push((path.to_string(), t));
                }
            },
        );
        out
    }

    /// Mappings for a ClickHouse table elastichouse did not create. Returns the mappings and the
    /// columns that have no Elasticsearch counterpart (skipped).
    pub fn from_columns(cols: &[(String, ChType)]) -> (Mappings, Vec<(String, ChType)>) {
        let mut m = Mappings::default();
        let mut skipped = Vec::new();
        for (name, t) in cols {
            let Some(ty) = es_type_of(t) else {
                skipped.push((name.clone(), t.clone()));
                continue;
            };
            let parts: Vec<&str> = name.split('.').collect();
            if parts.iter().any(|p| p.is_empty())
                || !insert_path(&mut m.properties, &parts, FieldMapping::new(ty))
            {
                skipped.push((name.clone(), t.clone()));
            }
        }
        (m, skipped)
    }
}

fn insert_path(
    props: &mut BTreeMap<String, FieldMapping>,
    parts: &[&str],
    leaf: FieldMapping,
) -> bool {
    if parts.len() == 1 {
        if props.contains_key(parts[0]) {
            return false;
        }
        props.insert(parts[0].to_string(), leaf);
        return true;
    }
    let entry = props
        .entry(parts[0].to_string())
        .or_insert_with(|| FieldMapping::object(ObjectMapping::default()));
    match &mut entry.ty {
        FieldType::Object(o) => insert_path(&mut o.properties, &parts[1..], leaf),
        _ => false,
    }
}

/// The Elasticsearch type shown for a ClickHouse column type.
fn es_type_of(t: &ChType) -> Option<FieldType> {
    let mut t = t.base();
    while let ChType::Array(inner) = t {
        t = inner.base();
    }
    Some(match t {
        ChType::String | ChType::FixedString(_) | ChType::Uuid => FieldType::Keyword,
        ChType::Other(s)
            if s.starts_with("Enum8(") || s.starts_with("Enum16(") || s.starts_with("Enum(") =>
        {
            FieldType::Keyword
        }
        ChType::Int64 => FieldType::Long,
        ChType::Int32 | ChType::UInt16 => FieldType::Integer,
        ChType::Int16 | ChType::UInt8 => FieldType::Short,
        ChType::Int8 => FieldType::Byte,
        ChType::UInt32 => FieldType::Long,
        ChType::UInt64 => FieldType::UnsignedLong,
        ChType::Float64 | ChType::Decimal(_, _) => FieldType::Double,
        ChType::Float32 => FieldType::Float,
        ChType::Bool => FieldType::Boolean,
        ChType::Date | ChType::Date32 | ChType::DateTime(_) => FieldType::Date { format: None },
        ChType::DateTime64(p, _) if *p <= 3 => FieldType::Date { format: None },
        ChType::DateTime64(_, _) => FieldType::DateNanos { format: None },
        ChType::IPv4 | ChType::IPv6 => FieldType::Ip,
        ChType::Tuple(items)
            if items.len() == 2
                && items[0].0.as_deref() == Some("lat")
                && items[1].0.as_deref() == Some("lon")
                && items
                    .iter()
                    .all(|(_, t)| matches!(t.base(), ChType::Float64 | ChType::Float32)) =>
        {
            FieldType::GeoPoint
        }
        ChType::Map(_, _) => FieldType::Flattened,
        _ => return None,
    })
}

type LeafVisitor<'a> =
    dyn FnMut(&str, &FieldMapping, Option<(&str, &FieldMapping)>, Option<String>) + 'a;

fn walk_leaves(
    props: &BTreeMap<String, FieldMapping>,
    prefix: &str,
    nested: Option<String>,
    visit: &mut LeafVisitor<'_>,
) {
    for (name, f) in props {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        match &f.ty {
            FieldType::Object(o) => walk_leaves(&o.properties, &path, nested.clone(), visit),
            FieldType::Nested(o) => walk_leaves(&o.properties, &path, Some(path.clone()), visit),
            _ => {
                visit(&path, f, None, nested.clone());
                for (sub, sf) in &f.fields {
                    let sub_path = format!("{path}.{sub}");
                    visit(&sub_path, sf, Some((&path, f)), nested.clone());
                }
            }
        }
    }
}
