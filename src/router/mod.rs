//! Routing: which backend serves a request, decided per index from the `[routing]` tables.
//!
//! Two tables, one for writes (`ingest`) and one for reads (`query`); each rule maps index globs to
//! `clickhouse`, `elasticsearch` or `both` (with the `primary` that answers the client). Rules are
//! tried in order; no match means ClickHouse. Dot/system indices (`.kibana*`, `.security*`,
//! `.tasks`, …, anything starting with `.`) go to Elasticsearch whenever it is configured, and in
//! `mode = "proxy"` everything does. A request naming indices that resolve to different targets is
//! refused with a 400: elastichouse cannot merge one answer out of two backends.
//!
//! [`classify`] reads what a request is from its method and path (and, for `_bulk`/`_msearch`, the
//! indices from the action/header lines); [`Routing::decide`] turns that into a [`Decision`]; the
//! middleware in [`layer`] carries it out.

pub mod layer;
pub mod record;

use crate::config::{Backend, Config, Mode, RouteRule, TargetName};
use crate::error::EsError;
use crate::telemetry::NO_INDEX;
use axum::http::Method;
use std::fmt;

/// The resolved target of one index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    ClickHouse,
    Elasticsearch,
    Both { primary: Backend },
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::ClickHouse => f.write_str("clickhouse"),
            Target::Elasticsearch => f.write_str("elasticsearch"),
            Target::Both { primary } => write!(f, "both (primary {})", primary.as_str()),
        }
    }
}

/// Which table decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Ingest,
    Query,
}

impl Table {
    pub fn as_str(self) -> &'static str {
        match self {
            Table::Ingest => "ingest",
            Table::Query => "query",
        }
    }
}

/// A target and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub target: Target,
    pub reason: String,
}

pub struct Routing {
    pub mode: Mode,
    pub has_es: bool,
    pub ingest: Vec<RouteRule>,
    pub query: Vec<RouteRule>,
    pub fail_on_secondary_error: bool,
}

/// `*` matches any run of characters, `?` one character; everything else literally.
pub fn glob(pattern: &str, name: &str) -> bool {
    crate::glob::star_question(pattern, name)
}

impl Routing {
    pub fn new(cfg: &Config) -> Routing {
        Routing {
            mode: cfg.mode,
            has_es: cfg.elasticsearch_url.is_some(),
            ingest: cfg.routing.ingest.clone(),
            query: cfg.routing.query.clone(),
            fail_on_secondary_error: cfg.routing.fail_on_secondary_error,
        }
    }

    pub fn rules(&self, table: Table) -> &[RouteRule] {
        match table {
            Table::Ingest => &self.ingest,
            Table::Query => &self.query,
        }
    }

    /// Where requests of `table` for `index` go.
    pub fn resolve(&self, table: Table, index: &str) -> Resolved {
        if !self.has_es {
            return Resolved {
                target: Target::ClickHouse,
                reason: "no elasticsearch_url configured".into(),
            };
        }
        if self.mode == Mode::Proxy {
            return Resolved {
                target: Target::Elasticsearch,
                reason: "mode = \"proxy\"".into(),
            };
        }
        // A backing index `.ds-<stream>-…` goes where its data stream goes, so the backing indices of
        // elastichouse's own data streams stay local (docs/storage.md).
        if let Some(ds) = crate::catalog::data_stream_of_backing(index)
            && !ds.starts_with('.')
        {
            let r = self.resolve(table, ds);
            return Resolved {
                target: r.target,
                reason: format!("backing index of data stream [{ds}]: {}", r.reason),
            };
        }
        if index.starts_with('.') {
            return Resolved {
                target: Target::Elasticsearch,
                reason: "system index (name starts with '.')".into(),
            };
        }
        for (i, rule) in self.rules(table).iter().enumerate() {
            if let Some(p) = rule.indices.iter().find(|p| glob(p, index)) {
                let target = match (rule.target, rule.primary) {
                    (TargetName::Clickhouse, _) => Target::ClickHouse,
                    (TargetName::Elasticsearch, _) => Target::Elasticsearch,
                    (TargetName::Both, p) => Target::Both {
                        primary: p.unwrap_or(Backend::Clickhouse),
                    },
                };
                return Resolved {
                    target,
                    reason: format!("rule routing.{}[{i}], pattern [{p}]", table.as_str()),
                };
            }
        }
        Resolved {
            target: Target::ClickHouse,
            reason: "no rule matched: default clickhouse".into(),
        }
    }

    /// The routing of an index for both tables, as text (for `config check --index`).
    pub fn explain(&self, index: &str) -> String {
        let mut out = String::new();
        for table in [Table::Ingest, Table::Query] {
            let r = self.resolve(table, index);
            let what = match (table, r.target) {
                (Table::Ingest, Target::Both { primary }) => format!(
                    "dual write, {} answers, {} failures are recorded{}",
                    primary.as_str(),
                    primary.other().as_str(),
                    if self.fail_on_secondary_error {
                        " and fail the request"
                    } else {
                        ""
                    }
                ),
                (Table::Query, Target::Both { primary }) => format!(
                    "A/B: both run, {} answers, the answers are compared",
                    primary.as_str()
                ),
                _ => String::new(),
            };
            out.push_str(&format!(
                "{:<6} {index}: {}  ({}){}\n",
                table.as_str(),
                r.target,
                r.reason,
                if what.is_empty() {
                    String::new()
                } else {
                    format!("\n       {what}")
                }
            ));
        }
        out
    }

    /// The one target of all `indices` in `table`, or a 400 when they differ.
    pub fn resolve_all(&self, table: Table, indices: &[String]) -> Result<Target, EsError> {
        let mut groups: Vec<(Target, Vec<&str>)> = Vec::new();
        let no_index = [NO_INDEX.to_string()];
        let names = if indices.is_empty() {
            &no_index[..]
        } else {
            indices
        };
        for name in names {
            let t = self.resolve(table, name).target;
            match groups.iter_mut().find(|g| g.0 == t) {
                Some(g) => g.1.push(name),
                None => groups.push((t, vec![name])),
            }
        }
        if groups.len() == 1 {
            return Ok(groups[0].0);
        }
        let parts: Vec<String> = groups
            .iter()
            .map(|(t, names)| format!("[{}] to {t}", names.join(", ")))
            .collect();
        Err(EsError::illegal_argument(format!(
            "indices [{}] are routed to different backends ({} routing: {}); send them in separate requests",
            names.join(", "),
            table.as_str(),
            parts.join(", ")
        ))
        .with("elastichouse.unsupported_feature", "request mixing routing targets"))
    }

    /// What to do with a classified request.
    pub fn decide(&self, c: &Classified) -> Result<Decision, EsError> {
        let table = if c.op == Op::Write {
            Table::Ingest
        } else {
            Table::Query
        };
        if !self.has_es
            && let Some(sys) = c.indices.iter().find(|i| is_system_index(i))
        {
            // Kibana's and the stack's own indices live in Elasticsearch (docs/kibana.md).
            return Err(EsError::illegal_argument(format!(
                "[{sys}] is a system index (its name starts with '.'): elastichouse passes system indices \
                 to Elasticsearch, and no elasticsearch_url is configured"
            ))
            .with("elastichouse.unsupported_feature", "system index without elasticsearch_url"));
        }
        let target = self.resolve_all(table, &c.indices)?;
        Ok(match target {
            Target::ClickHouse => Decision::Local,
            Target::Elasticsearch => Decision::Forward,
            Target::Both { primary } => match c.op {
                Op::Write => Decision::DualWrite { primary },
                Op::Compare => Decision::AbQuery { primary },
                Op::Read => match primary {
                    Backend::Clickhouse => Decision::Local,
                    Backend::Elasticsearch => Decision::Forward,
                },
            },
        })
    }
}

/// A dot index other than a backing index of one of our own data streams (`.ds-<stream>-…` with a
/// stream name not starting with '.'): `.kibana*`, `.security*`, `.tasks`, `.apm*`, `.fleet*`, ….
pub fn is_system_index(name: &str) -> bool {
    name.starts_with('.')
        && crate::catalog::data_stream_of_backing(name).is_none_or(|ds| ds.starts_with('.'))
}

/// What a request does, as far as routing cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `_search`, `_count`, `_msearch`: answers that can be compared (A/B).
    Compare,
    /// Other reads: the primary answers alone.
    Read,
    /// Writes (documents, `_bulk`, index management): dual write.
    Write,
}

/// A request as routing sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    pub op: Op,
    /// `_search`, `_bulk`, `_doc`, … (`index` for `/{index}`, `root` for `/`).
    pub api: String,
    /// Concrete names and patterns the request names (from the path; `_bulk`/`_msearch` add the
    /// ones of their action/header lines once the body is read). Empty = no index.
    pub indices: Vec<String>,
    /// The body must be read to know the indices (`_bulk`, `_msearch`).
    pub body_names_indices: bool,
}

/// The outcome for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Served by elastichouse's own handlers.
    Local,
    /// Passed through to Elasticsearch.
    Forward,
    DualWrite {
        primary: Backend,
    },
    AbQuery {
        primary: Backend,
    },
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Local => "clickhouse",
            Decision::Forward => "elasticsearch",
            Decision::DualWrite { .. } => "dual_write",
            Decision::AbQuery { .. } => "ab_query",
        }
    }
}

pub fn split_indices(expr: &str) -> Vec<String> {
    expr.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty() && !s.starts_with('-') && *s != "_all")
        .map(str::to_string)
        .collect()
}

/// Whether a request may continue a search started earlier (a scroll, a point in time, an async
/// search): its body or path is then read for the id ([`continuation_ids`]).
pub fn may_continue(method: &Method, path: &str) -> bool {
    let path = path.trim_end_matches('/');
    path == "/_search"
        || path == "/_async_search"
        || path == "/_search/scroll"
        || path.starts_with("/_search/scroll/")
        || (path == "/_pit" && *method == Method::DELETE)
        || (path.starts_with("/_async_search/") && *method != Method::POST)
}

/// The ids a continuation names: the scroll id(s) of `/_search/scroll` (path, `scroll_id`
/// parameter or body), the PIT id of `DELETE /_pit` or of a search body's `pit`, the id of
/// `GET|DELETE /_async_search[/status]/{id}`. `None`: not a continuation (an ordinary search).
/// The router sends a continuation to the backend that issued its id (`es_api::issued_here`):
/// continuations carry no index, so the index rules cannot say.
pub fn continuation_ids(path: &str, query: &str, body: &[u8]) -> Option<Vec<String>> {
    let path = path.trim_end_matches('/');
    let body: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let strings = |v: Option<&serde_json::Value>| -> Vec<String> {
        match v {
            Some(serde_json::Value::String(s)) => vec![s.clone()],
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    };
    if let Some(id) = path.strip_prefix("/_search/scroll/") {
        return Some(vec![percent_decode(id)]);
    }
    if path == "/_search/scroll" {
        let from_query = query
            .split('&')
            .find_map(|p| p.strip_prefix("scroll_id="))
            .map(|v| vec![percent_decode(v)]);
        return Some(
            from_query.unwrap_or_else(|| strings(body.as_ref().and_then(|b| b.get("scroll_id")))),
        );
    }
    if path == "/_pit" {
        return Some(strings(body.as_ref().and_then(|b| b.get("id"))));
    }
    if let Some(rest) = path.strip_prefix("/_async_search/") {
        let id = rest.strip_prefix("status/").unwrap_or(rest);
        return Some(vec![percent_decode(id)]);
    }
    let pit = body.as_ref()?.get("pit")?.get("id")?;
    Some(strings(Some(pit)))
}

/// Reads method and path.
pub fn classify(method: &Method, path: &str, query: &str) -> Classified {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (index, rest): (Option<&str>, &[&str]) = match segs.first() {
        Some(s) if !s.starts_with('_') => (Some(s), &segs[1..]),
        _ => (None, &segs[..]),
    };
    let api = match (rest.first(), index) {
        (Some(a), _) => a.to_string(),
        (None, Some(_)) => "index".to_string(),
        (None, None) => "root".to_string(),
    };
    let indices = index
        .map(|i| {
            let decoded = percent_decode(i);
            split_indices(&decoded)
        })
        .unwrap_or_default();
    let read = matches!(*method, Method::GET | Method::HEAD);
    let scrolling = query
        .split('&')
        .any(|p| p.starts_with("scroll=") || p == "scroll");
    let op = match api.as_str() {
        "_search" if rest.get(1) == Some(&"scroll") => Op::Read,
        "_search" | "_count" | "_msearch" if !scrolling => Op::Compare,
        // Submitting an async search (Kibana's way of searching) compares like a search; fetching
        // or deleting one by id is the primary's business.
        "_async_search" if *method == Method::POST && rest.len() == 1 => Op::Compare,
        "_search" | "_count" | "_msearch" | "_mget" | "_field_caps" | "_validate" | "_explain"
        | "_termvectors" | "_mtermvectors" | "_async_search" | "_pit"
            if *method != Method::DELETE =>
        {
            Op::Read
        }
        "_bulk" | "_doc" | "_create" | "_update" | "_delete_by_query" | "_update_by_query"
            if !read =>
        {
            Op::Write
        }
        _ if read => Op::Read,
        _ => Op::Write,
    };
    Classified {
        op,
        body_names_indices: matches!(api.as_str(), "_bulk" | "_msearch"),
        api,
        indices,
    }
}

pub fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The indices named by the action lines of a `_bulk` body (`_index` of each action), or by the
/// header lines of an `_msearch` body (`index`). Lines that are not JSON objects are skipped (the
/// handler that serves the request reports them).
pub fn body_indices(api: &str, body: &[u8]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut lines = body
        .split(|b| *b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace));
    let mut push = |name: &str| {
        for n in split_indices(name) {
            if !out.contains(&n) {
                out.push(n);
            }
        }
    };
    while let Some(line) = lines.next() {
        let Ok(serde_json::Value::Object(m)) = serde_json::from_slice(line) else {
            continue;
        };
        if api == "_bulk" {
            let Some((action, meta)) = m.iter().next() else {
                continue;
            };
            if let Some(i) = meta.get("_index").and_then(|v| v.as_str()) {
                push(i);
            }
            if action != "delete" {
                lines.next();
            }
        } else {
            match m.get("index") {
                Some(serde_json::Value::String(s)) => push(s),
                Some(serde_json::Value::Array(a)) => {
                    for s in a.iter().filter_map(|v| v.as_str()) {
                        push(s);
                    }
                }
                _ => {}
            }
            lines.next();
        }
    }
    out
}

/// Whether some action/header line of a `_bulk`/`_msearch` body names no index (it then takes the
/// one of the path, or none).
pub fn body_has_lines_without_index(api: &str, body: &[u8]) -> bool {
    let mut lines = body
        .split(|b| *b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace));
    while let Some(line) = lines.next() {
        let Ok(serde_json::Value::Object(m)) = serde_json::from_slice(line) else {
            continue;
        };
        if api == "_bulk" {
            let Some((action, meta)) = m.iter().next() else {
                continue;
            };
            if meta.get("_index").is_none() {
                return true;
            }
            if action != "delete" {
                lines.next();
            }
        } else {
            if m.get("index").is_none() {
                return true;
            }
            lines.next();
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{FileConfig, Overrides};

    fn routing(toml_text: &str) -> Routing {
        let f: FileConfig = toml::from_str(toml_text).unwrap();
        Routing::new(&Config::resolve(f, Overrides::default()).unwrap())
    }

    const RULES: &str = r#"
elasticsearch_url = "http://es:9200"
[[routing.ingest]]
indices = ["logs-*"]
target = "both"
primary = "clickhouse"
[[routing.query]]
indices = ["logs-*"]
target = "both"
primary = "elasticsearch"
[[routing.query]]
indices = ["legacy", "old-?"]
target = "elasticsearch"
[[routing.query]]
indices = ["*"]
target = "clickhouse"
"#;

    #[test]
    fn globs() {
        assert!(glob("logs-*", "logs-2024"));
        assert!(glob("logs-*", "logs-"));
        assert!(!glob("logs-*", "log"));
        assert!(glob("*", "anything"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxbyy"));
        assert!(glob("old-?", "old-1"));
        assert!(!glob("old-?", "old-12"));
        assert!(glob("exact", "exact"));
    }

    #[test]
    fn backing_indices_follow_their_data_stream() {
        let r = routing(RULES);
        // `.ds-other-…` belongs to data stream `other` (rule `*` → clickhouse), not a system index.
        assert_eq!(
            r.resolve(Table::Query, ".ds-other-2024.05.01-000001")
                .target,
            Target::ClickHouse
        );
        assert_eq!(
            r.resolve(Table::Query, ".ds-old-1-2024.05.01-000001")
                .target,
            Target::Elasticsearch
        );
        // Elasticsearch's own dot data streams stay there.
        assert_eq!(
            r.resolve(
                Table::Query,
                ".ds-.logs-deprecation.elasticsearch-default-2024.05.01-000001"
            )
            .target,
            Target::Elasticsearch
        );
    }

    #[test]
    fn resolves_rules_in_order_with_system_indices_to_elasticsearch() {
        let r = routing(RULES);
        assert_eq!(
            r.resolve(Table::Query, "logs-1").target,
            Target::Both {
                primary: Backend::Elasticsearch
            }
        );
        assert_eq!(
            r.resolve(Table::Ingest, "logs-1").target,
            Target::Both {
                primary: Backend::Clickhouse
            }
        );
        assert_eq!(
            r.resolve(Table::Query, "old-1").target,
            Target::Elasticsearch
        );
        assert_eq!(r.resolve(Table::Query, "other").target, Target::ClickHouse);
        assert_eq!(r.resolve(Table::Ingest, "other").target, Target::ClickHouse);
        for sys in [
            ".kibana_8.17.0",
            ".security-7",
            ".tasks",
            ".apm-agent",
            ".fleet-x",
            ".x",
        ] {
            assert_eq!(r.resolve(Table::Query, sys).target, Target::Elasticsearch);
            assert_eq!(r.resolve(Table::Ingest, sys).target, Target::Elasticsearch);
        }
        let text = r.explain("logs-1");
        assert!(
            text.contains("dual write") && text.contains("A/B"),
            "{text}"
        );
        // Without Elasticsearch everything else is ClickHouse; a system index is a clear 400
        // (the issue: "Without one configured: a clear error that says which Elasticsearch
        // feature needed it"), the backing indices of our own data streams stay local.
        let none = routing("");
        assert_eq!(
            none.resolve(Table::Query, "logs").target,
            Target::ClickHouse
        );
        let c = |i: &str| Classified {
            op: Op::Read,
            api: "_search".into(),
            indices: vec![i.into()],
            body_names_indices: false,
        };
        let e = none.decide(&c(".kibana_8.17.0_001")).unwrap_err();
        assert_eq!(
            (e.status, e.kind.as_str()),
            (400, "illegal_argument_exception")
        );
        assert!(
            e.reason.contains("[.kibana_8.17.0_001] is a system index"),
            "{}",
            e.reason
        );
        assert!(e.reason.contains("no elasticsearch_url"), "{}", e.reason);
        assert_eq!(
            none.decide(&c(".ds-logs-nginx-default-2026.12.04-000001"))
                .unwrap(),
            Decision::Local
        );
        // Proxy mode: everything to Elasticsearch.
        let p = routing("mode = \"proxy\"\nelasticsearch_url = \"http://es:9200\"");
        assert_eq!(p.resolve(Table::Query, "x").target, Target::Elasticsearch);
    }

    #[test]
    fn mixed_targets_are_a_400() {
        let r = routing(RULES);
        let e = r
            .resolve_all(Table::Query, &[".kibana".into(), "other".into()])
            .unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(e.kind, "illegal_argument_exception");
        assert!(
            e.reason.contains("[.kibana] to elasticsearch"),
            "{}",
            e.reason
        );
        assert!(e.reason.contains("[other] to clickhouse"), "{}", e.reason);
        assert_eq!(
            r.resolve_all(Table::Query, &["a".into(), "b".into()])
                .unwrap(),
            Target::ClickHouse
        );
    }

    #[test]
    fn classifies_requests() {
        let c = classify(&Method::POST, "/logs-1,logs-2/_search", "");
        assert_eq!(c.op, Op::Compare);
        assert_eq!(c.api, "_search");
        assert_eq!(c.indices, vec!["logs-1", "logs-2"]);
        assert_eq!(
            classify(&Method::POST, "/logs/_search", "scroll=1m").op,
            Op::Read
        );
        assert_eq!(classify(&Method::POST, "/_search/scroll", "").op, Op::Read);
        let c = classify(&Method::PUT, "/logs/_doc/1", "");
        assert_eq!((c.op, c.api.as_str()), (Op::Write, "_doc"));
        assert_eq!(classify(&Method::GET, "/logs/_doc/1", "").op, Op::Read);
        assert_eq!(classify(&Method::DELETE, "/logs/_doc/1", "").op, Op::Write);
        assert_eq!(
            classify(&Method::POST, "/logs/_async_search", "").op,
            Op::Compare
        );
        assert_eq!(
            classify(&Method::GET, "/_async_search/FmRldE8", "").op,
            Op::Read
        );
        assert_eq!(classify(&Method::PUT, "/logs", "").api, "index");
        assert_eq!(classify(&Method::PUT, "/logs", "").op, Op::Write);
        let c = classify(&Method::GET, "/", "");
        assert_eq!(
            (c.op, c.api.as_str(), c.indices.len()),
            (Op::Read, "root", 0)
        );
        let c = classify(&Method::POST, "/_bulk", "");
        assert!(c.body_names_indices);
        assert_eq!(
            classify(&Method::GET, "/%2Ekibana/_search", "").indices,
            vec![".kibana"]
        );
    }

    #[test]
    fn decisions() {
        let r = routing(RULES);
        let d = |m: Method, p: &str| r.decide(&classify(&m, p, ""));
        assert_eq!(
            d(Method::POST, "/logs-1/_search").unwrap(),
            Decision::AbQuery {
                primary: Backend::Elasticsearch
            }
        );
        assert_eq!(
            d(Method::POST, "/logs-1/_doc").unwrap(),
            Decision::DualWrite {
                primary: Backend::Clickhouse
            }
        );
        // Other reads of an A/B index: the primary alone.
        assert_eq!(
            d(Method::GET, "/logs-1/_mapping").unwrap(),
            Decision::Forward
        );
        assert_eq!(
            d(Method::GET, "/legacy/_search").unwrap(),
            Decision::Forward
        );
        assert_eq!(d(Method::GET, "/x/_search").unwrap(), Decision::Local);
        assert_eq!(d(Method::GET, "/_cat/indices").unwrap(), Decision::Local);
        assert!(d(Method::GET, "/legacy,x/_search").is_err());
    }

    #[test]
    fn indices_of_bulk_and_msearch_bodies() {
        let bulk = b"{\"index\":{\"_index\":\"a\",\"_id\":\"1\"}}\n{\"f\":1}\n{\"delete\":{\"_index\":\"b\",\"_id\":\"2\"}}\n\
{\"create\":{\"_index\":\"a\"}}\n{\"_index\":\"not-an-action\"}\n{\"update\":{\"_id\":\"3\"}}\n{\"doc\":{}}\n";
        assert_eq!(body_indices("_bulk", bulk), vec!["a", "b"]);
        assert!(body_has_lines_without_index("_bulk", bulk));
        let ms =
            b"{\"index\":\"x\"}\n{\"query\":{\"match_all\":{}}}\n{\"index\":[\"y\",\"x\"]}\n{}\n";
        assert_eq!(body_indices("_msearch", ms), vec!["x", "y"]);
        assert!(!body_has_lines_without_index("_msearch", ms));
    }

    #[test]
    fn continuation_ids_are_found_in_path_query_and_body() {
        assert!(may_continue(&Method::POST, "/_search/scroll"));
        assert!(may_continue(&Method::DELETE, "/_pit"));
        assert!(may_continue(&Method::GET, "/_async_search/status/abc"));
        assert!(!may_continue(&Method::POST, "/_async_search/abc"));
        assert!(!may_continue(&Method::POST, "/logs/_search"));
        assert_eq!(
            continuation_ids("/_search/scroll/a%3Db", "", b""),
            Some(vec!["a=b".to_string()])
        );
        assert_eq!(
            continuation_ids("/_search/scroll", "scroll_id=q1&scroll=1m", b"{}"),
            Some(vec!["q1".to_string()])
        );
        assert_eq!(
            continuation_ids("/_search/scroll", "", br#"{"scroll_id": ["s1", "s2"]}"#),
            Some(vec!["s1".to_string(), "s2".to_string()])
        );
        assert_eq!(
            continuation_ids("/_pit", "", br#"{"id": "p1"}"#),
            Some(vec!["p1".to_string()])
        );
        assert_eq!(
            continuation_ids("/_async_search/status/x1", "", b""),
            Some(vec!["x1".to_string()])
        );
        assert_eq!(
            continuation_ids("/_search", "", br#"{"pit": {"id": "p2"}, "size": 1}"#),
            Some(vec!["p2".to_string()])
        );
        assert_eq!(continuation_ids("/_search", "", br#"{"size": 1}"#), None);
        assert_eq!(continuation_ids("/_search", "", b""), None);
    }
}
