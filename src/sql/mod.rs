//! SQL as values: a small typed builder for the ClickHouse statements elastichouse issues, rendered by
//! `Display`, with every identifier and literal escaped here and nowhere else.
//! (See `docs/decisions.md` for why not sqlparser's AST.)
//!
//! # Why one place
//!
//! Everything that reaches ClickHouse from an Elasticsearch request — index names, field names,
//! query strings, term values — is attacker-controlled text. If any module formats such text into
//! SQL on its own, a single forgotten escape is an injection. So the other modules never write SQL
//! text: they build [`Expr`], [`Select`] and the statement structs, and the `Display` impls in this
//! module are the only code that turns user data into SQL. Reviewing escaping means reviewing this
//! module and nothing else.
//!
//! What the types allow to be raw (unescaped) text is limited to things that can never come from a
//! request: function names, setting names, codecs, index types, format names and interval units are
//! `&'static str` or enums, and [`ChType::Other`] only ever holds a type string ClickHouse itself
//! printed. User data goes in an [`Ident`] or a [`Literal`].
//!
//! # Escaping rules
//!
//! ClickHouse parses quoted tokens (`'string'`, `` `identifier` ``) with the same backslash rules:
//! `\` starts an escape sequence (`\\`, `\'`, `` \` ``, `\n`, `\t`, `\r`, `\0`, `\xHH`, …) and any
//! other escaped character stands for itself. Unlike standard SQL, doubling the quote is *not* enough:
//! a lone `\` before the closing quote would escape it and let the rest of the input run on as SQL.
//! Both kinds of token are therefore written by [`write_quoted`]:
//!
//! * the quote character and `\` are preceded by `\`;
//! * NUL, newline, carriage return and tab become `\0`, `\n`, `\r`, `\t`;
//! * every other control character (below 0x20, and DEL 0x7F) becomes `\xHH`, so that rendered SQL is
//!   always a single printable line (log- and terminal-safe);
//! * everything else, including non-ASCII Unicode, is written as is (the input is UTF-8, and
//!   ClickHouse strings are bytes).
//!
//! Numbers are written so that ClickHouse reads back the same value: integers in decimal, floats in
//! Rust's shortest round-trip form (always with a `.` or an exponent so they stay floats), and
//! `nan`, `inf`, `-inf` for the non-finite values.
//!
//! Expressions are parenthesised by precedence (see [`Expr`]), generously where ClickHouse's
//! precedence differs from other dialects (`NOT`, `IS NULL`, `IN`), and never produce `--` (which
//! would start a comment) from a negated negative number.
//!
//! Rendering recurses over the tree, so callers translating nested requests must bound the nesting
//! depth (Elasticsearch itself caps `bool` nesting) before building an expression.
//!
//! An empty identifier renders as ``` `` ```, which ClickHouse rejects with a syntax error; it can
//! never change the meaning of a statement.
//!
//! # Layout
//!
//! * [`expr`] — [`Literal`], [`Expr`] and the constructor helpers ([`col`], [`lit`], [`func`], …).
//! * [`query`] — [`Select`], [`Query`] (`UNION ALL`), [`FromClause`], [`OrderBy`].
//! * [`ddl`] — `CREATE`/`ALTER`/`DROP`/`INSERT`/`DELETE`/… and the [`Statement`] enum.
//! * [`types`] — [`ChType`].

pub mod ddl;
pub mod expr;
pub mod query;
pub mod types;

pub use ddl::{
    AlterOp, AlterTable, ColumnDef, ColumnDefault, CreateDatabase, CreateTable, Delete,
    DropDatabase, DropTable, Engine, Exists, IndexDef, IndexType, Insert, Optimize, ShowCreate,
    Statement, Truncate, Update,
};
pub use expr::{
    BinOp, Expr, IntervalUnit, Literal, Window, and_all, array, case, col, escape_like, func,
    func_params, interval, lambda, lit, not, null, or_all, qcol, star, subquery, tuple,
};
pub use query::{
    FromClause, LimitBy, OrderBy, Query, Rows, STATE_COLUMN, Select, SelectItem, Setting, union_all,
};
pub use types::ChType;

use std::fmt;

/// A quoted identifier (database, table or column name). Any string is valid; it is rendered between
/// backticks with `\` and `` ` `` escaped (and control characters, see [`write_quoted`]), so field
/// names such as `a.b`, `@timestamp` or `x y` are kept as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ident(pub String);

impl Ident {
    pub fn new(s: impl Into<String>) -> Self {
        Ident(s.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Ident {
    fn from(s: &str) -> Self {
        Ident(s.to_string())
    }
}

impl From<String> for Ident {
    fn from(s: String) -> Self {
        Ident(s)
    }
}

impl From<&String> for Ident {
    fn from(s: &String) -> Self {
        Ident(s.clone())
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_quoted(f, &self.0, '`')
    }
}

/// Writes `s` between `quote` characters, escaped as described in the module docs. This is the one
/// function through which every user-supplied string reaches SQL text (as an [`Ident`] with `` ` ``
/// or a [`Literal::Str`] with `'`).
pub fn write_quoted<W: fmt::Write + ?Sized>(w: &mut W, s: &str, quote: char) -> fmt::Result {
    w.write_char(quote)?;
    // Copy runs of harmless characters in one go; stop at anything that needs an escape.
    let mut run_start = 0;
    for (i, c) in s.char_indices() {
        let needs_escape = c == quote || c == '\\' || c < ' ' || c == '\x7f';
        if !needs_escape {
            continue;
        }
        w.write_str(&s[run_start..i])?;
        run_start = i + c.len_utf8();
        match c {
            '\0' => w.write_str("\\0")?,
            '\n' => w.write_str("\\n")?,
            '\r' => w.write_str("\\r")?,
            '\t' => w.write_str("\\t")?,
            c if c < ' ' || c == '\x7f' => write!(w, "\\x{:02X}", c as u32)?,
            c => {
                w.write_char('\\')?;
                w.write_char(c)?;
            }
        }
    }
    w.write_str(&s[run_start..])?;
    w.write_char(quote)
}

/// `s` as a ClickHouse string literal (`'…'`, escaped). Prefer building a [`Literal`]; this is for
/// the rare place that needs the text of a single literal (e.g. an HTTP query parameter).
pub fn quote_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    // Writing into a String cannot fail.
    let _ = write_quoted(&mut out, s, '\'');
    out
}

/// Writes `items` separated by `", "`.
pub(crate) fn write_list<T: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    items: impl IntoIterator<Item = T>,
) -> fmt::Result {
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_backquoted_and_escaped() {
        let cases = [
            ("a", "`a`"),
            ("a.b", "`a.b`"),
            ("@timestamp", "`@timestamp`"),
            ("x y", "`x y`"),
            ("a`b", "`a\\`b`"),
            ("a\\b", "`a\\\\b`"),
            ("trailing\\", "`trailing\\\\`"),
            ("\\`", "`\\\\\\``"),
            ("it's", "`it's`"),
            ("Grüße 日本 🦀", "`Grüße 日本 🦀`"),
            ("line\nbreak\ttab\0nul\r", "`line\\nbreak\\ttab\\0nul\\r`"),
            ("bell\x07del\x7f", "`bell\\x07del\\x7F`"),
            (
                "x` FROM t; DROP TABLE y; --",
                "`x\\` FROM t; DROP TABLE y; --`",
            ),
            ("", "``"),
        ];
        for (raw, want) in cases {
            assert_eq!(Ident::new(raw).to_string(), want, "{raw:?}");
        }
    }

    #[test]
    fn quote_string_escapes_like_literals() {
        assert_eq!(quote_string("a'b\\c"), "'a\\'b\\\\c'");
        assert_eq!(quote_string("`"), "'`'");
        assert_eq!(quote_string(""), "''");
    }
}
