//! Lucene regular expressions (the syntax of the `regexp` query, regexp-syntax.html) translated to
//! RE2, the engine behind ClickHouse's `match()`.
//!
//! The parser follows the grammar of Lucene's `RegExp` class (recursive descent with the same
//! precedence: union `|` < intersection `&` < concatenation < repetition and complement `~`), so
//! that odd inputs mean what they mean in Elasticsearch: a leading `*` is a literal star, `a||b` is
//! `a` or `|b`, `"…"` quotes a literal string, and the optional operators (`&`, `~`, `#`, `@`,
//! `<n-m>`) are literal characters when their flag is off.
//!
//! Lucene patterns are always anchored to the whole term; RE2 gets `^(?:…)$`. Translation:
//!
//! * `@` (any string) → `.*`, `#` (the empty language) → a class that matches nothing, `<n-m>` (a
//!   decimal interval) → an alternation of digit ranges, with any number of leading zeros unless both
//!   bounds have the same width (then exactly that width, zero-padded), as Lucene does.
//! * `&` and `~` have no RE2 counterpart. At the top of the expression (possibly under other
//!   top-level `|`, `&`, `~`) they become boolean operators over several anchored `match()` calls,
//!   which is exact because each branch is matched against the whole term. Inside a concatenation or
//!   repetition, `~` is rewritten when its operand is a single character, a character class or a
//!   literal string (the complement of a finite set of strings is expressible); any other nested
//!   `~` or `&` is refused with a 400 naming the operator.
//! * `case_insensitive` folds ASCII letters only (Lucene's ASCII_CASE_INSENSITIVE): `a` → `[aA]`.
//! * RE2 caps counted repetition at 1000; larger bounds are refused.
//! * ClickHouse's `match()` lets `.` match a newline, like Lucene's `.`.

use crate::dsl::term_level::regexp_flags as F;

/// A parse or translation failure: the message, and whether it is a syntax error (Lucene would
/// reject it too) or an operator we cannot translate.
#[derive(Debug, Clone, PartialEq)]
pub enum RegexError {
    Syntax(String),
    Unsupported(String),
}

#[derive(Debug, Clone, PartialEq)]
enum ClassItem {
    Char(char),
    Range(char, char),
    /// `\d \D \s \S \w \W`.
    Perl(char),
}

#[derive(Debug, Clone, PartialEq)]
enum Re {
    /// `#`: no string at all.
    Nothing,
    /// `@`: every string.
    AnyString,
    /// `.`
    AnyChar,
    /// A literal string (`"…"`, `()` is the empty string).
    Str(String),
    Char(char),
    Class {
        negated: bool,
        items: Vec<ClassItem>,
    },
    Concat(Vec<Re>),
    Union(Vec<Re>),
    Inter(Vec<Re>),
    Compl(Box<Re>),
    Repeat(Box<Re>, u32, Option<u32>),
    /// `<lo-hi>` and the fixed width (0 = any number of leading zeros).
    Interval(u64, u64, usize),
}

struct Parser<'a> {
    chars: Vec<char>,
    pos: usize,
    flags: u32,
    _src: &'a str,
    /// Nesting of the tree being built: groups, `~` and chained repetitions each add one.
    depth: usize,
}

/// How deep a pattern may nest. Lucene's RegExp parser recurses without a bound of its own (the
/// `regexp` query's `index.max_regex_length` of 1000 keeps it shallow there, query_string's
/// `/…/` has no such cap); elastichouse refuses deeper patterns as a syntax error.
pub const MAX_DEPTH: usize = 100;

impl Parser<'_> {
    fn more(&self) -> bool {
        self.pos < self.chars.len()
    }
    fn peek(&self, set: &str) -> bool {
        self.more() && set.contains(self.chars[self.pos])
    }
    fn eat(&mut self, c: char) -> bool {
        if self.more() && self.chars[self.pos] == c {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn check(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }
    fn next(&mut self) -> Result<char, RegexError> {
        if !self.more() {
            return Err(RegexError::Syntax("unexpected end-of-string".into()));
        }
        self.pos += 1;
        Ok(self.chars[self.pos - 1])
    }

    fn deeper(&mut self, by: usize) -> Result<(), RegexError> {
        self.depth += by;
        if self.depth > MAX_DEPTH {
            return Err(RegexError::Syntax(format!(
                "the expression nests deeper than elastichouse's limit of [{MAX_DEPTH}] at position {}",
                self.pos
            )));
        }
        Ok(())
    }

    fn union(&mut self) -> Result<Re, RegexError> {
        self.deeper(1)?;
        let u = self.union_inner();
        self.depth -= 1;
        u
    }

    fn union_inner(&mut self) -> Result<Re, RegexError> {
        let mut parts = vec![self.inter()?];
        while self.eat('|') {
            parts.push(self.inter()?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().expect("one")
        } else {
            Re::Union(parts)
        })
    }

    fn inter(&mut self) -> Result<Re, RegexError> {
        let mut parts = vec![self.concat()?];
        while self.check(F::INTERSECTION) && self.eat('&') {
            parts.push(self.concat()?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().expect("one")
        } else {
            Re::Inter(parts)
        })
    }

    fn concat(&mut self) -> Result<Re, RegexError> {
        let mut parts = vec![self.repeat()?];
        while self.more() && !self.peek(")|") && !(self.check(F::INTERSECTION) && self.peek("&")) {
            parts.push(self.repeat()?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().expect("one")
        } else {
            Re::Concat(parts)
        })
    }

    fn number(&mut self) -> Option<u32> {
        let start = self.pos;
        while self.peek("0123456789") {
            self.pos += 1;
        }
        let s: String = self.chars[start..self.pos].iter().collect();
        s.parse().ok()
    }

    fn repeat(&mut self) -> Result<Re, RegexError> {
        let mut e = self.complement()?;
        let mut chain = 0;
        while self.peek("?*+{") {
            chain += 1;
            self.deeper(1)?;
            let op = self.next()?;
            e = match op {
                '?' => Re::Repeat(Box::new(e), 0, Some(1)),
                '*' => Re::Repeat(Box::new(e), 0, None),
                '+' => Re::Repeat(Box::new(e), 1, None),
                _ => {
                    let n = self.number().ok_or_else(|| {
                        RegexError::Syntax(format!("integer expected at position {}", self.pos))
                    })?;
                    let m = if self.eat(',') {
                        if self.peek("0123456789") {
                            self.number()
                        } else {
                            None
                        }
                    } else {
                        Some(n)
                    };
                    if !self.eat('}') {
                        return Err(RegexError::Syntax(format!(
                            "expected '}}' at position {}",
                            self.pos
                        )));
                    }
                    Re::Repeat(Box::new(e), n, m)
                }
            };
        }
        self.depth -= chain;
        Ok(e)
    }

    fn complement(&mut self) -> Result<Re, RegexError> {
        if self.check(F::COMPLEMENT) && self.eat('~') {
            self.deeper(1)?;
            let c = Re::Compl(Box::new(self.complement()?));
            self.depth -= 1;
            return Ok(c);
        }
        self.char_class()
    }

    fn char_class(&mut self) -> Result<Re, RegexError> {
        if !self.eat('[') {
            return self.simple();
        }
        let negated = self.eat('^');
        let mut items = vec![self.class_item()?];
        while self.more() && !self.peek("]") {
            items.push(self.class_item()?);
        }
        if !self.eat(']') {
            return Err(RegexError::Syntax(format!(
                "expected ']' at position {}",
                self.pos
            )));
        }
        Ok(Re::Class { negated, items })
    }

    fn perl_class(&mut self) -> Option<char> {
        if self.pos + 1 < self.chars.len()
            && self.chars[self.pos] == '\\'
            && "dDsSwW".contains(self.chars[self.pos + 1])
        {
            self.pos += 2;
            return Some(self.chars[self.pos - 1]);
        }
        None
    }

    fn class_item(&mut self) -> Result<ClassItem, RegexError> {
        if let Some(p) = self.perl_class() {
            return Ok(ClassItem::Perl(p));
        }
        let c = self.char_exp()?;
        if self.eat('-') {
            let to = self.char_exp()?;
            if c > to {
                return Err(RegexError::Syntax(format!(
                    "invalid range: from ({c}) cannot be > to ({to})"
                )));
            }
            return Ok(ClassItem::Range(c, to));
        }
        Ok(ClassItem::Char(c))
    }

    fn char_exp(&mut self) -> Result<char, RegexError> {
        self.eat('\\');
        self.next()
    }

    fn simple(&mut self) -> Result<Re, RegexError> {
        if self.eat('.') {
            return Ok(Re::AnyChar);
        }
        if self.check(F::EMPTY) && self.eat('#') {
            return Ok(Re::Nothing);
        }
        if self.check(F::ANYSTRING) && self.eat('@') {
            return Ok(Re::AnyString);
        }
        if self.eat('"') {
            let start = self.pos;
            while self.more() && !self.peek("\"") {
                self.pos += 1;
            }
            if !self.eat('"') {
                return Err(RegexError::Syntax(format!(
                    "expected '\"' at position {}",
                    self.pos
                )));
            }
            return Ok(Re::Str(self.chars[start..self.pos - 1].iter().collect()));
        }
        if self.eat('(') {
            if self.eat(')') {
                return Ok(Re::Str(String::new()));
            }
            let e = self.union()?;
            if !self.eat(')') {
                return Err(RegexError::Syntax(format!(
                    "expected ')' at position {}",
                    self.pos
                )));
            }
            return Ok(e);
        }
        if self.check(F::INTERVAL) && self.eat('<') {
            return self.interval();
        }
        if let Some(p) = self.perl_class() {
            return Ok(Re::Class {
                negated: false,
                items: vec![ClassItem::Perl(p)],
            });
        }
        Ok(Re::Char(self.char_exp()?))
    }

    fn interval(&mut self) -> Result<Re, RegexError> {
        let start = self.pos;
        while self.more() && !self.peek(">") {
            self.pos += 1;
        }
        if !self.eat('>') {
            return Err(RegexError::Syntax(format!(
                "expected '>' at position {}",
                self.pos
            )));
        }
        let s: String = self.chars[start..self.pos - 1].iter().collect();
        let bad = || {
            RegexError::Syntax(format!(
                "interval syntax error at position {}",
                self.pos - 1
            ))
        };
        let (lo, hi) = s.split_once('-').ok_or_else(bad)?;
        if lo.is_empty() || hi.is_empty() || hi.contains('-') {
            return Err(bad());
        }
        let (a, b): (u64, u64) = (
            lo.parse().map_err(|_| bad())?,
            hi.parse().map_err(|_| bad())?,
        );
        if a > i32::MAX as u64 || b > i32::MAX as u64 {
            return Err(bad());
        }
        let width = if lo.len() == hi.len() { lo.len() } else { 0 };
        Ok(Re::Interval(a.min(b), a.max(b), width))
    }
}

fn parse(pattern: &str, flags: u32) -> Result<Re, RegexError> {
    if pattern.is_empty() {
        return Ok(Re::Str(String::new()));
    }
    let mut p = Parser {
        chars: pattern.chars().collect(),
        pos: 0,
        flags,
        _src: pattern,
        depth: 0,
    };
    let e = p.union()?;
    if p.more() {
        return Err(RegexError::Syntax(format!(
            "end-of-string expected at position {}",
            p.pos
        )));
    }
    Ok(e)
}

/// A boolean combination of anchored RE2 patterns: what a Lucene pattern becomes.
#[derive(Debug, Clone, PartialEq)]
pub enum Formula {
    /// Matches when RE2 matches the whole term (the pattern is already anchored).
    Re(String),
    And(Vec<Formula>),
    Or(Vec<Formula>),
    Not(Box<Formula>),
}

/// Translates a Lucene regular expression into RE2 pattern(s).
pub fn translate(pattern: &str, flags: u32, case_insensitive: bool) -> Result<Formula, RegexError> {
    let re = parse(pattern, flags)?;
    let r = Renderer { case_insensitive };
    r.formula(&re)
}

/// Matches nothing: RE2 has no empty language, but a class of no character does that.
const NOTHING: &str = "[^\\x00-\\x{10FFFF}]";
const MAX_REPEAT: u32 = 1000;

struct Renderer {
    case_insensitive: bool,
}

fn escape_char(c: char, out: &mut String) {
    if c.is_ascii_alphanumeric() || (!c.is_ascii() && !c.is_control()) || c == ' ' {
        out.push(c);
    } else if "\\.+*?()|[]{}^$".contains(c) {
        out.push('\\');
        out.push(c);
    } else if c.is_ascii_punctuation() {
        // Other punctuation is literal in RE2 (and `\<` would be a word boundary elsewhere).
        out.push(c);
    } else {
        out.push_str(&format!("\\x{{{:X}}}", c as u32));
    }
}

fn escape_class_char(c: char, out: &mut String) {
    if matches!(c, '\\' | ']' | '[' | '^' | '-') {
        out.push('\\');
        out.push(c);
    } else if c.is_control() {
        out.push_str(&format!("\\x{{{:X}}}", c as u32));
    } else {
        out.push(c);
    }
}

fn folded(c: char) -> Option<char> {
    if c.is_ascii_lowercase() {
        Some(c.to_ascii_uppercase())
    } else if c.is_ascii_uppercase() {
        Some(c.to_ascii_lowercase())
    } else {
        None
    }
}

impl Renderer {
    fn formula(&self, re: &Re) -> Result<Formula, RegexError> {
        match self.render(re) {
            Ok(p) => Ok(Formula::Re(format!("^(?:{p})$"))),
            Err(e) => match re {
                Re::Union(parts) => Ok(Formula::Or(
                    parts
                        .iter()
                        .map(|p| self.formula(p))
                        .collect::<Result<_, _>>()?,
                )),
                Re::Inter(parts) => Ok(Formula::And(
                    parts
                        .iter()
                        .map(|p| self.formula(p))
                        .collect::<Result<_, _>>()?,
                )),
                Re::Compl(x) => Ok(Formula::Not(Box::new(self.formula(x)?))),
                _ => Err(e),
            },
        }
    }

    /// The body of a character class matching exactly the characters of a single-character
    /// expression, with its negation; `None` if `re` is not one.
    fn class_body(&self, re: &Re) -> Option<(String, bool)> {
        match re {
            Re::Char(c) => {
                let mut s = String::new();
                escape_class_char(*c, &mut s);
                if self.case_insensitive
                    && let Some(f) = folded(*c)
                {
                    s.push(f);
                }
                Some((s, false))
            }
            Re::Class { negated, items } => Some((self.class_items(items), *negated)),
            Re::Str(s) if s.chars().count() == 1 => {
                self.class_body(&Re::Char(s.chars().next().expect("one char")))
            }
            _ => None,
        }
    }

    fn class_items(&self, items: &[ClassItem]) -> String {
        let mut s = String::new();
        for item in items {
            match item {
                ClassItem::Char(c) => {
                    escape_class_char(*c, &mut s);
                    if self.case_insensitive
                        && let Some(f) = folded(*c)
                    {
                        s.push(f);
                    }
                }
                ClassItem::Range(a, b) => {
                    escape_class_char(*a, &mut s);
                    s.push('-');
                    escape_class_char(*b, &mut s);
                }
                ClassItem::Perl(p) => {
                    s.push('\\');
                    s.push(*p);
                }
            }
        }
        s
    }

    fn literal(&self, text: &str) -> String {
        let mut s = String::new();
        for c in text.chars() {
            match folded(c).filter(|_| self.case_insensitive) {
                Some(f) => {
                    s.push('[');
                    s.push(c);
                    s.push(f);
                    s.push(']');
                }
                None => escape_char(c, &mut s),
            }
        }
        s
    }

    /// RE2 text for `re`, usable as one operand of a concatenation (unions are grouped).
    fn render(&self, re: &Re) -> Result<String, RegexError> {
        Ok(match re {
            Re::Nothing => NOTHING.to_string(),
            Re::AnyString => ".*".into(),
            Re::AnyChar => ".".into(),
            Re::Str(s) if s.is_empty() => "(?:)".into(),
            Re::Str(s) => self.literal(s),
            Re::Char(c) => self.literal(&c.to_string()),
            Re::Class { negated, items } => {
                format!(
                    "[{}{}]",
                    if *negated { "^" } else { "" },
                    self.class_items(items)
                )
            }
            Re::Concat(parts) => {
                let mut s = String::new();
                for p in parts {
                    s.push_str(&self.render(p)?);
                }
                s
            }
            Re::Union(parts) => {
                let alts: Vec<String> = parts
                    .iter()
                    .map(|p| self.render(p))
                    .collect::<Result<_, _>>()?;
                format!("(?:{})", alts.join("|"))
            }
            Re::Repeat(x, min, max) => {
                if max.is_some_and(|m| m < *min) {
                    // Lucene: a repetition whose maximum is below its minimum matches nothing.
                    return Ok(NOTHING.to_string());
                }
                if *min > MAX_REPEAT || max.is_some_and(|m| m > MAX_REPEAT) {
                    return Err(RegexError::Unsupported(format!(
                        "regexp repetition counts above {MAX_REPEAT}"
                    )));
                }
                let inner = self.render(x)?;
                let atom = match x.as_ref() {
                    Re::AnyChar | Re::Class { .. } | Re::Union(_) | Re::Nothing => inner,
                    Re::Char(c) if folded(*c).is_none() || !self.case_insensitive => inner,
                    Re::Char(_) => inner, // folded chars render as one class
                    _ => format!("(?:{inner})"),
                };
                let op = match (min, max) {
                    (0, None) => "*".to_string(),
                    (1, None) => "+".to_string(),
                    (0, Some(1)) => "?".to_string(),
                    (n, None) => format!("{{{n},}}"),
                    (n, Some(m)) if n == m => format!("{{{n}}}"),
                    (n, Some(m)) => format!("{{{n},{m}}}"),
                };
                format!("{atom}{op}")
            }
            Re::Interval(lo, hi, width) => interval_regex(*lo, *hi, *width),
            Re::Compl(x) => self.complement(x)?,
            Re::Inter(_) => {
                return Err(RegexError::Unsupported(
                    "regexp intersection operator [&] inside a larger expression".into(),
                ));
            }
        })
    }

    /// Strings other than those of `x`, for the operands whose complement RE2 can express.
    fn complement(&self, x: &Re) -> Result<String, RegexError> {
        if let Some((body, negated)) = self.class_body(x) {
            // Not one character of the set: the empty string, one other character, or longer.
            let other = format!("[{}{body}]", if negated { "" } else { "^" });
            return Ok(format!("(?:|{other}|.{{2,}})"));
        }
        match x {
            Re::AnyChar => Ok("(?:|.{2,})".into()),
            Re::Nothing => Ok(".*".into()),
            Re::AnyString => Ok(NOTHING.into()),
            _ if literal_of(x).is_some_and(|s| s.is_empty()) => Ok(".+".into()),
            _ if literal_of(x).is_some_and(|s| {
                !self.case_insensitive || !s.chars().any(|c| folded(c).is_some())
            }) =>
            {
                let s = literal_of(x).expect("checked");
                // Any other length, or the same length with a first difference at position i.
                let chars: Vec<char> = s.chars().collect();
                let n = chars.len();
                let mut alts = vec![format!(".{{0,{}}}", n - 1), format!(".{{{},}}", n + 1)];
                for i in 0..n {
                    let mut prefix = String::new();
                    for c in &chars[..i] {
                        escape_char(*c, &mut prefix);
                    }
                    let mut not_c = String::new();
                    escape_class_char(chars[i], &mut not_c);
                    alts.push(format!("{prefix}[^{not_c}].{{{}}}", n - i - 1));
                }
                Ok(format!("(?:{})", alts.join("|")))
            }
            _ => Err(RegexError::Unsupported(
                "regexp complement operator [~] on a non-literal pattern inside a larger expression"
                    .into(),
            )),
        }
    }
}

/// The string a pattern stands for if it is a plain literal (characters and quoted strings).
fn literal_of(re: &Re) -> Option<String> {
    match re {
        Re::Char(c) => Some(c.to_string()),
        Re::Str(s) => Some(s.clone()),
        Re::Concat(parts) => parts.iter().map(literal_of).collect(),
        _ => None,
    }
}

/// Decimal numbers in `[lo, hi]`: any number of leading zeros when `width` is 0, else exactly
/// `width` digits (zero-padded), as Lucene's `Automata.makeDecimalInterval`.
fn interval_regex(lo: u64, hi: u64, width: usize) -> String {
    let mut alts = Vec::new();
    let max_len = hi.to_string().len();
    for len in 1..=max_len {
        let start = if len == 1 {
            0
        } else {
            10u64.pow(len as u32 - 1)
        };
        let end = 10u64.pow(len as u32) - 1;
        let (a, b) = (lo.max(start), hi.min(end));
        if a > b {
            continue;
        }
        let pad = if width > len {
            format!("0{{{}}}", width - len)
        } else if width == 0 {
            String::new()
        } else if width < len {
            // Numbers longer than the fixed width cannot be written in it.
            continue;
        } else {
            String::new()
        };
        for r in same_length_ranges(&a.to_string(), &b.to_string()) {
            alts.push(format!("{pad}{r}"));
        }
    }
    if alts.is_empty() {
        return NOTHING.into();
    }
    let body = format!("(?:{})", alts.join("|"));
    if width == 0 {
        format!("0*{body}")
    } else {
        body
    }
}

/// Digit patterns for all numbers between `a` and `b`, two strings of the same length.
fn same_length_ranges(a: &str, b: &str) -> Vec<String> {
    let n = a.len();
    if n == 0 {
        return vec![String::new()];
    }
    let (a0, b0) = (a.as_bytes()[0], b.as_bytes()[0]);
    let (ra, rb) = (&a[1..], &b[1..]);
    let all_low = ra.bytes().all(|c| c == b'0');
    let all_high = rb.bytes().all(|c| c == b'9');
    let digit_class = |x: u8, y: u8| {
        if x == y {
            (x as char).to_string()
        } else {
            format!("[{}-{}]", x as char, y as char)
        }
    };
    let rest = |k: usize| {
        if k == 0 {
            String::new()
        } else {
            format!("[0-9]{{{k}}}")
        }
    };
    if a0 == b0 {
        return same_length_ranges(ra, rb)
            .into_iter()
            .map(|r| format!("{}{r}", a0 as char))
            .collect();
    }
    let mut out = Vec::new();
    let mut first = a0;
    if !all_low {
        let nines = "9".repeat(n - 1);
        for r in same_length_ranges(ra, &nines) {
            out.push(format!("{}{r}", a0 as char));
        }
        first += 1;
    }
    let mut last = b0;
    if !all_high {
        last -= 1;
    }
    if first <= last {
        out.push(format!("{}{}", digit_class(first, last), rest(n - 1)));
    }
    if !all_high {
        let zeros = "0".repeat(n - 1);
        for r in same_length_ranges(&zeros, rb) {
            out.push(format!("{}{r}", b0 as char));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    const ALL: u32 = F::ALL;

    fn re2(p: &str) -> String {
        match translate(p, ALL, false).unwrap() {
            Formula::Re(s) => s,
            f => panic!("not a single pattern: {f:?}"),
        }
    }

    /// Evaluates a translation with the `regex` crate (RE2 syntax and semantics for what we emit),
    /// with `(?s)` as ClickHouse's `match()` lets `.` match newlines.
    fn eval(f: &Formula, s: &str) -> bool {
        match f {
            Formula::Re(p) => Regex::new(&format!("(?s){p}")).unwrap().is_match(s),
            Formula::And(v) => v.iter().all(|x| eval(x, s)),
            Formula::Or(v) => v.iter().any(|x| eval(x, s)),
            Formula::Not(x) => !eval(x, s),
        }
    }

    fn matches(p: &str, flags: u32, ci: bool, s: &str) -> bool {
        eval(&translate(p, flags, ci).unwrap(), s)
    }

    #[test]
    fn basic_operators_are_anchored() {
        // regexp-syntax.html: patterns match the whole term; no ^ or $ anchors.
        assert_eq!(re2("ab.*"), "^(?:ab.*)$");
        assert!(matches("ab.*", ALL, false, "abc"));
        assert!(!matches("b.*", ALL, false, "abc"));
        assert!(matches("a(b|c)+d?", ALL, false, "abcb"));
        assert!(matches("a{2,3}", ALL, false, "aaa"));
        assert!(!matches("a{2,3}", ALL, false, "aaaa"));
        assert!(matches("a{2,}", ALL, false, "aaaa"));
        assert!(matches("[a-c]x[^0-9]", ALL, false, "bx-"));
        assert!(!matches("[a-c]x[^0-9]", ALL, false, "bx5"));
        assert!(matches("\"a.b\"", ALL, false, "a.b"));
        assert!(!matches("\"a.b\"", ALL, false, "axb"));
        assert!(matches("a\\.b", ALL, false, "a.b"));
        assert!(matches("\\d+\\w", ALL, false, "12x"));
        assert!(matches("", ALL, false, ""));
        assert!(matches("a.c", ALL, false, "a\nc"));
    }

    #[test]
    fn lucene_oddities() {
        // A leading star is a literal character in Lucene, and so are unmatched braces.
        assert!(matches("*a", ALL, false, "*a"));
        assert!(matches("a}", ALL, false, "a}"));
        // `a||b`: the second `|` starts the next branch as a literal character.
        assert!(matches("a||b", ALL, false, "|b"));
        assert!(matches("()", ALL, false, ""));
        // Stacked repetitions are repetitions of repetitions, not lazy quantifiers.
        assert!(matches("a+?", ALL, false, ""));
        assert!(matches("a**", ALL, false, "aaa"));
        assert!(!matches("a{3,1}", ALL, false, ""));
    }

    #[test]
    fn optional_operators_follow_flags() {
        // regexp-syntax.html#regexp-optional-operators
        assert!(matches("a@", ALL, false, "abcd"));
        assert!(matches("a@", F::NONE, false, "a@"));
        assert!(!matches("a@", F::NONE, false, "ab"));
        assert!(!matches("a#", ALL, false, "a"));
        assert!(matches("a#", F::NONE, false, "a#"));
        assert!(matches("a&b", F::NONE, false, "a&b"));
        assert!(matches("~a", F::NONE, false, "~a"));
        assert!(matches("foo<1-100>", ALL, false, "foo80"));
        assert!(matches("foo<1-100>", ALL, false, "foo080"));
        assert!(!matches("foo<1-100>", ALL, false, "foo101"));
        assert!(!matches("foo<1-100>", ALL, false, "foo0"));
        assert!(matches("<01-10>", ALL, false, "07"));
        assert!(!matches("<01-10>", ALL, false, "7"));
        assert!(matches("<1-100>", F::NONE, false, "<1-100>"));
    }

    #[test]
    fn intervals_cover_exactly_their_numbers() {
        for (lo, hi) in [
            (0u64, 0u64),
            (3, 7),
            (7, 123),
            (95, 1203),
            (10, 19),
            (1, 1000),
            (0, 99),
        ] {
            let f = translate(&format!("<{lo}-{hi}>"), ALL, false).unwrap();
            for n in 0..1500u64 {
                assert_eq!(
                    eval(&f, &n.to_string()),
                    (lo..=hi).contains(&n),
                    "<{lo}-{hi}> {n}"
                );
            }
        }
    }

    #[test]
    fn complement_and_intersection() {
        // regexp-syntax.html: `a~bc` matches adc and aec but not abc.
        assert!(matches("a~bc", ALL, false, "adc"));
        assert!(matches("a~bc", ALL, false, "ac"));
        assert!(matches("a~bc", ALL, false, "axyc"));
        assert!(!matches("a~bc", ALL, false, "abc"));
        assert!(matches("x~(foo)", ALL, false, "xfoa"));
        assert!(!matches("x~(foo)", ALL, false, "xfoo"));
        assert!(matches("x~(foo)", ALL, false, "xfo"));
        // At the top level they become boolean combinations of whole-term matches.
        let f = translate("aaa.+&.+bbb", ALL, false).unwrap();
        assert!(matches!(f, Formula::And(_)));
        assert!(eval(&f, "aaabbb"));
        assert!(!eval(&f, "aaab"));
        assert!(matches("~(ab.*)", ALL, false, "xyz"));
        assert!(!matches("~(ab.*)", ALL, false, "abz"));
        assert!(matches("~(a.*)|b", ALL, false, "b"));
        // Nested where RE2 cannot follow: refused, naming the operator.
        let e = translate("x(a.*&.*b)", ALL, false).unwrap_err();
        assert!(
            matches!(e, RegexError::Unsupported(ref m) if m.contains("[&]")),
            "{e:?}"
        );
        let e = translate("x~(a.*)", ALL, false).unwrap_err();
        assert!(
            matches!(e, RegexError::Unsupported(ref m) if m.contains("[~]")),
            "{e:?}"
        );
    }

    #[test]
    fn case_insensitive_folds_ascii_only() {
        assert!(matches("k.m\"CHY\"", ALL, true, "KiMchy"));
        assert!(matches("[a-c]x", ALL, true, "bX"));
        assert!(!matches("é", ALL, true, "É"));
    }

    #[test]
    fn special_characters_are_escaped() {
        for lit in ["$", "^", "\\", "/", "'", "\n", "\u{1}", "(?i)"] {
            let p = format!("\"{lit}\"");
            assert!(matches(&p, ALL, false, lit), "{lit:?}");
        }
        assert!(matches("[\\]\\-^]+", ALL, false, "]-^"));
    }

    #[test]
    fn syntax_errors_and_limits() {
        // Lucene's messages (RegExp.java).
        assert_eq!(
            translate("ab(c", ALL, false).unwrap_err(),
            RegexError::Syntax("expected ')' at position 4".into())
        );
        assert_eq!(
            translate("a)", ALL, false).unwrap_err(),
            RegexError::Syntax("end-of-string expected at position 1".into())
        );
        assert_eq!(
            translate("[ab", ALL, false).unwrap_err(),
            RegexError::Syntax("expected ']' at position 3".into())
        );
        assert_eq!(
            translate("a\\", ALL, false).unwrap_err(),
            RegexError::Syntax("unexpected end-of-string".into())
        );
        assert!(matches!(
            translate("a{2000}", ALL, false).unwrap_err(),
            RegexError::Unsupported(_)
        ));
    }
}

#[cfg(test)]
mod depth_tests {
    #[test]
    fn nesting_is_bounded() {
        let deep = |n: usize| format!("{}a{}", "(".repeat(n), ")".repeat(n));
        assert!(super::translate(&deep(90), 0xffff, false).is_ok());
        assert!(matches!(
            super::translate(&deep(400), 0xffff, false),
            Err(super::RegexError::Syntax(_))
        ));
        assert!(super::translate(&format!("a{}", "*".repeat(400)), 0xffff, false).is_err());
        assert!(super::translate(&format!("{}a", "~".repeat(400)), 0xffff, false).is_err());
    }
}
