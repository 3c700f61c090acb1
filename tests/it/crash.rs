//! kill -9 in the middle of `_bulk` (issue 11, "storage faults"): after a restart on the same data
//! directory every acknowledged document is there exactly once, at its acknowledged version or a
//! later one.
//!
//! Elasticsearch's contract for `_bulk` (docs: "Bulk API", and `TransportShardBulkAction`): an item
//! answered 200/201 is durable; an item the client got no answer for may or may not have been
//! applied, and a retry with the same `_id` converges. The daemon runs as its own process (the
//! binary), the embedded engine as its child, and both are killed with SIGKILL at once while a
//! `_bulk` request is in flight.

use crate::common;
use crate::common::python;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The chDB children serving `data`.
fn engine_pids(data: &Path) -> Vec<u32> {
    common::engine_pids(&data.to_string_lossy())
}

struct Daemon {
    child: Child,
    url: String,
}

async fn start(data: &Path) -> Daemon {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_elastichouse"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--ui-listen")
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--data-dir")
        .arg(data)
        .arg("--python")
        .arg(python())
        .env("ELASTICHOUSE_LOG", "warn")
        .env("CHDB_SERVER_LOG", "WARNING")
        .stdout(Stdio::null())
        .spawn()
        .expect("start the daemon");
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..600 {
        if let Ok(r) = http.get(&url).send().await
            && r.status().is_success()
        {
            return Daemon { child, url };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the daemon did not start within 60 s");
}

/// SIGKILL to the daemon and its engine at the same moment: no clean shutdown anywhere.
fn kill_all(d: &mut Daemon, data: &Path) {
    let mut pids = engine_pids(data);
    pids.push(d.child.id());
    let status = Command::new("kill")
        .arg("-KILL")
        .args(pids.iter().map(u32::to_string))
        .status()
        .unwrap();
    assert!(status.success());
    d.child.wait().unwrap();
    for _ in 0..100 {
        if engine_pids(data).iter().all(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .map(|s| s.contains(") Z "))
                .unwrap_or(true)
        }) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the engine survived SIGKILL");
}

/// One `_bulk` of `index` actions; the acknowledged `(id, v)` of its items.
async fn send(http: &reqwest::Client, url: &str, docs: &[(String, u64)]) -> Vec<(String, u64)> {
    let mut body = String::new();
    for (id, v) in docs {
        body.push_str(&json!({"index": {"_index": "crash", "_id": id}}).to_string());
        body.push('\n');
        body.push_str(&json!({"k": id, "v": v, "pad": "x".repeat(200)}).to_string());
        body.push('\n');
    }
    let Ok(r) = http
        .post(format!("{url}/_bulk"))
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
    else {
        return vec![];
    };
    let Ok(v) = r.json::<Value>().await else {
        return vec![];
    };
    let items = v["items"].as_array().cloned().unwrap_or_default();
    docs.iter()
        .zip(items)
        .filter(|(_, it)| matches!(it["index"]["status"].as_u64(), Some(200 | 201)))
        .map(|(d, _)| d.clone())
        .collect()
}

/// Every document, as id → v; panics if an id is stored more than once.
async fn stored(http: &reqwest::Client, url: &str) -> HashMap<String, u64> {
    let r = http
        .post(format!("{url}/crash/_search"))
        .json(&json!({"size": 10000, "_source": ["k", "v"], "query": {"match_all": {}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let mut out = HashMap::new();
    for h in v["hits"]["hits"].as_array().unwrap() {
        let id = h["_id"].as_str().unwrap().to_string();
        assert_eq!(h["_source"]["k"], id.as_str());
        let prev = out.insert(id.clone(), h["_source"]["v"].as_u64().unwrap());
        assert!(prev.is_none(), "{id} is stored twice");
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_bulk_items_survive_kill_9_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let http = reqwest::Client::new();
    let mut d = start(&data).await;
    let r = http
        .put(format!("{}/crash", d.url))
        .json(&json!({"mappings": {"properties": {
            "k": {"type": "keyword"}, "v": {"type": "long"}, "pad": {"type": "keyword"}
        }}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Acknowledged version of every id: new ids and rewrites of older ones (the replacing write
    // path, whose pending rows a crash must leave invisible) in every batch.
    let mut acked: HashMap<String, u64> = HashMap::new();
    let mut next = 0u64;
    let mut version = 0u64;
    let mut batch = |acked: &HashMap<String, u64>| {
        version += 1;
        let mut docs: Vec<(String, u64)> = (0..150)
            .map(|i| (format!("d{}", next + i), version))
            .collect();
        next += 150;
        let mut old: Vec<&String> = acked.keys().collect();
        old.sort();
        docs.extend(old.into_iter().step_by(7).map(|id| (id.clone(), version)));
        docs
    };
    for round in 0..2 {
        for _ in 0..3 {
            let docs = batch(&acked);
            let ok = send(&http, &d.url, &docs).await;
            assert_eq!(
                ok.len(),
                docs.len(),
                "round {round}: a healthy _bulk is acknowledged"
            );
            acked.extend(ok);
        }
        // The next batch is in flight when both processes die.
        let docs = batch(&acked);
        let url = d.url.clone();
        let h = http.clone();
        let in_flight = tokio::spawn(async move { send(&h, &url, &docs).await });
        tokio::time::sleep(Duration::from_millis(15 + 40 * round)).await;
        kill_all(&mut d, &data);
        let landed = in_flight.await.unwrap();
        eprintln!(
            "round {round}: {} items of the in-flight _bulk were acknowledged",
            landed.len()
        );
        acked.extend(landed);

        d = start(&data).await;
        let r = http
            .post(format!("{}/crash/_refresh", d.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let have = stored(&http, &d.url).await;
        for (id, v) in &acked {
            let got = have
                .get(id)
                .unwrap_or_else(|| panic!("acknowledged {id} is gone"));
            assert!(got >= v, "{id}: acknowledged v{v}, stored v{got}");
        }
    }
    let _ = d.child.kill();
    let _ = d.child.wait();
}
