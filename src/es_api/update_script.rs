//! Update scripts (`_update_by_query`, `_reindex`): the Painless subset of `dsl::painless`
//! evaluated on each document's `ctx` (`_source`, `op`, `_id`, `_index`, `_version`, …), with
//! the expression evaluator of pipeline scripts (`ingest::pipeline::script::eval`).
//!
//! Statements: `ctx._source.f = e;`, `ctx['_source']['f'] = e;`, `+=`, `-=`, `++`, `--`,
//! `ctx.op = 'noop' | 'delete' | 'index';`, `ctx._source.remove('f');`, `ctx._source.list.add(x);`,
//! `ctx._source.map.put(k, v);`, local variables, `if/else` and `return;`. Anything else is a
//! `script_exception` naming what is outside the subset (Painless's "compile error").
//! Reference: docs-update-by-query.html ("Modify documents"), painless-update-by-query-context.html,
//! painless-reindex-context.html.

use crate::dsl::painless::{self, PExpr, Stmt};
use crate::error::{EsError, EsResult};
use crate::ingest::pipeline::doc::{IngestDoc, java_string};
use crate::ingest::pipeline::script::{eval, truthy};
use serde_json::{Map, Value};

/// Elasticsearch's answer to a script outside the subset (ScriptException, "compile error").
pub fn compile_error(source: &str, why: &str) -> EsError {
    EsError::new(400, "script_exception", "compile error")
        .with(
            "script_stack",
            Value::Array(vec![Value::String(source.into())]),
        )
        .with("script", source)
        .with("lang", "painless")
        .caused_by(EsError::illegal_argument(why.to_string()))
}

/// A runtime failure of a script on one document (ScriptException, "runtime error").
fn runtime_error(source: &str, cause: EsError) -> EsError {
    EsError::new(400, "script_exception", "runtime error")
        .with("script_stack", Value::Array(vec![]))
        .with("script", source)
        .with("lang", "painless")
        .caused_by(cause)
}

#[derive(Debug, Clone)]
pub struct UpdateScript {
    pub source: String,
    stmts: Vec<Stmt>,
    params: Map<String, Value>,
}

/// What the script decided for the document (`ctx.op`).
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Index,
    Noop,
    Delete,
}

impl UpdateScript {
    /// A script given as a string or `{source, params, lang}`.
    pub fn compile(v: &Value) -> EsResult<UpdateScript> {
        let (source, params) = match v {
            Value::String(s) => (s.clone(), Map::new()),
            Value::Object(m) => {
                if let Some(l) = m.get("lang").and_then(Value::as_str)
                    && l != "painless"
                {
                    return Err(EsError::illegal_argument(format!(
                        "script_lang not supported [{l}]"
                    )));
                }
                if m.contains_key("id") {
                    return Err(EsError::unsupported("stored scripts (script [id])"));
                }
                for k in m.keys() {
                    if !["source", "params", "lang", "options"].contains(&k.as_str()) {
                        return Err(EsError::parsing(format!("[script] unknown field [{k}]")));
                    }
                }
                let s = m
                    .get("source")
                    .or_else(|| m.get("inline"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| EsError::parsing("must specify either [source] for an inline script or [id] for a stored script"))?;
                let params = m
                    .get("params")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                (s.to_string(), params)
            }
            _ => return Err(EsError::parsing("[script] must be a string or an object")),
        };
        let stmts = painless::parse(&source.replace("?.", "."))
            .map_err(|why| compile_error(&source, &why))?;
        check(&stmts).map_err(|why| compile_error(&source, &why))?;
        let stmts = stmts.iter().map(rename_stmt).collect();
        Ok(UpdateScript {
            source,
            stmts,
            params,
        })
    }

    /// Runs the script on `ctx` (`_source` under [`SOURCE_KEY`]) and returns `ctx.op` (`index`
    /// unless the script changed it) with the resulting `ctx`.
    pub fn run(&self, ctx: Map<String, Value>) -> EsResult<(Op, Map<String, Value>)> {
        let mut doc = IngestDoc {
            ctx,
            ingest: Map::new(),
            pipelines: Vec::new(),
        };
        let mut locals = Map::new();
        self.block(&self.stmts, &mut doc, &mut locals)
            .map_err(|e| runtime_error(&self.source, e))?;
        let op = match doc.ctx.get("op") {
            None => Op::Index,
            Some(Value::String(s)) => match s.as_str() {
                "index" => Op::Index,
                "noop" | "none" => Op::Noop,
                "delete" => Op::Delete,
                other => {
                    return Err(EsError::illegal_argument(format!(
                        "Operation type [{other}] not allowed, only [noop, index, delete] are allowed"
                    )));
                }
            },
            Some(other) => {
                return Err(EsError::illegal_argument(format!(
                    "Operation type [{}] not allowed, only [noop, index, delete] are allowed",
                    java_string(other)
                )));
            }
        };
        Ok((op, doc.ctx))
    }

    /// Returns `false` after `return;`.
    fn block(
        &self,
        stmts: &[Stmt],
        doc: &mut IngestDoc,
        locals: &mut Map<String, Value>,
    ) -> EsResult<bool> {
        for s in stmts {
            match s {
                Stmt::Return => return Ok(false),
                Stmt::Let(name, e) => {
                    let v = eval(e, doc, &self.params, locals)?;
                    locals.insert(name.clone(), v);
                }
                Stmt::If(c, then, els) => {
                    let c = truthy(&eval(c, doc, &self.params, locals)?)?;
                    if !self.block(if c { then } else { els }, doc, locals)? {
                        return Ok(false);
                    }
                }
                Stmt::Assign(target, e) => {
                    let v = eval(e, doc, &self.params, locals)?;
                    let path = ctx_path(target).ok_or_else(|| {
                        EsError::illegal_argument("assignments may only change ctx")
                    })?;
                    *slot(&mut doc.ctx, &path)? = v;
                }
                Stmt::Call(PExpr::Call(target, m, args)) if painless::ctx_rooted(target) => {
                    let args: Vec<Value> = args
                        .iter()
                        .map(|a| eval(a, doc, &self.params, locals))
                        .collect::<EsResult<_>>()?;
                    let path = ctx_path(target).unwrap_or_default();
                    mutate(&mut doc.ctx, &path, m, &args)?;
                }
                Stmt::Call(e) => {
                    eval(e, doc, &self.params, locals)?;
                }
                Stmt::Emit(_) => {
                    return Err(EsError::illegal_argument(
                        "emit belongs to runtime field scripts",
                    ));
                }
            }
        }
        Ok(true)
    }
}

/// The key `ctx._source` is kept under while the script runs. The shared evaluator reads a
/// `_source.`-prefixed path as the top level of an ingest document (ingest's `ctx` *is* the
/// source); an update script's `ctx` holds the source one level down, so its `_source` is
/// renamed to a key no script can spell.
pub const SOURCE_KEY: &str = "\u{1}source";

fn rename(e: &PExpr) -> PExpr {
    let b = |x: &PExpr| Box::new(rename(x));
    let all = |xs: &[PExpr]| xs.iter().map(rename).collect::<Vec<_>>();
    match e {
        PExpr::Prop(inner, name)
            if matches!(inner.as_ref(), PExpr::Var(v) if v == "ctx") && name == "_source" =>
        {
            PExpr::Prop(inner.clone(), SOURCE_KEY.into())
        }
        PExpr::Prop(inner, name) => PExpr::Prop(b(inner), name.clone()),
        PExpr::Unary(op, x) => PExpr::Unary(*op, b(x)),
        PExpr::Binary(op, x, y) => PExpr::Binary(op, b(x), b(y)),
        PExpr::Call(t, m, args) => PExpr::Call(b(t), m.clone(), all(args)),
        PExpr::Static(c, m, args) => PExpr::Static(c.clone(), m.clone(), all(args)),
        PExpr::Cast(t, x) => PExpr::Cast(t.clone(), b(x)),
        PExpr::Cond(c, x, y) => PExpr::Cond(b(c), b(x), b(y)),
        other => other.clone(),
    }
}

fn rename_stmt(s: &Stmt) -> Stmt {
    let all = |xs: &[Stmt]| xs.iter().map(rename_stmt).collect::<Vec<_>>();
    match s {
        Stmt::Emit(e) => Stmt::Emit(rename(e)),
        Stmt::If(c, a, b) => Stmt::If(rename(c), all(a), all(b)),
        Stmt::Return => Stmt::Return,
        Stmt::Let(n, e) => Stmt::Let(n.clone(), rename(e)),
        Stmt::Assign(t, e) => Stmt::Assign(rename(t), rename(e)),
        Stmt::Call(e) => Stmt::Call(rename(e)),
    }
}

/// What the evaluator cannot do, found before any document is touched.
fn check(stmts: &[Stmt]) -> Result<(), String> {
    for s in stmts {
        match s {
            Stmt::Emit(_) => return Err("emit belongs to runtime field scripts".into()),
            Stmt::If(_, a, b) => {
                check(a)?;
                check(b)?;
            }
            Stmt::Assign(target, _) => {
                let path = ctx_path(target).unwrap_or_default();
                match path.first().map(String::as_str) {
                    Some("_source") if path.len() > 1 => {}
                    Some("op") if path.len() == 1 => {}
                    Some("_source") => return Err("ctx._source cannot be replaced".into()),
                    Some(f @ ("_id" | "_index" | "_routing" | "_version" | "_seq_no")) => {
                        return Err(format!("modifying [{f}] is not supported"));
                    }
                    _ => return Err(format!("assignment to [ctx.{}]", path.join("."))),
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn ctx_path(e: &PExpr) -> Option<Vec<String>> {
    match e {
        PExpr::Var(v) if v == "ctx" => Some(vec![]),
        PExpr::Prop(inner, name) => {
            let mut p = ctx_path(inner)?;
            p.push(name.clone());
            Some(p)
        }
        _ => None,
    }
}

fn null_pointer(path: &[String]) -> EsError {
    EsError::new(
        400,
        "null_pointer_exception",
        format!("Cannot store to [ctx.{}]: a parent is null", path.join(".")),
    )
}

/// The place `ctx.<path>` names, its last key inserted as null if absent (map store).
fn slot<'a>(ctx: &'a mut Map<String, Value>, path: &[String]) -> EsResult<&'a mut Value> {
    let (last, parents) = path.split_last().ok_or_else(|| null_pointer(path))?;
    let mut cur = ctx;
    for p in parents {
        cur = match cur.get_mut(p) {
            Some(Value::Object(m)) => m,
            _ => return Err(null_pointer(path)),
        };
    }
    Ok(cur.entry(last.clone()).or_insert(Value::Null))
}

/// `remove`, `add`, `put`, `clear` on a map or list in `ctx`.
fn mutate(ctx: &mut Map<String, Value>, path: &[String], m: &str, args: &[Value]) -> EsResult<()> {
    let target = if path.is_empty() {
        return Err(EsError::illegal_argument(format!(
            "method [{m}] on ctx is not supported"
        )));
    } else {
        slot(ctx, path)?
    };
    match (m, target, args) {
        ("remove", Value::Object(o), [k]) => {
            o.remove(&java_string(k));
        }
        ("remove", Value::Array(a), [Value::Number(i)]) => {
            let i = i.as_u64().unwrap_or(u64::MAX) as usize;
            if i >= a.len() {
                return Err(EsError::new(
                    400,
                    "index_out_of_bounds_exception",
                    format!("Index {i} out of bounds for length {}", a.len()),
                ));
            }
            a.remove(i);
        }
        ("add", Value::Array(a), [v]) => a.push(v.clone()),
        ("addAll", Value::Array(a), [Value::Array(b)]) => a.extend(b.iter().cloned()),
        ("put", Value::Object(o), [k, v]) => {
            o.insert(java_string(k), v.clone());
        }
        ("clear", Value::Object(o), []) => o.clear(),
        ("clear", Value::Array(a), []) => a.clear(),
        (_, Value::Null, _) => {
            return Err(EsError::new(
                400,
                "null_pointer_exception",
                format!(
                    "Cannot invoke \"{m}\" because \"ctx.{}\" is null",
                    path.join(".")
                ),
            ));
        }
        (m, other, _) => {
            return Err(EsError::illegal_argument(format!(
                "dynamic method [{m}/{}] not found for [{}]",
                args.len(),
                java_string(other)
            )));
        }
    }
    Ok(())
}
