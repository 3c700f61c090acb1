//! Configuration: one TOML file, overridden by `ELASTICHOUSE_*` environment variables, overridden by
//! command-line flags. `elastichouse config check` loads, validates and prints the result.

use clap::{Args, Parser, Subcommand};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The Elasticsearch REST API on top of ClickHouse.
#[derive(Debug, Parser)]
#[command(name = "elastichouse", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub opts: Overrides,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon (the default).
    Run,
    /// Work with the configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Read a password (or service token secret) on standard input and print its bcrypt hash for
    /// `[security]`.
    HashPassword,
    /// Generate realistic logs and send them over `_bulk` (see docs/loadgen.md).
    Loadgen(crate::loadgen::LoadgenArgs),
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Validate the configuration (file + environment + flags) and print it resolved.
    Check {
        /// Also explain where requests for this index go (ingest and query routing); repeatable.
        #[arg(long = "index", value_name = "NAME")]
        index: Vec<String>,
    },
}

/// What the daemon does with requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Serve the Elasticsearch API from ClickHouse, routing indices as `[routing]` says.
    #[default]
    Elastichouse,
    /// Transparent proxy: every request goes to `elasticsearch_url` unchanged; elastichouse only
    /// records what it sees (counts, latency, status, features it would not support).
    Proxy,
}

/// One backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Clickhouse,
    Elasticsearch,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Clickhouse => "clickhouse",
            Backend::Elasticsearch => "elasticsearch",
        }
    }

    pub fn other(self) -> Backend {
        match self {
            Backend::Clickhouse => Backend::Elasticsearch,
            Backend::Elasticsearch => Backend::Clickhouse,
        }
    }
}

/// Where a routing rule sends its indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetName {
    Clickhouse,
    Elasticsearch,
    /// Both backends: dual write for ingest, A/B comparison for queries; `primary` answers.
    Both,
}

/// `[[routing.ingest]]` / `[[routing.query]]`: index globs (`*`, `?`) and their target.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RouteRule {
    pub indices: Vec<String>,
    pub target: TargetName,
    /// Required with `target = "both"`: the backend whose answer the client gets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<Backend>,
}

/// `[routing]`: rules are tried in order, the first whose glob matches the index wins; no match
/// = ClickHouse. Indices starting with `.` go to Elasticsearch whenever it is configured.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    /// Fail the client's write when the secondary of a dual write fails (default: only record it).
    #[serde(default)]
    pub fail_on_secondary_error: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingest: Vec<RouteRule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub query: Vec<RouteRule>,
}

/// Every option, as a flag and an environment variable; each also exists as a TOML key of the same
/// name with `_` instead of `-`.
#[derive(Debug, Args, Default, Clone)]
pub struct Overrides {
    /// TOML configuration file.
    #[arg(long, env = "ELASTICHOUSE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Address of the Elasticsearch API [default: 127.0.0.1:9200].
    #[arg(long, env = "ELASTICHOUSE_LISTEN", global = true)]
    pub listen: Option<String>,
    /// Address of the debug UI, /metrics and pprof [default: 127.0.0.1:9999].
    #[arg(long, env = "ELASTICHOUSE_UI_LISTEN", global = true)]
    pub ui_listen: Option<String>,
    /// Data directory of the embedded ClickHouse (chDB) [default: ./data].
    #[arg(long, env = "ELASTICHOUSE_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// URL of a real ClickHouse server's HTTP interface; absent = embedded chDB.
    #[arg(long, env = "ELASTICHOUSE_CLICKHOUSE_URL", global = true)]
    pub clickhouse_url: Option<String>,
    /// ClickHouse user.
    #[arg(long, env = "ELASTICHOUSE_CLICKHOUSE_USER", global = true)]
    pub clickhouse_user: Option<String>,
    /// ClickHouse password.
    #[arg(
        long,
        env = "ELASTICHOUSE_CLICKHOUSE_PASSWORD",
        global = true,
        hide_env_values = true
    )]
    pub clickhouse_password: Option<String>,
    /// ClickHouse database holding the indices [default: elastichouse].
    #[arg(long, env = "ELASTICHOUSE_CLICKHOUSE_DATABASE", global = true)]
    pub clickhouse_database: Option<String>,
    /// Compress traffic to ClickHouse with LZ4 (real servers only) [default: false].
    #[arg(long, env = "ELASTICHOUSE_CLICKHOUSE_COMPRESSION", global = true)]
    pub clickhouse_compression: Option<bool>,
    /// Timeout of one ClickHouse query, in seconds [default: 300].
    #[arg(long, env = "ELASTICHOUSE_CLICKHOUSE_TIMEOUT_SECS", global = true)]
    pub clickhouse_timeout_secs: Option<u64>,
    /// Python interpreter that has `chdb-core` installed, for the embedded engine
    /// [default: .venv/bin/python beside the binary's project, else python3].
    #[arg(long, env = "ELASTICHOUSE_PYTHON", global = true)]
    pub python: Option<PathBuf>,
    /// How many statements the embedded engine runs at the same time [default: 8].
    #[arg(long, env = "ELASTICHOUSE_EMBEDDED_CONCURRENCY", global = true)]
    pub embedded_concurrency: Option<u32>,
    /// URL of a real Elasticsearch (pass-through, dual write, A/B).
    #[arg(long, env = "ELASTICHOUSE_ELASTICSEARCH_URL", global = true)]
    pub elasticsearch_url: Option<String>,
    /// PEM file with the CA certificate(s) that signed Elasticsearch's https certificate (besides
    /// the usual public CAs), e.g. the `http_ca.crt` Elasticsearch 8 generates.
    #[arg(long, env = "ELASTICHOUSE_ELASTICSEARCH_CA_CERT", global = true)]
    pub elasticsearch_ca_cert: Option<PathBuf>,
    /// Elasticsearch version reported on `GET /` [default: 8.17.0].
    #[arg(long, env = "ELASTICHOUSE_ES_VERSION", global = true)]
    pub es_version: Option<String>,
    /// Cluster name reported on `GET /` [default: elastichouse].
    #[arg(long, env = "ELASTICHOUSE_CLUSTER_NAME", global = true)]
    pub cluster_name: Option<String>,
    /// Node name reported on `GET /` [default: the host name].
    #[arg(long, env = "ELASTICHOUSE_NODE_NAME", global = true)]
    pub node_name: Option<String>,
    /// Documents per ClickHouse INSERT while ingesting `_bulk` [default: 10000].
    #[arg(long, env = "ELASTICHOUSE_BULK_BATCH_DOCS", global = true)]
    pub bulk_batch_docs: Option<usize>,
    /// Largest request body, after decompression, as Elasticsearch's `http.max_content_length`
    /// (`100mb`, `512kb`, bytes) [default: 100mb].
    #[arg(long, env = "ELASTICHOUSE_HTTP_MAX_CONTENT_LENGTH", global = true)]
    pub http_max_content_length: Option<String>,
    /// `elastichouse` (serve from ClickHouse, route per `[routing]`) or `proxy` (transparent
    /// proxy to `elasticsearch_url`) [default: elastichouse].
    #[arg(long, env = "ELASTICHOUSE_MODE", global = true)]
    pub mode: Option<Mode>,
    /// Also write every A/B mismatch to the ClickHouse table
    /// `{clickhouse_database}_compare.mismatches` [default: false].
    #[arg(long, env = "ELASTICHOUSE_STORE_MISMATCHES", global = true)]
    pub store_mismatches: Option<bool>,
    /// Allow the ES API on a non-loopback address without `[security]` (refused otherwise)
    /// [default: false].
    #[arg(
        long,
        env = "ELASTICHOUSE_ALLOW_UNAUTHENTICATED_NON_LOOPBACK",
        global = true
    )]
    pub allow_unauthenticated_non_loopback: Option<bool>,
    /// Searches served at once; more get 429 `es_rejected_execution_exception` (Elasticsearch's
    /// search thread pool queue) [default: 1000].
    #[arg(long, env = "ELASTICHOUSE_SEARCH_QUEUE_SIZE", global = true)]
    pub search_queue_size: Option<usize>,
    /// Bytes of write requests handled at once (`100mb`, `1gb`); more get 429 (Elasticsearch's
    /// `indexing_pressure.memory.limit`) [default: 512mb].
    #[arg(
        long,
        env = "ELASTICHOUSE_INDEXING_PRESSURE_MEMORY_LIMIT",
        global = true
    )]
    pub indexing_pressure_memory_limit: Option<String>,
    /// Data streams whose failure store is enabled unless their options say otherwise: comma-separated
    /// name patterns (Elasticsearch's cluster setting `data_streams.failure_store.enabled`).
    #[arg(
        long,
        env = "ELASTICHOUSE_DATA_STREAMS_FAILURE_STORE_ENABLED",
        global = true
    )]
    pub data_streams_failure_store_enabled: Option<String>,
}

/// The configuration file. Unknown keys are errors.
#[derive(Debug, Default, Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub ui_listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub clickhouse_url: Option<String>,
    pub clickhouse_user: Option<String>,
    pub clickhouse_password: Option<String>,
    pub clickhouse_database: Option<String>,
    pub clickhouse_compression: Option<bool>,
    pub clickhouse_timeout_secs: Option<u64>,
    pub python: Option<PathBuf>,
    pub embedded_concurrency: Option<u32>,
    pub elasticsearch_url: Option<String>,
    pub elasticsearch_ca_cert: Option<PathBuf>,
    pub es_version: Option<String>,
    pub cluster_name: Option<String>,
    pub node_name: Option<String>,
    pub bulk_batch_docs: Option<usize>,
    pub http_max_content_length: Option<String>,
    pub mode: Option<Mode>,
    pub store_mismatches: Option<bool>,
    pub routing: Option<RoutingConfig>,
    pub security: Option<crate::security::SecurityConfig>,
    pub search_queue_size: Option<usize>,
    pub indexing_pressure_memory_limit: Option<String>,
    pub data_streams_failure_store_enabled: Option<Vec<String>>,
}

/// The resolved configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    pub listen: SocketAddr,
    pub ui_listen: SocketAddr,
    pub data_dir: PathBuf,
    pub clickhouse_url: Option<String>,
    pub clickhouse_user: Option<String>,
    #[serde(skip_serializing)]
    pub clickhouse_password: Option<String>,
    pub clickhouse_database: String,
    pub clickhouse_compression: bool,
    pub clickhouse_timeout_secs: u64,
    pub python: Option<PathBuf>,
    /// Statements the embedded engine runs at once (each on its own chDB connection).
    pub embedded_concurrency: u32,
    pub elasticsearch_url: Option<String>,
    pub elasticsearch_ca_cert: Option<PathBuf>,
    pub es_version: String,
    pub cluster_name: String,
    pub node_name: String,
    pub bulk_batch_docs: usize,
    /// `http.max_content_length` in bytes.
    pub http_max_content_length: u64,
    pub mode: Mode,
    /// Write A/B mismatches to `{clickhouse_database}_compare.mismatches` too (besides the
    /// in-memory store).
    pub store_mismatches: bool,
    pub routing: RoutingConfig,
    /// Users, roles, API keys, TLS (docs/security.md).
    pub security: crate::security::SecurityConfig,
    /// Searches in flight before 429.
    pub search_queue_size: usize,
    /// Bytes of write requests in flight before 429.
    pub indexing_pressure_memory_limit: u64,
    /// Name patterns of the data streams whose failure store is on by default.
    pub data_streams_failure_store_enabled: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config::resolve(FileConfig::default(), Overrides::default())
            .expect("the defaults are valid")
    }
}

impl Config {
    /// A configuration for tests and benchmarks: both listeners on free loopback ports, the embedded
    /// engine in `data_dir`.
    pub fn ephemeral(data_dir: PathBuf, python: Option<PathBuf>) -> Config {
        Config {
            listen: "127.0.0.1:0".parse().expect("address"),
            ui_listen: "127.0.0.1:0".parse().expect("address"),
            data_dir,
            python,
            ..Config::default()
        }
    }
}

/// A byte size as Elasticsearch writes them (ByteSizeValue): `100mb`, `512kb`, `1gb`, `42b` or a
/// plain number of bytes.
pub fn parse_byte_size(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let units: [(&str, u64); 6] = [
        ("pb", 1 << 50),
        ("tb", 1 << 40),
        ("gb", 1 << 30),
        ("mb", 1 << 20),
        ("kb", 1 << 10),
        ("b", 1),
    ];
    for (suffix, mult) in units {
        if let Some(n) = s.strip_suffix(suffix) {
            return n.trim().parse::<u64>().ok()?.checked_mul(mult);
        }
    }
    s.parse().ok()
}

fn addr(what: &str, s: &str) -> Result<SocketAddr, String> {
    s.parse()
        .map_err(|e| format!("{what}: [{s}] is not an address like 127.0.0.1:9200 ({e})"))
}

impl Config {
    /// Reads the file (if any) and applies environment variables and flags over it.
    pub fn load(o: &Overrides) -> Result<Config, String> {
        let file = match &o.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        Config::resolve(file, o.clone())
    }

    pub fn resolve(f: FileConfig, o: Overrides) -> Result<Config, String> {
        let listen = o.listen.or(f.listen).unwrap_or("127.0.0.1:9200".into());
        let ui_listen = o
            .ui_listen
            .or(f.ui_listen)
            .unwrap_or("127.0.0.1:9999".into());
        let database = o
            .clickhouse_database
            .or(f.clickhouse_database)
            .unwrap_or("elastichouse".into());
        if database.is_empty() {
            return Err("clickhouse_database: must not be empty".into());
        }
        let clickhouse_url = o.clickhouse_url.or(f.clickhouse_url);
        if let Some(u) = &clickhouse_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return Err(format!(
                "clickhouse_url: [{u}] must be an http:// or https:// URL of ClickHouse's HTTP interface"
            ));
        }
        if clickhouse_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
        {
            return Err("clickhouse_url: https is not supported by this build yet; use http:// (or a TLS-terminating proxy)".into());
        }
        let elasticsearch_url = o.elasticsearch_url.or(f.elasticsearch_url);
        if let Some(u) = &elasticsearch_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return Err(format!(
                "elasticsearch_url: [{u}] must be an http:// or https:// URL"
            ));
        }
        let elasticsearch_ca_cert = o.elasticsearch_ca_cert.or(f.elasticsearch_ca_cert);
        if let Some(p) = &elasticsearch_ca_cert {
            let pem = std::fs::read(p)
                .map_err(|e| format!("elasticsearch_ca_cert: cannot read {}: {e}", p.display()))?;
            if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
                return Err(format!(
                    "elasticsearch_ca_cert: {} holds no PEM certificate",
                    p.display()
                ));
            }
        }
        let mode = o.mode.or(f.mode).unwrap_or_default();
        let routing = f.routing.unwrap_or_default();
        check_routing(mode, elasticsearch_url.is_some(), &routing)?;
        let es_version = o.es_version.or(f.es_version).unwrap_or("8.17.0".into());
        let parts: Vec<_> = es_version.split('.').collect();
        if parts.len() != 3 || parts.iter().any(|p| p.parse::<u32>().is_err()) {
            return Err(format!("es_version: [{es_version}] must look like 8.17.0"));
        }
        let http_max_content_length = match o.http_max_content_length.or(f.http_max_content_length)
        {
            Some(v) => parse_byte_size(&v).ok_or_else(|| {
                format!("http_max_content_length: [{v}] is not a size like 100mb")
            })?,
            None => 100 * 1024 * 1024,
        };
        let bulk_batch_docs = o.bulk_batch_docs.or(f.bulk_batch_docs).unwrap_or(10_000);
        let embedded_concurrency = o
            .embedded_concurrency
            .or(f.embedded_concurrency)
            .unwrap_or(8);
        if embedded_concurrency == 0 {
            return Err("embedded_concurrency: must be at least 1".into());
        }
        if bulk_batch_docs == 0 {
            return Err("bulk_batch_docs: must be at least 1".into());
        }
        let mut security = f.security.unwrap_or_default();
        if let Some(allow) = o.allow_unauthenticated_non_loopback {
            security.allow_unauthenticated_non_loopback = allow;
        }
        security.validate()?;
        let listen = addr("listen", &listen)?;
        if !listen.ip().is_loopback()
            && !security.is_enabled()
            && !security.allow_unauthenticated_non_loopback
        {
            return Err(format!(
                "listen: {listen} is not a loopback address and [security] has no users: anyone who can reach it could read and delete every index. Configure [security] users (docs/security.md), or set allow_unauthenticated_non_loopback = true (--allow-unauthenticated-non-loopback) if a proxy in front authenticates"
            ));
        }
        let search_queue_size = o.search_queue_size.or(f.search_queue_size).unwrap_or(1000);
        let indexing_pressure_memory_limit = match o
            .indexing_pressure_memory_limit
            .or(f.indexing_pressure_memory_limit)
        {
            Some(v) => parse_byte_size(&v).ok_or_else(|| {
                format!("indexing_pressure_memory_limit: [{v}] is not a size like 512mb")
            })?,
            None => 512 * 1024 * 1024,
        };
        let data_streams_failure_store_enabled = match o.data_streams_failure_store_enabled {
            Some(v) => v
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(String::from)
                .collect(),
            None => f.data_streams_failure_store_enabled.unwrap_or_default(),
        };
        Ok(Config {
            data_streams_failure_store_enabled,
            search_queue_size,
            indexing_pressure_memory_limit,
            listen,
            ui_listen: addr("ui_listen", &ui_listen)?,
            data_dir: o.data_dir.or(f.data_dir).unwrap_or("./data".into()),
            clickhouse_url,
            clickhouse_user: o.clickhouse_user.or(f.clickhouse_user),
            clickhouse_password: o.clickhouse_password.or(f.clickhouse_password),
            clickhouse_database: database,
            clickhouse_compression: o
                .clickhouse_compression
                .or(f.clickhouse_compression)
                .unwrap_or(false),
            clickhouse_timeout_secs: o
                .clickhouse_timeout_secs
                .or(f.clickhouse_timeout_secs)
                .unwrap_or(300),
            python: o.python.or(f.python),
            embedded_concurrency,
            elasticsearch_url,
            elasticsearch_ca_cert,
            es_version,
            cluster_name: o
                .cluster_name
                .or(f.cluster_name)
                .unwrap_or("elastichouse".into()),
            node_name: o
                .node_name
                .or(f.node_name)
                .unwrap_or_else(default_node_name),
            bulk_batch_docs,
            http_max_content_length,
            mode,
            store_mismatches: o.store_mismatches.or(f.store_mismatches).unwrap_or(false),
            routing,
            security,
        })
    }
}

fn check_routing(mode: Mode, has_es: bool, r: &RoutingConfig) -> Result<(), String> {
    if mode == Mode::Proxy && !has_es {
        return Err("mode = \"proxy\" needs elasticsearch_url".into());
    }
    for (table, rules) in [("ingest", &r.ingest), ("query", &r.query)] {
        for (i, rule) in rules.iter().enumerate() {
            let at = format!("routing.{table}[{i}]");
            if rule.indices.is_empty() || rule.indices.iter().any(|p| p.trim().is_empty()) {
                return Err(format!("{at}: indices must list non-empty index patterns"));
            }
            match (rule.target, rule.primary) {
                (TargetName::Both, None) => {
                    return Err(format!(
                        "{at}: target = \"both\" needs primary = \"clickhouse\" or \"elasticsearch\" (the backend that answers the client)"
                    ));
                }
                (TargetName::Clickhouse | TargetName::Elasticsearch, Some(_)) => {
                    return Err(format!("{at}: primary only applies to target = \"both\""));
                }
                _ => {}
            }
            if rule.target != TargetName::Clickhouse && !has_es {
                return Err(
                    format!("{at}: target {:?} needs elasticsearch_url", rule.target)
                        .to_lowercase(),
                );
            }
        }
    }
    Ok(())
}

fn default_node_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "elastichouse".into())
}

fn read_file(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("config file {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {

    #[test]
    fn byte_sizes_as_elasticsearch_writes_them() {
        assert_eq!(super::parse_byte_size("100mb"), Some(100 << 20));
        assert_eq!(super::parse_byte_size(" 512KB "), Some(512 << 10));
        assert_eq!(super::parse_byte_size("1gb"), Some(1 << 30));
        assert_eq!(super::parse_byte_size("42b"), Some(42));
        assert_eq!(super::parse_byte_size("1000"), Some(1000));
        assert_eq!(super::parse_byte_size("lots"), None);
        assert_eq!(super::parse_byte_size("99999999999pb"), None);
    }

    use super::*;

    #[test]
    fn defaults() {
        let c = Config::default();
        assert_eq!(c.listen.to_string(), "127.0.0.1:9200");
        assert_eq!(c.ui_listen.to_string(), "127.0.0.1:9999");
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert!(c.clickhouse_url.is_none());
    }

    #[test]
    fn flags_override_file() {
        let f: FileConfig =
            toml::from_str("listen = \"127.0.0.1:9300\"\nes_version = \"9.1.0\"").unwrap();
        let o = Overrides {
            listen: Some("127.0.0.1:9400".into()),
            ..Default::default()
        };
        let c = Config::resolve(f, o).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:9400");
        assert_eq!(c.es_version, "9.1.0");
        assert!(!c.store_mismatches);
        let f: FileConfig = toml::from_str("store_mismatches = true").unwrap();
        assert!(
            Config::resolve(f.clone(), Overrides::default())
                .unwrap()
                .store_mismatches
        );
        let o = Overrides {
            store_mismatches: Some(false),
            ..Default::default()
        };
        assert!(!Config::resolve(f, o).unwrap().store_mismatches);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        assert!(toml::from_str::<FileConfig>("lisen = \"x\"").is_err());
        let f: FileConfig = toml::from_str("listen = \"nope\"").unwrap();
        let e = Config::resolve(f, Overrides::default()).unwrap_err();
        assert!(e.contains("listen"), "{e}");
        let f: FileConfig = toml::from_str("clickhouse_url = \"localhost:8123\"").unwrap();
        assert!(Config::resolve(f, Overrides::default()).is_err());
    }

    #[test]
    fn routing_tables() {
        let text = r#"
elasticsearch_url = "http://es:9200"
[routing]
fail_on_secondary_error = true
[[routing.ingest]]
indices = ["logs-*"]
target = "both"
primary = "clickhouse"
[[routing.query]]
indices = ["logs-*", "metrics-*"]
target = "elasticsearch"
"#;
        let f: FileConfig = toml::from_str(text).unwrap();
        let c = Config::resolve(f, Overrides::default()).unwrap();
        assert!(c.routing.fail_on_secondary_error);
        assert_eq!(c.routing.ingest[0].primary, Some(Backend::Clickhouse));
        assert_eq!(c.routing.query[0].target, TargetName::Elasticsearch);
        // The resolved configuration prints as TOML and reads back the same.
        let printed = toml::to_string_pretty(&c).unwrap();
        assert!(printed.contains("[[routing.query]]"), "{printed}");

        let bad = |t: &str| {
            let f: FileConfig = toml::from_str(t).unwrap();
            Config::resolve(f, Overrides::default()).unwrap_err()
        };
        let e = bad(
            "elasticsearch_url = \"http://es:9200\"\n[[routing.query]]\nindices = [\"a\"]\ntarget = \"both\"",
        );
        assert!(e.contains("primary"), "{e}");
        let e = bad("[[routing.query]]\nindices = [\"a\"]\ntarget = \"elasticsearch\"");
        assert!(e.contains("elasticsearch_url"), "{e}");
        let e = bad("mode = \"proxy\"");
        assert!(e.contains("elasticsearch_url"), "{e}");
        let e = bad(
            "elasticsearch_url = \"https://es:9200\"\nelasticsearch_ca_cert = \"/nonexistent.crt\"",
        );
        assert!(e.contains("elasticsearch_ca_cert"), "{e}");
        let f: FileConfig = toml::from_str("elasticsearch_url = \"https://es:9200\"").unwrap();
        assert!(Config::resolve(f, Overrides::default()).is_ok());
        assert!(
            toml::from_str::<FileConfig>(
                "[[routing.query]]\nindices = [\"a\"]\ntarget = \"nowhere\""
            )
            .is_err()
        );
    }
}
