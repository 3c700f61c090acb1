//! The document a pipeline works on, and field access by dotted path with Elasticsearch's
//! messages (IngestDocument#getFieldValue, #setFieldValue, #removeField).

use crate::error::{EsError, EsResult};
use serde_json::{Map, Value, json};

/// Metadata keys of `ctx` that are not part of the source.
pub const META: [&str; 5] = ["_index", "_id", "_routing", "_version", "_version_type"];

#[derive(Debug, Clone)]
pub struct IngestDoc {
    /// The source, with the metadata (`_index`, `_id`, `_routing`) as top-level keys, as
    /// Painless's `ctx` shows it.
    pub ctx: Map<String, Value>,
    /// `_ingest`: `timestamp`, and `on_failure_*` inside an `on_failure` block.
    pub ingest: Map<String, Value>,
    /// Pipelines entered, in order.
    pub pipelines: Vec<String>,
}

/// Java's type name of a JSON value, as Elasticsearch's messages print it.
pub fn java_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "java.lang.Boolean",
        Value::Number(n) if n.is_f64() => "java.lang.Double",
        Value::Number(n) => match n.as_i64() {
            Some(i) if i32::try_from(i).is_ok() => "java.lang.Integer",
            _ => "java.lang.Long",
        },
        Value::String(_) => "java.lang.String",
        Value::Array(_) => "java.util.ArrayList",
        Value::Object(_) => "java.util.HashMap",
    }
}

/// A value as Java's `toString` prints it (for templates and messages).
pub fn java_string(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(java_string).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{k}={}", java_string(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

fn not_present(leaf: &str, path: &str) -> EsError {
    EsError::illegal_argument(format!(
        "field [{leaf}] not present as part of path [{path}]"
    ))
}

impl IngestDoc {
    /// A document of `index` with `source` (an object), as an ingest request carries it.
    pub fn new(
        index: &str,
        id: Option<&str>,
        routing: Option<&str>,
        source: Map<String, Value>,
    ) -> Self {
        let mut ctx = source;
        ctx.insert("_index".into(), json!(index));
        if let Some(id) = id {
            ctx.insert("_id".into(), json!(id));
        }
        if let Some(r) = routing {
            ctx.insert("_routing".into(), json!(r));
        }
        let mut ingest = Map::new();
        ingest.insert(
            "timestamp".into(),
            json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)),
        );
        IngestDoc {
            ctx,
            ingest,
            pipelines: Vec::new(),
        }
    }

    pub fn index(&self) -> String {
        self.ctx.get("_index").map(java_string).unwrap_or_default()
    }

    pub fn id(&self) -> Option<String> {
        self.ctx
            .get("_id")
            .filter(|v| !v.is_null())
            .map(java_string)
    }

    pub fn routing(&self) -> Option<String> {
        self.ctx
            .get("_routing")
            .filter(|v| !v.is_null())
            .map(java_string)
    }

    /// The source without the metadata keys.
    pub fn source(&self) -> Map<String, Value> {
        self.ctx
            .iter()
            .filter(|(k, _)| !META.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The document as `_simulate` shows it (SimulateDocumentBaseResult / WriteableIngestDocument).
    pub fn simulate_json(&self) -> Value {
        let mut d = Map::new();
        for k in ["_index", "_id", "_version", "_routing"] {
            if let Some(v) = self.ctx.get(k) {
                d.insert(k.into(), v.clone());
            }
        }
        if !d.contains_key("_version") {
            d.insert("_version".into(), json!("-3"));
        }
        d.insert("_source".into(), Value::Object(self.source()));
        let mut ingest = self.ingest.clone();
        if !self.pipelines.is_empty() {
            ingest.insert("pipeline".into(), json!(self.pipelines.last()));
        }
        d.insert("_ingest".into(), Value::Object(ingest));
        Value::Object(d)
    }

    /// The root map and the path inside it for a field path (`_ingest.x`, `_source.x`, `x`).
    fn root<'a, 'b>(&'a self, path: &'b str) -> (&'a Map<String, Value>, &'b str) {
        if let Some(rest) = path.strip_prefix("_ingest.") {
            (&self.ingest, rest)
        } else if let Some(rest) = path.strip_prefix("_source.") {
            (&self.ctx, rest)
        } else {
            (&self.ctx, path)
        }
    }

    fn root_mut<'a, 'b>(&'a mut self, path: &'b str) -> (&'a mut Map<String, Value>, &'b str) {
        if let Some(rest) = path.strip_prefix("_ingest.") {
            (&mut self.ingest, rest)
        } else if let Some(rest) = path.strip_prefix("_source.") {
            (&mut self.ctx, rest)
        } else {
            (&mut self.ctx, path)
        }
    }

    /// The value at `path`, or an error naming the missing part (IngestDocument#getFieldValue).
    pub fn get<'a>(&'a self, path: &str) -> EsResult<&'a Value> {
        if path.is_empty() {
            return Err(EsError::illegal_argument("path cannot be null nor empty"));
        }
        let (root, rel) = self.root(path);
        // A key with dots written as one key (`"a.b": 1` before dot_expander) is found as is.
        if let Some(v) = root.get(rel) {
            return Ok(v);
        }
        let mut parts = rel.split('.');
        let first = parts.next().unwrap_or_default();
        let mut cur = root.get(first).ok_or_else(|| not_present(first, path))?;
        for part in parts {
            cur = match cur {
                Value::Object(m) => m.get(part).ok_or_else(|| not_present(part, path))?,
                Value::Array(a) => {
                    let i: usize = part.parse().map_err(|_| {
                        EsError::illegal_argument(format!(
                            "[{part}] is not an integer, cannot be used as an index as part of path [{path}]"
                        ))
                    })?;
                    a.get(i).ok_or_else(|| {
                        EsError::illegal_argument(format!(
                            "[{part}] is out of bounds for array with length [{}] as part of path [{path}]",
                            a.len()
                        ))
                    })?
                }
                Value::Null => return Err(not_present(part, path)),
                other => {
                    return Err(EsError::illegal_argument(format!(
                        "cannot resolve [{part}] from object of type [{}] as part of path [{path}]",
                        java_type(other)
                    )));
                }
            };
        }
        Ok(cur)
    }

    /// The value at `path`, `None` when absent (or null).
    pub fn find(&self, path: &str) -> Option<&Value> {
        self.get(path).ok().filter(|v| !v.is_null())
    }

    pub fn has(&self, path: &str) -> bool {
        self.get(path).is_ok()
    }

    /// A string field, with the cast error Elasticsearch gives for other types.
    pub fn get_str(&self, path: &str) -> EsResult<String> {
        match self.get(path)? {
            Value::String(s) => Ok(s.clone()),
            other => Err(cast_error(path, other, "java.lang.String")),
        }
    }

    /// Sets `path` to `value`, creating intermediate objects (IngestDocument#setFieldValue).
    pub fn set(&mut self, path: &str, value: Value) -> EsResult<()> {
        self.put(path, value, false)
    }

    /// Appends to the list at `path` (creating or converting it), as #appendFieldValue.
    pub fn append(&mut self, path: &str, value: Value, allow_duplicates: bool) -> EsResult<()> {
        let new: Vec<Value> = match value {
            Value::Array(a) => a,
            v => vec![v],
        };
        let current = self.get(path).ok().cloned();
        let mut list = match current {
            None => {
                // A new field holds the value itself when it is one value (ES keeps a list only
                // when several values were appended).
                if new.len() == 1 {
                    return self.set(path, new.into_iter().next().expect("one"));
                }
                Vec::new()
            }
            Some(Value::Array(a)) => a,
            Some(v) => vec![v],
        };
        for v in new {
            if allow_duplicates || !list.contains(&v) {
                list.push(v);
            }
        }
        self.set(path, Value::Array(list))
    }

    fn put(&mut self, path: &str, value: Value, _append: bool) -> EsResult<()> {
        if path.is_empty() {
            return Err(EsError::illegal_argument("path cannot be null nor empty"));
        }
        let full = path.to_string();
        let (root, rel) = self.root_mut(path);
        let parts: Vec<&str> = rel.split('.').collect();
        put_in_map(root, &parts, value, &full)
    }

    /// Removes `path`; an error when it is absent (IngestDocument#removeField).
    pub fn remove(&mut self, path: &str) -> EsResult<Value> {
        self.get(path)?;
        let full = path.to_string();
        let (root, rel) = self.root_mut(path);
        if root.contains_key(rel) {
            return Ok(root.remove(rel).expect("present"));
        }
        let parts: Vec<&str> = rel.split('.').collect();
        let (leaf, parents) = parts.split_last().expect("non-empty");
        let mut cur: &mut Value = root
            .get_mut(parents[0])
            .ok_or_else(|| not_present(parents[0], &full))?;
        for p in &parents[1..] {
            cur = match cur {
                Value::Object(m) => m.get_mut(*p).ok_or_else(|| not_present(p, &full))?,
                Value::Array(a) => {
                    let i: usize = p.parse().map_err(|_| not_present(p, &full))?;
                    a.get_mut(i).ok_or_else(|| not_present(p, &full))?
                }
                _ => return Err(not_present(p, &full)),
            };
        }
        match cur {
            Value::Object(m) => m.remove(*leaf).ok_or_else(|| not_present(leaf, &full)),
            Value::Array(a) => {
                let i: usize = leaf.parse().map_err(|_| not_present(leaf, &full))?;
                if i < a.len() {
                    Ok(a.remove(i))
                } else {
                    Err(not_present(leaf, &full))
                }
            }
            _ => Err(not_present(leaf, &full)),
        }
    }

    /// Renders a `{{field}}` template against the document (see [`render_template`]).
    pub fn render(&self, template: &str) -> EsResult<String> {
        render_template(template, |name| self.get(name).ok().map(java_string))
    }
}

fn put_in_map(
    node: &mut Map<String, Value>,
    parts: &[&str],
    value: Value,
    full: &str,
) -> EsResult<()> {
    let (first, rest) = parts.split_first().expect("non-empty path");
    if rest.is_empty() {
        node.insert(first.to_string(), value);
        return Ok(());
    }
    let entry = node
        .entry(first.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if entry.is_null() {
        *entry = Value::Object(Map::new());
    }
    put_in_value(entry, rest, value, full)
}

fn put_in_value(node: &mut Value, parts: &[&str], value: Value, full: &str) -> EsResult<()> {
    match node {
        Value::Object(m) => put_in_map(m, parts, value, full),
        Value::Array(a) => {
            let (first, rest) = parts.split_first().expect("non-empty path");
            let i: usize = first.parse().map_err(|_| {
                EsError::illegal_argument(format!(
                    "[{first}] is not an integer, cannot be used as an index as part of path [{full}]"
                ))
            })?;
            let len = a.len();
            let slot = a.get_mut(i).ok_or_else(|| {
                EsError::illegal_argument(format!(
                    "[{first}] is out of bounds for array with length [{len}] as part of path [{full}]"
                ))
            })?;
            if rest.is_empty() {
                *slot = value;
                Ok(())
            } else {
                put_in_value(slot, rest, value, full)
            }
        }
        other => Err(EsError::illegal_argument(format!(
            "cannot set [{}] with parent object of type [{}] as part of path [{full}]",
            parts[0],
            java_type(other)
        ))),
    }
}

pub fn cast_error(path: &str, v: &Value, to: &str) -> EsError {
    EsError::illegal_argument(format!(
        "field [{path}] of type [{}] cannot be cast to [{to}]",
        java_type(v)
    ))
}

/// Renders the variables of a mustache template: `{{name}}` and `{{{name}}}` become the value of
/// field `name` (missing fields render as nothing), with no HTML escaping — ingest templates are
/// compiled as `text/plain` (ConfigurationUtils#compileTemplate). Written by hand because
/// processors only interpolate fields: sections, partials and lambdas are refused with an error
/// rather than pulling in a full mustache engine.
pub fn render_template(
    template: &str,
    mut lookup: impl FnMut(&str) -> Option<String>,
) -> EsResult<String> {
    if !template.contains("{{") {
        return Ok(template.to_string());
    }
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let (triple, inner) = match after.strip_prefix('{') {
            Some(a) => (true, a),
            None => (false, after),
        };
        let close = if triple { "}}}" } else { "}}" };
        let Some(end) = inner.find(close) else {
            return Err(EsError::illegal_argument(format!(
                "Improperly closed variable in template [{template}]"
            )));
        };
        let name = inner[..end].trim();
        if name.starts_with(['#', '^', '/', '>', '!', '=', '&']) {
            return Err(EsError::unsupported(format!(
                "mustache tag [{{{{{name}}}}}] in an ingest template (only field variables are supported)"
            )));
        }
        out.push_str(&lookup(name).unwrap_or_default());
        rest = &inner[end + close.len()..];
    }
    out.push_str(rest);
    Ok(out)
}
