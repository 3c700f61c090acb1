//! Ingest pipelines: processors run in the daemon on each document before it is written, with
//! Elasticsearch's semantics and error messages.
//!
//! A pipeline definition (the body of `PUT /_ingest/pipeline/{id}`) is compiled once into
//! [`Pipeline`]; [`Pipeline::run`] executes it on an [`IngestDoc`] (the source plus the `_index`,
//! `_id`, `_routing` metadata and `_ingest.timestamp`). Processor families live one per file:
//! `fields` (field edits), `parse` (date, dissect, grok, kv, json, csv), `logs` (uri_parts,
//! community_id, network_direction, registered_domain), `anon` (fingerprint, redact) and
//! `control` (foreach, pipeline, drop, fail, script).
//! (elastic/elasticsearch: server/src/main/java/org/elasticsearch/ingest/IngestDocument.java,
//! CompoundProcessor.java, ConfigurationUtils.java, Pipeline.java)

pub mod anon;
pub mod config;
pub mod control;
pub mod doc;
pub mod fields;
pub mod logs;
pub mod parse;
pub mod script;
pub mod useragent;

pub use config::Config;
pub use doc::IngestDoc;

use crate::error::{EsError, EsResult};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// What a processor did to the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// `drop`: the document is not indexed.
    Drop,
}

/// One processor, compiled from its configuration.
pub trait Processor: Send + Sync {
    fn run(&self, doc: &mut IngestDoc, env: &Env) -> EsResult<Flow>;
}

/// What a processor can see besides the document: the other pipelines (for `pipeline`), and the
/// recursion guard.
pub struct Env<'a> {
    pub pipelines: &'a Registry,
    /// Ids of the pipelines being run, outermost first (cycle detection).
    pub stack: parking_lot::Mutex<Vec<String>>,
    /// Collects each processor's result for `_simulate?verbose`.
    pub trace: Option<parking_lot::Mutex<Vec<Value>>>,
    /// Where the failure that is propagating happened (innermost processor), for the failure
    /// store; cleared when `ignore_failure` or an `on_failure` handles it.
    pub origin: parking_lot::Mutex<Option<FailureOrigin>>,
}

/// Where a pipeline failure happened: what Elasticsearch's IngestProcessorException carries as
/// headers (`pipeline_origin`, `processor_type`, `processor_tag`, CompoundProcessor) and
/// FailureStoreDocumentConverter writes into a failure document's `error`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FailureOrigin {
    /// The pipelines being run when the processor failed, outermost first.
    pub pipeline_trace: Vec<String>,
    pub processor_type: Option<String>,
    pub processor_tag: Option<String>,
}

impl<'a> Env<'a> {
    pub fn new(pipelines: &'a Registry) -> Self {
        Env {
            pipelines,
            stack: parking_lot::Mutex::new(Vec::new()),
            trace: None,
            origin: parking_lot::Mutex::new(None),
        }
    }
}

/// Compiled pipelines by id.
pub type Registry = HashMap<String, Arc<Pipeline>>;

/// The options every processor accepts (ConfigurationUtils / Processor.Factory).
pub struct Common {
    pub kind: &'static str,
    pub tag: Option<String>,
    pub description: Option<String>,
    pub condition: Option<script::Condition>,
    pub ignore_failure: bool,
    pub on_failure: Vec<Compiled>,
}

/// A processor with its common options.
pub struct Compiled {
    pub common: Common,
    pub inner: Box<dyn Processor>,
}

pub struct Pipeline {
    pub id: String,
    pub processors: Vec<Compiled>,
    pub on_failure: Vec<Compiled>,
}

/// Maximum nesting of processors inside processors (`foreach`, `on_failure`): a bound on the
/// recursion of the compiler.
const MAX_DEPTH: usize = 20;

/// `parse_exception` with the processor's headers, as ConfigurationUtils#newConfigurationException.
pub fn config_error(
    kind: &str,
    tag: Option<&str>,
    property: Option<&str>,
    reason: String,
) -> EsError {
    let mut e = EsError::new(400, "parse_exception", reason);
    if let Some(p) = property {
        e = e.with("property_name", p);
    }
    e = e.with("processor_type", kind);
    if let Some(t) = tag {
        e = e.with("processor_tag", t);
    }
    e
}

impl Pipeline {
    /// Compiles a pipeline definition (validation of `PUT /_ingest/pipeline/{id}`).
    pub fn compile(id: &str, body: &Value) -> EsResult<Pipeline> {
        let Some(obj) = body.as_object() else {
            return Err(EsError::parsing("pipeline definition must be an object"));
        };
        for k in obj.keys() {
            if !matches!(
                k.as_str(),
                "description" | "processors" | "on_failure" | "version" | "_meta" | "deprecated"
            ) {
                return Err(EsError::parsing(format!(
                    "pipeline [{id}] doesn't support one or more provided configuration parameters [{k}]"
                )));
            }
        }
        let processors = match obj.get("processors") {
            None => {
                return Err(config_error(
                    "pipeline",
                    None,
                    Some("processors"),
                    "[processors] required property is missing".into(),
                ));
            }
            Some(v) => compile_list(v, "processors", 0)?,
        };
        let on_failure = match obj.get("on_failure") {
            None => vec![],
            Some(v) => {
                let l = compile_list(v, "on_failure", 0)?;
                if l.is_empty() {
                    return Err(config_error(
                        "pipeline",
                        None,
                        Some("on_failure"),
                        "pipeline [".to_string()
                            + id
                            + "] cannot have an empty on-failure option defined",
                    ));
                }
                l
            }
        };
        Ok(Pipeline {
            id: id.to_string(),
            processors,
            on_failure,
        })
    }

    /// Runs the pipeline on `doc` (Pipeline#execute): its processors in order, and on a failure
    /// the pipeline's `on_failure` processors if it has any.
    pub fn run(&self, doc: &mut IngestDoc, env: &Env) -> EsResult<Flow> {
        {
            let mut stack = env.stack.lock();
            if stack.iter().any(|p| p == &self.id) {
                let mut chain = stack.clone();
                chain.push(self.id.clone());
                return Err(EsError::illegal_argument(format!(
                    "Cycle detected for pipeline: {}",
                    chain.last().cloned().unwrap_or_default()
                ))
                .with("pipeline_chain", chain.join(" -> ")));
            }
            stack.push(self.id.clone());
        }
        doc.pipelines.push(self.id.clone());
        let r = run_list(&self.processors, doc, env, None);
        let r = match r {
            Err(f) if !self.on_failure.is_empty() => {
                env.origin.lock().take();
                set_failure_meta(doc, &f);
                let r = run_list(&self.on_failure, doc, env, None);
                clear_failure_meta(doc);
                r
            }
            r => r,
        };
        env.stack.lock().pop();
        r.map_err(|f| f.error)
    }
}

/// A processor failure with the processor that failed (for `_ingest.on_failure_*`).
#[derive(Debug, Clone)]
pub struct Failure {
    pub error: EsError,
    pub processor_type: String,
    pub processor_tag: Option<String>,
    pub pipeline: Option<String>,
}

fn set_failure_meta(doc: &mut IngestDoc, f: &Failure) {
    doc.ingest
        .insert("on_failure_message".into(), json!(f.error.reason));
    doc.ingest
        .insert("on_failure_processor_type".into(), json!(f.processor_type));
    doc.ingest.insert(
        "on_failure_processor_tag".into(),
        f.processor_tag
            .clone()
            .map(Value::String)
            .unwrap_or(Value::Null),
    );
    if let Some(p) = &f.pipeline {
        doc.ingest.insert("on_failure_pipeline".into(), json!(p));
    }
}

fn clear_failure_meta(doc: &mut IngestDoc) {
    for k in [
        "on_failure_message",
        "on_failure_processor_type",
        "on_failure_processor_tag",
        "on_failure_pipeline",
    ] {
        doc.ingest.remove(k);
    }
}

/// Runs processors in order (CompoundProcessor#execute).
fn run_list(
    list: &[Compiled],
    doc: &mut IngestDoc,
    env: &Env,
    _parent: Option<&str>,
) -> Result<Flow, Failure> {
    for p in list {
        match run_one(p, doc, env) {
            Ok(Flow::Drop) => return Ok(Flow::Drop),
            Ok(Flow::Continue) => {}
            Err(f) => return Err(f),
        }
    }
    Ok(Flow::Continue)
}

fn run_one(p: &Compiled, doc: &mut IngestDoc, env: &Env) -> Result<Flow, Failure> {
    let c = &p.common;
    if let Some(cond) = &c.condition {
        match cond.test(doc) {
            Ok(true) => {}
            Ok(false) => {
                trace(env, c, doc, "skipped", None);
                return Ok(Flow::Continue);
            }
            Err(e) => {
                record_origin(env, c);
                return Err(failure(c, doc, e));
            }
        }
    }
    match p.inner.run(doc, env) {
        Ok(flow) => {
            trace(
                env,
                c,
                doc,
                if flow == Flow::Drop {
                    "dropped"
                } else {
                    "success"
                },
                None,
            );
            Ok(flow)
        }
        Err(e) if c.ignore_failure => {
            env.origin.lock().take();
            trace(env, c, doc, "error_ignored", Some(&e));
            Ok(Flow::Continue)
        }
        Err(e) => {
            let f = failure(c, doc, e);
            if c.on_failure.is_empty() {
                record_origin(env, c);
                trace(env, c, doc, "error", Some(&f.error));
                return Err(f);
            }
            env.origin.lock().take();
            trace(env, c, doc, "error", Some(&f.error));
            set_failure_meta(doc, &f);
            let r = run_list(&c.on_failure, doc, env, None);
            clear_failure_meta(doc);
            r
        }
    }
}

/// Notes the processor a failure leaves unhandled, unless a processor inside it (a `pipeline` or
/// `foreach` processor's) already did: the innermost one is reported, as Elasticsearch adds the
/// processor headers only once.
fn record_origin(env: &Env, c: &Common) {
    let mut o = env.origin.lock();
    if o.is_none() {
        *o = Some(FailureOrigin {
            pipeline_trace: env.stack.lock().clone(),
            processor_type: Some(c.kind.to_string()),
            processor_tag: c.tag.clone(),
        });
    }
}

fn failure(c: &Common, doc: &IngestDoc, error: EsError) -> Failure {
    Failure {
        error,
        processor_type: c.kind.to_string(),
        processor_tag: c.tag.clone(),
        pipeline: doc.pipelines.last().cloned(),
    }
}

/// One entry of `_simulate?verbose` (SimulateProcessorResult).
fn trace(env: &Env, c: &Common, doc: &IngestDoc, status: &str, error: Option<&EsError>) {
    let Some(t) = &env.trace else { return };
    // A `pipeline` processor's own entry is the one of the processors it ran.
    let mut v = Map::new();
    v.insert("processor_type".into(), json!(c.kind));
    v.insert("status".into(), json!(status));
    if let Some(d) = &c.description {
        v.insert("description".into(), json!(d));
    }
    if let Some(tag) = &c.tag {
        v.insert("tag".into(), json!(tag));
    }
    if let Some(cond) = &c.condition {
        v.insert(
            "if".into(),
            json!({"condition": cond.source, "result": status != "skipped"}),
        );
    }
    if let Some(e) = error {
        v.insert("error".into(), e.to_json()["error"].clone());
    }
    if status != "skipped" && status != "error" && status != "dropped" {
        v.insert("doc".into(), doc.simulate_json());
    }
    t.lock().push(Value::Object(v));
}

/// Compiles a list of processor definitions (`[{"set": {...}}, ...]`).
pub fn compile_list(v: &Value, what: &str, depth: usize) -> EsResult<Vec<Compiled>> {
    if depth > MAX_DEPTH {
        return Err(EsError::illegal_argument(format!(
            "processors nested deeper than {MAX_DEPTH} levels"
        )));
    }
    let Some(list) = v.as_array() else {
        return Err(config_error(
            "pipeline",
            None,
            Some(what),
            format!(
                "[{what}] property isn't a list, but of type [{}]",
                doc::java_type(v)
            ),
        ));
    };
    list.iter().map(|p| compile_one(p, depth)).collect()
}

/// Compiles one `{"<type>": {config}}` object.
pub fn compile_one(v: &Value, depth: usize) -> EsResult<Compiled> {
    let Some(obj) = v.as_object().filter(|o| o.len() == 1) else {
        return Err(EsError::parsing(
            "processor definition must be an object with exactly one processor type",
        ));
    };
    let (kind, conf) = obj.iter().next().expect("one entry");
    let conf = match conf {
        Value::Object(m) => m.clone(),
        // `"script": "source"` is accepted as the script's source (ConfigurationUtils#readProcessor).
        Value::String(s) if kind == "script" => {
            let mut m = Map::new();
            m.insert("source".into(), json!(s));
            m
        }
        other => {
            return Err(config_error(
                kind,
                None,
                None,
                format!(
                    "property isn't a map, but of type [{}]",
                    doc::java_type(other)
                ),
            ));
        }
    };
    let Some(kind) = KINDS.iter().copied().find(|k| *k == kind) else {
        return Err(config_error(
            kind,
            None,
            None,
            format!("No processor type exists with name [{kind}]"),
        ));
    };
    let mut c = Config::new(kind, conf);
    let tag = c.opt_str("tag")?;
    c.tag = tag.clone();
    let description = c.opt_str("description")?;
    let ignore_failure = c.bool_or("ignore_failure", false)?;
    let condition = match c.take("if") {
        None => None,
        Some(v) => Some(
            script::Condition::compile(&v)
                .map_err(|e| config_error(kind, tag.as_deref(), Some("if"), e.reason.clone()))?,
        ),
    };
    let on_failure = match c.take("on_failure") {
        None => vec![],
        Some(v) => {
            let l = compile_list(&v, "on_failure", depth + 1)?;
            if l.is_empty() {
                return Err(c.err("on_failure", "processors list cannot be empty".into()));
            }
            l
        }
    };
    let inner = build(kind, &mut c, depth)?;
    c.finish()?;
    Ok(Compiled {
        common: Common {
            kind,
            tag,
            description,
            condition,
            ignore_failure,
            on_failure,
        },
        inner,
    })
}

/// Every processor type this daemon knows. `geoip` and `user_agent` are known so that their
/// configuration errors are precise; they answer what they need.
pub const KINDS: &[&str] = &[
    "append",
    "bytes",
    "community_id",
    "convert",
    "csv",
    "date",
    "date_index_name",
    "dissect",
    "dot_expander",
    "drop",
    "fail",
    "fingerprint",
    "foreach",
    "geoip",
    "grok",
    "gsub",
    "html_strip",
    "join",
    "json",
    "kv",
    "lowercase",
    "network_direction",
    "pipeline",
    "redact",
    "registered_domain",
    "remove",
    "rename",
    "script",
    "set",
    "sort",
    "split",
    "trim",
    "uppercase",
    "uri_parts",
    "user_agent",
];

fn build(kind: &'static str, c: &mut Config, depth: usize) -> EsResult<Box<dyn Processor>> {
    if let Some(p) = fields::build(kind, c)? {
        return Ok(p);
    }
    if let Some(p) = parse::build(kind, c)? {
        return Ok(p);
    }
    if let Some(p) = logs::build(kind, c)? {
        return Ok(p);
    }
    if let Some(p) = useragent::build(kind, c)? {
        return Ok(p);
    }
    if let Some(p) = anon::build(kind, c)? {
        return Ok(p);
    }
    if let Some(p) = control::build(kind, c, depth)? {
        return Ok(p);
    }
    Err(config_error(
        kind,
        c.tag.as_deref(),
        None,
        format!("processor [{kind}] is not implemented by elastichouse"),
    ))
}

/// Compiles every stored pipeline definition; a definition that no longer compiles is left out
/// (a write naming it then answers that the pipeline does not exist, with the compile error).
pub fn registry(
    defs: &std::collections::BTreeMap<String, Value>,
) -> (Registry, HashMap<String, EsError>) {
    let mut ok = Registry::new();
    let mut bad = HashMap::new();
    for (id, body) in defs {
        match Pipeline::compile(id, body) {
            Ok(p) => {
                ok.insert(id.clone(), Arc::new(p));
            }
            Err(e) => {
                bad.insert(id.clone(), e);
            }
        }
    }
    (ok, bad)
}

/// `pipeline with id [x] does not exist` (IngestService#getPipeline callers).
pub fn missing_pipeline(id: &str) -> EsError {
    EsError::illegal_argument(format!("pipeline with id [{id}] does not exist"))
}

/// The outcome of running the pipelines of one write.
pub enum Outcome {
    /// Index this document (possibly re-routed: `doc.index` may differ).
    Index(IngestDoc),
    Drop,
}

/// Runs the request (or default) pipeline and then the final pipeline of the target index
/// (IngestService#executePipelines). `resolve_final` gives the final pipeline of an index name,
/// so a `_index` change re-routes to the new index's final pipeline (Elasticsearch does the
/// same; it does not run the new index's default pipeline).
pub fn execute(
    reg: &Registry,
    pipeline: Option<&str>,
    final_pipeline: Option<&str>,
    doc: IngestDoc,
) -> EsResult<Outcome> {
    execute_traced(reg, pipeline, final_pipeline, doc).map_err(|(e, _)| e)
}

/// [`execute`], telling on a failure where it happened (for the failure store).
pub fn execute_traced(
    reg: &Registry,
    pipeline: Option<&str>,
    final_pipeline: Option<&str>,
    mut doc: IngestDoc,
) -> Result<Outcome, (EsError, Option<FailureOrigin>)> {
    let env = Env::new(reg);
    for id in [pipeline, final_pipeline].into_iter().flatten() {
        if id == "_none" {
            continue;
        }
        let p = reg.get(id).ok_or_else(|| (missing_pipeline(id), None))?;
        match p.run(&mut doc, &env) {
            Ok(Flow::Drop) => return Ok(Outcome::Drop),
            Ok(Flow::Continue) => {}
            Err(e) => return Err((e, env.origin.lock().take())),
        }
    }
    Ok(Outcome::Index(doc))
}

#[cfg(test)]
mod tests;
