//! Painless in pipelines: the `if` condition of every processor and the `script` processor,
//! evaluated over `ctx` with the expression parser shared with search (`dsl::painless`).
//!
//! Conditions are one expression (`ctx.status == 'error' && ctx.bytes > 100`, with `?.`
//! null-safe access). Scripts are statements `ctx.a.b = <expression>;`. Anything else (loops,
//! `ctx['x']` indexing, method calls outside the list in [`call`]) is a clear error at
//! pipeline creation, never a silent approximation.

use super::doc::{IngestDoc, java_string};
use crate::dsl::painless::{self, PExpr, Stmt};
use crate::error::{EsError, EsResult};
use serde_json::{Map, Number, Value};

fn script_exception(source: &str, why: &str) -> EsError {
    EsError::new(400, "script_exception", "compile error")
        .with("script_stack", Value::Array(vec![]))
        .with("script", source)
        .with("lang", "painless")
        .caused_by(EsError::illegal_argument(why.to_string()))
}

/// `?.` reads like `.` here: a property of null is null (the evaluator is null-safe).
fn normalise(src: &str) -> String {
    src.replace("?.", ".")
}

fn parse_expr(src: &str) -> Result<PExpr, String> {
    let body = src.trim();
    let body = body.strip_prefix("return ").unwrap_or(body);
    let body = body.trim_end_matches(';').trim();
    match painless::parse(&format!("emit({});", normalise(body)))?.as_slice() {
        [Stmt::Emit(e)] => Ok(e.clone()),
        _ => Err("a condition must be one expression".into()),
    }
}

fn source_of(v: &Value) -> Result<(String, Map<String, Value>), String> {
    match v {
        Value::String(s) => Ok((s.clone(), Map::new())),
        Value::Object(m) => {
            if let Some(l) = m.get("lang").and_then(Value::as_str)
                && l != "painless"
            {
                return Err(format!("script language [{l}] is not supported"));
            }
            if m.contains_key("id") {
                return Err("stored scripts (script [id]) are not supported".into());
            }
            let s = m
                .get("source")
                .and_then(Value::as_str)
                .ok_or("script source is missing")?;
            let params = m
                .get("params")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            Ok((s.to_string(), params))
        }
        _ => Err("script must be a string or an object".into()),
    }
}

/// A processor's `if`.
pub struct Condition {
    pub source: String,
    expr: PExpr,
    params: Map<String, Value>,
}

impl Condition {
    pub fn compile(v: &Value) -> EsResult<Condition> {
        let (source, params) = source_of(v).map_err(|e| script_exception("", &e))?;
        let expr = parse_expr(&source).map_err(|e| script_exception(&source, &e))?;
        Ok(Condition {
            source,
            expr,
            params,
        })
    }

    pub fn test(&self, doc: &IngestDoc) -> EsResult<bool> {
        let v = eval(&self.expr, doc, &self.params, &Map::new())?;
        match v {
            Value::Bool(b) => Ok(b),
            other => Err(EsError::illegal_argument(format!(
                "condition [{}] returned [{}], not a boolean",
                self.source,
                java_string(&other)
            ))),
        }
    }
}

/// The `script` processor: assignments to `ctx` fields.
pub struct Script {
    source: String,
    stmts: Vec<(String, PExpr)>,
    params: Map<String, Value>,
}

impl Script {
    pub fn compile(v: &Value) -> EsResult<Script> {
        let (source, params) = source_of(v).map_err(|e| script_exception("", &e))?;
        let re = regex::Regex::new(r"(?s)^\s*ctx((?:\.[A-Za-z_@][A-Za-z0-9_@]*)+)\s*=\s*(.+?)\s*$")
            .expect("static regex");
        let mut stmts = Vec::new();
        for stmt in split_statements(&source) {
            if stmt.trim().is_empty() {
                continue;
            }
            let Some(c) = re.captures(&stmt) else {
                return Err(script_exception(
                    &source,
                    &format!(
                        "unsupported statement [{}] (scripts in pipelines may assign ctx fields: ctx.a = …;)",
                        stmt.trim()
                    ),
                ));
            };
            let path = c[1][1..].to_string();
            let e = parse_expr(&c[2]).map_err(|e| script_exception(&source, &e))?;
            stmts.push((path, e));
        }
        Ok(Script {
            source,
            stmts,
            params,
        })
    }

    pub fn run(&self, doc: &mut IngestDoc) -> EsResult<()> {
        let _ = &self.source;
        let locals = Map::new();
        for (path, e) in &self.stmts {
            let v = eval(e, doc, &self.params, &locals)?;
            doc.set(path, v)?;
        }
        Ok(())
    }
}

/// Splits on `;` outside string literals.
fn split_statements(src: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in src.chars() {
        match quote {
            Some(q) => {
                cur.push(c);
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None if c == ';' => out.push(std::mem::take(&mut cur)),
            None => {
                if c == '\'' || c == '"' {
                    quote = Some(c);
                }
                cur.push(c);
            }
        }
    }
    out.push(cur);
    out
}

/// The dotted `ctx` path an expression names (`ctx.a.b` → `a.b`).
fn ctx_path(e: &PExpr) -> Option<String> {
    match e {
        PExpr::Var(v) if v == "ctx" => Some(String::new()),
        PExpr::Prop(inner, name) => {
            let p = ctx_path(inner)?;
            Some(if p.is_empty() {
                name.clone()
            } else {
                format!("{p}.{name}")
            })
        }
        _ => None,
    }
}

fn num(f: f64) -> Value {
    Number::from_f64(f)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

pub(crate) fn truthy(v: &Value) -> EsResult<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        other => Err(EsError::illegal_argument(format!(
            "Cannot cast [{}] to boolean",
            java_string(other)
        ))),
    }
}

pub(crate) fn eval(
    e: &PExpr,
    doc: &IngestDoc,
    params: &Map<String, Value>,
    locals: &Map<String, Value>,
) -> EsResult<Value> {
    if let Some(p) = ctx_path(e) {
        if p.is_empty() {
            return Ok(Value::Object(doc.ctx.clone()));
        }
        // A missing field reads as null (Painless map access).
        return Ok(doc.find(&p).cloned().unwrap_or(Value::Null));
    }
    Ok(match e {
        PExpr::Long(n) => Value::Number((*n).into()),
        PExpr::Double(f) => num(*f),
        PExpr::Str(s) => Value::String(s.clone()),
        PExpr::Bool(b) => Value::Bool(*b),
        PExpr::Null => Value::Null,
        PExpr::Param(p) => params.get(p).cloned().unwrap_or(Value::Null),
        PExpr::Var(v) => locals
            .get(v)
            .cloned()
            .ok_or_else(|| EsError::illegal_argument(format!("cannot resolve symbol [{v}]")))?,
        PExpr::Doc(_) | PExpr::DocHas(_) => {
            return Err(EsError::illegal_argument(
                "doc[…] is not available in ingest scripts; use ctx",
            ));
        }
        PExpr::Prop(inner, name) => {
            let v = eval(inner, doc, params, locals)?;
            match v {
                Value::Object(m) => m.get(name).cloned().unwrap_or(Value::Null),
                Value::Null => Value::Null,
                Value::Array(a) if name == "length" => Value::Number(a.len().into()),
                other => {
                    return Err(EsError::illegal_argument(format!(
                        "cannot access [{name}] on [{}]",
                        java_string(&other)
                    )));
                }
            }
        }
        PExpr::Unary(op, inner) => {
            let v = eval(inner, doc, params, locals)?;
            match op {
                '!' => Value::Bool(!truthy(&v)?),
                '-' => match v {
                    Value::Number(n) if n.is_i64() => {
                        Value::Number((-n.as_i64().unwrap_or(0)).into())
                    }
                    Value::Number(n) => num(-n.as_f64().unwrap_or(0.0)),
                    o => {
                        return Err(EsError::illegal_argument(format!(
                            "cannot negate [{}]",
                            java_string(&o)
                        )));
                    }
                },
                _ => v,
            }
        }
        PExpr::Binary(op, l, r) => {
            if *op == "&&" {
                return Ok(Value::Bool(
                    truthy(&eval(l, doc, params, locals)?)?
                        && truthy(&eval(r, doc, params, locals)?)?,
                ));
            }
            if *op == "||" {
                return Ok(Value::Bool(
                    truthy(&eval(l, doc, params, locals)?)?
                        || truthy(&eval(r, doc, params, locals)?)?,
                ));
            }
            let a = eval(l, doc, params, locals)?;
            let b = eval(r, doc, params, locals)?;
            binary(op, &a, &b)?
        }
        PExpr::Cond(c, a, b) => {
            if truthy(&eval(c, doc, params, locals)?)? {
                eval(a, doc, params, locals)?
            } else {
                eval(b, doc, params, locals)?
            }
        }
        PExpr::Cast(t, inner) => {
            let v = eval(inner, doc, params, locals)?;
            match t.as_str() {
                "long" | "int" | "short" | "byte" => match v.as_f64() {
                    Some(f) => Value::Number((f as i64).into()),
                    None => v,
                },
                "double" | "float" => v.as_f64().map(num).unwrap_or(v),
                _ => v,
            }
        }
        PExpr::Call(target, m, args) => {
            let t = eval(target, doc, params, locals)?;
            let args: Vec<Value> = args
                .iter()
                .map(|a| eval(a, doc, params, locals))
                .collect::<EsResult<_>>()?;
            call(&t, m, &args)?
        }
        PExpr::Static(class, m, args) => {
            let args: Vec<Value> = args
                .iter()
                .map(|a| eval(a, doc, params, locals))
                .collect::<EsResult<_>>()?;
            match (class.as_str(), m.as_str(), args.as_slice()) {
                ("String", "valueOf", [v]) => Value::String(java_string(v)),
                ("Math", "max", [a, b]) => {
                    num(a.as_f64().unwrap_or(0.0).max(b.as_f64().unwrap_or(0.0)))
                }
                ("Math", "min", [a, b]) => {
                    num(a.as_f64().unwrap_or(0.0).min(b.as_f64().unwrap_or(0.0)))
                }
                ("Math", "abs", [a]) => num(a.as_f64().unwrap_or(0.0).abs()),
                ("Integer" | "Long", "parseInt" | "parseLong", [Value::String(s)]) => {
                    Value::Number(
                        s.trim()
                            .parse::<i64>()
                            .map_err(|_| {
                                EsError::illegal_argument(format!("For input string: \"{s}\""))
                            })?
                            .into(),
                    )
                }
                ("Double", "parseDouble", [Value::String(s)]) => {
                    num(s.trim().parse::<f64>().map_err(|_| {
                        EsError::illegal_argument(format!("For input string: \"{s}\""))
                    })?)
                }
                _ => {
                    return Err(EsError::illegal_argument(format!(
                        "method [{class}.{m}] is not supported in ingest scripts"
                    )));
                }
            }
        }
    })
}

fn binary(op: &str, a: &Value, b: &Value) -> EsResult<Value> {
    let both_int = a.is_i64() && b.is_i64();
    let (x, y) = (a.as_f64(), b.as_f64());
    Ok(match op {
        "==" => Value::Bool(loose_eq(a, b)),
        "!=" => Value::Bool(!loose_eq(a, b)),
        "<" | ">" | "<=" | ">=" => {
            let ord = match (x, y, a, b) {
                (Some(x), Some(y), _, _) => x.partial_cmp(&y),
                (_, _, Value::String(p), Value::String(q)) => Some(p.cmp(q)),
                _ => {
                    return Err(EsError::illegal_argument(format!(
                        "cannot compare [{}] and [{}]",
                        java_string(a),
                        java_string(b)
                    )));
                }
            };
            let Some(ord) = ord else {
                return Ok(Value::Bool(false));
            };
            Value::Bool(match op {
                "<" => ord.is_lt(),
                ">" => ord.is_gt(),
                "<=" => ord.is_le(),
                _ => ord.is_ge(),
            })
        }
        "+" if a.is_string() || b.is_string() => Value::String(java_string(a) + &java_string(b)),
        "+" | "-" | "*" | "/" | "%" => {
            let (Some(x), Some(y)) = (x, y) else {
                return Err(EsError::illegal_argument(format!(
                    "cannot apply [{op}] to [{}] and [{}]",
                    java_string(a),
                    java_string(b)
                )));
            };
            if both_int {
                let (p, q) = (a.as_i64().unwrap_or(0), b.as_i64().unwrap_or(0));
                if (op == "/" || op == "%") && q == 0 {
                    return Err(EsError::new(400, "arithmetic_exception", "/ by zero"));
                }
                Value::Number(
                    match op {
                        "+" => p.wrapping_add(q),
                        "-" => p.wrapping_sub(q),
                        "*" => p.wrapping_mul(q),
                        "/" => p / q,
                        _ => p % q,
                    }
                    .into(),
                )
            } else {
                num(match op {
                    "+" => x + y,
                    "-" => x - y,
                    "*" => x * y,
                    "/" => x / y,
                    _ => x % y,
                })
            }
        }
        other => {
            return Err(EsError::illegal_argument(format!(
                "operator [{other}] is not supported in ingest scripts"
            )));
        }
    })
}

fn loose_eq(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// The instance methods scripts may call.
fn call(t: &Value, m: &str, args: &[Value]) -> EsResult<Value> {
    let s = t.as_str();
    let arg_str = |i: usize| args.get(i).and_then(Value::as_str).unwrap_or_default();
    Ok(match (m, t) {
        ("contains", Value::String(x)) => Value::Bool(x.contains(arg_str(0))),
        ("contains", Value::Array(a)) => Value::Bool(args.first().is_some_and(|v| a.contains(v))),
        ("containsKey", Value::Object(o)) => Value::Bool(o.contains_key(arg_str(0))),
        ("startsWith", _) if s.is_some() => {
            Value::Bool(s.unwrap_or_default().starts_with(arg_str(0)))
        }
        ("endsWith", _) if s.is_some() => Value::Bool(s.unwrap_or_default().ends_with(arg_str(0))),
        ("toLowerCase", _) if s.is_some() => Value::String(s.unwrap_or_default().to_lowercase()),
        ("toUpperCase", _) if s.is_some() => Value::String(s.unwrap_or_default().to_uppercase()),
        ("trim", _) if s.is_some() => Value::String(s.unwrap_or_default().trim().to_string()),
        ("length", Value::String(x)) => Value::Number(x.chars().count().into()),
        ("size", Value::Array(a)) => Value::Number(a.len().into()),
        ("size", Value::Object(o)) => Value::Number(o.len().into()),
        ("isEmpty", Value::String(x)) => Value::Bool(x.is_empty()),
        ("isEmpty", Value::Array(a)) => Value::Bool(a.is_empty()),
        ("isEmpty", Value::Object(o)) => Value::Bool(o.is_empty()),
        ("equals", _) => Value::Bool(args.first().is_some_and(|v| loose_eq(t, v))),
        ("toString", _) => Value::String(java_string(t)),
        ("get", Value::Object(o)) => o.get(arg_str(0)).cloned().unwrap_or(Value::Null),
        ("get", Value::Array(a)) => args
            .first()
            .and_then(Value::as_u64)
            .and_then(|i| a.get(i as usize))
            .cloned()
            .unwrap_or(Value::Null),
        (_, Value::Null) => {
            return Err(EsError::new(
                400,
                "null_pointer_exception",
                format!("Cannot invoke \"Object.{m}()\" because value is null"),
            ));
        }
        _ => {
            return Err(EsError::illegal_argument(format!(
                "dynamic method [{m}] not found for [{}]",
                java_string(t)
            )));
        }
    })
}
