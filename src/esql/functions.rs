//! ES|QL functions: aggregates (STATS), grouping (BUCKET), and the scalar functions — string,
//! date, math, conditional, conversion, IP and multi-value — each translated into ClickHouse
//! functions over [`TExpr`]s. DISSECT and GROK patterns become regular expressions here too.
//!
//! Functions that Elasticsearch answers with null and a warning (a multi-valued argument,
//! division by zero, `SQRT(-1)`, an unparsable string) answer null here, without the warning.

use super::parser::{Expr as AExpr, ExprKind, Lit};
use super::plan::{
    Col, Ctx, Planner, TExpr, as_array, esql_type_name, interval_unit, single, type_error,
};
use super::{Pos, Ty, verification_error};
use crate::error::EsError;
use crate::sql::{self, ChType, Expr, Ident};

const AGGREGATES: &[&str] = &[
    "count",
    "count_distinct",
    "avg",
    "sum",
    "min",
    "max",
    "median",
    "median_absolute_deviation",
    "percentile",
    "values",
    "top",
    "std_dev",
];

fn v() -> Expr {
    Expr::Column(Ident::new("v"))
}

fn f(name: &'static str, args: Vec<Expr>) -> Expr {
    Expr::func(name, args)
}

/// `fromUnixTimestamp64Milli(ms)`: a date constant.
pub fn date_lit(ms: i64) -> Expr {
    f(
        "fromUnixTimestamp64Milli",
        vec![sql::lit(ms).cast(ChType::Int64), sql::lit("UTC")],
    )
}

/// A date string as ES|QL casts string literals (`strict_date_optional_time`): epoch millis.
pub fn parse_date_literal(s: &str) -> Option<i64> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.timestamp_millis());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%#z",
        "%Y-%m-%dT%H:%M%#z",
        "%Y-%m-%dT%H:%M:%S%.fZ",
        "%Y-%m-%dT%H:%MZ",
    ] {
        if let Ok(d) = DateTime::parse_from_str(s, fmt) {
            return Some(d.timestamp_millis());
        }
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(d.and_utc().timestamp_millis());
        }
    }
    let s2 = s.strip_suffix('Z').unwrap_or(s);
    if let Ok(d) = NaiveDate::parse_from_str(s2, "%Y-%m-%d") {
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis());
    }
    if let Ok(d) = NaiveDate::parse_from_str(&format!("{s2}-01"), "%Y-%m-%d") {
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis());
    }
    None
}

fn arity(e: &AExpr, name: &str, args: &[AExpr], min: usize, max: usize) -> Result<(), EsError> {
    if args.len() >= min && args.len() <= max {
        return Ok(());
    }
    let want = match (min, max) {
        (0, 0) => "expects no arguments".to_string(),
        (1, 1) => "expects exactly one argument".to_string(),
        (a, b) if a == b => format!("expects exactly {a} arguments"),
        (a, usize::MAX) => format!(
            "expects at least {a} argument{}",
            if a == 1 { "" } else { "s" }
        ),
        (a, b) => format!("expects between {a} and {b} arguments"),
    };
    Err(verification_error(
        e.pos,
        format!("error building [{name}]: {want}"),
    ))
}

/// A constant string argument (a literal).
fn const_str(e: &AExpr, call: &AExpr, i: usize) -> Result<String, EsError> {
    match &e.kind {
        ExprKind::Lit(Lit::Str(s)) => Ok(s.clone()),
        _ => Err(verification_error(
            e.pos,
            format!(
                "{} argument of [{}] must be a constant string, received [{}]",
                ["first", "second", "third", "fourth"][i.min(3)],
                call.text,
                e.text
            ),
        )),
    }
}

fn const_num(e: &AExpr) -> Option<f64> {
    match &e.kind {
        ExprKind::Lit(Lit::Int(n)) => Some(*n as f64),
        ExprKind::Lit(Lit::Double(x)) => Some(*x),
        ExprKind::Lit(Lit::UnsignedLong(n)) => Some(*n as f64),
        _ => None,
    }
}

/// `if(cond, NULL, x)`.
fn null_if(cond: Expr, x: Expr) -> Expr {
    f("if", vec![cond, sql::null(), x])
}

fn per_value(t: &TExpr, g: impl Fn(Expr) -> Expr) -> Expr {
    if t.multi {
        f("arrayMap", vec![sql::lambda(["v"], g(v())), t.sql.clone()])
    } else {
        g(t.sql.clone())
    }
}

/// A date's fixed-size rounding for BUCKET's automatic mode, in milliseconds (none: calendar).
enum Rounding {
    Fixed(i64),
    Week,
    Month,
    Year,
}

/// BUCKET(date, n, from, to): the finest of Elasticsearch's roundings that covers [from, to) in
/// at most `n` buckets (esql/expression/function/grouping/Bucket.java, DateRoundingPicker).
fn pick_rounding(n: i64, from: i64, to: i64) -> Rounding {
    const PRIMARY: [i64; 16] = [
        86_400_000, 43_200_000, 10_800_000, 3_600_000, 1_800_000, 600_000, 300_000, 60_000, 30_000,
        10_000, 5_000, 1_000, 100, 50, 10, 1,
    ];
    let fixed_ok = |size: i64| {
        let start = from.div_euclid(size) * size;
        let steps = (to - start + size - 1).div_euclid(size).max(1);
        steps <= n
    };
    if let Some(size) = PRIMARY.iter().rev().find(|s| fixed_ok(**s)) {
        return Rounding::Fixed(*size);
    }
    let week = 7 * 86_400_000;
    // Weeks start on Monday; 1970-01-01 was a Thursday.
    let monday = |t: i64| (t - 4 * 86_400_000).div_euclid(week) * week + 4 * 86_400_000;
    let start = monday(from);
    if (to - start + week - 1).div_euclid(week).max(1) <= n {
        return Rounding::Week;
    }
    use chrono::{Datelike, TimeZone, Utc};
    let (Some(a), Some(b)) = (
        Utc.timestamp_millis_opt(from).single(),
        Utc.timestamp_millis_opt(to).single(),
    ) else {
        return Rounding::Year;
    };
    let months = (b.year() - a.year()) as i64 * 12 + b.month() as i64 - a.month() as i64 + 1;
    if months <= n {
        return Rounding::Month;
    }
    Rounding::Year
}

/// A date rounded down to `n` units, in time zone `tz` (an Elasticsearch SQL request's
/// `time_zone`; ES|QL rounds in UTC).
fn trunc_date(d: Expr, ty: Ty, n: i64, unit: &str, tz: &str) -> Expr {
    let precision: u8 = if ty == Ty::DateNanos { 9 } else { 3 };
    let zone = (tz != "UTC").then(|| sql::lit(tz));
    let start = if unit == "week" && n == 1 {
        // Weeks start on Monday, like Elasticsearch's week rounding.
        f("toMonday", std::iter::once(d).chain(zone.clone()).collect())
    } else {
        f(
            "toStartOfInterval",
            [d, sql::interval(sql::lit(n), interval_unit(unit))]
                .into_iter()
                .chain(zone.clone())
                .collect(),
        )
    };
    // A `Date` start is midnight in `tz`; the instant is then kept in UTC like every date.
    let local = f(
        "toDateTime64",
        vec![start, sql::lit(precision), sql::lit(tz)],
    );
    match zone {
        None => local,
        Some(_) => f("toTimeZone", vec![local, sql::lit("UTC")]),
    }
}

/// A date expression seen in time zone `tz` (for the parts of a date: hour, day, …).
pub(super) fn in_time_zone(d: Expr, tz: &str) -> Expr {
    if tz == "UTC" {
        d
    } else {
        f("toTimeZone", vec![d, sql::lit(tz)])
    }
}

/// ES|QL's DATE_EXTRACT parts (java.time ChronoField names).
fn extract_part(part: &str) -> Option<&'static str> {
    Some(match part.to_ascii_lowercase().as_str() {
        "year" => "toYear",
        "month_of_year" => "toMonth",
        "day_of_month" => "toDayOfMonth",
        "day_of_week" => "toDayOfWeek",
        "day_of_year" => "toDayOfYear",
        "hour_of_day" => "toHour",
        "minute_of_hour" => "toMinute",
        "second_of_minute" => "toSecond",
        "aligned_week_of_year" | "iso_week_of_week_based_year" => "toISOWeek",
        "quarter_of_year" => "toQuarter",
        "epoch_day" => "toRelativeDayNum",
        _ => return None,
    })
}

/// DATE_DIFF units → the unit names of ClickHouse's `age`.
fn diff_unit(u: &str) -> Option<&'static str> {
    Some(match u.to_ascii_lowercase().as_str() {
        "year" | "years" | "yy" | "yyyy" => "year",
        "quarter" | "quarters" | "qq" | "q" => "quarter",
        "month" | "months" | "mm" | "m" => "month",
        "dayofyear" | "dy" | "y" | "day" | "days" | "dd" | "d" => "day",
        "week" | "weeks" | "wk" | "ww" => "week",
        "hour" | "hours" | "hh" => "hour",
        "minute" | "minutes" | "mi" | "n" => "minute",
        "second" | "seconds" | "ss" | "s" => "second",
        "millisecond" | "milliseconds" | "ms" => "millisecond",
        "microsecond" | "microseconds" | "mcs" => "microsecond",
        "nanosecond" | "nanoseconds" | "ns" => "nanosecond",
        _ => return None,
    })
}

/// Inclusive IPv6 bounds of a CIDR block (IPv4 blocks as IPv4-mapped addresses, as ip columns
/// store them).
fn cidr_bounds(cidr: &str) -> Option<(std::net::Ipv6Addr, std::net::Ipv6Addr)> {
    let (addr, len) = match cidr.split_once('/') {
        Some((a, l)) => (a, Some(l.parse::<u32>().ok()?)),
        None => (cidr, None),
    };
    let ip: std::net::IpAddr = addr.parse().ok()?;
    let (bits, prefix) = match ip {
        std::net::IpAddr::V4(v4) => {
            let len = len.unwrap_or(32);
            if len > 32 {
                return None;
            }
            (u128::from(v4.to_ipv6_mapped()), 96 + len)
        }
        std::net::IpAddr::V6(v6) => {
            let len = len.unwrap_or(128);
            if len > 128 {
                return None;
            }
            (u128::from(v6), len)
        }
    };
    let host_mask = match prefix {
        0 => u128::MAX,
        128 => 0,
        p => (1u128 << (128 - p)) - 1,
    };
    let lo = bits & !host_mask;
    Some((lo.into(), (lo | host_mask).into()))
}

impl Planner {
    pub(super) fn call(
        &mut self,
        e: &AExpr,
        name: &str,
        args: &[AExpr],
        scope: &[Col],
        ctx: Ctx,
    ) -> Result<TExpr, EsError> {
        if AGGREGATES.contains(&name) {
            if ctx != Ctx::Agg {
                return Err(verification_error(
                    e.pos,
                    format!(
                        "aggregate function [{}] not allowed outside STATS command",
                        e.text
                    ),
                ));
            }
            return self.aggregate(e, name, args, scope);
        }
        let mut ts = Vec::new();
        for a in args {
            if matches!(a.kind, ExprKind::Star) {
                return Err(verification_error(
                    a.pos,
                    "* is only allowed as the argument of COUNT",
                ));
            }
            ts.push(self.expr(a, scope, ctx)?);
        }
        let agg = ts.iter().any(|t| t.agg);
        let mut out = self.scalar(e, name, args, &ts)?;
        out.agg |= agg;
        Ok(out)
    }

    fn aggregate(
        &mut self,
        e: &AExpr,
        name: &str,
        args: &[AExpr],
        scope: &[Col],
    ) -> Result<TExpr, EsError> {
        let agg = |sql: Expr, ty: Ty| TExpr {
            sql,
            ty,
            multi: false,
            agg: true,
        };
        // `STATS agg WHERE cond`: rows that do not match give the aggregate no value.
        let filter = self.agg_filter.clone();
        let count_rows = || match &filter {
            Some(c) => f("countIf", vec![c.clone()]),
            None => f("count", vec![]),
        };
        let only_matching = |t: TExpr| match &filter {
            None => t,
            Some(c) => TExpr {
                sql: f(
                    "if",
                    vec![
                        c.clone(),
                        t.sql.clone(),
                        if t.multi {
                            f("array", vec![])
                        } else {
                            sql::null()
                        },
                    ],
                ),
                ..t
            },
        };
        if name == "count" {
            arity(e, name, args, 0, 1)?;
            return Ok(match args.first() {
                None => agg(count_rows(), Ty::Long),
                Some(a) if matches!(a.kind, ExprKind::Star) => agg(count_rows(), Ty::Long),
                Some(a) => {
                    let t = only_matching(self.expr(a, scope, Ctx::Row)?);
                    if matches!(a.kind, ExprKind::Lit(_)) && t.ty != Ty::Null {
                        agg(count_rows(), Ty::Long)
                    } else if t.multi {
                        agg(
                            f("toInt64", vec![f("sum", vec![f("length", vec![t.sql])])]),
                            Ty::Long,
                        )
                    } else {
                        agg(f("count", vec![t.sql]), Ty::Long)
                    }
                }
            });
        }
        let (min, max) = match name {
            "percentile" | "top" => (2, 3),
            "count_distinct" => (1, 2),
            _ => (1, 1),
        };
        arity(e, name, args, min, max)?;
        let t = only_matching(self.expr(&args[0], scope, Ctx::Row)?);
        let numeric = |t: &TExpr| -> Result<(), EsError> {
            if t.ty.is_numeric() || t.ty == Ty::Null {
                Ok(())
            } else {
                Err(type_error(
                    e,
                    0,
                    &args[0],
                    t,
                    "numeric except unsigned_long or counter types",
                ))
            }
        };
        // The aggregate over every value: `-Array` combinator for multi-valued input.
        let over = |scalar: &'static str, array: &'static str, t: &TExpr| -> Expr {
            if t.multi {
                f(array, vec![t.sql.clone()])
            } else {
                f(scalar, vec![t.sql.clone()])
            }
        };
        let quantile = |q: f64, t: &TExpr| -> Expr {
            let name = if t.multi {
                "quantileExactInclusiveArrayOrNull"
            } else {
                "quantileExactInclusiveOrNull"
            };
            sql::func_params(name, vec![sql::lit(q)], vec![t.sql.clone()])
        };
        Ok(match name {
            "count_distinct" => agg(over("uniqExact", "uniqExactArray", &t), Ty::Long),
            "avg" => {
                numeric(&t)?;
                agg(over("avgOrNull", "avgArrayOrNull", &t), Ty::Double)
            }
            "sum" => {
                numeric(&t)?;
                let ty = if t.ty == Ty::Double {
                    Ty::Double
                } else {
                    Ty::Long
                };
                agg(over("sumOrNull", "sumArrayOrNull", &t), ty)
            }
            "min" | "max" => {
                if matches!(t.ty, Ty::Unsupported | Ty::Source | Ty::Text) {
                    return Err(type_error(
                        e,
                        0,
                        &args[0],
                        &t,
                        "boolean, date, ip, string, version or numeric except unsigned_long or counter types",
                    ));
                }
                let sql = if name == "min" {
                    over("minOrNull", "minArrayOrNull", &t)
                } else {
                    over("maxOrNull", "maxArrayOrNull", &t)
                };
                agg(sql, t.ty)
            }
            "median" => {
                numeric(&t)?;
                agg(quantile(0.5, &t), Ty::Double)
            }
            "percentile" => {
                numeric(&t)?;
                let p = const_num(&args[1]).ok_or_else(|| {
                    verification_error(
                        args[1].pos,
                        format!(
                            "second argument of [{}] must be a constant, received [{}]",
                            e.text, args[1].text
                        ),
                    )
                })?;
                if !(0.0..=100.0).contains(&p) {
                    return Err(verification_error(
                        args[1].pos,
                        format!("Percentile value must be in the range [0, 100], found [{p}]"),
                    ));
                }
                agg(quantile(p / 100.0, &t), Ty::Double)
            }
            "median_absolute_deviation" => {
                numeric(&t)?;
                // median(|x - median(x)|) over the group's values.
                let values = if t.multi {
                    f(
                        "groupArrayArray",
                        vec![f(
                            "arrayMap",
                            vec![sql::lambda(["v"], f("toFloat64", vec![v()])), t.sql.clone()],
                        )],
                    )
                } else {
                    f("groupArray", vec![f("toFloat64", vec![t.sql.clone()])])
                };
                let med = |arr: Expr| {
                    f(
                        "arrayReduce",
                        vec![sql::lit("quantileExactInclusiveOrNull(0.5)"), arr],
                    )
                };
                let m = med(values.clone());
                agg(
                    med(f(
                        "arrayMap",
                        vec![sql::lambda(["v"], f("abs", vec![v() - m])), values],
                    )),
                    Ty::Double,
                )
            }
            "std_dev" => {
                numeric(&t)?;
                agg(
                    over("stddevPopOrNull", "stddevPopArrayOrNull", &t),
                    Ty::Double,
                )
            }
            "values" => {
                if matches!(t.ty, Ty::Unsupported | Ty::Source) {
                    return Err(type_error(
                        e,
                        0,
                        &args[0],
                        &t,
                        "any type except counter types",
                    ));
                }
                TExpr {
                    sql: f(
                        "arraySort",
                        vec![over("groupUniqArray", "groupUniqArrayArray", &t)],
                    ),
                    ty: t.ty,
                    multi: true,
                    agg: true,
                }
            }
            "top" => {
                let n = match &args[1].kind {
                    ExprKind::Lit(Lit::Int(n)) if *n > 0 => *n,
                    _ => {
                        return Err(verification_error(
                            args[1].pos,
                            format!(
                                "Limit must be greater than 0 in [{}], found [{}]",
                                e.text, args[1].text
                            ),
                        ));
                    }
                };
                let desc = match args.get(2) {
                    None => false,
                    Some(a) => match const_str(a, e, 2)?.to_ascii_lowercase().as_str() {
                        "asc" => false,
                        "desc" => true,
                        other => {
                            return Err(verification_error(
                                a.pos,
                                format!(
                                    "Invalid order value in [{}], expected [ASC, DESC] but got [{other}]",
                                    e.text
                                ),
                            ));
                        }
                    },
                };
                let all = over("groupArray", "groupArrayArray", &t);
                let sorted = f(
                    if desc {
                        "arrayReverseSort"
                    } else {
                        "arraySort"
                    },
                    vec![all],
                );
                TExpr {
                    sql: f("arraySlice", vec![sorted, sql::lit(1), sql::lit(n)]),
                    ty: t.ty,
                    multi: true,
                    agg: true,
                }
            }
            _ => unreachable!(),
        })
    }

    fn scalar(
        &mut self,
        e: &AExpr,
        name: &str,
        args: &[AExpr],
        ts: &[TExpr],
    ) -> Result<TExpr, EsError> {
        let n = |k: usize| single(&ts[k]);
        let out = |sql: Expr, ty: Ty| TExpr::new(sql, ty);
        let want = |k: usize, ok: fn(Ty) -> bool, what: &str| -> Result<(), EsError> {
            if ok(ts[k].ty) || ts[k].ty == Ty::Null {
                Ok(())
            } else {
                Err(type_error(e, k, &args[k], &ts[k], what))
            }
        };
        let numeric = |k: usize| want(k, Ty::is_numeric, "numeric");
        let string = |k: usize| want(k, Ty::is_string, "string");
        let date = |k: usize| want(k, Ty::is_date, "datetime or date_nanos");
        let as_double = |k: usize| f("toFloat64", vec![single(&ts[k])]);
        match name {
            // ---- math
            "abs" | "ceil" | "floor" => {
                arity(e, name, args, 1, 1)?;
                numeric(0)?;
                let g = match name {
                    "abs" => "abs",
                    "ceil" => "ceil",
                    _ => "floor",
                };
                let sql = if ts[0].ty.is_integral() && g != "abs" {
                    n(0)
                } else {
                    f(g, vec![n(0)])
                };
                Ok(out(sql, ts[0].ty))
            }
            "round" => {
                arity(e, name, args, 1, 2)?;
                numeric(0)?;
                let digits = match args.get(1) {
                    None => 0,
                    Some(a) => match &a.kind {
                        ExprKind::Lit(Lit::Int(d)) => *d,
                        _ => {
                            numeric(1)?;
                            return Ok(out(f("round", vec![n(0), n(1)]), ts[0].ty));
                        }
                    },
                };
                if ts[0].ty == Ty::Double {
                    // Half away from zero, like Elasticsearch (ClickHouse rounds floats to even).
                    let p = 10f64.powi(digits.clamp(-300, 300) as i32);
                    let x = n(0);
                    let r = f("sign", vec![x.clone()])
                        * f(
                            "floor",
                            vec![f("abs", vec![x]) * sql::lit(p) + sql::lit(0.5)],
                        )
                        / sql::lit(p);
                    Ok(out(r, Ty::Double))
                } else if digits >= 0 {
                    Ok(out(n(0), ts[0].ty))
                } else {
                    Ok(out(f("round", vec![n(0), sql::lit(digits)]), ts[0].ty))
                }
            }
            "sqrt" | "log10" | "cbrt" | "exp" | "sin" | "cos" | "tan" | "asin" | "acos"
            | "atan" | "sinh" | "cosh" | "tanh" | "signum" | "to_degrees" | "to_radians" => {
                arity(e, name, args, 1, 1)?;
                numeric(0)?;
                let x = as_double(0);
                let sql = match name {
                    "sqrt" => null_if(x.clone().lt(sql::lit(0)), f("sqrt", vec![x])),
                    "log10" => null_if(x.clone().lte(sql::lit(0)), f("log10", vec![x])),
                    "asin" | "acos" => null_if(
                        f("abs", vec![x.clone()]).gt(sql::lit(1)),
                        f(if name == "asin" { "asin" } else { "acos" }, vec![x]),
                    ),
                    "cbrt" => f("cbrt", vec![x]),
                    "exp" => f("exp", vec![x]),
                    "sin" => f("sin", vec![x]),
                    "cos" => f("cos", vec![x]),
                    "tan" => f("tan", vec![x]),
                    "atan" => f("atan", vec![x]),
                    "sinh" => f("sinh", vec![x]),
                    "cosh" => f("cosh", vec![x]),
                    "tanh" => f("tanh", vec![x]),
                    "signum" => f("toFloat64", vec![f("sign", vec![x])]),
                    "to_degrees" => f("degrees", vec![x]),
                    _ => f("radians", vec![x]),
                };
                Ok(out(sql, Ty::Double))
            }
            "log" => {
                arity(e, name, args, 1, 2)?;
                if args.len() == 1 {
                    numeric(0)?;
                    let x = as_double(0);
                    return Ok(out(
                        null_if(x.clone().lte(sql::lit(0)), f("log", vec![x])),
                        Ty::Double,
                    ));
                }
                numeric(0)?;
                numeric(1)?;
                let (b, x) = (as_double(0), as_double(1));
                let bad = x
                    .clone()
                    .lte(sql::lit(0))
                    .or(b.clone().lte(sql::lit(0)))
                    .or(b.clone().eq(sql::lit(1)));
                Ok(out(
                    null_if(bad, f("log", vec![x]) / f("log", vec![b])),
                    Ty::Double,
                ))
            }
            "pow" | "atan2" | "hypot" => {
                arity(e, name, args, 2, 2)?;
                numeric(0)?;
                numeric(1)?;
                let g = match name {
                    "pow" => "pow",
                    "atan2" => "atan2",
                    _ => "hypot",
                };
                Ok(out(f(g, vec![as_double(0), as_double(1)]), Ty::Double))
            }
            "pi" | "e" | "tau" => {
                arity(e, name, args, 0, 0)?;
                let x = match name {
                    "pi" => std::f64::consts::PI,
                    "e" => std::f64::consts::E,
                    _ => std::f64::consts::TAU,
                };
                Ok(out(sql::lit(x), Ty::Double))
            }
            // ---- strings
            "length" | "bit_length" | "byte_length" => {
                arity(e, name, args, 1, 1)?;
                string(0)?;
                let sql = match name {
                    "length" => f("toInt32", vec![f("lengthUTF8", vec![n(0)])]),
                    "byte_length" => f("toInt32", vec![f("length", vec![n(0)])]),
                    _ => f("toInt32", vec![f("length", vec![n(0)]) * sql::lit(8)]),
                };
                Ok(out(sql, Ty::Integer))
            }
            "to_upper" | "to_lower" | "trim" | "ltrim" | "rtrim" | "reverse" => {
                arity(e, name, args, 1, 1)?;
                string(0)?;
                let g = match name {
                    "to_upper" => "upperUTF8",
                    "to_lower" => "lowerUTF8",
                    "trim" => "trimBoth",
                    "ltrim" => "trimLeft",
                    "rtrim" => "trimRight",
                    _ => "reverseUTF8",
                };
                let ty = if ts[0].ty == Ty::Null {
                    Ty::Keyword
                } else {
                    ts[0].ty
                };
                Ok(TExpr {
                    sql: per_value(&ts[0], |x| f(g, vec![x])),
                    ty,
                    multi: ts[0].multi,
                    agg: false,
                })
            }
            "substring" => {
                arity(e, name, args, 2, 3)?;
                string(0)?;
                numeric(1)?;
                let mut a = vec![n(0), f("toInt64", vec![n(1)])];
                if args.len() == 3 {
                    numeric(2)?;
                    a.push(f("toUInt64", vec![f("greatest", vec![n(2), sql::lit(0)])]));
                }
                Ok(out(f("substringUTF8", a), Ty::Keyword))
            }
            "left" | "right" => {
                arity(e, name, args, 2, 2)?;
                string(0)?;
                numeric(1)?;
                let g = if name == "left" {
                    "leftUTF8"
                } else {
                    "rightUTF8"
                };
                Ok(out(f(g, vec![n(0), f("toInt64", vec![n(1)])]), Ty::Keyword))
            }
            "concat" => {
                arity(e, name, args, 2, usize::MAX)?;
                for k in 0..args.len() {
                    string(k)?;
                }
                Ok(out(
                    f("concat", (0..args.len()).map(n).collect()),
                    Ty::Keyword,
                ))
            }
            "replace" => {
                arity(e, name, args, 3, 3)?;
                string(0)?;
                string(1)?;
                string(2)?;
                // Java's `$1` group references are ClickHouse's `\1`.
                let repl = match &args[2].kind {
                    ExprKind::Lit(Lit::Str(s)) => {
                        let re = regex::Regex::new(r"\$(\d)").expect("static regex");
                        sql::lit(
                            re.replace_all(&s.replace('\\', "\\\\"), "\\$1")
                                .into_owned(),
                        )
                    }
                    _ => n(2),
                };
                Ok(out(
                    f("replaceRegexpAll", vec![n(0), n(1), repl]),
                    Ty::Keyword,
                ))
            }
            "starts_with" | "ends_with" => {
                arity(e, name, args, 2, 2)?;
                string(0)?;
                string(1)?;
                let g = if name == "starts_with" {
                    "startsWith"
                } else {
                    "endsWith"
                };
                Ok(out(f(g, vec![n(0), n(1)]), Ty::Boolean))
            }
            "locate" => {
                arity(e, name, args, 2, 3)?;
                string(0)?;
                string(1)?;
                let mut a = vec![n(0), n(1)];
                if args.len() == 3 {
                    numeric(2)?;
                    a.push(f("toUInt64", vec![f("greatest", vec![n(2), sql::lit(1)])]));
                }
                Ok(out(f("toInt32", vec![f("positionUTF8", a)]), Ty::Integer))
            }
            "split" => {
                arity(e, name, args, 2, 2)?;
                string(0)?;
                string(1)?;
                Ok(TExpr {
                    sql: f("splitByString", vec![n(1), f("assumeNotNull", vec![n(0)])]),
                    ty: Ty::Keyword,
                    multi: true,
                    agg: false,
                }
                .nullable_array(n(0)))
            }
            "repeat" => {
                arity(e, name, args, 2, 2)?;
                string(0)?;
                numeric(1)?;
                Ok(out(
                    f("repeat", vec![n(0), f("toUInt32", vec![n(1)])]),
                    Ty::Keyword,
                ))
            }
            "space" => {
                arity(e, name, args, 1, 1)?;
                numeric(0)?;
                Ok(out(
                    f("repeat", vec![sql::lit(" "), f("toUInt32", vec![n(0)])]),
                    Ty::Keyword,
                ))
            }
            "md5" | "sha1" | "sha256" => {
                arity(e, name, args, 1, 1)?;
                string(0)?;
                let g = match name {
                    "md5" => "MD5",
                    "sha1" => "SHA1",
                    _ => "SHA256",
                };
                Ok(out(
                    f("lower", vec![f("hex", vec![f(g, vec![n(0)])])]),
                    Ty::Keyword,
                ))
            }
            // ---- conditional
            "case" => {
                arity(e, name, args, 1, usize::MAX)?;
                let mut whens = Vec::new();
                let mut ty = Ty::Null;
                let mut k = 0;
                while k + 1 < args.len() {
                    want(k, |t| t == Ty::Boolean, "boolean")?;
                    ty = self.result_type(e, ty, k + 1, args, ts)?;
                    whens.push((n(k), n(k + 1)));
                    k += 2;
                }
                let else_ = if k < args.len() {
                    ty = self.result_type(e, ty, k, args, ts)?;
                    Some(n(k))
                } else {
                    None
                };
                let cast = |x: Expr| {
                    if ty == Ty::Double {
                        f("toFloat64", vec![x])
                    } else {
                        x
                    }
                };
                Ok(out(
                    sql::case(
                        whens.into_iter().map(|(c, v)| (c, cast(v))).collect(),
                        else_.map(cast),
                    ),
                    ty,
                ))
            }
            "coalesce" | "greatest" | "least" => {
                arity(e, name, args, 1, usize::MAX)?;
                let mut ty = Ty::Null;
                for k in 0..args.len() {
                    ty = self.result_type(e, ty, k, args, ts)?;
                }
                let vals: Vec<Expr> = (0..args.len())
                    .map(|k| {
                        if ty == Ty::Double {
                            f("toFloat64", vec![n(k)])
                        } else {
                            n(k)
                        }
                    })
                    .collect();
                if args.len() == 1 {
                    return Ok(out(vals[0].clone(), ty));
                }
                let sql = match name {
                    "coalesce" => f("coalesce", vals),
                    g => {
                        // A null argument makes the answer null.
                        let any_null = sql::or_all(vals.iter().map(|x| x.clone().is_null()));
                        null_if(
                            any_null,
                            f(if g == "greatest" { "greatest" } else { "least" }, vals),
                        )
                    }
                };
                Ok(out(sql, ty))
            }
            // ---- dates
            "now" => {
                arity(e, name, args, 0, 0)?;
                Ok(out(date_lit(self.now_millis), Ty::Date))
            }
            "date_trunc" => {
                arity(e, name, args, 2, 2)?;
                let ExprKind::Span(k, unit) = &args[0].kind else {
                    return Err(type_error(
                        e,
                        0,
                        &args[0],
                        &ts[0],
                        "dateperiod or timeduration",
                    ));
                };
                let t = self.coerce_to(&args[1], ts[1].clone(), Ty::Date)?;
                date(1).or_else(|err| if t.ty.is_date() { Ok(()) } else { Err(err) })?;
                if *k <= 0 {
                    return Err(verification_error(
                        args[0].pos,
                        format!(
                            "Zero or negative time interval is not supported in [{}]",
                            e.text
                        ),
                    ));
                }
                let ty = if t.ty == Ty::DateNanos {
                    Ty::DateNanos
                } else {
                    Ty::Date
                };
                Ok(out(trunc_date(single(&t), ty, *k, unit, &self.tz), ty))
            }
            "bucket" | "bin" => self.bucket(e, args, ts),
            "date_extract" => {
                arity(e, name, args, 2, 2)?;
                let part = const_str(&args[0], e, 0)?;
                let g = extract_part(&part).ok_or_else(|| {
                    verification_error(
                        args[0].pos,
                        format!("invalid date field for [{}]: {part}", e.text),
                    )
                })?;
                date(1)?;
                Ok(out(
                    f("toInt64", vec![f(g, vec![in_time_zone(n(1), &self.tz)])]),
                    Ty::Long,
                ))
            }
            "date_format" => {
                arity(e, name, args, 1, 2)?;
                let (fmt, d) = if args.len() == 2 {
                    (const_str(&args[0], e, 0)?, 1)
                } else {
                    ("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'".to_string(), 0)
                };
                date(d)?;
                Ok(out(
                    f(
                        "formatDateTimeInJodaSyntax",
                        vec![n(d), sql::lit(fmt), sql::lit(self.tz.as_str())],
                    ),
                    Ty::Keyword,
                ))
            }
            "date_parse" => {
                arity(e, name, args, 1, 2)?;
                let s = args.len() - 1;
                string(s)?;
                let sql = if args.len() == 2 {
                    let fmt = const_str(&args[0], e, 0)?;
                    f(
                        "toDateTime64",
                        vec![
                            f(
                                "parseDateTimeInJodaSyntaxOrNull",
                                vec![n(s), sql::lit(fmt), sql::lit(self.tz.as_str())],
                            ),
                            sql::lit(3),
                            sql::lit("UTC"),
                        ],
                    )
                } else {
                    f(
                        "parseDateTime64BestEffortOrNull",
                        vec![n(s), sql::lit(3), sql::lit("UTC")],
                    )
                };
                Ok(out(sql, Ty::Date))
            }
            "date_diff" => {
                arity(e, name, args, 3, 3)?;
                let unit = const_str(&args[0], e, 0)?;
                let u = diff_unit(&unit).ok_or_else(|| {
                    verification_error(
                        args[0].pos,
                        format!("A value of [YEAR, QUARTER, MONTH, DAYOFYEAR, DAY, WEEK, WEEKDAY, HOUR, MINUTE, SECOND, MILLISECOND, MICROSECOND, NANOSECOND] or their aliases is required; received [{unit}]"),
                    )
                })?;
                let a = self.coerce_to(&args[1], ts[1].clone(), Ty::Date)?;
                let b = self.coerce_to(&args[2], ts[2].clone(), Ty::Date)?;
                for (k, t) in [(1, &a), (2, &b)] {
                    if !t.ty.is_date() && t.ty != Ty::Null {
                        return Err(type_error(e, k, &args[k], t, "datetime or date_nanos"));
                    }
                }
                Ok(out(
                    f(
                        "toInt32",
                        vec![f("age", vec![sql::lit(u), single(&a), single(&b)])],
                    ),
                    Ty::Integer,
                ))
            }
            // ---- conversions
            "to_string" | "to_str" => {
                arity(e, name, args, 1, 1)?;
                let t = &ts[0];
                let sql = per_value(t, |x| match t.ty {
                    Ty::Date => f(
                        "formatDateTimeInJodaSyntax",
                        vec![x, sql::lit("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"), sql::lit("UTC")],
                    ),
                    Ty::Ip => f(
                        "replaceRegexpOne",
                        vec![
                            f("toString", vec![x]),
                            sql::lit("^::ffff:([0-9.]+)$"),
                            sql::lit("\\1"),
                        ],
                    ),
                    Ty::Keyword | Ty::Text | Ty::Version => x,
                    _ => f("toString", vec![x]),
                });
                Ok(TExpr {
                    sql,
                    ty: Ty::Keyword,
                    multi: t.multi,
                    agg: false,
                })
            }
            "to_long" | "to_integer" | "to_int" | "to_unsigned_long" | "to_ul" | "to_ulong" => {
                arity(e, name, args, 1, 1)?;
                let (g, g_or_null, ty) = match name {
                    "to_long" => ("toInt64", "toInt64OrNull", Ty::Long),
                    "to_integer" | "to_int" => ("toInt32", "toInt32OrNull", Ty::Integer),
                    _ => ("toUInt64", "toUInt64OrNull", Ty::UnsignedLong),
                };
                let t = &ts[0];
                let sql = per_value(t, |x| match t.ty {
                    Ty::Keyword | Ty::Text => f(
                        "coalesce",
                        vec![
                            f(g_or_null, vec![x.clone()]),
                            f(
                                g_or_null,
                                vec![
                                    f(
                                        "splitByChar",
                                        vec![sql::lit("."), f("assumeNotNull", vec![x])],
                                    )
                                    .index1(),
                                ],
                            ),
                        ],
                    ),
                    Ty::Date | Ty::DateNanos => f(g, vec![f("toUnixTimestamp64Milli", vec![x])]),
                    Ty::Double => null_if(
                        f("isFinite", vec![x.clone()]).eq(sql::lit(0)),
                        f(g, vec![x]),
                    ),
                    Ty::Boolean | Ty::Long | Ty::Integer | Ty::UnsignedLong | Ty::Null => {
                        f(g, vec![x])
                    }
                    _ => sql::null(),
                });
                self.conversion_input(
                    e,
                    args,
                    t,
                    &[Ty::Ip, Ty::Version, Ty::Source, Ty::Unsupported],
                )?;
                Ok(TExpr {
                    sql,
                    ty,
                    multi: t.multi,
                    agg: false,
                })
            }
            "to_double" | "to_dbl" => {
                arity(e, name, args, 1, 1)?;
                let t = &ts[0];
                self.conversion_input(
                    e,
                    args,
                    t,
                    &[Ty::Ip, Ty::Version, Ty::Source, Ty::Unsupported],
                )?;
                let sql = per_value(t, |x| match t.ty {
                    Ty::Keyword | Ty::Text => f("toFloat64OrNull", vec![x]),
                    Ty::Date | Ty::DateNanos => {
                        f("toFloat64", vec![f("toUnixTimestamp64Milli", vec![x])])
                    }
                    _ => f("toFloat64", vec![x]),
                });
                Ok(TExpr {
                    sql,
                    ty: Ty::Double,
                    multi: t.multi,
                    agg: false,
                })
            }
            "to_boolean" | "to_bool" => {
                arity(e, name, args, 1, 1)?;
                let t = &ts[0];
                self.conversion_input(
                    e,
                    args,
                    t,
                    &[
                        Ty::Ip,
                        Ty::Version,
                        Ty::Date,
                        Ty::DateNanos,
                        Ty::Source,
                        Ty::Unsupported,
                    ],
                )?;
                let sql = per_value(t, |x| match t.ty {
                    Ty::Keyword | Ty::Text => f("lower", vec![x]).eq(sql::lit("true")),
                    Ty::Boolean => x,
                    _ => x.ne(sql::lit(0)),
                });
                Ok(TExpr {
                    sql,
                    ty: Ty::Boolean,
                    multi: t.multi,
                    agg: false,
                })
            }
            "to_datetime" | "to_dt" => {
                arity(e, name, args, 1, 1)?;
                let t = &ts[0];
                self.conversion_input(
                    e,
                    args,
                    t,
                    &[
                        Ty::Ip,
                        Ty::Version,
                        Ty::Boolean,
                        Ty::Source,
                        Ty::Unsupported,
                    ],
                )?;
                let sql = per_value(t, |x| match t.ty {
                    Ty::Keyword | Ty::Text => f(
                        "parseDateTime64BestEffortOrNull",
                        vec![x, sql::lit(3), sql::lit("UTC")],
                    ),
                    Ty::Date => x,
                    Ty::DateNanos => f("toDateTime64", vec![x, sql::lit(3), sql::lit("UTC")]),
                    _ => f(
                        "fromUnixTimestamp64Milli",
                        vec![f("toInt64", vec![x]), sql::lit("UTC")],
                    ),
                });
                Ok(TExpr {
                    sql,
                    ty: Ty::Date,
                    multi: t.multi,
                    agg: false,
                })
            }
            "to_ip" => {
                arity(e, name, args, 1, 1)?;
                let t = &ts[0];
                if !(t.ty.is_string() || t.ty == Ty::Ip || t.ty == Ty::Null) {
                    return Err(type_error(e, 0, &args[0], t, "ip or string"));
                }
                let sql = per_value(t, |x| match t.ty {
                    Ty::Ip => x,
                    _ => f("toIPv6OrNull", vec![x]),
                });
                Ok(TExpr {
                    sql,
                    ty: Ty::Ip,
                    multi: t.multi,
                    agg: false,
                })
            }
            "to_version" | "to_ver" => {
                arity(e, name, args, 1, 1)?;
                string(0)?;
                Ok(TExpr {
                    ty: Ty::Version,
                    agg: false,
                    ..ts[0].clone()
                })
            }
            // ---- IP
            "cidr_match" => {
                arity(e, name, args, 2, usize::MAX)?;
                want(0, |t| t == Ty::Ip, "ip")?;
                let ip = n(0);
                let mut ors = Vec::new();
                for a in &args[1..] {
                    let block = const_str(a, e, 1)?;
                    let (lo, hi) = cidr_bounds(&block).ok_or_else(|| {
                        verification_error(a.pos, format!("'{block}' is not a valid CIDR"))
                    })?;
                    ors.push(
                        ip.clone()
                            .gte(f("toIPv6", vec![sql::lit(lo.to_string())]))
                            .and(ip.clone().lte(f("toIPv6", vec![sql::lit(hi.to_string())]))),
                    );
                }
                Ok(out(sql::or_all(ors), Ty::Boolean))
            }
            // ---- multi-value
            "mv_count" | "mv_first" | "mv_last" | "mv_min" | "mv_max" | "mv_sum" | "mv_avg"
            | "mv_median" | "mv_dedupe" | "mv_sort" | "mv_concat" | "mv_slice" | "mv_append" => {
                self.multi_value(e, name, args, ts)
            }
            "match" | "qstr" => Err(EsError::unsupported(format!(
                "ES|QL [{}] other than as a condition of the WHERE right after FROM",
                name.to_ascii_uppercase()
            ))),
            "kql" | "match_phrase" | "multi_match" | "score" => Err(EsError::unsupported(format!(
                "ES|QL full-text function [{}]",
                name.to_ascii_uppercase()
            ))),
            _ if name.starts_with("st_") => Err(EsError::unsupported(format!(
                "ES|QL spatial function [{}]",
                name.to_ascii_uppercase()
            ))),
            _ => Err(verification_error(
                e.pos,
                format!("Unknown function [{}]", e_name(e)),
            )),
        }
    }

    fn conversion_input(
        &self,
        e: &AExpr,
        args: &[AExpr],
        t: &TExpr,
        bad: &[Ty],
    ) -> Result<(), EsError> {
        if bad.contains(&t.ty) {
            Err(type_error(
                e,
                0,
                &args[0],
                t,
                "boolean, date, keyword, text, double, long, unsigned_long or integer",
            ))
        } else {
            Ok(())
        }
    }

    /// The common type of CASE/COALESCE/GREATEST values so far and argument `k`.
    fn result_type(
        &self,
        e: &AExpr,
        so_far: Ty,
        k: usize,
        args: &[AExpr],
        ts: &[TExpr],
    ) -> Result<Ty, EsError> {
        let t = ts[k].ty;
        Ok(match (so_far, t) {
            (Ty::Null, t) => t,
            (s, Ty::Null) => s,
            (s, t) if s == t => s,
            (s, t) if s.is_numeric() && t.is_numeric() => Ty::widen(s, t),
            (s, t) if s.is_string() && t.is_string() => Ty::Keyword,
            (s, _) => {
                return Err(verification_error(
                    args[k].pos,
                    format!(
                        "{} argument of [{}] must be [{}], found value [{}] type [{}]",
                        ["first", "second", "third", "fourth", "fifth"]
                            .get(k)
                            .unwrap_or(&"an"),
                        e.text,
                        esql_type_name(s),
                        args[k].text,
                        esql_type_name(t)
                    ),
                ));
            }
        })
    }

    fn bucket(&mut self, e: &AExpr, args: &[AExpr], ts: &[TExpr]) -> Result<TExpr, EsError> {
        arity(e, "bucket", args, 2, 4)?;
        if args.len() == 3 {
            return Err(verification_error(
                e.pos,
                format!(
                    "error building [bucket]: function expects exactly two or four arguments, found [{}]",
                    e.text
                ),
            ));
        }
        let t = &ts[0];
        if t.ty.is_date() {
            let d = single(t);
            if let ExprKind::Span(k, unit) = &args[1].kind {
                if args.len() != 2 {
                    return Err(verification_error(
                        e.pos,
                        format!(
                            "function expects exactly two arguments when the first one is of type [DATETIME] and the second of type [{}]",
                            if unit == "day"
                                || unit == "week"
                                || unit == "month"
                                || unit == "quarter"
                                || unit == "year"
                            {
                                "DATE_PERIOD"
                            } else {
                                "TIME_DURATION"
                            }
                        ),
                    ));
                }
                return Ok(TExpr::new(trunc_date(d, t.ty, *k, unit, &self.tz), t.ty));
            }
            let ExprKind::Lit(Lit::Int(n)) = &args[1].kind else {
                return Err(type_error(
                    e,
                    1,
                    &args[1],
                    &ts[1],
                    "integral, date_period or time_duration",
                ));
            };
            if args.len() != 4 {
                return Err(verification_error(
                    e.pos,
                    format!(
                        "function expects exactly four arguments when the first one is of type [DATETIME] and the second of type [INTEGER], found [{}]",
                        e.text
                    ),
                ));
            }
            let bound = |k: usize| -> Result<i64, EsError> {
                match &args[k].kind {
                    ExprKind::Lit(Lit::Str(s)) => parse_date_literal(s).ok_or_else(|| {
                        verification_error(
                            args[k].pos,
                            format!("Cannot convert string [{s}] to [DATETIME]"),
                        )
                    }),
                    ExprKind::Call(name, a) if name == "now" && a.is_empty() => Ok(self.now_millis),
                    ExprKind::Bin(op, l, r) if matches!(l.kind, ExprKind::Call(ref n, _) if n == "now") =>
                    {
                        // NOW() ± span
                        if let ExprKind::Span(k, unit) = &r.kind {
                            let ms = span_millis(*k, unit).ok_or_else(|| {
                                verification_error(
                                    r.pos,
                                    "calendar spans are not supported in BUCKET bounds",
                                )
                            })?;
                            Ok(match op {
                                super::parser::BinOp::Sub => self.now_millis - ms,
                                _ => self.now_millis + ms,
                            })
                        } else {
                            Err(verification_error(
                                args[k].pos,
                                format!(
                                    "{} argument of [{}] must be a constant",
                                    ["first", "second", "third", "fourth"][k],
                                    e.text
                                ),
                            ))
                        }
                    }
                    _ => Err(verification_error(
                        args[k].pos,
                        format!(
                            "{} argument of [{}] must be [datetime or string], found value [{}]",
                            ["first", "second", "third", "fourth"][k],
                            e.text,
                            args[k].text
                        ),
                    )),
                }
            };
            let (from, to) = (bound(2)?, bound(3)?);
            let sql = match pick_rounding(*n, from, to) {
                Rounding::Fixed(ms) => {
                    let (k, unit) = if ms % 86_400_000 == 0 {
                        (ms / 86_400_000, "day")
                    } else if ms % 3_600_000 == 0 {
                        (ms / 3_600_000, "hour")
                    } else if ms % 60_000 == 0 {
                        (ms / 60_000, "minute")
                    } else if ms % 1000 == 0 {
                        (ms / 1000, "second")
                    } else {
                        (ms, "millisecond")
                    };
                    trunc_date(d, t.ty, k, unit, &self.tz)
                }
                Rounding::Week => trunc_date(d, t.ty, 1, "week", &self.tz),
                Rounding::Month => trunc_date(d, t.ty, 1, "month", &self.tz),
                Rounding::Year => trunc_date(d, t.ty, 1, "year", &self.tz),
            };
            return Ok(TExpr::new(sql, t.ty));
        }
        if !t.ty.is_numeric() && t.ty != Ty::Null {
            return Err(type_error(e, 0, &args[0], t, "datetime or numeric"));
        }
        let span = if args.len() == 4 {
            let (Some(b), Some(from), Some(to)) = (
                const_num(&args[1]),
                const_num(&args[2]),
                const_num(&args[3]),
            ) else {
                return Err(verification_error(
                    e.pos,
                    format!(
                        "arguments of [{}] after the first must be numeric constants",
                        e.text
                    ),
                ));
            };
            let precise = (to - from) / b;
            let next = 10f64.powf(precise.log10().ceil());
            if precise < next / 2.0 {
                next / 2.0
            } else {
                next
            }
        } else {
            const_num(&args[1]).ok_or_else(|| {
                verification_error(
                    args[1].pos,
                    format!("second argument of [{}] must be a numeric constant", e.text),
                )
            })?
        };
        if !(span.is_finite() && span > 0.0) {
            return Err(verification_error(
                args[1].pos,
                format!("invalid bucket size in [{}]", e.text),
            ));
        }
        let x = f("toFloat64", vec![single(t)]);
        Ok(TExpr::new(
            f("floor", vec![x / sql::lit(span)]) * sql::lit(span),
            Ty::Double,
        ))
    }

    fn multi_value(
        &mut self,
        e: &AExpr,
        name: &str,
        args: &[AExpr],
        ts: &[TExpr],
    ) -> Result<TExpr, EsError> {
        let (min, max) = match name {
            "mv_concat" | "mv_append" => (2, 2),
            "mv_sort" => (1, 2),
            "mv_slice" => (2, 3),
            _ => (1, 1),
        };
        arity(e, name, args, min, max)?;
        let t = &ts[0];
        let arr = as_array(t);
        let empty_null = |x: Expr| null_if(f("empty", vec![arr.clone()]), x);
        let numeric = || -> Result<(), EsError> {
            if t.ty.is_numeric() || t.ty == Ty::Null {
                Ok(())
            } else {
                Err(type_error(e, 0, &args[0], t, "numeric"))
            }
        };
        let one = |sql: Expr, ty: Ty| TExpr::new(sql, ty);
        let many = |sql: Expr| TExpr {
            sql,
            ty: t.ty,
            multi: true,
            agg: false,
        };
        Ok(match name {
            "mv_count" => one(
                empty_null(f("toInt32", vec![f("length", vec![arr.clone()])])),
                Ty::Integer,
            ),
            "mv_first" => one(
                empty_null(f("arrayElement", vec![arr.clone(), sql::lit(1)])),
                t.ty,
            ),
            "mv_last" => one(
                empty_null(f("arrayElement", vec![arr.clone(), sql::lit(-1)])),
                t.ty,
            ),
            "mv_min" => one(empty_null(f("arrayMin", vec![arr.clone()])), t.ty),
            "mv_max" => one(empty_null(f("arrayMax", vec![arr.clone()])), t.ty),
            "mv_sum" => {
                numeric()?;
                one(
                    empty_null(f("arraySum", vec![arr.clone()])),
                    if t.ty == Ty::Integer {
                        Ty::Integer
                    } else {
                        t.ty
                    },
                )
            }
            "mv_avg" => {
                numeric()?;
                one(empty_null(f("arrayAvg", vec![arr.clone()])), Ty::Double)
            }
            "mv_median" => {
                numeric()?;
                let m = f(
                    "arrayReduce",
                    vec![sql::lit("quantileExactInclusive(0.5)"), arr.clone()],
                );
                if t.ty.is_integral() {
                    one(empty_null(f("toInt64", vec![f("floor", vec![m])])), t.ty)
                } else {
                    one(empty_null(m), Ty::Double)
                }
            }
            "mv_dedupe" => many(f("arrayDistinct", vec![arr])),
            "mv_sort" => {
                let desc = match args.get(1) {
                    None => false,
                    Some(a) => match const_str(a, e, 1)?.to_ascii_uppercase().as_str() {
                        "ASC" => false,
                        "DESC" => true,
                        other => {
                            return Err(verification_error(
                                a.pos,
                                format!(
                                    "Invalid order value in [{}], expected one of [ASC, DESC] but got [{other}]",
                                    e.text
                                ),
                            ));
                        }
                    },
                };
                many(f(
                    if desc {
                        "arrayReverseSort"
                    } else {
                        "arraySort"
                    },
                    vec![arr],
                ))
            }
            "mv_slice" => {
                let start = f("toInt64", vec![single(&ts[1])]);
                let end = match ts.get(2) {
                    Some(t2) => f("toInt64", vec![single(t2)]),
                    None => start.clone(),
                };
                // 0-based inclusive [start, end]; negative positions count from the end.
                let len = f("toInt64", vec![f("length", vec![arr.clone()])]);
                let norm = |p: Expr| {
                    f(
                        "if",
                        vec![p.clone().lt(sql::lit(0)), p.clone() + len.clone(), p],
                    )
                };
                let (s, en) = (norm(start), norm(end));
                many(f(
                    "arraySlice",
                    vec![
                        arr,
                        s.clone() + sql::lit(1),
                        f("greatest", vec![en - s + sql::lit(1), sql::lit(0)]),
                    ],
                ))
            }
            "mv_concat" => {
                if !t.ty.is_string() && t.ty != Ty::Null {
                    return Err(type_error(e, 0, &args[0], t, "string"));
                }
                one(
                    empty_null(f("arrayStringConcat", vec![arr.clone(), single(&ts[1])])),
                    Ty::Keyword,
                )
            }
            "mv_append" => {
                let b = &ts[1];
                if b.ty != t.ty && t.ty != Ty::Null && b.ty != Ty::Null {
                    return Err(type_error(e, 1, &args[1], b, esql_type_name(t.ty)));
                }
                TExpr {
                    sql: f("arrayConcat", vec![arr, as_array(b)]),
                    ty: if t.ty == Ty::Null { b.ty } else { t.ty },
                    multi: true,
                    agg: false,
                }
            }
            _ => unreachable!(),
        })
    }
}

/// The function name as written in the query (for `Unknown function [...]`).
fn e_name(e: &AExpr) -> &str {
    e.text.split('(').next().unwrap_or(&e.text).trim()
}

fn span_millis(k: i64, unit: &str) -> Option<i64> {
    Some(
        k * match unit {
            "millisecond" => 1,
            "second" => 1000,
            "minute" => 60_000,
            "hour" => 3_600_000,
            "day" => 86_400_000,
            "week" => 7 * 86_400_000,
            _ => return None,
        },
    )
}

impl TExpr {
    /// A multi-valued result that is null (no values) when `input` is null.
    fn nullable_array(self, input: Expr) -> TExpr {
        TExpr {
            sql: f("if", vec![input.is_null(), f("array", vec![]), self.sql]),
            ..self
        }
    }
}

trait Index1 {
    fn index1(self) -> Expr;
}

impl Index1 for Expr {
    /// `x[1]`.
    fn index1(self) -> Expr {
        f("arrayElement", vec![self, sql::lit(1)])
    }
}

// ---------------------------------------------------------------------------------------------
// DISSECT and GROK

fn regex_escape(s: &str) -> String {
    regex::escape(s)
}

/// The keyword columns a DISSECT pattern extracts (ES dissect processor syntax: `%{key}`,
/// `%{+key}` appends, `%{?key}` and `%{}` skip, `%{key->}` lets the next delimiter repeat).
pub fn dissect(
    input: &Expr,
    pattern: &str,
    separator: &str,
    pos: Pos,
) -> Result<Vec<(String, TExpr)>, EsError> {
    let mut re = String::from("(?s)^");
    let mut keys: Vec<(Option<String>, bool)> = Vec::new(); // (name or skipped, append)
    let mut rest = pattern;
    let mut pad_next = false;
    // leading delimiter
    loop {
        let Some(start) = rest.find("%{") else {
            if pad_next && !rest.is_empty() {
                re.push_str(&format!("(?:{})+", regex_escape(rest)));
            } else {
                re.push_str(&regex_escape(rest));
            }
            break;
        };
        let delim = &rest[..start];
        if !delim.is_empty() {
            if pad_next {
                re.push_str(&format!("(?:{})+", regex_escape(delim)));
            } else {
                re.push_str(&regex_escape(delim));
            }
        } else if !keys.is_empty() {
            return Err(verification_error(
                pos,
                format!(
                    "Invalid pattern [{pattern}] for dissect: keys must be separated by a delimiter"
                ),
            ));
        }
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(verification_error(
                pos,
                format!("Invalid pattern [{pattern}] for dissect: unterminated key"),
            ));
        };
        let mut key = &after[..end];
        rest = &after[end + 1..];
        pad_next = false;
        if let Some(k) = key.strip_suffix("->") {
            key = k;
            pad_next = true;
        }
        let (name, append) = if let Some(k) = key.strip_prefix('+') {
            (Some(k.to_string()), true)
        } else if key.is_empty() || key.starts_with('?') {
            (None, false)
        } else if key.starts_with('*') || key.starts_with('&') {
            return Err(EsError::unsupported(
                "DISSECT reference keys (%{*key} / %{&key})",
            ));
        } else {
            (Some(key.to_string()), false)
        };
        let last = !rest.contains("%{") && rest.is_empty();
        re.push_str(if last { "(.*)" } else { "(.*?)" });
        keys.push((name, append));
    }
    re.push('$');
    if keys.iter().all(|(n, _)| n.is_none()) {
        return Err(verification_error(
            pos,
            format!("Invalid pattern [{pattern}] for dissect: no named keys"),
        ));
    }
    let groups = f(
        "extractGroups",
        vec![f("ifNull", vec![input.clone(), sql::lit("")]), sql::lit(re)],
    );
    let mut out: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, (name, append)) in keys.iter().enumerate() {
        let Some(name) = name else { continue };
        match out.iter_mut().find(|(n, _)| n == name) {
            Some((_, idx)) if *append => idx.push(i + 1),
            Some((_, idx)) => *idx = vec![i + 1],
            None => out.push((name.clone(), vec![i + 1])),
        }
    }
    Ok(out
        .into_iter()
        .map(|(name, idx)| {
            let parts: Vec<Expr> = idx
                .iter()
                .map(|i| f("arrayElement", vec![groups.clone(), sql::lit(*i as u64)]))
                .collect();
            let value = if parts.len() == 1 {
                parts.into_iter().next().unwrap()
            } else {
                f(
                    "arrayStringConcat",
                    vec![sql::array(parts), sql::lit(separator)],
                )
            };
            let e = null_if(
                input.clone().is_null().or(f("empty", vec![groups.clone()])),
                value,
            );
            (name, TExpr::new(e, Ty::Keyword))
        })
        .collect())
}

/// Grok's built-in patterns used most in logs (Logstash's `grok-patterns`), written for RE2:
/// no capture groups, no look-around.
const GROK_PATTERNS: &[(&str, &str)] = &[
    ("USERNAME", r"[a-zA-Z0-9._-]+"),
    ("USER", r"%{USERNAME}"),
    ("INT", r"(?:[+-]?(?:[0-9]+))"),
    ("BASE10NUM", r"(?:[+-]?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+))"),
    ("NUMBER", r"%{BASE10NUM}"),
    ("BASE16NUM", r"(?:0[xX])?[0-9A-Fa-f]+"),
    ("POSINT", r"\b(?:[1-9][0-9]*)\b"),
    ("NONNEGINT", r"\b(?:[0-9]+)\b"),
    ("WORD", r"\b\w+\b"),
    ("NOTSPACE", r"\S+"),
    ("SPACE", r"\s*"),
    ("DATA", r".*?"),
    ("GREEDYDATA", r".*"),
    (
        "QUOTEDSTRING",
        r#"(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`)"#,
    ),
    ("QS", r"%{QUOTEDSTRING}"),
    (
        "UUID",
        r"[A-Fa-f0-9]{8}-(?:[A-Fa-f0-9]{4}-){3}[A-Fa-f0-9]{12}",
    ),
    ("MAC", r"(?:[A-Fa-f0-9]{2}[:-]){5}[A-Fa-f0-9]{2}"),
    (
        "IPV4",
        r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])",
    ),
    (
        "IPV6",
        r"(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|%{IPV4})?",
    ),
    ("IP", r"(?:%{IPV6}|%{IPV4})"),
    (
        "HOSTNAME",
        r"\b(?:[0-9A-Za-z][0-9A-Za-z-]{0,62})(?:\.(?:[0-9A-Za-z][0-9A-Za-z-]{0,62}))*\.?\b",
    ),
    ("IPORHOST", r"(?:%{IP}|%{HOSTNAME})"),
    ("HOSTPORT", r"%{IPORHOST}:%{POSINT}"),
    ("EMAILLOCALPART", r"[a-zA-Z0-9._%+-]+"),
    ("EMAILADDRESS", r"%{EMAILLOCALPART}@%{HOSTNAME}"),
    ("URIPATH", r"(?:/[A-Za-z0-9$.+!*'(){},~:;=@#%&_\-]*)+"),
    ("URIPARAM", r"\?[A-Za-z0-9$.+!*'|(){},~@#%&/=:;_?\-\[\]<>]*"),
    ("URIPATHPARAM", r"%{URIPATH}(?:%{URIPARAM})?"),
    ("MONTHNUM", r"(?:0?[1-9]|1[0-2])"),
    ("MONTHDAY", r"(?:(?:0[1-9])|(?:[12][0-9])|(?:3[01])|[1-9])"),
    (
        "MONTH",
        r"\b(?:[Jj]an(?:uary|uar)?|[Ff]eb(?:ruary|ruar)?|[Mm](?:a|ä)?r(?:ch|z)?|[Aa]pr(?:il)?|[Mm]a(?:y|i)?|[Jj]un(?:e|i)?|[Jj]ul(?:y|i)?|[Aa]ug(?:ust)?|[Ss]ep(?:tember)?|[Oo](?:c|k)?t(?:ober)?|[Nn]ov(?:ember)?|[Dd]e(?:c|z)(?:ember)?)\b",
    ),
    (
        "DAY",
        r"(?:Mon(?:day)?|Tue(?:sday)?|Wed(?:nesday)?|Thu(?:rsday)?|Fri(?:day)?|Sat(?:urday)?|Sun(?:day)?)",
    ),
    ("YEAR", r"(?:\d\d){1,2}"),
    ("HOUR", r"(?:2[0123]|[01]?[0-9])"),
    ("MINUTE", r"(?:[0-5][0-9])"),
    ("SECOND", r"(?:(?:[0-5]?[0-9]|60)(?:[:.,][0-9]+)?)"),
    ("TIME", r"%{HOUR}:%{MINUTE}(?::%{SECOND})?"),
    ("ISO8601_TIMEZONE", r"(?:Z|[+-]%{HOUR}(?::?%{MINUTE}))"),
    (
        "TIMESTAMP_ISO8601",
        r"%{YEAR}-%{MONTHNUM}-%{MONTHDAY}[T ]%{HOUR}:?%{MINUTE}(?::?%{SECOND})?%{ISO8601_TIMEZONE}?",
    ),
    ("HTTPDATE", r"%{MONTHDAY}/%{MONTH}/%{YEAR}:%{TIME} %{INT}"),
    (
        "LOGLEVEL",
        r"(?:[Aa]lert|ALERT|[Tt]race|TRACE|[Dd]ebug|DEBUG|[Nn]otice|NOTICE|[Ii]nfo?(?:rmation)?|INFO?(?:RMATION)?|[Ww]arn?(?:ing)?|WARN?(?:ING)?|[Ee]rr?(?:or)?|ERR?(?:OR)?|[Cc]rit?(?:ical)?|CRIT?(?:ICAL)?|[Ff]atal|FATAL|[Ss]evere|SEVERE|EMERG(?:ENCY)?|[Ee]merg(?:ency)?)",
    ),
];

/// Expands `%{NAME}` / `%{NAME:field}` / `%{NAME:field:type}`; named fields become capture
/// groups (in order), library references non-capturing groups.
fn grok_expand(
    pattern: &str,
    depth: usize,
    fields: &mut Vec<(String, Ty)>,
    top: bool,
    pos: Pos,
) -> Result<String, EsError> {
    if depth > 16 {
        return Err(verification_error(pos, "grok pattern nests too deeply"));
    }
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(start) = rest.find("%{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| {
            verification_error(
                pos,
                format!("Invalid GROK pattern [{pattern}]: unterminated %{{"),
            )
        })?;
        let spec = &after[..end];
        rest = &after[end + 1..];
        let mut parts = spec.splitn(3, ':');
        let name = parts.next().unwrap_or("");
        let field = parts.next();
        let ty = match parts.next() {
            None => Ty::Keyword,
            Some("int") => Ty::Integer,
            Some("long") => Ty::Long,
            Some("float") | Some("double") => Ty::Double,
            Some("boolean") => Ty::Boolean,
            Some(other) => {
                return Err(verification_error(
                    pos,
                    format!("Invalid GROK pattern [{pattern}]: unsupported type [{other}]"),
                ));
            }
        };
        let Some((_, body)) = GROK_PATTERNS.iter().find(|(n, _)| *n == name) else {
            return Err(verification_error(
                pos,
                format!(
                    "Invalid GROK pattern [{pattern}]: Unable to find pattern [{name}] in Grok's pattern dictionary"
                ),
            ));
        };
        let inner = grok_expand(body, depth + 1, fields, false, pos)?;
        match field {
            Some(fname) if top => {
                if let Some(existing) = fields.iter().find(|(n, _)| n == fname) {
                    if existing.1 != ty {
                        return Err(verification_error(
                            pos,
                            format!(
                                "Invalid GROK pattern [{pattern}]: the attribute [{fname}] is defined multiple times with different types"
                            ),
                        ));
                    }
                    return Err(EsError::unsupported("GROK patterns naming one field twice"));
                }
                fields.push((fname.to_string(), ty));
                out.push('(');
                out.push_str(&inner);
                out.push(')');
            }
            _ => {
                out.push_str("(?:");
                out.push_str(&inner);
                out.push(')');
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The columns a GROK pattern extracts (unanchored match, like Elasticsearch's grok).
pub fn grok(input: &Expr, pattern: &str, pos: Pos) -> Result<Vec<(String, TExpr)>, EsError> {
    let mut fields = Vec::new();
    let re = grok_expand(pattern, 0, &mut fields, true, pos)?;
    if regex::Regex::new(&re).is_err() {
        return Err(verification_error(
            pos,
            format!("Invalid GROK pattern [{pattern}]"),
        ));
    }
    let groups = f(
        "extractGroups",
        vec![f("ifNull", vec![input.clone(), sql::lit("")]), sql::lit(re)],
    );
    Ok(fields
        .into_iter()
        .enumerate()
        .map(|(i, (name, ty))| {
            let g = f("arrayElement", vec![groups.clone(), sql::lit(i as u64 + 1)]);
            let typed = match ty {
                Ty::Integer => f("toInt32OrNull", vec![g]),
                Ty::Long => f("toInt64OrNull", vec![g]),
                Ty::Double => f("toFloat64OrNull", vec![g]),
                Ty::Boolean => f("lower", vec![g]).eq(sql::lit("true")),
                _ => f("nullIf", vec![g, sql::lit("")]),
            };
            let e = null_if(
                input.clone().is_null().or(f("empty", vec![groups.clone()])),
                typed,
            );
            (name, TExpr::new(e, ty))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_picker_follows_elasticsearch() {
        let day = 86_400_000;
        // A year in at most 20 buckets: months (docs: BUCKET "docsBucketMonth").
        let y85 = parse_date_literal("1985-01-01T00:00:00Z").unwrap();
        let y86 = parse_date_literal("1986-01-01T00:00:00Z").unwrap();
        assert!(matches!(pick_rounding(20, y85, y86), Rounding::Month));
        // 100 buckets over a year: weeks ("docsBucketWeeklyHistogram").
        assert!(matches!(pick_rounding(100, y85, y86), Rounding::Week));
        // A day in 24 buckets: hours.
        assert!(matches!(
            pick_rounding(24, 0, day),
            Rounding::Fixed(3_600_000)
        ));
        assert!(matches!(
            pick_rounding(1, 0, 10 * 365 * day),
            Rounding::Year
        ));
    }

    #[test]
    fn cidr_blocks() {
        let (lo, hi) = cidr_bounds("10.0.0.0/8").unwrap();
        assert_eq!(lo.to_string(), "::ffff:10.0.0.0");
        assert_eq!(hi.to_string(), "::ffff:10.255.255.255");
        let (lo, hi) = cidr_bounds("2001:db8::/32").unwrap();
        assert_eq!(lo.to_string(), "2001:db8::");
        assert_eq!(hi.to_string(), "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
        assert!(cidr_bounds("10.0.0.0/33").is_none());
        let (lo, hi) = cidr_bounds("0.0.0.0/0").unwrap();
        assert_eq!(
            (lo.to_string(), hi.to_string()),
            ("::ffff:0.0.0.0".into(), "::ffff:255.255.255.255".into())
        );
    }

    #[test]
    fn date_literals() {
        assert_eq!(parse_date_literal("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_date_literal("1970-01-02"), Some(86_400_000));
        assert_eq!(
            parse_date_literal("1970-01-01T00:00:00.5+01:00"),
            Some(-3_599_500)
        );
        assert_eq!(parse_date_literal("nope"), None);
    }

    #[test]
    fn grok_and_dissect_regexes() {
        let mut fields = Vec::new();
        let re = grok_expand(
            "%{IP:ip} %{NUMBER:n:int} %{GREEDYDATA:rest}",
            0,
            &mut fields,
            true,
            Pos::default(),
        )
        .unwrap();
        let r = regex::Regex::new(&re).unwrap();
        let c = r.captures("10.1.2.3 42 hello world").unwrap();
        assert_eq!((&c[1], &c[2], &c[3]), ("10.1.2.3", "42", "hello world"));
        assert_eq!(
            fields.iter().map(|f| f.1).collect::<Vec<_>>(),
            [Ty::Keyword, Ty::Integer, Ty::Keyword]
        );
    }
}
