//! The integration tests, in one binary: one module per area (the files next to this one), all
//! sharing the helpers of `tests/common` and its one daemon on the embedded engine, started on
//! first use. A module whose tests assert state of the whole daemon (request counts, the request
//! ring, every index, every scroll) starts a daemon of its own with `common::own_daemon!()`.
//! Run one area with `cargo test --test it storage::`, one test with
//! `cargo test --test it storage::name_of_the_test`.
//!
//! `tests/fuzz_parsers.rs` stays a binary of its own (docs/limits.md runs it alone, in release).

#[path = "../common/mod.rs"]
mod common;
#[path = "../kibana/mod.rs"]
mod kibana;

mod aggregations;
mod aggregations_more;
mod aliases_templates;
mod api_basics;
mod by_query;
mod cli;
mod crash;
mod debug_ui;
mod documents;
mod embedded_engine;
mod esql;
mod existing_tables;
mod explore;
mod failure_store;
mod full_text;
mod grafana;
mod hostile;
mod kibana_apis;
mod kibana_replay;
mod kql;
mod loadgen;
mod pipelines;
mod proxy;
mod queries_query_string;
mod queries_term_level;
mod search_basic;
mod search_features;
mod search_more;
mod security;
mod storage;
