//! The embedded ClickHouse engine: chDB (PyPI `chdb-core`) in a Python child process that serves
//! ClickHouse's HTTP interface on a loopback port (`chdb_server.py`, shipped inside this binary).
//!
//! chDB is a library without a server of its own; wrapping it in a tiny HTTP server lets the daemon
//! talk to it exactly as it talks to a real ClickHouse server. The supervisor restarts the child if it
//! dies (on the same port, so the client's URL stays valid) and stops it on shutdown.

use crate::config::Config;
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

const SERVER_SCRIPT: &str = include_str!("chdb_server.py");

pub struct Embedded {
    python: PathBuf,
    script: PathBuf,
    data: PathBuf,
    port: AtomicU32,
    child: Mutex<Option<Child>>,
    stopping: AtomicBool,
    restarts: AtomicU32,
    concurrency: u32,
    /// The password every statement must carry (`CHDB_SERVER_SECRET`): made anew at each start and
    /// kept in `engine.secret` (0600) in the 0700 data directory, so no other local user can run
    /// SQL on the engine's loopback port.
    secret: String,
}

/// The name of the file in the data directory that holds the engine's secret, for operators who
/// want to query the embedded engine with curl (`--user default:$(cat data/engine.secret)`).
pub const SECRET_FILE: &str = "engine.secret";

/// Creates the data directory readable by its owner only (0700), or tightens an existing one that
/// others could read: it holds every document.
fn private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create data dir {}", dir.display()))?;
    let mode = std::fs::metadata(dir)?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(dir = %dir.display(), mode = format!("{:o}", mode & 0o777), "data directory was readable by others; setting it to 0700");
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict data dir {}", dir.display()))?;
    }
    Ok(())
}

/// Writes `secret` to `path`, readable by its owner only.
fn write_private(path: &Path, secret: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(secret.as_bytes())?;
    Ok(())
}

/// Finds a Python that can `import chdb`: the configured one, the project's `.venv`, or `python3`.
pub fn find_python(cfg: &Config) -> PathBuf {
    if let Some(p) = &cfg.python {
        return p.clone();
    }
    let mut candidates = vec![PathBuf::from(".venv/bin/python")];
    if let Ok(exe) = std::env::current_exe() {
        // target/{debug,release}/elastichouse → the project's .venv
        for up in exe.ancestors().skip(1).take(4) {
            candidates.push(up.join(".venv/bin/python"));
        }
    }
    candidates
        .into_iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("python3"))
}

impl Embedded {
    pub async fn start(cfg: &Config) -> anyhow::Result<Arc<Embedded>> {
        let python = find_python(cfg);
        private_dir(&cfg.data_dir)?;
        let data_dir = cfg.data_dir.canonicalize()?;
        let secret: String = (0..32)
            .map(|_| format!("{:02x}", rand::random::<u8>()))
            .collect();
        write_private(&data_dir.join(SECRET_FILE), &secret)?;
        let script = data_dir.join("chdb_server.py");
        std::fs::write(&script, SERVER_SCRIPT)
            .with_context(|| format!("cannot write {}", script.display()))?;
        let e = Arc::new(Embedded {
            python,
            script,
            data: data_dir.join("chdb"),
            port: AtomicU32::new(0),
            child: Mutex::new(None),
            stopping: AtomicBool::new(false),
            restarts: AtomicU32::new(0),
            concurrency: cfg.embedded_concurrency,
            secret,
        });
        e.spawn().await?;
        let sup = e.clone();
        tokio::spawn(async move { sup.supervise().await });
        Ok(e)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port.load(Ordering::SeqCst))
    }

    /// The password statements must carry (user `default`).
    pub fn secret(&self) -> &str {
        &self.secret
    }

    pub fn restarts(&self) -> u32 {
        self.restarts.load(Ordering::SeqCst)
    }

    pub fn data_path(&self) -> &Path {
        &self.data
    }

    async fn spawn(&self) -> anyhow::Result<()> {
        let port = self.port.load(Ordering::SeqCst);
        tracing::info!(python = %self.python.display(), data = %self.data.display(), port, "starting embedded ClickHouse (chDB)");
        let mut child = Command::new(&self.python)
            .arg(&self.script)
            .arg("--path")
            .arg(&self.data)
            .arg("--host")
            .arg("127.0.0.1")
            .arg("--port")
            .arg(port.to_string())
            .arg("--parent-pid")
            .arg(std::process::id().to_string())
            .arg("--max-concurrent-queries")
            .arg(self.concurrency.to_string())
            .env("CHDB_SERVER_SECRET", &self.secret)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!(
                    "cannot run {} for the embedded ClickHouse: install it with `scripts/setup` (a venv with chdb-core) or pass --python",
                    self.python.display()
                )
            })?;
        let stdout = child
            .stdout
            .take()
            .context("no stdout from the chDB server")?;
        let mut lines = BufReader::new(stdout).lines();
        // Loading the engine takes a few seconds; the server prints `LISTENING host:port` when ready.
        let line = tokio::time::timeout(Duration::from_secs(120), lines.next_line()).await;
        let line = match line {
            Ok(Ok(Some(l))) => l,
            Ok(_) => {
                let status = child.wait().await?;
                bail!(
                    "the embedded ClickHouse (chDB) exited during start-up ({status}); is chdb-core installed for {}? Run `scripts/setup`.",
                    self.python.display()
                )
            }
            Err(_) => bail!("the embedded ClickHouse (chDB) did not start within 120 s"),
        };
        let addr = line
            .strip_prefix("LISTENING ")
            .with_context(|| format!("unexpected first line from the chDB server: {line}"))?;
        let port: u32 = addr
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .with_context(|| format!("bad address from the chDB server: {addr}"))?;
        self.port.store(port, Ordering::SeqCst);
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        *self.child.lock().await = Some(child);
        self.wait_ping().await?;
        tracing::info!(url = %self.url(), "embedded ClickHouse ready");
        Ok(())
    }

    async fn wait_ping(&self) -> anyhow::Result<()> {
        let addr = format!("127.0.0.1:{}", self.port.load(Ordering::SeqCst));
        for _ in 0..200 {
            if let Ok(mut s) = tokio::net::TcpStream::connect(&addr).await {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let _ = s
                    .write_all(
                        b"GET /ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                    )
                    .await;
                let mut buf = Vec::new();
                let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
                if buf.starts_with(b"HTTP/1.") && buf.windows(3).any(|w| w == b"Ok.") {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("the embedded ClickHouse does not answer /ping on {addr}")
    }

    async fn supervise(self: Arc<Self>) {
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if self.stopping.load(Ordering::SeqCst) {
                return;
            }
            let exited = {
                let mut guard = self.child.lock().await;
                match guard.as_mut().map(|c| c.try_wait()) {
                    Some(Ok(Some(status))) => Some(status.to_string()),
                    Some(Err(e)) => Some(e.to_string()),
                    _ => None,
                }
            };
            if let Some(status) = exited {
                if self.stopping.load(Ordering::SeqCst) {
                    return;
                }
                self.restarts.fetch_add(1, Ordering::SeqCst);
                tracing::error!(%status, "embedded ClickHouse died; restarting it");
                if let Err(e) = self.spawn().await {
                    tracing::error!(error = %e, "restarting the embedded ClickHouse failed; retrying");
                }
            }
        }
    }

    /// Stops the child process (SIGTERM, then kill after 10 s).
    pub async fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        let mut guard = self.child.lock().await;
        if let Some(child) = guard.as_mut() {
            if let Some(pid) = child.id() {
                // SAFETY-free: kill(1) via the standard tool keeps this crate free of libc/unsafe.
                let _ = std::process::Command::new("kill")
                    .arg("-TERM")
                    .arg(pid.to_string())
                    .status();
            }
            if tokio::time::timeout(Duration::from_secs(10), child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
            tracing::info!("embedded ClickHouse stopped");
        }
        *guard = None;
    }

    /// Kills the child abruptly (tests of the supervisor use this).
    pub async fn kill_for_test(&self) {
        if let Some(child) = self.child.lock().await.as_mut() {
            let _ = child.kill().await;
        }
    }
}
