//! KQL, Kibana's query language, translated to the query DSL as Kibana does it in the browser
//! (kbn-es-query `kuery`: grammar.peggy and functions/{and,or,not,is,range,exists,nested}.ts), so
//! scripts and the log explorer can send what people type in Kibana's search bar.
//!
//! The grammar is small and its errors must point at a character, so this is a hand-written
//! recursive-descent parser (no grammar crate gives Kibana's lookahead on `and`/`or`/`not` inside
//! unquoted values with positions as cheaply). Nesting is bounded by [`MAX_DEPTH`].
//!
//! What it builds, without a mapping (Kibana's output for fields it cannot expand):
//! * `f:v` → `match`; `f:"a b"` → `match_phrase`; `f:*` → `exists`; a value with `*` →
//!   `query_string` on that field; a field name with `*` → `query_string` on that pattern;
//! * a bare value → `multi_match` (`best_fields`, `lenient`; `phrase` when quoted; `match_all`
//!   for `*`);
//! * `f < v`, `<=`, `>`, `>=` → `range`;
//! * `and` → `bool.filter`, `or` → `bool.should` with `minimum_should_match: 1`, `not` →
//!   `bool.must_not`; `f:(a or b)` applies the value list to `f`;
//! * `path:{ q }` → `nested` (`score_mode: none`), the fields of `q` under `path`.
//!
//! Unquoted values may hold spaces (`message: quick brown fox` is one value), up to a keyword.

use serde_json::{Value, json};

/// Deepest nesting of groups, value lists and nested queries.
pub const MAX_DEPTH: usize = 64;

/// A KQL syntax error at a character offset.
#[derive(Debug, Clone, PartialEq)]
pub struct KqlError {
    pub message: String,
    /// Offset in characters from the start of the query.
    pub position: usize,
}

impl std::fmt::Display for KqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at position {}", self.message, self.position)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    /// `field: value` (field `None`: a bare value).
    Is {
        field: Option<Lit>,
        value: Lit,
    },
    Range {
        field: Lit,
        op: &'static str,
        value: Lit,
    },
    Nested {
        path: Lit,
        query: Box<Node>,
    },
    /// `field: (list)` before it is distributed over the field.
    List {
        field: Lit,
        list: Box<ValueList>,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum ValueList {
    And(Vec<ValueList>),
    Or(Vec<ValueList>),
    Not(Box<ValueList>),
    One(Lit),
}

/// A literal: its text with escapes resolved, whether it was quoted, and whether it holds an
/// unescaped `*`.
#[derive(Debug, Clone, PartialEq)]
struct Lit {
    text: String,
    quoted: bool,
    wildcard: bool,
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
}

const SPECIAL: &str = "\\():<>\"*{}";

impl Parser {
    fn err<T>(&self, message: impl Into<String>) -> Result<T, KqlError> {
        Err(KqlError {
            message: message.into(),
            position: self.pos,
        })
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// Whether a keyword (`or`, `and`, `not`, any case) followed by whitespace or a parenthesis
    /// starts at `at`.
    fn keyword_at(&self, at: usize, kw: &str) -> bool {
        let n = kw.len();
        if at + n > self.chars.len() {
            return false;
        }
        let word: String = self.chars[at..at + n].iter().collect();
        if !word.eq_ignore_ascii_case(kw) {
            return false;
        }
        match self.chars.get(at + n) {
            None => kw != "not",
            Some(c) => c.is_whitespace() || (*c == '(' && kw == "not"),
        }
    }

    /// Consumes ` or ` / ` and ` between operands (whitespace on both sides).
    fn binary_keyword(&mut self, kw: &str) -> bool {
        let save = self.pos;
        let had_space = self.peek().is_some_and(char::is_whitespace);
        self.skip_space();
        if (had_space || save == 0) && self.keyword_at(self.pos, kw) {
            let after = self.pos + kw.len();
            if self.chars.get(after).is_some_and(|c| c.is_whitespace()) {
                self.pos = after;
                self.skip_space();
                return true;
            }
        }
        self.pos = save;
        false
    }

    fn enter(&mut self) -> Result<(), KqlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err(format!("KQL nested more than {MAX_DEPTH} levels deep"));
        }
        Ok(())
    }

    fn or_query(&mut self) -> Result<Node, KqlError> {
        self.enter()?;
        let mut parts = vec![self.and_query()?];
        while self.binary_keyword("or") {
            parts.push(self.and_query()?);
        }
        self.depth -= 1;
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Node::Or(parts)
        })
    }

    fn and_query(&mut self) -> Result<Node, KqlError> {
        let mut parts = vec![self.not_query()?];
        while self.binary_keyword("and") {
            parts.push(self.not_query()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Node::And(parts)
        })
    }

    fn not_query(&mut self) -> Result<Node, KqlError> {
        self.skip_space();
        if self.keyword_at(self.pos, "not") {
            self.pos += 3;
            self.skip_space();
            self.enter()?;
            let inner = self.sub_query()?;
            self.depth -= 1;
            return Ok(Node::Not(Box::new(inner)));
        }
        self.sub_query()
    }

    fn sub_query(&mut self) -> Result<Node, KqlError> {
        self.skip_space();
        if self.peek() == Some('(') {
            self.pos += 1;
            let q = self.or_query()?;
            self.skip_space();
            if self.peek() != Some(')') {
                return self.err("Expected \")\"");
            }
            self.pos += 1;
            return Ok(q);
        }
        self.expression()
    }

    fn expression(&mut self) -> Result<Node, KqlError> {
        let start = self.pos;
        let Some(first) = self.literal()? else {
            return self.err("Expected \"(\", NOT, field name or value");
        };
        self.skip_space();
        match self.peek() {
            Some(':') => {
                self.pos += 1;
                self.skip_space();
                match self.peek() {
                    Some('{') => {
                        self.pos += 1;
                        self.enter()?;
                        let q = self.or_query()?;
                        self.depth -= 1;
                        self.skip_space();
                        if self.peek() != Some('}') {
                            return self.err("Expected \"}\"");
                        }
                        self.pos += 1;
                        Ok(Node::Nested {
                            path: first,
                            query: Box::new(q),
                        })
                    }
                    Some('(') => {
                        self.pos += 1;
                        let list = self.or_values()?;
                        self.skip_space();
                        if self.peek() != Some(')') {
                            return self.err("Expected \")\"");
                        }
                        self.pos += 1;
                        Ok(Node::List {
                            field: first,
                            list: Box::new(list),
                        })
                    }
                    _ => match self.literal()? {
                        Some(value) => Ok(Node::Is {
                            field: Some(first),
                            value,
                        }),
                        None => self.err("Expected \"(\", \"{\" or value"),
                    },
                }
            }
            Some('<') | Some('>') => {
                let op = match (self.peek(), self.chars.get(self.pos + 1)) {
                    (Some('<'), Some('=')) => "lte",
                    (Some('>'), Some('=')) => "gte",
                    (Some('<'), _) => "lt",
                    _ => "gt",
                };
                self.pos += if op.len() == 3 { 2 } else { 1 };
                self.skip_space();
                match self.literal()? {
                    Some(value) => Ok(Node::Range {
                        field: first,
                        op,
                        value,
                    }),
                    None => self.err("Expected a value after the range operator"),
                }
            }
            _ => {
                // A bare value: it may have swallowed trailing spaces; nothing else to read.
                let _ = start;
                Ok(Node::Is {
                    field: None,
                    value: first,
                })
            }
        }
    }

    fn or_values(&mut self) -> Result<ValueList, KqlError> {
        self.enter()?;
        let mut parts = vec![self.and_values()?];
        while self.binary_keyword("or") {
            parts.push(self.and_values()?);
        }
        self.depth -= 1;
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            ValueList::Or(parts)
        })
    }

    fn and_values(&mut self) -> Result<ValueList, KqlError> {
        let mut parts = vec![self.not_values()?];
        while self.binary_keyword("and") {
            parts.push(self.not_values()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            ValueList::And(parts)
        })
    }

    fn not_values(&mut self) -> Result<ValueList, KqlError> {
        self.skip_space();
        if self.keyword_at(self.pos, "not") {
            self.pos += 3;
            self.skip_space();
            self.enter()?;
            let inner = self.value_list_item()?;
            self.depth -= 1;
            return Ok(ValueList::Not(Box::new(inner)));
        }
        self.value_list_item()
    }

    fn value_list_item(&mut self) -> Result<ValueList, KqlError> {
        self.skip_space();
        if self.peek() == Some('(') {
            self.pos += 1;
            let l = self.or_values()?;
            self.skip_space();
            if self.peek() != Some(')') {
                return self.err("Expected \")\"");
            }
            self.pos += 1;
            return Ok(l);
        }
        match self.literal()? {
            Some(l) => Ok(ValueList::One(l)),
            None => self.err("Expected a value"),
        }
    }

    /// A quoted string or an unquoted literal (which may hold spaces, up to a keyword or a
    /// special character); `None` when neither starts here.
    fn literal(&mut self) -> Result<Option<Lit>, KqlError> {
        self.skip_space();
        if self.peek() == Some('"') {
            let open = self.pos;
            self.pos += 1;
            let mut text = String::new();
            loop {
                match self.peek() {
                    None => {
                        self.pos = open;
                        return self.err("Unterminated quoted string");
                    }
                    Some('"') => {
                        self.pos += 1;
                        break;
                    }
                    Some('\\') => {
                        let c = self.chars.get(self.pos + 1).copied();
                        match c {
                            Some('t') => text.push('\t'),
                            Some('n') => text.push('\n'),
                            Some('r') => text.push('\r'),
                            Some(c @ ('"' | '\\')) => text.push(c),
                            _ => {
                                self.pos += 1;
                                return self.err("Invalid escape in a quoted string");
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
            return Ok(Some(Lit {
                text,
                quoted: true,
                wildcard: false,
            }));
        }
        let mut text = String::new();
        let mut wildcard = false;
        let mut pending_space = String::new();
        while let Some(c) = self.peek() {
            if c.is_whitespace() {
                // Spaces belong to the value unless a keyword or the end follows.
                let mut j = self.pos;
                while self.chars.get(j).is_some_and(|c| c.is_whitespace()) {
                    j += 1;
                }
                let next = self.chars.get(j).copied();
                if text.is_empty()
                    || next.is_none()
                    || next.is_some_and(|n| SPECIAL.contains(n) && n != '*' && n != '\\')
                    || self.keyword_at(j, "or")
                    || self.keyword_at(j, "and")
                    || self.keyword_at(j, "not")
                {
                    break;
                }
                pending_space.extend(&self.chars[self.pos..j]);
                self.pos = j;
                continue;
            }
            if c == '\\' {
                let Some(n) = self.chars.get(self.pos + 1).copied() else {
                    self.pos += 1;
                    return self.err("Expected an escaped character after \\");
                };
                text.push_str(&pending_space);
                pending_space.clear();
                match n {
                    't' => text.push('\t'),
                    'n' => text.push('\n'),
                    'r' => text.push('\r'),
                    c if SPECIAL.contains(c) => {
                        // An escaped `*` is a literal star; keep it escaped for query_string.
                        if c == '*' {
                            text.push('\\');
                        }
                        text.push(c);
                    }
                    _ => {
                        // Escaped keywords: `\and`.
                        let rest: String = self.chars[self.pos + 1..].iter().take(3).collect();
                        let kw = ["and", "not", "or"]
                            .into_iter()
                            .find(|k| rest.to_ascii_lowercase().starts_with(k));
                        match kw {
                            Some(k) => {
                                text.extend(&self.chars[self.pos + 1..self.pos + 1 + k.len()]);
                                self.pos += 1 + k.len();
                                continue;
                            }
                            None => {
                                self.pos += 1;
                                return self.err(format!("Invalid escape \\{n}"));
                            }
                        }
                    }
                }
                self.pos += 2;
                continue;
            }
            if c == '*' {
                text.push_str(&pending_space);
                pending_space.clear();
                text.push('*');
                wildcard = true;
                self.pos += 1;
                continue;
            }
            if SPECIAL.contains(c) {
                break;
            }
            if text.is_empty()
                && (self.keyword_at(self.pos, "or")
                    || self.keyword_at(self.pos, "and")
                    || self.keyword_at(self.pos, "not"))
            {
                break;
            }
            text.push_str(&pending_space);
            pending_space.clear();
            text.push(c);
            self.pos += 1;
        }
        if text.is_empty() {
            return Ok(None);
        }
        Ok(Some(Lit {
            text,
            quoted: false,
            wildcard,
        }))
    }
}

fn parse(query: &str) -> Result<Option<Node>, KqlError> {
    let mut p = Parser {
        chars: query.chars().collect(),
        pos: 0,
        depth: 0,
    };
    p.skip_space();
    if p.peek().is_none() {
        return Ok(None);
    }
    let q = p.or_query()?;
    p.skip_space();
    if p.peek().is_some() {
        return p.err("Expected AND, OR or end of input");
    }
    Ok(Some(q))
}

/// The field name of a literal, under a nested path.
fn field_name(l: &Lit, prefix: &str) -> String {
    if prefix.is_empty() {
        l.text.clone()
    } else {
        format!("{prefix}.{}", l.text)
    }
}

fn value_json(l: &Lit) -> Value {
    json!(l.text)
}

fn is_query(field: Option<&Lit>, value: &Lit, prefix: &str) -> Value {
    let Some(f) = field else {
        if !value.quoted && value.text == "*" {
            return json!({"match_all": {}});
        }
        if value.quoted {
            return json!({"multi_match": {"type": "phrase", "query": value.text, "lenient": true}});
        }
        if value.wildcard {
            return json!({"query_string": {"query": value.text}});
        }
        return json!({"multi_match": {"type": "best_fields", "query": value.text, "lenient": true}});
    };
    let name = field_name(f, prefix);
    if !value.quoted && value.text == "*" {
        return json!({"exists": {"field": name}});
    }
    if f.wildcard || (value.wildcard && !value.quoted) {
        let q = if value.quoted {
            format!(
                "\"{}\"",
                value.text.replace('\\', "\\\\").replace('"', "\\\"")
            )
        } else {
            value.text.clone()
        };
        return json!({"query_string": {"fields": [name], "query": q}});
    }
    if value.quoted {
        return json!({"match_phrase": {name: value_json(value)}});
    }
    json!({"match": {name: value_json(value)}})
}

fn or(parts: Vec<Value>) -> Value {
    json!({"bool": {"should": parts, "minimum_should_match": 1}})
}

fn and(parts: Vec<Value>) -> Value {
    json!({"bool": {"filter": parts}})
}

fn not(inner: Value) -> Value {
    json!({"bool": {"must_not": [inner]}})
}

fn list_query(field: &Lit, list: &ValueList, prefix: &str) -> Value {
    match list {
        ValueList::One(v) => is_query(Some(field), v, prefix),
        ValueList::And(ps) => and(ps.iter().map(|p| list_query(field, p, prefix)).collect()),
        ValueList::Or(ps) => or(ps.iter().map(|p| list_query(field, p, prefix)).collect()),
        ValueList::Not(p) => not(list_query(field, p, prefix)),
    }
}

fn to_dsl(n: &Node, prefix: &str) -> Value {
    match n {
        Node::And(ps) => and(ps.iter().map(|p| to_dsl(p, prefix)).collect()),
        Node::Or(ps) => or(ps.iter().map(|p| to_dsl(p, prefix)).collect()),
        Node::Not(p) => not(to_dsl(p, prefix)),
        Node::Is { field, value } => is_query(field.as_ref(), value, prefix),
        Node::Range { field, op, value } => {
            json!({"range": {field_name(field, prefix): {*op: value_json(value)}}})
        }
        Node::List { field, list } => list_query(field, list, prefix),
        Node::Nested { path, query } => {
            let full = field_name(path, prefix);
            json!({"nested": {"path": full.clone(), "query": to_dsl(query, &full), "score_mode": "none"}})
        }
    }
}

/// Translates a KQL query to the query DSL; an empty query is `match_all`.
pub fn to_query_dsl(query: &str) -> Result<Value, KqlError> {
    Ok(match parse(query)? {
        None => json!({"match_all": {}}),
        Some(n) => to_dsl(&n, ""),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dsl(q: &str) -> Value {
        to_query_dsl(q).unwrap_or_else(|e| panic!("{q}: {e}"))
    }

    /// The shapes Kibana's kuery functions build (is.ts, range.ts, exists.ts, and/or/not.ts,
    /// nested.ts) for queries of the KQL documentation.
    #[test]
    fn kibana_shapes() {
        assert_eq!(
            dsl("http.request.method: GET"),
            json!({"match": {"http.request.method": "GET"}})
        );
        assert_eq!(
            dsl("http.request.method: *"),
            json!({"exists": {"field": "http.request.method"}})
        );
        assert_eq!(
            dsl("http.request.body.content: \"null pointer\""),
            json!({"match_phrase": {"http.request.body.content": "null pointer"}})
        );
        assert_eq!(
            dsl("http.request.body.content: null pointer"),
            json!({"match": {"http.request.body.content": "null pointer"}})
        );
        assert_eq!(
            dsl("http.response.bytes < 10000"),
            json!({"range": {"http.response.bytes": {"lt": "10000"}}})
        );
        assert_eq!(
            dsl("NOT http.request.method: GET"),
            json!({"bool": {"must_not": [{"match": {"http.request.method": "GET"}}]}})
        );
        assert_eq!(
            dsl("a: 1 or b: 2 and c: 3"),
            json!({"bool": {"should": [{"match": {"a": "1"}},
                {"bool": {"filter": [{"match": {"b": "2"}}, {"match": {"c": "3"}}]}}],
                "minimum_should_match": 1}})
        );
        assert_eq!(
            dsl("http.request.method: (GET OR POST OR DELETE)"),
            json!({"bool": {"should": [{"match": {"http.request.method": "GET"}},
                {"match": {"http.request.method": "POST"}}, {"match": {"http.request.method": "DELETE"}}],
                "minimum_should_match": 1}})
        );
        assert_eq!(
            dsl("http.response.status_code: 4*"),
            json!({"query_string": {"fields": ["http.response.status_code"], "query": "4*"}})
        );
        assert_eq!(
            dsl("user:{ first: \"Alice\" and last: White }"),
            json!({"nested": {"path": "user", "score_mode": "none", "query": {"bool": {"filter": [
                {"match_phrase": {"user.first": "Alice"}}, {"match": {"user.last": "White"}}]}}}})
        );
        assert_eq!(
            dsl("Hello world"),
            json!({"multi_match": {"type": "best_fields", "query": "Hello world", "lenient": true}})
        );
        assert_eq!(dsl(""), json!({"match_all": {}}));
        assert_eq!(dsl("  *  "), json!({"match_all": {}}));
        assert_eq!(
            dsl("message: foo\\:bar"),
            json!({"match": {"message": "foo:bar"}})
        );
        assert_eq!(dsl("a: \\and"), json!({"match": {"a": "and"}}));
        assert_eq!(
            dsl("(a: 1 or a: 2) and not b: 3"),
            json!({"bool": {"filter": [
                {"bool": {"should": [{"match": {"a": "1"}}, {"match": {"a": "2"}}], "minimum_should_match": 1}},
                {"bool": {"must_not": [{"match": {"b": "3"}}]}}]}})
        );
    }

    #[test]
    fn errors_have_positions() {
        let e = to_query_dsl("status: (200 or").unwrap_err();
        assert_eq!(e.position, 13, "the dangling OR: {e}");
        let e = to_query_dsl("a: \"open").unwrap_err();
        assert_eq!(e.position, 3);
        let e = to_query_dsl("a:1 )").unwrap_err();
        assert_eq!(e.position, 4, "{e}");
        let deep = format!("{}a:1{}", "(".repeat(200), ")".repeat(200));
        assert!(to_query_dsl(&deep).unwrap_err().message.contains("nested"));
    }
}
