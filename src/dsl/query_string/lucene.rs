//! The Lucene query syntax of `query_string`, parsed into a small syntax tree.
//!
//! Hand-written rather than taken from a crate: the crates that parse "Lucene-like" syntax
//! (lucene-query-syntax, tantivy's query grammar, ports of all of Lucene) either cover a subset, give
//! their own meaning to the operators, or report errors in their own words. Kibana users see
//! Elasticsearch's error messages, and the operator rules below (the classic parser's, not a
//! precedence grammar) decide which documents match, so both are reproduced here on purpose.
//!
//! # Tokens
//! The input is split into tokens the way Lucene's classic `QueryParser` lexer does, by longest
//! match; on equal length the token listed first wins. There are three lexical modes:
//!
//! ```text
//! DEFAULT (whitespace " \t\n\r\u3000" separates tokens):
//!   AND         "AND" | "&&"          OR   "OR" | "||"        NOT  "NOT" | "!"
//!   PLUS "+"    MINUS "-"             BAREOPER  ("+" | "-" | "!") followed by whitespace
//!   LPAREN "("  RPAREN ")"  COLON ":"  STAR "*"  CARAT "^" (next token in BOOST mode)
//!   QUOTED      '"' (any char but '"' and '\' | '\' any)* '"'
//!   TERM        start (start | "+" | "-")*
//!   FUZZY_SLOP  "~" (start | "+" | "-")*
//!   PREFIXTERM  start (start | "+" | "-")* "*"
//!   WILDTERM    (start | "*" | "?") (start | "+" | "-" | "*" | "?")*
//!   REGEXPTERM  "/" (any char but "/" | "\/")* "/"
//!   RANGEIN_START "[" , RANGEEX_START "{"   (next tokens in RANGE mode)
//!   where start = any char except whitespace and + - ! ( ) : ^ [ ] " { } ~ * ? \ /,
//!                 or '\' followed by any char (an escaped char)
//! BOOST:  NUMBER  digit+ ("." digit+)?   (back to DEFAULT; no whitespace skipping)
//! RANGE:  "TO", "]" or "}" (back to DEFAULT), RANGE_QUOTED '"' ... '"',
//!         RANGE_GOOP (any char but " ", "]", "}")+
//! ```
//!
//! # Grammar
//! ```text
//! TopLevel  := Query EOF
//! Query     := ( MultiTerm | Modifier? Clause ) ( MultiTerm | Conjunction? Modifier? Clause )*
//! MultiTerm := TERM TERM+        -- consecutive bare terms, each not followed by ":", "*", "~",
//!                                   "^", AND or OR; analysed together as one text
//! Conjunction := AND | OR
//! Modifier  := "+" | "-" | NOT
//! Clause    := [ (TERM | "*") ":" ] ( Term | "(" Query ")" [ "^" NUMBER ] )
//! Term      := (TERM | "*" | PREFIXTERM | WILDTERM | REGEXPTERM | BAREOPER) [Boost/Fuzzy]
//!            | ("[" | "{") Bound "TO" Bound ("]" | "}") [ "^" NUMBER ]
//!            | QUOTED [Boost/Fuzzy]
//! Boost/Fuzzy := "^" NUMBER [FUZZY_SLOP] | FUZZY_SLOP [ "^" NUMBER ]
//! Bound     := RANGE_GOOP | RANGE_QUOTED | "TO"
//! ```
//!
//! # Operators (the classic parser's rules, `QueryParserBase#addClause`)
//! There is no operator precedence. Each clause gets an occurrence from its own modifier and the
//! conjunction before it, and a conjunction may change the clause *before* it:
//! - `AND` makes the previous clause required (unless it is prohibited) and this one required;
//! - `OR` with `default_operator: AND` makes the previous clause optional (unless prohibited);
//! - with `default_operator: OR` a clause is required if it has `+` or follows `AND`, prohibited with
//!   `-`/`NOT`/`!`, optional otherwise; with `AND`, prohibited with `-`/`NOT`, otherwise required
//!   unless it follows `OR`.
//!
//! So `a AND b OR c` is `+a +b c` with the OR default (c only adds score) and `+a b c` with the AND
//! default; `a OR b AND c` is `a +b +c`. Elasticsearch then turns a group whose clauses are all
//! prohibited into "everything except": `NOT x` matches every document without `x`
//! (`Queries#fixNegativeQueryIfNeeded`, applied to every group).

use crate::error::EsError;

/// Token kinds, numbered like Lucene's `QueryParserConstants` (the numbers decide which token wins
/// a tie and the order of the "Was expecting" lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Eof = 0,
    And = 8,
    Or = 9,
    Not = 10,
    Plus = 11,
    Minus = 12,
    BareOper = 13,
    LParen = 14,
    RParen = 15,
    Colon = 16,
    Star = 17,
    Carat = 18,
    Quoted = 19,
    Term = 20,
    FuzzySlop = 21,
    PrefixTerm = 22,
    WildTerm = 23,
    RegexpTerm = 24,
    RangeInStart = 25,
    RangeExStart = 26,
    Number = 27,
    RangeTo = 28,
    RangeInEnd = 29,
    RangeExEnd = 30,
    RangeQuoted = 31,
    RangeGoop = 32,
}

impl Kind {
    /// The name Lucene prints for the kind in its error messages.
    fn image(self) -> &'static str {
        match self {
            Kind::Eof => "<EOF>",
            Kind::And => "<AND>",
            Kind::Or => "<OR>",
            Kind::Not => "<NOT>",
            Kind::Plus => "\"+\"",
            Kind::Minus => "\"-\"",
            Kind::BareOper => "<BAREOPER>",
            Kind::LParen => "\"(\"",
            Kind::RParen => "\")\"",
            Kind::Colon => "\":\"",
            Kind::Star => "\"*\"",
            Kind::Carat => "\"^\"",
            Kind::Quoted => "<QUOTED>",
            Kind::Term => "<TERM>",
            Kind::FuzzySlop => "<FUZZY_SLOP>",
            Kind::PrefixTerm => "<PREFIXTERM>",
            Kind::WildTerm => "<WILDTERM>",
            Kind::RegexpTerm => "<REGEXPTERM>",
            Kind::RangeInStart => "\"[\"",
            Kind::RangeExStart => "\"{\"",
            Kind::Number => "<NUMBER>",
            Kind::RangeTo => "\"TO\"",
            Kind::RangeInEnd => "\"]\"",
            Kind::RangeExEnd => "\"}\"",
            Kind::RangeQuoted => "<RANGE_QUOTED>",
            Kind::RangeGoop => "<RANGE_GOOP>",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: Kind,
    pub image: String,
    /// 0-based character offset, which is what Lucene prints as "column".
    pub column: usize,
}

/// A syntax error, in Lucene's words, without the "Cannot parse '…': " prefix.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub message: String,
    /// `token_mgr_error` for lexical errors, `parse_exception` otherwise.
    pub lexical: bool,
}

impl SyntaxError {
    fn parse(message: impl Into<String>) -> Self {
        SyntaxError {
            message: message.into(),
            lexical: false,
        }
    }
}

/// The error Elasticsearch answers for a query string it cannot parse: a `query_shard_exception`
/// around Lucene's `ParseException` ("Cannot parse '…': …") around the original cause. Lucene's
/// exceptions reach the response through Elasticsearch's serialisation wrapper, which prefixes
/// their message with their type name (`parse_exception: …`), as real 8.x answers show.
pub fn parse_failure(query: &str, message: &str, lexical: bool) -> EsError {
    let inner = if lexical {
        EsError::new(
            400,
            "token_mgr_error",
            format!("token_mgr_error: {message}"),
        )
    } else {
        EsError::new(
            400,
            "parse_exception",
            format!("parse_exception: {message}"),
        )
    };
    EsError::new(
        400,
        "query_shard_exception",
        format!("Failed to parse query [{query}]"),
    )
    .caused_by(
        EsError::new(
            400,
            "parse_exception",
            format!("parse_exception: Cannot parse '{query}': {message}"),
        )
        .caused_by(inner),
    )
}

/// How a clause takes part in its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occur {
    Must,
    Should,
    MustNot,
}

/// The default operator between clauses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Operator {
    #[default]
    Or,
    And,
}

impl Operator {
    pub fn occur(self) -> Occur {
        match self {
            Operator::Or => Occur::Should,
            Operator::And => Occur::Must,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A group of clauses (the whole query or a parenthesised part).
    Group(Vec<Clause>),
    /// `(…)^2`: a boosted group.
    Boosted(Box<Node>, f64),
    Leaf(Leaf),
}

impl Node {
    /// The leaves of the tree, a run of bare terms counting each term: (those on the default
    /// fields, those naming their field).
    /// Iterative; the tree is at most [`MAX_GROUP_DEPTH`] deep anyway.
    pub fn leaf_count(&self) -> (usize, usize) {
        let (mut default, mut named) = (0, 0);
        let mut stack = vec![self];
        while let Some(node) = stack.pop() {
            match node {
                Node::Group(clauses) => stack.extend(clauses.iter().map(|c| &c.node)),
                Node::Boosted(inner, _) => stack.push(inner),
                Node::Leaf(l) => {
                    // A run of bare terms is one leaf analysed into as many queries.
                    let n = match &l.kind {
                        LeafKind::Text(t) => t.split_whitespace().count().max(1),
                        _ => 1,
                    };
                    if l.field.is_none() {
                        default += n;
                    } else {
                        named += n;
                    }
                }
            }
        }
        (default, named)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    pub occur: Occur,
    pub node: Node,
    /// A run of bare terms analysed together (Lucene's `MultiTerm`): if analysis gives a group of
    /// plain terms, its clauses are spliced into this group.
    pub multi_term: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Leaf {
    /// The field named in the query (`f:x`, or `f:(…)` around it); `None` for the default fields.
    pub field: Option<String>,
    pub kind: LeafKind,
    pub boost: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LeafKind {
    /// Text to analyse, escapes removed: a bare term or several (`MultiTerm`, joined by spaces).
    /// Also the `>=10` / `<x` one-sided range forms, recognised later when the field is known.
    Text(String),
    /// `"a b"`, escapes removed; `slop` is the raw `~N` suffix without the `~`.
    Phrase { text: String, slop: Option<String> },
    /// A pattern with `*`/`?`, escapes kept (the wildcard syntax has its own escaping).
    Wildcard(String),
    /// `abc*`: the prefix, escapes removed.
    Prefix(String),
    /// `/re/`: the expression between the slashes, as written.
    Regexp(String),
    /// `term~` / `term~2`: `distance` is the raw text after `~` (empty for the default).
    Fuzzy { term: String, distance: String },
    Range {
        lower: Option<String>,
        upper: Option<String>,
        include_lower: bool,
        include_upper: bool,
    },
}

// ---------------------------------------------------------------------------------------------
// Lexer

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Default,
    Boost,
    Range,
}

fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{3000}')
}

/// A character that may start a term without escaping.
fn is_term_start(c: char) -> bool {
    !is_ws(c)
        && !matches!(
            c,
            '+' | '-'
                | '!'
                | '('
                | ')'
                | ':'
                | '^'
                | '['
                | ']'
                | '"'
                | '{'
                | '}'
                | '~'
                | '*'
                | '?'
                | '\\'
                | '/'
        )
}

/// Length of one "term start" unit at `i` (a plain char or an escape pair), if there is one.
fn term_start_at(s: &[char], i: usize) -> Option<usize> {
    let c = *s.get(i)?;
    if c == '\\' {
        return s.get(i + 1).map(|_| 2);
    }
    is_term_start(c).then_some(1)
}

fn term_char_at(s: &[char], i: usize) -> Option<usize> {
    match s.get(i) {
        Some('+') | Some('-') => Some(1),
        _ => term_start_at(s, i),
    }
}

/// Longest run of units accepted by `unit`, starting at `i`; returns the end.
fn run(s: &[char], mut i: usize, unit: impl Fn(&[char], usize) -> Option<usize>) -> usize {
    while let Some(n) = unit(s, i) {
        i += n;
    }
    i
}

/// Tokenises the whole input. A lexical error is kept as the last element and reported only when
/// the parser reaches it, as Lucene's lazy token manager does.
fn tokenize(s: &[char]) -> (Vec<Token>, Option<(usize, SyntaxError)>) {
    let mut out = Vec::new();
    let mut mode = Mode::Default;
    let mut i = 0;
    loop {
        if mode != Mode::Boost {
            while i < s.len() && is_ws(s[i]) {
                i += 1;
            }
        }
        if i >= s.len() {
            out.push(Token {
                kind: Kind::Eof,
                image: String::new(),
                column: s.len(),
            });
            return (out, None);
        }
        let found = match mode {
            Mode::Default => lex_default(s, i),
            Mode::Boost => lex_boost(s, i),
            Mode::Range => lex_range(s, i),
        };
        let (kind, end) = match found {
            Ok(t) => t,
            Err(e) => return (out, Some((i, e))),
        };
        out.push(Token {
            kind,
            image: s[i..end].iter().collect(),
            column: i,
        });
        mode = match kind {
            Kind::Carat => Mode::Boost,
            Kind::Number | Kind::RangeInEnd | Kind::RangeExEnd => Mode::Default,
            Kind::RangeInStart | Kind::RangeExStart => Mode::Range,
            _ => mode,
        };
        i = end;
    }
}

/// Lucene's lexical error text (`TokenMgrError#LexicalErr`). `end` is the offset where matching
/// stopped; `eof` whether it stopped at the end of the input.
fn lexical_error(s: &[char], start: usize, end: usize, eof: bool, state: u8) -> SyntaxError {
    let after: String = s[start..end.min(s.len())].iter().collect();
    let mut m = if eof {
        format!(
            "Lexical error at line 1, column {}.  Encountered: <EOF>",
            end + 1
        )
    } else {
        let c = s[end];
        format!(
            "Lexical error at line 1, column {}.  Encountered: '{}' ({}),",
            end + 1,
            escape_java(&c.to_string()),
            c as u32
        )
    };
    if !after.is_empty() {
        m.push_str(&format!(" after prefix \"{}\"", escape_java(&after)));
    }
    if state != 0 {
        // Lucene's lexical states: 0 Boost, 1 Range, 2 DEFAULT.
        m.push_str(&format!(" (in lexical state {state})"));
    }
    SyntaxError {
        message: m,
        lexical: true,
    }
}

fn lex_boost(s: &[char], i: usize) -> Result<(Kind, usize), SyntaxError> {
    let digits = |mut j: usize| {
        while j < s.len() && s[j].is_ascii_digit() {
            j += 1;
        }
        j
    };
    let end = digits(i);
    if end == i {
        return Err(lexical_error(s, i, i, false, 0));
    }
    if end + 1 < s.len() && s[end] == '.' && s[end + 1].is_ascii_digit() {
        return Ok((Kind::Number, digits(end + 1)));
    }
    Ok((Kind::Number, end))
}

fn lex_range(s: &[char], i: usize) -> Result<(Kind, usize), SyntaxError> {
    let goop_end = {
        let mut j = i;
        while j < s.len() && !is_ws(s[j]) && s[j] != ']' && s[j] != '}' {
            j += 1;
        }
        j
    };
    let mut best: (Kind, usize) = (Kind::RangeGoop, goop_end);
    let mut consider = |k: Kind, end: usize| {
        if end > best.1 || (end == best.1 && k < best.0) {
            best = (k, end);
        }
    };
    if s[i] == ']' {
        consider(Kind::RangeInEnd, i + 1);
    }
    if s[i] == '}' {
        consider(Kind::RangeExEnd, i + 1);
    }
    if s[i..].starts_with(&['T', 'O']) {
        consider(Kind::RangeTo, i + 2);
    }
    if s[i] == '"'
        && let Some(end) = quoted_end(s, i, true)
    {
        consider(Kind::RangeQuoted, end);
    }
    Ok(best)
}

/// End (exclusive) of a quoted token starting at `i`. In DEFAULT mode a backslash escapes any
/// char; in a range only `\"` is special (and the content must not be empty).
fn quoted_end(s: &[char], i: usize, range: bool) -> Option<usize> {
    let mut j = i + 1;
    let mut last = None;
    while j < s.len() {
        match s[j] {
            '\\' if !range => {
                j += 2;
                continue;
            }
            '\\' if range && s.get(j + 1) == Some(&'"') => {
                // Either an escaped quote (keep going) or a backslash char followed by the end
                // quote: both are tokens, the longest wins.
                last = Some(j + 2);
                j += 2;
                continue;
            }
            '"' => {
                if range && j == i + 1 {
                    return last;
                }
                return Some(j + 1).max(last);
            }
            _ => j += 1,
        }
    }
    last
}

fn lex_default(s: &[char], i: usize) -> Result<(Kind, usize), SyntaxError> {
    let c = s[i];
    let mut best: Option<(Kind, usize)> = None;
    let mut consider = |k: Kind, end: usize| {
        if end <= i {
            return;
        }
        match best {
            Some((bk, be)) if be > end || (be == end && bk <= k) => {}
            _ => best = Some((k, end)),
        }
    };
    let starts = |lit: &str| {
        let l: Vec<char> = lit.chars().collect();
        s[i..].starts_with(&l)
    };
    if starts("AND") {
        consider(Kind::And, i + 3);
    }
    if starts("&&") {
        consider(Kind::And, i + 2);
    }
    if starts("OR") {
        consider(Kind::Or, i + 2);
    }
    if starts("||") {
        consider(Kind::Or, i + 2);
    }
    if starts("NOT") {
        consider(Kind::Not, i + 3);
    }
    match c {
        '!' => consider(Kind::Not, i + 1),
        '+' => consider(Kind::Plus, i + 1),
        '-' => consider(Kind::Minus, i + 1),
        '(' => consider(Kind::LParen, i + 1),
        ')' => consider(Kind::RParen, i + 1),
        ':' => consider(Kind::Colon, i + 1),
        '*' => consider(Kind::Star, i + 1),
        '^' => consider(Kind::Carat, i + 1),
        '[' => consider(Kind::RangeInStart, i + 1),
        '{' => consider(Kind::RangeExStart, i + 1),
        _ => {}
    }
    if matches!(c, '+' | '-' | '!') && s.get(i + 1).is_some_and(|&n| is_ws(n)) {
        consider(Kind::BareOper, i + 2);
    }
    if c == '"'
        && let Some(end) = quoted_end(s, i, false)
    {
        consider(Kind::Quoted, end);
    }
    if let Some(n) = term_start_at(s, i) {
        let end = run(s, i + n, term_char_at);
        consider(Kind::Term, end);
        if s.get(end) == Some(&'*') {
            consider(Kind::PrefixTerm, end + 1);
        }
    }
    if c == '~' {
        consider(Kind::FuzzySlop, run(s, i + 1, term_char_at));
    }
    let wild_unit = |s: &[char], j: usize| match s.get(j) {
        Some('*') | Some('?') => Some(1),
        _ => term_char_at(s, j),
    };
    let wild_first = match c {
        '*' | '?' => Some(1),
        _ => term_start_at(s, i),
    };
    if let Some(n) = wild_first {
        let end = run(s, i + n, wild_unit);
        if s[i..end].iter().any(|&x| x == '*' || x == '?') {
            consider(Kind::WildTerm, end);
        }
    }
    if c == '/' {
        // Every '/' inside must be escaped as "\/"; the longest such token wins.
        let mut j = i + 1;
        let mut last = None;
        while j < s.len() {
            if s[j] == '/' {
                last = Some(j + 1);
                if s[j - 1] != '\\' || j - 1 == i {
                    break;
                }
            }
            j += 1;
        }
        if let Some(end) = last {
            consider(Kind::RegexpTerm, end);
        }
    }
    match best {
        Some(t) => Ok(t),
        None => {
            // Nothing matches: a '"', '/' or '\' that never ends, or a char no token starts with.
            let eof = matches!(c, '"' | '/' | '\\');
            if eof {
                Err(lexical_error(s, i, s.len(), true, 2))
            } else {
                Err(lexical_error(s, i, i, false, 2))
            }
        }
    }
}

/// Java-style escaping of a token image in error messages (`ParseException#add_escapes`).
fn escape_java(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '"' => out.push_str("\\\""),
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{:04x}", unit));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Removes query-syntax escapes: `\x` is `x`, `\uXXXX` a UTF-16 unit (`discardEscapeChar`).
pub fn unescape(s: &str) -> Result<String, SyntaxError> {
    let mut out = String::new();
    let mut units: Vec<u16> = Vec::new();
    let flush = |units: &mut Vec<u16>, out: &mut String| {
        out.push_str(&String::from_utf16_lossy(units));
        units.clear();
    };
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            let Some(&n) = chars.get(i + 1) else {
                return Err(SyntaxError::parse(
                    "Term can not end with escape character.",
                ));
            };
            if n == 'u' {
                let mut v: u32 = 0;
                for k in 0..4 {
                    let Some(&h) = chars.get(i + 2 + k) else {
                        return Err(SyntaxError::parse("Truncated unicode escape sequence."));
                    };
                    let d = h.to_digit(16).ok_or_else(|| {
                        SyntaxError::parse(format!(
                            "Non-hex character in Unicode escape sequence: {h}"
                        ))
                    })?;
                    v = v * 16 + d;
                }
                units.push(v as u16);
                i += 6;
                continue;
            }
            flush(&mut units, &mut out);
            out.push(n);
            i += 2;
            continue;
        }
        flush(&mut units, &mut out);
        out.push(c);
        i += 1;
    }
    flush(&mut units, &mut out);
    Ok(out)
}

/// Escapes every character the syntax reserves (`QueryParser#escape`), for `escape: true`.
pub fn escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '+'
                | '-'
                | '!'
                | '('
                | ')'
                | ':'
                | '^'
                | '['
                | ']'
                | '"'
                | '{'
                | '}'
                | '~'
                | '*'
                | '?'
                | '|'
                | '&'
                | '/'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Parser

/// Token kinds that may start a clause (after the optional modifier).
const CLAUSE_START: [Kind; 11] = [
    Kind::BareOper,
    Kind::LParen,
    Kind::Star,
    Kind::Quoted,
    Kind::Term,
    Kind::PrefixTerm,
    Kind::WildTerm,
    Kind::RegexpTerm,
    Kind::RangeInStart,
    Kind::RangeExStart,
    Kind::Number,
];

/// Tokens that end a run of bare terms when they follow one (`disallowedPostMultiTerm`).
fn ends_multi_term(k: Kind) -> bool {
    matches!(
        k,
        Kind::Colon | Kind::Star | Kind::FuzzySlop | Kind::Carat | Kind::And | Kind::Or
    )
}

struct Parser {
    tokens: Vec<Token>,
    lex_error: Option<(usize, SyntaxError)>,
    pos: usize,
    operator: Operator,
    /// How many groups `(` are open at the current token.
    depth: usize,
}

/// How deep groups may nest in a query string. Lucene's generated parser recurses per group and
/// has no bound of its own (a deep enough query ends in a StackOverflowError on the search
/// thread); elastichouse answers a parse failure instead, well before its own stack (the
/// translation recurses per level too) or ClickHouse's `max_ast_depth` could be reached. 32 is
/// about the query DSL's own bound (`indices.query.bool.max_nested_depth`, 30).
pub const MAX_GROUP_DEPTH: usize = 32;

fn too_deep() -> SyntaxError {
    SyntaxError::parse(format!(
        "groups are nested deeper than elastichouse's limit of [{MAX_GROUP_DEPTH}] levels"
    ))
}

/// Parses a query string. `Ok(None)` when it has no clause at all (blank input).
pub fn parse(query: &str, operator: Operator) -> Result<Option<Node>, SyntaxError> {
    let chars: Vec<char> = query.chars().collect();
    let (tokens, lex_error) = tokenize(&chars);
    let mut p = Parser {
        tokens,
        lex_error,
        pos: 0,
        operator,
        depth: 0,
    };
    if p.peek(0)?.kind == Kind::Eof {
        return Ok(None);
    }
    let node = p.query(None, Kind::Eof)?;
    p.expect(&[Kind::Eof], &[])?;
    Ok(Some(node))
}

/// Conjunctions.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Conj {
    None,
    And,
    Or,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Modifier {
    None,
    Required,
    Prohibited,
}

impl Parser {
    fn peek(&self, n: usize) -> Result<&Token, SyntaxError> {
        let i = self.pos + n;
        if i < self.tokens.len() {
            return Ok(&self.tokens[i]);
        }
        match &self.lex_error {
            Some((_, e)) => Err(e.clone()),
            // Past the end: the EOF token repeats.
            None => Ok(self.tokens.last().expect("EOF token")),
        }
    }

    fn kind(&self, n: usize) -> Result<Kind, SyntaxError> {
        Ok(self.peek(n)?.kind)
    }

    fn next(&mut self) -> Result<Token, SyntaxError> {
        let t = self.peek(0)?.clone();
        self.pos += 1;
        Ok(t)
    }

    /// Lucene's "Encountered … Was expecting …" for the next token. `expected` is sorted by kind
    /// number; `lookahead` lists the sequences the parser's two-token lookaheads add at the end.
    fn unexpected(&self, expected: &[Kind], lookahead: &[Kind]) -> SyntaxError {
        let tok = match self.peek(0) {
            Ok(t) => t.clone(),
            Err(e) => return e,
        };
        let mut m = String::from("Encountered \"");
        if tok.kind == Kind::Eof {
            m.push_str("<EOF>");
        } else {
            m.push_str(&format!(
                " {} \"{} \"",
                tok.kind.image(),
                escape_java(&tok.image)
            ));
        }
        m.push_str(&format!("\" at line 1, column {}.\n", tok.column));
        let total = expected.len() + lookahead.len();
        m.push_str(if total == 1 {
            "Was expecting:\n    "
        } else {
            "Was expecting one of:\n    "
        });
        for k in expected.iter().chain(lookahead) {
            m.push_str(k.image());
            m.push(' ');
            if *k != Kind::Eof {
                m.push_str("...");
            }
            m.push_str("\n    ");
        }
        SyntaxError::parse(m)
    }

    fn expect(&mut self, kinds: &[Kind], lookahead: &[Kind]) -> Result<Token, SyntaxError> {
        if kinds.contains(&self.kind(0)?) {
            return self.next();
        }
        let mut sorted = kinds.to_vec();
        sorted.sort();
        Err(self.unexpected(&sorted, lookahead))
    }

    fn at_multi_term(&self) -> Result<bool, SyntaxError> {
        Ok(self.kind(0)? == Kind::Term
            && self.kind(1)? == Kind::Term
            && !ends_multi_term(self.kind(2)?))
    }

    /// Query := (MultiTerm | Modifier? Clause) (MultiTerm | Conjunction? Modifier? Clause)*
    /// `end` is the token that closes this query (EOF, or ")" inside a group), for error lists.
    fn query(&mut self, field: Option<&str>, end: Kind) -> Result<Node, SyntaxError> {
        let mut clauses: Vec<Clause> = Vec::new();
        let mut first: Option<Node> = None;
        let mut trailing: Vec<Kind> = Vec::new();
        if self.at_multi_term()? {
            self.multi_term(field, &mut clauses)?;
        } else {
            let m = self.modifier()?;
            let (node, tail) = self.clause(field, m != Modifier::None)?;
            trailing = tail;
            if m == Modifier::None {
                first = Some(node.clone());
            }
            self.add_clause(&mut clauses, Conj::None, m, node, false);
        }
        loop {
            if self.at_multi_term()? {
                self.multi_term(field, &mut clauses)?;
                trailing.clear();
                continue;
            }
            let k = self.kind(0)?;
            let starts_clause = matches!(
                k,
                Kind::And | Kind::Or | Kind::Not | Kind::Plus | Kind::Minus
            ) || CLAUSE_START.contains(&k);
            if !starts_clause {
                if k != end {
                    // The next token neither continues this query nor ends it.
                    let mut expected =
                        vec![end, Kind::And, Kind::Or, Kind::Not, Kind::Plus, Kind::Minus];
                    expected.extend(CLAUSE_START);
                    expected.extend(trailing.iter().copied());
                    expected.sort();
                    expected.dedup();
                    return Err(self.unexpected(&expected, &[Kind::Term]));
                }
                break;
            }
            let conj = match k {
                Kind::And => {
                    self.next()?;
                    Conj::And
                }
                Kind::Or => {
                    self.next()?;
                    Conj::Or
                }
                _ => Conj::None,
            };
            let m = self.modifier()?;
            let (node, tail) = self.clause(field, m != Modifier::None)?;
            trailing = tail;
            self.add_clause(&mut clauses, conj, m, node, false);
        }
        if clauses.len() == 1
            && let Some(f) = first
        {
            return Ok(f);
        }
        Ok(Node::Group(clauses))
    }

    fn modifier(&mut self) -> Result<Modifier, SyntaxError> {
        Ok(match self.kind(0)? {
            Kind::Plus => {
                self.next()?;
                Modifier::Required
            }
            Kind::Minus | Kind::Not => {
                self.next()?;
                Modifier::Prohibited
            }
            _ => Modifier::None,
        })
    }

    /// The occurrence rules of `QueryParserBase#addClause` (see the module docs).
    fn add_clause(
        &self,
        clauses: &mut Vec<Clause>,
        conj: Conj,
        m: Modifier,
        node: Node,
        multi_term: bool,
    ) {
        if let Some(last) = clauses.last_mut() {
            if conj == Conj::And && last.occur != Occur::MustNot {
                last.occur = Occur::Must;
            }
            if self.operator == Operator::And && conj == Conj::Or && last.occur != Occur::MustNot {
                last.occur = Occur::Should;
            }
        }
        let prohibited = m == Modifier::Prohibited;
        let required = match self.operator {
            Operator::Or => m == Modifier::Required || (conj == Conj::And && !prohibited),
            Operator::And => !prohibited && conj != Conj::Or,
        };
        let occur = if prohibited {
            Occur::MustNot
        } else if required {
            Occur::Must
        } else {
            Occur::Should
        };
        clauses.push(Clause {
            occur,
            node,
            multi_term,
        });
    }

    /// MultiTerm := TERM TERM+ — the texts are joined with spaces and analysed as one.
    fn multi_term(
        &mut self,
        field: Option<&str>,
        clauses: &mut Vec<Clause>,
    ) -> Result<(), SyntaxError> {
        let mut text = self.next()?.image;
        while self.kind(0)? == Kind::Term && !ends_multi_term(self.kind(1)?) {
            text.push(' ');
            text.push_str(&self.next()?.image);
        }
        let node = Node::Leaf(Leaf {
            field: field.map(str::to_string),
            kind: LeafKind::Text(unescape(&text)?),
            boost: None,
        });
        clauses.push(Clause {
            occur: self.operator.occur(),
            node,
            multi_term: true,
        });
        Ok(())
    }

    /// Clause := [(TERM | "*") ":"] (Term | "(" Query ")" ["^" NUMBER]).
    /// Returns the node and the optional tokens that could still have followed it (for errors).
    fn clause(
        &mut self,
        field: Option<&str>,
        after_modifier: bool,
    ) -> Result<(Node, Vec<Kind>), SyntaxError> {
        let mut field = field.map(str::to_string);
        let k0 = self.kind(0)?;
        if matches!(k0, Kind::Term | Kind::Star) && self.kind(1)? == Kind::Colon {
            let t = self.next()?;
            self.next()?;
            field = Some(if k0 == Kind::Star {
                "*".to_string()
            } else {
                unescape(&t.image)?
            });
            let k = self.kind(0)?;
            if !CLAUSE_START.contains(&k) {
                return Err(self.unexpected(&CLAUSE_START, &[]));
            }
        } else if !CLAUSE_START.contains(&k0) {
            let mut expected = Vec::new();
            if !after_modifier {
                expected.extend([Kind::Not, Kind::Plus, Kind::Minus]);
            }
            expected.extend(CLAUSE_START);
            expected.sort();
            return Err(self.unexpected(&expected, &[Kind::Term, Kind::Star]));
        }
        if self.kind(0)? == Kind::LParen {
            self.next()?;
            self.depth += 1;
            if self.depth > MAX_GROUP_DEPTH {
                return Err(too_deep());
            }
            let inner = self.query(field.as_deref(), Kind::RParen)?;
            self.depth -= 1;
            self.next()?; // ")"
            if self.kind(0)? == Kind::Carat {
                self.next()?;
                let n = self.expect(&[Kind::Number], &[])?;
                return Ok((
                    Node::Boosted(Box::new(inner), parse_boost(&n.image)),
                    vec![],
                ));
            }
            return Ok((inner, vec![Kind::Carat]));
        }
        self.term(field)
    }

    fn term(&mut self, field: Option<String>) -> Result<(Node, Vec<Kind>), SyntaxError> {
        let t = self.next()?;
        match t.kind {
            Kind::RangeInStart | Kind::RangeExStart => {
                let bounds = [Kind::RangeTo, Kind::RangeQuoted, Kind::RangeGoop];
                let lo = self.expect(&bounds, &[])?;
                self.expect(&[Kind::RangeTo], &[])?;
                let hi = self.expect(&bounds, &[])?;
                let close = self.expect(&[Kind::RangeInEnd, Kind::RangeExEnd], &[])?;
                let mut boost = None;
                let mut tail = vec![Kind::Carat];
                if self.kind(0)? == Kind::Carat {
                    self.next()?;
                    boost = Some(parse_boost(&self.expect(&[Kind::Number], &[])?.image));
                    tail.clear();
                }
                let bound = |tok: &Token| -> Result<Option<String>, SyntaxError> {
                    if tok.kind == Kind::RangeQuoted {
                        let inner: String = {
                            let c: Vec<char> = tok.image.chars().collect();
                            c[1..c.len() - 1].iter().collect()
                        };
                        return Ok(Some(unescape(&inner)?));
                    }
                    if tok.image == "*" {
                        return Ok(None);
                    }
                    Ok(Some(unescape(&tok.image)?))
                };
                let leaf = Leaf {
                    field,
                    kind: LeafKind::Range {
                        lower: bound(&lo)?,
                        upper: bound(&hi)?,
                        include_lower: t.kind == Kind::RangeInStart,
                        include_upper: close.kind == Kind::RangeInEnd,
                    },
                    boost,
                };
                Ok((Node::Leaf(leaf), tail))
            }
            _ => {
                // Optional suffixes: "^" NUMBER [FUZZY_SLOP] | FUZZY_SLOP ["^" NUMBER].
                let mut boost = None;
                let mut fuzzy: Option<String> = None;
                let mut tail = vec![];
                match self.kind(0)? {
                    Kind::Carat => {
                        self.next()?;
                        boost = Some(parse_boost(&self.expect(&[Kind::Number], &[])?.image));
                        if self.kind(0)? == Kind::FuzzySlop {
                            fuzzy = Some(self.next()?.image);
                        } else {
                            tail.push(Kind::FuzzySlop);
                        }
                    }
                    Kind::FuzzySlop => {
                        fuzzy = Some(self.next()?.image);
                        if self.kind(0)? == Kind::Carat {
                            self.next()?;
                            boost = Some(parse_boost(&self.expect(&[Kind::Number], &[])?.image));
                        } else {
                            tail.push(Kind::Carat);
                        }
                    }
                    _ => tail.extend([Kind::Carat, Kind::FuzzySlop]),
                }
                let fuzzy = fuzzy.map(|f| f[1..].to_string());
                let kind = leaf_kind(&t, fuzzy)?;
                Ok((Node::Leaf(Leaf { field, kind, boost }), tail))
            }
        }
    }
}

fn parse_boost(s: &str) -> f64 {
    s.parse().unwrap_or(1.0)
}

/// What a single term token means (`handleBareTokenQuery` / `handleQuotedTerm`).
fn leaf_kind(t: &Token, fuzzy: Option<String>) -> Result<LeafKind, SyntaxError> {
    let img = t.image.as_str();
    Ok(match t.kind {
        Kind::Quoted => LeafKind::Phrase {
            text: unescape(&img[1..img.len() - 1])?,
            slop: fuzzy,
        },
        Kind::Star | Kind::WildTerm => LeafKind::Wildcard(img.to_string()),
        Kind::PrefixTerm => LeafKind::Prefix(unescape(&img[..img.len() - 1])?),
        Kind::RegexpTerm => LeafKind::Regexp(img[1..img.len() - 1].to_string()),
        // "+ ", "- ", "! ": the operator char alone, as a term.
        Kind::BareOper => LeafKind::Text(img[..1].to_string()),
        _ => match fuzzy {
            Some(distance) => LeafKind::Fuzzy {
                term: unescape(img)?,
                distance,
            },
            None => LeafKind::Text(unescape(img)?),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(q: &str) -> Node {
        parse(q, Operator::Or).unwrap().unwrap()
    }
    fn p_and(q: &str) -> Node {
        parse(q, Operator::And).unwrap().unwrap()
    }
    fn err(q: &str) -> String {
        parse(q, Operator::Or).unwrap_err().message
    }
    fn leaf(field: Option<&str>, kind: LeafKind) -> Node {
        Node::Leaf(Leaf {
            field: field.map(str::to_string),
            kind,
            boost: None,
        })
    }
    fn text(field: Option<&str>, t: &str) -> Node {
        leaf(field, LeafKind::Text(t.into()))
    }
    fn c(occur: Occur, node: Node) -> Clause {
        Clause {
            occur,
            node,
            multi_term: false,
        }
    }
    fn mt(occur: Occur, node: Node) -> Clause {
        Clause {
            occur,
            node,
            multi_term: true,
        }
    }
    use Occur::*;

    fn kinds(q: &str) -> Vec<Kind> {
        let chars: Vec<char> = q.chars().collect();
        tokenize(&chars).0.iter().map(|t| t.kind).collect()
    }

    #[test]
    fn lexer_longest_match_and_ties() {
        // QueryParser.jj token table: "AND" is an operator, "ANDROID" a term (longest match);
        // "&&" ties with a TERM of the same length and the operator wins (listed first).
        assert_eq!(kinds("AND"), [Kind::And, Kind::Eof]);
        assert_eq!(kinds("ANDROID"), [Kind::Term, Kind::Eof]);
        assert_eq!(
            kinds("&& || !"),
            [Kind::And, Kind::Or, Kind::Not, Kind::Eof]
        );
        assert_eq!(kinds("a&&b"), [Kind::Term, Kind::Eof]);
        // "*" alone is STAR; "ab*" PREFIXTERM (beats WILDTERM on the tie); "a*b" and "*b" WILDTERM.
        assert_eq!(kinds("*"), [Kind::Star, Kind::Eof]);
        assert_eq!(kinds("ab*"), [Kind::PrefixTerm, Kind::Eof]);
        assert_eq!(
            kinds("a*b ?b *b"),
            [Kind::WildTerm; 3]
                .iter()
                .copied()
                .chain([Kind::Eof])
                .collect::<Vec<_>>()
        );
        // '-' and '+' continue a term but cannot start one; "- " is a BAREOPER.
        assert_eq!(kinds("a-b"), [Kind::Term, Kind::Eof]);
        assert_eq!(kinds("-a"), [Kind::Minus, Kind::Term, Kind::Eof]);
        assert_eq!(kinds("- a"), [Kind::BareOper, Kind::Term, Kind::Eof]);
        // Escaped reserved chars are term chars.
        assert_eq!(kinds(r"a\:b\ c"), [Kind::Term, Kind::Eof]);
        assert_eq!(kinds("/a\\/b/"), [Kind::RegexpTerm, Kind::Eof]);
        assert_eq!(
            kinds("a~2 a~"),
            [
                Kind::Term,
                Kind::FuzzySlop,
                Kind::Term,
                Kind::FuzzySlop,
                Kind::Eof
            ]
        );
        // Boost mode reads one NUMBER; range mode its own tokens.
        assert_eq!(
            kinds("a^2.5"),
            [Kind::Term, Kind::Carat, Kind::Number, Kind::Eof]
        );
        assert_eq!(
            kinds("[1 TO *}"),
            [
                Kind::RangeInStart,
                Kind::RangeGoop,
                Kind::RangeTo,
                Kind::RangeGoop,
                Kind::RangeExEnd,
                Kind::Eof
            ]
        );
        assert_eq!(kinds("\u{3000}a\u{3000}"), [Kind::Term, Kind::Eof]);
    }

    #[test]
    fn terms_fields_and_default_field() {
        // query-string syntax, "Field names": `status:active`; a bare term uses the default field.
        assert_eq!(p("status:active"), text(Some("status"), "active"));
        assert_eq!(p("active"), text(None, "active"));
        // `*:` names every field; an escaped `\*` makes a field pattern (docs: `book.\*:(quick)`).
        assert_eq!(p("*:x"), text(Some("*"), "x"));
        assert_eq!(p(r"resource.\*:x"), text(Some("resource.*"), "x"));
        // `_exists_:title` is a term on the pseudo-field, interpreted at build time.
        assert_eq!(p("_exists_:title"), text(Some("_exists_"), "title"));
    }

    #[test]
    fn unescaped_star_in_field_name_is_an_error() {
        // `resource.*` is a PREFIXTERM, which cannot be a field name (QueryParser.jj Clause).
        let e = err("resource.*:x");
        assert!(
            e.starts_with("Encountered \" \":\" \": \"\" at line 1, column 10."),
            "{e}"
        );
    }

    #[test]
    fn multi_term_runs_are_analysed_together() {
        // QueryParser.jj MultiTerm (split on whitespace off, as Elasticsearch since 6.0):
        // "new york city" is one text; an operator or a field ends the run.
        assert_eq!(
            p("new york city"),
            Node::Group(vec![mt(Should, text(None, "new york city"))])
        );
        assert_eq!(
            p("a b AND c"),
            Node::Group(vec![
                c(Should, text(None, "a")),
                c(Must, text(None, "b")),
                c(Must, text(None, "c")),
            ])
        );
        assert_eq!(
            p("a b:c"),
            Node::Group(vec![
                c(Should, text(None, "a")),
                c(Should, text(Some("b"), "c"))
            ])
        );
        assert_eq!(p_and("a b"), Node::Group(vec![mt(Must, text(None, "a b"))]));
    }

    #[test]
    fn boolean_operators_follow_add_clause_rules() {
        // QueryParserBase#addClause, default OR: `a AND b OR c` = +a +b c.
        assert_eq!(
            p("a AND b OR c"),
            Node::Group(vec![
                c(Must, text(None, "a")),
                c(Must, text(None, "b")),
                c(Should, text(None, "c")),
            ])
        );
        // default AND: `a AND b OR c` = +a b c (OR makes the previous clause optional).
        assert_eq!(
            p_and("a AND b OR c"),
            Node::Group(vec![
                c(Must, text(None, "a")),
                c(Should, text(None, "b")),
                c(Should, text(None, "c")),
            ])
        );
        // `a OR b AND c` = a +b +c.
        assert_eq!(
            p("a OR b AND c"),
            Node::Group(vec![
                c(Should, text(None, "a")),
                c(Must, text(None, "b")),
                c(Must, text(None, "c")),
            ])
        );
        // && || ! are the same operators.
        assert_eq!(p("a && b"), p("a AND b"));
        assert_eq!(p("a || !b"), p("a OR NOT b"));
        // AND does not make a prohibited previous clause required.
        assert_eq!(
            p("-a AND b"),
            Node::Group(vec![c(MustNot, text(None, "a")), c(Must, text(None, "b"))])
        );
    }

    #[test]
    fn plus_minus_and_not_modifiers() {
        // query-string syntax, "Boolean operators": `quick brown +fox -news`.
        assert_eq!(
            p("+fox -news"),
            Node::Group(vec![
                c(Must, text(None, "fox")),
                c(MustNot, text(None, "news"))
            ])
        );
        assert_eq!(p("NOT a"), Node::Group(vec![c(MustNot, text(None, "a"))]));
        assert_eq!(p("!a"), Node::Group(vec![c(MustNot, text(None, "a"))]));
        // A single unmodified clause is returned as is, not wrapped in a group.
        assert_eq!(p("a"), text(None, "a"));
    }

    #[test]
    fn grouping_and_field_grouping() {
        // "Grouping": `(quick OR brown) AND fox`; `status:(active OR pending)` applies the field inside.
        assert_eq!(
            p("(a OR b) AND c"),
            Node::Group(vec![
                c(
                    Must,
                    Node::Group(vec![c(Should, text(None, "a")), c(Should, text(None, "b"))])
                ),
                c(Must, text(None, "c")),
            ])
        );
        assert_eq!(
            p("status:(200 OR 404)"),
            Node::Group(vec![
                c(Should, text(Some("status"), "200")),
                c(Should, text(Some("status"), "404")),
            ])
        );
        // An inner field overrides the group's field.
        assert_eq!(
            p("a:(b OR c:d)"),
            Node::Group(vec![
                c(Should, text(Some("a"), "b")),
                c(Should, text(Some("c"), "d"))
            ])
        );
    }

    #[test]
    fn phrases_with_slop_and_boost() {
        // "Proximity searches": `"fox quick"~5`; "Boosting": `"john smith"^2`.
        assert_eq!(
            p("\"fox quick\"~5"),
            leaf(
                None,
                LeafKind::Phrase {
                    text: "fox quick".into(),
                    slop: Some("5".into())
                }
            )
        );
        let n = p("title:\"john smith\"^2");
        assert_eq!(
            n,
            Node::Leaf(Leaf {
                field: Some("title".into()),
                kind: LeafKind::Phrase {
                    text: "john smith".into(),
                    slop: None
                },
                boost: Some(2.0)
            })
        );
        // Escaped quotes inside a phrase.
        assert_eq!(
            p(r#""say \"hi\"""#),
            leaf(
                None,
                LeafKind::Phrase {
                    text: "say \"hi\"".into(),
                    slop: None
                }
            )
        );
    }

    #[test]
    fn wildcards_prefix_regexp_fuzzy() {
        // "Wildcards": `qu?ck bro*`; "Regular expressions": `/joh?n(ath[oa]n)/`; "Fuzziness": `quikc~ brwn~ foks~1`.
        assert_eq!(p("qu?ck"), leaf(None, LeafKind::Wildcard("qu?ck".into())));
        assert_eq!(p("bro*"), leaf(None, LeafKind::Prefix("bro".into())));
        assert_eq!(
            p("machine.os:win*"),
            leaf(Some("machine.os"), LeafKind::Prefix("win".into()))
        );
        assert_eq!(p("*"), leaf(None, LeafKind::Wildcard("*".into())));
        assert_eq!(
            p("/joh?n(ath[oa]n)/"),
            leaf(None, LeafKind::Regexp("joh?n(ath[oa]n)".into()))
        );
        assert_eq!(
            p("quikc~"),
            leaf(
                None,
                LeafKind::Fuzzy {
                    term: "quikc".into(),
                    distance: "".into()
                }
            )
        );
        assert_eq!(
            p("foks~1"),
            leaf(
                None,
                LeafKind::Fuzzy {
                    term: "foks".into(),
                    distance: "1".into()
                }
            )
        );
        // Wildcard patterns keep their escapes (the wildcard syntax interprets them).
        assert_eq!(p(r"a\*b*"), leaf(None, LeafKind::Prefix("a*b".into())));
        assert_eq!(p(r"a\*b?"), leaf(None, LeafKind::Wildcard(r"a\*b?".into())));
    }

    #[test]
    fn boosts_on_terms_and_groups() {
        // "Boosting": `quick^2 fox`, `(foo bar)^4`.
        let n = p("quick^2");
        assert!(matches!(n, Node::Leaf(Leaf { boost: Some(b), .. }) if b == 2.0));
        assert_eq!(
            p("(foo OR bar)^4"),
            Node::Boosted(
                Box::new(Node::Group(vec![
                    c(Should, text(None, "foo")),
                    c(Should, text(None, "bar"))
                ])),
                4.0
            )
        );
        // Boost and fuzziness in either order.
        assert_eq!(p("a^2~1"), p("a~1^2"));
    }

    #[test]
    fn ranges_inclusive_exclusive_mixed_and_open() {
        // "Ranges": `[1 TO 5]`, `{1 TO 5}`, `[1 TO 5}`, `{* TO 2012-01-01}`, quoted bounds.
        let r = |lo: Option<&str>, hi: Option<&str>, il, iu| {
            leaf(
                Some("count"),
                LeafKind::Range {
                    lower: lo.map(str::to_string),
                    upper: hi.map(str::to_string),
                    include_lower: il,
                    include_upper: iu,
                },
            )
        };
        assert_eq!(p("count:[1 TO 5]"), r(Some("1"), Some("5"), true, true));
        assert_eq!(p("count:{1 TO 5}"), r(Some("1"), Some("5"), false, false));
        assert_eq!(p("count:[1 TO 5}"), r(Some("1"), Some("5"), true, false));
        assert_eq!(p("count:{* TO 10]"), r(None, Some("10"), false, true));
        assert_eq!(p("count:[10 TO *]"), r(Some("10"), None, true, true));
        assert_eq!(
            p("count:[\"a b\" TO c]"),
            r(Some("a b"), Some("c"), true, true)
        );
        // Date math survives as written (`now-1d` is one RANGE_GOOP).
        assert_eq!(
            p("@timestamp:[now-1d TO now]"),
            leaf(
                Some("@timestamp"),
                LeafKind::Range {
                    lower: Some("now-1d".into()),
                    upper: Some("now".into()),
                    include_lower: true,
                    include_upper: true
                }
            )
        );
    }

    #[test]
    fn one_sided_range_forms_are_terms_until_the_field_is_known() {
        // "Ranges": `age:>10`, `age:>=10`, `age:<10`: a TERM starting with > or <, recognised by
        // QueryStringQueryParser#getFieldQuery.
        assert_eq!(p("age:>=10"), text(Some("age"), ">=10"));
        assert_eq!(p("age:<5"), text(Some("age"), "<5"));
    }

    #[test]
    fn escaping_reserved_characters() {
        // "Reserved characters": `\(1\+1\)\=2`, every reserved char escapable.
        assert_eq!(p(r"\(1\+1\)\=2"), text(None, "(1+1)=2"));
        for ch in [
            '+', '-', '=', '&', '|', '>', '<', '!', '(', ')', '{', '}', '[', ']', '^', '"', '~',
            '*', '?', ':', '\\', '/',
        ] {
            let q = format!("a\\{ch}b");
            assert_eq!(p(&q), text(None, &format!("a{ch}b")), "{q}");
        }
        // \uXXXX escapes (discardEscapeChar).
        assert_eq!(p(r"caf\u00e9"), text(None, "café"));
        assert_eq!(err(r"a\u00"), "Truncated unicode escape sequence.");
        assert_eq!(
            err(r"a\u00zz"),
            "Non-hex character in Unicode escape sequence: z"
        );
        // escape() for `escape: true` escapes every reserved char.
        assert_eq!(escape("a+b (c)"), r"a\+b \(c\)");
        // Words are not escaped: AND stays an operator (as Lucene's QueryParser#escape).
        assert_eq!(
            p(&escape("a:b (c)")),
            Node::Group(vec![mt(Should, text(None, "a:b (c)"))])
        );
    }

    #[test]
    fn parse_errors_in_lucene_words() {
        // Known Elasticsearch answers: "Cannot parse 'Income+tax:+exemptions~4': Encountered \" \"+\" \"+ \"\" at line 1, column 11."
        let e = err("Income+tax:+exemptions~4");
        assert_eq!(
            e,
            "Encountered \" \"+\" \"+ \"\" at line 1, column 11.\nWas expecting one of:\n    <BAREOPER> ...\n    \"(\" ...\n    \"*\" ...\n    <QUOTED> ...\n    <TERM> ...\n    <PREFIXTERM> ...\n    <WILDTERM> ...\n    <REGEXPTERM> ...\n    \"[\" ...\n    \"{\" ...\n    <NUMBER> ...\n    "
        );
        // ":" at the start (graylog report of an ES answer): the clause-start list plus the two
        // lookahead entries <TERM> and "*".
        let e = err(":\"\"");
        assert_eq!(
            e,
            "Encountered \" \":\" \": \"\" at line 1, column 0.\nWas expecting one of:\n    <NOT> ...\n    \"+\" ...\n    \"-\" ...\n    <BAREOPER> ...\n    \"(\" ...\n    \"*\" ...\n    <QUOTED> ...\n    <TERM> ...\n    <PREFIXTERM> ...\n    <WILDTERM> ...\n    <REGEXPTERM> ...\n    \"[\" ...\n    \"{\" ...\n    <NUMBER> ...\n    <TERM> ...\n    \"*\" ...\n    "
        );
        // "NOT" alone: EOF where a clause must start, column = length.
        assert!(err("NOT").starts_with(
            "Encountered \"<EOF>\" at line 1, column 3.\nWas expecting one of:\n    <BAREOPER> ..."
        ));
        assert!(err("foo:").starts_with("Encountered \"<EOF>\" at line 1, column 4."));
        // Unbalanced parentheses.
        assert!(err("(a").starts_with(
            "Encountered \"<EOF>\" at line 1, column 2.\nWas expecting one of:\n    <AND> ..."
        ));
        assert!(err("a)").starts_with("Encountered \" \")\" \") \"\" at line 1, column 1.\nWas expecting one of:\n    <EOF> \n    <AND> ..."));
        assert!(err("AND b").starts_with("Encountered \" <AND> \"AND \"\" at line 1, column 0."));
        // Ranges.
        assert_eq!(
            err("a:[1 TO"),
            "Encountered \"<EOF>\" at line 1, column 7.\nWas expecting one of:\n    \"TO\" ...\n    <RANGE_QUOTED> ...\n    <RANGE_GOOP> ...\n    "
        );
        assert_eq!(
            err("a:[1 2]"),
            "Encountered \" <RANGE_GOOP> \"2 \"\" at line 1, column 5.\nWas expecting:\n    \"TO\" ...\n    "
        );
        assert_eq!(
            err("a^"),
            "Encountered \"<EOF>\" at line 1, column 2.\nWas expecting:\n    <NUMBER> ...\n    "
        );
    }

    #[test]
    fn lexical_errors() {
        // TokenMgrError#LexicalErr wording (Lucene 9): unterminated quote / regexp / escape.
        let e = parse("\"abc", Operator::Or).unwrap_err();
        assert!(e.lexical);
        assert_eq!(
            e.message,
            "Lexical error at line 1, column 5.  Encountered: <EOF> after prefix \"\\\"abc\" (in lexical state 2)"
        );
        assert_eq!(
            err("/ab"),
            "Lexical error at line 1, column 4.  Encountered: <EOF> after prefix \"/ab\" (in lexical state 2)"
        );
        assert_eq!(
            err("a]"),
            "Lexical error at line 1, column 2.  Encountered: ']' (93), (in lexical state 2)"
        );
        assert_eq!(
            err("a^x"),
            "Lexical error at line 1, column 3.  Encountered: 'x' (120),"
        );
        // A lexical error after a syntax error is not reached.
        assert!(err("a:) \"x").starts_with("Encountered \" \")\""));
    }

    #[test]
    fn blank_query_is_none() {
        // QueryStringQueryParser#parse: a blank query matches nothing.
        assert_eq!(parse("   ", Operator::Or).unwrap(), None);
    }
}
