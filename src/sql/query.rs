//! `SELECT` and `UNION ALL`.

use std::fmt;

use super::expr::{Expr, Literal, and_all};
use super::{Ident, write_list};

/// A query-level setting `name = value`. Setting names are static; values are escaped literals.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub name: &'static str,
    pub value: Literal,
}

impl Setting {
    pub fn new(name: &'static str, value: impl Into<Literal>) -> Self {
        Setting {
            name,
            value: value.into(),
        }
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", self.name, self.value)
    }
}

/// Writes ` SETTINGS a = 1, b = 'x'` if there are any.
pub(crate) fn write_settings(f: &mut fmt::Formatter<'_>, settings: &[Setting]) -> fmt::Result {
    if !settings.is_empty() {
        f.write_str(" SETTINGS ")?;
        write_list(f, settings)?;
    }
    Ok(())
}

/// One item of the select list: `expr [AS alias]`. Build with `expr.into()` or `expr.alias("n")`.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectItem {
    pub expr: Expr,
    pub alias: Option<Ident>,
}

impl From<Expr> for SelectItem {
    fn from(expr: Expr) -> Self {
        SelectItem { expr, alias: None }
    }
}

impl fmt::Display for SelectItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.expr)?;
        if let Some(a) = &self.alias {
            write!(f, " AS {a}")?;
        }
        Ok(())
    }
}

/// An `ORDER BY` item: `expr ASC|DESC [NULLS FIRST|LAST]`. Build with `expr.asc()` / `expr.desc()`.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    pub expr: Expr,
    pub desc: bool,
    /// `Some(true)`: `NULLS FIRST`, `Some(false)`: `NULLS LAST`, `None`: ClickHouse's default
    /// (NULLs last in either direction, unlike NaN).
    pub nulls_first: Option<bool>,
}

impl OrderBy {
    pub fn new(expr: Expr, desc: bool) -> Self {
        OrderBy {
            expr,
            desc,
            nulls_first: None,
        }
    }

    pub fn nulls_first(mut self) -> Self {
        self.nulls_first = Some(true);
        self
    }

    pub fn nulls_last(mut self) -> Self {
        self.nulls_first = Some(false);
        self
    }
}

impl fmt::Display for OrderBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}",
            self.expr,
            if self.desc { "DESC" } else { "ASC" }
        )?;
        match self.nulls_first {
            Some(true) => f.write_str(" NULLS FIRST"),
            Some(false) => f.write_str(" NULLS LAST"),
            None => Ok(()),
        }
    }
}

/// What a `SELECT` reads from.
#[derive(Debug, Clone, PartialEq)]
pub enum FromClause {
    /// `` `db`.`table` [AS `alias`] `` (or just `` `table` `` without a database)
    Table {
        db: Option<Ident>,
        table: Ident,
        alias: Option<Ident>,
    },
    /// `(SELECT …) [AS `alias`]`
    Subquery {
        query: Box<Query>,
        alias: Option<Ident>,
    },
    /// A table function such as `numbers(10)` or `merge('db', '^logs-')`; the name is static, the
    /// arguments are escaped expressions.
    Function {
        name: &'static str,
        args: Vec<Expr>,
        alias: Option<Ident>,
    },
    /// `left LEFT JOIN right ON on` (ES|QL's LOOKUP JOIN).
    LeftJoin {
        left: Box<FromClause>,
        right: Box<FromClause>,
        on: Expr,
    },
}

impl FromClause {
    /// `` `db`.`table` ``.
    pub fn table(db: impl Into<Ident>, table: impl Into<Ident>) -> Self {
        FromClause::Table {
            db: Some(db.into()),
            table: table.into(),
            alias: None,
        }
    }

    /// `` `table` `` in the session's current database.
    pub fn bare(table: impl Into<Ident>) -> Self {
        FromClause::Table {
            db: None,
            table: table.into(),
            alias: None,
        }
    }

    /// `(query) AS alias`.
    pub fn subquery(query: impl Into<Query>, alias: impl Into<Ident>) -> Self {
        FromClause::Subquery {
            query: Box::new(query.into()),
            alias: Some(alias.into()),
        }
    }

    pub fn function(name: &'static str, args: Vec<Expr>) -> Self {
        FromClause::Function {
            name,
            args,
            alias: None,
        }
    }

    /// Sets the alias (`AS name`); a join has none of its own.
    pub fn alias(mut self, name: impl Into<Ident>) -> Self {
        let name = Some(name.into());
        match &mut self {
            FromClause::Table { alias, .. }
            | FromClause::Subquery { alias, .. }
            | FromClause::Function { alias, .. } => *alias = name,
            FromClause::LeftJoin { .. } => {}
        }
        self
    }
}

impl From<Select> for FromClause {
    fn from(s: Select) -> Self {
        FromClause::Subquery {
            query: Box::new(s.into()),
            alias: None,
        }
    }
}

impl From<Query> for FromClause {
    fn from(q: Query) -> Self {
        FromClause::Subquery {
            query: Box::new(q),
            alias: None,
        }
    }
}

impl fmt::Display for FromClause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let alias = match self {
            FromClause::Table { db, table, alias } => {
                if let Some(db) = db {
                    write!(f, "{db}.")?;
                }
                write!(f, "{table}")?;
                alias
            }
            FromClause::Subquery { query, alias } => {
                write!(f, "({query})")?;
                alias
            }
            FromClause::Function { name, args, alias } => {
                write!(f, "{name}(")?;
                write_list(f, args)?;
                f.write_str(")")?;
                alias
            }
            FromClause::LeftJoin { left, right, on } => {
                return write!(f, "{left} LEFT JOIN {right} ON {on}");
            }
        };
        if let Some(a) = alias {
            write!(f, " AS {a}")?;
        }
        Ok(())
    }
}

/// `LIMIT n BY exprs`: at most `n` rows per distinct value of `exprs`.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitBy {
    pub limit: u64,
    pub by: Vec<Expr>,
}

/// Which rows of an elastichouse table a read sees (docs/storage.md, "Reading without FINAL").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rows {
    /// Every row: tables elastichouse did not create, subqueries, internal tables.
    #[default]
    All,
    /// `FROM … FINAL`: the first layout (format 1), a ReplacingMergeTree merged at read time, and
    /// the internal ReplacingMergeTree tables.
    Final,
    /// Only rows whose state column ([`STATE_COLUMN`]) is 0: the log-native layout (format 2),
    /// where superseded versions, tombstones and writes not yet committed stay in the table but
    /// are never read.
    Live,
}

/// The state column of the log-native layout: 0 live, and see `catalog::RowState`. Its name
/// starts with two dots: array columns are a dot plus a field path, and no field path starts with
/// a dot, so no field of a document can ever have this column.
pub const STATE_COLUMN: &str = "..state";

/// A `SELECT` statement. Clauses render in ClickHouse's order:
/// `SELECT [DISTINCT] items FROM … [FINAL] PREWHERE … WHERE … GROUP BY … HAVING … ORDER BY …
/// LIMIT n BY … LIMIT n OFFSET m SETTINGS … FORMAT …`.
///
/// Build with the chaining methods (`Select::new().item(..).from(..).filter(..)`) or set the public
/// fields directly. An empty item list renders as `*`. `rows` is only rendered when there is a
/// `FROM`: [`Rows::Final`] as `FINAL`, [`Rows::Live`] as a first `WHERE` condition. `settings` and `format` belong on the outermost query only.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Select {
    pub distinct: bool,
    pub items: Vec<SelectItem>,
    pub from: Option<FromClause>,
    pub rows: Rows,
    pub prewhere: Option<Expr>,
    pub where_: Option<Expr>,
    pub group_by: Vec<Expr>,
    /// `GROUP BY GROUPING SETS ((a), (a, b), ())`: used instead of `group_by` when not empty
    /// (aggregations compute several bucket levels in one pass).
    pub grouping_sets: Vec<Vec<Expr>>,
    pub having: Option<Expr>,
    pub order_by: Vec<OrderBy>,
    pub limit_by: Option<LimitBy>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
    pub settings: Vec<Setting>,
    pub format: Option<&'static str>,
}

fn and_into(slot: &mut Option<Expr>, e: Expr) {
    *slot = Some(match slot.take() {
        Some(prev) => and_all([prev, e]),
        None => e,
    });
}

impl Select {
    pub fn new() -> Self {
        Select::default()
    }

    pub fn distinct(mut self) -> Self {
        self.distinct = true;
        self
    }

    /// Adds one select item (an `Expr`, or `expr.alias("name")`).
    pub fn item(mut self, item: impl Into<SelectItem>) -> Self {
        self.items.push(item.into());
        self
    }

    pub fn items<I: Into<SelectItem>>(mut self, items: impl IntoIterator<Item = I>) -> Self {
        self.items.extend(items.into_iter().map(Into::into));
        self
    }

    /// Sets the `FROM` clause: a [`FromClause`], or a [`Select`]/[`Query`] (as a subquery).
    pub fn from(mut self, from: impl Into<FromClause>) -> Self {
        self.from = Some(from.into());
        self
    }

    /// `FROM … FINAL`: merge rows of ReplacingMergeTree tables at read time.
    pub fn final_(mut self) -> Self {
        self.rows = Rows::Final;
        self
    }

    /// Which rows of the table the read sees.
    pub fn rows(mut self, rows: Rows) -> Self {
        self.rows = rows;
        self
    }

    /// Adds a `PREWHERE` condition (AND-ed with any previous one).
    pub fn prewhere(mut self, cond: Expr) -> Self {
        and_into(&mut self.prewhere, cond);
        self
    }

    /// Adds a `WHERE` condition (AND-ed with any previous one).
    pub fn filter(mut self, cond: Expr) -> Self {
        and_into(&mut self.where_, cond);
        self
    }

    pub fn group_by(mut self, e: Expr) -> Self {
        self.group_by.push(e);
        self
    }

    /// Adds a `HAVING` condition (AND-ed with any previous one).
    pub fn having(mut self, cond: Expr) -> Self {
        and_into(&mut self.having, cond);
        self
    }

    pub fn order_by(mut self, o: OrderBy) -> Self {
        self.order_by.push(o);
        self
    }

    pub fn limit_by(mut self, limit: u64, by: Vec<Expr>) -> Self {
        self.limit_by = Some(LimitBy { limit, by });
        self
    }

    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    pub fn offset(mut self, n: u64) -> Self {
        self.offset = Some(n);
        self
    }

    pub fn setting(mut self, name: &'static str, value: impl Into<Literal>) -> Self {
        self.settings.push(Setting::new(name, value));
        self
    }

    pub fn format(mut self, name: &'static str) -> Self {
        self.format = Some(name);
        self
    }
}

impl fmt::Display for Select {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SELECT ")?;
        if self.distinct {
            f.write_str("DISTINCT ")?;
        }
        if self.items.is_empty() {
            f.write_str("*")?;
        } else {
            write_list(f, &self.items)?;
        }
        if let Some(from) = &self.from {
            write!(f, " FROM {from}")?;
            if self.rows == Rows::Final {
                f.write_str(" FINAL")?;
            }
        }
        if let Some(e) = &self.prewhere {
            write!(f, " PREWHERE {e}")?;
        }
        let live = self.rows == Rows::Live && self.from.is_some();
        match (&self.where_, live) {
            (Some(e), true) => write!(f, " WHERE {} = 0 AND ({e})", Ident::new(STATE_COLUMN))?,
            (None, true) => write!(f, " WHERE {} = 0", Ident::new(STATE_COLUMN))?,
            (Some(e), false) => write!(f, " WHERE {e}")?,
            (None, false) => {}
        }
        if !self.grouping_sets.is_empty() {
            f.write_str(" GROUP BY GROUPING SETS (")?;
            for (i, set) in self.grouping_sets.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                f.write_str("(")?;
                write_list(f, set)?;
                f.write_str(")")?;
            }
            f.write_str(")")?;
        } else if !self.group_by.is_empty() {
            f.write_str(" GROUP BY ")?;
            write_list(f, &self.group_by)?;
        }
        if let Some(e) = &self.having {
            write!(f, " HAVING {e}")?;
        }
        if !self.order_by.is_empty() {
            f.write_str(" ORDER BY ")?;
            write_list(f, &self.order_by)?;
        }
        if let Some(lb) = &self.limit_by {
            write!(f, " LIMIT {} BY ", lb.limit)?;
            write_list(f, &lb.by)?;
        }
        if let Some(n) = self.limit {
            write!(f, " LIMIT {n}")?;
        }
        if let Some(n) = self.offset {
            write!(f, " OFFSET {n}")?;
        }
        write_settings(f, &self.settings)?;
        if let Some(fmt_name) = self.format {
            write!(f, " FORMAT {fmt_name}")?;
        }
        Ok(())
    }
}

/// A query: one `SELECT`, or several combined with `UNION ALL` (each member in parentheses, so
/// each keeps its own `ORDER BY`/`LIMIT`). To sort, limit or format the union as a whole, select from
/// it as a subquery.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    Select(Box<Select>),
    UnionAll(Vec<Select>),
}

/// `(a) UNION ALL (b) …`.
pub fn union_all(selects: Vec<Select>) -> Query {
    Query::UnionAll(selects)
}

impl From<Select> for Query {
    fn from(s: Select) -> Self {
        Query::Select(Box::new(s))
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Query::Select(s) => write!(f, "{s}"),
            Query::UnionAll(members) => {
                for (i, s) in members.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" UNION ALL ")?;
                    }
                    write!(f, "({s})")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::expr::{col, func, lit, qcol};

    #[test]
    fn minimal_selects() {
        assert_eq!(Select::new().to_string(), "SELECT *");
        assert_eq!(Select::new().item(lit(1)).to_string(), "SELECT 1");
        assert_eq!(
            Select::new().from(FromClause::bare("t")).to_string(),
            "SELECT * FROM `t`"
        );
    }

    #[test]
    fn live_rows_are_the_first_where_condition() {
        let base = Select::new()
            .from(FromClause::table("db", "logs"))
            .rows(Rows::Live);
        assert_eq!(
            base.clone().to_string(),
            "SELECT * FROM `db`.`logs` WHERE `..state` = 0"
        );
        // The user's condition is parenthesised, so an OR cannot escape the live-row filter.
        assert_eq!(
            base.filter(col("a").eq(lit(1)).or(col("b").eq(lit(2))))
                .to_string(),
            "SELECT * FROM `db`.`logs` WHERE `..state` = 0 AND (`a` = 1 OR `b` = 2)"
        );
        assert_eq!(Select::new().rows(Rows::Live).to_string(), "SELECT *");
    }

    #[test]
    fn full_select_clause_order() {
        let q = Select::new()
            .distinct()
            .item(col("a"))
            .item(func("count", vec![]).alias("n"))
            .from(FromClause::table("db", "logs-2024").alias("l"))
            .final_()
            .prewhere(col("ts").gte(lit(0)))
            .filter(col("a").ne(lit("x")))
            .filter(col("b").eq(lit(1)).or(col("c").eq(lit(2))))
            .group_by(col("a"))
            .having(func("count", vec![]).gt(lit(1)))
            .order_by(col("n").desc())
            .order_by(col("a").asc().nulls_last())
            .limit_by(2, vec![col("a")])
            .limit(10)
            .offset(20)
            .setting("max_execution_time", 30)
            .setting("join_use_nulls", true)
            .setting("count_distinct_implementation", "uniqExact")
            .format("JSONEachRow");
        assert_eq!(
            q.to_string(),
            "SELECT DISTINCT `a`, count() AS `n` FROM `db`.`logs-2024` AS `l` FINAL \
             PREWHERE `ts` >= 0 WHERE `a` != 'x' AND (`b` = 1 OR `c` = 2) GROUP BY `a` \
             HAVING count() > 1 ORDER BY `n` DESC, `a` ASC NULLS LAST LIMIT 2 BY `a` \
             LIMIT 10 OFFSET 20 SETTINGS max_execution_time = 30, join_use_nulls = true, \
             count_distinct_implementation = 'uniqExact' FORMAT JSONEachRow"
        );
    }

    #[test]
    fn final_needs_from() {
        assert_eq!(Select::new().final_().to_string(), "SELECT *");
    }

    #[test]
    fn from_subquery_and_function() {
        let inner = Select::new()
            .item(col("x"))
            .from(FromClause::table("d", "t"))
            .limit(5);
        assert_eq!(
            Select::new()
                .item(qcol("s", "x"))
                .from(FromClause::subquery(inner, "s"))
                .to_string(),
            "SELECT `s`.`x` FROM (SELECT `x` FROM `d`.`t` LIMIT 5) AS `s`"
        );
        assert_eq!(
            Select::new()
                .from(FromClause::function(
                    "merge",
                    vec![lit("db'"), lit("^logs-.*$")]
                ))
                .to_string(),
            "SELECT * FROM merge('db\\'', '^logs-.*$')"
        );
        assert_eq!(
            Select::new()
                .from(FromClause::function("numbers", vec![lit(3)]).alias("n"))
                .to_string(),
            "SELECT * FROM numbers(3) AS `n`"
        );
    }

    #[test]
    fn left_join() {
        let j = FromClause::LeftJoin {
            left: Box::new(FromClause::subquery(Select::new().item(col("a")), "l")),
            right: Box::new(FromClause::table("d", "t").alias("r")),
            on: qcol("l", "a").eq(qcol("r", "b")),
        };
        assert_eq!(
            Select::new().from(j).to_string(),
            "SELECT * FROM (SELECT `a`) AS `l` LEFT JOIN `d`.`t` AS `r` ON `l`.`a` = `r`.`b`"
        );
    }

    #[test]
    fn hostile_names_in_from_and_aliases() {
        let q = Select::new()
            .item(col("a`; DROP TABLE x; --").alias("al\\ias"))
            .from(FromClause::table("d b", "t`\n"))
            .order_by(col("ü.ß").desc().nulls_first());
        assert_eq!(
            q.to_string(),
            "SELECT `a\\`; DROP TABLE x; --` AS `al\\\\ias` FROM `d b`.`t\\`\\n` \
             ORDER BY `ü.ß` DESC NULLS FIRST"
        );
    }

    #[test]
    fn filters_accumulate() {
        let q = Select::new()
            .filter(col("a").eq(lit(1)))
            .filter(col("b").eq(lit(2)).and(col("c").eq(lit(3))));
        assert_eq!(
            q.where_.as_ref().map(|e| e.to_string()).unwrap(),
            "`a` = 1 AND `b` = 2 AND `c` = 3"
        );
    }

    #[test]
    fn union_all_members() {
        let a = Select::new()
            .item(col("x"))
            .from(FromClause::table("d", "a"))
            .order_by(col("x").asc())
            .limit(1);
        let b = Select::new()
            .item(col("x"))
            .from(FromClause::table("d", "b"));
        let u = union_all(vec![a, b]);
        assert_eq!(
            u.to_string(),
            "(SELECT `x` FROM `d`.`a` ORDER BY `x` ASC LIMIT 1) UNION ALL (SELECT `x` FROM `d`.`b`)"
        );
        assert_eq!(
            Select::new()
                .item(func("sum", vec![col("x")]))
                .from(u)
                .format("JSON")
                .to_string(),
            "SELECT sum(`x`) FROM ((SELECT `x` FROM `d`.`a` ORDER BY `x` ASC LIMIT 1) UNION ALL \
             (SELECT `x` FROM `d`.`b`)) FORMAT JSON"
        );
    }
}
