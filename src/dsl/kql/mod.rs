//! KQL (Kibana Query Language) → query DSL, as Kibana's `@kbn/es-query` translates it
//! (`packages/kbn-es-query/src/kuery/grammar/grammar.peggy`, `src/kuery/functions/*.ts`):
//!
//! * `field:value` → `match`; quoted `field:"a b"` → `match_phrase`; a value with an unescaped `*`
//!   → `query_string` on that field; `field:*` → `exists`; no field → `multi_match` over every
//!   field (`lenient`), `query_string` for a wildcard value; `*` alone (or `*:*`) → `match_all`.
//! * `field < v`, `<=`, `>`, `>=` → `range`.
//! * `and` → `bool.filter`, `or` → `bool.should` with `minimum_should_match: 1`, `not` →
//!   `bool.must_not`; keywords are case-insensitive, `and` binds tighter than `or`.
//! * `field:(a or b and not c)` applies the field to every value of the group.
//! * `path:{ … }` → `nested` (`score_mode: none`), the inner field names prefixed with the path.
//! * A field name with `*` expands to the matching fields of the index (each one ORed); without
//!   a field list a value query goes to `multi_match` over the pattern (Elasticsearch expands it).
//!
//! Hand-written recursive descent rather than a parser crate: the grammar is small, and KQL's
//! rule that an unquoted value runs on over spaces until a keyword (`a b or c` is `"a b" OR c`)
//! is a lookahead on raw characters that is simpler to state here than in a combinator library.
//! Errors carry the character position (0-based, in characters like Kibana's `location.offset`).

use crate::error::EsError;
use serde_json::{Value, json};

/// Deepest nesting of groups, `not` and nested queries accepted.
pub const MAX_DEPTH: usize = 64;

/// A KQL syntax error at a character position.
#[derive(Debug, Clone, PartialEq)]
pub struct KqlError {
    pub position: usize,
    pub message: String,
}

impl KqlError {
    /// The 400 the daemon answers, Elasticsearch's error shape with the position and a caret line.
    pub fn to_es(&self, input: &str) -> EsError {
        let caret = format!("{}\n{}^", input, "-".repeat(self.position));
        EsError::new(
            400,
            "kql_syntax_exception",
            format!(
                "KQL syntax error at position {}: {}\n{caret}",
                self.position, self.message
            ),
        )
        .with("position", self.position)
    }
}

/// A range operator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RangeOp {
    Lt,
    Lte,
    Gt,
    Gte,
}

impl RangeOp {
    fn key(self) -> &'static str {
        match self {
            RangeOp::Lt => "lt",
            RangeOp::Lte => "lte",
            RangeOp::Gt => "gt",
            RangeOp::Gte => "gte",
        }
    }
}

/// A value: its text with escapes resolved, and the `query_string` form for wildcard values.
#[derive(Debug, Clone, PartialEq)]
pub struct Literal {
    pub text: String,
    pub quoted: bool,
    /// Has an unescaped `*` (never for quoted values).
    pub wildcard: bool,
    /// `query_string` text: special characters escaped, wildcards kept.
    pub query_string: String,
}

/// The parsed query.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    MatchAll,
    Or(Vec<Node>),
    And(Vec<Node>),
    Not(Box<Node>),
    /// `field:value`, or a free value (`field: None`).
    Is {
        field: Option<String>,
        value: Literal,
    },
    Range {
        field: String,
        op: RangeOp,
        value: Literal,
    },
    Nested {
        path: String,
        query: Box<Node>,
    },
}

/// Parses KQL. An empty (or blank) query is `match_all`.
pub fn parse(input: &str) -> Result<Node, KqlError> {
    let mut p = Parser {
        chars: input.chars().collect(),
        pos: 0,
        depth: 0,
    };
    p.skip_ws();
    if p.at_end() {
        return Ok(Node::MatchAll);
    }
    let node = p.or_expr(None)?;
    p.skip_ws();
    if !p.at_end() {
        return Err(p.error(format!("unexpected {}", p.describe())));
    }
    Ok(node)
}

/// Translates KQL to the query DSL. `fields` is the index's field list, used to expand field names
/// with wildcards; without it such names go to Elasticsearch as patterns where a query accepts one.
pub fn to_dsl(input: &str, fields: Option<&[String]>) -> Result<Value, EsError> {
    let node = parse(input).map_err(|e| e.to_es(input))?;
    translate(&node, fields, None)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
}

/// Characters that end an unquoted literal unless escaped.
fn special(c: char) -> bool {
    matches!(c, '\\' | '(' | ')' | ':' | '<' | '>' | '"' | '{' | '}')
}

impl Parser {
    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn error(&self, message: impl Into<String>) -> KqlError {
        KqlError {
            position: self.pos,
            message: message.into(),
        }
    }

    fn describe(&self) -> String {
        match self.peek() {
            Some(c) => format!("[{c}]"),
            None => "end of input".to_string(),
        }
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn enter(&mut self) -> Result<(), KqlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!("query nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    /// Is there the keyword `word` at `at` (case-insensitive), followed by whitespace, `(`, or (for
    /// `not`) a quote?
    fn keyword_at(&self, at: usize, word: &str) -> bool {
        let n = word.len();
        if at + n > self.chars.len() {
            return false;
        }
        let got: String = self.chars[at..at + n].iter().collect();
        if !got.eq_ignore_ascii_case(word) {
            return false;
        }
        match self.chars.get(at + n) {
            Some(c) => c.is_whitespace() || *c == '(' || (word == "not" && *c == '"'),
            None => false,
        }
    }

    /// Whitespace then `and`/`or` at the current position (the binary operators need a space
    /// before them): returns the position after the keyword.
    fn binary_keyword(&self, word: &str) -> Option<usize> {
        let start = self.pos;
        let mut i = start;
        while self.chars.get(i).is_some_and(|c| c.is_whitespace()) {
            i += 1;
        }
        (i > start && self.keyword_at(i, word)).then_some(i + word.len())
    }

    /// `and_expr (or and_expr)*`; `field` set inside `field:( … )`.
    fn or_expr(&mut self, field: Option<&str>) -> Result<Node, KqlError> {
        let mut items = vec![self.and_expr(field)?];
        while let Some(after) = self.binary_keyword("or") {
            self.pos = after;
            self.skip_ws();
            items.push(self.and_expr(field)?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap()
        } else {
            Node::Or(items)
        })
    }

    fn and_expr(&mut self, field: Option<&str>) -> Result<Node, KqlError> {
        let mut items = vec![self.not_expr(field)?];
        while let Some(after) = self.binary_keyword("and") {
            self.pos = after;
            self.skip_ws();
            items.push(self.not_expr(field)?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap()
        } else {
            Node::And(items)
        })
    }

    fn not_expr(&mut self, field: Option<&str>) -> Result<Node, KqlError> {
        self.skip_ws();
        if self.keyword_at(self.pos, "not") {
            self.enter()?;
            self.pos += 3;
            self.skip_ws();
            let inner = self.not_expr(field)?;
            self.depth -= 1;
            return Ok(Node::Not(Box::new(inner)));
        }
        self.primary(field)
    }

    fn primary(&mut self, field: Option<&str>) -> Result<Node, KqlError> {
        self.skip_ws();
        match self.peek() {
            None => Err(self.error("expected a query, found end of input")),
            Some('(') => {
                self.enter()?;
                self.pos += 1;
                self.skip_ws();
                let inner = self.or_expr(field)?;
                self.skip_ws();
                if self.peek() != Some(')') {
                    return Err(self.error(format!("expected [)], found {}", self.describe())));
                }
                self.pos += 1;
                self.depth -= 1;
                Ok(inner)
            }
            Some(c) if c != '"' && c != '\\' && special(c) => {
                Err(self.error(format!("unexpected {}", self.describe())))
            }
            Some(_) => {
                if let Some(f) = field {
                    // Inside `field:( … )`: only values.
                    let value = self.literal()?;
                    return Ok(is(Some(f), value));
                }
                let start = self.pos;
                let lit = self.literal()?;
                let after_lit = self.pos;
                self.skip_ws();
                match self.peek() {
                    Some(':') => {
                        let name = field_name(&lit, start)?;
                        self.pos += 1;
                        self.field_value(&name)
                    }
                    Some('<') | Some('>') => {
                        let name = field_name(&lit, start)?;
                        let op = self.range_op();
                        self.skip_ws();
                        if self
                            .peek()
                            .is_none_or(|c| c != '"' && c != '\\' && special(c))
                        {
                            return Err(self.error(format!(
                                "expected a value after the range operator, found {}",
                                self.describe()
                            )));
                        }
                        let value = self.literal()?;
                        if value.wildcard {
                            return Err(KqlError {
                                position: self.pos - 1,
                                message: "a range value cannot have a wildcard".to_string(),
                            });
                        }
                        Ok(Node::Range {
                            field: name,
                            op,
                            value,
                        })
                    }
                    _ => {
                        self.pos = after_lit;
                        Ok(is(None, lit))
                    }
                }
            }
        }
    }

    fn range_op(&mut self) -> RangeOp {
        let c = self.peek();
        self.pos += 1;
        let eq = self.peek() == Some('=');
        if eq {
            self.pos += 1;
        }
        match (c, eq) {
            (Some('<'), false) => RangeOp::Lt,
            (Some('<'), true) => RangeOp::Lte,
            (_, false) => RangeOp::Gt,
            (_, true) => RangeOp::Gte,
        }
    }

    /// After `field:` — a value, a group of values, or a nested query.
    fn field_value(&mut self, field: &str) -> Result<Node, KqlError> {
        self.skip_ws();
        match self.peek() {
            Some('(') => {
                self.enter()?;
                self.pos += 1;
                self.skip_ws();
                let inner = self.or_expr(Some(field))?;
                self.skip_ws();
                if self.peek() != Some(')') {
                    return Err(self.error(format!("expected [)], found {}", self.describe())));
                }
                self.pos += 1;
                self.depth -= 1;
                Ok(inner)
            }
            Some('{') => {
                self.enter()?;
                self.pos += 1;
                self.skip_ws();
                if self.peek() == Some('}') {
                    return Err(self.error("expected a query inside the nested group, found [}]"));
                }
                let inner = self.or_expr(None)?;
                self.skip_ws();
                if self.peek() != Some('}') {
                    return Err(self.error(format!("expected [}}], found {}", self.describe())));
                }
                self.pos += 1;
                self.depth -= 1;
                Ok(Node::Nested {
                    path: field.to_string(),
                    query: Box::new(inner),
                })
            }
            Some(c) if c == '"' || c == '\\' || !special(c) => {
                let value = self.literal()?;
                Ok(is(Some(field), value))
            }
            _ => Err(self.error(format!(
                "expected a value, a group or a nested query, found {}",
                self.describe()
            ))),
        }
    }

    /// A quoted string, or an unquoted literal that runs on over spaces until a special character
    /// or ` and ` / ` or ` / a `not ` word (trailing spaces are not part of it).
    fn literal(&mut self) -> Result<Literal, KqlError> {
        if self.peek() == Some('"') {
            return self.quoted();
        }
        let mut text = String::new();
        let mut qs = String::new();
        let mut wildcard = false;
        // End of the literal without its trailing whitespace.
        let mut end = self.pos;
        let mut text_len = 0;
        let mut qs_len = 0;
        while let Some(c) = self.peek() {
            if c.is_whitespace() {
                // A keyword after whitespace ends the literal.
                let mut i = self.pos;
                while self.chars.get(i).is_some_and(|c| c.is_whitespace()) {
                    i += 1;
                }
                if self.keyword_at(i, "or")
                    || self.keyword_at(i, "and")
                    || self.keyword_at(i, "not")
                {
                    break;
                }
                text.push(c);
                push_qs_escaped(&mut qs, c);
                self.pos += 1;
                continue;
            }
            if c == '\\' {
                let Some(&e) = self.chars.get(self.pos + 1) else {
                    return Err(self.error("a backslash at the end of the query escapes nothing"));
                };
                match e {
                    't' => text.push('\t'),
                    'n' => text.push('\n'),
                    'r' => text.push('\r'),
                    'u' => {
                        let hex: String = self.chars.iter().skip(self.pos + 2).take(4).collect();
                        let cp = (hex.len() == 4)
                            .then(|| u32::from_str_radix(&hex, 16).ok())
                            .flatten()
                            .and_then(char::from_u32)
                            .ok_or_else(|| self.error("\\u needs four hexadecimal digits"))?;
                        text.push(cp);
                        push_qs_escaped(&mut qs, cp);
                        self.pos += 6;
                        end = self.pos;
                        text_len = text.len();
                        qs_len = qs.len();
                        continue;
                    }
                    e if special(e) || e == '*' || e.is_whitespace() => text.push(e),
                    // `\and`, `\or`, `\not`: the word, not the keyword.
                    e if e.is_alphabetic() && self.escaped_keyword() => text.push(e),
                    e => {
                        return Err(self.error(format!("[\\{e}] is not a KQL escape sequence")));
                    }
                }
                push_qs_escaped(&mut qs, text.chars().last().unwrap_or(e));
                self.pos += 2;
            } else if special(c) {
                break;
            } else if c == '*' {
                wildcard = true;
                text.push('*');
                qs.push('*');
                self.pos += 1;
            } else {
                text.push(c);
                push_qs_escaped(&mut qs, c);
                self.pos += 1;
            }
            end = self.pos;
            text_len = text.len();
            qs_len = qs.len();
        }
        self.pos = end;
        text.truncate(text_len);
        qs.truncate(qs_len);
        if text.is_empty() {
            return Err(self.error(format!("expected a value, found {}", self.describe())));
        }
        Ok(Literal {
            text,
            quoted: false,
            wildcard,
            query_string: qs,
        })
    }

    /// After a backslash: is the escaped word `and`/`or`/`not`?
    fn escaped_keyword(&self) -> bool {
        let rest: String = self.chars.iter().skip(self.pos + 1).take(3).collect();
        let lower = rest.to_ascii_lowercase();
        lower.starts_with("or") || lower.starts_with("and") || lower.starts_with("not")
    }

    fn quoted(&mut self) -> Result<Literal, KqlError> {
        let open = self.pos;
        self.pos += 1;
        let mut text = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(KqlError {
                        position: open,
                        message: "unterminated quoted string".to_string(),
                    });
                }
                Some('"') => {
                    self.pos += 1;
                    break;
                }
                Some('\\') => {
                    match self.chars.get(self.pos + 1) {
                        Some('t') => text.push('\t'),
                        Some('n') => text.push('\n'),
                        Some('r') => text.push('\r'),
                        Some(&c @ ('"' | '\\')) => text.push(c),
                        Some(&c) => {
                            text.push('\\');
                            text.push(c);
                        }
                        None => {
                            return Err(KqlError {
                                position: open,
                                message: "unterminated quoted string".to_string(),
                            });
                        }
                    }
                    self.pos += 2;
                }
                Some(c) => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
        let mut qs = String::new();
        qs.push('"');
        for c in text.chars() {
            if c == '"' || c == '\\' {
                qs.push('\\');
            }
            qs.push(c);
        }
        qs.push('"');
        Ok(Literal {
            text,
            quoted: true,
            wildcard: false,
            query_string: qs,
        })
    }
}

/// Escapes a character for Lucene's query syntax (query_string reserved characters).
fn push_qs_escaped(out: &mut String, c: char) {
    if "+-=&|!(){}[]^\"~*?:\\/<> ".contains(c) {
        out.push('\\');
    }
    out.push(c);
}

fn field_name(lit: &Literal, at: usize) -> Result<String, KqlError> {
    if lit.text.trim().is_empty() {
        return Err(KqlError {
            position: at,
            message: "expected a field name".to_string(),
        });
    }
    Ok(lit.text.trim().to_string())
}

fn is(field: Option<&str>, value: Literal) -> Node {
    Node::Is {
        field: field.map(str::to_string),
        value,
    }
}

/// `*` wildcard match of a field name (`.` is plain).
fn glob(pattern: &str, name: &str) -> bool {
    crate::catalog::glob_match(pattern, name)
}

/// The fields a (possibly wildcard) name stands for, under the nested path `prefix`.
fn expand(name: &str, fields: Option<&[String]>, prefix: Option<&str>) -> Vec<String> {
    let full = match prefix {
        Some(p) => format!("{p}.{name}"),
        None => name.to_string(),
    };
    if !full.contains('*') {
        return vec![full];
    }
    match fields {
        Some(list) => list.iter().filter(|f| glob(&full, f)).cloned().collect(),
        None => vec![full],
    }
}

/// One query per field, ORed when a wildcard name matched several (none: matches nothing).
fn per_field(names: Vec<String>, mut one: impl FnMut(&str) -> Value) -> Value {
    match names.len() {
        1 => one(&names[0]),
        _ => json!({"bool": {
            "should": names.iter().map(|f| one(f)).collect::<Vec<_>>(),
            "minimum_should_match": 1
        }}),
    }
}

fn translate(
    node: &Node,
    fields: Option<&[String]>,
    prefix: Option<&str>,
) -> Result<Value, EsError> {
    Ok(match node {
        Node::MatchAll => json!({"match_all": {}}),
        Node::Or(items) => json!({"bool": {
            "should": items.iter().map(|n| translate(n, fields, prefix)).collect::<Result<Vec<_>, _>>()?,
            "minimum_should_match": 1
        }}),
        Node::And(items) => json!({"bool": {
            "filter": items.iter().map(|n| translate(n, fields, prefix)).collect::<Result<Vec<_>, _>>()?
        }}),
        Node::Not(inner) => json!({"bool": {"must_not": [translate(inner, fields, prefix)?]}}),
        Node::Nested { path, query } => {
            let full = match prefix {
                Some(p) => format!("{p}.{path}"),
                None => path.clone(),
            };
            if full.contains('*') {
                return Err(EsError::parsing(format!(
                    "KQL: a nested query's path cannot have a wildcard [{full}]"
                )));
            }
            json!({"nested": {
                "path": full,
                "query": translate(query, fields, Some(&full))?,
                "score_mode": "none"
            }})
        }
        Node::Range { field, op, value } => {
            let names = expand(field, fields, prefix);
            if names.iter().any(|n| n.contains('*')) {
                return Err(EsError::parsing(format!(
                    "KQL: a range on a field pattern [{field}] needs the index's field list"
                )));
            }
            let v = range_value(value);
            per_field(names, |f| json!({"range": {f: {op.key(): v.clone()}}}))
        }
        Node::Is { field, value } => {
            let field = field.as_deref().filter(|f| *f != "*");
            let all = !value.quoted && value.text == "*";
            match field {
                None if all => json!({"match_all": {}}),
                None if value.wildcard => json!({"query_string": {"query": value.query_string}}),
                None => json!({"multi_match": {
                    "type": if value.quoted { "phrase" } else { "best_fields" },
                    "query": value.text,
                    "lenient": true
                }}),
                Some(f) => {
                    let names = expand(f, fields, prefix);
                    let pattern = names.iter().any(|n| n.contains('*'));
                    if pattern && all {
                        return Err(EsError::parsing(format!(
                            "KQL: [{f}:*] on a field pattern needs the index's field list"
                        )));
                    }
                    if pattern {
                        json!({"multi_match": {
                            "type": if value.quoted { "phrase" } else { "best_fields" },
                            "query": value.text,
                            "fields": names,
                            "lenient": true
                        }})
                    } else if all {
                        per_field(names, |f| json!({"exists": {"field": f}}))
                    } else if value.wildcard {
                        per_field(
                            names,
                            |f| json!({"query_string": {"fields": [f], "query": value.query_string}}),
                        )
                    } else if value.quoted {
                        per_field(names, |f| json!({"match_phrase": {f: value.text}}))
                    } else {
                        per_field(names, |f| json!({"match": {f: value.text}}))
                    }
                }
            }
        }
    })
}

/// Range bounds: numbers stay numbers, everything else (dates, date math, IPs) is text.
fn range_value(v: &Literal) -> Value {
    if !v.quoted {
        if let Ok(i) = v.text.parse::<i64>() {
            return json!(i);
        }
        if let Ok(f) = v.text.parse::<f64>()
            && f.is_finite()
        {
            return json!(f);
        }
    }
    json!(v.text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dsl(q: &str) -> Value {
        to_dsl(q, None).unwrap_or_else(|e| panic!("{q}: {e:?}"))
    }

    #[test]
    fn values_run_over_spaces_until_a_keyword() {
        assert_eq!(
            dsl("message: null pointer"),
            json!({"match": {"message": "null pointer"}})
        );
        assert_eq!(
            dsl("a:b c or d:e"),
            json!({"bool": {"should": [{"match": {"a": "b c"}}, {"match": {"d": "e"}}], "minimum_should_match": 1}})
        );
        assert_eq!(
            dsl("Hello world"),
            json!({"multi_match": {"type": "best_fields", "query": "Hello world", "lenient": true}})
        );
    }

    #[test]
    fn precedence_and_case_insensitive_keywords() {
        assert_eq!(
            dsl("a:1 OR b:2 And NOT c:3"),
            json!({"bool": {"should": [
                {"match": {"a": "1"}},
                {"bool": {"filter": [{"match": {"b": "2"}}, {"bool": {"must_not": [{"match": {"c": "3"}}]}}]}}
            ], "minimum_should_match": 1}})
        );
    }

    #[test]
    fn fields_groups_nested_ranges_exists() {
        assert_eq!(
            dsl("m:(GET or POST)"),
            json!({"bool": {"should": [{"match": {"m": "GET"}}, {"match": {"m": "POST"}}], "minimum_should_match": 1}})
        );
        assert_eq!(dsl("m:*"), json!({"exists": {"field": "m"}}));
        assert_eq!(dsl("bytes >= 10"), json!({"range": {"bytes": {"gte": 10}}}));
        assert_eq!(
            dsl("@timestamp < now-2w"),
            json!({"range": {"@timestamp": {"lt": "now-2w"}}})
        );
        assert_eq!(
            dsl("items:{ name:x and qty > 2 }"),
            json!({"nested": {"path": "items", "query": {"bool": {"filter": [
                {"match": {"items.name": "x"}}, {"range": {"items.qty": {"gt": 2}}}
            ]}}, "score_mode": "none"}})
        );
        assert_eq!(
            dsl("os:win*"),
            json!({"query_string": {"fields": ["os"], "query": "win*"}})
        );
        assert_eq!(
            dsl("u:https\\://x.com"),
            json!({"match": {"u": "https://x.com"}})
        );
        assert_eq!(
            dsl("u:\"a \\\"b\\\"\""),
            json!({"match_phrase": {"u": "a \"b\""}})
        );
        assert_eq!(dsl(""), json!({"match_all": {}}));
        assert_eq!(dsl("*"), json!({"match_all": {}}));
    }

    #[test]
    fn wildcard_field_names_expand_with_a_field_list() {
        let fields = vec![
            "ds.type".to_string(),
            "ds.name".to_string(),
            "x".to_string(),
        ];
        assert_eq!(
            to_dsl("ds.*:logs", Some(&fields)).unwrap(),
            json!({"bool": {"should": [{"match": {"ds.type": "logs"}}, {"match": {"ds.name": "logs"}}], "minimum_should_match": 1}})
        );
    }

    #[test]
    fn errors_have_positions() {
        for (q, pos) in [
            ("a:", 2),
            ("a:(b", 4),
            ("(a", 2),
            ("a:\"x", 2),
            ("a:b)", 3),
            ("a >", 3),
        ] {
            let e = parse(q).unwrap_err();
            assert_eq!(e.position, pos, "{q}: {e:?}");
        }
        let deep = "(".repeat(100) + "a" + &")".repeat(100);
        assert!(parse(&deep).unwrap_err().message.contains("deeper"));
    }
}
