//! The optional ClickHouse table of A/B mismatches (`store_mismatches = true`): one row per
//! compared request whose answers differed, in `{clickhouse_database}_compare.mismatches`, so that
//! mismatches outlive the in-memory store and can be grouped with plain SQL
//! (`GROUP BY index, opaque_id`).
//!
//! The table lives in a database of its own so that it is never listed as an index (as the async
//! search store does). Rows are handed to a background task through a bounded queue and inserted
//! in batches: the comparison (already off the client's request) never waits for ClickHouse. A row
//! that cannot be written — queue full, table not creatable, insert failed — is logged and counted
//! in `elastichouse_mismatch_store_failures_total{reason}`; nothing else happens.

use super::Diff;
use super::store::{BODY_KEPT, Comparison};
use crate::clickhouse::{ChError, ClickHouse};
use crate::sql;
use crate::telemetry::Stats;
use serde::Serialize;
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::sync::mpsc;

/// The table's name, in [`database`].
pub const TABLE: &str = "mismatches";
/// Mismatches waiting to be written; more are dropped (and counted).
const QUEUE: usize = 256;
/// Rows per INSERT at most.
const BATCH: usize = 100;
/// Bytes of one difference's value (as JSON text) kept; a longer value is kept as a string of its
/// first bytes.
const VALUE_KEPT: usize = 4 * 1024;

/// `{clickhouse_database}_compare`.
pub fn database(base: &str) -> sql::Ident {
    sql::Ident::new(format!("{base}_compare"))
}

/// The columns, in order.
fn columns() -> Vec<(&'static str, sql::ChType)> {
    use sql::ChType::*;
    let low = |t: sql::ChType| LowCardinality(Box::new(t));
    vec![
        ("at", DateTime64(3, Some("UTC".into()))),
        ("node", low(String)),
        ("mismatch_id", UInt64),
        ("request_id", Nullable(Box::new(UInt64))),
        ("method", low(String)),
        ("path", String),
        ("index", String),
        ("opaque_id", String),
        ("primary", low(String)),
        ("diff_count", UInt32),
        ("diff_kinds", Array(Box::new(low(String)))),
        ("diffs", String),
        ("request_body", String),
        ("elasticsearch_status", UInt16),
        ("elasticsearch_millis", Float64),
        ("elasticsearch_body", String),
        ("clickhouse_status", UInt16),
        ("clickhouse_millis", Float64),
        ("clickhouse_body", String),
    ]
}

/// `CREATE TABLE IF NOT EXISTS {db}.mismatches (…) ENGINE = MergeTree PARTITION BY toYYYYMM(at)
/// ORDER BY (index, opaque_id, at)`.
fn create_table(db: sql::Ident) -> sql::CreateTable {
    let mut t = sql::CreateTable::new(db, sql::Ident::new(TABLE), sql::Engine::MergeTree);
    t.if_not_exists = true;
    for (name, ty) in columns() {
        t.columns.push(sql::ColumnDef::new(name, ty));
    }
    t.partition_by = Some(sql::func("toYYYYMM", vec![sql::col("at")]));
    t.order_by = vec![sql::col("index"), sql::col("opaque_id"), sql::col("at")];
    t.comment = Some("A/B mismatches of elastichouse (store_mismatches = true)".into());
    t
}

/// Creates the database and the table when missing.
pub async fn ensure(ch: &ClickHouse, db: &sql::Ident) -> Result<(), ChError> {
    ch.execute(&sql::CreateDatabase {
        if_not_exists: true,
        name: db.clone(),
    })
    .await?;
    ch.execute(&create_table(db.clone())).await
}

/// One row, as a JSONEachRow object (keys are the column names).
#[derive(Serialize)]
struct Row<'a> {
    at: String,
    node: &'a str,
    mismatch_id: u64,
    request_id: Option<u64>,
    method: &'a str,
    path: &'a str,
    index: &'a str,
    opaque_id: &'a str,
    primary: &'static str,
    diff_count: usize,
    diff_kinds: Vec<&'static str>,
    diffs: String,
    request_body: &'a str,
    elasticsearch_status: u16,
    elasticsearch_millis: f64,
    elasticsearch_body: &'a str,
    clickhouse_status: u16,
    clickhouse_millis: f64,
    clickhouse_body: &'a str,
}

impl<'a> Row<'a> {
    fn of(c: &'a Comparison, node: &'a str) -> Row<'a> {
        Row {
            // The store's `2024-05-01 12:00:00.123 UTC`, read by `date_time_input_format =
            // best_effort` (set by `ClickHouse::insert`) with its zone.
            at: format!("{}Z", c.at.trim_end_matches(" UTC")),
            node,
            mismatch_id: c.id,
            request_id: c.request_id,
            method: &c.method,
            path: &c.path,
            index: &c.index,
            opaque_id: c.opaque_id.as_deref().unwrap_or(""),
            primary: c.primary.as_str(),
            diff_count: c.diffs.len(),
            diff_kinds: c.diffs.iter().map(|d| d.kind.as_str()).collect(),
            diffs: diffs_json(&c.diffs),
            request_body: &c.request_body,
            elasticsearch_status: c.elasticsearch.status,
            elasticsearch_millis: c.elasticsearch.millis,
            elasticsearch_body: &c.elasticsearch.body,
            clickhouse_status: c.clickhouse.status,
            clickhouse_millis: c.clickhouse.millis,
            clickhouse_body: &c.clickhouse.body,
        }
    }
}

/// The differences as a JSON array of `{kind, path, elasticsearch, clickhouse}` (the shape of
/// `/api/mismatches`), bounded like the bodies: a value longer than [`VALUE_KEPT`] bytes of JSON
/// becomes a string of its first bytes followed by `…`, and once [`BODY_KEPT`] bytes of values
/// are written the remaining differences keep their kind and path only (`"truncated": true`).
fn diffs_json(diffs: &[Diff]) -> String {
    let mut budget = BODY_KEPT;
    let out: Vec<Value> = diffs
        .iter()
        .map(|d| {
            if budget == 0 {
                return json!({"kind": d.kind.as_str(), "path": d.path, "truncated": true});
            }
            let mut side = |v: &Option<Value>| -> Value {
                let Some(v) = v else { return Value::Null };
                let text = v.to_string();
                let kept = if text.len() <= VALUE_KEPT {
                    v.clone()
                } else {
                    Value::String(format!("{}…", super::store::truncate_to(&text, VALUE_KEPT)))
                };
                budget = budget.saturating_sub(text.len().min(VALUE_KEPT));
                kept
            };
            let (e, c) = (side(&d.elasticsearch), side(&d.clickhouse));
            json!({"kind": d.kind.as_str(), "path": d.path, "elasticsearch": e, "clickhouse": c})
        })
        .collect();
    Value::Array(out).to_string()
}

/// The sending end: cheap, never blocks.
pub struct Writer {
    tx: mpsc::Sender<Arc<Comparison>>,
    stats: Arc<Stats>,
}

impl Writer {
    /// Starts the background task that writes to `db`; `ready` tells whether the table is known to
    /// exist (else it is created before the first insert).
    pub fn start(
        ch: Arc<ClickHouse>,
        stats: Arc<Stats>,
        db: sql::Ident,
        node: String,
        ready: bool,
    ) -> Writer {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(ch, stats.clone(), db, node, ready, rx));
        Writer { tx, stats }
    }

    /// Queues one mismatch for the table.
    pub fn send(&self, c: Arc<Comparison>) {
        if let Err(e) = self.tx.try_send(c) {
            let (reason, c) = match e {
                mpsc::error::TrySendError::Full(c) => ("queue_full", c),
                mpsc::error::TrySendError::Closed(c) => ("closed", c),
            };
            self.stats.metrics.mismatch_store_failure(reason, 1);
            tracing::warn!(
                mismatch_id = c.id,
                request_id = c.request_id,
                index = %c.index,
                reason,
                "A/B: mismatch not written to the ClickHouse table"
            );
        }
    }
}

async fn run(
    ch: Arc<ClickHouse>,
    stats: Arc<Stats>,
    db: sql::Ident,
    node: String,
    mut ready: bool,
    mut rx: mpsc::Receiver<Arc<Comparison>>,
) {
    let insert = sql::Insert {
        db: db.clone(),
        table: sql::Ident::new(TABLE),
        columns: vec![],
        format: "JSONEachRow",
    };
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let r = async {
            if !ready {
                ensure(&ch, &db).await.map_err(|e| ("create", e))?;
                ready = true;
            }
            let mut body = Vec::new();
            for c in &batch {
                // A row of strings and numbers always serialises.
                serde_json::to_writer(&mut body, &Row::of(c, &node)).unwrap_or_default();
                body.push(b'\n');
            }
            ch.insert(&insert, body.into(), batch.len())
                .await
                .map_err(|e| ("insert", e))
        }
        .await;
        if let Err((reason, e)) = r {
            stats
                .metrics
                .mismatch_store_failure(reason, batch.len() as u64);
            tracing::warn!(
                rows = batch.len(),
                first_mismatch_id = batch[0].id,
                first_request_id = batch[0].request_id,
                reason,
                error = %e,
                "A/B: mismatches not written to the ClickHouse table"
            );
        }
        batch.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::Kind;

    #[test]
    fn create_statement_is_rendered_by_the_sql_builder() {
        let sql = create_table(database("eh")).to_string();
        assert!(
            sql.starts_with("CREATE TABLE IF NOT EXISTS `eh_compare`.`mismatches` ("),
            "{sql}"
        );
        assert!(sql.contains("`at` DateTime64(3, 'UTC')"), "{sql}");
        assert!(
            sql.contains("`diff_kinds` Array(LowCardinality(String))"),
            "{sql}"
        );
        assert!(
            sql.contains("ORDER BY (`index`, `opaque_id`, `at`)"),
            "{sql}"
        );
        // A database name needing escapes stays one identifier.
        let sql = create_table(database("a`b")).to_string();
        assert!(sql.contains("`a\\`b_compare`.`mismatches`"), "{sql}");
    }

    #[test]
    fn long_values_and_many_differences_are_bounded() {
        let big = json!("x".repeat(10 * VALUE_KEPT));
        let diffs: Vec<Diff> = (0..100)
            .map(|i| Diff {
                kind: Kind::ValueDiffers,
                path: format!("hits.hits[_id={i}]._source.s"),
                elasticsearch: Some(big.clone()),
                clickhouse: Some(json!(1)),
            })
            .collect();
        let text = diffs_json(&diffs);
        let v: Vec<Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(v.len(), 100);
        let first = v[0]["elasticsearch"].as_str().unwrap();
        assert!(first.len() <= VALUE_KEPT + 3 && first.ends_with('…'));
        assert_eq!(v[0]["clickhouse"], 1);
        assert_eq!(v[99]["truncated"], true);
        assert_eq!(v[99]["kind"], "value_differs");
        assert!(text.len() < 2 * BODY_KEPT, "{}", text.len());
    }
}
