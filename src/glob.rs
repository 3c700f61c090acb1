//! Wildcard matching, one place for the three dialects Elasticsearch uses, on the `wildcard`
//! crate (linear-time matching, no backtracking blow-up on `*a*a*a…`):
//!
//! - [`star`]: `Regex.simpleMatch`: index and alias patterns, field and template patterns,
//!   `_source` filters, KEEP/DROP. Only `*` is special.
//! - [`star_question`]: `*` and `?`, nothing escaped (routing rules of the config).
//! - [`lucene`]: Lucene's `WildcardQuery` (the `wildcard` query, its highlighting, constant
//!   keywords): `*`, `?`, and `\` escaping the next character.

use wildcard::WildcardBuilder;

/// `*` matches any run of characters; everything else is literal.
pub fn star(pattern: &str, text: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == text;
    }
    matches(&pattern.chars().collect::<Vec<_>>(), text, |b| {
        b.without_one_metasymbol().without_escape()
    })
}

/// `*` matches any run of characters, `?` one character; everything else is literal.
pub fn star_question(pattern: &str, text: &str) -> bool {
    if !pattern.contains(['*', '?']) {
        return pattern == text;
    }
    matches(&pattern.chars().collect::<Vec<_>>(), text, |b| {
        b.without_escape()
    })
}

/// Lucene's wildcard syntax: `*` any run, `?` one character, `\` makes the next character
/// literal (a trailing `\` is a literal backslash).
pub fn lucene(pattern: &str, text: &str) -> bool {
    // The crate only accepts escapes of its special symbols: unescape the others here.
    let mut p = Vec::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('*' | '?' | '\\')) => p.extend(['\\', e]),
                Some(e) => p.push(e),
                None => p.extend(['\\', '\\']),
            },
            c => p.push(c),
        }
    }
    matches(&p, text, |b| b)
}

fn matches(
    pattern: &[char],
    text: &str,
    configure: impl FnOnce(WildcardBuilder<'_, char>) -> WildcardBuilder<'_, char>,
) -> bool {
    let text: Vec<char> = text.chars().collect();
    configure(WildcardBuilder::new(pattern))
        .build()
        .is_ok_and(|w| w.is_match(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_is_the_only_special_character_of_simple_match() {
        // Regex.simpleMatch: "*" any, "?" and "\" literal.
        assert!(star("*", ""));
        assert!(star("logs-*", "logs-2024"));
        assert!(star("*-2024", "logs-2024"));
        assert!(star("l*s*4", "logs-2024"));
        assert!(!star("logs-*", "metrics-2024"));
        assert!(star("a?b", "a?b"));
        assert!(!star("a?b", "axb"));
        assert!(star("a\\*", "a\\xyz"));
        assert!(star("é*", "été"));
        // Linear on patterns that make a naive backtracking matcher exponential.
        let p = "*a".repeat(40) + "b";
        assert!(!star(&p, &"a".repeat(200)));
    }

    #[test]
    fn star_question_has_a_one_character_wildcard() {
        assert!(star_question("logs-?", "logs-1"));
        assert!(!star_question("logs-?", "logs-12"));
        assert!(star_question("*-?2", "logs-12"));
        assert!(star_question("a\\b", "a\\b"));
    }

    #[test]
    fn lucene_escapes_the_next_character() {
        assert!(lucene("qu?ck", "quick"));
        assert!(lucene("q*k", "quick"));
        assert!(!lucene("q*z", "quick"));
        assert!(lucene("a\\*b", "a*b"));
        assert!(!lucene("a\\*b", "axb"));
        assert!(lucene("a\\?", "a?"));
        assert!(!lucene("a\\?", "ab"));
        assert!(lucene("a\\\\*", "a\\bc"));
        assert!(lucene("a\\x", "ax"));
        assert!(lucene("a\\", "a\\"));
        assert!(!lucene("a\\", "a"));
    }
}
