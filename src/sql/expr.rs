//! Expressions: literals, columns, operators, function calls, and their rendering with escaping and
//! precedence-aware parentheses.

use std::fmt;

use super::query::{OrderBy, Query, SelectItem};
use super::{ChType, Ident, write_list, write_quoted};

/// A constant value. Strings are escaped on rendering (see the module docs of [`crate::sql`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
}

impl Literal {
    /// Whether the rendered text starts with `-` (so that a unary minus in front of it must not be
    /// written directly: `--` starts a comment).
    fn is_negative(&self) -> bool {
        match self {
            Literal::Int(n) => *n < 0,
            Literal::Float(x) => !x.is_nan() && x.is_sign_negative(),
            _ => false,
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("NULL"),
            Literal::Bool(true) => f.write_str("true"),
            Literal::Bool(false) => f.write_str("false"),
            Literal::Int(n) => write!(f, "{n}"),
            Literal::UInt(n) => write!(f, "{n}"),
            Literal::Float(x) if x.is_nan() => f.write_str("nan"),
            Literal::Float(x) if x.is_infinite() => {
                f.write_str(if *x > 0.0 { "inf" } else { "-inf" })
            }
            Literal::Float(x) => {
                // `{:?}` is the shortest text that parses back to the same f64. It already has a
                // `.` or an exponent for every finite value today; the check keeps a float a float
                // should that ever change (`1` would be read as UInt8).
                let s = format!("{x:?}");
                f.write_str(&s)?;
                if !s.contains(['.', 'e', 'E']) {
                    f.write_str(".0")?;
                }
                Ok(())
            }
            Literal::Str(s) => write_quoted(f, s, '\''),
        }
    }
}

macro_rules! literal_from {
    ($variant:ident: $($t:ty),*) => {
        $(impl From<$t> for Literal {
            fn from(v: $t) -> Self {
                Literal::$variant(v.into())
            }
        })*
    };
}
literal_from!(Int: i8, i16, i32, i64);
literal_from!(UInt: u8, u16, u32, u64);
literal_from!(Float: f64);
literal_from!(Bool: bool);
literal_from!(Str: &str, String);

impl From<usize> for Literal {
    fn from(v: usize) -> Self {
        Literal::UInt(v as u64)
    }
}

impl From<&String> for Literal {
    fn from(v: &String) -> Self {
        Literal::Str(v.clone())
    }
}

/// `None` is `NULL`.
impl<T: Into<Literal>> From<Option<T>> for Literal {
    fn from(v: Option<T>) -> Self {
        v.map_or(Literal::Null, Into::into)
    }
}

/// Infix binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Eq,
    Ne,
    Lt,
    Lte,
    Gt,
    Gte,
    Like,
    NotLike,
    ILike,
    NotILike,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

impl BinOp {
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Eq => "=",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Lte => "<=",
            BinOp::Gt => ">",
            BinOp::Gte => ">=",
            BinOp::Like => "LIKE",
            BinOp::NotLike => "NOT LIKE",
            BinOp::ILike => "ILIKE",
            BinOp::NotILike => "NOT ILIKE",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
        }
    }

    fn prec(self) -> u8 {
        match self {
            BinOp::Add | BinOp::Sub => P_ADD,
            BinOp::Mul | BinOp::Div | BinOp::Mod => P_MUL,
            _ => P_CMP,
        }
    }
}

/// Units for [`Expr::Interval`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntervalUnit {
    Nanosecond,
    Microsecond,
    Millisecond,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl IntervalUnit {
    pub fn as_str(self) -> &'static str {
        match self {
            IntervalUnit::Nanosecond => "NANOSECOND",
            IntervalUnit::Microsecond => "MICROSECOND",
            IntervalUnit::Millisecond => "MILLISECOND",
            IntervalUnit::Second => "SECOND",
            IntervalUnit::Minute => "MINUTE",
            IntervalUnit::Hour => "HOUR",
            IntervalUnit::Day => "DAY",
            IntervalUnit::Week => "WEEK",
            IntervalUnit::Month => "MONTH",
            IntervalUnit::Quarter => "QUARTER",
            IntervalUnit::Year => "YEAR",
        }
    }
}

/// `OVER (PARTITION BY … ORDER BY …)` of a window function call.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Window {
    pub partition_by: Vec<Expr>,
    pub order_by: Vec<OrderBy>,
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        if !self.partition_by.is_empty() {
            f.write_str("PARTITION BY ")?;
            write_list(f, &self.partition_by)?;
        }
        if !self.order_by.is_empty() {
            if !self.partition_by.is_empty() {
                f.write_str(" ")?;
            }
            f.write_str("ORDER BY ")?;
            write_list(f, &self.order_by)?;
        }
        f.write_str(")")
    }
}

/// An SQL expression.
///
/// Rendering adds parentheses from the tree's structure, so `a.or(b).and(c)` is `(a OR b) AND c`
/// without the caller thinking about it. Precedence, loosest first: lambda `->`, `OR`, `AND`, `NOT`,
/// comparisons (`=`, `LIKE`, `IN`, `IS NULL`, …), `+ -`, `* / %`, unary `-`, atoms. Operands of
/// `NOT`, `IS [NOT] NULL` and unary `-` are parenthesised unless they are atoms, and operands of
/// comparisons unless they are arithmetic or atoms, which is correct whatever ClickHouse's exact
/// ordering among those operators is.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A column (or alias, or lambda parameter): `` `name` ``.
    Column(Ident),
    /// A column of a named table or alias: `` `t`.`c` ``.
    Qualified(Ident, Ident),
    Lit(Literal),
    /// `*`.
    Star,
    /// `name(args)`, `name(params)(args)` for parametric aggregates (`quantiles(0.5)(x)`), optionally
    /// with a window (`OVER (…)`). The name is static: function names never come from requests.
    Func {
        name: &'static str,
        params: Vec<Expr>,
        args: Vec<Expr>,
        over: Option<Box<Window>>,
    },
    Binary {
        op: BinOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    /// Unary minus.
    Neg(Box<Expr>),
    /// Conjunction; empty is `true`, a single element is itself.
    And(Vec<Expr>),
    /// Disjunction; empty is `false`, a single element is itself.
    Or(Vec<Expr>),
    Not(Box<Expr>),
    IsNull(Box<Expr>),
    IsNotNull(Box<Expr>),
    /// `expr [NOT] IN (list)`; an empty list is `false` (`true` when negated).
    In {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    /// `expr [NOT] IN (SELECT …)`.
    InSubquery {
        expr: Box<Expr>,
        query: Box<Query>,
        negated: bool,
    },
    /// `[a, b]`.
    Array(Vec<Expr>),
    /// `(a, b)`; `tuple(a)` and `tuple()` for one and no elements.
    Tuple(Vec<Expr>),
    /// `x -> body` or `(x, y) -> body` (parameters, body); refer to the parameters with [`col`].
    Lambda(Vec<Ident>, Box<Expr>),
    /// `CAST(expr AS type)`.
    Cast {
        expr: Box<Expr>,
        ty: ChType,
    },
    /// `CASE WHEN c THEN v … [ELSE e] END`; with no branches it is just `e` (or `NULL`).
    Case {
        whens: Vec<(Expr, Expr)>,
        else_: Option<Box<Expr>>,
    },
    /// A scalar subquery `(SELECT …)`.
    Subquery(Box<Query>),
    /// `INTERVAL n UNIT`.
    Interval {
        value: Box<Expr>,
        unit: IntervalUnit,
    },
}

// Binding strength, loosest first.
const P_LAMBDA: u8 = 0;
const P_OR: u8 = 1;
const P_AND: u8 = 2;
const P_NOT: u8 = 3;
const P_CMP: u8 = 4;
const P_ADD: u8 = 5;
const P_MUL: u8 = 6;
const P_NEG: u8 = 7;
const P_ATOM: u8 = 10;

impl Expr {
    fn prec(&self) -> u8 {
        match self {
            Expr::Lit(l) if l.is_negative() => P_NEG,
            Expr::Column(_)
            | Expr::Qualified(..)
            | Expr::Lit(_)
            | Expr::Star
            | Expr::Func { .. }
            | Expr::Array(_)
            | Expr::Tuple(_)
            | Expr::Cast { .. }
            | Expr::Subquery(_)
            | Expr::Interval { .. } => P_ATOM,
            Expr::Case { whens, else_ } => match (whens.is_empty(), else_) {
                (true, Some(e)) => e.prec(),
                _ => P_ATOM,
            },
            Expr::Binary { op, .. } => op.prec(),
            Expr::Neg(_) => P_NEG,
            Expr::And(v) | Expr::Or(v) if v.is_empty() => P_ATOM,
            Expr::And(v) | Expr::Or(v) if v.len() == 1 => v[0].prec(),
            Expr::And(_) => P_AND,
            Expr::Or(_) => P_OR,
            Expr::Not(_) => P_NOT,
            Expr::In { list, .. } if list.is_empty() => P_ATOM,
            Expr::IsNull(_) | Expr::IsNotNull(_) | Expr::In { .. } | Expr::InSubquery { .. } => {
                P_CMP
            }
            Expr::Lambda(..) => P_LAMBDA,
        }
    }

    /// Renders `self`, in parentheses if it binds looser than `min`.
    fn fmt_prec(&self, f: &mut fmt::Formatter<'_>, min: u8) -> fmt::Result {
        if self.prec() < min {
            f.write_str("(")?;
            self.fmt_bare(f)?;
            f.write_str(")")
        } else {
            self.fmt_bare(f)
        }
    }

    fn fmt_list(f: &mut fmt::Formatter<'_>, items: &[Expr]) -> fmt::Result {
        for (i, e) in items.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            e.fmt_prec(f, P_LAMBDA)?;
        }
        Ok(())
    }

    fn fmt_bare(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Column(c) => write!(f, "{c}"),
            Expr::Qualified(t, c) => write!(f, "{t}.{c}"),
            Expr::Lit(l) => write!(f, "{l}"),
            Expr::Star => f.write_str("*"),
            Expr::Func {
                name,
                params,
                args,
                over,
            } => {
                f.write_str(name)?;
                if !params.is_empty() {
                    f.write_str("(")?;
                    Self::fmt_list(f, params)?;
                    f.write_str(")")?;
                }
                f.write_str("(")?;
                Self::fmt_list(f, args)?;
                f.write_str(")")?;
                if let Some(w) = over {
                    write!(f, " OVER {w}")?;
                }
                Ok(())
            }
            Expr::Binary { op, left, right } => {
                // Left-associative: the right operand needs parentheses already at equal strength
                // (`a - (b - c)`); comparisons do not chain at all.
                let (lmin, rmin) = match op.prec() {
                    P_CMP => (P_ADD, P_ADD),
                    p => (p, p + 1),
                };
                left.fmt_prec(f, lmin)?;
                write!(f, " {} ", op.as_str())?;
                right.fmt_prec(f, rmin)
            }
            Expr::Neg(e) => {
                f.write_str("-")?;
                e.fmt_prec(f, P_ATOM)
            }
            Expr::And(v) | Expr::Or(v) => {
                let (empty, sep, p) = if matches!(self, Expr::And(_)) {
                    ("true", " AND ", P_AND)
                } else {
                    ("false", " OR ", P_OR)
                };
                match v.as_slice() {
                    [] => f.write_str(empty),
                    [one] => one.fmt_bare(f),
                    many => {
                        for (i, e) in many.iter().enumerate() {
                            if i > 0 {
                                f.write_str(sep)?;
                            }
                            e.fmt_prec(f, p + 1)?;
                        }
                        Ok(())
                    }
                }
            }
            Expr::Not(e) => {
                f.write_str("NOT ")?;
                e.fmt_prec(f, P_ATOM)
            }
            Expr::IsNull(e) => {
                e.fmt_prec(f, P_ATOM)?;
                f.write_str(" IS NULL")
            }
            Expr::IsNotNull(e) => {
                e.fmt_prec(f, P_ATOM)?;
                f.write_str(" IS NOT NULL")
            }
            Expr::In {
                expr,
                list,
                negated,
            } => {
                if list.is_empty() {
                    return f.write_str(if *negated { "true" } else { "false" });
                }
                expr.fmt_prec(f, P_ADD)?;
                f.write_str(if *negated { " NOT IN (" } else { " IN (" })?;
                Self::fmt_list(f, list)?;
                f.write_str(")")
            }
            Expr::InSubquery {
                expr,
                query,
                negated,
            } => {
                expr.fmt_prec(f, P_ADD)?;
                f.write_str(if *negated { " NOT IN (" } else { " IN (" })?;
                write!(f, "{query})")
            }
            Expr::Array(v) => {
                f.write_str("[")?;
                Self::fmt_list(f, v)?;
                f.write_str("]")
            }
            Expr::Tuple(v) => {
                // `(a)` would just be `a` in parentheses.
                f.write_str(if v.len() < 2 { "tuple(" } else { "(" })?;
                Self::fmt_list(f, v)?;
                f.write_str(")")
            }
            Expr::Lambda(params, body) => {
                if params.len() == 1 {
                    write!(f, "{}", params[0])?;
                } else {
                    f.write_str("(")?;
                    write_list(f, params)?;
                    f.write_str(")")?;
                }
                f.write_str(" -> ")?;
                body.fmt_prec(f, P_LAMBDA)
            }
            Expr::Cast { expr, ty } => {
                f.write_str("CAST(")?;
                expr.fmt_prec(f, P_LAMBDA)?;
                write!(f, " AS {ty})")
            }
            Expr::Case { whens, else_ } => {
                if whens.is_empty() {
                    return match else_ {
                        Some(e) => e.fmt_bare(f),
                        None => f.write_str("NULL"),
                    };
                }
                f.write_str("CASE")?;
                for (cond, then) in whens {
                    f.write_str(" WHEN ")?;
                    cond.fmt_prec(f, P_LAMBDA)?;
                    f.write_str(" THEN ")?;
                    then.fmt_prec(f, P_LAMBDA)?;
                }
                if let Some(e) = else_ {
                    f.write_str(" ELSE ")?;
                    e.fmt_prec(f, P_LAMBDA)?;
                }
                f.write_str(" END")
            }
            Expr::Subquery(q) => write!(f, "({q})"),
            Expr::Interval { value, unit } => {
                f.write_str("INTERVAL ")?;
                match value.as_ref() {
                    Expr::Lit(l @ (Literal::Int(_) | Literal::UInt(_))) if !l.is_negative() => {
                        write!(f, "{l}")?
                    }
                    v => {
                        f.write_str("(")?;
                        v.fmt_prec(f, P_LAMBDA)?;
                        f.write_str(")")?;
                    }
                }
                write!(f, " {}", unit.as_str())
            }
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_prec(f, P_LAMBDA)
    }
}

impl From<Literal> for Expr {
    fn from(l: Literal) -> Self {
        Expr::Lit(l)
    }
}

/// An identifier used as an expression is a column reference.
impl From<Ident> for Expr {
    fn from(i: Ident) -> Self {
        Expr::Column(i)
    }
}

impl From<Query> for Expr {
    fn from(q: Query) -> Self {
        Expr::Subquery(Box::new(q))
    }
}

/// The sum of `terms` as a balanced tree of `+` (depth log₂ n rather than n: thousands of scored
/// clauses must not make a syntax tree that deep, neither for the daemon's recursive walks nor for
/// ClickHouse's `max_ast_depth`). `None` for no term.
pub fn balanced_sum(terms: impl IntoIterator<Item = Expr>) -> Option<Expr> {
    fn split(mut v: Vec<Expr>) -> Expr {
        if v.len() == 1 {
            return v.pop().expect("one term");
        }
        let right = v.split_off(v.len() / 2);
        split(v) + split(right)
    }
    let v: Vec<Expr> = terms.into_iter().collect();
    if v.is_empty() { None } else { Some(split(v)) }
}

/// [`balanced_sum`] as an iterator method, in place of `.reduce(|a, b| a + b)`.
pub trait BalancedSum: Iterator<Item = Expr> + Sized {
    fn balanced_sum(self) -> Option<Expr> {
        balanced_sum(self)
    }
}

impl<I: Iterator<Item = Expr>> BalancedSum for I {}

fn binary(op: BinOp, left: Expr, right: Expr) -> Expr {
    Expr::Binary {
        op,
        left: Box::new(left),
        right: Box::new(right),
    }
}

/// Methods for building expressions fluently: `col("a").gte(lit(3)).and(col("b").is_null())`.
impl Expr {
    /// Same as the free function [`func`].
    pub fn func(name: &'static str, args: Vec<Expr>) -> Expr {
        func(name, args)
    }

    pub fn eq(self, other: impl Into<Expr>) -> Expr {
        binary(BinOp::Eq, self, other.into())
    }
    pub fn ne(self, other: impl Into<Expr>) -> Expr {
        binary(BinOp::Ne, self, other.into())
    }
    pub fn lt(self, other: impl Into<Expr>) -> Expr {
        binary(BinOp::Lt, self, other.into())
    }
    pub fn lte(self, other: impl Into<Expr>) -> Expr {
        binary(BinOp::Lte, self, other.into())
    }
    pub fn gt(self, other: impl Into<Expr>) -> Expr {
        binary(BinOp::Gt, self, other.into())
    }
    pub fn gte(self, other: impl Into<Expr>) -> Expr {
        binary(BinOp::Gte, self, other.into())
    }
    /// `self LIKE pattern`; build the pattern with [`escape_like`] when it contains user text.
    pub fn like(self, pattern: impl Into<Expr>) -> Expr {
        binary(BinOp::Like, self, pattern.into())
    }
    pub fn not_like(self, pattern: impl Into<Expr>) -> Expr {
        binary(BinOp::NotLike, self, pattern.into())
    }
    pub fn ilike(self, pattern: impl Into<Expr>) -> Expr {
        binary(BinOp::ILike, self, pattern.into())
    }
    pub fn not_ilike(self, pattern: impl Into<Expr>) -> Expr {
        binary(BinOp::NotILike, self, pattern.into())
    }

    /// `self AND other`, flattening nested conjunctions.
    pub fn and(self, other: impl Into<Expr>) -> Expr {
        and_all([self, other.into()])
    }
    /// `self OR other`, flattening nested disjunctions.
    pub fn or(self, other: impl Into<Expr>) -> Expr {
        or_all([self, other.into()])
    }
    /// `NOT self`. (Also available as `!expr`.)
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Expr {
        Expr::Not(Box::new(self))
    }
    pub fn is_null(self) -> Expr {
        Expr::IsNull(Box::new(self))
    }
    pub fn is_not_null(self) -> Expr {
        Expr::IsNotNull(Box::new(self))
    }
    pub fn in_list(self, list: Vec<Expr>) -> Expr {
        Expr::In {
            expr: Box::new(self),
            list,
            negated: false,
        }
    }
    pub fn not_in_list(self, list: Vec<Expr>) -> Expr {
        Expr::In {
            expr: Box::new(self),
            list,
            negated: true,
        }
    }
    pub fn in_subquery(self, query: impl Into<Query>) -> Expr {
        Expr::InSubquery {
            expr: Box::new(self),
            query: Box::new(query.into()),
            negated: false,
        }
    }
    pub fn not_in_subquery(self, query: impl Into<Query>) -> Expr {
        Expr::InSubquery {
            expr: Box::new(self),
            query: Box::new(query.into()),
            negated: true,
        }
    }
    pub fn cast(self, ty: ChType) -> Expr {
        Expr::Cast {
            expr: Box::new(self),
            ty,
        }
    }
    /// Adds a window to a function call.
    ///
    /// # Panics
    /// If `self` is not [`Expr::Func`] (a programming error, not something a request can cause).
    pub fn over(self, window: Window) -> Expr {
        match self {
            Expr::Func {
                name, params, args, ..
            } => Expr::Func {
                name,
                params,
                args,
                over: Some(Box::new(window)),
            },
            other => panic!("OVER applied to a non-function expression: {other}"),
        }
    }

    /// A select item `self AS name`.
    pub fn alias(self, name: impl Into<Ident>) -> SelectItem {
        SelectItem {
            expr: self,
            alias: Some(name.into()),
        }
    }
    /// An ascending `ORDER BY` item.
    pub fn asc(self) -> OrderBy {
        OrderBy::new(self, false)
    }
    /// A descending `ORDER BY` item.
    pub fn desc(self) -> OrderBy {
        OrderBy::new(self, true)
    }
}

macro_rules! arith {
    ($trait:ident, $method:ident, $op:ident) => {
        impl<T: Into<Expr>> std::ops::$trait<T> for Expr {
            type Output = Expr;
            fn $method(self, rhs: T) -> Expr {
                binary(BinOp::$op, self, rhs.into())
            }
        }
    };
}
arith!(Add, add, Add);
arith!(Sub, sub, Sub);
arith!(Mul, mul, Mul);
arith!(Div, div, Div);
arith!(Rem, rem, Mod);

impl std::ops::Neg for Expr {
    type Output = Expr;
    fn neg(self) -> Expr {
        Expr::Neg(Box::new(self))
    }
}

impl std::ops::Not for Expr {
    type Output = Expr;
    fn not(self) -> Expr {
        Expr::Not(Box::new(self))
    }
}

/// A column: `col("a.b")` is the single column `` `a.b` `` (Elasticsearch field names contain dots);
/// use [`qcol`] for `table.column`.
pub fn col(name: impl Into<Ident>) -> Expr {
    Expr::Column(name.into())
}

/// A qualified column `` `table`.`column` ``.
pub fn qcol(table: impl Into<Ident>, name: impl Into<Ident>) -> Expr {
    Expr::Qualified(table.into(), name.into())
}

/// A literal: `lit("x")`, `lit(3)`, `lit(2.5)`, `lit(true)`, `lit(None::<i64>)`.
pub fn lit(v: impl Into<Literal>) -> Expr {
    Expr::Lit(v.into())
}

pub fn null() -> Expr {
    Expr::Lit(Literal::Null)
}

pub fn star() -> Expr {
    Expr::Star
}

/// `name(args)`: `func("count", vec![])`, `func("lower", vec![col("a")])`.
pub fn func(name: &'static str, args: Vec<Expr>) -> Expr {
    Expr::Func {
        name,
        params: Vec::new(),
        args,
        over: None,
    }
}

/// A parametric function `name(params)(args)`: `func_params("quantiles", vec![lit(0.5)], vec![col("x")])`.
pub fn func_params(name: &'static str, params: Vec<Expr>, args: Vec<Expr>) -> Expr {
    Expr::Func {
        name,
        params,
        args,
        over: None,
    }
}

/// Conjunction of all `exprs`, flattening nested `And`s; a single expression is returned as is and
/// none gives `true`.
pub fn and_all(exprs: impl IntoIterator<Item = Expr>) -> Expr {
    let mut out = Vec::new();
    for e in exprs {
        match e {
            Expr::And(v) => out.extend(v),
            e => out.push(e),
        }
    }
    if out.len() == 1 {
        out.pop().unwrap_or(Expr::And(Vec::new()))
    } else {
        Expr::And(out)
    }
}

/// Disjunction of all `exprs`, flattening nested `Or`s; a single expression is returned as is and
/// none gives `false`.
pub fn or_all(exprs: impl IntoIterator<Item = Expr>) -> Expr {
    let mut out = Vec::new();
    for e in exprs {
        match e {
            Expr::Or(v) => out.extend(v),
            e => out.push(e),
        }
    }
    if out.len() == 1 {
        out.pop().unwrap_or(Expr::Or(Vec::new()))
    } else {
        Expr::Or(out)
    }
}

pub fn not(e: Expr) -> Expr {
    Expr::Not(Box::new(e))
}

pub fn tuple(items: Vec<Expr>) -> Expr {
    Expr::Tuple(items)
}

pub fn array(items: Vec<Expr>) -> Expr {
    Expr::Array(items)
}

/// `x -> body` / `(x, y) -> body`: `lambda(["x"], col("x").gt(lit(1)))`.
pub fn lambda<I: Into<Ident>>(params: impl IntoIterator<Item = I>, body: Expr) -> Expr {
    Expr::Lambda(params.into_iter().map(Into::into).collect(), Box::new(body))
}

/// `CASE WHEN … THEN … [ELSE …] END`.
pub fn case(whens: Vec<(Expr, Expr)>, else_: Option<Expr>) -> Expr {
    Expr::Case {
        whens,
        else_: else_.map(Box::new),
    }
}

/// `INTERVAL value UNIT`: `interval(lit(1), IntervalUnit::Day)`.
pub fn interval(value: impl Into<Expr>, unit: IntervalUnit) -> Expr {
    Expr::Interval {
        value: Box::new(value.into()),
        unit,
    }
}

/// A scalar subquery `(SELECT …)`.
pub fn subquery(q: impl Into<Query>) -> Expr {
    Expr::Subquery(Box::new(q.into()))
}

/// Escapes `s` for use as the literal part of a `LIKE`/`ILIKE` pattern (`%`, `_` and `\` lose their
/// meaning), e.g. `col("a").like(lit(format!("{}%", escape_like(prefix))))`. The result is still a
/// plain string, escaped again as a string literal when rendered.
pub fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::Select;

    fn s(e: Expr) -> String {
        e.to_string()
    }

    // Checked by hand against chDB 26.9 (ClickHouse 26.9.2.1), outside the unit tests: for each of
    // these strings, `SELECT hex(<rendered literal>)` returned exactly the original bytes, the
    // string survived `x IN ('zz', <lit>)` and an escape_like()'d LIKE prefix match, and used as a
    // select alias it came back as the exact column name:
    //   ""  "'"  "''"  "\\"  "\\'"  "'\\"  "\\\\'"  "\\n" (backslash, n)  "\n"  "\r\n"  "\t"  "\0"
    //   "a\0b"  "\x01\x1f\x7f"  "\x1b[31m"  "'; DROP TABLE x; --"  "\\'; DROP TABLE x; --"
    //   "' OR 1=1 --"  "/* c */"  "`"  "\"q\""  "{x:String}"  "?"  "$1"  "%_"  "Grüße 日本 🦀"
    //   "\u{2028}\u{feff}"  "ends with backslash\\"
    // plus 400 random strings of 0..12 characters drawn from ' \ ` " \n \r \t \0 \x01 \x08 \x0b
    // \x0c \x1f \x7f ; - / * % _ { } ? $ a x 0 space é 日 🦀 \u{2028}.
    // A CREATE DATABASE/CREATE TABLE (ReplacingMergeTree, DEFAULT/COMMENT/CODEC, bloom_filter and
    // text indexes, PARTITION BY, SETTINGS, COMMENT), every ALTER operation, INSERT, SELECT … FINAL
    // PREWHERE WHERE ORDER BY LIMIT BY, DELETE, OPTIMIZE, SHOW CREATE, EXISTS, TRUNCATE and the
    // DROPs all ran with database "d`b \\ '🦀", table "t`; DROP TABLE x; --\n", index names
    // "i`dx\n", "t'xt", "i2`", and column names "we`ird", "back\\slash", "a.b", "x y", "Grüße 🦀",
    // "new\nline", "\0", "'; DROP TABLE x; --", "`; DROP TABLE x; --", "\\`", "trailing\\", "v`",
    // "del\\", "added\\`" (renamed to "ren`amed\n"); system.columns listed exactly those names and
    // each column read back its own name as its DEFAULT value.
    // Precedence was checked the same way by evaluating the shapes tested below.
    const NASTY: &[(&str, &str)] = &[
        ("", "''"),
        ("plain", "'plain'"),
        ("'", "'\\''"),
        ("''", "'\\'\\''"),
        ("\\", "'\\\\'"),
        ("\\'", "'\\\\\\''"),
        ("'\\", "'\\'\\\\'"),
        ("\\n", "'\\\\n'"),
        ("\n", "'\\n'"),
        ("\r\n", "'\\r\\n'"),
        ("\t", "'\\t'"),
        ("\0", "'\\0'"),
        ("a\0b", "'a\\0b'"),
        ("\x01\x1f\x7f", "'\\x01\\x1F\\x7F'"),
        ("\x1b[31m", "'\\x1B[31m'"),
        ("'; DROP TABLE x; --", "'\\'; DROP TABLE x; --'"),
        ("\\'; DROP TABLE x; --", "'\\\\\\'; DROP TABLE x; --'"),
        ("' OR 1=1 --", "'\\' OR 1=1 --'"),
        ("/* c */", "'/* c */'"),
        ("`", "'`'"),
        ("\"q\"", "'\"q\"'"),
        ("{x:String}", "'{x:String}'"),
        ("Grüße 日本 🦀", "'Grüße 日本 🦀'"),
        ("\u{2028}\u{feff}", "'\u{2028}\u{feff}'"),
        ("ends with backslash\\", "'ends with backslash\\\\'"),
    ];

    #[test]
    fn string_literals_are_escaped() {
        for (raw, want) in NASTY {
            assert_eq!(Literal::from(*raw).to_string(), *want, "{raw:?}");
            assert_eq!(lit(raw.to_string()).to_string(), *want, "{raw:?}");
        }
    }

    #[test]
    fn rendered_literals_never_contain_raw_control_characters() {
        for (raw, _) in NASTY {
            let out = Literal::from(*raw).to_string();
            assert!(!out.chars().any(|c| c.is_control()), "{out:?}");
            // Every quote inside is escaped: strip escape pairs, then only the two delimiters remain.
            let mut quotes = 0;
            let mut chars = out.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        chars.next();
                    }
                    '\'' => quotes += 1,
                    _ => {}
                }
            }
            assert_eq!(quotes, 2, "{out}");
        }
    }

    #[test]
    fn numbers_and_other_literals() {
        assert_eq!(Literal::Null.to_string(), "NULL");
        assert_eq!(lit(true).to_string(), "true");
        assert_eq!(lit(false).to_string(), "false");
        assert_eq!(lit(0).to_string(), "0");
        assert_eq!(lit(-42i64).to_string(), "-42");
        assert_eq!(lit(i64::MIN).to_string(), "-9223372036854775808");
        assert_eq!(lit(u64::MAX).to_string(), "18446744073709551615");
        assert_eq!(lit(7usize).to_string(), "7");
        assert_eq!(lit(1.0).to_string(), "1.0");
        assert_eq!(lit(-2.5).to_string(), "-2.5");
        assert_eq!(lit(0.1).to_string(), "0.1");
        assert_eq!(lit(-0.0).to_string(), "-0.0");
        assert_eq!(lit(1e21).to_string(), "1e21");
        assert_eq!(lit(1e-7).to_string(), "1e-7");
        assert_eq!(lit(5e-324).to_string(), "5e-324");
        assert_eq!(lit(f64::MAX).to_string(), "1.7976931348623157e308");
        assert_eq!(lit(f64::NAN).to_string(), "nan");
        assert_eq!(lit(f64::INFINITY).to_string(), "inf");
        assert_eq!(lit(f64::NEG_INFINITY).to_string(), "-inf");
        assert_eq!(lit(None::<i64>).to_string(), "NULL");
        assert_eq!(lit(Some("x")).to_string(), "'x'");
    }

    #[test]
    fn floats_round_trip_through_their_text() {
        for x in [
            0.1,
            1.0 / 3.0,
            123456789.125,
            1e300,
            -4.9e-324,
            2f64.powi(60),
        ] {
            let text = Literal::Float(x).to_string();
            assert_eq!(text.parse::<f64>().unwrap(), x, "{text}");
            assert!(text.contains(['.', 'e']), "{text}");
        }
    }

    #[test]
    fn columns() {
        assert_eq!(s(col("a.b")), "`a.b`");
        assert_eq!(s(qcol("t", "c")), "`t`.`c`");
        assert_eq!(s(col("we`ird\\")), "`we\\`ird\\\\`");
        assert_eq!(s(star()), "*");
    }

    #[test]
    fn comparisons_and_arithmetic() {
        assert_eq!(s(col("a").eq(lit("x"))), "`a` = 'x'");
        assert_eq!(s(col("a").ne(lit(1))), "`a` != 1");
        assert_eq!(s(col("a").lt(lit(1))), "`a` < 1");
        assert_eq!(s(col("a").lte(lit(1))), "`a` <= 1");
        assert_eq!(s(col("a").gt(lit(1))), "`a` > 1");
        assert_eq!(s(col("a").gte(lit(1))), "`a` >= 1");
        assert_eq!(s(col("a").like(lit("x%"))), "`a` LIKE 'x%'");
        assert_eq!(s(col("a").not_ilike(lit("x%"))), "`a` NOT ILIKE 'x%'");
        assert_eq!(s(col("a") + lit(1)), "`a` + 1");
        assert_eq!(s((col("a") + lit(1)) * lit(2)), "(`a` + 1) * 2");
        assert_eq!(s(col("a") + lit(1) * lit(2)), "`a` + 1 * 2");
        assert_eq!(s(col("a") - (col("b") - col("c"))), "`a` - (`b` - `c`)");
        assert_eq!(s((col("a") - col("b")) - col("c")), "`a` - `b` - `c`");
        assert_eq!(s(col("a") / (col("b") * col("c"))), "`a` / (`b` * `c`)");
        assert_eq!(s(col("a") % lit(3)), "`a` % 3");
        assert_eq!(
            s((col("a") + lit(1)).gt(col("b") * lit(2))),
            "`a` + 1 > `b` * 2"
        );
        assert_eq!(s(col("a").eq(lit(1)).eq(lit(true))), "(`a` = 1) = true");
        assert_eq!(s(col("a") - lit(-5)), "`a` - -5");
    }

    #[test]
    fn unary_minus_never_makes_a_comment() {
        assert_eq!(s(-col("a")), "-`a`");
        assert_eq!(s(-lit(5)), "-5");
        assert_eq!(s(-lit(-5)), "-(-5)");
        assert_eq!(s(-lit(-0.5)), "-(-0.5)");
        assert_eq!(s(-lit(f64::NEG_INFINITY)), "-(-inf)");
        assert_eq!(s(-(-col("a"))), "-(-`a`)");
        assert_eq!(s(-(col("a") + lit(1))), "-(`a` + 1)");
        assert_eq!(s(lit(-2) * col("a")), "-2 * `a`");
    }

    #[test]
    fn boolean_structure() {
        let (a, b, c, d) = (
            col("a").eq(lit(1)),
            col("b").eq(lit(2)),
            col("c").eq(lit(3)),
            col("d").eq(lit(4)),
        );
        assert_eq!(s(Expr::And(vec![])), "true");
        assert_eq!(s(Expr::Or(vec![])), "false");
        assert_eq!(s(Expr::And(vec![a.clone()])), "`a` = 1");
        assert_eq!(s(Expr::Or(vec![a.clone()])), "`a` = 1");
        assert_eq!(s(a.clone().and(b.clone())), "`a` = 1 AND `b` = 2");
        assert_eq!(
            s(a.clone().or(b.clone()).and(c.clone())),
            "(`a` = 1 OR `b` = 2) AND `c` = 3"
        );
        assert_eq!(
            s(a.clone().and(b.clone()).or(c.clone().and(d.clone()))),
            "`a` = 1 AND `b` = 2 OR `c` = 3 AND `d` = 4"
        );
        assert_eq!(
            s(a.clone().or(b.clone()).and(c.clone().or(d.clone()))),
            "(`a` = 1 OR `b` = 2) AND (`c` = 3 OR `d` = 4)"
        );
        assert_eq!(
            s(a.clone().and(b.clone()).and(c.clone())),
            "`a` = 1 AND `b` = 2 AND `c` = 3"
        );
        assert_eq!(
            s(a.clone().or(b.clone()).or(c.clone())),
            "`a` = 1 OR `b` = 2 OR `c` = 3"
        );
        assert_eq!(s(a.clone().not()), "NOT (`a` = 1)");
        assert_eq!(s(!col("flag")), "NOT `flag`");
        assert_eq!(
            s(a.clone().and(b.clone()).not()),
            "NOT (`a` = 1 AND `b` = 2)"
        );
        assert_eq!(
            s(a.clone().not().and(b.clone().or(c.clone()).not())),
            "NOT (`a` = 1) AND NOT (`b` = 2 OR `c` = 3)"
        );
        assert_eq!(s(not(not(col("x")))), "NOT (NOT `x`)");
        // Hand-built nesting that the helpers would flatten still renders correctly.
        assert_eq!(
            s(Expr::And(vec![
                Expr::Or(vec![a.clone(), Expr::And(vec![b.clone(), c.clone()])]),
                Expr::And(vec![d.clone()]),
                Expr::Or(vec![]),
            ])),
            "(`a` = 1 OR `b` = 2 AND `c` = 3) AND `d` = 4 AND false"
        );
        assert_eq!(
            s(Expr::Or(vec![
                Expr::Or(vec![a.clone(), b.clone()]),
                c.clone()
            ])),
            "(`a` = 1 OR `b` = 2) OR `c` = 3"
        );
        assert_eq!(s(Expr::Not(Box::new(Expr::And(vec![])))), "NOT true");
        assert_eq!(
            s(Expr::Not(Box::new(Expr::And(vec![a.clone()])))),
            "NOT (`a` = 1)"
        );
        assert_eq!(s(and_all([])), "true");
        assert_eq!(s(or_all([])), "false");
        assert_eq!(and_all([a.clone()]), a);
        assert_eq!(
            a.clone().and(b.clone()).and(c.clone()),
            Expr::And(vec![a.clone(), b.clone(), c.clone()])
        );
    }

    #[test]
    fn null_tests_and_in() {
        assert_eq!(s(col("a").is_null()), "`a` IS NULL");
        assert_eq!(s(col("a").is_not_null()), "`a` IS NOT NULL");
        assert_eq!(s((col("a") + lit(1)).is_null()), "(`a` + 1) IS NULL");
        assert_eq!(s(col("a").is_null().not()), "NOT (`a` IS NULL)");
        assert_eq!(
            s(col("a").is_null().or(col("a").eq(lit("")))),
            "`a` IS NULL OR `a` = ''"
        );
        assert_eq!(
            s(col("a").in_list(vec![lit("x"), lit("y'")])),
            "`a` IN ('x', 'y\\'')"
        );
        assert_eq!(s(col("a").in_list(vec![lit(1)])), "`a` IN (1)");
        assert_eq!(
            s(col("a").not_in_list(vec![lit(1), lit(2)])),
            "`a` NOT IN (1, 2)"
        );
        assert_eq!(s(col("a").in_list(vec![])), "false");
        assert_eq!(s(col("a").not_in_list(vec![])), "true");
        assert_eq!(s(col("a").in_list(vec![]).not()), "NOT false");
        assert_eq!(
            s(col("a").in_list(vec![lit(1)]).and(col("b").in_list(vec![]))),
            "`a` IN (1) AND false"
        );
        assert_eq!(
            s(col("a").in_list(vec![lit(1)]).eq(lit(0))),
            "(`a` IN (1)) = 0"
        );
        assert_eq!(
            s(col("id").in_subquery(
                Select::new()
                    .item(col("id"))
                    .from(crate::sql::FromClause::table("d", "t"))
            )),
            "`id` IN (SELECT `id` FROM `d`.`t`)"
        );
        assert_eq!(
            s(col("id").not_in_subquery(Select::new().item(lit(1)))),
            "`id` NOT IN (SELECT 1)"
        );
    }

    #[test]
    fn functions_arrays_tuples() {
        assert_eq!(s(func("count", vec![])), "count()");
        assert_eq!(s(func("count", vec![star()])), "count(*)");
        assert_eq!(
            s(func("lower", vec![col("a")]).eq(lit("x"))),
            "lower(`a`) = 'x'"
        );
        assert_eq!(
            s(func_params(
                "quantiles",
                vec![lit(0.5), lit(0.99)],
                vec![col("x")]
            )),
            "quantiles(0.5, 0.99)(`x`)"
        );
        assert_eq!(
            s(func(
                "if",
                vec![col("a").eq(lit(1)).or(col("b")), lit(1), lit(0)]
            )),
            "if(`a` = 1 OR `b`, 1, 0)"
        );
        assert_eq!(s(array(vec![])), "[]");
        assert_eq!(s(array(vec![lit("a"), lit(1)])), "['a', 1]");
        assert_eq!(s(tuple(vec![])), "tuple()");
        assert_eq!(s(tuple(vec![lit(1)])), "tuple(1)");
        assert_eq!(s(tuple(vec![lit(1), col("b")])), "(1, `b`)");
        assert_eq!(
            s(tuple(vec![col("a"), col("b")]).in_list(vec![tuple(vec![lit(1), lit(2)])])),
            "(`a`, `b`) IN ((1, 2))"
        );
        assert_eq!(
            s(func("row_number", vec![]).over(Window {
                partition_by: vec![col("g")],
                order_by: vec![col("t").desc()],
            })),
            "row_number() OVER (PARTITION BY `g` ORDER BY `t` DESC)"
        );
        assert_eq!(
            s(func("count", vec![]).over(Window::default())),
            "count() OVER ()"
        );
    }

    #[test]
    fn lambdas() {
        assert_eq!(
            s(func(
                "arrayExists",
                vec![lambda(["x"], col("x").like(lit("a%"))), col("tags")]
            )),
            "arrayExists(`x` -> `x` LIKE 'a%', `tags`)"
        );
        assert_eq!(
            s(func(
                "arrayMap",
                vec![lambda(["x", "y"], col("x") + col("y")), col("a"), col("b")]
            )),
            "arrayMap((`x`, `y`) -> `x` + `y`, `a`, `b`)"
        );
        // A lambda used as an operand is parenthesised.
        assert_eq!(s(lambda(["x"], col("x")).eq(lit(1))), "(`x` -> `x`) = 1");
        assert_eq!(
            s(lambda(["we`ird"], col("we`ird"))),
            "`we\\`ird` -> `we\\`ird`"
        );
    }

    #[test]
    fn cast_case_interval_subquery() {
        assert_eq!(
            s(col("a").cast(ChType::nullable(ChType::Int64))),
            "CAST(`a` AS Nullable(Int64))"
        );
        assert_eq!(
            s(lit("2024-01-01 00:00:00").cast(ChType::DateTime64(3, Some("UTC".into())))),
            "CAST('2024-01-01 00:00:00' AS DateTime64(3, 'UTC'))"
        );
        assert_eq!(
            s(case(
                vec![
                    (col("a").gt(lit(1)), lit("big")),
                    (col("a").is_null(), lit("none"))
                ],
                Some(lit("small"))
            )),
            "CASE WHEN `a` > 1 THEN 'big' WHEN `a` IS NULL THEN 'none' ELSE 'small' END"
        );
        assert_eq!(
            s(case(vec![(col("a"), lit(1))], None)),
            "CASE WHEN `a` THEN 1 END"
        );
        assert_eq!(s(case(vec![], None)), "NULL");
        assert_eq!(
            s(case(vec![], Some(col("a") + lit(1))) * lit(2)),
            "(`a` + 1) * 2"
        );
        assert_eq!(
            s(func("now", vec![]) - interval(lit(1), IntervalUnit::Day)),
            "now() - INTERVAL 1 DAY"
        );
        assert_eq!(
            s(interval(lit(-1), IntervalUnit::Hour)),
            "INTERVAL (-1) HOUR"
        );
        assert_eq!(
            s(interval(col("n") + lit(1), IntervalUnit::Month)),
            "INTERVAL (`n` + 1) MONTH"
        );
        assert_eq!(
            s(subquery(
                Select::new()
                    .item(func("max", vec![col("x")]))
                    .from(crate::sql::FromClause::bare("t"))
            )
            .gt(lit(0))),
            "(SELECT max(`x`) FROM `t`) > 0"
        );
    }

    #[test]
    fn like_escaping() {
        assert_eq!(escape_like("50%_off\\"), "50\\%\\_off\\\\");
        assert_eq!(
            s(col("a").like(lit(format!("{}%", escape_like("a_b'"))))),
            "`a` LIKE 'a\\\\_b\\'%'"
        );
    }

    #[test]
    #[should_panic(expected = "OVER applied to a non-function")]
    fn over_on_non_function_panics() {
        let _ = col("a").over(Window::default());
    }
}
