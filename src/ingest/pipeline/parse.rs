//! Parsing processors: date, date_index_name, dissect, grok, kv, json, csv.
//! (modules/ingest-common: DateProcessor, DateIndexNameProcessor, DissectProcessor (libs/dissect),
//! GrokProcessor (libs/grok), KeyValueProcessor, JsonProcessor, CsvProcessor/CsvParser)

use super::config::Config;
use super::doc::{IngestDoc, cast_error, java_string};
use super::fields::{FieldTarget, convert};
use super::{Env, Flow, Processor};
use crate::error::{EsError, EsResult};
use crate::schema::dates;
use serde_json::{Map, Value};
use std::sync::OnceLock;

pub fn build(kind: &str, c: &mut Config) -> EsResult<Option<Box<dyn Processor>>> {
    Ok(Some(match kind {
        "date" => {
            let field = c.str("field")?;
            let target = c.str_or("target_field", "@timestamp")?;
            let formats = c.list("formats")?;
            let timezone = c.opt_str("timezone")?;
            let locale = c.opt_str("locale")?;
            if let Some(l) = &locale
                && !l.to_ascii_lowercase().starts_with("en")
                && l != "ROOT"
            {
                return Err(c.err(
                    "locale",
                    format!("locale [{l}] is not supported (English month and day names only)"),
                ));
            }
            let output_format = c.str_or("output_format", "yyyy-MM-dd'T'HH:mm:ss.SSSXXX")?;
            for f in &formats {
                check_format(c, "formats", f)?;
            }
            check_format(c, "output_format", &output_format)?;
            Box::new(Date {
                field,
                target,
                formats,
                timezone,
                output_format,
            })
        }
        "date_index_name" => {
            let field = c.str("field")?;
            let prefix = c.str_or("index_name_prefix", "")?;
            let rounding = c.str("date_rounding")?;
            if !matches!(rounding.as_str(), "y" | "M" | "w" | "d" | "h" | "m" | "s") {
                return Err(c.err(
                    "date_rounding",
                    format!("date rounding [{rounding}] not supported"),
                ));
            }
            let formats = c
                .opt_list("date_formats")?
                .unwrap_or_else(|| vec!["yyyy-MM-dd'T'HH:mm:ss.SSSXX".into()]);
            let index_format = c.str_or("index_name_format", "yyyy-MM-dd")?;
            let timezone = c.opt_str("timezone")?;
            let _ = c.opt_str("locale")?;
            Box::new(DateIndexName {
                field,
                prefix,
                rounding,
                formats,
                index_format,
                timezone,
            })
        }
        "dissect" => {
            let field = c.str("field")?;
            let pattern = c.str("pattern")?;
            let append_separator = c.str_or("append_separator", "")?;
            let ignore_missing = c.bool_or("ignore_missing", false)?;
            let dissect = Dissect::compile(&pattern).map_err(|e| c.err("pattern", e))?;
            Box::new(DissectProc {
                field,
                dissect,
                append_separator,
                ignore_missing,
            })
        }
        "grok" => {
            let field = c.str("field")?;
            let patterns = c.list("patterns")?;
            if patterns.is_empty() {
                return Err(c.err("patterns", "List of patterns must not be empty".into()));
            }
            let defs = c.opt_map("pattern_definitions")?.unwrap_or_default();
            let ignore_missing = c.bool_or("ignore_missing", false)?;
            let trace_match = c.bool_or("trace_match", false)?;
            let ecs = c.str_or("ecs_compatibility", "disabled")?;
            if ecs != "disabled" && ecs != "v1" {
                return Err(c.err(
                    "ecs_compatibility",
                    format!("unsupported ECS compatibility mode [{ecs}]"),
                ));
            }
            if ecs == "v1" {
                return Err(c.err(
                    "ecs_compatibility",
                    "the ECS v1 pattern set is not implemented; the legacy set (disabled) is"
                        .into(),
                ));
            }
            if defs.values().any(|v| !v.is_string()) {
                return Err(c.err("pattern_definitions", "values must be strings".into()));
            }
            let compiled = grok_compile(&patterns, &defs)
                .map_err(|e| c.err("patterns", e))?
                .into_iter()
                .zip(patterns.iter().cloned())
                .map(|(g, p)| (p, g))
                .collect();
            Box::new(Grok {
                field,
                patterns: compiled,
                ignore_missing,
                trace_match,
            })
        }
        "kv" => {
            let base = FieldTarget::new(c)?;
            let target = c.opt_str("target_field")?;
            let _ = target;
            let fs = c.str("field_split")?;
            let vs = c.str("value_split")?;
            let re = |c: &Config, name: &str, s: &str| {
                regex::Regex::new(s)
                    .map_err(|e| c.err(name, format!("invalid regular expression: {e}")))
            };
            Box::new(Kv {
                field_split: re(c, "field_split", &fs)?,
                value_split: regex::Regex::new(&format!("^(.*?)(?:{vs})(.*)$")).map_err(|e| {
                    c.err("value_split", format!("invalid regular expression: {e}"))
                })?,
                value_split_text: vs,
                include_keys: c.opt_list("include_keys")?,
                exclude_keys: c.opt_list("exclude_keys")?.unwrap_or_default(),
                prefix: c.str_or("prefix", "")?,
                trim_key: c.opt_str("trim_key")?.unwrap_or_default(),
                trim_value: c.opt_str("trim_value")?.unwrap_or_default(),
                strip_brackets: c.bool_or("strip_brackets", false)?,
                base,
            })
        }
        "json" => {
            let field = c.str("field")?;
            let target = c.opt_str("target_field")?;
            let add_to_root = c.bool_or("add_to_root", false)?;
            let strategy = c.str_or("add_to_root_conflict_strategy", "replace")?;
            if strategy != "replace" && strategy != "merge" {
                return Err(c.err(
                    "add_to_root_conflict_strategy",
                    format!("conflict strategy [{strategy}] not supported, cannot convert field."),
                ));
            }
            if add_to_root && target.is_some() {
                return Err(c.err(
                    "target_field",
                    "Cannot set a target field while also setting `add_to_root` to true".into(),
                ));
            }
            let _ = c.bool_or("allow_duplicate_keys", false)?;
            let _ = c.bool_or("strict_json_parsing", true)?;
            Box::new(Json {
                target: target.unwrap_or_else(|| field.clone()),
                field,
                add_to_root,
                merge: strategy == "merge",
            })
        }
        "csv" => {
            let field = c.str("field")?;
            let targets = c.list("target_fields")?;
            if targets.is_empty() {
                return Err(c.err("target_fields", "target fields list can't be empty".into()));
            }
            let sep = c.str_or("separator", ",")?;
            let quote = c.str_or("quote", "\"")?;
            let one = |c: &Config, name: &str, s: &str| -> EsResult<char> {
                let mut it = s.chars();
                match (it.next(), it.next()) {
                    (Some(ch), None) => Ok(ch),
                    _ => Err(c.err(
                        name,
                        format!("{name} has to be single character like \" or '"),
                    )),
                }
            };
            Box::new(Csv {
                field,
                targets,
                separator: one(c, "separator", &sep)?,
                quote: one(c, "quote", &quote)?,
                trim: c.bool_or("trim", false)?,
                empty_value: c.take("empty_value"),
                ignore_missing: c.bool_or("ignore_missing", false)?,
            })
        }
        _ => return Ok(None),
    }))
}

fn check_format(c: &Config, prop: &str, f: &str) -> EsResult<()> {
    if matches!(f, "ISO8601" | "UNIX" | "UNIX_MS" | "TAI64N") {
        return Ok(());
    }
    if let Err(e) = dates::parse_date("x", f)
        && e.0.contains("nvalid format")
    {
        return Err(c.err(prop, format!("invalid date format [{f}]: {}", e.0)));
    }
    Ok(())
}

/// Parses a date value with one of the processor's formats (DateFormat#getFunction).
fn parse_with(value: &str, format: &str, tz: Option<&str>) -> Option<i64> {
    match format {
        "UNIX" => {
            let f: f64 = value.trim().parse().ok()?;
            Some((f * 1e9) as i64)
        }
        "UNIX_MS" => {
            let f: i64 = value.trim().parse().ok()?;
            f.checked_mul(1_000_000)
        }
        "TAI64N" => {
            let v = value.strip_prefix('@').unwrap_or(value);
            if v.len() != 24 {
                return None;
            }
            let secs = i64::from_str_radix(&v[..16], 16).ok()? - 0x4000000000000000 - 10;
            let nanos = i64::from_str_radix(&v[16..], 16).ok()?;
            Some(secs * 1_000_000_000 + nanos)
        }
        f => {
            let f = if f == "ISO8601" {
                "date_optional_time"
            } else {
                f
            };
            match tz {
                None => dates::parse_date(value, f).ok(),
                Some(tz) if !value.contains("||") && !value.starts_with("now") => {
                    dates::parse_date_math(value, f, 0, false, Some(tz)).ok()
                }
                Some(_) => None,
            }
        }
    }
}

struct Date {
    field: String,
    target: String,
    formats: Vec<String>,
    timezone: Option<String>,
    output_format: String,
}

impl Processor for Date {
    fn run(&self, doc: &mut IngestDoc, _env: &Env) -> EsResult<Flow> {
        let v = doc.get(&self.field)?;
        let text = java_string(v);
        let tz = match &self.timezone {
            Some(t) => Some(doc.render(t)?),
            None => None,
        };
        let nanos = self
            .formats
            .iter()
            .find_map(|f| parse_with(&text, f, tz.as_deref()))
            .ok_or_else(|| {
                EsError::illegal_argument(format!("unable to parse date [{text}]")).caused_by(
                    EsError::illegal_argument(format!(
                        "failed to parse date field [{text}] with format [{}]",
                        self.formats.last().cloned().unwrap_or_default()
                    )),
                )
            })?;
        let out = dates::format_date(nanos, &self.output_format, tz.as_deref());
        doc.set(&self.target, Value::String(out))?;
        Ok(Flow::Continue)
    }
}

struct DateIndexName {
    field: String,
    prefix: String,
    rounding: String,
    formats: Vec<String>,
    index_format: String,
    timezone: Option<String>,
}

impl Processor for DateIndexName {
    fn run(&self, doc: &mut IngestDoc, _env: &Env) -> EsResult<Flow> {
        let v = doc.get(&self.field)?;
        let text = java_string(v);
        let tz = self.timezone.as_deref();
        let nanos = self
            .formats
            .iter()
            .find_map(|f| parse_with(&text, f, tz))
            .ok_or_else(|| EsError::illegal_argument(format!("unable to parse date [{text}]")))?;
        // Elasticsearch sets `_index` to the date-math expression
        // `<prefix{date||/rounding{format|tz}}>`, resolved when the document is routed; it is
        // resolved here, which names the same index.
        let iso = dates::format_date(nanos, "strict_date_optional_time", None);
        let rounded = dates::parse_date_math(
            &format!("{iso}||/{}", self.rounding),
            "strict_date_optional_time",
            0,
            false,
            tz.or(Some("UTC")),
        )
        .map_err(|e| EsError::illegal_argument(e.0))?;
        let name = format!(
            "{}{}",
            self.prefix,
            dates::format_date(rounded, &self.index_format, tz)
        );
        doc.set("_index", Value::String(name))?;
        Ok(Flow::Continue)
    }
}

// ---------------------------------------------------------------------------------------------
// dissect
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Key {
    name: String,
    skip: bool,
    append: bool,
    order: u32,
    right_pad: bool,
    /// `%{*k}` (the name of a pair) / `%{&k}` (its value).
    reference: Option<bool>,
    /// The literal after this key, up to the next key.
    delimiter: String,
}

/// A compiled dissect pattern (libs/dissect DissectParser).
pub struct Dissect {
    prefix: String,
    keys: Vec<Key>,
    pattern: String,
}

impl Dissect {
    pub fn compile(pattern: &str) -> Result<Dissect, String> {
        let mut keys: Vec<Key> = Vec::new();
        let mut prefix = String::new();
        let mut rest = pattern;
        while let Some(i) = rest.find("%{") {
            let lit = &rest[..i];
            match keys.last_mut() {
                Some(k) => k.delimiter.push_str(lit),
                None => prefix.push_str(lit),
            }
            let Some(end) = rest[i..].find('}') else {
                return Err(format!("Unable to parse pattern [{pattern}]"));
            };
            let mut name = &rest[i + 2..i + end];
            rest = &rest[i + end + 1..];
            let mut k = Key {
                name: String::new(),
                skip: false,
                append: false,
                order: 0,
                right_pad: false,
                reference: None,
                delimiter: String::new(),
            };
            if let Some(n) = name.strip_suffix("->") {
                k.right_pad = true;
                name = n;
            }
            if let Some(n) = name.strip_prefix('+') {
                k.append = true;
                name = n;
                if let Some((n, o)) = name.split_once('/') {
                    k.order = o
                        .parse()
                        .map_err(|_| format!("Unable to parse pattern [{pattern}]"))?;
                    name = n;
                }
            } else if let Some(n) = name.strip_prefix('?') {
                k.skip = true;
                name = n;
            } else if let Some(n) = name.strip_prefix('*') {
                k.reference = Some(true);
                name = n;
            } else if let Some(n) = name.strip_prefix('&') {
                k.reference = Some(false);
                name = n;
            }
            if name.is_empty() {
                k.skip = true;
            }
            k.name = name.to_string();
            keys.push(k);
        }
        match keys.last_mut() {
            Some(k) => k.delimiter.push_str(rest),
            None => {
                return Err(format!(
                    "Unable to find any keys or delimiters for dissect pattern: {pattern}"
                ));
            }
        }
        Ok(Dissect {
            prefix,
            keys,
            pattern: pattern.to_string(),
        })
    }

    /// The captured (key, value) pairs, in the pattern's order (appends joined later).
    pub fn parse(&self, input: &str, append_sep: &str) -> Result<Vec<(String, String)>, String> {
        let fail = || {
            format!(
                "Unable to find match for dissect pattern: {} against source: {input}",
                self.pattern
            )
        };
        let mut pos = input.strip_prefix(self.prefix.as_str()).ok_or_else(fail)?;
        let mut values: Vec<(usize, String)> = Vec::new();
        for (i, k) in self.keys.iter().enumerate() {
            let last = i + 1 == self.keys.len();
            let (value, after) = if k.delimiter.is_empty() {
                if last {
                    (pos, "")
                } else {
                    // Two keys with nothing between them: the first takes nothing.
                    ("", pos)
                }
            } else {
                let at = pos.find(k.delimiter.as_str()).ok_or_else(fail)?;
                let mut after = &pos[at + k.delimiter.len()..];
                if k.right_pad {
                    while let Some(r) = after.strip_prefix(k.delimiter.as_str()) {
                        after = r;
                    }
                }
                if last && !after.is_empty() {
                    return Err(fail());
                }
                (&pos[..at], after)
            };
            values.push((i, value.to_string()));
            pos = after;
        }
        // Appends are joined in `/n` order; references pair `*k` names with `&k` values.
        let mut out: Vec<(String, String)> = Vec::new();
        let mut appends: Vec<(String, u32, usize, String)> = Vec::new();
        let mut ref_names: Map<String, Value> = Map::new();
        let mut ref_values: Map<String, Value> = Map::new();
        for (i, v) in values {
            let k = &self.keys[i];
            if k.skip {
                continue;
            }
            match k.reference {
                Some(true) => {
                    ref_names.insert(k.name.clone(), Value::String(v));
                }
                Some(false) => {
                    ref_values.insert(k.name.clone(), Value::String(v));
                }
                None if k.append => appends.push((k.name.clone(), k.order, i, v)),
                None => {
                    if appends.iter().any(|a| a.0 == k.name) {
                        appends.push((k.name.clone(), k.order, i, v));
                    } else {
                        out.push((k.name.clone(), v));
                    }
                }
            }
        }
        appends.sort_by_key(|a| (a.1, a.2));
        let mut joined: Vec<(String, String)> = Vec::new();
        for (name, _, _, v) in appends {
            match joined.iter_mut().find(|(n, _)| *n == name) {
                Some((_, acc)) => {
                    acc.push_str(append_sep);
                    acc.push_str(&v);
                }
                None => joined.push((name, v)),
            }
        }
        out.extend(joined);
        for (k, name) in ref_names {
            if let Some(v) = ref_values.get(&k) {
                out.push((java_string(&name), java_string(v)));
            }
        }
        Ok(out)
    }
}

struct DissectProc {
    field: String,
    dissect: Dissect,
    append_separator: String,
    ignore_missing: bool,
}

impl Processor for DissectProc {
    fn run(&self, doc: &mut IngestDoc, _env: &Env) -> EsResult<Flow> {
        let v = match doc.get(&self.field) {
            Ok(Value::Null) | Err(_) if self.ignore_missing => return Ok(Flow::Continue),
            Ok(Value::Null) => {
                return Err(EsError::illegal_argument(format!(
                    "field [{}] is null, cannot process it.",
                    self.field
                )));
            }
            Ok(v) => v.clone(),
            Err(e) => return Err(e),
        };
        let Value::String(s) = &v else {
            return Err(cast_error(&self.field, &v, "java.lang.String"));
        };
        let pairs = self
            .dissect
            .parse(s, &self.append_separator)
            .map_err(|e| EsError::new(400, "dissect_exception", e))?;
        for (k, v) in pairs {
            doc.set(&k, Value::String(v))?;
        }
        Ok(Flow::Continue)
    }
}

// ---------------------------------------------------------------------------------------------
// grok
// ---------------------------------------------------------------------------------------------

/// Every built-in pattern, for `GET /_ingest/processor/grok`: the `grok` crate ships the legacy
/// Logstash pattern set (logstash-patterns-core, Apache-2.0), which is the set Elasticsearch's grok
/// processor uses with `ecs_compatibility: disabled` (its default in 8.x).
pub fn grok_patterns() -> Vec<(&'static str, &'static str)> {
    grok::patterns().to_vec()
}

fn builtin_pattern(name: &str) -> Option<&'static str> {
    static BY_NAME: OnceLock<std::collections::HashMap<&'static str, &'static str>> =
        OnceLock::new();
    BY_NAME
        .get_or_init(|| grok::patterns().iter().copied().collect())
        .get(name)
        .copied()
}

/// Backtracking steps one grok match may take before it is abandoned: Elasticsearch interrupts a
/// match after `ingest.grok.watchdog.max_execution_time` (1 s); elastichouse bounds the work
/// instead of the time (fancy-regex's backtrack limit), so the outcome does not depend on the
/// machine's load. A pathological pattern on a 37k-character line stops after this many steps
/// (tens of milliseconds) instead of running for seconds.
pub const GROK_BACKTRACK_LIMIT: usize = 100_000;

/// The error of a match that hit [`GROK_BACKTRACK_LIMIT`]: the RuntimeException Elasticsearch's
/// Grok#match throws when its watchdog interrupts a match (500 `runtime_exception`, same message
/// prefix), naming the bound that applied.
pub fn grok_interrupted() -> EsError {
    EsError::new(
        500,
        "runtime_exception",
        format!(
            "grok pattern matching was interrupted after [{GROK_BACKTRACK_LIMIT}] backtracking steps"
        ),
    )
}

/// A compiled grok expression: the regex (fancy-regex, for the look-around of the pattern set,
/// built with a backtrack limit) and, per named capture group, the field and its type.
///
/// The expansion of `%{NAME:field:type}` is written here rather than left to the `grok` crate
/// because the crate builds its regex with no way to set a backtrack limit, reports a limit hit as
/// "no match", and gives no match offsets (which `redact` needs); the crate's pattern parser
/// (`grok::parser::grok_split`) and pattern set are still used.
pub struct GrokRegex {
    re: fancy_regex::Regex,
    /// Capture group name → (field, type).
    fields: Vec<(String, String, Option<String>)>,
}

/// Nesting bound of pattern references (a definition that refers to itself is an error).
const GROK_MAX_DEPTH: usize = 64;

impl GrokRegex {
    fn compile(pattern: &str, defs: &Map<String, Value>) -> Result<GrokRegex, String> {
        let mut re = String::with_capacity(pattern.len() * 4);
        let mut fields = Vec::new();
        expand(pattern, defs, &mut re, &mut fields, 0)?;
        let re = fancy_regex::RegexBuilder::new(&re)
            .backtrack_limit(GROK_BACKTRACK_LIMIT)
            .build()
            .map_err(|e| format!("Invalid regex pattern found in: [{pattern}]. {e}"))?;
        Ok(GrokRegex { re, fields })
    }

    /// The fields of the first match in `text`, with their typed values, and the byte ranges of
    /// the named captures; `Ok(None)` when nothing matches.
    #[allow(clippy::type_complexity)]
    fn captures_at<'t>(
        &'t self,
        text: &'t str,
        from: usize,
    ) -> EsResult<
        Option<(
            std::ops::Range<usize>,
            Vec<(&'t str, &'t str, std::ops::Range<usize>)>,
        )>,
    > {
        let caps = match self.re.captures_from_pos(text, from) {
            Ok(Some(c)) => c,
            Ok(None) => return Ok(None),
            Err(fancy_regex::Error::RuntimeError(_)) => return Err(grok_interrupted()),
            Err(e) => return Err(EsError::illegal_argument(e.to_string())),
        };
        let whole = caps.get(0).map(|m| m.range()).unwrap_or(from..from);
        let mut out = Vec::new();
        for (group, field, _) in &self.fields {
            if let Some(m) = caps.name(group) {
                out.push((field.as_str(), m.as_str(), m.range()));
            }
        }
        Ok(Some((whole, out)))
    }

    fn kind(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(_, f, _)| f == field)
            .and_then(|(_, _, t)| t.as_deref())
    }
}

fn expand(
    pattern: &str,
    defs: &Map<String, Value>,
    re: &mut String,
    fields: &mut Vec<(String, String, Option<String>)>,
    depth: usize,
) -> Result<(), String> {
    if depth > GROK_MAX_DEPTH {
        return Err(format!(
            "circular reference in pattern [{pattern}] (patterns nest deeper than {GROK_MAX_DEPTH})"
        ));
    }
    use grok::parser::GrokComponent;
    for part in grok::parser::grok_split(pattern) {
        match part {
            GrokComponent::RegularExpression { string, .. } => re.push_str(string),
            GrokComponent::GrokPattern {
                name,
                alias,
                extract,
                definition,
                ..
            } => {
                let body: String = if !definition.is_empty() {
                    definition.to_string()
                } else if let Some(d) = defs.get(name) {
                    java_string(d)
                } else if let Some(b) = builtin_pattern(name) {
                    b.to_string()
                } else {
                    return Err(format!(
                        "Unable to find pattern [{name}] in Grok's pattern dictionary"
                    ));
                };
                if alias.is_empty() {
                    re.push_str("(?:");
                } else {
                    let group = format!("_g{}", fields.len());
                    re.push_str("(?<");
                    re.push_str(&group);
                    re.push('>');
                    fields.push((
                        group,
                        alias.to_string(),
                        (!extract.is_empty()).then(|| extract.to_string()),
                    ));
                }
                expand(&body, defs, re, fields, depth + 1)?;
                re.push(')');
            }
            GrokComponent::PatternError(e) => {
                return Err(format!(
                    "Invalid regex pattern found in: [{pattern}]. {e:?}"
                ));
            }
        }
    }
    Ok(())
}

struct Grok {
    field: String,
    patterns: Vec<(String, GrokRegex)>,
    ignore_missing: bool,
    trace_match: bool,
}

impl Processor for Grok {
    fn run(&self, doc: &mut IngestDoc, _env: &Env) -> EsResult<Flow> {
        let v = match doc.get(&self.field) {
            Ok(Value::Null) | Err(_) if self.ignore_missing => return Ok(Flow::Continue),
            Ok(Value::Null) => {
                return Err(EsError::illegal_argument(format!(
                    "field [{}] is null, cannot process it.",
                    self.field
                )));
            }
            Ok(v) => v.clone(),
            Err(e) => return Err(e),
        };
        let Value::String(s) = &v else {
            return Err(cast_error(&self.field, &v, "java.lang.String"));
        };
        for (i, (_, p)) in self.patterns.iter().enumerate() {
            let Some((_, caps)) = p.captures_at(s, 0)? else {
                continue;
            };
            let mut sets: Vec<(String, Value)> = Vec::new();
            for (name, value, _) in caps {
                // A field named twice takes its first value (GrokCaptureConfig).
                if sets.iter().any(|(n, _)| n == name) {
                    continue;
                }
                let typed = match p.kind(name) {
                    Some("int") => convert(&Value::String(value.into()), "integer")?,
                    Some("long") => convert(&Value::String(value.into()), "long")?,
                    Some("float") => convert(&Value::String(value.into()), "float")?,
                    Some("double") => convert(&Value::String(value.into()), "double")?,
                    Some("boolean") => convert(&Value::String(value.into()), "boolean")?,
                    _ => Value::String(value.to_string()),
                };
                sets.push((name.to_string(), typed));
            }
            for (k, v) in sets {
                doc.set(&k, v)?;
            }
            if self.trace_match {
                doc.ingest
                    .insert("_grok_match_index".into(), Value::String(i.to_string()));
            }
            return Ok(Flow::Continue);
        }
        Err(EsError::illegal_argument(format!(
            "Provided Grok expressions do not match field value: [{s}]"
        )))
    }
}

/// Compiles grok patterns (`grok`, `redact`) with the built-in set and `defs`.
pub fn grok_compile(
    patterns: &[String],
    defs: &Map<String, Value>,
) -> Result<Vec<GrokRegex>, String> {
    patterns
        .iter()
        .map(|p| GrokRegex::compile(p, defs))
        .collect()
}

/// Every match of `g` in `text`, as the byte ranges of its named captures with their field names
/// (for `redact`), leftmost first.
pub fn grok_find_all<'a>(
    g: &'a GrokRegex,
    text: &str,
) -> EsResult<Vec<(std::ops::Range<usize>, &'a str)>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos <= text.len() {
        let Some((whole, caps)) = g.captures_at(text, pos)? else {
            break;
        };
        for (field, _, range) in caps {
            if !range.is_empty() {
                let name = g
                    .fields
                    .iter()
                    .find(|(_, f, _)| f == field)
                    .map(|(_, f, _)| f.as_str())
                    .unwrap_or_default();
                out.push((range, name));
            }
        }
        pos = if whole.end > whole.start {
            whole.end
        } else {
            // An empty match: step over one character.
            whole.end + text[whole.end..].chars().next().map_or(1, char::len_utf8)
        };
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// kv, json, csv
// ---------------------------------------------------------------------------------------------

struct Kv {
    base: FieldTarget,
    field_split: regex::Regex,
    value_split: regex::Regex,
    value_split_text: String,
    include_keys: Option<Vec<String>>,
    exclude_keys: Vec<String>,
    prefix: String,
    trim_key: String,
    trim_value: String,
    strip_brackets: bool,
}

fn trim_chars<'a>(s: &'a str, chars: &str) -> &'a str {
    if chars.is_empty() {
        return s;
    }
    s.trim_matches(|c| chars.contains(c))
}

fn strip_brackets(s: &str) -> &str {
    for (a, b) in [('(', ')'), ('<', '>'), ('[', ']'), ('"', '"'), ('\'', '\'')] {
        if s.len() >= 2 && s.starts_with(a) && s.ends_with(b) {
            return &s[1..s.len() - 1];
        }
    }
    s
}

impl Processor for Kv {
    fn run(&self, doc: &mut IngestDoc, _env: &Env) -> EsResult<Flow> {
        let Some(v) = self.base.value(doc)? else {
            return Ok(Flow::Continue);
        };
        let Value::String(s) = &v else {
            return Err(cast_error(&self.base.field, &v, "java.lang.String"));
        };
        // Without `target_field` the pairs go to the root (KeyValueProcessor).
        let into_root = self.base.target == self.base.field;
        for part in self.field_split.split(s) {
            let Some(c) = self.value_split.captures(part) else {
                return Err(EsError::illegal_argument(format!(
                    "field [{}] does not contain value_split [{}]",
                    self.base.field, self.value_split_text
                )));
            };
            let key = trim_chars(&c[1], &self.trim_key);
            let mut value = trim_chars(&c[2], &self.trim_value);
            if self.strip_brackets {
                value = strip_brackets(value);
            }
            if let Some(inc) = &self.include_keys
                && !inc.iter().any(|k| k == key)
            {
                continue;
            }
            if self.exclude_keys.iter().any(|k| k == key) {
                continue;
            }
            let path = if into_root {
                format!("{}{key}", self.prefix)
            } else {
                format!("{}.{}{key}", self.base.target, self.prefix)
            };
            doc.append(&path, Value::String(value.to_string()), true)?;
        }
        Ok(Flow::Continue)
    }
}

struct Json {
    field: String,
    target: String,
    add_to_root: bool,
    merge: bool,
}

fn merge_into(base: &mut Map<String, Value>, add: Map<String, Value>) {
    for (k, v) in add {
        match (base.get_mut(&k), v) {
            (Some(Value::Object(b)), Value::Object(a)) => merge_into(b, a),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

impl Processor for Json {
    fn run(&self, doc: &mut IngestDoc, _env: &Env) -> EsResult<Flow> {
        let v = doc.get(&self.field)?.clone();
        let parsed: Value = match &v {
            Value::String(s) => serde_json::from_str(s).map_err(|e| {
                EsError::illegal_argument(format!(
                    "com.fasterxml.jackson.core.JsonParseException: {e}"
                ))
            })?,
            Value::Null => Value::Null,
            other => other.clone(),
        };
        if self.add_to_root {
            let Value::Object(m) = parsed else {
                return Err(EsError::illegal_argument(
                    "cannot add non-map fields to root of document",
                ));
            };
            if self.merge {
                merge_into(&mut doc.ctx, m);
            } else {
                doc.ctx.extend(m);
            }
        } else {
            doc.set(&self.target, parsed)?;
        }
        Ok(Flow::Continue)
    }
}

struct Csv {
    field: String,
    targets: Vec<String>,
    separator: char,
    quote: char,
    trim: bool,
    empty_value: Option<Value>,
    ignore_missing: bool,
}

/// Splits one CSV line with Elasticsearch's CsvParser rules (quoted fields, doubled quotes, `trim`
/// outside quotes). Hand-written: the rules (trim of unquoted whitespace only, error texts) are
/// the processor's own, not RFC 4180's as the `csv` crate applies them.
fn csv_split(line: &str, sep: char, quote: char, trim: bool) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut in_quotes = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == quote {
                if chars.peek() == Some(&quote) {
                    cur.push(quote);
                    chars.next();
                } else {
                    in_quotes = false;
                }
            } else {
                cur.push(c);
            }
        } else if c == quote {
            if !cur.trim().is_empty() {
                return Err(format!(
                    "Illegal character inside unquoted field at {}",
                    cur.len()
                ));
            }
            cur.clear();
            in_quotes = true;
            was_quoted = true;
        } else if c == sep {
            out.push(if trim && !was_quoted {
                cur.trim().to_string()
            } else {
                cur.clone()
            });
            cur.clear();
            was_quoted = false;
        } else if was_quoted {
            if !c.is_whitespace() {
                return Err(format!("Illegal character after quote at {}", cur.len()));
            }
        } else {
            cur.push(c);
        }
    }
    if in_quotes {
        return Err("Unmatched quote".into());
    }
    out.push(if trim && !was_quoted {
        cur.trim().to_string()
    } else {
        cur
    });
    Ok(out)
}

impl Processor for Csv {
    fn run(&self, doc: &mut IngestDoc, _env: &Env) -> EsResult<Flow> {
        let v = match doc.get(&self.field) {
            Ok(Value::Null) | Err(_) if self.ignore_missing => return Ok(Flow::Continue),
            Ok(v) => v.clone(),
            Err(e) => return Err(e),
        };
        let Value::String(s) = &v else {
            return Err(cast_error(&self.field, &v, "java.lang.String"));
        };
        let values = csv_split(s, self.separator, self.quote, self.trim)
            .map_err(EsError::illegal_argument)?;
        for (t, val) in self.targets.iter().zip(values) {
            if val.is_empty() {
                if let Some(e) = &self.empty_value {
                    doc.set(t, e.clone())?;
                }
                continue;
            }
            doc.set(t, Value::String(val))?;
        }
        Ok(Flow::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dissect_basic_and_modifiers() {
        let d = Dissect::compile("%{clientip} %{ident} %{auth} [%{@timestamp}] \"%{verb} %{request} HTTP/%{httpversion}\" %{status} %{size}").unwrap();
        let r = d
            .parse(
                "1.2.3.4 - - [30/Apr/1998:22:00:52 +0000] \"GET /english/venues/cities/images/montpellier/18.gif HTTP/1.0\" 200 3171",
                "",
            )
            .unwrap();
        assert_eq!(r[0], ("clientip".into(), "1.2.3.4".into()));
        assert_eq!(
            r[3],
            ("@timestamp".into(), "30/Apr/1998:22:00:52 +0000".into())
        );
        assert_eq!(r[8], ("size".into(), "3171".into()));
        let d = Dissect::compile("%{+name} %{+name} %{+name} %{+name}").unwrap();
        assert_eq!(
            d.parse("john jacob jingleheimer schmidt", " ").unwrap(),
            vec![("name".into(), "john jacob jingleheimer schmidt".into())]
        );
        let d = Dissect::compile("%{ts->} %{level}").unwrap();
        assert_eq!(
            d.parse("1998-08-10T17:15:42,466          WARN", "")
                .unwrap()[1]
                .1,
            "WARN"
        );
        let d = Dissect::compile("[%{ts}] [%{level}] %{*p1}:%{&p1} %{*p2}:%{&p2}").unwrap();
        let r = d
            .parse(
                "[2018-08-10T17:15:42,466] [ERR] ip:1.2.3.4 error:REFUSED",
                "",
            )
            .unwrap();
        assert!(r.contains(&("ip".into(), "1.2.3.4".into())));
        assert!(r.contains(&("error".into(), "REFUSED".into())));
        assert!(d.parse("nope", "").is_err());
    }

    #[test]
    fn csv_lines() {
        assert_eq!(
            csv_split("a,\"b,c\",d", ',', '"', false).unwrap(),
            ["a", "b,c", "d"]
        );
        assert_eq!(csv_split(" a , b ", ',', '"', true).unwrap(), ["a", "b"]);
        assert_eq!(csv_split("\"x\"\"y\"", ',', '"', false).unwrap(), ["x\"y"]);
        assert!(csv_split("\"open", ',', '"', false).is_err());
    }
}
