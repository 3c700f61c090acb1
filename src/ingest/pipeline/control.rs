//! Control processors: foreach, pipeline, drop, fail, script; and the answer of geoip, which needs
//! a database this daemon does not ship.
//! (modules/ingest-common: ForEachProcessor, PipelineProcessor, DropProcessor, FailProcessor,
//! ScriptProcessor)

use super::config::Config;
use super::doc::{IngestDoc, cast_error};
use super::{Compiled, Env, Flow, Processor, compile_one, missing_pipeline};
use crate::error::{EsError, EsResult};
use serde_json::{Map, Value};

pub fn build(kind: &str, c: &mut Config, depth: usize) -> EsResult<Option<Box<dyn Processor>>> {
    Ok(Some(match kind {
        "drop" => Box::new(Drop),
        "fail" => Box::new(Fail {
            message: c.str("message")?,
        }),
        "pipeline" => Box::new(PipelineProc {
            name: c.str("name")?,
            ignore_missing_pipeline: c.bool_or("ignore_missing_pipeline", false)?,
        }),
        "foreach" => {
            let field = c.str("field")?;
            let ignore_missing = c.bool_or("ignore_missing", false)?;
            let p = c
                .opt_map("processor")?
                .ok_or_else(|| c.err("processor", "required property is missing".into()))?;
            let inner = compile_one(&Value::Object(p), depth + 1)?;
            Box::new(ForEach {
                field,
                ignore_missing,
                inner,
            })
        }
        "script" => {
            let mut m = Map::new();
            for k in ["source", "lang", "params", "id"] {
                if let Some(v) = c.take(k) {
                    m.insert(k.into(), v);
                }
            }
            Box::new(ScriptProc(super::script::Script::compile(&Value::Object(
                m,
            ))?))
        }
        "geoip" => {
            return Err(c.err(
                "database_file",
                "the geoip processor needs a MaxMind GeoLite2/GeoIP2 database (.mmdb); elastichouse ships none and has no database configured".into(),
            ));
        }
        _ => return Ok(None),
    }))
}

struct Drop;

impl Processor for Drop {
    fn run(&self, _doc: &mut IngestDoc, _env: &Env) -> EsResult<Flow> {
        Ok(Flow::Drop)
    }
}

struct Fail {
    message: String,
}

impl Processor for Fail {
    fn run(&self, doc: &mut IngestDoc, _env: &Env) -> EsResult<Flow> {
        // FailProcessorException is a plain RuntimeException: 500 in Elasticsearch's responses.
        Err(EsError::new(
            500,
            "fail_processor_exception",
            doc.render(&self.message)?,
        ))
    }
}

struct PipelineProc {
    name: String,
    ignore_missing_pipeline: bool,
}

impl Processor for PipelineProc {
    fn run(&self, doc: &mut IngestDoc, env: &Env) -> EsResult<Flow> {
        let name = doc.render(&self.name)?;
        let Some(p) = env.pipelines.get(&name) else {
            if self.ignore_missing_pipeline {
                return Ok(Flow::Continue);
            }
            return Err(missing_pipeline(&name).with("processor_type", "pipeline"));
        };
        let p = p.clone();
        p.run(doc, env)
    }
}

struct ForEach {
    field: String,
    ignore_missing: bool,
    inner: Compiled,
}

impl ForEach {
    fn one(
        &self,
        doc: &mut IngestDoc,
        env: &Env,
        key: Option<&str>,
        v: Value,
    ) -> EsResult<(Flow, Value, Option<String>)> {
        let saved_value = doc.ingest.insert("_value".into(), v);
        let saved_key = key.map(|k| doc.ingest.insert("_key".into(), Value::String(k.into())));
        let list = std::slice::from_ref(&self.inner);
        let r = super::run_list(list, doc, env, None).map_err(|f| f.error);
        let out = doc.ingest.remove("_value").unwrap_or(Value::Null);
        let new_key = doc
            .ingest
            .get("_key")
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(s) = saved_value {
            doc.ingest.insert("_value".into(), s);
        }
        if let Some(k) = saved_key {
            doc.ingest.remove("_key");
            if let Some(k) = k {
                doc.ingest.insert("_key".into(), k);
            }
        }
        Ok((r?, out, new_key))
    }
}

impl Processor for ForEach {
    fn run(&self, doc: &mut IngestDoc, env: &Env) -> EsResult<Flow> {
        let v = match doc.get(&self.field) {
            Ok(Value::Null) | Err(_) if self.ignore_missing => return Ok(Flow::Continue),
            Ok(Value::Null) => {
                return Err(EsError::illegal_argument(format!(
                    "field [{}] is null, cannot loop over its elements.",
                    self.field
                )));
            }
            Ok(v) => v.clone(),
            Err(e) => return Err(e),
        };
        match v {
            Value::Array(a) => {
                let mut out = Vec::with_capacity(a.len());
                for x in a {
                    let (flow, nv, _) = self.one(doc, env, None, x)?;
                    if flow == Flow::Drop {
                        return Ok(Flow::Drop);
                    }
                    out.push(nv);
                }
                doc.set(&self.field, Value::Array(out))?;
            }
            Value::Object(m) => {
                let mut out = Map::new();
                for (k, x) in m {
                    let (flow, nv, new_key) = self.one(doc, env, Some(&k), x)?;
                    if flow == Flow::Drop {
                        return Ok(Flow::Drop);
                    }
                    // The processor may rename the key through `_ingest._key`.
                    out.insert(new_key.unwrap_or(k), nv);
                }
                doc.set(&self.field, Value::Object(out))?;
            }
            other => return Err(cast_error(&self.field, &other, "java.util.List")),
        }
        Ok(Flow::Continue)
    }
}

struct ScriptProc(super::script::Script);

impl Processor for ScriptProc {
    fn run(&self, doc: &mut IngestDoc, _env: &Env) -> EsResult<Flow> {
        self.0.run(doc)?;
        Ok(Flow::Continue)
    }
}
