//! From a parsed ES|QL query to one ClickHouse `SELECT`.
//!
//! The pipeline is folded command by command into a [`Rel`]: the columns (name, ES|QL type, SQL
//! expression over the current `FROM`), the WHERE conditions, the sort keys and the limit of a
//! SELECT under construction. Row-wise commands (EVAL, WHERE, KEEP, DROP, RENAME, DISSECT, GROK)
//! only rewrite expressions, so most queries are a single SELECT over the index table. A command
//! that must see the result of an earlier one — WHERE/SORT/STATS after LIMIT, anything after STATS
//! or MV_EXPAND — first wraps the current SELECT as a subquery ([`Planner::wrap`]). Every
//! projected expression is aliased `..cN`, a name no field can have (Elasticsearch field paths
//! never start with a dot; array columns are `.<path>`, see `catalog::physical_name`), so aliases
//! never capture a column a WHERE or ORDER BY refers to.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::parser::{BinOp, Command, Expr as AExpr, ExprKind, Lit, Named, Query};
use super::{Pos, Ty, verification_error};
use crate::catalog::IndexMeta;
use crate::error::EsError;
use crate::sql::{self, Expr, FromClause, IntervalUnit, OrderBy, Select};

/// ES|QL's implicit limit when a query has none (esql-limitations: `LIMIT 1000` by default).
pub const DEFAULT_LIMIT: u64 = 1000;
/// `esql.query.result_truncation_max_size`: the largest number of rows one query returns.
pub const MAX_LIMIT: u64 = 10_000;

/// A typed SQL expression.
#[derive(Debug, Clone)]
pub struct TExpr {
    pub sql: Expr,
    pub ty: Ty,
    /// The expression is an array (a multi-valued field or an MV_ function's result).
    pub multi: bool,
    /// Contains an aggregate (STATS only).
    pub agg: bool,
}

impl TExpr {
    pub fn new(sql: Expr, ty: Ty) -> TExpr {
        TExpr {
            sql,
            ty,
            multi: false,
            agg: false,
        }
    }

    pub fn null() -> TExpr {
        TExpr::new(sql::null(), Ty::Null)
    }
}

#[derive(Debug, Clone)]
pub struct Col {
    pub name: String,
    pub e: TExpr,
}

/// A SELECT under construction (see the module docs).
#[derive(Debug, Clone, Default)]
struct Rel {
    from: Option<FromClause>,
    /// Which rows of the index table the read sees (see `IndexMeta::rows`).
    rows: sql::Rows,
    where_: Vec<Expr>,
    cols: Vec<Col>,
    order: Vec<OrderBy>,
    limit: Option<u64>,
}

/// One index of a `FROM`: its metadata and the WHERE its documents must match (the request's
/// `filter` and the filters of the aliases it was reached through).
pub struct SourceIndex {
    pub meta: Arc<IndexMeta>,
    pub filter: Expr,
}

/// An enrich policy an ENRICH command names (`PUT /_enrich/policy/{name}`, a `match` policy),
/// with its source index resolved by the caller.
pub struct EnrichPolicy {
    pub name: String,
    pub match_field: String,
    pub enrich_fields: Vec<String>,
    pub source: SourceIndex,
}

/// The translated query: the statement and the columns of its answer, in order.
#[derive(Debug, Clone)]
pub struct Planned {
    pub select: Select,
    /// Name, type, and whether the values come as arrays (multi-valued).
    pub columns: Vec<(String, Ty, bool)>,
}

/// Where the expression is: outside STATS, at the top of a STATS aggregate expression (aggregate
/// calls allowed, bare columns not), or inside an aggregate's arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ctx {
    Row,
    Agg,
}

pub struct Planner {
    next_alias: usize,
    pub(super) now_millis: i64,
    saw_limit: bool,
    /// The Elasticsearch version the daemon reports (SHOW INFO).
    version: String,
    /// The `WHERE` of the STATS aggregate being translated.
    pub(super) agg_filter: Option<Expr>,
    /// The indices of the query's LOOKUP JOINs.
    lookups: Vec<SourceIndex>,
    /// The policies of the query's ENRICH commands.
    policies: Vec<EnrichPolicy>,
    /// A LEFT JOIN is in the statement: non-matching rows must read NULL, not default values.
    joined: bool,
    /// The time zone of date parts, roundings and formats: a ClickHouse time zone name
    /// (Elasticsearch SQL's `time_zone`; ES|QL works in UTC).
    pub(super) tz: String,
}

/// The pipeline's LOOKUP JOIN indices (resolved by the caller like FROM).
pub fn lookup_indices(q: &Query) -> Vec<&Named> {
    q.commands
        .iter()
        .filter_map(|(c, _)| match c {
            Command::LookupJoin { index, .. } => Some(index),
            _ => None,
        })
        .collect()
}

/// The policy names of the pipeline's ENRICH commands (resolved by the caller).
pub fn enrich_policies(q: &Query) -> Vec<&Named> {
    q.commands
        .iter()
        .filter_map(|(c, _)| match c {
            Command::Enrich { policy, .. } => Some(policy),
            _ => None,
        })
        .collect()
}

/// The index patterns and metadata fields of the query's `FROM`, if it starts with one.
pub fn source(q: &Query) -> Option<(&[Named], &[Named])> {
    match q.commands.first() {
        Some((Command::From { patterns, metadata }, _)) => Some((patterns, metadata)),
        _ => None,
    }
}

/// Takes the full-text conditions out of the WHERE right after FROM — MATCH(field, "text"),
/// `field : "text"`, QSTR("query string") among its top-level ANDs — and returns them as query
/// DSL, for the `_search` planner to translate like the request's `filter` (tokens and analyzers
/// as `match` and `query_string` have them). Elsewhere they answer a 400 (see `functions`).
pub fn take_full_text(q: &mut Query) -> Result<Vec<serde_json::Value>, EsError> {
    let Some((Command::Where(cond), _)) = q.commands.get(1) else {
        return Ok(Vec::new());
    };
    if !matches!(q.commands.first(), Some((Command::From { .. }, _))) {
        return Ok(Vec::new());
    }
    fn conjuncts(e: &AExpr, out: &mut Vec<AExpr>) {
        match &e.kind {
            ExprKind::Bin(BinOp::And, a, b) => {
                conjuncts(a, out);
                conjuncts(b, out);
            }
            _ => out.push(e.clone()),
        }
    }
    let mut parts = Vec::new();
    conjuncts(cond, &mut parts);
    let mut dsl = Vec::new();
    let mut rest = Vec::new();
    for p in parts {
        let value = |a: &AExpr| match &a.kind {
            ExprKind::Lit(Lit::Str(s)) => Some(serde_json::json!(s)),
            ExprKind::Lit(Lit::Int(n)) => Some(serde_json::json!(n)),
            ExprKind::Lit(Lit::Double(x)) => Some(serde_json::json!(x)),
            ExprKind::Lit(Lit::Bool(b)) => Some(serde_json::json!(b)),
            _ => None,
        };
        let options =
            |a: Option<&AExpr>| -> Result<serde_json::Map<String, serde_json::Value>, EsError> {
                let mut m = serde_json::Map::new();
                let Some(a) = a else { return Ok(m) };
                let ExprKind::Lit(Lit::Str(s)) = &a.kind else {
                    return Err(verification_error(
                        a.pos,
                        format!("[{}] must be a constant string of options", a.text),
                    ));
                };
                // Elasticsearch SQL's options: `name=value;name=value` (functions/search.md).
                for part in s.split(';').map(str::trim).filter(|p| !p.is_empty()) {
                    let Some((k, v)) = part.split_once('=') else {
                        return Err(verification_error(
                            a.pos,
                            format!(
                                "Cannot parse options [{s}]: [{part}] is not of the form name=value"
                            ),
                        ));
                    };
                    m.insert(k.trim().to_string(), serde_json::json!(v.trim()));
                }
                Ok(m)
            };
        match &p.kind {
            ExprKind::Call(name, args) if name == "match" && (2..=3).contains(&args.len()) => {
                let mut body = options(args.get(2))?;
                let Some(v) = value(&args[1]) else {
                    return Err(verification_error(
                        p.pos,
                        format!("[{}] needs a field and a constant query", p.text),
                    ));
                };
                body.insert("query".into(), v);
                match &args[0].kind {
                    ExprKind::Field(field) => {
                        dsl.push(serde_json::json!({"match": {field: body}}));
                    }
                    // Elasticsearch SQL: MATCH('title^2, author', 'text') is a multi_match.
                    ExprKind::Lit(Lit::Str(fields)) => {
                        let fields: Vec<&str> = fields
                            .split(',')
                            .map(str::trim)
                            .filter(|f| !f.is_empty())
                            .collect();
                        body.insert("fields".into(), serde_json::json!(fields));
                        dsl.push(serde_json::json!({ "multi_match": body }));
                    }
                    _ => {
                        return Err(verification_error(
                            p.pos,
                            format!("[{}] needs a field and a constant query", p.text),
                        ));
                    }
                }
            }
            ExprKind::Call(name, _) if name == "match" => {
                return Err(EsError::unsupported("MATCH options"));
            }
            ExprKind::Call(name, args) if name == "qstr" && (1..=2).contains(&args.len()) => {
                match value(&args[0]) {
                    Some(v) => {
                        let mut body = options(args.get(1))?;
                        body.insert("query".into(), v);
                        dsl.push(serde_json::json!({ "query_string": body }));
                    }
                    None => {
                        return Err(verification_error(
                            p.pos,
                            format!("[{}] needs a constant query", p.text),
                        ));
                    }
                }
            }
            ExprKind::Call(name, _) if name == "qstr" => {
                return Err(EsError::unsupported("QSTR options"));
            }
            _ => rest.push(p),
        }
    }
    if dsl.is_empty() {
        return Ok(dsl);
    }
    let mut it = rest.into_iter();
    match it.next() {
        None => {
            q.commands.remove(1);
        }
        Some(first) => {
            let merged = it.fold(first, |a, b| AExpr {
                pos: a.pos,
                text: format!("{} AND {}", a.text, b.text),
                kind: ExprKind::Bin(BinOp::And, Box::new(a), Box::new(b)),
            });
            q.commands[1].0 = Command::Where(merged);
        }
    }
    Ok(dsl)
}

/// Normalises a time-span unit (`1 hour`, `2 days`, `5 min`) to its singular name.
pub fn span_unit(word: &str) -> Option<&'static str> {
    Some(match word.to_ascii_lowercase().as_str() {
        "millisecond" | "milliseconds" | "ms" => "millisecond",
        "second" | "seconds" | "sec" | "s" => "second",
        "minute" | "minutes" | "min" => "minute",
        "hour" | "hours" | "h" => "hour",
        "day" | "days" | "d" => "day",
        "week" | "weeks" | "w" => "week",
        "month" | "months" | "mo" => "month",
        "quarter" | "quarters" | "q" => "quarter",
        "year" | "years" | "yr" | "y" => "year",
        _ => return None,
    })
}

pub(super) fn interval_unit(unit: &str) -> IntervalUnit {
    match unit {
        "millisecond" => IntervalUnit::Millisecond,
        "second" => IntervalUnit::Second,
        "minute" => IntervalUnit::Minute,
        "hour" => IntervalUnit::Hour,
        "day" => IntervalUnit::Day,
        "week" => IntervalUnit::Week,
        "month" => IntervalUnit::Month,
        "quarter" => IntervalUnit::Quarter,
        _ => IntervalUnit::Year,
    }
}

/// Glob match of KEEP/DROP patterns (`*` any run of characters).
fn glob(pattern: &str, name: &str) -> bool {
    crate::catalog::glob_match(pattern, name)
}

/// `if(length(x) = 1, x[1], NULL)`: a multi-valued expression used where one value is expected
/// (ES|QL's single-value functions and operators answer null for several values).
pub(super) fn single(t: &TExpr) -> Expr {
    if t.multi {
        Expr::func(
            "if",
            vec![
                Expr::func("length", vec![t.sql.clone()]).eq(sql::lit(1)),
                Expr::func("arrayElement", vec![t.sql.clone(), sql::lit(1)]),
                sql::null(),
            ],
        )
    } else {
        t.sql.clone()
    }
}

/// The values of an expression as an array (`[]` for NULL).
pub(super) fn as_array(t: &TExpr) -> Expr {
    if t.multi {
        t.sql.clone()
    } else if matches!(t.ty, Ty::Null) {
        Expr::func("emptyArrayString", vec![])
    } else {
        Expr::func(
            "if",
            vec![
                t.sql.clone().is_null(),
                Expr::func("array", vec![]),
                Expr::func(
                    "array",
                    vec![Expr::func("assumeNotNull", vec![t.sql.clone()])],
                ),
            ],
        )
    }
}

impl Planner {
    pub fn new(now_millis: i64, version: &str) -> Planner {
        Planner {
            next_alias: 0,
            now_millis,
            saw_limit: false,
            version: version.to_string(),
            agg_filter: None,
            lookups: Vec::new(),
            policies: Vec::new(),
            joined: false,
            tz: "UTC".to_string(),
        }
    }

    /// The resolved policies of the query's ENRICH commands.
    pub fn with_policies(mut self, policies: Vec<EnrichPolicy>) -> Planner {
        self.policies = policies;
        self
    }

    /// Date parts, roundings and formats in time zone `tz` (a ClickHouse time zone name).
    pub fn with_time_zone(mut self, tz: &str) -> Planner {
        self.tz = tz.to_string();
        self
    }

    /// The resolved indices of the query's LOOKUP JOINs.
    pub fn with_lookups(mut self, lookups: Vec<SourceIndex>) -> Planner {
        self.lookups = lookups;
        self
    }

    fn alias(&mut self) -> String {
        self.next_alias += 1;
        format!("..c{}", self.next_alias)
    }

    /// Plans `q` over `sources` (the resolved indices of its FROM; empty for ROW).
    pub fn plan(&mut self, q: &Query, sources: &[SourceIndex]) -> Result<Planned, EsError> {
        let mut rel = Rel::default();
        for (cmd, pos) in &q.commands {
            rel = self.command(rel, cmd, *pos, sources)?;
        }
        let limit = match rel.limit {
            Some(n) => Some(n),
            None if !self.saw_limit => Some(DEFAULT_LIMIT),
            None => None,
        };
        let columns = rel
            .cols
            .iter()
            .map(|c| (c.name.clone(), c.e.ty, c.e.multi))
            .collect();
        let mut items: Vec<sql::SelectItem> = rel
            .cols
            .iter()
            .map(|c| output_expr(&c.e).alias(self.alias()))
            .collect();
        if items.is_empty() {
            items.push(sql::lit(0).alias(self.alias()));
        }
        let mut select = Select {
            items,
            from: rel.from,
            rows: rel.rows,
            where_: (!rel.where_.is_empty()).then(|| sql::and_all(rel.where_)),
            order_by: rel.order,
            limit,
            ..Default::default()
        };
        if self.joined {
            select = select.setting("join_use_nulls", 1);
        }
        Ok(Planned { select, columns })
    }

    /// The current SELECT as a subquery; its columns (and sort keys) become references to it.
    fn wrap(&mut self, rel: Rel) -> Rel {
        let mut items = Vec::new();
        let mut cols = Vec::new();
        for c in rel.cols {
            let a = self.alias();
            items.push(c.e.sql.clone().alias(a.clone()));
            cols.push(Col {
                name: c.name,
                e: TExpr {
                    sql: sql::col(a),
                    agg: false,
                    ..c.e
                },
            });
        }
        let mut order = Vec::new();
        for o in &rel.order {
            let a = self.alias();
            items.push(o.expr.clone().alias(a.clone()));
            order.push(OrderBy {
                expr: sql::col(a),
                ..o.clone()
            });
        }
        if items.is_empty() {
            items.push(sql::lit(0).alias(self.alias()));
        }
        let inner = Select {
            items,
            from: rel.from,
            rows: rel.rows,
            where_: (!rel.where_.is_empty()).then(|| sql::and_all(rel.where_)),
            order_by: rel.order,
            limit: rel.limit,
            ..Default::default()
        };
        Rel {
            from: Some(FromClause::from(inner)),
            cols,
            order,
            ..Default::default()
        }
    }

    fn command(
        &mut self,
        mut rel: Rel,
        cmd: &Command,
        pos: Pos,
        sources: &[SourceIndex],
    ) -> Result<Rel, EsError> {
        match cmd {
            Command::From { metadata, .. } => self.from(sources, metadata),
            Command::Row(fields) => {
                for f in fields {
                    let e = self.expr(&f.expr, &rel.cols, Ctx::Row)?;
                    put(&mut rel.cols, &f.name, e);
                }
                Ok(rel)
            }
            Command::ShowInfo => {
                for (name, value) in [
                    ("version", self.version.clone()),
                    ("date", "2024-01-01T00:00:00.000Z".to_string()),
                    (
                        "hash",
                        format!("elastichouse-{}", env!("CARGO_PKG_VERSION")),
                    ),
                ] {
                    rel.cols.push(Col {
                        name: name.into(),
                        e: TExpr::new(sql::lit(value), Ty::Keyword),
                    });
                }
                Ok(rel)
            }
            Command::Where(e) => {
                if rel.limit.is_some() {
                    rel = self.wrap(rel);
                }
                let t = self.expr(e, &rel.cols, Ctx::Row)?;
                if !matches!(t.ty, Ty::Boolean | Ty::Null) {
                    return Err(verification_error(
                        e.pos,
                        format!(
                            "Condition expression needs to be boolean, found [{}]",
                            t.ty.name().to_ascii_uppercase()
                        ),
                    ));
                }
                rel.where_.push(single(&t));
                Ok(rel)
            }
            Command::Eval(fields) => {
                for f in fields {
                    let e = self.expr(&f.expr, &rel.cols, Ctx::Row)?;
                    put(&mut rel.cols, &f.name, e);
                }
                Ok(rel)
            }
            Command::Stats { aggs, filters, by } => self.stats(rel, aggs, filters, by, pos),
            Command::Sort(keys) => {
                if rel.limit.is_some() {
                    rel = self.wrap(rel);
                }
                let mut order = Vec::new();
                for k in keys {
                    let t = self.expr(&k.expr, &rel.cols, Ctx::Row)?;
                    if matches!(t.ty, Ty::Unsupported | Ty::Source) {
                        return Err(verification_error(
                            k.expr.pos,
                            format!("cannot sort on {}", t.ty.name()),
                        ));
                    }
                    let key = if t.multi {
                        Expr::func(
                            if k.desc { "arrayMax" } else { "arrayMin" },
                            vec![t.sql.clone()],
                        )
                    } else {
                        t.sql.clone()
                    };
                    let o = OrderBy::new(key, k.desc);
                    // ES|QL: nulls are larger than any value (last ascending, first descending).
                    order.push(if k.nulls_first.unwrap_or(k.desc) {
                        o.nulls_first()
                    } else {
                        o.nulls_last()
                    });
                }
                rel.order = order;
                Ok(rel)
            }
            Command::Limit(n) => {
                let n = (*n).min(MAX_LIMIT);
                self.saw_limit = true;
                rel.limit = Some(rel.limit.map_or(n, |m| m.min(n)));
                Ok(rel)
            }
            Command::Keep(patterns) => {
                // Which pattern places each column (commands/keep.md): a complete name beats a
                // partial wildcard, which beats `*`; on a tie the rightmost pattern wins.
                let mut owner: Vec<Option<(u8, usize)>> = vec![None; rel.cols.len()];
                for (pi, p) in patterns.iter().enumerate() {
                    let rank = if !p.name.contains('*') {
                        3
                    } else if p.name == "*" {
                        1
                    } else {
                        2
                    };
                    let mut hit = false;
                    for (ci, c) in rel.cols.iter().enumerate() {
                        if glob(&p.name, &c.name) {
                            hit = true;
                            if owner[ci].is_none_or(|(r, _)| rank >= r) {
                                owner[ci] = Some((rank, pi));
                            }
                        }
                    }
                    if !hit {
                        return Err(unknown_column(p, &rel.cols));
                    }
                }
                let owner: Vec<Option<usize>> = owner.into_iter().map(|o| o.map(|x| x.1)).collect();
                let mut out = Vec::new();
                for pi in 0..patterns.len() {
                    for (ci, c) in rel.cols.iter().enumerate() {
                        if owner[ci] == Some(pi) {
                            out.push(c.clone());
                        }
                    }
                }
                rel.cols = out;
                Ok(rel)
            }
            Command::Drop(patterns) => {
                for p in patterns {
                    if !rel.cols.iter().any(|c| glob(&p.name, &c.name)) {
                        return Err(unknown_column(p, &rel.cols));
                    }
                    rel.cols.retain(|c| !glob(&p.name, &c.name));
                }
                Ok(rel)
            }
            Command::Rename(pairs) => {
                for (old, new) in pairs {
                    let Some(i) = rel.cols.iter().position(|c| c.name == old.name) else {
                        return Err(unknown_column(old, &rel.cols));
                    };
                    if old.name == new.name {
                        continue;
                    }
                    rel.cols[i].name = new.name.clone();
                    let mut k = 0;
                    rel.cols.retain(|c| {
                        k += 1;
                        k - 1 == i || c.name != new.name
                    });
                }
                Ok(rel)
            }
            Command::Dissect {
                expr,
                pattern,
                separator,
            } => {
                let t = self.expr(expr, &rel.cols, Ctx::Row)?;
                require_string(expr, &t, "DISSECT")?;
                for (name, e) in
                    super::functions::dissect(&single(&t), pattern, separator, expr.pos)?
                {
                    put(&mut rel.cols, &name, e);
                }
                Ok(rel)
            }
            Command::Grok { expr, pattern } => {
                let t = self.expr(expr, &rel.cols, Ctx::Row)?;
                require_string(expr, &t, "GROK")?;
                for (name, e) in super::functions::grok(&single(&t), pattern, expr.pos)? {
                    put(&mut rel.cols, &name, e);
                }
                Ok(rel)
            }
            Command::LookupJoin { index, on } => self.lookup_join(rel, index, on),
            Command::Enrich { policy, on, with } => self.enrich(rel, policy, on.as_ref(), with),
            Command::MvExpand(field) => {
                let Some(i) = rel.cols.iter().position(|c| c.name == field.name) else {
                    return Err(unknown_column(field, &rel.cols));
                };
                if !rel.cols[i].e.multi {
                    return Ok(rel);
                }
                if rel.limit.is_some() {
                    rel = self.wrap(rel);
                }
                let arr = rel.cols[i].e.sql.clone();
                let v = sql::Ident::new("v");
                let nullable = Expr::func(
                    "arrayMap",
                    vec![
                        sql::lambda(["v"], Expr::func("toNullable", vec![Expr::Column(v)])),
                        arr.clone(),
                    ],
                );
                let expanded = Expr::func(
                    "arrayJoin",
                    vec![Expr::func(
                        "if",
                        vec![
                            Expr::func("empty", vec![arr]),
                            Expr::func("array", vec![sql::null()]),
                            nullable,
                        ],
                    )],
                );
                rel.cols[i].e.sql = expanded;
                rel.cols[i].e.multi = false;
                // The expanded rows must be materialised before anything refers to them again.
                Ok(self.wrap(rel))
            }
        }
    }

    fn from(&mut self, sources: &[SourceIndex], metadata: &[Named]) -> Result<Rel, EsError> {
        // name → (type, per-index expression, multi-valued in some index)
        let mut fields: BTreeMap<String, (Ty, Vec<Option<TExpr>>)> = BTreeMap::new();
        for (k, s) in sources.iter().enumerate() {
            for (name, t) in index_columns(&s.meta) {
                let entry = fields
                    .entry(name)
                    .or_insert_with(|| (t.ty, vec![None; sources.len()]));
                entry.0 = match (entry.0, t.ty) {
                    (a, b) if a == b => a,
                    (Ty::Keyword, Ty::Text) | (Ty::Text, Ty::Keyword) => Ty::Keyword,
                    _ => Ty::Unsupported,
                };
                entry.1[k] = Some(t);
            }
        }
        let mut meta_cols: Vec<(String, Ty)> = Vec::new();
        for m in metadata {
            let ty = match m.name.as_str() {
                "_index" | "_id" => Ty::Keyword,
                "_version" => Ty::Long,
                "_source" => Ty::Source,
                "_ignored" => Ty::Keyword,
                "_score" => {
                    return Err(EsError::unsupported("ES|QL metadata field [_score]"));
                }
                other => {
                    return Err(super::parsing_error(
                        m.pos,
                        format!("unsupported metadata field [{other}]"),
                    ));
                }
            };
            meta_cols.push((m.name.clone(), ty));
        }
        let per_index = |k: usize, s: &SourceIndex| -> Vec<(String, TExpr)> {
            let mut out = Vec::new();
            for (name, (ty, exprs)) in &fields {
                let any_multi = exprs.iter().flatten().any(|t| t.multi);
                let e = match &exprs[k] {
                    _ if *ty == Ty::Unsupported => TExpr::new(sql::null(), Ty::Unsupported),
                    Some(t) if any_multi && !t.multi => TExpr {
                        sql: as_array(t),
                        multi: true,
                        ..t.clone()
                    },
                    Some(t) => t.clone(),
                    None if any_multi => TExpr {
                        sql: Expr::func("array", vec![]),
                        ty: *ty,
                        multi: true,
                        agg: false,
                    },
                    None => TExpr::new(sql::null(), *ty),
                };
                out.push((name.clone(), e));
            }
            for (name, ty) in &meta_cols {
                let m = &s.meta;
                let e = match name.as_str() {
                    "_index" => sql::lit(m.name.as_str()),
                    "_id" if m.managed => sql::col(crate::catalog::COL_ID),
                    "_id" => Expr::func(
                        "lower",
                        vec![Expr::func(
                            "hex",
                            vec![Expr::func("sipHash128", vec![sql::star()])],
                        )],
                    ),
                    "_version" if m.managed => {
                        Expr::func("toInt64", vec![sql::col(crate::catalog::COL_VERSION)])
                    }
                    "_version" => sql::lit(1i64),
                    "_source" if m.managed => m.source_expr(),
                    "_source" => Expr::func(
                        "formatRowNoNewline",
                        vec![sql::lit("JSONEachRow"), sql::star()],
                    ),
                    _ => sql::null(),
                };
                out.push((name.clone(), TExpr::new(e, *ty)));
            }
            let _ = k;
            out
        };
        match sources {
            [] => Err(EsError::index_not_found("")),
            [s] => {
                let cols = per_index(0, s)
                    .into_iter()
                    .map(|(name, e)| Col { name, e })
                    .collect();
                let (from, rows) = index_from(&s.meta);
                Ok(Rel {
                    from: Some(from),
                    rows,
                    where_: if s.filter == sql::lit(true) {
                        Vec::new()
                    } else {
                        vec![s.filter.clone()]
                    },
                    cols,
                    ..Default::default()
                })
            }
            many => {
                // One SELECT per index, the same alias for the same column in every member.
                let names: Vec<(String, String)> = per_index(0, &many[0])
                    .into_iter()
                    .map(|(n, _)| (n, self.alias()))
                    .collect();
                let mut members = Vec::new();
                let mut first: Vec<TExpr> = Vec::new();
                for (k, s) in many.iter().enumerate() {
                    let cols = per_index(k, s);
                    if k == 0 {
                        first = cols.iter().map(|(_, e)| e.clone()).collect();
                    }
                    let (from, rows) = index_from(&s.meta);
                    let mut items: Vec<sql::SelectItem> = cols
                        .into_iter()
                        .zip(&names)
                        .map(|((_, e), (_, a))| e.sql.alias(a.clone()))
                        .collect();
                    if items.is_empty() {
                        items.push(sql::lit(0).alias("..c0"));
                    }
                    members.push(Select {
                        items,
                        from: Some(from),
                        rows,
                        where_: Some(s.filter.clone()),
                        ..Default::default()
                    });
                }
                let cols = names
                    .into_iter()
                    .zip(first)
                    .map(|((name, a), e)| Col {
                        name,
                        e: TExpr {
                            sql: sql::col(a),
                            ..e
                        },
                    })
                    .collect();
                Ok(Rel {
                    from: Some(FromClause::from(sql::union_all(members))),
                    cols,
                    ..Default::default()
                })
            }
        }
    }

    /// LOOKUP JOIN (commands/lookup-join.md): a LEFT JOIN on the key fields; the lookup index's
    /// other fields are added at the end, replacing columns of the same name; several matches give
    /// several rows.
    fn lookup_join(&mut self, rel: Rel, index: &Named, on: &[Named]) -> Result<Rel, EsError> {
        let Some(lookup) = self
            .lookups
            .iter()
            .find(|l| l.meta.name == index.name || l.meta.aliases.contains_key(&index.name))
        else {
            return Err(verification_error(
                index.pos,
                format!("Unknown index [{}]", index.name),
            ));
        };
        let mode = lookup
            .meta
            .settings
            .get("mode")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("standard");
        if mode != "lookup" {
            return Err(verification_error(
                index.pos,
                format!(
                    "invalid [{}] resolution in lookup mode to an index in [{mode}] mode",
                    index.name
                ),
            ));
        }
        let right_cols = index_columns(&lookup.meta);
        let (lookup_from, lookup_rows) = index_from(&lookup.meta);
        let lookup_filter = lookup.filter.clone();
        let left = self.wrap(rel);
        let mut keys = Vec::new();
        for k in on {
            let Some(l) = left.cols.iter().find(|c| c.name == k.name) else {
                return Err(unknown_column(k, &left.cols));
            };
            let Some((_, r)) = right_cols.iter().find(|(n, _)| *n == k.name) else {
                return Err(verification_error(
                    k.pos,
                    format!("Unknown column [{}] in right side of join", k.name),
                ));
            };
            let compatible = l.e.ty == r.ty
                || (l.e.ty.is_string() && r.ty.is_string())
                || (l.e.ty.is_integral() && r.ty.is_integral());
            if !compatible {
                return Err(verification_error(
                    k.pos,
                    format!(
                        "JOIN left field [{}] of type [{}] is incompatible with right field [{}] of type [{}]",
                        k.name,
                        l.e.ty.name().to_ascii_uppercase(),
                        k.name,
                        r.ty.name().to_ascii_uppercase()
                    ),
                ));
            }
            keys.push((single(&l.e), k.name.clone()));
        }
        let mut items = Vec::new();
        let mut added = Vec::new();
        let mut key_aliases = Vec::new();
        for (name, t) in right_cols {
            let a = self.alias();
            items.push(t.sql.clone().alias(a.clone()));
            if let Some((_, kname)) = keys.iter().find(|(_, n)| *n == name) {
                key_aliases.push((kname.clone(), a));
                continue;
            }
            added.push(Col {
                name,
                e: TExpr {
                    sql: sql::col(a),
                    ..t
                },
            });
        }
        let right = Select {
            items,
            from: Some(lookup_from),
            rows: lookup_rows,
            where_: (lookup_filter != sql::lit(true)).then_some(lookup_filter),
            ..Default::default()
        };
        let on_expr = sql::and_all(keys.iter().map(|(l, kname)| {
            let a = &key_aliases
                .iter()
                .find(|(n, _)| n == kname)
                .expect("key column")
                .1;
            l.clone().eq(sql::col(a.clone()))
        }));
        self.joined = true;
        let Some(left_from) = left.from else {
            unreachable!("wrap always has a FROM")
        };
        let mut cols: Vec<Col> = left
            .cols
            .into_iter()
            .filter(|c| !added.iter().any(|a| a.name == c.name))
            .collect();
        cols.extend(added);
        let joined = Rel {
            from: Some(FromClause::LeftJoin {
                left: Box::new(left_from.alias("..l")),
                right: Box::new(FromClause::from(right).alias("..r")),
                on: on_expr,
            }),
            cols,
            order: left.order,
            ..Default::default()
        };
        // Materialise the join before later commands refer to its columns.
        Ok(self.wrap(joined))
    }

    /// ENRICH (commands/enrich.md): a LEFT JOIN with the policy's source documents on its match
    /// field, grouped by that field so that every row gets one match; the values of several
    /// documents with the same key are merged into multi-values, as Elasticsearch's enrich lookup
    /// does. The enrich fields (all, or those of WITH, renamed) are added at the end, replacing
    /// columns of the same name; rows without a match read null.
    fn enrich(
        &mut self,
        rel: Rel,
        policy: &Named,
        on: Option<&Named>,
        with: &[(Named, Named)],
    ) -> Result<Rel, EsError> {
        let Some(p) = self.policies.iter().find(|p| p.name == policy.name) else {
            return Err(verification_error(
                policy.pos,
                format!("cannot find enrich policy [{}]", policy.name),
            ));
        };
        let key_name = on.map_or(p.match_field.clone(), |n| n.name.clone());
        let key_pos = on.map_or(policy.pos, |n| n.pos);
        let src_cols = index_columns(&p.source.meta);
        let pick: Vec<(String, String, Pos)> = if with.is_empty() {
            p.enrich_fields
                .iter()
                .map(|f| (f.clone(), f.clone(), policy.pos))
                .collect()
        } else {
            with.iter()
                .map(|(new, field)| (new.name.clone(), field.name.clone(), field.pos))
                .collect()
        };
        let (from, rows) = index_from(&p.source.meta);
        let filter = p.source.filter.clone();
        let match_field = p.match_field.clone();
        let enrich_fields = p.enrich_fields.clone();
        let left = self.wrap(rel);
        let Some(l) = left.cols.iter().find(|c| c.name == key_name) else {
            return Err(unknown_column(
                &Named {
                    name: key_name,
                    pos: key_pos,
                },
                &left.cols,
            ));
        };
        let Some((_, r)) = src_cols.iter().find(|(n, _)| *n == match_field) else {
            return Err(verification_error(
                policy.pos,
                format!(
                    "enrich policy [{}] has no match field [{match_field}] in its source",
                    policy.name
                ),
            ));
        };
        let compatible = l.e.ty == r.ty
            || (l.e.ty.is_string() && r.ty.is_string())
            || (l.e.ty.is_numeric() && r.ty.is_numeric())
            || l.e.ty == Ty::Null;
        if !compatible {
            return Err(verification_error(
                key_pos,
                format!(
                    "Unsupported type [{}] for enrich matching field [{}]; only [{}] allowed for type [match]",
                    esql_type_name(l.e.ty).to_ascii_uppercase(),
                    l.name,
                    esql_type_name(r.ty).to_ascii_uppercase()
                ),
            ));
        }
        let left_key = single(&l.e);
        let key_alias = self.alias();
        let mut items = vec![single(r).alias(key_alias.clone())];
        let mut added = Vec::new();
        for (new, field, pos) in pick {
            if !enrich_fields.contains(&field) {
                return Err(verification_error(
                    pos,
                    format!(
                        "Enrich field [{field}] not found in enrich policy [{}]",
                        policy.name
                    ),
                ));
            }
            let Some((_, t)) = src_cols.iter().find(|(n, _)| *n == field) else {
                return Err(verification_error(
                    pos,
                    format!("Enrich field [{field}] is not mapped in the policy's source"),
                ));
            };
            let values = if t.multi {
                Expr::func(
                    "arrayFlatten",
                    vec![Expr::func("groupArray", vec![t.sql.clone()])],
                )
            } else {
                Expr::func("groupArray", vec![t.sql.clone()])
            };
            let a = self.alias();
            items.push(values.alias(a.clone()));
            added.push(Col {
                name: new,
                e: TExpr {
                    sql: sql::col(a),
                    ty: t.ty,
                    multi: t.ty != Ty::Unsupported,
                    agg: false,
                },
            });
        }
        let right = Select {
            items,
            from: Some(from),
            rows,
            where_: Some(sql::and_all([filter, single(r).is_not_null()])),
            group_by: vec![sql::col(key_alias.clone())],
            ..Default::default()
        };
        self.joined = true;
        let Some(left_from) = left.from else {
            unreachable!("wrap always has a FROM")
        };
        let mut cols: Vec<Col> = left
            .cols
            .into_iter()
            .filter(|c| !added.iter().any(|a| a.name == c.name))
            .collect();
        cols.extend(added);
        let joined = Rel {
            from: Some(FromClause::LeftJoin {
                left: Box::new(left_from.alias("..l")),
                right: Box::new(FromClause::from(right).alias("..r")),
                on: left_key.eq(sql::col(key_alias)),
            }),
            cols,
            order: left.order,
            ..Default::default()
        };
        Ok(self.wrap(joined))
    }

    fn stats(
        &mut self,
        mut rel: Rel,
        aggs: &[super::parser::Field],
        filters: &[Option<AExpr>],
        by: &[super::parser::Field],
        pos: Pos,
    ) -> Result<Rel, EsError> {
        if aggs.is_empty() && by.is_empty() {
            return Err(super::parsing_error(
                pos,
                "At least one aggregation or grouping expression required in [STATS]",
            ));
        }
        if rel.limit.is_some() {
            rel = self.wrap(rel);
        }
        let mut out: Vec<(String, TExpr, String)> = Vec::new();
        let mut groups = Vec::new();
        let mut agg_exprs = Vec::new();
        for (k, f) in aggs.iter().enumerate() {
            self.agg_filter = match filters.get(k).and_then(Option::as_ref) {
                None => None,
                Some(c) => {
                    let t = self.expr(c, &rel.cols, Ctx::Row)?;
                    if !matches!(t.ty, Ty::Boolean | Ty::Null) {
                        return Err(verification_error(
                            c.pos,
                            format!(
                                "Condition expression needs to be boolean, found [{}]",
                                t.ty.name().to_ascii_uppercase()
                            ),
                        ));
                    }
                    Some(single(&t))
                }
            };
            let t = self.expr(&f.expr, &rel.cols, Ctx::Agg);
            self.agg_filter = None;
            let t = t?;
            if !t.agg {
                return Err(verification_error(
                    f.expr.pos,
                    format!("expected an aggregate function but found [{}]", f.expr.text),
                ));
            }
            agg_exprs.push((f.name.clone(), t));
        }
        let mut group_exprs = Vec::new();
        for f in by {
            let t = self.expr(&f.expr, &rel.cols, Ctx::Row)?;
            if matches!(t.ty, Ty::Unsupported | Ty::Source) {
                return Err(verification_error(
                    f.expr.pos,
                    format!(
                        "cannot group by [{}] of type [{}]",
                        f.expr.text,
                        t.ty.name()
                    ),
                ));
            }
            let t = if t.multi {
                // A multi-valued key puts the row in the group of each of its values.
                let arr = t.sql.clone();
                let nullable = Expr::func(
                    "arrayMap",
                    vec![
                        sql::lambda(
                            ["v"],
                            Expr::func("toNullable", vec![Expr::Column(sql::Ident::new("v"))]),
                        ),
                        arr.clone(),
                    ],
                );
                TExpr {
                    sql: Expr::func(
                        "arrayJoin",
                        vec![Expr::func(
                            "if",
                            vec![
                                Expr::func("empty", vec![arr]),
                                Expr::func("array", vec![sql::null()]),
                                nullable,
                            ],
                        )],
                    ),
                    multi: false,
                    ..t
                }
            } else {
                t
            };
            group_exprs.push((f.name.clone(), t));
        }
        for (name, t) in agg_exprs.into_iter().chain(group_exprs.iter().cloned()) {
            let a = self.alias();
            out.retain(|(n, _, _)| *n != name);
            out.push((name, t, a));
        }
        for (name, _) in &group_exprs {
            if let Some((_, _, a)) = out.iter().find(|(n, _, _)| n == name) {
                groups.push(sql::col(a.clone()));
            }
        }
        let inner = Select {
            items: out
                .iter()
                .map(|(_, t, a)| t.sql.clone().alias(a.clone()))
                .collect(),
            from: rel.from,
            rows: rel.rows,
            where_: (!rel.where_.is_empty()).then(|| sql::and_all(rel.where_)),
            group_by: groups,
            ..Default::default()
        };
        Ok(Rel {
            from: Some(FromClause::from(inner)),
            cols: out
                .into_iter()
                .map(|(name, t, a)| Col {
                    name,
                    e: TExpr {
                        sql: sql::col(a),
                        agg: false,
                        ..t
                    },
                })
                .collect(),
            ..Default::default()
        })
    }

    /// Types and translates one expression over the columns in scope.
    pub(super) fn expr(&mut self, e: &AExpr, scope: &[Col], ctx: Ctx) -> Result<TExpr, EsError> {
        match &e.kind {
            ExprKind::Lit(l) => Ok(lit(l)),
            ExprKind::List(items) => {
                let mut vals = Vec::new();
                let mut ty = Ty::Null;
                for it in items {
                    let t = self.expr(it, scope, ctx)?;
                    if !matches!(it.kind, ExprKind::Lit(_)) && !t.agg && t.multi {
                        return Err(verification_error(it.pos, "nested lists are not supported"));
                    }
                    if ty == Ty::Null {
                        ty = t.ty;
                    } else if t.ty != ty && !(t.ty.is_numeric() && ty.is_numeric()) {
                        return Err(verification_error(
                            it.pos,
                            format!(
                                "values of a list must all be of the same type, found [{}] and [{}]",
                                ty.name(),
                                t.ty.name()
                            ),
                        ));
                    } else if t.ty.is_numeric() {
                        ty = Ty::widen(ty, t.ty);
                    }
                    vals.push(t.sql);
                }
                if vals.is_empty() {
                    return Ok(TExpr::null());
                }
                let vals = if ty == Ty::Double {
                    vals.into_iter()
                        .map(|v| Expr::func("toFloat64", vec![v]))
                        .collect()
                } else {
                    vals
                };
                Ok(TExpr {
                    sql: sql::array(vals),
                    ty,
                    multi: true,
                    agg: false,
                })
            }
            ExprKind::Span(n, unit) => Ok(TExpr::new(
                sql::interval(sql::lit(*n), interval_unit(unit)),
                if matches!(unit.as_str(), "day" | "week" | "month" | "quarter" | "year") {
                    Ty::DatePeriod
                } else {
                    Ty::TimeDuration
                },
            )),
            ExprKind::Field(name) => {
                if ctx == Ctx::Agg {
                    return Err(verification_error(
                        e.pos,
                        format!(
                            "column [{name}] must appear in the STATS BY clause or be used in an aggregate function"
                        ),
                    ));
                }
                match scope.iter().rev().find(|c| c.name == *name) {
                    Some(c) => Ok(c.e.clone()),
                    None => Err(unknown_column(
                        &Named {
                            name: name.clone(),
                            pos: e.pos,
                        },
                        scope,
                    )),
                }
            }
            ExprKind::Star => Err(verification_error(
                e.pos,
                "* is only allowed as the argument of COUNT",
            )),
            ExprKind::Neg(inner) => {
                let t = self.expr(inner, scope, ctx)?;
                if !t.ty.is_numeric() && t.ty != Ty::Null {
                    return Err(type_error(e, 0, inner, &t, "numeric"));
                }
                Ok(TExpr {
                    sql: -single(&t),
                    multi: false,
                    ..t
                })
            }
            ExprKind::Not(inner) => {
                let t = self.expr(inner, scope, ctx)?;
                require_bool(e, 0, inner, &t)?;
                Ok(TExpr {
                    sql: sql::not(single(&t)),
                    ty: Ty::Boolean,
                    multi: false,
                    agg: t.agg,
                })
            }
            ExprKind::Bin(..) => self.binary_chain(e, scope, ctx),
            ExprKind::IsNull(inner, negated) => {
                let t = self.expr(inner, scope, ctx)?;
                let sql = if t.multi {
                    let empty = Expr::func("empty", vec![t.sql.clone()]);
                    if *negated { sql::not(empty) } else { empty }
                } else if *negated {
                    t.sql.clone().is_not_null()
                } else {
                    t.sql.clone().is_null()
                };
                Ok(TExpr {
                    sql,
                    ty: Ty::Boolean,
                    multi: false,
                    agg: t.agg,
                })
            }
            ExprKind::In(left, list, negated) => {
                let lt = self.expr(left, scope, ctx)?;
                let mut items = Vec::new();
                let mut all_lit = true;
                let mut agg = lt.agg;
                for it in list {
                    let t = self.expr(it, scope, ctx)?;
                    let t = self.coerce_to(it, t, lt.ty)?;
                    comparable(e, left, &lt, it, &t)?;
                    all_lit &= matches!(it.kind, ExprKind::Lit(_));
                    agg |= t.agg;
                    items.push(single(&t));
                }
                let x = single(&lt);
                let sql = if all_lit {
                    if *negated {
                        x.not_in_list(items)
                    } else {
                        x.in_list(items)
                    }
                } else {
                    let any = sql::or_all(items.into_iter().map(|i| x.clone().eq(i)));
                    if *negated { sql::not(any) } else { any }
                };
                Ok(TExpr {
                    sql,
                    ty: Ty::Boolean,
                    multi: false,
                    agg,
                })
            }
            ExprKind::Like {
                expr,
                pattern,
                rlike,
                negated,
            } => {
                let t = self.expr(expr, scope, ctx)?;
                require_string(expr, &t, if *rlike { "RLIKE" } else { "LIKE" })?;
                let x = single(&t);
                let m = if *rlike {
                    Expr::func("match", vec![x, sql::lit(format!("^(?:{pattern})$"))])
                } else {
                    x.like(sql::lit(like_pattern(pattern)))
                };
                Ok(TExpr {
                    sql: if *negated { sql::not(m) } else { m },
                    ty: Ty::Boolean,
                    multi: false,
                    agg: t.agg,
                })
            }
            ExprKind::Call(name, args) => self.call(e, name, args, scope, ctx),
            ExprKind::Cast(inner, ty) => {
                let f = match ty.as_str() {
                    "long" => "to_long",
                    "integer" | "int" => "to_integer",
                    "double" => "to_double",
                    "keyword" | "string" | "text" => "to_string",
                    "boolean" | "bool" => "to_boolean",
                    "datetime" | "date" => "to_datetime",
                    "ip" => "to_ip",
                    "version" => "to_version",
                    "unsigned_long" => "to_unsigned_long",
                    other => {
                        return Err(super::parsing_error(
                            e.pos,
                            format!(
                                "Unsupported conversion to type [{}]",
                                other.to_ascii_uppercase()
                            ),
                        ));
                    }
                };
                self.call(e, f, std::slice::from_ref(inner), scope, ctx)
            }
        }
    }

    /// A string literal where a date, ip or version is expected becomes one (ES|QL's implicit
    /// casting of literals); other expressions are left as they are.
    pub(super) fn coerce_to(&self, e: &AExpr, t: TExpr, want: Ty) -> Result<TExpr, EsError> {
        let ExprKind::Lit(Lit::Str(s)) = &e.kind else {
            return Ok(t);
        };
        match want {
            Ty::Date | Ty::DateNanos => match super::functions::parse_date_literal(s) {
                Some(ms) => Ok(TExpr::new(super::functions::date_lit(ms), Ty::Date)),
                None => Err(verification_error(
                    e.pos,
                    format!(
                        "Cannot convert string [{s}] to [DATETIME], error [failed to parse date field [{s}]]"
                    ),
                )),
            },
            Ty::Ip => match s.parse::<std::net::IpAddr>() {
                Ok(_) => Ok(TExpr::new(
                    Expr::func("toIPv6", vec![sql::lit(s.as_str())]),
                    Ty::Ip,
                )),
                Err(_) => Err(verification_error(
                    e.pos,
                    format!(
                        "Cannot convert string [{s}] to [IP], error ['{s}' is not an IP string literal.]"
                    ),
                )),
            },
            Ty::Version => Ok(TExpr::new(t.sql, Ty::Version)),
            _ => Ok(t),
        }
    }

    /// A chain of binary operators (`a OR b OR …`, `1 + 2 + …`, parsed left-nested), translated
    /// along its left spine without recursing on it, so that long chains need no deep stack.
    fn binary_chain(&mut self, e: &AExpr, scope: &[Col], ctx: Ctx) -> Result<TExpr, EsError> {
        let mut spine = Vec::new();
        let mut cur = e;
        while let ExprKind::Bin(_, l, _) = &cur.kind {
            spine.push(cur);
            cur = l;
        }
        let mut acc = self.expr(cur, scope, ctx)?;
        for node in spine.into_iter().rev() {
            let ExprKind::Bin(op, l, r) = &node.kind else {
                unreachable!("the spine holds binary nodes")
            };
            let rt = self.expr(r, scope, ctx)?;
            acc = self.binary(node, *op, l, r, acc, rt)?;
        }
        Ok(acc)
    }

    fn binary(
        &mut self,
        e: &AExpr,
        op: BinOp,
        l: &AExpr,
        r: &AExpr,
        lt: TExpr,
        rt: TExpr,
    ) -> Result<TExpr, EsError> {
        let agg = lt.agg || rt.agg;
        let (lt, rt) = (
            self.coerce_to(l, lt.clone(), rt.ty)?,
            self.coerce_to(r, rt.clone(), lt.ty)?,
        );
        let (a, b) = (single(&lt), single(&rt));
        let boolean = |sql| TExpr {
            sql,
            ty: Ty::Boolean,
            multi: false,
            agg,
        };
        match op {
            BinOp::And | BinOp::Or => {
                require_bool(e, 0, l, &lt)?;
                require_bool(e, 1, r, &rt)?;
                Ok(boolean(if op == BinOp::And { a.and(b) } else { a.or(b) }))
            }
            _ if op.is_comparison() => {
                comparable(e, l, &lt, r, &rt)?;
                Ok(boolean(match op {
                    BinOp::Eq => a.eq(b),
                    BinOp::Neq => a.ne(b),
                    BinOp::Lt => a.lt(b),
                    BinOp::Lte => a.lte(b),
                    BinOp::Gt => a.gt(b),
                    _ => a.gte(b),
                }))
            }
            _ => {
                let (ta, tb) = (lt.ty, rt.ty);
                let spanish = |t: Ty| matches!(t, Ty::TimeDuration | Ty::DatePeriod);
                let ty =
                    if (ta.is_numeric() || ta == Ty::Null) && (tb.is_numeric() || tb == Ty::Null) {
                        Ty::widen(ta, tb)
                    } else if ta.is_date() && spanish(tb) && matches!(op, BinOp::Add | BinOp::Sub) {
                        ta
                    } else if spanish(ta) && tb.is_date() && op == BinOp::Add {
                        tb
                    } else if (ta.is_date() && tb == Ty::Null) || (ta == Ty::Null && tb.is_date()) {
                        Ty::Date
                    } else {
                        return Err(verification_error(
                            e.pos,
                            format!(
                                "[{}] has arguments with incompatible types [{}] and [{}]",
                                op.symbol(),
                                esql_type_name(ta),
                                esql_type_name(tb)
                            ),
                        ));
                    };
                let integral = ta.is_integral() && tb.is_integral();
                let sql = match op {
                    BinOp::Add if spanish(ta) => b + a,
                    BinOp::Add => a + b,
                    BinOp::Sub => a - b,
                    BinOp::Mul => a * b,
                    // Division by zero is null in ES|QL (with a warning); integer division
                    // truncates.
                    BinOp::Div | BinOp::Mod => {
                        let q = match (op, integral) {
                            (BinOp::Div, true) => Expr::func("intDiv", vec![a, b.clone()]),
                            (BinOp::Div, false) => a / b.clone(),
                            _ => a % b.clone(),
                        };
                        let nonzero_literal = matches!(
                            r.kind,
                            ExprKind::Lit(Lit::Int(n)) if n != 0
                        ) || matches!(r.kind, ExprKind::Lit(Lit::Double(x)) if x != 0.0);
                        if nonzero_literal {
                            q
                        } else {
                            Expr::func("if", vec![b.eq(sql::lit(0)), sql::null(), q])
                        }
                    }
                    _ => unreachable!(),
                };
                Ok(TExpr {
                    sql,
                    ty,
                    multi: false,
                    agg,
                })
            }
        }
    }
}

/// Adds or replaces a column (a new value of an existing name drops the old column and is
/// appended, as EVAL does).
fn put(cols: &mut Vec<Col>, name: &str, e: TExpr) {
    cols.retain(|c| c.name != name);
    cols.push(Col {
        name: name.to_string(),
        e,
    });
}

/// How Elasticsearch spells types in type errors (`datetime` rather than `date`).
pub(super) fn esql_type_name(t: Ty) -> &'static str {
    match t {
        Ty::Date => "datetime",
        t => t.name(),
    }
}

pub(super) fn lit(l: &Lit) -> TExpr {
    match l {
        Lit::Null => TExpr::null(),
        Lit::Bool(b) => TExpr::new(sql::lit(*b), Ty::Boolean),
        Lit::Int(n) if i32::try_from(*n).is_ok() => TExpr::new(sql::lit(*n), Ty::Integer),
        Lit::Int(n) => TExpr::new(sql::lit(*n), Ty::Long),
        Lit::UnsignedLong(n) => TExpr::new(sql::lit(*n), Ty::UnsignedLong),
        Lit::Double(x) => TExpr::new(sql::lit(*x), Ty::Double),
        Lit::Str(s) => TExpr::new(sql::lit(s.as_str()), Ty::Keyword),
    }
}

/// The columns of one index as ES|QL sees them: every mapped leaf field (multi-fields as their
/// own columns), typed by the mapping; fields without values yet are null.
fn index_columns(meta: &IndexMeta) -> Vec<(String, TExpr)> {
    let mut out = Vec::new();
    for info in meta.mappings.leaf_fields() {
        if info.nested_path.is_some() {
            continue;
        }
        let ty = Ty::of_mapping(&info.es_type);
        let e = match crate::plan::fields::resolve(meta, &info.path) {
            _ if ty == Ty::Unsupported => TExpr::new(sql::null(), ty),
            Some(f) => {
                let sql = match &f.constant_value {
                    Some(v) if f.column.is_empty() => sql::lit(v.as_str()),
                    _ => normalized(f.column_expr(), &f.column_type),
                };
                TExpr {
                    sql,
                    ty,
                    multi: f.is_array,
                    agg: false,
                }
            }
            None => TExpr::new(sql::null(), ty),
        };
        out.push((info.path.clone(), e));
    }
    out
}

/// A column of a table elastichouse did not create, in the representation the planner works on:
/// `DateTime`/`Date` as `DateTime64(3)`, `IPv4` as `IPv6` (what the index tables store).
fn normalized(e: Expr, ty: &sql::ChType) -> Expr {
    let conv: Option<fn(Expr) -> Expr> = match ty.element() {
        sql::ChType::DateTime(_) | sql::ChType::Date | sql::ChType::Date32 => {
            Some(|x| Expr::func("toDateTime64", vec![x, sql::lit(3), sql::lit("UTC")]))
        }
        sql::ChType::IPv4 => Some(|x| Expr::func("toIPv6", vec![x])),
        _ => None,
    };
    match conv {
        None => e,
        Some(c) if ty.is_array() => Expr::func(
            "arrayMap",
            vec![sql::lambda(["v"], c(Expr::Column(sql::Ident::new("v")))), e],
        ),
        Some(c) => c(e),
    }
}

/// The FROM clause of an index and which of its rows a read sees — the same read as `_search`
/// and `_count` (`IndexMeta::rows`), so a change of the read path applies here too.
fn index_from(meta: &IndexMeta) -> (FromClause, sql::Rows) {
    (meta.from_clause(), meta.rows())
}

/// An expression as the response shows it: dates as epoch units (rendered by the API layer), IPs
/// as text, nothing for unsupported types.
fn output_expr(t: &TExpr) -> Expr {
    let per_value = |f: &'static str| -> Expr {
        if t.multi {
            Expr::func(
                "arrayMap",
                vec![
                    sql::lambda(
                        ["v"],
                        Expr::func(f, vec![Expr::Column(sql::Ident::new("v"))]),
                    ),
                    t.sql.clone(),
                ],
            )
        } else {
            Expr::func(f, vec![t.sql.clone()])
        }
    };
    match t.ty {
        Ty::Date => per_value("toUnixTimestamp64Milli"),
        Ty::DateNanos => per_value("toUnixTimestamp64Nano"),
        Ty::Ip => per_value("toString"),
        Ty::Unsupported | Ty::Null | Ty::TimeDuration | Ty::DatePeriod => sql::null(),
        _ => t.sql.clone(),
    }
}

/// ES|QL's LIKE pattern (`*` any run, `?` one character, `\` escapes) as a ClickHouse LIKE pattern.
pub(super) fn like_pattern(p: &str) -> String {
    let mut out = String::new();
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push('%'),
            '?' => out.push('_'),
            '\\' => {
                if let Some(n) = chars.next() {
                    out.push_str(&sql::escape_like(&n.to_string()));
                }
            }
            c => out.push_str(&sql::escape_like(&c.to_string())),
        }
    }
    out
}

pub(super) fn unknown_column(n: &Named, scope: &[Col]) -> EsError {
    if n.name.contains('*') {
        return verification_error(n.pos, format!("No matches found for pattern [{}]", n.name));
    }
    let close: Vec<&str> = scope
        .iter()
        .map(|c| c.name.as_str())
        .filter(|c| edit_distance(c, &n.name) <= 2)
        .collect();
    let hint = match close.as_slice() {
        [] => String::new(),
        [one] => format!(", did you mean [{one}]?"),
        many => format!(", did you mean any of [{}]?", many.join(", ")),
    };
    verification_error(n.pos, format!("Unknown column [{}]{hint}", n.name))
}

/// Levenshtein distance in characters (the "did you mean" hints of ES|QL and enrich policies).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    strsim::levenshtein(a, b)
}

fn ordinal(i: usize) -> &'static str {
    ["first", "second", "third", "fourth", "fifth"]
        .get(i)
        .copied()
        .unwrap_or("an")
}

/// `first argument of [f(x)] must be [numeric], found value [x] type [keyword]`.
pub(super) fn type_error(call: &AExpr, i: usize, arg: &AExpr, t: &TExpr, want: &str) -> EsError {
    verification_error(
        arg.pos,
        format!(
            "{} argument of [{}] must be [{want}], found value [{}] type [{}]",
            ordinal(i),
            call.text,
            arg.text,
            esql_type_name(t.ty)
        ),
    )
}

fn require_bool(call: &AExpr, i: usize, arg: &AExpr, t: &TExpr) -> Result<(), EsError> {
    if matches!(t.ty, Ty::Boolean | Ty::Null) {
        Ok(())
    } else {
        Err(type_error(call, i, arg, t, "boolean"))
    }
}

fn require_string(arg: &AExpr, t: &TExpr, what: &str) -> Result<(), EsError> {
    if t.ty.is_string() || t.ty == Ty::Null {
        Ok(())
    } else {
        Err(verification_error(
            arg.pos,
            format!(
                "argument of [{what}] must be [string], found value [{}] type [{}]",
                arg.text,
                esql_type_name(t.ty)
            ),
        ))
    }
}

/// Whether two values may be compared (numbers with numbers, strings with strings, …).
fn comparable(e: &AExpr, l: &AExpr, lt: &TExpr, r: &AExpr, rt: &TExpr) -> Result<(), EsError> {
    let (a, b) = (lt.ty, rt.ty);
    let ok = a == Ty::Null
        || b == Ty::Null
        || a == b
        || (a.is_numeric() && b.is_numeric())
        || (a.is_string() && b.is_string())
        || (a.is_date() && b.is_date())
        || (a == Ty::Version && b.is_string())
        || (a.is_string() && b == Ty::Version);
    if ok && !matches!(a, Ty::Unsupported | Ty::Source) {
        return Ok(());
    }
    let _ = l;
    Err(verification_error(
        r.pos,
        format!(
            "first argument of [{}] is [{}] so second argument must also be [{}] but was [{}]",
            e.text,
            type_family(a),
            type_family(a),
            type_family(b)
        ),
    ))
}

fn type_family(t: Ty) -> &'static str {
    if t.is_numeric() {
        "numeric"
    } else {
        esql_type_name(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::physical_name;
    use serde_json::json;

    fn meta() -> Arc<IndexMeta> {
        let mappings = crate::schema::parse_mappings(&json!({"properties": {
            "@timestamp": {"type": "date"}, "host": {"type": "keyword"}, "bytes": {"type": "long"},
            "tags": {"type": "keyword"}
        }}))
        .unwrap();
        let columns = mappings
            .columns()
            .into_iter()
            .map(|(c, t)| {
                let t = if c == "tags" {
                    sql::ChType::array(sql::ChType::String)
                } else {
                    t
                };
                (physical_name(&c, &t), t)
            })
            .collect();
        Arc::new(IndexMeta {
            name: "logs".into(),
            database: "db".into(),
            uuid: "u".into(),
            creation_date: 0,
            managed: true,
            format: crate::catalog::FORMAT_LOG,
            sort_fields: vec![],
            sort_field_nulls: false,
            mappings,
            settings: json!({}),
            columns,
            aliases: Default::default(),
            data_stream: None,
            nested_scope: None,
            alias_filter: None,
        })
    }

    fn plan(q: &str) -> String {
        let q = super::super::parser::parse(q, &Default::default()).unwrap();
        let src = [SourceIndex {
            meta: meta(),
            filter: sql::lit(true),
        }];
        Planner::new(0, "8.17.0")
            .plan(&q, &src)
            .unwrap()
            .select
            .to_string()
    }

    #[test]
    fn row_wise_commands_stay_one_select() {
        assert_eq!(
            plan(
                "FROM logs | WHERE bytes > 10 | EVAL kb = bytes / 1024.0 | KEEP host, kb | SORT kb DESC | LIMIT 5"
            ),
            "SELECT `host` AS `..c1`, `bytes` / 1024.0 AS `..c2` FROM `db`.`logs` \
             WHERE `..state` = 0 AND (`bytes` > 10) ORDER BY `bytes` / 1024.0 DESC NULLS FIRST LIMIT 5"
        );
    }

    #[test]
    fn longest_chains_plan_and_render_on_a_default_stack() {
        // The tokio worker threads of the daemon have the default 2 MiB stack, like test threads.
        let chain = format!(
            "FROM logs | WHERE bytes > 0{} | EVAL x = 1{}",
            " OR bytes > 1".repeat(250),
            " + bytes".repeat(250)
        );
        let s = plan(&chain);
        assert!(s.len() > 5000);
    }

    #[test]
    fn stats_and_multi_values_wrap() {
        assert_eq!(
            plan("FROM logs | STATS c = COUNT(*) BY tags | SORT c"),
            "SELECT `..c1` AS `..c3`, `..c2` AS `..c4` FROM (SELECT count() AS `..c1`, \
             arrayJoin(if(empty(`.tags`), array(NULL), arrayMap(`v` -> toNullable(`v`), `.tags`))) AS `..c2` \
             FROM `db`.`logs` WHERE `..state` = 0 GROUP BY `..c2`) ORDER BY `..c1` ASC NULLS LAST LIMIT 1000"
        );
        // WHERE after LIMIT filters the limited rows.
        let s = plan("FROM logs | LIMIT 3 | WHERE bytes > 1");
        assert!(s.contains("LIMIT 3) WHERE"), "{s}");
    }
}
