//! Elasticsearch's limits on requests and mappings, with their defaults, and the per-index
//! overrides of the index settings Elasticsearch lets users change
//! (elastic/elasticsearch: server/src/main/java/org/elasticsearch/index/IndexSettings.java,
//! MapperService.java, SearchModule.java).

use crate::catalog::IndexMeta;
use crate::error::EsError;
use crate::schema::mapping::{FieldMapping, FieldType, Mappings};
use serde_json::Value;
use std::collections::BTreeMap;

/// `index.max_result_window`.
pub const MAX_RESULT_WINDOW: u64 = 10_000;
/// `index.max_terms_count`.
pub const MAX_TERMS_COUNT: u64 = 65_536;
/// `index.max_regex_length`.
pub const MAX_REGEX_LENGTH: u64 = 1_000;
/// `index.mapping.total_fields.limit`.
pub const TOTAL_FIELDS_LIMIT: u64 = 1_000;
/// `index.mapping.depth.limit`.
pub const DEPTH_LIMIT: u64 = 20;
/// `index.mapping.nested_fields.limit`.
pub const NESTED_FIELDS_LIMIT: u64 = 50;
/// `indices.query.bool.max_clause_count`: Elasticsearch 8 sizes it from the heap and the search
/// thread pool (SearchUtils#calculateMaxClauseValue) and reports 4096 for the setting; the
/// daemon uses 4096.
pub const MAX_CLAUSE_COUNT: u64 = 4_096;

/// An index setting (the key without `index.`, dotted: `mapping.total_fields.limit`) as a number,
/// or `default` when the index does not set it.
pub fn index_setting(meta: &IndexMeta, key: &str, default: u64) -> u64 {
    setting_in(&meta.settings, key).unwrap_or(default)
}

/// The value of a dotted key in settings stored nested (`{"mapping": {"total_fields": …}}`) or
/// flat (`{"mapping.total_fields.limit": …}`), numbers or strings as Elasticsearch accepts them.
pub fn setting_in(settings: &Value, key: &str) -> Option<u64> {
    let number = |v: &Value| match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    if let Some(v) = settings.get(key) {
        return number(v);
    }
    let mut cur = settings;
    for part in key.split('.') {
        cur = cur.get(part)?;
    }
    number(cur)
}

/// The mapping limits of one index (`index.mapping.*.limit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MappingLimits {
    pub total_fields: u64,
    pub depth: u64,
    pub nested_fields: u64,
}

impl Default for MappingLimits {
    fn default() -> Self {
        MappingLimits {
            total_fields: TOTAL_FIELDS_LIMIT,
            depth: DEPTH_LIMIT,
            nested_fields: NESTED_FIELDS_LIMIT,
        }
    }
}

/// What a mapping holds, counted as MappingLookup does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MappingCounts {
    /// Field mappers, multi-fields, aliases, object and nested mappers and runtime fields (the
    /// metadata fields excluded): what `index.mapping.total_fields.limit` bounds.
    pub total: u64,
    /// Nested mappers.
    pub nested: u64,
    /// The deepest object's path and its depth (MappingLookup#checkDepthLimit: dots + 2, so the
    /// fields of a top-level object are at depth 2).
    pub deepest: Option<(String, u64)>,
}

impl MappingLimits {
    /// The limits an index's settings give (`index.` prefix left out, nested or flat).
    pub fn from_settings(settings: &Value) -> MappingLimits {
        let d = MappingLimits::default();
        MappingLimits {
            total_fields: setting_in(settings, "mapping.total_fields.limit")
                .unwrap_or(d.total_fields),
            depth: setting_in(settings, "mapping.depth.limit").unwrap_or(d.depth),
            nested_fields: setting_in(settings, "mapping.nested_fields.limit")
                .unwrap_or(d.nested_fields),
        }
    }

    /// MapperService#checkLimits on a mapping about to be put (index creation, PUT _mapping):
    /// `illegal_argument_exception` with Elasticsearch's message for the first limit exceeded.
    pub fn check(&self, m: &Mappings) -> Result<(), EsError> {
        self.check_counts(&count(m), None)
    }

    /// The same check for a document's dynamic mapping update (DocumentParser): the message
    /// names how many fields the document was adding.
    pub fn check_dynamic(&self, merged: &Mappings, update: &Mappings) -> Result<(), EsError> {
        let added = count(update).total;
        self.check_counts(&count(merged), Some(added))
    }

    /// Whether `current` merged with `update` certainly stays within the limits, judged without
    /// merging: the counts of both added up bound the merged ones (an update repeats the objects
    /// it adds fields to), and its paths are full paths, so its depth is the merged depth.
    pub fn fits_unmerged(&self, current: &Mappings, update: &Mappings) -> bool {
        let (c, u) = (count(current), count(update));
        let depth = |m: &MappingCounts| m.deepest.as_ref().map_or(0, |(_, d)| *d);
        c.total + u.total <= self.total_fields
            && depth(&c).max(depth(&u)) <= self.depth
            && c.nested + u.nested <= self.nested_fields
    }

    fn check_counts(&self, c: &MappingCounts, adding: Option<u64>) -> Result<(), EsError> {
        if c.total > self.total_fields {
            let mut reason = format!(
                "Limit of total fields [{}] has been exceeded",
                self.total_fields
            );
            if let Some(n) = adding {
                reason.push_str(&format!(" while adding new fields [{n}]"));
            }
            return Err(EsError::illegal_argument(reason));
        }
        if let Some((path, depth)) = &c.deepest
            && *depth > self.depth
        {
            return Err(EsError::illegal_argument(format!(
                "Limit of mapping depth [{}] has been exceeded due to object field [{path}]",
                self.depth
            )));
        }
        if c.nested > self.nested_fields {
            return Err(EsError::illegal_argument(format!(
                "Limit of nested fields [{}] has been exceeded",
                self.nested_fields
            )));
        }
        Ok(())
    }
}

/// Counts a mapping's fields, nested mappers and depth. Iterative (an explicit stack): a mapping
/// can be as deep as the JSON parser lets it be.
pub fn count(m: &Mappings) -> MappingCounts {
    let mut c = MappingCounts {
        total: m.runtime.len() as u64,
        ..Default::default()
    };
    let mut stack: Vec<(String, &BTreeMap<String, FieldMapping>)> =
        vec![(String::new(), &m.properties)];
    while let Some((prefix, props)) = stack.pop() {
        for (name, f) in props {
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            c.total += 1 + f.fields.len() as u64;
            if matches!(f.ty, FieldType::Nested(_)) {
                c.nested += 1;
            }
            if let Some(o) = f.ty.object() {
                let depth = path.matches('.').count() as u64 + 2;
                if c.deepest.as_ref().is_none_or(|(_, d)| depth > *d) {
                    c.deepest = Some((path.clone(), depth));
                }
                stack.push((path, &o.properties));
            }
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_flat_and_string_settings() {
        let s = json!({"mapping": {"total_fields": {"limit": "2000"}}, "max_terms_count": 10});
        assert_eq!(setting_in(&s, "mapping.total_fields.limit"), Some(2000));
        assert_eq!(setting_in(&s, "max_terms_count"), Some(10));
        assert_eq!(setting_in(&s, "max_regex_length"), None);
        let flat = json!({"mapping.depth.limit": "5"});
        assert_eq!(setting_in(&flat, "mapping.depth.limit"), Some(5));
    }

    #[test]
    fn counts_and_limits() {
        let m = crate::schema::parse_mappings(&json!({
            "runtime": {"r": {"type": "long"}},
            "properties": {
                "a": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
                "o": {"properties": {"p": {"type": "nested", "properties": {"x": {"type": "long"}}}}}
            }
        }))
        .unwrap();
        let c = count(&m);
        // r, a, a.keyword, o, o.p, o.p.x
        assert_eq!(c.total, 6);
        assert_eq!(c.nested, 1);
        assert_eq!(c.deepest, Some(("o.p".to_string(), 3)));
        let tight = MappingLimits {
            total_fields: 5,
            ..Default::default()
        };
        assert_eq!(
            tight.check(&m).unwrap_err().reason,
            "Limit of total fields [5] has been exceeded"
        );
        let shallow = MappingLimits {
            depth: 2,
            ..Default::default()
        };
        assert_eq!(
            shallow.check(&m).unwrap_err().reason,
            "Limit of mapping depth [2] has been exceeded due to object field [o.p]"
        );
        let no_nested = MappingLimits {
            nested_fields: 0,
            ..Default::default()
        };
        assert_eq!(
            no_nested.check(&m).unwrap_err().reason,
            "Limit of nested fields [0] has been exceeded"
        );
        assert!(MappingLimits::default().check(&m).is_ok());
        assert!(MappingLimits::default().fits_unmerged(&m, &m));
        assert!(!tight.fits_unmerged(&m, &m));
        assert!(!shallow.fits_unmerged(&m, &Mappings::default()));
    }
}
