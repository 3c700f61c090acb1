//! Self-contained cursors: scroll ids and point-in-time ids.
//!
//! A daemon keeps no search state (DESIGN: stateless daemons), so everything needed to continue a
//! scroll or to search a point in time travels inside the id we hand out: a compact JSON document,
//! deflated and encoded as URL-safe base64 (so the `GET /_search/scroll/{id}` form needs no escaping).
//! Any daemon behind a load balancer can continue any cursor. See docs/search.md.

use crate::error::EsError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::io::{Read, Write};

/// One index of a cursor and the snapshot bound taken when the cursor was opened: only rows with
/// `_seq_no` at or below it are visible (`None`: a table elastichouse did not create, no bound).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SnapIndex {
    #[serde(rename = "n")]
    pub name: String,
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub max_seq_no: Option<u64>,
}

/// What a scroll id carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScrollState {
    /// Format version.
    pub v: u8,
    /// Context number shown in `search_context_missing_exception`.
    pub ctx: u64,
    /// The indices searched, in order, with their snapshot bounds.
    pub idx: Vec<SnapIndex>,
    /// The request body (normalised: URL parameters folded in).
    pub body: Value,
    /// Sort values of the last hit returned, including the internal tie-breaker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Vec<Value>>,
    /// Deadline, epoch millis.
    pub exp: i64,
    /// Total hits computed on the first page.
    pub total: u64,
    /// Hits returned so far (a scroll stops at the request's `terminate_after`/end of data).
    pub seen: u64,
    /// `rest_total_hits_as_int` of the first request.
    #[serde(default)]
    pub int_total: bool,
    /// A page came back empty: every later page is empty too.
    #[serde(default)]
    pub done: bool,
}

/// What a point-in-time id carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PitState {
    pub v: u8,
    pub ctx: u64,
    pub idx: Vec<SnapIndex>,
    pub exp: i64,
}

fn encode<T: Serialize>(v: &T) -> String {
    let json = serde_json::to_vec(v).expect("cursor state serialises");
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&json).expect("in-memory write");
    URL_SAFE_NO_PAD.encode(enc.finish().expect("in-memory write"))
}

fn decode<T: for<'de> Deserialize<'de>>(id: &str) -> Option<T> {
    // Accept standard base64 and padding too: clients sometimes re-encode ids.
    let cleaned: String = id
        .trim()
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    let raw = URL_SAFE_NO_PAD.decode(cleaned).ok()?;
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(raw.as_slice())
        .take(64 * 1024 * 1024)
        .read_to_end(&mut out)
        .ok()?;
    serde_json::from_slice(&out).ok()
}

impl ScrollState {
    pub fn encode(&self) -> String {
        encode(self)
    }

    /// Parses a scroll id; a malformed one is Elasticsearch's `Cannot parse scroll id`.
    pub fn decode(id: &str) -> Result<ScrollState, EsError> {
        decode::<ScrollState>(id)
            .filter(|s| s.v == 1)
            .ok_or_else(|| {
                EsError::illegal_argument("Cannot parse scroll id").caused_by(
                    EsError::illegal_argument(format!("invalid scroll id [{id}]")),
                )
            })
    }
}

impl PitState {
    pub fn encode(&self) -> String {
        encode(self)
    }

    pub fn decode(id: &str) -> Result<PitState, EsError> {
        decode::<PitState>(id)
            .filter(|s| s.v == 1)
            .ok_or_else(|| EsError::illegal_argument(format!("invalid point in time id [{id}]")))
    }
}

/// A new context number (shown in errors, as Elasticsearch shows its reader context ids).
pub fn new_context_id() -> u64 {
    rand::random::<u32>() as u64
}

pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Elasticsearch's answer for a cursor whose context is gone (expired or never existed):
/// a 404 `search_phase_execution_exception` around `search_context_missing_exception`.
pub fn context_missing(ctx: u64) -> EsError {
    let cause = EsError::new(
        404,
        "search_context_missing_exception",
        format!("No search context found for id [{ctx}]"),
    );
    EsError::new(404, "search_phase_execution_exception", "all shards failed")
        .with("phase", "query")
        .with("grouped", true)
        .with(
            "failed_shards",
            json!([{"shard": -1, "index": null, "reason": cause.body()}]),
        )
        .caused_by(cause)
}

/// Parses an Elasticsearch time value (`1m`, `30s`, `500ms`, `2h`, `1d`, `-1`, `0`) into millis
/// (TimeValue#parseTimeValue). `setting` names the parameter in the error.
pub fn parse_time_value(v: &str, setting: &str) -> Result<i64, EsError> {
    let s = v.trim().to_ascii_lowercase();
    if s == "-1" {
        return Ok(-1);
    }
    if s == "0" {
        return Ok(0);
    }
    let units: [(&str, f64); 7] = [
        ("nanos", 1e-6),
        ("micros", 1e-3),
        ("ms", 1.0),
        ("s", 1000.0),
        ("m", 60_000.0),
        ("h", 3_600_000.0),
        ("d", 86_400_000.0),
    ];
    for (unit, factor) in units {
        if let Some(num) = s.strip_suffix(unit) {
            // `ms` also ends with `s`, `micros` with `s`: the number part must parse.
            if let Ok(n) = num.trim().parse::<i64>() {
                return Ok((n as f64 * factor) as i64);
            }
            if num.trim().parse::<f64>().is_ok() {
                return Err(EsError::illegal_argument(format!(
                    "failed to parse setting [{setting}] with value [{v}] as a time value: fractional time values are not supported"
                )));
            }
        }
    }
    Err(EsError::illegal_argument(format!(
        "failed to parse setting [{setting}] with value [{v}] as a time value: unit is missing or unrecognized"
    )))
}

/// Reads the `scroll`/`keep_alive` value of a body (a string or a number of millis).
pub fn time_value_json(v: &Value, setting: &str) -> Result<i64, EsError> {
    match v {
        Value::String(s) => parse_time_value(s, setting),
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| EsError::illegal_argument(format!("invalid [{setting}]"))),
        _ => Err(EsError::illegal_argument(format!(
            "failed to parse setting [{setting}] with value [{v}] as a time value: unit is missing or unrecognized"
        ))),
    }
}

/// Puts a key into a JSON object body (creating the object).
pub fn set_key(body: &mut Value, key: &str, v: Value) {
    if !body.is_object() {
        *body = Value::Object(Map::new());
    }
    if let Value::Object(m) = body {
        m.insert(key.to_string(), v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_garbage_is_rejected() {
        let s = ScrollState {
            v: 1,
            ctx: 7,
            idx: vec![SnapIndex {
                name: "logs".into(),
                max_seq_no: Some(41),
            }],
            body: json!({"query": {"match_all": {}}, "size": 500}),
            after: Some(vec![json!(3), json!(null)]),
            exp: 1,
            total: 2345,
            seen: 500,
            int_total: false,
            done: false,
        };
        let id = s.encode();
        assert!(
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        let back = ScrollState::decode(&id).unwrap();
        assert_eq!(back.idx, s.idx);
        assert_eq!(back.after, s.after);
        let e = ScrollState::decode("not-a-scroll-id").unwrap_err();
        assert_eq!(e.reason, "Cannot parse scroll id");
    }

    #[test]
    fn time_values_like_elasticsearch() {
        assert_eq!(parse_time_value("1m", "scroll").unwrap(), 60_000);
        assert_eq!(parse_time_value("500ms", "scroll").unwrap(), 500);
        assert_eq!(parse_time_value("30s", "scroll").unwrap(), 30_000);
        assert_eq!(parse_time_value("2h", "scroll").unwrap(), 7_200_000);
        assert_eq!(parse_time_value("-1", "scroll").unwrap(), -1);
        let e = parse_time_value("10", "scroll").unwrap_err();
        assert_eq!(
            e.reason,
            "failed to parse setting [scroll] with value [10] as a time value: unit is missing or unrecognized"
        );
    }
}
