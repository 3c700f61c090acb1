//! The embedded ClickHouse (chDB child process): restarted when it dies, data kept, stopped with the
//! daemon. Runs its own daemon (not the shared one) because it kills the engine.

use crate::common;
use crate::common::python;
use std::time::Duration;

fn pid_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

fn child_pids(marker: &str) -> Vec<u32> {
    common::engine_pids(marker)
        .into_iter()
        .filter(|&pid| pid_alive(pid))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_restarts_after_a_crash_and_stops_with_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = elastichouse::config::Config::ephemeral(dir.path().to_path_buf(), Some(python()));
    let running = elastichouse::server::start(cfg)
        .await
        .expect("daemon starts");
    let es = format!("http://{}", running.es_addr);
    let http = reqwest::Client::new();
    let r = http
        .put(format!("{es}/sup-test/_doc/1?refresh=true"))
        .header("content-type", "application/json")
        .body(r#"{"v":1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let marker = dir.path().to_string_lossy().to_string();
    let before = child_pids(&marker);
    assert_eq!(before.len(), 1, "one chDB child: {before:?}");
    let embedded = running.state.ch.embedded.clone().expect("embedded engine");
    embedded.kill_for_test().await;

    // The supervisor notices within a second and starts a new child on the same port.
    let mut ok = false;
    for _ in 0..120 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Ok(r) = http.get(format!("{es}/sup-test/_doc/1")).send().await
            && r.status() == 200
        {
            let v: serde_json::Value = r.json().await.unwrap();
            assert_eq!(v["_source"]["v"], 1, "data survives the crash");
            ok = true;
            break;
        }
    }
    assert!(ok, "the engine came back");
    assert_eq!(embedded.restarts(), 1);
    let after = child_pids(&marker);
    assert_eq!(after.len(), 1);
    assert_ne!(after, before);

    running.stop().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        child_pids(&marker).is_empty(),
        "the engine stops with the daemon"
    );
}

/// Issue 5 (async search): "long queries really run in the background and can be cancelled
/// (ClickHouse `KILL QUERY`)". On the embedded engine too: a tagged statement that would run for
/// hours is stopped by `kill_tagged` (what `DELETE /_async_search/{id}` sends), and the engine
/// answers the next statement — the KILL does not queue behind the statement it stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tagged_statement_is_killed_on_the_embedded_engine() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = elastichouse::config::Config::ephemeral(dir.path().to_path_buf(), Some(python()));
    let running = elastichouse::server::start(cfg)
        .await
        .expect("daemon starts");
    let ch = running.state.ch.clone();
    let slow = "SELECT count() FROM numbers(1000000000000) WHERE sipHash64(number) % 7 = 3";
    let task = tokio::spawn({
        let ch = ch.clone();
        elastichouse::clickhouse::with_query_tag("t-kill".into(), async move {
            ch.query_bytes(&slow, "TabSeparated").await
        })
    });
    // KILL finds the statement once it runs: repeat until the task ends (bounded, not timed).
    let mut result = None;
    for _ in 0..240 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if task.is_finished() {
            result = Some(task.await.unwrap());
            break;
        }
        ch.kill_tagged("t-kill").await.expect("KILL QUERY runs");
    }
    let err = result
        .expect("the statement was stopped")
        .expect_err("a killed statement fails");
    assert_eq!(err.code, Some(394), "QUERY_WAS_CANCELLED: {}", err.message);
    let one = ch.query_bytes(&"SELECT 1", "TabSeparated").await.unwrap();
    assert_eq!(&one[..], b"1\n");
    running.stop().await;
}

/// Issue 11 ("embedded engine locked down"): the data directory is the owner's only (0700), and
/// the engine's loopback HTTP port runs SQL only for requests that carry the secret of this start,
/// kept in a 0600 file. Any other local user gets ClickHouse's AUTHENTICATION_FAILED (516, HTTP 403).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_engine_answers_only_its_daemon() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = elastichouse::config::Config::ephemeral(data.clone(), Some(python()));
    let running = elastichouse::server::start(cfg)
        .await
        .expect("daemon starts");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    let secret_file = data.join(elastichouse::clickhouse::embedded::SECRET_FILE);
    assert_eq!(mode(&secret_file), 0o600);
    let secret = std::fs::read_to_string(&secret_file).unwrap();
    assert!(secret.len() >= 32);

    let http = reqwest::Client::new();
    let url = &running.state.ch.url;
    let r = http.post(url).body("SELECT 1").send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["x-clickhouse-exception-code"], "516");
    let r = http
        .post(url)
        .basic_auth("default", Some("guess"))
        .body("SELECT 1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = http
        .post(url)
        .header("X-ClickHouse-Key", secret.trim())
        .body("SELECT 1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "1\n");
    // The daemon itself (and tools given url_with_credentials) still work.
    let r = http
        .post(running.state.ch.url_with_credentials())
        .body("SELECT 2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "2\n");
    let r = http
        .get(format!("http://{}/", running.es_addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
