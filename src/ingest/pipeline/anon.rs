//! Anonymisation processors: fingerprint (MD5, SHA-1, SHA-256, SHA-512 with a salt) and redact
//! (grok patterns replaced by `<NAME>`).
//! (modules/ingest-common FingerprintProcessor; x-pack/plugin/redact RedactProcessor;
//! docs: fingerprint-processor.html, redact-processor.html)

use super::config::Config;
use super::doc::IngestDoc;
use super::{Env, Flow, Processor};
use crate::error::{EsError, EsResult};
use base64::Engine as _;
use serde_json::Value;
use sha2::Digest;

pub fn build(kind: &str, c: &mut Config) -> EsResult<Option<Box<dyn Processor>>> {
    Ok(Some(match kind {
        "fingerprint" => {
            let mut fields = c.list("fields")?;
            if fields.is_empty() {
                return Err(c.err("fields", "must specify at least one field".into()));
            }
            fields.sort();
            let target = c.str_or("target_field", "fingerprint")?;
            let salt = c.str_or("salt", "")?;
            let method = c.str_or("method", "SHA-1")?;
            let method = match method.as_str() {
                "MD5" => Method::Md5,
                "SHA-1" => Method::Sha1,
                "SHA-256" => Method::Sha256,
                "SHA-512" => Method::Sha512,
                "MurmurHash3" => {
                    return Err(c.err(
                        "method",
                        "[MurmurHash3] is not implemented by elastichouse; use MD5, SHA-1, SHA-256 or SHA-512".into(),
                    ));
                }
                other => {
                    return Err(c.err(
                        "method",
                        format!(
                            "[{other}] must be one of the supported hash methods [MD5,SHA-1,SHA-256,SHA-512,MurmurHash3]"
                        ),
                    ));
                }
            };
            Box::new(Fingerprint {
                fields,
                target,
                salt,
                method,
                ignore_missing: c.bool_or("ignore_missing", false)?,
            })
        }
        "redact" => {
            let field = c.str("field")?;
            let patterns = c.list("patterns")?;
            if patterns.is_empty() {
                return Err(c.err("patterns", "List of patterns must not be empty".into()));
            }
            let defs = c.opt_map("pattern_definitions")?.unwrap_or_default();
            let compiled =
                super::parse::grok_compile(&patterns, &defs).map_err(|e| c.err("patterns", e))?;
            let _ = c.bool_or("skip_if_unlicensed", false)?;
            let _ = c.bool_or("trace_redact", false)?;
            Box::new(Redact {
                field,
                patterns: compiled,
                prefix: c.str_or("prefix", "<")?,
                suffix: c.str_or("suffix", ">")?,
                ignore_missing: c.bool_or("ignore_missing", true)?,
            })
        }
        _ => return Ok(None),
    }))
}

#[derive(Clone, Copy)]
enum Method {
    Md5,
    Sha1,
    Sha256,
    Sha512,
}

enum Hasher {
    Md5(md5::Md5),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    fn new(m: Method) -> Self {
        match m {
            Method::Md5 => Hasher::Md5(md5::Md5::new()),
            Method::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            Method::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Method::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(b),
            Hasher::Sha1(h) => h.update(b),
            Hasher::Sha256(h) => h.update(b),
            Hasher::Sha512(h) => h.update(b),
        }
    }

    fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Md5(h) => h.finalize().to_vec(),
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

struct Fingerprint {
    fields: Vec<String>,
    target: String,
    salt: String,
    method: Method,
    ignore_missing: bool,
}

/// The bytes Elasticsearch feeds the digest for one scalar (FingerprintProcessor#toBytes): UTF-8
/// for strings, little-endian ints (4 bytes when the JSON number fits an int, else 8) and
/// doubles, 1/2 for true/false, nothing for null.
fn scalar_bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Bool(true) => vec![1],
        Value::Bool(false) => vec![2],
        Value::Number(n) => match n.as_i64() {
            Some(i) if i32::try_from(i).is_ok() => (i as i32).to_le_bytes().to_vec(),
            Some(i) => i.to_le_bytes().to_vec(),
            None => n.as_f64().unwrap_or(0.0).to_le_bytes().to_vec(),
        },
        _ => vec![],
    }
}

/// Feeds a value depth-first: lists element by element, maps by sorted key (each key preceded by
/// a 0 delimiter), scalars preceded by a 0 delimiter.
fn feed(h: &mut Hasher, v: &Value) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| feed(h, x)),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            for k in keys {
                h.update(&[0]);
                h.update(k.as_bytes());
                feed(h, &m[k]);
            }
        }
        scalar => {
            h.update(&[0]);
            h.update(&scalar_bytes(scalar));
        }
    }
}

impl Processor for Fingerprint {
    fn run(&self, doc: &mut IngestDoc, _env: &Env) -> EsResult<Flow> {
        let mut h = Hasher::new(self.method);
        h.update(self.salt.as_bytes());
        let mut any = false;
        for f in &self.fields {
            match doc.find(f) {
                Some(v) => {
                    any = true;
                    feed(&mut h, v);
                }
                None if self.ignore_missing => {}
                None => {
                    return Err(EsError::illegal_argument(format!(
                        "missing field [{f}] when calculating fingerprint"
                    )));
                }
            }
        }
        if any {
            let out = base64::engine::general_purpose::STANDARD.encode(h.finish());
            doc.set(&self.target, Value::String(out))?;
        }
        Ok(Flow::Continue)
    }
}

struct Redact {
    field: String,
    patterns: Vec<super::parse::GrokRegex>,
    prefix: String,
    suffix: String,
    ignore_missing: bool,
}

impl Redact {
    /// Replaces every match of every pattern's named captures by `prefix NAME suffix`, pattern
    /// after pattern (RedactProcessor#matchRedact: the leftmost match wins where captures overlap).
    fn redact(&self, text: &str) -> EsResult<String> {
        let mut s = text.to_string();
        for p in &self.patterns {
            let mut caps = super::parse::grok_find_all(p, &s)?;
            if caps.is_empty() {
                continue;
            }
            caps.sort_by_key(|(r, _)| (r.start, std::cmp::Reverse(r.end)));
            let mut out = String::with_capacity(s.len());
            let mut cursor = 0;
            for (r, name) in caps {
                if r.start < cursor {
                    continue;
                }
                out.push_str(&s[cursor..r.start]);
                out.push_str(&self.prefix);
                out.push_str(name);
                out.push_str(&self.suffix);
                cursor = r.end;
            }
            out.push_str(&s[cursor..]);
            s = out;
        }
        Ok(s)
    }
}

impl Processor for Redact {
    fn run(&self, doc: &mut IngestDoc, _env: &Env) -> EsResult<Flow> {
        let v = match doc.get(&self.field) {
            Ok(Value::Null) | Err(_) if self.ignore_missing => return Ok(Flow::Continue),
            Ok(v) => v.clone(),
            Err(e) => return Err(e),
        };
        let Value::String(s) = &v else {
            return Err(super::doc::cast_error(&self.field, &v, "java.lang.String"));
        };
        let out = self.redact(s)?;
        doc.set(&self.field, Value::String(out))?;
        Ok(Flow::Continue)
    }
}
