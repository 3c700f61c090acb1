//! Lexer and recursive-descent parser of ES|QL: query text → [`Query`] (a list of commands with
//! typed expressions), every node carrying its position for `line L:C:` errors.
//!
//! The lexer has the modes ES|QL's grammar has where they change what a word is: after `FROM`
//! index patterns (`logs-*`, `.ds-x`, `"quoted"`) until `METADATA` or `|`, and after `KEEP`/`DROP`
//! column patterns that may contain `*`. Everything else is one token stream.
//!
//! Parameters (`?`, `?1`, `?name`) are replaced by their values while parsing, so the rest of the
//! pipeline sees literals only.

use super::{Pos, parsing_error};
use crate::error::EsError;
use serde_json::Value;

/// Deepest expression nesting accepted (parentheses, operators, function calls).
pub const MAX_DEPTH: usize = 32;
/// Longest chain of binary operators (`a OR b OR …`, `1 + 2 + …`): each link nests the tree one
/// level, which the planner and the SQL renderer walk recursively.
pub const MAX_CHAIN: usize = 256;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// An unquoted identifier or keyword (`from`, `a.b`, `@timestamp`; `a*` in KEEP/DROP).
    Ident(String),
    /// A `` `quoted` `` identifier.
    Quoted(String),
    Str(String),
    Int(String),
    Dec(f64),
    /// `?` (positional, counted), `?1`, `?name`.
    Param(Option<String>),
    /// An index pattern of `FROM`.
    Pattern(String),
    Sym(&'static str),
    Eof,
}

#[derive(Debug, Clone)]
pub struct Token {
    pub tok: Tok,
    pub pos: Pos,
    /// Byte offsets of the token in the query text.
    pub start: usize,
    pub end: usize,
}

struct Lexer<'a> {
    src: &'a str,
    chars: Vec<(usize, char)>,
    i: usize,
    line: u32,
    col: u32,
}

const SYMS: &[&str] = &[
    "::", "==", "!=", "<=", ">=", "=~", "|", ",", "(", ")", "[", "]", "=", "<", ">", "+", "-", "*",
    "/", "%", ":", ".", "{", "}",
];

impl<'a> Lexer<'a> {
    fn new(src: &'a str) -> Self {
        Lexer {
            src,
            chars: src.char_indices().collect(),
            i: 0,
            line: 1,
            col: 1,
        }
    }

    fn peek(&self, k: usize) -> Option<char> {
        self.chars.get(self.i + k).map(|c| c.1)
    }

    fn offset(&self) -> usize {
        self.chars.get(self.i).map_or(self.src.len(), |c| c.0)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek(0)?;
        self.i += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            col: self.col,
        }
    }

    /// Skips whitespace and `//`, `/* */` comments.
    fn skip_ws(&mut self) -> Result<(), EsError> {
        loop {
            match (self.peek(0), self.peek(1)) {
                (Some(c), _) if c.is_whitespace() => {
                    self.bump();
                }
                (Some('/'), Some('/')) => {
                    while let Some(c) = self.peek(0) {
                        if c == '\n' {
                            break;
                        }
                        self.bump();
                    }
                }
                (Some('/'), Some('*')) => {
                    let p = self.pos();
                    self.bump();
                    self.bump();
                    loop {
                        match (self.peek(0), self.peek(1)) {
                            (Some('*'), Some('/')) => {
                                self.bump();
                                self.bump();
                                break;
                            }
                            (Some(_), _) => {
                                self.bump();
                            }
                            (None, _) => {
                                return Err(parsing_error(p, "unterminated comment"));
                            }
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn string(&mut self) -> Result<String, EsError> {
        let p = self.pos();
        if self.peek(0) == Some('"') && self.peek(1) == Some('"') && self.peek(2) == Some('"') {
            // Triple-quoted: raw until the next `"""`.
            for _ in 0..3 {
                self.bump();
            }
            let mut out = String::new();
            loop {
                if self.peek(0) == Some('"')
                    && self.peek(1) == Some('"')
                    && self.peek(2) == Some('"')
                {
                    for _ in 0..3 {
                        self.bump();
                    }
                    // `""""` ends with the last three quotes.
                    while self.peek(0) == Some('"') {
                        out.push('"');
                        self.bump();
                    }
                    return Ok(out);
                }
                match self.bump() {
                    Some(c) => out.push(c),
                    None => return Err(parsing_error(p, "unterminated quoted string")),
                }
            }
        }
        self.bump();
        let mut out = String::new();
        loop {
            match self.bump() {
                Some('"') => return Ok(out),
                Some('\\') => match self.bump() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some('"') => out.push('"'),
                    Some('\\') => out.push('\\'),
                    Some(c) => {
                        return Err(parsing_error(
                            p,
                            format!("illegal escape sequence [\\{c}] in string literal"),
                        ));
                    }
                    None => return Err(parsing_error(p, "unterminated quoted string")),
                },
                Some('\n') | None => {
                    return Err(parsing_error(p, "unterminated quoted string"));
                }
                Some(c) => out.push(c),
            }
        }
    }

    fn quoted_ident(&mut self) -> Result<String, EsError> {
        let p = self.pos();
        self.bump();
        let mut out = String::new();
        loop {
            match self.bump() {
                Some('`') if self.peek(0) == Some('`') => {
                    self.bump();
                    out.push('`');
                }
                Some('`') => return Ok(out),
                Some(c) => out.push(c),
                None => return Err(parsing_error(p, "unterminated quoted identifier")),
            }
        }
    }

    fn number(&mut self) -> Result<Tok, EsError> {
        let start = self.offset();
        let p = self.pos();
        let mut is_dec = false;
        while self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        if self.peek(0) == Some('.') && self.peek(1).is_some_and(|c| c.is_ascii_digit()) {
            is_dec = true;
            self.bump();
            while self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
            }
        } else if self.peek(0) == Some('.')
            && !self.peek(1).is_some_and(|c| c.is_alphabetic() || c == '_')
        {
            // `1.` is a decimal.
            is_dec = true;
            self.bump();
        }
        if matches!(self.peek(0), Some('e' | 'E'))
            && (self.peek(1).is_some_and(|c| c.is_ascii_digit())
                || (matches!(self.peek(1), Some('+' | '-'))
                    && self.peek(2).is_some_and(|c| c.is_ascii_digit())))
        {
            is_dec = true;
            self.bump();
            self.bump();
            while self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
            }
        }
        let text = &self.src[start..self.offset()];
        if is_dec {
            text.parse::<f64>()
                .map(Tok::Dec)
                .map_err(|_| parsing_error(p, format!("Cannot parse number [{text}]")))
        } else {
            Ok(Tok::Int(text.to_string()))
        }
    }

    fn ident(&mut self, star_ok: bool) -> String {
        let start = self.offset();
        while self.peek(0).is_some_and(|c| {
            c.is_alphanumeric() || c == '_' || c == '@' || c == '.' || (star_ok && c == '*')
        }) {
            self.bump();
        }
        self.src[start..self.offset()].to_string()
    }

    /// Index patterns after `FROM`, up to `METADATA`, `|` or the end.
    fn index_patterns(&mut self, out: &mut Vec<Token>) -> Result<(), EsError> {
        loop {
            self.skip_ws()?;
            let (start, pos) = (self.offset(), self.pos());
            let tok = match self.peek(0) {
                None | Some('|') => return Ok(()),
                Some(',') => {
                    self.bump();
                    Tok::Sym(",")
                }
                Some('"') => Tok::Pattern(self.string()?),
                Some(_) => {
                    let s = start;
                    while self
                        .peek(0)
                        .is_some_and(|c| !c.is_whitespace() && !matches!(c, ',' | '|' | '"'))
                    {
                        self.bump();
                    }
                    let word = &self.src[s..self.offset()];
                    if word.eq_ignore_ascii_case("metadata") {
                        out.push(Token {
                            tok: Tok::Ident(word.to_string()),
                            pos,
                            start,
                            end: self.offset(),
                        });
                        return Ok(());
                    }
                    Tok::Pattern(word.to_string())
                }
            };
            out.push(Token {
                tok,
                pos,
                start,
                end: self.offset(),
            });
        }
    }

    /// `JOIN <index>` after `LOOKUP`: the index name is read like a FROM pattern.
    fn lookup_target(&mut self, out: &mut Vec<Token>) -> Result<(), EsError> {
        self.skip_ws()?;
        let (start, pos) = (self.offset(), self.pos());
        let word = self.ident(false);
        out.push(Token {
            tok: Tok::Ident(word),
            pos,
            start,
            end: self.offset(),
        });
        self.skip_ws()?;
        let (start, pos) = (self.offset(), self.pos());
        let tok = if self.peek(0) == Some('"') {
            Tok::Pattern(self.string()?)
        } else {
            while self
                .peek(0)
                .is_some_and(|c| !c.is_whitespace() && !matches!(c, ',' | '|' | '"'))
            {
                self.bump();
            }
            Tok::Pattern(self.src[start..self.offset()].to_string())
        };
        out.push(Token {
            tok,
            pos,
            start,
            end: self.offset(),
        });
        Ok(())
    }

    fn tokens(mut self) -> Result<Vec<Token>, EsError> {
        let mut out: Vec<Token> = Vec::new();
        let mut command_start = true;
        let mut star_idents = false;
        loop {
            self.skip_ws()?;
            let (start, pos) = (self.offset(), self.pos());
            let Some(c) = self.peek(0) else {
                out.push(Token {
                    tok: Tok::Eof,
                    pos,
                    start,
                    end: start,
                });
                return Ok(out);
            };
            let tok = if c == '"' {
                Tok::Str(self.string()?)
            } else if c == '`' {
                Tok::Quoted(self.quoted_ident()?)
            } else if c.is_ascii_digit()
                || (c == '.' && self.peek(1).is_some_and(|d| d.is_ascii_digit()))
            {
                self.number()?
            } else if c == '?' {
                self.bump();
                let s = self.offset();
                while self
                    .peek(0)
                    .is_some_and(|c| c.is_alphanumeric() || c == '_')
                {
                    self.bump();
                }
                let name = &self.src[s..self.offset()];
                Tok::Param((!name.is_empty()).then(|| name.to_string()))
            } else if c.is_alphabetic() || c == '_' || c == '@' || (star_idents && c == '*') {
                Tok::Ident(self.ident(star_idents))
            } else if let Some(sym) = SYMS.iter().find(|s| self.src[start..].starts_with(**s)) {
                for _ in 0..sym.chars().count() {
                    self.bump();
                }
                Tok::Sym(sym)
            } else {
                return Err(parsing_error(
                    pos,
                    format!("token recognition error at: '{c}'"),
                ));
            };
            let was_command_start = command_start;
            command_start = tok == Tok::Sym("|");
            if command_start {
                star_idents = false;
            }
            let keyword = match (&tok, was_command_start) {
                (Tok::Ident(w), true) => Some(w.to_ascii_lowercase()),
                _ => None,
            };
            out.push(Token {
                tok,
                pos,
                start,
                end: self.offset(),
            });
            match keyword.as_deref() {
                Some("from") => self.index_patterns(&mut out)?,
                Some("lookup") => self.lookup_target(&mut out)?,
                Some("keep") | Some("drop") => star_idents = true,
                _ => {}
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Syntax tree

#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer too large for a long.
    UnsignedLong(u64),
    Double(f64),
    Str(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
    And,
    Or,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Eq => "==",
            BinOp::Neq => "!=",
            BinOp::Lt => "<",
            BinOp::Lte => "<=",
            BinOp::Gt => ">",
            BinOp::Gte => ">=",
            BinOp::And => "AND",
            BinOp::Or => "OR",
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::Neq | BinOp::Lt | BinOp::Lte | BinOp::Gt | BinOp::Gte
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Lit(Lit),
    /// A list literal `[1, 2]` (a multi-valued constant).
    List(Vec<Expr>),
    /// `1 day`, `3 hours`: a time span; the unit is normalised (see [`super::plan::span_unit`]).
    Span(i64, String),
    Field(String),
    /// `*` (only as the argument of COUNT).
    Star,
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Bin(BinOp, Box<Expr>, Box<Expr>),
    IsNull(Box<Expr>, bool),
    In(Box<Expr>, Vec<Expr>, bool),
    /// `x [NOT] LIKE|RLIKE "pattern"` (the bool: RLIKE, then negated).
    Like {
        expr: Box<Expr>,
        pattern: String,
        rlike: bool,
        negated: bool,
    },
    /// Function name (lower case) and arguments.
    Call(String, Vec<Expr>),
    /// `x::type` (type name lower case).
    Cast(Box<Expr>, String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub pos: Pos,
    /// The expression's text as written (names unaliased EVAL/STATS columns, error messages).
    pub text: String,
}

/// `[name =] expr`.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub expr: Expr,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub expr: Expr,
    pub desc: bool,
    pub nulls_first: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Named {
    pub name: String,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    From {
        patterns: Vec<Named>,
        metadata: Vec<Named>,
    },
    Row(Vec<Field>),
    ShowInfo,
    Where(Expr),
    Eval(Vec<Field>),
    Stats {
        aggs: Vec<Field>,
        /// The `WHERE` of each aggregate (`STATS c = COUNT(*) WHERE x > 1`).
        filters: Vec<Option<Expr>>,
        by: Vec<Field>,
    },
    Sort(Vec<SortKey>),
    Limit(u64),
    Keep(Vec<Named>),
    Drop(Vec<Named>),
    /// (old, new) pairs.
    Rename(Vec<(Named, Named)>),
    Dissect {
        expr: Expr,
        pattern: String,
        separator: String,
    },
    Grok {
        expr: Expr,
        pattern: String,
    },
    MvExpand(Named),
    /// `LOOKUP JOIN index ON field, …`.
    LookupJoin {
        index: Named,
        on: Vec<Named>,
    },
    /// `ENRICH policy [ON field] [WITH [new =] enrich_field, …]` (pairs: new name, field).
    Enrich {
        policy: Named,
        on: Option<Named>,
        with: Vec<(Named, Named)>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub commands: Vec<(Command, Pos)>,
}

// ---------------------------------------------------------------------------------------------
// Parser

/// Values of `params`: positional (`?`, `?1`) and named (`?name`).
#[derive(Debug, Default, Clone)]
pub struct Params {
    pub positional: Vec<Value>,
    pub named: Vec<(String, Value)>,
}

impl Params {
    /// Reads the request's `params`: `[1, "a"]`, `[{"name": 1}, …]`, and `{"value": v, …}` objects.
    pub fn from_json(v: &Value) -> Result<Params, EsError> {
        let mut p = Params::default();
        let Value::Array(items) = v else {
            return Err(EsError::parsing(
                "[params] must be an array of values or of single-entry objects",
            ));
        };
        for item in items {
            match item {
                Value::Object(m) if m.len() == 1 => {
                    let (k, v) = m.iter().next().unwrap();
                    p.named.push((k.clone(), v.clone()));
                }
                Value::Object(m) if m.contains_key("value") => {
                    p.positional.push(m["value"].clone());
                }
                v => p.positional.push(v.clone()),
            }
        }
        Ok(p)
    }
}

pub fn parse(src: &str, params: &Params) -> Result<Query, EsError> {
    let tokens = Lexer::new(src).tokens()?;
    let mut p = Parser {
        src,
        tokens,
        i: 0,
        depth: 0,
        chain: 0,
        params,
        next_positional: 0,
    };
    p.query()
}

struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    i: usize,
    depth: usize,
    /// Links of the operator chains being parsed (see [`MAX_CHAIN`]).
    chain: usize,
    params: &'a Params,
    next_positional: usize,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) | Tok::Pattern(s) => format!("'{s}'"),
        Tok::Quoted(s) => format!("'`{s}`'"),
        Tok::Str(s) => format!("'\"{s}\"'"),
        Tok::Int(s) => format!("'{s}'"),
        Tok::Dec(x) => format!("'{x}'"),
        Tok::Param(Some(n)) => format!("'?{n}'"),
        Tok::Param(None) => "'?'".into(),
        Tok::Sym(s) => format!("'{s}'"),
        Tok::Eof => "'<EOF>'".into(),
    }
}

const SOURCE_COMMANDS: &str = "{'row', 'from', 'show'}";
const PROCESSING_COMMANDS: &str = "{'dissect', 'drop', 'enrich', 'eval', 'grok', 'keep', \
     'limit', 'lookup', 'mv_expand', 'rename', 'sort', 'stats', 'where'}";

impl<'a> Parser<'a> {
    fn peek(&self) -> &Token {
        &self.tokens[self.i]
    }

    fn peek_at(&self, k: usize) -> &Tok {
        &self.tokens[(self.i + k).min(self.tokens.len() - 1)].tok
    }

    fn next(&mut self) -> Token {
        let t = self.tokens[self.i].clone();
        if self.i + 1 < self.tokens.len() {
            self.i += 1;
        }
        t
    }

    fn is_sym(&self, s: &str) -> bool {
        matches!(&self.peek().tok, Tok::Sym(x) if *x == s)
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(&self.peek().tok, Tok::Ident(x) if x.eq_ignore_ascii_case(kw))
    }

    fn kw_at(&self, k: usize, kw: &str) -> bool {
        matches!(self.peek_at(k), Tok::Ident(x) if x.eq_ignore_ascii_case(kw))
    }

    fn eat_sym(&mut self, s: &str) -> bool {
        if self.is_sym(s) {
            self.next();
            true
        } else {
            false
        }
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.next();
            true
        } else {
            false
        }
    }

    fn mismatch(&self, expecting: &str) -> EsError {
        let t = self.peek();
        parsing_error(
            t.pos,
            format!(
                "mismatched input {} expecting {expecting}",
                describe(&t.tok)
            ),
        )
    }

    fn expect_sym(&mut self, s: &str) -> Result<(), EsError> {
        if self.eat_sym(s) {
            Ok(())
        } else {
            Err(self.mismatch(&format!("'{s}'")))
        }
    }

    fn text(&self, start: usize) -> String {
        let end = self.tokens[self.i.saturating_sub(1)].end.max(start);
        self.src[start..end].to_string()
    }

    fn query(&mut self) -> Result<Query, EsError> {
        let mut commands = Vec::new();
        commands.push(self.source_command()?);
        while self.eat_sym("|") {
            commands.push(self.processing_command()?);
        }
        if !matches!(self.peek().tok, Tok::Eof) {
            return Err(self.mismatch("{<EOF>, '|'}"));
        }
        Ok(Query { commands })
    }

    fn source_command(&mut self) -> Result<(Command, Pos), EsError> {
        let t = self.peek().clone();
        let Tok::Ident(word) = &t.tok else {
            return Err(self.mismatch(SOURCE_COMMANDS));
        };
        let cmd = match word.to_ascii_lowercase().as_str() {
            "from" => {
                self.next();
                let mut patterns = Vec::new();
                loop {
                    let t = self.next();
                    match t.tok {
                        Tok::Pattern(p) => patterns.push(Named {
                            name: p,
                            pos: t.pos,
                        }),
                        other => {
                            return Err(parsing_error(
                                t.pos,
                                format!(
                                    "mismatched input {} expecting {{QUOTED_STRING, UNQUOTED_SOURCE}}",
                                    describe(&other)
                                ),
                            ));
                        }
                    }
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                let mut metadata = Vec::new();
                if self.eat_kw("metadata") {
                    loop {
                        metadata.push(self.name()?);
                        if !self.eat_sym(",") {
                            break;
                        }
                    }
                }
                Command::From { patterns, metadata }
            }
            "row" => {
                self.next();
                Command::Row(self.fields()?)
            }
            "show" => {
                self.next();
                if !self.eat_kw("info") {
                    return Err(self.mismatch("'info'"));
                }
                Command::ShowInfo
            }
            _ => return Err(self.mismatch(SOURCE_COMMANDS)),
        };
        Ok((cmd, t.pos))
    }

    fn processing_command(&mut self) -> Result<(Command, Pos), EsError> {
        let t = self.peek().clone();
        let Tok::Ident(word) = &t.tok else {
            return Err(self.mismatch(PROCESSING_COMMANDS));
        };
        let lower = word.to_ascii_lowercase();
        let cmd = match lower.as_str() {
            "where" => {
                self.next();
                Command::Where(self.expr()?)
            }
            "eval" => {
                self.next();
                Command::Eval(self.fields()?)
            }
            "stats" => {
                self.next();
                let mut aggs = Vec::new();
                let mut filters = Vec::new();
                if !(self.is_kw("by") || self.at_command_end()) {
                    loop {
                        let mut one = self.fields_one()?;
                        aggs.push(one.remove(0));
                        // `agg WHERE condition`: the aggregate sees only matching rows.
                        filters.push(if self.eat_kw("where") {
                            Some(self.expr()?)
                        } else {
                            None
                        });
                        if !self.eat_sym(",") {
                            break;
                        }
                    }
                }
                let by = if self.eat_kw("by") {
                    self.fields()?
                } else {
                    Vec::new()
                };
                Command::Stats { aggs, filters, by }
            }
            "sort" => {
                self.next();
                let mut keys = Vec::new();
                loop {
                    let expr = self.expr()?;
                    let desc = if self.eat_kw("desc") {
                        true
                    } else {
                        self.eat_kw("asc");
                        false
                    };
                    let nulls_first = if self.eat_kw("nulls") {
                        if self.eat_kw("first") {
                            Some(true)
                        } else if self.eat_kw("last") {
                            Some(false)
                        } else {
                            return Err(self.mismatch("{'first', 'last'}"));
                        }
                    } else {
                        None
                    };
                    keys.push(SortKey {
                        expr,
                        desc,
                        nulls_first,
                    });
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                Command::Sort(keys)
            }
            "limit" => {
                self.next();
                let t = self.next();
                match &t.tok {
                    Tok::Int(s) => match s.parse::<u64>() {
                        Ok(n) if n <= i32::MAX as u64 => Command::Limit(n),
                        _ => {
                            return Err(parsing_error(
                                t.pos,
                                format!(
                                    "Invalid value for LIMIT [{s}], expecting a non negative integer"
                                ),
                            ));
                        }
                    },
                    Tok::Param(_) => {
                        let v = self.param_value(&t)?;
                        match v.as_u64() {
                            Some(n) => Command::Limit(n),
                            None => {
                                return Err(parsing_error(
                                    t.pos,
                                    format!(
                                        "Invalid value for LIMIT [{v}], expecting a non negative integer"
                                    ),
                                ));
                            }
                        }
                    }
                    other => {
                        return Err(parsing_error(
                            t.pos,
                            format!(
                                "mismatched input {} expecting INTEGER_LITERAL",
                                describe(other)
                            ),
                        ));
                    }
                }
            }
            "keep" | "drop" => {
                self.next();
                let mut names = Vec::new();
                loop {
                    names.push(self.name()?);
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                if lower == "keep" {
                    Command::Keep(names)
                } else {
                    Command::Drop(names)
                }
            }
            "rename" => {
                self.next();
                let mut pairs = Vec::new();
                loop {
                    let first = self.name()?;
                    if self.eat_kw("as") {
                        let new = self.name()?;
                        pairs.push((first, new));
                    } else if self.eat_sym("=") {
                        let old = self.name()?;
                        pairs.push((old, first));
                    } else {
                        return Err(self.mismatch("{'=', AS}"));
                    }
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                Command::Rename(pairs)
            }
            "dissect" => {
                self.next();
                let expr = self.primary_chain()?;
                let pattern = self.string_lit()?;
                let mut separator = String::new();
                if self.is_kw("append_separator") {
                    self.next();
                    self.expect_sym("=")?;
                    separator = self.string_lit()?;
                }
                Command::Dissect {
                    expr,
                    pattern,
                    separator,
                }
            }
            "grok" => {
                self.next();
                let expr = self.primary_chain()?;
                let pattern = self.string_lit()?;
                Command::Grok { expr, pattern }
            }
            "mv_expand" => {
                self.next();
                Command::MvExpand(self.name()?)
            }
            "lookup" => {
                self.next();
                if !self.eat_kw("join") {
                    return Err(self.mismatch("'join'"));
                }
                let t = self.next();
                let Tok::Pattern(index) = t.tok else {
                    return Err(parsing_error(
                        t.pos,
                        "expected an index name after LOOKUP JOIN",
                    ));
                };
                if !self.eat_kw("on") {
                    return Err(self.mismatch("'on'"));
                }
                let mut on = Vec::new();
                loop {
                    on.push(self.name()?);
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                Command::LookupJoin {
                    index: Named {
                        name: index,
                        pos: t.pos,
                    },
                    on,
                }
            }
            "enrich" => {
                self.next();
                let first = self.name()?;
                // `_any:policy`, `_coordinator:policy`: where the policy runs; one node here.
                let policy = if self.eat_sym(":") {
                    let p = self.name()?;
                    match first.name.to_ascii_lowercase().as_str() {
                        "_any" | "_coordinator" => p,
                        other => {
                            return Err(EsError::unsupported(format!(
                                "ES|QL ENRICH mode [{other}]"
                            )));
                        }
                    }
                } else {
                    first
                };
                let on = if self.eat_kw("on") {
                    Some(self.name()?)
                } else {
                    None
                };
                let mut with = Vec::new();
                if self.eat_kw("with") {
                    loop {
                        let a = self.name()?;
                        if self.eat_sym("=") {
                            let field = self.name()?;
                            with.push((a, field));
                        } else {
                            with.push((a.clone(), a));
                        }
                        if !self.eat_sym(",") {
                            break;
                        }
                    }
                }
                Command::Enrich { policy, on, with }
            }
            "inlinestats" | "change_point" | "completion" | "fork" | "rerank" | "sample"
            | "rrf" | "fuse" | "lookup_join" | "join" | "inline" | "insist" | "metrics" | "ts" => {
                return Err(EsError::unsupported(format!(
                    "ES|QL command [{}]",
                    word.to_ascii_uppercase()
                )));
            }
            _ => return Err(self.mismatch(PROCESSING_COMMANDS)),
        };
        Ok((cmd, t.pos))
    }

    fn at_command_end(&self) -> bool {
        matches!(self.peek().tok, Tok::Eof) || self.is_sym("|")
    }

    fn string_lit(&mut self) -> Result<String, EsError> {
        let t = self.next();
        match t.tok {
            Tok::Str(s) => Ok(s),
            Tok::Param(_) => match self.param_value(&t)? {
                Value::String(s) => Ok(s),
                v => Err(parsing_error(
                    t.pos,
                    format!("expected a string, found [{v}]"),
                )),
            },
            other => Err(parsing_error(
                t.pos,
                format!(
                    "mismatched input {} expecting QUOTED_STRING",
                    describe(&other)
                ),
            )),
        }
    }

    /// A column name (or pattern): unquoted, or `` `quoted` `` parts joined by dots.
    fn name(&mut self) -> Result<Named, EsError> {
        let t = self.next();
        let mut name = match t.tok {
            Tok::Ident(s) => s,
            Tok::Quoted(s) => s,
            other => {
                return Err(parsing_error(
                    t.pos,
                    format!(
                        "mismatched input {} expecting {{UNQUOTED_IDENTIFIER, QUOTED_IDENTIFIER}}",
                        describe(&other)
                    ),
                ));
            }
        };
        // `a`.`b` and a.`b`: parts of one name.
        while self.is_sym(".") && self.tokens[self.i].start == self.tokens[self.i - 1].end {
            self.next();
            let t = self.next();
            match t.tok {
                Tok::Ident(s) | Tok::Quoted(s) => {
                    name.push('.');
                    name.push_str(&s);
                }
                other => {
                    return Err(parsing_error(
                        t.pos,
                        format!(
                            "mismatched input {} expecting an identifier",
                            describe(&other)
                        ),
                    ));
                }
            }
        }
        if name.ends_with('.') {
            return Err(parsing_error(t.pos, format!("invalid name [{name}]")));
        }
        Ok(Named { name, pos: t.pos })
    }

    /// One `[name =] expr`.
    fn fields_one(&mut self) -> Result<Vec<Field>, EsError> {
        self.fields_upto(true)
    }

    /// `[name =] expr, …` of ROW, EVAL and STATS.
    fn fields(&mut self) -> Result<Vec<Field>, EsError> {
        self.fields_upto(false)
    }

    fn fields_upto(&mut self, just_one: bool) -> Result<Vec<Field>, EsError> {
        let mut out = Vec::new();
        loop {
            let named = matches!(self.peek().tok, Tok::Ident(_) | Tok::Quoted(_)) && {
                // Lookahead over a dotted name for `=` (not `==`).
                let mut k = 1;
                while matches!(self.peek_at(k), Tok::Sym(".")) {
                    k += 2;
                }
                matches!(self.peek_at(k), Tok::Sym("="))
            };
            if named {
                let n = self.name()?;
                self.expect_sym("=")?;
                let expr = self.expr()?;
                out.push(Field { name: n.name, expr });
            } else {
                let expr = self.expr()?;
                out.push(Field {
                    name: expr.text.clone(),
                    expr,
                });
            }
            if just_one || !self.eat_sym(",") {
                return Ok(out);
            }
        }
    }

    fn link(&mut self, pos: Pos) -> Result<(), EsError> {
        self.chain += 1;
        if self.chain > MAX_CHAIN {
            return Err(parsing_error(
                pos,
                format!(
                    "ES|QL statement exceeded the maximum expression depth allowed ({MAX_CHAIN})"
                ),
            ));
        }
        Ok(())
    }

    fn enter(&mut self, pos: Pos) -> Result<(), EsError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(parsing_error(
                pos,
                format!(
                    "ES|QL statement exceeded the maximum expression depth allowed ({MAX_DEPTH})"
                ),
            ));
        }
        Ok(())
    }

    fn mk(&self, kind: ExprKind, pos: Pos, start: usize) -> Expr {
        Expr {
            kind,
            pos,
            text: self.text(start),
        }
    }

    pub fn expr(&mut self) -> Result<Expr, EsError> {
        let pos = self.peek().pos;
        self.enter(pos)?;
        let r = self.or();
        self.depth -= 1;
        r
    }

    fn or(&mut self) -> Result<Expr, EsError> {
        let (pos, start) = (self.peek().pos, self.peek().start);
        let base = self.chain;
        let mut left = self.and()?;
        while self.eat_kw("or") {
            // Each link of a chain nests the tree one level deeper.
            self.link(pos)?;
            let right = self.and()?;
            left = self.mk(
                ExprKind::Bin(BinOp::Or, Box::new(left), Box::new(right)),
                pos,
                start,
            );
        }
        self.chain = base;
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, EsError> {
        let (pos, start) = (self.peek().pos, self.peek().start);
        let base = self.chain;
        let mut left = self.not()?;
        while self.eat_kw("and") {
            // Each link of a chain nests the tree one level deeper.
            self.link(pos)?;
            let right = self.not()?;
            left = self.mk(
                ExprKind::Bin(BinOp::And, Box::new(left), Box::new(right)),
                pos,
                start,
            );
        }
        self.chain = base;
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, EsError> {
        let (pos, start) = (self.peek().pos, self.peek().start);
        if self.eat_kw("not") {
            self.enter(pos)?;
            let inner = self.not();
            self.depth -= 1;
            return Ok(self.mk(ExprKind::Not(Box::new(inner?)), pos, start));
        }
        self.predicate()
    }

    fn predicate(&mut self) -> Result<Expr, EsError> {
        let (pos, start) = (self.peek().pos, self.peek().start);
        let left = self.additive()?;
        // IS [NOT] NULL, [NOT] IN, [NOT] LIKE/RLIKE
        if self.is_kw("is") {
            self.next();
            let negated = self.eat_kw("not");
            if !self.eat_kw("null") {
                return Err(self.mismatch("'null'"));
            }
            return Ok(self.mk(ExprKind::IsNull(Box::new(left), negated), pos, start));
        }
        let negated = self.is_kw("not")
            && (self.kw_at(1, "in") || self.kw_at(1, "like") || self.kw_at(1, "rlike"));
        if negated {
            self.next();
        }
        if self.eat_kw("in") {
            self.expect_sym("(")?;
            let mut list = Vec::new();
            loop {
                list.push(self.expr()?);
                if !self.eat_sym(",") {
                    break;
                }
            }
            self.expect_sym(")")?;
            return Ok(self.mk(ExprKind::In(Box::new(left), list, negated), pos, start));
        }
        let like = self.is_kw("like");
        if like || self.is_kw("rlike") {
            self.next();
            let pattern = self.string_lit()?;
            return Ok(self.mk(
                ExprKind::Like {
                    expr: Box::new(left),
                    pattern,
                    rlike: !like,
                    negated,
                },
                pos,
                start,
            ));
        }
        let op = match &self.peek().tok {
            Tok::Sym("==") => Some(BinOp::Eq),
            Tok::Sym("!=") => Some(BinOp::Neq),
            Tok::Sym("<") => Some(BinOp::Lt),
            Tok::Sym("<=") => Some(BinOp::Lte),
            Tok::Sym(">") => Some(BinOp::Gt),
            Tok::Sym(">=") => Some(BinOp::Gte),
            Tok::Sym("=~") => {
                return Err(EsError::unsupported("ES|QL operator [=~]"));
            }
            Tok::Sym(":") => {
                // `field : "text"` is MATCH(field, "text").
                self.next();
                let right = self.additive()?;
                return Ok(self.mk(
                    ExprKind::Call("match".into(), vec![left, right]),
                    pos,
                    start,
                ));
            }
            _ => None,
        };
        if let Some(op) = op {
            self.next();
            let right = self.additive()?;
            return Ok(self.mk(
                ExprKind::Bin(op, Box::new(left), Box::new(right)),
                pos,
                start,
            ));
        }
        Ok(left)
    }

    fn additive(&mut self) -> Result<Expr, EsError> {
        let (pos, start) = (self.peek().pos, self.peek().start);
        let base = self.chain;
        let mut left = self.multiplicative()?;
        loop {
            let op = if self.is_sym("+") {
                BinOp::Add
            } else if self.is_sym("-") {
                BinOp::Sub
            } else {
                self.chain = base;
                return Ok(left);
            };
            self.next();
            self.link(pos)?;
            let right = self.multiplicative()?;
            left = self.mk(
                ExprKind::Bin(op, Box::new(left), Box::new(right)),
                pos,
                start,
            );
        }
    }

    fn multiplicative(&mut self) -> Result<Expr, EsError> {
        let (pos, start) = (self.peek().pos, self.peek().start);
        let base = self.chain;
        let mut left = self.unary()?;
        loop {
            let op = if self.is_sym("*") {
                BinOp::Mul
            } else if self.is_sym("/") {
                BinOp::Div
            } else if self.is_sym("%") {
                BinOp::Mod
            } else {
                self.chain = base;
                return Ok(left);
            };
            self.next();
            self.link(pos)?;
            let right = self.unary()?;
            left = self.mk(
                ExprKind::Bin(op, Box::new(left), Box::new(right)),
                pos,
                start,
            );
        }
    }

    fn unary(&mut self) -> Result<Expr, EsError> {
        let (pos, start) = (self.peek().pos, self.peek().start);
        if self.is_sym("-") || self.is_sym("+") {
            let minus = self.is_sym("-");
            self.next();
            self.enter(pos)?;
            let inner = self.unary();
            self.depth -= 1;
            let inner = inner?;
            if !minus {
                return Ok(inner);
            }
            // Fold `-literal` so that the smallest long is representable.
            let kind = match &inner.kind {
                ExprKind::Lit(Lit::Int(n)) => ExprKind::Lit(Lit::Int(-n)),
                ExprKind::Lit(Lit::UnsignedLong(n)) if *n == 1u64 << 63 => {
                    ExprKind::Lit(Lit::Int(i64::MIN))
                }
                ExprKind::Lit(Lit::Double(x)) => ExprKind::Lit(Lit::Double(-x)),
                ExprKind::Span(n, u) => ExprKind::Span(-n, u.clone()),
                _ => ExprKind::Neg(Box::new(inner)),
            };
            return Ok(self.mk(kind, pos, start));
        }
        self.primary_chain()
    }

    /// A primary expression and its `::type` casts.
    fn primary_chain(&mut self) -> Result<Expr, EsError> {
        let (pos, start) = (self.peek().pos, self.peek().start);
        let mut e = self.primary()?;
        while self.eat_sym("::") {
            let t = self.next();
            let ty = match t.tok {
                Tok::Ident(s) => s.to_ascii_lowercase(),
                other => {
                    return Err(parsing_error(
                        t.pos,
                        format!(
                            "mismatched input {} expecting a data type",
                            describe(&other)
                        ),
                    ));
                }
            };
            e = self.mk(ExprKind::Cast(Box::new(e), ty), pos, start);
        }
        Ok(e)
    }

    fn param_value(&mut self, t: &Token) -> Result<Value, EsError> {
        let Tok::Param(name) = &t.tok else {
            unreachable!()
        };
        let found = match name {
            None => {
                self.next_positional += 1;
                self.params
                    .positional
                    .get(self.next_positional - 1)
                    .cloned()
            }
            Some(n) if n.chars().all(|c| c.is_ascii_digit()) => n
                .parse::<usize>()
                .ok()
                .and_then(|k| k.checked_sub(1))
                .and_then(|k| self.params.positional.get(k).cloned()),
            Some(n) => self
                .params
                .named
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone()),
        };
        found.ok_or_else(|| match name {
            Some(n) if !n.chars().all(|c| c.is_ascii_digit()) => {
                parsing_error(t.pos, format!("Unknown query parameter [{n}]"))
            }
            _ => parsing_error(
                t.pos,
                format!(
                    "No parameter is defined for position {}, did you mean any position between 1 and {}?",
                    name.as_deref()
                        .map_or(self.next_positional.to_string(), str::to_string),
                    self.params.positional.len()
                ),
            ),
        })
    }

    fn primary(&mut self) -> Result<Expr, EsError> {
        let t = self.peek().clone();
        let (pos, start) = (t.pos, t.start);
        match &t.tok {
            Tok::Int(s) => {
                self.next();
                let lit = match s.parse::<i64>() {
                    Ok(n) => Lit::Int(n),
                    Err(_) => match s.parse::<u64>() {
                        Ok(n) => Lit::UnsignedLong(n),
                        Err(_) => Lit::Double(s.parse::<f64>().unwrap_or(f64::INFINITY)),
                    },
                };
                // `1 day`, `2 hours`: a span.
                if let (Lit::Int(n), Tok::Ident(unit)) = (&lit, &self.peek().tok)
                    && let Some(u) = super::plan::span_unit(unit)
                {
                    let n = *n;
                    self.next();
                    return Ok(self.mk(ExprKind::Span(n, u.to_string()), pos, start));
                }
                Ok(self.mk(ExprKind::Lit(lit), pos, start))
            }
            Tok::Dec(x) => {
                let x = *x;
                self.next();
                Ok(self.mk(ExprKind::Lit(Lit::Double(x)), pos, start))
            }
            Tok::Str(s) => {
                let s = s.clone();
                self.next();
                Ok(self.mk(ExprKind::Lit(Lit::Str(s)), pos, start))
            }
            Tok::Param(_) => {
                self.next();
                let v = self.param_value(&t)?;
                let lit = json_lit(&v).ok_or_else(|| {
                    parsing_error(pos, format!("unsupported parameter value [{v}]"))
                })?;
                Ok(self.mk(lit, pos, start))
            }
            Tok::Sym("(") => {
                self.next();
                let inner = self.expr()?;
                self.expect_sym(")")?;
                // Keep the inner node but the outer text (with parentheses).
                Ok(Expr {
                    text: self.text(start),
                    ..inner
                })
            }
            Tok::Sym("[") => {
                self.next();
                let mut items = Vec::new();
                if !self.is_sym("]") {
                    loop {
                        items.push(self.expr()?);
                        if !self.eat_sym(",") {
                            break;
                        }
                    }
                }
                self.expect_sym("]")?;
                Ok(self.mk(ExprKind::List(items), pos, start))
            }
            Tok::Sym("*") => {
                self.next();
                Ok(self.mk(ExprKind::Star, pos, start))
            }
            Tok::Ident(w) if !matches!(self.peek_at(1), Tok::Sym("(")) => {
                let lower = w.to_ascii_lowercase();
                match lower.as_str() {
                    "null" => {
                        self.next();
                        Ok(self.mk(ExprKind::Lit(Lit::Null), pos, start))
                    }
                    "true" | "false" => {
                        self.next();
                        Ok(self.mk(ExprKind::Lit(Lit::Bool(lower == "true")), pos, start))
                    }
                    _ => {
                        let n = self.name()?;
                        Ok(self.mk(ExprKind::Field(n.name), pos, start))
                    }
                }
            }
            Tok::Ident(w) => {
                let name = w.to_ascii_lowercase();
                self.next();
                self.next(); // (
                self.enter(pos)?;
                let mut args = Vec::new();
                let r = (|| {
                    if !self.is_sym(")") {
                        loop {
                            args.push(self.expr()?);
                            if !self.eat_sym(",") {
                                break;
                            }
                        }
                    }
                    self.expect_sym(")")
                })();
                self.depth -= 1;
                r?;
                Ok(self.mk(ExprKind::Call(name, args), pos, start))
            }
            Tok::Quoted(_) => {
                let n = self.name()?;
                Ok(self.mk(ExprKind::Field(n.name), pos, start))
            }
            other => Err(parsing_error(
                pos,
                format!(
                    "extraneous input {} expecting {{QUOTED_STRING, INTEGER_LITERAL, DECIMAL_LITERAL, \
                     'false', 'null', '?', 'true', '(', '[', UNQUOTED_IDENTIFIER, QUOTED_IDENTIFIER}}",
                    describe(other)
                ),
            )),
        }
    }
}

/// A parameter value as a literal.
fn json_lit(v: &Value) -> Option<ExprKind> {
    Some(ExprKind::Lit(match v {
        Value::Null => Lit::Null,
        Value::Bool(b) => Lit::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Lit::Int(i),
            (None, Some(u), _) => Lit::UnsignedLong(u),
            (_, _, Some(f)) => Lit::Double(f),
            _ => return None,
        },
        Value::String(s) => Lit::Str(s.clone()),
        Value::Object(m) if m.contains_key("value") => return json_lit(&m["value"]),
        _ => return None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Query {
        parse(s, &Params::default()).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err(s: &str) -> String {
        parse(s, &Params::default()).unwrap_err().reason
    }

    #[test]
    fn from_patterns_and_metadata() {
        let q = p("FROM logs-*, .ds-x,\"quoted idx\" METADATA _id, _index | LIMIT 5");
        let Command::From { patterns, metadata } = &q.commands[0].0 else {
            panic!()
        };
        let names: Vec<_> = patterns.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["logs-*", ".ds-x", "quoted idx"]);
        assert_eq!(metadata.len(), 2);
        assert_eq!(q.commands[1].0, Command::Limit(5));
        assert_eq!(q.commands[1].1, Pos { line: 1, col: 56 });
    }

    #[test]
    fn expression_text_and_precedence() {
        let q = p("row a = 1 + 2 * 3, b = NOT x IS NULL AND y > 2 OR z");
        let Command::Row(fields) = &q.commands[0].0 else {
            panic!()
        };
        assert_eq!(fields[0].expr.text, "1 + 2 * 3");
        let ExprKind::Bin(BinOp::Add, _, r) = &fields[0].expr.kind else {
            panic!()
        };
        assert!(matches!(r.kind, ExprKind::Bin(BinOp::Mul, _, _)));
        assert!(matches!(
            fields[1].expr.kind,
            ExprKind::Bin(BinOp::Or, _, _)
        ));
        let q = p("from t | eval COUNT(*) + 1, `a b`.c * 2");
        let Command::Eval(f) = &q.commands[1].0 else {
            panic!()
        };
        assert_eq!(f[0].name, "COUNT(*) + 1");
        assert_eq!(f[1].name, "`a b`.c * 2");
    }

    #[test]
    fn spans_strings_and_comments() {
        let q = p(
            "row a = 1 day, b = \"x\\\"y\", c = \"\"\"r\\aw\"\"\" // comment\n/* c */ | keep a*, b",
        );
        let Command::Row(f) = &q.commands[0].0 else {
            panic!()
        };
        assert_eq!(f[0].expr.kind, ExprKind::Span(1, "day".into()));
        assert_eq!(f[1].expr.kind, ExprKind::Lit(Lit::Str("x\"y".into())));
        assert_eq!(f[2].expr.kind, ExprKind::Lit(Lit::Str("r\\aw".into())));
        let Command::Keep(k) = &q.commands[1].0 else {
            panic!()
        };
        assert_eq!(k[0].name, "a*");
        assert_eq!(k[1].pos, Pos { line: 2, col: 20 });
    }

    #[test]
    fn params() {
        let params = Params {
            positional: vec![Value::from(5), Value::from("x")],
            named: vec![("n".into(), Value::from(2.5))],
        };
        let q = parse("row a = ?, b = ?, c = ?n, d = ?1", &params).unwrap();
        let Command::Row(f) = &q.commands[0].0 else {
            panic!()
        };
        assert_eq!(f[0].expr.kind, ExprKind::Lit(Lit::Int(5)));
        assert_eq!(f[1].expr.kind, ExprKind::Lit(Lit::Str("x".into())));
        assert_eq!(f[2].expr.kind, ExprKind::Lit(Lit::Double(2.5)));
        assert_eq!(f[3].expr.kind, ExprKind::Lit(Lit::Int(5)));
        assert!(
            parse("row a = ?zz", &params)
                .unwrap_err()
                .reason
                .contains("Unknown query parameter [zz]")
        );
    }

    #[test]
    fn errors_have_positions() {
        assert_eq!(
            err("FROM t | WHER x"),
            "line 1:10: mismatched input 'WHER' expecting {'dissect', 'drop', 'enrich', 'eval', \
             'grok', 'keep', 'limit', 'lookup', 'mv_expand', 'rename', 'sort', 'stats', 'where'}"
        );
        assert!(err("row a = (1").starts_with("line 1:11: mismatched input '<EOF>'"));
        assert!(err("row a = \"x").starts_with("line 1:9: unterminated"));
        assert!(err("from t\n| limit -1").starts_with("line 2:9:"));
        let deep = format!("row a = {}1{}", "(".repeat(100), ")".repeat(100));
        assert!(err(&deep).contains("maximum expression depth"));
        let chain = format!("row a = 1{}", " + 1".repeat(300));
        assert!(err(&chain).contains("maximum expression depth"));
        let ors = format!("row a = true{}", " OR false".repeat(300));
        assert!(err(&ors).contains("maximum expression depth"));
        p(&format!("row a = 1{}", " + 1".repeat(250)));
    }
}
