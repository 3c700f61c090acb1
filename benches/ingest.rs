//! Ingest benchmark: `_bulk` docs/s through the daemon vs. a direct `INSERT … FORMAT JSONEachRow` of the
//! same documents into the same ClickHouse (the embedded chDB engine), in batches of the same size.
//!
//! Run: `cargo bench --bench ingest` (env: BENCH_DOCS, default 200000; BENCH_BATCH, default 5000: the
//! daemon's `bulk_batch_docs` and the direct insert's batch; BENCH_REQUEST_DOCS, default BENCH_BATCH:
//! documents per `_bulk` request, larger to let the daemon overlap a request's batches).
//! Needs the chDB venv (`scripts/setup`). Prints figures; asserts nothing about time.

mod common;

use elastichouse::sql;
use serde_json::json;
use std::time::Instant;

fn docs(n: usize) -> Vec<String> {
    let statuses = ["200", "200", "200", "304", "404", "500"];
    let paths = [
        "/index.html",
        "/api/v1/items",
        "/login",
        "/static/app.js",
        "/img/logo.png",
    ];
    (0..n)
        .map(|i| {
            json!({
                "@timestamp": format!("2024-05-{:02}T{:02}:{:02}:{:02}.{:03}Z", 1 + i % 28, i % 24, i % 60, (i / 60) % 60, i % 1000),
                "status": statuses[i % statuses.len()],
                "bytes": (i * 7919) % 50_000,
                "client.ip": format!("10.{}.{}.{}", i % 256, (i / 256) % 256, i % 253 + 1),
                "url.path": paths[i % paths.len()],
                "message": format!("GET {} HTTP/1.1 from host-{} took {} ms", paths[i % paths.len()], i % 97, i % 1000),
                "latency": (i % 1000) as f64 / 7.0
            })
            .to_string()
        })
        .collect()
}

/// CPU seconds (user + system) used so far by process `pid` (`self` or a number), from /proc: a
/// figure that depends far less on other load of the machine than wall-clock time.
fn cpu_secs(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds of this process (client + daemon) and of its children (the chDB engine).
fn cpu_now() -> (f64, f64) {
    let mut children = 0.0;
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let kids = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        children += kids.split_whitespace().map(cpu_secs).sum::<f64>();
    }
    (cpu_secs("self"), children)
}

fn main() {
    let n: usize = common::env_or("BENCH_DOCS", 200_000);
    let batch: usize = common::env_or("BENCH_BATCH", 5_000);
    let per_request: usize = common::env_or("BENCH_REQUEST_DOCS", batch);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if std::env::var_os("RUST_LOG").is_some() {
        // Per-phase timings of the write path ("write batch phases", "bulk done") at debug level.
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let python = common::python();
        let mut cfg = elastichouse::config::Config::ephemeral(dir.path().to_path_buf(), Some(python));
        cfg.bulk_batch_docs = batch;
        let running = elastichouse::server::start(cfg).await.expect("daemon");
        let es = format!("http://{}", running.es_addr);
        let ch = running.state.ch.url_with_credentials();
        let db = running.state.ch.database.clone();
        let http = reqwest::Client::new();
        let docs = docs(n);
        eprintln!("generated {n} documents, {} MB of JSON", docs.iter().map(|d| d.len() + 1).sum::<usize>() / 1_000_000);

        // 1. Through the daemon: _bulk with auto ids.
        let t = Instant::now();
        let cpu0 = cpu_now();
        for (i, chunk) in docs.chunks(per_request).enumerate() {
            let mut body = String::with_capacity(chunk.len() * 200);
            for d in chunk {
                body.push_str("{\"index\":{}}\n");
                body.push_str(d);
                body.push('\n');
            }
            let r = http
                .post(format!("{es}/bench-logs/_bulk"))
                .header("content-type", "application/x-ndjson")
                .body(body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
            let v: serde_json::Value = r.json().await.unwrap();
            assert_eq!(v["errors"], false, "bulk errors in batch {i}");
            if i % 10 == 0 {
                eprintln!("  _bulk: {} / {n}", ((i + 1) * per_request).min(n));
            }
        }
        let bulk_secs = t.elapsed().as_secs_f64();
        let cpu1 = cpu_now();
        // Where the daemon's ClickHouse time went during _bulk (client-side, from its query log).
        let mut by_kind: std::collections::BTreeMap<String, (usize, f64)> = Default::default();
        for q in running.state.ch.recent_queries() {
            let kind = q.sql.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
            let e = by_kind.entry(kind).or_default();
            e.0 += 1;
            e.1 += q.millis;
        }
        for (kind, (count, millis)) in &by_kind {
            eprintln!("  clickhouse {kind:<24} x{count:<5} {millis:>9.1} ms");
        }

        // 2. Directly: the same documents into a plain MergeTree with the same typed columns.
        let meta = running.state.catalog.require("bench-logs").await.expect("index");
        let mut create = sql::CreateTable::new(
            sql::Ident::new(&db),
            sql::Ident::new("direct"),
            sql::Engine::MergeTree,
        );
        create.columns = meta
            .columns
            .iter()
            .map(|(c, t)| sql::ColumnDef::new(c.as_str(), t.clone()))
            .collect();
        create.order_by = vec![sql::col("@timestamp")];
        create.settings = vec![sql::Setting { name: "allow_nullable_key", value: sql::Literal::from(1u64) }];
        running.state.ch.execute(&create).await.expect("create direct table");
        let t = Instant::now();
        for chunk in docs.chunks(batch) {
            let body = chunk.join("\n");
            let r = http
                .post(format!("{ch}/?database={db}&date_time_input_format=best_effort&input_format_skip_unknown_fields=1&query=INSERT%20INTO%20direct%20FORMAT%20JSONEachRow"))
                .body(body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        }
        let direct_secs = t.elapsed().as_secs_f64();
        let cpu2 = cpu_now();
        let count = |table: &'static str| {
            let http = http.clone();
            let ch = ch.clone();
            let db = db.clone();
            async move {
                http.post(format!("{ch}/?database={db}"))
                    .body(format!("SELECT count() FROM `{table}`"))
                    .send().await.unwrap().text().await.unwrap().trim().to_string()
            }
        };
        let (a, b) = (count("bench-logs").await, count("direct").await);
        // 3. CPU only: document preparation (dynamic mapping, coercion, column values) without I/O.
        let t = Instant::now();
        let mut cells = 0usize;
        for (i, d) in docs.iter().enumerate() {
            let p = elastichouse::schema::prepare_document_bytes(&meta.mappings, &meta.columns, d.as_bytes(), &i.to_string())
                .expect("prepare");
            cells += p.values.len();
        }
        let prepare_secs = t.elapsed().as_secs_f64();
        println!("\ningest benchmark: {n} docs, batches of {batch}, {per_request} docs per _bulk request");
        println!("  prepare_document only  : {:>8.0} docs/s  ({prepare_secs:.2} s, {cells} cells)", n as f64 / prepare_secs);
        println!("  _bulk via elastichouse : {:>8.0} docs/s  ({bulk_secs:.2} s, {a} rows)", n as f64 / bulk_secs);
        println!("  direct INSERT JSONEachRow: {:>8.0} docs/s  ({direct_secs:.2} s, {b} rows)", n as f64 / direct_secs);
        println!("  ratio daemon/direct    : {:.2}", (n as f64 / bulk_secs) / (n as f64 / direct_secs));
        let per_kdoc = |s: f64| s * 1000.0 * 1000.0 / n as f64;
        println!(
            "  CPU ms per 1000 docs   : _bulk daemon+client {:.1}, engine {:.1}; direct client {:.1}, engine {:.1}",
            per_kdoc(cpu1.0 - cpu0.0),
            per_kdoc(cpu1.1 - cpu0.1),
            per_kdoc(cpu2.0 - cpu1.0),
            per_kdoc(cpu2.1 - cpu1.1)
        );
        running.stop().await;
    });
}
