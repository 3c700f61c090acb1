//! Tests of the schema module against Elasticsearch 8.x behaviour; each names its source (docs page
//! or elastic/elasticsearch source file).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::*;
use crate::sql::ChType;

fn mappings(v: Value) -> Mappings {
    parse_mappings(&v).unwrap()
}

fn prep(m: &Mappings, doc: &str) -> PreparedDoc {
    prepare_document_bytes(m, &BTreeMap::new(), doc.as_bytes(), "1").unwrap()
}

fn prep_err(m: &Mappings, doc: &str) -> crate::error::EsError {
    prepare_document_bytes(m, &BTreeMap::new(), doc.as_bytes(), "1").unwrap_err()
}

fn row(p: &PreparedDoc) -> serde_json::Map<String, Value> {
    p.values.iter().cloned().collect()
}

fn cols(list: &[(&str, &str)]) -> BTreeMap<String, ChType> {
    list.iter()
        .map(|(n, t)| (n.to_string(), ChType::parse(t)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Mapping parsing and serialisation
// ---------------------------------------------------------------------------------------------

#[test]
fn get_mapping_shows_what_was_given() {
    // FieldMapper.Parameter#isConfigured: set and different from the default; explicit booleans
    // (coerce, ignore_malformed) always; properties sorted (ObjectMapper#serializeMappers).
    let m = mappings(json!({
        "properties": {
            "title": {"type": "text", "fields": {"raw": {"type": "keyword", "ignore_above": 100}}},
            "count": {"type": "integer", "index": true, "coerce": true},
            "@timestamp": {"type": "date"},
            "price": {"type": "scaled_float", "scaling_factor": 100},
            "tags": {"type": "keyword", "doc_values": false, "null_value": "none"}
        }
    }));
    assert_eq!(
        m.to_json(),
        json!({"properties": {
            "@timestamp": {"type": "date"},
            "count": {"type": "integer", "coerce": true},
            "price": {"type": "scaled_float", "scaling_factor": 100.0},
            "tags": {"type": "keyword", "doc_values": false, "null_value": "none"},
            "title": {"type": "text", "fields": {"raw": {"type": "keyword", "ignore_above": 100}}}
        }})
    );
    let keys: Vec<_> = m.to_json()["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(keys, ["@timestamp", "count", "price", "tags", "title"]);
}

#[test]
fn root_parameters() {
    // RootObjectMapper: dynamic_date_formats, date_detection, numeric_detection, dynamic_templates
    // shown when given; _meta and _source (Mapping#toXContent) before them.
    let src = json!({
        "dynamic": "strict",
        "_meta": {"version": 1},
        "_source": {"enabled": true},
        "date_detection": false,
        "numeric_detection": true,
        "dynamic_date_formats": ["MM/dd/yyyy"],
        "dynamic_templates": [{"strings": {"match_mapping_type": "string", "mapping": {"type": "keyword"}}}],
        "properties": {"a": {"type": "keyword"}}
    });
    let m = mappings(src.clone());
    assert_eq!(m.root_dynamic(), Dynamic::Strict);
    let out = m.to_json();
    let keys: Vec<_> = out.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        [
            "dynamic",
            "_meta",
            "_source",
            "dynamic_date_formats",
            "dynamic_templates",
            "date_detection",
            "numeric_detection",
            "properties"
        ]
    );
    assert_eq!(out["dynamic_templates"], src["dynamic_templates"]);
    // The `_doc` wrapper is still accepted (MappingParser).
    assert_eq!(
        mappings(json!({"_doc": {"properties": {"a": {"type": "long"}}}})).to_json(),
        json!({"properties": {"a": {"type": "long"}}})
    );
    assert_eq!(mappings(json!({})).to_json(), json!({}));
}

#[test]
fn dotted_names_in_properties_expand_into_objects() {
    // ObjectMapper.TypeParser#parseProperties: "a.b" → object a with field b; merged with "a".
    let m = mappings(json!({"properties": {
        "user.name": {"type": "keyword"},
        "user": {"properties": {"age": {"type": "integer"}}}
    }}));
    assert_eq!(
        m.to_json(),
        json!({"properties": {"user": {"properties": {"age": {"type": "integer"}, "name": {"type": "keyword"}}}}})
    );
    // "a." is "a" (Java's split drops trailing empty strings).
    assert!(
        mappings(json!({"properties": {"x.": {"type": "keyword"}}}))
            .properties
            .contains_key("x")
    );
}

#[test]
fn mapping_errors_as_elasticsearch_reports_them() {
    let e = |v: Value| parse_mapping_request(&v).unwrap_err();
    // ObjectMapper.TypeParser
    let err = e(json!({"properties": {"bar": {"type": "foo"}}}));
    assert_eq!(err.kind, "mapper_parsing_exception");
    assert_eq!(
        err.reason,
        "Failed to parse mapping: No handler for type [foo] declared on field [bar]"
    );
    assert_eq!(
        err.caused_by.as_ref().unwrap().reason,
        "No handler for type [foo] declared on field [bar]"
    );
    // parse_mappings gives the inner error (callers that wrap themselves).
    assert_eq!(
        parse_mappings(&json!({"properties": {"bar": {"type": "foo"}}}))
            .unwrap_err()
            .reason,
        "No handler for type [foo] declared on field [bar]"
    );
    assert_eq!(
        e(json!({"properties": {"bar": {"index": false}}})).reason,
        "Failed to parse mapping: No type specified for field [bar]"
    );
    // FieldMapper.Builder#parse
    assert_eq!(
        e(json!({"properties": {"f": {"type": "keyword", "x": 1}}})).reason,
        "Failed to parse mapping: unknown parameter [x] on mapper [f] of type [keyword]"
    );
    assert_eq!(
        e(json!({"properties": {"f": {"type": "text", "doc_values": false}}})).reason,
        "Failed to parse mapping: unknown parameter [doc_values] on mapper [f] of type [text]"
    );
    assert_eq!(
        e(json!({"properties": {"f": {"type": "keyword", "index": null}}})).reason,
        "Failed to parse mapping: [index] on mapper [f] of type [keyword] must not have a [null] value"
    );
    assert_eq!(
        e(json!({"properties": {"f": {"type": "keyword", "index": "yes"}}})).reason,
        "Failed to parse mapping: Failed to parse value [yes] as only [true] or [false] are allowed."
    );
    assert_eq!(
        e(json!({"properties": {"f": {"type": "long", "boost": 2}}})).reason,
        "Failed to parse mapping: Unknown parameter [boost] on mapper [f]"
    );
    // MappingParser#checkNoRemainingFields
    assert_eq!(
        e(json!({"dynamicc": false})).reason,
        "Failed to parse mapping: Root mapping definition has unsupported parameters:  [dynamicc : false]"
    );
    assert_eq!(
        e(json!({"properties": {"o": {"properties": {}, "foo": {"a": 1}}}})).reason,
        "Failed to parse mapping: Mapping definition for [o] has unsupported parameters:  [foo : {a=1}]"
    );
    // Multi fields (TypeParsers#parseMultiField)
    assert_eq!(
        e(json!({"properties": {"f": {"type": "text", "fields": {"o": {"type": "object"}}}}}))
            .reason,
        "Failed to parse mapping: Type [object] cannot be used in multi field"
    );
    assert_eq!(
        e(json!({"properties": {"f": {"type": "text", "fields": {"k": {"type": "kw"}}}}})).reason,
        "Failed to parse mapping: no handler for type [kw] declared on field [k]"
    );
    // Type-specific requirements
    assert_eq!(
        e(json!({"properties": {"p": {"type": "scaled_float"}}})).reason,
        "Failed to parse mapping: Field [scaling_factor] is required"
    );
    assert_eq!(
        e(json!({"properties": {"a": {"type": "alias"}}})).reason,
        "Failed to parse mapping: The [path] property must be specified for field [a]."
    );
    // Field names (ObjectMapper#validateFieldName)
    assert_eq!(
        e(json!({"properties": {"": {"type": "long"}}})).reason,
        "Failed to parse mapping: field name cannot be an empty string"
    );
    assert_eq!(
        e(json!({"properties": {"...": {"type": "long"}}})).reason,
        "Failed to parse mapping: field name cannot contain only dots"
    );
    assert_eq!(
        e(json!({"properties": {"f": {"type": "keyword", "ignore_above": -1}}})).reason,
        "Failed to parse mapping: [ignore_above] must be positive, got [-1]"
    );
    assert_eq!(
        e(json!({"dynamic": "maybe"})).reason,
        "Failed to parse mapping: Could not convert [dynamic.dynamic] to boolean"
    );
    // Alias targets are checked after parsing, unwrapped (MappingLookup#checkFieldAliases).
    let err = e(json!({"properties": {"a": {"type": "alias", "path": "missing"}}}));
    assert_eq!(err.kind, "illegal_argument_exception");
    assert_eq!(
        err.reason,
        "Invalid [path] value [missing] for field alias [a]: an alias must refer to an existing field in the mappings."
    );
}

// ---------------------------------------------------------------------------------------------
// Merging
// ---------------------------------------------------------------------------------------------

#[test]
fn merge_adds_fields_and_reports_conflicts() {
    let mut m = mappings(
        json!({"properties": {"f": {"type": "long"}, "o": {"properties": {"x": {"type": "keyword"}}}}}),
    );
    // New fields and identical re-declarations are fine.
    m.merge(&mappings(json!({"properties": {"f": {"type": "long"}, "g": {"type": "keyword"}, "o.y": {"type": "long"}}})))
        .unwrap();
    assert!(m.field("g").is_some() && m.field("o.y").is_some() && m.field("o.x").is_some());
    let before = m.clone();
    let conflict = |m: &mut Mappings, v: Value| m.merge(&mappings(v)).unwrap_err();
    // FieldMapper#checkIncomingMergeType
    let e = conflict(&mut m, json!({"properties": {"f": {"type": "text"}}}));
    assert_eq!(
        (e.kind.as_str(), e.reason.as_str()),
        (
            "illegal_argument_exception",
            "mapper [f] cannot be changed from type [long] to [text]"
        )
    );
    // MapperErrors
    assert_eq!(
        conflict(
            &mut m,
            json!({"properties": {"f": {"properties": {"a": {"type": "long"}}}}})
        )
        .reason,
        "can't merge a non object mapping [f] with an object mapping"
    );
    assert_eq!(
        conflict(&mut m, json!({"properties": {"o": {"type": "keyword"}}})).reason,
        "can't merge a non object mapping [o] with an object mapping"
    );
    assert_eq!(
        conflict(&mut m, json!({"properties": {"o": {"type": "nested"}}})).reason,
        "can't merge a non-nested mapping [o] with a nested mapping"
    );
    // FieldMapper.Conflicts: non-updateable parameters, defaults of the incoming mapping compared.
    assert_eq!(
        conflict(
            &mut m,
            json!({"properties": {"g": {"type": "keyword", "index": false}}})
        )
        .reason,
        "Mapper for [g] conflicts with existing mapper:\n\tCannot update parameter [index] from [true] to [false]"
    );
    assert_eq!(m, before, "a failed merge leaves the mapping unchanged");
    // Updateable parameters (ignore_above) change.
    m.merge(&mappings(
        json!({"properties": {"g": {"type": "keyword", "ignore_above": 10}}}),
    ))
    .unwrap();
    assert_eq!(m.field("g").unwrap().ignore_above, Some(10));
    // Multi-fields are added, never removed.
    m.merge(&mappings(json!({"properties": {"g": {"type": "keyword", "ignore_above": 10, "fields": {"t": {"type": "text"}}}}})))
        .unwrap();
    m.merge(&mappings(
        json!({"properties": {"g": {"type": "keyword", "ignore_above": 10}}}),
    ))
    .unwrap();
    assert!(m.field("g.t").is_some());
    // Object parameters (ObjectMapper.MergeResult).
    let e = conflict(&mut m, json!({"properties": {"o": {"enabled": false}}}));
    assert_eq!(
        e.reason,
        "the [enabled] parameter can't be updated for the object mapping [o]"
    );
    m.merge(&mappings(
        json!({"properties": {"o": {"type": "object", "dynamic": "strict"}}}),
    ))
    .unwrap();
    assert_eq!(m.to_json()["properties"]["o"]["dynamic"], "strict");
}

// ---------------------------------------------------------------------------------------------
// Columns
// ---------------------------------------------------------------------------------------------

#[test]
fn column_types_per_es_type() {
    let m = mappings(json!({"properties": {
        "msg": {"type": "text", "fields": {"keyword": {"type": "keyword"}, "len": {"type": "integer"}}},
        "n": {"type": "long"}, "u": {"type": "unsigned_long"}, "f": {"type": "float"}, "h": {"type": "half_float"},
        "s": {"type": "scaled_float", "scaling_factor": 10}, "b": {"type": "boolean"},
        "d": {"type": "date"}, "dn": {"type": "date_nanos"}, "ip": {"type": "ip"}, "loc": {"type": "geo_point"},
        "labels": {"type": "flattened"}, "c": {"type": "constant_keyword", "value": "x"},
        "al": {"type": "alias", "path": "n"},
        "comments": {"type": "nested", "properties": {"author": {"type": "keyword"}}}
    }}));
    let got: BTreeMap<String, String> = m
        .columns()
        .into_iter()
        .map(|(n, t)| (n, t.to_string()))
        .collect();
    let want: BTreeMap<String, String> = [
        ("b", "Nullable(Bool)"),
        ("comments.author", "Array(Nullable(String))"),
        ("d", "Nullable(DateTime64(3, 'UTC'))"),
        ("dn", "Nullable(DateTime64(9, 'UTC'))"),
        ("f", "Nullable(Float32)"),
        ("h", "Nullable(Float32)"),
        ("ip", "Nullable(IPv6)"),
        ("labels", "Map(String, Array(String))"),
        ("loc", "Array(Tuple(`lat` Float64, `lon` Float64))"),
        ("msg", "Nullable(String)"),
        ("msg.len", "Nullable(Int32)"),
        ("n", "Nullable(Int64)"),
        ("s", "Nullable(Float64)"),
        ("u", "Nullable(UInt64)"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(got, want);
    assert_eq!(
        column_type(&FieldMapping::new(FieldType::Keyword), true),
        Some(ChType::array(ChType::String))
    );
}

#[test]
fn field_lookup_for_the_query_side() {
    let m = mappings(json!({"properties": {
        "msg": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
        "user": {"properties": {"id": {"type": "long"}}},
        "uid": {"type": "alias", "path": "user.id"},
        "d": {"type": "date", "format": "yyyy-MM-dd"},
        "p": {"type": "scaled_float", "scaling_factor": 100},
        "c": {"type": "constant_keyword", "value": "prod"},
        "items": {"type": "nested", "properties": {"sku": {"type": "keyword"}}}
    }, "runtime": {"day": {"type": "keyword"}}}));
    let kw = m.field("msg.keyword").unwrap();
    assert_eq!(
        (kw.es_type.as_str(), kw.column.as_deref(), kw.ignore_above),
        ("keyword", Some("msg"), Some(256))
    );
    assert_eq!(kw.multi_field_of.as_deref(), Some("msg"));
    let uid = m.field("uid").unwrap();
    assert_eq!(
        (
            uid.es_type.as_str(),
            uid.column.as_deref(),
            uid.alias_of.as_deref()
        ),
        ("long", Some("user.id"), Some("user.id"))
    );
    assert_eq!(m.field("d").unwrap().format.as_deref(), Some("yyyy-MM-dd"));
    assert_eq!(m.field("p").unwrap().scaling_factor, Some(100.0));
    let c = m.field("c").unwrap();
    assert_eq!(
        (c.column, c.constant_value.as_deref()),
        (None, Some("prod"))
    );
    assert_eq!(
        m.field("items.sku").unwrap().nested_path.as_deref(),
        Some("items")
    );
    assert!(m.field("user").is_none());
    assert!(m.field("day").unwrap().runtime);
    let paths: Vec<String> = m.leaf_fields().into_iter().map(|f| f.path).collect();
    assert_eq!(
        paths,
        [
            "c",
            "d",
            "items.sku",
            "msg",
            "msg.keyword",
            "p",
            "uid",
            "user.id",
            "day"
        ]
    );
}

#[test]
fn mappings_for_existing_tables() {
    let (m, skipped) = Mappings::from_columns(&[
        (
            "name".into(),
            ChType::parse("LowCardinality(Nullable(String))"),
        ),
        ("geo.src".into(), ChType::parse("String")),
        ("bytes".into(), ChType::parse("UInt32")),
        ("small".into(), ChType::parse("UInt8")),
        ("ts".into(), ChType::parse("DateTime64(6, 'UTC')")),
        ("day".into(), ChType::parse("Date")),
        ("tags".into(), ChType::parse("Array(String)")),
        (
            "pos".into(),
            ChType::parse("Tuple(lat Float64, lon Float64)"),
        ),
        ("attrs".into(), ChType::parse("Map(String, String)")),
        ("kind".into(), ChType::parse("Enum8('a' = 1, 'b' = 2)")),
        (
            "agg".into(),
            ChType::parse("AggregateFunction(uniq, UInt64)"),
        ),
        ("price".into(), ChType::parse("Decimal(10, 2)")),
    ]);
    assert_eq!(
        m.to_json(),
        json!({"properties": {
            "attrs": {"type": "flattened"}, "bytes": {"type": "long"}, "day": {"type": "date"},
            "geo": {"properties": {"src": {"type": "keyword"}}}, "kind": {"type": "keyword"},
            "name": {"type": "keyword"}, "pos": {"type": "geo_point"}, "price": {"type": "double"},
            "small": {"type": "short"}, "tags": {"type": "keyword"}, "ts": {"type": "date_nanos"}
        }})
    );
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].0, "agg");
}

// ---------------------------------------------------------------------------------------------
// Documents: dynamic mapping
// ---------------------------------------------------------------------------------------------

#[test]
fn dynamic_mapping_of_each_json_type() {
    // docs "dynamic-field-mapping": string → date (date detection) or text + keyword; integer →
    // long; floating point → float; boolean → boolean; object → object; null and [] → nothing.
    let m = Mappings::default();
    let p = prep(
        &m,
        r#"{"s": "hello", "d": "2015-01-01T12:10:30Z", "d2": "2015/09/02", "n": 5, "x": 1.5, "b": true,
            "o": {"i": 1}, "nothing": null, "empty": [], "num_str": "42"}"#,
    );
    let update = p.mapping_update.clone().unwrap();
    assert_eq!(
        update.to_json(),
        json!({"properties": {
            "b": {"type": "boolean"},
            "d": {"type": "date"},
            "d2": {"type": "date", "format": "yyyy/MM/dd HH:mm:ss||yyyy/MM/dd||epoch_millis"},
            "n": {"type": "long"},
            "num_str": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
            "o": {"properties": {"i": {"type": "long"}}},
            "s": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
            "x": {"type": "float"}
        }})
    );
    assert_eq!(row(&p)["s"], "hello");
    assert_eq!(row(&p)["d"], "2015-01-01 12:10:30.000");
    assert_eq!(row(&p)["x"], json!(1.5));
    assert_eq!(row(&p)["o.i"], json!(1));
    assert!(!row(&p).contains_key("nothing") && !row(&p).contains_key("empty"));
    let new: BTreeMap<_, _> = p
        .new_columns
        .iter()
        .map(|(n, t)| (n.as_str(), t.to_string()))
        .collect();
    assert_eq!(new["s"], "Nullable(String)");
    assert_eq!(new["x"], "Nullable(Float32)");
    assert!(
        !new.contains_key("s.keyword"),
        "the keyword sub-field shares the text column"
    );
}

#[test]
fn numeric_detection_and_disabled_date_detection() {
    // docs "dynamic-field-mapping" (numeric_detection, date_detection).
    let m = mappings(json!({"numeric_detection": true, "date_detection": false}));
    let u = prep(&m, r#"{"a": "1", "b": "1.5", "c": "2015-01-01"}"#)
        .mapping_update
        .unwrap()
        .to_json();
    assert_eq!(u["properties"]["a"]["type"], "long");
    assert_eq!(u["properties"]["b"]["type"], "float");
    assert_eq!(u["properties"]["c"]["type"], "text");
    let m = mappings(json!({"dynamic_date_formats": ["MM/dd/yyyy"]}));
    let _ = m;
}

#[test]
fn arrays_and_arrays_of_objects() {
    let p = prep(
        &Mappings::default(),
        r#"{"tags": ["a", null, "b"], "one": ["x"], "p": [{"n": 1}, {"n": 2}, {"m": 3}]}"#,
    );
    assert_eq!(row(&p)["tags"], json!(["a", "b"]));
    assert_eq!(row(&p)["one"], json!(["x"]));
    assert_eq!(row(&p)["p.n"], json!([1, 2]));
    assert_eq!(row(&p)["p.m"], json!([3]));
    let new: BTreeMap<_, _> = p
        .new_columns
        .iter()
        .map(|(n, t)| (n.as_str(), t.to_string()))
        .collect();
    assert_eq!(new["tags"], "Array(String)");
    assert_eq!(new["p.n"], "Array(Int64)");
}

#[test]
fn mixed_arrays_conflict_like_elasticsearch() {
    // Every value of a new field makes its own dynamic mapper; merging them fails
    // (DocumentParser#createDynamicUpdate; seen in the wild as
    // "mapper [vals] cannot be changed from type [long] to [float]").
    let e = prep_err(&Mappings::default(), r#"{"vals": [1, 1.5]}"#);
    assert_eq!(
        (e.kind.as_str(), e.reason.as_str()),
        (
            "illegal_argument_exception",
            "mapper [vals] cannot be changed from type [long] to [float]"
        )
    );
    let e = prep_err(&Mappings::default(), r#"{"a": {"b": 1}, "a.b": "x"}"#);
    assert_eq!(
        e.reason,
        "mapper [a.b] cannot be changed from type [long] to [text]"
    );
}

#[test]
fn dotted_document_fields_are_objects() {
    let m = mappings(json!({"properties": {"a": {"properties": {"b": {"type": "long"}}}}}));
    let p = prep(&m, r#"{"a.b": "7"}"#);
    assert_eq!(row(&p)["a.b"], json!(7));
    assert!(p.mapping_update.is_none());
    let p = prep(&m, r#"{"a.b": 1, "a": {"b": 2}}"#);
    assert_eq!(
        row(&p)["a.b"],
        json!([1, 2]),
        "two values without an array are multi-valued too"
    );
}

#[test]
fn field_name_errors() {
    // DotExpandingXContentParser / DocumentParser#innerParseObject
    let m = Mappings::default();
    let e = prep_err(&m, r#"{"": 1}"#);
    assert_eq!(
        e.reason,
        "[1:2] failed to parse: field name cannot be an empty string"
    );
    assert_eq!(e.caused_by.unwrap().kind, "illegal_argument_exception");
    assert_eq!(
        prep_err(&m, r#"{"...": 1}"#).reason,
        "[1:2] failed to parse: field name cannot contain only dots"
    );
    assert_eq!(
        prep_err(&m, r#"{".a": 1}"#).reason,
        "[1:2] failed to parse: field name cannot contain only whitespace: ['.a']"
    );
    assert_eq!(
        prep_err(&m, r#"{"a. .b": 1}"#).reason,
        "[1:2] failed to parse: field name starting or ending with a [.] makes object resolution ambiguous: [a. .b]"
    );
    assert_eq!(
        prep_err(&m, r#"{"  ": 1}"#).reason,
        "[1:2] Field name cannot contain only whitespace: [  ]"
    );
    // "a." is the field "a".
    assert!(row(&prep(&m, r#"{"a.": 1}"#)).contains_key("a"));
}

#[test]
fn dynamic_false_and_strict() {
    // docs "dynamic": false keeps unknown fields in _source only; strict rejects them.
    let m = mappings(json!({"dynamic": false, "properties": {"a": {"type": "keyword"}}}));
    let p = prep(&m, r#"{"a": "x", "b": {"c": 1}, "d": [1, 2]}"#);
    assert!(p.mapping_update.is_none());
    assert_eq!(row(&p).len(), 1);
    let m = mappings(
        json!({"dynamic": "strict", "properties": {"a": {"type": "keyword"},
        "o": {"properties": {"x": {"type": "long"}}}}}),
    );
    let e = prep_err(&m, r#"{"a": "x", "room": "room1"}"#);
    assert_eq!(e.kind, "strict_dynamic_mapping_exception");
    assert_eq!(
        e.reason,
        "[1:20] mapping set to strict, dynamic introduction of [room] within [_doc] is not allowed"
    );
    let e = prep_err(&m, r#"{"o": {"y": 1}}"#);
    assert_eq!(
        e.reason,
        "[1:13] mapping set to strict, dynamic introduction of [y] within [o] is not allowed"
    );
    // null values and empty arrays are refused too (DocumentParser#parseNullValue, #parseArrayDynamic).
    assert!(
        prep_err(&m, r#"{"z": null}"#)
            .reason
            .contains("dynamic introduction of [z]")
    );
    assert!(
        prep_err(&m, r#"{"z": []}"#)
            .reason
            .contains("dynamic introduction of [z]")
    );
    // Object-level dynamic overrides the root's.
    let m = mappings(
        json!({"dynamic": "strict", "properties": {"free": {"type": "object", "dynamic": true}}}),
    );
    let p = prep(&m, r#"{"free": {"k": "v"}}"#);
    assert_eq!(
        p.mapping_update.unwrap().to_json()["properties"]["free"]["properties"]["k"]["type"],
        "text"
    );
}

#[test]
fn runtime_dynamic() {
    // docs "dynamic" (runtime): new leaves become runtime fields, without columns.
    let m = mappings(json!({"dynamic": "runtime"}));
    let p = prep(&m, r#"{"a": "x", "o": {"n": 2}, "d": "2020-01-01"}"#);
    assert!(row(&p).is_empty());
    assert_eq!(
        p.mapping_update.unwrap().to_json(),
        json!({"runtime": {"a": {"type": "keyword"}, "d": {"type": "date"}, "o.n": {"type": "long"}}})
    );
}

#[test]
fn dynamic_templates_apply() {
    // docs "dynamic-templates" examples (ECS-like).
    let m = mappings(json!({"dynamic_templates": [
        {"strings_as_keywords": {"match_mapping_type": "string", "unmatch": "*_text", "mapping": {"type": "keyword", "ignore_above": 1024}}},
        {"longs_as_int": {"match_mapping_type": "long", "path_match": "metrics.*", "mapping": {"type": "integer"}}},
        {"labels": {"path_match": "labels", "match_mapping_type": "object", "mapping": {"type": "flattened"}}}
    ]}));
    let p = prep(
        &m,
        r#"{"host": "web-1", "body_text": "hello", "metrics": {"cpu": 3}, "n": 4, "labels": {"env": "prod"}}"#,
    );
    let u = p.mapping_update.clone().unwrap().to_json();
    assert_eq!(
        u["properties"]["host"],
        json!({"type": "keyword", "ignore_above": 1024})
    );
    assert_eq!(u["properties"]["body_text"]["type"], "text");
    assert_eq!(
        u["properties"]["metrics"]["properties"]["cpu"],
        json!({"type": "integer"})
    );
    assert_eq!(u["properties"]["n"], json!({"type": "long"}));
    assert_eq!(u["properties"]["labels"], json!({"type": "flattened"}));
    assert_eq!(row(&p)["labels"], json!({"env": ["prod"]}));
}

// ---------------------------------------------------------------------------------------------
// Documents: values and errors
// ---------------------------------------------------------------------------------------------

#[test]
fn field_errors_with_position_preview_and_cause() {
    // FieldMapper#rethrowAsDocumentParsingException, as a bulk item shows it.
    let m = mappings(
        json!({"properties": {"count": {"type": "long"}, "price": {"type": "double"}, "k": {"type": "keyword"}}}),
    );
    let e = prep_err(&m, r#"{"count": "abc"}"#);
    assert_eq!(e.kind, "document_parsing_exception");
    assert_eq!(
        e.reason,
        "[1:11] failed to parse field [count] of type [long] in document with id '1'. Preview of field's value: 'abc'"
    );
    let cause = e.caused_by.unwrap();
    assert_eq!(
        (cause.kind.as_str(), cause.reason.as_str()),
        ("illegal_argument_exception", "For input string: \"abc\"")
    );
    let e = prep_err(
        &m,
        r#"{"goods_id":"1004","title":"价格非法的商品","category":"mobile_phone","price":"不是数字"}"#,
    );
    assert_eq!(
        e.reason,
        "[1:86] failed to parse field [price] of type [double] in document with id '1'. Preview of field's value: '不是数字'"
    );
    assert_eq!(e.caused_by.unwrap().kind, "number_format_exception");
    // An object for a keyword: the position is the closing brace (the preview read the object).
    let e = prep_err(&m, r#"{"k": {"a": 1}}"#);
    assert_eq!(
        e.reason,
        "[1:14] failed to parse field [k] of type [keyword] in document with id '1'. Preview of field's value: '{a=1}'"
    );
    assert_eq!(
        e.caused_by.unwrap().reason,
        "Expected text at 1:7 but found START_OBJECT"
    );
    let e = prep_err(&m, r#"{"count": {}}"#);
    assert_eq!(
        e.reason,
        "[1:12] failed to parse field [count] of type [long] in document with id '1'. Preview of field's value: '{}'"
    );
}

#[test]
fn concrete_values_for_objects_and_aliases() {
    let m = mappings(
        json!({"properties": {"user": {"properties": {"name": {"type": "keyword"}}},
        "n": {"type": "long"}, "a": {"type": "alias", "path": "n"}}}),
    );
    let e = prep_err(&m, r#"{"user": "bob"}"#);
    assert_eq!(
        e.reason,
        "[1:10] object mapping for [user] tried to parse field [user] as object, but found a concrete value"
    );
    assert_eq!(
        prep_err(&m, r#"{"a": 1}"#).reason,
        "[1:7] Cannot write to a field alias [a]."
    );
    assert!(prep(&m, r#"{"user": null}"#).values.is_empty());
}

#[test]
fn coercion_null_value_and_ignore_above() {
    // docs "coerce", "null-value", "ignore-above".
    let m = mappings(json!({"properties": {
        "i": {"type": "integer"}, "k": {"type": "keyword", "ignore_above": 3, "null_value": "NULL"},
        "b": {"type": "boolean"}, "t": {"type": "text"}, "s": {"type": "scaled_float", "scaling_factor": 10}
    }}));
    let p = prep(
        &m,
        r#"{"i": "5.7", "k": null, "b": "false", "t": 12, "s": 1.26}"#,
    );
    assert_eq!(row(&p)["i"], json!(5));
    assert_eq!(row(&p)["k"], "NULL");
    assert_eq!(row(&p)["b"], json!(false));
    assert_eq!(row(&p)["t"], "12");
    assert_eq!(row(&p)["s"], json!(1.3));
    let p = prep(&m, r#"{"k": ["ab", "abcd"]}"#);
    assert_eq!(
        row(&p)["k"],
        json!(["ab", "abcd"]),
        "values over ignore_above stay in the column"
    );
    assert_eq!(p.ignored, ["k"]);
    let e = prep_err(&m, r#"{"b": "yes"}"#);
    assert_eq!(
        e.caused_by.unwrap().reason,
        "Failed to parse value [yes] as only [true] or [false] are allowed."
    );
}

#[test]
fn existing_scalar_column_needs_an_array() {
    let m = mappings(json!({"properties": {"t": {"type": "keyword"}}}));
    let columns = cols(&[("t", "Nullable(String)")]);
    let p = prepare_document_bytes(&m, &columns, br#"{"t": ["a", "b"]}"#, "1").unwrap();
    assert_eq!(p.array_columns, ["t"]);
    assert_eq!(row(&p)["t"], json!(["a", "b"]));
    // An array column takes a single value as a one-element array.
    let columns = cols(&[("t", "Array(String)")]);
    let p = prepare_document_bytes(&m, &columns, br#"{"t": "a"}"#, "1").unwrap();
    assert_eq!(row(&p)["t"], json!(["a"]));
    assert!(p.array_columns.is_empty() && p.new_columns.is_empty());
}

#[test]
fn nested_objects_line_up() {
    // docs "nested": one element per nested object, in document order.
    let m = mappings(
        json!({"properties": {"comments": {"type": "nested", "properties": {
        "author": {"type": "keyword"}, "stars": {"type": "integer"}}}}}),
    );
    let p = prep(
        &m,
        r#"{"comments": [{"author": "a", "stars": 5}, {"stars": 3}, {"author": "c"}]}"#,
    );
    assert_eq!(row(&p)["comments.author"], json!(["a", null, "c"]));
    assert_eq!(row(&p)["comments.stars"], json!([5, 3, null]));
    let new: BTreeMap<_, _> = p
        .new_columns
        .iter()
        .map(|(n, t)| (n.as_str(), t.to_string()))
        .collect();
    assert_eq!(new["comments.author"], "Array(Nullable(String))");
    // Arrays inside a nested object: Array(Array(T)).
    let p = prep(&m, r#"{"comments": {"author": ["x", "y"]}}"#);
    assert_eq!(row(&p)["comments.author"], json!([["x", "y"]]));
    let columns = cols(&[("comments.author", "Array(Nullable(String))")]);
    let p = prepare_document_bytes(
        &m,
        &columns,
        br#"{"comments": [{"author": ["x", "y"]}, {}]}"#,
        "1",
    )
    .unwrap();
    assert_eq!(
        p.column_migrations,
        vec![ColumnMigration {
            column: "comments.author".into(),
            from: ChType::parse("Array(Nullable(String))"),
            to: ChType::parse("Array(Array(String))"),
        }]
    );
    assert_eq!(row(&p)["comments.author"], json!([["x", "y"], []]));
}

#[test]
fn values_rendered_for_clickhouse() {
    let m = mappings(json!({"properties": {
        "ip": {"type": "ip"}, "loc": {"type": "geo_point"}, "d": {"type": "date_nanos"},
        "dm": {"type": "date", "format": "epoch_millis"}, "h": {"type": "half_float"}
    }}));
    let p = prep(
        &m,
        r#"{"ip": "10.0.0.1", "loc": "41.12,-71.34", "d": "2020-01-01T00:00:00.123456789Z", "dm": 1420070400001, "h": 0.1}"#,
    );
    assert_eq!(row(&p)["ip"], "::ffff:10.0.0.1");
    assert_eq!(render_ip("::ffff:10.0.0.1"), "10.0.0.1");
    assert_eq!(row(&p)["loc"], json!([{"lat": 41.12, "lon": -71.34}]));
    assert_eq!(row(&p)["d"], "2020-01-01 00:00:00.123456789");
    assert_eq!(row(&p)["dm"], "2015-01-01 00:00:00.001");
    assert_eq!(row(&p)["h"], json!(0.099975586));
}

#[test]
fn copy_to_and_constant_keyword() {
    // docs "copy-to": values are indexed in the target field too.
    let m = mappings(json!({"properties": {
        "first": {"type": "text", "copy_to": "full"}, "last": {"type": "text", "copy_to": "full"},
        "full": {"type": "text"}, "env": {"type": "constant_keyword"}
    }}));
    let p = prep(&m, r#"{"first": "John", "last": "Smith", "env": "prod"}"#);
    assert_eq!(row(&p)["full"], json!(["John", "Smith"]));
    assert!(!row(&p).contains_key("env"));
    // constant_keyword takes its value from the first document (docs "constant-keyword").
    assert_eq!(
        p.mapping_update.unwrap().to_json(),
        json!({"properties": {"env": {"type": "constant_keyword", "value": "prod"}}})
    );
    let m = mappings(json!({"properties": {"env": {"type": "constant_keyword", "value": "prod"}}}));
    let e = prep_err(&m, r#"{"env": "dev"}"#);
    assert_eq!(
        e.caused_by.unwrap().reason,
        "[env] field only accepts values that are equal to the value defined in the mappings [prod], but got [dev]"
    );
}

#[test]
fn metadata_fields_in_documents() {
    let e = prep_err(&Mappings::default(), r#"{"_id": "x"}"#);
    assert_eq!(
        e.reason,
        "[1:9] failed to parse field [_id] of type [_id] in document with id '1'. Preview of field's value: 'x'"
    );
    assert_eq!(
        e.caused_by.unwrap().reason,
        "Field [_id] is a metadata field and cannot be added inside a document. Use the index API request parameters."
    );
}

#[test]
fn malformed_documents() {
    let m = Mappings::default();
    assert_eq!(
        prep_err(&m, "").reason,
        "[0:0] failed to parse, document is empty"
    );
    assert_eq!(
        prep_err(&m, "[1]").reason,
        "Malformed content, must start with an object"
    );
    assert!(
        prep_err(&m, r#"{"a": 1, "a": 2}"#)
            .reason
            .contains("Duplicate field 'a'")
    );
    assert!(prep(&m, "{}").values.is_empty());
}

#[test]
fn disabled_objects_keep_values_in_source_only() {
    // docs "enabled": anything goes under a disabled object.
    let m = mappings(json!({"properties": {"session": {"type": "object", "enabled": false}}}));
    let p = prep(&m, r#"{"session": {"a": [1, {"b": "x"}]}}"#);
    assert!(row(&p).is_empty() && p.mapping_update.is_none());
    assert!(prep(&m, r#"{"session": "scalar"}"#).values.is_empty());
}

#[test]
fn update_merges_into_mappings() {
    let mut m = Mappings::default();
    let p = prep(&m, r#"{"a": {"b": "x"}, "n": 1}"#);
    m.merge(p.mapping_update.as_ref().unwrap()).unwrap();
    assert_eq!(
        m.field("a.b.keyword").unwrap().column.as_deref(),
        Some("a.b")
    );
    let p = prep(&m, r#"{"a": {"b": "y", "c": 2}}"#);
    assert_eq!(
        p.mapping_update.unwrap().to_json(),
        json!({"properties": {"a": {"properties": {"c": {"type": "long"}}}}})
    );
}

#[test]
fn subobjects_false_keeps_dotted_leaves() {
    // docs "subobjects": with subobjects false, {"metrics": {"time": {"max": 1}}} is the leaf
    // "time.max" of object "metrics".
    let m = mappings(json!({"properties": {"metrics": {"type": "object", "subobjects": false}}}));
    let p = prep(&m, r#"{"metrics": {"time": {"max": 1}, "time.min": 2}}"#);
    let u = p.mapping_update.clone().unwrap().to_json();
    assert_eq!(
        u["properties"]["metrics"]["properties"]["time.max"]["type"],
        "long"
    );
    assert_eq!(
        u["properties"]["metrics"]["properties"]["time.min"]["type"],
        "long"
    );
    assert_eq!(row(&p)["metrics.time.max"], json!(1));
    assert_eq!(
        m.to_json()["properties"]["metrics"],
        json!({"type": "object", "subobjects": false})
    );
}

#[test]
fn templates_for_objects_and_arrays() {
    // docs "dynamic-templates": match_mapping_type object → nested; a geo_point template takes
    // a [lon, lat] array whole (GeoPointFieldMapper parses arrays itself).
    let m = mappings(json!({"dynamic_templates": [
        {"nested_items": {"match": "items", "match_mapping_type": "object", "mapping": {"type": "nested"}}},
        {"points": {"match": "*_location", "mapping": {"type": "geo_point"}}}
    ]}));
    let p = prep(
        &m,
        r#"{"items": [{"sku": "a"}, {"sku": "b"}], "home_location": [-71.34, 41.12]}"#,
    );
    let u = p.mapping_update.clone().unwrap().to_json();
    assert_eq!(u["properties"]["items"]["type"], "nested");
    assert_eq!(
        u["properties"]["home_location"],
        json!({"type": "geo_point"})
    );
    assert_eq!(row(&p)["items.sku"], json!(["a", "b"]));
    assert_eq!(
        row(&p)["home_location"],
        json!([{"lat": 41.12, "lon": -71.34}])
    );
}

#[test]
fn nested_inside_nested() {
    let m = mappings(
        json!({"properties": {"a": {"type": "nested", "properties": {
        "x": {"type": "long"}, "b": {"type": "nested", "properties": {"y": {"type": "long"}}}}}}}),
    );
    let p = prep(
        &m,
        r#"{"a": [{"x": 1, "b": [{"y": 10}, {"y": 11}]}, {"x": 2, "b": {"y": 20}}]}"#,
    );
    assert_eq!(row(&p)["a.x"], json!([1, 2]));
    assert_eq!(
        row(&p)["a.b.y"],
        json!([10, 11, 20]),
        "inner nested objects in document order"
    );
    assert_eq!(
        m.field("a.b.y").unwrap().nested_path.as_deref(),
        Some("a.b")
    );
    let e = prep_err(&m, r#"{"a": [1]}"#);
    assert_eq!(
        e.reason,
        "[1:8] object mapping for [a] tried to parse field [a] as object, but found a concrete value"
    );
}

#[test]
fn copy_to_a_new_field_maps_it_dynamically() {
    // DocumentParser#parseCopyFields: the target is parsed like a field of the root object.
    let m = mappings(json!({"properties": {"title": {"type": "keyword", "copy_to": "all.text"}}}));
    let p = prep(&m, r#"{"title": "Hello"}"#);
    let u = p.mapping_update.clone().unwrap().to_json();
    assert_eq!(u["properties"]["all"]["properties"]["text"]["type"], "text");
    assert_eq!(row(&p)["all.text"], "Hello");
    let e = prep_err(&m, r#"{"title": {"a": 1}}"#);
    assert!(
        e.reason
            .starts_with("[1:18] failed to parse field [title] of type [keyword]"),
        "{}",
        e.reason
    );
}

#[test]
fn strict_inside_objects_names_the_parent_path() {
    // StrictDynamicMappingException(parent.fullPath(), field); for dotted keys the made-up object
    // sits at the key's position.
    let m = mappings(
        json!({"dynamic": "strict", "properties": {"a": {"properties": {"b": {"properties": {"c": {"type": "long"}}}}}}}),
    );
    let e = prep_err(&m, r#"{"a.b.d": 1}"#);
    assert_eq!(
        e.reason,
        "[1:11] mapping set to strict, dynamic introduction of [d] within [a.b] is not allowed"
    );
    let e = prep_err(&m, r#"{"x.y": 1}"#);
    assert_eq!(
        e.reason,
        "[1:2] mapping set to strict, dynamic introduction of [x] within [_doc] is not allowed"
    );
}

#[test]
fn prepare_document_from_a_value() {
    // The serde_json entry point: positions are those of the compact serialisation.
    let m = mappings(json!({"properties": {"count": {"type": "long"}}}));
    let e =
        prepare_document(&m, &BTreeMap::new(), &json!({"x": 1, "count": "abc"}), "1").unwrap_err();
    assert_eq!(
        e.reason,
        "[1:16] failed to parse field [count] of type [long] in document with id '1'. Preview of field's value: 'abc'"
    );
    let p = prepare_document(&m, &BTreeMap::new(), &json!({"count": 3}), "1").unwrap();
    assert_eq!(p.values, vec![("count".to_string(), json!(3))]);
}

#[test]
fn mapping_depth_limit() {
    // MappingLookup#checkObjectDepthLimit: index.mapping.depth.limit defaults to 20.
    let doc = format!("{}1{}", "{\"a\":".repeat(21), "}".repeat(21));
    let e = prep_err(&Mappings::default(), &doc);
    assert!(e.reason.contains("failed to parse: Limit of mapping depth [20] has been exceeded due to object field [a.a.a"), "{}", e.reason);
    let doc = format!("{}1{}", "{\"a\":".repeat(20), "}".repeat(20));
    assert!(
        prepare_document_bytes(&Mappings::default(), &BTreeMap::new(), doc.as_bytes(), "1").is_ok()
    );
}
