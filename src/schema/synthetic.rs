//! Synthetic `_source`: the document rebuilt from its columns instead of stored bytes.
//!
//! Elasticsearch rebuilds `_source` from doc values when the index asks for it
//! (mapping-source-field.html, "Synthetic `_source`"): `index.mapping.source.mode: synthetic`,
//! the mapping's `_source.mode: synthetic`, or `index.mode: logsdb` / `time_series`, where it is
//! the default. `index.mapping.source.mode: disabled` (or `_source.enabled: false`) keeps no
//! source at all.
//!
//! Here the table already holds every mapped leaf field in a typed column, so the `_source`
//! column keeps only what the columns cannot give back (the *residual*, like Elasticsearch's
//! `_ignored_source`): fields that are not mapped (`dynamic: false`, objects with
//! `enabled: false`), values ignored as malformed or above `ignore_above`, and field types the
//! rebuild does not cover (geo_point, flattened, nested, copy_to targets keep their original
//! JSON). The read side renders the columns as one JSON object in SQL ([`source_expr`]) and
//! merges the residual over it (`JSONMergePatch`). What differs from the original document, as
//! Elasticsearch documents it: keys are sorted, dotted names become objects, arrays move to the
//! leaves, single-element arrays become the value, keyword and ip arrays are sorted and
//! deduplicated, numeric, boolean and date arrays sorted, numbers printed as their mapped type,
//! dates in ISO 8601 (`strict_date_optional_time`, with nanoseconds for date_nanos) or epoch
//! numbers when the field's first format is `epoch_millis` / `epoch_second`. Residual fields come
//! after the rebuilt ones.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::mapping::{FieldType, Mappings};
use crate::sql::{self, ChType, Expr};

/// How an index keeps `_source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceMode {
    Stored,
    Synthetic,
    Disabled,
}

impl SourceMode {
    /// The effective mode of an index from its settings (`settings.index` as stored) and mapping.
    /// The setting wins over the mapping; logsdb and time_series default to synthetic
    /// (SourceFieldMapper, IndexMode#defaultSourceMode).
    pub fn of(settings: &Value, mappings: &Mappings) -> SourceMode {
        let parse = |v: &Value| match v.as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("synthetic") => Some(SourceMode::Synthetic),
            Some("disabled") => Some(SourceMode::Disabled),
            Some("stored") => Some(SourceMode::Stored),
            _ => None,
        };
        if let Some(m) = parse(&settings["mapping"]["source"]["mode"]) {
            return m;
        }
        if let Some(src) = mappings.metadata.get("_source") {
            if let Some(m) = parse(&src["mode"]) {
                return m;
            }
            if src["enabled"] == Value::Bool(false) || src["enabled"] == "false" {
                return SourceMode::Disabled;
            }
        }
        match settings["mode"].as_str() {
            Some("logsdb" | "time_series") => SourceMode::Synthetic,
            _ => SourceMode::Stored,
        }
    }
}

/// The leaf fields the rebuild renders from their columns: mapped fields of a supported type with
/// a column of their own, outside nested objects, that are not filled by another field's
/// `copy_to`. Everything else stays in the residual.
fn rebuilt_fields(mappings: &Mappings) -> BTreeMap<String, FieldType> {
    let leaves = mappings.leaf_fields();
    let copy_targets: BTreeSet<&str> = leaves
        .iter()
        .flat_map(|f| f.mapping.copy_to.iter().map(String::as_str))
        .collect();
    leaves
        .iter()
        .filter(|f| {
            f.column.as_deref() == Some(f.path.as_str())
                && f.multi_field_of.is_none()
                && f.alias_of.is_none()
                && !f.runtime
                && f.nested_path.is_none()
                && !copy_targets.contains(f.path.as_str())
                && supported(&f.mapping.ty)
        })
        .map(|f| (f.path.clone(), f.mapping.ty.clone()))
        .collect()
}

fn supported(t: &FieldType) -> bool {
    matches!(
        t,
        FieldType::Text
            | FieldType::MatchOnlyText
            | FieldType::Keyword
            | FieldType::Wildcard
            | FieldType::Long
            | FieldType::Integer
            | FieldType::Short
            | FieldType::Byte
            | FieldType::UnsignedLong
            | FieldType::Double
            | FieldType::Float
            | FieldType::HalfFloat
            | FieldType::ScaledFloat { .. }
            | FieldType::Boolean
            | FieldType::Date { .. }
            | FieldType::DateNanos { .. }
            | FieldType::Ip
    )
}

/// What of `source` the columns cannot give back, as JSON bytes (empty when nothing: the common
/// case, which costs no storage). `mappings` must already include the document's dynamic fields;
/// `ignored` are the fields the document's `_ignored` lists.
pub fn residual(source: &[u8], mappings: &Mappings, ignored: &[String]) -> Vec<u8> {
    let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(source) else {
        // Not an object (cannot happen for an indexed document): keep it whole.
        return source.to_vec();
    };
    let rebuilt = rebuilt_fields(mappings);
    let ignored: BTreeSet<&str> = ignored.iter().map(String::as_str).collect();
    let keep = |path: &str| !rebuilt.contains_key(path) || ignored.contains(path);
    let out = prune_object(&doc, "", &keep);
    if out.is_empty() {
        Vec::new()
    } else {
        serde_json::to_vec(&Value::Object(out)).expect("serialising JSON to memory")
    }
}

fn prune_object(
    obj: &Map<String, Value>,
    prefix: &str,
    keep: &dyn Fn(&str) -> bool,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in obj {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Value::Object(o) => {
                let inner = prune_object(o, &path, keep);
                if !inner.is_empty() {
                    out.insert(k.clone(), Value::Object(inner));
                }
            }
            Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
                // An array of objects: the rebuild moves its arrays to the leaves. When any part
                // of it must be kept, keep the whole array as sent (merging a partial array over
                // the rebuilt object would lose the rebuilt leaves).
                let any_kept = items.iter().any(|i| {
                    i.as_object()
                        .is_some_and(|o| !prune_object(o, &path, keep).is_empty())
                });
                if any_kept {
                    out.insert(k.clone(), v.clone());
                }
            }
            _ if !keep(&path) => {}
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out
}

/// The `_source` of a row as SQL: the stored column, or for synthetic source the columns rendered
/// as one JSON object with the residual merged over it. `columns` are the table's physical
/// columns (name → type). An index without source gets the rebuilt document too, for what reads
/// field values from it (`fields`, highlighting, runtime fields); responses leave it out.
pub fn source_expr(
    mode: SourceMode,
    mappings: &Mappings,
    columns: &BTreeMap<String, ChType>,
    source_column: &str,
) -> Expr {
    match mode {
        SourceMode::Stored => sql::col(source_column),
        SourceMode::Synthetic | SourceMode::Disabled => {
            let rebuilt = rebuilt_fields(mappings);
            let mut root = Node::default();
            for (physical, ty) in columns {
                let logical = crate::catalog::logical_name(physical);
                if let Some(ft) = rebuilt.get(logical) {
                    root.insert(logical, physical, ty, ft);
                }
            }
            let obj = root.render();
            let residual = sql::col(source_column);
            Expr::func(
                "if",
                vec![
                    Expr::func("empty", vec![residual.clone()]),
                    obj.clone(),
                    Expr::func("JSONMergePatch", vec![obj, residual]),
                ],
            )
        }
    }
}

/// A level of the rebuilt object: leaves (column, type, field type) and sub-objects by key.
#[derive(Default)]
struct Node {
    leaves: BTreeMap<String, (String, ChType, FieldType)>,
    objects: BTreeMap<String, Node>,
}

impl Node {
    fn insert(&mut self, path: &str, physical: &str, ty: &ChType, ft: &FieldType) {
        match path.split_once('.') {
            // Dotted names become objects (the mapping names fields by their full path).
            Some((head, rest)) => self
                .objects
                .entry(head.to_string())
                .or_default()
                .insert(rest, physical, ty, ft),
            None => {
                self.leaves.insert(
                    path.to_string(),
                    (physical.to_string(), ty.clone(), ft.clone()),
                );
            }
        }
    }

    /// `{"k":v,…}` with the members that have a value, keys in sorted order.
    fn render(&self) -> Expr {
        let mut keys: BTreeSet<&String> = self.leaves.keys().collect();
        keys.extend(self.objects.keys());
        let members: Vec<Expr> = keys
            .into_iter()
            .map(|k| {
                let key = sql::lit(format!("{}:", Value::String(k.clone())));
                match (self.leaves.get(k), self.objects.get(k)) {
                    (Some((col, ty, ft)), _) => leaf_member(key, sql::col(col.as_str()), ty, ft),
                    (None, Some(node)) => {
                        let inner = node.render();
                        Expr::func(
                            "if",
                            vec![
                                inner.clone().eq(sql::lit("{}")),
                                sql::lit(""),
                                Expr::func("concat", vec![key, inner]),
                            ],
                        )
                    }
                    (None, None) => unreachable!("a key comes from one of the maps"),
                }
            })
            .collect();
        let joined = Expr::func(
            "arrayStringConcat",
            vec![
                Expr::func(
                    "arrayFilter",
                    vec![
                        sql::lambda(["m"], Expr::func("notEmpty", vec![sql::col("m")])),
                        sql::array(members),
                    ],
                ),
                sql::lit(","),
            ],
        );
        Expr::func("concat", vec![sql::lit("{"), joined, sql::lit("}")])
    }
}

/// `"key":value` of one leaf column, or `''` when the row has no value.
fn leaf_member(key: Expr, col: Expr, ty: &ChType, ft: &FieldType) -> Expr {
    match ty {
        ChType::Array(inner) => {
            let inner = inner.as_ref().clone();
            let inner_base = match &inner {
                ChType::Nullable(t) => t.as_ref().clone(),
                t => t.clone(),
            };
            let values = match ft {
                // Keyword and ip values come back sorted and deduplicated, numbers, booleans
                // and dates sorted; text in the order sent.
                FieldType::Keyword | FieldType::Wildcard | FieldType::Ip => {
                    Expr::func("arraySort", vec![Expr::func("arrayDistinct", vec![col])])
                }
                FieldType::Text | FieldType::MatchOnlyText => col,
                _ => Expr::func("arraySort", vec![col]),
            };
            let values = Expr::func(
                "arrayFilter",
                vec![sql::lambda(["v"], sql::col("v").is_not_null()), values],
            );
            let rendered = Expr::func(
                "arrayMap",
                vec![
                    sql::lambda(["v"], value_json(sql::col("v"), &inner_base, ft)),
                    values,
                ],
            );
            Expr::func(
                "multiIf",
                vec![
                    Expr::func("empty", vec![rendered.clone()]),
                    sql::lit(""),
                    Expr::func("length", vec![rendered.clone()]).eq(sql::lit(1u64)),
                    Expr::func(
                        "concat",
                        vec![
                            key.clone(),
                            Expr::func("arrayElement", vec![rendered.clone(), sql::lit(1u64)]),
                        ],
                    ),
                    Expr::func(
                        "concat",
                        vec![
                            key,
                            sql::lit("["),
                            Expr::func("arrayStringConcat", vec![rendered, sql::lit(",")]),
                            sql::lit("]"),
                        ],
                    ),
                ],
            )
        }
        ChType::Nullable(t) => Expr::func(
            "if",
            vec![
                col.clone().is_null(),
                sql::lit(""),
                Expr::func(
                    "concat",
                    vec![
                        key,
                        value_json(Expr::func("assumeNotNull", vec![col]), t, ft),
                    ],
                ),
            ],
        ),
        t => Expr::func("concat", vec![key, value_json(col, t, ft)]),
    }
}

/// One value as JSON text.
fn value_json(v: Expr, ty: &ChType, ft: &FieldType) -> Expr {
    match ft {
        FieldType::Text | FieldType::MatchOnlyText | FieldType::Keyword | FieldType::Wildcard => {
            Expr::func("toJSONString", vec![v])
        }
        FieldType::Ip => {
            // IPv4 addresses are kept as IPv4-mapped IPv6: printed back in dotted form.
            let s = Expr::func("toString", vec![v.clone()]);
            let plain = Expr::func(
                "if",
                vec![
                    Expr::func(
                        "isIPv4String",
                        vec![Expr::func("substring", vec![s.clone(), sql::lit(8u64)])],
                    )
                    .and(Expr::func(
                        "startsWith",
                        vec![s.clone(), sql::lit("::ffff:")],
                    )),
                    Expr::func("substring", vec![s.clone(), sql::lit(8u64)]),
                    s,
                ],
            );
            Expr::func("concat", vec![sql::lit("\""), plain, sql::lit("\"")])
        }
        FieldType::Date { .. } | FieldType::DateNanos { .. } => {
            let first = ft
                .date_format()
                .unwrap_or_default()
                .split("||")
                .next()
                .unwrap_or_default()
                .trim()
                .to_string();
            match first.as_str() {
                "epoch_millis" => Expr::func(
                    "toString",
                    vec![Expr::func("toUnixTimestamp64Milli", vec![v])],
                ),
                "epoch_second" => Expr::func(
                    "toString",
                    vec![Expr::func(
                        "intDiv",
                        vec![
                            Expr::func("toUnixTimestamp64Milli", vec![v]),
                            sql::lit(1000i64),
                        ],
                    )],
                ),
                _ => {
                    // `toString` of a UTC DateTime64: `2020-01-02 03:04:05.678[901234]`.
                    let text = Expr::func("toString", vec![v]);
                    let iso = match ty {
                        ChType::DateTime64(p, _) if *p > 3 => {
                            // Nanosecond printing keeps 3 to 9 fraction digits, trailing zeros
                            // dropped (DateFormatters' strict_date_optional_time_nanos).
                            let head = Expr::func(
                                "substring",
                                vec![text.clone(), sql::lit(1u64), sql::lit(19u64)],
                            );
                            let frac = Expr::func("substring", vec![text, sql::lit(21u64)]);
                            let frac = Expr::func(
                                "replaceRegexpOne",
                                vec![frac, sql::lit("0{1,6}$"), sql::lit("")],
                            );
                            Expr::func("concat", vec![head, sql::lit("."), frac])
                        }
                        _ => text,
                    };
                    Expr::func(
                        "concat",
                        vec![
                            sql::lit("\""),
                            Expr::func("replaceOne", vec![iso, sql::lit(" "), sql::lit("T")]),
                            sql::lit("Z\""),
                        ],
                    )
                }
            }
        }
        // Numbers and booleans print as themselves.
        _ => Expr::func("toString", vec![v]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mappings(m: Value) -> Mappings {
        crate::schema::parse_mapping_request(&m).expect("mapping")
    }

    #[test]
    fn modes_follow_settings_then_mapping_then_index_mode() {
        let plain = mappings(json!({}));
        assert_eq!(SourceMode::of(&json!({}), &plain), SourceMode::Stored);
        assert_eq!(
            SourceMode::of(&json!({"mode": "logsdb"}), &plain),
            SourceMode::Synthetic
        );
        assert_eq!(
            SourceMode::of(
                &json!({"mode": "logsdb", "mapping": {"source": {"mode": "stored"}}}),
                &plain
            ),
            SourceMode::Stored
        );
        let disabled = mappings(json!({"_source": {"enabled": false}}));
        assert_eq!(SourceMode::of(&json!({}), &disabled), SourceMode::Disabled);
        let synthetic = mappings(json!({"_source": {"mode": "synthetic"}}));
        assert_eq!(
            SourceMode::of(&json!({}), &synthetic),
            SourceMode::Synthetic
        );
    }

    #[test]
    fn residual_keeps_only_what_columns_cannot_give_back() {
        let m = mappings(json!({"dynamic": false, "properties": {
            "a": {"type": "keyword"}, "o": {"properties": {"n": {"type": "long"}}},
            "g": {"type": "geo_point"}}}));
        let src = br#"{"a":"x","o":{"n":1,"extra":2},"g":{"lat":1,"lon":2},"free":[1,2]}"#;
        let r: Value = serde_json::from_slice(&residual(src, &m, &[])).unwrap();
        assert_eq!(
            r,
            json!({"o": {"extra": 2}, "g": {"lat": 1, "lon": 2}, "free": [1, 2]})
        );
        assert!(residual(br#"{"a":"x","o":{"n":1}}"#, &m, &[]).is_empty());
        // An ignored value stays.
        let r: Value =
            serde_json::from_slice(&residual(br#"{"a":"x"}"#, &m, &["a".into()])).unwrap();
        assert_eq!(r, json!({"a": "x"}));
    }
}
