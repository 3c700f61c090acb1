//! Elasticsearch mappings as typed values: parsing (`PUT /{index}` and `PUT _mapping` bodies),
//! serialisation (`GET _mapping`) and merging (mapping updates, dynamic updates).
//!
//! Behaviour learnt from elastic/elasticsearch 8.x: `ObjectMapper.TypeParser` (properties, dotted
//! names, "No type specified", "No handler for type"), `RootObjectMapper` (root parameters, dynamic
//! date formats, templates), `FieldMapper.Builder#parse` ("unknown parameter", null values, multi
//! fields, copy_to), `FieldMapper.Parameter` (serialised only when set to a non-default value,
//! explicit booleans always), `FieldMapper.Conflicts` ("Mapper for [f] conflicts with existing
//! mapper"), `ObjectMapper.MergeResult`, `MapperErrors`, `MapperService#parseMapping` ("Failed to parse
//! mapping: …").

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::json::java_value;
use super::templates::DynamicTemplate;
use crate::error::{EsError, EsResult};

/// The `dynamic` setting of an object (and of the root).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dynamic {
    True,
    False,
    Strict,
    Runtime,
}

impl Dynamic {
    pub fn as_str(self) -> &'static str {
        match self {
            Dynamic::True => "true",
            Dynamic::False => "false",
            Dynamic::Strict => "strict",
            Dynamic::Runtime => "runtime",
        }
    }
}

/// `object` and `nested` mappings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObjectMapping {
    pub dynamic: Option<Dynamic>,
    pub enabled: Option<bool>,
    /// `true`, `false` or `auto`, as given (objects only).
    pub subobjects: Option<String>,
    /// Nested only.
    pub include_in_parent: Option<bool>,
    pub include_in_root: Option<bool>,
    pub properties: BTreeMap<String, FieldMapping>,
}

impl ObjectMapping {
    pub fn is_enabled(&self) -> bool {
        self.enabled != Some(false)
    }
    pub fn subobjects_enabled(&self) -> bool {
        self.subobjects.as_deref() != Some("false")
    }
}

/// The field types elastichouse knows. The name is Elasticsearch's `type`.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldType {
    Text,
    MatchOnlyText,
    Keyword,
    /// `value` is fixed by the mapping or by the first document that has one.
    ConstantKeyword {
        value: Option<String>,
    },
    Wildcard,
    Long,
    Integer,
    Short,
    Byte,
    UnsignedLong,
    Double,
    Float,
    HalfFloat,
    ScaledFloat {
        scaling_factor: f64,
    },
    Boolean,
    /// `format` as given (`None`: `strict_date_optional_time||epoch_millis`).
    Date {
        format: Option<String>,
    },
    /// `format` as given (`None`: `strict_date_optional_time_nanos||epoch_millis`).
    DateNanos {
        format: Option<String>,
    },
    Ip,
    GeoPoint,
    Flattened,
    Object(ObjectMapping),
    Nested(ObjectMapping),
    Alias {
        path: String,
    },
}

pub const DEFAULT_DATE_FORMAT: &str = "strict_date_optional_time||epoch_millis";
pub const DEFAULT_DATE_NANOS_FORMAT: &str = "strict_date_optional_time_nanos||epoch_millis";

/// All type names, for "No handler for type" checks.
const TYPE_NAMES: &[&str] = &[
    "text",
    "match_only_text",
    "keyword",
    "constant_keyword",
    "wildcard",
    "long",
    "integer",
    "short",
    "byte",
    "unsigned_long",
    "double",
    "float",
    "half_float",
    "scaled_float",
    "boolean",
    "date",
    "date_nanos",
    "ip",
    "geo_point",
    "flattened",
    "object",
    "nested",
    "alias",
];

impl FieldType {
    pub fn name(&self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::MatchOnlyText => "match_only_text",
            FieldType::Keyword => "keyword",
            FieldType::ConstantKeyword { .. } => "constant_keyword",
            FieldType::Wildcard => "wildcard",
            FieldType::Long => "long",
            FieldType::Integer => "integer",
            FieldType::Short => "short",
            FieldType::Byte => "byte",
            FieldType::UnsignedLong => "unsigned_long",
            FieldType::Double => "double",
            FieldType::Float => "float",
            FieldType::HalfFloat => "half_float",
            FieldType::ScaledFloat { .. } => "scaled_float",
            FieldType::Boolean => "boolean",
            FieldType::Date { .. } => "date",
            FieldType::DateNanos { .. } => "date_nanos",
            FieldType::Ip => "ip",
            FieldType::GeoPoint => "geo_point",
            FieldType::Flattened => "flattened",
            FieldType::Object(_) => "object",
            FieldType::Nested(_) => "nested",
            FieldType::Alias { .. } => "alias",
        }
    }

    /// Whether the type holds values itself (not an object, nested or alias).
    pub fn is_leaf(&self) -> bool {
        !matches!(
            self,
            FieldType::Object(_) | FieldType::Nested(_) | FieldType::Alias { .. }
        )
    }

    pub fn is_string_family(&self) -> bool {
        matches!(
            self,
            FieldType::Text | FieldType::MatchOnlyText | FieldType::Keyword | FieldType::Wildcard
        )
    }

    pub fn object(&self) -> Option<&ObjectMapping> {
        match self {
            FieldType::Object(o) | FieldType::Nested(o) => Some(o),
            _ => None,
        }
    }

    pub fn object_mut(&mut self) -> Option<&mut ObjectMapping> {
        match self {
            FieldType::Object(o) | FieldType::Nested(o) => Some(o),
            _ => None,
        }
    }

    /// The effective date format of `date` / `date_nanos`.
    pub fn date_format(&self) -> Option<&str> {
        match self {
            FieldType::Date { format } => Some(format.as_deref().unwrap_or(DEFAULT_DATE_FORMAT)),
            FieldType::DateNanos { format } => {
                Some(format.as_deref().unwrap_or(DEFAULT_DATE_NANOS_FORMAT))
            }
            _ => None,
        }
    }
}

/// One field of a mapping: its type and the parameters that were given.
///
/// Parameters the daemon uses are typed fields; the others Elasticsearch accepts for the type
/// (analyzer, normalizer, index_options, …) are validated for shape and kept in `other` so that
/// `GET _mapping` shows them. `None` means "not given".
#[derive(Debug, Clone, PartialEq)]
pub struct FieldMapping {
    pub ty: FieldType,
    pub index: Option<bool>,
    pub doc_values: Option<bool>,
    pub store: Option<bool>,
    pub coerce: Option<bool>,
    pub ignore_malformed: Option<bool>,
    pub ignore_above: Option<i64>,
    /// Normalised to the type: a string for keyword-like, ip and date fields, a number for numeric
    /// fields, a boolean for boolean fields, the point as given for geo_point.
    pub null_value: Option<Value>,
    pub meta: Option<Map<String, Value>>,
    /// Parsed and kept; honoured by `prepare_document`.
    pub copy_to: Vec<String>,
    /// Multi-fields.
    pub fields: BTreeMap<String, FieldMapping>,
    pub other: BTreeMap<String, Value>,
}

impl FieldMapping {
    pub fn new(ty: FieldType) -> Self {
        FieldMapping {
            ty,
            index: None,
            doc_values: None,
            store: None,
            coerce: None,
            ignore_malformed: None,
            ignore_above: None,
            null_value: None,
            meta: None,
            copy_to: Vec::new(),
            fields: BTreeMap::new(),
            other: BTreeMap::new(),
        }
    }

    pub fn object(o: ObjectMapping) -> Self {
        FieldMapping::new(FieldType::Object(o))
    }

    /// What dynamic mapping gives a string: `text` with a `keyword` sub-field that ignores values
    /// longer than 256 characters (`DynamicFieldsBuilder.Concrete#newDynamicStringField`).
    pub fn dynamic_text() -> Self {
        let mut kw = FieldMapping::new(FieldType::Keyword);
        kw.ignore_above = Some(256);
        let mut f = FieldMapping::new(FieldType::Text);
        f.fields.insert("keyword".into(), kw);
        f
    }

    pub fn coerce(&self) -> bool {
        self.coerce.unwrap_or(true)
    }

    pub fn ignore_malformed(&self) -> bool {
        self.ignore_malformed.unwrap_or(false)
    }
}

/// The mappings of one index.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Mappings {
    pub dynamic: Option<Dynamic>,
    pub enabled: Option<bool>,
    pub subobjects: Option<String>,
    pub date_detection: Option<bool>,
    pub numeric_detection: Option<bool>,
    pub dynamic_date_formats: Option<Vec<String>>,
    pub dynamic_templates: Option<Vec<DynamicTemplate>>,
    /// `_meta`.
    pub meta: Option<Map<String, Value>>,
    /// Metadata field configuration as given: `_source`, `_routing`, `_data_stream_timestamp`,
    /// `_field_names`. (`_source` is always kept whole by elastichouse; `includes`/`excludes` are
    /// shown but the API layer decides whether to apply them.)
    pub metadata: BTreeMap<String, Value>,
    /// `runtime` fields as given (no columns; the query side may evaluate them from `_source`).
    pub runtime: BTreeMap<String, Value>,
    pub properties: BTreeMap<String, FieldMapping>,
}

/// `RootObjectMapper.Defaults.DYNAMIC_DATE_TIME_FORMATTERS`: the first is the default format of a
/// `date` field (so a detected ISO date maps to a plain `{"type":"date"}`).
pub const DEFAULT_DYNAMIC_DATE_FORMATS: [&str; 2] = [
    DEFAULT_DATE_FORMAT,
    "yyyy/MM/dd HH:mm:ss||yyyy/MM/dd||epoch_millis",
];

impl Mappings {
    pub fn root_dynamic(&self) -> Dynamic {
        self.dynamic.unwrap_or(Dynamic::True)
    }
    pub fn date_detection(&self) -> bool {
        self.date_detection.unwrap_or(true)
    }
    pub fn numeric_detection(&self) -> bool {
        self.numeric_detection.unwrap_or(false)
    }
    pub fn dynamic_date_formats(&self) -> Vec<String> {
        match &self.dynamic_date_formats {
            Some(f) => f.clone(),
            None => DEFAULT_DYNAMIC_DATE_FORMATS
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }
    pub fn templates(&self) -> &[DynamicTemplate] {
        self.dynamic_templates.as_deref().unwrap_or(&[])
    }
    pub fn is_enabled(&self) -> bool {
        self.enabled != Some(false)
    }
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

pub(crate) fn mpe(msg: impl Into<String>) -> EsError {
    EsError::mapper_parsing(msg)
}

pub(crate) fn iae(msg: impl Into<String>) -> EsError {
    EsError::illegal_argument(msg)
}

fn number_format(input: &str) -> EsError {
    EsError::new(
        400,
        "number_format_exception",
        format!("For input string: \"{input}\""),
    )
}

/// `XContentMapValues.nodeBooleanValue(Object)` → `Booleans.parseBoolean(node.toString())`.
pub(crate) fn node_bool(v: &Value) -> EsResult<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" => Ok(false),
        other => Err(iae(format!(
            "Failed to parse value [{}] as only [true] or [false] are allowed.",
            java_value(other)
        ))),
    }
}

/// `nodeBooleanValue(node, name)`: the same, wrapped in "Could not convert [name] to boolean".
fn node_bool_named(v: &Value, name: &str) -> EsResult<bool> {
    node_bool(v).map_err(|e| iae(format!("Could not convert [{name}] to boolean")).caused_by(e))
}

/// `nodeIntegerValue`: numbers are truncated, strings go through `Integer.parseInt`.
fn node_int(v: &Value) -> EsResult<i64> {
    match v {
        Value::Number(n) => Ok(n
            .as_i64()
            .unwrap_or_else(|| n.as_f64().map(|f| f as i32 as i64).unwrap_or(0))),
        other => {
            let s = java_value(other);
            s.parse::<i32>()
                .map(i64::from)
                .map_err(|_| number_format(&s))
        }
    }
}

fn node_double(v: &Value) -> EsResult<f64> {
    match v {
        Value::Number(n) => Ok(n.as_f64().unwrap_or(f64::NAN)),
        other => {
            let s = java_value(other);
            super::values::java_parse_double(&s).ok_or_else(|| number_format(&s))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parameters per type
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Bool,
    /// Booleans Elasticsearch keeps as `Explicit<Boolean>`: serialised whenever given.
    ExplicitBool,
    Int,
    Str,
    Enum(&'static [&'static str]),
    Meta,
    Any,
    NullValue,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Dflt {
    None,
    Bool(bool),
    Int(i64),
    Str(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Upd {
    No,
    Yes,
    /// `norms` may go from true to false only.
    Norms,
}

#[derive(Debug, Clone, Copy)]
struct Param {
    name: &'static str,
    kind: Kind,
    default: Dflt,
    update: Upd,
}

const fn p(name: &'static str, kind: Kind, default: Dflt, update: Upd) -> Param {
    Param {
        name,
        kind,
        default,
        update,
    }
}

const INDEX: Param = p("index", Kind::Bool, Dflt::Bool(true), Upd::No);
const DOC_VALUES: Param = p("doc_values", Kind::Bool, Dflt::Bool(true), Upd::No);
const STORE: Param = p("store", Kind::Bool, Dflt::Bool(false), Upd::No);
const IGNORE_MALFORMED: Param = p(
    "ignore_malformed",
    Kind::ExplicitBool,
    Dflt::Bool(false),
    Upd::Yes,
);
const COERCE: Param = p("coerce", Kind::ExplicitBool, Dflt::Bool(true), Upd::Yes);
const NULL_VALUE: Param = p("null_value", Kind::NullValue, Dflt::None, Upd::No);
const SCRIPT: Param = p("script", Kind::Any, Dflt::None, Upd::No);
const ON_SCRIPT_ERROR: Param = p(
    "on_script_error",
    Kind::Enum(&["fail", "continue"]),
    Dflt::Str("fail"),
    Upd::Yes,
);
const META: Param = p("meta", Kind::Meta, Dflt::None, Upd::Yes);
const TS_DIMENSION: Param = p(
    "time_series_dimension",
    Kind::Bool,
    Dflt::Bool(false),
    Upd::No,
);
const TS_METRIC: Param = p(
    "time_series_metric",
    Kind::Enum(&["gauge", "counter", "summary", "histogram", "position"]),
    Dflt::None,
    Upd::No,
);
const IGNORE_ABOVE: Param = p("ignore_above", Kind::Int, Dflt::Int(2147483647), Upd::Yes);
const EAGER_GLOBAL_ORDINALS: Param = p(
    "eager_global_ordinals",
    Kind::Bool,
    Dflt::Bool(false),
    Upd::Yes,
);
const SIMILARITY: Param = p("similarity", Kind::Str, Dflt::None, Upd::No);
const SPLIT_QUERIES: Param = p(
    "split_queries_on_whitespace",
    Kind::Bool,
    Dflt::Bool(false),
    Upd::Yes,
);

const KEYWORD_PARAMS: &[Param] = &[
    INDEX,
    DOC_VALUES,
    STORE,
    NULL_VALUE,
    EAGER_GLOBAL_ORDINALS,
    IGNORE_ABOVE,
    p(
        "index_options",
        Kind::Enum(&["docs", "freqs"]),
        Dflt::Str("docs"),
        Upd::No,
    ),
    p("norms", Kind::Bool, Dflt::Bool(false), Upd::Norms),
    SIMILARITY,
    p("normalizer", Kind::Str, Dflt::None, Upd::No),
    SPLIT_QUERIES,
    SCRIPT,
    ON_SCRIPT_ERROR,
    META,
    TS_DIMENSION,
];

const TEXT_PARAMS: &[Param] = &[
    INDEX,
    STORE,
    p(
        "index_options",
        Kind::Enum(&["docs", "freqs", "positions", "offsets"]),
        Dflt::Str("positions"),
        Upd::No,
    ),
    p("norms", Kind::Bool, Dflt::Bool(true), Upd::Norms),
    p(
        "term_vector",
        Kind::Enum(&[
            "no",
            "yes",
            "with_positions",
            "with_offsets",
            "with_positions_offsets",
            "with_positions_payloads",
            "with_positions_offsets_payloads",
        ]),
        Dflt::Str("no"),
        Upd::No,
    ),
    p("analyzer", Kind::Str, Dflt::Str("default"), Upd::No),
    p("search_analyzer", Kind::Str, Dflt::None, Upd::Yes),
    p("search_quote_analyzer", Kind::Str, Dflt::None, Upd::Yes),
    p("position_increment_gap", Kind::Int, Dflt::None, Upd::No),
    SIMILARITY,
    p("fielddata", Kind::Bool, Dflt::Bool(false), Upd::Yes),
    p(
        "fielddata_frequency_filter",
        Kind::Any,
        Dflt::None,
        Upd::Yes,
    ),
    EAGER_GLOBAL_ORDINALS,
    p("index_phrases", Kind::Bool, Dflt::Bool(false), Upd::No),
    p("index_prefixes", Kind::Any, Dflt::None, Upd::No),
    META,
];

const MATCH_ONLY_TEXT_PARAMS: &[Param] = &[META];
const WILDCARD_PARAMS: &[Param] = &[IGNORE_ABOVE, NULL_VALUE, META];
const CONSTANT_KEYWORD_PARAMS: &[Param] = &[p("value", Kind::Any, Dflt::None, Upd::No), META];

const NUMBER_PARAMS: &[Param] = &[
    INDEX,
    DOC_VALUES,
    STORE,
    IGNORE_MALFORMED,
    COERCE,
    NULL_VALUE,
    SCRIPT,
    ON_SCRIPT_ERROR,
    META,
    TS_DIMENSION,
    TS_METRIC,
];
const UNSIGNED_LONG_PARAMS: &[Param] = &[
    INDEX,
    DOC_VALUES,
    STORE,
    IGNORE_MALFORMED,
    NULL_VALUE,
    META,
    TS_DIMENSION,
    TS_METRIC,
];
const SCALED_FLOAT_PARAMS: &[Param] = &[
    INDEX,
    DOC_VALUES,
    STORE,
    IGNORE_MALFORMED,
    META,
    p("scaling_factor", Kind::Any, Dflt::None, Upd::No),
    COERCE,
    NULL_VALUE,
    SCRIPT,
    ON_SCRIPT_ERROR,
    TS_METRIC,
    TS_DIMENSION,
];
const BOOLEAN_PARAMS: &[Param] = &[
    INDEX,
    DOC_VALUES,
    STORE,
    NULL_VALUE,
    IGNORE_MALFORMED,
    SCRIPT,
    ON_SCRIPT_ERROR,
    META,
    TS_DIMENSION,
];
const DATE_PARAMS: &[Param] = &[
    INDEX,
    DOC_VALUES,
    STORE,
    p("format", Kind::Str, Dflt::None, Upd::No),
    p("locale", Kind::Str, Dflt::None, Upd::No),
    NULL_VALUE,
    IGNORE_MALFORMED,
    SCRIPT,
    ON_SCRIPT_ERROR,
    META,
];
const IP_PARAMS: &[Param] = &[
    INDEX,
    DOC_VALUES,
    STORE,
    IGNORE_MALFORMED,
    NULL_VALUE,
    SCRIPT,
    ON_SCRIPT_ERROR,
    META,
    TS_DIMENSION,
];
const GEO_POINT_PARAMS: &[Param] = &[
    INDEX,
    DOC_VALUES,
    STORE,
    IGNORE_MALFORMED,
    p(
        "ignore_z_value",
        Kind::ExplicitBool,
        Dflt::Bool(true),
        Upd::Yes,
    ),
    NULL_VALUE,
    SCRIPT,
    ON_SCRIPT_ERROR,
    META,
    TS_METRIC,
];
const FLATTENED_PARAMS: &[Param] = &[
    p("depth_limit", Kind::Int, Dflt::Int(20), Upd::Yes),
    INDEX,
    DOC_VALUES,
    NULL_VALUE,
    EAGER_GLOBAL_ORDINALS,
    IGNORE_ABOVE,
    p(
        "index_options",
        Kind::Enum(&["docs", "freqs"]),
        Dflt::Str("docs"),
        Upd::No,
    ),
    SIMILARITY,
    SPLIT_QUERIES,
    META,
    p("time_series_dimensions", Kind::Any, Dflt::None, Upd::No),
];

fn params_of(ty: &str) -> &'static [Param] {
    match ty {
        "keyword" => KEYWORD_PARAMS,
        "text" => TEXT_PARAMS,
        "match_only_text" => MATCH_ONLY_TEXT_PARAMS,
        "wildcard" => WILDCARD_PARAMS,
        "constant_keyword" => CONSTANT_KEYWORD_PARAMS,
        "long" | "integer" | "short" | "byte" | "double" | "float" | "half_float" => NUMBER_PARAMS,
        "unsigned_long" => UNSIGNED_LONG_PARAMS,
        "scaled_float" => SCALED_FLOAT_PARAMS,
        "boolean" => BOOLEAN_PARAMS,
        "date" | "date_nanos" => DATE_PARAMS,
        "ip" => IP_PARAMS,
        "geo_point" => GEO_POINT_PARAMS,
        "flattened" => FLATTENED_PARAMS,
        _ => &[],
    }
}

/// The value of a parameter as set on `f` (`None`: not given).
fn get_param(f: &FieldMapping, name: &str) -> Option<Value> {
    match name {
        "index" => f.index.map(Value::Bool),
        "doc_values" => f.doc_values.map(Value::Bool),
        "store" => f.store.map(Value::Bool),
        "coerce" => f.coerce.map(Value::Bool),
        "ignore_malformed" => f.ignore_malformed.map(Value::Bool),
        "ignore_above" => f.ignore_above.map(|v| json!(v)),
        "null_value" => f.null_value.clone(),
        "meta" => f.meta.clone().map(Value::Object),
        "format" => match &f.ty {
            FieldType::Date { format } | FieldType::DateNanos { format } => {
                format.clone().map(Value::String)
            }
            _ => None,
        },
        "scaling_factor" => match &f.ty {
            FieldType::ScaledFloat { scaling_factor } => Some(json!(scaling_factor)),
            _ => None,
        },
        "value" => match &f.ty {
            FieldType::ConstantKeyword { value } => value.clone().map(Value::String),
            _ => None,
        },
        other => f.other.get(other).cloned(),
    }
}

fn set_param(f: &mut FieldMapping, name: &str, v: Option<Value>) {
    match name {
        "index" => f.index = v.and_then(|v| v.as_bool()),
        "doc_values" => f.doc_values = v.and_then(|v| v.as_bool()),
        "store" => f.store = v.and_then(|v| v.as_bool()),
        "coerce" => f.coerce = v.and_then(|v| v.as_bool()),
        "ignore_malformed" => f.ignore_malformed = v.and_then(|v| v.as_bool()),
        "ignore_above" => f.ignore_above = v.and_then(|v| v.as_i64()),
        "null_value" => f.null_value = v,
        "meta" => f.meta = v.and_then(|v| v.as_object().cloned()),
        "format" => match &mut f.ty {
            FieldType::Date { format } | FieldType::DateNanos { format } => {
                *format = v.and_then(|v| v.as_str().map(str::to_string))
            }
            _ => {}
        },
        "scaling_factor" => {
            if let (FieldType::ScaledFloat { scaling_factor }, Some(x)) =
                (&mut f.ty, v.and_then(|v| v.as_f64()))
            {
                *scaling_factor = x;
            }
        }
        "value" => {
            if let FieldType::ConstantKeyword { value } = &mut f.ty {
                *value = v.and_then(|v| v.as_str().map(str::to_string));
            }
        }
        other => {
            match v {
                Some(v) => f.other.insert(other.to_string(), v),
                None => f.other.remove(other),
            };
        }
    }
}

fn default_value(param: &Param, ty: &FieldType) -> Option<Value> {
    if param.name == "format" {
        return match ty {
            FieldType::Date { .. } => Some(Value::String(DEFAULT_DATE_FORMAT.into())),
            FieldType::DateNanos { .. } => Some(Value::String(DEFAULT_DATE_NANOS_FORMAT.into())),
            _ => None,
        };
    }
    match param.default {
        Dflt::None => None,
        Dflt::Bool(b) => Some(Value::Bool(b)),
        Dflt::Int(i) => Some(json!(i)),
        Dflt::Str(s) => Some(Value::String(s.to_string())),
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/// Parses a mapping (the `mappings` of a create-index request, a put-mapping body, or a stored
/// mapping). Errors are the inner Elasticsearch errors (e.g. `No handler for type [foo] declared on
/// field [bar]`); see [`parse_mapping_request`] for the wrapping a client sees.
pub fn parse_mappings(v: &Value) -> EsResult<Mappings> {
    let mappings = parse_root(v)?;
    validate(&mappings)?;
    Ok(mappings)
}

/// [`parse_mappings`] with the errors as a client of `PUT /{index}` or `PUT /{index}/_mapping` sees
/// them: `MapperService#parseMapping` wraps parse failures as `Failed to parse mapping: <reason>`
/// with the cause in `caused_by`; alias-target checks (mapping validation) are not wrapped.
pub fn parse_mapping_request(v: &Value) -> EsResult<Mappings> {
    let mappings = parse_root(v)
        .map_err(|e| mpe(format!("Failed to parse mapping: {}", e.reason)).caused_by(e))?;
    validate(&mappings)?;
    Ok(mappings)
}

fn parse_root(v: &Value) -> EsResult<Mappings> {
    let mut m = Mappings::default();
    let obj = match v {
        Value::Null => return Ok(m),
        Value::Object(o) => o,
        other => {
            return Err(mpe(format!(
                "Root mapping definition has unsupported parameters:  [{}]",
                java_value(other)
            )));
        }
    };
    // `{"_doc": {...}}` (the type name wrapping the mapping) is still accepted.
    let obj = match obj.iter().next() {
        Some((k, Value::Object(inner))) if obj.len() == 1 && k == "_doc" => inner,
        _ => obj,
    };
    let mut unsupported = Vec::new();
    for (key, node) in obj {
        match key.as_str() {
            "dynamic" => m.dynamic = Some(parse_dynamic(node)?),
            "enabled" => m.enabled = Some(node_bool_named(node, "enabled.enabled")?),
            "subobjects" => m.subobjects = Some(parse_subobjects(node)?),
            "properties" => m.properties = parse_properties(node)?,
            "include_in_all" => {}
            "date_formats" | "dynamic_date_formats" => {
                m.dynamic_date_formats = Some(parse_dynamic_date_formats(node)?)
            }
            "dynamic_templates" => {
                m.dynamic_templates = Some(super::templates::parse_templates(node)?)
            }
            "date_detection" => m.date_detection = Some(node_bool_named(node, "date_detection")?),
            "numeric_detection" => {
                m.numeric_detection = Some(node_bool_named(node, "numeric_detection")?)
            }
            "runtime" => match node {
                Value::Object(rt) => {
                    for (name, def) in rt {
                        parse_runtime_field(name, def)?;
                        m.runtime.insert(name.clone(), def.clone());
                    }
                }
                _ => {
                    return Err(EsError::new(
                        400,
                        "parse_exception",
                        "runtime must be a map type",
                    ));
                }
            },
            "_meta" => match node {
                Value::Object(meta) => m.meta = Some(meta.clone()),
                Value::Null => {}
                other => {
                    return Err(mpe(format!(
                        "[_meta] must be an object, got [{}]",
                        java_value(other)
                    )));
                }
            },
            "_source" | "_routing" | "_data_stream_timestamp" | "_field_names" => {
                m.metadata
                    .insert(key.clone(), parse_metadata_field(key, node)?);
            }
            _ => unsupported.push(format!(" [{key} : {}]", java_value(node))),
        }
    }
    if !unsupported.is_empty() {
        return Err(mpe(format!(
            "Root mapping definition has unsupported parameters: {}",
            unsupported.concat()
        )));
    }
    Ok(m)
}

fn parse_dynamic(node: &Value) -> EsResult<Dynamic> {
    let text = java_value(node);
    if text.eq_ignore_ascii_case("strict") {
        Ok(Dynamic::Strict)
    } else if text.eq_ignore_ascii_case("runtime") {
        Ok(Dynamic::Runtime)
    } else if node_bool_named(node, "dynamic.dynamic")? {
        Ok(Dynamic::True)
    } else {
        Ok(Dynamic::False)
    }
}

fn parse_subobjects(node: &Value) -> EsResult<String> {
    match java_value(node).as_str() {
        s @ ("true" | "false" | "auto") => Ok(s.to_string()),
        other => Err(iae(format!(
            "Unknown value [{other}] for field [subobjects] - accepted values are [true, false, auto]"
        ))),
    }
}

fn parse_dynamic_date_formats(node: &Value) -> EsResult<Vec<String>> {
    match node {
        Value::Array(items) => items
            .iter()
            .map(|f| {
                let s = java_value(f);
                if s.starts_with("epoch_") {
                    Err(mpe(format!(
                        "Epoch [{s}] is not supported as dynamic date format"
                    )))
                } else {
                    Ok(s)
                }
            })
            .collect(),
        other if java_value(other) == "none" => Ok(Vec::new()),
        other => Ok(vec![java_value(other)]),
    }
}

fn parse_runtime_field(name: &str, def: &Value) -> EsResult<()> {
    let Value::Object(d) = def else {
        return Err(mpe(format!(
            "Expected map for runtime field [{name}] definition but got a {}",
            java_value(def)
        )));
    };
    let ty = d.get("type").map(java_value);
    match ty.as_deref() {
        None => Err(mpe(format!("No type specified for runtime field [{name}]"))),
        Some(
            "keyword" | "long" | "double" | "boolean" | "date" | "ip" | "geo_point" | "composite"
            | "lookup",
        ) => Ok(()),
        Some(t) => Err(mpe(format!(
            "No handler for type [{t}] declared on runtime field [{name}]"
        ))),
    }
}

fn parse_metadata_field(name: &str, node: &Value) -> EsResult<Value> {
    let Value::Object(conf) = node else {
        return Err(iae(format!("[{name}] config must be an object")));
    };
    let allowed: &[&str] = match name {
        "_source" => &["enabled", "includes", "excludes", "mode"],
        "_routing" => &["required"],
        "_data_stream_timestamp" => &["enabled"],
        _ => &["enabled"],
    };
    let mut out = Map::new();
    for (k, v) in conf {
        if !allowed.contains(&k.as_str()) {
            return Err(mpe(format!(
                "unknown parameter [{k}] on mapper [{name}] of type [{name}]"
            )));
        }
        let v = match k.as_str() {
            "enabled" | "required" => Value::Bool(node_bool(v)?),
            _ => v.clone(),
        };
        out.insert(k.clone(), v);
    }
    Ok(Value::Object(out))
}

/// Field names in mappings (`ObjectMapper#validateFieldName`).
fn validate_field_name(name: &str) -> EsResult<()> {
    if name.is_empty() {
        return Err(iae("field name cannot be an empty string"));
    }
    if name.trim().is_empty() {
        return Err(iae("field name cannot contain only whitespaces"));
    }
    Ok(())
}

/// Java's `String.split("\\.")`: trailing empty strings are dropped.
pub(crate) fn java_split_dots(name: &str) -> Vec<&str> {
    let mut parts: Vec<&str> = name.split('.').collect();
    while parts.last() == Some(&"") {
        parts.pop();
    }
    parts
}

pub(crate) fn parse_properties(node: &Value) -> EsResult<BTreeMap<String, FieldMapping>> {
    let mut out: BTreeMap<String, FieldMapping> = BTreeMap::new();
    let props = match node {
        Value::Array(a) if a.is_empty() => return Ok(out),
        Value::Object(p) => p,
        _ => {
            return Err(EsError::new(
                400,
                "parse_exception",
                "properties must be a map type",
            ));
        }
    };
    for (name, def) in props {
        validate_field_name(name)?;
        let def = match def {
            Value::Object(d) => d,
            Value::Array(a) if a.is_empty() => continue,
            _ => {
                return Err(mpe(format!(
                    "Expected map for property [fields] on field [{name}] but got a class java.lang.String"
                )));
            }
        };
        let ty = match def.get("type") {
            Some(t) if !t.is_null() => java_value(t),
            _ => {
                if def.get("properties").is_some_and(|p| !p.is_null())
                    || (def.len() == 1 && def.get("enabled").is_some_and(|e| !e.is_null()))
                {
                    "object".to_string()
                } else {
                    return Err(mpe(format!("No type specified for field [{name}]")));
                }
            }
        };
        if !TYPE_NAMES.contains(&ty.as_str()) {
            return Err(mpe(format!(
                "No handler for type [{ty}] declared on field [{name}]"
            )));
        }
        let parts = java_split_dots(name);
        if parts.is_empty() {
            return Err(iae("field name cannot contain only dots"));
        }
        let leaf = parts[parts.len() - 1];
        validate_field_name(leaf)?;
        let mut field = parse_field(leaf, &ty, def, false)?;
        for i in (0..parts.len() - 1).rev() {
            validate_field_name(parts[i])?;
            let mut o = ObjectMapping::default();
            o.properties.insert(parts[i + 1].to_string(), field);
            field = FieldMapping::object(o);
        }
        let top = parts[0].to_string();
        // The same field given twice (dotted and object notation) is merged, as
        // `ObjectMapper.Builder#buildMappers` does.
        let merged = match out.remove(&top) {
            Some(existing) => merge_field(&top, &existing, &field)?,
            None => field,
        };
        out.insert(top, merged);
    }
    Ok(out)
}

/// Parses the definition of one field named `name` (the leaf name) of type `ty`.
pub(crate) fn parse_field(
    name: &str,
    ty: &str,
    def: &Map<String, Value>,
    in_multi_field: bool,
) -> EsResult<FieldMapping> {
    match ty {
        "object" | "nested" => return parse_object_field(name, ty, def),
        "alias" => {
            let mut path = None;
            let mut rest = Vec::new();
            for (k, v) in def {
                match k.as_str() {
                    "type" => {}
                    "path" => path = Some(java_value(v)),
                    _ => rest.push(format!(" [{k} : {}]", java_value(v))),
                }
            }
            let Some(path) = path else {
                return Err(mpe(format!(
                    "The [path] property must be specified for field [{name}]."
                )));
            };
            if !rest.is_empty() {
                return Err(mpe(format!(
                    "Mapping definition for [{name}] has unsupported parameters: {}",
                    rest.concat()
                )));
            }
            return Ok(FieldMapping::new(FieldType::Alias { path }));
        }
        _ => {}
    }
    let _ = in_multi_field;
    let base = match ty {
        "text" => FieldType::Text,
        "match_only_text" => FieldType::MatchOnlyText,
        "keyword" => FieldType::Keyword,
        "constant_keyword" => FieldType::ConstantKeyword { value: None },
        "wildcard" => FieldType::Wildcard,
        "long" => FieldType::Long,
        "integer" => FieldType::Integer,
        "short" => FieldType::Short,
        "byte" => FieldType::Byte,
        "unsigned_long" => FieldType::UnsignedLong,
        "double" => FieldType::Double,
        "float" => FieldType::Float,
        "half_float" => FieldType::HalfFloat,
        "scaled_float" => FieldType::ScaledFloat {
            scaling_factor: f64::NAN,
        },
        "boolean" => FieldType::Boolean,
        "date" => FieldType::Date { format: None },
        "date_nanos" => FieldType::DateNanos { format: None },
        "ip" => FieldType::Ip,
        "geo_point" => FieldType::GeoPoint,
        "flattened" => FieldType::Flattened,
        other => {
            return Err(mpe(format!(
                "No handler for type [{other}] declared on field [{name}]"
            )));
        }
    };
    let mut f = FieldMapping::new(base);
    let params = params_of(ty);
    let mut scaling_factor_seen = false;
    for (key, v) in def {
        match key.as_str() {
            "type" => continue,
            "fields" => {
                f.fields = parse_multi_fields(name, v)?;
                continue;
            }
            "copy_to" => {
                match v {
                    Value::Array(items) => f.copy_to.extend(items.iter().map(java_value)),
                    other => f.copy_to.push(java_value(other)),
                }
                continue;
            }
            "boost" => return Err(mpe(format!("Unknown parameter [boost] on mapper [{name}]"))),
            _ => {}
        }
        let Some(param) = params.iter().find(|p| p.name == key) else {
            return Err(mpe(format!(
                "unknown parameter [{key}] on mapper [{name}] of type [{ty}]"
            )));
        };
        let accepts_null = matches!(param.name, "null_value" | "script" | "value");
        if v.is_null() {
            if accepts_null {
                continue;
            }
            return Err(mpe(format!(
                "[{key}] on mapper [{name}] of type [{ty}] must not have a [null] value"
            )));
        }
        let value = match param.kind {
            Kind::Bool | Kind::ExplicitBool => Value::Bool(node_bool(v)?),
            Kind::Int => {
                let i = node_int(v)?;
                if matches!(param.name, "ignore_above" | "depth_limit") && i < 0 {
                    return Err(iae(format!("[{}] must be positive, got [{i}]", param.name)));
                }
                json!(i)
            }
            Kind::Str => Value::String(java_value(v)),
            Kind::Enum(allowed) => {
                let s = java_value(v);
                if !allowed.contains(&s.as_str()) {
                    return Err(mpe(format!(
                        "Unknown value [{s}] for field [{key}] - accepted values are [{}]",
                        allowed.join(", ")
                    )));
                }
                Value::String(s)
            }
            Kind::Meta => Value::Object(parse_meta(name, v)?),
            Kind::NullValue => super::values::parse_null_value(&f.ty, name, v)?,
            Kind::Any => match param.name {
                "scaling_factor" => {
                    scaling_factor_seen = true;
                    json!(node_double(v)?)
                }
                "value" => match v {
                    Value::String(_) | Value::Number(_) => Value::String(java_value(v)),
                    other => {
                        return Err(mpe(format!(
                            "Property [value] on field [{name}] must be a number or a string, but got [{}]",
                            java_value(other)
                        )));
                    }
                },
                _ => v.clone(),
            },
        };
        set_param(&mut f, key, Some(value));
    }
    if let FieldType::ScaledFloat { scaling_factor } = f.ty {
        if !scaling_factor_seen {
            return Err(iae("Field [scaling_factor] is required"));
        }
        if !scaling_factor.is_finite() || scaling_factor <= 0.0 {
            return Err(iae(format!(
                "[scaling_factor] must be a positive number, got [{}]",
                super::json::java_double(scaling_factor)
            )));
        }
    }
    Ok(f)
}

fn parse_meta(field: &str, v: &Value) -> EsResult<Map<String, Value>> {
    let Value::Object(m) = v else {
        return Err(mpe(format!(
            "[meta] must be an object, got {}[{}] for field [{field}]",
            java_class(v),
            java_value(v)
        )));
    };
    if m.len() > 5 {
        return Err(mpe(format!(
            "[meta] can't have more than 5 entries, but got {} on field [{field}]",
            m.len()
        )));
    }
    for (k, val) in m {
        if k.chars().count() > 20 {
            return Err(mpe(format!(
                "[meta] keys can't be longer than 20 chars, but got [{k}] for field [{field}]"
            )));
        }
        match val {
            Value::String(s) if s.chars().count() > 50 => {
                return Err(mpe(format!(
                    "[meta] values can't be longer than 50 chars, but got [{s}] for field [{field}]"
                )));
            }
            Value::String(_) => {}
            other => {
                return Err(mpe(format!(
                    "[meta] values can only be strings, but got {}[{}] for field [{field}]",
                    java_class(other),
                    java_value(other)
                )));
            }
        }
    }
    Ok(m.clone())
}

fn java_class(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "Boolean",
        Value::Number(n) if n.is_f64() => "Double",
        Value::Number(n) if n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()) => "Integer",
        Value::Number(_) => "Long",
        Value::String(_) => "String",
        Value::Array(_) => "ArrayList",
        Value::Object(_) => "LinkedHashMap",
    }
}

fn parse_multi_fields(parent: &str, v: &Value) -> EsResult<BTreeMap<String, FieldMapping>> {
    let mut out = BTreeMap::new();
    let Value::Object(m) = v else {
        return Err(mpe(format!(
            "Expected map for property [fields] on field [{parent}] but got a class java.lang.String"
        )));
    };
    for (sub, def) in m {
        if sub.contains('.') {
            return Err(mpe(format!(
                "Field name [{sub}] which is a multi field of [{parent}] cannot contain '.'"
            )));
        }
        let Value::Object(def) = def else {
            return Err(mpe(format!(
                "illegal field [{sub}], only fields can be specified inside fields"
            )));
        };
        let Some(ty) = def.get("type").filter(|t| !t.is_null()).map(java_value) else {
            return Err(mpe(format!("no type specified for property [{sub}]")));
        };
        if matches!(ty.as_str(), "object" | "nested" | "alias") {
            return Err(mpe(format!("Type [{ty}] cannot be used in multi field")));
        }
        if !TYPE_NAMES.contains(&ty.as_str()) {
            return Err(mpe(format!(
                "no handler for type [{ty}] declared on field [{sub}]"
            )));
        }
        out.insert(sub.clone(), parse_field(sub, &ty, def, true)?);
    }
    Ok(out)
}

fn parse_object_field(name: &str, ty: &str, def: &Map<String, Value>) -> EsResult<FieldMapping> {
    let mut o = ObjectMapping::default();
    let mut rest = Vec::new();
    for (k, v) in def {
        match k.as_str() {
            "type" => {}
            "dynamic" => o.dynamic = Some(parse_dynamic(v)?),
            "enabled" => o.enabled = Some(node_bool_named(v, "enabled.enabled")?),
            "properties" => o.properties = parse_properties(v)?,
            "include_in_all" => {}
            "subobjects" if ty == "object" => o.subobjects = Some(parse_subobjects(v)?),
            "include_in_parent" if ty == "nested" => o.include_in_parent = Some(node_bool(v)?),
            "include_in_root" if ty == "nested" => o.include_in_root = Some(node_bool(v)?),
            _ => rest.push(format!(" [{k} : {}]", java_value(v))),
        }
    }
    if !rest.is_empty() {
        return Err(mpe(format!(
            "Mapping definition for [{name}] has unsupported parameters: {}",
            rest.concat()
        )));
    }
    Ok(FieldMapping::new(if ty == "nested" {
        FieldType::Nested(o)
    } else {
        FieldType::Object(o)
    }))
}

// ---------------------------------------------------------------------------------------------
// Serialisation
// ---------------------------------------------------------------------------------------------

impl Mappings {
    /// The mapping as `GET /{index}/_mapping` shows it: parameters that were not given (or were
    /// given with their default value, except explicit booleans) are left out; properties and
    /// multi-fields are sorted by name.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        if let Some(d) = self.dynamic {
            out.insert("dynamic".into(), Value::String(d.as_str().into()));
        }
        if self.enabled == Some(false) {
            out.insert("enabled".into(), Value::Bool(false));
        }
        if let Some(s) = &self.subobjects {
            out.insert("subobjects".into(), subobjects_json(s));
        }
        if let Some(meta) = &self.meta {
            out.insert("_meta".into(), Value::Object(meta.clone()));
        }
        for (k, v) in &self.metadata {
            out.insert(k.clone(), v.clone());
        }
        if let Some(formats) = &self.dynamic_date_formats {
            out.insert("dynamic_date_formats".into(), json!(formats));
        }
        if let Some(templates) = &self.dynamic_templates {
            out.insert(
                "dynamic_templates".into(),
                Value::Array(
                    templates
                        .iter()
                        .map(|t| json!({ t.name.clone(): t.to_json() }))
                        .collect(),
                ),
            );
        }
        if let Some(d) = self.date_detection {
            out.insert("date_detection".into(), Value::Bool(d));
        }
        if let Some(n) = self.numeric_detection {
            out.insert("numeric_detection".into(), Value::Bool(n));
        }
        if !self.runtime.is_empty() {
            out.insert(
                "runtime".into(),
                Value::Object(self.runtime.clone().into_iter().collect()),
            );
        }
        if !self.properties.is_empty() {
            out.insert("properties".into(), properties_json(&self.properties));
        }
        Value::Object(out)
    }
}

fn subobjects_json(s: &str) -> Value {
    match s {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        other => Value::String(other.to_string()),
    }
}

fn properties_json(props: &BTreeMap<String, FieldMapping>) -> Value {
    Value::Object(
        props
            .iter()
            .map(|(k, f)| (k.clone(), f.to_json()))
            .collect(),
    )
}

impl FieldMapping {
    /// This field's definition as `GET _mapping` shows it.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        match &self.ty {
            FieldType::Object(o) => {
                if o.properties.is_empty() {
                    out.insert("type".into(), json!("object"));
                }
                if let Some(d) = o.dynamic {
                    out.insert("dynamic".into(), json!(d.as_str()));
                }
                if o.enabled == Some(false) {
                    out.insert("enabled".into(), json!(false));
                }
                if let Some(s) = &o.subobjects {
                    out.insert("subobjects".into(), subobjects_json(s));
                }
                if !o.properties.is_empty() {
                    out.insert("properties".into(), properties_json(&o.properties));
                }
                return Value::Object(out);
            }
            FieldType::Nested(o) => {
                out.insert("type".into(), json!("nested"));
                if o.include_in_parent == Some(true) {
                    out.insert("include_in_parent".into(), json!(true));
                }
                if o.include_in_root == Some(true) {
                    out.insert("include_in_root".into(), json!(true));
                }
                if let Some(d) = o.dynamic {
                    out.insert("dynamic".into(), json!(d.as_str()));
                }
                if o.enabled == Some(false) {
                    out.insert("enabled".into(), json!(false));
                }
                if !o.properties.is_empty() {
                    out.insert("properties".into(), properties_json(&o.properties));
                }
                return Value::Object(out);
            }
            FieldType::Alias { path } => {
                out.insert("type".into(), json!("alias"));
                out.insert("path".into(), json!(path));
                return Value::Object(out);
            }
            _ => {}
        }
        let ty = self.ty.name();
        out.insert("type".into(), json!(ty));
        for param in params_of(ty) {
            let Some(v) = get_param(self, param.name) else {
                continue;
            };
            let always = matches!(param.kind, Kind::ExplicitBool) || param.name == "scaling_factor";
            if always || Some(&v) != default_value(param, &self.ty).as_ref() {
                out.insert(param.name.into(), v);
            }
        }
        if !self.fields.is_empty() {
            out.insert("fields".into(), properties_json(&self.fields));
        }
        if !self.copy_to.is_empty() {
            out.insert("copy_to".into(), json!(self.copy_to));
        }
        Value::Object(out)
    }
}

// ---------------------------------------------------------------------------------------------
// Merging
// ---------------------------------------------------------------------------------------------

impl Mappings {
    /// Merges a mapping update (`PUT _mapping`, or the dynamic update of a document) into these
    /// mappings. New fields are added, identical re-declarations are accepted, conflicting ones
    /// fail with Elasticsearch's errors; on error `self` is unchanged.
    pub fn merge(&mut self, update: &Mappings) -> EsResult<()> {
        let mut next = self.clone();
        if update.dynamic.is_some() {
            next.dynamic = update.dynamic;
        }
        if let Some(e) = update.enabled
            && e != self.is_enabled()
        {
            return Err(mapper_exception(
                "the [enabled] parameter can't be updated for the object mapping [_doc]",
            ));
        }
        if let Some(s) = &update.subobjects
            && self.subobjects.as_deref().unwrap_or("true") != s
        {
            return Err(mapper_exception(
                "the [subobjects] parameter can't be updated for the object mapping [_doc]",
            ));
        }
        if update.date_detection.is_some() {
            next.date_detection = update.date_detection;
        }
        if update.numeric_detection.is_some() {
            next.numeric_detection = update.numeric_detection;
        }
        if update.dynamic_date_formats.is_some() {
            next.dynamic_date_formats = update.dynamic_date_formats.clone();
        }
        if update.dynamic_templates.is_some() {
            next.dynamic_templates = update.dynamic_templates.clone();
        }
        if update.meta.is_some() {
            next.meta = update.meta.clone();
        }
        for (k, v) in &update.metadata {
            if let Some(old) = self.metadata.get(k) {
                merge_metadata(k, old, v)?;
            }
            next.metadata.insert(k.clone(), v.clone());
        }
        for (k, v) in &update.runtime {
            if v.is_null() {
                next.runtime.remove(k);
            } else {
                next.runtime.insert(k.clone(), v.clone());
            }
        }
        next.properties = merge_properties("", &self.properties, &update.properties)?;
        validate(&next)?;
        *self = next;
        Ok(())
    }
}

fn mapper_exception(msg: &str) -> EsError {
    EsError::new(400, "mapper_exception", msg)
}

fn merge_metadata(name: &str, old: &Value, new: &Value) -> EsResult<()> {
    let (Some(o), Some(n)) = (old.as_object(), new.as_object()) else {
        return Ok(());
    };
    let mut conflicts = Vec::new();
    for key in ["enabled", "mode", "required"] {
        let default = match key {
            "enabled" => Value::Bool(true),
            "required" => Value::Bool(false),
            _ => Value::Null,
        };
        let ov = o.get(key).cloned().unwrap_or(default.clone());
        let nv = n.get(key).cloned().unwrap_or(default);
        if ov != nv {
            conflicts.push(format!(
                "Cannot update parameter [{key}] from [{}] to [{}]",
                java_value(&ov),
                java_value(&nv)
            ));
        }
    }
    if conflicts.is_empty() {
        Ok(())
    } else {
        Err(iae(format!(
            "Mapper for [{name}] conflicts with existing mapper:\n\t{}",
            conflicts.join("\n\t")
        )))
    }
}

fn full(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

pub(crate) fn merge_properties(
    prefix: &str,
    existing: &BTreeMap<String, FieldMapping>,
    incoming: &BTreeMap<String, FieldMapping>,
) -> EsResult<BTreeMap<String, FieldMapping>> {
    let mut out = existing.clone();
    for (name, new) in incoming {
        let merged = match existing.get(name) {
            Some(old) => merge_field(&full(prefix, name), old, new)?,
            None => new.clone(),
        };
        out.insert(name.clone(), merged);
    }
    Ok(out)
}

/// Merges `new` into `old` for the field at `path` (`FieldMapper#merge`, `ObjectMapper#merge`).
pub(crate) fn merge_field(
    path: &str,
    old: &FieldMapping,
    new: &FieldMapping,
) -> EsResult<FieldMapping> {
    match (&old.ty, &new.ty) {
        (FieldType::Object(o), FieldType::Object(n)) => {
            Ok(FieldMapping::object(merge_object(path, o, n, false)?))
        }
        (FieldType::Nested(o), FieldType::Nested(n)) => Ok(FieldMapping::new(FieldType::Nested(
            merge_object(path, o, n, true)?,
        ))),
        (FieldType::Object(_), FieldType::Nested(_))
        | (FieldType::Nested(_), FieldType::Object(_)) => Err(iae(format!(
            "can't merge a non-nested mapping [{path}] with a nested mapping"
        ))),
        (FieldType::Object(_) | FieldType::Nested(_), _) => Err(iae(format!(
            "can't merge a non object mapping [{path}] with an object mapping"
        ))),
        (_, FieldType::Nested(_)) => Err(iae(format!(
            "can't merge a non-nested mapping [{path}] with a nested mapping"
        ))),
        (_, FieldType::Object(_)) => Err(iae(format!(
            "can't merge a non object mapping [{path}] with an object mapping"
        ))),
        (FieldType::Alias { .. }, FieldType::Alias { .. }) => Ok(new.clone()),
        (FieldType::Alias { .. }, _) => Err(iae(format!(
            "Cannot merge a field alias mapping [{path}] with a mapping that is not for a field alias."
        ))),
        (_, FieldType::Alias { .. }) => Err(iae(format!(
            "mapper [{path}] cannot be changed from type [{}] to [FieldAliasMapper]",
            old.ty.name()
        ))),
        (o, n) if o.name() != n.name() => Err(iae(format!(
            "mapper [{path}] cannot be changed from type [{}] to [{}]",
            o.name(),
            n.name()
        ))),
        _ => merge_leaf(path, old, new),
    }
}

fn merge_object(
    path: &str,
    old: &ObjectMapping,
    new: &ObjectMapping,
    nested: bool,
) -> EsResult<ObjectMapping> {
    let mut out = old.clone();
    if let Some(e) = new.enabled
        && e != old.is_enabled()
    {
        return Err(mapper_exception(&format!(
            "the [enabled] parameter can't be updated for the object mapping [{path}]"
        )));
    }
    if let Some(s) = &new.subobjects
        && old.subobjects.as_deref().unwrap_or("true") != s
    {
        return Err(mapper_exception(&format!(
            "the [subobjects] parameter can't be updated for the object mapping [{path}]"
        )));
    }
    if nested {
        for (name, o, n) in [
            (
                "include_in_parent",
                old.include_in_parent,
                new.include_in_parent,
            ),
            ("include_in_root", old.include_in_root, new.include_in_root),
        ] {
            if let Some(n) = n
                && n != o.unwrap_or(false)
            {
                return Err(mapper_exception(&format!(
                    "the [{name}] parameter can't be updated on a nested object mapping"
                )));
            }
        }
    }
    if new.dynamic.is_some() {
        out.dynamic = new.dynamic;
    }
    out.properties = merge_properties(path, &old.properties, &new.properties)?;
    Ok(out)
}

fn conflict_text(v: &Option<Value>) -> String {
    match v {
        None => "null".into(),
        Some(v) => java_value(v),
    }
}

fn merge_leaf(path: &str, old: &FieldMapping, new: &FieldMapping) -> EsResult<FieldMapping> {
    let ty = old.ty.name();
    let mut out = old.clone();
    let mut conflicts = Vec::new();
    let mut all: Vec<Param> = params_of(ty).to_vec();
    if matches!(old.ty, FieldType::ConstantKeyword { .. }) {
        all.retain(|p| p.name != "value");
        let (o, n) = (get_param(old, "value"), get_param(new, "value"));
        match (&o, &n) {
            (None, _) => set_param(&mut out, "value", n.clone()),
            (Some(_), None) => {}
            (Some(a), Some(b)) if a == b => {}
            _ => conflicts.push(format!(
                "Cannot update parameter [value] from [{}] to [{}]",
                conflict_text(&o),
                conflict_text(&n)
            )),
        }
    }
    for param in &all {
        let o = get_param(old, param.name).or_else(|| default_value(param, &old.ty));
        let n_raw = get_param(new, param.name);
        let n = n_raw.clone().or_else(|| default_value(param, &new.ty));
        let ok = match param.update {
            Upd::Yes => true,
            Upd::No => o == n,
            Upd::Norms => o == n || (o == Some(Value::Bool(true)) && n == Some(Value::Bool(false))),
        };
        if ok {
            set_param(&mut out, param.name, n_raw);
        } else {
            conflicts.push(format!(
                "Cannot update parameter [{}] from [{}] to [{}]",
                param.name,
                conflict_text(&o),
                conflict_text(&n)
            ));
        }
    }
    // Multi-fields: existing ones stay, new ones are added, common ones merged.
    for (name, sub) in &new.fields {
        let merged = match old.fields.get(name) {
            Some(existing) => merge_field(&format!("{path}.{name}"), existing, sub)?,
            None => sub.clone(),
        };
        out.fields.insert(name.clone(), merged);
    }
    out.copy_to = new.copy_to.clone();
    if !conflicts.is_empty() {
        return Err(iae(format!(
            "Mapper for [{path}] conflicts with existing mapper:\n\t{}",
            conflicts.join("\n\t")
        )));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Validation (MappingLookup#checkFieldAliases)
// ---------------------------------------------------------------------------------------------

fn validate(m: &Mappings) -> EsResult<()> {
    let mut aliases = Vec::new();
    collect_aliases("", &m.properties, &mut aliases);
    for (alias, target) in aliases {
        let invalid = |why: &str| {
            iae(format!(
                "Invalid [path] value [{target}] for field alias [{alias}]: {why}"
            ))
        };
        if alias == target {
            return Err(invalid("an alias cannot refer to itself."));
        }
        match m.lookup(&target) {
            Some(Lookup::Field { mapping, .. })
                if matches!(mapping.ty, FieldType::Alias { .. }) =>
            {
                return Err(invalid("an alias cannot refer to another alias."));
            }
            Some(Lookup::Field {
                multi_field_of: None,
                ..
            }) => {}
            _ => {
                return Err(invalid(
                    "an alias must refer to an existing field in the mappings.",
                ));
            }
        }
    }
    Ok(())
}

fn collect_aliases(
    prefix: &str,
    props: &BTreeMap<String, FieldMapping>,
    out: &mut Vec<(String, String)>,
) {
    for (name, f) in props {
        let path = full(prefix, name);
        match &f.ty {
            FieldType::Alias { path: target } => out.push((path, target.clone())),
            FieldType::Object(o) | FieldType::Nested(o) => {
                collect_aliases(&path, &o.properties, out)
            }
            _ => {}
        }
    }
}

/// The result of walking a path through the mapping tree.
#[derive(Debug, Clone)]
pub(crate) enum Lookup<'a> {
    Field {
        mapping: &'a FieldMapping,
        /// The parent field's path when this is a multi-field.
        multi_field_of: Option<(String, &'a FieldMapping)>,
        /// The innermost nested object containing the field.
        nested_path: Option<String>,
    },
    Object {
        mapping: &'a FieldMapping,
        nested_path: Option<String>,
    },
}

impl Mappings {
    /// Walks `path` (dotted) through objects (whose property names may themselves contain dots when
    /// `subobjects` is false) and multi-fields.
    pub(crate) fn lookup(&self, path: &str) -> Option<Lookup<'_>> {
        let parts: Vec<&str> = path.split('.').collect();
        lookup_in(&self.properties, &parts, "", None)
    }
}

fn lookup_in<'a>(
    props: &'a BTreeMap<String, FieldMapping>,
    parts: &[&str],
    prefix: &str,
    nested: Option<String>,
) -> Option<Lookup<'a>> {
    // Longest property name first, so that "a.b" as one name wins over object "a".
    for take in (1..=parts.len()).rev() {
        let name = parts[..take].join(".");
        let Some(f) = props.get(&name) else { continue };
        let path = full(prefix, &name);
        let rest = &parts[take..];
        match &f.ty {
            FieldType::Object(o) | FieldType::Nested(o) => {
                let nested = if matches!(f.ty, FieldType::Nested(_)) {
                    Some(path.clone())
                } else {
                    nested.clone()
                };
                if rest.is_empty() {
                    return Some(Lookup::Object {
                        mapping: f,
                        nested_path: nested,
                    });
                }
                if let Some(found) = lookup_in(&o.properties, rest, &path, nested) {
                    return Some(found);
                }
            }
            _ => {
                if rest.is_empty() {
                    return Some(Lookup::Field {
                        mapping: f,
                        multi_field_of: None,
                        nested_path: nested,
                    });
                }
                let sub = rest.join(".");
                if let Some(mf) = f.fields.get(&sub) {
                    return Some(Lookup::Field {
                        mapping: mf,
                        multi_field_of: Some((path, f)),
                        nested_path: nested,
                    });
                }
            }
        }
    }
    None
}
