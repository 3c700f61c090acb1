//! Seeded document generator. Batch `k` is generated from its own ChaCha8 stream seeded by
//! `(seed, k)`, so the output depends only on the seed, the kind, the batch size and the time span,
//! never on how many clients send it.

use chrono::{DateTime, SecondsFormat, TimeZone, Timelike, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Zipf};
use serde_json::{Value, json};

/// Kind of documents to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    App,
    Http,
    Device,
}

/// Time placement of generated documents.
#[derive(Debug, Clone, Copy)]
pub struct Timeline {
    /// End of the span (the newest possible timestamp).
    pub end: DateTime<Utc>,
    /// Span length in seconds; 0 means "the wall clock at generation time".
    pub span_secs: i64,
}

const SERVICES: &[&str] = &[
    "checkout",
    "cart",
    "auth",
    "search",
    "catalog",
    "payments",
    "shipping",
    "email",
    "frontend",
    "recommendation",
];
const URLS: &[&str] = &[
    "/",
    "/api/products",
    "/api/cart",
    "/login",
    "/api/search",
    "/static/app.js",
    "/static/style.css",
    "/api/checkout",
    "/api/orders",
    "/health",
    "/api/users/me",
    "/favicon.ico",
    "/api/recommendations",
    "/logout",
    "/admin",
    "/api/payments",
];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "curl/8.4.0",
    "Googlebot/2.1 (+http://www.google.com/bot.html)",
];
const INFO_MSGS: &[&str] = &[
    "request completed",
    "cache hit for key",
    "user session refreshed",
    "order created",
    "payment authorized",
    "connection pool resized",
    "scheduled job finished",
];
const WARN_MSGS: &[&str] = &[
    "slow query detected",
    "retrying upstream call",
    "cache miss storm",
    "queue depth above threshold",
];
const ERROR_MSGS: &[&str] = &[
    "upstream timeout after 30s",
    "database connection refused",
    "null pointer in order handler",
    "payment gateway returned 502",
    "out of memory while encoding response",
];
const DEVICE_TYPES: &[&str] = &["thermostat", "meter", "camera", "gateway", "sensor"];
const SITES: &[&str] = &["paris-1", "berlin-2", "austin-1", "tokyo-3", "lagos-1"];

/// Relative traffic at an hour of the day: low at night, peak mid-afternoon.
fn diurnal_weight(hour: u32) -> f64 {
    let x = (hour as f64 - 14.0) / 24.0 * std::f64::consts::TAU;
    0.25 + 0.75 * (0.5 + 0.5 * x.cos())
}

/// Whether the minute containing `t` is inside an error burst (about 5% of minutes, per seed).
fn in_burst(seed: u64, t: &DateTime<Utc>) -> bool {
    let minute = t.timestamp() / 60;
    let mut r =
        ChaCha8Rng::seed_from_u64(seed ^ (minute as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    r.random_bool(0.05)
}

fn pick<'a>(r: &mut ChaCha8Rng, items: &[&'a str]) -> &'a str {
    items[r.random_range(0..items.len())]
}

/// Zipf-skewed index into `0..n` (a few hot values take most of the traffic).
fn zipf(r: &mut ChaCha8Rng, n: usize) -> usize {
    let z = Zipf::new(n as f64, 1.2).expect("valid zipf");
    (z.sample(r) as usize).clamp(1, n) - 1
}

fn hex(r: &mut ChaCha8Rng, bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", r.random::<u8>()))
        .collect()
}

fn timestamp(r: &mut ChaCha8Rng, tl: &Timeline) -> DateTime<Utc> {
    if tl.span_secs <= 0 {
        return Utc::now();
    }
    // Rejection sampling against the diurnal curve.
    loop {
        let off = r.random_range(0..tl.span_secs * 1000);
        let t = tl.end - chrono::Duration::milliseconds(off);
        if r.random_bool(diurnal_weight(t.hour()).min(1.0)) {
            return t;
        }
    }
}

/// One document of `kind`.
pub fn document(r: &mut ChaCha8Rng, seed: u64, kind: Kind, tl: &Timeline) -> Value {
    let t = timestamp(r, tl);
    let ts = t.to_rfc3339_opts(SecondsFormat::Millis, true);
    let burst = in_burst(seed, &t);
    match kind {
        Kind::App => {
            let svc = SERVICES[zipf(r, SERVICES.len())];
            let err_p = if burst { 0.3 } else { 0.02 };
            let (level, msg) = if r.random_bool(err_p) {
                ("ERROR", pick(r, ERROR_MSGS))
            } else if r.random_bool(0.08) {
                ("WARN", pick(r, WARN_MSGS))
            } else if r.random_bool(0.1) {
                ("DEBUG", pick(r, INFO_MSGS))
            } else {
                ("INFO", pick(r, INFO_MSGS))
            };
            let replica = r.random_range(0..4);
            json!({
                "@timestamp": ts,
                "level": level,
                "message": format!("{msg} ({svc})"),
                "service": svc,
                "resource_id": format!("pod-{svc}-{replica}"),
                "parent_resource": format!("deployment-{svc}"),
                "trace_id": hex(r, 16),
                "span_id": hex(r, 8),
                "commit": format!("{:07x}", (svc.len() as u32 * 0x1F3A5B) & 0x0FFF_FFFF),
                "host": format!("node-{}", r.random_range(1..=6)),
            })
        }
        Kind::Http => {
            let url = URLS[zipf(r, URLS.len())];
            let client = zipf(r, 500);
            let ip = format!("10.{}.{}.{}", client / 250, client % 250, 1 + client % 7);
            let method = if url.starts_with("/api/") && r.random_bool(0.3) {
                "POST"
            } else {
                "GET"
            };
            let err_p = if burst { 0.25 } else { 0.01 };
            let status = if r.random_bool(err_p) {
                [500, 502, 503, 504][r.random_range(0..4)]
            } else if r.random_bool(0.05) {
                [404, 401, 403, 400][r.random_range(0..4)]
            } else if r.random_bool(0.05) {
                [301, 304][r.random_range(0..2)]
            } else {
                200
            };
            let base: f64 = r.random_range(2.0..40.0);
            let rt = if status >= 500 {
                base * 20.0
            } else {
                base * (1.0 + r.random::<f64>().powi(8) * 50.0)
            };
            json!({
                "@timestamp": ts,
                "client_ip": ip,
                "method": method,
                "url": url,
                "status": status,
                "bytes": if status == 304 { 0 } else { r.random_range(200..120_000) },
                "user_agent": AGENTS[zipf(r, AGENTS.len())],
                "response_time_ms": (rt * 10.0).round() / 10.0,
                "host": format!("web-{}", r.random_range(1..=3)),
            })
        }
        Kind::Device => {
            let dev = zipf(r, 200);
            let dtype = DEVICE_TYPES[dev % DEVICE_TYPES.len()];
            let battery = 100 - ((dev * 7 + t.minute() as usize) % 100) as i64;
            let fault = r.random_bool(if burst { 0.2 } else { 0.01 });
            json!({
                "@timestamp": ts,
                "device_id": format!("dev-{dev:04}"),
                "device_type": dtype,
                "site": SITES[dev % SITES.len()],
                "firmware": format!("{}.{}.{}", 1 + dev % 3, dev % 5, dev % 11),
                "temperature_c": ((18.0 + (dev % 10) as f64 + r.random_range(-2.0..2.0)) * 10.0_f64).round() / 10.0,
                "humidity_pct": r.random_range(20..80),
                "battery_pct": battery,
                "signal_dbm": -40 - r.random_range(0..60),
                "status": if fault { "fault" } else if battery < 10 { "low_battery" } else { "ok" },
                "message": if fault { format!("{dtype} sensor read failed") } else { format!("{dtype} reading") },
            })
        }
    }
}

/// The `_bulk` NDJSON body of batch `k` (documents `k*batch ..< k*batch+len`), and its doc count.
/// `op` is the bulk action of every document: `index`, or `create` (the only one a data stream
/// takes).
pub fn batch_body(
    seed: u64,
    kind: Kind,
    index: &str,
    op: &str,
    tl: &Timeline,
    k: u64,
    len: usize,
) -> String {
    let mut r = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ k);
    let action = json!({op: {"_index": index}}).to_string();
    let mut out = String::with_capacity(len * 400);
    for _ in 0..len {
        out.push_str(&action);
        out.push('\n');
        out.push_str(&document(&mut r, seed, kind, tl).to_string());
        out.push('\n');
    }
    out
}

/// A fixed, valid default end for tests: 2026-01-01T00:00:00Z.
pub fn fixed_end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}
