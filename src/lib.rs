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

// jemalloc as the allocator, with heap profiling on (sampling one allocation per 512 KiB on average,
// cheap enough to leave on), so `/debug/pprof/heap` can dump a profile at any time. Set here rather
// than in main so the integration tests' daemon runs on the same allocator.
#[cfg(all(target_os = "linux", not(target_env = "msvc")))]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc reads its options from this symbol at start-up (the `_rjem_` prefix is
/// tikv-jemallocator's).
#[cfg(all(target_os = "linux", not(target_env = "msvc")))]
#[allow(non_upper_case_globals)]
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static malloc_conf: &[u8] = b"prof:true,prof_active:true,lg_prof_sample:19\0";

pub mod aggs;
pub mod analysis;
pub mod catalog;
pub mod clickhouse;
pub mod compare;
pub mod config;
pub mod debug_ui;
pub mod dsl;
pub mod elastic;
pub mod error;
pub mod es_api;
pub mod esql;
pub mod glob;
pub mod ids;
pub mod ingest;
pub mod limits;
pub mod loadgen;
pub mod plan;
pub mod render;
pub mod router;
pub mod schema;
pub mod security;
pub mod server;
pub mod sql;
pub mod telemetry;
