//! Ingestion: bulk parsing and the write path shared by `_bulk` and the single-document APIs.

pub mod bulk;
pub mod pipeline;
pub mod write;
