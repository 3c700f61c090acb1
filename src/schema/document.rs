//! Preparing one document for insertion: walk the JSON as Elasticsearch's `DocumentParser` does,
//! map new fields dynamically, convert every value for its column and report Elasticsearch's
//! errors.
//!
//! Elasticsearch behaviour followed (elastic/elasticsearch 8.x):
//! - `DocumentParser`: objects, arrays (split into values except for `geo_point`), nulls, concrete
//!   values given to objects, disabled objects, nested documents, strict / false / runtime dynamic,
//!   copy_to, field aliases, metadata fields, error wrapping with `[line:col]`;
//! - `DotExpandingXContentParser`: `{"a.b": 1}` is `{"a": {"b": 1}}`, and its field name checks;
//! - `DynamicFieldsBuilder`: string → numeric detection → date detection → `text` + `keyword`,
//!   integers → `long`, floats → `float`, booleans → `boolean`, templates first; every value of a new
//!   field makes its own dynamic mapper and they are merged at the end (so `[1, 1.5]` fails with
//!   "mapper [x] cannot be changed from type [long] to [float]", as in Elasticsearch);
//! - `FieldMapper#parse`: "failed to parse field [f] of type [t] in document with id 'id'. Preview
//!   of field's value: '…'" with the cause in `caused_by`.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::rc::Rc;

use serde_json::{Map, Value};

use super::columns::{Shape, shape_of, shaped_type, shares_parent_column};
use super::dates;
use super::json::{self, Kind, Loc, Node, NumberType, java_preview, number_type};
use super::mapping::{
    DEFAULT_DATE_FORMAT, Dynamic, FieldMapping, FieldType, Mappings, ObjectMapping, iae,
    merge_field, mpe,
};
use super::templates::MatchType;
use super::values::{Bad, Parsed, float_json, java_parse_double, parse_leaf};
use crate::error::{EsError, EsResult};
use crate::sql::ChType;

/// A document ready for `INSERT … FORMAT JSONEachRow`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PreparedDoc {
    /// (column, value) for every column the document has values for, in column-name order, each
    /// value as ClickHouse's JSONEachRow reads it for the column's type (reserved columns not
    /// included).
    pub values: Vec<(String, Value)>,
    /// The mapping update dynamic mapping produced (`None`: nothing new). Merge it into the
    /// index's mappings before inserting.
    pub mapping_update: Option<Mappings>,
    /// Columns to add first (name, type).
    pub new_columns: Vec<(String, ChType)>,
    /// Existing scalar columns (`Nullable(T)` / `T`) that must become `Array(T)` first: a field
    /// seen single-valued got an array.
    pub array_columns: Vec<String>,
    /// Other column type changes needed first: a nested leaf `Array(Nullable(T))` that got an array
    /// inside one nested object becomes `Array(Array(T))` (fill: `arrayMap(x -> if(isNull(x), [],
    /// [assumeNotNull(x)]), col)`).
    pub column_migrations: Vec<ColumnMigration>,
    /// Fields Elasticsearch would list in `_ignored` (ignore_above exceeded, malformed values
    /// ignored).
    pub ignored: Vec<String>,
}

/// An existing column whose type must change before the document can be inserted.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnMigration {
    pub column: String,
    pub from: ChType,
    pub to: ChType,
}

/// Prepares `source` (the document as parsed JSON). Positions in error messages are those of the
/// compact serialisation of `source`; use [`prepare_document_bytes`] with the client's bytes to get
/// the client's positions and number spellings.
pub fn prepare_document(
    mappings: &Mappings,
    columns: &BTreeMap<String, ChType>,
    source: &Value,
    id: &str,
) -> EsResult<PreparedDoc> {
    let bytes = serde_json::to_vec(source).map_err(|e| EsError::document_parsing(e.to_string()))?;
    prepare_document_bytes(mappings, columns, &bytes, id)
}

/// Prepares a document from the bytes the client sent (the `_source` as stored).
pub fn prepare_document_bytes(
    mappings: &Mappings,
    columns: &BTreeMap<String, ChType>,
    source: &[u8],
    id: &str,
) -> EsResult<PreparedDoc> {
    if source.is_empty() {
        return Err(EsError::document_parsing(
            "[0:0] failed to parse, document is empty",
        ));
    }
    let root = match json::parse(source) {
        Ok(n) => n,
        Err(e) if source.iter().all(u8::is_ascii_whitespace) => {
            let _ = e;
            return Err(EsError::document_parsing(
                "Malformed content, must start with an object",
            ));
        }
        Err(e) => {
            let cause = EsError::new(
                400,
                "x_content_parse_exception",
                format!("[{}] {}", e.loc, e.message),
            )
            .caused_by(EsError::new(400, "json_parse_exception", e.message.clone()));
            return Err(EsError::document_parsing(format!(
                "[{}] failed to parse: [{}] {}",
                e.loc, e.loc, e.message
            ))
            .caused_by(cause));
        }
    };
    let Kind::Object(fields) = &root.kind else {
        return Err(EsError::document_parsing(
            "Malformed content, must start with an object",
        ));
    };
    let mut p = DocParser {
        m: mappings,
        id,
        dyn_mappers: Vec::new(),
        runtime_updates: BTreeMap::new(),
        columns: BTreeMap::new(),
        // Usually about one column per top-level field.
        values: Vec::with_capacity(fields.len() + 2),
        ignored: BTreeSet::new(),
        nested_counts: BTreeMap::new(),
        nested_total: 0,
        current_loc: root.start,
    };
    if mappings.is_enabled() {
        let scope = Scope {
            seg_ends: Vec::new(),
            base: String::new(),
            props: Props::Static(&mappings.properties),
            dynamic: mappings.root_dynamic(),
            nested: Vec::new(),
            in_array: false,
            subobjects: mappings.subobjects.as_deref() != Some("false"),
            flat_prefix: String::new(),
            copy: false,
            root: true,
        };
        p.parse_object(&scope, fields)?;
    }
    let mapping_update = p.build_update()?;
    let mut out = p.materialize(columns)?;
    out.mapping_update = mapping_update;
    Ok(out)
}

#[derive(Clone)]
enum Props<'a> {
    None,
    Static(&'a BTreeMap<String, FieldMapping>),
    Dyn(Rc<BTreeMap<String, FieldMapping>>),
}

/// Where the parser stands: the object being parsed and what applies in it.
#[derive(Clone)]
struct Scope<'a> {
    /// The path segments of this object joined with dots and followed by a dot (empty at the
    /// root): what child paths start with, so that building a path is a single allocation.
    base: String,
    /// Where each path segment ends in `base` (segments may contain dots themselves when
    /// `subobjects` is false).
    seg_ends: Vec<usize>,
    props: Props<'a>,
    dynamic: Dynamic,
    /// Enclosing nested documents (nested path, document number), innermost last.
    nested: Vec<(String, usize)>,
    /// Inside a JSON array (values are multi-valued).
    in_array: bool,
    subobjects: bool,
    /// Prefix of flattened names when `subobjects` is false.
    flat_prefix: String,
    /// Parsing a copy_to value (no further copies).
    copy: bool,
    root: bool,
}

impl<'a> Scope<'a> {
    fn path(&self, name: &str) -> String {
        let mut p = String::with_capacity(self.base.len() + self.flat_prefix.len() + name.len());
        p.push_str(&self.base);
        p.push_str(&self.flat_prefix);
        p.push_str(name);
        p
    }

    /// The key of child `name` in this object's properties.
    fn leaf_key<'n>(&self, name: &'n str) -> Cow<'n, str> {
        if self.flat_prefix.is_empty() {
            Cow::Borrowed(name)
        } else {
            Cow::Owned(format!("{}{name}", self.flat_prefix))
        }
    }

    fn seg_path(&self, name: &str) -> Vec<String> {
        let mut s = Vec::with_capacity(self.seg_ends.len() + 1);
        let mut start = 0;
        for &end in &self.seg_ends {
            s.push(self.base[start..end].to_string());
            start = end + 1;
        }
        s.push(self.leaf_key(name).into_owned());
        s
    }

    /// The scope of child object `name` (same settings; the caller adjusts them).
    fn descend(&self, name: &str) -> Scope<'a> {
        let mut base =
            String::with_capacity(self.base.len() + self.flat_prefix.len() + name.len() + 1);
        base.push_str(&self.base);
        base.push_str(&self.flat_prefix);
        base.push_str(name);
        base.push('.');
        Scope {
            seg_ends: {
                let mut ends = Vec::with_capacity(self.seg_ends.len() + 1);
                ends.extend_from_slice(&self.seg_ends);
                ends.push(base.len() - 1);
                ends
            },
            base,
            props: self.props.clone(),
            dynamic: self.dynamic,
            nested: self.nested.clone(),
            in_array: self.in_array,
            subobjects: self.subobjects,
            flat_prefix: String::new(),
            copy: self.copy,
            root: false,
        }
    }

    /// The full path of this object as Elasticsearch names it in strict errors.
    fn object_name(&self) -> String {
        if self.seg_ends.is_empty() {
            "_doc".to_string()
        } else {
            self.base[..self.base.len() - 1].to_string()
        }
    }

    /// The mapping of child `name`: borrowed from the index mapping, or a copy for objects made in
    /// this document.
    fn child(&self, name: &str) -> Option<FieldRef<'a>> {
        let key = self.leaf_key(name);
        match &self.props {
            Props::None => None,
            Props::Static(p) => p.get(key.as_ref()).map(FieldRef::Borrowed),
            Props::Dyn(p) => p
                .get(key.as_ref())
                .map(|f| FieldRef::Owned(Box::new(f.clone()))),
        }
    }
}

/// A child mapping: borrowed from the index mapping, or a boxed copy (kept small, as it is passed
/// around for every field).
enum FieldRef<'a> {
    Borrowed(&'a FieldMapping),
    Owned(Box<FieldMapping>),
}

impl std::ops::Deref for FieldRef<'_> {
    type Target = FieldMapping;
    fn deref(&self) -> &FieldMapping {
        match self {
            FieldRef::Borrowed(f) => f,
            FieldRef::Owned(f) => f,
        }
    }
}

/// The values collected for one column.
struct ColValues {
    /// The type of the field that made the column (the first one seen).
    ty: FieldType,
    nested: Option<String>,
    from_array: bool,
    single: Vec<Parsed>,
    per_doc: BTreeMap<usize, Vec<Parsed>>,
}

struct DocParser<'a> {
    m: &'a Mappings,
    id: &'a str,
    /// Dynamic mappers in the order they were created: path segments and mapping.
    dyn_mappers: Vec<(Vec<String>, FieldMapping)>,
    runtime_updates: BTreeMap<String, Value>,
    /// Column name → index in `values` (the values live in a vector so that the map stays small).
    columns: BTreeMap<String, usize>,
    values: Vec<Option<ColValues>>,
    ignored: BTreeSet<String>,
    nested_counts: BTreeMap<String, usize>,
    nested_total: usize,
    /// Position of the value being handled (for errors raised away from it).
    current_loc: Loc,
}

const METADATA_FIELDS: &[&str] = &[
    "_id",
    "_index",
    "_routing",
    "_ignored",
    "_source",
    "_seq_no",
    "_version",
    "_primary_term",
    "_nested_path",
    "_field_names",
    "_tier",
];

const NESTED_DOCS_LIMIT: usize = 10_000;
const MAPPING_DEPTH_LIMIT: usize = 20;

fn doc_err(loc: Loc, reason: impl std::fmt::Display) -> EsError {
    EsError::document_parsing(format!("[{loc}] {reason}"))
}

/// `wrapInDocumentParsingException`: an error that is not already a document parsing error.
fn failed_to_parse(loc: Loc, cause: EsError) -> EsError {
    EsError::document_parsing(format!("[{loc}] failed to parse: {}", cause.reason)).caused_by(cause)
}

/// Splits a dotted document field name as `DotExpandingXContentParser` does.
fn expand_dots(key: &str, loc: Loc) -> EsResult<Vec<&str>> {
    let mut parts: Vec<&str> = key.split('.').collect();
    let all = parts.len();
    while parts.last() == Some(&"") {
        parts.pop();
    }
    if parts.is_empty() {
        return Err(failed_to_parse(
            loc,
            iae("field name cannot contain only dots"),
        ));
    }
    for part in &parts {
        if part.trim().is_empty() {
            let msg = if part.is_empty() {
                format!("field name cannot contain only whitespace: ['{key}']")
            } else {
                format!(
                    "field name starting or ending with a [.] makes object resolution ambiguous: [{key}]"
                )
            };
            return Err(failed_to_parse(loc, iae(msg)));
        }
    }
    let _ = all;
    Ok(parts)
}

impl<'a> DocParser<'a> {
    fn parse_object(&mut self, scope: &Scope<'a>, fields: &[(String, Loc, Node)]) -> EsResult<()> {
        // Duplicate keys: small objects compare with the keys before, large ones use a set.
        let mut seen: Option<HashSet<&str>> = (fields.len() > 16).then(HashSet::new);
        for (i, (key, kloc, value)) in fields.iter().enumerate() {
            let duplicate = match &mut seen {
                Some(set) => !set.insert(key.as_str()),
                None => fields[..i].iter().any(|(k, _, _)| k == key),
            };
            if duplicate {
                let msg = format!("Duplicate field '{key}'");
                let cause =
                    EsError::new(400, "x_content_parse_exception", format!("[{kloc}] {msg}"))
                        .caused_by(EsError::new(400, "json_parse_exception", msg.clone()));
                return Err(failed_to_parse(*kloc, cause));
            }
            if key.is_empty() {
                return Err(failed_to_parse(
                    *kloc,
                    iae("field name cannot be an empty string"),
                ));
            }
            if scope.subobjects && scope.flat_prefix.is_empty() && key.contains('.') {
                let parts = expand_dots(key, *kloc)?;
                if parts.len() > 1 || key.ends_with('.') {
                    // Re-shape {"a.b.c": v} as {"a": {"b": {"c": v}}}; the made-up objects are at the
                    // position of the key, as the expanding parser reports them.
                    let mut node = value.clone();
                    for part in parts[1..].iter().rev() {
                        node = Node {
                            kind: Kind::Object(vec![(part.to_string(), *kloc, node)]),
                            start: *kloc,
                            end: value.end,
                        };
                    }
                    self.handle_field(scope, parts[0], *kloc, &node)?;
                    continue;
                }
            }
            // (A key that trims to nothing starts with whitespace: most keys skip the trim.)
            if key.starts_with(char::is_whitespace) && key.trim().is_empty() {
                return Err(doc_err(
                    *kloc,
                    format!(
                        "Field name cannot contain only whitespace: [{}]",
                        scope.path(key)
                    ),
                ));
            }
            self.handle_field(scope, key, *kloc, value)?;
        }
        Ok(())
    }

    fn handle_field(
        &mut self,
        scope: &Scope<'a>,
        name: &str,
        kloc: Loc,
        node: &Node,
    ) -> EsResult<()> {
        if scope.root
            && scope.flat_prefix.is_empty()
            && name.starts_with('_')
            && METADATA_FIELDS.contains(&name)
        {
            let loc = if matches!(node.kind, Kind::Object(_) | Kind::Array(_)) {
                node.end
            } else {
                node.start
            };
            return Err(doc_err(
                loc,
                format!(
                    "failed to parse field [{name}] of type [{name}] in document with id '{}'. Preview of field's value: '{}'",
                    self.id,
                    java_preview(node)
                ),
            )
            .caused_by(mpe(format!(
                "Field [{name}] is a metadata field and cannot be added inside a document. Use the index API request parameters."
            ))));
        }
        if scope.root && name == "_doc_count" {
            return Ok(());
        }
        match &node.kind {
            Kind::Object(_) => self.parse_object_value(scope, name, kloc, node),
            Kind::Array(_) => self.parse_array(scope, name, kloc, node),
            Kind::Null => self.parse_null(scope, name, node),
            _ => self.parse_value(scope, name, node),
        }
    }

    fn ensure_not_strict(&self, scope: &Scope<'a>, name: &str, loc: Loc) -> EsResult<()> {
        if scope.dynamic == Dynamic::Strict {
            return Err(EsError::strict_dynamic_mapping(format!(
                "[{loc}] mapping set to strict, dynamic introduction of [{name}] within [{}] is not allowed",
                scope.object_name()
            )));
        }
        Ok(())
    }

    fn is_runtime_field(&self, scope: &Scope<'a>, name: &str) -> bool {
        !self.m.runtime.is_empty() && self.m.runtime.contains_key(&scope.path(name))
    }

    fn alias_error(&self, scope: &Scope<'a>, name: &str, loc: Loc) -> EsError {
        let verb = if scope.copy { "copy" } else { "write" };
        doc_err(
            loc,
            format!("Cannot {verb} to a field alias [{}].", scope.path(name)),
        )
    }

    fn parse_object_value(
        &mut self,
        scope: &Scope<'a>,
        name: &str,
        kloc: Loc,
        node: &Node,
    ) -> EsResult<()> {
        let Kind::Object(fields) = &node.kind else {
            return Ok(());
        };
        match scope.child(name) {
            Some(f) => match &f.ty {
                FieldType::Object(_) | FieldType::Nested(_) => {
                    self.enter_object(scope, name, &f, fields, node)
                }
                FieldType::Alias { .. } => Err(self.alias_error(scope, name, node.start)),
                FieldType::Flattened | FieldType::GeoPoint => {
                    self.parse_field_value(scope, name, &f, kloc, node)
                }
                _ if !scope.subobjects => self.flatten_into(scope, name, fields),
                _ => self.parse_field_value(scope, name, &f, kloc, node),
            },
            None => {
                if self.is_runtime_field(scope, name) {
                    return Ok(());
                }
                self.ensure_not_strict(scope, name, node.start)?;
                match scope.dynamic {
                    Dynamic::False => Ok(()),
                    Dynamic::Runtime => {
                        let mut child = scope.descend(name);
                        child.props = Props::None;
                        self.parse_object(&child, fields)
                    }
                    Dynamic::True | Dynamic::Strict => {
                        let template = self.template_mapping(
                            scope,
                            name,
                            MatchType::Object,
                            None,
                            node.start,
                        )?;
                        match template {
                            Some(f) if f.ty.is_leaf() => {
                                self.add_dynamic(scope, name, f.clone())?;
                                self.parse_field_value(scope, name, &f, kloc, node)
                            }
                            Some(f) => {
                                if !scope.subobjects && matches!(f.ty, FieldType::Object(_)) {
                                    return self.flatten_into(scope, name, fields);
                                }
                                if !scope.subobjects && matches!(f.ty, FieldType::Nested(_)) {
                                    return Err(doc_err(
                                        node.start,
                                        format!(
                                            "Tried to add nested object [{name}] to object [{}] which does not support subobjects",
                                            scope.object_name()
                                        ),
                                    ));
                                }
                                self.add_dynamic(scope, name, f.clone())?;
                                self.enter_object(scope, name, &f, fields, node)
                            }
                            None => {
                                if !scope.subobjects {
                                    return self.flatten_into(scope, name, fields);
                                }
                                let f = FieldMapping::object(ObjectMapping::default());
                                self.add_dynamic(scope, name, f.clone())?;
                                self.enter_object(scope, name, &f, fields, node)
                            }
                        }
                    }
                }
            }
        }
    }

    /// `subobjects: false`: `{"a": {"b": 1}}` is the field `a.b` of this object.
    fn flatten_into(
        &mut self,
        scope: &Scope<'a>,
        name: &str,
        fields: &[(String, Loc, Node)],
    ) -> EsResult<()> {
        let mut flat = scope.clone();
        flat.flat_prefix = format!("{}{name}.", scope.flat_prefix);
        self.parse_object(&flat, fields)
    }

    fn enter_object(
        &mut self,
        scope: &Scope<'a>,
        name: &str,
        f: &FieldMapping,
        fields: &[(String, Loc, Node)],
        node: &Node,
    ) -> EsResult<()> {
        let Some(o) = f.ty.object() else {
            return Ok(());
        };
        if !o.is_enabled() {
            return Ok(());
        }
        let mut child = scope.descend(name);
        child.dynamic = o.dynamic.unwrap_or(scope.dynamic);
        child.subobjects = o.subobjects_enabled();
        child.props = match &scope.props {
            Props::Static(p) => match p.get(scope.leaf_key(name).as_ref()) {
                Some(FieldMapping {
                    ty: FieldType::Object(so) | FieldType::Nested(so),
                    ..
                }) => Props::Static(&so.properties),
                _ => Props::Dyn(Rc::new(o.properties.clone())),
            },
            _ => Props::Dyn(Rc::new(o.properties.clone())),
        };
        if matches!(f.ty, FieldType::Nested(_)) {
            let path = child.base[..child.base.len() - 1].to_string();
            let reuse = if scope.copy {
                scope
                    .nested
                    .iter()
                    .find(|(p, _)| *p == path)
                    .map(|(_, i)| *i)
            } else {
                None
            };
            let idx = match reuse {
                Some(i) => i,
                None => {
                    self.nested_total += 1;
                    if self.nested_total > NESTED_DOCS_LIMIT {
                        return Err(doc_err(
                            node.start,
                            format!(
                                "The number of nested documents has exceeded the allowed limit of [{NESTED_DOCS_LIMIT}]. This limit can be set by changing the [index.mapping.nested_objects.limit] index level setting."
                            ),
                        ));
                    }
                    let c = self.nested_counts.entry(path.clone()).or_insert(0);
                    *c += 1;
                    *c - 1
                }
            };
            child.nested.push((path, idx));
            child.in_array = false;
        }
        self.parse_object(&child, fields)
    }

    fn parse_array(
        &mut self,
        scope: &Scope<'a>,
        name: &str,
        kloc: Loc,
        node: &Node,
    ) -> EsResult<()> {
        let Kind::Array(items) = &node.kind else {
            return Ok(());
        };
        let child = scope.child(name);
        match &child {
            Some(f) if matches!(f.ty, FieldType::GeoPoint) => {
                let mut s = scope.clone();
                s.in_array = true;
                return self.parse_field_value(&s, name, f, kloc, node);
            }
            Some(_) => {}
            None => {
                if self.is_runtime_field(scope, name) {
                    return Ok(());
                }
                self.ensure_not_strict(scope, name, node.start)?;
                if scope.dynamic == Dynamic::False {
                    return Ok(());
                }
                if scope.dynamic != Dynamic::Runtime
                    && let Some(f) =
                        self.template_mapping(scope, name, MatchType::Object, None, node.start)?
                    && matches!(f.ty, FieldType::GeoPoint)
                {
                    self.add_dynamic(scope, name, f.clone())?;
                    let mut s = scope.clone();
                    s.in_array = true;
                    return self.parse_field_value(&s, name, &f, kloc, node);
                }
            }
        }
        let mut s = scope.clone();
        s.in_array = true;
        for item in items {
            self.handle_field(&s, name, kloc, item)?;
        }
        Ok(())
    }

    fn parse_null(&mut self, scope: &Scope<'a>, name: &str, node: &Node) -> EsResult<()> {
        match scope.child(name) {
            Some(f) => match &f.ty {
                FieldType::Object(_) | FieldType::Nested(_) => Ok(()),
                FieldType::Alias { .. } => Err(self.alias_error(scope, name, node.start)),
                _ => self.parse_field_value(scope, name, &f, node.start, node),
            },
            None => {
                if self.is_runtime_field(scope, name) {
                    return Ok(());
                }
                self.ensure_not_strict(scope, name, node.start)
            }
        }
    }

    fn parse_value(&mut self, scope: &Scope<'a>, name: &str, node: &Node) -> EsResult<()> {
        match scope.child(name) {
            Some(f) => match &f.ty {
                FieldType::Object(o) | FieldType::Nested(o) => {
                    if !o.is_enabled() {
                        return Ok(());
                    }
                    Err(doc_err(
                        node.start,
                        format!(
                            "object mapping for [{}] tried to parse field [{name}] as object, but found a concrete value",
                            scope.path(name)
                        ),
                    ))
                }
                FieldType::Alias { .. } => Err(self.alias_error(scope, name, node.start)),
                _ => self.parse_field_value(scope, name, &f, node.start, node),
            },
            None => {
                if self.is_runtime_field(scope, name) {
                    return Ok(());
                }
                self.ensure_not_strict(scope, name, node.start)?;
                if scope.dynamic == Dynamic::False {
                    return Ok(());
                }
                self.dynamic_value(scope, name, node)
            }
        }
    }

    /// `DynamicFieldsBuilder#createDynamicFieldFromValue`.
    fn dynamic_value(&mut self, scope: &Scope<'a>, name: &str, node: &Node) -> EsResult<()> {
        let (match_type, date_format) = match &node.kind {
            Kind::String(s) => {
                let as_long = java_parse_long(s);
                let as_double = java_parse_double(s).is_some();
                if as_long && self.m.numeric_detection() {
                    (MatchType::Long, None)
                } else if as_double && self.m.numeric_detection() {
                    (MatchType::Double, None)
                } else if !as_long && !as_double && self.m.date_detection() {
                    match self
                        .m
                        .dynamic_date_formats()
                        .into_iter()
                        .find(|f| dates::parse_date(s, f).is_ok())
                    {
                        Some(f) => (MatchType::Date, Some(f)),
                        None => (MatchType::String, None),
                    }
                } else {
                    (MatchType::String, None)
                }
            }
            Kind::Number(raw) => {
                if number_type(raw) == NumberType::Double {
                    (MatchType::Double, None)
                } else {
                    (MatchType::Long, None)
                }
            }
            Kind::Bool(_) => (MatchType::Boolean, None),
            _ => (MatchType::String, None),
        };
        let template =
            self.template_mapping(scope, name, match_type, date_format.as_deref(), node.start)?;
        let runtime = template.is_none() && scope.dynamic == Dynamic::Runtime
            || template
                .as_ref()
                .is_some_and(|_| self.template_is_runtime(scope, name, match_type));
        if runtime {
            let ty = match &template {
                Some(f) => f.ty.name().to_string(),
                None => match match_type {
                    MatchType::String => "keyword".to_string(),
                    other => other.name().to_string(),
                },
            };
            let mut def = Map::new();
            def.insert("type".into(), Value::String(ty));
            if let Some(f) = date_format.filter(|f| f != DEFAULT_DATE_FORMAT) {
                def.insert("format".into(), Value::String(f));
            }
            self.runtime_updates
                .insert(scope.path(name), Value::Object(def));
            return Ok(());
        }
        let f = match template {
            Some(f) => f,
            None => match match_type {
                MatchType::String => FieldMapping::dynamic_text(),
                MatchType::Long => FieldMapping::new(FieldType::Long),
                MatchType::Double => FieldMapping::new(FieldType::Float),
                MatchType::Boolean => FieldMapping::new(FieldType::Boolean),
                MatchType::Date => FieldMapping::new(FieldType::Date {
                    format: date_format.filter(|f| f != DEFAULT_DATE_FORMAT),
                }),
                MatchType::Object | MatchType::Binary => FieldMapping::dynamic_text(),
            },
        };
        self.add_dynamic(scope, name, f.clone())?;
        self.parse_field_value(scope, name, &f, node.start, node)
    }

    fn find_template(
        &self,
        scope: &Scope<'a>,
        name: &str,
        ty: MatchType,
    ) -> Option<&'a super::templates::DynamicTemplate> {
        let path = scope.path(name);
        let leaf = format!("{}{name}", scope.flat_prefix);
        self.m
            .templates()
            .iter()
            .find(|t| t.matches(&path, &leaf, ty))
    }

    fn template_is_runtime(&self, scope: &Scope<'a>, name: &str, ty: MatchType) -> bool {
        self.find_template(scope, name, ty)
            .is_some_and(|t| t.runtime)
    }

    /// The mapping a matching dynamic template gives, if any (`DynamicFieldsBuilder#applyMatchingTemplate`).
    fn template_mapping(
        &self,
        scope: &Scope<'a>,
        name: &str,
        ty: MatchType,
        date_format: Option<&str>,
        loc: Loc,
    ) -> EsResult<Option<FieldMapping>> {
        let Some(t) = self.find_template(scope, name, ty) else {
            return Ok(None);
        };
        let leaf = format!("{}{name}", scope.flat_prefix);
        let mut f = t.build(&leaf, ty).map_err(|e| failed_to_parse(loc, e))?;
        // A date detected with a non-default format gives that format to a template date field
        // that names none (MappingParserContext#getDateFormatter).
        if let (Some(fmt), FieldType::Date { format } | FieldType::DateNanos { format }) =
            (date_format, &mut f.ty)
            && format.is_none()
            && fmt != DEFAULT_DATE_FORMAT
        {
            *format = Some(fmt.to_string());
        }
        Ok(Some(f))
    }

    fn add_dynamic(&mut self, scope: &Scope<'a>, name: &str, f: FieldMapping) -> EsResult<()> {
        let segs = scope.seg_path(name);
        // MappingLookup#checkObjectDepthLimit (index.mapping.depth.limit, default 20; the root
        // counts as one level).
        if f.ty.object().is_some() && segs.len() + 1 > MAPPING_DEPTH_LIMIT {
            return Err(failed_to_parse(
                self.current_loc,
                iae(format!(
                    "Limit of mapping depth [{MAPPING_DEPTH_LIMIT}] has been exceeded due to object field [{}]",
                    segs.join(".")
                )),
            ));
        }
        self.dyn_mappers.push((segs, f));
        Ok(())
    }

    fn preview_error(&self, path: &str, f: &FieldMapping, node: &Node, bad: Bad) -> EsError {
        if matches!(f.ty, FieldType::GeoPoint) {
            return doc_err(
                node.start,
                format!("failed to parse field [{path}] of type [geo_point]"),
            )
            .caused_by(bad.cause);
        }
        let loc = if matches!(node.kind, Kind::Object(_) | Kind::Array(_)) {
            node.end
        } else {
            node.start
        };
        doc_err(
            loc,
            format!(
                "failed to parse field [{path}] of type [{}] in document with id '{}'. Preview of field's value: '{}'",
                f.ty.name(),
                self.id,
                java_preview(node)
            ),
        )
        .caused_by(bad.cause)
    }

    fn parse_field_value(
        &mut self,
        scope: &Scope<'a>,
        name: &str,
        f: &FieldMapping,
        kloc: Loc,
        node: &Node,
    ) -> EsResult<()> {
        let mut path = scope.path(name);
        let leaf = parse_leaf(f, &path, node).map_err(|b| self.preview_error(&path, f, node, b))?;
        if leaf.ignored {
            self.ignored.insert(path.clone());
        }
        // constant_keyword without a value takes the first one it sees (a mapping update).
        if let FieldType::ConstantKeyword { value: None } = &f.ty
            && let Some(Parsed::Str(v)) = leaf.values.first()
        {
            let mut fixed = f.clone();
            fixed.ty = FieldType::ConstantKeyword {
                value: Some(v.clone()),
            };
            self.add_dynamic(scope, name, fixed)?;
        }
        if !matches!(f.ty, FieldType::ConstantKeyword { .. }) {
            // The path is the column name; copy it only when it is needed again below.
            let later = !f.fields.is_empty() || (!scope.copy && !f.copy_to.is_empty());
            let column = if later {
                path.clone()
            } else {
                std::mem::take(&mut path)
            };
            self.add_values(scope, column, f, leaf.values);
        }
        for (sub, sf) in &f.fields {
            let mut sub_path = String::with_capacity(path.len() + 1 + sub.len());
            sub_path.push_str(&path);
            sub_path.push('.');
            sub_path.push_str(sub);
            let sub_leaf = parse_leaf(sf, &sub_path, node)
                .map_err(|b| self.preview_error(&sub_path, sf, node, b))?;
            if sub_leaf.ignored {
                self.ignored.insert(sub_path.clone());
            }
            if !shares_parent_column(f, sf) && !matches!(sf.ty, FieldType::ConstantKeyword { .. }) {
                self.add_values(scope, sub_path, sf, sub_leaf.values);
            }
        }
        if !scope.copy && !f.copy_to.is_empty() {
            if matches!(node.kind, Kind::Object(_) | Kind::Array(_)) {
                return Err(doc_err(
                    node.start,
                    format!(
                        "Cannot copy field [{path}] to fields [{}]. Copy-to currently only works for value-type fields, not objects.",
                        f.copy_to.join(", ")
                    ),
                ));
            }
            for target in &f.copy_to {
                let root = Scope {
                    seg_ends: Vec::new(),
                    base: String::new(),
                    props: Props::Static(&self.m.properties),
                    dynamic: self.m.root_dynamic(),
                    nested: scope.nested.clone(),
                    in_array: false,
                    subobjects: self.m.subobjects.as_deref() != Some("false"),
                    flat_prefix: String::new(),
                    copy: true,
                    root: false,
                };
                let wrapped = [(target.clone(), kloc, node.clone())];
                self.parse_object(&root, &wrapped)?;
            }
        }
        Ok(())
    }

    fn add_values(
        &mut self,
        scope: &Scope<'a>,
        column: String,
        f: &FieldMapping,
        values: Vec<Parsed>,
    ) {
        let nested = scope.nested.last();
        let i = match self.columns.get(&column) {
            Some(&i) => i,
            None => {
                self.values.push(Some(ColValues {
                    ty: f.ty.clone(),
                    nested: nested.map(|(p, _)| p.clone()),
                    from_array: false,
                    single: Vec::new(),
                    per_doc: BTreeMap::new(),
                }));
                self.columns.insert(column, self.values.len() - 1);
                self.values.len() - 1
            }
        };
        let Some(col) = self.values[i].as_mut() else {
            return;
        };
        if values.is_empty() {
            return;
        }
        col.from_array |= scope.in_array;
        let slot = match nested {
            Some((_, idx)) => col.per_doc.entry(*idx).or_default(),
            None => &mut col.single,
        };
        if slot.is_empty() {
            *slot = values;
        } else {
            slot.extend(values);
        }
    }

    /// Builds the mapping update from the dynamic mappers (`DocumentParser#createDynamicUpdate`):
    /// mappers of the same field are merged, so conflicting ones fail here.
    fn build_update(&self) -> EsResult<Option<Mappings>> {
        if self.dyn_mappers.is_empty() && self.runtime_updates.is_empty() {
            return Ok(None);
        }
        let mut props: BTreeMap<String, FieldMapping> = BTreeMap::new();
        for (segs, f) in &self.dyn_mappers {
            insert_dynamic(&self.m.properties, &mut props, segs, 0, f)?;
        }
        Ok(Some(Mappings {
            properties: props,
            runtime: self.runtime_updates.clone(),
            ..Mappings::default()
        }))
    }

    fn materialize(self, columns: &BTreeMap<String, ChType>) -> EsResult<PreparedDoc> {
        let mut out = PreparedDoc {
            values: Vec::with_capacity(self.columns.len()),
            ignored: self.ignored.into_iter().collect(),
            ..PreparedDoc::default()
        };
        let mut all = self.values;
        for (name, i) in self.columns {
            let Some(mut col) = all[i].take() else {
                continue;
            };
            let nested = col.nested.is_some();
            let has_values = !col.single.is_empty() || col.per_doc.values().any(|v| !v.is_empty());
            if !has_values {
                continue;
            }
            let needed = if nested {
                if col.from_array || col.per_doc.values().any(|v| v.len() > 1) {
                    Shape::NestedMulti
                } else {
                    Shape::NestedSingle
                }
            } else if col.from_array || col.single.len() > 1 {
                Shape::Multi
            } else {
                Shape::Single
            };
            let special = matches!(col.ty, FieldType::GeoPoint | FieldType::Flattened);
            let target: Cow<'_, ChType> = match columns.get(&name) {
                Some(existing) => {
                    let have = shape_of(existing, nested);
                    if !special && needed > have && have == Shape::Single {
                        out.array_columns.push(name.clone());
                        Cow::Owned(ChType::array(existing.base().clone()))
                    } else if !special && needed > have && have == Shape::NestedSingle {
                        let to = ChType::array(ChType::array(existing.element().clone()));
                        out.column_migrations.push(ColumnMigration {
                            column: name.clone(),
                            from: existing.clone(),
                            to: to.clone(),
                        });
                        Cow::Owned(to)
                    } else {
                        Cow::Borrowed(existing)
                    }
                }
                None => {
                    let Some(t) = shaped_type(&FieldMapping::new(col.ty.clone()), needed) else {
                        continue;
                    };
                    out.new_columns.push((name.clone(), t.clone()));
                    Cow::Owned(t)
                }
            };
            let value = if nested {
                let count = self
                    .nested_counts
                    .get(col.nested.as_deref().unwrap_or_default())
                    .copied()
                    .unwrap_or(0);
                let docs: Vec<Vec<Parsed>> = (0..count)
                    .map(|i| col.per_doc.remove(&i).unwrap_or_default())
                    .collect();
                render_nested(&target, &col.ty, docs)
            } else {
                render_column(&target, &col.ty, col.single)
            };
            out.values.push((name, value));
        }
        Ok(out)
    }
}

fn java_parse_long(s: &str) -> bool {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && s.parse::<i64>().is_ok()
}

/// Adds a dynamic mapper to the update tree. Intermediate objects that exist in the mapping are
/// added bare (of the same kind, so merging keeps their settings); a mapper seen twice is merged.
fn insert_dynamic(
    existing: &BTreeMap<String, FieldMapping>,
    update: &mut BTreeMap<String, FieldMapping>,
    segs: &[String],
    depth: usize,
    f: &FieldMapping,
) -> EsResult<()> {
    let name = &segs[depth];
    let path = segs[..=depth].join(".");
    if depth + 1 == segs.len() {
        let merged = match update.remove(name) {
            Some(prev) => merge_field(&path, &prev, f)?,
            None => f.clone(),
        };
        update.insert(name.clone(), merged);
        return Ok(());
    }
    let static_child = existing.get(name);
    let entry = update
        .entry(name.clone())
        .or_insert_with(|| match static_child.map(|c| &c.ty) {
            Some(FieldType::Nested(_)) => {
                FieldMapping::new(FieldType::Nested(ObjectMapping::default()))
            }
            _ => FieldMapping::object(ObjectMapping::default()),
        });
    let static_props = match static_child.and_then(|c| c.ty.object()) {
        Some(o) => o.properties.clone(),
        None => BTreeMap::new(),
    };
    match entry.ty.object_mut() {
        Some(o) => insert_dynamic(&static_props, &mut o.properties, segs, depth + 1, f),
        None => Err(iae(format!(
            "can't merge a non object mapping [{path}] with an object mapping"
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering values for ClickHouse (JSONEachRow)
// ---------------------------------------------------------------------------------------------

fn render_column(target: &ChType, ty: &FieldType, values: Vec<Parsed>) -> Value {
    if let FieldType::Flattened = ty {
        return render_flat(target.base(), values);
    }
    match target.base() {
        ChType::Array(inner) => {
            let inner = inner.base();
            Value::Array(
                values
                    .into_iter()
                    .map(|v| render_scalar(v, inner))
                    .collect(),
            )
        }
        other => values
            .into_iter()
            .next()
            .map(|v| render_scalar(v, other))
            .unwrap_or(Value::Null),
    }
}

fn render_nested(target: &ChType, ty: &FieldType, docs: Vec<Vec<Parsed>>) -> Value {
    let ChType::Array(inner) = target.base() else {
        let all: Vec<Parsed> = docs.into_iter().flatten().collect();
        return render_column(target, ty, all);
    };
    Value::Array(
        docs.into_iter()
            .map(|vals| render_per_doc(inner, ty, vals))
            .collect(),
    )
}

fn render_per_doc(inner: &ChType, ty: &FieldType, vals: Vec<Parsed>) -> Value {
    if let FieldType::Flattened = ty {
        return render_flat(inner.base(), vals);
    }
    match inner.base() {
        ChType::Array(elem) => {
            let elem = elem.base();
            Value::Array(vals.into_iter().map(|v| render_scalar(v, elem)).collect())
        }
        other => vals
            .into_iter()
            .next()
            .map(|v| render_scalar(v, other))
            .unwrap_or(Value::Null),
    }
}

fn render_flat(t: &ChType, values: Vec<Parsed>) -> Value {
    let arrays = matches!(t, ChType::Map(_, v) if v.is_array());
    let mut m: Map<String, Value> = Map::new();
    for v in values {
        if let Parsed::Flat(pairs) = v {
            for (k, val) in pairs {
                if arrays {
                    let slot = m.entry(k).or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(a) = slot {
                        a.push(Value::String(val));
                    }
                } else {
                    m.insert(k, Value::String(val));
                }
            }
        }
    }
    Value::Object(m)
}

fn render_scalar(v: Parsed, t: &ChType) -> Value {
    match v {
        Parsed::Str(s) => Value::String(s),
        Parsed::I64(i) => Value::from(i),
        Parsed::U64(u) => Value::from(u),
        Parsed::F64(d) => serde_json::Number::from_f64(d)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Parsed::F32(x) => float_json(x),
        Parsed::Bool(b) => match t {
            ChType::UInt8
            | ChType::Int8
            | ChType::UInt16
            | ChType::Int16
            | ChType::UInt32
            | ChType::Int32
            | ChType::Int64
            | ChType::UInt64 => Value::from(u8::from(b)),
            _ => Value::Bool(b),
        },
        Parsed::Nanos(n) => render_datetime(n, t),
        Parsed::Ip(ip) => Value::String(render_ip_for_column(&ip, t)),
        Parsed::Geo { lat, lon } => {
            let mut m = Map::new();
            m.insert(
                "lat".into(),
                serde_json::Number::from_f64(lat)
                    .map(Value::Number)
                    .unwrap_or(Value::Null),
            );
            m.insert(
                "lon".into(),
                serde_json::Number::from_f64(lon)
                    .map(Value::Number)
                    .unwrap_or(Value::Null),
            );
            Value::Object(m)
        }
        flat @ Parsed::Flat(_) => render_flat(t, vec![flat]),
    }
}

/// Appends `v` in decimal, zero-padded to `width` digits.
fn push_padded(out: &mut String, mut v: u32, width: usize) {
    let mut buf = [b'0'; 10];
    let mut i = buf.len();
    while v > 0 && i > 0 {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let start = i.min(buf.len() - width.min(buf.len()));
    for &b in &buf[start..] {
        out.push(b as char);
    }
}

/// The common case of [`clickhouse_datetime`] (years 1900..=2299) without going through
/// `format!`; `None` outside that range.
fn fast_clickhouse_datetime(nanos: i64, precision: u8) -> Option<String> {
    use chrono::{Datelike, Timelike};
    let dt = chrono::DateTime::from_timestamp_nanos(nanos).naive_utc();
    let year = dt.year();
    if !(1900..=2299).contains(&year) {
        return None;
    }
    let mut out = String::with_capacity(29);
    push_padded(&mut out, year as u32, 4);
    out.push('-');
    push_padded(&mut out, dt.month(), 2);
    out.push('-');
    push_padded(&mut out, dt.day(), 2);
    out.push(' ');
    push_padded(&mut out, dt.hour(), 2);
    out.push(':');
    push_padded(&mut out, dt.minute(), 2);
    out.push(':');
    push_padded(&mut out, dt.second(), 2);
    let p = u32::from(precision.min(9));
    if p > 0 {
        out.push('.');
        push_padded(&mut out, dt.nanosecond() / 10u32.pow(9 - p), p as usize);
    }
    Some(out)
}

/// `YYYY-MM-DD hh:mm:ss[.fff…]` in UTC, as ClickHouse reads `DateTime64(precision)` text.
fn clickhouse_datetime(nanos: i64, precision: u8) -> String {
    if let Some(s) = fast_clickhouse_datetime(nanos, precision) {
        return s;
    }
    dates::to_clickhouse_datetime64(nanos, precision).unwrap_or_else(|_| {
        let secs = nanos.div_euclid(1_000_000_000);
        let sub = nanos.rem_euclid(1_000_000_000);
        let base = chrono::DateTime::from_timestamp(secs, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        if precision == 0 {
            base
        } else {
            format!(
                "{base}.{}",
                &format!("{sub:09}")[..precision.min(9) as usize]
            )
        }
    })
}

fn render_datetime(nanos: i64, t: &ChType) -> Value {
    let utc = |tz: &Option<String>| tz.as_deref().is_none_or(|z| z == "UTC" || z == "Etc/UTC");
    match t {
        ChType::DateTime64(p, tz) if utc(tz) => Value::String(clickhouse_datetime(nanos, *p)),
        ChType::DateTime(tz) if utc(tz) => Value::String(clickhouse_datetime(nanos, 0)),
        ChType::DateTime64(p, _) => {
            // Text would be read in the column's time zone: give the instant as epoch seconds.
            let secs = nanos.div_euclid(1_000_000_000);
            let frac = nanos.rem_euclid(1_000_000_000);
            let digits = (*p).min(9) as usize;
            if digits == 0 {
                Value::String(secs.to_string())
            } else {
                Value::String(format!("{secs}.{}", &format!("{frac:09}")[..digits]))
            }
        }
        ChType::DateTime(_) => Value::String(nanos.div_euclid(1_000_000_000).to_string()),
        ChType::Date | ChType::Date32 => {
            let s = clickhouse_datetime(nanos, 0);
            Value::String(s.split(' ').next().unwrap_or_default().to_string())
        }
        _ => Value::String(clickhouse_datetime(nanos, 3)),
    }
}

fn render_ip_for_column(ip: &std::net::IpAddr, t: &ChType) -> String {
    match (ip, t) {
        (std::net::IpAddr::V4(v4), ChType::IPv6) => {
            let mut out = String::with_capacity(22);
            out.push_str("::ffff:");
            push_ipv4(&mut out, v4);
            out
        }
        (std::net::IpAddr::V4(v4), _) => {
            let mut out = String::with_capacity(15);
            push_ipv4(&mut out, v4);
            out
        }
        (ip, _) => ip.to_string(),
    }
}

/// Dotted-decimal IPv4, as `Ipv4Addr`'s `Display` writes it.
fn push_ipv4(out: &mut String, v4: &std::net::Ipv4Addr) {
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        let width = if octet >= 100 {
            3
        } else if octet >= 10 {
            2
        } else {
            1
        };
        push_padded(out, u32::from(octet), width);
    }
}

/// Renders an `ip` value read back from an `IPv6` column as Elasticsearch shows it: IPv4 addresses
/// (stored IPv4-mapped) in dotted form, IPv6 in RFC 5952 form.
pub fn render_ip(text: &str) -> String {
    match super::values::parse_ip(text) {
        Some(ip) => ip.to_string(),
        None => text.to_string(),
    }
}
