//! The schema module: Elasticsearch mappings as typed values, their ClickHouse columns, and the
//! preparation of one JSON document for insertion (dynamic mapping and value conversion).
//! Pure functions, no I/O.
//!
//! - [`mapping`]: [`Mappings`] / [`FieldMapping`] / [`FieldType`]; [`parse_mappings`],
//!   [`Mappings::to_json`] (`GET _mapping`), [`Mappings::merge`] (`PUT _mapping`, dynamic updates).
//! - [`templates`]: dynamic templates.
//! - [`columns`]: the column of each field ([`column_type`], [`Mappings::columns`],
//!   [`Mappings::from_columns`]) and field lookup for the query side ([`Mappings::field`],
//!   [`Mappings::leaf_fields`]).
//! - [`document`]: [`prepare_document`] / [`prepare_document_bytes`] → [`PreparedDoc`].
//! - `values`, `json`: value coercion per type and a position-keeping JSON reader (for
//!   Elasticsearch's `[line:col]` error prefixes and Java-style value previews).
//! - [`dates`]: Elasticsearch date formats and date math (its own owner).
//! - [`synthetic`]: synthetic `_source` (logsdb): what the `_source` column keeps and the SQL that
//!   rebuilds the document from the columns.
//!
//! Ingest flow: `prepare_document(&meta.mappings, &meta.columns, &doc, &id)`; if it returns a
//! `mapping_update`, merge it into the index mappings, add `new_columns` and migrate
//! `array_columns` / `column_migrations` before inserting `values` with the reserved columns.

// `EsError` (136 bytes) is the crate's error type everywhere; boxing it here alone would gain nothing.
#![allow(clippy::result_large_err)]

pub mod columns;
pub mod dates;
pub mod document;
pub(crate) mod json;
pub mod mapping;
pub mod synthetic;
pub mod templates;
pub(crate) mod values;

#[cfg(test)]
mod tests;

pub use columns::{FieldInfo, Shape, column_type, element_type};
pub use document::{
    ColumnMigration, PreparedDoc, prepare_document, prepare_document_bytes, render_ip,
};
pub use mapping::{
    Dynamic, FieldMapping, FieldType, Mappings, ObjectMapping, parse_mapping_request,
    parse_mappings,
};
pub use templates::{DynamicTemplate, MatchType};
