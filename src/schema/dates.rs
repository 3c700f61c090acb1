//! Elasticsearch-compatible date handling: parsing with named and custom formats, printing,
//! date math (`now-1d/d`, `2024-01-01||+1M`) and conversion to ClickHouse `DateTime64` literals.
//!
//! Instants are carried as `i64` nanoseconds since the Unix epoch (UTC), which covers
//! 1677-09-21 .. 2262-04-11.
//!
//! Behaviour references (Elasticsearch sources and docs):
//! * `server/src/main/java/org/elasticsearch/common/time/DateFormatters.java` (named formats:
//!   which parts are optional, field widths, what the printers emit),
//! * `.../common/time/EpochTime.java` (`epoch_millis` / `epoch_second`),
//! * `.../common/time/JavaDateMathParser.java` (date math, rounding, round-up parsing),
//! * docs "mapping-date-format" (built-in formats), "common-options" (date math) and
//!   "query-dsl-range-query" (rounding rules and missing date components).
//!
//! Custom `java.time` pattern letters understood by the compiler: `y`/`u` (`yy` = 2000..2099),
//! `M`/`L` (`MMM` / `MMMM` English names), `d`, `D`, `H`, `h` + `a`, `m`, `s`, `S`..`SSSSSSSSS`
//! (fixed-width fraction), `E` (`EEE` / `EEEE`), offsets `Z`/`ZZZZZ`, `X`..`XXX`, `x`..`xxx`, zone
//! ids `VV` (and `z`, printed as the region id), `'quoted'` literals, `[optional]` sections; any
//! other non-letter is a literal. Week-based (`Y`, `w`, `e`), quarter, era and other letters are
//! rejected. Month/day names are matched ignoring ASCII case and offsets are parsed leniently
//! (`Z`, `+01`, `+0100`, `+01:00` whatever the pattern letter asked for).

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Timelike,
};
use chrono_tz::Tz;
use std::fmt;
use std::fmt::Write as _;
use std::str::FromStr;

/// Format used by Elasticsearch for `date` fields when the mapping names none.
pub const DEFAULT_DATE_FORMAT: &str = "strict_date_optional_time||epoch_millis";

const NANOS_PER_MILLI: i64 = 1_000_000;
const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// Error raised when a date, a date format or a date-math expression is invalid.
#[derive(Debug, Clone, PartialEq)]
pub struct DateError(pub String);

impl fmt::Display for DateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DateError {}

fn err<T>(msg: impl Into<String>) -> Result<T, DateError> {
    Err(DateError(msg.into()))
}

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/// Parses `input` with `format` (which may list `||`-separated alternatives, tried in order) and
/// returns nanoseconds since the epoch. Dates without an explicit zone are taken as UTC.
pub fn parse_date(input: &str, format: &str) -> Result<i64, DateError> {
    parse_with(input, format, Zone::UTC, false)
}

/// Parses a JSON value of a document or query. Like Elasticsearch, numbers are handled through
/// their textual form, so `1700000000000` goes through the format list (and normally lands on
/// `epoch_millis`) while strings go straight to [`parse_date`].
pub fn parse_date_value(v: &serde_json::Value, format: &str) -> Result<i64, DateError> {
    match v {
        serde_json::Value::String(s) => parse_date(s, format),
        serde_json::Value::Number(n) => {
            let text = if let Some(i) = n.as_i64() {
                i.to_string()
            } else if let Some(u) = n.as_u64() {
                u.to_string()
            } else {
                // Rust prints floats without exponent, which the epoch parsers accept.
                n.as_f64().map(|f| f.to_string()).unwrap_or_default()
            };
            parse_date(&text, format)
        }
        other => err(format!(
            "failed to parse date field [{other}] with format [{format}]"
        )),
    }
}

/// Evaluates an Elasticsearch date-math expression (`now-1d/d`, `2024-01-01||+1M/d`, or a plain
/// date). `round_up` selects the upper end of a rounded unit (range `gt` / `lte`), and for plain
/// dates fills missing time fields with their maximum. `tz` applies to rounding and to dates that
/// carry no offset of their own.
pub fn parse_date_math(
    expr: &str,
    format: &str,
    now_millis: i64,
    round_up: bool,
    tz: Option<&str>,
) -> Result<i64, DateError> {
    let zone = match tz {
        Some(t) => Zone::parse(t)?,
        None => Zone::UTC,
    };
    let (anchor, math) = if let Some(rest) = expr.strip_prefix("now") {
        let now = now_millis
            .checked_mul(NANOS_PER_MILLI)
            .ok_or_else(|| DateError(format!("now [{now_millis}] is out of range")))?;
        (now, rest)
    } else if let Some(idx) = expr.find("||") {
        // The anchor is always parsed rounding down; round-up only affects the math part.
        (
            parse_with(&expr[..idx], format, zone, false)?,
            &expr[idx + 2..],
        )
    } else {
        return parse_with(expr, format, zone, round_up);
    };
    apply_math(anchor, math, round_up, zone)
}

/// Prints `nanos` with the first format of a `||` list, in time zone `tz` (UTC when absent or
/// not recognised). Unknown formats fall back to `strict_date_optional_time`.
pub fn format_date(nanos: i64, format: &str, tz: Option<&str>) -> String {
    let zone = tz.and_then(|t| Zone::parse(t).ok()).unwrap_or(Zone::UTC);
    let first = format.split("||").next().unwrap_or("").trim();
    let fmt = compile(first)
        .or_else(|_| compile("strict_date_optional_time"))
        .expect("built-in format");
    match fmt.as_ref() {
        Fmt::EpochMillis => print_epoch(nanos, NANOS_PER_MILLI, 6),
        Fmt::EpochSecond => print_epoch(nanos, NANOS_PER_SECOND, 9),
        Fmt::Pattern { printer, .. } => {
            let utc = nanos_to_naive(nanos);
            let offset = zone.offset_at_utc(utc);
            let local = utc + Duration::seconds(i64::from(offset));
            let mut out = String::new();
            print_items(printer, &mut out, local, offset, zone);
            out
        }
    }
}

/// Renders an instant as a ClickHouse `DateTime64(precision, 'UTC')` literal,
/// `YYYY-MM-DD hh:mm:ss[.fff…]`. ClickHouse only represents 1900-01-01 .. 2299-12-31.
pub fn to_clickhouse_datetime64(nanos: i64, precision: u8) -> Result<String, DateError> {
    let dt = nanos_to_naive(nanos);
    if !(1900..=2299).contains(&dt.year()) {
        return err(format!(
            "date [{}] is outside the range supported by ClickHouse DateTime64 [1900-01-01T00:00:00Z, 2299-12-31T23:59:59Z]",
            format_date(nanos, "strict_date_optional_time_nanos", None)
        ));
    }
    let mut out = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    let p = usize::from(precision.min(9));
    if p > 0 {
        let frac = format!("{:09}", dt.nanosecond());
        out.push('.');
        out.push_str(&frac[..p]);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Instants and zones
// ---------------------------------------------------------------------------------------------

fn nanos_to_naive(nanos: i64) -> NaiveDateTime {
    DateTime::from_timestamp_nanos(nanos).naive_utc()
}

fn naive_to_nanos(dt: NaiveDateTime) -> Option<i64> {
    dt.and_utc().timestamp_nanos_opt()
}

fn out_of_range(what: &str) -> DateError {
    DateError(format!(
        "date [{what}] is out of the supported range [1677-09-21T00:12:43.145224192Z, 2262-04-11T23:47:16.854775807Z]"
    ))
}

/// A time zone: a fixed offset in seconds or an IANA region.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Zone {
    Fixed(i32),
    Named(Tz),
}

impl Zone {
    const UTC: Zone = Zone::Fixed(0);

    /// Accepts what Java's `ZoneId.of` accepts in practice: `Z`, `UTC`, `GMT`, offsets (`+01:00`,
    /// `+0100`, `+01`, `+1`, `-05:30`), prefixed offsets (`UTC+01:00`, `GMT-5`) and region ids.
    fn parse(id: &str) -> Result<Zone, DateError> {
        let s = id.trim();
        if matches!(s, "Z" | "UTC" | "GMT" | "UT") {
            return Ok(Zone::UTC);
        }
        if s.starts_with(['+', '-']) {
            return parse_offset_id(s).map(Zone::Fixed).ok_or_else(|| {
                DateError(format!("Invalid ID for ZoneOffset, invalid format: {s}"))
            });
        }
        for prefix in ["UTC", "GMT", "UT"] {
            if let Some(rest) = s.strip_prefix(prefix)
                && rest.starts_with(['+', '-'])
            {
                return parse_offset_id(rest)
                    .map(Zone::Fixed)
                    .ok_or_else(|| DateError(format!("Invalid ID for offset-based ZoneId: {s}")));
            }
        }
        Tz::from_str(s)
            .map(Zone::Named)
            .map_err(|_| DateError(format!("Unknown time-zone ID: {s}")))
    }

    fn offset_at_utc(&self, utc: NaiveDateTime) -> i32 {
        match self {
            Zone::Fixed(o) => *o,
            Zone::Named(tz) => tz.offset_from_utc_datetime(&utc).fix().local_minus_utc(),
        }
    }

    /// Offset to use for a local date-time, following `java.time.ZonedDateTime.ofLocal`: in an
    /// overlap keep `preferred` if it is one of the two candidates, else take the earlier
    /// (summer-time) offset; in a gap use the offset from before the gap, which moves the local
    /// time forward by the length of the gap.
    fn local_offset(&self, local: NaiveDateTime, preferred: Option<i32>) -> i32 {
        match self {
            Zone::Fixed(o) => *o,
            Zone::Named(tz) => match tz.offset_from_local_datetime(&local) {
                LocalResult::Single(o) => o.fix().local_minus_utc(),
                LocalResult::Ambiguous(a, b) => {
                    let (a, b) = (a.fix().local_minus_utc(), b.fix().local_minus_utc());
                    match preferred {
                        Some(p) if p == a || p == b => p,
                        _ => a.max(b),
                    }
                }
                LocalResult::None => self.offset_at_utc(local - Duration::days(1)),
            },
        }
    }

    fn local_to_utc(&self, local: NaiveDateTime, preferred: Option<i32>) -> NaiveDateTime {
        local - Duration::seconds(i64::from(self.local_offset(local, preferred)))
    }
}

/// Parses a whole offset id: `+h`, `+hh`, `+hhmm`, `+hh:mm`, `+hh:mm:ss`, `+hhmmss`.
fn parse_offset_id(s: &str) -> Option<i32> {
    let b = s.as_bytes();
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let rest = &s[1..];
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if rest.contains(':') && !(rest.len() == 5 || rest.len() == 8) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| digits.get(r).and_then(|d| d.parse::<i32>().ok());
    let (h, m, sec) = match digits.len() {
        1 | 2 => (num(0..digits.len())?, 0, 0),
        4 => (num(0..2)?, num(2..4)?, 0),
        6 => (num(0..2)?, num(2..4)?, num(4..6)?),
        _ => return None,
    };
    if h > 18 || m > 59 || sec > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60 + sec))
}

// ---------------------------------------------------------------------------------------------
// Compiled formats
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Year,
    Month,
    Day,
    DayOfYear,
    Hour,
    Hour12,
    Minute,
    Second,
}

/// How an offset is printed. Parsing is lenient and accepts every style plus `Z`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum OffsetStyle {
    /// `+01:00`, `Z` for zero (`XXX`, `ZZZZZ`, Elasticsearch printers).
    ColonZ,
    /// `+0100`, `Z` for zero (`XX`).
    NoColonZ,
    /// `+01` or `+0130`, `Z` for zero (`X`).
    HourZ,
    /// `+0100`, `+0000` for zero (`Z`, `xx`).
    NoColon,
    /// `+01:00`, `+00:00` for zero (`xxx`).
    Colon,
    /// `+01` or `+0130` (`x`).
    Hour,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Sep {
    None,
    Dot,
    DotOrComma,
}

#[derive(Debug, Clone, PartialEq)]
enum Item {
    Literal(String),
    /// Decimal field of `min..=max` digits; printed zero-padded to `min`.
    Number {
        field: Field,
        min: usize,
        max: usize,
    },
    /// `yy`: two digits, years 2000..2099.
    ReducedYear,
    /// Fraction of second, `min..=max` digits; printed with trailing zeros trimmed down to `min`.
    Fraction {
        min: usize,
        max: usize,
        sep: Sep,
    },
    MonthName {
        full: bool,
    },
    DayName {
        full: bool,
    },
    AmPm,
    Offset(OffsetStyle),
    /// Region id or offset (`Europe/Paris`, `Z`, `+01:00`); printed as the zone id.
    ZoneId,
    Optional(Vec<Item>),
}

#[derive(Debug, Clone, PartialEq)]
enum Fmt {
    EpochMillis,
    EpochSecond,
    Pattern {
        parser: Vec<Item>,
        printer: Vec<Item>,
    },
}

/// Compiled formats by name. Compiling a pattern costs far more than parsing one date with it, and
/// ingest parses every date field (and tries date detection on every new string field) of every
/// document; the set of formats in use is small (those of the mappings and requests), so they are
/// kept for the life of the process. A failed compilation is not cached.
fn compile(name: &str) -> Result<std::sync::Arc<Fmt>, DateError> {
    use std::collections::HashMap;
    use std::sync::{Arc, LazyLock, RwLock};
    static CACHE: LazyLock<RwLock<HashMap<String, Arc<Fmt>>>> = LazyLock::new(Default::default);
    if let Some(f) = CACHE.read().expect("date format cache").get(name) {
        return Ok(f.clone());
    }
    let f = Arc::new(compile_uncached(name)?);
    let mut cache = CACHE.write().expect("date format cache");
    // Bounded: formats come from mappings and requests; a client sending endless distinct formats
    // must not grow memory without limit.
    if cache.len() > 10_000 {
        cache.clear();
    }
    cache.insert(name.to_string(), f.clone());
    Ok(f)
}

fn compile_uncached(name: &str) -> Result<Fmt, DateError> {
    if let Some(f) = named_format(name) {
        return Ok(f);
    }
    // Elasticsearch still understands the camelCase spellings (`strictDateOptionalTime`).
    if name.chars().any(|c| c.is_ascii_uppercase()) && name.chars().all(|c| c.is_ascii_alphabetic())
    {
        let mut snake = String::new();
        for c in name.chars() {
            if c.is_ascii_uppercase() {
                snake.push('_');
                snake.push(c.to_ascii_lowercase());
            } else {
                snake.push(c);
            }
        }
        if let Some(f) = named_format(&snake) {
            return Ok(f);
        }
    }
    let items = compile_pattern(name)
        .map_err(|e| DateError(format!("Invalid format: [{name}]: {}", e.0)))?;
    Ok(Fmt::Pattern {
        parser: items.clone(),
        printer: items,
    })
}

fn num(field: Field, min: usize, max: usize) -> Item {
    Item::Number { field, min, max }
}

fn lit(s: &str) -> Item {
    Item::Literal(s.to_string())
}

fn opt(items: Vec<Item>) -> Item {
    Item::Optional(items)
}

fn frac(min: usize, max: usize, sep: Sep) -> Item {
    Item::Fraction { min, max, sep }
}

fn builtin(pattern: &str) -> Vec<Item> {
    compile_pattern(pattern).expect("built-in pattern compiles")
}

/// Named formats of the "mapping-date-format" docs page. Parsers and printers follow the shapes
/// in `DateFormatters.java`: `strict_` variants want exactly 4-digit years and 2-digit fields,
/// the lenient ones accept shorter fields; printers always emit full widths and `Z` / `+01:00`.
fn named_format(name: &str) -> Option<Fmt> {
    match name {
        "epoch_millis" => return Some(Fmt::EpochMillis),
        "epoch_second" => return Some(Fmt::EpochSecond),
        _ => {}
    }
    let (base, strict) = match name.strip_prefix("strict_") {
        Some(b) => (b, true),
        None => (name, false),
    };
    let (yw, fw) = if strict {
        ((4, 4), (2, 2))
    } else {
        ((1, 9), (1, 2))
    };
    let y = || num(Field::Year, yw.0, yw.1);
    let mo = || num(Field::Month, fw.0, fw.1);
    let d = || num(Field::Day, fw.0, fw.1);
    let h = || num(Field::Hour, fw.0, fw.1);
    let mi = || num(Field::Minute, fw.0, fw.1);
    let s = || num(Field::Second, fw.0, fw.1);
    let doy = || num(Field::DayOfYear, if strict { 3 } else { 1 }, 3);
    let ymd = || vec![y(), lit("-"), mo(), lit("-"), d()];
    let hms = || vec![h(), lit(":"), mi(), lit(":"), s()];
    let cat = |parts: Vec<Vec<Item>>| parts.into_iter().flatten().collect::<Vec<_>>();
    // Fixed-width pieces of the `basic_*` family (never lenient).
    let b_ymd = || {
        vec![
            num(Field::Year, 4, 4),
            num(Field::Month, 2, 2),
            num(Field::Day, 2, 2),
        ]
    };
    let b_hms = || {
        vec![
            num(Field::Hour, 2, 2),
            num(Field::Minute, 2, 2),
            num(Field::Second, 2, 2),
        ]
    };
    let b_frac = || frac(1, 9, Sep::Dot);

    let (parser, printer) = match base {
        "date_optional_time" | "iso8601" => {
            let time = opt(vec![
                lit("T"),
                opt(vec![
                    h(),
                    opt(vec![
                        lit(":"),
                        mi(),
                        opt(vec![lit(":"), s(), opt(vec![frac(1, 9, Sep::DotOrComma)])]),
                    ]),
                ]),
                opt(vec![Item::ZoneId]),
            ]);
            (
                vec![
                    y(),
                    opt(vec![lit("-"), mo(), opt(vec![lit("-"), d()])]),
                    time,
                ],
                builtin("yyyy-MM-dd'T'HH:mm:ss.SSSXXX"),
            )
        }
        "date_optional_time_nanos" => {
            let time = opt(cat(vec![
                vec![lit("T")],
                hms(),
                vec![
                    opt(vec![frac(1, 9, Sep::DotOrComma)]),
                    opt(vec![Item::ZoneId]),
                ],
            ]));
            let mut printer = builtin("yyyy-MM-dd'T'HH:mm:ss");
            printer.push(frac(3, 9, Sep::Dot));
            printer.push(Item::Offset(OffsetStyle::ColonZ));
            (
                vec![
                    y(),
                    opt(vec![lit("-"), mo(), opt(vec![lit("-"), d()])]),
                    time,
                ],
                printer,
            )
        }
        "date" => (ymd(), builtin("yyyy-MM-dd")),
        "year_month_day" => (
            vec![y(), opt(vec![lit("-"), mo(), opt(vec![lit("-"), d()])])],
            builtin("yyyy-MM-dd"),
        ),
        "year_month" => (vec![y(), lit("-"), mo()], builtin("yyyy-MM")),
        "year" => (vec![y()], builtin("yyyy")),
        "date_hour" => (
            cat(vec![ymd(), vec![lit("T"), h()]]),
            builtin("yyyy-MM-dd'T'HH"),
        ),
        "date_hour_minute" => (
            cat(vec![ymd(), vec![lit("T"), h(), lit(":"), mi()]]),
            builtin("yyyy-MM-dd'T'HH:mm"),
        ),
        "date_hour_minute_second" => (
            cat(vec![ymd(), vec![lit("T")], hms()]),
            builtin("yyyy-MM-dd'T'HH:mm:ss"),
        ),
        "date_hour_minute_second_millis" | "date_hour_minute_second_fraction" => (
            cat(vec![
                ymd(),
                vec![lit("T")],
                hms(),
                vec![frac(1, 9, Sep::Dot)],
            ]),
            builtin("yyyy-MM-dd'T'HH:mm:ss.SSS"),
        ),
        "date_time" => {
            let mut printer = builtin("yyyy-MM-dd'T'HH:mm:ss");
            printer.push(frac(3, 9, Sep::Dot));
            printer.push(Item::Offset(OffsetStyle::ColonZ));
            (
                cat(vec![
                    ymd(),
                    vec![lit("T")],
                    hms(),
                    vec![opt(vec![frac(1, 9, Sep::Dot)]), Item::ZoneId],
                ]),
                printer,
            )
        }
        "date_time_no_millis" => (
            cat(vec![ymd(), vec![lit("T")], hms(), vec![Item::ZoneId]]),
            builtin("yyyy-MM-dd'T'HH:mm:ssXXX"),
        ),
        "hour" => (vec![h()], builtin("HH")),
        "hour_minute" => (vec![h(), lit(":"), mi()], builtin("HH:mm")),
        "hour_minute_second" => (hms(), builtin("HH:mm:ss")),
        "hour_minute_second_millis" | "hour_minute_second_fraction" => (
            cat(vec![hms(), vec![frac(1, 9, Sep::Dot)]]),
            builtin("HH:mm:ss.SSS"),
        ),
        "time" => (
            cat(vec![
                hms(),
                vec![opt(vec![frac(1, 9, Sep::Dot)]), Item::ZoneId],
            ]),
            builtin("HH:mm:ss.SSSXXX"),
        ),
        "time_no_millis" => (cat(vec![hms(), vec![Item::ZoneId]]), builtin("HH:mm:ssXXX")),
        "t_time" => (
            cat(vec![
                vec![lit("T")],
                hms(),
                vec![opt(vec![frac(1, 9, Sep::Dot)]), Item::ZoneId],
            ]),
            builtin("'T'HH:mm:ss.SSSXXX"),
        ),
        "t_time_no_millis" => (
            cat(vec![vec![lit("T")], hms(), vec![Item::ZoneId]]),
            builtin("'T'HH:mm:ssXXX"),
        ),
        "ordinal_date" => (vec![y(), lit("-"), doy()], builtin("yyyy-DDD")),
        "ordinal_date_time" => (
            vec![
                y(),
                lit("-"),
                doy(),
                lit("T"),
                h(),
                lit(":"),
                mi(),
                opt(vec![lit(":"), s(), opt(vec![frac(1, 9, Sep::Dot)])]),
                Item::ZoneId,
            ],
            builtin("yyyy-DDD'T'HH:mm:ss.SSSXXX"),
        ),
        "ordinal_date_time_no_millis" => (
            cat(vec![
                vec![y(), lit("-"), doy(), lit("T")],
                hms(),
                vec![Item::ZoneId],
            ]),
            builtin("yyyy-DDD'T'HH:mm:ssXXX"),
        ),
        "basic_date" => (b_ymd(), builtin("yyyyMMdd")),
        "basic_date_time" => (
            cat(vec![
                b_ymd(),
                vec![lit("T")],
                b_hms(),
                vec![b_frac(), Item::ZoneId],
            ]),
            builtin("yyyyMMdd'T'HHmmss.SSSXXX"),
        ),
        "basic_date_time_no_millis" => (
            cat(vec![b_ymd(), vec![lit("T")], b_hms(), vec![Item::ZoneId]]),
            builtin("yyyyMMdd'T'HHmmssXXX"),
        ),
        "basic_time" => (
            cat(vec![b_hms(), vec![b_frac(), Item::ZoneId]]),
            builtin("HHmmss.SSSXXX"),
        ),
        "basic_time_no_millis" => (cat(vec![b_hms(), vec![Item::ZoneId]]), builtin("HHmmssXXX")),
        "basic_t_time" => (
            cat(vec![vec![lit("T")], b_hms(), vec![b_frac(), Item::ZoneId]]),
            builtin("'T'HHmmss.SSSXXX"),
        ),
        "basic_t_time_no_millis" => (
            cat(vec![vec![lit("T")], b_hms(), vec![Item::ZoneId]]),
            builtin("'T'HHmmssXXX"),
        ),
        "basic_ordinal_date" => (
            vec![num(Field::Year, 4, 4), num(Field::DayOfYear, 3, 3)],
            builtin("yyyyDDD"),
        ),
        "basic_ordinal_date_time" => (
            cat(vec![
                vec![
                    num(Field::Year, 4, 4),
                    num(Field::DayOfYear, 3, 3),
                    lit("T"),
                ],
                b_hms(),
                vec![b_frac(), Item::ZoneId],
            ]),
            builtin("yyyyDDD'T'HHmmss.SSSXXX"),
        ),
        "basic_ordinal_date_time_no_millis" => (
            cat(vec![
                vec![
                    num(Field::Year, 4, 4),
                    num(Field::DayOfYear, 3, 3),
                    lit("T"),
                ],
                b_hms(),
                vec![Item::ZoneId],
            ]),
            builtin("yyyyDDD'T'HHmmssXXX"),
        ),
        _ => return None,
    };
    Some(Fmt::Pattern { parser, printer })
}

/// Compiles a `java.time.format.DateTimeFormatter` pattern (the subset listed in the module
/// docs). Unquoted ASCII letters are pattern letters; unknown ones are rejected like Java does.
fn compile_pattern(pattern: &str) -> Result<Vec<Item>, DateError> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
    let push_lit = |stack: &mut Vec<Vec<Item>>, s: &str| {
        let top = stack.last_mut().expect("non-empty stack");
        if let Some(Item::Literal(prev)) = top.last_mut() {
            prev.push_str(s);
        } else {
            top.push(Item::Literal(s.to_string()));
        }
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // Quoted literal; `''` stands for one quote, inside or outside quotes.
            let mut j = i + 1;
            let mut text = String::new();
            loop {
                match chars.get(j) {
                    None => {
                        return err(format!(
                            "Pattern ends with an incomplete string literal: {pattern}"
                        ));
                    }
                    Some('\'') if chars.get(j + 1) == Some(&'\'') => {
                        text.push('\'');
                        j += 2;
                    }
                    Some('\'') => break,
                    Some(ch) => {
                        text.push(*ch);
                        j += 1;
                    }
                }
            }
            if j == i + 1 {
                text.push('\'');
            }
            push_lit(&mut stack, &text);
            i = j + 1;
            continue;
        }
        if c == '[' {
            stack.push(Vec::new());
            i += 1;
            continue;
        }
        if c == ']' {
            if stack.len() < 2 {
                return err(format!(
                    "Pattern invalid as it contains ] without previous [: {pattern}"
                ));
            }
            let inner = stack.pop().expect("checked length");
            stack
                .last_mut()
                .expect("non-empty stack")
                .push(Item::Optional(inner));
            i += 1;
            continue;
        }
        if matches!(c, '{' | '}' | '#') {
            return err(format!("Pattern includes reserved character: '{c}'"));
        }
        if !c.is_ascii_alphabetic() {
            push_lit(&mut stack, &c.to_string());
            i += 1;
            continue;
        }
        let mut count = 1;
        while chars.get(i + count) == Some(&c) {
            count += 1;
        }
        i += count;
        let too_many = || err(format!("Too many pattern letters: {c}"));
        let item = match c {
            'y' | 'u' => match count {
                2 => Item::ReducedYear,
                1 => num(Field::Year, 1, 10),
                n => num(Field::Year, n.min(10), 10),
            },
            'M' | 'L' => match count {
                1 => num(Field::Month, 1, 2),
                2 => num(Field::Month, 2, 2),
                3 => Item::MonthName { full: false },
                4 => Item::MonthName { full: true },
                _ => return too_many(),
            },
            'd' | 'H' | 'm' | 's' | 'h' => {
                let field = match c {
                    'd' => Field::Day,
                    'H' => Field::Hour,
                    'h' => Field::Hour12,
                    'm' => Field::Minute,
                    _ => Field::Second,
                };
                match count {
                    1 => num(field, 1, 2),
                    2 => num(field, 2, 2),
                    _ => return too_many(),
                }
            }
            'D' => match count {
                1 => num(Field::DayOfYear, 1, 3),
                2 => num(Field::DayOfYear, 2, 3),
                3 => num(Field::DayOfYear, 3, 3),
                _ => return too_many(),
            },
            'S' if count <= 9 => frac(count, count, Sep::None),
            'S' => return too_many(),
            'a' if count == 1 => Item::AmPm,
            'a' => return too_many(),
            'E' => match count {
                1..=3 => Item::DayName { full: false },
                4 => Item::DayName { full: true },
                _ => return too_many(),
            },
            'Z' => match count {
                1..=3 => Item::Offset(OffsetStyle::NoColon),
                5 => Item::Offset(OffsetStyle::ColonZ),
                _ => return err("localized offset pattern 'ZZZZ' is not supported"),
            },
            'X' => match count {
                1 => Item::Offset(OffsetStyle::HourZ),
                2 | 4 => Item::Offset(OffsetStyle::NoColonZ),
                3 | 5 => Item::Offset(OffsetStyle::ColonZ),
                _ => return too_many(),
            },
            'x' => match count {
                1 => Item::Offset(OffsetStyle::Hour),
                2 | 4 => Item::Offset(OffsetStyle::NoColon),
                3 | 5 => Item::Offset(OffsetStyle::Colon),
                _ => return too_many(),
            },
            'V' if count == 2 => Item::ZoneId,
            'V' => return err("Pattern letter count must be 2: V"),
            'z' if count <= 4 => Item::ZoneId,
            'Y' | 'w' | 'W' | 'e' | 'c' | 'Q' | 'q' | 'G' | 'k' | 'K' | 'n' | 'N' | 'A' | 'F'
            | 'B' | 'O' | 'g' => {
                return err(format!(
                    "pattern letter [{c}] is not supported by elastichouse"
                ));
            }
            _ => return err(format!("Unknown pattern letter: {c}")),
        };
        stack.last_mut().expect("non-empty stack").push(item);
    }
    if stack.len() != 1 {
        return err(format!(
            "Pattern invalid as it contains [ without matching ]: {pattern}"
        ));
    }
    Ok(stack.pop().expect("one level"))
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/// Fields collected while matching a pattern.
#[derive(Debug, Clone, Default)]
struct Parsed {
    year: Option<i64>,
    month: Option<i64>,
    day: Option<i64>,
    day_of_year: Option<i64>,
    hour: Option<i64>,
    hour12: Option<i64>,
    pm: Option<bool>,
    minute: Option<i64>,
    second: Option<i64>,
    nano: Option<i64>,
    weekday: Option<u32>,
    zone: Option<Zone>,
}

/// Stores a value, failing when the same field was already parsed with another value.
fn set_once<T: PartialEq + Copy>(slot: &mut Option<T>, v: T) -> bool {
    match slot {
        Some(prev) if *prev != v => false,
        _ => {
            *slot = Some(v);
            true
        }
    }
}

enum Failure {
    /// The text does not match this format: try the next alternative.
    NoMatch,
    /// The text matched but the instant does not fit into i64 nanoseconds.
    Range,
}

fn parse_with(
    input: &str,
    format: &str,
    default_zone: Zone,
    round_up: bool,
) -> Result<i64, DateError> {
    let mut range_error = false;
    for name in format.split("||") {
        let fmt = compile(name.trim())?;
        match parse_one(input, &fmt, default_zone, round_up) {
            Ok(v) => return Ok(v),
            Err(Failure::Range) => range_error = true,
            Err(Failure::NoMatch) => {}
        }
    }
    if range_error {
        return Err(out_of_range(input));
    }
    err(format!(
        "failed to parse date field [{input}] with format [{format}]"
    ))
}

fn parse_one(input: &str, fmt: &Fmt, default_zone: Zone, round_up: bool) -> Result<i64, Failure> {
    match fmt {
        Fmt::EpochMillis => parse_epoch(input, NANOS_PER_MILLI, 6, round_up),
        Fmt::EpochSecond => parse_epoch(input, NANOS_PER_SECOND, 9, round_up),
        Fmt::Pattern { parser, .. } => {
            let mut p = Parsed::default();
            let end = parse_items(parser, input.as_bytes(), 0, &mut p).ok_or(Failure::NoMatch)?;
            if end != input.len() {
                return Err(Failure::NoMatch);
            }
            resolve(&p, default_zone, round_up)
        }
    }
}

/// `EpochTime.java`: an optional `-`, digits, and optionally `.` with up to 6 (millis) or 9
/// (seconds) fraction digits, or a bare trailing dot. The round-up parser fills an absent fraction with its maximum.
fn parse_epoch(input: &str, unit: i64, max_frac: usize, round_up: bool) -> Result<i64, Failure> {
    let (neg, body) = match input.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, input),
    };
    // A trailing dot without digits is accepted too (`SECONDS_FORMATTER2` / `MILLISECONDS_FORMATTER2`).
    let (int_part, frac_part) = match body.split_once('.') {
        Some((i, "")) => (i, None),
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int_part) || int_part.len() > 19 {
        return Err(Failure::NoMatch);
    }
    let mut total =
        i128::from(int_part.parse::<u64>().map_err(|_| Failure::NoMatch)?) * i128::from(unit);
    if let Some(f) = frac_part {
        if !all_digits(f) || f.len() > max_frac {
            return Err(Failure::NoMatch);
        }
        let scaled: i128 = format!("{f:0<max_frac$}")
            .parse()
            .map_err(|_| Failure::NoMatch)?;
        total += scaled * i128::from(unit) / 10i128.pow(max_frac as u32);
    }
    if neg {
        total = -total;
    }
    if round_up && frac_part.is_none() {
        total += i128::from(unit) - 1;
    }
    i64::try_from(total).map_err(|_| Failure::Range)
}

fn count_digits(b: &[u8], pos: usize, limit: usize) -> usize {
    b.iter()
        .skip(pos)
        .take(limit)
        .take_while(|c| c.is_ascii_digit())
        .count()
}

fn digits_value(b: &[u8]) -> Option<i64> {
    b.iter().try_fold(0i64, |acc, c| {
        acc.checked_mul(10)?.checked_add(i64::from(c - b'0'))
    })
}

/// Digits that fixed-width numeric items right after position `i` need (Java's "adjacent value
/// parsing", which lets `yyyyMMdd` split `20240102` correctly).
fn reserved_width(rest: &[Item]) -> usize {
    let mut total = 0;
    for item in rest {
        match item {
            Item::Number { min, max, .. } if min == max => total += min,
            Item::ReducedYear => total += 2,
            Item::Fraction {
                min,
                max,
                sep: Sep::None,
            } if min == max => total += min,
            _ => break,
        }
    }
    total
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Matches one of `names` (full, or its 3-letter abbreviation), ignoring ASCII case.
fn match_name(b: &[u8], pos: usize, names: &[&str], full: bool) -> Option<(usize, usize)> {
    names.iter().enumerate().find_map(|(i, name)| {
        let cand = if full {
            name.as_bytes()
        } else {
            &name.as_bytes()[..3]
        };
        let end = pos + cand.len();
        (b.len() >= end && b[pos..end].eq_ignore_ascii_case(cand)).then_some((i, end))
    })
}

/// `Z`, or `±HH`, `±HHMM`, `±HH:MM`.
fn parse_offset_at(b: &[u8], pos: usize) -> Option<(i32, usize)> {
    if b.get(pos) == Some(&b'Z') {
        return Some((0, pos + 1));
    }
    let sign = match b.get(pos)? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let two = |at: usize| -> Option<i32> {
        let d = b.get(at..at + 2)?;
        d.iter()
            .all(u8::is_ascii_digit)
            .then(|| i32::from(d[0] - b'0') * 10 + i32::from(d[1] - b'0'))
    };
    let hours = two(pos + 1)?;
    let mut end = pos + 3;
    let mut minutes = 0;
    if b.get(end) == Some(&b':') {
        if let Some(m) = two(end + 1) {
            minutes = m;
            end += 3;
        }
    } else if let Some(m) = two(end) {
        minutes = m;
        end += 2;
    }
    if hours > 18 || minutes > 59 {
        return None;
    }
    Some((sign * (hours * 3600 + minutes * 60), end))
}

/// Offset, or a region id such as `Europe/Paris` / `UTC`.
fn parse_zone_at(b: &[u8], pos: usize) -> Option<(Zone, usize)> {
    if let Some((o, end)) = parse_offset_at(b, pos) {
        return Some((Zone::Fixed(o), end));
    }
    if !b.get(pos)?.is_ascii_alphabetic() {
        return None;
    }
    let len = b[pos..]
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'/' | b'_' | b'+' | b'-' | b':'))
        .count();
    let text = std::str::from_utf8(&b[pos..pos + len]).ok()?;
    Zone::parse(text).ok().map(|z| (z, pos + len))
}

/// Matches `items` against `b` from `pos`; returns the position after the match.
/// Optional sections behave like Java's: try them, and on failure forget what they parsed.
fn parse_items(items: &[Item], b: &[u8], mut pos: usize, p: &mut Parsed) -> Option<usize> {
    for (i, item) in items.iter().enumerate() {
        pos = match item {
            Item::Literal(l) => {
                let l = l.as_bytes();
                if b.get(pos..pos + l.len())? != l {
                    return None;
                }
                pos + l.len()
            }
            Item::Number { field, min, max } => {
                let reserve = if min < max {
                    reserved_width(&items[i + 1..])
                } else {
                    0
                };
                let avail = count_digits(b, pos, max + reserve);
                let take = avail.checked_sub(reserve)?.min(*max);
                if take < *min {
                    return None;
                }
                let v = digits_value(&b[pos..pos + take])?;
                let slot = match field {
                    Field::Year => &mut p.year,
                    Field::Month => &mut p.month,
                    Field::Day => &mut p.day,
                    Field::DayOfYear => &mut p.day_of_year,
                    Field::Hour => &mut p.hour,
                    Field::Hour12 => &mut p.hour12,
                    Field::Minute => &mut p.minute,
                    Field::Second => &mut p.second,
                };
                if !set_once(slot, v) {
                    return None;
                }
                pos + take
            }
            Item::ReducedYear => {
                if count_digits(b, pos, 2) != 2 {
                    return None;
                }
                let v = 2000 + digits_value(&b[pos..pos + 2])?;
                if !set_once(&mut p.year, v) {
                    return None;
                }
                pos + 2
            }
            Item::Fraction { min, max, sep } => {
                let mut at = pos;
                match sep {
                    Sep::None => {}
                    Sep::Dot if b.get(at) == Some(&b'.') => at += 1,
                    Sep::DotOrComma if matches!(b.get(at), Some(b'.' | b',')) => at += 1,
                    _ => return None,
                }
                let n = count_digits(b, at, *max);
                if n < *min || n == 0 {
                    return None;
                }
                let mut v = digits_value(&b[at..at + n])?;
                for _ in n..9 {
                    v *= 10;
                }
                if !set_once(&mut p.nano, v) {
                    return None;
                }
                at + n
            }
            Item::MonthName { full } => {
                let (idx, end) = match_name(b, pos, &MONTHS, *full)?;
                if !set_once(&mut p.month, idx as i64 + 1) {
                    return None;
                }
                end
            }
            Item::DayName { full } => {
                let (idx, end) = match_name(b, pos, &DAYS, *full)?;
                if !set_once(&mut p.weekday, idx as u32) {
                    return None;
                }
                end
            }
            Item::AmPm => {
                let (idx, end) = match_name(b, pos, &["AM", "PM"], true)?;
                p.pm = Some(idx == 1);
                end
            }
            Item::Offset(_) => {
                let (o, end) = parse_offset_at(b, pos)?;
                p.zone = Some(Zone::Fixed(o));
                end
            }
            Item::ZoneId => {
                let (z, end) = parse_zone_at(b, pos)?;
                p.zone = Some(z);
                end
            }
            Item::Optional(inner) => {
                let saved = p.clone();
                match parse_items(inner, b, pos, p) {
                    Some(end) => end,
                    None => {
                        *p = saved;
                        pos
                    }
                }
            }
        };
    }
    Some(pos)
}

/// Turns parsed fields into an instant. Missing year is 1970 and missing month/day are 1 (as in
/// `DateFormatters.from`); missing time fields are 0, or with `round_up` 23:59:59.999999999
/// (range-query docs, "Missing date components"). No zone in the text means `default_zone`.
fn resolve(p: &Parsed, default_zone: Zone, round_up: bool) -> Result<i64, Failure> {
    let year = i32::try_from(p.year.unwrap_or(1970)).map_err(|_| Failure::Range)?;
    let date = match p.day_of_year {
        Some(doy) => {
            let d = NaiveDate::from_yo_opt(year, u32::try_from(doy).map_err(|_| Failure::NoMatch)?)
                .ok_or(Failure::NoMatch)?;
            if p.month.is_some_and(|m| m != i64::from(d.month()))
                || p.day.is_some_and(|x| x != i64::from(d.day()))
            {
                return Err(Failure::NoMatch);
            }
            d
        }
        None => {
            let m = u32::try_from(p.month.unwrap_or(1)).map_err(|_| Failure::NoMatch)?;
            let d = u32::try_from(p.day.unwrap_or(1)).map_err(|_| Failure::NoMatch)?;
            NaiveDate::from_ymd_opt(year, m, d).ok_or(Failure::NoMatch)?
        }
    };
    if let Some(wd) = p.weekday
        && date.weekday().num_days_from_monday() != wd
    {
        return Err(Failure::NoMatch);
    }
    let hour = match (p.hour, p.hour12) {
        (Some(h), None) => Some(h),
        (h, Some(h12)) => {
            if !(1..=12).contains(&h12) {
                return Err(Failure::NoMatch);
            }
            let h24 = h12 % 12 + if p.pm == Some(true) { 12 } else { 0 };
            if h.is_some_and(|h| h != h24) {
                return Err(Failure::NoMatch);
            }
            Some(h24)
        }
        (None, None) => None,
    };
    let (dh, dm, ds, dn) = if round_up {
        (23, 59, 59, 999_999_999)
    } else {
        (0, 0, 0, 0)
    };
    let field = |v: Option<i64>, default: i64| {
        u32::try_from(v.unwrap_or(default)).map_err(|_| Failure::NoMatch)
    };
    let time = NaiveTime::from_hms_nano_opt(
        field(hour, dh)?,
        field(p.minute, dm)?,
        field(p.second, ds)?,
        field(p.nano, dn)?,
    )
    .ok_or(Failure::NoMatch)?;
    let local = date.and_time(time);
    let zone = p.zone.unwrap_or(default_zone);
    naive_to_nanos(zone.local_to_utc(local, None)).ok_or(Failure::Range)
}

// ---------------------------------------------------------------------------------------------
// Printing
// ---------------------------------------------------------------------------------------------

/// `EpochTime.java` printers: the integer count, plus a `.fraction` (trailing zeros trimmed)
/// only when the instant is not a whole unit.
fn print_epoch(nanos: i64, unit: i64, frac_digits: usize) -> String {
    let abs = nanos.unsigned_abs();
    let unit = unit.unsigned_abs();
    let (int, rem) = (abs / unit, abs % unit);
    let mut out = String::new();
    if nanos < 0 {
        out.push('-');
    }
    let _ = write!(out, "{int}");
    if rem != 0 {
        let digits = format!("{rem:0frac_digits$}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out
}

fn print_offset(out: &mut String, secs: i32, style: OffsetStyle) {
    if secs == 0
        && matches!(
            style,
            OffsetStyle::ColonZ | OffsetStyle::NoColonZ | OffsetStyle::HourZ
        )
    {
        out.push('Z');
        return;
    }
    let sign = if secs < 0 { '-' } else { '+' };
    let abs = secs.unsigned_abs();
    let (h, m) = (abs / 3600, abs / 60 % 60);
    let _ = match style {
        OffsetStyle::ColonZ | OffsetStyle::Colon => write!(out, "{sign}{h:02}:{m:02}"),
        OffsetStyle::NoColonZ | OffsetStyle::NoColon => write!(out, "{sign}{h:02}{m:02}"),
        OffsetStyle::HourZ | OffsetStyle::Hour if m == 0 => write!(out, "{sign}{h:02}"),
        OffsetStyle::HourZ | OffsetStyle::Hour => write!(out, "{sign}{h:02}{m:02}"),
    };
}

fn print_items(items: &[Item], out: &mut String, local: NaiveDateTime, offset: i32, zone: Zone) {
    for item in items {
        match item {
            Item::Literal(l) => out.push_str(l),
            Item::Number { field, min, .. } => {
                let v: i64 = match field {
                    Field::Year => i64::from(local.year()),
                    Field::Month => i64::from(local.month()),
                    Field::Day => i64::from(local.day()),
                    Field::DayOfYear => i64::from(local.ordinal()),
                    Field::Hour => i64::from(local.hour()),
                    Field::Hour12 => i64::from((local.hour() + 11) % 12 + 1),
                    Field::Minute => i64::from(local.minute()),
                    Field::Second => i64::from(local.second()),
                };
                if v < 0 {
                    out.push('-');
                }
                let _ = write!(out, "{:0min$}", v.unsigned_abs());
            }
            Item::ReducedYear => {
                let _ = write!(out, "{:02}", local.year().rem_euclid(100));
            }
            Item::Fraction { min, max, sep } => {
                let all = format!("{:09}", local.nanosecond());
                let mut digits = &all[..(*max).min(9)];
                while digits.len() > *min && digits.ends_with('0') {
                    digits = &digits[..digits.len() - 1];
                }
                if !digits.is_empty() {
                    if *sep != Sep::None {
                        out.push('.');
                    }
                    out.push_str(digits);
                }
            }
            Item::MonthName { full } => {
                let name = MONTHS[local.month0() as usize];
                out.push_str(if *full { name } else { &name[..3] });
            }
            Item::DayName { full } => {
                let name = DAYS[local.weekday().num_days_from_monday() as usize];
                out.push_str(if *full { name } else { &name[..3] });
            }
            Item::AmPm => out.push_str(if local.hour() < 12 { "AM" } else { "PM" }),
            Item::Offset(style) => print_offset(out, offset, *style),
            Item::ZoneId => match zone {
                Zone::Named(tz) => out.push_str(tz.name()),
                Zone::Fixed(o) => print_offset(out, o, OffsetStyle::ColonZ),
            },
            Item::Optional(inner) => print_items(inner, out, local, offset, zone),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Date math
// ---------------------------------------------------------------------------------------------

/// A local date-time in a zone, mirroring the `ZonedDateTime` arithmetic that
/// `JavaDateMathParser` relies on: calendar units move the local time (keeping the current
/// offset where possible), clock units move the instant.
#[derive(Debug, Clone, Copy)]
struct Zoned {
    local: NaiveDateTime,
    offset: i32,
    zone: Zone,
}

impl Zoned {
    fn from_utc(utc: NaiveDateTime, zone: Zone) -> Zoned {
        let offset = zone.offset_at_utc(utc);
        Zoned {
            local: utc + Duration::seconds(i64::from(offset)),
            offset,
            zone,
        }
    }

    fn utc(&self) -> NaiveDateTime {
        self.local - Duration::seconds(i64::from(self.offset))
    }

    fn with_local(self, local: NaiveDateTime) -> Zoned {
        Zoned::from_utc(self.zone.local_to_utc(local, Some(self.offset)), self.zone)
    }

    fn plus_local(self, d: Duration) -> Option<Zoned> {
        Some(self.with_local(self.local.checked_add_signed(d)?))
    }

    fn plus_instant(self, d: Duration) -> Option<Zoned> {
        Some(Zoned::from_utc(
            self.utc().checked_add_signed(d)?,
            self.zone,
        ))
    }

    fn plus_months(self, months: i64) -> Option<Zoned> {
        let m = chrono::Months::new(u32::try_from(months.unsigned_abs()).ok()?);
        let date = if months >= 0 {
            self.local.date().checked_add_months(m)?
        } else {
            self.local.date().checked_sub_months(m)?
        };
        Some(self.with_local(date.and_time(self.local.time())))
    }
}

/// Applies the math part (`-1d/d`, `+1M`, …) as `JavaDateMathParser.parseMath` does.
fn apply_math(start: i64, math: &str, round_up: bool, zone: Zone) -> Result<i64, DateError> {
    let overflow = || {
        DateError(format!(
            "date math [{math}] overflows the supported date range"
        ))
    };
    let mut t = Zoned::from_utc(nanos_to_naive(start), zone);
    let b = math.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let op = b[i];
        i += 1;
        let (round, sign) = match op {
            b'/' => (true, 1i64),
            b'+' => (false, 1),
            b'-' => (false, -1),
            _ => return err(format!("operator not supported for date math [{math}]")),
        };
        if i >= b.len() {
            return err(format!("truncated date math [{math}]"));
        }
        let num = if b[i].is_ascii_digit() {
            if round {
                return err(format!(
                    "rounding `/` can only be used on single unit types [{math}]"
                ));
            }
            let start_digits = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let n = digits_value(&b[start_digits..i])
                .filter(|n| *n <= i64::from(i32::MAX))
                .ok_or_else(|| {
                    DateError(format!("failed to parse number in date math [{math}]"))
                })?;
            if i >= b.len() {
                return err(format!("truncated date math [{math}]"));
            }
            n
        } else {
            1
        };
        let unit = math[i..].chars().next().unwrap_or('?');
        i += unit.len_utf8();
        let n = sign * num;
        let midnight = |d: NaiveDate| d.and_time(NaiveTime::MIN);
        t = match unit {
            'y' if round => {
                let r = t.with_local(midnight(
                    NaiveDate::from_ymd_opt(t.local.year(), 1, 1).ok_or_else(overflow)?,
                ));
                if round_up { r.plus_months(12) } else { Some(r) }
            }
            'y' => n.checked_mul(12).and_then(|m| t.plus_months(m)),
            'M' if round => {
                let r = t.with_local(midnight(t.local.date().with_day(1).ok_or_else(overflow)?));
                if round_up { r.plus_months(1) } else { Some(r) }
            }
            'M' => t.plus_months(n),
            'w' if round => {
                let back = i64::from(t.local.weekday().num_days_from_monday());
                let r = t.with_local(midnight(t.local.date()) - Duration::days(back));
                if round_up {
                    r.plus_local(Duration::days(7))
                } else {
                    Some(r)
                }
            }
            'w' => Duration::try_days(7 * n).and_then(|d| t.plus_local(d)),
            'd' if round => {
                let r = t.with_local(midnight(t.local.date()));
                if round_up {
                    r.plus_local(Duration::days(1))
                } else {
                    Some(r)
                }
            }
            'd' => Duration::try_days(n).and_then(|d| t.plus_local(d)),
            'h' | 'H' if round => {
                let r = t.with_local(
                    t.local
                        .date()
                        .and_hms_opt(t.local.hour(), 0, 0)
                        .ok_or_else(overflow)?,
                );
                if round_up {
                    r.plus_instant(Duration::hours(1))
                } else {
                    Some(r)
                }
            }
            'h' | 'H' => Duration::try_hours(n).and_then(|d| t.plus_instant(d)),
            'm' if round => {
                let r = t.with_local(
                    t.local
                        .date()
                        .and_hms_opt(t.local.hour(), t.local.minute(), 0)
                        .ok_or_else(overflow)?,
                );
                if round_up {
                    r.plus_instant(Duration::minutes(1))
                } else {
                    Some(r)
                }
            }
            'm' => Duration::try_minutes(n).and_then(|d| t.plus_instant(d)),
            's' if round => {
                let r = t.with_local(t.local.with_nanosecond(0).ok_or_else(overflow)?);
                if round_up {
                    r.plus_instant(Duration::seconds(1))
                } else {
                    Some(r)
                }
            }
            's' => Duration::try_seconds(n).and_then(|d| t.plus_instant(d)),
            other => {
                return err(format!(
                    "unit [{other}] not supported for date math [{math}]"
                ));
            }
        }
        .ok_or_else(overflow)?;
        if round && round_up {
            t = t
                .plus_instant(Duration::milliseconds(-1))
                .ok_or_else(overflow)?;
        }
    }
    naive_to_nanos(t.utc()).ok_or_else(overflow)
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = DEFAULT_DATE_FORMAT;

    /// Nanos of a UTC date-time, for expectations.
    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, nano: u32) -> i64 {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_nano_opt(h, mi, s, nano)
            .unwrap()
            .and_utc()
            .timestamp_nanos_opt()
            .unwrap()
    }

    fn ms(millis: i64) -> i64 {
        millis * NANOS_PER_MILLI
    }

    fn err_msg<T: fmt::Debug>(r: Result<T, DateError>) -> String {
        r.expect_err("expected an error").0
    }

    // --- parse_date: strict_date_optional_time (DateFormatters.java, STRICT_DATE_OPTIONAL_TIME_FORMATTER)

    #[test]
    fn default_format_accepts_partial_iso_dates() {
        // ES: month, day and every time part are optional sections; missing parts are 0 / 1.
        assert_eq!(parse_date("2024", D), Ok(utc(2024, 1, 1, 0, 0, 0, 0)));
        assert_eq!(parse_date("2024-03", D), Ok(utc(2024, 3, 1, 0, 0, 0, 0)));
        assert_eq!(parse_date("2024-03-04", D), Ok(utc(2024, 3, 4, 0, 0, 0, 0)));
        assert_eq!(
            parse_date("2024-03-04T05", D),
            Ok(utc(2024, 3, 4, 5, 0, 0, 0))
        );
        assert_eq!(
            parse_date("2024-03-04T05:06", D),
            Ok(utc(2024, 3, 4, 5, 6, 0, 0))
        );
        assert_eq!(
            parse_date("2024-03-04T05:06:07", D),
            Ok(utc(2024, 3, 4, 5, 6, 7, 0))
        );
        assert_eq!(
            parse_date("2024-03-04T05:06:07Z", D),
            Ok(utc(2024, 3, 4, 5, 6, 7, 0))
        );
    }

    #[test]
    fn default_format_fractions_one_to_nine_digits_dot_or_comma() {
        // ES: appendFraction(NANO_OF_SECOND, 1, 9) after '.' or ','.
        assert_eq!(
            parse_date("2024-03-04T05:06:07.1Z", D),
            Ok(utc(2024, 3, 4, 5, 6, 7, 100_000_000))
        );
        assert_eq!(
            parse_date("2024-03-04T05:06:07.123Z", D),
            Ok(utc(2024, 3, 4, 5, 6, 7, 123_000_000))
        );
        assert_eq!(
            parse_date("2024-03-04T05:06:07,123456Z", D),
            Ok(utc(2024, 3, 4, 5, 6, 7, 123_456_000))
        );
        assert_eq!(
            parse_date("2024-03-04T05:06:07.123456789Z", D),
            Ok(utc(2024, 3, 4, 5, 6, 7, 123_456_789))
        );
        assert!(parse_date("2024-03-04T05:06:07.1234567891Z", D).is_err());
        assert!(parse_date("2024-03-04T05:06:07.Z", D).is_err());
    }

    #[test]
    fn default_format_zones() {
        // ES: appendZoneOrOffsetId() or "+HHmm"; text without zone is UTC.
        let base = utc(2024, 3, 4, 5, 6, 7, 0);
        assert_eq!(parse_date("2024-03-04T06:06:07+01:00", D), Ok(base));
        assert_eq!(parse_date("2024-03-04T06:06:07+0100", D), Ok(base));
        assert_eq!(parse_date("2024-03-04T06:06:07+01", D), Ok(base));
        assert_eq!(parse_date("2024-03-04T00:36:07-04:30", D), Ok(base));
        assert_eq!(parse_date("2024-03-04T06:06:07.000+01:00", D), Ok(base));
        assert_eq!(
            parse_date("2024-03-04T06Z", D),
            Ok(utc(2024, 3, 4, 6, 0, 0, 0))
        );
        assert_eq!(parse_date("2024-03-04T06:06:07Europe/Paris", D), Ok(base));
    }

    #[test]
    fn default_format_rejects_non_iso_text() {
        // ES: strict formats need 'T' (not a space), 4-digit years, 2-digit fields, valid values.
        for bad in [
            "2024-03-04 05:06:07",
            "24-03-04",
            "2024-3-4",
            "2024-13-01",
            "2024-02-30",
            "2023-02-29",
            "2024-01-01T24:00:00",
            "2024-01-01Z",
            "foo",
            "",
            "2024-01-01T00:00:00Zjunk",
        ] {
            assert!(parse_date(bad, D).is_err(), "{bad} should fail");
        }
        assert_eq!(
            parse_date("2024-02-29", D),
            Ok(utc(2024, 2, 29, 0, 0, 0, 0))
        );
    }

    #[test]
    fn parse_error_message_matches_elasticsearch() {
        // ES: "failed to parse date field [foo] with format [strict_date_optional_time||epoch_millis]".
        assert_eq!(
            err_msg(parse_date("foo", D)),
            "failed to parse date field [foo] with format [strict_date_optional_time||epoch_millis]"
        );
        assert_eq!(DateError("x".into()).to_string(), "x");
    }

    #[test]
    fn lenient_date_optional_time_accepts_short_fields() {
        // ES: the non-strict variant accepts 1-digit months/days/hours (joda compatibility).
        assert_eq!(
            parse_date("2024-3-4T5:6:7", "date_optional_time"),
            Ok(utc(2024, 3, 4, 5, 6, 7, 0))
        );
        assert!(parse_date("2024-3-4", "strict_date_optional_time").is_err());
        // camelCase alias of the docs page still resolves.
        assert_eq!(
            parse_date("2024-03-04", "strictDateOptionalTime"),
            Ok(utc(2024, 3, 4, 0, 0, 0, 0))
        );
    }

    #[test]
    fn nanos_format_requires_full_time_after_t() {
        // ES: STRICT_DATE_OPTIONAL_TIME_FORMATTER_WITH_NANOS = date ['T' HH:mm:ss [fraction] [zone]].
        let f = "strict_date_optional_time_nanos";
        assert_eq!(parse_date("2024-03-04", f), Ok(utc(2024, 3, 4, 0, 0, 0, 0)));
        assert_eq!(
            parse_date("2024-03-04T05:06:07.123456789Z", f),
            Ok(utc(2024, 3, 4, 5, 6, 7, 123_456_789))
        );
        assert!(parse_date("2024-03-04T05", f).is_err());
    }

    // --- epoch formats (EpochTime.java)

    #[test]
    fn epoch_millis_integers_negatives_and_fractions() {
        // ES: epoch_millis accepts a sign and up to 6 fraction digits (sub-millisecond nanos).
        let f = "epoch_millis";
        assert_eq!(parse_date("1700000000000", f), Ok(ms(1_700_000_000_000)));
        assert_eq!(parse_date("0", f), Ok(0));
        assert_eq!(parse_date("-1500", f), Ok(ms(-1500)));
        assert_eq!(parse_date("1.5", f), Ok(1_500_000));
        assert_eq!(parse_date("-1.5", f), Ok(-1_500_000));
        assert_eq!(parse_date("1.000001", f), Ok(1_000_001));
        assert!(parse_date("1.0000001", f).is_err());
        assert!(parse_date("1e3", f).is_err());
        assert!(parse_date("abc", f).is_err());
        assert!(parse_date(".5", f).is_err());
        assert!(parse_date("--1", f).is_err());
        // A trailing dot is tolerated.
        assert_eq!(parse_date("1.", f), Ok(1_000_000));
    }

    #[test]
    fn default_format_falls_back_to_epoch_millis() {
        // ES: `strict_date_optional_time||epoch_millis` tries ISO first, so 13 digits are millis
        // while a 4-digit number is a year.
        assert_eq!(parse_date("1700000000000", D), Ok(ms(1_700_000_000_000)));
        assert_eq!(parse_date("-86400000", D), Ok(ms(-86_400_000)));
        assert_eq!(parse_date("2024", D), Ok(utc(2024, 1, 1, 0, 0, 0, 0)));
    }

    #[test]
    fn epoch_second_with_fraction() {
        // ES: epoch_second accepts up to 9 fraction digits.
        assert_eq!(
            parse_date("1700000000", "epoch_second"),
            Ok(1_700_000_000 * NANOS_PER_SECOND)
        );
        assert_eq!(parse_date("1.5", "epoch_second"), Ok(1_500_000_000));
        assert_eq!(parse_date("-2", "epoch_second"), Ok(-2 * NANOS_PER_SECOND));
    }

    #[test]
    fn out_of_nanosecond_range_is_reported() {
        // ES date_nanos: dates outside 1677..2262 cannot be stored in nanosecond resolution.
        assert!(
            err_msg(parse_date("99999999999999999", "epoch_millis"))
                .contains("out of the supported range")
        );
        assert!(err_msg(parse_date("1000-01-01", D)).contains("out of the supported range"));
    }

    #[test]
    fn parse_date_value_numbers_and_strings() {
        // ES: numeric JSON values are parsed through their text with the field's format.
        assert_eq!(
            parse_date_value(&serde_json::json!(1_700_000_000_000i64), D),
            Ok(ms(1_700_000_000_000))
        );
        assert_eq!(
            parse_date_value(&serde_json::json!(1.5), "epoch_millis"),
            Ok(1_500_000)
        );
        assert_eq!(
            parse_date_value(&serde_json::json!(1_700_000_000), "epoch_second"),
            Ok(1_700_000_000 * NANOS_PER_SECOND)
        );
        assert_eq!(
            parse_date_value(&serde_json::json!("2024-01-02"), D),
            Ok(utc(2024, 1, 2, 0, 0, 0, 0))
        );
        assert!(parse_date_value(&serde_json::json!(true), D).is_err());
        assert!(parse_date_value(&serde_json::json!({"a": 1}), D).is_err());
    }

    // --- other named formats (docs: mapping-date-format)

    #[test]
    fn named_formats_parse() {
        let t = utc(2024, 3, 4, 5, 6, 7, 0);
        let t_ms = utc(2024, 3, 4, 5, 6, 7, 890_000_000);
        let cases: &[(&str, &str, i64)] = &[
            ("basic_date", "20240304", utc(2024, 3, 4, 0, 0, 0, 0)),
            ("basic_date_time", "20240304T050607.890Z", t_ms),
            ("basic_date_time", "20240304T060607.890+0100", t_ms),
            ("basic_date_time_no_millis", "20240304T050607Z", t),
            ("basic_ordinal_date", "2024064", utc(2024, 3, 4, 0, 0, 0, 0)),
            (
                "basic_time",
                "050607.890Z",
                utc(1970, 1, 1, 5, 6, 7, 890_000_000),
            ),
            ("date", "2024-03-04", utc(2024, 3, 4, 0, 0, 0, 0)),
            ("strict_date", "2024-03-04", utc(2024, 3, 4, 0, 0, 0, 0)),
            ("date_time", "2024-03-04T05:06:07.890Z", t_ms),
            ("strict_date_time", "2024-03-04T06:06:07.890+01:00", t_ms),
            ("strict_date_time", "2024-03-04T05:06:07Z", t),
            ("date_time_no_millis", "2024-03-04T05:06:07Z", t),
            ("strict_date_time_no_millis", "2024-03-04T06:06:07+0100", t),
            ("date_hour_minute_second", "2024-03-04T05:06:07", t),
            (
                "date_hour_minute_second_millis",
                "2024-03-04T05:06:07.890",
                t_ms,
            ),
            (
                "strict_date_hour_minute_second_fraction",
                "2024-03-04T05:06:07.89",
                t_ms,
            ),
            (
                "date_hour_minute",
                "2024-03-04T05:06",
                utc(2024, 3, 4, 5, 6, 0, 0),
            ),
            ("date_hour", "2024-03-04T05", utc(2024, 3, 4, 5, 0, 0, 0)),
            ("year_month_day", "2024-03-04", utc(2024, 3, 4, 0, 0, 0, 0)),
            ("strict_year_month", "2024-03", utc(2024, 3, 1, 0, 0, 0, 0)),
            ("year", "2024", utc(2024, 1, 1, 0, 0, 0, 0)),
            // Time-only formats land on 1970-01-01 (DateFormatters.from defaults the date).
            (
                "hour_minute_second",
                "05:06:07",
                utc(1970, 1, 1, 5, 6, 7, 0),
            ),
            ("strict_hour_minute", "05:06", utc(1970, 1, 1, 5, 6, 0, 0)),
            (
                "time",
                "05:06:07.890Z",
                utc(1970, 1, 1, 5, 6, 7, 890_000_000),
            ),
            ("ordinal_date", "2024-064", utc(2024, 3, 4, 0, 0, 0, 0)),
            (
                "strict_ordinal_date",
                "2024-366",
                utc(2024, 12, 31, 0, 0, 0, 0),
            ),
            ("ordinal_date_time", "2024-064T05:06:07.890Z", t_ms),
        ];
        for (fmt, text, want) in cases {
            assert_eq!(parse_date(text, fmt), Ok(*want), "{fmt} on {text}");
        }
        // Mandatory parts stay mandatory.
        assert!(parse_date("2024-03-04T05:06:07", "strict_date_time").is_err()); // zone required
        assert!(parse_date("2024-03-04T05:06:07.1Z", "date_time_no_millis").is_err());
        assert!(parse_date("2024-03", "strict_date").is_err());
        assert!(parse_date("2023-366", "strict_ordinal_date").is_err());
    }

    #[test]
    fn alternatives_are_tried_in_order() {
        // ES: "yyyy-MM-dd||epoch_second" uses the first parser that accepts the text.
        let f = "yyyy-MM-dd HH:mm:ss||yyyy-MM-dd||epoch_second";
        assert_eq!(
            parse_date("2024-03-04 05:06:07", f),
            Ok(utc(2024, 3, 4, 5, 6, 7, 0))
        );
        assert_eq!(parse_date("2024-03-04", f), Ok(utc(2024, 3, 4, 0, 0, 0, 0)));
        assert_eq!(
            parse_date("1700000000", f),
            Ok(1_700_000_000 * NANOS_PER_SECOND)
        );
        assert_eq!(
            parse_date(" 2024-03-04 ", " yyyy-MM-dd || date "),
            Err(DateError(
                "failed to parse date field [ 2024-03-04 ] with format [ yyyy-MM-dd || date ]"
                    .into()
            ))
        );
    }

    // --- custom java.time patterns

    #[test]
    fn custom_patterns() {
        let t = utc(2024, 3, 4, 5, 6, 7, 0);
        let cases: &[(&str, &str, i64)] = &[
            ("yyyy-MM-dd HH:mm:ss", "2024-03-04 05:06:07", t),
            ("yyyy/MM/dd HH:mm:ss Z", "2024/03/04 06:06:07 +0100", t),
            ("yyyy/MM/dd HH:mm:ss Z", "2024/03/04 00:06:07 -0500", t),
            // Apache / nginx access-log timestamps.
            ("dd/MMM/yyyy:HH:mm:ss Z", "04/Mar/2024:05:06:07 +0000", t),
            (
                "dd/MMM/yyyy:HH:mm:ss Z",
                "10/Oct/2000:13:55:36 -0700",
                utc(2000, 10, 10, 20, 55, 36, 0),
            ),
            ("dd/MM/yyyy", "04/03/2024", utc(2024, 3, 4, 0, 0, 0, 0)),
            (
                "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
                "2024-03-04T05:06:07.890Z",
                utc(2024, 3, 4, 5, 6, 7, 890_000_000),
            ),
            (
                "yyyy-MM-dd'T'HH:mm:ss.SSSxxx",
                "2024-03-04T06:06:07.000+01:00",
                t,
            ),
            (
                "uuuu-MM-dd'T'HH:mm:ss.SSSSSS",
                "2024-03-04T05:06:07.123456",
                utc(2024, 3, 4, 5, 6, 7, 123_456_000),
            ),
            (
                "EEE, dd MMM yyyy HH:mm:ss Z",
                "Mon, 04 Mar 2024 05:06:07 +0000",
                t,
            ),
            (
                "EEEE d MMMM yyyy",
                "Monday 4 March 2024",
                utc(2024, 3, 4, 0, 0, 0, 0),
            ),
            ("yyyyMMddHHmmss", "20240304050607", t),
            ("yyyyMMdd", "20240304", utc(2024, 3, 4, 0, 0, 0, 0)),
            (
                "MM/dd/yy hh:mm a",
                "03/04/24 05:06 PM",
                utc(2024, 3, 4, 17, 6, 0, 0),
            ),
            (
                "MM/dd/yy hh:mm a",
                "03/04/24 12:06 AM",
                utc(2024, 3, 4, 0, 6, 0, 0),
            ),
            ("yyyy-MM-dd'T'HH:mm:ss[.SSS]X", "2024-03-04T05:06:07Z", t),
            (
                "yyyy-MM-dd'T'HH:mm:ss[.SSS]X",
                "2024-03-04T07:06:07.000+02",
                t,
            ),
            (
                "yyyy-MM-dd HH:mm:ss VV",
                "2024-03-04 06:06:07 Europe/Paris",
                t,
            ),
            ("yyyy-DDD", "2024-064", utc(2024, 3, 4, 0, 0, 0, 0)),
            (
                "'date:'yyyy-MM-dd",
                "date:2024-03-04",
                utc(2024, 3, 4, 0, 0, 0, 0),
            ),
            ("HH:mm", "05:06", utc(1970, 1, 1, 5, 6, 0, 0)),
        ];
        for (fmt, text, want) in cases {
            assert_eq!(parse_date(text, fmt), Ok(*want), "{fmt} on {text}");
        }
    }

    #[test]
    fn custom_pattern_mismatches_fail() {
        // java.time: fixed-width fields, a wrong weekday and leftover text all fail the parse.
        assert!(parse_date("2024-3-04 05:06:07", "yyyy-MM-dd HH:mm:ss").is_err());
        assert!(
            parse_date(
                "Tue, 04 Mar 2024 05:06:07 +0000",
                "EEE, dd MMM yyyy HH:mm:ss Z"
            )
            .is_err()
        );
        assert!(parse_date("2024-03-04 05:06", "yyyy-MM-dd HH:mm:ss").is_err());
        assert!(parse_date("2024-03-04x", "yyyy-MM-dd").is_err());
        assert!(parse_date("04/Foo/2024:05:06:07 +0000", "dd/MMM/yyyy:HH:mm:ss Z").is_err());
    }

    #[test]
    fn invalid_patterns_are_rejected() {
        // java.time: unquoted unknown letters are errors ("Unknown pattern letter: T" in ES's
        // "Invalid format" message); week-based fields are not supported here.
        assert!(
            err_msg(parse_date("2024-03-04T05", "yyyy-MM-ddTHH"))
                .contains("Unknown pattern letter: T")
        );
        assert!(err_msg(parse_date("2024", "YYYY")).contains("not supported"));
        assert!(parse_date("2024", "yyyy[").is_err());
        assert!(parse_date("2024", "'yyyy").is_err());
    }

    // --- format_date

    #[test]
    fn format_default_prints_millis_and_z() {
        // ES: STRICT_DATE_OPTIONAL_TIME_PRINTER prints 3 fraction digits and "Z" for UTC.
        let t = utc(2024, 1, 2, 3, 4, 5, 0);
        assert_eq!(format_date(t, D, None), "2024-01-02T03:04:05.000Z");
        assert_eq!(
            format_date(t, "date_optional_time", None),
            "2024-01-02T03:04:05.000Z"
        );
        assert_eq!(
            format_date(utc(2024, 1, 2, 3, 4, 5, 123_456_789), D, None),
            "2024-01-02T03:04:05.123Z"
        );
        assert_eq!(
            format_date(utc(1969, 12, 31, 23, 59, 59, 999_000_000), D, None),
            "1969-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn format_nanos_prints_three_to_nine_digits() {
        // ES: STRICT_DATE_OPTIONAL_TIME_PRINTER_NANOS uses appendFraction(NANO_OF_SECOND, 3, 9):
        // at least 3 digits, trailing zeros beyond them dropped.
        let f = "strict_date_optional_time_nanos";
        assert_eq!(
            format_date(utc(2024, 1, 2, 3, 4, 5, 123_456_789), f, None),
            "2024-01-02T03:04:05.123456789Z"
        );
        assert_eq!(
            format_date(utc(2024, 1, 2, 3, 4, 5, 123_400_000), f, None),
            "2024-01-02T03:04:05.1234Z"
        );
        assert_eq!(
            format_date(utc(2024, 1, 2, 3, 4, 5, 0), f, None),
            "2024-01-02T03:04:05.000Z"
        );
    }

    #[test]
    fn format_epochs() {
        // ES EpochTime printers: whole units as integers, fractions only when present.
        assert_eq!(
            format_date(ms(1_700_000_000_123), "epoch_millis", None),
            "1700000000123"
        );
        assert_eq!(
            format_date(ms(1_700_000_000_123), "epoch_millis||strict_date", None),
            "1700000000123"
        );
        assert_eq!(format_date(ms(-1500), "epoch_millis", None), "-1500");
        assert_eq!(
            format_date(1_500_000, "epoch_millis", Some("Europe/Paris")),
            "1.5"
        );
        assert_eq!(
            format_date(1_700_000_000 * NANOS_PER_SECOND, "epoch_second", None),
            "1700000000"
        );
        assert_eq!(format_date(ms(1500), "epoch_second", None), "1.5");
    }

    #[test]
    fn format_uses_first_alternative_and_custom_patterns() {
        let t = utc(2024, 3, 4, 17, 6, 7, 890_000_000);
        assert_eq!(
            format_date(t, "yyyy-MM-dd HH:mm:ss||epoch_millis", None),
            "2024-03-04 17:06:07"
        );
        assert_eq!(
            format_date(t, "dd/MMM/yyyy:HH:mm:ss Z", None),
            "04/Mar/2024:17:06:07 +0000"
        );
        assert_eq!(
            format_date(t, "EEE, d MMMM yy hh:mm a", None),
            "Mon, 4 March 24 05:06 PM"
        );
        assert_eq!(
            format_date(t, "yyyy-DDD'T'HH:mm:ss.SS", None),
            "2024-064T17:06:07.89"
        );
        assert_eq!(
            format_date(t, "basic_date_time", None),
            "20240304T170607.890Z"
        );
        assert_eq!(
            format_date(t, "strict_date_time_no_millis", None),
            "2024-03-04T17:06:07Z"
        );
        assert_eq!(format_date(t, "date", None), "2024-03-04");
        assert_eq!(format_date(t, "strict_year_month", None), "2024-03");
        assert_eq!(
            format_date(t, "hour_minute_second_millis", None),
            "17:06:07.890"
        );
        assert_eq!(format_date(t, "ordinal_date", None), "2024-064");
        // An unusable pattern falls back to the default printer instead of failing.
        assert_eq!(
            format_date(t, "yyyy-MM-ddTHH", None),
            "2024-03-04T17:06:07.890Z"
        );
    }

    #[test]
    fn format_with_time_zone_shifts_local_time_and_offset() {
        // ES: `time_zone` on docvalue/aggregation formatting prints local time with its offset.
        let winter = utc(2024, 1, 2, 3, 4, 5, 0);
        let summer = utc(2024, 7, 2, 3, 4, 5, 0);
        assert_eq!(
            format_date(winter, D, Some("Europe/Paris")),
            "2024-01-02T04:04:05.000+01:00"
        );
        assert_eq!(
            format_date(summer, D, Some("Europe/Paris")),
            "2024-07-02T05:04:05.000+02:00"
        );
        assert_eq!(
            format_date(winter, D, Some("-05:30")),
            "2024-01-01T21:34:05.000-05:30"
        );
        assert_eq!(
            format_date(winter, "yyyy-MM-dd HH:mm Z", Some("+01:00")),
            "2024-01-02 04:04 +0100"
        );
        assert_eq!(
            format_date(winter, "yyyy-MM-dd HH:mm xxx VV", Some("America/New_York")),
            "2024-01-01 22:04 -05:00 America/New_York"
        );
        assert_eq!(
            format_date(winter, D, Some("Not/AZone")),
            "2024-01-02T03:04:05.000Z"
        );
    }

    #[test]
    fn format_then_parse_round_trips() {
        // Printing with an offset and parsing back yields the same instant. (Historic LMT offsets
        // with seconds, e.g. Asia/Kolkata in 1900, do not round-trip: like Java's "+HH:MM"
        // printer we drop offset seconds.)
        for t in [
            0,
            ms(-1),
            utc(2024, 2, 29, 23, 59, 59, 999_000_000),
            utc(1950, 1, 1, 0, 0, 0, 0),
        ] {
            for f in [
                "strict_date_optional_time",
                "date_time",
                "basic_date_time",
                "epoch_millis",
            ] {
                assert_eq!(
                    parse_date(&format_date(t, f, Some("Asia/Kolkata")), f),
                    Ok(t),
                    "{f}"
                );
            }
        }
    }

    // --- date math (JavaDateMathParser.java; docs: common-options "Date math")

    const NOW: i64 = 1_709_547_967_890; // 2024-03-04T10:26:07.890Z

    fn math(expr: &str, round_up: bool, tz: Option<&str>) -> Result<i64, DateError> {
        parse_date_math(expr, D, NOW, round_up, tz)
    }

    #[test]
    fn now_and_arithmetic() {
        assert_eq!(math("now", false, None), Ok(ms(NOW)));
        assert_eq!(math("now-15m", false, None), Ok(ms(NOW - 15 * 60_000)));
        assert_eq!(math("now+1h", false, None), Ok(ms(NOW + 3_600_000)));
        assert_eq!(
            math("now-1d+2h", false, None),
            Ok(ms(NOW - 86_400_000 + 7_200_000))
        );
        assert_eq!(math("now-1w", false, None), Ok(ms(NOW - 7 * 86_400_000)));
        assert_eq!(math("now+30s", false, None), Ok(ms(NOW + 30_000)));
        assert_eq!(
            math("now-1y", false, None),
            Ok(utc(2023, 3, 4, 10, 26, 7, 890_000_000))
        );
        assert_eq!(
            math("now+1M", false, None),
            Ok(utc(2024, 4, 4, 10, 26, 7, 890_000_000))
        );
        // ES: a unit without number means 1 (`now+d`).
        assert_eq!(math("now+d", false, None), Ok(ms(NOW + 86_400_000)));
        // `now` ignores the format and the time zone.
        assert_eq!(math("now", false, Some("Asia/Tokyo")), Ok(ms(NOW)));
    }

    #[test]
    fn rounding_down_and_up() {
        // ES range docs: gte/lt round down to the unit start; gt/lte round up to its last millisecond.
        assert_eq!(math("now/d", false, None), Ok(utc(2024, 3, 4, 0, 0, 0, 0)));
        assert_eq!(
            math("now/d", true, None),
            Ok(utc(2024, 3, 4, 23, 59, 59, 999_000_000))
        );
        assert_eq!(
            math("now-1d/d", false, None),
            Ok(utc(2024, 3, 3, 0, 0, 0, 0))
        );
        assert_eq!(math("now/M", false, None), Ok(utc(2024, 3, 1, 0, 0, 0, 0)));
        assert_eq!(
            math("now/M", true, None),
            Ok(utc(2024, 3, 31, 23, 59, 59, 999_000_000))
        );
        assert_eq!(math("now/y", false, None), Ok(utc(2024, 1, 1, 0, 0, 0, 0)));
        assert_eq!(
            math("now/y", true, None),
            Ok(utc(2024, 12, 31, 23, 59, 59, 999_000_000))
        );
        // Weeks start on Monday (2024-03-04 is a Monday).
        assert_eq!(
            math("now+2d/w", false, None),
            Ok(utc(2024, 3, 4, 0, 0, 0, 0))
        );
        assert_eq!(
            math("now+2d/w", true, None),
            Ok(utc(2024, 3, 10, 23, 59, 59, 999_000_000))
        );
        assert_eq!(math("now/h", false, None), Ok(utc(2024, 3, 4, 10, 0, 0, 0)));
        assert_eq!(
            math("now/H", true, None),
            Ok(utc(2024, 3, 4, 10, 59, 59, 999_000_000))
        );
        assert_eq!(
            math("now/m", false, None),
            Ok(utc(2024, 3, 4, 10, 26, 0, 0))
        );
        assert_eq!(
            math("now/s", true, None),
            Ok(utc(2024, 3, 4, 10, 26, 7, 999_000_000))
        );
        assert_eq!(
            math("now-1d+2h/h", false, None),
            Ok(utc(2024, 3, 3, 12, 0, 0, 0))
        );
        // Operations may follow a rounding.
        assert_eq!(
            math("now/d+1h", false, None),
            Ok(utc(2024, 3, 4, 1, 0, 0, 0))
        );
    }

    #[test]
    fn anchored_expressions() {
        // ES docs: `2001.02.01||+1M/d` parses the anchor with the field format, then applies math.
        assert_eq!(
            math("2024-01-31||+1M", false, None),
            Ok(utc(2024, 2, 29, 0, 0, 0, 0))
        );
        assert_eq!(
            math("2024-01-01||+1M/d", false, None),
            Ok(utc(2024, 2, 1, 0, 0, 0, 0))
        );
        assert_eq!(
            math("2024-01-01||+1M/d", true, None),
            Ok(utc(2024, 2, 1, 23, 59, 59, 999_000_000))
        );
        assert_eq!(
            math("2024-01-01T10:00:00||-2h", false, None),
            Ok(utc(2024, 1, 1, 8, 0, 0, 0))
        );
        assert_eq!(
            math("1704067200000||/M", false, None),
            Ok(utc(2024, 1, 1, 0, 0, 0, 0))
        );
        assert_eq!(
            math("2024-01-01||", false, None),
            Ok(utc(2024, 1, 1, 0, 0, 0, 0))
        );
        assert_eq!(
            parse_date_math("2024/03/04||+1d", "yyyy/MM/dd", NOW, false, None),
            Ok(utc(2024, 3, 5, 0, 0, 0, 0))
        );
    }

    #[test]
    fn round_up_fills_missing_time_fields() {
        // ES range docs "Missing date components": with gt/lte, missing time fields become
        // 23:59:59.999999999 while missing month/day stay 01; the year is never rounded.
        assert_eq!(
            math("2024-03-04", true, None),
            Ok(utc(2024, 3, 4, 23, 59, 59, 999_999_999))
        );
        assert_eq!(
            math("2024-03-04", false, None),
            Ok(utc(2024, 3, 4, 0, 0, 0, 0))
        );
        assert_eq!(
            math("2024-03-04T05:06", true, None),
            Ok(utc(2024, 3, 4, 5, 6, 59, 999_999_999))
        );
        assert_eq!(
            parse_date_math("2099-12", "yyyy-MM", NOW, true, None),
            Ok(utc(2099, 12, 1, 23, 59, 59, 999_999_999))
        );
        assert_eq!(
            math("2024-03-04T05:06:07.123Z", true, None),
            Ok(utc(2024, 3, 4, 5, 6, 7, 123_000_000))
        );
        // Epoch values: the missing sub-unit fraction is filled (EpochTime round-up parser).
        assert_eq!(math("1000", true, None), Ok(ms(1000) + 999_999));
        // The anchor before `||` never rounds up on its own.
        assert_eq!(
            math("2024-03-04||+1d", true, None),
            Ok(utc(2024, 3, 5, 0, 0, 0, 0))
        );
    }

    #[test]
    fn time_zone_applies_to_local_dates_and_rounding() {
        // ES range query `time_zone`: converts dates without offset and drives rounding;
        // explicit offsets and epoch values are left alone.
        let paris = Some("Europe/Paris");
        assert_eq!(
            math("2024-01-02T10:00:00", false, paris),
            Ok(utc(2024, 1, 2, 9, 0, 0, 0))
        );
        assert_eq!(
            math("2024-01-02T10:00:00Z", false, paris),
            Ok(utc(2024, 1, 2, 10, 0, 0, 0))
        );
        assert_eq!(
            math("1704189600000", false, paris),
            Ok(ms(1_704_189_600_000))
        );
        assert_eq!(
            math("2024-01-02", true, paris),
            Ok(utc(2024, 1, 2, 22, 59, 59, 999_999_999))
        );
        assert_eq!(
            math("now/d", false, paris),
            Ok(utc(2024, 3, 3, 23, 0, 0, 0))
        );
        assert_eq!(
            math("now/d", false, Some("+01:00")),
            Ok(utc(2024, 3, 3, 23, 0, 0, 0))
        );
        assert_eq!(
            math("now/d", false, Some("-10:00")),
            Ok(utc(2024, 3, 4, 10, 0, 0, 0))
        );
        // Rounding an explicitly offset anchor still happens in the requested zone.
        assert_eq!(
            math("2024-01-02T23:30:00Z||/d", false, paris),
            Ok(utc(2024, 1, 2, 23, 0, 0, 0))
        );
        assert!(
            err_msg(math("now/d", false, Some("Mars/Olympus"))).contains("Unknown time-zone ID")
        );
    }

    #[test]
    fn dst_transitions_in_berlin() {
        // java.time ZonedDateTime semantics: days have 23h/25h around the switch; `+1d` keeps
        // the wall-clock time, `+24h` does not.
        let berlin = Some("Europe/Berlin");
        // Spring forward on 2024-03-31 (02:00 -> 03:00).
        let mid_spring = utc(2024, 3, 31, 12, 0, 0, 0);
        let p = |e: &str, up: bool| parse_date_math(e, D, mid_spring / NANOS_PER_MILLI, up, berlin);
        assert_eq!(p("now/d", false), Ok(utc(2024, 3, 30, 23, 0, 0, 0)));
        assert_eq!(
            p("now/d", true),
            Ok(utc(2024, 3, 31, 21, 59, 59, 999_000_000))
        );
        assert_eq!(p("now-1d", false), Ok(utc(2024, 3, 30, 13, 0, 0, 0)));
        assert_eq!(p("now-24h", false), Ok(utc(2024, 3, 30, 12, 0, 0, 0)));
        // Autumn back on 2024-10-27 (03:00 -> 02:00).
        let mid_autumn = utc(2024, 10, 27, 12, 0, 0, 0);
        let p = |e: &str, up: bool| parse_date_math(e, D, mid_autumn / NANOS_PER_MILLI, up, berlin);
        assert_eq!(p("now/d", false), Ok(utc(2024, 10, 26, 22, 0, 0, 0)));
        assert_eq!(
            p("now/d", true),
            Ok(utc(2024, 10, 27, 22, 59, 59, 999_000_000))
        );
        assert_eq!(p("now/M", false), Ok(utc(2024, 9, 30, 22, 0, 0, 0)));
        assert_eq!(
            p("now/M", true),
            Ok(utc(2024, 10, 31, 22, 59, 59, 999_000_000))
        );
        // A local time inside the spring gap moves forward by the gap (02:30 -> 03:30 CEST).
        assert_eq!(
            math("2024-03-31T02:30:00", false, berlin),
            Ok(utc(2024, 3, 31, 1, 30, 0, 0))
        );
        // An ambiguous autumn local time takes the earlier (summer) offset.
        assert_eq!(
            math("2024-10-27T02:30:00", false, berlin),
            Ok(utc(2024, 10, 27, 0, 30, 0, 0))
        );
        // Hour rounding inside the repeated hour keeps the instant's own offset.
        let second_pass = utc(2024, 10, 27, 1, 45, 0, 0); // 02:45 CET
        assert_eq!(
            parse_date_math("now/h", D, second_pass / NANOS_PER_MILLI, false, berlin),
            Ok(utc(2024, 10, 27, 1, 0, 0, 0))
        );
    }

    #[test]
    fn date_math_errors() {
        // JavaDateMathParser messages.
        assert_eq!(
            err_msg(math("now*1d", false, None)),
            "operator not supported for date math [*1d]"
        );
        assert_eq!(
            err_msg(math("now-", false, None)),
            "truncated date math [-]"
        );
        assert_eq!(
            err_msg(math("now-1", false, None)),
            "truncated date math [-1]"
        );
        assert_eq!(
            err_msg(math("now/1d", false, None)),
            "rounding `/` can only be used on single unit types [/1d]"
        );
        assert_eq!(
            err_msg(math("now+1x", false, None)),
            "unit [x] not supported for date math [+1x]"
        );
        assert_eq!(
            err_msg(math("nowish", false, None)),
            "operator not supported for date math [ish]"
        );
        assert!(math("now+999999999y", false, None).is_err());
        assert_eq!(
            err_msg(math("garbage||+1d", false, None)),
            "failed to parse date field [garbage] with format [strict_date_optional_time||epoch_millis]"
        );
    }

    // --- ClickHouse literals

    #[test]
    fn clickhouse_literals() {
        let t = utc(2024, 3, 4, 5, 6, 7, 123_456_789);
        assert_eq!(
            to_clickhouse_datetime64(t, 3),
            Ok("2024-03-04 05:06:07.123".to_string())
        );
        assert_eq!(
            to_clickhouse_datetime64(t, 9),
            Ok("2024-03-04 05:06:07.123456789".to_string())
        );
        assert_eq!(
            to_clickhouse_datetime64(t, 0),
            Ok("2024-03-04 05:06:07".to_string())
        );
        assert_eq!(
            to_clickhouse_datetime64(0, 3),
            Ok("1970-01-01 00:00:00.000".to_string())
        );
        // Before 1970 the fraction counts forward from the earlier second.
        assert_eq!(
            to_clickhouse_datetime64(ms(-1), 3),
            Ok("1969-12-31 23:59:59.999".to_string())
        );
        assert_eq!(
            to_clickhouse_datetime64(-1, 9),
            Ok("1969-12-31 23:59:59.999999999".to_string())
        );
        assert_eq!(
            to_clickhouse_datetime64(utc(1900, 1, 1, 0, 0, 0, 0), 3),
            Ok("1900-01-01 00:00:00.000".to_string())
        );
        assert!(to_clickhouse_datetime64(utc(1899, 12, 31, 23, 59, 59, 999_000_000), 3).is_err());
        assert!(to_clickhouse_datetime64(i64::MIN, 9).is_err());
        assert_eq!(
            to_clickhouse_datetime64(i64::MAX, 9),
            Ok("2262-04-11 23:47:16.854775807".to_string())
        );
    }
}
