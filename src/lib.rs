//! elastichouse: the Elasticsearch REST API on top of ClickHouse.
//!
//! One request follows one path (see `docs/architecture.md`):
//! `es_api` (HTTP, errors) → `dsl` (typed query DSL) → `plan` (what to ask ClickHouse) →
//! `sql` (syntax tree rendered with escaping in one place) → `clickhouse` (HTTP client; embedded
//! chDB or a real server) → `render` (rows → Elasticsearch JSON). Writes go
//! `es_api` → `ingest` (NDJSON stream, batching) → `schema` (mapping ↔ columns, dynamic mapping).

// `EsError` (ES's error with its extra fields and cause) is the error of every fallible call here.
// Errors are the cold path; boxing them everywhere would cost readability for nothing measurable.
#![allow(clippy::result_large_err)]

pub mod aggs;
pub mod analysis;
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
