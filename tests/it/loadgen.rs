//! `elastichouse loadgen` (issue 14): seeded generation, `--dry-run` output, rate limit, retry on 429
//! and the end-of-run `_count` verification. The `_bulk` format the output must follow is
//! Elasticsearch's (docs: "Bulk API", docs/reference/elasticsearch/rest-apis/bulk).

use crate::common;
use clap::Parser;
use elastichouse::config::{Cli, Command};
use elastichouse::loadgen::{LoadgenArgs, Op, run};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn args(a: &[&str]) -> LoadgenArgs {
    let mut v = vec!["elastichouse", "loadgen"];
    v.extend_from_slice(a);
    match Cli::try_parse_from(v).unwrap().command {
        Some(Command::Loadgen(a)) => a,
        _ => unreachable!(),
    }
}

async fn dry(a: &[&str]) -> String {
    let mut out = Vec::new();
    run(args(a), &mut out).await.unwrap();
    String::from_utf8(out).unwrap()
}

/// The same seed gives the same NDJSON, whatever the client count; another seed differs.
#[tokio::test]
async fn same_seed_same_ndjson() {
    for kind in ["app", "http", "device"] {
        let base = [
            "--dry-run",
            "--docs",
            "300",
            "--batch",
            "64",
            "--end",
            "2026-01-01T00:00:00Z",
            "--kind",
            kind,
        ];
        let a = dry(&[&base[..], &["--seed", "7"]].concat()).await;
        let b = dry(&[&base[..], &["--seed", "7", "--clients", "5"]].concat()).await;
        let c = dry(&[&base[..], &["--seed", "8"]].concat()).await;
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.lines().count(), 600);
    }
}

/// `--dry-run` writes valid `_bulk` NDJSON (action line, source line); the daemon accepts it with
/// `errors: false`.
#[tokio::test]
async fn dry_run_is_valid_bulk() {
    let text = dry(&[
        "--dry-run",
        "--docs",
        "50",
        "--kind",
        "http",
        "--index",
        "lg-dry",
        "--seed",
        "2",
    ])
    .await;
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for pair in lines.chunks(2) {
        assert_eq!(pair[0]["index"]["_index"], "lg-dry");
        assert!(pair[1]["@timestamp"].is_string() && pair[1]["status"].is_u64());
    }
    let r = common::bulk("/_bulk?refresh=true", &text).await;
    assert_eq!(r.json()["errors"], false, "{}", r.text);
    assert_eq!(common::get("/lg-dry/_count").await.json()["count"], 50);
}

/// A run against the daemon acknowledges every document and its `_count` check passes.
#[tokio::test]
async fn run_verifies_count() {
    let d = common::daemon();
    let target = format!("http://{}", d.es);
    let mut out = Vec::new();
    let (rep, ok) = run(
        args(&[
            "--target",
            &target,
            "--index",
            "lg-verify",
            "--docs",
            "700",
            "--batch",
            "100",
            "--clients",
            "3",
            "--kind",
            "device",
            "--queries",
            "20",
        ]),
        &mut out,
    )
    .await
    .unwrap();
    let rep = rep.unwrap();
    assert!(ok, "{}", String::from_utf8_lossy(&out));
    assert_eq!(rep.docs_acknowledged, 700);
    assert_eq!(rep.verified_count, Some(700));
}

/// With `--rate`, the documents sent are bounded by rate × the run's own elapsed time plus one batch.
#[tokio::test]
async fn rate_limit_bounds_docs() {
    let d = common::daemon();
    let target = format!("http://{}", d.es);
    let mut out = Vec::new();
    let (rep, _) = run(
        args(&[
            "--target",
            &target,
            "--index",
            "lg-rate",
            "--duration",
            "2s",
            "--rate",
            "100",
            "--batch",
            "10",
            "--clients",
            "4",
            "--no-verify",
        ]),
        &mut out,
    )
    .await
    .unwrap();
    let rep = rep.unwrap();
    assert!(
        rep.docs_sent as f64 <= 100.0 * rep.elapsed_secs + 10.0,
        "{rep:?}"
    );
    assert!(rep.docs_sent > 0);
}

/// A 429 answer is retried with back-off and counted (a fake endpoint answering 429 then 200).
#[tokio::test]
async fn retries_on_429() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let mut n = 0;
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            n += 1;
            let first = n == 1;
            tokio::spawn(async move {
                let mut buf = vec![0u8; 1 << 20];
                let mut got = Vec::new();
                // Read headers and the announced body.
                loop {
                    let k = s.read(&mut buf).await.unwrap_or(0);
                    if k == 0 {
                        break;
                    }
                    got.extend_from_slice(&buf[..k]);
                    let t = String::from_utf8_lossy(&got).to_string();
                    if let Some(h) = t.find("\r\n\r\n") {
                        let len = t
                            .to_ascii_lowercase()
                            .split("content-length:")
                            .nth(1)
                            .and_then(|x| x.split("\r\n").next())
                            .and_then(|x| x.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if got.len() >= h + 4 + len {
                            break;
                        }
                    }
                }
                let (status, body) = if first {
                    (
                        "429 Too Many Requests",
                        r#"{"error":{"type":"es_rejected_execution_exception"},"status":429}"#
                            .to_string(),
                    )
                } else {
                    ("200 OK", r#"{"errors":false,"items":[{"index":{"status":201}},{"index":{"status":201}}]}"#.to_string())
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    let mut out = Vec::new();
    let (rep, ok) = run(
        args(&[
            "--target",
            &format!("http://{addr}"),
            "--docs",
            "2",
            "--batch",
            "2",
            "--clients",
            "1",
            "--no-verify",
        ]),
        &mut out,
    )
    .await
    .unwrap();
    let rep = rep.unwrap();
    assert!(ok);
    assert_eq!(rep.http_429, 1);
    assert_eq!(rep.retries, 1);
    assert_eq!(rep.docs_acknowledged, 2);
}

/// Data streams take only the `create` action: Elasticsearch refuses `index` on one ("only write
/// ops with an op_type of create are allowed in data streams"; docs: "Data streams", "Add documents
/// to a data stream"). With the default `--op auto`, loadgen sends `create` when a data-stream
/// index template matches the target (the stream does not exist yet) or the stream exists;
/// `--op index` to it fails on every item; `--op create` shows in the dry-run NDJSON.
#[tokio::test]
async fn writes_to_a_data_stream_with_create() {
    let d = common::daemon();
    let target = format!("http://{}", d.es);
    let r = common::json_req(
        "PUT",
        "/_index_template/lg-ds",
        &serde_json::json!({"index_patterns": ["lg-ds-*"], "data_stream": {}, "priority": 300,
            "template": {"mappings": {"properties": {"@timestamp": {"type": "date"}}}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let go = |index: &'static str, extra: &'static [&'static str]| {
        let target = target.clone();
        async move {
            let mut a = vec![
                "--target", &target, "--index", index, "--batch", "100", "--kind", "app",
            ];
            a.extend_from_slice(extra);
            let mut out = Vec::new();
            let (rep, ok) = run(args(&a), &mut out).await.unwrap();
            (rep.unwrap(), ok, String::from_utf8(out).unwrap())
        }
    };
    // Not there yet: the template makes it a data stream.
    let (rep, ok, out) = go("lg-ds-app", &["--docs", "300"]).await;
    assert!(ok, "{out}");
    assert_eq!(rep.op, Op::Create);
    assert_eq!(rep.verified_count, Some(300));
    let ds = common::get("/_data_stream/lg-ds-app").await;
    assert_eq!(
        ds.json()["data_streams"][0]["name"],
        "lg-ds-app",
        "{}",
        ds.text
    );
    // There now: still `create`.
    let (rep, ok, out) = go("lg-ds-app", &["--docs", "100", "--seed", "9"]).await;
    assert!(ok, "{out}");
    assert_eq!(rep.op, Op::Create);
    assert_eq!(rep.verified_count, Some(100));
    // `index` is refused item by item, and the run fails.
    let (rep, ok, _) = go("lg-ds-app", &["--docs", "10", "--op", "index"]).await;
    assert!(!ok);
    assert_eq!(rep.op, Op::Index);
    assert_eq!(rep.docs_acknowledged, 0);
    assert_eq!(rep.failed_items, 10);
    assert!(
        rep.errors.keys().any(|k| k.starts_with("bulk_item:")),
        "{:?}",
        rep.errors
    );
    // A plain index stays `index` under auto.
    let (rep, ok, out) = go("lg-plain", &["--docs", "10"]).await;
    assert!(ok, "{out}");
    assert_eq!(rep.op, Op::Index);

    let text = dry(&["--dry-run", "--docs", "3", "--op", "create", "--index", "x"]).await;
    for l in text.lines().step_by(2) {
        let v: Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["create"]["_index"], "x", "{l}");
    }
}
