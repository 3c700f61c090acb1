//! `POST /_sql/translate`: the query DSL search Elasticsearch SQL runs for a SELECT
//! (sql-translate-api.md). The statement is first rewritten into its ES|QL pipeline by
//! [`super::essql`] (parameters substituted, functions renamed, aggregates and groups found),
//! and the pipeline is then read back as a search:
//!
//! * WHERE → `bool` (`must` / `should` / `must_not`) of `term`, `terms`, `range`, `exists`,
//!   `wildcard`, `regexp`, `match` / `multi_match`, `query_string`;
//! * GROUP BY → a `composite` aggregation named `groupby` (`terms` / `histogram` /
//!   `date_histogram` sources, `missing_bucket: true`), aggregates as its sub-aggregations,
//!   HAVING as a `bucket_selector`; aggregates without GROUP BY as top-level aggregations;
//! * the select list → `fields` (`_source: false`), ORDER BY → `sort` (or the order of a
//!   composite source), LIMIT / `fetch_size` → `size`.
//!
//! What Elasticsearch evaluates with scripts (computed select items, comparisons between two
//! fields, functions in WHERE) is answered with a 400 naming it. Aggregation names are ours (`a0`,
//! …): Elasticsearch names them by hash codes.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::essql::{self, SqlStatement};
use super::parser::{BinOp, Command, Expr, ExprKind, Field, Lit, Query, SortKey};
use super::verification_error;
use crate::error::EsError;

/// Deepest WHERE / HAVING tree read (the pipeline is already depth-bounded by the SQL parser;
/// this bounds the recursion here on its own).
const MAX_DEPTH: usize = 256;

/// The indices a statement reads (its FROM).
pub fn tables(sql: &str) -> Result<Vec<String>, EsError> {
    match essql::parse(sql, &[])? {
        SqlStatement::Select { query, .. } => Ok(match query.commands.first() {
            Some((Command::From { patterns, .. }, _)) => {
                patterns.iter().map(|p| p.name.clone()).collect()
            }
            _ => Vec::new(),
        }),
        _ => Err(unsupported("statements other than SELECT")),
    }
}

fn unsupported(what: impl std::fmt::Display) -> EsError {
    EsError::unsupported(format!("Elasticsearch SQL translate of {what}"))
}

fn scripted(e: &Expr) -> EsError {
    unsupported(format!(
        "[{}] (Elasticsearch evaluates it with a script; elastichouse translates fields, \
         comparisons of fields with constants, IN, IS NULL, LIKE/RLIKE, MATCH/QUERY, AND/OR/NOT, \
         aggregates of fields and GROUP BY fields or HISTOGRAM)",
        e.text
    ))
}

struct Ctx<'a> {
    /// Field path → Elasticsearch type, over the indices of the FROM.
    types: &'a BTreeMap<String, String>,
    tz: &'a str,
    depth: usize,
}

/// The search of `sql`, given the field types of its indices.
pub fn translate(
    sql: &str,
    params: &[Value],
    fetch_size: u64,
    filter: Option<&Value>,
    types: &BTreeMap<String, String>,
    tz: &str,
) -> Result<Value, EsError> {
    let SqlStatement::Select { query, limit } = essql::parse(sql, params)? else {
        return Err(unsupported("statements other than SELECT"));
    };
    let mut cx = Ctx {
        types,
        tz,
        depth: 0,
    };
    cx.search(&query, limit, fetch_size, filter)
}

fn lit_value(l: &Lit) -> Value {
    match l {
        Lit::Null => Value::Null,
        Lit::Bool(b) => json!(b),
        Lit::Int(n) => json!(n),
        Lit::UnsignedLong(n) => json!(n),
        Lit::Double(x) => json!(x),
        Lit::Str(s) => json!(s),
    }
}

fn boolean(kind: &str, items: Vec<Value>) -> Value {
    json!({"bool": {kind: items, "boost": 1.0}})
}

/// A composite source or aggregation name: Elasticsearch forbids `[`, `]` and `>` in them.
fn agg_name(text: &str) -> String {
    text.chars()
        .map(|c| if matches!(c, '[' | ']' | '>') { '_' } else { c })
        .collect()
}

impl Ctx<'_> {
    fn ty(&self, f: &str, e: &Expr) -> Result<&str, EsError> {
        self.types
            .get(f)
            .map(String::as_str)
            .ok_or_else(|| verification_error(e.pos, format!("Unknown column [{f}]")))
    }

    /// The field an exact match reads: a text field's keyword multi-field (sql limitations:
    /// exact matches on text need one).
    fn exact(&self, f: &str, e: &Expr) -> Result<String, EsError> {
        if self.ty(f, e)? != "text" {
            return Ok(f.to_string());
        }
        let prefix = format!("{f}.");
        self.types
            .iter()
            .find(|(k, t)| k.starts_with(&prefix) && t.as_str() == "keyword")
            .map(|(k, _)| k.clone())
            .ok_or_else(|| {
                verification_error(
                    e.pos,
                    format!(
                        "No keyword/multi-field defined exact matches for [{f}]; define one or use MATCH/QUERY instead"
                    ),
                )
            })
    }

    fn enter(&mut self, e: &Expr) -> Result<(), EsError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(super::parsing_error(
                e.pos,
                format!("SQL statement is too large; the expression depth is over {MAX_DEPTH}"),
            ));
        }
        Ok(())
    }

    fn search(
        &mut self,
        q: &Query,
        limit: Option<u64>,
        fetch_size: u64,
        filter: Option<&Value>,
    ) -> Result<Value, EsError> {
        let mut where_: Option<Value> = None;
        let mut stats: Option<(&[Field], &[Field])> = None;
        let mut having: Option<&Expr> = None;
        let mut evals: Vec<Field> = Vec::new();
        let mut sort: Vec<SortKey> = Vec::new();
        let mut star = true;
        for (c, _) in &q.commands {
            match c {
                Command::From { .. } => {}
                Command::Where(e) if stats.is_none() => where_ = Some(self.cond(e)?),
                Command::Where(e) => having = Some(e),
                Command::Stats { aggs, by, .. } => stats = Some((aggs, by)),
                Command::Eval(f) => evals.extend(f.iter().cloned()),
                Command::Sort(k) => sort = k.clone(),
                Command::Keep(_) | Command::Rename(_) => star = false,
                Command::Row(_) => return Err(unsupported("a SELECT without FROM")),
                _ => return Err(unsupported("this statement")),
            }
        }
        if !q
            .commands
            .iter()
            .any(|(c, _)| matches!(c, Command::From { .. }))
        {
            return Err(unsupported("a SELECT without FROM"));
        }
        let query = match (where_, filter) {
            (Some(w), Some(f)) => Some(json!({"bool": {"must": [w], "filter": [f], "boost": 1.0}})),
            (None, Some(f)) => Some(json!({"bool": {"filter": [f], "boost": 1.0}})),
            (w, None) => w,
        };
        let mut out = Map::new();
        match stats {
            None => {
                out.insert(
                    "size".into(),
                    json!(limit.map_or(fetch_size, |l| l.min(fetch_size))),
                );
                if let Some(q) = query {
                    out.insert("query".into(), q);
                }
                out.insert("_source".into(), json!(false));
                let names: Vec<String> = if star {
                    self.types
                        .keys()
                        .filter(|k| {
                            // Multi-fields are not columns of `*`.
                            !k.rsplit_once('.')
                                .is_some_and(|(parent, _)| self.types.contains_key(parent))
                        })
                        .cloned()
                        .collect()
                } else {
                    let mut names = Vec::new();
                    for f in &evals {
                        match &f.expr.kind {
                            ExprKind::Field(n) => {
                                self.ty(n, &f.expr)?;
                                names.push(n.clone());
                            }
                            _ => return Err(scripted(&f.expr)),
                        }
                    }
                    names
                };
                let fields: Vec<Value> = names
                    .iter()
                    .map(|n| {
                        if matches!(
                            self.types.get(n).map(String::as_str),
                            Some("date" | "date_nanos")
                        ) {
                            json!({"field": n, "format": "strict_date_optional_time_nanos"})
                        } else {
                            json!({ "field": n })
                        }
                    })
                    .collect();
                out.insert("fields".into(), Value::Array(fields));
                let mut sorts = Vec::new();
                for k in &sort {
                    let e = resolve(&k.expr, &evals);
                    let ExprKind::Field(f) = &e.kind else {
                        return Err(scripted(&k.expr));
                    };
                    let ty = self.ty(f, e)?.to_string();
                    let f = self.exact(f, e)?;
                    let nulls_first = k.nulls_first.unwrap_or(k.desc);
                    sorts.push(json!({f: {
                        "order": if k.desc { "desc" } else { "asc" },
                        "missing": if nulls_first { "_first" } else { "_last" },
                        "unmapped_type": ty,
                    }}));
                }
                if sorts.is_empty() {
                    sorts.push(json!({"_doc": {"order": "asc"}}));
                }
                out.insert("sort".into(), Value::Array(sorts));
                out.insert("track_total_hits".into(), json!(-1));
            }
            Some((aggs, by)) => {
                out.insert("size".into(), json!(0));
                if let Some(q) = query {
                    out.insert("query".into(), q);
                }
                out.insert("_source".into(), json!(false));
                let mut metrics = Map::new();
                let mut counts_all = false;
                for a in aggs {
                    match self.metric(&a.expr)? {
                        Some(m) => {
                            metrics.insert(agg_path(&a.name), m);
                        }
                        None => counts_all = true,
                    }
                }
                if by.is_empty() {
                    if let Some(h) = having {
                        return Err(scripted(h));
                    }
                    if !metrics.is_empty() {
                        out.insert("aggregations".into(), Value::Object(metrics));
                    }
                    out.insert(
                        "track_total_hits".into(),
                        if counts_all {
                            json!(i32::MAX)
                        } else {
                            json!(-1)
                        },
                    );
                } else {
                    let mut sources = Vec::new();
                    for g in by {
                        let desc = sort.iter().find_map(|k| {
                            let e = resolve(&k.expr, &evals);
                            matches!(&e.kind, ExprKind::Field(n) if *n == g.name).then_some(k.desc)
                        });
                        let mut src = self.source(&g.expr)?;
                        if let Some(Value::Object(body)) =
                            src.as_object_mut().and_then(|m| m.values_mut().next())
                        {
                            body.insert(
                                "order".into(),
                                json!(if desc == Some(true) { "desc" } else { "asc" }),
                            );
                        }
                        sources.push(json!({ agg_name(&g.expr.text): src }));
                    }
                    if let Some(h) = having {
                        let mut paths = Map::new();
                        let script = self.painless(h, aggs, &mut paths)?;
                        metrics.insert(
                            "having".into(),
                            json!({"bucket_selector": {
                                "buckets_path": paths,
                                "script": {"source": script, "lang": "painless"},
                                "gap_policy": "skip"
                            }}),
                        );
                    }
                    let mut composite = json!({"composite": {
                        "size": limit.map_or(fetch_size, |l| l.min(fetch_size)),
                        "sources": sources
                    }});
                    if !metrics.is_empty() {
                        composite["aggregations"] = Value::Object(metrics);
                    }
                    out.insert("aggregations".into(), json!({ "groupby": composite }));
                    out.insert("track_total_hits".into(), json!(-1));
                }
            }
        }
        Ok(Value::Object(out))
    }

    /// A composite source of a GROUP BY expression.
    fn source(&self, e: &Expr) -> Result<Value, EsError> {
        match &e.kind {
            ExprKind::Field(f) => {
                let field = self.exact(f, e)?;
                let mut body = json!({"field": field, "missing_bucket": true});
                if matches!(self.ty(f, e)?, "date" | "date_nanos") {
                    body = json!({"field": field, "missing_bucket": true, "value_type": "long"});
                }
                Ok(json!({ "terms": body }))
            }
            ExprKind::Call(name, args) if name == "bucket" && args.len() == 2 => {
                let ExprKind::Field(f) = &args[0].kind else {
                    return Err(scripted(e));
                };
                let ty = self.ty(f, &args[0])?;
                match (&args[1].kind, ty) {
                    (ExprKind::Span(n, unit), "date" | "date_nanos") => {
                        let mut body = json!({"field": f, "missing_bucket": true});
                        let calendar = match unit.as_str() {
                            "minute" => Some("1m"),
                            "hour" => Some("1h"),
                            "day" => Some("1d"),
                            "week" => Some("1w"),
                            "month" => Some("1M"),
                            "quarter" => Some("1q"),
                            "year" => Some("1y"),
                            _ => None,
                        };
                        match (calendar, *n) {
                            (Some(c), 1) => body["calendar_interval"] = json!(c),
                            _ => {
                                let ms = match unit.as_str() {
                                    "millisecond" => 1,
                                    "second" => 1000,
                                    "minute" => 60_000,
                                    "hour" => 3_600_000,
                                    "day" => 86_400_000,
                                    "week" => 7 * 86_400_000,
                                    _ => return Err(scripted(e)),
                                };
                                body["fixed_interval"] = json!(format!("{}ms", n * ms));
                            }
                        }
                        body["time_zone"] = json!(self.tz);
                        Ok(json!({ "date_histogram": body }))
                    }
                    (ExprKind::Lit(Lit::Int(n)), t) if t != "date" => Ok(
                        json!({"histogram": {"field": f, "missing_bucket": true, "interval": n}}),
                    ),
                    (ExprKind::Lit(Lit::Double(x)), t) if t != "date" => Ok(
                        json!({"histogram": {"field": f, "missing_bucket": true, "interval": x}}),
                    ),
                    _ => Err(scripted(e)),
                }
            }
            _ => Err(scripted(e)),
        }
    }

    /// The metric aggregation of an aggregate; `None` for COUNT(*) (a bucket's `doc_count`).
    fn metric(&self, e: &Expr) -> Result<Option<Value>, EsError> {
        let ExprKind::Call(name, args) = &e.kind else {
            return Err(scripted(e));
        };
        let field = |i: usize| -> Result<String, EsError> {
            match args.get(i).map(|a| &a.kind) {
                Some(ExprKind::Field(f)) => {
                    self.ty(f, &args[i])?;
                    Ok(f.clone())
                }
                _ => Err(scripted(e)),
            }
        };
        Ok(Some(match (name.as_str(), args.len()) {
            ("count", 1) if matches!(args[0].kind, ExprKind::Star) => return Ok(None),
            ("count", 1) => json!({"value_count": {"field": self.exact(&field(0)?, e)?}}),
            ("count_distinct", 1) => {
                json!({"cardinality": {"field": self.exact(&field(0)?, e)?}})
            }
            ("avg" | "sum" | "min" | "max", 1) => json!({ name.as_str(): {"field": field(0)?} }),
            ("median", 1) => json!({"percentiles": {"field": field(0)?, "percents": [50.0]}}),
            ("median_absolute_deviation", 1) => {
                json!({"median_absolute_deviation": {"field": field(0)?}})
            }
            ("std_dev", 1) => json!({"extended_stats": {"field": field(0)?}}),
            ("percentile", 2) => match &args[1].kind {
                ExprKind::Lit(l @ (Lit::Int(_) | Lit::Double(_))) => {
                    json!({"percentiles": {"field": field(0)?, "percents": [lit_value(l)]}})
                }
                _ => return Err(scripted(e)),
            },
            _ => return Err(scripted(e)),
        }))
    }

    /// A HAVING condition as the painless script of a `bucket_selector`.
    fn painless(
        &mut self,
        e: &Expr,
        aggs: &[Field],
        paths: &mut Map<String, Value>,
    ) -> Result<String, EsError> {
        self.enter(e)?;
        let r = self.painless_inner(e, aggs, paths);
        self.depth -= 1;
        r
    }

    fn painless_inner(
        &mut self,
        e: &Expr,
        aggs: &[Field],
        paths: &mut Map<String, Value>,
    ) -> Result<String, EsError> {
        Ok(match &e.kind {
            ExprKind::Lit(l @ (Lit::Int(_) | Lit::Double(_) | Lit::Bool(_))) => {
                lit_value(l).to_string()
            }
            ExprKind::Field(n) => {
                let Some(a) = aggs.iter().find(|a| a.name == *n) else {
                    return Err(scripted(e));
                };
                let path = match &a.expr.kind {
                    ExprKind::Call(c, args)
                        if c == "count"
                            && matches!(
                                args[..],
                                [Expr {
                                    kind: ExprKind::Star,
                                    ..
                                }]
                            ) =>
                    {
                        "_count".to_string()
                    }
                    _ => agg_path(n),
                };
                let var = agg_path(n);
                paths.insert(var.clone(), json!(path));
                format!("params.{var}")
            }
            ExprKind::Not(a) => format!("!({})", self.painless(a, aggs, paths)?),
            ExprKind::Bin(op, a, b) => {
                let sym = match op {
                    BinOp::And => "&&",
                    BinOp::Or => "||",
                    BinOp::Eq => "==",
                    o => o.symbol(),
                };
                format!(
                    "({} {sym} {})",
                    self.painless(a, aggs, paths)?,
                    self.painless(b, aggs, paths)?
                )
            }
            _ => return Err(scripted(e)),
        })
    }

    /// A WHERE condition as a query.
    fn cond(&mut self, e: &Expr) -> Result<Value, EsError> {
        self.enter(e)?;
        let r = self.cond_inner(e);
        self.depth -= 1;
        r
    }

    fn cond_inner(&mut self, e: &Expr) -> Result<Value, EsError> {
        match &e.kind {
            ExprKind::Bin(BinOp::And, ..) | ExprKind::Bin(BinOp::Or, ..) => {
                let ExprKind::Bin(op, ..) = &e.kind else {
                    unreachable!()
                };
                let mut parts = Vec::new();
                flatten(e, *op, &mut parts);
                let mut items: Vec<Value> = Vec::new();
                for p in parts {
                    let q = self.cond(p)?;
                    // `a >= x AND a <= y` (BETWEEN) is one range, as Elasticsearch folds it.
                    if *op == BinOp::And
                        && let Some(merged) =
                            items.iter_mut().find_map(|prev| merge_range(prev, &q))
                    {
                        *merged.0 = merged.1;
                        continue;
                    }
                    items.push(q);
                }
                if items.len() == 1 {
                    return Ok(items.remove(0));
                }
                Ok(boolean(
                    if *op == BinOp::And { "must" } else { "should" },
                    items,
                ))
            }
            ExprKind::Not(a) => Ok(boolean("must_not", vec![self.cond(a)?])),
            ExprKind::Bin(op, a, b) if op.is_comparison() => {
                let (f, fe, v, op) = match (&a.kind, &b.kind) {
                    (ExprKind::Field(f), ExprKind::Lit(l)) => (f, a.as_ref(), lit_value(l), *op),
                    (ExprKind::Lit(l), ExprKind::Field(f)) => {
                        let flipped = match op {
                            BinOp::Lt => BinOp::Gt,
                            BinOp::Lte => BinOp::Gte,
                            BinOp::Gt => BinOp::Lt,
                            BinOp::Gte => BinOp::Lte,
                            o => *o,
                        };
                        (f, b.as_ref(), lit_value(l), flipped)
                    }
                    _ => return Err(scripted(e)),
                };
                let ty = self.ty(f, fe)?.to_string();
                match op {
                    BinOp::Eq | BinOp::Neq => {
                        let f = self.exact(f, fe)?;
                        let t = json!({"term": {f: {"value": v, "boost": 1.0}}});
                        Ok(if op == BinOp::Eq {
                            t
                        } else {
                            boolean("must_not", vec![t])
                        })
                    }
                    _ => {
                        let key = match op {
                            BinOp::Lt => "lt",
                            BinOp::Lte => "lte",
                            BinOp::Gt => "gt",
                            _ => "gte",
                        };
                        let mut body = json!({ key: v });
                        if matches!(ty.as_str(), "date" | "date_nanos") && v.is_string() {
                            body["time_zone"] = json!(self.tz);
                        }
                        body["boost"] = json!(1.0);
                        Ok(json!({"range": { f.as_str(): body }}))
                    }
                }
            }
            ExprKind::In(a, list, negated) => {
                let ExprKind::Field(f) = &a.kind else {
                    return Err(scripted(e));
                };
                let mut values = Vec::new();
                for it in list {
                    match &it.kind {
                        ExprKind::Lit(l) => values.push(lit_value(l)),
                        _ => return Err(scripted(e)),
                    }
                }
                let f = self.exact(f, a)?;
                let t = json!({"terms": {f: values, "boost": 1.0}});
                Ok(if *negated {
                    boolean("must_not", vec![t])
                } else {
                    t
                })
            }
            ExprKind::IsNull(a, negated) => {
                let ExprKind::Field(f) = &a.kind else {
                    return Err(scripted(e));
                };
                self.ty(f, a)?;
                let exists = json!({"exists": {"field": f, "boost": 1.0}});
                Ok(if *negated {
                    exists
                } else {
                    boolean("must_not", vec![exists])
                })
            }
            ExprKind::Like {
                expr,
                pattern,
                rlike,
                negated,
            } => {
                let ExprKind::Field(f) = &expr.kind else {
                    return Err(scripted(e));
                };
                let f = self.exact(f, expr)?;
                let q = if *rlike {
                    json!({"regexp": {f: {"value": pattern, "boost": 1.0}}})
                } else {
                    json!({"wildcard": {f: {"wildcard": pattern, "boost": 1.0}}})
                };
                Ok(if *negated {
                    boolean("must_not", vec![q])
                } else {
                    q
                })
            }
            ExprKind::Field(f) if self.ty(f, e)? == "boolean" => {
                Ok(json!({"term": {f: {"value": true, "boost": 1.0}}}))
            }
            ExprKind::Call(name, _) if name == "match" || name == "qstr" => {
                // The same DSL the query runs with (plan::take_full_text).
                let mut q = Query {
                    commands: vec![
                        (
                            Command::From {
                                patterns: vec![],
                                metadata: vec![],
                            },
                            e.pos,
                        ),
                        (Command::Where(e.clone()), e.pos),
                    ],
                };
                let mut dsl = super::plan::take_full_text(&mut q)?;
                match dsl.len() {
                    1 => Ok(dsl.remove(0)),
                    _ => Err(scripted(e)),
                }
            }
            _ => Err(scripted(e)),
        }
    }
}

/// The path of a STATS column as an aggregation name (`$a0` → `a0`).
fn agg_path(name: &str) -> String {
    name.trim_start_matches('$').to_string()
}

/// A select output (`$pN`) as the expression it stands for.
fn resolve<'a>(e: &'a Expr, evals: &'a [Field]) -> &'a Expr {
    if let ExprKind::Field(n) = &e.kind
        && let Some(f) = evals.iter().find(|f| f.name == *n)
    {
        return &f.expr;
    }
    e
}

fn flatten<'a>(e: &'a Expr, op: BinOp, out: &mut Vec<&'a Expr>) {
    match &e.kind {
        ExprKind::Bin(o, a, b) if *o == op => {
            flatten(a, op, out);
            flatten(b, op, out);
        }
        _ => out.push(e),
    }
}

/// Two ranges on one field with distinct bounds become one.
fn merge_range<'a>(prev: &'a mut Value, next: &Value) -> Option<(&'a mut Value, Value)> {
    let (pf, pb) = prev.get("range")?.as_object()?.iter().next()?;
    let (nf, nb) = next.get("range")?.as_object()?.iter().next()?;
    if pf != nf {
        return None;
    }
    let (pb, nb) = (pb.as_object()?, nb.as_object()?);
    let bounds = ["gt", "gte", "lt", "lte"];
    let lower = |m: &Map<String, Value>| m.contains_key("gt") || m.contains_key("gte");
    let upper = |m: &Map<String, Value>| m.contains_key("lt") || m.contains_key("lte");
    if (lower(pb) && lower(nb)) || (upper(pb) && upper(nb)) {
        return None;
    }
    let mut merged = pb.clone();
    for (k, v) in nb {
        if bounds.contains(&k.as_str()) || k == "time_zone" {
            merged.insert(k.clone(), v.clone());
        }
    }
    let field = pf.clone();
    Some((prev, json!({"range": { field: merged }})))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types() -> BTreeMap<String, String> {
        [
            ("author", "text"),
            ("author.keyword", "keyword"),
            ("name", "keyword"),
            ("page_count", "short"),
            ("release_date", "date"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
    }

    fn t(sql: &str) -> Value {
        translate(sql, &[], 10, None, &types(), "Z").unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    // sql-translate-api.md: SELECT * … ORDER BY page_count DESC with fetch_size 10.
    #[test]
    fn select_star_sorted() {
        assert_eq!(
            t("SELECT * FROM library ORDER BY page_count DESC"),
            json!({
                "size": 10, "_source": false,
                "fields": [{"field": "author"}, {"field": "name"}, {"field": "page_count"},
                           {"field": "release_date", "format": "strict_date_optional_time_nanos"}],
                "sort": [{"page_count": {"order": "desc", "missing": "_first", "unmapped_type": "short"}}],
                "track_total_hits": -1
            })
        );
    }

    #[test]
    fn where_group_by_and_having() {
        let v = t(
            "SELECT name, COUNT(*) c, AVG(page_count) FROM library WHERE page_count BETWEEN 100 AND 500 \
             AND author = 'Frank Herbert' GROUP BY name HAVING COUNT(*) > 1 ORDER BY name DESC",
        );
        assert_eq!(
            v["query"],
            json!({"bool": {"must": [
                {"range": {"page_count": {"gte": 100, "lte": 500, "boost": 1.0}}},
                {"term": {"author.keyword": {"value": "Frank Herbert", "boost": 1.0}}}
            ], "boost": 1.0}})
        );
        let g = &v["aggregations"]["groupby"];
        assert_eq!(
            g["composite"]["sources"],
            json!([{"name": {"terms": {"field": "name", "missing_bucket": true, "order": "desc"}}}])
        );
        assert_eq!(
            g["aggregations"]["a1"],
            json!({"avg": {"field": "page_count"}})
        );
        assert_eq!(
            g["aggregations"]["having"]["bucket_selector"]["buckets_path"],
            json!({"a0": "_count"})
        );
        assert_eq!(v["size"], json!(0));
    }

    #[test]
    fn scripts_are_refused() {
        let e = translate(
            "SELECT page_count * 2 FROM library",
            &[],
            10,
            None,
            &types(),
            "Z",
        )
        .unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.reason.contains("script"), "{}", e.reason);
    }
}
