//! elastichouse: the Elasticsearch REST API on top of ClickHouse.
//!
//! One request follows one path (see `docs/architecture.md`):
//! `es_api` (HTTP, errors) → `dsl` (typed query DSL) → `plan` (what to ask ClickHouse) →
//! `sql` (syntax tree rendered with escaping in one place) → `clickhouse` (HTTP client; embedded
//! chDB or a real server) → `render` (rows → Elasticsearch JSON). Writes go
//! `es_api` → `ingest` (NDJSON stream, batching) → `schema` (mapping ↔ columns, dynamic mapping).

pub mod catalog;
pub mod clickhouse;
pub mod config;
pub mod debug_ui;
pub mod dsl;
pub mod error;
pub mod es_api;
pub mod ids;
pub mod ingest;
pub mod plan;
pub mod render;
pub mod schema;
pub mod server;
pub mod sql;
