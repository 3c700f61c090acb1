//! The catalog: which indices exist, their mappings and settings, and the ClickHouse tables behind them.
//!
//! Stateless by design (several daemons may serve one ClickHouse): an index is a table in the
//! configured database, and its Elasticsearch metadata (uuid, creation date, settings, mappings) lives
//! in the table's COMMENT as JSON. Tables without our comment are served read-only, with a mapping
//! derived from their column types. The in-memory cache is only a cache: it is reloaded from
//! `system.tables`/`system.columns` when it is older than [`CACHE_TTL`] or misses.
//! See docs/storage.md for the table design.

use crate::clickhouse::{ChError, ClickHouse};
use crate::error::{EsError, EsResult};
use crate::schema::Mappings;
use crate::sql::{self, ChType, Ident};
use parking_lot::RwLock;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Reserved columns of every table elastichouse creates.
pub const COL_ID: &str = "_id";
pub const COL_SOURCE: &str = "_source";
pub const COL_VERSION: &str = "_version";
pub const COL_SEQ_NO: &str = "_seq_no";
pub const COL_DELETED: &str = "_deleted";
pub const RESERVED: [&str; 5] = [COL_ID, COL_SOURCE, COL_VERSION, COL_SEQ_NO, COL_DELETED];

/// Index name → metadata, as one consistent snapshot.
type Snapshot = Arc<HashMap<String, Arc<IndexMeta>>>;

/// The physical name of a column that holds field `logical` with type `ty`.
///
/// ClickHouse treats `Array` columns whose names share the part before the first dot (`o.a`,
/// `o.b`) as one Nested structure and rejects a row whose arrays in that group differ in length
/// (`SIZES_OF_ARRAYS_DONT_MATCH`) — but Elasticsearch documents routinely have `products.sku` with
/// three values and `products.tags` with one, and a text field's tokens differ in number from its
/// values. A name whose first character is the dot is never grouped, and no Elasticsearch field path
/// starts with a dot (empty field names are invalid), so array columns are the field path prefixed
/// with a dot: lossless, collision-free, and still readable. Scalar columns are the path itself.
/// Names that already start with a dot (token columns) are physical already.
pub fn physical_name(logical: &str, ty: &ChType) -> String {
    if ty.is_array() && !logical.starts_with('.') {
        format!(".{logical}")
    } else {
        logical.to_string()
    }
}

/// The field path of a physical column name (token columns keep their own name).
pub fn logical_name(physical: &str) -> &str {
    if crate::analysis::value_column_of_tokens(physical).is_some() {
        physical
    } else {
        physical.strip_prefix('.').unwrap_or(physical)
    }
}

const CACHE_TTL: Duration = Duration::from_secs(5);
/// Marks a table comment as ours.
const COMMENT_KEY: &str = "elastichouse";

#[derive(Debug, Clone)]
pub struct IndexMeta {
    pub name: String,
    /// The ClickHouse database of the table.
    pub database: String,
    pub uuid: String,
    pub creation_date: i64,
    /// Created by elastichouse (reserved columns present, writable). Otherwise an existing table
    /// served read-only.
    pub managed: bool,
    pub mappings: Mappings,
    /// `settings.index` as Elasticsearch shows it, minus the generated parts.
    pub settings: Value,
    /// Leaf-field columns (reserved columns excluded), name → type.
    pub columns: BTreeMap<String, ChType>,
}

impl IndexMeta {
    pub fn table(&self) -> Ident {
        Ident::new(&self.name)
    }

    /// The columns keyed by field path (what the schema module works with); token columns keep
    /// their own names.
    pub fn logical_columns(&self) -> BTreeMap<String, ChType> {
        self.columns
            .iter()
            .map(|(c, t)| (logical_name(c).to_string(), t.clone()))
            .collect()
    }

    /// The physical column that holds field `logical`, if the table has one.
    pub fn physical_column(&self, logical: &str) -> Option<&str> {
        let dotted = format!(".{logical}");
        self.columns
            .get_key_value(&dotted)
            .or_else(|| self.columns.get_key_value(logical))
            .map(|(k, _)| k.as_str())
    }

    /// `database.table` of this index, for a FROM clause.
    pub fn from_clause(&self) -> sql::FromClause {
        sql::FromClause::table(Ident::new(&self.database), self.table())
    }

    /// The settings object of `GET /{index}`.
    pub fn settings_json(&self) -> Value {
        let mut index = json!({
            "creation_date": self.creation_date.to_string(),
            "number_of_shards": "1",
            "number_of_replicas": "0",
            "uuid": self.uuid,
            "version": {"created": "8500003"},
            "provided_name": self.name,
        });
        if let (Value::Object(dst), Value::Object(src)) = (&mut index, &self.settings) {
            for (k, v) in src {
                dst.insert(k.clone(), v.clone());
            }
        }
        json!({ "index": index })
    }

    fn comment(&self) -> String {
        json!({ COMMENT_KEY: {
            "format": 1,
            "uuid": self.uuid,
            "creation_date": self.creation_date,
            "settings": self.settings,
            "mappings": self.mappings.to_json(),
        }})
        .to_string()
    }
}

pub struct Catalog {
    ch: Arc<ClickHouse>,
    cache: RwLock<Option<(Instant, Snapshot)>>,
    /// Bumped by every invalidation, so a reload that started before a change cannot store its
    /// stale answer after it.
    generation: AtomicU64,
    /// Serialises writes that change one index's schema or allocate its sequence numbers.
    write_locks: parking_lot::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    seq_nos: parking_lot::Mutex<HashMap<String, Arc<AtomicU64>>>,
}

/// Elasticsearch's index-name rules (MetadataCreateIndexService#validateIndexOrAliasName and
/// #validateIndexName).
pub fn validate_index_name(name: &str) -> EsResult<()> {
    const INVALID: [char; 10] = ['\\', '/', '*', '?', '"', '<', '>', '|', ' ', ','];
    let why = if name.is_empty() {
        Some("must not be empty".to_string())
    } else if name.contains(INVALID) {
        Some("must not contain the following characters [ , \", *, \\, <, |, ,, >, /, ?]".into())
    } else if name.contains('#') {
        Some("must not contain '#'".into())
    } else if name.contains(':') {
        Some("must not contain ':'".into())
    } else if name.starts_with(['_', '-', '+']) {
        Some("must not start with '_', '-', or '+'".into())
    } else if name.len() > 255 {
        Some(format!("index name is too long, ({} > 255)", name.len()))
    } else if name == "." || name == ".." {
        Some("must not be '.' or '..'".into())
    } else if name.to_lowercase() != name {
        Some("must be lowercase".into())
    } else {
        None
    };
    match why {
        Some(w) => Err(EsError::invalid_index_name(name, &w)),
        None => Ok(()),
    }
}

/// Glob matching for index patterns (`*` only, as Elasticsearch's wildcard expressions).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && p[pi] != '*' && p[pi] == n[ni] {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Options of multi-index requests (`ignore_unavailable`, `allow_no_indices`).
#[derive(Debug, Clone, Copy)]
pub struct ResolveOptions {
    pub ignore_unavailable: bool,
    pub allow_no_indices: bool,
}

impl Default for ResolveOptions {
    fn default() -> Self {
        ResolveOptions {
            ignore_unavailable: false,
            allow_no_indices: true,
        }
    }
}

impl Catalog {
    pub fn new(ch: Arc<ClickHouse>) -> Self {
        Catalog {
            ch,
            cache: RwLock::new(None),
            generation: AtomicU64::new(0),
            write_locks: Default::default(),
            seq_nos: Default::default(),
        }
    }

    pub fn db(&self) -> Ident {
        Ident::new(&self.ch.database)
    }

    pub fn invalidate(&self) {
        let mut cache = self.cache.write();
        self.generation.fetch_add(1, Ordering::SeqCst);
        *cache = None;
    }

    async fn load(&self) -> EsResult<Snapshot> {
        let in_db = || sql::col("database").eq(sql::lit(self.ch.database.as_str()));
        let tables = sql::Select {
            items: vec![
                sql::col("name").into(),
                sql::col("comment").into(),
                sql::col("engine").into(),
            ],
            from: Some(sql::FromClause::table(
                Ident::new("system"),
                Ident::new("tables"),
            )),
            where_: Some(in_db().and(sql::col("is_temporary").not())),
            ..Default::default()
        };
        let columns = sql::Select {
            items: vec![
                sql::col("table").into(),
                sql::col("name").into(),
                sql::col("type").into(),
            ],
            from: Some(sql::FromClause::table(
                Ident::new("system"),
                Ident::new("columns"),
            )),
            where_: Some(in_db()),
            order_by: vec![sql::col("table").asc(), sql::col("position").asc()],
            ..Default::default()
        };
        let tables = self.ch.query_rows(&tables).await?;
        let columns = self.ch.query_rows(&columns).await?;
        let mut cols: HashMap<String, Vec<(String, ChType)>> = HashMap::new();
        for c in columns {
            let t = c.get("table").and_then(Value::as_str).unwrap_or_default();
            let n = c.get("name").and_then(Value::as_str).unwrap_or_default();
            let ty = c.get("type").and_then(Value::as_str).unwrap_or_default();
            cols.entry(t.to_string())
                .or_default()
                .push((n.to_string(), ChType::parse(ty)));
        }
        let mut out = HashMap::new();
        for t in tables {
            let name = t
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let engine = t.get("engine").and_then(Value::as_str).unwrap_or_default();
            if engine.ends_with("View") && engine != "MaterializedView" && engine != "View" {
                continue;
            }
            let comment = t.get("comment").and_then(Value::as_str).unwrap_or_default();
            let all_cols = cols.remove(&name).unwrap_or_default();
            let meta = match serde_json::from_str::<Value>(comment)
                .ok()
                .and_then(|v| v.get(COMMENT_KEY).cloned())
            {
                Some(m) => {
                    let mappings = match crate::schema::parse_mappings(&m["mappings"]) {
                        Ok(mp) => mp,
                        Err(e) => {
                            tracing::error!(table = %name, error = %e, "stored mapping unreadable; serving from columns");
                            Mappings::from_columns(&all_cols).0
                        }
                    };
                    IndexMeta {
                        uuid: m["uuid"]
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| crate::ids::index_uuid(&name)),
                        creation_date: m["creation_date"].as_i64().unwrap_or(0),
                        managed: true,
                        mappings,
                        settings: m.get("settings").cloned().unwrap_or(json!({})),
                        columns: all_cols
                            .into_iter()
                            .filter(|(n, _)| !RESERVED.contains(&n.as_str()))
                            .collect(),
                        name: name.clone(),
                        database: self.ch.database.clone(),
                    }
                }
                None => {
                    let (mappings, skipped) = Mappings::from_columns(&all_cols);
                    if !skipped.is_empty() {
                        tracing::debug!(table = %name, ?skipped, "columns without an Elasticsearch type");
                    }
                    IndexMeta {
                        uuid: crate::ids::index_uuid(&name),
                        creation_date: 0,
                        managed: false,
                        mappings,
                        settings: json!({}),
                        columns: all_cols.into_iter().collect(),
                        name: name.clone(),
                        database: self.ch.database.clone(),
                    }
                }
            };
            out.insert(name, Arc::new(meta));
        }
        Ok(Arc::new(out))
    }

    async fn snapshot(&self, force: bool) -> EsResult<Snapshot> {
        if !force
            && let Some((at, map)) = self.cache.read().as_ref()
            && at.elapsed() < CACHE_TTL
        {
            return Ok(map.clone());
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let map = self.load().await?;
        let mut cache = self.cache.write();
        if self.generation.load(Ordering::SeqCst) == generation {
            *cache = Some((Instant::now(), map.clone()));
        }
        Ok(map)
    }

    /// Every index, sorted by name.
    pub async fn list(&self) -> EsResult<Vec<Arc<IndexMeta>>> {
        let mut v: Vec<_> = self.snapshot(false).await?.values().cloned().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(v)
    }

    /// One index by exact name (reloading the cache once on a miss).
    pub async fn get(&self, name: &str) -> EsResult<Option<Arc<IndexMeta>>> {
        if let Some(m) = self.snapshot(false).await?.get(name) {
            return Ok(Some(m.clone()));
        }
        Ok(self.snapshot(true).await?.get(name).cloned())
    }

    pub async fn require(&self, name: &str) -> EsResult<Arc<IndexMeta>> {
        self.get(name)
            .await?
            .ok_or_else(|| EsError::index_not_found(name))
    }

    /// Resolves an index expression (`a,b`, `logs-*`, `_all`, `*`, `-excluded`) as Elasticsearch's
    /// IndexNameExpressionResolver does for open indices. Dot-prefixed indices match only patterns
    /// that start with a dot.
    pub async fn resolve(&self, expr: &str, opts: ResolveOptions) -> EsResult<Vec<Arc<IndexMeta>>> {
        let all = self.list().await?;
        let mut out: Vec<Arc<IndexMeta>> = Vec::new();
        let parts: Vec<&str> = if expr.is_empty() || expr == "_all" {
            vec!["*"]
        } else {
            expr.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        };
        for (i, part) in parts.iter().enumerate() {
            if let Some(excl) = part.strip_prefix('-')
                && i > 0
            {
                out.retain(|m| !glob_match(excl, &m.name));
                continue;
            }
            let part = if *part == "_all" { "*" } else { part };
            if part.contains('*') {
                let dot_ok = part.starts_with('.');
                for m in &all {
                    if glob_match(part, &m.name)
                        && (dot_ok || !m.name.starts_with('.'))
                        && !out.iter().any(|o| o.name == m.name)
                    {
                        out.push(m.clone());
                    }
                }
            } else {
                match self.get(part).await? {
                    Some(m) => {
                        if !out.iter().any(|o| o.name == m.name) {
                            out.push(m);
                        }
                    }
                    None if opts.ignore_unavailable => {}
                    None => return Err(EsError::index_not_found(part)),
                }
            }
        }
        if out.is_empty() && !opts.allow_no_indices {
            return Err(EsError::index_not_found(expr));
        }
        Ok(out)
    }

    pub fn write_lock(&self, index: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.write_locks
            .lock()
            .entry(index.to_string())
            .or_default()
            .clone()
    }

    /// Creates an index: validates the name, creates the table with the leaf columns of `mappings`.
    pub async fn create(
        &self,
        name: &str,
        mappings: Mappings,
        settings: Value,
    ) -> EsResult<Arc<IndexMeta>> {
        validate_index_name(name)?;
        if let Some(existing) = self.get(name).await? {
            return Err(EsError::index_already_exists(name, &existing.uuid));
        }
        let mut columns = BTreeMap::new();
        let logical = mappings.columns();
        let tokens =
            crate::analysis::token_columns_for(&mappings, logical.iter().map(|(c, _)| c.clone()));
        for (col, ty) in logical.into_iter().chain(tokens) {
            columns.insert(physical_name(&col, &ty), ty);
        }
        let meta = IndexMeta {
            name: name.to_string(),
            database: self.ch.database.clone(),
            uuid: crate::ids::generate_id()[..20].to_string() + "AA",
            creation_date: chrono::Utc::now().timestamp_millis(),
            managed: true,
            mappings,
            settings,
            columns,
        };
        let mut defs = vec![
            sql::ColumnDef::new(COL_ID, ChType::String),
            sql::ColumnDef::new(COL_SOURCE, ChType::String).codec("ZSTD(3)"),
            sql::ColumnDef::new(COL_VERSION, ChType::UInt64),
            sql::ColumnDef::new(COL_SEQ_NO, ChType::UInt64),
            sql::ColumnDef::new(COL_DELETED, ChType::UInt8),
        ];
        for (c, t) in &meta.columns {
            defs.push(sql::ColumnDef::new(c, t.clone()));
        }
        let create = sql::CreateTable {
            if_not_exists: false,
            db: self.db(),
            name: meta.table(),
            columns: defs,
            indexes: vec![],
            engine: sql::Engine::ReplacingMergeTree {
                version: Some(Ident::new(COL_SEQ_NO)),
                is_deleted: Some(Ident::new(COL_DELETED)),
            },
            order_by: vec![sql::col(COL_ID)],
            partition_by: None,
            settings: vec![],
            comment: Some(meta.comment()),
            on_cluster: None,
        };
        match self.ch.execute(&create).await {
            Ok(()) => {}
            Err(ChError {
                code: Some(ChError::TABLE_ALREADY_EXISTS),
                ..
            }) => {
                self.invalidate();
                let uuid = self
                    .get(name)
                    .await?
                    .map(|m| m.uuid.clone())
                    .unwrap_or_default();
                return Err(EsError::index_already_exists(name, &uuid));
            }
            Err(e) => return Err(e.into()),
        }
        self.invalidate();
        tracing::info!(index = name, columns = meta.columns.len(), "index created");
        Ok(Arc::new(meta))
    }

    pub async fn delete(&self, name: &str) -> EsResult<()> {
        let drop = sql::DropTable {
            if_exists: true,
            db: self.db(),
            name: Ident::new(name),
            sync: true,
        };
        self.ch.execute(&drop).await?;
        self.seq_nos.lock().remove(name);
        self.invalidate();
        tracing::info!(index = name, "index deleted");
        Ok(())
    }

    /// Applies a mapping change: merges `update` into the index's mapping, adds the new columns and
    /// stores the mapping. Callers hold the index's write lock.
    pub async fn update_mapping(
        &self,
        meta: &IndexMeta,
        update: &Mappings,
        new_columns: &[(String, ChType)],
    ) -> EsResult<Arc<IndexMeta>> {
        let mut next = meta.clone();
        next.mappings.merge(update)?;
        let mut ops = Vec::new();
        for (c, t) in new_columns {
            let c = physical_name(c, t);
            if next.columns.contains_key(&c) {
                continue;
            }
            next.columns.insert(c.clone(), t.clone());
            ops.push(sql::AlterOp::AddColumn {
                if_not_exists: true,
                def: sql::ColumnDef::new(c.as_str(), t.clone()),
                after: None,
            });
        }
        // Columns the merged mapping needs that the table lacks (PUT _mapping with new fields), and
        // the token columns of its text fields.
        let mut wanted = next.mappings.columns();
        let value_cols: Vec<String> = wanted.iter().map(|(c, _)| c.clone()).collect();
        wanted.extend(crate::analysis::token_columns_for(
            &next.mappings,
            value_cols,
        ));
        for (c, t) in wanted {
            // A field already stored (as a scalar or as an array column) keeps its column.
            if next.columns.contains_key(&c) || next.columns.contains_key(&format!(".{c}")) {
                continue;
            }
            let c = physical_name(&c, &t);
            next.columns.insert(c.clone(), t.clone());
            ops.push(sql::AlterOp::AddColumn {
                if_not_exists: true,
                def: sql::ColumnDef::new(c.as_str(), t),
                after: None,
            });
        }
        ops.push(sql::AlterOp::ModifyComment(next.comment()));
        let alter = sql::AlterTable {
            db: self.db(),
            table: meta.table(),
            on_cluster: None,
            ops,
        };
        self.ch.execute(&alter).await?;
        self.invalidate();
        tracing::info!(index = %meta.name, new_columns = new_columns.len(), "mapping updated");
        Ok(Arc::new(next))
    }

    /// Changes column types that documents outgrew: a single-valued column that now receives arrays
    /// becomes `Array(T)`, a nested leaf `Array(Nullable(T))` whose objects hold arrays becomes
    /// `Array(Array(T))`. Rare and heavier: a new column is filled from the old one by a mutation, then
    /// swapped in. Callers hold the index's write lock.
    pub async fn migrate_columns(
        &self,
        meta: &IndexMeta,
        migrations: &[crate::schema::ColumnMigration],
    ) -> EsResult<Arc<IndexMeta>> {
        let mut next = meta.clone();
        for m in migrations {
            let Some(old) = meta.physical_column(&m.column).map(str::to_string) else {
                continue;
            };
            let current = meta.columns[&old].clone();
            let new = physical_name(&m.column, &m.to);
            let fill = migration_fill(&current, &m.to, &old).ok_or_else(|| {
                EsError::illegal_argument(format!(
                    "elastichouse cannot convert column [{old}] from {current} to {}",
                    m.to
                ))
            })?;
            // Scalar → array also changes the physical name; array → array goes through a
            // temporary column that is renamed back.
            let target = if new != old {
                new.clone()
            } else {
                format!("{old}\u{1}migrating")
            };
            tracing::warn!(index = %meta.name, column = %old, from = %current, to = %m.to, "converting a column to hold arrays");
            let run = |ops: Vec<sql::AlterOp>| sql::AlterTable {
                db: self.db(),
                table: meta.table(),
                on_cluster: None,
                ops,
            };
            self.ch
                .execute_with(
                    &run(vec![
                        sql::AlterOp::AddColumn {
                            if_not_exists: true,
                            def: sql::ColumnDef::new(target.as_str(), m.to.clone()).default(fill),
                            after: None,
                        },
                        sql::AlterOp::MaterializeColumn(Ident::new(&target)),
                    ]),
                    &[("mutations_sync", "2")],
                )
                .await?;
            // The new column's DEFAULT refers to the old one: drop it before the old column.
            let mut steps = vec![
                sql::AlterOp::RemoveDefault(Ident::new(&target)),
                sql::AlterOp::DropColumn {
                    if_exists: true,
                    name: Ident::new(&old),
                },
            ];
            if target != new {
                steps.push(sql::AlterOp::RenameColumn {
                    from: Ident::new(&target),
                    to: Ident::new(&new),
                });
            }
            for op in steps {
                self.ch
                    .execute_with(&run(vec![op]), &[("mutations_sync", "2")])
                    .await?;
            }
            next.columns.remove(&old);
            next.columns.insert(new, m.to.clone());
        }
        self.invalidate();
        Ok(Arc::new(next))
    }

    /// Allocates `n` consecutive sequence numbers for the index; returns the first.
    pub async fn next_seq_nos(&self, meta: &IndexMeta, n: u64) -> EsResult<u64> {
        let existing = self.seq_nos.lock().get(&meta.name).cloned();
        let counter = match existing {
            Some(c) => c,
            None => {
                let q = sql::Select {
                    items: vec![
                        (sql::Expr::func("max", vec![sql::col(COL_SEQ_NO)]) + sql::lit(1u64))
                            .alias("next"),
                        sql::Expr::func("count", vec![]).alias("n"),
                    ],
                    from: Some(sql::FromClause::table(self.db(), meta.table())),
                    ..Default::default()
                };
                let rows = self.ch.query_rows(&q).await?;
                let start = match rows.first() {
                    Some(r) if r["n"].as_u64().unwrap_or(0) > 0 => r["next"].as_u64().unwrap_or(0),
                    _ => 0,
                };
                self.seq_nos
                    .lock()
                    .entry(meta.name.clone())
                    .or_insert_with(|| Arc::new(AtomicU64::new(start)))
                    .clone()
            }
        };
        Ok(counter.fetch_add(n, Ordering::SeqCst))
    }
}

/// The expression that fills a column of type `to` from the old column `c` of type `from`.
fn migration_fill(from: &ChType, to: &ChType, c: &str) -> Option<sql::Expr> {
    use sql::Expr;
    let wrap = |x: Expr| {
        Expr::func(
            "if",
            vec![
                x.clone().is_null(),
                Expr::Array(vec![]),
                Expr::Array(vec![Expr::func("assumeNotNull", vec![x])]),
            ],
        )
    };
    match (
        from.is_array(),
        to.is_array() && to.element() != from.element(),
    ) {
        // Nullable(T) → Array(T)
        (false, _) => Some(wrap(sql::col(c))),
        // Array(Nullable(T)) → Array(Array(T)): each element becomes a one-value array.
        (true, true) => Some(Expr::func(
            "arrayMap",
            vec![sql::lambda(["x"], wrap(sql::col("x"))), sql::col(c)],
        )),
        (true, false) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_names_follow_elasticsearch_rules() {
        // MetadataCreateIndexService#validateIndexOrAliasName / #validateIndexName.
        assert!(validate_index_name("logs-2024.01.01").is_ok());
        assert!(validate_index_name(".kibana_1").is_ok());
        for (bad, why) in [
            ("Logs", "must be lowercase"),
            ("_logs", "must not start with '_', '-', or '+'"),
            ("-logs", "must not start with '_', '-', or '+'"),
            ("a#b", "must not contain '#'"),
            ("a:b", "must not contain ':'"),
            ("a*b", "must not contain the following characters"),
            ("a b", "must not contain the following characters"),
            ("..", "must not be '.' or '..'"),
        ] {
            let e = validate_index_name(bad).unwrap_err();
            assert_eq!(e.kind, "invalid_index_name_exception");
            assert!(e.reason.contains(why), "{bad}: {}", e.reason);
            assert!(
                e.reason
                    .starts_with(&format!("Invalid index name [{bad}], "))
            );
        }
        let long = "a".repeat(256);
        assert!(
            validate_index_name(&long)
                .unwrap_err()
                .reason
                .contains("(256 > 255)")
        );
    }

    #[test]
    fn globs() {
        assert!(glob_match("logs-*", "logs-a"));
        assert!(glob_match("*", "x"));
        assert!(glob_match("l*s-*-b", "logs-x-b"));
        assert!(!glob_match("logs-*", "log"));
        assert!(glob_match("a", "a"));
        assert!(!glob_match("a", "ab"));
    }
}
