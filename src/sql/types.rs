//! ClickHouse data types as values: built by the schema module, rendered into DDL, and parsed back
//! from `system.columns.type` so that tables we did not create can be served as indices.
//!
//! Hand-written because no crate parses ClickHouse type strings; the grammar is small
//! (`Name`, `Name(args)`, nested, with quoted strings and `name Type` tuple elements).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChType {
    String,
    FixedString(u32),
    Int8,
    Int16,
    Int32,
    Int64,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Float32,
    Float64,
    Bool,
    /// `Decimal(P, S)` (all Decimal32/64/128 spellings are normalised to this).
    Decimal(u8, u8),
    Date,
    Date32,
    /// `DateTime` with an optional time zone.
    DateTime(Option<String>),
    /// `DateTime64(precision[, tz])`.
    DateTime64(u8, Option<String>),
    IPv4,
    IPv6,
    Uuid,
    Nullable(Box<ChType>),
    LowCardinality(Box<ChType>),
    Array(Box<ChType>),
    /// Tuple elements, named (`Tuple(lat Float64, lon Float64)`) or not.
    Tuple(Vec<(Option<String>, ChType)>),
    Map(Box<ChType>, Box<ChType>),
    /// The `JSON` object type.
    Json,
    /// Any other type, kept as ClickHouse spelled it (Enum8, AggregateFunction, Variant, …).
    /// Only ever produced by parsing ClickHouse's own answer; never rendered from user input.
    Other(String),
}

impl ChType {
    pub fn nullable(t: ChType) -> ChType {
        ChType::Nullable(Box::new(t))
    }
    pub fn array(t: ChType) -> ChType {
        ChType::Array(Box::new(t))
    }

    /// The type without `Nullable`/`LowCardinality` wrappers.
    pub fn base(&self) -> &ChType {
        match self {
            ChType::Nullable(t) | ChType::LowCardinality(t) => t.base(),
            t => t,
        }
    }

    pub fn is_array(&self) -> bool {
        matches!(self.base(), ChType::Array(_))
    }

    /// The element type of an array (or the type itself), without wrappers.
    pub fn element(&self) -> &ChType {
        match self.base() {
            ChType::Array(t) => t.base(),
            t => t,
        }
    }

    /// Parses a type as ClickHouse prints it in `system.columns.type`.
    pub fn parse(s: &str) -> ChType {
        let mut p = Parser {
            s: s.as_bytes(),
            pos: 0,
        };
        match p.parse_type() {
            Some(t) if p.pos == p.s.len() => t,
            _ => ChType::Other(s.to_string()),
        }
    }
}

fn quote_tz(f: &mut fmt::Formatter<'_>, tz: &str) -> fmt::Result {
    crate::sql::write_quoted(f, tz, '\'')
}

impl fmt::Display for ChType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ChType::*;
        match self {
            String => f.write_str("String"),
            FixedString(n) => write!(f, "FixedString({n})"),
            Int8 => f.write_str("Int8"),
            Int16 => f.write_str("Int16"),
            Int32 => f.write_str("Int32"),
            Int64 => f.write_str("Int64"),
            UInt8 => f.write_str("UInt8"),
            UInt16 => f.write_str("UInt16"),
            UInt32 => f.write_str("UInt32"),
            UInt64 => f.write_str("UInt64"),
            Float32 => f.write_str("Float32"),
            Float64 => f.write_str("Float64"),
            Bool => f.write_str("Bool"),
            Decimal(p, s) => write!(f, "Decimal({p}, {s})"),
            Date => f.write_str("Date"),
            Date32 => f.write_str("Date32"),
            DateTime(None) => f.write_str("DateTime"),
            DateTime(Some(tz)) => {
                f.write_str("DateTime(")?;
                quote_tz(f, tz)?;
                f.write_str(")")
            }
            DateTime64(p, None) => write!(f, "DateTime64({p})"),
            DateTime64(p, Some(tz)) => {
                write!(f, "DateTime64({p}, ")?;
                quote_tz(f, tz)?;
                f.write_str(")")
            }
            IPv4 => f.write_str("IPv4"),
            IPv6 => f.write_str("IPv6"),
            Uuid => f.write_str("UUID"),
            Nullable(t) => write!(f, "Nullable({t})"),
            LowCardinality(t) => write!(f, "LowCardinality({t})"),
            Array(t) => write!(f, "Array({t})"),
            Tuple(items) => {
                f.write_str("Tuple(")?;
                for (i, (name, t)) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    if let Some(n) = name {
                        write!(f, "{} ", crate::sql::Ident::new(n))?;
                    }
                    write!(f, "{t}")?;
                }
                f.write_str(")")
            }
            Map(k, v) => write!(f, "Map({k}, {v})"),
            Json => f.write_str("JSON"),
            Other(s) => f.write_str(s),
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.pos < self.s.len() && self.s[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }
    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.s.get(self.pos) == Some(&c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn word(&mut self) -> Option<String> {
        self.ws();
        if self.s.get(self.pos) == Some(&b'`') {
            return self.quoted(b'`');
        }
        let start = self.pos;
        while self.pos < self.s.len()
            && (self.s[self.pos].is_ascii_alphanumeric() || self.s[self.pos] == b'_')
        {
            self.pos += 1;
        }
        (self.pos > start).then(|| String::from_utf8_lossy(&self.s[start..self.pos]).into_owned())
    }
    fn quoted(&mut self, q: u8) -> Option<String> {
        self.ws();
        if self.s.get(self.pos) != Some(&q) {
            return None;
        }
        self.pos += 1;
        let mut out = Vec::new();
        while self.pos < self.s.len() {
            let c = self.s[self.pos];
            self.pos += 1;
            if c == b'\\' && self.pos < self.s.len() {
                out.push(self.s[self.pos]);
                self.pos += 1;
            } else if c == q {
                return Some(String::from_utf8_lossy(&out).into_owned());
            } else {
                out.push(c);
            }
        }
        None
    }
    fn number(&mut self) -> Option<u32> {
        self.word()?.parse().ok()
    }
    /// Skips a balanced argument list (for types we keep as `Other`).
    fn skip_args(&mut self) -> Option<()> {
        let mut depth = 1;
        while self.pos < self.s.len() {
            match self.s[self.pos] {
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        self.pos += 1;
                        return Some(());
                    }
                }
                b'\'' => {
                    self.quoted(b'\'')?;
                    continue;
                }
                _ => {}
            }
            self.pos += 1;
        }
        None
    }
    fn parse_type(&mut self) -> Option<ChType> {
        use ChType::*;
        self.ws();
        let start = self.pos;
        let name = self.word()?;
        let simple = match name.as_str() {
            "String" => Some(String),
            "Int8" => Some(Int8),
            "Int16" => Some(Int16),
            "Int32" => Some(Int32),
            "Int64" => Some(Int64),
            "UInt8" => Some(UInt8),
            "UInt16" => Some(UInt16),
            "UInt32" => Some(UInt32),
            "UInt64" => Some(UInt64),
            "Float32" => Some(Float32),
            "Float64" => Some(Float64),
            "Bool" => Some(Bool),
            "Date" => Some(Date),
            "Date32" => Some(Date32),
            "IPv4" => Some(IPv4),
            "IPv6" => Some(IPv6),
            "UUID" => Some(Uuid),
            "JSON" => Some(Json),
            _ => None,
        };
        self.ws();
        let has_args = self.s.get(self.pos) == Some(&b'(');
        if let Some(t) = simple
            && !has_args
        {
            return Some(t);
        }
        if !has_args {
            return Some(match name.as_str() {
                "DateTime" => DateTime(None),
                _ => Other(name),
            });
        }
        self.pos += 1;
        let t = match name.as_str() {
            "Nullable" => Nullable(Box::new(self.parse_type()?)),
            "LowCardinality" => LowCardinality(Box::new(self.parse_type()?)),
            "Array" => Array(Box::new(self.parse_type()?)),
            "FixedString" => FixedString(self.number()?),
            "DateTime" => DateTime(Some(self.quoted(b'\'')?)),
            "DateTime64" => {
                let p = self.number()? as u8;
                let tz = if self.eat(b',') {
                    Some(self.quoted(b'\'')?)
                } else {
                    None
                };
                DateTime64(p, tz)
            }
            "Decimal" => {
                let p = self.number()? as u8;
                self.eat(b',').then_some(())?;
                Decimal(p, self.number()? as u8)
            }
            "Map" => {
                let k = self.parse_type()?;
                self.eat(b',').then_some(())?;
                Map(Box::new(k), Box::new(self.parse_type()?))
            }
            "Tuple" => {
                let mut items = Vec::new();
                loop {
                    // Either `name Type` or `Type`.
                    let save = self.pos;
                    let first = self.parse_type()?;
                    self.ws();
                    let next = self.s.get(self.pos).copied();
                    if next != Some(b',') && next != Some(b')') {
                        self.pos = save;
                        let n = self.word()?;
                        items.push((Some(n), self.parse_type()?));
                    } else {
                        items.push((None, first));
                    }
                    if self.eat(b')') {
                        break;
                    }
                    self.eat(b',').then_some(())?;
                }
                return Some(Tuple(items));
            }
            _ => {
                self.skip_args()?;
                return Some(Other(
                    std::string::String::from_utf8_lossy(&self.s[start..self.pos]).into_owned(),
                ));
            }
        };
        self.eat(b')').then_some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for s in [
            "String",
            "Nullable(Int64)",
            "Array(Nullable(String))",
            "LowCardinality(Nullable(String))",
            "DateTime64(3, 'UTC')",
            "DateTime64(9)",
            "DateTime('Europe/Berlin')",
            "Tuple(`lat` Float64, `lon` Float64)",
            "Tuple(String, UInt8)",
            "Map(String, Array(UInt64))",
            "Decimal(10, 2)",
            "Nullable(IPv6)",
        ] {
            assert_eq!(ChType::parse(s).to_string(), s, "{s}");
        }
        // Element names are always rendered as quoted identifiers (ClickHouse prints them bare,
        // possibly over several lines); both spellings parse to the same type.
        let printed = ChType::parse("Tuple(\n    lat Float64,\n    lon Float64)");
        assert_eq!(
            printed,
            ChType::parse("Tuple(`lat` Float64, `lon` Float64)")
        );
        assert_eq!(printed.to_string(), "Tuple(`lat` Float64, `lon` Float64)");
    }

    #[test]
    fn unknown_types_are_kept() {
        let t = ChType::parse("Enum8('a' = 1, 'b)' = 2)");
        assert_eq!(t, ChType::Other("Enum8('a' = 1, 'b)' = 2)".into()));
        assert_eq!(
            ChType::parse("Nullable(Enum8('x' = 1))").base(),
            &ChType::Other("Enum8('x' = 1)".into())
        );
    }
}
