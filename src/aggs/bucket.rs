//! Bucket aggregations: terms, histogram, date_histogram, range, date_range, filter, filters,
//! missing, global. Parsing, the per-index key or condition expression of each bucket, and the
//! date rounding used to fill empty date_histogram buckets.

use super::{obj_keys_check, parse_err};
use crate::catalog::IndexMeta;
use crate::dsl::{self, Query};
use crate::error::EsError;
use crate::plan::fields::{self, EsKind, Field};
use crate::schema::dates;
use crate::sql::{self, Expr};
use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeZone, Timelike};
use regex::Regex;
use serde_json::{Map, Value};

pub const TYPES: [&str; 24] = [
    "terms",
    "nested",
    "reverse_nested",
    "significant_terms",
    "auto_date_histogram",
    "ip_prefix",
    "sampler",
    "diversified_sampler",
    "random_sampler",
    "ip_range",
    "geohash_grid",
    "rare_terms",
    "adjacency_matrix",
    "geotile_grid",
    "composite",
    "multi_terms",
    "histogram",
    "date_histogram",
    "range",
    "date_range",
    "filter",
    "filters",
    "missing",
    "global",
];

#[derive(Debug, Clone, PartialEq)]
pub enum OrderKey {
    Count,
    Key,
    Path(String),
}

#[derive(Debug, Clone)]
pub enum IncExc {
    Regex(Regex),
    Values(Vec<String>),
}

impl IncExc {
    fn matches(&self, key: &str) -> bool {
        match self {
            IncExc::Regex(r) => r.is_match(key),
            IncExc::Values(v) => v.iter().any(|x| x == key),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Terms {
    pub field: String,
    pub size: usize,
    pub min_doc_count: u64,
    pub order: Vec<(OrderKey, bool)>,
    pub missing: Option<Value>,
    pub include: Option<IncExc>,
    pub exclude: Option<IncExc>,
    pub format: Option<String>,
}

impl Terms {
    pub fn accepts(&self, key: &str) -> bool {
        self.include.as_ref().is_none_or(|i| i.matches(key))
            && self.exclude.as_ref().is_none_or(|e| !e.matches(key))
    }
}

/// multi_terms: a compound key of several fields (`missing` per field).
#[derive(Debug, Clone)]
pub struct MultiTerms {
    pub terms: Vec<(String, Option<Value>)>,
    pub size: usize,
    pub min_doc_count: u64,
    pub order: Vec<(OrderKey, bool)>,
}

/// One range of ip_range: bounds as IPv6 (IPv4 mapped), and as shown.
#[derive(Debug, Clone)]
pub struct IpItem {
    pub key: String,
    pub from: Option<(u128, String)>,
    pub to: Option<(u128, String)>,
}

#[derive(Debug, Clone)]
pub struct IpRange {
    pub field: String,
    pub ranges: Vec<IpItem>,
    pub keyed: bool,
}

fn ip_of(s: &str) -> Result<std::net::IpAddr, EsError> {
    s.parse()
        .map_err(|_| EsError::illegal_argument(format!("'{s}' is not an IP string literal.")))
}

fn ip_bits(ip: std::net::IpAddr) -> u128 {
    match ip {
        std::net::IpAddr::V4(v) => u128::from(v.to_ipv6_mapped()),
        std::net::IpAddr::V6(v) => u128::from(v),
    }
}

/// The condition of one ip_range bucket on a value (compared as IPv6, IPv4 mapped).
pub fn ip_cond(meta: &IndexMeta, field: &str, item: &IpItem) -> Result<Expr, EsError> {
    let Some(f) = fields::resolve(meta, field) else {
        return Ok(sql::lit(false));
    };
    if f.kind != EsKind::Ip {
        return Err(EsError::illegal_argument(format!(
            "Field [{field}] of type [{}] is not supported for aggregation [ip_range]",
            f.es_type
        )));
    }
    let lit = |b: u128| {
        Expr::func(
            "toIPv6",
            vec![sql::lit(std::net::Ipv6Addr::from(b).to_string())],
        )
    };
    let test = |x: Expr| {
        let x = Expr::func("toIPv6", vec![x]);
        let mut c = vec![x.clone().is_not_null()];
        if let Some((a, _)) = &item.from {
            c.push(x.clone().gte(lit(*a)));
        }
        if let Some((b, _)) = &item.to {
            c.push(x.lt(lit(*b)));
        }
        sql::and_all(c)
    };
    Ok(if f.is_array {
        Expr::func(
            "arrayExists",
            vec![sql::lambda(["x"], test(sql::col("x"))), f.column_expr()],
        )
    } else {
        Expr::func("ifNull", vec![test(f.column_expr()), sql::lit(false)])
    })
}

/// One value source of a composite aggregation.
#[derive(Debug, Clone)]
pub struct CompSource {
    pub name: String,
    /// `None`: terms on `field`; `Some`: histogram / date_histogram rounding.
    pub histo: Option<Box<Histo>>,
    pub field: String,
    pub desc: bool,
    pub missing_bucket: bool,
    /// Where documents without a value sort (missing_order; default first for asc).
    pub missing_first: bool,
    pub format: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Composite {
    pub sources: Vec<CompSource>,
    pub size: usize,
    pub after: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CalUnit {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Interval {
    Calendar(CalUnit),
    /// Fixed length in milliseconds.
    Fixed(i64),
    /// auto_date_histogram: `n` units of rounding `unit` (index in [`AUTO_LADDER`]) counted from
    /// the first bucket `first` (epoch millis), as InternalAutoDateHistogram merges consecutive
    /// buckets.
    Anchored {
        unit: usize,
        n: i64,
        first: i64,
    },
}

/// auto_date_histogram's roundings (AutoDateHistogramAggregationBuilder#buildRoundings):
/// (unit name for `minimum_interval`, abbreviation, rough duration ms, inner intervals).
pub const AUTO_LADDER: [(&str, &str, i64, &[i64]); 6] = [
    ("second", "s", 1000, &[1, 5, 10, 30]),
    ("minute", "m", 60_000, &[1, 5, 10, 30]),
    ("hour", "h", 3_600_000, &[1, 3, 12]),
    ("day", "d", 86_400_000, &[1, 7]),
    ("month", "M", 30 * 86_400_000, &[1, 3]),
    ("year", "y", 365 * 86_400_000, &[1, 5, 10, 20, 50, 100]),
];

/// auto_date_histogram before its rounding is chosen (at execution, from the data's range).
#[derive(Debug, Clone)]
pub struct AutoDate {
    pub field: String,
    pub buckets: u64,
    pub time_zone: Option<String>,
    pub format: Option<String>,
    pub min_unit: usize,
    pub missing: Option<Value>,
}

/// The plain date_histogram rounding of ladder unit `u`.
fn ladder_interval(u: usize) -> Interval {
    match u {
        0 => Interval::Fixed(1000),
        1 => Interval::Calendar(CalUnit::Minute),
        2 => Interval::Calendar(CalUnit::Hour),
        3 => Interval::Calendar(CalUnit::Day),
        4 => Interval::Calendar(CalUnit::Month),
        _ => Interval::Calendar(CalUnit::Year),
    }
}

impl AutoDate {
    fn histo(&self, iv: Interval) -> Histo {
        Histo {
            field: self.field.clone(),
            date: Some(iv),
            interval: 0.0,
            offset: 0.0,
            time_zone: self.time_zone.clone(),
            min_doc_count: 0,
            extended_bounds: None,
            hard_bounds: None,
            keyed: false,
            format: self.format.clone(),
            order: vec![(OrderKey::Key, false)],
            missing: self.missing.clone(),
            auto_interval: None,
        }
    }

    /// The date_histogram that Elasticsearch's reduction ends with for data in `[min, max]`
    /// (epoch millis; `None`: no data): the smallest rounding whose bucket count from the first
    /// to the last key is at most `buckets` × its largest inner interval (and whose rough span
    /// fits, as the shard collector checks), then the smallest inner interval that brings the
    /// count to at most `buckets` (InternalAutoDateHistogram#reduce, maybeMergeConsecutiveBuckets).
    pub fn resolve(&self, range: Option<(i64, i64)>) -> Histo {
        let last = AUTO_LADDER.len() - 1;
        let Some((min, max)) = range else {
            let mut h = self.histo(Interval::Anchored {
                unit: self.min_unit,
                n: 1,
                first: 0,
            });
            h.auto_interval = Some(format!("1{}", AUTO_LADDER[self.min_unit].1));
            return h;
        };
        let t = self.buckets.max(1) as i64;
        let mut chosen = (last, 1i64, 0i64);
        for (u, &(_, _, rough, inner)) in AUTO_LADDER.iter().enumerate().skip(self.min_unit) {
            let max_inner = *inner.last().unwrap_or(&1);
            let cap = t * max_inner;
            let plain = self.histo(ladder_interval(u));
            let first = round_key(&plain, min as f64);
            let end = round_key(&plain, max as f64);
            let mut count = 0i64;
            let mut k = first;
            while k <= end && count <= cap {
                count += 1;
                k = next_key(&plain, k);
            }
            let fits = count <= cap && (max - min) <= t * rough * max_inner;
            if fits || u == last {
                let n = if count > t {
                    inner
                        .iter()
                        .copied()
                        .find(|i| (count + i - 1) / i <= t)
                        .unwrap_or(max_inner)
                } else {
                    1
                };
                chosen = (u, n, first as i64);
                break;
            }
        }
        let (unit, n, first) = chosen;
        let mut h = self.histo(Interval::Anchored { unit, n, first });
        h.auto_interval = Some(format!("{n}{}", AUTO_LADDER[unit].1));
        h
    }
}

#[derive(Debug, Clone)]
pub struct Histo {
    pub field: String,
    /// date_histogram: the interval; histogram: `None` (numeric `interval` below).
    pub date: Option<Interval>,
    pub interval: f64,
    pub offset: f64,
    pub time_zone: Option<String>,
    pub min_doc_count: u64,
    pub extended_bounds: Option<(f64, f64)>,
    pub hard_bounds: Option<(Option<f64>, Option<f64>)>,
    pub keyed: bool,
    pub format: Option<String>,
    pub order: Vec<(OrderKey, bool)>,
    pub missing: Option<Value>,
    /// auto_date_histogram: the chosen `interval` shown in the response.
    pub auto_interval: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RangeItem {
    pub key: Option<String>,
    pub from: Option<f64>,
    pub to: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct RangeAgg {
    pub field: String,
    pub date: bool,
    pub ranges: Vec<RangeItem>,
    pub keyed: bool,
    pub format: Option<String>,
    pub time_zone: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Filters {
    /// (key, query); key `None` for anonymous filters.
    pub filters: Vec<(Option<String>, Query)>,
    pub keyed: bool,
    pub other_bucket_key: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Bucket {
    IpRange(IpRange),
    /// rare_terms: the terms of at most `max_doc_count` documents.
    RareTerms {
        t: Terms,
        max_doc_count: u64,
    },
    /// adjacency_matrix: named filters (sorted by name) and the separator of pair keys.
    Adjacency {
        filters: Vec<(String, Query)>,
        separator: String,
    },
    /// geotile_grid, or geohash_grid when `geohash`.
    GeoTile {
        field: String,
        precision: u32,
        size: usize,
        geohash: bool,
        /// geotile_grid `bounds` (top, left, bottom, right): only points in tiles that intersect it.
        bounds: Option<(f64, f64, f64, f64)>,
    },
    Composite(Composite),
    Terms(Terms),
    MultiTerms(MultiTerms),
    Histogram(Histo),
    Range(RangeAgg),
    Filter(Query),
    Filters(Filters),
    Missing(String),
    Global,
    Sampler(Sampler),
    IpPrefix(IpPrefix),
    /// Replaced by a date `Histogram` with an [`Interval::Anchored`] rounding before planning.
    AutoDate(AutoDate),
    /// significant_terms (JLH): the terms of the bucket scored against the whole indices.
    SigTerms(Terms),
    /// nested: one row per object under the path (docs/aggregations.md).
    Nested(String),
    /// reverse_nested (root only): the parent documents of the enclosing nested bucket's objects.
    ReverseNested,
}

/// ip_prefix: buckets of the network address of each value under `prefix_length`.
#[derive(Debug, Clone)]
pub struct IpPrefix {
    pub field: String,
    pub prefix_length: u32,
    pub is_ipv6: bool,
    pub append_prefix_length: bool,
    pub keyed: bool,
    pub min_doc_count: u64,
}

/// The ip_prefix key of a value (a string IP): IPv4 — the last 4 bytes of the 16-byte form
/// masked, as a UInt32 (IpPrefixAggregator masks bytes 12..16 whatever the family); IPv6 — the
/// network address of the 16-byte form (IPv4 values mapped).
pub fn ip_prefix_round(ip: &IpPrefix) -> impl Fn(Expr, &Field) -> Expr + '_ {
    move |v: Expr, _f: &Field| {
        let v6 = Expr::func("toIPv6", vec![v]);
        if ip.is_ipv6 {
            Expr::func(
                "toString",
                vec![Expr::func(
                    "tupleElement",
                    vec![
                        Expr::func(
                            "IPv6CIDRToRange",
                            vec![v6, sql::lit(u64::from(ip.prefix_length))],
                        ),
                        sql::lit(1u64),
                    ],
                )],
            )
        } else {
            let bytes = Expr::func("IPv6StringToNum", vec![Expr::func("toString", vec![v6])]);
            let low = Expr::func(
                "reinterpretAsUInt32",
                vec![Expr::func(
                    "reverse",
                    vec![Expr::func(
                        "substring",
                        vec![bytes, sql::lit(13u64), sql::lit(4u64)],
                    )],
                )],
            );
            let mask: u64 = if ip.prefix_length == 0 {
                0
            } else {
                (u64::from(u32::MAX) << (32 - ip.prefix_length)) & u64::from(u32::MAX)
            };
            Expr::func("bitAnd", vec![low, sql::lit(mask)])
        }
    }
}

/// sampler / diversified_sampler / random_sampler: one bucket of a subset of the matching
/// documents (docs/aggregations.md, "samplers").
#[derive(Debug, Clone)]
pub enum Sampler {
    /// The best `shard_size` documents by score (then `_id`) per parent bucket; with
    /// `diversify`, at most `max_docs_per_value` of them per value of `field`.
    Top {
        shard_size: u64,
        diversify: Option<(String, u64)>,
    },
    /// Documents whose `cityHash64(_id, seed)` falls below `probability` of the hash range.
    Random { probability: f64, seed: i32 },
}

fn get_str(ty: &str, body: &Map<String, Value>, k: &str) -> Result<Option<String>, EsError> {
    match body.get(k) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(parse_err(ty, k, other)),
    }
}

fn get_bool(ty: &str, body: &Map<String, Value>, k: &str, default: bool) -> Result<bool, EsError> {
    match body.get(k) {
        None => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s == "true" || s == "false" => Ok(s == "true"),
        Some(other) => Err(parse_err(ty, k, other)),
    }
}

fn get_u64(ty: &str, body: &Map<String, Value>, k: &str, default: u64) -> Result<u64, EsError> {
    match body.get(k) {
        None => Ok(default),
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| parse_err(ty, k, v)),
    }
}

/// [`get_u64`] for a count that must be at least 1 (the builders' `must be greater than 0`).
fn get_positive(
    ty: &str,
    body: &Map<String, Value>,
    k: &str,
    default: u64,
) -> Result<u64, EsError> {
    let n = get_u64(ty, body, k, default)?;
    if n == 0 {
        return Err(EsError::illegal_argument(format!(
            "[{k}] must be greater than 0. Found [0] in [{ty}]"
        )));
    }
    Ok(n)
}

fn require_field(ty: &str, body: &Map<String, Value>) -> Result<String, EsError> {
    if body.contains_key("script") {
        return Err(EsError::unsupported(format!(
            "[{ty}] aggregation with [script]"
        )));
    }
    get_str(ty, body, "field")?.ok_or_else(|| {
        EsError::illegal_argument(
            "Required one of fields [field, script], but none were specified. ",
        )
    })
}

fn parse_order(ty: &str, v: &Value) -> Result<Vec<(OrderKey, bool)>, EsError> {
    let mut out = Vec::new();
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    for item in items {
        let Value::Object(m) = item else {
            return Err(parse_err(ty, "order", item));
        };
        for (k, dir) in m {
            let desc = match dir.as_str().map(str::to_ascii_lowercase).as_deref() {
                Some("asc") => false,
                Some("desc") => true,
                _ => {
                    return Err(EsError::parsing(format!(
                        "Unknown order direction [{}]",
                        dir.as_str().unwrap_or(&dir.to_string())
                    )));
                }
            };
            let key = match k.as_str() {
                "_count" => OrderKey::Count,
                "_key" | "_term" | "_time" => OrderKey::Key,
                other => OrderKey::Path(other.to_string()),
            };
            out.push((key, desc));
        }
    }
    Ok(out)
}

fn parse_inc_exc(ty: &str, k: &str, v: &Value) -> Result<IncExc, EsError> {
    match v {
        Value::String(s) => Regex::new(&format!("^(?:{s})$"))
            .map(IncExc::Regex)
            .map_err(|e| {
                EsError::illegal_argument(format!("invalid regular expression [{s}]: {e}"))
            }),
        Value::Array(a) => Ok(IncExc::Values(
            a.iter()
                .map(|x| match x {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect(),
        )),
        Value::Object(_) if k == "include" => Err(EsError::unsupported(
            "[terms] aggregation with [include] partitions",
        )),
        other => Err(parse_err(ty, k, other)),
    }
}

/// A fixed time value (`90s`, `1h`, `2d`, `500ms`) in millis.
pub fn parse_fixed(s: &str, what: &str) -> Result<i64, EsError> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '-')
        .unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: i64 = n.parse().map_err(|_| time_err(s, what))?;
    let mul = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(time_err(s, what)),
    };
    Ok(n * mul)
}

fn time_err(s: &str, what: &str) -> EsError {
    EsError::illegal_argument(format!(
        "failed to parse setting [{what}] with value [{s}] as a time value: unit is missing or unrecognized"
    ))
}

fn calendar_unit(s: &str) -> Option<CalUnit> {
    Some(match s {
        "1m" | "minute" => CalUnit::Minute,
        "1h" | "hour" => CalUnit::Hour,
        "1d" | "day" => CalUnit::Day,
        "1w" | "week" => CalUnit::Week,
        "1M" | "month" => CalUnit::Month,
        "1q" | "quarter" => CalUnit::Quarter,
        "1y" | "year" => CalUnit::Year,
        _ => return None,
    })
}

fn num_or_date(
    v: &Value,
    date: bool,
    format: &str,
    tz: Option<&str>,
    now: i64,
    up: bool,
) -> Result<f64, EsError> {
    if let Some(x) = v.as_f64() {
        return Ok(x);
    }
    match v {
        Value::String(s) if date => dates::parse_date_math(s, format, now, up, tz)
            .map(|n| (n / 1_000_000) as f64)
            .map_err(|e| EsError::parsing(format!("failed to parse date field [{s}]: {}", e.0))),
        Value::String(s) => s
            .parse()
            .map_err(|_| EsError::parsing(format!("[range] failed to parse [{s}] as a number"))),
        other => Err(EsError::parsing(format!(
            "[range] unexpected value [{other}]"
        ))),
    }
}

pub fn parse(ty: &'static str, body: &Map<String, Value>, now: i64) -> Result<Bucket, EsError> {
    match ty {
        "terms" => {
            obj_keys_check(
                ty,
                body,
                &[
                    "field",
                    "size",
                    "shard_size",
                    "min_doc_count",
                    "shard_min_doc_count",
                    "order",
                    "missing",
                    "include",
                    "exclude",
                    "format",
                    "value_type",
                    "execution_hint",
                    "collect_mode",
                    "show_term_doc_count_error",
                    "script",
                ],
            )?;
            let field = require_field(ty, body)?;
            let size = get_positive(ty, body, "size", 10)?;
            let mut order = match body.get("order") {
                Some(v) => parse_order(ty, v)?,
                None => vec![(OrderKey::Count, true)],
            };
            // Ties are broken by key ascending (InternalOrder: compound order with _key asc).
            if !order.iter().any(|(k, _)| *k == OrderKey::Key) {
                order.push((OrderKey::Key, false));
            }
            Ok(Bucket::Terms(Terms {
                field,
                size: size as usize,
                min_doc_count: get_u64(ty, body, "min_doc_count", 1)?,
                order,
                missing: body.get("missing").cloned(),
                include: body
                    .get("include")
                    .map(|v| parse_inc_exc(ty, "include", v))
                    .transpose()?,
                exclude: body
                    .get("exclude")
                    .map(|v| parse_inc_exc(ty, "exclude", v))
                    .transpose()?,
                format: get_str(ty, body, "format")?,
            }))
        }
        "histogram" | "date_histogram" => {
            let date = ty == "date_histogram";
            let mut keys = vec![
                "field",
                "interval",
                "offset",
                "min_doc_count",
                "extended_bounds",
                "hard_bounds",
                "keyed",
                "format",
                "order",
                "missing",
                "script",
            ];
            if date {
                keys.retain(|k| *k != "interval");
                keys.extend(["calendar_interval", "fixed_interval", "time_zone"]);
            }
            obj_keys_check(ty, body, &keys)?;
            let field = require_field(ty, body)?;
            let tz = get_str(ty, body, "time_zone")?;
            if let Some(t) = &tz {
                dates::parse_date_math("now", "epoch_millis", 0, false, Some(t))
                    .map_err(|_| EsError::illegal_argument(format!("Unknown time-zone ID: {t}")))?;
            }
            let format = get_str(ty, body, "format")?;
            let (interval, date_iv) = if date {
                let cal = get_str(ty, body, "calendar_interval")?;
                let fixed = get_str(ty, body, "fixed_interval")?;
                match (cal, fixed) {
                    (Some(_), Some(_)) => {
                        return Err(EsError::illegal_argument(
                            "Cannot use [fixed_interval] with [calendar_interval] configuration option.",
                        ));
                    }
                    (Some(c), None) => {
                        let u = calendar_unit(&c).ok_or_else(|| {
                            EsError::illegal_argument(format!(
                                "The supplied interval [{c}] could not be parsed as a calendar interval."
                            ))
                        })?;
                        (0.0, Some(Interval::Calendar(u)))
                    }
                    (None, Some(f)) => {
                        let ms = parse_fixed(&f, "date_histogram.fixedInterval")?;
                        if ms <= 0 {
                            return Err(EsError::illegal_argument(
                                "Zero or negative time interval not supported",
                            ));
                        }
                        (ms as f64, Some(Interval::Fixed(ms)))
                    }
                    (None, None) => {
                        return Err(EsError::illegal_argument(
                            "Invalid interval specified, must be non-null and non-empty",
                        ));
                    }
                }
            } else {
                let iv = body.get("interval").ok_or_else(|| {
                    EsError::illegal_argument(
                        "[interval] must be >0 for histogram aggregation [histogram]",
                    )
                })?;
                let iv = iv.as_f64().ok_or_else(|| parse_err(ty, "interval", iv))?;
                if iv <= 0.0 {
                    return Err(EsError::illegal_argument(format!(
                        "[interval] must be >0 for histogram aggregation [{ty}]"
                    )));
                }
                (iv, None)
            };
            let offset = match body.get("offset") {
                None => 0.0,
                Some(Value::String(s)) if date => {
                    let (neg, rest) = match s.strip_prefix('-') {
                        Some(r) => (true, r),
                        None => (false, s.strip_prefix('+').unwrap_or(s)),
                    };
                    let ms = parse_fixed(rest, "date_histogram.offset")? as f64;
                    if neg { -ms } else { ms }
                }
                Some(v) => v.as_f64().ok_or_else(|| parse_err(ty, "offset", v))?,
            };
            let fmt = if date {
                format
                    .clone()
                    .unwrap_or_else(|| "strict_date_optional_time||epoch_millis".into())
            } else {
                String::new()
            };
            let bound = |v: &Value, up: bool| num_or_date(v, date, &fmt, tz.as_deref(), now, up);
            let extended_bounds = match body.get("extended_bounds") {
                None => None,
                Some(Value::Object(m)) => {
                    let min = m.get("min").map(|v| bound(v, false)).transpose()?;
                    let max = m.get("max").map(|v| bound(v, false)).transpose()?;
                    if let (Some(a), Some(b)) = (min, max)
                        && a > b
                    {
                        return Err(EsError::illegal_argument(format!(
                            "[extended_bounds.min][{}] cannot be greater than [extended_bounds.max][{}] for histogram aggregation [{ty}]",
                            a as i64, b as i64
                        )));
                    }
                    Some((
                        min.unwrap_or(f64::INFINITY),
                        max.unwrap_or(f64::NEG_INFINITY),
                    ))
                }
                Some(other) => return Err(parse_err(ty, "extended_bounds", other)),
            };
            let hard_bounds = match body.get("hard_bounds") {
                None => None,
                Some(Value::Object(m)) => Some((
                    m.get("min").map(|v| bound(v, false)).transpose()?,
                    m.get("max").map(|v| bound(v, false)).transpose()?,
                )),
                Some(other) => return Err(parse_err(ty, "hard_bounds", other)),
            };
            Ok(Bucket::Histogram(Histo {
                field,
                date: date_iv,
                interval,
                offset,
                time_zone: tz,
                min_doc_count: get_u64(ty, body, "min_doc_count", 0)?,
                extended_bounds,
                hard_bounds,
                keyed: get_bool(ty, body, "keyed", false)?,
                format,
                order: match body.get("order") {
                    Some(v) => parse_order(ty, v)?,
                    None => vec![(OrderKey::Key, false)],
                },
                missing: body.get("missing").cloned(),
                auto_interval: None,
            }))
        }
        "auto_date_histogram" => {
            obj_keys_check(
                ty,
                body,
                &[
                    "field",
                    "buckets",
                    "format",
                    "time_zone",
                    "minimum_interval",
                    "missing",
                    "script",
                ],
            )?;
            let field = require_field(ty, body)?;
            let tz = get_str(ty, body, "time_zone")?;
            if let Some(t) = &tz {
                dates::parse_date_math("now", "epoch_millis", 0, false, Some(t))
                    .map_err(|_| EsError::illegal_argument(format!("Unknown time-zone ID: {t}")))?;
            }
            let min_unit = match get_str(ty, body, "minimum_interval")? {
                None => 0,
                Some(m) => AUTO_LADDER.iter().position(|l| l.0 == m).ok_or_else(|| {
                    EsError::illegal_argument(
                        "minimum_interval must be one of [second, minute, hour, day, month, year]",
                    )
                })?,
            };
            Ok(Bucket::AutoDate(AutoDate {
                field,
                buckets: get_u64(ty, body, "buckets", 10)?,
                time_zone: tz,
                format: get_str(ty, body, "format")?,
                min_unit,
                missing: body.get("missing").cloned(),
            }))
        }
        "range" | "date_range" => {
            let date = ty == "date_range";
            obj_keys_check(
                ty,
                body,
                &[
                    "field",
                    "ranges",
                    "keyed",
                    "format",
                    "time_zone",
                    "missing",
                    "script",
                ],
            )?;
            let field = require_field(ty, body)?;
            if body.contains_key("missing") {
                return Err(EsError::unsupported(format!(
                    "[{ty}] aggregation with [missing]"
                )));
            }
            let tz = get_str(ty, body, "time_zone")?;
            let format = get_str(ty, body, "format")?;
            let fmt = format
                .clone()
                .unwrap_or_else(|| "strict_date_optional_time||epoch_millis".into());
            let Some(Value::Array(items)) = body.get("ranges") else {
                return Err(EsError::illegal_argument(format!(
                    "No [ranges] specified for the [{ty}] aggregation"
                )));
            };
            let mut ranges = Vec::new();
            for it in items {
                let Value::Object(m) = it else {
                    return Err(parse_err(ty, "ranges", it));
                };
                obj_keys_check("range", m, &["from", "to", "key"])?;
                let b = |k: &str| -> Result<Option<f64>, EsError> {
                    match m.get(k) {
                        None | Some(Value::Null) => Ok(None),
                        Some(v) => num_or_date(v, date, &fmt, tz.as_deref(), now, false).map(Some),
                    }
                };
                ranges.push(RangeItem {
                    key: get_str("range", m, "key")?,
                    from: b("from")?,
                    to: b("to")?,
                });
            }
            Ok(Bucket::Range(RangeAgg {
                field,
                date,
                ranges,
                keyed: get_bool(ty, body, "keyed", false)?,
                format,
                time_zone: tz,
            }))
        }
        "filter" => Ok(Bucket::Filter(dsl::parse_query(&Value::Object(
            body.clone(),
        ))?)),
        "filters" => {
            obj_keys_check(
                ty,
                body,
                &["filters", "other_bucket", "other_bucket_key", "keyed"],
            )?;
            let mut filters = Vec::new();
            let mut named = false;
            match body.get("filters") {
                Some(Value::Object(m)) => {
                    named = true;
                    let mut items: Vec<(&String, &Value)> = m.iter().collect();
                    // Keyed filters are ordered by key (FiltersAggregationBuilder sorts them).
                    items.sort_by(|a, b| a.0.cmp(b.0));
                    for (k, q) in items {
                        filters.push((Some(k.clone()), dsl::parse_query(q)?));
                    }
                }
                Some(Value::Array(a)) => {
                    for q in a {
                        filters.push((None, dsl::parse_query(q)?));
                    }
                }
                _ => return Err(EsError::illegal_argument("[filters] cannot be empty.")),
            }
            let other_key = get_str(ty, body, "other_bucket_key")?;
            let other = get_bool(ty, body, "other_bucket", false)? || other_key.is_some();
            Ok(Bucket::Filters(Filters {
                filters,
                keyed: get_bool(ty, body, "keyed", named)? && named,
                other_bucket_key: other.then(|| other_key.unwrap_or_else(|| "_other_".into())),
            }))
        }
        "ip_range" => {
            obj_keys_check(ty, body, &["field", "ranges", "keyed", "script", "missing"])?;
            if body.contains_key("missing") {
                return Err(EsError::unsupported("[ip_range] with [missing]"));
            }
            let field = require_field(ty, body)?;
            let Some(Value::Array(list)) = body.get("ranges") else {
                return Err(EsError::illegal_argument(
                    "No [ranges] specified for the [ip_range] aggregation",
                ));
            };
            let mut ranges = Vec::new();
            for r in list {
                let Value::Object(m) = r else {
                    return Err(parse_err(ty, "ranges", r));
                };
                obj_keys_check("range", m, &["key", "from", "to", "mask"])?;
                let text = |k: &str| -> Result<Option<String>, EsError> {
                    match m.get(k) {
                        None | Some(Value::Null) => Ok(None),
                        Some(Value::String(s)) => Ok(Some(s.clone())),
                        Some(o) => Err(parse_err("range", k, o)),
                    }
                };
                let (from, to, default_key) = if let Some(mask) = text("mask")? {
                    let (addr, bits) = mask.split_once('/').ok_or_else(|| {
                        EsError::illegal_argument(format!("Expected [ip/prefix] but was [{mask}]"))
                    })?;
                    let ip = ip_of(addr)?;
                    let width: u32 = if ip.is_ipv4() { 32 } else { 128 };
                    let n: u32 = bits.parse().ok().filter(|n| *n <= width).ok_or_else(|| {
                        EsError::illegal_argument(format!(
                            "Illegal prefix length [{bits}] in [{mask}]"
                        ))
                    })?;
                    // Network address and the first address after the block (none past the
                    // top of the address space), in the mask's own family.
                    let (lo, hi) = match ip {
                        std::net::IpAddr::V4(v) => {
                            let x = u32::from(v) as u64;
                            let size = 1u64 << (32 - n);
                            let lo = x & !(size - 1);
                            let hi = lo + size;
                            (
                                std::net::IpAddr::V4((lo as u32).into()),
                                (hi <= u32::MAX as u64)
                                    .then(|| std::net::IpAddr::V4((hi as u32).into())),
                            )
                        }
                        std::net::IpAddr::V6(v) => {
                            let x = u128::from(v);
                            let lo = if n == 0 {
                                0
                            } else {
                                x & !((1u128 << (128 - n)) - 1)
                            };
                            let hi = if n == 0 {
                                None
                            } else {
                                lo.checked_add(1u128 << (128 - n))
                            };
                            (
                                std::net::IpAddr::V6(lo.into()),
                                hi.map(|h| std::net::IpAddr::V6(h.into())),
                            )
                        }
                    };
                    (
                        Some((ip_bits(lo), lo.to_string())),
                        hi.map(|h| (ip_bits(h), h.to_string())),
                        mask.clone(),
                    )
                } else {
                    let from = text("from")?
                        .map(|s| ip_of(&s).map(|ip| (ip_bits(ip), ip.to_string())))
                        .transpose()?;
                    let to = text("to")?
                        .map(|s| ip_of(&s).map(|ip| (ip_bits(ip), ip.to_string())))
                        .transpose()?;
                    let k = format!(
                        "{}-{}",
                        from.as_ref().map_or("*", |f| f.1.as_str()),
                        to.as_ref().map_or("*", |t| t.1.as_str())
                    );
                    (from, to, k)
                };
                ranges.push(IpItem {
                    key: text("key")?.unwrap_or(default_key),
                    from,
                    to,
                });
            }
            // BinaryRangeAggregator sorts the ranges by (from, to).
            ranges.sort_by(|a, b| {
                let f = |x: &IpItem| x.from.as_ref().map_or(0, |v| v.0);
                let t = |x: &IpItem| x.to.as_ref().map_or(u128::MAX, |v| v.0);
                f(a).cmp(&f(b)).then(t(a).cmp(&t(b)))
            });
            Ok(Bucket::IpRange(IpRange {
                field,
                ranges,
                keyed: get_bool(ty, body, "keyed", false)?,
            }))
        }
        "rare_terms" => {
            obj_keys_check(
                ty,
                body,
                &[
                    "field",
                    "max_doc_count",
                    "precision",
                    "missing",
                    "include",
                    "exclude",
                    "format",
                    "value_type",
                    "script",
                ],
            )?;
            let field = require_field(ty, body)?;
            // RareTermsAggregationBuilder: max_doc_count in [1, 100].
            let max_doc_count = get_positive(ty, body, "max_doc_count", 1)?;
            if max_doc_count > 100 {
                return Err(EsError::illegal_argument(format!(
                    "[max_doc_count] must be smaller than or equal to [100]. Found [{max_doc_count}] in [rare_terms]"
                )));
            }
            Ok(Bucket::RareTerms {
                t: Terms {
                    field,
                    size: usize::MAX,
                    min_doc_count: 1,
                    order: vec![(OrderKey::Count, false), (OrderKey::Key, false)],
                    missing: body.get("missing").cloned(),
                    include: body
                        .get("include")
                        .map(|v| parse_inc_exc(ty, "include", v))
                        .transpose()?,
                    exclude: body
                        .get("exclude")
                        .map(|v| parse_inc_exc(ty, "exclude", v))
                        .transpose()?,
                    format: get_str(ty, body, "format")?,
                },
                max_doc_count,
            })
        }
        "adjacency_matrix" => {
            obj_keys_check(ty, body, &["filters", "separator"])?;
            let Some(Value::Object(m)) = body.get("filters") else {
                return Err(EsError::illegal_argument("[filters] cannot be empty."));
            };
            let mut items: Vec<(&String, &Value)> = m.iter().collect();
            // AdjacencyMatrixAggregationBuilder sorts the filters by name.
            items.sort_by(|a, b| a.0.cmp(b.0));
            let mut filters = Vec::new();
            for (k, q) in items {
                filters.push((k.clone(), dsl::parse_query(q)?));
            }
            if filters.len() > 100 {
                return Err(EsError::illegal_argument(format!(
                    "Number of filters is too large, must be less than or equal to: [100] but was [{}].This limit can be set by changing the [index.max_adjacency_matrix_filters] index level setting.",
                    filters.len()
                )));
            }
            Ok(Bucket::Adjacency {
                filters,
                separator: get_str(ty, body, "separator")?.unwrap_or_else(|| "&".into()),
            })
        }
        "missing" => {
            obj_keys_check(ty, body, &["field", "script", "value_type"])?;
            Ok(Bucket::Missing(require_field(ty, body)?))
        }
        "geohash_grid" => {
            obj_keys_check(
                ty,
                body,
                &["field", "precision", "size", "shard_size", "bounds"],
            )?;
            if body.contains_key("bounds") {
                return Err(EsError::unsupported("[geohash_grid] with [bounds]"));
            }
            let field = require_field(ty, body)?;
            let precision = match body.get("precision") {
                None => 5,
                Some(v) => match v.as_u64() {
                    Some(p) => p,
                    None => {
                        return Err(EsError::unsupported(
                            "[geohash_grid] precision given as a distance",
                        ));
                    }
                },
            };
            if !(1..=12).contains(&precision) {
                return Err(EsError::illegal_argument(format!(
                    "Invalid geohash aggregation precision of {precision}. Must be between 1 and 12."
                )));
            }
            let size = get_positive(ty, body, "size", 10000)?;
            Ok(Bucket::GeoTile {
                field,
                precision: precision as u32,
                size: size as usize,
                geohash: true,
                bounds: None,
            })
        }
        "geotile_grid" => {
            obj_keys_check(
                ty,
                body,
                &["field", "precision", "size", "shard_size", "bounds"],
            )?;
            let field = require_field(ty, body)?;
            let bounds = match body.get("bounds") {
                None => None,
                Some(Value::Object(o)) => Some(crate::dsl::geo::parse_box(&field, o)?),
                Some(other) => return Err(parse_err(ty, "bounds", other)),
            };
            let precision = get_u64(ty, body, "precision", 7)?;
            if precision > 29 {
                return Err(EsError::illegal_argument(format!(
                    "Invalid geotile_grid precision of {precision}. Must be between 0 and 29."
                )));
            }
            let size = get_positive(ty, body, "size", 10000)?;
            Ok(Bucket::GeoTile {
                field,
                precision: precision as u32,
                size: size as usize,
                geohash: false,
                bounds,
            })
        }
        "composite" => {
            obj_keys_check(ty, body, &["sources", "size", "after"])?;
            let Some(Value::Array(list)) = body.get("sources") else {
                return Err(EsError::illegal_argument("Required [sources]"));
            };
            let mut sources = Vec::new();
            for item in list {
                let Value::Object(m) = item else {
                    return Err(parse_err(ty, "sources", item));
                };
                if m.len() != 1 {
                    return Err(EsError::parsing(format!(
                        "[composite] sources must contain exactly one named source, got [{}]",
                        m.len()
                    )));
                }
                let (name, def) = m.iter().next().expect("one source");
                let Some(Value::Object(def)) = def
                    .as_object()
                    .and_then(|d| (d.len() == 1).then(|| d.values().next().cloned()).flatten())
                else {
                    return Err(parse_err(ty, "sources", def));
                };
                let kind = def_kind(m.values().next().expect("one source"));
                let mut inner = def.clone();
                let order = inner.remove("order");
                let desc = match order.as_ref().and_then(Value::as_str) {
                    None | Some("asc") => false,
                    Some("desc") => true,
                    Some(o) => {
                        return Err(EsError::illegal_argument(format!(
                            "Unknown SortOrder [{o}]"
                        )));
                    }
                };
                let missing_bucket = match inner.remove("missing_bucket") {
                    None => false,
                    Some(Value::Bool(b)) => b,
                    Some(other) => return Err(parse_err(ty, "missing_bucket", &other)),
                };
                let missing_first = match inner
                    .remove("missing_order")
                    .as_ref()
                    .and_then(Value::as_str)
                {
                    None | Some("default") => !desc,
                    Some("first") => true,
                    Some("last") => false,
                    Some(o) => {
                        return Err(EsError::illegal_argument(format!(
                            "Unknown MissingOrder [{o}]"
                        )));
                    }
                };
                if inner.contains_key("missing") {
                    return Err(EsError::illegal_argument(
                        "[missing] is deprecated. Please use [missing_bucket] instead.",
                    ));
                }
                inner.remove("value_type");
                let format = get_str(kind, &inner, "format")?;
                let (field, histo) = match kind {
                    "terms" => {
                        obj_keys_check(kind, &inner, &["field", "script", "format"])?;
                        (require_field(kind, &inner)?, None)
                    }
                    "histogram" | "date_histogram" => {
                        let kind: &'static str = if kind == "histogram" {
                            "histogram"
                        } else {
                            "date_histogram"
                        };
                        match parse(kind, &inner, now)? {
                            Bucket::Histogram(h) => (h.field.clone(), Some(Box::new(h))),
                            _ => unreachable!("histogram parse"),
                        }
                    }
                    other => {
                        return Err(EsError::unsupported(format!(
                            "[composite] source of type [{other}]"
                        )));
                    }
                };
                sources.push(CompSource {
                    name: name.clone(),
                    histo,
                    field,
                    desc,
                    missing_bucket,
                    missing_first,
                    format,
                });
            }
            if sources.is_empty() {
                return Err(EsError::illegal_argument(
                    "Composite [sources] cannot be null or empty",
                ));
            }
            let size = get_u64(ty, body, "size", 10)? as usize;
            let after = match body.get("after") {
                None => None,
                Some(Value::Object(m)) => {
                    if m.len() != sources.len() || sources.iter().any(|s| !m.contains_key(&s.name))
                    {
                        return Err(EsError::illegal_argument(format!(
                            "[after] has {} value(s) but [sources] has {}",
                            m.len(),
                            sources.len()
                        )));
                    }
                    Some(m.clone())
                }
                Some(other) => return Err(parse_err(ty, "after", other)),
            };
            Ok(Bucket::Composite(Composite {
                sources,
                size,
                after,
            }))
        }
        "multi_terms" => {
            obj_keys_check(
                ty,
                body,
                &[
                    "terms",
                    "size",
                    "shard_size",
                    "min_doc_count",
                    "shard_min_doc_count",
                    "order",
                    "collect_mode",
                    "show_term_doc_count_error",
                ],
            )?;
            let mut terms = Vec::new();
            if let Some(Value::Array(list)) = body.get("terms") {
                for t in list {
                    let Value::Object(m) = t else {
                        return Err(parse_err(ty, "terms", t));
                    };
                    obj_keys_check(
                        "terms",
                        m,
                        &["field", "missing", "script", "value_type", "format"],
                    )?;
                    if m.contains_key("format") {
                        return Err(EsError::unsupported("[multi_terms] term with [format]"));
                    }
                    terms.push((require_field("terms", m)?, m.get("missing").cloned()));
                }
            }
            if terms.len() < 2 {
                return Err(EsError::illegal_argument(
                    "The [terms] parameter in the aggregation [multi_terms] must be present and have at least 2 fields",
                ));
            }
            let size = get_positive(ty, body, "size", 10)?;
            let min_doc_count = get_u64(ty, body, "min_doc_count", 1)?;
            if min_doc_count == 0 {
                return Err(EsError::unsupported("[multi_terms] with [min_doc_count] 0"));
            }
            let mut order = match body.get("order") {
                Some(v) => parse_order(ty, v)?,
                None => vec![(OrderKey::Count, true)],
            };
            if !order.iter().any(|(k, _)| *k == OrderKey::Key) {
                order.push((OrderKey::Key, false));
            }
            Ok(Bucket::MultiTerms(MultiTerms {
                terms,
                size: size as usize,
                min_doc_count,
                order,
            }))
        }
        "global" => {
            obj_keys_check(ty, body, &[])?;
            Ok(Bucket::Global)
        }
        "nested" => {
            obj_keys_check(ty, body, &["path"])?;
            let path = get_str(ty, body, "path")?
                .ok_or_else(|| EsError::illegal_argument("[path] must not be null: [nested]"))?;
            Ok(Bucket::Nested(path))
        }
        "reverse_nested" => {
            obj_keys_check(ty, body, &["path"])?;
            match get_str(ty, body, "path")? {
                Some(p) if !p.is_empty() => Err(EsError::unsupported(format!(
                    "[reverse_nested] with [path] [{p}] (only the root document is supported)"
                ))),
                _ => Ok(Bucket::ReverseNested),
            }
        }
        "significant_terms" => {
            obj_keys_check(
                ty,
                body,
                &[
                    "field",
                    "size",
                    "shard_size",
                    "min_doc_count",
                    "shard_min_doc_count",
                    "include",
                    "exclude",
                    "execution_hint",
                    "format",
                    "jlh",
                    "background_filter",
                    "mutual_information",
                    "chi_square",
                    "gnd",
                    "percentage",
                    "script_heuristic",
                    "script",
                ],
            )?;
            for k in [
                "background_filter",
                "mutual_information",
                "chi_square",
                "gnd",
                "percentage",
                "script_heuristic",
            ] {
                if body.contains_key(k) {
                    return Err(EsError::unsupported(format!(
                        "[significant_terms] aggregation with [{k}]"
                    )));
                }
            }
            let field = require_field(ty, body)?;
            let size = get_u64(ty, body, "size", 10)?;
            get_u64(ty, body, "shard_size", 0)?;
            get_u64(ty, body, "shard_min_doc_count", 0)?;
            get_str(ty, body, "execution_hint")?;
            Ok(Bucket::SigTerms(Terms {
                field,
                size: size as usize,
                min_doc_count: get_u64(ty, body, "min_doc_count", 3)?,
                order: vec![],
                missing: None,
                include: body
                    .get("include")
                    .map(|v| parse_inc_exc(ty, "include", v))
                    .transpose()?,
                exclude: body
                    .get("exclude")
                    .map(|v| parse_inc_exc(ty, "exclude", v))
                    .transpose()?,
                format: get_str(ty, body, "format")?,
            }))
        }
        "ip_prefix" => {
            obj_keys_check(
                ty,
                body,
                &[
                    "field",
                    "script",
                    "prefix_length",
                    "is_ipv6",
                    "append_prefix_length",
                    "keyed",
                    "min_doc_count",
                ],
            )?;
            let field = require_field(ty, body)?;
            let is_ipv6 = get_bool(ty, body, "is_ipv6", false)?;
            let max = if is_ipv6 { 128 } else { 32 };
            let prefix = match body.get("prefix_length") {
                None => -1,
                Some(v) => v
                    .as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    .ok_or_else(|| parse_err(ty, "prefix_length", v))?,
            };
            if !(0..=max).contains(&prefix) {
                return Err(EsError::illegal_argument(format!(
                    "[prefix_length] must be in range [0, {max}] while value is [{prefix}]"
                )));
            }
            let min_doc_count = match body.get("min_doc_count") {
                None => 1,
                Some(v) => v
                    .as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    .ok_or_else(|| parse_err(ty, "min_doc_count", v))?,
            };
            if min_doc_count < 1 {
                return Err(EsError::x_content_parse(
                    "[ip_prefix] failed to parse field [min_doc_count]",
                )
                .caused_by(EsError::illegal_argument(format!(
                    "[min_doc_count] must be in range [1, 2147483647] while value is [{min_doc_count}]"
                ))));
            }
            Ok(Bucket::IpPrefix(IpPrefix {
                field,
                prefix_length: prefix as u32,
                is_ipv6,
                append_prefix_length: get_bool(ty, body, "append_prefix_length", false)?,
                keyed: get_bool(ty, body, "keyed", false)?,
                min_doc_count: min_doc_count as u64,
            }))
        }
        "sampler" => {
            obj_keys_check(ty, body, &["shard_size"])?;
            Ok(Bucket::Sampler(Sampler::Top {
                shard_size: get_u64(ty, body, "shard_size", 100)?,
                diversify: None,
            }))
        }
        "diversified_sampler" => {
            obj_keys_check(
                ty,
                body,
                &[
                    "shard_size",
                    "field",
                    "script",
                    "max_docs_per_value",
                    "execution_hint",
                ],
            )?;
            let field = require_field(ty, body)?;
            // execution_hint only picks Elasticsearch's collector implementation.
            get_str(ty, body, "execution_hint")?;
            Ok(Bucket::Sampler(Sampler::Top {
                shard_size: get_u64(ty, body, "shard_size", 100)?,
                diversify: Some((field, get_u64(ty, body, "max_docs_per_value", 1)?)),
            }))
        }
        "random_sampler" => {
            obj_keys_check(ty, body, &["probability", "seed"])?;
            let probability = match body.get("probability") {
                None => 0.0,
                Some(v) => v
                    .as_f64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    .ok_or_else(|| parse_err(ty, "probability", v))?,
            };
            if body.contains_key("probability") && probability <= 0.0 {
                return Err(EsError::x_content_parse(
                    "[random_sampler] failed to parse field [probability]",
                )
                .caused_by(EsError::illegal_argument(format!(
                    "[probability] must be greater than 0.0, was [{}]",
                    crate::schema::json::java_double(probability)
                ))));
            }
            if probability > 0.5 && probability != 1.0 {
                return Err(EsError::x_content_parse(
                    "[random_sampler] failed to parse field [probability]",
                )
                .caused_by(EsError::illegal_argument(format!(
                    "[probability] must be between 0.0 and 0.5 or exactly 1.0, was [{}]",
                    crate::schema::json::java_double(probability)
                ))));
            }
            let seed = match body.get("seed") {
                // Elasticsearch draws a random seed per request when none is given.
                None => rand::random::<i32>(),
                Some(v) => v
                    .as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    .and_then(|x| i32::try_from(x).ok())
                    .ok_or_else(|| parse_err(ty, "seed", v))?,
            };
            Ok(Bucket::Sampler(Sampler::Random { probability, seed }))
        }
        _ => unreachable!("bucket type checked by the caller"),
    }
}

/// The type name of a composite source definition `{"terms": {…}}`.
fn def_kind(def: &Value) -> &str {
    def.as_object()
        .and_then(|d| d.keys().next())
        .map(String::as_str)
        .unwrap_or("")
}

pub fn fielddata_error(field: &str) -> EsError {
    EsError::illegal_argument(format!(
        "Fielddata is disabled on [{field}] in [{field}]. Text fields are not optimised for operations that require per-document field data like aggregations and sorting, so these operations are disabled by default. Please use a keyword field instead. Alternatively, set fielddata=true on [{field}] in order to load field data by uninverting the inverted index. Note that this can use significant memory."
    ))
}

/// A `missing` value as a literal of the field's type.
pub fn missing_literal(f: &Field, v: &Value) -> Result<Expr, EsError> {
    Ok(match f.kind {
        EsKind::Date | EsKind::DateNanos => {
            let fmt = f
                .format
                .clone()
                .unwrap_or_else(|| "strict_date_optional_time||epoch_millis".into());
            let nanos = crate::schema::dates::parse_date_value(v, &fmt)
                .map_err(|e| EsError::parsing(e.0))?;
            Expr::func(
                "fromUnixTimestamp64Milli",
                vec![sql::lit(nanos / 1_000_000), sql::lit("UTC")],
            )
        }
        EsKind::Boolean => sql::lit(matches!(v, Value::Bool(true)) || v.as_str() == Some("true")),
        k if k.is_numeric() => match v {
            Value::Number(n) if n.is_i64() => sql::lit(n.as_i64().unwrap_or(0)),
            Value::Number(n) => sql::lit(n.as_f64().unwrap_or(0.0)),
            Value::String(s) => sql::lit(
                s.parse::<f64>()
                    .map_err(|_| EsError::parsing(format!("failed to parse [{s}] as a number")))?,
            ),
            other => return Err(EsError::parsing(format!("invalid missing value [{other}]"))),
        },
        _ => sql::lit(match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
    })
}

/// The per-document key value (before bucketing) of a field, converted for aggregation: dates as
/// epoch millis, booleans as 0/1, IPs as text; `.keyword` values over `ignore_above` dropped.
fn value_conv(f: &Field, e: Expr) -> Expr {
    match f.kind {
        EsKind::Date | EsKind::DateNanos => Expr::func("toUnixTimestamp64Milli", vec![e]),
        EsKind::Boolean => Expr::func("toUInt8", vec![e]),
        EsKind::Ip => Expr::func("toString", vec![e]),
        _ => e,
    }
}

/// A key expression of one index: `(expr, is_array)`. `round` maps a converted value to its bucket key.
pub fn key_expr(
    meta: &IndexMeta,
    field: &str,
    missing: Option<&Value>,
    round: &dyn Fn(Expr, &Field) -> Expr,
) -> Result<Option<(Expr, bool)>, EsError> {
    let Some(f) = fields::resolve(meta, field) else {
        return Ok(None);
    };
    if f.kind == EsKind::Text {
        return Err(fielddata_error(field));
    }
    let missing = missing.map(|v| missing_literal(&f, v)).transpose()?;
    if let Some(c) = &f.constant_value {
        return Ok(Some((round(sql::lit(c.as_str()), &f), false)));
    }
    let col = f.column_expr();
    if f.is_array {
        let mut vals = col.clone();
        if let Some(limit) = f.ignore_above {
            vals = Expr::func(
                "arrayFilter",
                vec![
                    sql::lambda(
                        ["x"],
                        Expr::func("length", vec![sql::col("x")]).lte(sql::lit(limit)),
                    ),
                    vals,
                ],
            );
        }
        if let Some(mv) = missing {
            vals = Expr::func(
                "if",
                vec![
                    Expr::func("empty", vec![vals.clone()]),
                    sql::array(vec![mv]),
                    vals,
                ],
            );
        }
        let mapped = Expr::func(
            "arrayMap",
            vec![
                sql::lambda(["x"], round(value_conv(&f, sql::col("x")), &f)),
                vals,
            ],
        );
        return Ok(Some((Expr::func("arrayDistinct", vec![mapped]), true)));
    }
    let mut v = col;
    if let Some(limit) = f.ignore_above {
        v = Expr::func(
            "if",
            vec![
                Expr::func("length", vec![v.clone()]).gt(sql::lit(limit)),
                sql::null(),
                v,
            ],
        );
    }
    if let Some(mv) = missing {
        v = Expr::func("ifNull", vec![v, mv]);
    }
    Ok(Some((round(value_conv(&f, v), &f), false)))
}

/// Bucket key of a histogram value.
pub fn histo_round(h: &Histo) -> impl Fn(Expr, &Field) -> Expr + '_ {
    move |v: Expr, field: &Field| match &h.date {
        None => {
            let shifted = Expr::func(
                "minus",
                vec![Expr::func("toFloat64", vec![v]), sql::lit(h.offset)],
            );
            Expr::func(
                "plus",
                vec![
                    Expr::func(
                        "multiply",
                        vec![
                            Expr::func(
                                "floor",
                                vec![Expr::func("divide", vec![shifted, sql::lit(h.interval)])],
                            ),
                            sql::lit(h.interval),
                        ],
                    ),
                    sql::lit(h.offset),
                ],
            )
        }
        Some(iv) => {
            let tz = h.time_zone.clone().unwrap_or_else(|| "UTC".into());
            let off = h.offset as i64;
            // v is epoch millis (Int64); shift by the offset, round, shift back.
            let ms = Expr::func("minus", vec![v, sql::lit(off)]);
            let key = match iv {
                Interval::Anchored { unit, n, first } => {
                    anchored_sql(ms, &tz, (*unit, *n, *first), field)
                }
                Interval::Calendar(u) => {
                    let t = Expr::func(
                        "toTimeZone",
                        vec![
                            Expr::func("fromUnixTimestamp64Milli", vec![ms]),
                            sql::lit(tz.as_str()),
                        ],
                    );
                    let name: &'static str = match u {
                        CalUnit::Minute => "toStartOfMinute",
                        CalUnit::Hour => "toStartOfHour",
                        CalUnit::Day => "toStartOfDay",
                        CalUnit::Week => "toMonday",
                        CalUnit::Month => "toStartOfMonth",
                        CalUnit::Quarter => "toStartOfQuarter",
                        CalUnit::Year => "toStartOfYear",
                    };
                    Expr::func(
                        "toUnixTimestamp64Milli",
                        vec![Expr::func(
                            "toDateTime64",
                            vec![
                                Expr::func(name, vec![t]),
                                sql::lit(3u64),
                                sql::lit(tz.as_str()),
                            ],
                        )],
                    )
                }
                Interval::Fixed(i) => {
                    // Rounded in local time (offset of the instant's own zone), as
                    // TimeIntervalRounding does away from transitions.
                    let tzoff = Expr::func(
                        "multiply",
                        vec![
                            Expr::func(
                                "timeZoneOffset",
                                vec![Expr::func(
                                    "toTimeZone",
                                    vec![
                                        Expr::func("fromUnixTimestamp64Milli", vec![ms.clone()]),
                                        sql::lit(tz.as_str()),
                                    ],
                                )],
                            ),
                            sql::lit(1000i64),
                        ],
                    );
                    let local = Expr::func("plus", vec![ms, tzoff.clone()]);
                    // Floor division that also holds for instants before 1970.
                    let rem = Expr::func(
                        "modulo",
                        vec![
                            Expr::func(
                                "plus",
                                vec![
                                    Expr::func("modulo", vec![local.clone(), sql::lit(*i)]),
                                    sql::lit(*i),
                                ],
                            ),
                            sql::lit(*i),
                        ],
                    );
                    let floored = Expr::func("minus", vec![local, rem]);
                    Expr::func("minus", vec![floored, tzoff])
                }
            };
            Expr::func(
                "toInt64",
                vec![Expr::func("plus", vec![key, sql::lit(off)])],
            )
        }
    }
}

/// auto_date_histogram's key in SQL: the ladder unit's rounding, then `n` units counted from the
/// first bucket — in milliseconds for seconds/minutes/hours, in local calendar dates for days,
/// months and years.
fn anchored_sql(ms: Expr, tz: &str, (unit, n, first): (usize, i64, i64), field: &Field) -> Expr {
    let plain = Histo {
        field: String::new(),
        date: Some(ladder_interval(unit)),
        interval: 0.0,
        offset: 0.0,
        time_zone: Some(tz.to_string()),
        min_doc_count: 0,
        extended_bounds: None,
        hard_bounds: None,
        keyed: false,
        format: None,
        order: vec![],
        missing: None,
        auto_interval: None,
    };
    let base = histo_round(&plain)(ms, field);
    if unit <= 2 {
        let step = n * AUTO_LADDER[unit].2;
        return Expr::func(
            "plus",
            vec![
                sql::lit(first),
                Expr::func(
                    "multiply",
                    vec![
                        Expr::func(
                            "intDiv",
                            vec![
                                Expr::func("minus", vec![base, sql::lit(first)]),
                                sql::lit(step),
                            ],
                        ),
                        sql::lit(step),
                    ],
                ),
            ],
        );
    }
    let tzc = tz.parse::<chrono_tz::Tz>().unwrap_or(chrono_tz::UTC);
    let first_date = local_of(tzc, first).date().format("%Y-%m-%d").to_string();
    let date_of = |e: Expr| {
        Expr::func(
            "toDate",
            vec![
                Expr::func("fromUnixTimestamp64Milli", vec![e]),
                sql::lit(tz),
            ],
        )
    };
    let (diff_unit, add) = match unit {
        3 => ("day", "addDays"),
        4 => ("month", "addMonths"),
        _ => ("year", "addYears"),
    };
    let f = Expr::func("toDate", vec![sql::lit(first_date.as_str())]);
    let idx = Expr::func(
        "dateDiff",
        vec![sql::lit(diff_unit), f.clone(), date_of(base)],
    );
    let steps = Expr::func(
        "multiply",
        vec![Expr::func("intDiv", vec![idx, sql::lit(n)]), sql::lit(n)],
    );
    Expr::func(
        "toUnixTimestamp64Milli",
        vec![Expr::func(
            "toDateTime64",
            vec![
                Expr::func(add, vec![f, steps]),
                sql::lit(3u64),
                sql::lit(tz),
            ],
        )],
    )
}

/// A per-index condition (for range/filter-like buckets) on a field's values.
pub fn range_cond(meta: &IndexMeta, r: &RangeAgg, item: &RangeItem) -> Result<Expr, EsError> {
    let Some(f) = fields::resolve(meta, &r.field) else {
        return Ok(sql::lit(false));
    };
    if f.kind == EsKind::Text {
        return Err(fielddata_error(&r.field));
    }
    let test = |x: Expr| {
        let x = Expr::func("toFloat64", vec![value_conv(&f, x)]);
        let mut c = Vec::new();
        if let Some(a) = item.from {
            c.push(x.clone().gte(sql::lit(a)));
        }
        if let Some(b) = item.to {
            c.push(x.clone().lt(sql::lit(b)));
        }
        if c.is_empty() {
            c.push(x.is_not_null());
        }
        sql::and_all(c)
    };
    Ok(if f.is_array {
        Expr::func(
            "arrayExists",
            vec![sql::lambda(["x"], test(sql::col("x"))), f.column_expr()],
        )
    } else {
        Expr::func("ifNull", vec![test(f.column_expr()), sql::lit(false)])
    })
}

/// Documents without a value of the field.
pub fn missing_cond(meta: &IndexMeta, field: &str) -> Expr {
    match fields::resolve(meta, field) {
        None => sql::lit(true),
        Some(f) if f.constant_value.is_some() => sql::lit(false),
        Some(f) if f.is_array => Expr::func("empty", vec![f.column_expr()]),
        Some(f) => f.column_expr().is_null(),
    }
}

// ---- date rounding in Rust (bounds and empty-bucket filling) ----

fn tz_of(h: &Histo) -> chrono_tz::Tz {
    h.time_zone
        .as_deref()
        .and_then(|t| t.parse().ok())
        .unwrap_or(chrono_tz::UTC)
}

fn local_of(tz: chrono_tz::Tz, ms: i64) -> NaiveDateTime {
    tz.timestamp_millis_opt(ms)
        .single()
        .map(|d| d.naive_local())
        .unwrap_or_default()
}

fn utc_of(tz: chrono_tz::Tz, local: NaiveDateTime) -> i64 {
    match tz.from_local_datetime(&local) {
        chrono::LocalResult::Single(d) => d.timestamp_millis(),
        chrono::LocalResult::Ambiguous(a, _) => a.timestamp_millis(),
        // A local time that does not exist (spring forward): the instant one hour later.
        chrono::LocalResult::None => utc_of(tz, local + chrono::Duration::hours(1)),
    }
}

fn fixed_offset_ms(tz: chrono_tz::Tz, ms: i64) -> i64 {
    use chrono::Offset;
    tz.offset_from_utc_datetime(
        &chrono::DateTime::from_timestamp_millis(ms)
            .unwrap_or_default()
            .naive_utc(),
    )
    .fix()
    .local_minus_utc() as i64
        * 1000
}

/// The key of the bucket holding `x` (the same rounding as the SQL key).
pub fn round_key(h: &Histo, x: f64) -> f64 {
    match &h.date {
        Some(Interval::Anchored { unit, n, first }) => {
            let mut plain = h.clone();
            plain.date = Some(ladder_interval(*unit));
            let k = round_key(&plain, x) as i64;
            let (unit, n, first) = (*unit, *n, *first);
            if unit <= 2 {
                let step = n * AUTO_LADDER[unit].2;
                return (first + (k - first).div_euclid(step) * step) as f64;
            }
            let tz = tz_of(h);
            let (a, b) = (local_of(tz, first).date(), local_of(tz, k).date());
            let idx = match unit {
                3 => (b - a).num_days(),
                4 => {
                    (b.year() as i64 * 12 + b.month() as i64)
                        - (a.year() as i64 * 12 + a.month() as i64)
                }
                _ => (b.year() - a.year()) as i64,
            };
            anchored_add(h, first, idx.div_euclid(n) * n) as f64
        }
        None => ((x - h.offset) / h.interval).floor() * h.interval + h.offset,
        Some(Interval::Fixed(i)) => {
            let tz = tz_of(h);
            let ms = x as i64 - h.offset as i64;
            let off = fixed_offset_ms(tz, ms);
            ((ms + off).div_euclid(*i) * i - off + h.offset as i64) as f64
        }
        Some(Interval::Calendar(u)) => {
            let tz = tz_of(h);
            let ms = x as i64 - h.offset as i64;
            let l = local_of(tz, ms);
            let d = l.date();
            let start = match u {
                CalUnit::Minute => l
                    .with_second(0)
                    .and_then(|t| t.with_nanosecond(0))
                    .unwrap_or(l),
                CalUnit::Hour => l
                    .with_minute(0)
                    .and_then(|t| t.with_second(0))
                    .and_then(|t| t.with_nanosecond(0))
                    .unwrap_or(l),
                CalUnit::Day => d.and_hms_opt(0, 0, 0).unwrap_or(l),
                CalUnit::Week => {
                    (d - chrono::Duration::days(d.weekday().num_days_from_monday() as i64))
                        .and_hms_opt(0, 0, 0)
                        .unwrap_or(l)
                }
                CalUnit::Month => NaiveDate::from_ymd_opt(d.year(), d.month(), 1)
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .unwrap_or(l),
                CalUnit::Quarter => {
                    NaiveDate::from_ymd_opt(d.year(), (d.month() - 1) / 3 * 3 + 1, 1)
                        .and_then(|d| d.and_hms_opt(0, 0, 0))
                        .unwrap_or(l)
                }
                CalUnit::Year => NaiveDate::from_ymd_opt(d.year(), 1, 1)
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .unwrap_or(l),
            };
            let key = match u {
                // Sub-day units are exact durations in UTC (whole-hour zones).
                CalUnit::Minute | CalUnit::Hour => {
                    let unit = if *u == CalUnit::Minute {
                        60_000
                    } else {
                        3_600_000
                    };
                    ms - (ms + fixed_offset_ms(tz, ms)).rem_euclid(unit)
                }
                _ => utc_of(tz, start),
            };
            (key + h.offset as i64) as f64
        }
    }
}

/// `steps` local days / months / years (by the Anchored unit) after the local date of `from`, at
/// local midnight.
fn anchored_add(h: &Histo, from: i64, steps: i64) -> i64 {
    let tz = tz_of(h);
    let d = local_of(tz, from).date();
    let Some(Interval::Anchored { unit, .. }) = &h.date else {
        return from;
    };
    let moved = match unit {
        3 => d.checked_add_signed(chrono::Duration::days(steps)),
        4 => d.checked_add_months(chrono::Months::new(steps.max(0) as u32)),
        _ => d.checked_add_months(chrono::Months::new((steps.max(0) * 12) as u32)),
    }
    .unwrap_or(d);
    utc_of(tz, moved.and_hms_opt(0, 0, 0).unwrap_or_default())
}

/// The key after `key`.
pub fn next_key(h: &Histo, key: f64) -> f64 {
    match &h.date {
        Some(Interval::Anchored { unit, n, .. }) => {
            if *unit <= 2 {
                key + (n * AUTO_LADDER[*unit].2) as f64
            } else {
                anchored_add(h, key as i64, *n) as f64
            }
        }
        None => key + h.interval,
        Some(Interval::Fixed(i)) => round_key(h, key + *i as f64),
        Some(Interval::Calendar(u)) => {
            let tz = tz_of(h);
            let ms = key as i64 - h.offset as i64;
            let l = local_of(tz, ms);
            let next = match u {
                CalUnit::Minute => return round_key(h, key + 60_000.0),
                CalUnit::Hour => return round_key(h, key + 3_600_000.0),
                CalUnit::Day => l + chrono::Duration::days(1),
                CalUnit::Week => l + chrono::Duration::days(7),
                CalUnit::Month => l.checked_add_months(chrono::Months::new(1)).unwrap_or(l),
                CalUnit::Quarter => l.checked_add_months(chrono::Months::new(3)).unwrap_or(l),
                CalUnit::Year => l.checked_add_months(chrono::Months::new(12)).unwrap_or(l),
            };
            (utc_of(tz, next) + h.offset as i64) as f64
        }
    }
}
