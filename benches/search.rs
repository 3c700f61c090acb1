//! Search benchmarks (figures only, no assertions):
//! 1. translation: µs to parse a Kibana-like search body and plan its SQL (no I/O);
//! 2. overhead: the same search through the daemon (HTTP, planning, rendering) vs. the SQL it
//!    generated sent straight to ClickHouse (the embedded chDB engine), on generated log documents.
//!
//! Run: `cargo bench --bench search` (env BENCH_DOCS, default 100000; BENCH_RUNS, default 30).

mod common;

use elastichouse::catalog::IndexMeta;
use elastichouse::es_api::Params;
use serde_json::{Value, json};
use std::time::Instant;

fn mapping() -> Value {
    json!({"properties": {
        "@timestamp": {"type": "date"}, "status": {"type": "keyword"}, "bytes": {"type": "long"},
        "client": {"properties": {"ip": {"type": "ip"}}}, "url": {"properties": {"path": {"type": "keyword"}}},
        "message": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
        "host": {"properties": {"name": {"type": "keyword"}}}
    }})
}

/// Kibana-like bodies: Discover's document table, a search-bar query, a filter pill, a full-text search.
fn bodies() -> Vec<(&'static str, Value)> {
    vec![
        (
            "discover",
            json!({"size": 500, "sort": [{"@timestamp": {"order": "desc", "unmapped_type": "boolean"}}],
            "track_total_hits": false, "fields": [{"field": "*", "include_unmapped": "true"}], "_source": false,
            "query": {"bool": {"filter": [{"range": {"@timestamp": {"gte": "now-15m", "lte": "now", "format": "strict_date_optional_time"}}}]}}}),
        ),
        (
            "search bar",
            json!({"size": 50, "sort": [{"@timestamp": "desc"}],
            "query": {"bool": {"must": [{"query_string": {"query": "status:500 AND host.name:web-0*", "analyze_wildcard": true}}],
            "filter": [{"range": {"@timestamp": {"gte": "2024-05-01T00:00:00Z", "lte": "2024-05-31T00:00:00Z", "format": "strict_date_optional_time"}}}]}}}),
        ),
        (
            "filter pills",
            json!({"size": 20, "query": {"bool": {"filter": [{"match_phrase": {"host.name": "web-01"}},
            {"terms": {"status": ["200", "304"]}}, {"range": {"bytes": {"gte": 1000}}}], "must_not": [{"exists": {"field": "client.ip"}}]}}}),
        ),
        (
            "full text",
            json!({"size": 10, "query": {"multi_match": {"query": "GET api items", "fields": ["message", "url.path^2"]}},
            "highlight": {"fields": {"*": {}}}}),
        ),
    ]
}

fn meta() -> IndexMeta {
    let mappings = elastichouse::schema::parse_mappings(&mapping()).expect("mapping");
    IndexMeta::planned("bench-logs", "elastichouse", mappings)
}

fn translation() {
    let meta = meta();
    let params = Params::new();
    println!("translation (parse + plan + render SQL), µs per request:");
    for (name, body) in bodies() {
        let text = body.to_string();
        let n = 20_000;
        let t = Instant::now();
        let mut sql_len = 0;
        for _ in 0..n {
            let v: Value = serde_json::from_str(&text).unwrap();
            let (req, _) =
                elastichouse::es_api::search::parse_request(Some(&v), &params, true).unwrap();
            let (filter, score, stats, norms) =
                elastichouse::plan::filter_and_score(&meta, 1_717_000_000_000, &req.query, true)
                    .unwrap();
            sql_len += filter.to_string().len() + score.to_string().len();
            // The BM25 statistics subquery and per-row norms are selected once each.
            sql_len += stats.map_or(0, |e| e.to_string().len());
            sql_len += norms.map_or(0, |e| e.to_string().len());
        }
        let us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        println!("  {name:<13} {us:>8.1} µs   ({} chars of SQL)", sql_len / n);
    }
}

/// ES|QL queries (parse + plan + render the one SELECT): Discover's ES|QL mode, a STATS panel, a
/// date histogram.
fn esql_translation() {
    use elastichouse::esql::{parser, plan};
    let meta = std::sync::Arc::new(meta());
    let queries = [
        (
            "discover",
            "FROM bench-logs | WHERE @timestamp >= \"2024-05-01T00:00:00Z\" AND status != \"200\" \
             | SORT @timestamp DESC | KEEP @timestamp, host.name, status, message | LIMIT 500",
        ),
        (
            "stats by",
            "FROM bench-logs | WHERE url.path LIKE \"/api/*\" | STATS c = COUNT(*), avg = AVG(bytes), \
             p95 = PERCENTILE(bytes, 95) BY host.name | SORT c DESC | LIMIT 10",
        ),
        (
            "histogram",
            "FROM bench-logs | EVAL kb = ROUND(bytes / 1024.0, 1) | STATS total = SUM(kb) BY \
             t = BUCKET(@timestamp, 50, \"2024-05-01T00:00:00Z\", \"2024-06-01T00:00:00Z\"), status",
        ),
    ];
    println!("ES|QL translation (parse + plan + render SQL), µs per query:");
    for (name, q) in queries {
        let n = 20_000;
        let t = Instant::now();
        let mut sql_len = 0;
        for _ in 0..n {
            let parsed = parser::parse(q, &parser::Params::default()).unwrap();
            let sources = [plan::SourceIndex {
                meta: meta.clone(),
                filter: elastichouse::sql::lit(true),
            }];
            let planned = plan::Planner::new(1_717_000_000_000, "8.17.0")
                .plan(&parsed, &sources)
                .unwrap();
            sql_len += planned.select.to_string().len();
        }
        let us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        println!("  {name:<13} {us:>8.1} µs   ({} chars of SQL)", sql_len / n);
    }
}

/// Elasticsearch SQL statements (sqlparser parse + rewrite into the ES|QL pipeline + plan + render
/// the SELECT), and `/_sql/translate`'s query DSL of the grouped one.
fn sql_translation() {
    use elastichouse::esql::{essql, plan};
    let meta = std::sync::Arc::new(meta());
    let queries = [
        (
            "select",
            "SELECT \"@timestamp\", \"host.name\", status FROM \"bench-logs\" WHERE bytes > 1000 \
             AND status IN ('500', '503') ORDER BY \"@timestamp\" DESC LIMIT 100",
        ),
        (
            "group by",
            "SELECT \"host.name\" h, COUNT(*) c, AVG(bytes) a FROM \"bench-logs\" WHERE status = '500' \
             GROUP BY \"host.name\" HAVING COUNT(*) > 10 ORDER BY c DESC LIMIT 10",
        ),
        (
            "histogram",
            "SELECT HISTOGRAM(\"@timestamp\", INTERVAL 1 HOUR) t, SUM(bytes) FROM \"bench-logs\" \
             GROUP BY t",
        ),
    ];
    println!("Elasticsearch SQL translation (parse + plan + render SQL), µs per statement:");
    for (name, q) in queries {
        let n = 20_000;
        let t = Instant::now();
        let mut sql_len = 0;
        for _ in 0..n {
            let essql::SqlStatement::Select { query, .. } = essql::parse_here(q, &[]).unwrap()
            else {
                unreachable!("a SELECT")
            };
            let sources = [plan::SourceIndex {
                meta: meta.clone(),
                filter: elastichouse::sql::lit(true),
            }];
            let planned = plan::Planner::new(1_717_000_000_000, "8.17.0")
                .plan(&query, &sources)
                .unwrap();
            sql_len += planned.select.to_string().len();
        }
        let us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        println!("  {name:<13} {us:>8.1} µs   ({} chars of SQL)", sql_len / n);
    }
    let types: std::collections::BTreeMap<String, String> = meta
        .mappings
        .leaf_fields()
        .iter()
        .map(|f| (f.path.clone(), f.es_type.clone()))
        .collect();
    let n = 5_000;
    let t = Instant::now();
    for _ in 0..n {
        elastichouse::esql::translate::translate(queries[1].1, &[], 1000, None, &types, "Z")
            .unwrap();
    }
    let us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!("  /_sql/translate (group by) {us:>8.1} µs");
}

fn overhead() {
    let n: usize = common::env_or("BENCH_DOCS", 100_000);
    let runs: usize = common::env_or("BENCH_RUNS", 30);
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
        let http = reqwest::Client::new();
        let put = http.put(format!("{es}/bench-logs")).json(&json!({"mappings": mapping()})).send().await.unwrap();
        assert!(put.status().is_success());
        let paths = ["/index.html", "/api/v1/items", "/login", "/static/app.js"];
        for chunk in (0..n).collect::<Vec<_>>().chunks(10_000) {
            let mut body = String::new();
            for &i in chunk {
                let status = ["200", "304", "404", "500"][i % 4];
                body.push_str("{\"index\":{}}\n");
                body.push_str(&json!({"@timestamp": format!("2024-05-{:02}T{:02}:{:02}:00Z", 1 + i % 28, i % 24, i % 60),
                    "status": status, "bytes": i * 37 % 20000,
                    "url.path": paths[i % 4], "host.name": format!("web-{:02}", i % 8),
                    "message": format!("GET {} HTTP/1.1 took {} ms", paths[i % 4], i % 900)}).to_string());
                body.push('\n');
            }
            let r = http.post(format!("{es}/_bulk")).header("content-type", "application/x-ndjson")
                .body(body.replace("{\"index\":{}}", "{\"index\":{\"_index\":\"bench-logs\"}}")).send().await.unwrap();
            assert!(r.status().is_success());
        }
        println!("\nsearch overhead on {n} documents, mean of {runs} runs (ms):");
        println!("  {:<13} {:>10} {:>12} {:>9}", "request", "daemon", "direct SQL", "overhead");
        for (name, body) in bodies() {
            if name == "discover" {
                continue; // `now-15m` matches nothing in generated May 2024 data
            }
            // Warm up, then find the SQL the daemon sent for this request.
            let before = running.state.ch.recent_queries().len();
            http.post(format!("{es}/bench-logs/_search")).json(&body).send().await.unwrap().bytes().await.unwrap();
            let sqls: Vec<String> = running.state.ch.recent_queries()[before..]
                .iter()
                .filter(|q| q.sql.starts_with("SELECT") && !q.sql.contains("system."))
                .map(|q| q.sql.clone())
                .collect();
            let t = Instant::now();
            for _ in 0..runs {
                let r = http.post(format!("{es}/bench-logs/_search")).json(&body).send().await.unwrap();
                r.bytes().await.unwrap();
            }
            let daemon = t.elapsed().as_secs_f64() * 1000.0 / runs as f64;
            let t = Instant::now();
            for _ in 0..runs {
                for sql in &sqls {
                    let r = http.post(format!("{ch}/?default_format=JSONEachRow")).body(sql.clone()).send().await.unwrap();
                    assert!(r.status().is_success());
                    r.bytes().await.unwrap();
                }
            }
            let direct = t.elapsed().as_secs_f64() * 1000.0 / runs as f64;
            println!("  {name:<13} {daemon:>10.2} {direct:>12.2} {:>8.0}%   ({} statements)", (daemon / direct - 1.0) * 100.0, sqls.len());
        }
        running.stop().await;
    });
}

fn main() {
    translation();
    esql_translation();
    sql_translation();
    overhead();
}
