//! Dynamic templates (`mappings.dynamic_templates`), learnt from elastic/elasticsearch
//! `DynamicTemplate.java` and `RootObjectMapper#validateDynamicTemplate`, and the docs page
//! "dynamic-templates": `match` / `unmatch` on the leaf name, `path_match` / `path_unmatch` on the
//! full dotted path, `match_mapping_type` / `unmatch_mapping_type` on the JSON type as detected,
//! `match_pattern: regex`, `{name}` and `{dynamic_type}` placeholders, `mapping` or `runtime`.

use serde_json::{Map, Value, json};

use super::json::java_value;
use super::mapping::{FieldMapping, iae, mpe, parse_field};
use crate::error::{EsError, EsResult};

/// The JSON type of a new field as the document parser detects it (`XContentFieldType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchType {
    Object,
    String,
    Long,
    Double,
    Boolean,
    Date,
    Binary,
}

const ALL_TYPES: [MatchType; 7] = [
    MatchType::Object,
    MatchType::String,
    MatchType::Long,
    MatchType::Double,
    MatchType::Boolean,
    MatchType::Date,
    MatchType::Binary,
];

impl MatchType {
    pub fn name(self) -> &'static str {
        match self {
            MatchType::Object => "object",
            MatchType::String => "string",
            MatchType::Long => "long",
            MatchType::Double => "double",
            MatchType::Boolean => "boolean",
            MatchType::Date => "date",
            MatchType::Binary => "binary",
        }
    }

    fn parse(s: &str) -> EsResult<MatchType> {
        ALL_TYPES.into_iter().find(|t| t.name() == s).ok_or_else(|| {
            iae(format!(
                "No field type matched on [{s}], possible values are [object, string, long, double, boolean, date, binary]"
            ))
        })
    }

    /// `{dynamic_type}` for concrete fields: strings become text, doubles float.
    pub fn default_mapping_type(self) -> &'static str {
        match self {
            MatchType::String => "text",
            MatchType::Double => "float",
            other => other.name(),
        }
    }

    /// `{dynamic_type}` for runtime fields.
    pub fn default_runtime_type(self) -> &'static str {
        match self {
            MatchType::String => "keyword",
            other => other.name(),
        }
    }

    fn supports_runtime(self) -> bool {
        !matches!(self, MatchType::Object | MatchType::Binary)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchPattern {
    /// Not given: simple wildcards.
    Default,
    Simple,
    Regex,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DynamicTemplate {
    pub name: String,
    pub match_: Vec<String>,
    pub unmatch: Vec<String>,
    pub path_match: Vec<String>,
    pub path_unmatch: Vec<String>,
    pub match_mapping_type: Vec<String>,
    pub unmatch_mapping_type: Vec<String>,
    pub match_pattern: MatchPattern,
    /// The `mapping` (or `runtime`) object as given.
    pub mapping: Map<String, Value>,
    pub runtime: bool,
    /// The JSON types the template applies to.
    pub types: Vec<MatchType>,
}

/// Parses `dynamic_templates`: an array of single-entry objects.
pub fn parse_templates(node: &Value) -> EsResult<Vec<DynamicTemplate>> {
    let Value::Array(items) = node else {
        return Err(mpe(
            "Dynamic template syntax error. An array of named objects is expected.",
        ));
    };
    let mut out = Vec::new();
    for item in items {
        let Some(obj) = item.as_object().filter(|o| o.len() == 1) else {
            return Err(mpe("A dynamic template must be defined with a name"));
        };
        let (name, conf) = obj.iter().next().expect("one entry");
        let Value::Object(conf) = conf else {
            return Err(mpe(format!(
                "template [{name}] must have either mapping or runtime set"
            )));
        };
        let t = DynamicTemplate::parse(name, conf)?;
        t.validate()?;
        out.push(t);
    }
    Ok(out)
}

fn patterns(prop: &str, v: &Value, out: &mut Vec<String>) -> EsResult<()> {
    match v {
        Value::Array(items) => {
            for i in items {
                match i {
                    Value::String(s) => out.push(s.clone()),
                    _ => {
                        return Err(mpe(format!(
                            "[{prop}] values must either be a string or list of strings, but was [{}]",
                            java_value(v)
                        )));
                    }
                }
            }
        }
        other => out.push(java_value(other)),
    }
    Ok(())
}

impl DynamicTemplate {
    fn parse(name: &str, conf: &Map<String, Value>) -> EsResult<DynamicTemplate> {
        let mut t = DynamicTemplate {
            name: name.to_string(),
            match_: vec![],
            unmatch: vec![],
            path_match: vec![],
            path_unmatch: vec![],
            match_mapping_type: vec![],
            unmatch_mapping_type: vec![],
            match_pattern: MatchPattern::Default,
            mapping: Map::new(),
            runtime: false,
            types: vec![],
        };
        let mut mapping_seen = false;
        for (k, v) in conf {
            match k.as_str() {
                "match" => patterns(k, v, &mut t.match_)?,
                "unmatch" => patterns(k, v, &mut t.unmatch)?,
                "path_match" => patterns(k, v, &mut t.path_match)?,
                "path_unmatch" => patterns(k, v, &mut t.path_unmatch)?,
                "match_mapping_type" => patterns(k, v, &mut t.match_mapping_type)?,
                "unmatch_mapping_type" => patterns(k, v, &mut t.unmatch_mapping_type)?,
                "match_pattern" => {
                    t.match_pattern = match java_value(v).as_str() {
                        "default" => MatchPattern::Default,
                        "simple" => MatchPattern::Simple,
                        "regex" => MatchPattern::Regex,
                        other => {
                            return Err(iae(format!("No matching pattern matched on [{other}]")));
                        }
                    }
                }
                "mapping" | "runtime" => {
                    if mapping_seen {
                        return Err(mpe(format!(
                            "mapping and runtime cannot be both specified in the same dynamic template [{name}]"
                        )));
                    }
                    mapping_seen = true;
                    t.runtime = k == "runtime";
                    t.mapping = match v {
                        Value::Object(m) => m.clone(),
                        _ => {
                            return Err(mpe(format!(
                                "template [{name}] must have either mapping or runtime set"
                            )));
                        }
                    };
                }
                other => {
                    return Err(iae(format!(
                        "Illegal dynamic template parameter: [{other}]"
                    )));
                }
            }
        }
        if !mapping_seen {
            return Err(mpe(format!(
                "template [{name}] must have either mapping or runtime set"
            )));
        }
        let wildcard = (t.match_mapping_type.is_empty()
            && (!t.match_.is_empty()
                || !t.path_match.is_empty()
                || !t.unmatch_mapping_type.is_empty()))
            || (t.match_mapping_type.len() == 1 && t.match_mapping_type[0] == "*");
        let mut types: Vec<MatchType> = if wildcard {
            ALL_TYPES
                .iter()
                .copied()
                .filter(|mt| !t.runtime || mt.supports_runtime())
                .collect()
        } else {
            let parsed = t
                .match_mapping_type
                .iter()
                .map(|s| MatchType::parse(s))
                .collect::<EsResult<Vec<_>>>()?;
            if t.runtime {
                let bad: Vec<&str> = parsed
                    .iter()
                    .filter(|mt| !mt.supports_runtime())
                    .map(|mt| mt.name())
                    .collect();
                if !bad.is_empty() {
                    return Err(mpe(format!(
                        "Dynamic template [{name}] defines a runtime field but type{} [{}] {} not supported as runtime field",
                        if bad.len() == 1 { "" } else { "s" },
                        bad.join(", "),
                        if bad.len() == 1 { "is" } else { "are" }
                    )));
                }
            }
            parsed
        };
        let unmatched = t
            .unmatch_mapping_type
            .iter()
            .map(|s| MatchType::parse(s))
            .collect::<EsResult<Vec<_>>>()?;
        types.retain(|mt| !unmatched.contains(mt));
        t.types = types;
        if t.match_pattern == MatchPattern::Regex {
            for p in t
                .match_
                .iter()
                .chain(&t.unmatch)
                .chain(&t.path_match)
                .chain(&t.path_unmatch)
            {
                if regex::Regex::new(&format!("^(?:{p})$")).is_err() {
                    return Err(mpe(format!(
                        "Pattern [{p}] of type [regex] is invalid. Cannot create dynamic template [{name}]."
                    )));
                }
            }
        }
        Ok(t)
    }

    fn matches_pattern(&self, pattern: &str, value: &str) -> bool {
        match self.match_pattern {
            MatchPattern::Regex => {
                regex::Regex::new(&format!("^(?:{pattern})$")).is_ok_and(|r| r.is_match(value))
            }
            _ => simple_match(pattern, value),
        }
    }

    /// `DynamicTemplate#match`: `path` is the full dotted path, `name` the leaf name.
    pub fn matches(&self, path: &str, name: &str, ty: MatchType) -> bool {
        if !self.path_match.is_empty()
            && !self
                .path_match
                .iter()
                .any(|p| self.matches_pattern(p, path))
        {
            return false;
        }
        if !self.match_.is_empty() && !self.match_.iter().any(|p| self.matches_pattern(p, name)) {
            return false;
        }
        if self
            .path_unmatch
            .iter()
            .any(|p| self.matches_pattern(p, path))
        {
            return false;
        }
        if self.unmatch.iter().any(|p| self.matches_pattern(p, name)) {
            return false;
        }
        if !self.types.contains(&ty) {
            return false;
        }
        !self.runtime || ty.supports_runtime()
    }

    /// The type the template maps to, `{dynamic_type}` replaced.
    pub fn mapping_type(&self, dynamic_type: &str) -> String {
        match self.mapping.get("type") {
            Some(t) => java_value(t)
                .replace("{dynamic_type}", dynamic_type)
                .replace("{dynamicType}", dynamic_type),
            None => dynamic_type.to_string(),
        }
    }

    /// The mapping with `{name}` and `{dynamic_type}` replaced everywhere.
    pub fn mapping_for(&self, name: &str, dynamic_type: &str) -> Map<String, Value> {
        fn sub(v: &Value, name: &str, dt: &str) -> Value {
            match v {
                Value::String(s) => Value::String(
                    s.replace("{name}", name)
                        .replace("{dynamic_type}", dt)
                        .replace("{dynamicType}", dt),
                ),
                Value::Array(a) => Value::Array(a.iter().map(|x| sub(x, name, dt)).collect()),
                Value::Object(m) => Value::Object(
                    m.iter()
                        .map(|(k, x)| {
                            (
                                k.replace("{name}", name)
                                    .replace("{dynamic_type}", dt)
                                    .replace("{dynamicType}", dt),
                                sub(x, name, dt),
                            )
                        })
                        .collect(),
                ),
                other => other.clone(),
            }
        }
        match sub(&Value::Object(self.mapping.clone()), name, dynamic_type) {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    /// The field mapping this template gives a new field named `name` detected as `ty`.
    pub fn build(&self, name: &str, ty: MatchType) -> EsResult<FieldMapping> {
        let dynamic_type = if self.runtime {
            ty.default_runtime_type()
        } else {
            ty.default_mapping_type()
        };
        let mapping_type = self.mapping_type(dynamic_type);
        let mapping = self.mapping_for(name, dynamic_type);
        parse_field(name, &mapping_type, &mapping, false).map_err(|e| {
            if e.kind == "mapper_parsing_exception" && e.reason.starts_with("No handler") {
                mpe(format!(
                    "failed to find type parsed [{mapping_type}] for [{name}]"
                ))
            } else {
                e
            }
        })
    }

    /// `RootObjectMapper#validateDynamicTemplate`: a template must give a valid mapping for at least
    /// one of the types it matches (skipped when the mapping uses `{name}`).
    fn validate(&self) -> EsResult<()> {
        if contains_snippet(&Value::Object(self.mapping.clone()), "{name}") {
            return Ok(());
        }
        let mut last_error: Option<EsError> = None;
        for ty in &self.types {
            let dynamic_type = if self.runtime {
                ty.default_runtime_type()
            } else {
                ty.default_mapping_type()
            };
            let mapping_type = self.mapping_type(dynamic_type);
            let result = if self.runtime {
                match mapping_type.as_str() {
                    "keyword" | "long" | "double" | "boolean" | "date" | "ip" | "geo_point" => {
                        Ok(())
                    }
                    other => Err(iae(format!("No runtime field found for type [{other}]"))),
                }
            } else {
                let name = format!("__dynamic__{}", self.name);
                let mapping = self.mapping_for(&name, dynamic_type);
                parse_field(&name, &mapping_type, &mapping, false)
                    .map(|_| ())
                    .map_err(|e| {
                        if e.reason.starts_with("No handler for type") {
                            iae(format!("No mapper found for type [{mapping_type}]"))
                        } else {
                            e
                        }
                    })
            };
            match result {
                Ok(()) => return Ok(()),
                Err(e) => last_error = Some(e),
            }
        }
        match last_error {
            None => Ok(()),
            Some(e) => Err(iae(format!(
                "dynamic template [{}] has invalid content [{}], attempted to validate it with the following match_mapping_type: [{}]",
                self.name,
                self.to_json(),
                self.types.iter().map(|t| t.name()).collect::<Vec<_>>().join(", ")
            ))
            .caused_by(e)),
        }
    }

    /// The template as `GET _mapping` shows it (`DynamicTemplate#toXContent`: a single pattern as a
    /// string, several as an array, the mapping's top-level keys sorted).
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        let list = |v: &Vec<String>| if v.len() == 1 { json!(v[0]) } else { json!(v) };
        for (k, v) in [
            ("match", &self.match_),
            ("path_match", &self.path_match),
            ("unmatch", &self.unmatch),
            ("path_unmatch", &self.path_unmatch),
            ("match_mapping_type", &self.match_mapping_type),
            ("unmatch_mapping_type", &self.unmatch_mapping_type),
        ] {
            if !v.is_empty() {
                out.insert(k.into(), list(v));
            }
        }
        match self.match_pattern {
            MatchPattern::Default => {}
            MatchPattern::Simple => {
                out.insert("match_pattern".into(), json!("simple"));
            }
            MatchPattern::Regex => {
                out.insert("match_pattern".into(), json!("regex"));
            }
        }
        let mut sorted: Vec<(&String, &Value)> = self.mapping.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        let mapping: Map<String, Value> = sorted
            .into_iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        out.insert(
            if self.runtime { "runtime" } else { "mapping" }.into(),
            Value::Object(mapping),
        );
        Value::Object(out)
    }
}

fn contains_snippet(v: &Value, snippet: &str) -> bool {
    match v {
        Value::String(s) => s.contains(snippet),
        Value::Array(a) => a.iter().any(|x| contains_snippet(x, snippet)),
        Value::Object(m) => m
            .iter()
            .any(|(k, x)| k.contains(snippet) || contains_snippet(x, snippet)),
        _ => false,
    }
}

/// Elasticsearch's `Regex.simpleMatch`: `*` matches any run of characters, nothing else is special.
pub fn simple_match(pattern: &str, value: &str) -> bool {
    crate::glob::star(pattern, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: Value) -> DynamicTemplate {
        parse_templates(&json!([{ "t": v }])).unwrap().remove(0)
    }

    #[test]
    fn simple_match_like_elasticsearch_regex_simple_match() {
        assert!(simple_match("*", "anything"));
        assert!(simple_match("long_*", "long_x"));
        assert!(!simple_match("long_*", "x_long"));
        assert!(simple_match("*_text", "a_text"));
        assert!(simple_match("a*b*c", "axxbyyc"));
        assert!(simple_match("**", "x"));
        assert!(!simple_match("abc", "abcd"));
        assert!(simple_match("labels.*", "labels.env"));
    }

    #[test]
    fn match_rules_from_the_docs() {
        // docs "dynamic-templates": match_mapping_type + match + unmatch.
        let tpl = t(
            json!({"match_mapping_type": "string", "match": "long_*", "unmatch": "*_text",
                           "mapping": {"type": "long"}}),
        );
        assert!(tpl.matches("long_num", "long_num", MatchType::String));
        assert!(!tpl.matches("long_text", "long_text", MatchType::String));
        assert!(!tpl.matches("long_num", "long_num", MatchType::Long));
        // path_match on the full path; match alone implies every type.
        let tpl = t(
            json!({"path_match": "name.*", "path_unmatch": "*.middle", "mapping": {"type": "text", "copy_to": "full_name"}}),
        );
        assert!(tpl.matches("name.first", "first", MatchType::String));
        assert!(!tpl.matches("name.middle", "middle", MatchType::String));
        assert!(tpl.matches("name.first", "first", MatchType::Object));
        // regex patterns match the whole name.
        let tpl = t(
            json!({"match_pattern": "regex", "match": "^profit_\\d+$", "mapping": {"type": "double"}}),
        );
        assert!(tpl.matches("profit_1", "profit_1", MatchType::Long));
        assert!(!tpl.matches("profit_x", "profit_x", MatchType::Long));
    }

    #[test]
    fn placeholders() {
        // docs: {"match_mapping_type": "*", "mapping": {"type": "{dynamic_type}", "meta": {"t": "{name}"}}}
        let tpl = t(
            json!({"match_mapping_type": "*", "mapping": {"type": "{dynamic_type}", "index": false}}),
        );
        let f = tpl.build("count", MatchType::Long).unwrap();
        assert_eq!(f.to_json(), json!({"type": "long", "index": false}));
        let f = tpl.build("ratio", MatchType::Double).unwrap();
        assert_eq!(f.to_json(), json!({"type": "float", "index": false}));
        let tpl =
            t(json!({"match": "*", "mapping": {"type": "keyword", "meta": {"orig": "{name}"}}}));
        assert_eq!(
            tpl.build("x", MatchType::String).unwrap().to_json(),
            json!({"type": "keyword", "meta": {"orig": "x"}})
        );
    }

    #[test]
    fn invalid_templates() {
        let e = parse_templates(&json!([{"t": {"match": "*"}}])).unwrap_err();
        assert_eq!(
            e.reason,
            "template [t] must have either mapping or runtime set"
        );
        let e = parse_templates(&json!([{"t": {"foo": 1, "mapping": {}}}])).unwrap_err();
        assert_eq!(e.reason, "Illegal dynamic template parameter: [foo]");
        let e = parse_templates(&json!([{"t": {"match_mapping_type": "strng", "mapping": {}}}]))
            .unwrap_err();
        assert!(e.reason.starts_with("No field type matched on [strng]"));
        // RootObjectMapper#validateDynamicTemplate
        let e = parse_templates(&json!([{"t": {"match_mapping_type": "string", "mapping": {"type": "keyword", "foo": 1}}}]))
            .unwrap_err();
        assert_eq!(
            e.reason,
            "dynamic template [t] has invalid content [{\"match_mapping_type\":\"string\",\"mapping\":{\"foo\":1,\"type\":\"keyword\"}}], attempted to validate it with the following match_mapping_type: [string]"
        );
        assert_eq!(
            e.caused_by.unwrap().reason,
            "unknown parameter [foo] on mapper [__dynamic__t] of type [keyword]"
        );
        let e = parse_templates(&json!({"t": {}})).unwrap_err();
        assert_eq!(
            e.reason,
            "Dynamic template syntax error. An array of named objects is expected."
        );
    }

    #[test]
    fn serialisation() {
        let tpl = t(
            json!({"match": ["a*", "b*"], "match_mapping_type": "string", "mapping": {"type": "keyword", "ignore_above": 10}}),
        );
        assert_eq!(
            tpl.to_json(),
            json!({"match": ["a*", "b*"], "match_mapping_type": "string", "mapping": {"ignore_above": 10, "type": "keyword"}})
        );
    }
}
