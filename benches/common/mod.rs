//! Shared set-up of the benchmarks that start a daemon on the embedded engine.
#![allow(dead_code)]

use std::path::PathBuf;

/// A numeric setting from the environment (`BENCH_DOCS`, …), or its default.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The Python with chdb-core: `ELASTICHOUSE_PYTHON`, or the project's `.venv` (`scripts/setup`).
pub fn python() -> PathBuf {
    std::env::var("ELASTICHOUSE_PYTHON")
        .map(Into::into)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"))
}
