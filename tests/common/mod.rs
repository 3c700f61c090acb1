//! Test harness: one elastichouse daemon shared by every test of the binary, on the real embedded
//! ClickHouse engine (chDB), listening on free loopback ports. Tests talk to it over HTTP like any
//! client, and each test uses its own index names so tests can run in parallel. A test module whose
//! assertions cover the whole daemon (request counters, the request ring, every index or scroll)
//! calls [`own_daemon!`] to get a daemon of its own, and the same helpers bound to it.
#![allow(dead_code)]

use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

pub struct Daemon {
    pub es: SocketAddr,
    pub ui: SocketAddr,
    pub data_dir: PathBuf,
    /// The ClickHouse HTTP URL the daemon uses (the embedded chDB server), with its credentials
    /// (reqwest sends them as basic auth), and its database.
    pub clickhouse: String,
    pub database: String,
}

static DAEMON: OnceLock<Daemon> = OnceLock::new();

/// The Python with chdb-core: `ELASTICHOUSE_PYTHON`, else the project's `.venv`.
pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("ELASTICHOUSE_PYTHON") {
        return p.into();
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        venv.exists(),
        "the tests need the chDB venv: run scripts/setup (or scripts/test), or set ELASTICHOUSE_PYTHON"
    );
    venv
}

/// The chdb_server.py processes whose command line contains `marker` (a data directory).
pub fn engine_pids(marker: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd);
        if cmd.contains("chdb_server.py") && cmd.contains(marker) {
            out.push(pid);
        }
    }
    out
}

/// The shared daemon, started on first use.
pub fn daemon() -> &'static Daemon {
    DAEMON.get_or_init(|| start_daemon(|_| {}))
}

pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// Sends a request to the ES API. `body` is sent as-is with the given content type.
pub async fn req(method: &str, path: &str, body: Option<(&str, &str)>) -> Resp {
    daemon().req(method, path, body).await
}

pub async fn get(path: &str) -> Resp {
    daemon().get(path).await
}

pub async fn json_req(method: &str, path: &str, body: &Value) -> Resp {
    daemon().json_req(method, path, body).await
}

pub async fn bulk(path: &str, ndjson: &str) -> Resp {
    daemon().bulk(path, ndjson).await
}

/// Creates `index` with `mapping` (when given) and writes `docs` with ids "0", "1", … in one
/// refreshed `_bulk`, asserting that nothing failed.
pub async fn load_docs(index: &str, mapping: Option<&Value>, docs: &[Value]) {
    daemon().load_docs(index, mapping, docs).await
}

/// GET on the debug UI.
pub async fn ui_get(path: &str) -> Resp {
    daemon().ui_get(path).await
}

/// Runs SQL directly on the daemon's ClickHouse (for setting up tables elastichouse did not create).
pub async fn clickhouse_sql(sql: &str) -> String {
    daemon().clickhouse_sql(sql).await
}

/// The helpers above, on one daemon.
impl Daemon {
    /// Sends a request to the ES API. `body` is sent as-is with the given content type.
    pub async fn req(&self, method: &str, path: &str, body: Option<(&str, &str)>) -> Resp {
        let url = format!("http://{}{}", self.es, path);
        let mut r = client().request(method.parse().unwrap(), &url);
        if let Some((ct, b)) = body {
            r = r.header("content-type", ct).body(b.to_string());
        }
        let resp = r.send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        Resp {
            status,
            headers,
            text,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.req("GET", path, None).await
    }

    pub async fn json_req(&self, method: &str, path: &str, body: &Value) -> Resp {
        self.req(method, path, Some(("application/json", &body.to_string())))
            .await
    }

    pub async fn bulk(&self, path: &str, ndjson: &str) -> Resp {
        self.req("POST", path, Some(("application/x-ndjson", ndjson)))
            .await
    }

    /// Creates `index` with `mapping` (when given) and writes `docs` with ids "0", "1", … in one
    /// refreshed `_bulk`, asserting that nothing failed.
    pub async fn load_docs(&self, index: &str, mapping: Option<&Value>, docs: &[Value]) {
        if let Some(m) = mapping {
            let r = self.json_req("PUT", &format!("/{index}"), m).await;
            assert_eq!(r.status, 200, "PUT /{index}: {}", r.text);
        }
        let mut body = String::new();
        for (i, d) in docs.iter().enumerate() {
            body.push_str(&format!("{{\"index\":{{\"_id\":\"{i}\"}}}}\n{d}\n"));
        }
        let r = self
            .bulk(&format!("/{index}/_bulk?refresh=true"), &body)
            .await;
        assert_eq!(r.json()["errors"], false, "{}", r.text);
    }

    /// GET on the debug UI.
    pub async fn ui_get(&self, path: &str) -> Resp {
        let resp = client()
            .get(format!("http://{}{}", self.ui, path))
            .send()
            .await
            .expect("ui request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        Resp {
            status,
            headers,
            text,
        }
    }

    /// Runs SQL directly on the daemon's ClickHouse (for setting up tables elastichouse did not
    /// create).
    pub async fn clickhouse_sql(&self, sql: &str) -> String {
        let r = client()
            .post(format!("{}/?database={}", self.clickhouse, self.database))
            .body(sql.to_string())
            .send()
            .await
            .expect("clickhouse request");
        let status = r.status();
        let text = r.text().await.unwrap();
        assert!(status.is_success(), "ClickHouse said {status}: {text}");
        text
    }
}

/// Gives the calling test module a daemon of its own instead of the shared one: defines `daemon()`
/// and the request helpers (`req`, `get`, `json_req`, `bulk`, `load_docs`, `ui_get`,
/// `clickhouse_sql`) in the module, bound to that daemon. Items defined in the module take
/// precedence over the `use crate::common::*` glob, so the module's tests read as before. For the
/// modules that assert state of the whole daemon, which other modules' tests would change.
/// `own_daemon!(pub)` makes the helpers public (for a helper module such as `tests/kibana`).
#[allow(unused_macros)]
macro_rules! own_daemon {
    ($($vis:tt)*) => {
        static OWN_DAEMON: std::sync::OnceLock<$crate::common::Daemon> = std::sync::OnceLock::new();

        /// This module's own daemon, started on first use.
        #[allow(dead_code)]
        $($vis)* fn daemon() -> &'static $crate::common::Daemon {
            OWN_DAEMON.get_or_init(|| $crate::common::start_daemon(|_| {}))
        }
        #[allow(dead_code)]
        $($vis)* async fn req(method: &str, path: &str, body: Option<(&str, &str)>) -> $crate::common::Resp {
            daemon().req(method, path, body).await
        }
        #[allow(dead_code)]
        $($vis)* async fn get(path: &str) -> $crate::common::Resp {
            daemon().get(path).await
        }
        #[allow(dead_code)]
        $($vis)* async fn json_req(method: &str, path: &str, body: &serde_json::Value) -> $crate::common::Resp {
            daemon().json_req(method, path, body).await
        }
        #[allow(dead_code)]
        $($vis)* async fn bulk(path: &str, ndjson: &str) -> $crate::common::Resp {
            daemon().bulk(path, ndjson).await
        }
        #[allow(dead_code)]
        $($vis)* async fn load_docs(index: &str, mapping: Option<&serde_json::Value>, docs: &[serde_json::Value]) {
            daemon().load_docs(index, mapping, docs).await
        }
        #[allow(dead_code)]
        $($vis)* async fn ui_get(path: &str) -> $crate::common::Resp {
            daemon().ui_get(path).await
        }
        #[allow(dead_code)]
        $($vis)* async fn clickhouse_sql(sql: &str) -> String {
            daemon().clickhouse_sql(sql).await
        }
    };
}
#[allow(unused_imports)]
pub(crate) use own_daemon;

/// Asserts the Elasticsearch error shape and returns the error object.
pub fn assert_es_error(r: &Resp, status: u16, kind: &str) -> Value {
    assert_eq!(r.status, status, "status of {}", r.text);
    let v = r.json();
    assert_eq!(v["status"], status, "{}", r.text);
    assert_eq!(v["error"]["type"], kind, "{}", r.text);
    assert!(v["error"]["root_cause"].is_array(), "{}", r.text);
    assert!(v["error"]["reason"].is_string(), "{}", r.text);
    v["error"].clone()
}

/// The `_id`s of a search response's hits, in order.
pub fn ids(v: &Value) -> Vec<String> {
    v["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["_id"].as_str().unwrap().to_string())
        .collect()
}

/// Starts a daemon of its own (not the shared one) on the embedded engine with the configuration
/// `configure` makes of the test defaults; it serves until the test process exits.
pub fn start_daemon(configure: impl FnOnce(&mut elastichouse::config::Config)) -> Daemon {
    let data_dir = tempfile::Builder::new()
        .prefix("elastichouse-test-")
        .tempdir()
        .expect("tempdir")
        .keep();
    let mut cfg = elastichouse::config::Config::ephemeral(data_dir.clone(), Some(python()));
    cfg.bulk_batch_docs = 500;
    configure(&mut cfg);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let running = elastichouse::server::start(cfg)
                .await
                .expect("daemon starts");
            tx.send((
                running.es_addr,
                running.ui_addr,
                running.state.ch.url_with_credentials(),
                running.state.ch.database.clone(),
            ))
            .unwrap();
            std::future::pending::<()>().await;
            drop(running);
        });
    });
    let (es, ui, clickhouse, database) = rx.recv().expect("daemon address");
    Daemon {
        es,
        ui,
        data_dir,
        clickhouse,
        database,
    }
}

/// A CA made here and a certificate for `localhost` it signed, with the certificate's key: for
/// tests of https (the daemon's own port, an Elasticsearch behind it).
pub struct TestCerts {
    pub ca: rcgen::Certificate,
    pub cert: rcgen::Certificate,
    pub key: rcgen::KeyPair,
}

pub fn localhost_certs() -> TestCerts {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    TestCerts { ca, cert, key }
}

/// Debian's chromium, installed by scripts/setup.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// How every test starts Chromium: headless, as root, and without the background connections
/// this machine's closed network refuses.
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
];

/// Serves `app` on a loopback port from a thread of its own (a fake peer such as a small
/// Elasticsearch for dual-write plumbing); returns its address.
pub fn serve_in_background(app: axum::Router) -> std::net::SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            axum::serve(l, app).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

/// Runs headless Chromium on `url` with `args` (`--dump-dom`, `--screenshot=…`); returns what it
/// printed (the DOM after scripts ran) and what it logged (console messages included).
pub fn chromium(args: &[&str], url: &str) -> (String, String) {
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: scripts/setup installs Debian's chromium package"
    );
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(CHROMIUM)
        .args(CHROMIUM_FLAGS)
        .args(["--enable-logging=stderr", "--v=0"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .output()
        .expect("run chromium");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "chromium failed on {url}: {stderr}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}
