//! ES|QL (`POST /_query`): the piped query language of Elasticsearch 8.11+, translated into one
//! ClickHouse `SELECT` per query.
//!
//! * [`parser`]: lexer and recursive-descent parser (query text → commands and expressions with
//!   positions, nesting bounded by [`parser::MAX_DEPTH`]). Hand-written: no Rust crate parses
//!   ES|QL, and Elasticsearch's own parser is generated from an ANTLR grammar in Java.
//! * [`plan`]: name resolution and typing against the index mappings (ES|QL's types: `keyword`,
//!   `text`, `long`, `integer`, `double`, `date`, `ip`, `boolean`, …), and the translation of the
//!   pipeline into a [`crate::sql::Select`] (subqueries where a command must see the result of the
//!   previous one, e.g. WHERE after LIMIT or anything after STATS).
//! * [`functions`]: the scalar and aggregate functions, DISSECT and GROK.
//! * [`essql`]: Elasticsearch SQL (`POST /_sql`), parsed with the `sqlparser` crate and rewritten
//!   into the ES|QL pipeline it means, so both languages share this planner.
//!
//! Errors are ES|QL's: `parsing_exception` (`line L:C: …`) for syntax, `verification_exception`
//! (`Found 1 problem\nline L:C: …`) for unknown columns, functions and type mismatches, both 400.
//! The supported language is documented in `docs/esql.md`.

pub mod essql;
pub mod functions;
pub mod parser;
pub mod plan;
pub mod translate;

use crate::error::EsError;

/// A position in the query text (1-based line and column, in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

/// ES|QL's `parsing_exception` (esql/parser/ParsingException.java: `line L:C: message`).
pub fn parsing_error(pos: Pos, msg: impl std::fmt::Display) -> EsError {
    EsError::parsing(format!("line {}:{}: {msg}", pos.line, pos.col))
}

/// ES|QL's `verification_exception` with one problem (esql/common/Failure.java#failMessage).
pub fn verification_error(pos: Pos, msg: impl std::fmt::Display) -> EsError {
    EsError::new(
        400,
        "verification_exception",
        format!("Found 1 problem\nline {}:{}: {msg}", pos.line, pos.col),
    )
}

/// ES|QL's data types, as the `columns` of a response name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Keyword,
    Text,
    Long,
    Integer,
    UnsignedLong,
    Double,
    Boolean,
    Date,
    DateNanos,
    Ip,
    Version,
    Null,
    /// `_source` metadata: the document as an object.
    Source,
    Unsupported,
    /// `1 hour`, `10 minutes` (literals only).
    TimeDuration,
    /// `1 day`, `1 month`, `1 year` (literals only).
    DatePeriod,
}

impl Ty {
    pub fn name(self) -> &'static str {
        match self {
            Ty::Keyword => "keyword",
            Ty::Text => "text",
            Ty::Long => "long",
            Ty::Integer => "integer",
            Ty::UnsignedLong => "unsigned_long",
            Ty::Double => "double",
            Ty::Boolean => "boolean",
            Ty::Date => "date",
            Ty::DateNanos => "date_nanos",
            Ty::Ip => "ip",
            Ty::Version => "version",
            Ty::Null => "null",
            Ty::Source => "_source",
            Ty::Unsupported => "unsupported",
            Ty::TimeDuration => "time_duration",
            Ty::DatePeriod => "date_period",
        }
    }

    /// The ES|QL type of a mapped field (`short`/`byte` widen to integer, the float family to
    /// double, as ES|QL loads them).
    pub fn of_mapping(es_type: &str) -> Ty {
        match es_type {
            "text" | "match_only_text" => Ty::Text,
            "keyword" | "constant_keyword" | "wildcard" => Ty::Keyword,
            "long" => Ty::Long,
            "integer" | "short" | "byte" => Ty::Integer,
            "unsigned_long" => Ty::UnsignedLong,
            "double" | "float" | "half_float" | "scaled_float" => Ty::Double,
            "boolean" => Ty::Boolean,
            "date" => Ty::Date,
            "date_nanos" => Ty::DateNanos,
            "ip" => Ty::Ip,
            "version" => Ty::Version,
            _ => Ty::Unsupported,
        }
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, Ty::Long | Ty::Integer | Ty::UnsignedLong | Ty::Double)
    }

    pub fn is_integral(self) -> bool {
        matches!(self, Ty::Long | Ty::Integer | Ty::UnsignedLong)
    }

    pub fn is_string(self) -> bool {
        matches!(self, Ty::Keyword | Ty::Text)
    }

    pub fn is_date(self) -> bool {
        matches!(self, Ty::Date | Ty::DateNanos)
    }

    /// The numeric type of `a op b` (ES|QL widens integer → long → double).
    pub fn widen(a: Ty, b: Ty) -> Ty {
        if a == Ty::Double || b == Ty::Double {
            Ty::Double
        } else if a == Ty::UnsignedLong || b == Ty::UnsignedLong {
            Ty::UnsignedLong
        } else if a == Ty::Long || b == Ty::Long {
            Ty::Long
        } else if a == Ty::Null {
            b
        } else {
            a
        }
    }
}
