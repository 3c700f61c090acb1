//! Elasticsearch date parsing, formatting and date math (work in progress).

use std::fmt;

/// Error raised when a date, a date format or a date-math expression is invalid.
#[derive(Debug, Clone, PartialEq)]
pub struct DateError(pub String);

impl fmt::Display for DateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DateError {}

pub fn parse_date(input: &str, format: &str) -> Result<i64, DateError> {
    Err(DateError(format!(
        "failed to parse date field [{input}] with format [{format}]"
    )))
}

pub fn parse_date_value(v: &serde_json::Value, format: &str) -> Result<i64, DateError> {
    match v {
        serde_json::Value::String(s) => parse_date(s, format),
        other => parse_date(&other.to_string(), format),
    }
}

pub fn parse_date_math(
    expr: &str,
    format: &str,
    _now_millis: i64,
    _round_up: bool,
    _tz: Option<&str>,
) -> Result<i64, DateError> {
    parse_date(expr, format)
}

pub fn format_date(nanos: i64, _format: &str, _tz: Option<&str>) -> String {
    nanos.div_euclid(1_000_000).to_string()
}

pub fn to_clickhouse_datetime64(nanos: i64, _precision: u8) -> Result<String, DateError> {
    Err(DateError(format!("unsupported {nanos}")))
}
