//! Aggregation benchmark: a Kibana-style `date_histogram × terms × avg/percentiles` request over
//! generated log documents.
//!
//! The index is created through the API (mapping and columns as usual); to save time the rows are
//! then written straight into its table with one `INSERT … SELECT FROM numbers(N)` on the daemon's
//! ClickHouse (not through `_bulk`; the ingest path has its own benchmark).
//!
//! Run: `cargo bench --bench aggs` (env: BENCH_DOCS, default 1000000). Prints figures only.

mod common;

use serde_json::json;
use std::time::Instant;

fn main() {
    let n: u64 = common::env_or("BENCH_DOCS", 1_000_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let python = common::python();
        let cfg = elastichouse::config::Config::ephemeral(dir.path().to_path_buf(), Some(python));
        let running = elastichouse::server::start(cfg).await.expect("daemon");
        let es = format!("http://{}", running.es_addr);
        let ch = running.state.ch.url_with_credentials();
        let db = running.state.ch.database.clone();
        let http = reqwest::Client::new();
        let mapping = json!({"mappings": {"properties": {
            "@timestamp": {"type": "date"}, "host": {"type": "keyword"},
            "latency": {"type": "double"}, "status": {"type": "integer"}
        }}});
        let r = http.put(format!("{es}/bench-logs")).json(&mapping).send().await.unwrap();
        assert!(r.status().is_success());
        // One document through the API so every typed column exists.
        let doc = json!({"@timestamp": "2024-05-01T00:00:00Z", "host": "h0", "latency": 1.0, "status": 200});
        let r = http.put(format!("{es}/bench-logs/_doc/seed?refresh=true")).json(&doc).send().await.unwrap();
        assert!(r.status().is_success());
        let t = Instant::now();
        // 30 days of logs, 50 hosts, latencies 0..2000 ms.
        let insert = format!(
            "INSERT INTO `{db}`.`bench-logs` (`_id`, `_source`, `_version`, `_seq_no`, `_deleted`, `@timestamp`, `host`, `latency`, `status`) \
             SELECT toString(number), '{{}}', 1, number + 10, 0, \
             toDateTime64('2024-05-01 00:00:00', 3, 'UTC') + toIntervalMillisecond(intDiv(number * 2592000000, {n})), \
             concat('host-', toString(number * 7 % 50)), (number * 7919 % 200000) / 100.0, [200, 200, 200, 304, 404, 500][number % 6 + 1] \
             FROM numbers({n})"
        );
        let r = http.post(format!("{ch}/")).body(insert).send().await.unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        println!("loaded {n} rows in {:.1} s (direct INSERT … SELECT)", t.elapsed().as_secs_f64());
        let body = json!({"size": 0, "query": {"range": {"@timestamp": {"gte": "2024-05-01", "lt": "2024-06-01"}}},
            "aggs": {"t": {"date_histogram": {"field": "@timestamp", "fixed_interval": "12h", "time_zone": "Europe/Berlin"},
              "aggs": {"h": {"terms": {"field": "host", "size": 5, "order": {"avg_l": "desc"}},
                "aggs": {"avg_l": {"avg": {"field": "latency"}},
                         "p": {"percentiles": {"field": "latency", "percents": [50, 95, 99]}}}}}}}});
        let mut times = Vec::new();
        for i in 0..5 {
            let t = Instant::now();
            let r = http.post(format!("{es}/bench-logs/_search")).json(&body).send().await.unwrap();
            let status = r.status();
            let v: serde_json::Value = r.json().await.unwrap();
            assert!(status.is_success(), "{v}");
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            if i == 0 {
                println!("buckets: {}", v["aggregations"]["t"]["buckets"].as_array().map_or(0, Vec::len));
            }
            times.push(ms);
        }
        times.sort_by(|a, b| a.total_cmp(b));
        println!("date_histogram(12h, Europe/Berlin) × terms(host, top 5 by avg) × avg+percentiles over {n} docs: median {:.0} ms, best {:.0} ms (5 runs, 1 ClickHouse query each)", times[2], times[0]);
        let body2 = json!({"size": 0, "aggs": {"t": {"date_histogram": {"field": "@timestamp", "calendar_interval": "day"},
            "aggs": {"h": {"terms": {"field": "host", "size": 10}, "aggs": {"avg_l": {"avg": {"field": "latency"}}}}}}}});
        let t = Instant::now();
        let r = http.post(format!("{es}/bench-logs/_search")).json(&body2).send().await.unwrap();
        assert!(r.status().is_success());
        println!("date_histogram(day) × terms(host) × avg, no query: {:.0} ms", t.elapsed().as_secs_f64() * 1000.0);
    });
}
