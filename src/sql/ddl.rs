//! DDL and write statements, and [`Statement`], the union of everything this module renders.

use std::fmt;

use super::expr::{Expr, Literal};
use super::query::{Query, Select, Setting, write_settings};
use super::{ChType, Ident, write_list};

/// Writes `expr`, in parentheses unless it is a single column or function call, for places where
/// the grammar continues with keywords (`INDEX name expr TYPE`, `PARTITION BY expr`).
fn write_keyed_expr(f: &mut fmt::Formatter<'_>, e: &Expr) -> fmt::Result {
    match e {
        Expr::Column(_) | Expr::Qualified(..) | Expr::Func { over: None, .. } => write!(f, "{e}"),
        e => write!(f, "({e})"),
    }
}

/// Writes a sorting/primary key: `tuple()`, `expr` or `(a, b)`.
fn write_key(f: &mut fmt::Formatter<'_>, exprs: &[Expr]) -> fmt::Result {
    match exprs {
        [] => f.write_str("tuple()"),
        [one] => write_keyed_expr(f, one),
        many => {
            f.write_str("(")?;
            write_list(f, many)?;
            f.write_str(")")
        }
    }
}

fn write_on_cluster(f: &mut fmt::Formatter<'_>, cluster: &Option<Ident>) -> fmt::Result {
    if let Some(c) = cluster {
        write!(f, " ON CLUSTER {c}")?;
    }
    Ok(())
}

fn write_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    super::write_quoted(f, s, '\'')
}

/// How a column's value is computed when not inserted.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnDefault {
    /// `DEFAULT expr`: used when the insert omits the column.
    Default(Expr),
    /// `MATERIALIZED expr`: always computed, cannot be inserted, not in `SELECT *`.
    Materialized(Expr),
    /// `ALIAS expr`: computed at read time, not stored.
    Alias(Expr),
}

/// A column declaration: `` `name` Type [DEFAULT expr] [COMMENT '…'] [CODEC(…)] ``.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    pub name: Ident,
    pub ty: ChType,
    pub default: Option<ColumnDefault>,
    /// The codec list without `CODEC(…)`, e.g. `"ZSTD(3)"` or `"Delta, ZSTD(1)"`.
    pub codec: Option<&'static str>,
    pub comment: Option<String>,
}

impl ColumnDef {
    pub fn new(name: impl Into<Ident>, ty: ChType) -> Self {
        ColumnDef {
            name: name.into(),
            ty,
            default: None,
            codec: None,
            comment: None,
        }
    }

    /// `DEFAULT e`.
    pub fn default(mut self, e: Expr) -> Self {
        self.default = Some(ColumnDefault::Default(e));
        self
    }

    /// `MATERIALIZED e`.
    pub fn materialized(mut self, e: Expr) -> Self {
        self.default = Some(ColumnDefault::Materialized(e));
        self
    }

    /// `ALIAS e`.
    pub fn alias_expr(mut self, e: Expr) -> Self {
        self.default = Some(ColumnDefault::Alias(e));
        self
    }

    pub fn codec(mut self, codec: &'static str) -> Self {
        self.codec = Some(codec);
        self
    }

    pub fn comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }
}

impl fmt::Display for ColumnDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.ty)?;
        match &self.default {
            Some(ColumnDefault::Default(e)) => write!(f, " DEFAULT {e}")?,
            Some(ColumnDefault::Materialized(e)) => write!(f, " MATERIALIZED {e}")?,
            Some(ColumnDefault::Alias(e)) => write!(f, " ALIAS {e}")?,
            None => {}
        }
        if let Some(c) = &self.comment {
            f.write_str(" COMMENT ")?;
            write_string(f, c)?;
        }
        if let Some(codec) = self.codec {
            write!(f, " CODEC({codec})")?;
        }
        Ok(())
    }
}

/// Data-skipping index types.
#[derive(Debug, Clone, PartialEq)]
pub enum IndexType {
    MinMax,
    /// `set(max_rows)`; 0 means unlimited.
    Set(u64),
    /// `bloom_filter([false_positive_rate])`.
    BloomFilter(Option<f64>),
    /// `tokenbf_v1(size_bytes, hashes, seed)`.
    TokenBf {
        size_bytes: u64,
        hashes: u64,
        seed: u64,
    },
    /// `ngrambf_v1(n, size_bytes, hashes, seed)`.
    NgramBf {
        n: u64,
        size_bytes: u64,
        hashes: u64,
        seed: u64,
    },
    /// The full-text index `text(key = value, …)`, e.g.
    /// `Text(vec![("tokenizer", lit("splitByNonAlpha"))])`.
    Text(Vec<(&'static str, Expr)>),
}

impl fmt::Display for IndexType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IndexType::MinMax => f.write_str("minmax"),
            IndexType::Set(n) => write!(f, "set({n})"),
            IndexType::BloomFilter(None) => f.write_str("bloom_filter"),
            IndexType::BloomFilter(Some(p)) => write!(f, "bloom_filter({})", Literal::Float(*p)),
            IndexType::TokenBf {
                size_bytes,
                hashes,
                seed,
            } => write!(f, "tokenbf_v1({size_bytes}, {hashes}, {seed})"),
            IndexType::NgramBf {
                n,
                size_bytes,
                hashes,
                seed,
            } => write!(f, "ngrambf_v1({n}, {size_bytes}, {hashes}, {seed})"),
            IndexType::Text(params) => {
                f.write_str("text(")?;
                for (i, (k, v)) in params.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k} = {v}")?;
                }
                f.write_str(")")
            }
        }
    }
}

/// A data-skipping index: `` INDEX `name` expr TYPE type GRANULARITY n ``.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexDef {
    pub name: Ident,
    pub expr: Expr,
    pub index_type: IndexType,
    pub granularity: u64,
}

impl IndexDef {
    fn write(&self, f: &mut fmt::Formatter<'_>, if_not_exists: bool) -> fmt::Result {
        f.write_str("INDEX ")?;
        if if_not_exists {
            f.write_str("IF NOT EXISTS ")?;
        }
        write!(f, "{} ", self.name)?;
        write_keyed_expr(f, &self.expr)?;
        write!(
            f,
            " TYPE {} GRANULARITY {}",
            self.index_type, self.granularity
        )
    }
}

impl fmt::Display for IndexDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, false)
    }
}

/// Table engines.
#[derive(Debug, Clone, PartialEq)]
pub enum Engine {
    MergeTree,
    /// `ReplacingMergeTree([version[, is_deleted]])`. ClickHouse only accepts `is_deleted` together
    /// with `version`; it is not rendered without one.
    ReplacingMergeTree {
        version: Option<Ident>,
        is_deleted: Option<Ident>,
    },
    /// `ReplicatedMergeTree('zk_path', 'replica')`.
    ReplicatedMergeTree {
        zk_path: String,
        replica: String,
    },
    /// `ReplicatedReplacingMergeTree('zk_path', 'replica'[, version[, is_deleted]])`.
    ReplicatedReplacingMergeTree {
        zk_path: String,
        replica: String,
        version: Option<Ident>,
        is_deleted: Option<Ident>,
    },
    /// `Distributed('cluster', 'db', 'table'[, sharding_key])`. Not a MergeTree: no `ORDER BY`.
    Distributed {
        cluster: String,
        db: String,
        table: String,
        sharding_key: Option<Expr>,
    },
}

impl Engine {
    /// MergeTree-family engines take `ORDER BY`, `PARTITION BY`, `PRIMARY KEY` and skipping indexes.
    pub fn is_merge_tree(&self) -> bool {
        !matches!(self, Engine::Distributed { .. })
    }
}

/// Writes `, version[, is_deleted]` (or nothing).
fn write_replacing_args(
    f: &mut fmt::Formatter<'_>,
    first: bool,
    version: &Option<Ident>,
    is_deleted: &Option<Ident>,
) -> fmt::Result {
    debug_assert!(
        version.is_some() || is_deleted.is_none(),
        "is_deleted requires a version column"
    );
    if let Some(v) = version {
        if !first {
            f.write_str(", ")?;
        }
        write!(f, "{v}")?;
        if let Some(d) = is_deleted {
            write!(f, ", {d}")?;
        }
    }
    Ok(())
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Engine::MergeTree => f.write_str("MergeTree"),
            Engine::ReplacingMergeTree {
                version,
                is_deleted,
            } => {
                f.write_str("ReplacingMergeTree")?;
                if version.is_some() {
                    f.write_str("(")?;
                    write_replacing_args(f, true, version, is_deleted)?;
                    f.write_str(")")?;
                }
                Ok(())
            }
            Engine::ReplicatedMergeTree { zk_path, replica } => {
                f.write_str("ReplicatedMergeTree(")?;
                write_string(f, zk_path)?;
                f.write_str(", ")?;
                write_string(f, replica)?;
                f.write_str(")")
            }
            Engine::ReplicatedReplacingMergeTree {
                zk_path,
                replica,
                version,
                is_deleted,
            } => {
                f.write_str("ReplicatedReplacingMergeTree(")?;
                write_string(f, zk_path)?;
                f.write_str(", ")?;
                write_string(f, replica)?;
                write_replacing_args(f, false, version, is_deleted)?;
                f.write_str(")")
            }
            Engine::Distributed {
                cluster,
                db,
                table,
                sharding_key,
            } => {
                f.write_str("Distributed(")?;
                write_string(f, cluster)?;
                f.write_str(", ")?;
                write_string(f, db)?;
                f.write_str(", ")?;
                write_string(f, table)?;
                if let Some(k) = sharding_key {
                    write!(f, ", {k}")?;
                }
                f.write_str(")")
            }
        }
    }
}

/// Writes `` `db`.`table` ``.
fn write_table(f: &mut fmt::Formatter<'_>, db: &Ident, table: &Ident) -> fmt::Result {
    write!(f, "{db}.{table}")
}

/// `CREATE DATABASE [IF NOT EXISTS] name`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateDatabase {
    pub if_not_exists: bool,
    pub name: Ident,
}

impl fmt::Display for CreateDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CREATE DATABASE ")?;
        if self.if_not_exists {
            f.write_str("IF NOT EXISTS ")?;
        }
        write!(f, "{}", self.name)
    }
}

/// `CREATE TABLE`. Rendered on one line:
/// `` CREATE TABLE [IF NOT EXISTS] `db`.`name` [ON CLUSTER `c`] (columns, indexes) ENGINE = …
/// [PARTITION BY …] ORDER BY … [SETTINGS …] [COMMENT '…'] ``.
/// For MergeTree engines an empty `order_by` renders `ORDER BY tuple()`; `PARTITION BY` and
/// `ORDER BY` are omitted for other engines.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateTable {
    pub if_not_exists: bool,
    pub db: Ident,
    pub name: Ident,
    pub columns: Vec<ColumnDef>,
    pub indexes: Vec<IndexDef>,
    pub engine: Engine,
    pub order_by: Vec<Expr>,
    pub partition_by: Option<Expr>,
    pub settings: Vec<Setting>,
    pub comment: Option<String>,
    pub on_cluster: Option<Ident>,
}

impl CreateTable {
    /// A table with no columns yet, `ORDER BY tuple()`, and no options.
    pub fn new(db: impl Into<Ident>, name: impl Into<Ident>, engine: Engine) -> Self {
        CreateTable {
            if_not_exists: false,
            db: db.into(),
            name: name.into(),
            columns: Vec::new(),
            indexes: Vec::new(),
            engine,
            order_by: Vec::new(),
            partition_by: None,
            settings: Vec::new(),
            comment: None,
            on_cluster: None,
        }
    }
}

impl fmt::Display for CreateTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CREATE TABLE ")?;
        if self.if_not_exists {
            f.write_str("IF NOT EXISTS ")?;
        }
        write_table(f, &self.db, &self.name)?;
        write_on_cluster(f, &self.on_cluster)?;
        f.write_str(" (")?;
        write_list(f, &self.columns)?;
        if !self.columns.is_empty() && !self.indexes.is_empty() {
            f.write_str(", ")?;
        }
        write_list(f, &self.indexes)?;
        write!(f, ") ENGINE = {}", self.engine)?;
        if self.engine.is_merge_tree() {
            if let Some(p) = &self.partition_by {
                f.write_str(" PARTITION BY ")?;
                write_keyed_expr(f, p)?;
            }
            f.write_str(" ORDER BY ")?;
            write_key(f, &self.order_by)?;
        }
        write_settings(f, &self.settings)?;
        if let Some(c) = &self.comment {
            f.write_str(" COMMENT ")?;
            write_string(f, c)?;
        }
        Ok(())
    }
}

/// One operation of an `ALTER TABLE`.
#[derive(Debug, Clone, PartialEq)]
pub enum AlterOp {
    /// `ADD COLUMN [IF NOT EXISTS] def [AFTER col]`
    AddColumn {
        if_not_exists: bool,
        def: ColumnDef,
        after: Option<Ident>,
    },
    /// `DROP COLUMN [IF EXISTS] name`
    DropColumn { if_exists: bool, name: Ident },
    /// `RENAME COLUMN from TO to`
    RenameColumn { from: Ident, to: Ident },
    /// `MODIFY COLUMN name Type`
    ModifyColumnType { name: Ident, ty: ChType },
    /// `MODIFY COLUMN name REMOVE DEFAULT`
    RemoveDefault(Ident),
    /// `COMMENT COLUMN name '…'`
    CommentColumn { name: Ident, comment: String },
    /// `MODIFY COMMENT '…'` (the table comment)
    ModifyComment(String),
    /// `MATERIALIZE COLUMN name` (a mutation computing a new column's default for old parts)
    MaterializeColumn(Ident),
    /// `ADD INDEX [IF NOT EXISTS] name expr TYPE … GRANULARITY n`
    AddIndex { if_not_exists: bool, def: IndexDef },
    /// `DROP INDEX [IF EXISTS] name`
    DropIndex { if_exists: bool, name: Ident },
    /// `MATERIALIZE INDEX name`
    MaterializeIndex(Ident),
}

impl fmt::Display for AlterOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AlterOp::AddColumn {
                if_not_exists,
                def,
                after,
            } => {
                f.write_str("ADD COLUMN ")?;
                if *if_not_exists {
                    f.write_str("IF NOT EXISTS ")?;
                }
                write!(f, "{def}")?;
                if let Some(a) = after {
                    write!(f, " AFTER {a}")?;
                }
                Ok(())
            }
            AlterOp::DropColumn { if_exists, name } => {
                f.write_str("DROP COLUMN ")?;
                if *if_exists {
                    f.write_str("IF EXISTS ")?;
                }
                write!(f, "{name}")
            }
            AlterOp::RenameColumn { from, to } => write!(f, "RENAME COLUMN {from} TO {to}"),
            AlterOp::ModifyColumnType { name, ty } => write!(f, "MODIFY COLUMN {name} {ty}"),
            AlterOp::RemoveDefault(name) => write!(f, "MODIFY COLUMN {name} REMOVE DEFAULT"),
            AlterOp::CommentColumn { name, comment } => {
                write!(f, "COMMENT COLUMN {name} ")?;
                write_string(f, comment)
            }
            AlterOp::ModifyComment(c) => {
                f.write_str("MODIFY COMMENT ")?;
                write_string(f, c)
            }
            AlterOp::MaterializeColumn(name) => write!(f, "MATERIALIZE COLUMN {name}"),
            AlterOp::AddIndex { if_not_exists, def } => {
                f.write_str("ADD ")?;
                def.write(f, *if_not_exists)
            }
            AlterOp::DropIndex { if_exists, name } => {
                f.write_str("DROP INDEX ")?;
                if *if_exists {
                    f.write_str("IF EXISTS ")?;
                }
                write!(f, "{name}")
            }
            AlterOp::MaterializeIndex(name) => write!(f, "MATERIALIZE INDEX {name}"),
        }
    }
}

/// `ALTER TABLE `db`.`table` [ON CLUSTER `c`] op, op, …`.
#[derive(Debug, Clone, PartialEq)]
pub struct AlterTable {
    pub db: Ident,
    pub table: Ident,
    pub on_cluster: Option<Ident>,
    pub ops: Vec<AlterOp>,
}

impl fmt::Display for AlterTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ALTER TABLE ")?;
        write_table(f, &self.db, &self.table)?;
        write_on_cluster(f, &self.on_cluster)?;
        f.write_str(" ")?;
        write_list(f, &self.ops)
    }
}

/// `DROP TABLE [IF EXISTS] `db`.`name` [SYNC]`.
#[derive(Debug, Clone, PartialEq)]
pub struct DropTable {
    pub if_exists: bool,
    pub db: Ident,
    pub name: Ident,
    /// Wait until the data is gone (Atomic databases otherwise drop lazily, and a table re-created
    /// under the same name right away could collide with the old one's leftovers).
    pub sync: bool,
}

impl fmt::Display for DropTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DROP TABLE ")?;
        if self.if_exists {
            f.write_str("IF EXISTS ")?;
        }
        write_table(f, &self.db, &self.name)?;
        if self.sync {
            f.write_str(" SYNC")?;
        }
        Ok(())
    }
}

/// `DROP DATABASE [IF EXISTS] name [SYNC]`.
#[derive(Debug, Clone, PartialEq)]
pub struct DropDatabase {
    pub if_exists: bool,
    pub name: Ident,
    pub sync: bool,
}

impl fmt::Display for DropDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DROP DATABASE ")?;
        if self.if_exists {
            f.write_str("IF EXISTS ")?;
        }
        write!(f, "{}", self.name)?;
        if self.sync {
            f.write_str(" SYNC")?;
        }
        Ok(())
    }
}

/// `` INSERT INTO `db`.`table` (`a`, `b`) FORMAT fmt ``; the rows follow in the request body, in
/// `format`. An empty column list inserts all (non-materialized) columns in table order. Settings
/// such as `async_insert` go with the request (HTTP parameters), not here.
#[derive(Debug, Clone, PartialEq)]
pub struct Insert {
    pub db: Ident,
    pub table: Ident,
    pub columns: Vec<Ident>,
    pub format: &'static str,
}

impl fmt::Display for Insert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("INSERT INTO ")?;
        write_table(f, &self.db, &self.table)?;
        if !self.columns.is_empty() {
            f.write_str(" (")?;
            write_list(f, &self.columns)?;
            f.write_str(")")?;
        }
        write!(f, " FORMAT {}", self.format)
    }
}

/// `TRUNCATE TABLE [IF EXISTS] `db`.`table``.
#[derive(Debug, Clone, PartialEq)]
pub struct Truncate {
    pub if_exists: bool,
    pub db: Ident,
    pub table: Ident,
}

impl fmt::Display for Truncate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TRUNCATE TABLE ")?;
        if self.if_exists {
            f.write_str("IF EXISTS ")?;
        }
        write_table(f, &self.db, &self.table)
    }
}

/// Lightweight delete: `` DELETE FROM `db`.`table` WHERE cond ``.
#[derive(Debug, Clone, PartialEq)]
pub struct Delete {
    pub db: Ident,
    pub table: Ident,
    pub where_: Expr,
}

impl fmt::Display for Delete {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DELETE FROM ")?;
        write_table(f, &self.db, &self.table)?;
        write!(f, " WHERE {}", self.where_)
    }
}

/// Lightweight update: `` UPDATE `db`.`table` SET `a` = expr, … WHERE cond `` (patch parts, applied
/// atomically to readers; the table needs `enable_block_number_column` and
/// `enable_block_offset_column`).
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub db: Ident,
    pub table: Ident,
    pub set: Vec<(Ident, Expr)>,
    pub where_: Expr,
}

impl fmt::Display for Update {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UPDATE ")?;
        write_table(f, &self.db, &self.table)?;
        f.write_str(" SET ")?;
        for (i, (c, e)) in self.set.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{c} = {e}")?;
        }
        write!(f, " WHERE {}", self.where_)
    }
}

/// `` OPTIMIZE TABLE `db`.`table` [FINAL] [DEDUPLICATE] ``.
#[derive(Debug, Clone, PartialEq)]
pub struct Optimize {
    pub db: Ident,
    pub table: Ident,
    pub final_: bool,
    pub deduplicate: bool,
}

impl fmt::Display for Optimize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OPTIMIZE TABLE ")?;
        write_table(f, &self.db, &self.table)?;
        if self.final_ {
            f.write_str(" FINAL")?;
        }
        if self.deduplicate {
            f.write_str(" DEDUPLICATE")?;
        }
        Ok(())
    }
}

/// `` SHOW CREATE TABLE `db`.`table` `` (one row, column `statement`).
#[derive(Debug, Clone, PartialEq)]
pub struct ShowCreate {
    pub db: Ident,
    pub table: Ident,
}

impl fmt::Display for ShowCreate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SHOW CREATE TABLE ")?;
        write_table(f, &self.db, &self.table)
    }
}

/// `` EXISTS TABLE `db`.`table` `` (one row, column `result` = 0 or 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Exists {
    pub db: Ident,
    pub table: Ident,
}

impl fmt::Display for Exists {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EXISTS TABLE ")?;
        write_table(f, &self.db, &self.table)
    }
}

/// Any statement this module renders. Every variant's struct also implements `Display` and converts
/// into `Statement` with `.into()`.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    Query(Query),
    CreateDatabase(CreateDatabase),
    CreateTable(Box<CreateTable>),
    AlterTable(AlterTable),
    DropTable(DropTable),
    DropDatabase(DropDatabase),
    Insert(Insert),
    Truncate(Truncate),
    Delete(Delete),
    Update(Update),
    Optimize(Optimize),
    ShowCreate(ShowCreate),
    Exists(Exists),
}

impl fmt::Display for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Statement::Query(s) => write!(f, "{s}"),
            Statement::CreateDatabase(s) => write!(f, "{s}"),
            Statement::CreateTable(s) => write!(f, "{s}"),
            Statement::AlterTable(s) => write!(f, "{s}"),
            Statement::DropTable(s) => write!(f, "{s}"),
            Statement::DropDatabase(s) => write!(f, "{s}"),
            Statement::Insert(s) => write!(f, "{s}"),
            Statement::Truncate(s) => write!(f, "{s}"),
            Statement::Delete(s) => write!(f, "{s}"),
            Statement::Update(s) => write!(f, "{s}"),
            Statement::Optimize(s) => write!(f, "{s}"),
            Statement::ShowCreate(s) => write!(f, "{s}"),
            Statement::Exists(s) => write!(f, "{s}"),
        }
    }
}

macro_rules! into_statement {
    ($($t:ident),*) => {
        $(impl From<$t> for Statement {
            fn from(s: $t) -> Self {
                Statement::$t(s)
            }
        })*
    };
}
into_statement!(
    Query,
    CreateDatabase,
    AlterTable,
    DropTable,
    DropDatabase,
    Insert,
    Truncate,
    Delete,
    Update,
    Optimize,
    ShowCreate,
    Exists
);

impl From<CreateTable> for Statement {
    fn from(s: CreateTable) -> Self {
        Statement::CreateTable(Box::new(s))
    }
}

impl From<Select> for Statement {
    fn from(s: Select) -> Self {
        Statement::Query(s.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::expr::{col, func, lit};

    #[test]
    fn create_database() {
        let s = CreateDatabase {
            if_not_exists: true,
            name: "es`x".into(),
        };
        assert_eq!(s.to_string(), "CREATE DATABASE IF NOT EXISTS `es\\`x`");
        let s = CreateDatabase {
            if_not_exists: false,
            name: "es".into(),
        };
        assert_eq!(s.to_string(), "CREATE DATABASE `es`");
    }

    #[test]
    fn create_table_full() {
        let mut c = CreateTable::new(
            "db",
            "t",
            Engine::ReplacingMergeTree {
                version: Some("_version".into()),
                is_deleted: Some("_deleted".into()),
            },
        );
        c.if_not_exists = true;
        c.columns = vec![
            ColumnDef::new("_id", ChType::String),
            ColumnDef::new("_version", ChType::UInt64),
            ColumnDef::new("_deleted", ChType::UInt8).default(lit(0)),
            ColumnDef::new("@timestamp", ChType::DateTime64(3, Some("UTC".into())))
                .codec("Delta, ZSTD(1)"),
            ColumnDef::new("msg", ChType::String)
                .codec("ZSTD(3)")
                .comment("it's \\ text"),
            ColumnDef::new("msg_lower", ChType::String)
                .materialized(func("lower", vec![col("msg")])),
            ColumnDef::new("n", ChType::nullable(ChType::Int64)).default(col("a") + lit(1)),
            ColumnDef::new("x", ChType::String).alias_expr(col("msg")),
        ];
        c.indexes = vec![
            IndexDef {
                name: "idx_msg".into(),
                expr: col("msg"),
                index_type: IndexType::Text(vec![("tokenizer", lit("splitByNonAlpha"))]),
                granularity: 1,
            },
            IndexDef {
                name: "idx_lower".into(),
                expr: func("lower", vec![col("msg")]),
                index_type: IndexType::BloomFilter(Some(0.01)),
                granularity: 4,
            },
            IndexDef {
                name: "idx_ts".into(),
                expr: col("@timestamp") + lit(1),
                index_type: IndexType::MinMax,
                granularity: 1,
            },
        ];
        c.partition_by = Some(func("toYYYYMM", vec![col("@timestamp")]));
        c.order_by = vec![col("_id")];
        c.settings = vec![Setting::new("index_granularity", 8192)];
        c.comment = Some("{\"es\": 'meta'}".into());
        assert_eq!(
            c.to_string(),
            "CREATE TABLE IF NOT EXISTS `db`.`t` (`_id` String, `_version` UInt64, \
             `_deleted` UInt8 DEFAULT 0, `@timestamp` DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)), \
             `msg` String COMMENT 'it\\'s \\\\ text' CODEC(ZSTD(3)), \
             `msg_lower` String MATERIALIZED lower(`msg`), \
             `n` Nullable(Int64) DEFAULT `a` + 1, `x` String ALIAS `msg`, \
             INDEX `idx_msg` `msg` TYPE text(tokenizer = 'splitByNonAlpha') GRANULARITY 1, \
             INDEX `idx_lower` lower(`msg`) TYPE bloom_filter(0.01) GRANULARITY 4, \
             INDEX `idx_ts` (`@timestamp` + 1) TYPE minmax GRANULARITY 1) \
             ENGINE = ReplacingMergeTree(`_version`, `_deleted`) PARTITION BY toYYYYMM(`@timestamp`) \
             ORDER BY `_id` SETTINGS index_granularity = 8192 COMMENT '{\"es\": \\'meta\\'}'"
        );
    }

    #[test]
    fn create_table_keys_and_engines() {
        let mut c = CreateTable::new("db", "t", Engine::MergeTree);
        c.columns = vec![ColumnDef::new("a", ChType::String)];
        assert_eq!(
            c.to_string(),
            "CREATE TABLE `db`.`t` (`a` String) ENGINE = MergeTree ORDER BY tuple()"
        );
        c.order_by = vec![col("a"), func("toDate", vec![col("ts")])];
        c.on_cluster = Some("main".into());
        assert_eq!(
            c.to_string(),
            "CREATE TABLE `db`.`t` ON CLUSTER `main` (`a` String) ENGINE = MergeTree \
             ORDER BY (`a`, toDate(`ts`))"
        );
        c.engine = Engine::ReplacingMergeTree {
            version: None,
            is_deleted: None,
        };
        c.order_by = vec![col("a") + lit(1)];
        assert_eq!(
            c.to_string(),
            "CREATE TABLE `db`.`t` ON CLUSTER `main` (`a` String) ENGINE = ReplacingMergeTree \
             ORDER BY (`a` + 1)"
        );
        assert_eq!(
            Engine::ReplicatedReplacingMergeTree {
                zk_path: "/ch/{shard}/t'".into(),
                replica: "{replica}".into(),
                version: Some("v".into()),
                is_deleted: None,
            }
            .to_string(),
            "ReplicatedReplacingMergeTree('/ch/{shard}/t\\'', '{replica}', `v`)"
        );
        assert_eq!(
            Engine::ReplicatedMergeTree {
                zk_path: "/p".into(),
                replica: "r".into()
            }
            .to_string(),
            "ReplicatedMergeTree('/p', 'r')"
        );
        c.engine = Engine::Distributed {
            cluster: "c".into(),
            db: "db".into(),
            table: "t_local".into(),
            sharding_key: Some(func("rand", vec![])),
        };
        c.partition_by = Some(col("a"));
        assert_eq!(
            c.to_string(),
            "CREATE TABLE `db`.`t` ON CLUSTER `main` (`a` String) \
             ENGINE = Distributed('c', 'db', 't_local', rand())"
        );
    }

    #[test]
    fn index_types() {
        assert_eq!(IndexType::Set(0).to_string(), "set(0)");
        assert_eq!(IndexType::BloomFilter(None).to_string(), "bloom_filter");
        assert_eq!(
            IndexType::TokenBf {
                size_bytes: 1024,
                hashes: 3,
                seed: 0
            }
            .to_string(),
            "tokenbf_v1(1024, 3, 0)"
        );
        assert_eq!(
            IndexType::NgramBf {
                n: 3,
                size_bytes: 1024,
                hashes: 3,
                seed: 0
            }
            .to_string(),
            "ngrambf_v1(3, 1024, 3, 0)"
        );
    }

    #[test]
    fn hostile_identifiers_in_ddl() {
        let mut c = CreateTable::new("we`ird db", "t; DROP TABLE x; --", Engine::MergeTree);
        c.columns = vec![
            ColumnDef::new("back\\slash", ChType::String),
            ColumnDef::new("new\nline", ChType::String),
            ColumnDef::new("\0", ChType::String),
            ColumnDef::new("Grüße 🦀", ChType::String),
        ];
        c.order_by = vec![col("back\\slash")];
        assert_eq!(
            c.to_string(),
            "CREATE TABLE `we\\`ird db`.`t; DROP TABLE x; --` (`back\\\\slash` String, \
             `new\\nline` String, `\\0` String, `Grüße 🦀` String) ENGINE = MergeTree \
             ORDER BY `back\\\\slash`"
        );
    }

    #[test]
    fn alter_table() {
        let a = AlterTable {
            db: "db".into(),
            table: "t".into(),
            on_cluster: Some("c".into()),
            ops: vec![
                AlterOp::AddColumn {
                    if_not_exists: true,
                    def: ColumnDef::new("n.x", ChType::nullable(ChType::Float64)),
                    after: Some("_id".into()),
                },
                AlterOp::DropColumn {
                    if_exists: true,
                    name: "old".into(),
                },
                AlterOp::RenameColumn {
                    from: "a".into(),
                    to: "b`".into(),
                },
                AlterOp::ModifyColumnType {
                    name: "c".into(),
                    ty: ChType::array(ChType::String),
                },
                AlterOp::RemoveDefault("c".into()),
                AlterOp::CommentColumn {
                    name: "c".into(),
                    comment: "x'y".into(),
                },
                AlterOp::ModifyComment("{\"k\":\"v\\n\"}".into()),
                AlterOp::MaterializeColumn("n.x".into()),
                AlterOp::AddIndex {
                    if_not_exists: true,
                    def: IndexDef {
                        name: "i".into(),
                        expr: col("c"),
                        index_type: IndexType::Set(100),
                        granularity: 2,
                    },
                },
                AlterOp::AddIndex {
                    if_not_exists: false,
                    def: IndexDef {
                        name: "j".into(),
                        expr: col("c"),
                        index_type: IndexType::MinMax,
                        granularity: 1,
                    },
                },
                AlterOp::DropIndex {
                    if_exists: true,
                    name: "k".into(),
                },
                AlterOp::MaterializeIndex("i".into()),
            ],
        };
        assert_eq!(
            a.to_string(),
            "ALTER TABLE `db`.`t` ON CLUSTER `c` \
             ADD COLUMN IF NOT EXISTS `n.x` Nullable(Float64) AFTER `_id`, \
             DROP COLUMN IF EXISTS `old`, RENAME COLUMN `a` TO `b\\``, \
             MODIFY COLUMN `c` Array(String), MODIFY COLUMN `c` REMOVE DEFAULT, \
             COMMENT COLUMN `c` 'x\\'y', \
             MODIFY COMMENT '{\"k\":\"v\\\\n\"}', MATERIALIZE COLUMN `n.x`, \
             ADD INDEX IF NOT EXISTS `i` `c` TYPE set(100) GRANULARITY 2, \
             ADD INDEX `j` `c` TYPE minmax GRANULARITY 1, DROP INDEX IF EXISTS `k`, \
             MATERIALIZE INDEX `i`"
        );
    }

    #[test]
    fn drops_insert_and_friends() {
        let (db, t) = (|| Ident::new("db"), || Ident::new("t"));
        assert_eq!(
            DropTable {
                if_exists: true,
                db: db(),
                name: t(),
                sync: true
            }
            .to_string(),
            "DROP TABLE IF EXISTS `db`.`t` SYNC"
        );
        assert_eq!(
            DropTable {
                if_exists: false,
                db: db(),
                name: "x'y".into(),
                sync: false
            }
            .to_string(),
            "DROP TABLE `db`.`x'y`"
        );
        assert_eq!(
            DropDatabase {
                if_exists: true,
                name: db(),
                sync: true
            }
            .to_string(),
            "DROP DATABASE IF EXISTS `db` SYNC"
        );
        let mut ins = Insert {
            db: db(),
            table: t(),
            columns: vec!["a".into(), "b.c".into()],
            format: "JSONEachRow",
        };
        assert_eq!(
            ins.to_string(),
            "INSERT INTO `db`.`t` (`a`, `b.c`) FORMAT JSONEachRow"
        );
        ins.columns.clear();
        assert_eq!(ins.to_string(), "INSERT INTO `db`.`t` FORMAT JSONEachRow");
        assert_eq!(
            Truncate {
                if_exists: true,
                db: db(),
                table: t(),
            }
            .to_string(),
            "TRUNCATE TABLE IF EXISTS `db`.`t`"
        );
        assert_eq!(
            Delete {
                db: db(),
                table: t(),
                where_: col("_id").in_list(vec![lit("1'"), lit("2")]),
            }
            .to_string(),
            "DELETE FROM `db`.`t` WHERE `_id` IN ('1\\'', '2')"
        );
        assert_eq!(
            Optimize {
                db: db(),
                table: t(),
                final_: true,
                deduplicate: false
            }
            .to_string(),
            "OPTIMIZE TABLE `db`.`t` FINAL"
        );
        assert_eq!(
            ShowCreate {
                db: db(),
                table: t()
            }
            .to_string(),
            "SHOW CREATE TABLE `db`.`t`"
        );
        assert_eq!(
            Exists {
                db: db(),
                table: t()
            }
            .to_string(),
            "EXISTS TABLE `db`.`t`"
        );
    }

    #[test]
    fn statements_render_like_their_parts() {
        let stmts: Vec<Statement> = vec![
            Select::new().item(lit(1)).into(),
            ShowCreate {
                db: "db".into(),
                table: "t".into(),
            }
            .into(),
            CreateTable::new("db", "t", Engine::MergeTree).into(),
        ];
        let out: Vec<String> = stmts.iter().map(ToString::to_string).collect();
        assert_eq!(
            out,
            [
                "SELECT 1",
                "SHOW CREATE TABLE `db`.`t`",
                "CREATE TABLE `db`.`t` () ENGINE = MergeTree ORDER BY tuple()"
            ]
        );
    }
}
