//! The subset of Painless that runtime-field scripts written for Kibana use, parsed into a small
//! AST that `plan::runtime` translates into one SQL expression per field.
//!
//! Why a hand parser: Painless is a Java-like language with no maintained Rust grammar, and we
//! translate only straight-line value computations — `emit(doc['f'].value …)`, arithmetic,
//! string concatenation, `if (doc['f'].size() != 0)` guards, string methods, ternaries, local
//! variables. A recursive-descent parser of ~400 lines states that subset exactly; everything
//! outside it (loops, lambdas, `params._source`, unknown methods) is a parse error that the
//! search answers with a 400 naming the script, never a silent approximation.
//! Reference: Elasticsearch "Runtime fields" (runtime-search-request.html, runtime-mapping-fields.html)
//! and the Painless language specification (painless-lang-spec).

use crate::error::EsError;

#[derive(Debug, Clone, PartialEq)]
pub enum PExpr {
    Long(i64),
    Double(f64),
    Str(String),
    Bool(bool),
    Null,
    /// `doc['f']` (the doc-values accessor of field `f`).
    Doc(String),
    /// `doc.containsKey('f')`: whether the index maps `f`.
    DocHas(String),
    /// A local variable.
    Var(String),
    /// `params.x` / `params['x']`: a script parameter.
    Param(String),
    Unary(char, Box<PExpr>),
    Binary(&'static str, Box<PExpr>, Box<PExpr>),
    /// `target.name` (property access such as `.value`, `.empty`).
    Prop(Box<PExpr>, String),
    /// `target.name(args)`.
    Call(Box<PExpr>, String, Vec<PExpr>),
    /// `Math.max(a, b)`, `String.valueOf(x)`: a static call of a whitelisted class.
    Static(String, String, Vec<PExpr>),
    /// `(long) x`.
    Cast(String, Box<PExpr>),
    Cond(Box<PExpr>, Box<PExpr>, Box<PExpr>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    Emit(PExpr),
    If(PExpr, Vec<Stmt>, Vec<Stmt>),
    Return,
    /// `def x = …;` / `long x = …;` / `x = …;`.
    Let(String, PExpr),
    /// `ctx._source.f = …;` (`+=`, `-=`, `++`, `--` desugared into the value): update scripts
    /// only (`_update`, `_update_by_query`, `_reindex`), evaluated on the rows.
    Assign(PExpr, PExpr),
    /// A call as a statement, `ctx._source.remove('f');`, `ctx._source.tags.add(x);`: update
    /// scripts only.
    Call(PExpr),
}

/// Whether `e` is `ctx` or a property chain on it (`ctx._source.a`).
pub fn ctx_rooted(e: &PExpr) -> bool {
    match e {
        PExpr::Var(v) => v == "ctx",
        PExpr::Prop(inner, _) => ctx_rooted(inner),
        _ => false,
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Long(i64),
    Double(f64),
    Str(String),
    Op(&'static str),
}

const OPS: [&str; 28] = [
    "==", "!=", "<=", ">=", "&&", "||", "+=", "-=", "++", "--", "<", ">", "+", "-", "*", "/", "%",
    "!", "(", ")", "[", "]", "{", "}", ".", ",", ";", "=",
];
const OPS_EXTRA: [&str; 2] = ["?", ":"];

fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' || c == '$' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
            continue;
        }
        if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                // `1.toString` is not Painless; a dot followed by a digit belongs to the number.
                if chars[i] == '.' && !chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()) {
                    break;
                }
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            let suffix = chars.get(i).copied();
            match suffix {
                Some('L' | 'l') => {
                    i += 1;
                    out.push(Tok::Long(text.parse().map_err(|_| "bad number")?));
                }
                Some('d' | 'D' | 'f' | 'F') => {
                    i += 1;
                    out.push(Tok::Double(text.parse().map_err(|_| "bad number")?));
                }
                _ if text.contains('.') => {
                    out.push(Tok::Double(text.parse().map_err(|_| "bad number")?))
                }
                _ => out.push(Tok::Long(text.parse().map_err(|_| "bad number")?)),
            }
            continue;
        }
        if c == '\'' || c == '"' {
            let quote = c;
            i += 1;
            let mut s = String::new();
            loop {
                match chars.get(i) {
                    None => return Err("unterminated string".into()),
                    Some(&q) if q == quote => {
                        i += 1;
                        break;
                    }
                    Some('\\') => {
                        let e = chars.get(i + 1).copied().ok_or("unterminated string")?;
                        s.push(match e {
                            'n' => '\n',
                            't' => '\t',
                            other => other,
                        });
                        i += 2;
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Str(s));
            continue;
        }
        let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
        let op = OPS
            .iter()
            .chain(OPS_EXTRA.iter())
            .find(|op| rest.starts_with(**op))
            .ok_or_else(|| format!("unexpected character [{c}]"))?;
        out.push(Tok::Op(op));
        i += op.chars().count();
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    /// Nesting of the syntax tree along the current path: every recursive rule and every link of
    /// a left-associative chain (`a + b + c`, `x.f().g()`) adds one.
    depth: usize,
}

/// How deep a script's syntax tree may nest. Painless has no documented bound (its compiler
/// fails with a StackOverflowError on deep enough input); elastichouse answers a compile error
/// well before its own stack or ClickHouse's `max_ast_depth` is reached.
pub const MAX_DEPTH: usize = 64;

/// The parse error for a script nested deeper than [`MAX_DEPTH`].
pub const TOO_DEEP: &str = "the script is nested too deeply";

const TYPES: [&str; 9] = [
    "def", "long", "int", "double", "float", "String", "boolean", "short", "byte",
];

impl Parser {
    fn deeper(&mut self, by: usize) -> Result<(), String> {
        self.depth += by;
        if self.depth > MAX_DEPTH {
            return Err(TOO_DEEP.into());
        }
        Ok(())
    }
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn peek_at(&self, n: usize) -> Option<&Tok> {
        self.toks.get(self.pos + n)
    }
    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(o)) if *o == op)
    }
    fn is_ident(&self, name: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(i)) if i == name)
    }
    fn eat_op(&mut self, op: &str) -> bool {
        if self.is_op(op) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect_op(&mut self, op: &str) -> Result<(), String> {
        if self.eat_op(op) {
            Ok(())
        } else {
            Err(format!("expected [{op}] {}", self.at()))
        }
    }
    fn ident(&mut self) -> Result<String, String> {
        match self.peek().cloned() {
            Some(Tok::Ident(i)) => {
                self.pos += 1;
                Ok(i)
            }
            _ => Err(format!("expected a name {}", self.at())),
        }
    }
    fn at(&self) -> String {
        match self.peek() {
            None => "at the end of the script".into(),
            Some(Tok::Ident(i)) => format!("at [{i}]"),
            Some(Tok::Op(o)) => format!("at [{o}]"),
            Some(Tok::Str(s)) => format!("at ['{s}']"),
            Some(Tok::Long(n)) => format!("at [{n}]"),
            Some(Tok::Double(n)) => format!("at [{n}]"),
        }
    }

    fn statements(&mut self, until_brace: bool) -> Result<Vec<Stmt>, String> {
        let mut out = Vec::new();
        loop {
            if self.peek().is_none() {
                if until_brace {
                    return Err("expected [}] at the end of the script".into());
                }
                return Ok(out);
            }
            if until_brace && self.eat_op("}") {
                return Ok(out);
            }
            if self.eat_op(";") {
                continue;
            }
            out.push(self.statement()?);
        }
    }

    /// A statement or a `{ block }`.
    fn body(&mut self) -> Result<Vec<Stmt>, String> {
        if self.eat_op("{") {
            self.statements(true)
        } else {
            Ok(vec![self.statement()?])
        }
    }

    fn statement(&mut self) -> Result<Stmt, String> {
        self.deeper(1)?;
        let s = self.statement_inner();
        self.depth -= 1;
        s
    }

    fn statement_inner(&mut self) -> Result<Stmt, String> {
        if self.is_ident("if") {
            self.pos += 1;
            self.expect_op("(")?;
            let cond = self.expr()?;
            self.expect_op(")")?;
            let then = self.body()?;
            let els = if self.is_ident("else") {
                self.pos += 1;
                self.body()?
            } else {
                vec![]
            };
            return Ok(Stmt::If(cond, then, els));
        }
        if self.is_ident("emit") && matches!(self.peek_at(1), Some(Tok::Op("("))) {
            self.pos += 2;
            let e = self.expr()?;
            if self.is_op(",") {
                return Err("emit with more than one argument (composite fields)".into());
            }
            self.expect_op(")")?;
            self.end_statement()?;
            return Ok(Stmt::Emit(e));
        }
        if self.is_ident("return") {
            self.pos += 1;
            if !self.is_op(";") && self.peek().is_some() && !self.is_op("}") {
                return Err("return with a value (runtime field scripts emit values)".into());
            }
            self.end_statement()?;
            return Ok(Stmt::Return);
        }
        if let Some(Tok::Ident(t)) = self.peek()
            && TYPES.contains(&t.as_str())
            && matches!(self.peek_at(1), Some(Tok::Ident(_)))
        {
            self.pos += 1;
            let name = self.ident()?;
            self.expect_op("=")?;
            let e = self.expr()?;
            self.end_statement()?;
            return Ok(Stmt::Let(name, e));
        }
        if self.is_ident("ctx") {
            return self.ctx_statement();
        }
        if let Some(Tok::Ident(name)) = self.peek().cloned()
            && matches!(self.peek_at(1), Some(Tok::Op("=" | "+=" | "-=")))
        {
            let Some(Tok::Op(op)) = self.peek_at(1).cloned() else {
                unreachable!()
            };
            self.pos += 2;
            let e = self.expr()?;
            self.end_statement()?;
            let value = match op {
                "+=" => PExpr::Binary("+", Box::new(PExpr::Var(name.clone())), Box::new(e)),
                "-=" => PExpr::Binary("-", Box::new(PExpr::Var(name.clone())), Box::new(e)),
                _ => e,
            };
            return Ok(Stmt::Let(name, value));
        }
        if let Some(Tok::Ident(kw)) = self.peek()
            && matches!(
                kw.as_str(),
                "for" | "while" | "do" | "try" | "throw" | "switch" | "new"
            )
        {
            return Err(format!("[{kw}] statements"));
        }
        Err(format!("unsupported statement {}", self.at()))
    }

    /// `ctx.<path> (= | += | -=) e;`, `ctx.<path>++;` or `ctx.<path>.method(…);`.
    fn ctx_statement(&mut self) -> Result<Stmt, String> {
        let target = self.postfix()?;
        if let PExpr::Call(..) = target {
            self.end_statement()?;
            return Ok(Stmt::Call(target));
        }
        if !ctx_rooted(&target) {
            return Err(format!("unsupported statement {}", self.at()));
        }
        let Some(Tok::Op(op)) = self.peek().cloned() else {
            return Err(format!("expected an assignment {}", self.at()));
        };
        let value = match op {
            "=" | "+=" | "-=" => {
                self.pos += 1;
                let e = self.expr()?;
                match op {
                    "+=" => PExpr::Binary("+", Box::new(target.clone()), Box::new(e)),
                    "-=" => PExpr::Binary("-", Box::new(target.clone()), Box::new(e)),
                    _ => e,
                }
            }
            "++" | "--" => {
                self.pos += 1;
                let sign = if op == "++" { "+" } else { "-" };
                PExpr::Binary(sign, Box::new(target.clone()), Box::new(PExpr::Long(1)))
            }
            _ => return Err(format!("expected an assignment {}", self.at())),
        };
        self.end_statement()?;
        Ok(Stmt::Assign(target, value))
    }

    fn end_statement(&mut self) -> Result<(), String> {
        if self.eat_op(";") || self.peek().is_none() || self.is_op("}") {
            Ok(())
        } else {
            Err(format!("expected [;] {}", self.at()))
        }
    }

    fn expr(&mut self) -> Result<PExpr, String> {
        self.deeper(1)?;
        let e = self.expr_inner();
        self.depth -= 1;
        e
    }

    fn expr_inner(&mut self) -> Result<PExpr, String> {
        let c = self.binary(0)?;
        if self.eat_op("?") {
            let a = self.expr()?;
            self.expect_op(":")?;
            let b = self.expr()?;
            return Ok(PExpr::Cond(Box::new(c), Box::new(a), Box::new(b)));
        }
        Ok(c)
    }

    /// Binary operators by precedence climbing: one frame per operand rather than one per
    /// precedence level, so that nesting costs little stack.
    fn binary(&mut self, min_level: usize) -> Result<PExpr, String> {
        const LEVELS: [&[&str]; 6] = [
            &["||"],
            &["&&"],
            &["==", "!="],
            &["<", "<=", ">", ">="],
            &["+", "-"],
            &["*", "/", "%"],
        ];
        let mut left = self.unary()?;
        let mut chain = 0;
        while let Some(Tok::Op(op)) = self.peek().cloned() {
            let Some(level) = LEVELS.iter().position(|ops| ops.contains(&op)) else {
                break;
            };
            if level < min_level {
                break;
            }
            self.pos += 1;
            chain += 1;
            self.deeper(1)?;
            let right = self.binary(level + 1)?;
            left = PExpr::Binary(op, Box::new(left), Box::new(right));
        }
        self.depth -= chain;
        Ok(left)
    }

    fn unary(&mut self) -> Result<PExpr, String> {
        self.deeper(1)?;
        let e = self.unary_inner();
        self.depth -= 1;
        e
    }

    fn unary_inner(&mut self) -> Result<PExpr, String> {
        if self.eat_op("!") {
            return Ok(PExpr::Unary('!', Box::new(self.unary()?)));
        }
        if self.eat_op("-") {
            return Ok(match self.unary()? {
                PExpr::Long(n) => PExpr::Long(-n),
                PExpr::Double(n) => PExpr::Double(-n),
                e => PExpr::Unary('-', Box::new(e)),
            });
        }
        // `(long) x`: a cast when a type name sits alone in parentheses.
        if self.is_op("(")
            && let Some(Tok::Ident(t)) = self.peek_at(1)
            && TYPES.contains(&t.as_str())
            && matches!(self.peek_at(2), Some(Tok::Op(")")))
        {
            let t = t.clone();
            self.pos += 3;
            return Ok(PExpr::Cast(t, Box::new(self.unary()?)));
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<PExpr, String> {
        let mut e = self.primary()?;
        let mut chain = 0;
        loop {
            if self.eat_op(".") {
                chain += 1;
                self.deeper(1)?;
                let name = self.ident()?;
                if self.eat_op("(") {
                    let args = self.args()?;
                    e = PExpr::Call(Box::new(e), name, args);
                } else {
                    e = PExpr::Prop(Box::new(e), name);
                }
            } else if self.is_op("[")
                && ctx_rooted(&e)
                && let Some(Tok::Str(key)) = self.peek_at(1).cloned()
                && matches!(self.peek_at(2), Some(Tok::Op("]")))
            {
                // `ctx['_source']['f']` reads like `ctx._source.f` (map access).
                self.pos += 3;
                chain += 1;
                self.deeper(1)?;
                e = PExpr::Prop(Box::new(e), key);
            } else if self.is_op("[") {
                return Err(format!("indexing {}", self.at()));
            } else {
                self.depth -= chain;
                return Ok(e);
            }
        }
    }

    fn args(&mut self) -> Result<Vec<PExpr>, String> {
        let mut args = Vec::new();
        if self.eat_op(")") {
            return Ok(args);
        }
        loop {
            args.push(self.expr()?);
            if self.eat_op(")") {
                return Ok(args);
            }
            self.expect_op(",")?;
        }
    }

    fn primary(&mut self) -> Result<PExpr, String> {
        let tok = self.peek().cloned().ok_or("unexpected end of the script")?;
        self.pos += 1;
        Ok(match tok {
            Tok::Long(n) => PExpr::Long(n),
            Tok::Double(n) => PExpr::Double(n),
            Tok::Str(s) => PExpr::Str(s),
            Tok::Op("(") => {
                let e = self.expr()?;
                self.expect_op(")")?;
                e
            }
            Tok::Ident(i) => match i.as_str() {
                "true" => PExpr::Bool(true),
                "false" => PExpr::Bool(false),
                "null" => PExpr::Null,
                "doc" if self.is_op(".") => {
                    self.pos += 1;
                    let m = self.ident()?;
                    if m != "containsKey" {
                        return Err(format!("doc.{m}"));
                    }
                    self.expect_op("(")?;
                    let Some(Tok::Str(f)) = self.peek().cloned() else {
                        return Err(format!("expected a field name {}", self.at()));
                    };
                    self.pos += 1;
                    self.expect_op(")")?;
                    PExpr::DocHas(f)
                }
                "doc" => {
                    self.expect_op("[")?;
                    let Some(Tok::Str(f)) = self.peek().cloned() else {
                        return Err(format!("expected a field name in doc[…] {}", self.at()));
                    };
                    self.pos += 1;
                    self.expect_op("]")?;
                    PExpr::Doc(f)
                }
                "params" => {
                    if self.eat_op(".") {
                        let name = self.ident()?;
                        if name == "_source" {
                            return Err("params._source".into());
                        }
                        PExpr::Param(name)
                    } else if self.eat_op("[") {
                        let Some(Tok::Str(name)) = self.peek().cloned() else {
                            return Err(format!("expected a parameter name {}", self.at()));
                        };
                        self.pos += 1;
                        self.expect_op("]")?;
                        if name == "_source" {
                            return Err("params['_source']".into());
                        }
                        PExpr::Param(name)
                    } else {
                        return Err("params without a name".into());
                    }
                }
                "Math" | "String" | "Long" | "Integer" | "Double" => {
                    self.expect_op(".")?;
                    let m = self.ident()?;
                    self.expect_op("(")?;
                    let args = self.args()?;
                    PExpr::Static(i, m, args)
                }
                _ if self.is_op("(") => return Err(format!("function [{i}]")),
                _ => PExpr::Var(i),
            },
            Tok::Op(o) => return Err(format!("unexpected [{o}]")),
        })
    }
}

/// Parses a runtime-field script into statements; the error explains what is outside the subset.
pub fn parse(src: &str) -> Result<Vec<Stmt>, String> {
    let toks = lex(src)?;
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
    };
    p.statements(false)
}

/// A runtime field definition of `runtime_mappings` (or the mapping's `runtime` section).
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeField {
    pub name: String,
    pub es_type: String,
    /// `None`: no script, the value is read from `_source` under the same name.
    pub script: Option<Vec<Stmt>>,
    pub source: Option<String>,
    pub params: serde_json::Map<String, serde_json::Value>,
    pub format: Option<String>,
}

/// Runtime field types elastichouse translates.
pub const RUNTIME_TYPES: [&str; 6] = ["keyword", "long", "double", "boolean", "date", "ip"];

/// The error for a script outside the translated subset: a 400 naming the field and the script.
pub fn script_error(name: &str, source: &str, why: &str) -> EsError {
    EsError::unsupported(format!(
        "runtime field [{name}] script [{source}]: {why}; elastichouse translates emit(doc['f'].value …) with arithmetic, string concatenation, size() guards and string methods"
    ))
}

/// Painless's answer to a script it cannot compile: a 400 `script_exception` "compile error" with
/// the script and its language (PainlessScriptEngine#convertToScriptException), around the cause.
pub fn compile_error(source: &str, why: &str) -> EsError {
    let stack: String = source.chars().take(25).collect();
    EsError::new(400, "script_exception", "compile error")
        .with("script_stack", serde_json::json!([stack]))
        .with("script", source.chars().take(200).collect::<String>())
        .with("lang", "painless")
        .caused_by(EsError::illegal_argument(why))
}

/// Parses one runtime field definition (`{"type": …, "script": …}`) as RuntimeFieldParser does.
pub fn parse_runtime_field(name: &str, def: &serde_json::Value) -> Result<RuntimeField, EsError> {
    use serde_json::Value;
    let Value::Object(m) = def else {
        return Err(EsError::new(
            400,
            "mapper_parsing_exception",
            format!("Expected map for runtime field [{name}] definition but got a {def}"),
        ));
    };
    let es_type = match m.get("type") {
        Some(Value::String(t)) => t.clone(),
        _ => {
            return Err(EsError::new(
                400,
                "mapper_parsing_exception",
                format!("No type specified for runtime field [{name}]"),
            ));
        }
    };
    if !matches!(
        es_type.as_str(),
        "keyword"
            | "long"
            | "double"
            | "boolean"
            | "date"
            | "ip"
            | "geo_point"
            | "composite"
            | "lookup"
    ) {
        return Err(EsError::new(
            400,
            "mapper_parsing_exception",
            format!("No handler for type [{es_type}] declared on runtime field [{name}]"),
        ));
    }
    if !RUNTIME_TYPES.contains(&es_type.as_str()) {
        return Err(EsError::unsupported(format!(
            "runtime field [{name}] of type [{es_type}]"
        )));
    }
    let mut out = RuntimeField {
        name: name.to_string(),
        es_type,
        script: None,
        source: None,
        params: Default::default(),
        format: None,
    };
    for (k, v) in m {
        match k.as_str() {
            "type" => {}
            "format" if out.es_type == "date" => out.format = v.as_str().map(str::to_string),
            "script" => {
                let (source, lang) = match v {
                    Value::String(s) => (s.clone(), None),
                    Value::Object(o) => {
                        if let Some(Value::Object(p)) = o.get("params") {
                            out.params = p.clone();
                        }
                        for key in o.keys() {
                            if !matches!(key.as_str(), "source" | "lang" | "params" | "options") {
                                return Err(EsError::unsupported(format!(
                                    "runtime field [{name}] script option [{key}]"
                                )));
                            }
                        }
                        (
                            o.get("source")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_string(),
                            o.get("lang").and_then(Value::as_str),
                        )
                    }
                    _ => {
                        return Err(EsError::unsupported(format!(
                            "runtime field [{name}] script [{v}]"
                        )));
                    }
                };
                if let Some(l) = lang
                    && l != "painless"
                {
                    return Err(EsError::unsupported(format!(
                        "runtime field [{name}] script language [{l}]"
                    )));
                }
                let stmts = parse(&source).map_err(|why| {
                    if why == TOO_DEEP {
                        compile_error(&source, &why)
                    } else {
                        script_error(name, &source, &why)
                    }
                })?;
                out.script = Some(stmts);
                out.source = Some(source);
            }
            "meta" => {}
            other => {
                return Err(EsError::new(
                    400,
                    "mapper_parsing_exception",
                    format!(
                        "unknown parameter [{other}] on runtime field [{name}] of type [{}]",
                        out.es_type
                    ),
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kibana_patterns_parse() {
        let s = parse("emit(doc['a'].value * 2)").unwrap();
        assert_eq!(
            s,
            vec![Stmt::Emit(PExpr::Binary(
                "*",
                Box::new(PExpr::Prop(
                    Box::new(PExpr::Doc("a".into())),
                    "value".into()
                )),
                Box::new(PExpr::Long(2))
            ))]
        );
        let s = parse(
            "if (doc['f'].size() != 0) { emit(doc['f'].value.toLowerCase() + '-' + doc['g'].value); }",
        )
        .unwrap();
        assert!(matches!(&s[0], Stmt::If(_, t, e) if t.len() == 1 && e.is_empty()));
        let s = parse("if (doc['f'].size() == 0) return; def v = doc['f'].value; emit(v > 10 ? 'big' : 'small')")
            .unwrap();
        assert_eq!(s.len(), 3);
        assert!(parse("emit((long) (doc['d'].value / 1.5))").is_ok());
        assert!(parse("emit(Math.max(doc['a'].value, 1L))").is_ok());
        assert_eq!(
            parse("if (doc.containsKey('a')) emit(1L)").unwrap()[0],
            Stmt::If(
                PExpr::DocHas("a".into()),
                vec![Stmt::Emit(PExpr::Long(1))],
                vec![]
            )
        );
    }

    #[test]
    fn outside_the_subset_is_an_error() {
        assert!(parse("for (def x : doc['a']) { emit(x) }").is_err());
        assert!(parse("emit(params._source.a)").is_err());
        assert!(parse("emit(doc['a'][0])").is_err());
        assert!(parse("emit(foo(1))").is_err());
        assert!(parse("emit('x'").is_err());
    }
}

#[cfg(test)]
mod depth_tests {
    /// Parses on a thread with tokio's default worker stack (2 MiB), less what the request path
    /// above the parser uses, to show the bound keeps the parser well inside it.
    fn parse_small_stack(src: String) -> Result<(), String> {
        std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(move || super::parse(&src).map(|_| ()))
            .unwrap()
            .join()
            .unwrap()
    }

    #[test]
    fn nesting_is_bounded() {
        let parens = |n: usize| format!("emit({}1{})", "(".repeat(n), ")".repeat(n));
        assert_eq!(parse_small_stack(parens(20)), Ok(()));
        assert_eq!(
            parse_small_stack(parens(20_000)),
            Err(super::TOO_DEEP.into())
        );
        assert_eq!(
            parse_small_stack(format!("emit({}1)", "-!".repeat(10_000))),
            Err(super::TOO_DEEP.into())
        );
        assert_eq!(
            parse_small_stack(format!("emit(1{})", " + 1".repeat(50))),
            Ok(())
        );
        assert_eq!(
            parse_small_stack(format!("emit(1{})", " + 1".repeat(100_000))),
            Err(super::TOO_DEEP.into())
        );
        assert_eq!(
            parse_small_stack(format!("emit(doc['a'].value{})", ".trim()".repeat(100_000))),
            Err(super::TOO_DEEP.into())
        );
        let ifs = format!("{}emit(1);", "if (true) ".repeat(10_000));
        assert_eq!(parse_small_stack(ifs), Err(super::TOO_DEEP.into()));
    }
}
