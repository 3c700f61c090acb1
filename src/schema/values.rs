//! Turning one JSON value into the value a field indexes, with Elasticsearch 8.x's coercion rules
//! and error messages:
//! - numbers: `NumberFieldMapper` (`value(XContentParser)`, `NumberType#parse`),
//!   `AbstractXContentParser#intValue/longValue/...` (`checkCoerceString`, `ensureNumberConversion`),
//!   `Numbers#toLong`; docs "coerce", "number";
//! - booleans: `BooleanFieldMapper`, `Booleans#parseBoolean` (only `true`, `false` and `""`);
//! - keyword-like: `KeywordFieldMapper` (numbers and booleans indexed as their JSON text, the
//!   32766-byte term limit), docs "ignore-above", "null-value";
//! - `ip`, `date`/`date_nanos` (via `schema::dates`), `scaled_float`, `half_float`, `geo_point`,
//!   `flattened`, `constant_keyword`.

use std::borrow::Cow;
use std::net::IpAddr;

use serde_json::Value;

use super::dates;
use super::json::{Kind, Loc, Node, NumberType, java_double, java_float, number_type, token_name};
use super::mapping::{FieldMapping, FieldType, iae, mpe};
use crate::error::EsError;

/// A value ready for a column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Parsed {
    Str(String),
    I64(i64),
    U64(u64),
    F64(f64),
    F32(f32),
    Bool(bool),
    /// Nanoseconds since the epoch, UTC (already truncated to milliseconds for `date`).
    Nanos(i64),
    Ip(IpAddr),
    Geo {
        lat: f64,
        lon: f64,
    },
    /// Flattened: (key path, value) pairs.
    Flat(Vec<(String, String)>),
}

/// What one value of one field gave.
#[derive(Debug, Default)]
pub(crate) struct Leaf {
    pub values: Vec<Parsed>,
    /// The field would be listed in `_ignored` (ignore_above exceeded, ignore_malformed used).
    pub ignored: bool,
}

/// Why a value was refused: the `caused_by` of Elasticsearch's "failed to parse field" error, and
/// whether `ignore_malformed` may swallow it (never for objects).
#[derive(Debug)]
pub(crate) struct Bad {
    pub cause: EsError,
    pub ignorable: bool,
}

fn bad(cause: EsError) -> Bad {
    Bad {
        cause,
        ignorable: true,
    }
}

fn nfe(input: &str) -> EsError {
    let reason = if input.trim().is_empty() {
        "empty String".to_string()
    } else {
        format!("For input string: \"{input}\"")
    };
    EsError::new(400, "number_format_exception", reason)
}

/// Jackson's parse errors reach the client as `x_content_parse_exception` with the position.
fn xcontent(loc: Loc, msg: &str) -> EsError {
    EsError::new(400, "x_content_parse_exception", format!("[{loc}] {msg}"))
        .caused_by(EsError::new(400, "json_parse_exception", msg))
}

fn not_numeric(node: &Node) -> Bad {
    bad(xcontent(
        node.start,
        &format!(
            "Current token ({}) not numeric, can not use numeric value accessors",
            token_name(node)
        ),
    ))
}

// ---------------------------------------------------------------------------------------------
// Java number parsing
// ---------------------------------------------------------------------------------------------

/// `Double.parseDouble`: surrounding whitespace (<= ' ') is ignored, `NaN`, `Infinity`, a trailing
/// `f`/`d` suffix and a leading `+` are accepted. (Hexadecimal floats are not supported here.)
pub(crate) fn java_parse_double(s: &str) -> Option<f64> {
    let t = s.trim_matches(|c: char| c <= ' ');
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let v = match body {
        "NaN" => f64::NAN,
        "Infinity" => f64::INFINITY,
        _ => {
            let body = body.strip_suffix(['f', 'F', 'd', 'D']).unwrap_or(body);
            if body.is_empty()
                || !body
                    .bytes()
                    .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
            {
                return None;
            }
            if !body.bytes().any(|b| b.is_ascii_digit()) || body.starts_with(['e', 'E']) {
                return None;
            }
            body.parse::<f64>().ok()?
        }
    };
    Some(if neg { -v } else { v })
}

/// `Long.parseLong`.
fn java_parse_long(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

/// A decimal as `new BigDecimal(s)` reads it, reduced to its integer part (truncated towards zero,
/// `None` when absurdly large) and whether a non-zero fraction was cut off.
struct Decimal {
    neg: bool,
    int: Option<i128>,
    has_fraction: bool,
}

fn java_big_decimal(s: &str) -> Option<Decimal> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (mant, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i64>().ok()?),
        None => (body, 0),
    };
    let (ip, fp) = mant.split_once('.').unwrap_or((mant, ""));
    if ip.is_empty() && fp.is_empty() {
        return None;
    }
    if !ip.bytes().chain(fp.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits: String = format!("{ip}{fp}");
    let point = ip.len() as i64 + exp; // digits before the decimal point
    let digits = digits.trim_start_matches('0');
    let lead_zeros = (ip.len() + fp.len()) as i64 - digits.len() as i64;
    let point = point - lead_zeros;
    let (int_digits, frac_digits) = if point <= 0 {
        ("", digits)
    } else if point as usize >= digits.len() {
        (digits, "")
    } else {
        (&digits[..point as usize], &digits[point as usize..])
    };
    let int = if int_digits.is_empty() {
        Some(0)
    } else if point > 38 {
        None
    } else {
        let zeros = (point as usize).saturating_sub(int_digits.len());
        format!("{int_digits}{}", "0".repeat(zeros))
            .parse::<i128>()
            .ok()
    };
    Some(Decimal {
        neg,
        int: int.map(|i| if neg { -i } else { i }),
        has_fraction: frac_digits.bytes().any(|b| b != b'0'),
    })
}

/// `Numbers.toLong(stringValue, coerce)`.
fn string_to_long(s: &str, coerce: bool) -> Result<i64, EsError> {
    if let Some(v) = java_parse_long(s) {
        return Ok(v);
    }
    let d = java_big_decimal(s).ok_or_else(|| iae(format!("For input string: \"{s}\"")))?;
    let _ = d.neg;
    match d.int {
        Some(i) if i >= i64::MIN as i128 && i <= i64::MAX as i128 => {
            if !coerce && d.has_fraction {
                return Err(iae(format!("Value [{s}] has a decimal part")));
            }
            Ok(i as i64)
        }
        _ => Err(iae(format!("Value [{s}] is out of range for a long"))),
    }
}

fn overflow(node: &Node, raw: &str, what: &str) -> Bad {
    let range = if what == "int" {
        "(-2147483648 - 2147483647)"
    } else {
        "(-9223372036854775808 - 9223372036854775807)"
    };
    bad(xcontent(
        node.start,
        &format!("Numeric value ({raw}) out of range of {what} {range}"),
    ))
}

/// `XContentParser#longValue(coerce)`.
fn long_value(node: &Node, coerce: bool) -> Result<i64, Bad> {
    match &node.kind {
        Kind::String(s) => {
            if !coerce {
                return Err(bad(iae("Long value passed as String")));
            }
            string_to_long(s, coerce).map_err(bad)
        }
        Kind::Number(raw) => match number_type(raw) {
            NumberType::Int | NumberType::Long => Ok(raw.parse().unwrap_or(0)),
            NumberType::BigInteger => Err(overflow(node, raw, "long")),
            NumberType::Double => {
                let d: f64 = raw.parse().unwrap_or(f64::NAN);
                if !(d >= i64::MIN as f64 && d <= i64::MAX as f64) {
                    return Err(overflow(node, raw, "long"));
                }
                let v = d as i64;
                if !coerce && v as f64 != d {
                    return Err(bad(iae(format!(
                        "{} cannot be converted to Long without data loss",
                        java_double(d)
                    ))));
                }
                Ok(v)
            }
        },
        _ => Err(not_numeric(node)),
    }
}

/// `XContentParser#intValue(coerce)`.
fn int_value(node: &Node, coerce: bool) -> Result<i32, Bad> {
    match &node.kind {
        Kind::String(s) => {
            if !coerce {
                return Err(bad(iae("Integer value passed as String")));
            }
            let d = java_parse_double(s).ok_or_else(|| bad(nfe(s)))?;
            if d < i32::MIN as f64 || d > i32::MAX as f64 {
                return Err(bad(iae(format!(
                    "Value [{s}] is out of range for an integer"
                ))));
            }
            Ok(if d.is_nan() { 0 } else { d as i32 })
        }
        Kind::Number(raw) => match number_type(raw) {
            NumberType::Int => Ok(raw.parse().unwrap_or(0)),
            NumberType::Long | NumberType::BigInteger => Err(overflow(node, raw, "int")),
            NumberType::Double => {
                let d: f64 = raw.parse().unwrap_or(f64::NAN);
                if !(d >= i32::MIN as f64 && d <= i32::MAX as f64) {
                    return Err(overflow(node, raw, "int"));
                }
                let v = d as i32;
                if !coerce && v as f64 != d {
                    return Err(bad(iae(format!(
                        "{} cannot be converted to Integer without data loss",
                        java_double(d)
                    ))));
                }
                Ok(v)
            }
        },
        _ => Err(not_numeric(node)),
    }
}

/// `XContentParser#doubleValue(coerce)`.
fn double_value(node: &Node, coerce: bool, class: &str) -> Result<f64, Bad> {
    match &node.kind {
        Kind::String(s) => {
            if !coerce {
                return Err(bad(iae(format!("{class} value passed as String"))));
            }
            java_parse_double(s).ok_or_else(|| bad(nfe(s)))
        }
        Kind::Number(raw) => Ok(raw.parse::<f64>().unwrap_or(f64::NAN)),
        _ => Err(not_numeric(node)),
    }
}

/// `float` as Lucene's `HalfFloatPoint` stores it (round to nearest, ties to even).
pub(crate) fn to_half_precision(f: f32) -> f32 {
    if !f.is_finite() || f == 0.0 {
        return f;
    }
    let a = f.abs() as f64;
    let exp = ((f.abs().to_bits() >> 23) & 0xff) as i32 - 127;
    let e = exp.max(-14);
    let quantum = 2f64.powi(e - 10);
    let r = (a / quantum).round_ties_even() * quantum;
    let r = if r > 65504.0 { f64::INFINITY } else { r };
    (if f < 0.0 { -r } else { r }) as f32
}

/// Java's `Math.round(double)`: floor(x + 0.5), saturating.
fn java_round(x: f64) -> i64 {
    (x + 0.5).floor() as i64
}

// ---------------------------------------------------------------------------------------------
// Per type
// ---------------------------------------------------------------------------------------------

/// The text Jackson gives a value token, or "Expected text at … but found START_OBJECT".
fn text_of(node: &Node) -> Result<String, Bad> {
    text_ref(node).map(Cow::into_owned)
}

/// [`text_of`] without copying strings and numbers.
fn text_ref(node: &Node) -> Result<Cow<'_, str>, Bad> {
    match &node.kind {
        Kind::String(s) => Ok(Cow::Borrowed(s)),
        Kind::Number(raw) => Ok(Cow::Borrowed(raw)),
        Kind::Bool(b) => Ok(Cow::Owned(b.to_string())),
        _ => Err(Bad {
            cause: iae(format!(
                "Expected text at {} but found {}",
                node.start,
                token_name(node)
            )),
            ignorable: false,
        }),
    }
}

/// The node a `null_value` stands for.
fn null_value_node(v: &Value, at: &Node) -> Node {
    let kind = match v {
        Value::String(s) => Kind::String(s.clone()),
        Value::Number(n) => Kind::Number(n.to_string()),
        Value::Bool(b) => Kind::Bool(*b),
        Value::Array(a) => Kind::Array(a.iter().map(|x| null_value_node(x, at)).collect()),
        Value::Object(m) => Kind::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), at.start, null_value_node(x, at)))
                .collect(),
        ),
        Value::Null => Kind::Null,
    };
    Node {
        kind,
        start: at.start,
        end: at.end,
    }
}

/// Parses one value (never an array, except for `geo_point`) for field `f` at `path`. A JSON null
/// gives the field's `null_value`, if any.
pub(crate) fn parse_leaf(f: &FieldMapping, path: &str, node: &Node) -> Result<Leaf, Bad> {
    if matches!(node.kind, Kind::Null) {
        return match &f.null_value {
            Some(nv) => parse_leaf(f, path, &null_value_node(nv, node)),
            None => Ok(Leaf::default()),
        };
    }
    let result = parse_non_null(f, path, node);
    match result {
        Err(b) if b.ignorable && f.ignore_malformed() && supports_ignore_malformed(&f.ty) => {
            Ok(Leaf {
                values: vec![],
                ignored: true,
            })
        }
        other => other,
    }
}

fn supports_ignore_malformed(ty: &FieldType) -> bool {
    matches!(
        ty,
        FieldType::Long
            | FieldType::Integer
            | FieldType::Short
            | FieldType::Byte
            | FieldType::UnsignedLong
            | FieldType::Double
            | FieldType::Float
            | FieldType::HalfFloat
            | FieldType::ScaledFloat { .. }
            | FieldType::Boolean
            | FieldType::Date { .. }
            | FieldType::DateNanos { .. }
            | FieldType::Ip
            | FieldType::GeoPoint
    )
}

fn one(p: Parsed) -> Result<Leaf, Bad> {
    Ok(Leaf {
        values: vec![p],
        ignored: false,
    })
}

fn parse_non_null(f: &FieldMapping, path: &str, node: &Node) -> Result<Leaf, Bad> {
    let coerce = f.coerce();
    let empty_string = matches!(&node.kind, Kind::String(s) if s.is_empty());
    let is_object = matches!(node.kind, Kind::Object(_));
    let number_null = |f: &FieldMapping| -> Result<Leaf, Bad> {
        match &f.null_value {
            Some(nv) => parse_non_null(f, path, &null_value_node(nv, node)),
            None => Ok(Leaf::default()),
        }
    };
    match &f.ty {
        FieldType::Long | FieldType::Integer | FieldType::Short | FieldType::Byte => {
            if coerce && empty_string {
                return number_null(f);
            }
            if is_object {
                return Err(Bad {
                    cause: iae("Cannot parse object as number"),
                    ignorable: false,
                });
            }
            let v: i64 = match f.ty {
                FieldType::Long => long_value(node, coerce)?,
                _ => {
                    let i = int_value(node, coerce)?;
                    let (lo, hi, what) = match f.ty {
                        FieldType::Short => (i16::MIN as i32, i16::MAX as i32, "a short"),
                        FieldType::Byte => (i8::MIN as i32, i8::MAX as i32, "a byte"),
                        _ => (i32::MIN, i32::MAX, "an integer"),
                    };
                    if i < lo || i > hi {
                        return Err(bad(iae(format!("Value [{i}] is out of range for {what}"))));
                    }
                    i as i64
                }
            };
            one(Parsed::I64(v))
        }
        FieldType::UnsignedLong => {
            if empty_string {
                return number_null(f);
            }
            if is_object {
                return Err(Bad {
                    cause: iae("Cannot parse object as number"),
                    ignorable: false,
                });
            }
            let text = match &node.kind {
                Kind::String(s) => s.clone(),
                Kind::Number(raw) => raw.clone(),
                _ => return Err(not_numeric(node)),
            };
            let d = java_big_decimal(&text).ok_or_else(|| bad(nfe(&text)))?;
            match d.int {
                Some(i) if (0..=u64::MAX as i128).contains(&i) => one(Parsed::U64(i as u64)),
                _ => Err(bad(iae(format!(
                    "Value [{text}] is out of range for unsigned_long"
                )))),
            }
        }
        FieldType::Double | FieldType::Float | FieldType::HalfFloat => {
            if coerce && empty_string {
                return number_null(f);
            }
            if is_object {
                return Err(Bad {
                    cause: iae("Cannot parse object as number"),
                    ignorable: false,
                });
            }
            let class = if matches!(f.ty, FieldType::Double) {
                "Double"
            } else {
                "Float"
            };
            let d = double_value(node, coerce, class)?;
            match f.ty {
                FieldType::Double => {
                    if !d.is_finite() {
                        return Err(bad(iae(format!(
                            "[double] supports only finite values, but got [{}]",
                            java_double(d)
                        ))));
                    }
                    one(Parsed::F64(d))
                }
                FieldType::Float => {
                    let v = d as f32;
                    if !v.is_finite() {
                        return Err(bad(iae(format!(
                            "[float] supports only finite values, but got [{}]",
                            java_float(v)
                        ))));
                    }
                    one(Parsed::F32(v))
                }
                _ => {
                    let v = d as f32;
                    let h = to_half_precision(v);
                    if !h.is_finite() {
                        return Err(bad(iae(format!(
                            "[half_float] supports only finite values, but got [{}]",
                            java_float(v)
                        ))));
                    }
                    one(Parsed::F32(h))
                }
            }
        }
        FieldType::ScaledFloat { scaling_factor } => {
            if coerce && empty_string {
                return number_null(f);
            }
            let d = double_value(node, coerce, "Double")?;
            if !d.is_finite() {
                return Err(bad(iae(format!(
                    "[scaled_float] only supports finite values, but got [{}]",
                    java_double(d)
                ))));
            }
            // Doc values hold round(v * factor); searches and aggregations see that divided back.
            let scaled = java_round(d * scaling_factor);
            one(Parsed::F64(scaled as f64 / scaling_factor))
        }
        FieldType::Boolean => match &node.kind {
            Kind::Bool(b) => one(Parsed::Bool(*b)),
            Kind::String(s) => match s.as_str() {
                "true" => one(Parsed::Bool(true)),
                "false" | "" => one(Parsed::Bool(false)),
                other => Err(bad(iae(format!(
                    "Failed to parse value [{other}] as only [true] or [false] are allowed."
                )))),
            },
            _ => Err(bad(xcontent(
                node.start,
                &format!("Current token ({}) not of boolean type", token_name(node)),
            ))),
        },
        FieldType::Keyword | FieldType::Wildcard => {
            let text = text_of(node)?;
            let limit = f.ignore_above.unwrap_or(i64::from(i32::MAX));
            // A string has at most as many UTF-16 units as bytes: count them only when it matters.
            if text.len() as i64 > limit && text.encode_utf16().count() as i64 > limit {
                // Not indexed by Elasticsearch (listed in _ignored) but still in _source: the column
                // keeps it and the query side applies ignore_above.
                return Ok(Leaf {
                    values: vec![Parsed::Str(text)],
                    ignored: true,
                });
            }
            if matches!(f.ty, FieldType::Keyword) && text.len() > 32766 {
                let prefix: Vec<String> = text.as_bytes()[..30]
                    .iter()
                    .map(|b| (*b as i8).to_string())
                    .collect();
                return Err(Bad {
                    cause: iae(format!(
                        "Document contains at least one immense term in field=\"{path}\" (whose UTF8 encoding is longer than the max length 32766), all of which were skipped. Please correct the analyzer to not produce such terms. The prefix of the first immense term is: '[{}]...'",
                        prefix.join(", ")
                    )),
                    ignorable: false,
                });
            }
            one(Parsed::Str(text))
        }
        FieldType::Text | FieldType::MatchOnlyText => one(Parsed::Str(text_of(node)?)),
        FieldType::ConstantKeyword { value } => {
            let text = text_of(node)?;
            match value {
                Some(v) if *v != text => Err(Bad {
                    cause: iae(format!(
                        "[{path}] field only accepts values that are equal to the value defined in the mappings [{v}], but got [{text}]"
                    )),
                    ignorable: false,
                }),
                _ => one(Parsed::Str(text)),
            }
        }
        FieldType::Ip => {
            let text = text_ref(node)?;
            match parse_ip(&text) {
                Some(ip) => one(Parsed::Ip(ip)),
                None => Err(bad(iae(format!("'{text}' is not an IP string literal.")))),
            }
        }
        FieldType::Date { .. } | FieldType::DateNanos { .. } => {
            let text = text_ref(node)?;
            let format = f.ty.date_format().unwrap_or_default();
            let nanos = dates::parse_date(&text, format).map_err(|e| bad(iae(e.to_string())))?;
            if matches!(f.ty, FieldType::DateNanos { .. }) {
                if nanos < 0 {
                    return Err(bad(iae(format!(
                        "date[{}] is before the epoch in 1970 and cannot be stored in nanosecond resolution",
                        iso_instant(nanos)
                    ))));
                }
                check_clickhouse_range(nanos)?;
                one(Parsed::Nanos(nanos))
            } else {
                let millis_floor = nanos.div_euclid(1_000_000) * 1_000_000;
                check_clickhouse_range(millis_floor)?;
                one(Parsed::Nanos(millis_floor))
            }
        }
        FieldType::GeoPoint => parse_geo_points(f, node),
        FieldType::Flattened => {
            let Kind::Object(_) = node.kind else {
                return Err(Bad {
                    cause: EsError::new(
                        400,
                        "parsing_exception",
                        format!(
                            "Failed to parse object: expecting token of type [START_OBJECT] but found [{}]",
                            token_name(node)
                        ),
                    ),
                    ignorable: false,
                });
            };
            let depth_limit = f
                .other
                .get("depth_limit")
                .and_then(Value::as_i64)
                .unwrap_or(20);
            let mut pairs = Vec::new();
            flatten(node, "", 0, depth_limit, path, &mut pairs)?;
            if pairs.is_empty() {
                return Ok(Leaf::default());
            }
            one(Parsed::Flat(pairs))
        }
        FieldType::Object(_) | FieldType::Nested(_) | FieldType::Alias { .. } => {
            Ok(Leaf::default())
        }
    }
}

/// ClickHouse's `DateTime64` holds 1900-01-01 .. 2299-12-31; Elasticsearch accepts a much wider
/// range. Values outside are refused rather than silently clamped by ClickHouse.
fn check_clickhouse_range(nanos: i64) -> Result<(), Bad> {
    const MIN: i64 = -2_208_988_800; // 1900-01-01T00:00:00Z in seconds
    const MAX: i64 = 10_413_791_999; // 2299-12-31T23:59:59Z in seconds
    let secs = nanos.div_euclid(1_000_000_000);
    if !(MIN..=MAX).contains(&secs) {
        return Err(bad(EsError::unsupported(format!(
            "dates outside 1900-01-01..2299-12-31 (got [{}])",
            iso_instant(nanos)
        ))));
    }
    Ok(())
}

fn iso_instant(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let sub = nanos.rem_euclid(1_000_000_000) as u32;
    match chrono::DateTime::from_timestamp(secs, sub) {
        Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        None => nanos.to_string(),
    }
}

/// `InetAddresses.forString`, with IPv4-mapped IPv6 addresses treated as the IPv4 address.
pub(crate) fn parse_ip(s: &str) -> Option<IpAddr> {
    let ip: IpAddr = s.parse().ok()?;
    Some(match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    })
}

fn flatten(
    node: &Node,
    prefix: &str,
    depth: i64,
    limit: i64,
    path: &str,
    out: &mut Vec<(String, String)>,
) -> Result<(), Bad> {
    match &node.kind {
        Kind::Object(fields) => {
            if depth + 1 > limit {
                return Err(Bad {
                    cause: iae(format!(
                        "The provided [flattened] field [{path}] exceeds the maximum depth limit of [{limit}]."
                    )),
                    ignorable: false,
                });
            }
            for (k, _, v) in fields {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(v, &key, depth + 1, limit, path, out)?;
            }
        }
        Kind::Array(items) => {
            for i in items {
                flatten(i, prefix, depth, limit, path, out)?;
            }
        }
        Kind::Null => {}
        _ => {
            if let Some(t) = super::json::scalar_text(node) {
                out.push((prefix.to_string(), t));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// geo_point
// ---------------------------------------------------------------------------------------------

fn geo_err(msg: impl Into<String>) -> Bad {
    bad(EsError::new(400, "parse_exception", msg))
}

fn parse_geo_points(f: &FieldMapping, node: &Node) -> Result<Leaf, Bad> {
    let ignore_z = f
        .other
        .get("ignore_z_value")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let mut points = Vec::new();
    match &node.kind {
        Kind::Array(items)
            if items
                .first()
                .is_some_and(|i| matches!(i.kind, Kind::Number(_))) =>
        {
            points.push(geo_from_coordinates(items, ignore_z)?);
        }
        Kind::Array(items) => {
            for item in items {
                match &item.kind {
                    Kind::Null => {
                        if let Some(nv) = &f.null_value {
                            points.push(geo_single(&null_value_node(nv, item), ignore_z)?);
                        }
                    }
                    _ => points.push(geo_single(item, ignore_z)?),
                }
            }
        }
        _ => points.push(geo_single(node, ignore_z)?),
    }
    for (lat, lon) in &points {
        if !(-90.0..=90.0).contains(lat) {
            return Err(geo_err(format!(
                "illegal latitude value [{}] for {}",
                java_double(*lat),
                "geo_point"
            )));
        }
        if !(-180.0..=180.0).contains(lon) {
            return Err(geo_err(format!(
                "illegal longitude value [{}] for {}",
                java_double(*lon),
                "geo_point"
            )));
        }
    }
    Ok(Leaf {
        values: points
            .into_iter()
            .map(|(lat, lon)| Parsed::Geo { lat, lon })
            .collect(),
        ignored: false,
    })
}

fn geo_number(n: &Node, what: &str) -> Result<f64, Bad> {
    match &n.kind {
        Kind::Number(raw) => Ok(raw.parse().unwrap_or(f64::NAN)),
        Kind::String(s) => java_parse_double(s)
            .ok_or_else(|| geo_err(format!("[{what}] must be a valid double value"))),
        _ => Err(geo_err(format!("[{what}] must be a number"))),
    }
}

fn geo_from_coordinates(items: &[Node], ignore_z: bool) -> Result<(f64, f64), Bad> {
    let mut nums = Vec::new();
    for i in items {
        match &i.kind {
            Kind::Number(raw) => nums.push(raw.parse::<f64>().unwrap_or(f64::NAN)),
            _ => return Err(geo_err("numeric value expected")),
        }
    }
    match nums.len() {
        0 | 1 => Err(geo_err("geo_point expected")),
        2 => Ok((nums[1], nums[0])),
        3 if ignore_z => Ok((nums[1], nums[0])),
        3 => Err(geo_err(format!(
            "Exception parsing coordinates: found Z value [{}] but [ignore_z_value] parameter is [false]",
            java_double(nums[2])
        ))),
        _ => Err(geo_err(
            "[geo_point] field type does not accept > 3 dimensions",
        )),
    }
}

fn geo_single(node: &Node, ignore_z: bool) -> Result<(f64, f64), Bad> {
    match &node.kind {
        Kind::Object(fields) => {
            let get = |k: &str| fields.iter().find(|(n, _, _)| n == k).map(|(_, _, v)| v);
            if let Some(t) = get("type") {
                if !matches!(&t.kind, Kind::String(s) if s.eq_ignore_ascii_case("point")) {
                    return Err(geo_err("[type] for geo_point can only be 'Point'"));
                }
                let Some(Node {
                    kind: Kind::Array(c),
                    ..
                }) = get("coordinates")
                else {
                    return Err(geo_err("[coordinates] must be specified"));
                };
                return geo_from_coordinates(c, ignore_z);
            }
            for (k, _, _) in fields {
                if !matches!(k.as_str(), "lat" | "lon" | "z" | "geohash") {
                    return Err(geo_err(
                        "field must be either [lat], [lon], [z], [type] or [coordinates]",
                    ));
                }
            }
            if let Some(Node {
                kind: Kind::String(h),
                ..
            }) = get("geohash")
            {
                return decode_geohash(h)
                    .ok_or_else(|| geo_err(format!("unsupported symbol in geohash [{h}]")));
            }
            let lat = get("lat").ok_or_else(|| geo_err("field [lat] missing"))?;
            let lon = get("lon").ok_or_else(|| geo_err("field [lon] missing"))?;
            Ok((geo_number(lat, "lat")?, geo_number(lon, "lon")?))
        }
        Kind::String(s) => {
            let t = s.trim();
            if t.to_ascii_uppercase().starts_with("POINT") {
                let inner = t.find('(').and_then(|a| t.rfind(')').map(|b| &t[a + 1..b]));
                let nums: Vec<f64> = inner
                    .map(|i| {
                        i.split_whitespace()
                            .filter_map(|x| x.parse().ok())
                            .collect()
                    })
                    .unwrap_or_default();
                return match nums.len() {
                    2 => Ok((nums[1], nums[0])),
                    3 if ignore_z => Ok((nums[1], nums[0])),
                    _ => Err(geo_err(format!("Unable to parse WKT point [{s}]"))),
                };
            }
            let parts: Vec<&str> = t.split(',').collect();
            if parts.len() == 2 || parts.len() == 3 {
                let lat = java_parse_double(parts[0].trim()).ok_or_else(|| {
                    geo_err(format!(
                        "latitude must be a number, got [{}]",
                        parts[0].trim()
                    ))
                })?;
                let lon = java_parse_double(parts[1].trim()).ok_or_else(|| {
                    geo_err(format!(
                        "longitude must be a number, got [{}]",
                        parts[1].trim()
                    ))
                })?;
                if parts.len() == 3 && !ignore_z {
                    return Err(geo_err(
                        "found Z value but [ignore_z_value] parameter is [false]",
                    ));
                }
                return Ok((lat, lon));
            }
            decode_geohash(t).ok_or_else(|| geo_err(format!("unsupported symbol in geohash [{t}]")))
        }
        Kind::Array(items) => geo_from_coordinates(items, ignore_z),
        _ => Err(geo_err("geo_point expected")),
    }
}

/// The centre of a geohash cell.
fn decode_geohash(h: &str) -> Option<(f64, f64)> {
    const BASE32: &[u8] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    if h.is_empty() || h.len() > 12 {
        return None;
    }
    let (mut lat, mut lon) = ((-90.0f64, 90.0f64), (-180.0f64, 180.0f64));
    let mut even = true;
    for c in h.bytes() {
        let idx = BASE32.iter().position(|&b| b == c.to_ascii_lowercase())?;
        for bit in (0..5).rev() {
            let on = (idx >> bit) & 1 == 1;
            let range = if even { &mut lon } else { &mut lat };
            let mid = (range.0 + range.1) / 2.0;
            if on {
                range.0 = mid;
            } else {
                range.1 = mid;
            }
            even = !even;
        }
    }
    Some(((lat.0 + lat.1) / 2.0, (lon.0 + lon.1) / 2.0))
}

// ---------------------------------------------------------------------------------------------
// null_value in mappings
// ---------------------------------------------------------------------------------------------

/// Validates and normalises a `null_value` for a field of type `ty` (mapping time).
pub(crate) fn parse_null_value(ty: &FieldType, name: &str, v: &Value) -> Result<Value, EsError> {
    let node = null_value_node(
        v,
        &Node {
            kind: Kind::Null,
            start: Loc::default(),
            end: Loc::default(),
        },
    );
    let mut f = FieldMapping::new(ty.clone());
    f.coerce = Some(true);
    match ty {
        FieldType::Boolean => Ok(Value::Bool(super::mapping::node_bool(v)?)),
        FieldType::GeoPoint => {
            parse_non_null(&f, name, &node).map_err(|b| b.cause)?;
            Ok(v.clone())
        }
        FieldType::Ip => {
            let s = super::json::java_value(v);
            if parse_ip(&s).is_none() {
                return Err(mpe(format!(
                    "Error parsing [null_value] on field [{name}]: '{s}' is not an IP string literal."
                )));
            }
            Ok(Value::String(s))
        }
        FieldType::Long
        | FieldType::Integer
        | FieldType::Short
        | FieldType::Byte
        | FieldType::UnsignedLong
        | FieldType::Double
        | FieldType::Float
        | FieldType::HalfFloat
        | FieldType::ScaledFloat { .. } => {
            if let FieldType::ScaledFloat { .. } = ty {
                f.ty = FieldType::Double;
            }
            let leaf = parse_non_null(&f, name, &node).map_err(|b| b.cause)?;
            Ok(match leaf.values.first() {
                Some(Parsed::I64(i)) => Value::from(*i),
                Some(Parsed::U64(u)) => Value::from(*u),
                Some(Parsed::F64(d)) => serde_json::Number::from_f64(*d)
                    .map(Value::Number)
                    .unwrap_or(Value::Null),
                Some(Parsed::F32(x)) => float_json(*x),
                _ => Value::Null,
            })
        }
        _ => Ok(Value::String(super::json::java_value(v))),
    }
}

/// A float as JSON with its shortest decimal form (0.1f32 → 0.1, not 0.10000000149011612).
pub(crate) fn float_json(x: f32) -> Value {
    use std::fmt::Write;
    // The float's shortest decimal spelling read as a double (what a client sending that text
    // would store), formatted on the stack.
    let mut buf = StackText::default();
    let shortest: f64 = match write!(buf, "{x}") {
        Ok(()) => buf.as_str().parse().unwrap_or(x as f64),
        Err(_) => format!("{x}").parse().unwrap_or(x as f64),
    };
    serde_json::Number::from_f64(shortest)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// A short text built on the stack (writing more than it holds fails).
struct StackText {
    buf: [u8; 64],
    len: usize,
}

impl Default for StackText {
    fn default() -> Self {
        StackText {
            buf: [0; 64],
            len: 0,
        }
    }
}

impl StackText {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::json::parse;

    fn field(ty: FieldType) -> FieldMapping {
        FieldMapping::new(ty)
    }

    fn val(src: &str) -> Node {
        parse(src.as_bytes()).unwrap()
    }

    fn ok(f: &FieldMapping, src: &str) -> Vec<Parsed> {
        parse_leaf(f, "f", &val(src)).unwrap().values
    }

    fn err(f: &FieldMapping, src: &str) -> EsError {
        parse_leaf(f, "f", &val(src)).unwrap_err().cause
    }

    #[test]
    fn long_coercion() {
        // docs "coerce": strings are parsed, fractions truncated.
        let f = field(FieldType::Long);
        assert_eq!(ok(&f, "\"10\""), vec![Parsed::I64(10)]);
        assert_eq!(ok(&f, "10.9"), vec![Parsed::I64(10)]);
        assert_eq!(ok(&f, "\"10.9\""), vec![Parsed::I64(10)]);
        assert_eq!(ok(&f, "\"1e3\""), vec![Parsed::I64(1000)]);
        assert_eq!(ok(&f, "\"\""), vec![]);
        // Numbers#toLong
        let e = err(&f, "\"abc\"");
        assert_eq!(
            (e.kind.as_str(), e.reason.as_str()),
            ("illegal_argument_exception", "For input string: \"abc\"")
        );
        assert_eq!(
            err(&f, "\"9223372036854775808\"").reason,
            "Value [9223372036854775808] is out of range for a long"
        );
        assert_eq!(
            err(&f, "9223372036854775808").reason,
            "[1:1] Numeric value (9223372036854775808) out of range of long (-9223372036854775808 - 9223372036854775807)"
        );
        assert_eq!(
            err(&f, "true").reason,
            "[1:1] Current token (VALUE_TRUE) not numeric, can not use numeric value accessors"
        );
        assert_eq!(err(&f, "{}").reason, "Cannot parse object as number");
        let mut strict = field(FieldType::Long);
        strict.coerce = Some(false);
        assert_eq!(err(&strict, "\"10\"").reason, "Long value passed as String");
        assert_eq!(
            err(&strict, "10.5").reason,
            "10.5 cannot be converted to Long without data loss"
        );
    }

    #[test]
    fn integer_types() {
        let f = field(FieldType::Integer);
        assert_eq!(ok(&f, "\" 42 \""), vec![Parsed::I64(42)]);
        assert_eq!(
            err(&f, "\"3000000000\"").reason,
            "Value [3000000000] is out of range for an integer"
        );
        assert_eq!(
            err(&f, "3000000000").reason,
            "[1:1] Numeric value (3000000000) out of range of int (-2147483648 - 2147483647)"
        );
        let e = err(&f, "\"x\"");
        assert_eq!(
            (e.kind.as_str(), e.reason.as_str()),
            ("number_format_exception", "For input string: \"x\"")
        );
        assert_eq!(
            err(&field(FieldType::Short), "40000").reason,
            "Value [40000] is out of range for a short"
        );
        assert_eq!(
            err(&field(FieldType::Byte), "\"128\"").reason,
            "Value [128] is out of range for a byte"
        );
        assert_eq!(ok(&field(FieldType::Byte), "-128"), vec![Parsed::I64(-128)]);
    }

    #[test]
    fn floats() {
        assert_eq!(
            ok(&field(FieldType::Double), "\"1.5\""),
            vec![Parsed::F64(1.5)]
        );
        let e = err(&field(FieldType::Double), "\"不是数字\"");
        // As Elasticsearch 8 reports it in a bulk item.
        assert_eq!(
            (e.kind.as_str(), e.reason.as_str()),
            ("number_format_exception", "For input string: \"不是数字\"")
        );
        assert_eq!(
            err(&field(FieldType::Double), "\"NaN\"").reason,
            "[double] supports only finite values, but got [NaN]"
        );
        assert_eq!(
            err(&field(FieldType::Float), "1e40").reason,
            "[float] supports only finite values, but got [Infinity]"
        );
        assert_eq!(
            ok(&field(FieldType::HalfFloat), "0.1"),
            vec![Parsed::F32(0.099975586)]
        );
        assert_eq!(
            err(&field(FieldType::HalfFloat), "70000").reason,
            "[half_float] supports only finite values, but got [70000.0]"
        );
        // scaled_float keeps what doc values see: round(v * factor) / factor.
        let f = field(FieldType::ScaledFloat {
            scaling_factor: 100.0,
        });
        assert_eq!(ok(&f, "1.234"), vec![Parsed::F64(1.23)]);
        assert_eq!(ok(&f, "1.235"), vec![Parsed::F64(1.24)]);
    }

    #[test]
    fn booleans_as_es8() {
        // BooleanFieldMapper: only true/false (and "" → false) since 6.0.
        let f = field(FieldType::Boolean);
        assert_eq!(ok(&f, "\"true\""), vec![Parsed::Bool(true)]);
        assert_eq!(ok(&f, "\"\""), vec![Parsed::Bool(false)]);
        assert_eq!(
            err(&f, "\"off\"").reason,
            "Failed to parse value [off] as only [true] or [false] are allowed."
        );
        assert_eq!(
            err(&f, "1").reason,
            "[1:1] Current token (VALUE_NUMBER_INT) not of boolean type"
        );
    }

    #[test]
    fn keyword_text() {
        let f = field(FieldType::Keyword);
        assert_eq!(ok(&f, "1.50"), vec![Parsed::Str("1.50".into())]);
        assert_eq!(ok(&f, "false"), vec![Parsed::Str("false".into())]);
        let e = parse_leaf(&f, "f", &val("{\"a\":1}")).unwrap_err();
        assert_eq!(
            e.cause.reason,
            "Expected text at 1:1 but found START_OBJECT"
        );
        let mut f = field(FieldType::Keyword);
        f.ignore_above = Some(3);
        let leaf = parse_leaf(&f, "f", &val("\"abcd\"")).unwrap();
        assert!(leaf.ignored);
        f.null_value = Some(Value::String("NULL".into()));
        assert_eq!(ok(&f, "null"), vec![Parsed::Str("NULL".into())]);
        let long = format!("\"{}\"", "a".repeat(40000));
        let e = err(&field(FieldType::Keyword), &long);
        assert!(
            e.reason
                .starts_with("Document contains at least one immense term in field=\"f\""),
            "{}",
            e.reason
        );
        assert!(e.reason.ends_with("[97, 97, 97, 97, 97, 97, 97, 97, 97, 97, 97, 97, 97, 97, 97, 97, 97, 97, 97, 97, 97, 97, 97, 97, 97, 97, 97, 97, 97, 97]...'"));
    }

    #[test]
    fn ips() {
        let f = field(FieldType::Ip);
        assert_eq!(
            ok(&f, "\"::ffff:1.2.3.4\""),
            vec![Parsed::Ip("1.2.3.4".parse().unwrap())]
        );
        assert_eq!(
            err(&f, "\"1.2.3\"").reason,
            "'1.2.3' is not an IP string literal."
        );
    }

    #[test]
    fn geo_points() {
        // docs "geo-point": object, string, geohash, array, WKT.
        let f = field(FieldType::GeoPoint);
        let g = |lat, lon| Parsed::Geo { lat, lon };
        assert_eq!(
            ok(&f, r#"{"lat": 41.12, "lon": -71.34}"#),
            vec![g(41.12, -71.34)]
        );
        assert_eq!(ok(&f, r#""41.12,-71.34""#), vec![g(41.12, -71.34)]);
        assert_eq!(ok(&f, "[-71.34, 41.12]"), vec![g(41.12, -71.34)]);
        assert_eq!(ok(&f, r#""POINT (-71.34 41.12)""#), vec![g(41.12, -71.34)]);
        assert_eq!(
            ok(&f, r#"[{"lat": 1, "lon": 2}, "3,4"]"#),
            vec![g(1.0, 2.0), g(3.0, 4.0)]
        );
        let Parsed::Geo { lat, lon } = ok(&f, r#""drm3btev3e86""#)[0] else {
            panic!()
        };
        assert!((lat - 41.12).abs() < 1e-4 && (lon + 71.34).abs() < 1e-4);
        assert!(parse_leaf(&f, "f", &val("\"91,0\"")).is_err());
    }

    #[test]
    fn flattened_pairs() {
        let f = field(FieldType::Flattened);
        assert_eq!(
            ok(
                &f,
                r#"{"priority": "urgent", "release": ["v1.2.5", "v1.3.0"], "timestamp": {"created": 1541458026}}"#
            ),
            vec![Parsed::Flat(vec![
                ("priority".into(), "urgent".into()),
                ("release".into(), "v1.2.5".into()),
                ("release".into(), "v1.3.0".into()),
                ("timestamp.created".into(), "1541458026".into()),
            ])]
        );
        assert_eq!(
            err(&f, "\"x\"").reason,
            "Failed to parse object: expecting token of type [START_OBJECT] but found [VALUE_STRING]"
        );
    }

    #[test]
    fn ignore_malformed() {
        // docs "ignore-malformed": malformed values are dropped, objects are still refused.
        let mut f = field(FieldType::Integer);
        f.ignore_malformed = Some(true);
        let leaf = parse_leaf(&f, "f", &val("\"foo\"")).unwrap();
        assert!(leaf.values.is_empty() && leaf.ignored);
        assert!(parse_leaf(&f, "f", &val("{\"a\": 1}")).is_err());
    }

    #[test]
    fn java_double_parsing() {
        assert_eq!(java_parse_double(" 1.5 "), Some(1.5));
        assert_eq!(java_parse_double("1f"), Some(1.0));
        assert!(java_parse_double("NaN").unwrap().is_nan());
        assert_eq!(java_parse_double("-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(java_parse_double("1e"), None);
        assert_eq!(java_parse_double("abc"), None);
        assert_eq!(java_parse_double(""), None);
    }
}
