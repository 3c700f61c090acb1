//! `elastichouse loadgen`: fills any Elasticsearch-compatible endpoint with seeded, realistic logs
//! over `_bulk`, optionally runs a search workload, reports throughput and latency, and verifies
//! with `_refresh` + `_count` that every acknowledged document arrived. See `docs/loadgen.md`.

pub mod r#gen;

use chrono::{DateTime, Utc};
use r#gen::{Kind, Timeline};
use parking_lot::Mutex;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The `_bulk` action of the documents sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// `create` when the target is a data stream, or a name a data-stream index template matches
    /// (the template of highest priority, as Elasticsearch picks it); `index` otherwise (and on a
    /// dry run, which asks nothing).
    Auto,
    Index,
    /// `create`: the only action a data stream accepts.
    Create,
}

impl Op {
    fn action(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Index | Op::Auto => "index",
        }
    }
}

/// Command-line options of `elastichouse loadgen`.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadgenArgs {
    /// Base URL of the Elasticsearch-compatible API.
    #[arg(long, default_value = "http://127.0.0.1:9200")]
    pub target: String,
    /// Index or data stream to write (default `loadgen-<kind>`).
    #[arg(long)]
    pub index: Option<String>,
    #[arg(long, value_enum, default_value_t = Kind::App)]
    pub kind: Kind,
    /// Bulk action: `index`, `create` (data streams take only `create`), or `auto`.
    #[arg(long, value_enum, default_value_t = Op::Auto)]
    pub op: Op,
    /// Number of documents (default 10000 unless --duration is given).
    #[arg(long, conflicts_with = "duration")]
    pub docs: Option<u64>,
    /// Run for this long (`60s`, `5m`, …).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Concurrent bulk clients.
    #[arg(long, default_value_t = 2)]
    pub clients: usize,
    /// Documents per `_bulk` request.
    #[arg(long, default_value_t = 500)]
    pub batch: usize,
    /// Rate limit in documents per second (default: as fast as possible).
    #[arg(long)]
    pub rate: Option<f64>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Searches per second run alongside the ingest (Discover-, dashboard- and full-text-style).
    #[arg(long)]
    pub queries: Option<f64>,
    /// Print the final report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Write the `_bulk` NDJSON to stdout instead of sending it.
    #[arg(long)]
    pub dry_run: bool,
    /// Timestamps are spread over this span ending at --end, weighted by a day/night curve;
    /// `0s` stamps each document with the wall clock.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "24h")]
    pub span: Duration,
    /// End of the time span (RFC 3339; default now).
    #[arg(long)]
    pub end: Option<DateTime<Utc>>,
    /// Retries of one request on 429/503 or a connection error before it counts as failed.
    #[arg(long, default_value_t = 8)]
    pub max_retries: u32,
    /// Skip the `_refresh` + `_count` check at the end.
    #[arg(long)]
    pub no_verify: bool,
}

impl LoadgenArgs {
    pub fn index_name(&self) -> String {
        self.index.clone().unwrap_or_else(|| {
            format!(
                "loadgen-{}",
                serde_json::to_value(self.kind).unwrap().as_str().unwrap()
            )
        })
    }
    fn timeline(&self) -> Timeline {
        Timeline {
            end: self.end.unwrap_or_else(Utc::now),
            span_secs: self.span.as_secs() as i64,
        }
    }
    fn total_docs(&self) -> Option<u64> {
        match (self.docs, self.duration) {
            (Some(n), _) => Some(n),
            (None, Some(_)) => None,
            (None, None) => Some(10_000),
        }
    }
}

/// Latency samples kept per request kind: past this, a uniform sample of them (reservoir
/// sampling), so a run of days (the compose services) keeps bounded memory.
const MAX_SAMPLES: usize = 100_000;

/// Counters and latencies of one run.
#[derive(Default)]
struct Stats {
    /// Per request kind: how many were timed, and a sample of their latencies.
    latencies: BTreeMap<String, (u64, Vec<f64>)>,
    errors: BTreeMap<String, u64>,
}

/// What a run did; printed as a table or JSON.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub index: String,
    /// The bulk action used (`index` or `create`).
    pub op: Op,
    pub elapsed_secs: f64,
    pub docs_sent: u64,
    pub docs_acknowledged: u64,
    pub bytes_sent: u64,
    pub requests: u64,
    pub retries: u64,
    pub http_429: u64,
    pub failed_requests: u64,
    /// Documents the target refused (failed `_bulk` items, by type in `errors`).
    pub failed_items: u64,
    pub docs_per_sec: f64,
    pub mb_per_sec: f64,
    pub requests_per_sec: f64,
    /// Per request kind: count, p50, p95, p99 (milliseconds).
    pub latency_ms: BTreeMap<String, Value>,
    pub errors: BTreeMap<String, u64>,
    /// `_count` after the run minus `_count` before it (when verified).
    pub verified_count: Option<u64>,
    pub verify_ok: bool,
}

struct Shared {
    args: LoadgenArgs,
    index: String,
    /// The bulk action, resolved (never `Auto`).
    op: Mutex<Op>,
    tl: Timeline,
    http: reqwest::Client,
    start: Instant,
    next_batch: AtomicU64,
    sent: AtomicU64,
    acked: AtomicU64,
    bytes: AtomicU64,
    requests: AtomicU64,
    retries: AtomicU64,
    http_429: AtomicU64,
    failed: AtomicU64,
    failed_items: AtomicU64,
    stats: Mutex<Stats>,
    done: std::sync::atomic::AtomicBool,
}

impl Shared {
    fn record(&self, kind: &str, ms: f64) {
        let mut st = self.stats.lock();
        let (seen, v) = st.latencies.entry(kind.to_string()).or_default();
        *seen += 1;
        if v.len() < MAX_SAMPLES {
            v.push(ms);
        } else {
            let j = rand::random_range(0..*seen) as usize;
            if j < MAX_SAMPLES {
                v[j] = ms;
            }
        }
    }
    fn error(&self, kind: &str, n: u64) {
        *self
            .stats
            .lock()
            .errors
            .entry(kind.to_string())
            .or_default() += n;
    }

    /// Sends one request, retrying with exponential back-off on 429/503 and connection errors.
    async fn send(
        &self,
        kind: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<(String, &str)>,
    ) -> Option<(u16, Value)> {
        let url = format!("{}{}", self.args.target.trim_end_matches('/'), path);
        let mut attempt = 0u32;
        loop {
            let mut rq = self.http.request(method.clone(), &url);
            if let Some((b, ct)) = &body {
                rq = rq.header("content-type", *ct).body(b.clone());
                self.bytes.fetch_add(b.len() as u64, Ordering::Relaxed);
            }
            let t0 = Instant::now();
            self.requests.fetch_add(1, Ordering::Relaxed);
            let res = rq.send().await;
            let why: String = match res {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let v: Value = r.json().await.unwrap_or(Value::Null);
                    self.record(kind, t0.elapsed().as_secs_f64() * 1000.0);
                    if status == 429 {
                        self.http_429.fetch_add(1, Ordering::Relaxed);
                    }
                    if status == 429 || status == 503 {
                        format!("http_{status}")
                    } else {
                        return Some((status, v));
                    }
                }
                Err(e) => {
                    if e.is_timeout() {
                        "timeout".into()
                    } else {
                        "connection".into()
                    }
                }
            };
            if attempt >= self.args.max_retries {
                self.failed.fetch_add(1, Ordering::Relaxed);
                self.error(&format!("{kind}:{why}"), 1);
                return None;
            }
            attempt += 1;
            self.retries.fetch_add(1, Ordering::Relaxed);
            let backoff = Duration::from_millis((25u64 << attempt.min(7)).min(2000));
            tokio::time::sleep(backoff).await;
        }
    }
}

/// Runs the load generator as `elastichouse loadgen` does; output (NDJSON or report) goes to `out`.
/// Returns the report (`None` on a dry run) and whether the run succeeded.
pub async fn run(
    args: LoadgenArgs,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<(Option<Report>, bool)> {
    anyhow::ensure!(
        args.batch > 0 && args.clients > 0,
        "--batch and --clients must be positive"
    );
    let index = args.index_name();
    let tl = args.timeline();
    if args.dry_run {
        let total = args.total_docs().unwrap_or(10_000);
        let mut k = 0u64;
        while k * (args.batch as u64) < total {
            let len = (total - k * args.batch as u64).min(args.batch as u64) as usize;
            let body =
                r#gen::batch_body(args.seed, args.kind, &index, args.op.action(), &tl, k, len);
            out.write_all(body.as_bytes())?;
            k += 1;
        }
        out.flush()?;
        return Ok((None, true));
    }
    let shared = Arc::new(Shared {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()?,
        index: index.clone(),
        op: Mutex::new(args.op),
        tl,
        start: Instant::now(),
        next_batch: AtomicU64::new(0),
        sent: AtomicU64::new(0),
        acked: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        requests: AtomicU64::new(0),
        retries: AtomicU64::new(0),
        http_429: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        failed_items: AtomicU64::new(0),
        stats: Mutex::new(Stats::default()),
        done: Default::default(),
        args: args.clone(),
    });
    if args.op == Op::Auto {
        let op = auto_op(&shared).await;
        *shared.op.lock() = op;
    }
    let op = *shared.op.lock();
    let before = if args.no_verify {
        0
    } else {
        count(&shared).await.unwrap_or(0)
    };
    let bar = match args.total_docs() {
        Some(n) => indicatif::ProgressBar::new(n),
        None => indicatif::ProgressBar::new(args.duration.map_or(0, |d| d.as_secs())),
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {per_sec} eta {eta} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let by_docs = args.total_docs().is_some();
    let mut tasks = Vec::new();
    for _ in 0..args.clients {
        let s = shared.clone();
        let bar = bar.clone();
        tasks.push(tokio::spawn(
            async move { client_loop(s, bar, by_docs).await },
        ));
    }
    let queries = args.queries.map(|qps| {
        let s = shared.clone();
        tokio::spawn(async move { query_loop(s, qps).await })
    });
    for t in tasks {
        t.await?;
    }
    shared.done.store(true, Ordering::SeqCst);
    if let Some(q) = queries {
        q.await?;
    }
    bar.finish_and_clear();
    let elapsed = shared.start.elapsed().as_secs_f64();
    let acked = shared.acked.load(Ordering::Relaxed);
    let (verified_count, verify_ok) = if args.no_verify {
        (None, true)
    } else {
        shared
            .send(
                "refresh",
                reqwest::Method::POST,
                &format!("/{index}/_refresh"),
                None,
            )
            .await;
        let after = count(&shared).await.unwrap_or(0);
        let got = after.saturating_sub(before);
        (Some(got), got == acked)
    };
    let st = shared.stats.lock();
    let mut latency_ms = BTreeMap::new();
    for (k, (seen, v)) in &st.latencies {
        let mut v = v.clone();
        v.sort_by(|a, b| a.total_cmp(b));
        let p = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
        latency_ms.insert(
            k.clone(),
            json!({"count": seen, "p50": p(0.5), "p95": p(0.95), "p99": p(0.99)}),
        );
    }
    let bytes = shared.bytes.load(Ordering::Relaxed);
    let requests = shared.requests.load(Ordering::Relaxed);
    let failed = shared.failed.load(Ordering::Relaxed);
    let report = Report {
        index,
        op,
        elapsed_secs: elapsed,
        docs_sent: shared.sent.load(Ordering::Relaxed),
        docs_acknowledged: acked,
        bytes_sent: bytes,
        requests,
        retries: shared.retries.load(Ordering::Relaxed),
        http_429: shared.http_429.load(Ordering::Relaxed),
        failed_requests: failed,
        failed_items: shared.failed_items.load(Ordering::Relaxed),
        docs_per_sec: acked as f64 / elapsed,
        mb_per_sec: bytes as f64 / 1e6 / elapsed,
        requests_per_sec: requests as f64 / elapsed,
        latency_ms,
        errors: st.errors.clone(),
        verified_count,
        verify_ok,
    };
    drop(st);
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        write_table(&report, out)?;
    }
    let ok = verify_ok && failed == 0 && report.failed_items == 0;
    Ok((Some(report), ok))
}

/// `create` when the target is a data stream (`GET /_data_stream/NAME` finds it) or would become one
/// (the matching index template of highest priority has `data_stream`), else `index`. An answer
/// that cannot be read counts as "not a data stream".
async fn auto_op(s: &Shared) -> Op {
    let ds = s
        .send(
            "resolve",
            reqwest::Method::GET,
            &format!("/_data_stream/{}", s.index),
            None,
        )
        .await;
    if let Some((200, v)) = &ds
        && v["data_streams"].as_array().is_some_and(|a| !a.is_empty())
    {
        return Op::Create;
    }
    let Some((200, v)) = s
        .send("resolve", reqwest::Method::GET, "/_index_template", None)
        .await
    else {
        return Op::Index;
    };
    let best = v["index_templates"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| &t["index_template"])
        .filter(|t| {
            t["index_patterns"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .any(|p| crate::catalog::glob_match(p, &s.index))
        })
        .max_by_key(|t| t["priority"].as_i64().unwrap_or(0));
    match best {
        Some(t) if t.get("data_stream").is_some_and(|d| !d.is_null()) => Op::Create,
        _ => Op::Index,
    }
}

async fn count(s: &Shared) -> Option<u64> {
    let (status, v) = s
        .send(
            "count",
            reqwest::Method::GET,
            &format!("/{}/_count", s.index),
            None,
        )
        .await?;
    if status == 404 {
        return Some(0);
    }
    v["count"].as_u64()
}

async fn client_loop(s: Arc<Shared>, bar: indicatif::ProgressBar, by_docs: bool) {
    let batch = s.args.batch as u64;
    loop {
        let k = s.next_batch.fetch_add(1, Ordering::SeqCst);
        let len = match s.args.total_docs() {
            Some(total) if k * batch >= total => return,
            Some(total) => (total - k * batch).min(batch),
            None => batch,
        };
        if let Some(rate) = s.args.rate {
            // Batch k may start once k*batch documents fit in the rate since the start, so the
            // documents sent by time T never exceed rate*T + batch.
            let at = s.start + Duration::from_secs_f64((k * batch) as f64 / rate);
            tokio::time::sleep_until(at.into()).await;
        }
        if let Some(d) = s.args.duration
            && s.start.elapsed() >= d
        {
            return;
        }
        let op = s.op.lock().action();
        let body = r#gen::batch_body(
            s.args.seed,
            s.args.kind,
            &s.index,
            op,
            &s.tl,
            k,
            len as usize,
        );
        s.sent.fetch_add(len, Ordering::Relaxed);
        if let Some((status, v)) = s
            .send(
                "bulk",
                reqwest::Method::POST,
                "/_bulk",
                Some((body, "application/x-ndjson")),
            )
            .await
        {
            if status >= 300 {
                s.error(&format!("bulk:http_{status}"), 1);
                s.failed.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let mut ok = 0;
            for item in v["items"].as_array().into_iter().flatten() {
                let r = item
                    .as_object()
                    .and_then(|o| o.values().next())
                    .cloned()
                    .unwrap_or(Value::Null);
                let st = r["status"].as_u64().unwrap_or(0);
                if (200..300).contains(&st) {
                    ok += 1;
                } else {
                    let t = r["error"]["type"].as_str().unwrap_or("unknown").to_string();
                    s.error(&format!("bulk_item:{t}"), 1);
                    s.failed_items.fetch_add(1, Ordering::Relaxed);
                }
            }
            s.acked.fetch_add(ok, Ordering::Relaxed);
        }
        if by_docs {
            bar.inc(len);
        } else {
            bar.set_position(s.start.elapsed().as_secs());
        }
    }
}

/// Searches at `qps` over the index being written, cycling through Discover-style (newest 50 with a
/// histogram), dashboard-style (aggregations only) and full-text searches.
async fn query_loop(s: Arc<Shared>, qps: f64) {
    let field = match s.args.kind {
        Kind::App => ("service", "message", "timeout"),
        Kind::Http => ("url", "user_agent", "Mozilla"),
        Kind::Device => ("site", "message", "failed"),
    };
    let mut i = 0u64;
    let gap = Duration::from_secs_f64(1.0 / qps.max(0.001));
    while !s.done.load(Ordering::SeqCst) {
        let (kind, body) = match i % 3 {
            0 => (
                "search_discover",
                json!({"size": 50, "sort": [{"@timestamp": "desc"}],
                "query": {"range": {"@timestamp": {"gte": "now-1d"}}},
                "aggs": {"h": {"date_histogram": {"field": "@timestamp", "fixed_interval": "30m"}}}}),
            ),
            1 => (
                "search_dashboard",
                json!({"size": 0,
                "aggs": {"top": {"terms": {"field": field.0, "size": 10}}}}),
            ),
            _ => (
                "search_fulltext",
                json!({"size": 10, "query": {"match": {field.1: field.2}}}),
            ),
        };
        let path = format!("/{}/_search", s.index);
        if let Some((status, v)) = s
            .send(
                kind,
                reqwest::Method::POST,
                &path,
                Some((body.to_string(), "application/json")),
            )
            .await
            && status >= 300
        {
            let t = v["error"]["type"].as_str().unwrap_or("unknown").to_string();
            s.error(&format!("{kind}:{t}"), 1);
        }
        i += 1;
        tokio::time::sleep(gap).await;
    }
}

fn write_table(r: &Report, out: &mut (dyn Write + Send)) -> std::io::Result<()> {
    writeln!(out, "index            {} ({})", r.index, r.op.action())?;
    writeln!(out, "elapsed          {:.2} s", r.elapsed_secs)?;
    writeln!(
        out,
        "docs sent/acked  {} / {}",
        r.docs_sent, r.docs_acknowledged
    )?;
    writeln!(out, "docs/s           {:.1}", r.docs_per_sec)?;
    writeln!(out, "MB/s             {:.2}", r.mb_per_sec)?;
    writeln!(out, "requests/s       {:.1}", r.requests_per_sec)?;
    writeln!(out, "retries / 429s   {} / {}", r.retries, r.http_429)?;
    writeln!(out, "failed requests  {}", r.failed_requests)?;
    writeln!(out, "failed items     {}", r.failed_items)?;
    writeln!(
        out,
        "{:<18} {:>8} {:>10} {:>10} {:>10}",
        "kind", "count", "p50 ms", "p95 ms", "p99 ms"
    )?;
    for (k, v) in &r.latency_ms {
        writeln!(
            out,
            "{:<18} {:>8} {:>10.1} {:>10.1} {:>10.1}",
            k,
            v["count"],
            v["p50"].as_f64().unwrap_or(0.0),
            v["p95"].as_f64().unwrap_or(0.0),
            v["p99"].as_f64().unwrap_or(0.0)
        )?;
    }
    for (k, v) in &r.errors {
        writeln!(out, "error {k:<30} {v}")?;
    }
    match r.verified_count {
        Some(c) if r.verify_ok => writeln!(out, "verify           OK ({c} documents arrived)")?,
        Some(c) => writeln!(
            out,
            "verify           MISMATCH: {} acknowledged, {c} counted",
            r.docs_acknowledged
        )?,
        None => {}
    }
    Ok(())
}
