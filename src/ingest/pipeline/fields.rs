//! Field-edit processors: set, remove, rename, append, convert, lowercase, uppercase, trim,
//! split, join, gsub, sort, bytes, html_strip, dot_expander.
//! (Elasticsearch reference: "Ingest processor reference", one page per processor;
//! modules/ingest-common/src/main/java/org/elasticsearch/ingest/common/*Processor.java)

use super::config::Config;
use super::doc::{IngestDoc, cast_error, java_string, java_type};
use super::{Env, Flow, Processor};
use crate::error::{EsError, EsResult};
use serde_json::{Map, Number, Value};

pub fn build(kind: &str, c: &mut Config) -> EsResult<Option<Box<dyn Processor>>> {
    Ok(Some(match kind {
        "set" => Box::new(Set::new(c)?),
        "remove" => Box::new(Remove::new(c)?),
        "rename" => Box::new(Rename {
            field: c.str("field")?,
            target: c.str("target_field")?,
            ignore_missing: c.bool_or("ignore_missing", false)?,
            override_: c.bool_or("override", false)?,
        }),
        "append" => {
            let field = c.str("field")?;
            let value = c
                .take("value")
                .ok_or_else(|| c.err("value", "required property is missing".into()))?;
            Box::new(Append {
                field,
                value,
                allow_duplicates: c.bool_or("allow_duplicates", true)?,
            })
        }
        "lowercase" | "uppercase" | "trim" | "bytes" | "html_strip" => {
            let f = match kind {
                "lowercase" => StrFn::Lower,
                "uppercase" => StrFn::Upper,
                "trim" => StrFn::Trim,
                "bytes" => StrFn::Bytes,
                _ => StrFn::HtmlStrip,
            };
            Box::new(StrOp::new(c, f)?)
        }
        "convert" => {
            let base = FieldTarget::new(c)?;
            let ty = c.str("type")?;
            let ty = match ty.as_str() {
                "integer" | "long" | "float" | "double" | "string" | "boolean" | "auto" | "ip" => {
                    ty
                }
                other => {
                    return Err(c.err(
                        "type",
                        format!("type [{other}] not supported, cannot convert field."),
                    ));
                }
            };
            Box::new(Convert { base, ty })
        }
        "split" => {
            let base = FieldTarget::new(c)?;
            let sep = c.str("separator")?;
            let separator = regex::Regex::new(&sep)
                .map_err(|e| c.err("separator", format!("invalid regular expression: {e}")))?;
            Box::new(Split {
                base,
                separator,
                preserve_trailing: c.bool_or("preserve_trailing", false)?,
            })
        }
        "join" => {
            let base = FieldTarget::new(c)?;
            Box::new(Join {
                base,
                separator: c.str("separator")?,
            })
        }
        "gsub" => {
            let base = FieldTarget::new(c)?;
            let pattern = c.str("pattern")?;
            let pattern = regex::Regex::new(&pattern)
                .map_err(|e| c.err("pattern", format!("Invalid regex pattern. {e}")))?;
            Box::new(Gsub {
                base,
                pattern,
                replacement: java_replacement(&c.str("replacement")?),
            })
        }
        "sort" => {
            let base = FieldTarget::new(c)?;
            let order = c.str_or("order", "asc")?;
            if order != "asc" && order != "desc" {
                return Err(c.err(
                    "order",
                    format!(
                        "Sort direction [{order}] not recognized. Valid values are: [asc, desc]"
                    ),
                ));
            }
            Box::new(Sort {
                base,
                desc: order == "desc",
            })
        }
        "dot_expander" => Box::new(DotExpander {
            field: c.str("field")?,
            path: c.opt_str("path")?,
            override_: c.bool_or("override", false)?,
        }),
        _ => return Ok(None),
    }))
}

/// Java's `$1` / `${name}` replacement syntax is Rust regex's too; a literal `\$` becomes `$$`.
fn java_replacement(r: &str) -> String {
    r.replace("\\$", "$$")
}

/// `field`, `target_field` (default: `field`) and `ignore_missing`.
pub struct FieldTarget {
    pub field: String,
    pub target: String,
    pub ignore_missing: bool,
}

impl FieldTarget {
    pub fn new(c: &mut Config) -> EsResult<Self> {
        let field = c.str("field")?;
        let target = c.opt_str("target_field")?.unwrap_or_else(|| field.clone());
        Ok(FieldTarget {
            field,
            target,
            ignore_missing: c.bool_or("ignore_missing", false)?,
        })
    }

    /// The field's value; `None` to skip (missing or null with `ignore_missing`).
    pub fn value(&self, doc: &IngestDoc) -> EsResult<Option<Value>> {
        match doc.get(&self.field) {
            Ok(Value::Null) if self.ignore_missing => Ok(None),
            Ok(Value::Null) => Err(EsError::illegal_argument(format!(
                "field [{}] is null, cannot process it.",
                self.field
            ))),
            Ok(v) => Ok(Some(v.clone())),
            Err(_) if self.ignore_missing => Ok(None),
            Err(e) => Err(e),
        }
    }
}

struct Set {
    field: String,
    value: Option<Value>,
    copy_from: Option<String>,
    override_: bool,
    ignore_empty_value: bool,
}

impl Set {
    fn new(c: &mut Config) -> EsResult<Self> {
        let field = c.str("field")?;
        let value = c.take("value");
        let copy_from = c.opt_str("copy_from")?;
        if value.is_some() && copy_from.is_some() {
            return Err(c.err(
                "copy_from",
                "cannot set both `copy_from` and `value` in the same processor".into(),
            ));
        }
        if value.is_none() && copy_from.is_none() {
            return Err(c.err("value", "required property is missing".into()));
        }
        let _ = c.opt_str("media_type")?;
        Ok(Set {
            field,
            value,
            copy_from,
            override_: c.bool_or("override", true)?,
            ignore_empty_value: c.bool_or("ignore_empty_value", false)?,
        })
    }
}

/// Renders the templates in a configured value (ValueSource): strings are templates, lists and
/// maps are rendered inside.
pub fn render_value(doc: &IngestDoc, v: &Value) -> EsResult<Value> {
    Ok(match v {
        Value::String(s) => Value::String(doc.render(s)?),
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| render_value(doc, x))
                .collect::<EsResult<_>>()?,
        ),
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                out.insert(doc.render(k)?, render_value(doc, x)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

fn is_empty_value(v: &Value) -> bool {
    v.is_null() || v.as_str() == Some("")
}

impl Processor for Set {
    fn run(&self, doc: &mut IngestDoc, _env: &Env) -> EsResult<Flow> {
        let field = doc.render(&self.field)?;
        if !self.override_ && doc.find(&field).is_some() {
            return Ok(Flow::Continue);
        }
        let value = match (&self.copy_from, &self.value) {
            (Some(from), _) => doc.get(from)?.clone(),
            (None, Some(v)) => render_value(doc, v)?,
            (None, None) => unreachable!("checked at compile time"),
        };
        if self.ignore_empty_value && is_empty_value(&value) {
            return Ok(Flow::Continue);
        }
        doc.set(&field, value)?;
        Ok(Flow::Continue)
    }
}

struct Remove {
    fields: Vec<String>,
    keep: Vec<String>,
    ignore_missing: bool,
}

impl Remove {
    fn new(c: &mut Config) -> EsResult<Self> {
        let fields = c.opt_list("field")?.unwrap_or_default();
        let keep = c.opt_list("keep")?.unwrap_or_default();
        if fields.is_empty() && keep.is_empty() {
            return Err(c.err("keep", "or [field] must be specified".into()));
        }
        if !fields.is_empty() && !keep.is_empty() {
            return Err(c.err(
                "keep",
                "and [field] cannot both be used in the same processor".into(),
            ));
        }
        Ok(Remove {
            fields,
            keep,
            ignore_missing: c.bool_or("ignore_missing", false)?,
        })
    }
}

impl Processor for Remove {
    fn run(&self, doc: &mut IngestDoc, _env: &Env) -> EsResult<Flow> {
        if !self.keep.is_empty() {
            // Everything but the kept fields (and their parents/children) and the metadata.
            let keep: Vec<String> = self
                .keep
                .iter()
                .map(|k| doc.render(k))
                .collect::<EsResult<_>>()?;
            let mut kept = IngestDoc {
                ctx: Map::new(),
                ingest: doc.ingest.clone(),
                pipelines: doc.pipelines.clone(),
            };
            for k in super::doc::META {
                if let Some(v) = doc.ctx.get(k) {
                    kept.ctx.insert(k.into(), v.clone());
                }
            }
            for k in &keep {
                if let Ok(v) = doc.get(k) {
                    kept.set(k, v.clone())?;
                }
            }
            doc.ctx = kept.ctx;
            return Ok(Flow::Continue);
        }
        for f in &self.fields {
            let f = doc.render(f)?;
            match doc.remove(&f) {
                Ok(_) => {}
                Err(_) if self.ignore_missing => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Flow::Continue)
    }
}

struct Rename {
    field: String,
    target: String,
    ignore_missing: bool,
    override_: bool,
}

impl Processor for Rename {
    fn run(&self, doc: &mut IngestDoc, _env: &Env) -> EsResult<Flow> {
        let field = doc.render(&self.field)?;
        let target = doc.render(&self.target)?;
        if !doc.has(&field) {
            if self.ignore_missing {
                return Ok(Flow::Continue);
            }
            return Err(EsError::illegal_argument(format!(
                "field [{field}] doesn't exist"
            )));
        }
        if doc.has(&target) && !self.override_ {
            return Err(EsError::illegal_argument(format!(
                "field [{target}] already exists"
            )));
        }
        let v = doc.remove(&field)?;
        doc.set(&target, v)?;
        Ok(Flow::Continue)
    }
}

struct Append {
    field: String,
    value: Value,
    allow_duplicates: bool,
}

impl Processor for Append {
    fn run(&self, doc: &mut IngestDoc, _env: &Env) -> EsResult<Flow> {
        let field = doc.render(&self.field)?;
        let v = render_value(doc, &self.value)?;
        doc.append(&field, v, self.allow_duplicates)?;
        Ok(Flow::Continue)
    }
}

#[derive(Clone, Copy)]
enum StrFn {
    Lower,
    Upper,
    Trim,
    Bytes,
    HtmlStrip,
}

struct StrOp {
    base: FieldTarget,
    f: StrFn,
}

impl StrOp {
    fn new(c: &mut Config, f: StrFn) -> EsResult<Self> {
        Ok(StrOp {
            base: FieldTarget::new(c)?,
            f,
        })
    }

    fn apply(&self, s: &str) -> EsResult<Value> {
        Ok(match self.f {
            StrFn::Lower => Value::String(s.to_lowercase()),
            StrFn::Upper => Value::String(s.to_uppercase()),
            // Java's String#trim removes every char <= U+0020.
            StrFn::Trim => Value::String(s.trim_matches(|c: char| c <= ' ').to_string()),
            StrFn::Bytes => Value::Number(parse_bytes(s)?.into()),
            StrFn::HtmlStrip => Value::String(html_strip(s)),
        })
    }
}

impl Processor for StrOp {
    fn run(&self, doc: &mut IngestDoc, _env: &Env) -> EsResult<Flow> {
        let Some(v) = self.base.value(doc)? else {
            return Ok(Flow::Continue);
        };
        // AbstractStringProcessor: a list of strings is processed element by element.
        let out = match &v {
            Value::String(s) => self.apply(s)?,
            Value::Array(a) => Value::Array(
                a.iter()
                    .map(|x| match x {
                        Value::String(s) => self.apply(s),
                        other => Err(EsError::illegal_argument(format!(
                            "value [{}] of type [{}] in list field [{}] cannot be cast to [java.lang.String]",
                            java_string(other),
                            java_type(other),
                            self.base.field
                        ))),
                    })
                    .collect::<EsResult<_>>()?,
            ),
            other => return Err(cast_error(&self.base.field, other, "java.lang.String")),
        };
        doc.set(&self.base.target, out)?;
        Ok(Flow::Continue)
    }
}

/// ByteSizeValue#parseBytesSizeValue: a number with a unit (b, kb, mb, gb, tb, pb; case-insensitive).
pub fn parse_bytes(s: &str) -> EsResult<i64> {
    let t = s.trim().to_lowercase();
    let err = || {
        EsError::new(
            400,
            "parse_exception",
            format!(
                "failed to parse setting [Ingest Field] with value [{s}] as a size in bytes: unit is missing or unrecognized"
            ),
        )
    };
    let units: [(&str, i64); 11] = [
        ("pb", 1 << 50),
        ("tb", 1 << 40),
        ("gb", 1 << 30),
        ("mb", 1 << 20),
        ("kb", 1 << 10),
        ("p", 1 << 50),
        ("t", 1 << 40),
        ("g", 1 << 30),
        ("m", 1 << 20),
        ("k", 1 << 10),
        ("b", 1),
    ];
    for (u, mult) in units {
        if let Some(num) = t.strip_suffix(u) {
            let num = num.trim();
            if let Ok(n) = num.parse::<i64>() {
                return n.checked_mul(mult).ok_or_else(err);
            }
            if let Ok(f) = num.parse::<f64>() {
                return Ok((f * mult as f64) as i64);
            }
            return Err(EsError::new(
                400,
                "parse_exception",
                format!("failed to parse [{s}]"),
            ));
        }
    }
    if t == "0" || t == "-1" {
        return Ok(t.parse().expect("number"));
    }
    Err(err())
}

/// Strips HTML tags and decodes entities, the way Lucene's HTMLStripCharFilter does for the
/// cases logs carry (tags, comments, scripts/styles dropped, block tags become a newline).
/// Hand-written: no maintained crate reproduces that filter; a full HTML parser would also
/// rebuild text differently.
pub fn html_strip(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('<') {
        out.push_str(&decode_entities(&rest[..i]));
        let tail = &rest[i..];
        if let Some(body) = tail.strip_prefix("<!--") {
            rest = body.find("-->").map(|e| &body[e + 3..]).unwrap_or("");
            continue;
        }
        let Some(end) = tail.find('>') else {
            out.push_str(&decode_entities(tail));
            rest = "";
            break;
        };
        let tag = tail[1..end].trim_start_matches('/').to_ascii_lowercase();
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if name.is_empty() && !tail[1..].starts_with(['/', '!', '?']) {
            // Not a tag (`a < b`).
            out.push('<');
            rest = &tail[1..];
            continue;
        }
        rest = &tail[end + 1..];
        if (name == "script" || name == "style") && !tail[1..].starts_with('/') {
            let close = format!("</{name}");
            if let Some(e) = rest.to_ascii_lowercase().find(&close) {
                rest = &rest[e..];
                rest = rest.find('>').map(|g| &rest[g + 1..]).unwrap_or("");
            }
            continue;
        }
        if BLOCK_TAGS.contains(&name.as_str()) {
            out.push('\n');
        }
    }
    out.push_str(&decode_entities(rest));
    out
}

const BLOCK_TAGS: [&str; 26] = [
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "fieldset",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "ol",
    "p",
    "pre",
    "table",
    "ul",
];

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = tail[1..].find(';').map(|e| e + 1).filter(|e| *e <= 10);
        let decoded = end.and_then(|e| {
            let name = &tail[1..e];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                n if n.starts_with("#x") || n.starts_with("#X") => u32::from_str_radix(&n[2..], 16)
                    .ok()
                    .and_then(char::from_u32),
                n if n.starts_with('#') => n[1..].parse().ok().and_then(char::from_u32),
                _ => None,
            };
            c.map(|c| (c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &tail[e + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

struct Convert {
    base: FieldTarget,
    ty: String,
}

/// A float as Java's `Float` prints it (`0.1`, not `0.10000000149011612`).
fn float_value(f: f32) -> Value {
    let printed: f64 = f.to_string().parse().unwrap_or(f as f64);
    Number::from_f64(printed)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn double_value(f: f64) -> Value {
    Number::from_f64(f)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// Integer#decode / Long#decode: optional sign, `0x`/`#` hex, leading `0` octal.
fn java_decode(s: &str) -> Option<i64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = if let Some(h) = body
        .strip_prefix("0x")
        .or_else(|| body.strip_prefix("0X"))
        .or_else(|| body.strip_prefix('#'))
    {
        i64::from_str_radix(h, 16).ok()?
    } else if body.len() > 1 && body.starts_with('0') {
        i64::from_str_radix(&body[1..], 8).ok()?
    } else {
        if body.starts_with(['+', '-']) {
            return None;
        }
        body.parse().ok()?
    };
    Some(if neg { -v } else { v })
}

pub fn convert(v: &Value, ty: &str) -> EsResult<Value> {
    let text = java_string(v);
    let fail = |t: &str| EsError::illegal_argument(format!("unable to convert [{text}] to {t}"));
    Ok(match ty {
        "integer" => match v {
            Value::Number(n) if n.as_i64().is_some() => {
                let i = n.as_i64().unwrap_or(0);
                Value::Number((i as i32).into())
            }
            Value::Number(n) => Value::Number(((n.as_f64().unwrap_or(0.0)) as i32).into()),
            _ => {
                let i = java_decode(text.trim_matches(|c: char| c <= ' '))
                    .ok_or_else(|| fail("integer"))?;
                Value::Number(i32::try_from(i).map_err(|_| fail("integer"))?.into())
            }
        },
        "long" => match v {
            Value::Number(n) if n.as_i64().is_some() => v.clone(),
            Value::Number(n) => Value::Number(((n.as_f64().unwrap_or(0.0)) as i64).into()),
            _ => Value::Number(java_decode(&text).ok_or_else(|| fail("long"))?.into()),
        },
        "float" => match v {
            Value::Number(n) => float_value(n.as_f64().unwrap_or(0.0) as f32),
            _ => float_value(text.trim().parse::<f32>().map_err(|_| fail("float"))?),
        },
        "double" => match v {
            Value::Number(n) => double_value(n.as_f64().unwrap_or(0.0)),
            _ => double_value(text.trim().parse::<f64>().map_err(|_| fail("double"))?),
        },
        "string" => Value::String(text),
        "boolean" => match v {
            Value::Bool(_) => v.clone(),
            _ if text.eq_ignore_ascii_case("true") => Value::Bool(true),
            _ if text.eq_ignore_ascii_case("false") => Value::Bool(false),
            _ => {
                return Err(EsError::illegal_argument(format!(
                    "[{text}] is not a boolean value, cannot convert to boolean"
                )));
            }
        },
        "ip" => {
            if text.parse::<std::net::IpAddr>().is_err() {
                return Err(EsError::illegal_argument(format!(
                    "[{text}] is not a valid ip address"
                )));
            }
            Value::String(text)
        }
        // ConvertProcessor AUTO: boolean, integer, long, float, double, else unchanged.
        _ => {
            let Value::String(_) = v else {
                return Ok(v.clone());
            };
            for t in ["boolean", "integer", "long", "float", "double"] {
                if let Ok(x) = convert(v, t) {
                    return Ok(x);
                }
            }
            v.clone()
        }
    })
}

impl Processor for Convert {
    fn run(&self, doc: &mut IngestDoc, _env: &Env) -> EsResult<Flow> {
        let Some(v) = self.base.value(doc)? else {
            return Ok(Flow::Continue);
        };
        let out = match &v {
            Value::Array(a) => Value::Array(
                a.iter()
                    .map(|x| convert(x, &self.ty))
                    .collect::<EsResult<_>>()?,
            ),
            other => convert(other, &self.ty)?,
        };
        doc.set(&self.base.target, out)?;
        Ok(Flow::Continue)
    }
}

struct Split {
    base: FieldTarget,
    separator: regex::Regex,
    preserve_trailing: bool,
}

impl Processor for Split {
    fn run(&self, doc: &mut IngestDoc, _env: &Env) -> EsResult<Flow> {
        let Some(v) = self.base.value(doc)? else {
            return Ok(Flow::Continue);
        };
        let Value::String(s) = &v else {
            return Err(cast_error(&self.base.field, &v, "java.lang.String"));
        };
        let mut parts: Vec<&str> = self.separator.split(s).collect();
        // Java's String#split drops trailing empty strings (limit 0).
        if !self.preserve_trailing {
            while parts.len() > 1 && parts.last() == Some(&"") {
                parts.pop();
            }
        }
        doc.set(
            &self.base.target,
            Value::Array(parts.into_iter().map(|p| Value::String(p.into())).collect()),
        )?;
        Ok(Flow::Continue)
    }
}

struct Join {
    base: FieldTarget,
    separator: String,
}

impl Processor for Join {
    fn run(&self, doc: &mut IngestDoc, _env: &Env) -> EsResult<Flow> {
        let v = doc.get(&self.base.field)?.clone();
        let Value::Array(a) = &v else {
            return Err(cast_error(&self.base.field, &v, "java.util.List"));
        };
        let s = a
            .iter()
            .map(java_string)
            .collect::<Vec<_>>()
            .join(&self.separator);
        doc.set(&self.base.target, Value::String(s))?;
        Ok(Flow::Continue)
    }
}

struct Gsub {
    base: FieldTarget,
    pattern: regex::Regex,
    replacement: String,
}

impl Processor for Gsub {
    fn run(&self, doc: &mut IngestDoc, _env: &Env) -> EsResult<Flow> {
        let Some(v) = self.base.value(doc)? else {
            return Ok(Flow::Continue);
        };
        let f = |s: &str| {
            Value::String(
                self.pattern
                    .replace_all(s, self.replacement.as_str())
                    .into_owned(),
            )
        };
        let out = match &v {
            Value::String(s) => f(s),
            Value::Array(a) => Value::Array(
                a.iter()
                    .map(|x| match x {
                        Value::String(s) => Ok(f(s)),
                        o => Err(cast_error(&self.base.field, o, "java.lang.String")),
                    })
                    .collect::<EsResult<_>>()?,
            ),
            other => return Err(cast_error(&self.base.field, other, "java.lang.String")),
        };
        doc.set(&self.base.target, out)?;
        Ok(Flow::Continue)
    }
}

struct Sort {
    base: FieldTarget,
    desc: bool,
}

impl Processor for Sort {
    fn run(&self, doc: &mut IngestDoc, _env: &Env) -> EsResult<Flow> {
        let Some(v) = self.base.value(doc)? else {
            return Ok(Flow::Continue);
        };
        let Value::Array(mut a) = v.clone() else {
            return Err(cast_error(&self.base.field, &v, "java.util.List"));
        };
        a.sort_by(|x, y| match (x, y) {
            (Value::Number(p), Value::Number(q)) => p
                .as_f64()
                .partial_cmp(&q.as_f64())
                .unwrap_or(std::cmp::Ordering::Equal),
            _ => java_string(x).cmp(&java_string(y)),
        });
        if self.desc {
            a.reverse();
        }
        doc.set(&self.base.target, Value::Array(a))?;
        Ok(Flow::Continue)
    }
}

struct DotExpander {
    field: String,
    path: Option<String>,
    override_: bool,
}

impl DotExpander {
    fn expand_in(&self, map: &mut Map<String, Value>) {
        let keys: Vec<String> = if self.field == "*" {
            map.keys().filter(|k| k.contains('.')).cloned().collect()
        } else if map.contains_key(&self.field) {
            vec![self.field.clone()]
        } else {
            vec![]
        };
        for k in keys {
            let v = map.remove(&k).expect("present");
            let parts: Vec<&str> = k.split('.').collect();
            let mut node = &mut *map;
            for p in &parts[..parts.len() - 1] {
                let e = node
                    .entry(p.to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !e.is_object() {
                    *e = Value::Object(Map::new());
                }
                node = e.as_object_mut().expect("object");
            }
            let leaf = parts[parts.len() - 1].to_string();
            // An existing value is kept and the new one appended, unless `override`.
            match node.get_mut(&leaf) {
                Some(existing) if !self.override_ => {
                    let mut list = match existing.take() {
                        Value::Array(a) => a,
                        other => vec![other],
                    };
                    match v {
                        Value::Array(a) => list.extend(a),
                        other => list.push(other),
                    }
                    *existing = Value::Array(list);
                }
                _ => {
                    node.insert(leaf, v);
                }
            }
        }
    }
}

impl Processor for DotExpander {
    fn run(&self, doc: &mut IngestDoc, _env: &Env) -> EsResult<Flow> {
        match &self.path {
            None => self.expand_in(&mut doc.ctx),
            Some(p) => {
                let mut v = doc.get(p)?.clone();
                if let Value::Object(m) = &mut v {
                    self.expand_in(m);
                    doc.set(p, v)?;
                }
            }
        }
        Ok(Flow::Continue)
    }
}
