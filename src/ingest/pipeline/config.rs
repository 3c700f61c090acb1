//! Reading a processor's configuration with Elasticsearch's errors (ConfigurationUtils).

use super::config_error;
use super::doc::java_type;
use crate::error::{EsError, EsResult};
use serde_json::{Map, Value};

pub struct Config {
    pub kind: &'static str,
    pub tag: Option<String>,
    map: Map<String, Value>,
}

impl Config {
    pub fn new(kind: &'static str, map: Map<String, Value>) -> Self {
        Config {
            kind,
            tag: None,
            map,
        }
    }

    pub fn err(&self, property: &str, reason: String) -> EsError {
        config_error(
            self.kind,
            self.tag.as_deref(),
            Some(property),
            format!("[{property}] {reason}"),
        )
    }

    pub fn take(&mut self, name: &str) -> Option<Value> {
        self.map.remove(name)
    }

    /// A string property (numbers and booleans are read as their text, as readStringProperty's
    /// callers accept).
    pub fn opt_str(&mut self, name: &str) -> EsResult<Option<String>> {
        match self.map.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(v.to_string())),
            Some(v) => Err(self.err(
                name,
                format!("property isn't a string, but of type [{}]", java_type(&v)),
            )),
        }
    }

    pub fn str(&mut self, name: &str) -> EsResult<String> {
        self.opt_str(name)?
            .ok_or_else(|| self.err(name, "required property is missing".into()))
    }

    pub fn str_or(&mut self, name: &str, default: &str) -> EsResult<String> {
        Ok(self.opt_str(name)?.unwrap_or_else(|| default.to_string()))
    }

    pub fn bool_or(&mut self, name: &str, default: bool) -> EsResult<bool> {
        match self.map.remove(name) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(b),
            Some(Value::String(s)) if s == "true" => Ok(true),
            Some(Value::String(s)) if s == "false" => Ok(false),
            Some(v) => Err(self.err(
                name,
                format!("property isn't a boolean, but of type [{}]", java_type(&v)),
            )),
        }
    }

    pub fn opt_int(&mut self, name: &str) -> EsResult<Option<i64>> {
        match self.map.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64()),
            Some(Value::String(s)) => s.parse().map(Some).map_err(|_| {
                self.err(
                    name,
                    format!("property cannot be converted to an int [{s}]"),
                )
            }),
            Some(v) => Err(self.err(
                name,
                format!("property isn't an int, but of type [{}]", java_type(&v)),
            )),
        }
    }

    /// A list of strings; one string is a list of one.
    pub fn opt_list(&mut self, name: &str) -> EsResult<Option<Vec<String>>> {
        match self.map.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(vec![s])),
            Some(Value::Array(a)) => a
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    other => Err(self.err(
                        name,
                        format!(
                            "property isn't a list of strings, but contains [{}]",
                            java_type(&other)
                        ),
                    )),
                })
                .collect::<EsResult<Vec<_>>>()
                .map(Some),
            Some(v) => Err(self.err(
                name,
                format!("property isn't a list, but of type [{}]", java_type(&v)),
            )),
        }
    }

    pub fn list(&mut self, name: &str) -> EsResult<Vec<String>> {
        self.opt_list(name)?
            .ok_or_else(|| self.err(name, "required property is missing".into()))
    }

    pub fn opt_map(&mut self, name: &str) -> EsResult<Option<Map<String, Value>>> {
        match self.map.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(v) => Err(self.err(
                name,
                format!("property isn't a map, but of type [{}]", java_type(&v)),
            )),
        }
    }

    /// Fails on properties nobody read (ConfigurationUtils#readProcessor).
    pub fn finish(&self) -> EsResult<()> {
        if self.map.is_empty() {
            return Ok(());
        }
        let keys: Vec<&str> = self.map.keys().map(String::as_str).collect();
        Err(config_error(
            self.kind,
            self.tag.as_deref(),
            None,
            format!(
                "processor [{}] doesn't support one or more provided configuration parameters [{}]",
                self.kind,
                keys.join(", ")
            ),
        ))
    }
}
