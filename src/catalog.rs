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
/// The tombstone flag of the first layout (format 1) only.
pub const COL_DELETED: &str = "_deleted";
/// The row state of the log-native layout (format 2): see [`RowState`].
pub const COL_STATE: &str = sql::STATE_COLUMN;

/// Table layouts, recorded as `format` in the table comment (docs/storage.md).
/// 1: `ReplacingMergeTree(_seq_no, _deleted) ORDER BY _id`, read with FINAL.
pub const FORMAT_REPLACING: u64 = 1;
/// 2: the log-native layout: `MergeTree` sorted by the time field, a row-state column, no FINAL.
pub const FORMAT_LOG: u64 = 2;

/// The state of a row in the log-native layout. Readers see only [`RowState::Live`] rows
/// ([`sql::Rows::Live`]); writes that replace a document insert the new version as pending and
/// then flip both versions in one lightweight `UPDATE` (docs/storage.md, "`_id` semantics").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RowState {
    Live = 0,
    /// Inserted, not yet visible: becomes `Live` when its write commits.
    Pending = 1,
    /// An older version of a document that a later write replaced or deleted.
    Superseded = 2,
    /// The record of a delete: never read, keeps the version and sequence number of the id.
    Tombstone = 3,
    /// A tombstone whose write has not committed yet.
    PendingTombstone = 4,
}

/// The reserved columns of a layout (never a field of the mapping).
pub fn reserved_columns(format: u64) -> [&'static str; 5] {
    let flag = if format >= FORMAT_LOG {
        COL_STATE
    } else {
        COL_DELETED
    };
    [COL_ID, COL_SOURCE, COL_VERSION, COL_SEQ_NO, flag]
}

/// Everything the catalog knows, as one consistent snapshot.
type Snapshot = Arc<View>;

/// Indices by name, and the aliases and data streams their metadata declares.
#[derive(Default)]
pub struct View {
    pub indices: HashMap<String, Arc<IndexMeta>>,
    /// Alias name → its indices, sorted by name.
    pub aliases: BTreeMap<String, Vec<Arc<IndexMeta>>>,
    /// Data stream name → its backing indices, oldest generation first.
    pub data_streams: BTreeMap<String, Vec<Arc<IndexMeta>>>,
    /// Data stream name → the indices of its failure store (`.fs-…`), oldest generation first
    /// (src/es_api/failure_store.rs).
    pub failure_stores: BTreeMap<String, Vec<Arc<IndexMeta>>>,
    /// Whether the metadata table exists (saves querying a table that is not there).
    pub has_metadata_table: bool,
}

impl View {
    fn new(indices: HashMap<String, Arc<IndexMeta>>) -> View {
        let mut aliases: BTreeMap<String, Vec<Arc<IndexMeta>>> = BTreeMap::new();
        let mut data_streams: BTreeMap<String, Vec<Arc<IndexMeta>>> = BTreeMap::new();
        let mut failure_stores: BTreeMap<String, Vec<Arc<IndexMeta>>> = BTreeMap::new();
        for m in indices.values() {
            for a in m.aliases.keys() {
                aliases.entry(a.clone()).or_default().push(m.clone());
            }
            if let Some(ds) = &m.data_stream {
                let by_stream = if m.is_failure_index() {
                    &mut failure_stores
                } else {
                    &mut data_streams
                };
                by_stream.entry(ds.clone()).or_default().push(m.clone());
            }
        }
        for v in aliases.values_mut() {
            v.sort_by(|a, b| a.name.cmp(&b.name));
        }
        for v in data_streams.values_mut().chain(failure_stores.values_mut()) {
            v.sort_by_key(|m| (backing_generation(&m.name), m.name.clone()));
        }
        View {
            indices,
            aliases,
            data_streams,
            failure_stores,
            has_metadata_table: false,
        }
    }

    /// The indices a name stands for: the index itself, an alias's indices or a data stream's
    /// backing indices.
    pub fn expand(&self, name: &str) -> Option<Vec<Arc<IndexMeta>>> {
        if let Some(m) = self.indices.get(name) {
            return Some(vec![m.clone()]);
        }
        self.aliases
            .get(name)
            .or_else(|| self.data_streams.get(name))
            .cloned()
    }

    /// Every name an expression can match: indices, aliases and data streams.
    pub fn names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .indices
            .keys()
            .chain(self.aliases.keys())
            .chain(self.data_streams.keys())
            .map(String::as_str)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// A hidden alias (`is_hidden: true`) is matched by wildcards only when they start with a dot
    /// (IndexNameExpressionResolver: hidden resources need expand_wildcards=hidden).
    pub fn is_hidden_alias(&self, name: &str) -> bool {
        !self.indices.contains_key(name)
            && self.aliases.get(name).is_some_and(|ms| {
                ms.iter()
                    .any(|m| m.aliases[name]["is_hidden"] == json!(true))
            })
    }

    /// The index writes to `alias` go to (IndexAbstraction.Alias#getWriteIndex): the one with
    /// `is_write_index: true`, else the only index unless it says `is_write_index: false`.
    pub fn alias_write_index(&self, alias: &str) -> EsResult<Arc<IndexMeta>> {
        let indices = self.aliases.get(alias).cloned().unwrap_or_default();
        let flag = |m: &IndexMeta| {
            m.aliases
                .get(alias)
                .and_then(|a| a["is_write_index"].as_bool())
        };
        if let Some(w) = indices.iter().find(|m| flag(m) == Some(true)) {
            return Ok(w.clone());
        }
        match indices.as_slice() {
            [one] if flag(one) != Some(false) => Ok(one.clone()),
            _ => Err(EsError::illegal_argument(format!(
                "no write index is defined for alias [{alias}]. The write index may be explicitly disabled using is_write_index=false or the alias points to multiple indices without one being designated as a write index"
            ))),
        }
    }
}

/// The generation of a backing index `.ds-<name>-<date>-<generation>` (0 if not one).
pub fn backing_generation(index: &str) -> u64 {
    index
        .rsplit('-')
        .next()
        .and_then(|g| g.parse().ok())
        .unwrap_or(0)
}

/// The data stream a backing-index name belongs to: `.ds-<stream>-<yyyy.MM.dd>-<generation>` (8.x)
/// or `.ds-<stream>-<generation>` (7.x). Stateless, from the name alone, so the router can send a
/// backing index where its data stream goes.
pub fn data_stream_of_backing(index: &str) -> Option<&str> {
    // Failure-store indices (`.fs-…`) are named like backing indices.
    let rest = index
        .strip_prefix(".ds-")
        .or_else(|| index.strip_prefix(".fs-"))?;
    let (head, generation) = rest.rsplit_once('-')?;
    if generation.len() != 6 || !generation.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let is_date = |d: &str| {
        d.len() == 10
            && d.bytes().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    b == b'.'
                } else {
                    b.is_ascii_digit()
                }
            })
    };
    let stream = match head.rsplit_once('-') {
        Some((stream, date)) if is_date(date) => stream,
        _ => head,
    };
    (!stream.is_empty()).then_some(stream)
}

/// Where a write to a name goes.
pub enum WriteTarget {
    /// An index (possibly a data stream's backing index addressed directly).
    Index(Arc<IndexMeta>),
    /// An alias, resolved to its write index.
    Alias(Arc<IndexMeta>),
    /// A data stream: its write index is the newest backing index.
    DataStream(Arc<IndexMeta>),
    /// Nothing of that name exists.
    Missing,
}

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

/// Without a watcher ([`Catalog::watch`]), the cache is reloaded when it is this old.
const CACHE_TTL: Duration = Duration::from_secs(5);
/// How often the watcher compares ClickHouse's table definitions with the cached ones (changes by
/// other daemons, or by hand, reach this one within about this long).
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// How long cached BM25 statistics of an index serve when this daemon did not write to it (writes
/// of other daemons show in scores after at most this long). Computing them scans the scored
/// columns of the whole index: 0.6 s for one term over 10M documents.
pub const STATS_TTL: Duration = Duration::from_secs(30);
/// The table of cluster-level metadata (index and component templates). Its name starts with `_`,
/// which no index name may, so it never collides with an index and is never listed as one.
pub const METADATA_TABLE: &str = "_elastichouse_metadata";
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
    /// The table layout ([`FORMAT_REPLACING`], [`FORMAT_LOG`]); 0 for tables we did not create.
    pub format: u64,
    /// The fields of the table's sorting key (log-native layout), in key order. Their columns
    /// keep one value per document: they cannot become arrays.
    pub sort_fields: Vec<String>,
    /// Whether a document without a value for the first sort field may have been stored. While
    /// not, a descending sort on that field can read the table backwards (see
    /// [`IndexMeta::reads_sort_field_backwards`]).
    pub sort_field_nulls: bool,
    pub mappings: Mappings,
    /// `settings.index` as Elasticsearch shows it, minus the generated parts.
    pub settings: Value,
    /// Leaf-field columns (reserved columns excluded), name → type.
    pub columns: BTreeMap<String, ChType>,
    /// Aliases of this index, name → the alias metadata as `GET /_alias` shows it
    /// (`is_write_index`, `is_hidden`). Kept in the table comment, like the mapping.
    pub aliases: BTreeMap<String, Value>,
    /// The data stream this index is a backing index of.
    pub data_stream: Option<String>,
    /// The `nested` object a query or aggregation is planned inside (`None`: the root document).
    /// Fields of a nested object are seen only inside its scope, unless indexed in the root too
    /// (see [`crate::plan::fields::resolve_mapped`]).
    pub nested_scope: Option<String>,
    /// The filter of the filtered aliases a search reached this index through (a query as JSON;
    /// several are ORed): set by [`Catalog::resolve`] on its copy of the metadata, ANDed to the
    /// search's query by `plan::search_filter`.
    pub alias_filter: Option<Value>,
}

impl IndexMeta {
    /// An index of a data stream's failure store: its settings carry `index.failure_store.version`
    /// (DataStreamFailureStoreDefinition), and it is not one of the stream's backing indices.
    pub fn is_failure_index(&self) -> bool {
        self.data_stream.is_some() && self.settings.pointer("/failure_store/version").is_some()
    }

    pub fn table(&self) -> Ident {
        Ident::new(&self.name)
    }

    /// Which rows a read of this index's table sees.
    pub fn rows(&self) -> sql::Rows {
        match (self.managed, self.format) {
            (false, _) => sql::Rows::All,
            (true, FORMAT_REPLACING) => sql::Rows::Final,
            (true, _) => sql::Rows::Live,
        }
    }

    /// Whether the table is in the log-native layout.
    pub fn log_native(&self) -> bool {
        self.managed && self.format >= FORMAT_LOG
    }

    /// True when a descending sort on `field` (missing values last, Elasticsearch's default) can be
    /// written `DESC NULLS FIRST`, the order in which ClickHouse reads the table backwards: `field`
    /// is the first sort field and no document without it was ever stored, so no NULL can come
    /// first.
    pub fn reads_sort_field_backwards(&self, field: &str) -> bool {
        self.log_native()
            && !self.sort_field_nulls
            && self.sort_fields.first().is_some_and(|f| f == field)
    }

    /// How this index keeps `_source` (src/schema/synthetic.rs). Tables elastichouse did not
    /// create have no `_source` column: their rows are rendered as JSON by the read side.
    pub fn source_mode(&self) -> crate::schema::synthetic::SourceMode {
        crate::schema::synthetic::SourceMode::of(&self.settings, &self.mappings)
    }

    /// Whether responses carry `_source` (not for `index.mapping.source.mode: disabled`).
    pub fn source_shown(&self) -> bool {
        !self.managed || self.source_mode() != crate::schema::synthetic::SourceMode::Disabled
    }

    /// The `_source` of a row of this (managed) index as SQL: the stored column, or the document
    /// rebuilt from its columns for synthetic (and disabled) source.
    pub fn source_expr(&self) -> sql::Expr {
        crate::schema::synthetic::source_expr(
            self.source_mode(),
            &self.mappings,
            &self.columns,
            COL_SOURCE,
        )
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
        let mut m = json!({
            "format": self.format,
            "uuid": self.uuid,
            "creation_date": self.creation_date,
            "settings": self.settings,
            "mappings": self.mappings.to_json(),
        });
        if !self.aliases.is_empty() {
            m["aliases"] = json!(self.aliases);
        }
        if let Some(ds) = &self.data_stream {
            m["data_stream"] = json!(ds);
        }
        if !self.sort_fields.is_empty() {
            m["sort_fields"] = json!(self.sort_fields);
        }
        if self.sort_field_nulls {
            m["sort_field_nulls"] = json!(true);
        }
        json!({ COMMENT_KEY: m }).to_string()
    }

    /// The `aliases` object of `GET /{index}` and `GET /_alias`.
    pub fn aliases_json(&self) -> Value {
        json!(self.aliases)
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
    /// Cache of the metadata table: (kind, name) → document.
    metadata: RwLock<Option<(Instant, MetadataDocs)>>,
    /// Last version written to the metadata table (versions only grow).
    metadata_version: AtomicU64,
    /// Set once [`Catalog::watch`] runs: the cache then stays valid until a change is seen.
    watched: std::sync::atomic::AtomicBool,
    /// The fingerprint of the definitions the cached snapshot was loaded from.
    fingerprint: AtomicU64,
    /// Per index: bumped by every write this daemon commits (invalidates cached statistics).
    writes: parking_lot::Mutex<HashMap<String, u64>>,
    /// BM25 statistics by (index, statistics query): when computed, the index's write generation
    /// then, and the values.
    stats: parking_lot::Mutex<HashMap<(String, String), CachedStats>>,
}

/// Statistics of one (index, statistics query): when computed, the index's write generation
/// then, and the values.
type CachedStats = (Instant, u64, Vec<f64>);

/// Documents of the metadata table, keyed by (kind, name).
pub type MetadataDocs = Arc<BTreeMap<(String, String), Value>>;

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

/// `invalid_alias_name_exception`, 400 (InvalidAliasNameException).
pub fn invalid_alias_name(alias: &str, why: &str) -> EsError {
    EsError::new(
        400,
        "invalid_alias_name_exception",
        format!("Invalid alias name [{alias}]: {why}"),
    )
    .with("index_uuid", "_na_")
    .with("index", alias)
}

/// Glob matching for index patterns (`*` only, as Elasticsearch's wildcard expressions).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    crate::glob::star(pattern, name)
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
            metadata: RwLock::new(None),
            metadata_version: AtomicU64::new(0),
            watched: Default::default(),
            fingerprint: AtomicU64::new(0),
            writes: Default::default(),
            stats: Default::default(),
        }
    }

    /// Records that this daemon changed the documents of `index`.
    pub fn note_write(&self, index: &str) {
        *self.writes.lock().entry(index.to_string()).or_default() += 1;
    }

    /// The write generation of `index` (see [`Catalog::note_write`]).
    pub fn write_generation(&self, index: &str) -> u64 {
        self.writes.lock().get(index).copied().unwrap_or(0)
    }

    /// Cached statistics of `index` for the statistics query `key`, if still current.
    pub fn cached_stats(&self, index: &str, key: &str) -> Option<Vec<f64>> {
        let generation = self.write_generation(index);
        let stats = self.stats.lock();
        let (at, g, v) = stats.get(&(index.to_string(), key.to_string()))?;
        (*g == generation && at.elapsed() < STATS_TTL).then(|| v.clone())
    }

    pub fn store_stats(&self, index: &str, key: String, generation: u64, values: Vec<f64>) {
        let mut stats = self.stats.lock();
        if stats.len() > 4096 {
            stats.clear();
        }
        stats.insert(
            (index.to_string(), key),
            (Instant::now(), generation, values),
        );
    }

    /// A cheap digest of every table definition in the database (name, columns, comment, engine:
    /// `create_table_query`), so a change made elsewhere shows without reading `system.columns`.
    async fn definitions_fingerprint(&self) -> EsResult<u64> {
        let q = sql::Select {
            items: vec![
                sql::Expr::func(
                    "sum",
                    vec![sql::Expr::func(
                        "cityHash64",
                        vec![sql::col("name"), sql::col("create_table_query")],
                    )],
                )
                .alias("h"),
            ],
            from: Some(sql::FromClause::table(
                Ident::new("system"),
                Ident::new("tables"),
            )),
            where_: Some(sql::col("database").eq(sql::lit(self.ch.database.as_str()))),
            ..Default::default()
        };
        let rows = self.ch.query_rows(&q).await?;
        Ok(rows
            .first()
            .and_then(|r| match &r["h"] {
                Value::String(s) => s.parse().ok(),
                v => v.as_u64(),
            })
            .unwrap_or(0))
    }

    /// Keeps the cache current off the request path: every [`CHECK_INTERVAL`] the definitions'
    /// fingerprint is compared with the cached one, and the snapshot is reloaded when they differ.
    /// Requests then never wait for a reload except after this daemon's own changes (which
    /// invalidate the cache) or for a name the cache does not know.
    pub fn watch(self: &Arc<Self>) {
        self.watched.store(true, Ordering::SeqCst);
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(CHECK_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(c) = me.upgrade() else { return };
                match c.definitions_fingerprint().await {
                    Ok(fp) if fp != c.fingerprint.load(Ordering::SeqCst) => {
                        tracing::debug!(
                            fingerprint = fp,
                            "table definitions changed: reloading the catalog"
                        );
                        if let Err(e) = c.snapshot(true).await {
                            tracing::warn!(error = %e, "catalog reload failed");
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::debug!(error = %e, "catalog check failed"),
                }
            }
        });
    }

    pub fn db(&self) -> Ident {
        Ident::new(&self.ch.database)
    }

    pub fn invalidate(&self) {
        let mut cache = self.cache.write();
        self.generation.fetch_add(1, Ordering::SeqCst);
        *cache = None;
        *self.metadata.write() = None;
    }

    /// Every live document of the metadata table (index templates, component templates), cached
    /// like the rest of the catalog. A missing table is an empty one.
    pub async fn metadata_docs(&self) -> EsResult<MetadataDocs> {
        if let Some((at, docs)) = self.metadata.read().as_ref()
            && at.elapsed() < CACHE_TTL
        {
            return Ok(docs.clone());
        }
        let generation = self.generation.load(Ordering::SeqCst);
        if !self.snapshot(false).await?.has_metadata_table {
            return Ok(Arc::default());
        }
        let q = sql::Select {
            items: vec![
                sql::col("kind").into(),
                sql::col("name").into(),
                sql::col("body").into(),
                sql::col("deleted").into(),
            ],
            from: Some(sql::FromClause::table(
                self.db(),
                Ident::new(METADATA_TABLE),
            )),
            rows: sql::Rows::Final,
            ..Default::default()
        };
        let rows = match self.ch.query_rows(&q).await {
            Ok(r) => r,
            Err(ChError {
                code: Some(ChError::UNKNOWN_TABLE),
                ..
            }) => vec![],
            Err(e) => return Err(e.into()),
        };
        let mut docs = BTreeMap::new();
        for r in rows {
            if r["deleted"].as_u64().unwrap_or(0) == 1 {
                continue;
            }
            let body = r["body"]
                .as_str()
                .and_then(|b| serde_json::from_str(b).ok())
                .unwrap_or(Value::Null);
            docs.insert(
                (
                    r["kind"].as_str().unwrap_or_default().to_string(),
                    r["name"].as_str().unwrap_or_default().to_string(),
                ),
                body,
            );
        }
        let docs = Arc::new(docs);
        if self.generation.load(Ordering::SeqCst) == generation {
            *self.metadata.write() = Some((Instant::now(), docs.clone()));
        }
        Ok(docs)
    }

    /// Stores (or, with `None`, deletes) one metadata document. The table is a ReplacingMergeTree
    /// keyed by (kind, name) and read with FINAL: the newest version wins.
    pub async fn put_metadata_doc(
        &self,
        kind: &str,
        name: &str,
        body: Option<&Value>,
    ) -> EsResult<()> {
        let create = sql::CreateTable {
            if_not_exists: true,
            db: self.db(),
            name: Ident::new(METADATA_TABLE),
            columns: vec![
                sql::ColumnDef::new("kind", ChType::String),
                sql::ColumnDef::new("name", ChType::String),
                sql::ColumnDef::new("body", ChType::String),
                sql::ColumnDef::new("version", ChType::UInt64),
                sql::ColumnDef::new("deleted", ChType::UInt8),
            ],
            indexes: vec![],
            engine: sql::Engine::ReplacingMergeTree {
                version: Some(Ident::new("version")),
                is_deleted: None,
            },
            order_by: vec![sql::col("kind"), sql::col("name")],
            partition_by: None,
            settings: vec![],
            comment: Some("elastichouse cluster metadata: index and component templates".into()),
            on_cluster: None,
        };
        self.ch.execute(&create).await?;
        let now = chrono::Utc::now().timestamp_micros().max(0) as u64;
        let version = self
            .metadata_version
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| Some(v.max(now) + 1))
            .map(|v| v.max(now) + 1)
            .unwrap_or(now);
        let row = json!({
            "kind": kind,
            "name": name,
            "body": body.map(Value::to_string).unwrap_or_default(),
            "version": version,
            "deleted": u8::from(body.is_none()),
        });
        let insert = sql::Insert {
            db: self.db(),
            table: Ident::new(METADATA_TABLE),
            columns: vec![],
            format: "JSONEachRow",
        };
        let mut line = row.to_string().into_bytes();
        line.push(b'\n');
        self.ch.insert(&insert, line.into(), 1).await?;
        self.invalidate();
        tracing::info!(kind, name, deleted = body.is_none(), "metadata stored");
        Ok(())
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
        let mut has_metadata_table = false;
        for t in tables {
            let name = t
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if name == METADATA_TABLE {
                has_metadata_table = true;
                continue;
            }
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
                    let format = m["format"].as_u64().unwrap_or(FORMAT_REPLACING);
                    let reserved = reserved_columns(format);
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
                        format,
                        sort_fields: m["sort_fields"]
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .filter_map(|f| f.as_str().map(str::to_string))
                                    .collect()
                            })
                            .unwrap_or_default(),
                        sort_field_nulls: m["sort_field_nulls"] == json!(true),
                        mappings,
                        settings: m.get("settings").cloned().unwrap_or(json!({})),
                        columns: all_cols
                            .into_iter()
                            .filter(|(n, _)| !reserved.contains(&n.as_str()))
                            .collect(),
                        name: name.clone(),
                        database: self.ch.database.clone(),
                        aliases: m
                            .get("aliases")
                            .and_then(Value::as_object)
                            .map(|a| a.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                            .unwrap_or_default(),
                        data_stream: m["data_stream"].as_str().map(str::to_string),
                        nested_scope: None,
                        alias_filter: None,
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
                        format: 0,
                        sort_fields: Vec::new(),
                        sort_field_nulls: false,
                        mappings,
                        settings: json!({}),
                        columns: all_cols.into_iter().collect(),
                        name: name.clone(),
                        database: self.ch.database.clone(),
                        aliases: BTreeMap::new(),
                        data_stream: None,
                        nested_scope: None,
                        alias_filter: None,
                    }
                }
            };
            out.insert(name, Arc::new(meta));
        }
        let mut view = View::new(out);
        view.has_metadata_table = has_metadata_table;
        Ok(Arc::new(view))
    }

    async fn snapshot(&self, force: bool) -> EsResult<Snapshot> {
        let watched = self.watched.load(Ordering::SeqCst);
        if !force
            && let Some((at, map)) = self.cache.read().as_ref()
            && (watched || at.elapsed() < CACHE_TTL)
        {
            return Ok(map.clone());
        }
        let generation = self.generation.load(Ordering::SeqCst);
        // The fingerprint first: a change after it makes the next check reload again.
        let fp = if watched {
            self.definitions_fingerprint().await.ok()
        } else {
            None
        };
        let map = self.load().await?;
        let mut cache = self.cache.write();
        if self.generation.load(Ordering::SeqCst) == generation {
            *cache = Some((Instant::now(), map.clone()));
            if let Some(fp) = fp {
                self.fingerprint.store(fp, Ordering::SeqCst);
            }
        }
        Ok(map)
    }

    /// Every index, sorted by name.
    pub async fn list(&self) -> EsResult<Vec<Arc<IndexMeta>>> {
        let mut v: Vec<_> = self
            .snapshot(false)
            .await?
            .indices
            .values()
            .cloned()
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(v)
    }

    /// Indices, aliases and data streams as one snapshot (cached like the rest of the catalog).
    pub async fn view(&self) -> EsResult<Snapshot> {
        self.snapshot(false).await
    }

    /// The snapshot, reloaded once if it does not know `name`.
    async fn view_knowing(&self, name: &str) -> EsResult<Snapshot> {
        let v = self.snapshot(false).await?;
        if v.expand(name).is_some() {
            return Ok(v);
        }
        self.snapshot(true).await
    }

    /// One index by exact name (reloading the cache once on a miss).
    pub async fn get(&self, name: &str) -> EsResult<Option<Arc<IndexMeta>>> {
        if let Some(m) = self.snapshot(false).await?.indices.get(name) {
            return Ok(Some(m.clone()));
        }
        Ok(self.snapshot(true).await?.indices.get(name).cloned())
    }

    pub async fn require(&self, name: &str) -> EsResult<Arc<IndexMeta>> {
        self.get(name)
            .await?
            .ok_or_else(|| EsError::index_not_found(name))
    }

    /// The one index a single-document read names: an index, or an alias (or data stream) with
    /// exactly one index (IndexNameExpressionResolver#concreteSingleIndex).
    pub async fn require_single(&self, name: &str) -> EsResult<Arc<IndexMeta>> {
        let v = self.view_knowing(name).await?;
        match v.expand(name) {
            None => Err(EsError::index_not_found(name)),
            Some(mut one) if one.len() == 1 => Ok(one.remove(0)),
            Some(many) => {
                let names: Vec<&str> = many.iter().map(|m| m.name.as_str()).collect();
                Err(EsError::illegal_argument(format!(
                    "alias [{name}] has more than one index associated with it [{}], can't execute a single index op",
                    names.join(", ")
                )))
            }
        }
    }

    /// True if `name` is an alias (not an index).
    pub async fn is_alias(&self, name: &str) -> EsResult<bool> {
        let v = self.view_knowing(name).await?;
        Ok(!v.indices.contains_key(name) && v.aliases.contains_key(name))
    }

    /// True if elastichouse serves `name` itself: an index (table), an alias or a data stream of
    /// this ClickHouse. Backing indices of our data streams (`.ds-…`) are tables like any index.
    pub async fn owns(&self, name: &str) -> EsResult<bool> {
        Ok(self.view_knowing(name).await?.expand(name).is_some())
    }

    /// Where a write to `name` goes: the index, an alias's write index, a data stream's newest
    /// backing index, or nothing yet.
    pub async fn write_target(&self, name: &str) -> EsResult<WriteTarget> {
        let v = self.view_knowing(name).await?;
        if let Some(m) = v.indices.get(name) {
            return Ok(WriteTarget::Index(m.clone()));
        }
        if v.aliases.contains_key(name) {
            return Ok(WriteTarget::Alias(v.alias_write_index(name)?));
        }
        if let Some(b) = v.data_streams.get(name).and_then(|b| b.last()) {
            return Ok(WriteTarget::DataStream(b.clone()));
        }
        Ok(WriteTarget::Missing)
    }

    /// Resolves an index expression (`a,b`, `logs-*`, `_all`, `*`, `-excluded`) as Elasticsearch's
    /// IndexNameExpressionResolver does for open indices: names (and wildcards) match indices,
    /// aliases and data streams, exclusions remove names, then aliases become their indices and data
    /// streams their backing indices. Dot-prefixed names match only patterns that start with a dot.
    pub async fn resolve(&self, expr: &str, opts: ResolveOptions) -> EsResult<Vec<Arc<IndexMeta>>> {
        let mut view = self.snapshot(false).await?;
        let parts: Vec<&str> = if expr.is_empty() || expr == "_all" {
            vec!["*"]
        } else {
            expr.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        };
        let mut names: Vec<String> = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            if let Some(excl) = part.strip_prefix('-')
                && i > 0
            {
                names.retain(|n| !glob_match(excl, n));
                continue;
            }
            let part = if *part == "_all" { "*" } else { part };
            // Component selectors (IndexNameExpressionResolver#splitSelectorExpression): `::data`
            // is the name itself, `::failures` a data stream's failure store.
            let (part, failures) = match part.rsplit_once("::") {
                None => (part, false),
                Some((p, "data")) => (p, false),
                Some((p, "failures")) => (p, true),
                Some((_, other)) => {
                    return Err(EsError::invalid_index_name(
                        part,
                        &format!(
                            "invalid usage of :: separator, [{other}] is not a recognized selector"
                        ),
                    ));
                }
            };
            if failures {
                crate::security::check_index(part)?;
                if !part.contains('*') && !view.data_streams.contains_key(part) {
                    view = self.view_knowing(part).await?;
                }
                let mut found = false;
                for n in view.data_streams.keys() {
                    if (n == part || (part.contains('*') && glob_match(part, n)))
                        && crate::security::visible(n)
                    {
                        found = true;
                        let key = format!("{n}::failures");
                        if !names.contains(&key) {
                            names.push(key);
                        }
                    }
                }
                if !found && !part.contains('*') && !opts.ignore_unavailable {
                    return Err(EsError::index_not_found(&format!("{part}::failures")));
                }
                continue;
            }
            if part.contains('*') {
                let dot_ok = part.starts_with('.');
                for n in view.names() {
                    if glob_match(part, n)
                        && (dot_ok || (!n.starts_with('.') && !view.is_hidden_alias(n)))
                        && !names.iter().any(|o| o == n)
                        // A wildcard reaches only what the request's principal may use.
                        && crate::security::visible(n)
                    {
                        names.push(n.to_string());
                    }
                }
            } else {
                crate::security::check_index(part)?;
                if view.expand(part).is_none() {
                    view = self.view_knowing(part).await?;
                }
                match view.expand(part) {
                    Some(_) => {
                        if !names.iter().any(|o| o == part) {
                            names.push(part.to_string());
                        }
                    }
                    None if opts.ignore_unavailable => {}
                    None => return Err(EsError::index_not_found(part)),
                }
            }
        }
        // Per index, the filters of the aliases it was reached through; `None` once it is reached
        // unfiltered — by its own name, a data stream or an alias without a filter
        // (IndexNameExpressionResolver#filteringAliases, IndicesService#buildAliasFilter: the
        // filters of several aliases are ORed).
        let mut out: Vec<Arc<IndexMeta>> = Vec::new();
        let mut filters: Vec<Option<Vec<Value>>> = Vec::new();
        for n in &names {
            let members = match n.strip_suffix("::failures") {
                Some(ds) => view.failure_stores.get(ds).cloned(),
                None => view.expand(n),
            };
            for m in members.unwrap_or_default() {
                let via = if *n == m.name {
                    None
                } else {
                    m.aliases.get(n).and_then(|a| a.get("filter")).cloned()
                };
                match out.iter().position(|o| o.name == m.name) {
                    Some(i) => match (&mut filters[i], via) {
                        (Some(fs), Some(f)) => fs.push(f),
                        (slot, _) => *slot = None,
                    },
                    None => {
                        out.push(m);
                        filters.push(via.map(|f| vec![f]));
                    }
                }
            }
        }
        if out.is_empty() && !opts.allow_no_indices {
            return Err(EsError::index_not_found(expr));
        }
        Ok(out
            .into_iter()
            .zip(filters)
            .map(|(m, f)| match f {
                None => m,
                Some(mut fs) => {
                    let mut filtered = (*m).clone();
                    filtered.alias_filter = Some(if fs.len() == 1 {
                        fs.remove(0)
                    } else {
                        json!({"bool": {"should": fs}})
                    });
                    Arc::new(filtered)
                }
            })
            .collect())
    }

    /// Rewrites the aliases of `index` (under its write lock, from a fresh read, so a concurrent
    /// mapping change cannot write back an old alias set).
    pub async fn set_aliases(&self, index: &str, aliases: BTreeMap<String, Value>) -> EsResult<()> {
        let lock = self.write_lock(index);
        let _g = lock.lock().await;
        self.invalidate();
        let mut next = (*self.require(index).await?).clone();
        if !next.managed {
            return Err(EsError::illegal_argument(format!(
                "index [{index}] is an existing ClickHouse table that elastichouse did not create; elastichouse does not change its metadata"
            )));
        }
        next.aliases = aliases;
        let alter = sql::AlterTable {
            db: self.db(),
            table: next.table(),
            on_cluster: None,
            ops: vec![sql::AlterOp::ModifyComment(next.comment())],
        };
        self.ch.execute(&alter).await?;
        self.invalidate();
        tracing::info!(index, aliases = ?next.aliases.keys().collect::<Vec<_>>(), "aliases updated");
        Ok(())
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
        self.create_with(name, mappings, settings, BTreeMap::new(), None)
            .await
    }

    /// Creates an index with aliases, or a data stream's backing index.
    pub async fn create_with(
        &self,
        name: &str,
        mappings: Mappings,
        settings: Value,
        aliases: BTreeMap<String, Value>,
        data_stream: Option<String>,
    ) -> EsResult<Arc<IndexMeta>> {
        validate_index_name(name)?;
        if let Some(existing) = self.get(name).await? {
            return Err(EsError::index_already_exists(name, &existing.uuid));
        }
        let view = self.view().await?;
        // MetadataCreateIndexService#validateIndexName.
        if view.aliases.contains_key(name) {
            return Err(EsError::invalid_index_name(name, "already exists as alias"));
        }
        if view.data_streams.contains_key(name) {
            return Err(EsError::invalid_index_name(
                name,
                "already exists as data stream",
            ));
        }
        for (a, props) in &aliases {
            if view.indices.contains_key(a) || view.data_streams.contains_key(a) || a == name {
                return Err(invalid_alias_name(
                    a,
                    "an index or data stream exists with the same name as the alias",
                ));
            }
            if props["is_write_index"] == json!(true)
                && let Ok(w) = view.alias_write_index(a)
                && w.aliases[a]["is_write_index"] == json!(true)
            {
                let mut both = [w.name.as_str(), name];
                both.sort_unstable();
                return Err(EsError::new(
                    500,
                    "illegal_state_exception",
                    format!(
                        "alias [{a}] has more than one write index [{}]",
                        both.join(",")
                    ),
                ));
            }
        }
        let columns = columns_of(&mappings);
        let sort_fields = choose_sort_fields(&settings, &columns)?;
        let meta = IndexMeta {
            name: name.to_string(),
            database: self.ch.database.clone(),
            uuid: crate::ids::generate_id()[..20].to_string() + "AA",
            creation_date: chrono::Utc::now().timestamp_millis(),
            managed: true,
            format: FORMAT_LOG,
            sort_fields,
            sort_field_nulls: false,
            mappings,
            settings,
            columns,
            aliases,
            data_stream,
            nested_scope: None,
            alias_filter: None,
        };
        let create = log_table_ddl(&self.db(), &meta);
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
        self.note_write(name);
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
        if next.log_native() {
            // New token columns get their text index (old parts have no values in them).
            let added: Vec<String> = ops
                .iter()
                .filter_map(|op| match op {
                    sql::AlterOp::AddColumn { def, .. } => Some(def.name.as_str().to_string()),
                    _ => None,
                })
                .filter(|c| crate::analysis::value_column_of_tokens(c).is_some())
                .collect();
            for c in added {
                ops.push(sql::AlterOp::AddIndex {
                    if_not_exists: true,
                    def: token_index(&c),
                });
            }
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
            if meta.log_native() && meta.sort_fields.contains(&m.column) {
                // A sorting-key column cannot change type in ClickHouse.
                return Err(EsError::illegal_argument(format!(
                    "field [{}] is a sort field of index [{}] and holds one value per document; elastichouse cannot store several values in it",
                    m.column, meta.name
                )));
            }
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

    /// Records in the table comment that a document without a value for the first sort field is
    /// about to be stored (so descending sorts stop reading the table backwards). Callers hold the
    /// index's write lock.
    pub async fn mark_sort_field_nulls(&self, meta: &IndexMeta) -> EsResult<Arc<IndexMeta>> {
        let mut next = meta.clone();
        next.sort_field_nulls = true;
        let alter = sql::AlterTable {
            db: self.db(),
            table: meta.table(),
            on_cluster: None,
            ops: vec![sql::AlterOp::ModifyComment(next.comment())],
        };
        self.ch.execute(&alter).await?;
        self.invalidate();
        tracing::info!(index = %meta.name, field = ?meta.sort_fields.first(), "documents without the sort field");
        Ok(Arc::new(next))
    }

    /// Moves the index's sequence-number counter past `seen`, a number already stored.
    pub async fn observe_seq_no(&self, meta: &IndexMeta, seen: u64) -> EsResult<()> {
        self.next_seq_nos(meta, 0).await?;
        if let Some(c) = self.seq_nos.lock().get(&meta.name) {
            c.fetch_max(seen + 1, Ordering::SeqCst);
        }
        Ok(())
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

/// The physical columns a new table of `mappings` has: one per mapped leaf field, plus the token
/// column of every text field.
pub fn columns_of(mappings: &Mappings) -> BTreeMap<String, ChType> {
    let logical = mappings.columns();
    let tokens =
        crate::analysis::token_columns_for(mappings, logical.iter().map(|(c, _)| c.clone()));
    logical
        .into_iter()
        .chain(tokens)
        .map(|(col, ty)| (physical_name(&col, &ty), ty))
        .collect()
}

impl IndexMeta {
    /// The metadata a new log-native index of `mappings` would have, without creating its table:
    /// for planning and rendering SQL offline (unit tests, benchmarks, fuzzing).
    pub fn planned(name: &str, database: &str, mappings: Mappings) -> IndexMeta {
        IndexMeta {
            name: name.into(),
            database: database.into(),
            uuid: "planned".into(),
            creation_date: 0,
            managed: true,
            format: FORMAT_LOG,
            sort_fields: Vec::new(),
            sort_field_nulls: false,
            columns: columns_of(&mappings),
            mappings,
            settings: json!({}),
            aliases: BTreeMap::new(),
            data_stream: None,
            nested_scope: None,
            alias_filter: None,
        }
    }
}

/// The sorting key of a new log-native table: `index.sort.field` when given
/// (IndexSortConfig: every field must be mapped, with one value per document), else the
/// `@timestamp` date field when there is one, else none (the table is then sorted by `_id`).
fn choose_sort_fields(
    settings: &Value,
    columns: &BTreeMap<String, ChType>,
) -> EsResult<Vec<String>> {
    let given: Vec<String> = match &settings["sort"]["field"] {
        Value::Null => Vec::new(),
        Value::String(f) => vec![f.clone()],
        Value::Array(a) => a
            .iter()
            .map(|f| {
                f.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| f.to_string())
            })
            .collect(),
        other => vec![other.to_string()],
    };
    if !given.is_empty() {
        for f in &given {
            match columns.get(f) {
                Some(t) if !t.is_array() => {}
                _ => {
                    return Err(EsError::illegal_argument(format!(
                        "unknown index sort field:[{f}]"
                    )));
                }
            }
        }
        return Ok(given);
    }
    let mut out = Vec::new();
    // logsdb's default index sort is `host.name` then `@timestamp` (LogsdbIndexModeSettingsProvider),
    // when the mapping has a single-valued host.name.
    if settings["mode"] == "logsdb"
        && columns
            .get("host.name")
            .is_some_and(|t| !t.is_array() && matches!(t.base(), ChType::String))
    {
        out.push("host.name".to_string());
    }
    match columns.get("@timestamp") {
        Some(t) if matches!(t.base(), ChType::DateTime64(..) | ChType::DateTime(_)) => {
            out.push("@timestamp".to_string());
        }
        _ => out.clear(),
    }
    Ok(out)
}

/// The skipping index of a text field's token column: ClickHouse's inverted text index over the
/// standard-analyzer tokens, which `has`/`hasAny`/`hasAll` on the column use.
pub fn token_index(column: &str) -> sql::IndexDef {
    sql::IndexDef {
        name: Ident::new(format!("..text:{column}")),
        expr: sql::col(column),
        index_type: sql::IndexType::Text(vec![("tokenizer", sql::lit("array"))]),
        granularity: 1,
    }
}

/// `CREATE TABLE` of a log-native index (docs/storage.md, "Table layout"): a MergeTree sorted by
/// the index's sort fields (else by `_id`), the row-state column, a bloom filter on `_id` for the
/// write path's lookups, and a text index on every token column.
pub fn log_table_ddl(db: &Ident, meta: &IndexMeta) -> sql::CreateTable {
    let time_sorted = meta
        .sort_fields
        .first()
        .and_then(|f| meta.columns.get(f))
        .is_some_and(|t| matches!(t.base(), ChType::DateTime64(..) | ChType::DateTime(_)));
    let mut defs = vec![
        sql::ColumnDef::new(COL_ID, ChType::String),
        sql::ColumnDef::new(COL_SOURCE, ChType::String).codec("ZSTD(3)"),
        sql::ColumnDef::new(COL_VERSION, ChType::UInt64),
        // Sequence numbers grow with arrival, which follows time in logs: deltas are small.
        sql::ColumnDef::new(COL_SEQ_NO, ChType::UInt64).codec("Delta, ZSTD(1)"),
        sql::ColumnDef::new(COL_STATE, ChType::UInt8),
    ];
    let mut indexes = Vec::new();
    for (c, t) in &meta.columns {
        let mut def = sql::ColumnDef::new(c, t.clone());
        if time_sorted && meta.sort_fields.first() == Some(c) {
            // Sorted timestamps: deltas are small and repeat.
            def = def.codec("Delta, ZSTD(1)");
        }
        defs.push(def);
        if crate::analysis::value_column_of_tokens(c).is_some() {
            indexes.push(token_index(c));
        }
    }
    let order_by: Vec<sql::Expr> = if meta.sort_fields.is_empty() {
        vec![sql::col(COL_ID)]
    } else {
        meta.sort_fields.iter().map(sql::col).collect()
    };
    if !meta.sort_fields.is_empty() {
        indexes.insert(
            0,
            sql::IndexDef {
                name: Ident::new("..id"),
                expr: sql::col(COL_ID),
                index_type: sql::IndexType::BloomFilter(Some(0.001)),
                granularity: 1,
            },
        );
    }
    let nullable_key = meta
        .sort_fields
        .iter()
        .any(|f| matches!(meta.columns.get(f), Some(ChType::Nullable(_))));
    let mut settings = vec![
        // Lightweight UPDATE (the commit of a replacing write) needs both.
        sql::Setting::new("enable_block_number_column", 1),
        sql::Setting::new("enable_block_offset_column", 1),
    ];
    if nullable_key {
        settings.push(sql::Setting::new("allow_nullable_key", 1));
    }
    sql::CreateTable {
        if_not_exists: false,
        db: db.clone(),
        name: meta.table(),
        columns: defs,
        indexes,
        engine: sql::Engine::MergeTree,
        order_by,
        // Data streams are time series by definition: one partition per month of @timestamp.
        partition_by: (meta.data_stream.is_some() && time_sorted)
            .then(|| sql::Expr::func("toYYYYMM", vec![sql::col(&meta.sort_fields[0])])),
        settings,
        comment: Some(meta.comment()),
        on_cluster: None,
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
    fn data_stream_of_a_backing_index_name() {
        assert_eq!(
            data_stream_of_backing(".ds-logs-nginx-default-2024.05.01-000001"),
            Some("logs-nginx-default")
        );
        assert_eq!(data_stream_of_backing(".ds-my-ds-000003"), Some("my-ds"));
        assert_eq!(data_stream_of_backing(".kibana_1"), None);
        assert_eq!(data_stream_of_backing(".ds-x-2024.05.01-1"), None);
    }

    #[test]
    fn backing_index_generations() {
        // DataStream#getDefaultBackingIndexName: .ds-<name>-<yyyy.MM.dd>-<generation, 6 digits>.
        assert_eq!(backing_generation(".ds-logs-web-2024.05.01-000001"), 1);
        assert_eq!(backing_generation(".ds-logs-web-2024.05.02-000012"), 12);
        assert_eq!(backing_generation("logs"), 0);
    }

    fn log_meta(columns: &[(&str, ChType)], sort: &[&str], data_stream: Option<&str>) -> IndexMeta {
        IndexMeta {
            name: "logs".into(),
            database: "db".into(),
            uuid: "u".into(),
            creation_date: 0,
            managed: true,
            format: FORMAT_LOG,
            sort_fields: sort.iter().map(|s| s.to_string()).collect(),
            sort_field_nulls: false,
            mappings: Mappings::default(),
            settings: json!({}),
            columns: columns
                .iter()
                .map(|(c, t)| (c.to_string(), t.clone()))
                .collect(),
            aliases: BTreeMap::new(),
            data_stream: data_stream.map(str::to_string),
            nested_scope: None,
            alias_filter: None,
        }
    }

    #[test]
    fn log_native_ddl() {
        // docs/storage.md, "Table layout": time-sorted MergeTree, row state, _id bloom filter,
        // text index per token column, monthly partitions for data streams.
        let ts = ChType::nullable(ChType::DateTime64(3, Some("UTC".into())));
        let tokens = crate::analysis::token_column("msg");
        let meta = log_meta(
            &[
                ("@timestamp", ts.clone()),
                ("msg", ChType::nullable(ChType::String)),
                (tokens.as_str(), crate::analysis::token_column_type()),
            ],
            &["@timestamp"],
            Some("logs-app-default"),
        );
        let sql = log_table_ddl(&Ident::new("db"), &meta).to_string();
        let comment = sql.find(" COMMENT ").unwrap();
        assert_eq!(
            &sql[..comment],
            "CREATE TABLE `db`.`logs` (`_id` String, `_source` String CODEC(ZSTD(3)), \
             `_version` UInt64, `_seq_no` UInt64 CODEC(Delta, ZSTD(1)), `..state` UInt8, \
             `.msg\\x01tokens` Array(LowCardinality(String)), \
             `@timestamp` Nullable(DateTime64(3, 'UTC')) CODEC(Delta, ZSTD(1)), `msg` Nullable(String), \
             INDEX `..id` `_id` TYPE bloom_filter(0.001) GRANULARITY 1, \
             INDEX `..text:.msg\\x01tokens` `.msg\\x01tokens` TYPE text(tokenizer = 'array') GRANULARITY 1) \
             ENGINE = MergeTree PARTITION BY toYYYYMM(`@timestamp`) ORDER BY `@timestamp` \
             SETTINGS enable_block_number_column = 1, enable_block_offset_column = 1, allow_nullable_key = 1"
        );
        assert!(sql[comment..].contains("\"format\":2"), "{sql}");
        // Without a time field: sorted by _id, no partitions, no bloom filter (the key finds ids).
        let plain = log_meta(&[("k", ChType::nullable(ChType::String))], &[], None);
        let sql = log_table_ddl(&Ident::new("db"), &plain).to_string();
        assert!(
            sql.contains("ENGINE = MergeTree ORDER BY `_id` SETTINGS"),
            "{sql}"
        );
        assert!(
            !sql.contains("bloom_filter") && !sql.contains("PARTITION"),
            "{sql}"
        );
    }

    #[test]
    fn sort_fields_follow_index_sort_settings() {
        let cols: BTreeMap<String, ChType> = [
            ("@timestamp".to_string(), ChType::DateTime64(3, None)),
            ("host".to_string(), ChType::nullable(ChType::String)),
            (".tags".to_string(), ChType::array(ChType::String)),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            choose_sort_fields(&json!({}), &cols).unwrap(),
            ["@timestamp"]
        );
        assert_eq!(
            choose_sort_fields(&json!({"sort": {"field": ["host", "@timestamp"]}}), &cols).unwrap(),
            ["host", "@timestamp"]
        );
        let e = choose_sort_fields(&json!({"sort": {"field": "nope"}}), &cols).unwrap_err();
        assert_eq!(e.reason, "unknown index sort field:[nope]");
        assert!(
            choose_sort_fields(&json!({}), &BTreeMap::new())
                .unwrap()
                .is_empty()
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
