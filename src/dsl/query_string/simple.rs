//! The syntax of `simple_query_string` (Lucene's `SimpleQueryParser`), which never fails: characters
//! it cannot use are taken as text or ignored.
//!
//! ```text
//! +  AND        |  OR        -  NOT (prefix of a term, phrase or group)
//! "a b"         phrase, "a b"~N phrase with slop
//! ab*           prefix       ab~N  fuzzy (ab~ = 2 edits)
//! ( )           precedence   \x   escape    whitespace separates terms
//! ```
//! Each operator can be turned off with `flags` (then its character is ordinary text).
//!
//! Operators have no precedence: the query is read left to right, and every change of operator
//! starts a new parent group holding everything before it, so `a + b | c` is `(+a +b) | c` and
//! `a | b + c` is `+(a | b) +c`. A `-` turns its operand into "everything except it", so
//! `a -b` with the default OR operator matches `a` or anything without `b`.

use super::lucene::Occur;

pub const AND: u32 = 1;
pub const NOT: u32 = 1 << 1;
pub const OR: u32 = 1 << 2;
pub const PREFIX: u32 = 1 << 3;
pub const PHRASE: u32 = 1 << 4;
pub const PRECEDENCE: u32 = 1 << 5;
pub const ESCAPE: u32 = 1 << 6;
pub const WHITESPACE: u32 = 1 << 7;
pub const FUZZY: u32 = 1 << 8;
pub const NEAR: u32 = 1 << 9;
pub const ALL: u32 = u32::MAX;

/// Parses `flags` (`"AND|OR|PREFIX"`, case-insensitive, or a number), as `SimpleQueryStringFlag`.
pub fn parse_flags(s: &str) -> Result<u32, String> {
    let mut out = 0u32;
    for part in s.split('|') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        out |= match part.to_ascii_uppercase().as_str() {
            "ALL" => ALL,
            "NONE" => 0,
            "AND" => AND,
            "NOT" => NOT,
            "OR" => OR,
            "PREFIX" => PREFIX,
            "PHRASE" => PHRASE,
            "PRECEDENCE" => PRECEDENCE,
            "ESCAPE" => ESCAPE,
            "WHITESPACE" => WHITESPACE,
            "FUZZY" => FUZZY,
            "NEAR" | "SLOP" => NEAR,
            _ => return Err(format!("Unknown simple_query_string flag [{part}]")),
        };
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq)]
pub enum SNode {
    Group(Vec<(Occur, SNode)>),
    /// `-x`: every document except those matching `x`.
    Not(Box<SNode>),
    /// Text analysed like a match query over the fields.
    Text(String),
    Prefix(String),
    Fuzzy(String, u32),
    Phrase(String, u32),
}

struct State<'a> {
    data: &'a [char],
    index: usize,
    end: usize,
    top: Option<SNode>,
    current: Option<Occur>,
    previous: Option<Occur>,
    not: u32,
    /// How many groups enclose this state.
    depth: usize,
}

/// How deep `(` groups may nest. Lucene's SimpleQueryParser recurses per group without a bound
/// (and rescans the rest of the input at every level); elastichouse refuses deeper input.
pub const MAX_GROUP_DEPTH: usize = 32;

/// A simple query string whose groups nest deeper than [`MAX_GROUP_DEPTH`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooDeep;

/// Parses a simple query string; `None` when it holds nothing to search for. Syntax is never an
/// error; only nesting deeper than [`MAX_GROUP_DEPTH`] is.
pub fn parse(query: &str, flags: u32, default_operator: Occur) -> Result<Option<SNode>, TooDeep> {
    let data: Vec<char> = query.chars().collect();
    let mut st = State {
        data: &data,
        index: 0,
        end: data.len(),
        top: None,
        current: None,
        previous: None,
        not: 0,
        depth: 0,
    };
    let p = SimpleParser {
        flags,
        default_operator,
        too_deep: std::cell::Cell::new(false),
        closing: closing_parens(&data, flags & ESCAPE != 0),
    };
    p.sub_query(&mut st);
    if p.too_deep.get() {
        return Err(TooDeep);
    }
    // Every change of operator also starts a new parent around what came before (`a +b |c +d …`
    // nests as deep as it alternates), so the tree's depth is bounded too, not only the groups.
    if let Some(top) = &st.top
        && depth(top) > MAX_GROUP_DEPTH + 1
    {
        return Err(TooDeep);
    }
    Ok(st.top)
}

impl SNode {
    /// The leaves of the tree, without recursion.
    pub fn leaf_count(&self) -> usize {
        let mut n = 0;
        let mut stack = vec![self];
        while let Some(node) = stack.pop() {
            match node {
                SNode::Group(clauses) => stack.extend(clauses.iter().map(|(_, c)| c)),
                SNode::Not(inner) => stack.push(inner),
                SNode::Text(t) => n += t.split_whitespace().count().max(1),
                _ => n += 1,
            }
        }
        n
    }
}

/// The nesting depth of a tree (a lone leaf is 1), without recursion.
fn depth(root: &SNode) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(root, 1usize)];
    while let Some((n, d)) = stack.pop() {
        deepest = deepest.max(d);
        match n {
            SNode::Group(clauses) => stack.extend(clauses.iter().map(|(_, c)| (c, d + 1))),
            SNode::Not(inner) => stack.push((inner, d + 1)),
            _ => {}
        }
    }
    deepest
}

struct SimpleParser {
    flags: u32,
    default_operator: Occur,
    too_deep: std::cell::Cell<bool>,
    /// For each `(`, the index of the `)` that closes it (`None`: never closed), found in one
    /// pass: rescanning the rest of the input at every unclosed `(` made `((((…` quadratic.
    closing: Vec<Option<usize>>,
}

/// Matches parentheses left to right, skipping escaped characters, as a group's scan does: the
/// `)` that brings the depth counted from a `(` back to zero.
fn closing_parens(data: &[char], escapes: bool) -> Vec<Option<usize>> {
    let mut closing = vec![None; data.len()];
    let mut open: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            '\\' if escapes => i += 1,
            '(' => open.push(i),
            ')' => {
                if let Some(o) = open.pop() {
                    closing[o] = Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    closing
}

fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

impl SimpleParser {
    fn on(&self, f: u32) -> bool {
        self.flags & f != 0
    }

    fn sub_query(&self, st: &mut State) {
        while st.index < st.end && !self.too_deep.get() {
            let c = st.data[st.index];
            if c == '(' && self.on(PRECEDENCE) {
                st.index += 1;
                self.group(st);
            } else if c == ')' && self.on(PRECEDENCE) {
                // A stray closing parenthesis ends this level (and is otherwise ignored).
                st.index += 1;
                break;
            } else if c == '"' && self.on(PHRASE) {
                st.index += 1;
                self.phrase(st);
            } else if c == '+' && self.on(AND) {
                // Ignored when an operator is already set or nothing precedes it.
                if st.current.is_none() && st.top.is_some() {
                    st.current = Some(Occur::Must);
                }
                st.index += 1;
            } else if c == '|' && self.on(OR) {
                if st.current.is_none() && st.top.is_some() {
                    st.current = Some(Occur::Should);
                }
                st.index += 1;
            } else if c == '-' && self.on(NOT) {
                st.not += 1;
                st.index += 1;
                continue;
            } else if is_ws(c) && self.on(WHITESPACE) {
                st.index += 1;
            } else {
                self.term(st);
            }
            // "-" only applies to what immediately follows it.
            st.not = 0;
        }
    }

    fn finished(&self, c: char) -> bool {
        (c == '"' && self.on(PHRASE))
            || (c == '|' && self.on(OR))
            || (c == '+' && self.on(AND))
            || ((c == '(' || c == ')') && self.on(PRECEDENCE))
            || (is_ws(c) && self.on(WHITESPACE))
    }

    fn group(&self, st: &mut State) {
        let start = st.index;
        // The `(` is at start - 1; its `)` must lie inside this state's range.
        match self.closing[start - 1] {
            Some(close) if close < st.end => st.index = close,
            _ => st.index = st.end,
        }
        if st.index == st.end {
            // Never closed: the "(" is ignored.
            st.index = start;
        } else if st.index == start {
            // "()": nothing, and the pending operator is dropped.
            st.current = None;
            st.index += 1;
        } else if st.depth >= MAX_GROUP_DEPTH {
            self.too_deep.set(true);
        } else {
            let mut sub = State {
                data: st.data,
                index: start,
                end: st.index,
                top: None,
                current: None,
                previous: None,
                not: 0,
                depth: st.depth + 1,
            };
            self.sub_query(&mut sub);
            let top = sub.top;
            self.build(st, top);
            st.index += 1;
        }
    }

    fn phrase(&self, st: &mut State) {
        let start = st.index;
        let mut buf = String::new();
        let mut escaped = false;
        let mut has_slop = false;
        while st.index < st.end {
            let c = st.data[st.index];
            if !escaped {
                if c == '\\' && self.on(ESCAPE) {
                    escaped = true;
                    st.index += 1;
                    continue;
                } else if c == '"' {
                    if st.index + 1 < st.end && st.data[st.index + 1] == '~' && self.on(NEAR) {
                        st.index += 1;
                        if st.index + 1 < st.end {
                            has_slop = true;
                        }
                    }
                    break;
                }
            }
            escaped = false;
            buf.push(c);
            st.index += 1;
        }
        if st.index == st.end {
            // Never closed: the '"' is ignored.
            st.index = start;
        } else if st.index == start {
            st.current = None;
            st.index += 1;
        } else {
            let slop = if has_slop { self.fuzziness(st) } else { 0 };
            self.build(st, Some(SNode::Phrase(buf, slop)));
            st.index += 1;
        }
    }

    fn term(&self, st: &mut State) {
        let mut buf: Vec<char> = Vec::new();
        let mut escaped = false;
        let mut prefix = false;
        let mut fuzzy = false;
        while st.index < st.end {
            let c = st.data[st.index];
            if !escaped {
                if c == '\\' && self.on(ESCAPE) {
                    escaped = true;
                    prefix = false;
                    st.index += 1;
                    continue;
                } else if self.finished(c) {
                    break;
                } else if !buf.is_empty() && c == '~' && self.on(FUZZY) {
                    fuzzy = true;
                    break;
                }
                prefix = !buf.is_empty() && c == '*' && self.on(PREFIX);
            }
            escaped = false;
            buf.push(c);
            st.index += 1;
        }
        if buf.is_empty() {
            return;
        }
        let node = if fuzzy {
            let n = self.fuzziness(st).min(2);
            let t: String = buf.iter().collect();
            if n == 0 {
                SNode::Text(t)
            } else {
                SNode::Fuzzy(t, n)
            }
        } else if prefix {
            SNode::Prefix(buf[..buf.len() - 1].iter().collect())
        } else {
            SNode::Text(buf.iter().collect())
        };
        self.build(st, Some(node));
    }

    /// The number after `~` (up to the end of the token): empty means 2, junk means 0.
    fn fuzziness(&self, st: &mut State) -> u32 {
        let mut text = String::new();
        if st.data.get(st.index) == Some(&'~') {
            while st.index < st.end {
                st.index += 1;
                if st.index < st.end {
                    let c = st.data[st.index];
                    if self.finished(c) {
                        break;
                    }
                    text.push(c);
                }
            }
            if text.is_empty() {
                return 2;
            }
            return text.parse::<i64>().map(|n| n.max(0) as u32).unwrap_or(0);
        }
        0
    }

    /// Adds a branch to the tree (`SimpleQueryParser#buildQueryTree`).
    fn build(&self, st: &mut State, branch: Option<SNode>) {
        let Some(mut branch) = branch else {
            return;
        };
        if st.not % 2 == 1 {
            branch = SNode::Not(Box::new(branch));
        }
        match st.top.take() {
            None => st.top = Some(branch),
            Some(top) => {
                let op = st.current.unwrap_or(self.default_operator);
                let mut top = if st.previous != Some(op) {
                    SNode::Group(vec![(op, top)])
                } else {
                    top
                };
                if let SNode::Group(clauses) = &mut top {
                    clauses.push((op, branch));
                }
                st.top = Some(top);
                st.previous = Some(op);
            }
        }
        st.current = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Occur::*;

    fn p(q: &str) -> Option<SNode> {
        parse(q, ALL, Should).unwrap()
    }
    fn t(s: &str) -> SNode {
        SNode::Text(s.into())
    }

    #[test]
    fn terms_and_default_operator() {
        // simple-query-string docs: whitespace separates terms; default_operator joins them.
        assert_eq!(p("a"), Some(t("a")));
        assert_eq!(
            p("a b"),
            Some(SNode::Group(vec![(Should, t("a")), (Should, t("b"))]))
        );
        assert_eq!(
            parse("a b", ALL, Must).unwrap(),
            Some(SNode::Group(vec![(Must, t("a")), (Must, t("b"))]))
        );
    }

    #[test]
    fn operator_changes_start_a_new_parent() {
        // SimpleQueryParser#buildQueryTree: `a + b | c` = ((+a +b) | c).
        assert_eq!(
            p("a + b | c"),
            Some(SNode::Group(vec![
                (Should, SNode::Group(vec![(Must, t("a")), (Must, t("b"))])),
                (Should, t("c")),
            ]))
        );
        // A leading operator with nothing before it is ignored.
        assert_eq!(p("| a"), Some(t("a")));
    }

    #[test]
    fn not_wraps_its_operand() {
        // `-b`: everything but b; `a -b` with OR matches a or not-b (documented gotcha).
        assert_eq!(
            p("a -b"),
            Some(SNode::Group(vec![
                (Should, t("a")),
                (Should, SNode::Not(Box::new(t("b"))))
            ]))
        );
        // "--b" cancels out.
        assert_eq!(p("--b"), Some(t("b")));
        // '-' inside a term is text.
        assert_eq!(p("wi-fi"), Some(t("wi-fi")));
    }

    #[test]
    fn phrases_prefix_fuzzy_groups() {
        assert_eq!(p("\"a b\""), Some(SNode::Phrase("a b".into(), 0)));
        assert_eq!(p("\"a b\"~2"), Some(SNode::Phrase("a b".into(), 2)));
        assert_eq!(p("ab*"), Some(SNode::Prefix("ab".into())));
        assert_eq!(p("ab~"), Some(SNode::Fuzzy("ab".into(), 2)));
        assert_eq!(p("ab~1"), Some(SNode::Fuzzy("ab".into(), 1)));
        assert_eq!(
            p("ab~9"),
            Some(SNode::Fuzzy("ab".into(), 2)),
            "capped at 2 edits"
        );
        assert_eq!(p("ab~0"), Some(t("ab")));
        assert_eq!(
            p("(a | b) + c"),
            Some(SNode::Group(vec![
                (Must, SNode::Group(vec![(Should, t("a")), (Should, t("b"))])),
                (Must, t("c")),
            ]))
        );
    }

    #[test]
    fn never_fails_on_broken_syntax() {
        // Unclosed quote / parenthesis: the opening char is ignored.
        assert_eq!(
            p("\"a b"),
            Some(SNode::Group(vec![(Should, t("a")), (Should, t("b"))]))
        );
        assert_eq!(p("(a"), Some(t("a")));
        assert_eq!(p("a)"), Some(t("a")));
        assert_eq!(p(""), None);
        assert_eq!(p("()"), None);
        assert_eq!(p("+|-"), None);
    }

    #[test]
    fn escapes_and_flags() {
        assert_eq!(p(r"a\+b"), Some(t("a+b")));
        assert_eq!(p(r"a\*"), Some(t("a*")));
        // With only OR enabled, '+' and '"' are text.
        assert_eq!(
            parse("a+b \"c", OR | WHITESPACE, Should).unwrap(),
            Some(SNode::Group(vec![(Should, t("a+b")), (Should, t("\"c"))]))
        );
        assert_eq!(parse_flags("OR|and|Prefix"), Ok(OR | AND | PREFIX));
        assert_eq!(parse_flags("NONE"), Ok(0));
        assert_eq!(
            parse_flags("FOO"),
            Err("Unknown simple_query_string flag [FOO]".into())
        );
    }
}
