//! The ClickHouse client: one code path for a real server and for the embedded chDB child process,
//! both spoken to over ClickHouse's HTTP interface with the `clickhouse` crate.
//!
//! Every statement is rendered from the `sql` module's syntax tree, carries a `query_id`, and is
//! recorded (SQL, time, rows, error) in a bounded in-memory log that the debug UI shows.

pub mod embedded;

use crate::config::Config;
use crate::error::EsError;
use crate::telemetry::trace::QueryRecord;
use bytes::Bytes;
use parking_lot::Mutex;
use serde_json::{Map, Value};
use std::collections::VecDeque;
use std::fmt::Display;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

tokio::task_local! {
    static QUERY_TAG: String;
    static DEADLINE: Instant;
}

/// Runs `fut` with a deadline: every statement it causes gets the time left as ClickHouse's
/// `max_execution_time` (`timeout_overflow_mode = 'throw'`), so a search's `timeout` stops its
/// statements in the engine rather than only the wait for them. A statement over it fails with
/// [`ChError::TIMEOUT_EXCEEDED`].
pub async fn with_deadline<F: std::future::Future>(deadline: Instant, fut: F) -> F::Output {
    DEADLINE.scope(deadline, fut).await
}

/// The settings of the current deadline, if any (at least a millisecond: 0 means no limit).
fn deadline_settings() -> Option<String> {
    DEADLINE
        .try_with(|d| {
            let left = d.saturating_duration_since(Instant::now()).as_secs_f64();
            format!("{:.3}", left.max(0.001))
        })
        .ok()
}

/// Runs `fut` with every ClickHouse statement it causes tagged: its `query_id` ends in `-{tag}`
/// and its `log_comment` setting is [`tag_comment`] (see `es_api::async_search`, which cancels a
/// search with [`ClickHouse::kill_tagged`]).
pub async fn with_query_tag<F: std::future::Future>(tag: String, fut: F) -> F::Output {
    QUERY_TAG.scope(tag, fut).await
}

/// The `log_comment` of the statements of a tagged task. The embedded engine (chDB) names its
/// statements with query ids of its own, so there the tag is found in `system.processes` through
/// the settings the statement runs with.
pub fn tag_comment(tag: &str) -> String {
    format!("elastichouse-task-{tag}")
}

/// `KILL QUERY WHERE … ASYNC` (sqlparser has no KILL with a WHERE clause; the condition is rendered
/// by the `sql` module, which escapes its values).
struct KillQuery(crate::sql::Expr);

impl Display for KillQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KILL QUERY WHERE {} ASYNC", self.0)
    }
}

/// Largest statement text ClickHouse parses (`max_query_size`, bytes).
const MAX_QUERY_SIZE: usize = 64 * 1024 * 1024;
/// Largest statement syntax tree ClickHouse accepts (`max_ast_elements`; ten times that once
/// expanded, `max_expanded_ast_elements`).
const MAX_AST_ELEMENTS: usize = 4_000_000;

/// A failed ClickHouse call.
#[derive(Debug, Clone)]
pub struct ChError {
    /// ClickHouse's exception code (e.g. 60 = UNKNOWN_TABLE), when the server reported one.
    pub code: Option<u32>,
    pub message: String,
}

impl std::fmt::Display for ChError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ChError {}

impl ChError {
    fn from_client(e: clickhouse::error::Error) -> Self {
        let message = e.to_string();
        // No answer from the server at all: ClickHouse's own NETWORK_ERROR / TIMEOUT_EXCEEDED.
        let transport = match e {
            clickhouse::error::Error::Network(_) => Some(Self::NETWORK_ERROR),
            clickhouse::error::Error::TimedOut => Some(Self::TIMEOUT_EXCEEDED),
            _ => None,
        };
        // Server exceptions read "Code: 60. DB::Exception: …".
        let code = transport.or_else(|| {
            message
                .find("Code: ")
                .and_then(|i| message[i + 6..].split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|n| n.parse().ok())
        });
        ChError { code, message }
    }

    /// ClickHouse could not be reached, or did not answer in time: the storage is unavailable
    /// rather than the request wrong.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self.code,
            Some(Self::NETWORK_ERROR | Self::TIMEOUT_EXCEEDED | Self::SOCKET_TIMEOUT)
        )
    }

    pub const NETWORK_ERROR: u32 = 210;
    pub const TIMEOUT_EXCEEDED: u32 = 159;
    /// `max_result_rows` with `result_overflow_mode = 'throw'` exceeded.
    pub const TOO_MANY_ROWS_OR_BYTES: u32 = 396;
    pub const SOCKET_TIMEOUT: u32 = 209;

    pub const UNKNOWN_TABLE: u32 = 60;
    pub const UNKNOWN_DATABASE: u32 = 81;
    pub const TABLE_ALREADY_EXISTS: u32 = 57;
    pub const DUPLICATE_COLUMN: u32 = 15;
}

impl From<ChError> for EsError {
    fn from(e: ChError) -> EsError {
        // Inside a search's deadline, a statement over its time is the search timing out, not
        // the storage being slow.
        if e.code == Some(ChError::TIMEOUT_EXCEEDED) && DEADLINE.try_with(|_| ()).is_ok() {
            return EsError::new(
                504,
                "timeout_exception",
                format!("the search took longer than its timeout: {}", e.message),
            )
            .with("elastichouse.timed_out", true);
        }
        if e.is_unavailable() {
            return EsError::storage_unavailable(&e.message);
        }
        EsError::storage(format!("ClickHouse: {}", e.message))
    }
}

pub type ChResult<T> = Result<T, ChError>;

/// How many statements the in-memory log keeps.
const QUERY_LOG_LEN: usize = 500;

pub struct ClickHouse {
    client: clickhouse::Client,
    pub database: String,
    /// The server's URL without credentials (shown on the debug UI and in logs).
    pub url: String,
    user: Option<String>,
    password: Option<String>,
    timeout: Duration,
    next_id: AtomicU64,
    id_prefix: String,
    log: Mutex<VecDeque<QueryRecord>>,
    pub embedded: Option<Arc<embedded::Embedded>>,
    /// Statement times and errors, exported on the debug UI's `/metrics`.
    pub metrics: crate::telemetry::metrics::ClickHouseMetrics,
}

/// Splits `http://user:pass@host:port/` into the URL without credentials, the user and the password.
fn split_credentials(url: &str) -> anyhow::Result<(String, Option<String>, Option<String>)> {
    let mut parsed =
        reqwest::Url::parse(url).map_err(|e| anyhow::anyhow!("bad clickhouse_url {url:?}: {e}"))?;
    // The `url` crate keeps the user and password percent-encoded.
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(|d| d.into_owned())
            .map_err(|_| anyhow::anyhow!("bad percent-encoding in clickhouse_url"))
    };
    let user = (!parsed.username().is_empty())
        .then(|| decode(parsed.username()))
        .transpose()?;
    let password = parsed.password().map(decode).transpose()?;
    if user.is_none() && password.is_none() {
        return Ok((url.to_string(), None, None));
    }
    let _ = parsed.set_username("");
    let _ = parsed.set_password(None);
    let bare = parsed.as_str().trim_end_matches('/').to_string();
    Ok((bare, user, password))
}

impl ClickHouse {
    /// The server's URL with its credentials (`http://user:pass@host:port`), for tools and tests
    /// that talk to the same ClickHouse directly (reqwest sends them as basic auth). Never shown.
    pub fn url_with_credentials(&self) -> String {
        let Ok(mut u) = reqwest::Url::parse(&self.url) else {
            return self.url.clone();
        };
        if self.user.is_some() || self.password.is_some() {
            let _ = u.set_username(self.user.as_deref().unwrap_or("default"));
            let _ = u.set_password(self.password.as_deref());
        }
        u.as_str().trim_end_matches('/').to_string()
    }

    /// Connects to the configured server, or starts the embedded engine, and creates the database.
    pub async fn connect(cfg: &Config) -> anyhow::Result<ClickHouse> {
        let (mut user, mut password) =
            (cfg.clickhouse_user.clone(), cfg.clickhouse_password.clone());
        let (url, embedded) = match &cfg.clickhouse_url {
            Some(u) => {
                // Credentials in the URL (`http://user:pass@host:8123`) are ClickHouse's user and
                // password; the explicit settings win over them.
                let (bare, url_user, url_password) = split_credentials(u)?;
                user = user.or(url_user);
                password = password.or(url_password);
                (bare, None)
            }
            None => {
                let e = embedded::Embedded::start(cfg).await?;
                password = Some(e.secret().to_string());
                (e.url(), Some(e))
            }
        };
        // Translated queries grow with the request (a whole log line searched in every field is
        // thousands of scored clauses, within Elasticsearch's max_clause_count): ClickHouse's
        // defaults (256 KiB of text, 50 000 AST elements) would turn a valid search into an error.
        let mut client = clickhouse::Client::default()
            .with_url(&url)
            .with_setting("max_query_size", MAX_QUERY_SIZE.to_string())
            .with_setting("max_ast_elements", MAX_AST_ELEMENTS.to_string())
            .with_setting(
                "max_expanded_ast_elements",
                (10 * MAX_AST_ELEMENTS).to_string(),
            )
            // A client that goes away stops its search: dropping the request closes the HTTP
            // connection, and a ClickHouse server then cancels the read-only statement.
            .with_setting("cancel_http_readonly_queries_on_client_close", "1");
        if let Some(u) = &user {
            client = client.with_user(u);
        }
        if let Some(p) = &password {
            client = client.with_password(p);
        }
        client = client.with_compression(if cfg.clickhouse_compression && embedded.is_none() {
            clickhouse::Compression::Lz4
        } else {
            clickhouse::Compression::None
        });
        let ch = ClickHouse {
            client,
            database: cfg.clickhouse_database.clone(),
            url,
            user,
            password,
            timeout: Duration::from_secs(cfg.clickhouse_timeout_secs),
            next_id: AtomicU64::new(0),
            id_prefix: format!("eh-{}", &crate::ids::generate_id()[..8]),
            log: Mutex::new(VecDeque::new()),
            embedded,
            metrics: Default::default(),
        };
        let create = crate::sql::CreateDatabase {
            if_not_exists: true,
            name: crate::sql::Ident::new(&ch.database),
        };
        ch.execute(&create).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot create database {} on ClickHouse at {}: {e}",
                ch.database,
                ch.url
            )
        })?;
        Ok(ch)
    }

    /// Stops every running statement of a tagged task ([`with_query_tag`]): by `query_id` suffix on a
    /// ClickHouse server, by `log_comment` on the embedded engine. The chDB server runs `KILL`
    /// statements outside its one-query-at-a-time gate, so they do not wait behind the statement
    /// they stop.
    pub async fn kill_tagged(&self, tag: &str) -> ChResult<()> {
        use crate::sql::{self, Expr};
        let condition = if self.embedded.is_some() {
            Expr::func(
                "equals",
                vec![
                    Expr::func(
                        "arrayElement",
                        vec![sql::col("Settings"), sql::lit("log_comment")],
                    ),
                    sql::lit(tag_comment(tag).as_str()),
                ],
            )
        } else {
            Expr::func(
                "endsWith",
                vec![sql::col("query_id"), sql::lit(format!("-{tag}").as_str())],
            )
        };
        self.execute(&KillQuery(condition)).await
    }

    fn new_query_id(&self) -> String {
        let id = format!(
            "{}-{}",
            self.id_prefix,
            self.next_id.fetch_add(1, Ordering::Relaxed)
        );
        // Statements of a tagged task (an async search) end with its tag, so that they can be
        // found in `system.processes` and killed by it.
        match QUERY_TAG.try_with(|t| t.clone()) {
            Ok(tag) => format!("{id}-{tag}"),
            Err(_) => id,
        }
    }

    fn record(
        &self,
        query_id: String,
        sql: String,
        started: Instant,
        rows: Option<usize>,
        error: Option<&ChError>,
    ) {
        let millis = started.elapsed().as_secs_f64() * 1000.0;
        match error {
            Some(e) => {
                tracing::warn!(query_id, millis, error = %e.message, sql = %sql, "clickhouse query failed")
            }
            None => tracing::debug!(query_id, millis, rows, sql = %sql, "clickhouse query"),
        }
        self.metrics
            .observe(&sql, millis / 1000.0, error.map(|e| e.code));
        let rec = QueryRecord {
            query_id,
            sql,
            millis,
            rows,
            error: error.map(|e| e.message.clone()),
            at: chrono::Utc::now().to_rfc3339(),
        };
        // Attributed to the ES API request being served, if any (see telemetry::trace).
        if let Some(t) = crate::telemetry::trace::current() {
            t.add_sql(&rec);
        }
        let mut log = self.log.lock();
        if log.len() == QUERY_LOG_LEN {
            log.pop_front();
        }
        log.push_back(rec);
    }

    /// The latest statements, newest last.
    pub fn recent_queries(&self) -> Vec<QueryRecord> {
        self.log.lock().iter().cloned().collect()
    }

    async fn timed<T>(&self, fut: impl std::future::Future<Output = ChResult<T>>) -> ChResult<T> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(ChError {
                code: Some(159),
                message: format!("query timed out after {:?}", self.timeout),
            }),
        }
    }

    /// Whether ClickHouse answers at all (`SELECT 1`).
    pub async fn ping(&self) -> ChResult<()> {
        self.query_bytes(&"SELECT 1", "TabSeparated")
            .await
            .map(|_| ())
    }

    /// Runs a statement that returns no rows (DDL, mutations).
    pub async fn execute(&self, stmt: &impl Display) -> ChResult<()> {
        self.execute_with(stmt, &[]).await
    }

    /// Runs a statement with per-query settings.
    pub async fn execute_with(
        &self,
        stmt: &impl Display,
        settings: &[(&str, &str)],
    ) -> ChResult<()> {
        let sql = stmt.to_string();
        let query_id = self.new_query_id();
        let started = Instant::now();
        let mut q = self
            .client
            .query_raw(&sql)
            .with_setting("query_id", &query_id);
        if let Some(comment) = current_tag_comment() {
            q = q.with_setting("log_comment", comment);
        }
        if let Some(left) = deadline_settings() {
            q = q
                .with_setting("max_execution_time", left)
                .with_setting("timeout_overflow_mode", "throw");
        }
        for (k, v) in settings {
            q = q.with_setting(*k, *v);
        }
        let r = self
            .timed(async { q.execute().await.map_err(ChError::from_client) })
            .await;
        self.record(query_id, sql, started, None, r.as_ref().err());
        r
    }

    /// Runs a query and returns the raw bytes of its answer in `format`.
    pub async fn query_bytes(&self, stmt: &impl Display, format: &str) -> ChResult<Bytes> {
        let sql = stmt.to_string();
        let query_id = self.new_query_id();
        let started = Instant::now();
        let mut q = self
            .client
            .query_raw(&sql)
            .with_setting("query_id", &query_id)
            .with_setting("output_format_json_quote_64bit_integers", "0")
            .with_setting("output_format_json_quote_denormals", "1");
        if let Some(comment) = current_tag_comment() {
            q = q.with_setting("log_comment", comment);
        }
        if let Some(left) = deadline_settings() {
            q = q
                .with_setting("max_execution_time", left)
                .with_setting("timeout_overflow_mode", "throw");
        }
        let r = self
            .timed(async {
                let mut cursor = q.fetch_bytes(format).map_err(ChError::from_client)?;
                let mut out = Vec::new();
                while let Some(chunk) = cursor.next().await.map_err(ChError::from_client)? {
                    out.extend_from_slice(&chunk);
                }
                Ok(Bytes::from(out))
            })
            .await;
        // Row-per-line formats tell their row count.
        let rows = match &r {
            Ok(b) if format.ends_with("EachRow") || format.starts_with("TabSeparated") => {
                Some(b.iter().filter(|c| **c == b'\n').count())
            }
            _ => None,
        };
        self.record(query_id, sql, started, rows, r.as_ref().err());
        r
    }

    /// Runs a query and parses its `JSONEachRow` answer into objects.
    pub async fn query_rows(&self, stmt: &impl Display) -> ChResult<Vec<Map<String, Value>>> {
        let sql = stmt.to_string();
        let bytes = self.query_bytes(&sql, "JSONEachRow").await?;
        let mut rows = Vec::new();
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let row: Map<String, Value> = serde_json::from_slice(line).map_err(|e| ChError {
                code: None,
                message: format!("cannot parse ClickHouse answer: {e}"),
            })?;
            rows.push(row);
        }
        Ok(rows)
    }

    /// Sends `rows` (already encoded in the statement's format, e.g. JSONEachRow lines) as the data of
    /// an `INSERT`. Returns once ClickHouse has accepted them.
    pub async fn insert(
        &self,
        stmt: &crate::sql::Insert,
        rows: Bytes,
        n_rows: usize,
    ) -> ChResult<()> {
        let sql = stmt.to_string();
        let query_id = self.new_query_id();
        let started = Instant::now();
        let r = self
            .timed(async {
                let mut ins = self
                    .client
                    .insert_formatted_with(sql.clone())
                    .with_setting("query_id", &query_id)
                    .with_setting("input_format_skip_unknown_fields", "0")
                    .with_setting("date_time_input_format", "best_effort");
                ins.send(rows).await.map_err(ChError::from_client)?;
                ins.end().await.map_err(ChError::from_client)
            })
            .await;
        self.record(query_id, sql, started, Some(n_rows), r.as_ref().err());
        r
    }
}

fn current_tag_comment() -> Option<String> {
    QUERY_TAG.try_with(|t| tag_comment(t)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::{self, Expr};
    #[test]
    fn credentials_in_the_url_are_user_and_password() {
        let (url, user, password) =
            split_credentials("http://bob:p%40ss@ch.example:8123/").unwrap();
        assert_eq!(url, "http://ch.example:8123");
        assert_eq!(user.as_deref(), Some("bob"));
        assert_eq!(password.as_deref(), Some("p@ss"));
        let (url, user, password) = split_credentials("http://127.0.0.1:8123").unwrap();
        assert_eq!(
            (url.as_str(), user, password),
            ("http://127.0.0.1:8123", None, None)
        );
        assert!(split_credentials("not a url").is_err());
    }

    #[test]
    fn kill_query_renders_with_escaped_values() {
        let kill = KillQuery(Expr::func(
            "endsWith",
            vec![sql::col("query_id"), sql::lit("-ab'c")],
        ));
        assert_eq!(
            kill.to_string(),
            "KILL QUERY WHERE endsWith(`query_id`, '-ab\\'c') ASYNC"
        );
        let kill = KillQuery(Expr::func(
            "equals",
            vec![
                Expr::func(
                    "arrayElement",
                    vec![sql::col("Settings"), sql::lit("log_comment")],
                ),
                sql::lit(tag_comment("t1").as_str()),
            ],
        ));
        assert_eq!(
            kill.to_string(),
            "KILL QUERY WHERE equals(arrayElement(`Settings`, 'log_comment'), 'elastichouse-task-t1') ASYNC"
        );
    }
}
