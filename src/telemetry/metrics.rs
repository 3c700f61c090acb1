//! Prometheus metrics, served as text on the debug UI's `/metrics`.
//!
//! Built on `prometheus-client` (the Prometheus project's own Rust client): each daemon owns its
//! registry (no process-global recorder, so several daemons in one test process stay apart), label
//! sets are typed structs, and the encoder writes the OpenMetrics text format that Prometheus scrapes.
//!
//! Label values are bounded: endpoints are route patterns reduced to their `_api` part (`_search`,
//! `_bulk`, `_doc`, …), never raw paths; unsupported feature names are capped in number.

use parking_lot::Mutex;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use std::collections::HashSet;

/// Content type of the OpenMetrics text format.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Distinct unsupported-feature labels kept; later ones are counted under `other`.
const MAX_FEATURES: usize = 200;
/// Distinct error types (of responses and of `_bulk` items) kept; later ones count as `other`.
const MAX_ERROR_TYPES: usize = 100;
/// Distinct index labels of the A/B metrics kept; later ones count as `other`.
const MAX_INDICES: usize = 200;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub endpoint: String,
    pub method: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    pub endpoint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FeatureLabels {
    pub feature: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub endpoint: String,
    /// Elasticsearch's exception type (`parsing_exception`, …), or `http_<status>` for an error
    /// answer that is not one of the daemon's own (Elasticsearch's in proxy mode, a bare 413).
    pub r#type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TypeLabels {
    pub r#type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IndexKindLabels {
    pub index: String,
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IndexResultLabels {
    pub index: String,
    pub result: String,
}

/// The Elasticsearch exception type of an error response, set by `EsError`'s `IntoResponse` and
/// counted in `elastichouse_http_errors_total` when the request finishes.
#[derive(Clone, Debug)]
pub struct ErrorType(pub String);

/// The failed items of one `_bulk` request, by error type (counted once the request is answered).
#[derive(Debug, Default)]
pub struct ItemErrors(std::collections::BTreeMap<String, u64>);

impl ItemErrors {
    pub fn add(&mut self, kind: &str) {
        *self.0.entry(kind.to_string()).or_default() += 1;
    }
    /// Whether any item failed (the `errors` flag of the bulk response).
    pub fn any(&self) -> bool {
        !self.0.is_empty()
    }
}

/// Label values taken from what clients send (index names, error types), bounded in number: the
/// first `max` distinct values are kept, later ones become `other`.
struct Capped {
    seen: Mutex<HashSet<String>>,
    max: usize,
}

impl Capped {
    fn new(max: usize) -> Capped {
        Capped {
            seen: Mutex::new(HashSet::new()),
            max,
        }
    }
    fn label(&self, v: &str) -> String {
        let mut seen = self.seen.lock();
        if seen.contains(v) || seen.len() < self.max {
            seen.insert(v.to_string());
            v.to_string()
        } else {
            "other".to_string()
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BackendLabels {
    pub backend: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    pub decision: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatementLabels {
    /// First keyword of the statement, lower-cased: `select`, `insert`, `alter`, …
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatementErrorLabels {
    pub kind: String,
    /// ClickHouse's exception code, or `none` when the failure had none (network, parsing).
    pub code: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.5 ms … ~33 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 17))
}

/// What the ClickHouse client reports about every statement. Owned by the ClickHouse client
/// (it exists before the debug UI's state) and registered by [`Metrics::new`].
#[derive(Clone)]
pub struct ClickHouseMetrics {
    duration: HistogramFamily<StatementLabels>,
    errors: Family<StatementErrorLabels, Counter>,
}

impl Default for ClickHouseMetrics {
    fn default() -> Self {
        ClickHouseMetrics {
            duration: Family::new_with_constructor(latency_histogram),
            errors: Family::default(),
        }
    }
}

impl ClickHouseMetrics {
    pub fn observe(&self, sql: &str, seconds: f64, error_code: Option<Option<u32>>) {
        let kind = statement_kind(sql);
        self.duration
            .get_or_create(&StatementLabels { kind: kind.clone() })
            .observe(seconds);
        if let Some(code) = error_code {
            self.errors
                .get_or_create(&StatementErrorLabels {
                    kind,
                    code: code.map_or_else(|| "none".to_string(), |c| c.to_string()),
                })
                .inc();
        }
    }
}

/// `select`, `insert`, `create`, … (the first word, lower-cased; `other` for anything odd).
pub fn statement_kind(sql: &str) -> String {
    let word: String = sql
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .take(16)
        .collect::<String>()
        .to_ascii_lowercase();
    match word.as_str() {
        "select" | "with" => "select".into(),
        "insert" | "create" | "alter" | "drop" | "rename" | "truncate" | "optimize" | "system"
        | "show" | "describe" | "exists" | "delete" | "set" => word,
        _ => "other".into(),
    }
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily<EndpointLabels>,
    in_flight: Gauge,
    ingest_bytes: Family<EndpointLabels, Counter>,
    ingest_docs: Counter,
    unsupported: Family<FeatureLabels, Counter>,
    features_seen: Capped,
    errors: Family<ErrorLabels, Counter>,
    bulk_item_errors: Family<TypeLabels, Counter>,
    error_types: Capped,
    mismatches_by_index: Family<IndexKindLabels, Counter>,
    comparisons_by_index: Family<IndexResultLabels, Counter>,
    ab_indices: Capped,
    engine_restarts: Counter,
    mismatches: Family<KindLabels, Counter>,
    comparisons: Family<ResultLabels, Counter>,
    secondary_failures: Family<BackendLabels, Counter>,
    mismatch_store_failures: Family<ReasonLabels, Counter>,
    routed: Family<DecisionLabels, Counter>,
    rejections: Family<KindLabels, Counter>,
    pub searches_in_flight: Gauge,
    pub indexing_pressure_bytes: Gauge,
    /// Serialises the catch-up of counters that mirror values kept elsewhere.
    sync: Mutex<()>,
}

impl Metrics {
    pub fn new(ch: &ClickHouseMetrics) -> Metrics {
        let mut registry = Registry::with_prefix("elastichouse");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "Elasticsearch API requests by endpoint, method and status",
            requests.clone(),
        );
        let latency: HistogramFamily<EndpointLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "http_request_duration",
            "Time from request to response headers, by endpoint",
            Unit::Seconds,
            latency.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "http_requests_in_flight",
            "Elasticsearch API requests being served",
            in_flight.clone(),
        );
        let ingest_bytes = Family::<EndpointLabels, Counter>::default();
        registry.register_with_unit(
            "ingest",
            "Request body bytes received by the write endpoints (_bulk, _doc, _create, _update)",
            Unit::Bytes,
            ingest_bytes.clone(),
        );
        let ingest_docs = Counter::default();
        registry.register(
            "ingest_documents",
            "Documents written to ClickHouse",
            ingest_docs.clone(),
        );
        let unsupported = Family::<FeatureLabels, Counter>::default();
        registry.register(
            "unsupported_features",
            "Requests that asked for a feature elastichouse does not support yet, by feature",
            unsupported.clone(),
        );
        let errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "http_errors",
            "Error answers (status >= 400) of the Elasticsearch API by endpoint and error type",
            errors.clone(),
        );
        let bulk_item_errors = Family::<TypeLabels, Counter>::default();
        registry.register(
            "bulk_item_errors",
            "Failed items of _bulk requests (the request itself answered 200), by error type",
            bulk_item_errors.clone(),
        );
        let rejections = Family::<KindLabels, Counter>::default();
        registry.register(
            "rejected_requests",
            "Requests refused with 429 es_rejected_execution_exception, by kind (search, write)",
            rejections.clone(),
        );
        let searches_in_flight = Gauge::default();
        registry.register(
            "searches_in_flight",
            "Searches being served (bounded by search_queue_size)",
            searches_in_flight.clone(),
        );
        let indexing_pressure_bytes = Gauge::default();
        registry.register_with_unit(
            "indexing_pressure",
            "Bytes of write requests being served (bounded by indexing_pressure_memory_limit)",
            Unit::Bytes,
            indexing_pressure_bytes.clone(),
        );
        let engine_restarts = Counter::default();
        registry.register(
            "embedded_engine_restarts",
            "Restarts of the embedded ClickHouse engine after it died",
            engine_restarts.clone(),
        );
        registry.register_with_unit(
            "clickhouse_query_duration",
            "Time of ClickHouse statements by kind (errors included)",
            Unit::Seconds,
            ch.duration.clone(),
        );
        registry.register(
            "clickhouse_query_errors",
            "Failed ClickHouse statements by kind and exception code",
            ch.errors.clone(),
        );
        let mismatches = Family::<KindLabels, Counter>::default();
        registry.register(
            "mismatches",
            "Differences between the Elasticsearch and ClickHouse answers of A/B queries, by kind",
            mismatches.clone(),
        );
        let comparisons = Family::<ResultLabels, Counter>::default();
        registry.register(
            "ab_comparisons",
            "A/B queries compared, by result (match, mismatch)",
            comparisons.clone(),
        );
        let mismatches_by_index = Family::<IndexKindLabels, Counter>::default();
        registry.register(
            "mismatches_by_index",
            "Differences of A/B answers by the searched index (or pattern) and kind",
            mismatches_by_index.clone(),
        );
        let comparisons_by_index = Family::<IndexResultLabels, Counter>::default();
        registry.register(
            "ab_comparisons_by_index",
            "A/B queries compared, by the searched index (or pattern) and result",
            comparisons_by_index.clone(),
        );
        let secondary_failures = Family::<BackendLabels, Counter>::default();
        registry.register(
            "secondary_write_failures",
            "Dual writes whose secondary backend failed, by that backend",
            secondary_failures.clone(),
        );
        let mismatch_store_failures = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "mismatch_store_failures",
            "A/B mismatches not written to the ClickHouse table (store_mismatches), by reason \
             (queue_full, create, insert)",
            mismatch_store_failures.clone(),
        );
        let routed = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "routed_requests",
            "Requests by routing decision (clickhouse, elasticsearch, dual_write, ab_query, proxy)",
            routed.clone(),
        );
        Metrics {
            registry,
            mismatches,
            comparisons,
            secondary_failures,
            mismatch_store_failures,
            routed,
            requests,
            latency,
            in_flight,
            ingest_bytes,
            ingest_docs,
            unsupported,
            features_seen: Capped::new(MAX_FEATURES),
            errors,
            bulk_item_errors,
            error_types: Capped::new(MAX_ERROR_TYPES),
            mismatches_by_index,
            comparisons_by_index,
            ab_indices: Capped::new(MAX_INDICES),
            engine_restarts,
            rejections,
            searches_in_flight,
            indexing_pressure_bytes,
            sync: Mutex::new(()),
        }
    }

    /// A request refused with 429; `kind` is `search` or `write`.
    pub fn rejected(&self, kind: &str) {
        self.rejections
            .get_or_create(&KindLabels {
                kind: kind.to_string(),
            })
            .inc();
    }

    pub fn request_started(&self) {
        self.in_flight.inc();
    }

    pub fn request_finished(&self, endpoint: &str, method: &str, status: u16, seconds: f64) {
        self.in_flight.dec();
        let method = match method {
            "GET" | "POST" | "PUT" | "DELETE" | "HEAD" | "PATCH" | "OPTIONS" => method,
            _ => "other",
        };
        self.requests
            .get_or_create(&RequestLabels {
                endpoint: endpoint.to_string(),
                method: method.to_string(),
                status: status.to_string(),
            })
            .inc();
        self.latency
            .get_or_create(&EndpointLabels {
                endpoint: endpoint.to_string(),
            })
            .observe(seconds);
    }

    /// The byte counter of one write endpoint (shared: increments show in the family).
    pub fn ingest_counter(&self, endpoint: &str) -> Counter {
        self.ingest_bytes
            .get_or_create(&EndpointLabels {
                endpoint: endpoint.to_string(),
            })
            .clone()
    }

    /// Total request bytes received by the write endpoints.
    pub fn ingest_bytes_total(&self) -> u64 {
        ["_bulk", "_doc", "_create", "_update"]
            .iter()
            .map(|e| self.ingest_counter(e).get())
            .sum()
    }

    fn mismatch(&self, kind: &str) {
        self.mismatches
            .get_or_create(&KindLabels {
                kind: kind.to_string(),
            })
            .inc();
    }

    fn comparison(&self, matched: bool) {
        self.comparisons
            .get_or_create(&ResultLabels {
                result: if matched { "match" } else { "mismatch" }.to_string(),
            })
            .inc();
    }

    pub fn secondary_failure(&self, backend: &str) {
        self.secondary_failures
            .get_or_create(&BackendLabels {
                backend: backend.to_string(),
            })
            .inc();
    }

    /// `rows` mismatches could not be written to the ClickHouse table; `reason` is a fixed name.
    pub fn mismatch_store_failure(&self, reason: &'static str, rows: u64) {
        self.mismatch_store_failures
            .get_or_create(&ReasonLabels {
                reason: reason.to_string(),
            })
            .inc_by(rows);
    }

    /// `decision` is one of a few fixed names.
    pub fn routed(&self, decision: &'static str) {
        self.routed
            .get_or_create(&DecisionLabels {
                decision: decision.to_string(),
            })
            .inc();
    }

    pub fn unsupported(&self, feature: &str) {
        let feature = self.features_seen.label(feature);
        self.unsupported
            .get_or_create(&FeatureLabels { feature })
            .inc();
    }

    /// An error answer of `endpoint`: its Elasticsearch exception type when the daemon produced
    /// it ([`ErrorType`]), else `http_<status>`.
    pub fn error_answer(&self, endpoint: &str, status: u16, kind: Option<&ErrorType>) {
        if status < 400 {
            return;
        }
        let kind = match kind {
            Some(k) => self.error_types.label(&k.0),
            None => format!("http_{status}"),
        };
        self.errors
            .get_or_create(&ErrorLabels {
                endpoint: endpoint.to_string(),
                r#type: kind,
            })
            .inc();
    }

    /// The failed items of one `_bulk` request.
    pub fn bulk_item_errors(&self, errors: &ItemErrors) {
        for (kind, n) in &errors.0 {
            self.bulk_item_errors
                .get_or_create(&TypeLabels {
                    r#type: self.error_types.label(kind),
                })
                .inc_by(*n);
        }
    }

    /// One A/B comparison of a search on `indices` (as the request named them) and the kinds of
    /// the differences found (none: the answers matched).
    pub fn ab_compared<'a>(&self, indices: &[String], kinds: impl IntoIterator<Item = &'a str>) {
        let index = self.ab_indices.label(&if indices.is_empty() {
            super::NO_INDEX.to_string()
        } else {
            indices.join(",")
        });
        let mut matched = true;
        for kind in kinds {
            matched = false;
            self.mismatch(kind);
            self.mismatches_by_index
                .get_or_create(&IndexKindLabels {
                    index: index.clone(),
                    kind: kind.to_string(),
                })
                .inc();
        }
        self.comparison(matched);
        self.comparisons_by_index
            .get_or_create(&IndexResultLabels {
                index,
                result: if matched { "match" } else { "mismatch" }.to_string(),
            })
            .inc();
    }

    /// The text exposition. `docs` and `restarts` are the current totals of counters kept
    /// elsewhere (the write path, the engine supervisor).
    pub fn encode(&self, docs: u64, restarts: u64) -> String {
        {
            let _g = self.sync.lock();
            catch_up(&self.ingest_docs, docs);
            catch_up(&self.engine_restarts, restarts);
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

fn catch_up(c: &Counter, total: u64) {
    let have = c.get();
    if total > have {
        c.inc_by(total - have);
    }
}

/// The `_api` part of a route pattern, which is what requests are counted by: `/{index}/_search`
/// and `/_search` are both `_search`, `/{index}/_doc/{id}` is `_doc`, `/_cat/indices/{index}` is
/// `_cat/indices`, `/{index}` is `index` and `/` is `root`. Requests no route matched are `unmatched`.
pub fn endpoint_of(pattern: Option<&str>) -> String {
    let Some(p) = pattern else {
        return "unmatched".into();
    };
    let fixed: Vec<&str> = p
        .split('/')
        .filter(|s| !s.is_empty() && !s.starts_with('{'))
        .collect();
    if !fixed.is_empty() {
        return fixed.join("/");
    }
    if p.trim_matches('/').is_empty() {
        "root".into()
    } else {
        "index".into()
    }
}

/// Endpoints whose request bodies are documents being written.
pub fn is_ingest_endpoint(endpoint: &str) -> bool {
    matches!(endpoint, "_bulk" | "_doc" | "_create" | "_update")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_route_patterns_without_parameters() {
        assert_eq!(endpoint_of(Some("/{index}/_search")), "_search");
        assert_eq!(endpoint_of(Some("/_search")), "_search");
        assert_eq!(endpoint_of(Some("/{index}/_doc/{id}")), "_doc");
        assert_eq!(endpoint_of(Some("/_cat/indices/{index}")), "_cat/indices");
        assert_eq!(endpoint_of(Some("/{index}")), "index");
        assert_eq!(endpoint_of(Some("/")), "root");
        assert_eq!(endpoint_of(None), "unmatched");
    }

    #[test]
    fn statement_kinds() {
        assert_eq!(statement_kind("  SELECT 1"), "select");
        assert_eq!(
            statement_kind("WITH x AS (SELECT 1) SELECT * FROM x"),
            "select"
        );
        assert_eq!(statement_kind("INSERT INTO t FORMAT JSONEachRow"), "insert");
        assert_eq!(statement_kind("ALTER TABLE t"), "alter");
        assert_eq!(statement_kind("(SELECT 1)"), "other");
    }

    #[test]
    fn encodes_and_caps_feature_labels() {
        let ch = ClickHouseMetrics::default();
        let m = Metrics::new(&ch);
        m.request_started();
        m.request_finished("_search", "POST", 200, 0.01);
        ch.observe("SELECT 1", 0.002, None);
        ch.observe("SELECT x", 0.002, Some(Some(47)));
        for i in 0..(MAX_FEATURES + 5) {
            m.unsupported(&format!("f{i}"));
        }
        let text = m.encode(7, 1);
        assert!(text.contains(
            "elastichouse_http_requests_total{endpoint=\"_search\",method=\"POST\",status=\"200\"} 1"
        ));
        assert!(text.contains("elastichouse_ingest_documents_total 7"));
        assert!(text.contains("elastichouse_embedded_engine_restarts_total 1"));
        assert!(
            text.contains(
                "elastichouse_clickhouse_query_errors_total{kind=\"select\",code=\"47\"} 1"
            )
        );
        assert!(text.contains("elastichouse_unsupported_features_total{feature=\"other\"} 5"));
        assert!(text.ends_with("# EOF\n"));
        // Catching up twice does not double count.
        let text = m.encode(7, 1);
        assert!(text.contains("elastichouse_ingest_documents_total 7"));
    }
}
