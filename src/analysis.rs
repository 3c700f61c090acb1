//! Text analysis: Elasticsearch's `standard` analyzer (Lucene's StandardTokenizer + LowerCaseFilter).
//!
//! StandardTokenizer splits text on Unicode word boundaries (UAX #29) and keeps the segments that
//! contain a letter, digit or ideograph, cutting tokens longer than 255 characters; the lower-case
//! filter then lower-cases them. The `unicode-segmentation` crate implements UAX #29, so this module
//! only adds Lucene's choices on top. `text` fields are analysed at ingest and their tokens stored
//! in a companion `Array(String)` column (see [`token_column`]), so queries match tokens exactly as
//! Elasticsearch does, with positions for phrases.
//! (Lucene: analysis/standard/StandardTokenizer.java; ES docs: analysis-standard-analyzer.html)

use unicode_segmentation::UnicodeSegmentation;

/// Lucene's default `max_token_length` of the standard tokenizer.
pub const MAX_TOKEN_LENGTH: usize = 255;

/// Positions left between the values of a multi-valued text field (`position_increment_gap`), so a
/// phrase cannot match across two values.
pub const POSITION_INCREMENT_GAP: usize = 100;

/// The (physical) name of the column that holds the tokens of the text field column `column` (a
/// field path). Like every array column it starts with a dot (see
/// [`crate::catalog::physical_name`]); the `\u{1}tokens` suffix keeps it apart from the field's own
/// array column.
pub fn token_column(column: &str) -> String {
    format!(".{column}\u{1}tokens")
}

/// The field column of a token column name, if it is one.
pub fn value_column_of_tokens(column: &str) -> Option<&str> {
    column.strip_prefix('.')?.strip_suffix("\u{1}tokens")
}

/// Tokens of one text value, as the standard analyzer makes them.
pub fn standard_tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in text.unicode_words() {
        let lower = word.to_lowercase();
        if lower.chars().count() <= MAX_TOKEN_LENGTH {
            out.push(lower);
        } else {
            // Lucene emits an over-long token in pieces of max_token_length characters.
            let chars: Vec<char> = lower.chars().collect();
            for piece in chars.chunks(MAX_TOKEN_LENGTH) {
                out.push(piece.iter().collect());
            }
        }
    }
    out
}

/// Tokens of all values of a (possibly multi-valued) text field, with empty-string placeholders
/// filling the position gap between values. `length` is the number of real tokens (Lucene's field
/// length, which the gap does not count).
pub fn field_tokens<'a>(values: impl IntoIterator<Item = &'a str>) -> (Vec<String>, usize) {
    let mut out = Vec::new();
    let mut length = 0;
    for (i, v) in values.into_iter().enumerate() {
        let toks = standard_tokens(v);
        if i > 0 && !out.is_empty() {
            out.extend(std::iter::repeat_n(String::new(), POSITION_INCREMENT_GAP));
        }
        length += toks.len();
        out.extend(toks);
    }
    (out, length)
}

/// Lucene's lossy encoding of field lengths in norms (SmallFloat#intToByte4 then #byte4ToInt):
/// lengths below 24 are exact, larger ones keep their 4 most significant bits. BM25 uses the
/// decoded length, so scores depend on it.
pub fn lucene_norm_length(length: u64) -> u64 {
    const FREE: u64 = 24;
    if length < FREE {
        return length;
    }
    let v = length - FREE;
    let bits = 64 - v.leading_zeros() as u64;
    let shift = bits.saturating_sub(4);
    FREE + ((v >> shift) << shift)
}

/// The columns whose values `text` fields read (a text field's own column, or the column it shares
/// with its keyword parent as a multi-field): each has a token column beside it.
pub fn text_columns(m: &crate::schema::Mappings) -> std::collections::BTreeSet<String> {
    m.leaf_fields()
        .into_iter()
        .filter(|f| f.es_type == "text" || f.es_type == "match_only_text")
        .filter_map(|f| f.column)
        .collect()
}

/// The token columns that the value columns `columns` of mapping `m` need.
pub fn token_columns_for(
    m: &crate::schema::Mappings,
    columns: impl IntoIterator<Item = String>,
) -> Vec<(String, crate::sql::ChType)> {
    let text = text_columns(m);
    columns
        .into_iter()
        .filter(|c| text.contains(c))
        .map(|c| (token_column(&c), token_column_type()))
        .collect()
}

/// The type of a token column: `Array(LowCardinality(String))`. Tokens repeat across documents, so
/// the dictionary encoding makes the column about four times smaller than `Array(String)`, and
/// ClickHouse's text index on it answers `count()` of a token predicate from the index alone.
pub fn token_column_type() -> crate::sql::ChType {
    use crate::sql::ChType;
    ChType::array(ChType::LowCardinality(Box::new(ChType::String)))
}

/// The token column value for a text column's value as prepared for ClickHouse (a string, or an
/// array of strings for multi-valued fields).
pub fn tokens_value(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    let (tokens, _) = match v {
        Value::String(s) => field_tokens([s.as_str()]),
        Value::Array(a) => field_tokens(a.iter().filter_map(Value::as_str)),
        _ => (Vec::new(), 0),
    };
    Value::Array(tokens.into_iter().map(Value::String).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_analyzer_examples() {
        // analysis-standard-analyzer.html: "The 2 QUICK Brown-Foxes jumped over the lazy dog's bone."
        assert_eq!(
            standard_tokens("The 2 QUICK Brown-Foxes jumped over the lazy dog's bone."),
            [
                "the", "2", "quick", "brown", "foxes", "jumped", "over", "the", "lazy", "dog's",
                "bone"
            ]
        );
        // UAX #29: decimals, numbers with separators, underscores, apostrophes, hosts stay whole;
        // hyphens split; each ideograph is a token; non-ASCII letters are lower-cased.
        assert_eq!(
            standard_tokens("3.14 1,000,000 foo_bar O'Neil's wi-fi x.com 日本語 ÜNÏCÖDÉ"),
            [
                "3.14",
                "1,000,000",
                "foo_bar",
                "o'neil's",
                "wi",
                "fi",
                "x.com",
                "日",
                "本",
                "語",
                "ünïcödé"
            ]
        );
        assert!(standard_tokens("--- !!! ...").is_empty());
        assert_eq!(
            standard_tokens(&"a".repeat(300))
                .iter()
                .map(|t| t.len())
                .collect::<Vec<_>>(),
            [255, 45]
        );
    }

    #[test]
    fn multi_valued_fields_keep_a_position_gap() {
        let (t, len) = field_tokens(["a b", "c"]);
        assert_eq!(len, 3);
        assert_eq!(t.len(), 3 + POSITION_INCREMENT_GAP);
        assert_eq!(t[0], "a");
        assert_eq!(t[2 + POSITION_INCREMENT_GAP], "c");
    }

    #[test]
    fn norm_lengths_are_quantised_like_lucene() {
        // SmallFloat: exact below 24; 4 significant bits above.
        for l in 0..24 {
            assert_eq!(lucene_norm_length(l), l);
        }
        assert_eq!(lucene_norm_length(24), 24);
        assert_eq!(lucene_norm_length(39), 39); // v = 15 fits in 4 bits
        assert_eq!(lucene_norm_length(40), 40); // v = 16 = 0b10000 → 0b1000 << 1
        assert_eq!(lucene_norm_length(41), 40);
        assert_eq!(lucene_norm_length(100), 96); // v = 76 = 0b1001100 → 0b1001 << 3 = 72
    }
}
