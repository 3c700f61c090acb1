//! Field resolution for queries and sorts: a field path (`msg`, `msg.keyword`, an alias) → the
//! ClickHouse column that holds its values and the Elasticsearch type that decides the semantics.
//! Resolved from the mapping as `GET _mapping` shows it plus the table's real columns.

use crate::catalog::IndexMeta;
use crate::sql::{self, ChType, Expr};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EsKind {
    Text,
    Keyword,
    ConstantKeyword,
    Wildcard,
    Long,
    Integer,
    Short,
    Byte,
    UnsignedLong,
    Double,
    Float,
    HalfFloat,
    ScaledFloat,
    Boolean,
    Date,
    DateNanos,
    Ip,
    GeoPoint,
    Flattened,
    Other,
}

impl EsKind {
    pub fn from_type(t: &str) -> EsKind {
        match t {
            "text" | "match_only_text" => EsKind::Text,
            "keyword" => EsKind::Keyword,
            "constant_keyword" => EsKind::ConstantKeyword,
            "wildcard" => EsKind::Wildcard,
            "long" => EsKind::Long,
            "integer" => EsKind::Integer,
            "short" => EsKind::Short,
            "byte" => EsKind::Byte,
            "unsigned_long" => EsKind::UnsignedLong,
            "double" => EsKind::Double,
            "float" => EsKind::Float,
            "half_float" => EsKind::HalfFloat,
            "scaled_float" => EsKind::ScaledFloat,
            "boolean" => EsKind::Boolean,
            "date" => EsKind::Date,
            "date_nanos" => EsKind::DateNanos,
            "ip" => EsKind::Ip,
            "geo_point" => EsKind::GeoPoint,
            "flattened" => EsKind::Flattened,
            _ => EsKind::Other,
        }
    }

    pub fn is_integer(self) -> bool {
        matches!(
            self,
            EsKind::Long | EsKind::Integer | EsKind::Short | EsKind::Byte | EsKind::UnsignedLong
        )
    }

    pub fn is_numeric(self) -> bool {
        self.is_integer()
            || matches!(
                self,
                EsKind::Double | EsKind::Float | EsKind::HalfFloat | EsKind::ScaledFloat
            )
    }
}

#[derive(Debug, Clone)]
pub struct Field {
    /// The path as the client named it (after alias resolution).
    pub path: String,
    pub es_type: String,
    pub kind: EsKind,
    pub column: String,
    pub column_type: ChType,
    pub is_array: bool,
    pub ignore_above: Option<u64>,
    pub format: Option<String>,
    pub constant_value: Option<String>,
}

impl Field {
    pub fn column_expr(&self) -> Expr {
        sql::col(&self.column)
    }
}

/// The mapping node (`{"type": …}`) of a dotted path, following `properties` and multi-field
/// `fields`. Returns the node and, for multi-fields, the parent's path.
fn find<'a>(mappings: &'a Value, path: &str) -> Option<(&'a Value, Option<String>)> {
    let parts: Vec<&str> = path.split('.').collect();
    // Try every split: properties can hold dotted names only through objects, but multi-fields
    // (`msg.keyword`) sit under `fields`.
    fn walk<'a>(
        node: &'a Value,
        parts: &[&str],
        prefix: &str,
    ) -> Option<(&'a Value, Option<String>)> {
        if parts.is_empty() {
            return Some((node, None));
        }
        if let Some(props) = node.get("properties").and_then(Value::as_object) {
            // Longest key first, so `"a.b"` keys (flattened storage of dotted names) also resolve.
            for take in (1..=parts.len()).rev() {
                let key = parts[..take].join(".");
                if let Some(child) = props.get(&key) {
                    let p = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    if let Some(r) = walk(child, &parts[take..], &p) {
                        return Some(r);
                    }
                }
            }
        }
        if parts.len() == 1
            && let Some(sub) = node.get("fields").and_then(|f| f.get(parts[0]))
        {
            return Some((sub, Some(prefix.to_string())));
        }
        None
    }
    walk(mappings, &parts, "")
}

/// Resolves a field for querying, or `None` if the index does not map it.
pub fn resolve(meta: &IndexMeta, path: &str) -> Option<Field> {
    let mappings = meta.mappings.to_json();
    resolve_in(&mappings, meta, path, 0)
}

fn resolve_in(mappings: &Value, meta: &IndexMeta, path: &str, depth: u8) -> Option<Field> {
    let (node, parent) = find(mappings, path)?;
    let es_type = node
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("object")
        .to_string();
    if es_type == "alias" {
        let target = node.get("path")?.as_str()?;
        return if depth < 4 {
            resolve_in(mappings, meta, target, depth + 1)
        } else {
            None
        };
    }
    if es_type == "object" || es_type == "nested" {
        return None;
    }
    // A multi-field has its own column if the table has one, else it reads its parent's.
    let column = if meta.columns.contains_key(path) {
        path.to_string()
    } else if let Some(p) = &parent
        && meta.columns.contains_key(p)
    {
        p.clone()
    } else if es_type == "constant_keyword" {
        String::new()
    } else {
        // Mapped but no value was ever indexed: no column, so nothing matches.
        return None;
    };
    let column_type = meta
        .columns
        .get(&column)
        .cloned()
        .unwrap_or(ChType::Other("Nothing".into()));
    Some(Field {
        path: path.to_string(),
        kind: EsKind::from_type(&es_type),
        is_array: column_type.is_array(),
        column_type,
        column,
        ignore_above: node.get("ignore_above").and_then(Value::as_u64),
        format: node
            .get("format")
            .and_then(Value::as_str)
            .map(str::to_string),
        constant_value: node
            .get("value")
            .and_then(Value::as_str)
            .map(str::to_string),
        es_type,
    })
}

/// Whether a path is mapped at all (also objects), for `unmapped` decisions.
pub fn is_mapped(meta: &IndexMeta, path: &str) -> bool {
    find(&meta.mappings.to_json(), path).is_some()
}

/// Every resolvable leaf field under an object path.
pub fn leaves_under(meta: &IndexMeta, path: &str) -> Vec<Field> {
    let prefix = format!("{path}.");
    meta.columns
        .keys()
        .filter(|c| c.starts_with(&prefix))
        .filter_map(|c| resolve(meta, c))
        .collect()
}
