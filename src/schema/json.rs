//! A small JSON reader that keeps what `serde_json::Value` throws away and Elasticsearch's error
//! messages need: the position of every token (Jackson's `[line:column]`, 1-based, the column counted
//! in bytes because Elasticsearch parses documents from UTF-8 bytes), the raw text of numbers
//! (Jackson's `getText()` returns `1.50` as written, and keyword fields index that text), and the
//! order and duplicates of object keys.
//!
//! Also here: Java's `toString` of parsed values, which Elasticsearch prints in its
//! "Preview of field's value" (`FieldMapper#rethrowAsDocumentParsingException` reads the value with
//! `AbstractXContentParser.readValue(parser, HashMap::new)` and calls `toString()`), so maps come out
//! as `{k=v, k2=v2}` in `java.util.HashMap` iteration order and doubles as `Double.toString` prints
//! them.

use std::fmt;

/// A token position, as Jackson reports it: line and column, both 1-based; the column is the byte
/// offset within the line plus one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Loc {
    pub line: u32,
    pub col: u32,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Null,
    Bool(bool),
    /// The number exactly as written in the source.
    Number(String),
    String(String),
    Array(Vec<Node>),
    /// Keys in source order, each with the position of the key token.
    Object(Vec<(String, Loc, Node)>),
}

/// One JSON value with its positions: `start` is the first token (`{`, `[`, the opening quote or the
/// first character of a literal), `end` the closing `}`/`]` of a container (equal to `start` for
/// scalars). After Elasticsearch reads a whole object for an error preview its parser stands on the
/// closing token, so some errors point at `end`.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: Kind,
    pub start: Loc,
    pub end: Loc,
}

/// Jackson's classification of a number token (`JsonParser.NumberType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberType {
    Int,
    Long,
    BigInteger,
    Double,
}

pub fn number_type(raw: &str) -> NumberType {
    if raw.contains(['.', 'e', 'E']) {
        return NumberType::Double;
    }
    if raw.parse::<i32>().is_ok() {
        NumberType::Int
    } else if raw.parse::<i64>().is_ok() {
        NumberType::Long
    } else {
        NumberType::BigInteger
    }
}

/// Jackson's token name for a value (used in its "Current token (...)" messages).
pub fn token_name(node: &Node) -> &'static str {
    match &node.kind {
        Kind::Null => "VALUE_NULL",
        Kind::Bool(true) => "VALUE_TRUE",
        Kind::Bool(false) => "VALUE_FALSE",
        Kind::Number(raw) => {
            if number_type(raw) == NumberType::Double {
                "VALUE_NUMBER_FLOAT"
            } else {
                "VALUE_NUMBER_INT"
            }
        }
        Kind::String(_) => "VALUE_STRING",
        Kind::Array(_) => "START_ARRAY",
        Kind::Object(_) => "START_OBJECT",
    }
}

/// A syntax error with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub loc: Loc,
    pub message: String,
}

/// Parses one JSON document. Duplicate keys are kept (the caller decides, Elasticsearch rejects
/// them); trailing content other than whitespace is an error.
pub fn parse(src: &[u8]) -> Result<Node, SyntaxError> {
    let mut p = Reader {
        s: src,
        pos: 0,
        line: 1,
        line_start: 0,
        depth: 0,
    };
    p.ws();
    let node = p.value()?;
    p.ws();
    if p.pos < p.s.len() {
        return Err(p.err_here("Unexpected character after the end of the document"));
    }
    Ok(node)
}

struct Reader<'a> {
    s: &'a [u8],
    pos: usize,
    line: u32,
    line_start: usize,
    depth: usize,
}

/// How deep a document may nest. Jackson's StreamReadConstraints allow 1000; this reader, the
/// document walk after it and their error paths recurse per level, and 100 levels keep them well
/// inside a 2 MiB worker stack even in debug builds (tests/it/hostile.rs sends documents at and past
/// the bound). Mappings stop at `index.mapping.depth.limit` (20) long before.
const MAX_DEPTH: usize = 100;

impl Reader<'_> {
    fn loc(&self) -> Loc {
        Loc {
            line: self.line,
            col: (self.pos - self.line_start + 1) as u32,
        }
    }

    fn err_here(&self, msg: &str) -> SyntaxError {
        SyntaxError {
            loc: self.loc(),
            message: msg.to_string(),
        }
    }

    fn ws(&mut self) {
        while let Some(&c) = self.s.get(self.pos) {
            match c {
                b' ' | b'\t' => self.pos += 1,
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                    self.line_start = self.pos;
                }
                b'\r' => {
                    self.pos += 1;
                    if self.s.get(self.pos) == Some(&b'\n') {
                        self.pos += 1;
                    }
                    self.line += 1;
                    self.line_start = self.pos;
                }
                _ => break,
            }
        }
    }

    fn value(&mut self) -> Result<Node, SyntaxError> {
        let start = self.loc();
        let scalar = |kind| Node {
            kind,
            start,
            end: start,
        };
        match self.s.get(self.pos) {
            None => Err(self.err_here("Unexpected end-of-input")),
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => Ok(scalar(Kind::String(self.string()?))),
            Some(b't') => self.literal("true").map(|_| scalar(Kind::Bool(true))),
            Some(b'f') => self.literal("false").map(|_| scalar(Kind::Bool(false))),
            Some(b'n') => self.literal("null").map(|_| scalar(Kind::Null)),
            Some(c) if *c == b'-' || c.is_ascii_digit() => Ok(scalar(Kind::Number(self.number()?))),
            Some(_) => Err(self.err_here("Unexpected character")),
        }
    }

    fn literal(&mut self, word: &str) -> Result<(), SyntaxError> {
        if self.s[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.err_here("Unrecognized token"))
        }
    }

    fn number(&mut self) -> Result<String, SyntaxError> {
        let begin = self.pos;
        let digits = |r: &mut Self| {
            let b = r.pos;
            while r.s.get(r.pos).is_some_and(u8::is_ascii_digit) {
                r.pos += 1;
            }
            r.pos - b
        };
        if self.s.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        if digits(self) == 0 {
            return Err(self.err_here("Unexpected character in number"));
        }
        if self.s[int_start] == b'0' && self.pos - int_start > 1 {
            return Err(self.err_here("Invalid numeric value: Leading zeroes not allowed"));
        }
        if self.s.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if digits(self) == 0 {
                return Err(self.err_here("Unexpected character in number"));
            }
        }
        if matches!(self.s.get(self.pos), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.s.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(self.err_here("Unexpected character in number exponent"));
            }
        }
        // Only ASCII digits, signs, dots and exponents were consumed.
        Ok(std::str::from_utf8(&self.s[begin..self.pos])
            .unwrap_or_default()
            .to_owned())
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        self.pos += 1; // opening quote
        // Fast path: most strings have no escapes, so copy the run up to the closing quote at once.
        let begin = self.pos;
        let run = self.s[begin..]
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
            .unwrap_or(self.s.len() - begin);
        self.pos += run;
        if self.s.get(self.pos) == Some(&b'"') {
            self.pos += 1;
            return match std::str::from_utf8(&self.s[begin..self.pos - 1]) {
                Ok(text) => Ok(text.to_owned()),
                Err(_) => Err(self.err_here("Invalid UTF-8")),
            };
        }
        let mut out: Vec<u8> = self.s[begin..self.pos].to_vec();
        loop {
            let Some(&c) = self.s.get(self.pos) else {
                return Err(self.err_here("Unexpected end-of-input in a string"));
            };
            match c {
                b'"' => {
                    self.pos += 1;
                    return String::from_utf8(out).map_err(|_| self.err_here("Invalid UTF-8"));
                }
                b'\\' => {
                    self.pos += 1;
                    let Some(&e) = self.s.get(self.pos) else {
                        return Err(self.err_here("Unexpected end-of-input in a string"));
                    };
                    self.pos += 1;
                    match e {
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'/' => out.push(b'/'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xD800..0xDC00).contains(&cp)
                                && self.s.get(self.pos) == Some(&b'\\')
                                && self.s.get(self.pos + 1) == Some(&b'u')
                            {
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if (0xDC00..0xE000).contains(&lo) {
                                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                                }
                            }
                            let ch = char::from_u32(cp).unwrap_or('\u{FFFD}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return Err(self.err_here("Unrecognized character escape")),
                    }
                }
                c if c < 0x20 => {
                    return Err(self.err_here("Illegal unquoted character in a string"));
                }
                c => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, SyntaxError> {
        let h = self
            .s
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.err_here("Unexpected end-of-input in an escape"))?;
        let v = std::str::from_utf8(h)
            .ok()
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| self.err_here("Unexpected character in a unicode escape"))?;
        self.pos += 4;
        Ok(v)
    }

    fn enter(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err_here("Document nesting depth exceeds the maximum allowed"));
        }
        Ok(())
    }

    fn array(&mut self) -> Result<Node, SyntaxError> {
        let start = self.loc();
        self.enter()?;
        self.pos += 1;
        let mut items = Vec::new();
        self.ws();
        if self.s.get(self.pos) == Some(&b']') {
            let end = self.loc();
            self.pos += 1;
            self.depth -= 1;
            return Ok(Node {
                kind: Kind::Array(items),
                start,
                end,
            });
        }
        loop {
            self.ws();
            items.push(self.value()?);
            self.ws();
            match self.s.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    let end = self.loc();
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(Node {
                        kind: Kind::Array(items),
                        start,
                        end,
                    });
                }
                _ => {
                    return Err(self.err_here(
                        "Unexpected character: was expecting comma to separate Array entries",
                    ));
                }
            }
        }
    }

    fn object(&mut self) -> Result<Node, SyntaxError> {
        let start = self.loc();
        self.enter()?;
        self.pos += 1;
        let mut fields = Vec::new();
        self.ws();
        if self.s.get(self.pos) == Some(&b'}') {
            let end = self.loc();
            self.pos += 1;
            self.depth -= 1;
            return Ok(Node {
                kind: Kind::Object(fields),
                start,
                end,
            });
        }
        loop {
            self.ws();
            let key_loc = self.loc();
            if self.s.get(self.pos) != Some(&b'"') {
                return Err(self.err_here(
                    "Unexpected character: was expecting double-quote to start field name",
                ));
            }
            let key = self.string()?;
            self.ws();
            if self.s.get(self.pos) != Some(&b':') {
                return Err(self.err_here(
                    "Unexpected character: was expecting a colon to separate field name and value",
                ));
            }
            self.pos += 1;
            self.ws();
            let v = self.value()?;
            fields.push((key, key_loc, v));
            self.ws();
            match self.s.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    let end = self.loc();
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(Node {
                        kind: Kind::Object(fields),
                        start,
                        end,
                    });
                }
                _ => {
                    return Err(self.err_here(
                        "Unexpected character: was expecting comma to separate Object entries",
                    ));
                }
            }
        }
    }
}

/// The text Jackson's `getText()` gives for a scalar token (`None` for containers and null).
pub fn scalar_text(node: &Node) -> Option<String> {
    match &node.kind {
        Kind::String(s) => Some(s.clone()),
        Kind::Number(raw) => Some(raw.clone()),
        Kind::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Java formatting
// ---------------------------------------------------------------------------------------------

/// `Double.toString(d)` of Java 19+ (shortest digits that round-trip, as Rust's `{}` finds them):
/// plain notation with at least one fractional digit when 1e-3 <= |d| < 1e7, otherwise
/// `d.dddE±n`.
pub fn java_double(d: f64) -> String {
    java_float_repr(d, format!("{d:e}"))
}

/// `Float.toString(f)` (the same rules over a float's shortest digits).
pub fn java_float(f: f32) -> String {
    java_float_repr(f as f64, format!("{f:e}"))
}

fn java_float_repr(d: f64, sci: String) -> String {
    if d.is_nan() {
        return "NaN".into();
    }
    if d.is_infinite() {
        return if d > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // `sci` looks like "-1.2345e-7" or "1e20".
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let sign = if neg { "-" } else { "" };
    let abs = d.abs();
    if (1e-3..1e7).contains(&abs) {
        // Plain notation: the decimal point goes after (exp + 1) digits.
        let point = exp + 1;
        let (int_part, frac_part) = if point <= 0 {
            ("0".to_string(), "0".repeat((-point) as usize) + &digits)
        } else if point as usize >= digits.len() {
            (
                digits.clone() + &"0".repeat(point as usize - digits.len()),
                String::new(),
            )
        } else {
            (
                digits[..point as usize].to_string(),
                digits[point as usize..].to_string(),
            )
        };
        let frac = if frac_part.is_empty() {
            "0".to_string()
        } else {
            frac_part
        };
        format!("{sign}{int_part}.{frac}")
    } else {
        let first = &digits[..1];
        let rest = if digits.len() > 1 { &digits[1..] } else { "0" };
        format!("{sign}{first}.{rest}E{exp}")
    }
}

/// `String.hashCode()`: over UTF-16 code units, wrapping.
fn java_string_hash(s: &str) -> i32 {
    let mut h: i32 = 0;
    for unit in s.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(unit as i32);
    }
    h
}

/// Orders entries as a `java.util.HashMap` built by inserting them in the given order iterates
/// them: by bucket in the final table, and by insertion within a bucket (resizes keep that order).
/// A later entry with an existing key replaces the value in place.
pub fn java_hashmap_order<V>(entries: Vec<(String, V)>) -> Vec<(String, V)> {
    let mut unique: Vec<(String, V)> = Vec::new();
    for (k, v) in entries {
        if let Some(slot) = unique.iter_mut().find(|(ek, _)| *ek == k) {
            slot.1 = v;
        } else {
            unique.push((k, v));
        }
    }
    // Capacity starts at 16 and doubles when size exceeds 0.75 * capacity.
    let mut cap: usize = 16;
    while unique.len() > cap * 3 / 4 {
        cap *= 2;
    }
    let mut keyed: Vec<(usize, usize, (String, V))> = unique
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let h = java_string_hash(&e.0);
            let spread = (h ^ ((h as u32) >> 16) as i32) as u32 as usize;
            (spread & (cap - 1), i, e)
        })
        .collect();
    keyed.sort_by_key(|(bucket, i, _)| (*bucket, *i));
    keyed.into_iter().map(|(_, _, e)| e).collect()
}

/// Java's `toString()` of a number as Jackson's `getNumberValue()` returns it: Integer, Long or
/// BigInteger for integers (printed in plain decimal), Double for anything with a fraction or an
/// exponent.
pub fn java_number(raw: &str) -> String {
    match number_type(raw) {
        NumberType::Double => java_double(raw.parse::<f64>().unwrap_or(f64::NAN)),
        NumberType::Int | NumberType::Long => raw
            .parse::<i64>()
            .map(|v| v.to_string())
            .unwrap_or_else(|_| raw.to_string()),
        NumberType::BigInteger => {
            let (neg, digits) = raw.strip_prefix('-').map_or((false, raw), |d| (true, d));
            let trimmed = digits.trim_start_matches('0');
            let body = if trimmed.is_empty() { "0" } else { trimmed };
            if neg && body != "0" {
                format!("-{body}")
            } else {
                body.to_string()
            }
        }
    }
}

/// "Preview of field's value": the value read into Java objects (`HashMap`s for objects, with
/// Elasticsearch's dot expansion applied to their keys) and printed with `toString()`.
pub fn java_preview(node: &Node) -> String {
    let mut out = String::new();
    write_java(&to_java(node), &mut out);
    out
}

enum Java {
    Null,
    Text(String),
    List(Vec<Java>),
    Map(Vec<(String, Java)>),
}

fn to_java(node: &Node) -> Java {
    match &node.kind {
        Kind::Null => Java::Null,
        Kind::Bool(b) => Java::Text(b.to_string()),
        Kind::Number(raw) => Java::Text(java_number(raw)),
        Kind::String(s) => Java::Text(s.clone()),
        Kind::Array(items) => Java::List(items.iter().map(to_java).collect()),
        Kind::Object(fields) => {
            let mut entries = Vec::new();
            for (k, _, v) in fields {
                // The dot-expanding parser turns {"a.b": 1} into {"a": {"b": 1}}.
                let parts: Vec<&str> = k.split('.').filter(|p| !p.is_empty()).collect();
                if parts.len() > 1 {
                    let mut value = to_java(v);
                    for p in parts[1..].iter().rev() {
                        value = Java::Map(vec![(p.to_string(), value)]);
                    }
                    entries.push((parts[0].to_string(), value));
                } else {
                    entries.push((k.clone(), to_java(v)));
                }
            }
            Java::Map(java_hashmap_order(entries))
        }
    }
}

fn write_java(v: &Java, out: &mut String) {
    match v {
        Java::Null => out.push_str("null"),
        Java::Text(s) => out.push_str(s),
        Java::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_java(item, out);
            }
            out.push(']');
        }
        Java::Map(entries) => {
            out.push('{');
            for (i, (k, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                write_java(item, out);
            }
            out.push('}');
        }
    }
}

/// Java `toString()` of a mapping value as Elasticsearch parsed it from the request (ordered maps):
/// used in "unsupported parameters" messages.
pub fn java_value(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.to_string()
            } else if let Some(u) = n.as_u64() {
                u.to_string()
            } else {
                java_double(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(java_value).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{k}={}", java_value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_byte_columns() {
        // Jackson's UTF8StreamJsonParser counts bytes: a bulk item from the wild reports [1:86] for a
        // value preceded by 71 characters of which 7 are 3-byte CJK characters.
        let src = r#"{"goods_id":"1004","title":"价格非法的商品","category":"mobile_phone","price":"不是数字"}"#;
        let doc = parse(src.as_bytes()).unwrap();
        let Kind::Object(fields) = &doc.kind else {
            panic!()
        };
        let (_, _, price) = &fields[3];
        assert_eq!(price.start, Loc { line: 1, col: 86 });
        assert_eq!(doc.start, Loc { line: 1, col: 1 });
    }

    #[test]
    fn positions_across_lines_and_closing_tokens() {
        let doc = parse(b"{\n  \"a\": {\"b\": 1}\n}").unwrap();
        let Kind::Object(fields) = &doc.kind else {
            panic!()
        };
        assert_eq!(fields[0].1, Loc { line: 2, col: 3 });
        assert_eq!(fields[0].2.start, Loc { line: 2, col: 8 });
        assert_eq!(fields[0].2.end, Loc { line: 2, col: 15 });
        assert_eq!(doc.end, Loc { line: 3, col: 1 });
    }

    #[test]
    fn numbers_keep_their_text() {
        let doc = parse(br#"[1.50, -0, 1e3, 12345678901234567890]"#).unwrap();
        let Kind::Array(items) = doc.kind else {
            panic!()
        };
        let raws: Vec<_> = items
            .iter()
            .map(|n| match &n.kind {
                Kind::Number(r) => r.clone(),
                _ => panic!(),
            })
            .collect();
        assert_eq!(raws, ["1.50", "-0", "1e3", "12345678901234567890"]);
        assert_eq!(number_type("12345678901234567890"), NumberType::BigInteger);
        assert_eq!(number_type("3000000000"), NumberType::Long);
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = parse(b"{\"a\": tru}").unwrap_err();
        assert_eq!(e.loc, Loc { line: 1, col: 7 });
        assert!(parse(b"{} x").is_err());
        assert!(parse(b"01").is_err());
    }

    #[test]
    fn java_double_to_string() {
        // java.lang.Double#toString rules.
        assert_eq!(java_double(1.5), "1.5");
        assert_eq!(java_double(100.0), "100.0");
        assert_eq!(java_double(1e7), "1.0E7");
        assert_eq!(java_double(1234567.0), "1234567.0");
        assert_eq!(java_double(0.001), "0.001");
        assert_eq!(java_double(0.0001), "1.0E-4");
        assert_eq!(java_double(1e20), "1.0E20");
        assert_eq!(java_double(-2.5e-5), "-2.5E-5");
        assert_eq!(java_double(123456789.123), "1.23456789123E8");
        assert_eq!(java_float(0.1), "0.1");
        assert_eq!(java_float(f32::INFINITY), "Infinity");
    }

    #[test]
    fn java_hashmap_iteration_order() {
        // "a".hashCode() = 97 → bucket 1; "b" → 2; "q" = 113 → bucket 1 as well (113 & 15 = 1).
        let order: Vec<_> =
            java_hashmap_order(vec![("q".to_string(), 1), ("b".into(), 2), ("a".into(), 3)])
                .into_iter()
                .map(|(k, _)| k)
                .collect();
        assert_eq!(order, ["q", "a", "b"]);
        // The bulk error from the wild: {CO2_cargoandel_med_flyg=193, CO2_per_tonkilometer_med_flyg=485,
        // CO2_per_tonkilometer_med_lastbil=88} — HashMap order.
        let doc = parse(
            br#"{"CO2_per_tonkilometer_med_lastbil": 88, "CO2_cargoandel_med_flyg": 193, "CO2_per_tonkilometer_med_flyg": 485}"#,
        )
        .unwrap();
        assert_eq!(
            java_preview(&doc),
            "{CO2_cargoandel_med_flyg=193, CO2_per_tonkilometer_med_flyg=485, CO2_per_tonkilometer_med_lastbil=88}"
        );
    }

    #[test]
    fn previews() {
        let doc = parse(br#"{"zip": "https://x/a.zip", "src": "https://x"}"#).unwrap();
        // As in a real rejection: Preview of field's value: '{zip=https://x/a.zip, src=https://x}'.
        assert_eq!(java_preview(&doc), "{zip=https://x/a.zip, src=https://x}");
        let doc = parse(br#"[1, 2.0, null, "x", {"a.b": true}]"#).unwrap();
        assert_eq!(java_preview(&doc), "[1, 2.0, null, x, {a={b=true}}]");
    }
}
