//! CPU cost of preparing documents for ClickHouse (dynamic mapping, coercion, column values), with
//! no I/O: `cargo bench --bench prepare` (env BENCH_DOCS, default 200000). Prints figures only.

use std::collections::BTreeMap;
use std::time::Instant;

fn main() {
    let n: usize = std::env::var("BENCH_DOCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let mapping = serde_json::json!({"properties": {
        "@timestamp": {"type": "date"}, "status": {"type": "keyword"}, "bytes": {"type": "long"},
        "client": {"properties": {"ip": {"type": "ip"}}}, "url": {"properties": {"path": {"type": "keyword"}}},
        "message": {"type": "text"}, "latency": {"type": "float"}
    }});
    let m = elastichouse::schema::parse_mappings(&mapping).expect("mapping");
    let cols: BTreeMap<_, _> = m.columns().into_iter().collect();
    let docs: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"@timestamp":"2024-05-{:02}T{:02}:{:02}:00.{:03}Z","status":"{}","bytes":{},"client.ip":"10.1.{}.{}","url.path":"/p/{}","message":"GET /p/{} HTTP/1.1 took {} ms","latency":{}}}"#,
                1 + i % 28, i % 24, i % 60, i % 1000, ["200", "404", "500"][i % 3], i * 7 % 50000, i % 256, i % 250 + 1, i % 50, i % 50, i % 900, (i % 1000) as f64 / 7.0
            )
        })
        .collect();
    for round in 0..2 {
        let t = Instant::now();
        let mut cells = 0;
        for (i, d) in docs.iter().enumerate() {
            let p = elastichouse::schema::prepare_document_bytes(
                &m,
                &cols,
                d.as_bytes(),
                &i.to_string(),
            )
            .expect("prepare");
            cells += p.values.len();
        }
        let s = t.elapsed().as_secs_f64();
        println!(
            "prepare round {round}: {:.0} docs/s, {:.2} µs/doc ({cells} cells)",
            n as f64 / s,
            s * 1e6 / n as f64
        );
    }
}
