//! Runtime fields (`runtime_mappings` of a search, the mapping's `runtime` section): each becomes one
//! SQL expression over the document's columns, NULL when the script emits nothing, so a runtime
//! field resolves through [`super::fields::resolve`] like a column and works in queries, sorts,
//! `fields` and aggregations alike.
//!
//! Elasticsearch: runtime-search-request.html ("Define runtime fields in a search request"),
//! runtime-mapping-fields.html (scripts with `emit`, no script = read `_source`), and
//! runtime-retrieving-fields.html. Queries on runtime fields score a constant (their boost), as
//! the script-based queries (`StringScriptFieldTermQuery`, …) do.
//!
//! Differences, documented in docs/search.md: `doc['f'].value` on a document without a value
//! yields no value (Elasticsearch fails the search with a script exception); a script emits at
//! most one value; script-less fields read `_source` objects (`{"a":{"b":1}}`), not dotted keys or
//! arrays.

use super::fields::{EsKind, Field};
use crate::catalog::IndexMeta;
use crate::dsl::painless::{self, PExpr, RuntimeField, Stmt};
use crate::error::EsError;
use crate::sql::{self, ChType, Expr};
use serde_json::Value;
use std::collections::HashMap;

/// Painless value types the translation distinguishes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ty {
    Long,
    Double,
    Str,
    Bool,
    /// A ZonedDateTime (doc values of date fields), as DateTime64(3 or 9, 'UTC').
    Date,
    Null,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::Long => "long",
            Ty::Double => "double",
            Ty::Str => "String",
            Ty::Bool => "boolean",
            Ty::Date => "ZonedDateTime",
            Ty::Null => "null",
        }
    }
}

#[derive(Clone)]
enum V {
    Val(Expr, Ty),
    /// `doc['f']`: the field (None: mapped without values yet) and its name.
    Doc(Option<Box<Field>>, String),
}

struct Tr<'a> {
    meta: &'a IndexMeta,
    def: &'a RuntimeField,
    depth: usize,
}

type R<T> = Result<T, String>;

fn val(v: V) -> R<(Expr, Ty)> {
    match v {
        V::Val(e, t) => Ok((e, t)),
        V::Doc(_, f) => Err(format!("doc['{f}'] used as a value (use doc['{f}'].value)")),
    }
}

fn to_str(e: Expr, t: Ty) -> R<Expr> {
    Ok(match t {
        Ty::Str => e,
        Ty::Long => Expr::func("toString", vec![e]),
        // Java's Double.toString keeps ".0" on whole numbers.
        Ty::Double => Expr::func(
            "if",
            vec![
                Expr::func("isFinite", vec![e.clone()])
                    .and(e.clone().eq(Expr::func("floor", vec![e.clone()])))
                    .and(Expr::func("abs", vec![e.clone()]).lt(sql::lit(1e7))),
                Expr::func(
                    "concat",
                    vec![
                        Expr::func("toString", vec![Expr::func("toInt64", vec![e.clone()])]),
                        sql::lit(".0"),
                    ],
                ),
                Expr::func("toString", vec![e]),
            ],
        ),
        Ty::Bool => Expr::func("if", vec![e, sql::lit("true"), sql::lit("false")]),
        Ty::Null => sql::lit("null"),
        Ty::Date => return Err("string concatenation of a date".into()),
    })
}

fn numeric(t: Ty) -> bool {
    matches!(t, Ty::Long | Ty::Double)
}

impl Tr<'_> {
    fn doc(&self, name: &str) -> R<V> {
        if self.depth > 8 {
            return Err("runtime fields referring to each other too deeply".into());
        }
        let f = if self.meta.mappings.runtime.contains_key(name) {
            if name == self.def.name {
                return Err(format!("runtime field [{name}] refers to itself"));
            }
            resolve_at(self.meta, name, self.depth + 1).map_err(|e| e.reason.clone())?
        } else {
            super::fields::resolve_mapped(self.meta, name)
        };
        if f.is_none() && !super::fields::is_mapped(self.meta, name) {
            return Err(format!("No field found for [{name}] in mapping"));
        }
        if let Some(f) = &f
            && f.kind == EsKind::Text
        {
            return Err(format!(
                "doc['{name}'] on a text field (Text fields are not optimised for operations that require per-document field data)"
            ));
        }
        Ok(V::Doc(f.map(Box::new), name.to_string()))
    }

    /// `doc['f'].value`: the first (smallest) doc value, NULL when there is none.
    fn doc_value(&self, f: &Option<Box<Field>>, name: &str) -> R<(Expr, Ty)> {
        let Some(f) = f else {
            let ty = self
                .meta
                .mappings
                .field(name)
                .map(|i| EsKind::from_type(&i.es_type))
                .map(kind_ty)
                .unwrap_or(Ty::Str);
            return Ok((sql::null(), ty));
        };
        if let Some(c) = &f.constant_value {
            return Ok((sql::lit(c.as_str()), Ty::Str));
        }
        let mut e = f.column_expr();
        if f.is_array {
            e = Expr::func(
                "if",
                vec![
                    Expr::func("empty", vec![e.clone()]),
                    sql::null(),
                    Expr::func("arrayMin", vec![e]),
                ],
            );
        }
        let ty = kind_ty(f.kind);
        let e = match f.kind {
            EsKind::Date => Expr::func("toDateTime64", vec![e, sql::lit(3u64), sql::lit("UTC")]),
            EsKind::DateNanos => {
                Expr::func("toDateTime64", vec![e, sql::lit(9u64), sql::lit("UTC")])
            }
            EsKind::Ip => Expr::func(
                "replaceRegexpOne",
                vec![
                    Expr::func("toString", vec![e]),
                    sql::lit("^::ffff:([0-9.]+)$"),
                    sql::lit("\\1"),
                ],
            ),
            EsKind::Boolean => Expr::func("toBool", vec![e]),
            k if k.is_integer() => Expr::func("toInt64", vec![e]),
            k if k.is_numeric() => Expr::func("toFloat64", vec![e]),
            EsKind::Keyword | EsKind::Wildcard | EsKind::Other => e,
            _ => return Err(format!("doc['{name}'] on a field of type [{}]", f.es_type)),
        };
        Ok((e, ty))
    }

    fn doc_size(&self, f: &Option<Box<Field>>) -> Expr {
        match f {
            None => sql::lit(0i64),
            Some(f) if f.constant_value.is_some() => sql::lit(1i64),
            Some(f) if f.is_array => {
                Expr::func("toInt64", vec![Expr::func("length", vec![f.column_expr()])])
            }
            Some(f) => Expr::func("toInt64", vec![f.column_expr().is_not_null()]),
        }
    }

    fn expr(&self, e: &PExpr, env: &HashMap<String, V>) -> R<V> {
        let v = |e, t| Ok(V::Val(e, t));
        match e {
            PExpr::Long(n) => v(sql::lit(*n), Ty::Long),
            PExpr::Double(n) => v(sql::lit(*n), Ty::Double),
            PExpr::Str(s) => v(sql::lit(s.as_str()), Ty::Str),
            PExpr::Bool(b) => v(sql::lit(*b), Ty::Bool),
            PExpr::Null => v(sql::null(), Ty::Null),
            PExpr::Doc(f) => self.doc(f),
            // LeafDocLookup#containsKey: the field is mapped (values or not).
            PExpr::DocHas(f) => v(
                sql::lit(
                    super::fields::is_mapped(self.meta, f)
                        || self.meta.mappings.runtime.contains_key(f),
                ),
                Ty::Bool,
            ),
            PExpr::Var(name) => env
                .get(name)
                .cloned()
                .ok_or_else(|| format!("variable [{name}] is not defined")),
            PExpr::Param(name) => match self.def.params.get(name) {
                Some(Value::String(s)) => v(sql::lit(s.as_str()), Ty::Str),
                Some(Value::Bool(b)) => v(sql::lit(*b), Ty::Bool),
                Some(Value::Number(n)) if n.is_i64() => {
                    v(sql::lit(n.as_i64().unwrap_or(0)), Ty::Long)
                }
                Some(Value::Number(n)) => v(sql::lit(n.as_f64().unwrap_or(0.0)), Ty::Double),
                Some(Value::Null) => v(sql::null(), Ty::Null),
                Some(_) => Err(format!("params.{name} is not a scalar")),
                None => v(sql::null(), Ty::Null),
            },
            PExpr::Prop(target, name) => {
                let t = self.expr(target, env)?;
                match (t, name.as_str()) {
                    (V::Doc(f, n), "value") => {
                        let (e, t) = self.doc_value(&f, &n)?;
                        v(e, t)
                    }
                    (V::Doc(f, _), "empty") => v(self.doc_size(&f).eq(sql::lit(0i64)), Ty::Bool),
                    (V::Val(e, Ty::Date), p) => self.date_part(e, p),
                    (_, p) => Err(format!("property [{p}]")),
                }
            }
            PExpr::Call(target, name, args) => {
                let t = self.expr(target, env)?;
                let mut a = Vec::new();
                for x in args {
                    a.push(val(self.expr(x, env)?)?);
                }
                self.call(t, name, a)
            }
            PExpr::Static(class, name, args) => {
                let mut a = Vec::new();
                for x in args {
                    a.push(val(self.expr(x, env)?)?);
                }
                self.static_call(class, name, a)
            }
            PExpr::Cast(ty, x) => {
                let (e, t) = val(self.expr(x, env)?)?;
                match (ty.as_str(), t) {
                    ("long" | "int" | "short" | "byte", Ty::Long | Ty::Double) => {
                        v(Expr::func("toInt64", vec![e]), Ty::Long)
                    }
                    ("double" | "float", Ty::Long | Ty::Double) => {
                        v(Expr::func("toFloat64", vec![e]), Ty::Double)
                    }
                    ("String", Ty::Str) | ("boolean", Ty::Bool) | ("def", _) => v(e, t),
                    (to, from) => Err(format!("Cannot cast from [{}] to [{to}]", from.name())),
                }
            }
            PExpr::Unary(op, x) => {
                let (e, t) = val(self.expr(x, env)?)?;
                match (op, t) {
                    ('!', Ty::Bool) => v(e.not(), Ty::Bool),
                    ('-', Ty::Long | Ty::Double) => v(Expr::Neg(Box::new(e)), t),
                    (op, t) => Err(format!("operator [{op}] on a {}", t.name())),
                }
            }
            PExpr::Cond(c, a, b) => {
                let (c, ct) = val(self.expr(c, env)?)?;
                if ct != Ty::Bool {
                    return Err("a condition that is not a boolean".into());
                }
                let (a, at) = val(self.expr(a, env)?)?;
                let (b, bt) = val(self.expr(b, env)?)?;
                let ty = unify(at, bt)?;
                v(Expr::func("if", vec![c, a, b]), ty)
            }
            PExpr::Binary(op, a, b) => {
                let (l, lt) = val(self.expr(a, env)?)?;
                let (r, rt) = val(self.expr(b, env)?)?;
                self.binary(op, l, lt, r, rt)
            }
        }
    }

    fn binary(&self, op: &str, l: Expr, lt: Ty, r: Expr, rt: Ty) -> R<V> {
        let num_ty = if lt == Ty::Double || rt == Ty::Double {
            Ty::Double
        } else {
            Ty::Long
        };
        let both_num = numeric(lt) && numeric(rt);
        Ok(match op {
            "+" if lt == Ty::Str || rt == Ty::Str => V::Val(
                Expr::func("concat", vec![to_str(l, lt)?, to_str(r, rt)?]),
                Ty::Str,
            ),
            "+" | "-" | "*" | "%" if both_num => {
                let f = match op {
                    "+" => "plus",
                    "-" => "minus",
                    "*" => "multiply",
                    _ => "modulo",
                };
                let e = Expr::func(f, vec![l, r]);
                V::Val(
                    if num_ty == Ty::Long {
                        Expr::func("toInt64", vec![e])
                    } else {
                        Expr::func("toFloat64", vec![e])
                    },
                    num_ty,
                )
            }
            // Java: integer division truncates toward zero (ClickHouse intDiv does too).
            "/" if both_num && num_ty == Ty::Long => {
                V::Val(Expr::func("intDiv", vec![l, r]), Ty::Long)
            }
            "/" if both_num => V::Val(
                Expr::func("divide", vec![Expr::func("toFloat64", vec![l]), r]),
                Ty::Double,
            ),
            "==" | "!=" | "<" | "<=" | ">" | ">=" => {
                let comparable = both_num || lt == rt || lt == Ty::Null || rt == Ty::Null;
                if !comparable {
                    return Err(format!(
                        "comparison of a {} with a {}",
                        lt.name(),
                        rt.name()
                    ));
                }
                if lt == Ty::Null || rt == Ty::Null {
                    // `x == null`: whether the value is missing.
                    let x = if lt == Ty::Null { r } else { l };
                    let e = match op {
                        "==" => x.is_null(),
                        "!=" => x.is_not_null(),
                        _ => return Err("ordering comparison with null".into()),
                    };
                    return Ok(V::Val(e, Ty::Bool));
                }
                let e = match op {
                    "==" => l.eq(r),
                    "!=" => l.ne(r),
                    "<" => l.lt(r),
                    "<=" => l.lte(r),
                    ">" => l.gt(r),
                    _ => l.gte(r),
                };
                V::Val(e, Ty::Bool)
            }
            "&&" | "||" if lt == Ty::Bool && rt == Ty::Bool => {
                V::Val(if op == "&&" { l.and(r) } else { l.or(r) }, Ty::Bool)
            }
            _ => {
                return Err(format!(
                    "operator [{op}] on a {} and a {}",
                    lt.name(),
                    rt.name()
                ));
            }
        })
    }

    fn date_part(&self, e: Expr, p: &str) -> R<V> {
        let f = match p {
            "year" => "toYear",
            "monthValue" => "toMonth",
            "dayOfMonth" => "toDayOfMonth",
            "dayOfYear" => "toDayOfYear",
            "hour" => "toHour",
            "minute" => "toMinute",
            "second" => "toSecond",
            "millis" => {
                return Ok(V::Val(
                    Expr::func("toUnixTimestamp64Milli", vec![e]),
                    Ty::Long,
                ));
            }
            other => return Err(format!("date property [{other}]")),
        };
        Ok(V::Val(
            Expr::func("toInt64", vec![Expr::func(f, vec![e])]),
            Ty::Long,
        ))
    }

    fn call(&self, t: V, name: &str, args: Vec<(Expr, Ty)>) -> R<V> {
        let (e, ty) = match t {
            V::Doc(f, n) => {
                return match (name, args.len()) {
                    ("size", 0) => Ok(V::Val(self.doc_size(&f), Ty::Long)),
                    ("isEmpty", 0) => Ok(V::Val(self.doc_size(&f).eq(sql::lit(0i64)), Ty::Bool)),
                    ("getValue", 0) => {
                        let (e, t) = self.doc_value(&f, &n)?;
                        Ok(V::Val(e, t))
                    }
                    _ => Err(format!("doc['{n}'].{name}()")),
                };
            }
            V::Val(e, ty) => (e, ty),
        };
        let arg_str = |i: usize| -> R<Expr> {
            match args.get(i) {
                Some((e, Ty::Str)) => Ok(e.clone()),
                _ => Err(format!("{name}() expects a String argument")),
            }
        };
        let arg_long = |i: usize| -> R<Expr> {
            match args.get(i) {
                Some((e, Ty::Long)) => Ok(e.clone()),
                _ => Err(format!("{name}() expects an int argument")),
            }
        };
        let out = match (ty, name, args.len()) {
            (Ty::Str, "toLowerCase", 0) => (Expr::func("lowerUTF8", vec![e]), Ty::Str),
            (Ty::Str, "toUpperCase", 0) => (Expr::func("upperUTF8", vec![e]), Ty::Str),
            (Ty::Str, "trim", 0) => (Expr::func("trimBoth", vec![e]), Ty::Str),
            (Ty::Str, "length", 0) => (
                Expr::func("toInt64", vec![Expr::func("lengthUTF8", vec![e])]),
                Ty::Long,
            ),
            (Ty::Str, "isEmpty", 0) => (Expr::func("empty", vec![e]), Ty::Bool),
            (Ty::Str, "contains", 1) => (
                Expr::func("positionUTF8", vec![e, arg_str(0)?]).gt(sql::lit(0u64)),
                Ty::Bool,
            ),
            (Ty::Str, "startsWith", 1) => {
                (Expr::func("startsWith", vec![e, arg_str(0)?]), Ty::Bool)
            }
            (Ty::Str, "endsWith", 1) => (Expr::func("endsWith", vec![e, arg_str(0)?]), Ty::Bool),
            (Ty::Str, "equals", 1) => (e.eq(arg_str(0)?), Ty::Bool),
            (Ty::Str, "replace", 2) => (
                Expr::func("replaceAll", vec![e, arg_str(0)?, arg_str(1)?]),
                Ty::Str,
            ),
            (Ty::Str, "indexOf", 1) => (
                Expr::func(
                    "toInt64",
                    vec![Expr::func("positionUTF8", vec![e, arg_str(0)?])],
                ) - sql::lit(1i64),
                Ty::Long,
            ),
            // Java substring(begin[, end]) with 0-based indexes; ClickHouse is 1-based.
            (Ty::Str, "substring", 1) => (
                Expr::func("substringUTF8", vec![e, arg_long(0)? + sql::lit(1i64)]),
                Ty::Str,
            ),
            (Ty::Str, "substring", 2) => (
                Expr::func(
                    "substringUTF8",
                    vec![
                        e,
                        arg_long(0)? + sql::lit(1i64),
                        arg_long(1)? - arg_long(0)?,
                    ],
                ),
                Ty::Str,
            ),
            (Ty::Date, "toInstant", 0) => (e, Ty::Date),
            (Ty::Date, "toEpochMilli" | "getMillis", 0) => {
                (Expr::func("toUnixTimestamp64Milli", vec![e]), Ty::Long)
            }
            (Ty::Date, getter, 0)
                if let Some(rest) = getter.strip_prefix("get")
                    && let Some(first) = rest.chars().next() =>
            {
                let prop = first.to_lowercase().to_string() + &rest[first.len_utf8()..];
                return self.date_part(e, &prop);
            }
            (Ty::Long | Ty::Double | Ty::Bool, "toString", 0) => (to_str(e, ty)?, Ty::Str),
            (t, m, _) => return Err(format!("method [{m}] on a {}", t.name())),
        };
        Ok(V::Val(out.0, out.1))
    }

    fn static_call(&self, class: &str, name: &str, args: Vec<(Expr, Ty)>) -> R<V> {
        let num = |i: usize| -> R<(Expr, Ty)> {
            match args.get(i) {
                Some((e, t)) if numeric(*t) => Ok((e.clone(), *t)),
                _ => Err(format!("{class}.{name}() expects a number")),
            }
        };
        let out = match (class, name, args.len()) {
            ("Math", "abs", 1) => {
                let (e, t) = num(0)?;
                (Expr::func("abs", vec![e]), t)
            }
            ("Math", "max" | "min", 2) => {
                let ((a, at), (b, bt)) = (num(0)?, num(1)?);
                let t = if at == Ty::Double || bt == Ty::Double {
                    Ty::Double
                } else {
                    Ty::Long
                };
                let f = if name == "max" { "greatest" } else { "least" };
                let e = Expr::func(f, vec![a, b]);
                (
                    if t == Ty::Long {
                        Expr::func("toInt64", vec![e])
                    } else {
                        Expr::func("toFloat64", vec![e])
                    },
                    t,
                )
            }
            ("Math", "floor" | "ceil" | "sqrt" | "log" | "log10" | "exp", 1) => {
                let (e, _) = num(0)?;
                let f = match name {
                    "floor" => "floor",
                    "ceil" => "ceil",
                    "sqrt" => "sqrt",
                    "log" => "log",
                    "log10" => "log10",
                    _ => "exp",
                };
                (
                    Expr::func(f, vec![Expr::func("toFloat64", vec![e])]),
                    Ty::Double,
                )
            }
            // Math.round: floor(x + 0.5) as a long.
            ("Math", "round", 1) => {
                let (e, _) = num(0)?;
                (
                    Expr::func(
                        "toInt64",
                        vec![Expr::func(
                            "floor",
                            vec![Expr::func("toFloat64", vec![e]) + sql::lit(0.5)],
                        )],
                    ),
                    Ty::Long,
                )
            }
            ("String", "valueOf", 1) | ("Long" | "Integer" | "Double", "toString", 1) => {
                let (e, t) = args[0].clone();
                (to_str(e, t)?, Ty::Str)
            }
            (c, m, _) => return Err(format!("{c}.{m}()")),
        };
        Ok(V::Val(out.0, out.1))
    }

    /// The value a statement list emits, or `None` if no path emits.
    fn block(&self, stmts: &[Stmt], env: &HashMap<String, V>) -> R<Option<Expr>> {
        let Some((first, rest)) = stmts.split_first() else {
            return Ok(None);
        };
        match first {
            Stmt::Return => Ok(None),
            Stmt::Assign(..) | Stmt::Call(_) => {
                Err("assignments to ctx (they belong to update scripts)".into())
            }
            Stmt::Let(name, e) => {
                let v = self.expr(e, env)?;
                let mut env = env.clone();
                env.insert(name.clone(), v);
                self.block(rest, &env)
            }
            Stmt::Emit(e) => {
                let (e, t) = val(self.expr(e, env)?)?;
                if self.block(rest, env)?.is_some() {
                    return Err("a script that emits more than one value".into());
                }
                Ok(Some(self.convert(e, t)?))
            }
            Stmt::If(c, then, els) => {
                let (c, ct) = val(self.expr(c, env)?)?;
                if ct != Ty::Bool {
                    return Err("an if condition that is not a boolean".into());
                }
                let a: Vec<Stmt> = then.iter().chain(rest).cloned().collect();
                let b: Vec<Stmt> = els.iter().chain(rest).cloned().collect();
                let (a, b) = (self.block(&a, env)?, self.block(&b, env)?);
                Ok(match (a, b) {
                    (None, None) => None,
                    (a, b) => Some(Expr::func(
                        "if",
                        vec![
                            Expr::func("ifNull", vec![c, sql::lit(false)]),
                            a.unwrap_or_else(sql::null),
                            b.unwrap_or_else(sql::null),
                        ],
                    )),
                })
            }
        }
    }

    /// `emit(x)` of the field's type (RuntimeField's emit signatures: String for keyword, long for
    /// long and date (epoch millis), double, boolean, String for ip).
    fn convert(&self, e: Expr, t: Ty) -> R<Expr> {
        let ty = self.def.es_type.as_str();
        Ok(match (ty, t) {
            (_, Ty::Null) => sql::null(),
            ("keyword", Ty::Str) => e,
            ("long", Ty::Long) => Expr::func("toInt64", vec![e]),
            ("double", Ty::Long | Ty::Double) => Expr::func("toFloat64", vec![e]),
            ("boolean", Ty::Bool) => Expr::func("toBool", vec![e]),
            ("date", Ty::Long) => Expr::func(
                "fromUnixTimestamp64Milli",
                vec![Expr::func("toInt64", vec![e]), sql::lit("UTC")],
            ),
            ("date", Ty::Date) => {
                Expr::func("toDateTime64", vec![e, sql::lit(3u64), sql::lit("UTC")])
            }
            ("ip", Ty::Str) => Expr::func("toIPv6OrNull", vec![e]),
            (ty, t) => {
                return Err(format!(
                    "emit of a {} in a runtime field of type [{ty}]",
                    t.name()
                ));
            }
        })
    }
}

fn unify(a: Ty, b: Ty) -> R<Ty> {
    Ok(match (a, b) {
        (a, b) if a == b => a,
        (Ty::Null, t) | (t, Ty::Null) => t,
        (Ty::Long, Ty::Double) | (Ty::Double, Ty::Long) => Ty::Double,
        (a, b) => return Err(format!("a ternary of a {} and a {}", a.name(), b.name())),
    })
}

fn kind_ty(k: EsKind) -> Ty {
    match k {
        EsKind::Date | EsKind::DateNanos => Ty::Date,
        EsKind::Boolean => Ty::Bool,
        k if k.is_integer() => Ty::Long,
        k if k.is_numeric() => Ty::Double,
        _ => Ty::Str,
    }
}

fn column_type(es_type: &str) -> ChType {
    ChType::nullable(match es_type {
        "long" => ChType::Int64,
        "double" => ChType::Float64,
        "boolean" => ChType::Bool,
        "date" => ChType::DateTime64(3, Some("UTC".into())),
        "ip" => ChType::IPv6,
        _ => ChType::String,
    })
}

/// A script-less runtime field: the value under the same name in `_source` (objects walked by
/// the dotted path), typed as the field.
fn from_source(meta: &IndexMeta, def: &RuntimeField) -> Expr {
    if !meta.managed {
        // Tables elastichouse did not create: the column of that name, if any.
        return match meta.physical_column(&def.name) {
            Some(c) => sql::col(c),
            None => sql::null(),
        };
    }
    let mut args = vec![meta.source_expr()];
    args.extend(def.name.split('.').map(sql::lit));
    let extract = |ty: &str| {
        let mut a = args.clone();
        a.push(sql::lit(ty));
        Expr::func("JSONExtract", a)
    };
    match def.es_type.as_str() {
        "long" => extract("Nullable(Int64)"),
        "double" => extract("Nullable(Float64)"),
        "boolean" => extract("Nullable(Bool)"),
        "ip" => Expr::func("toIPv6OrNull", vec![extract("Nullable(String)")]),
        "date" => Expr::func(
            "if",
            vec![
                Expr::func("JSONType", args.clone())
                    .in_list(vec![sql::lit("Int64"), sql::lit("UInt64")]),
                Expr::func(
                    "fromUnixTimestamp64Milli",
                    vec![extract("Nullable(Int64)"), sql::lit("UTC")],
                ),
                Expr::func(
                    "parseDateTime64BestEffortOrNull",
                    vec![extract("Nullable(String)"), sql::lit(3u64), sql::lit("UTC")],
                ),
            ],
        ),
        _ => extract("Nullable(String)"),
    }
}

/// The SQL value of a runtime field definition on one index.
pub fn translate(meta: &IndexMeta, def: &RuntimeField) -> Result<Expr, EsError> {
    translate_at(meta, def, 0)
}

fn translate_at(meta: &IndexMeta, def: &RuntimeField, depth: usize) -> Result<Expr, EsError> {
    let Some(stmts) = &def.script else {
        return Ok(from_source(meta, def));
    };
    let tr = Tr { meta, def, depth };
    let src = def.source.as_deref().unwrap_or_default();
    match tr.block(stmts, &HashMap::new()) {
        Ok(Some(e)) => Ok(e),
        Ok(None) => Ok(sql::null()),
        Err(why) => Err(painless::script_error(&def.name, src, &why)),
    }
}

/// Resolves runtime field `path` of `meta` (its `runtime` section) as a field whose "column" is
/// the translated expression.
pub fn resolve(meta: &IndexMeta, path: &str) -> Result<Option<Field>, EsError> {
    resolve_at(meta, path, 0)
}

fn resolve_at(meta: &IndexMeta, path: &str, depth: usize) -> Result<Option<Field>, EsError> {
    let Some(raw) = meta.mappings.runtime.get(path) else {
        return Ok(None);
    };
    let def = painless::parse_runtime_field(path, raw)?;
    let expr = translate_at(meta, &def, depth)?;
    Ok(Some(Field {
        path: path.to_string(),
        kind: EsKind::from_type(&def.es_type),
        column: format!("\u{1}runtime:{path}"),
        column_type: column_type(&def.es_type),
        is_array: false,
        ignore_above: None,
        format: Some(
            def.format
                .clone()
                .unwrap_or_else(|| crate::schema::dates::DEFAULT_DATE_FORMAT.to_string()),
        )
        .filter(|_| def.es_type == "date"),
        constant_value: None,
        tokens_column: None,
        es_type: def.es_type,
        expr: Some(expr),
    }))
}

/// The index with the search request's `runtime_mappings` added to its runtime section (they
/// shadow mapped fields of the same name).
pub fn with_runtime_mappings(
    meta: &std::sync::Arc<IndexMeta>,
    runtime: &serde_json::Map<String, Value>,
) -> std::sync::Arc<IndexMeta> {
    if runtime.is_empty() {
        return meta.clone();
    }
    let mut m = (**meta).clone();
    for (k, v) in runtime {
        m.mappings.runtime.insert(k.clone(), v.clone());
    }
    std::sync::Arc::new(m)
}

/// Checks every runtime field of the index translates (the search fails with the script's 400
/// otherwise, before any SQL runs).
pub fn check_all(meta: &IndexMeta, names: impl IntoIterator<Item = String>) -> Result<(), EsError> {
    for n in names {
        resolve(meta, &n)?;
    }
    Ok(())
}
