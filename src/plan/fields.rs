//! Field resolution for queries and sorts: a field path (`msg`, `msg.keyword`, an alias) → the
//! ClickHouse column that holds its values and the Elasticsearch type that decides the semantics.
//! Resolved from the mapping as `GET _mapping` shows it plus the table's real columns.

use crate::catalog::IndexMeta;
use crate::sql::{self, ChType, Expr};

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
    /// The column of standard-analyzer tokens (text fields of tables elastichouse created).
    pub tokens_column: Option<String>,
    /// A runtime field: the expression computing its value (NULL when the script emits nothing)
    /// stands in for the column (see [`super::runtime`]).
    pub expr: Option<Expr>,
}

impl Field {
    pub fn column_expr(&self) -> Expr {
        match &self.expr {
            Some(e) => e.clone(),
            None => sql::col(&self.column),
        }
    }

    /// A runtime field (queries on it score a constant, like Elasticsearch's script queries).
    pub fn is_runtime(&self) -> bool {
        self.expr.is_some()
    }
}

/// Resolves a field for querying, or `None` if the index does not map it or no document has given
/// it a value yet (no column): either way nothing matches. Runtime fields (the mapping's and the
/// search request's `runtime_mappings`, which shadow mapped fields of the same name) resolve to
/// their translated script; a script outside the translated subset resolves to `None` here — the
/// search checks every runtime field first ([`super::runtime::check_all`]) and answers its 400.
pub fn resolve(meta: &IndexMeta, path: &str) -> Option<Field> {
    if meta.mappings.runtime.contains_key(path) {
        return super::runtime::resolve(meta, path).ok().flatten();
    }
    resolve_mapped(meta, path)
}

/// [`resolve`] without runtime fields: the mapped field and its column.
pub fn resolve_mapped(meta: &IndexMeta, path: &str) -> Option<Field> {
    let info = meta.mappings.field(path)?;
    if outside_its_nested_scope(meta, info.nested_path.as_deref()) {
        // Elasticsearch indexes a nested object's fields in hidden documents of their own: a
        // query, sort or aggregation outside a `nested` context finds no value there
        // (nested.html; FieldSortBuilder#validateMissingNestedPath for sorts, see
        // `nested_sort_context_missing`).
        return None;
    }
    let constant = info.constant_value.clone();
    let column = match info.column.as_deref().and_then(|c| meta.physical_column(c)) {
        Some(c) => c.to_string(),
        None if constant.is_some() => String::new(),
        _ => return None,
    };
    let column_type = meta
        .columns
        .get(&column)
        .cloned()
        .unwrap_or(ChType::Other("Nothing".into()));
    let tokens_column = info
        .column
        .as_deref()
        .map(crate::analysis::token_column)
        .filter(|tc| meta.columns.contains_key(tc));
    Some(Field {
        path: path.to_string(),
        kind: EsKind::from_type(&info.es_type),
        is_array: column_type.is_array(),
        column_type,
        column,
        ignore_above: info.ignore_above.and_then(|n| u64::try_from(n).ok()),
        format: info.format.clone(),
        constant_value: constant,
        tokens_column,
        es_type: info.es_type,
        expr: None,
    })
}

/// Whether a field inside the nested object `nested_path` is invisible where `meta` is planned:
/// outside that object's `nested` scope and not also indexed in the root document.
fn outside_its_nested_scope(meta: &IndexMeta, nested_path: Option<&str>) -> bool {
    match nested_path {
        None => false,
        Some(p) => {
            meta.nested_scope.as_deref() != Some(p)
                && !(meta.nested_scope.is_none() && meta.mappings.visible_from_root(p))
        }
    }
}

/// A sort on a field of a nested object from outside its `nested` context: Elasticsearch refuses
/// it (FieldSortBuilder#validateMissingNestedPath: "it is mandatory to set the [nested] context on
/// the nested sort field").
pub fn nested_sort_context_missing(meta: &IndexMeta, path: &str) -> bool {
    meta.mappings.field(path).is_some_and(|i| {
        meta.nested_scope.is_none() && outside_its_nested_scope(meta, i.nested_path.as_deref())
    })
}

/// Whether a path is mapped as a leaf field (with or without values yet).
pub fn is_mapped(meta: &IndexMeta, path: &str) -> bool {
    meta.mappings.field(path).is_some()
}

/// Every resolvable leaf field under an object path.
pub fn leaves_under(meta: &IndexMeta, path: &str) -> Vec<Field> {
    let prefix = format!("{path}.");
    meta.mappings
        .leaf_fields()
        .into_iter()
        .filter(|f| f.path.starts_with(&prefix))
        .filter_map(|f| resolve(meta, &f.path))
        .collect()
}
