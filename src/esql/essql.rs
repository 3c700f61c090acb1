//! Elasticsearch SQL (`POST /_sql`): a `SELECT` parsed with the `sqlparser` crate (generic
//! dialect) and rewritten into the ES|QL pipeline it means — `FROM | WHERE | STATS … BY | WHERE
//! (HAVING) | EVAL | SORT | LIMIT | KEEP | RENAME` — so that names, types, functions and the
//! translation into ClickHouse are the ES|QL planner's, with one implementation of each.
//!
//! Output columns are computed under internal names (`$p0`, `$p1`, …) and renamed last, so that
//! `SELECT a AS b, b AS a` reads the source columns, as SQL does. Aggregates found anywhere in the
//! select list, HAVING or ORDER BY become the STATS aggregates (`$a0`, …), GROUP BY expressions
//! its groups (a select alias or a position may stand for one); DISTINCT is a STATS BY of the
//! select list.

use sqlparser::ast::{
    self as q, BinaryOperator, DuplicateTreatment, FunctionArg, FunctionArgExpr, FunctionArguments,
    GroupByExpr, LimitClause, ObjectNamePart, OrderByKind, OrderBySort, SelectItem, SetExpr,
    Spanned, Statement, TableFactor, UnaryOperator, Value,
};
use sqlparser::dialect::GenericDialect;

use super::parser::{BinOp, Command, Expr, ExprKind, Field, Lit, Named, Query, SortKey};
use super::{Pos, parsing_error, verification_error};
use crate::error::EsError;

/// What an SQL statement asks for.
pub enum SqlStatement {
    /// A query, as an ES|QL pipeline, and its `LIMIT` (applied by the caller, which pages the
    /// answer by `fetch_size`; Elasticsearch SQL has no implicit limit).
    Select { query: Query, limit: Option<u64> },
    /// `SHOW FUNCTIONS [LIKE 'pattern']`.
    ShowFunctions(Option<String>),
    /// `SHOW TABLES [LIKE 'pattern']` (the pattern in SQL LIKE syntax).
    ShowTables(Option<String>),
    /// `DESCRIBE t` / `SHOW COLUMNS FROM t`.
    Describe(String),
}

const AGGREGATES: &[&str] = &[
    "count",
    "count_distinct",
    "avg",
    "sum",
    "min",
    "max",
    "median",
    "percentile",
    "mad",
    "median_absolute_deviation",
    "std_dev",
    "values",
];

/// `SHOW FUNCTIONS`: the functions this SQL accepts, with Elasticsearch SQL's function types,
/// in its order (aggregates, grouping, conditional, scalar, score; by name within each).
pub const FUNCTIONS: &[(&str, &str)] = &[
    ("AVG", "AGGREGATE"),
    ("COUNT", "AGGREGATE"),
    ("MAX", "AGGREGATE"),
    ("MIN", "AGGREGATE"),
    ("SUM", "AGGREGATE"),
    ("MAD", "AGGREGATE"),
    ("PERCENTILE", "AGGREGATE"),
    ("STDDEV_POP", "AGGREGATE"),
    ("HISTOGRAM", "GROUPING"),
    ("CASE", "CONDITIONAL"),
    ("COALESCE", "CONDITIONAL"),
    ("GREATEST", "CONDITIONAL"),
    ("IFNULL", "CONDITIONAL"),
    ("IIF", "CONDITIONAL"),
    ("ISNULL", "CONDITIONAL"),
    ("LEAST", "CONDITIONAL"),
    ("NULLIF", "CONDITIONAL"),
    ("NVL", "CONDITIONAL"),
    ("CURDATE", "SCALAR"),
    ("CURRENT_DATE", "SCALAR"),
    ("CURRENT_TIME", "SCALAR"),
    ("CURRENT_TIMESTAMP", "SCALAR"),
    ("CURTIME", "SCALAR"),
    ("DATETIME_FORMAT", "SCALAR"),
    ("DATETIME_PARSE", "SCALAR"),
    ("DATETRUNC", "SCALAR"),
    ("DATE_TRUNC", "SCALAR"),
    ("DAY", "SCALAR"),
    ("DAYNAME", "SCALAR"),
    ("DAYOFMONTH", "SCALAR"),
    ("DAYOFWEEK", "SCALAR"),
    ("DAYOFYEAR", "SCALAR"),
    ("DAY_NAME", "SCALAR"),
    ("DAY_OF_MONTH", "SCALAR"),
    ("DAY_OF_WEEK", "SCALAR"),
    ("DAY_OF_YEAR", "SCALAR"),
    ("DOM", "SCALAR"),
    ("DOW", "SCALAR"),
    ("DOY", "SCALAR"),
    ("HOUR", "SCALAR"),
    ("HOUR_OF_DAY", "SCALAR"),
    ("IDOW", "SCALAR"),
    ("ISODAYOFWEEK", "SCALAR"),
    ("ISODOW", "SCALAR"),
    ("ISOWEEK", "SCALAR"),
    ("ISO_DAY_OF_WEEK", "SCALAR"),
    ("ISO_WEEK_OF_YEAR", "SCALAR"),
    ("MINUTE", "SCALAR"),
    ("MINUTE_OF_HOUR", "SCALAR"),
    ("MONTH", "SCALAR"),
    ("MONTHNAME", "SCALAR"),
    ("MONTH_NAME", "SCALAR"),
    ("MONTH_OF_YEAR", "SCALAR"),
    ("NOW", "SCALAR"),
    ("QUARTER", "SCALAR"),
    ("SECOND", "SCALAR"),
    ("SECOND_OF_MINUTE", "SCALAR"),
    ("WEEK", "SCALAR"),
    ("WEEK_OF_YEAR", "SCALAR"),
    ("YEAR", "SCALAR"),
    ("ABS", "SCALAR"),
    ("ACOS", "SCALAR"),
    ("ASIN", "SCALAR"),
    ("ATAN", "SCALAR"),
    ("ATAN2", "SCALAR"),
    ("CBRT", "SCALAR"),
    ("CEIL", "SCALAR"),
    ("CEILING", "SCALAR"),
    ("COS", "SCALAR"),
    ("COSH", "SCALAR"),
    ("DEGREES", "SCALAR"),
    ("E", "SCALAR"),
    ("EXP", "SCALAR"),
    ("FLOOR", "SCALAR"),
    ("LOG", "SCALAR"),
    ("LOG10", "SCALAR"),
    ("MOD", "SCALAR"),
    ("PI", "SCALAR"),
    ("POWER", "SCALAR"),
    ("RADIANS", "SCALAR"),
    ("ROUND", "SCALAR"),
    ("SIGN", "SCALAR"),
    ("SIGNUM", "SCALAR"),
    ("SIN", "SCALAR"),
    ("SINH", "SCALAR"),
    ("SQRT", "SCALAR"),
    ("TAN", "SCALAR"),
    ("CHAR_LENGTH", "SCALAR"),
    ("CONCAT", "SCALAR"),
    ("LCASE", "SCALAR"),
    ("LEFT", "SCALAR"),
    ("LENGTH", "SCALAR"),
    ("LOCATE", "SCALAR"),
    ("LTRIM", "SCALAR"),
    ("REPEAT", "SCALAR"),
    ("REPLACE", "SCALAR"),
    ("RIGHT", "SCALAR"),
    ("RTRIM", "SCALAR"),
    ("SPACE", "SCALAR"),
    ("STARTS_WITH", "SCALAR"),
    ("SUBSTRING", "SCALAR"),
    ("TRIM", "SCALAR"),
    ("UCASE", "SCALAR"),
    ("CAST", "SCALAR"),
    ("SCORE", "SCORE"),
];

/// Deepest expression tree translated (a chain `a OR b OR …` nests one level per link).
pub const MAX_DEPTH: usize = 256;

/// [`parse_here`] on a thread with a stack large enough for the deepest trees `sqlparser` builds
/// and drops (its operator chains are not depth-bounded); the calling task waits for it.
pub fn parse(sql: &str, params: &[serde_json::Value]) -> Result<SqlStatement, EsError> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("essql-parse".into())
            .stack_size(64 << 20)
            .spawn_scoped(scope, || parse_here(sql, params))
            .map_err(|e| EsError::storage(format!("cannot start the SQL parser thread: {e}")))?
            .join()
            .unwrap_or_else(|_| Err(EsError::storage("the SQL parser failed")))
    })
}

pub fn parse_here(sql: &str, params: &[serde_json::Value]) -> Result<SqlStatement, EsError> {
    let stmts = sqlparser::parser::Parser::parse_sql(&GenericDialect {}, sql).map_err(|e| {
        // "sql parser error: Expected: …, found: … at Line: 1, Column: 8"
        let text = e.to_string();
        let (msg, pos) = match text.rfind(" at Line: ") {
            Some(i) => {
                let loc = &text[i + 10..];
                let mut parts = loc.split(", Column: ");
                let line = parts
                    .next()
                    .and_then(|l| l.trim().parse().ok())
                    .unwrap_or(1);
                let col = parts
                    .next()
                    .and_then(|c| c.trim().parse().ok())
                    .unwrap_or(1);
                (text[..i].to_string(), Pos { line, col })
            }
            None => (text.clone(), Pos { line: 1, col: 1 }),
        };
        let msg = msg
            .strip_prefix("sql parser error: ")
            .unwrap_or(&msg)
            .to_string();
        parsing_error(pos, msg)
    })?;
    let [stmt] = stmts.as_slice() else {
        return Err(parsing_error(
            Pos { line: 1, col: 1 },
            "expected exactly one statement",
        ));
    };
    match stmt {
        Statement::Query(query) => {
            let mut t = Translator {
                params,
                next_param: 0,
                depth: 0,
            };
            let (query, limit) = t.query(query)?;
            Ok(SqlStatement::Select { query, limit })
        }
        Statement::ShowTables { show_options, .. } => {
            let pattern = match &show_options.filter_position {
                None => None,
                Some(
                    q::ShowStatementFilterPosition::Infix(f)
                    | q::ShowStatementFilterPosition::Suffix(f),
                ) => match f {
                    q::ShowStatementFilter::Like(p) | q::ShowStatementFilter::NoKeyword(p) => {
                        Some(p.clone())
                    }
                    other => {
                        return Err(EsError::unsupported(format!("SHOW TABLES {other}")));
                    }
                },
            };
            Ok(SqlStatement::ShowTables(pattern))
        }
        Statement::ShowFunctions { filter } => match filter {
            None => Ok(SqlStatement::ShowFunctions(None)),
            Some(q::ShowStatementFilter::Like(p) | q::ShowStatementFilter::NoKeyword(p)) => {
                Ok(SqlStatement::ShowFunctions(Some(p.clone())))
            }
            Some(other) => Err(EsError::unsupported(format!("SHOW FUNCTIONS {other}"))),
        },
        Statement::ExplainTable { table_name, .. } => {
            Ok(SqlStatement::Describe(object_name(table_name)))
        }
        Statement::ShowColumns { show_options, .. } => match show_options
            .show_in
            .as_ref()
            .and_then(|i| i.parent_name.as_ref())
        {
            Some(n) => Ok(SqlStatement::Describe(object_name(n))),
            None => Err(parsing_error(
                Pos { line: 1, col: 1 },
                "SHOW COLUMNS needs a table",
            )),
        },
        other => Err(EsError::unsupported(format!(
            "Elasticsearch SQL statement [{}]",
            other.to_string().split_whitespace().next().unwrap_or("")
        ))),
    }
}

fn object_name(n: &q::ObjectName) -> String {
    n.0.iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(i) => i.value.clone(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn pos_of(e: &impl Spanned) -> Pos {
    let s = e.span().start;
    Pos {
        line: s.line.max(1) as u32,
        col: s.column.max(1) as u32,
    }
}

fn mk(kind: ExprKind, pos: Pos, text: String) -> Expr {
    Expr { kind, pos, text }
}

fn field(name: &str, pos: Pos) -> Expr {
    mk(ExprKind::Field(name.to_string()), pos, name.to_string())
}

fn call(name: &str, args: Vec<Expr>, pos: Pos, text: String) -> Expr {
    mk(ExprKind::Call(name.to_string(), args), pos, text)
}

fn unsupported(what: impl std::fmt::Display) -> EsError {
    EsError::unsupported(format!("Elasticsearch SQL {what}"))
}

struct Translator<'a> {
    params: &'a [serde_json::Value],
    next_param: usize,
    depth: usize,
}

/// An SQL LIKE pattern (`%`, `_`) as an ES|QL LIKE pattern (`*`, `?`).
fn like_to_wildcard(p: &str) -> String {
    let mut out = String::new();
    for c in p.chars() {
        match c {
            '%' => out.push('*'),
            '_' => out.push('?'),
            '*' | '?' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Replaces aggregate calls with references to STATS columns and group expressions with their
/// group columns.
struct Rewriter<'a> {
    aggs: Vec<Field>,
    groups: &'a [Field],
}

impl Rewriter<'_> {
    fn rewrite(&mut self, e: &Expr) -> Expr {
        if let Some(g) = self.groups.iter().find(|g| g.expr.text == e.text) {
            return field(&g.name, e.pos);
        }
        let kind = match &e.kind {
            ExprKind::Call(name, _) if AGGREGATES.contains(&name.as_str()) => {
                let name = match self.aggs.iter().find(|a| a.expr.text == e.text) {
                    Some(a) => a.name.clone(),
                    None => {
                        let n = format!("$a{}", self.aggs.len());
                        self.aggs.push(Field {
                            name: n.clone(),
                            expr: e.clone(),
                        });
                        n
                    }
                };
                return field(&name, e.pos);
            }
            ExprKind::Call(name, args) => {
                ExprKind::Call(name.clone(), args.iter().map(|a| self.rewrite(a)).collect())
            }
            ExprKind::Neg(a) => ExprKind::Neg(Box::new(self.rewrite(a))),
            ExprKind::Not(a) => ExprKind::Not(Box::new(self.rewrite(a))),
            ExprKind::Bin(op, a, b) => {
                ExprKind::Bin(*op, Box::new(self.rewrite(a)), Box::new(self.rewrite(b)))
            }
            ExprKind::IsNull(a, n) => ExprKind::IsNull(Box::new(self.rewrite(a)), *n),
            ExprKind::In(a, list, n) => ExprKind::In(
                Box::new(self.rewrite(a)),
                list.iter().map(|x| self.rewrite(x)).collect(),
                *n,
            ),
            ExprKind::Like {
                expr,
                pattern,
                rlike,
                negated,
            } => ExprKind::Like {
                expr: Box::new(self.rewrite(expr)),
                pattern: pattern.clone(),
                rlike: *rlike,
                negated: *negated,
            },
            ExprKind::Cast(a, t) => ExprKind::Cast(Box::new(self.rewrite(a)), t.clone()),
            other => other.clone(),
        };
        Expr { kind, ..e.clone() }
    }
}

fn has_aggregate(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Call(name, args) => {
            AGGREGATES.contains(&name.as_str()) || args.iter().any(has_aggregate)
        }
        ExprKind::Neg(a) | ExprKind::Not(a) | ExprKind::IsNull(a, _) | ExprKind::Cast(a, _) => {
            has_aggregate(a)
        }
        ExprKind::Bin(_, a, b) => has_aggregate(a) || has_aggregate(b),
        ExprKind::In(a, l, _) => has_aggregate(a) || l.iter().any(has_aggregate),
        ExprKind::Like { expr, .. } => has_aggregate(expr),
        _ => false,
    }
}

impl Translator<'_> {
    fn query(&mut self, query: &q::Query) -> Result<(Query, Option<u64>), EsError> {
        if query.with.is_some() {
            return Err(unsupported("WITH"));
        }
        if query.fetch.is_some() || !query.locks.is_empty() {
            return Err(unsupported("FETCH / FOR UPDATE"));
        }
        let SetExpr::Select(sel) = query.body.as_ref() else {
            return Err(unsupported("set operations and subqueries"));
        };
        let start = Pos { line: 1, col: 1 };
        let mut commands: Vec<(Command, Pos)> = Vec::new();
        match sel.from.as_slice() {
            [] => {}
            [t] => {
                if !t.joins.is_empty() {
                    return Err(unsupported("JOIN"));
                }
                let TableFactor::Table { name, .. } = &t.relation else {
                    return Err(unsupported("FROM subqueries and table functions"));
                };
                commands.push((
                    Command::From {
                        patterns: vec![Named {
                            name: object_name(name),
                            pos: pos_of(name),
                        }],
                        metadata: vec![],
                    },
                    start,
                ));
            }
            _ => return Err(unsupported("several tables in FROM")),
        }
        if let Some(w) = &sel.selection {
            let e = self.expr(w)?;
            commands.push((Command::Where(e), pos_of(w)));
        }
        // The select list: (output name, expression), or `*`.
        let mut outputs: Vec<(String, Expr)> = Vec::new();
        let mut star = false;
        for item in &sel.projection {
            match item {
                SelectItem::UnnamedExpr(e) => {
                    let x = self.expr(e)?;
                    let name = match e {
                        q::Expr::Identifier(i) => i.value.clone(),
                        q::Expr::CompoundIdentifier(parts) => parts
                            .iter()
                            .map(|p| p.value.as_str())
                            .collect::<Vec<_>>()
                            .join("."),
                        _ => x.text.clone(),
                    };
                    outputs.push((name, x));
                }
                SelectItem::ExprWithAlias { expr, alias } => {
                    outputs.push((alias.value.clone(), self.expr(expr)?));
                }
                SelectItem::Wildcard(_) => star = true,
                other => return Err(unsupported(format!("select item [{other}]"))),
            }
        }
        if star && !outputs.is_empty() {
            return Err(unsupported("`*` together with other select items"));
        }
        if commands.is_empty() && star {
            return Err(verification_error(start, "SELECT * needs a FROM"));
        }
        let group_exprs = match &sel.group_by {
            GroupByExpr::Expressions(list, mods) if mods.is_empty() => list.clone(),
            _ => return Err(unsupported("GROUP BY ALL / ROLLUP / CUBE")),
        };
        let mut groups: Vec<Field> = Vec::new();
        for (k, g) in group_exprs.iter().enumerate() {
            // A position, a select alias, or an expression.
            let e = match g {
                q::Expr::Value(v) if matches!(v.value, Value::Number(..)) => {
                    let n: usize = v.value.to_string().parse().unwrap_or(0);
                    match outputs.get(n.wrapping_sub(1)) {
                        Some((_, e)) => e.clone(),
                        None => {
                            return Err(verification_error(
                                pos_of(g),
                                format!(
                                    "Invalid ordinal [{n}] specified in [GROUP BY {n}] (valid range is [1, {}])",
                                    outputs.len()
                                ),
                            ));
                        }
                    }
                }
                q::Expr::Identifier(i) => match outputs.iter().find(|(n, _)| *n == i.value) {
                    Some((_, e)) if !matches!(e.kind, ExprKind::Field(_)) => e.clone(),
                    _ => self.expr(g)?,
                },
                _ => self.expr(g)?,
            };
            let name = match &e.kind {
                ExprKind::Field(n) => n.clone(),
                _ => format!("$g{k}"),
            };
            groups.push(Field { name, expr: e });
        }
        let distinct = match &sel.distinct {
            None => false,
            Some(q::Distinct::Distinct) => true,
            Some(other) => return Err(unsupported(format!("[{other}]"))),
        };
        if distinct {
            if !groups.is_empty() || star {
                return Err(unsupported("SELECT DISTINCT with GROUP BY or *"));
            }
            for (k, (_, e)) in outputs.iter().enumerate() {
                let name = match &e.kind {
                    ExprKind::Field(n) => n.clone(),
                    _ => format!("$g{k}"),
                };
                groups.push(Field {
                    name,
                    expr: e.clone(),
                });
            }
        }
        let having = sel.having.as_ref().map(|h| self.expr(h)).transpose()?;
        let mut order: Vec<SortKey> = Vec::new();
        if let Some(ob) = &query.order_by {
            let OrderByKind::Expressions(list) = &ob.kind else {
                return Err(unsupported("ORDER BY ALL"));
            };
            for o in list {
                let desc = match &o.options.sort {
                    None | Some(OrderBySort::Asc) => false,
                    Some(OrderBySort::Desc) => true,
                    Some(_) => return Err(unsupported("ORDER BY … USING")),
                };
                let e = match &o.expr {
                    q::Expr::Value(v) if matches!(v.value, Value::Number(..)) => {
                        let n: usize = v.value.to_string().parse().unwrap_or(0);
                        match outputs.get(n.wrapping_sub(1)) {
                            Some((name, _)) => field(name, pos_of(&o.expr)),
                            None => {
                                return Err(verification_error(
                                    pos_of(&o.expr),
                                    format!(
                                        "Invalid ordinal [{n}] specified in [ORDER BY {n}] (valid range is [1, {}])",
                                        outputs.len()
                                    ),
                                ));
                            }
                        }
                    }
                    other => self.expr(other)?,
                };
                // SQL's default: nulls last ascending, first descending — ES|QL's too.
                order.push(SortKey {
                    expr: e,
                    desc,
                    nulls_first: o.options.nulls_first,
                });
            }
        }
        let grouped =
            !groups.is_empty() || outputs.iter().any(|(_, e)| has_aggregate(e)) || having.is_some();
        // Output columns under internal names; order keys naming an output refer to it.
        let out_names: Vec<String> = (0..outputs.len()).map(|k| format!("$p{k}")).collect();
        let refer_outputs = |e: Expr, outputs: &[(String, Expr)]| -> Expr {
            if let ExprKind::Field(n) = &e.kind
                && let Some(k) = outputs.iter().position(|(o, _)| o == n)
            {
                return field(&format!("$p{k}"), e.pos);
            }
            e
        };
        if grouped {
            if star {
                return Err(unsupported("SELECT * with GROUP BY"));
            }
            let mut rw = Rewriter {
                aggs: Vec::new(),
                groups: &groups,
            };
            let evals: Vec<Field> = outputs
                .iter()
                .zip(&out_names)
                .map(|((_, e), n)| Field {
                    name: n.clone(),
                    expr: rw.rewrite(e),
                })
                .collect();
            let having = having.map(|h| rw.rewrite(&h));
            let order: Vec<SortKey> = order
                .into_iter()
                .map(|k| {
                    let e = refer_outputs(k.expr, &outputs);
                    SortKey {
                        expr: if e.text.starts_with("$p") {
                            e
                        } else {
                            rw.rewrite(&e)
                        },
                        ..k
                    }
                })
                .collect();
            let aggs = rw.aggs;
            commands.push((
                Command::Stats {
                    filters: vec![None; aggs.len()],
                    aggs,
                    by: groups.clone(),
                },
                start,
            ));
            if let Some(h) = having {
                let p = h.pos;
                commands.push((Command::Where(h), p));
            }
            commands.push((Command::Eval(evals), start));
            if !order.is_empty() {
                commands.push((Command::Sort(order), start));
            }
        } else if !star {
            let evals: Vec<Field> = outputs
                .iter()
                .zip(&out_names)
                .map(|((_, e), n)| Field {
                    name: n.clone(),
                    expr: e.clone(),
                })
                .collect();
            if commands.is_empty() {
                commands.push((Command::Row(evals), start));
            } else {
                commands.push((Command::Eval(evals), start));
            }
            let order: Vec<SortKey> = order
                .into_iter()
                .map(|k| SortKey {
                    expr: refer_outputs(k.expr, &outputs),
                    ..k
                })
                .collect();
            if !order.is_empty() {
                commands.push((Command::Sort(order), start));
            }
        } else if !order.is_empty() {
            commands.push((Command::Sort(order), start));
        }
        let mut limit = None;
        match &query.limit_clause {
            None => {}
            Some(LimitClause::LimitOffset {
                limit: Some(l),
                offset: None,
                limit_by,
            }) if limit_by.is_empty() => match l {
                q::Expr::Value(v) => match v.value.to_string().parse::<u64>() {
                    Ok(n) => limit = Some(n),
                    Err(_) => {
                        return Err(parsing_error(pos_of(l), format!("invalid LIMIT [{l}]")));
                    }
                },
                other => {
                    return Err(parsing_error(
                        pos_of(other),
                        format!("invalid LIMIT [{other}]"),
                    ));
                }
            },
            Some(other) => return Err(unsupported(format!("[{other}]"))),
        }
        // `SELECT TOP n …` (syntax/commands/select.md): a LIMIT.
        if let Some(top) = &sel.top {
            let n = match (&top.quantity, top.percent || top.with_ties) {
                (Some(q::TopQuantity::Constant(n)), false) => *n,
                _ => return Err(unsupported(format!("[{top}]"))),
            };
            limit = Some(limit.map_or(n, |l| l.min(n)));
        }
        if !star {
            commands.push((
                Command::Keep(
                    out_names
                        .iter()
                        .map(|n| Named {
                            name: n.clone(),
                            pos: start,
                        })
                        .collect(),
                ),
                start,
            ));
            commands.push((
                Command::Rename(
                    outputs
                        .iter()
                        .zip(&out_names)
                        .map(|((o, _), n)| {
                            (
                                Named {
                                    name: n.clone(),
                                    pos: start,
                                },
                                Named {
                                    name: o.clone(),
                                    pos: start,
                                },
                            )
                        })
                        .collect(),
                ),
                start,
            ));
        }
        Ok((Query { commands }, limit))
    }

    fn param(&mut self, pos: Pos) -> Result<Lit, EsError> {
        let v = self
            .params
            .get(self.next_param)
            .cloned()
            .ok_or_else(|| parsing_error(pos, "not enough actual parameters"))?;
        self.next_param += 1;
        let v = match v {
            serde_json::Value::Object(m) => m.get("value").cloned().unwrap_or_default(),
            v => v,
        };
        Ok(match v {
            serde_json::Value::Null => Lit::Null,
            serde_json::Value::Bool(b) => Lit::Bool(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Lit::Int(i),
                None => Lit::Double(n.as_f64().unwrap_or(0.0)),
            },
            serde_json::Value::String(s) => Lit::Str(s),
            other => {
                return Err(parsing_error(
                    pos,
                    format!("unsupported parameter [{other}]"),
                ));
            }
        })
    }

    fn expr(&mut self, e: &q::Expr) -> Result<Expr, EsError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(parsing_error(
                pos_of(e),
                format!("SQL statement is too large; the expression depth is over {MAX_DEPTH}"),
            ));
        }
        let r = self.expr_inner(e);
        self.depth -= 1;
        r
    }

    fn expr_inner(&mut self, e: &q::Expr) -> Result<Expr, EsError> {
        let pos = pos_of(e);
        let text = e.to_string();
        let kind = match e {
            q::Expr::Identifier(i) => ExprKind::Field(i.value.clone()),
            q::Expr::CompoundIdentifier(parts) => ExprKind::Field(
                parts
                    .iter()
                    .map(|p| p.value.as_str())
                    .collect::<Vec<_>>()
                    .join("."),
            ),
            q::Expr::Nested(inner) => {
                let x = self.expr(inner)?;
                return Ok(Expr { text, ..x });
            }
            q::Expr::Value(v) => ExprKind::Lit(match &v.value {
                Value::Number(s, _) => {
                    match s.parse::<i64>() {
                        Ok(n) => Lit::Int(n),
                        Err(_) => Lit::Double(s.parse().map_err(|_| {
                            parsing_error(pos, format!("Cannot parse number [{s}]"))
                        })?),
                    }
                }
                Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Lit::Str(s.clone()),
                Value::Boolean(b) => Lit::Bool(*b),
                Value::Null => Lit::Null,
                Value::Placeholder(_) => self.param(pos)?,
                other => return Err(unsupported(format!("literal [{other}]"))),
            }),
            q::Expr::BinaryOp { left, op, right } => {
                let op = match op {
                    BinaryOperator::Plus => BinOp::Add,
                    BinaryOperator::Minus => BinOp::Sub,
                    BinaryOperator::Multiply => BinOp::Mul,
                    BinaryOperator::Divide => BinOp::Div,
                    BinaryOperator::Modulo => BinOp::Mod,
                    BinaryOperator::Eq => BinOp::Eq,
                    BinaryOperator::NotEq => BinOp::Neq,
                    BinaryOperator::Lt => BinOp::Lt,
                    BinaryOperator::LtEq => BinOp::Lte,
                    BinaryOperator::Gt => BinOp::Gt,
                    BinaryOperator::GtEq => BinOp::Gte,
                    BinaryOperator::And => BinOp::And,
                    BinaryOperator::Or => BinOp::Or,
                    other => return Err(unsupported(format!("operator [{other}]"))),
                };
                ExprKind::Bin(op, Box::new(self.expr(left)?), Box::new(self.expr(right)?))
            }
            q::Expr::UnaryOp { op, expr } => match op {
                UnaryOperator::Minus => {
                    let x = self.expr(expr)?;
                    match x.kind {
                        ExprKind::Lit(Lit::Int(n)) => ExprKind::Lit(Lit::Int(-n)),
                        ExprKind::Lit(Lit::Double(d)) => ExprKind::Lit(Lit::Double(-d)),
                        k => ExprKind::Neg(Box::new(Expr { kind: k, ..x })),
                    }
                }
                UnaryOperator::Plus => return self.expr(expr),
                UnaryOperator::Not => ExprKind::Not(Box::new(self.expr(expr)?)),
                other => return Err(unsupported(format!("operator [{other}]"))),
            },
            q::Expr::IsNull(x) => ExprKind::IsNull(Box::new(self.expr(x)?), false),
            q::Expr::IsNotNull(x) => ExprKind::IsNull(Box::new(self.expr(x)?), true),
            q::Expr::In {
                expr,
                target: q::InTarget::List(list),
                negated,
                ..
            } => ExprKind::In(
                Box::new(self.expr(expr)?),
                list.iter()
                    .map(|x| self.expr(x))
                    .collect::<Result<_, _>>()?,
                *negated,
            ),
            q::Expr::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let x = self.expr(expr)?;
                let both = mk(
                    ExprKind::Bin(
                        BinOp::And,
                        Box::new(mk(
                            ExprKind::Bin(
                                BinOp::Gte,
                                Box::new(x.clone()),
                                Box::new(self.expr(low)?),
                            ),
                            pos,
                            text.clone(),
                        )),
                        Box::new(mk(
                            ExprKind::Bin(BinOp::Lte, Box::new(x), Box::new(self.expr(high)?)),
                            pos,
                            text.clone(),
                        )),
                    ),
                    pos,
                    text.clone(),
                );
                if *negated {
                    ExprKind::Not(Box::new(both))
                } else {
                    return Ok(both);
                }
            }
            q::Expr::Like {
                negated,
                expr,
                pattern,
                escape_char: None,
                any: false,
            } => {
                let q::Expr::Value(v) = pattern.as_ref() else {
                    return Err(unsupported("LIKE with a non-constant pattern"));
                };
                let (Value::SingleQuotedString(p) | Value::DoubleQuotedString(p)) = &v.value else {
                    return Err(unsupported("LIKE with a non-string pattern"));
                };
                ExprKind::Like {
                    expr: Box::new(self.expr(expr)?),
                    pattern: like_to_wildcard(p),
                    rlike: false,
                    negated: *negated,
                }
            }
            q::Expr::RLike {
                negated,
                expr,
                pattern,
                ..
            } => {
                let q::Expr::Value(v) = pattern.as_ref() else {
                    return Err(unsupported("RLIKE with a non-constant pattern"));
                };
                let (Value::SingleQuotedString(p) | Value::DoubleQuotedString(p)) = &v.value else {
                    return Err(unsupported("RLIKE with a non-string pattern"));
                };
                ExprKind::Like {
                    expr: Box::new(self.expr(expr)?),
                    pattern: p.clone(),
                    rlike: true,
                    negated: *negated,
                }
            }
            q::Expr::Cast {
                expr, data_type, ..
            } => {
                let t = data_type.to_string().to_ascii_lowercase();
                let t = t.split(['(', ' ']).next().unwrap_or("").to_string();
                let es = match t.as_str() {
                    "int" | "integer" | "smallint" | "tinyint" | "short" | "byte" => "integer",
                    "bigint" | "long" => "long",
                    "double" | "float" | "real" => "double",
                    "varchar" | "string" | "text" | "keyword" | "char" => "keyword",
                    "boolean" | "bool" => "boolean",
                    "timestamp" | "datetime" | "date" => "datetime",
                    "ip" => "ip",
                    other => {
                        return Err(unsupported(format!(
                            "CAST to [{}]",
                            other.to_ascii_uppercase()
                        )));
                    }
                };
                ExprKind::Cast(Box::new(self.expr(expr)?), es.to_string())
            }
            q::Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => {
                let mut args = Vec::new();
                let op = operand.as_ref().map(|o| self.expr(o)).transpose()?;
                for w in conditions {
                    let c = self.expr(&w.condition)?;
                    let c = match &op {
                        Some(o) => mk(
                            ExprKind::Bin(BinOp::Eq, Box::new(o.clone()), Box::new(c.clone())),
                            c.pos,
                            c.text.clone(),
                        ),
                        None => c,
                    };
                    args.push(c);
                    args.push(self.expr(&w.result)?);
                }
                if let Some(e) = else_result {
                    args.push(self.expr(e)?);
                }
                ExprKind::Call("case".into(), args)
            }
            q::Expr::Extract { field, expr, .. } => {
                let part = match field.to_string().to_ascii_lowercase().as_str() {
                    "year" => "year",
                    "month" => "month_of_year",
                    "day" => "day_of_month",
                    "hour" => "hour_of_day",
                    "minute" => "minute_of_hour",
                    "second" => "second_of_minute",
                    "doy" => "day_of_year",
                    "quarter" => "quarter_of_year",
                    other => return Err(unsupported(format!("EXTRACT({other})"))),
                };
                ExprKind::Call(
                    "date_extract".into(),
                    vec![
                        mk(ExprKind::Lit(Lit::Str(part.into())), pos, part.into()),
                        self.expr(expr)?,
                    ],
                )
            }
            q::Expr::Ceil { expr, .. } => ExprKind::Call("ceil".into(), vec![self.expr(expr)?]),
            q::Expr::Floor { expr, .. } => ExprKind::Call("floor".into(), vec![self.expr(expr)?]),
            q::Expr::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                let mut args = vec![self.expr(expr)?];
                match substring_from {
                    Some(f) => args.push(self.expr(f)?),
                    None => args.push(mk(ExprKind::Lit(Lit::Int(1)), pos, "1".into())),
                }
                if let Some(l) = substring_for {
                    args.push(self.expr(l)?);
                }
                ExprKind::Call("substring".into(), args)
            }
            q::Expr::Trim {
                expr,
                trim_where: None,
                trim_what: None,
                ..
            } => ExprKind::Call("trim".into(), vec![self.expr(expr)?]),
            q::Expr::Interval(iv) => {
                let n: i64 = match iv.value.as_ref() {
                    q::Expr::Value(v) => match &v.value {
                        Value::Number(s, _) | Value::SingleQuotedString(s) => {
                            s.trim().parse().map_err(|_| {
                                parsing_error(pos, format!("invalid interval [{text}]"))
                            })?
                        }
                        _ => return Err(parsing_error(pos, format!("invalid interval [{text}]"))),
                    },
                    _ => return Err(parsing_error(pos, format!("invalid interval [{text}]"))),
                };
                let unit = iv
                    .leading_field
                    .as_ref()
                    .map(|f| f.to_string())
                    .unwrap_or_default();
                let unit = super::plan::span_unit(&unit)
                    .ok_or_else(|| parsing_error(pos, format!("invalid interval [{text}]")))?;
                ExprKind::Span(n, unit.to_string())
            }
            q::Expr::Function(f) => return self.function(f, pos, text),
            other => return Err(unsupported(format!("expression [{other}]"))),
        };
        Ok(mk(kind, pos, text))
    }

    fn function(&mut self, f: &q::Function, pos: Pos, text: String) -> Result<Expr, EsError> {
        let name = object_name(&f.name).to_ascii_lowercase();
        if f.over.is_some() || f.filter.is_some() || !f.within_group.is_empty() {
            return Err(unsupported("window and filtered aggregate functions"));
        }
        let mut distinct = false;
        let mut args = Vec::new();
        match &f.args {
            FunctionArguments::None => {}
            FunctionArguments::List(list) => {
                distinct = matches!(list.duplicate_treatment, Some(DuplicateTreatment::Distinct));
                if !list.clauses.is_empty() {
                    return Err(unsupported(format!("function clauses in [{text}]")));
                }
                for a in &list.args {
                    match a {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => args.push(self.expr(e)?),
                        FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => {
                            args.push(mk(ExprKind::Star, pos, "*".into()))
                        }
                        other => return Err(unsupported(format!("argument [{other}]"))),
                    }
                }
            }
            FunctionArguments::Subquery(_) => return Err(unsupported("subqueries")),
        }
        let lit_str = |s: &str| mk(ExprKind::Lit(Lit::Str(s.into())), pos, format!("\"{s}\""));
        let date_part = |part: &str, mut args: Vec<Expr>| -> Result<Expr, EsError> {
            if args.len() != 1 {
                return Err(verification_error(
                    pos,
                    format!("error building [{name}]: expects exactly one argument"),
                ));
            }
            Ok(call(
                "date_extract",
                vec![lit_str(part), args.remove(0)],
                pos,
                text.clone(),
            ))
        };
        let renamed = |n: &str, args: Vec<Expr>| Ok(call(n, args, pos, text.clone()));
        match name.as_str() {
            "count" if distinct => renamed("count_distinct", args),
            _ if distinct => Err(unsupported(format!("DISTINCT in [{text}]"))),
            "ucase" | "upper" => renamed("to_upper", args),
            "lcase" | "lower" => renamed("to_lower", args),
            "char_length" | "character_length" => renamed("length", args),
            "ceiling" => renamed("ceil", args),
            "degrees" => renamed("to_degrees", args),
            "radians" => renamed("to_radians", args),
            "power" => renamed("pow", args),
            "sign" => renamed("signum", args),
            "ifnull" | "isnull" | "nvl" => renamed("coalesce", args),
            "mad" => renamed("median_absolute_deviation", args),
            "stddev_pop" => renamed("std_dev", args),
            "current_timestamp" | "current_date" | "curdate" | "curtime" | "now"
            | "current_time" => renamed("now", vec![]),
            "mod" => {
                if args.len() != 2 {
                    return Err(verification_error(
                        pos,
                        "error building [mod]: expects exactly two arguments",
                    ));
                }
                let b = args.pop().unwrap();
                let a = args.pop().unwrap();
                Ok(mk(
                    ExprKind::Bin(BinOp::Mod, Box::new(a), Box::new(b)),
                    pos,
                    text,
                ))
            }
            "nullif" => {
                if args.len() != 2 {
                    return Err(verification_error(
                        pos,
                        "error building [nullif]: expects exactly two arguments",
                    ));
                }
                let (a, b) = (args[0].clone(), args[1].clone());
                let eq = mk(
                    ExprKind::Bin(BinOp::Eq, Box::new(a.clone()), Box::new(b)),
                    pos,
                    text.clone(),
                );
                renamed(
                    "case",
                    vec![eq, mk(ExprKind::Lit(Lit::Null), pos, "null".into()), a],
                )
            }
            "iif" => renamed("case", args),
            // ES SQL's LOCATE(pattern, source[, start]) is ES|QL's LOCATE(string, substring[, start]).
            "locate" if args.len() >= 2 => {
                args.swap(0, 1);
                renamed("locate", args)
            }
            // ES SQL's REPLACE replaces text, ES|QL's a regular expression.
            "replace" if args.len() == 3 => {
                if let ExprKind::Lit(Lit::Str(s)) = &args[1].kind {
                    args[1].kind = ExprKind::Lit(Lit::Str(regex::escape(s)));
                } else {
                    return Err(unsupported("REPLACE with a non-constant pattern"));
                }
                if let ExprKind::Lit(Lit::Str(s)) = &args[2].kind {
                    args[2].kind = ExprKind::Lit(Lit::Str(s.replace('$', "$$")));
                }
                renamed("replace", args)
            }
            "year" => date_part("year", args),
            "month" | "month_of_year" => date_part("month_of_year", args),
            "day" | "day_of_month" | "dayofmonth" | "dom" => date_part("day_of_month", args),
            "hour" | "hour_of_day" => date_part("hour_of_day", args),
            "minute" | "minute_of_hour" => date_part("minute_of_hour", args),
            "second" | "second_of_minute" => date_part("second_of_minute", args),
            "day_of_year" | "dayofyear" | "doy" => date_part("day_of_year", args),
            "quarter" => date_part("quarter_of_year", args),
            "iso_week_of_year" | "iso_week" | "isoweek" | "week_of_year" | "week" => {
                date_part("aligned_week_of_year", args)
            }
            "date_trunc" | "datetrunc" => {
                if args.len() != 2 {
                    return Err(verification_error(
                        pos,
                        "error building [date_trunc]: expects exactly two arguments",
                    ));
                }
                let unit = match &args[0].kind {
                    ExprKind::Lit(Lit::Str(s)) => super::plan::span_unit(s.trim_end_matches('s')).or_else(|| super::plan::span_unit(s)),
                    _ => None,
                }
                .ok_or_else(|| verification_error(args[0].pos, format!("first argument of [{text}] must be one of the date/time units, found [{}]", args[0].text)))?;
                let span = mk(
                    ExprKind::Span(1, unit.to_string()),
                    args[0].pos,
                    format!("1 {unit}"),
                );
                renamed("date_trunc", vec![span, args.remove(1)])
            }
            "datetime_format" | "date_format" => {
                if args.len() != 2 {
                    return Err(verification_error(
                        pos,
                        format!("error building [{name}]: expects exactly two arguments"),
                    ));
                }
                args.swap(0, 1);
                renamed("date_format", args)
            }
            "datetime_parse" | "date_parse" => {
                if args.len() != 2 {
                    return Err(verification_error(
                        pos,
                        format!("error building [{name}]: expects exactly two arguments"),
                    ));
                }
                args.swap(0, 1);
                renamed("date_parse", args)
            }
            "histogram" => renamed("bucket", args),
            // Full-text predicates (functions/search.md): MATCH(field or 'f1^2,f2', 'text'
            // [, 'opt=v;…']) and QUERY('query string' [, 'opt=v;…']) run as the query DSL's
            // match / multi_match and query_string (see `plan::take_full_text`).
            "match" => {
                if !(2..=3).contains(&args.len()) {
                    return Err(verification_error(
                        pos,
                        "error building [match]: expects two or three arguments",
                    ));
                }
                renamed("match", args)
            }
            "query" => {
                if !(1..=2).contains(&args.len()) {
                    return Err(verification_error(
                        pos,
                        "error building [query]: expects one or two arguments",
                    ));
                }
                renamed("qstr", args)
            }
            "score" => renamed("score", args),
            // DAY_OF_WEEK counts from Sunday = 1 (functions/date-time.md), ISO_DAY_OF_WEEK from
            // Monday = 1 (ES|QL's day_of_week).
            "day_of_week" | "dayofweek" | "dow" => {
                let iso = date_part("day_of_week", args)?;
                let lit = |n: i64| mk(ExprKind::Lit(Lit::Int(n)), pos, n.to_string());
                let m = mk(
                    ExprKind::Bin(BinOp::Mod, Box::new(iso), Box::new(lit(7))),
                    pos,
                    text.clone(),
                );
                Ok(mk(
                    ExprKind::Bin(BinOp::Add, Box::new(m), Box::new(lit(1))),
                    pos,
                    text,
                ))
            }
            "iso_day_of_week" | "isodayofweek" | "isodow" | "idow" => {
                date_part("day_of_week", args)
            }
            "day_name" | "dayname" | "month_name" | "monthname" => {
                if args.len() != 1 {
                    return Err(verification_error(
                        pos,
                        format!("error building [{name}]: expects exactly one argument"),
                    ));
                }
                let pattern = if name.starts_with("day") {
                    "EEEE"
                } else {
                    "MMMM"
                };
                renamed("date_format", vec![lit_str(pattern), args.remove(0)])
            }
            _ => renamed(&name, args),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline(sql: &str) -> Vec<String> {
        let SqlStatement::Select { query: q, .. } = parse(sql, &[]).unwrap() else {
            panic!()
        };
        q.commands
            .iter()
            .map(|(c, _)| {
                format!("{c:?}")
                    .split(['(', ' ', '{'])
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn select_shapes() {
        assert_eq!(
            pipeline(
                "SELECT host, bytes * 2 AS b FROM logs WHERE status = 200 ORDER BY b DESC LIMIT 5"
            ),
            ["From", "Where", "Eval", "Sort", "Keep", "Rename"]
        );
        assert_eq!(
            pipeline(
                "SELECT host, COUNT(*) c FROM \"logs-*\" GROUP BY host HAVING COUNT(*) > 1 ORDER BY 2"
            ),
            ["From", "Stats", "Where", "Eval", "Sort", "Keep", "Rename"]
        );
        assert_eq!(pipeline("SELECT * FROM logs"), ["From"]);
        assert_eq!(pipeline("SELECT 1 + 1"), ["Row", "Keep", "Rename"]);
        assert!(matches!(
            parse("SHOW TABLES", &[]),
            Ok(SqlStatement::ShowTables(None))
        ));
        assert!(
            matches!(parse("DESCRIBE logs", &[]), Ok(SqlStatement::Describe(t)) if t == "logs")
        );
        let e = parse("SELECT FROM WHERE", &[]).err().unwrap();
        assert_eq!(e.kind, "parsing_exception");
        assert!(e.reason.starts_with("line 1:"), "{}", e.reason);
    }
}
