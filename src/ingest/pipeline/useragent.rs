//! The `user_agent` processor (modules/ingest-user-agent UserAgentProcessor; docs:
//! user-agent-processor.html): browser, operating system and device of a user-agent string, in
//! ECS fields. Parsing is the ua-parser project's Rust implementation (`ua-parser` crate) with
//! uap-core's `regexes.yaml` (Apache-2.0, vendored in `uap-core/`, compiled in), the data set
//! Elasticsearch ships; the regex set is compiled once, on first use.

use super::config::Config;
use super::doc::{IngestDoc, cast_error};
use super::{Env, Flow, Processor};
use crate::error::{EsError, EsResult};
use serde_json::{Map, Value, json};
use std::sync::OnceLock;

const REGEXES: &str = include_str!("uap-core/regexes.yaml");

/// uap-core's YAML as the JSON tree ua-parser's `Regexes` deserialises from.
fn yaml_to_json(y: &yaml_rust2::Yaml) -> Value {
    use yaml_rust2::Yaml;
    match y {
        Yaml::String(s) | Yaml::Real(s) => Value::String(s.clone()),
        Yaml::Integer(i) => Value::String(i.to_string()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(yaml_to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .map(|(k, v)| {
                    let k = match k {
                        Yaml::String(s) => s.clone(),
                        other => format!("{other:?}"),
                    };
                    (k, yaml_to_json(v))
                })
                .collect(),
        ),
        _ => Value::Null,
    }
}

fn extractor() -> &'static ua_parser::Extractor<'static> {
    static EXTRACTOR: OnceLock<ua_parser::Extractor<'static>> = OnceLock::new();
    EXTRACTOR.get_or_init(|| {
        let docs = yaml_rust2::YamlLoader::load_from_str(REGEXES).expect("uap-core regexes.yaml");
        let regexes: ua_parser::Regexes<'static> =
            serde_json::from_value(yaml_to_json(&docs[0])).expect("uap-core regexes.yaml shape");
        ua_parser::Extractor::try_from(regexes).expect("uap-core regexes compile")
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Property {
    Name,
    Os,
    Device,
    Original,
    Version,
}

pub fn build(kind: &str, c: &mut Config) -> EsResult<Option<Box<dyn Processor>>> {
    if kind != "user_agent" {
        return Ok(None);
    }
    let field = c.str("field")?;
    let target = c.str_or("target_field", "user_agent")?;
    if let Some(f) = c.opt_str("regex_file")? {
        return Err(c.err(
            "regex_file",
            format!("regex file [{f}] doesn't exist (has to exist at node startup)"),
        ));
    }
    let properties = match c.opt_list("properties")? {
        None => vec![
            Property::Name,
            Property::Os,
            Property::Device,
            Property::Original,
            Property::Version,
        ],
        Some(l) => l
            .iter()
            .map(|p| match p.to_ascii_lowercase().as_str() {
                "name" => Ok(Property::Name),
                "os" => Ok(Property::Os),
                "device" => Ok(Property::Device),
                "original" => Ok(Property::Original),
                "version" => Ok(Property::Version),
                _ => Err(c.err(
                    "properties",
                    format!(
                        "illegal property value [{p}]. valid values are [NAME, OS, DEVICE, ORIGINAL, VERSION]"
                    ),
                )),
            })
            .collect::<EsResult<Vec<_>>>()?,
    };
    let extract_device_type = c.bool_or("extract_device_type", false)?;
    let ignore_missing = c.bool_or("ignore_missing", false)?;
    extractor();
    Ok(Some(Box::new(UserAgent {
        field,
        target,
        properties,
        extract_device_type,
        ignore_missing,
    })))
}

struct UserAgent {
    field: String,
    target: String,
    properties: Vec<Property>,
    extract_device_type: bool,
    ignore_missing: bool,
}

/// `major[.minor[.patch[.build]]]`, as UserAgentProcessor joins versions.
fn version(parts: [Option<&str>; 4]) -> Option<String> {
    let mut out = String::new();
    for (i, p) in parts.into_iter().enumerate() {
        match p.filter(|s| !s.is_empty()) {
            Some(p) => {
                if i > 0 {
                    out.push('.');
                }
                out.push_str(p);
            }
            None => break,
        }
    }
    (!out.is_empty()).then_some(out)
}

/// A best-effort device type (`extract_device_type`, beta in Elasticsearch): elastichouse's own
/// rules over what uap-core found (Elasticsearch uses a regex file of its own, not shipped here),
/// with Elasticsearch's values: Desktop, Phone, Tablet, TV, Wearable, Robot, Other.
fn device_type(ua: &str, device: Option<&str>, os: Option<&str>) -> &'static str {
    let l = ua.to_ascii_lowercase();
    let has = |s: &str| l.contains(s);
    if device == Some("Spider") || has("bot") || has("crawler") || has("spider") {
        return "Robot";
    }
    if has("watch") {
        return "Wearable";
    }
    if has("smart-tv") || has("smarttv") || has("appletv") || has("googletv") || has(" tv ") {
        return "TV";
    }
    if has("ipad") || has("tablet") || (has("android") && !has("mobile")) {
        return "Tablet";
    }
    if has("iphone") || has("mobile") || has("phone") {
        return "Phone";
    }
    match os {
        Some(o)
            if o.starts_with("Windows")
                || o.starts_with("Mac OS")
                || o == "Linux"
                || o == "Ubuntu"
                || o == "Fedora"
                || o == "Chrome OS"
                || o == "FreeBSD" =>
        {
            "Desktop"
        }
        _ => "Other",
    }
}

impl Processor for UserAgent {
    fn run(&self, doc: &mut IngestDoc, _env: &Env) -> EsResult<Flow> {
        let v = match doc.get(&self.field) {
            Ok(Value::Null) | Err(_) if self.ignore_missing => return Ok(Flow::Continue),
            Ok(Value::Null) => {
                return Err(EsError::illegal_argument(format!(
                    "field [{}] is null, cannot parse user-agent.",
                    self.field
                )));
            }
            Ok(v) => v.clone(),
            Err(e) => return Err(e),
        };
        let Value::String(s) = &v else {
            return Err(cast_error(&self.field, &v, "java.lang.String"));
        };
        let x = extractor();
        let ua = x.ua.extract(s);
        let os = x.os.extract(s);
        let dev = x.dev.extract(s);
        let mut out = Map::new();
        // The order of Elasticsearch's documented example.
        let has = |p: Property| self.properties.contains(&p);
        if has(Property::Name) {
            let name = ua
                .as_ref()
                .map(|u| u.family.to_string())
                .unwrap_or_else(|| "Other".into());
            out.insert("name".into(), json!(name));
        }
        if has(Property::Original) {
            out.insert("original".into(), json!(s));
        }
        if has(Property::Version)
            && let Some(u) = &ua
            && let Some(v) = version([u.major, u.minor, u.patch, u.patch_minor])
        {
            out.insert("version".into(), json!(v));
        }
        if has(Property::Os)
            && let Some(o) = &os
        {
            let mut m = Map::new();
            m.insert("name".into(), json!(o.os));
            if let Some(v) = version([
                o.major.as_deref(),
                o.minor.as_deref(),
                o.patch.as_deref(),
                o.patch_minor.as_deref(),
            ]) {
                m.insert("version".into(), json!(v));
                m.insert("full".into(), json!(format!("{} {v}", o.os)));
            }
            out.insert("os".into(), Value::Object(m));
        }
        if has(Property::Device) {
            let name = dev.as_ref().map(|d| d.device.to_string());
            let mut m = Map::new();
            m.insert(
                "name".into(),
                json!(name.clone().unwrap_or_else(|| "Other".into())),
            );
            if self.extract_device_type {
                let os_name = os.as_ref().map(|o| o.os.to_string());
                m.insert(
                    "type".into(),
                    json!(device_type(s, name.as_deref(), os_name.as_deref())),
                );
            }
            out.insert("device".into(), Value::Object(m));
        }
        doc.set(&self.target, Value::Object(out))?;
        Ok(Flow::Continue)
    }
}
