//! Term-level queries (prefix, wildcard, regexp, fuzzy), compound queries (constant_score, boosting,
//! dis_max, nested) and geo queries (geo_bounding_box, geo_distance) against the real engine.
//! Expected ids are computed in the test from the documents it indexes; each assertion names the
//! Elasticsearch behaviour it checks (reference docs page or source file).

use crate::common::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tokio::sync::OnceCell;

static LOADED: OnceCell<Vec<Value>> = OnceCell::const_new();

const NAMES: &[&str] = &[
    "kimchy",
    "Kimchy",
    "kimchi",
    "ki*chy",
    "k?y",
    "kay",
    "a\\b",
    "quick brown",
    "élan",
    "foo123",
    "foo7",
    "abc",
    "acb",
    "KIMCHY AND A VERY LONG NAME",
    "",
];

/// Documents of index `tlq`: keyword, text, multi-valued keyword, integer, geo_point, nested.
async fn docs() -> &'static Vec<Value> {
    LOADED
        .get_or_init(|| async {
            let mapping = json!({"mappings": {"properties": {
                "name": {"type": "keyword"},
                "short": {"type": "keyword", "ignore_above": 6},
                "msg": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 20}}},
                "tags": {"type": "keyword"},
                "code": {"type": "integer"},
                "loc": {"type": "geo_point"},
                "items": {"type": "nested", "properties": {
                    "name": {"type": "keyword"},
                    "qty": {"type": "integer"}
                }}
            }}});
            let r = json_req("PUT", "/tlq", &mapping).await;
            assert_eq!(r.status, 200, "{}", r.text);
            let points = [
                json!({"lat": 0.0, "lon": 179.5}),
                json!({"lat": 0.0, "lon": -179.5}),
                json!({"lat": 0.0, "lon": 0.0}),
                json!({"lat": 89.9, "lon": 0.0}),
                json!([10.0, -89.9]),
                json!("48.8566,2.3522"),
                json!({"lat": 40.7128, "lon": -74.0060}),
            ];
            let mut all = Vec::new();
            for (i, name) in NAMES.iter().enumerate() {
                let (first, second) = (["x", "y", "z"][i % 3], ["y", "z", "x"][i % 3]);
                let mut d = json!({
                    "name": name,
                    "short": name,
                    "msg": format!("The {name} Story number{i}"),
                    "tags": [format!("t{}", i % 3), format!("u{}", i % 4)],
                    "code": i,
                    "items": [
                        {"name": first, "qty": i % 5},
                        {"name": second, "qty": (i + 2) % 5}
                    ]
                });
                if i < points.len() {
                    d["loc"] = points[i].clone();
                }
                if i == 8 {
                    // Two points in one document: either one can match.
                    d["loc"] = json!([{"lat": 0.0, "lon": 0.0}, {"lat": -33.87, "lon": 151.21}]);
                }
                all.push(d);
            }
            load_docs("tlq", None, &all).await;
            all
        })
        .await
}

async fn search(body: Value) -> Value {
    docs().await;
    let r = json_req("POST", "/tlq/_search", &body).await;
    assert_eq!(r.status, 200, "{} -> {}", body, r.text);
    r.json()
}

async fn matching(query: Value) -> Vec<String> {
    let v = search(json!({"query": query, "size": 100, "sort": ["_doc"]})).await;
    v["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["_id"].as_str().unwrap().to_string())
        .collect()
}

/// Hit id → score.
async fn scores(query: Value) -> BTreeMap<String, f64> {
    let v = search(json!({"query": query, "size": 100})).await;
    v["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["_id"].as_str().unwrap().to_string(),
                h["_score"].as_f64().unwrap(),
            )
        })
        .collect()
}

fn expect(docs: &[Value], pred: impl Fn(&Value) -> bool) -> Vec<String> {
    docs.iter()
        .enumerate()
        .filter(|(_, d)| pred(d))
        .map(|(i, _)| i.to_string())
        .collect()
}

fn name(d: &Value) -> &str {
    d["name"].as_str().unwrap()
}

/// Tokens of the standard analyzer for these ASCII-and-accents messages.
fn tokens(d: &Value) -> Vec<String> {
    d["msg"]
        .as_str()
        .unwrap()
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

async fn error(query: Value) -> Value {
    docs().await;
    let r = json_req("POST", "/tlq/_search", &json!({"query": query})).await;
    assert_eq!(r.status, 400, "{}", r.text);
    r.json()["error"].clone()
}

#[tokio::test]
async fn prefix_on_keyword_text_and_other_types() {
    let d = docs().await;
    // query-dsl-prefix-query.html: terms that begin with the value; keyword values whole.
    assert_eq!(
        matching(json!({"prefix": {"name": "kim"}})).await,
        expect(d, |x| name(x).starts_with("kim"))
    );
    assert_eq!(
        matching(json!({"prefix": {"name": {"value": "KIM", "case_insensitive": true}}})).await,
        expect(d, |x| name(x).to_lowercase().starts_with("kim"))
    );
    // Short values only: `short` has ignore_above 6, longer values are not indexed.
    assert_eq!(
        matching(json!({"prefix": {"short": "k"}})).await,
        expect(d, |x| name(x).starts_with('k')
            && name(x).chars().count() <= 6)
    );
    // Text fields: any token starts with the (not analysed) value, so upper case finds nothing.
    assert_eq!(
        matching(json!({"prefix": {"msg": "numb"}})).await,
        expect(d, |x| tokens(x).iter().any(|t| t.starts_with("numb")))
    );
    assert!(
        matching(json!({"prefix": {"msg": "Numb"}}))
            .await
            .is_empty()
    );
    // Multi-valued keyword: any value.
    assert_eq!(
        matching(json!({"prefix": {"tags": "u1"}})).await,
        expect(d, |x| x["tags"][1] == "u1")
    );
    // An empty prefix matches every indexed value (the empty keyword included).
    assert_eq!(
        matching(json!({"prefix": {"name": ""}})).await.len(),
        d.len()
    );
    // Unmapped fields match nothing.
    assert!(matching(json!({"prefix": {"nope": "a"}})).await.is_empty());
    // MappedFieldType#prefixQuery: other types are an error.
    let e = error(json!({"prefix": {"code": "1"}})).await;
    assert_eq!(e["type"], "search_phase_execution_exception");
    assert_eq!(e["caused_by"]["type"], "query_shard_exception");
    assert_eq!(
        e["caused_by"]["reason"],
        "Can only use prefix queries on keyword, text and wildcard fields - not on [code] which is of type [integer]"
    );
    // PrefixQueryBuilder#fromXContent: unknown parameters.
    let e = error(json!({"prefix": {"name": {"value": "k", "fuzziness": 1}}})).await;
    assert_eq!(e["type"], "parsing_exception");
    assert_eq!(e["reason"], "[prefix] query does not support [fuzziness]");
}

/// A wildcard matcher written for the test: `*`, `?`, `\` escapes.
fn wild(p: &[char], t: &[char]) -> bool {
    match p.first() {
        None => t.is_empty(),
        Some('*') => (0..=t.len()).any(|i| wild(&p[1..], &t[i..])),
        Some('?') => !t.is_empty() && wild(&p[1..], &t[1..]),
        Some('\\') if p.len() > 1 => t.first() == Some(&p[1]) && wild(&p[2..], &t[1..]),
        Some(c) => t.first() == Some(c) && wild(&p[1..], &t[1..]),
    }
}

fn wild_str(p: &str, t: &str) -> bool {
    wild(
        &p.chars().collect::<Vec<_>>(),
        &t.chars().collect::<Vec<_>>(),
    )
}

#[tokio::test]
async fn wildcard_patterns_and_escapes() {
    let d = docs().await;
    // query-dsl-wildcard-query.html: `*` zero or more characters, `?` exactly one.
    for p in ["ki*y", "k?y", "*chy", "k*", "?lan", "foo*", "*", "a?b"] {
        assert_eq!(
            matching(json!({"wildcard": {"name": {"value": p}}})).await,
            expect(d, |x| wild_str(p, name(x))),
            "{p}"
        );
    }
    // `\` escapes the operators: only the literal `ki*chy` and `k?y`.
    assert_eq!(
        matching(json!({"wildcard": {"name": "ki\\*chy"}})).await,
        vec!["3"]
    );
    assert_eq!(
        matching(json!({"wildcard": {"name": "k\\?y"}})).await,
        vec!["4"]
    );
    // A backslash in the value: `a\\b` is the literal `a\b`.
    assert_eq!(
        matching(json!({"wildcard": {"name": "a\\\\b"}})).await,
        vec!["6"]
    );
    // LIKE's own metacharacters are plain characters in a wildcard pattern.
    assert!(
        matching(json!({"wildcard": {"name": "k%"}}))
            .await
            .is_empty()
    );
    assert!(
        matching(json!({"wildcard": {"name": "k_y"}}))
            .await
            .is_empty()
    );
    // case_insensitive (wildcard docs): KIM* finds both spellings.
    assert_eq!(
        matching(json!({"wildcard": {"name": {"value": "KIM*Y", "case_insensitive": true}}})).await,
        expect(d, |x| wild_str("kim*y", &name(x).to_lowercase()))
    );
    // The `wildcard` key is an alias of `value` (WildcardQueryBuilder).
    assert_eq!(
        matching(json!({"wildcard": {"name": {"wildcard": "ab?"}}})).await,
        vec!["11"]
    );
    // Text fields: tokens, pattern not normalised (StringFieldType#wildcardQuery).
    assert_eq!(
        matching(json!({"wildcard": {"msg": "num*1?"}})).await,
        expect(d, |x| tokens(x).iter().any(|t| wild_str("num*1?", t)))
    );
    assert!(
        matching(json!({"wildcard": {"msg": "NUM*"}}))
            .await
            .is_empty()
    );
    // msg.keyword has ignore_above 20: long messages are not indexed there.
    assert_eq!(
        matching(json!({"wildcard": {"msg.keyword": "The k*"}})).await,
        expect(d, |x| {
            let m = x["msg"].as_str().unwrap();
            wild_str("The k*", m) && m.chars().count() <= 20
        })
    );
    let e = error(json!({"wildcard": {"code": "1*"}})).await;
    assert_eq!(
        e["caused_by"]["reason"],
        "Can only use wildcard queries on keyword, text and wildcard fields - not on [code] which is of type [integer]"
    );
}

#[tokio::test]
async fn regexp_anchoring_flags_and_translation() {
    let d = docs().await;
    let re = |p: &str| regex::Regex::new(&format!("^(?:{p})$")).unwrap();
    // regexp-syntax.html: the pattern must match the whole term.
    for p in [
        "k.*y",
        "ki",
        "foo[0-9]+",
        "a(b|c)+",
        ".{3}",
        "[^k].*",
        "foo\\d{1,2}",
    ] {
        let r = re(p);
        assert_eq!(
            matching(json!({"regexp": {"name": p}})).await,
            expect(d, |x| r.is_match(name(x))),
            "{p}"
        );
    }
    // Not anchored means "kim" alone matches nothing.
    assert!(
        matching(json!({"regexp": {"name": "kim"}}))
            .await
            .is_empty()
    );
    // Interval operator <n-m> (regexp-syntax.html#regexp-optional-operators): foo7, not foo123.
    assert_eq!(
        matching(json!({"regexp": {"name": "foo<5-100>"}})).await,
        vec!["10"]
    );
    assert!(
        matching(json!({"regexp": {"name": {"value": "foo<5-100>", "flags": "NONE"}}}))
            .await
            .is_empty()
    );
    // @ any string, & intersection, ~ complement (regexp-syntax.html).
    assert_eq!(
        matching(json!({"regexp": {"name": "foo@"}})).await,
        vec!["9", "10"]
    );
    assert_eq!(
        matching(json!({"regexp": {"name": "k.*&.*chy"}})).await,
        expect(d, |x| name(x).starts_with('k') && name(x).ends_with("chy"))
    );
    assert_eq!(
        matching(json!({"regexp": {"name": "ki~mchy"}})).await,
        // `~` applies to the shortest following pattern: ki, anything but "m", chy.
        expect(d, |x| {
            let n = name(x);
            n.starts_with("ki") && n.ends_with("chy") && n.len() >= 5 && &n[2..n.len() - 3] != "m"
        })
    );
    // case_insensitive folds ASCII letters.
    assert_eq!(
        matching(json!({"regexp": {"name": {"value": "KIM.HY", "case_insensitive": true}}})).await,
        expect(d, |x| re("kim.hy").is_match(&name(x).to_lowercase()))
    );
    // Text fields: each token.
    assert_eq!(
        matching(json!({"regexp": {"msg": "number1[0-9]"}})).await,
        expect(d, |x| tokens(x)
            .iter()
            .any(|t| re("number1[0-9]").is_match(t)))
    );
    // Syntax errors are Lucene's, wrapped as Elasticsearch does.
    let e = error(json!({"regexp": {"name": "ab(c"}})).await;
    assert_eq!(
        e["caused_by"]["reason"],
        "failed to create query: expected ')' at position 4"
    );
    // Operators RE2 cannot express inside a larger pattern: a clear 400 naming them.
    // (Unsupported-feature errors are reported at the top level, so the debug UI records them.)
    let e = error(json!({"regexp": {"name": "x(a.*&.*b)y"}})).await;
    let reason = e["caused_by"]["reason"]
        .as_str()
        .or(e["reason"].as_str())
        .unwrap();
    assert!(reason.contains("[&]"), "{e}");
    let e = error(json!({"regexp": {"name": {"value": "k", "foo": 1}}})).await;
    assert_eq!(e["reason"], "[regexp] query does not support [foo]");
    let e = error(json!({"regexp": {"code": "1"}})).await;
    assert_eq!(
        e["caused_by"]["reason"],
        "Can only use regexp queries on keyword and text fields - not on [code] which is of type [integer]"
    );
}

/// Optimal string alignment distance in code points (the test's own oracle for Lucene's fuzzy
/// matching with transpositions).
fn osa(a: &str, b: &str, transpositions: bool) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    d[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if transpositions && i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[tokio::test]
async fn fuzzy_edits_prefix_and_transpositions() {
    let d = docs().await;
    // query-dsl-fuzzy-query.html: edits counted in characters; AUTO gives 2 edits from 6 characters.
    assert_eq!(
        matching(json!({"fuzzy": {"name": "kimchy"}})).await,
        expect(d, |x| osa(name(x), "kimchy", true) <= 2)
    );
    assert_eq!(
        matching(json!({"fuzzy": {"name": {"value": "kimchy", "fuzziness": 1}}})).await,
        expect(d, |x| osa(name(x), "kimchy", true) <= 1)
    );
    // Transpositions count as one edit unless disabled: "acb" is one swap from "abc".
    assert_eq!(
        matching(json!({"fuzzy": {"name": {"value": "abc", "fuzziness": 1}}})).await,
        vec!["11", "12"]
    );
    assert_eq!(
        matching(
            json!({"fuzzy": {"name": {"value": "abc", "fuzziness": 1, "transpositions": false}}})
        )
        .await,
        vec!["11"]
    );
    // AUTO: fewer than 3 characters must match exactly.
    assert_eq!(
        matching(json!({"fuzzy": {"name": "k?"}})).await,
        Vec::<String>::new()
    );
    // prefix_length: the first characters must be equal.
    assert_eq!(
        matching(json!({"fuzzy": {"name": {"value": "jimchy", "prefix_length": 1}}})).await,
        Vec::<String>::new()
    );
    assert_eq!(
        matching(
            json!({"fuzzy": {"name": {"value": "kimchx", "prefix_length": 5, "fuzziness": 1}}})
        )
        .await,
        expect(d, |x| name(x).starts_with("kimch")
            && osa(name(x), "kimchx", true) <= 1)
    );
    // Edits are counted in code points: "elan" is one substitution from "élan".
    assert_eq!(
        matching(json!({"fuzzy": {"name": {"value": "elan", "fuzziness": 1}}})).await,
        vec!["8"]
    );
    // Text fields: tokens (the value is not analysed).
    assert_eq!(
        matching(json!({"fuzzy": {"msg": {"value": "stroy", "fuzziness": 1}}}))
            .await
            .len(),
        d.len()
    );
    // MappedFieldType#fuzzyQuery on a number.
    let e = error(json!({"fuzzy": {"code": "1"}})).await;
    assert_eq!(
        e["caused_by"]["reason"],
        "failed to create query: Can only use fuzzy queries on keyword and text fields - not on [code] which is of type [integer]"
    );
    let e = error(json!({"fuzzy": {"name": {"value": "k", "case_insensitive": true}}})).await;
    assert_eq!(
        e["reason"],
        "[fuzzy] query does not support [case_insensitive]"
    );
}

#[tokio::test]
async fn fuzzy_agrees_with_optimal_string_alignment_on_many_variants() {
    // FuzzyQuery (LevenshteinAutomata with transpositions): a term matches when its restricted
    // Damerau-Levenshtein (optimal string alignment) distance in code points is within the
    // edits. Checked on every one- and two-step variant of two terms, a short and a long one
    // (the long one also shows that the SQL does not grow with the term).
    // "ca" is 3 edits from "abc" in OSA, 2 in unrestricted Damerau-Levenshtein (ca → ac → abc).
    let bases = [
        "abcdef",
        "the-quick-brown-fox-jumps-over-the-lazy-dog-0123456789",
        "ca",
    ];
    let mut words: Vec<String> = Vec::new();
    for base in bases {
        let b: Vec<char> = base.chars().collect();
        let mut one: Vec<Vec<char>> = vec![b.clone()];
        for i in 0..b.len() {
            let mut del = b.clone();
            del.remove(i);
            one.push(del);
            let mut sub = b.clone();
            sub[i] = 'x';
            one.push(sub);
            let mut ins = b.clone();
            ins.insert(i, 'y');
            one.push(ins);
            if i + 1 < b.len() {
                let mut sw = b.clone();
                sw.swap(i, i + 1);
                one.push(sw);
            }
        }
        // Two steps: every swap or substitution again on each one-step variant (a sample for the
        // long term, to keep the index small).
        let stride = if b.len() > 10 { 7 } else { 1 };
        let mut two = Vec::new();
        for v in &one {
            for i in (0..v.len().saturating_sub(1)).step_by(stride) {
                let mut sw = v.clone();
                sw.swap(i, i + 1);
                two.push(sw);
                let mut sub = v.clone();
                sub[i] = 'z';
                two.push(sub);
                // Insertions (also between two swapped characters: not an OSA edit) and
                // deletions.
                let mut ins = v.clone();
                ins.insert(i + 1, 'q');
                two.push(ins);
                let mut del = v.clone();
                del.remove(i);
                two.push(del);
            }
        }
        for w in one.into_iter().chain(two) {
            let w: String = w.into_iter().collect();
            if !words.contains(&w) {
                words.push(w);
            }
        }
    }
    words.push("abc".to_string());
    let docs: Vec<Value> = words.iter().map(|w| json!({"w": w})).collect();
    let mapping = json!({"mappings": {"properties": {"w": {"type": "keyword"}}}});
    load_docs("tlq-fuzzy", Some(&mapping), &docs).await;
    for base in bases {
        for fuzziness in [1usize, 2] {
            for transpositions in [true, false] {
                let q = json!({"query": {"fuzzy": {"w": {"value": base, "fuzziness": fuzziness,
                    "transpositions": transpositions}}}, "size": 10000, "_source": false});
                let r = json_req("POST", "/tlq-fuzzy/_search", &q).await;
                assert_eq!(r.status, 200, "{}", r.text);
                let mut got: Vec<usize> = r.json()["hits"]["hits"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| h["_id"].as_str().unwrap().parse().unwrap())
                    .collect();
                got.sort();
                let want: Vec<usize> = (0..words.len())
                    .filter(|i| osa(&words[*i], base, transpositions) <= fuzziness)
                    .collect();
                assert_eq!(
                    got, want,
                    "{base} fuzziness {fuzziness} transpositions {transpositions}"
                );
            }
        }
    }
}

#[tokio::test]
async fn term_level_scores_are_the_boost() {
    docs().await;
    // Constant-score rewrite: prefix/wildcard/regexp score their boost; fuzzy scores its boost here
    // (documented difference from Elasticsearch's blended frequencies).
    for q in [
        json!({"prefix": {"name": {"value": "kim", "boost": 2.5}}}),
        json!({"wildcard": {"name": {"value": "kim*", "boost": 2.5}}}),
        json!({"regexp": {"name": {"value": "kim.*", "boost": 2.5}}}),
        json!({"fuzzy": {"name": {"value": "kimchy", "boost": 2.5}}}),
    ] {
        let s = scores(q.clone()).await;
        assert!(!s.is_empty(), "{q}");
        assert!(s.values().all(|v| *v == 2.5), "{q}: {s:?}");
    }
}

#[tokio::test]
async fn constant_score_boosting_dis_max() {
    let d = docs().await;
    // query-dsl-constant-score-query.html: filter matches, score = boost.
    let s =
        scores(json!({"constant_score": {"filter": {"prefix": {"name": "foo"}}, "boost": 1.2}}))
            .await;
    assert_eq!(s.keys().cloned().collect::<Vec<_>>(), vec!["10", "9"]);
    assert!(s.values().all(|v| (*v - 1.2).abs() < 1e-9));
    // query-dsl-boosting-query.html: negative matches get positive score × negative_boost.
    let s = scores(json!({"boosting": {
        "positive": {"prefix": {"name": "k"}},
        "negative": {"term": {"name": "kay"}},
        "negative_boost": 0.5}}))
    .await;
    let want = expect(d, |x| name(x).starts_with('k'));
    assert_eq!(s.len(), want.len());
    for (id, v) in &s {
        let expected = if id == "5" { 0.5 } else { 1.0 };
        assert!((v - expected).abs() < 1e-9, "{id}: {v}");
    }
    // query-dsl-dis-max-query.html: max clause score + tie_breaker × the other matching clauses.
    let s = scores(json!({"dis_max": {"tie_breaker": 0.5, "queries": [
        {"prefix": {"name": {"value": "kim", "boost": 2}}},
        {"wildcard": {"name": {"value": "*chy", "boost": 3}}}
    ]}}))
    .await;
    for (i, x) in d.iter().enumerate() {
        let (a, b) = (name(x).starts_with("kim"), name(x).ends_with("chy"));
        let want = match (a, b) {
            (true, true) => Some(3.0 + 0.5 * 2.0),
            (true, false) => Some(2.0),
            (false, true) => Some(3.0),
            _ => None,
        };
        assert_eq!(s.get(&i.to_string()).copied(), want, "doc {i}");
    }
    let e = error(json!({"constant_score": {"query": {"match_all": {}}}})).await;
    assert_eq!(
        e["reason"],
        "[constant_score] query does not support [query]"
    );
    let e =
        error(json!({"boosting": {"positive": {"match_all": {}}, "negative": {"match_all": {}}}}))
            .await;
    assert_eq!(
        e["reason"],
        "[boosting] query requires 'negative_boost' to be set to be a positive value'"
    );
}

fn items(d: &Value) -> Vec<(String, i64)> {
    d["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["name"].as_str().unwrap().to_string(),
                o["qty"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn nested_matches_one_object_at_a_time() {
    let d = docs().await;
    // query-dsl-nested-query.html: conditions must hold in the same nested object.
    let q = json!({"nested": {"path": "items", "query": {"bool": {"must": [
        {"term": {"items.name": "x"}},
        {"range": {"items.qty": {"gte": 3}}}
    ]}}}});
    let want = expect(d, |x| items(x).iter().any(|(n, q)| n == "x" && *q >= 3));
    // The check is meaningful: some documents have x and a qty ≥ 3 in different objects only.
    let split = expect(d, |x| {
        let it = items(x);
        it.iter().any(|(n, _)| n == "x") && it.iter().any(|(_, q)| *q >= 3)
    });
    assert!(split.len() > want.len());
    assert_eq!(matching(q).await, want);
    // terms, exists, must_not, match on a keyword and term-level queries inside nested.
    assert_eq!(
        matching(json!({"nested": {"path": "items", "query": {"bool": {
            "filter": [{"terms": {"items.name": ["y", "z"]}}, {"exists": {"field": "items.qty"}}],
            "must_not": [{"range": {"items.qty": {"lt": 4}}}]}}}}))
        .await,
        expect(d, |x| items(x).iter().any(|(n, q)| n != "x" && *q >= 4))
    );
    assert_eq!(
        matching(json!({"nested": {"path": "items", "query": {"prefix": {"items.name": "z"}}}}))
            .await,
        expect(d, |x| items(x).iter().any(|(n, _)| n == "z"))
    );
    // Fields outside the nested path are not in the nested documents: nothing matches.
    assert!(
        matching(json!({"nested": {"path": "items", "query": {"term": {"name": "kimchy"}}}}))
            .await
            .is_empty()
    );
    // NestedQueryBuilder: an unknown path is an error unless ignore_unmapped.
    let e = error(json!({"nested": {"path": "nope", "query": {"match_all": {}}}})).await;
    assert_eq!(
        e["caused_by"]["reason"],
        "[nested] failed to find nested object under path [nope]"
    );
    assert!(
        matching(
            json!({"nested": {"path": "nope", "ignore_unmapped": true, "query": {"match_all": {}}}})
        )
        .await
        .is_empty()
    );
    let e = error(json!({"nested": {"path": "name", "query": {"match_all": {}}}})).await;
    assert_eq!(
        e["caused_by"]["reason"],
        "[nested] nested object under path [name] is not of nested type"
    );
    // inner_hits options not implemented yet (sort): a clear 400 (inner_hits itself: search_more.rs).
    let e = error(
        json!({"nested": {"path": "items", "query": {"match_all": {}}, "inner_hits": {"sort": []}}}),
    )
    .await;
    assert!(e["reason"].as_str().unwrap().contains("inner_hits"), "{e}");
}

/// Index `tlq-nroot`: `items` nested, `parts` nested with `include_in_parent`.
async fn nested_root_index() {
    static DONE: OnceCell<()> = OnceCell::const_new();
    DONE.get_or_init(|| async {
        let mapping = json!({"mappings": {"properties": {
            "name": {"type": "keyword"},
            "items": {"type": "nested", "properties": {
                "name": {"type": "keyword"}, "qty": {"type": "integer"}}},
            "parts": {"type": "nested", "include_in_parent": true, "properties": {
                "name": {"type": "keyword"}, "qty": {"type": "integer"}}}
        }}});
        let docs: Vec<Value> = (0..4)
            .map(|i| {
                json!({
                    "name": format!("n{i}"),
                    "items": [{"name": "x", "qty": i}, {"name": "y", "qty": 10 + i}],
                    "parts": [{"name": if i % 2 == 0 { "p" } else { "q" }, "qty": 20 + i}]
                })
            })
            .collect();
        load_docs("tlq-nroot", Some(&mapping), &docs).await;
    })
    .await;
}

async fn nroot(body: Value) -> Resp {
    nested_root_index().await;
    json_req("POST", "/tlq-nroot/_search", &body).await
}

async fn nroot_ids(query: Value) -> Vec<String> {
    let r = nroot(json!({"query": query, "sort": ["_doc"]})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn nested_fields_outside_a_nested_context() {
    // nested.html: the objects of a `nested` field are indexed as separate hidden documents, so a
    // query on `items.name` outside a `nested` query matches no (root) document — unlike an
    // `object` array, where it would match every document holding the value.
    assert!(
        nroot_ids(json!({"term": {"items.name": "x"}}))
            .await
            .is_empty()
    );
    assert!(
        nroot_ids(json!({"exists": {"field": "items.qty"}}))
            .await
            .is_empty()
    );
    assert!(
        nroot_ids(json!({"query_string": {"query": "items.name:x OR items.qty:[0 TO 5]"}}))
            .await
            .is_empty()
    );
    // The same query inside `nested` matches every document.
    assert_eq!(
        nroot_ids(json!({"nested": {"path": "items", "query": {"term": {"items.name": "x"}}}}))
            .await,
        ["0", "1", "2", "3"]
    );
    // nested.html#nested-params: `include_in_parent` also indexes the fields in the parent
    // (here the root) document, where plain queries see them.
    assert_eq!(
        nroot_ids(json!({"term": {"parts.name": "p"}})).await,
        ["0", "2"]
    );
    // FieldSortBuilder#validateMissingNestedPath: sorting on a nested field without a `nested`
    // sort context is a query_shard_exception; on an include_in_parent field it is allowed.
    let r = nroot(json!({"sort": [{"items.qty": "asc"}]})).await;
    let e = assert_es_error(&r, 400, "search_phase_execution_exception");
    assert_eq!(e["root_cause"][0]["type"], "query_shard_exception");
    assert_eq!(
        e["root_cause"][0]["reason"],
        "it is mandatory to set the [nested] context on the nested sort field: [items.qty]."
    );
    let r = nroot(json!({"sort": [{"parts.qty": "desc"}], "size": 1})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["hits"]["hits"][0]["_id"], "3");
    // search-aggregations-bucket-nested-aggregation.html: outside a `nested` aggregation the
    // root documents hold no value of a nested field (no buckets, null/0 metrics); inside one,
    // every object counts.
    let r = nroot(json!({"size": 0, "aggs": {
        "names": {"terms": {"field": "items.name"}},
        "avg_qty": {"avg": {"field": "items.qty"}},
        "sum_qty": {"sum": {"field": "items.qty"}},
        "in": {"nested": {"path": "items"}, "aggs": {"sum_qty": {"sum": {"field": "items.qty"}}}},
        "parts_sum": {"sum": {"field": "parts.qty"}}
    }}))
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let a = &r.json()["aggregations"];
    assert_eq!(a["names"]["buckets"], json!([]));
    assert_eq!(a["avg_qty"]["value"], Value::Null);
    assert_eq!(a["sum_qty"]["value"], 0.0);
    assert_eq!(a["in"]["doc_count"], 8);
    assert_eq!(
        a["in"]["sum_qty"]["value"],
        (0..4).map(|i| i + 10 + i).sum::<i64>() as f64
    );
    assert_eq!(a["parts_sum"]["value"], (20 + 21 + 22 + 23) as f64);
}

#[tokio::test]
async fn nested_sort_by_the_matching_objects() {
    // sort-search-results.html#nested-sorting: `nested.path` sorts by the values of the nested
    // objects, `nested.filter` keeps only the matching objects; `mode` (min for asc, max for desc
    // by default) picks one value; a document with no matching object is missing (sorted last).
    let sorted = |body: Value| async move {
        let r = nroot(body).await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()["hits"]["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| (h["_id"].as_str().unwrap().to_string(), h["sort"][0].clone()))
            .collect::<Vec<_>>()
    };
    let pairs = |v: &[(&str, Value)]| {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.clone()))
            .collect::<Vec<_>>()
    };
    // Doc i has items {x, qty i} and {y, qty 10 + i}.
    assert_eq!(
        sorted(json!({"sort": [{"items.qty": {"order": "desc", "nested": {"path": "items"}}}]}))
            .await,
        pairs(&[
            ("3", json!(13)),
            ("2", json!(12)),
            ("1", json!(11)),
            ("0", json!(10))
        ])
    );
    assert_eq!(
        sorted(json!({"sort": [{"items.qty": {"order": "desc", "nested": {
            "path": "items", "filter": {"term": {"items.name": "x"}}}}}]}))
        .await,
        pairs(&[
            ("3", json!(3)),
            ("2", json!(2)),
            ("1", json!(1)),
            ("0", json!(0))
        ])
    );
    assert_eq!(
        sorted(
            json!({"sort": [{"items.qty": {"order": "asc", "mode": "max", "nested": {
            "path": "items", "filter": {"range": {"items.qty": {"lt": 12}}}}}}]})
        )
        .await,
        pairs(&[
            ("2", json!(2)),
            ("3", json!(3)),
            ("0", json!(10)),
            ("1", json!(11))
        ])
    );
    // No object matches: every document misses the key, shown as Long.MAX_VALUE for `_last` in
    // ascending order as Elasticsearch does (the tie-break keeps index order).
    let max = json!(i64::MAX);
    assert_eq!(
        sorted(json!({"sort": [{"items.qty": {"order": "asc", "nested": {
            "path": "items", "filter": {"term": {"items.name": "none"}}}}}]}))
        .await,
        pairs(&[
            ("0", max.clone()),
            ("1", max.clone()),
            ("2", max.clone()),
            ("3", max.clone())
        ])
    );
    // NestedSortBuilder: the path must be a nested object.
    let r = nroot(json!({"sort": [{"name": {"nested": {"path": "name"}}}]})).await;
    let e = assert_es_error(&r, 400, "search_phase_execution_exception");
    assert_eq!(
        e["root_cause"][0]["reason"],
        "[nested] nested object under path [name] is not of nested type"
    );
    // max_children: only the first N matching objects of each document count; here the first
    // object {x, i} alone, so descending order by i.
    assert_eq!(
        sorted(json!({"sort": [{"items.qty": {"order": "desc", "nested": {
            "path": "items", "max_children": 1}}}]}))
        .await,
        pairs(&[
            ("3", json!(3)),
            ("2", json!(2)),
            ("1", json!(1)),
            ("0", json!(0))
        ])
    );
    // Not yet: a nested sort inside a nested sort — a 400 naming it.
    let r = nroot(json!({"sort": [{"items.qty": {"nested": {"path": "items",
        "nested": {"path": "items.sub"}}}}]}))
    .await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert!(e["reason"].as_str().unwrap().contains("multi-level"), "{e}");
}

#[tokio::test]
async fn nested_score_modes() {
    let d = docs().await;
    // query-dsl-nested-query.html#nested-top-level-params: score_mode combines matching objects.
    let inner = json!({"range": {"items.qty": {"gte": 2, "boost": 2.0}}});
    let count = |x: &Value| items(x).iter().filter(|(_, q)| *q >= 2).count() as f64;
    for (mode, f) in [
        ("avg", Box::new(|_: f64| 2.0) as Box<dyn Fn(f64) -> f64>),
        ("max", Box::new(|_| 2.0)),
        ("sum", Box::new(|n| 2.0 * n)),
        ("none", Box::new(|_| 0.0)),
    ] {
        let s =
            scores(json!({"nested": {"path": "items", "score_mode": mode, "query": inner}})).await;
        for (i, x) in d.iter().enumerate() {
            let n = count(x);
            let want = if n > 0.0 { Some(f(n)) } else { None };
            assert_eq!(s.get(&i.to_string()).copied(), want, "{mode} doc {i}");
        }
    }
}

fn haversine(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let r = 6_371_008.771_4_f64;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dlat = (lat2 - lat1).to_radians();
    let dlon = (lon2 - lon1).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * r * h.min(1.0).sqrt().asin()
}

/// The points of each document, as (lat, lon).
fn points(d: &Value) -> Vec<(f64, f64)> {
    let one = |p: &Value| -> (f64, f64) {
        match p {
            Value::Object(o) => (o["lat"].as_f64().unwrap(), o["lon"].as_f64().unwrap()),
            Value::Array(a) => (a[1].as_f64().unwrap(), a[0].as_f64().unwrap()),
            Value::String(s) => {
                let (a, b) = s.split_once(',').unwrap();
                (a.parse().unwrap(), b.parse().unwrap())
            }
            _ => unreachable!(),
        }
    };
    match &d["loc"] {
        Value::Null => vec![],
        Value::Array(a) if a.first().is_some_and(Value::is_object) => a.iter().map(one).collect(),
        p => vec![one(p)],
    }
}

#[tokio::test]
async fn geo_bounding_box_and_distance() {
    let d = docs().await;
    // query-dsl-geo-bounding-box-query.html
    let in_box = |t: f64, l: f64, b: f64, r: f64| {
        move |x: &Value| {
            points(x).iter().any(|(lat, lon)| {
                *lat <= t
                    && *lat >= b
                    && if l <= r {
                        *lon >= l && *lon <= r
                    } else {
                        *lon >= l || *lon <= r
                    }
            })
        }
    };
    assert_eq!(
        matching(json!({"geo_bounding_box": {"loc": {"top_left": {"lat": 50, "lon": -80}, "bottom_right": {"lat": 40, "lon": 5}}}})).await,
        expect(d, in_box(50.0, -80.0, 40.0, 5.0))
    );
    // A box from 179° east to 179° west crosses the antimeridian.
    let across = expect(d, in_box(1.0, 179.0, -1.0, -179.0));
    assert_eq!(across, vec!["0", "1"]);
    assert_eq!(
        matching(json!({"geo_bounding_box": {"loc": {"top": 1, "left": 179, "bottom": -1, "right": -179}}})).await,
        across
    );
    assert_eq!(
        matching(json!({"geo_bounding_box": {"loc": {"wkt": "BBOX (179, -179, 1, -1)"}}})).await,
        across
    );
    // Near the poles, and a document with two points of which one is inside.
    assert_eq!(
        matching(
            json!({"geo_bounding_box": {"loc": {"top_left": [-10, 90], "bottom_right": [10, 89]}}})
        )
        .await,
        vec!["3"]
    );
    assert_eq!(
        matching(
            json!({"geo_bounding_box": {"loc": {"top_left": "-30,150", "bottom_right": "-35,152"}}})
        )
        .await,
        vec!["8"]
    );
    // query-dsl-geo-distance-query.html: arc distance from the origin.
    for (lat, lon, dist, meters) in [
        (0.0, 180.0, "100km", 100_000.0),
        (48.85, 2.35, "10km", 10_000.0),
        (90.0, 0.0, "20000m", 20_000.0),
        (0.0, 0.0, "1mi", 1_609.344),
    ] {
        assert_eq!(
            matching(json!({"geo_distance": {"distance": dist, "loc": {"lat": lat, "lon": lon}}}))
                .await,
            expect(d, |x| points(x)
                .iter()
                .any(|(a, b)| haversine(lat, lon, *a, *b) <= meters)),
            "{lat},{lon} {dist}"
        );
    }
    // Paris to New York is about 5837 km: inside 5850 km, outside 5820 km.
    let (paris_lat, paris_lon) = (48.8566, 2.3522);
    for (km, origin) in [
        (5850.0, json!("48.8566,2.3522")),
        (5820.0, json!([2.3522, 48.8566])),
    ] {
        let got =
            matching(json!({"geo_distance": {"distance": format!("{km}km"), "loc": origin}})).await;
        assert_eq!(
            got,
            expect(d, |x| points(x).iter().any(|(a, b)| haversine(
                paris_lat, paris_lon, *a, *b
            ) <= km * 1000.0))
        );
        assert_eq!(got.contains(&"6".to_string()), km > 5837.0);
    }
    // Errors: unmapped geo fields and wrong types (GeoBoundingBoxQueryBuilder#doToQuery).
    let e = error(json!({"geo_distance": {"distance": "1km", "nope": [0, 0]}})).await;
    assert_eq!(e["caused_by"]["reason"], "failed to find geo field [nope]");
    assert!(
        matching(
            json!({"geo_distance": {"distance": "1km", "nope": [0, 0], "ignore_unmapped": true}})
        )
        .await
        .is_empty()
    );
    let e = error(
        json!({"geo_bounding_box": {"name": {"top": 1, "left": 0, "bottom": 0, "right": 1}}}),
    )
    .await;
    assert_eq!(
        e["caused_by"]["reason"],
        "Field [name] is of unsupported type [keyword] for [geo_bounding_box] query"
    );
    let e = error(
        json!({"geo_bounding_box": {"loc": {"top": 91, "left": 0, "bottom": 0, "right": 1}}}),
    )
    .await;
    assert_eq!(
        e["caused_by"]["reason"],
        "couldn't validate latitude/ longitude values"
    );
    // COERCE wraps longitudes: 181 is -179.
    assert_eq!(
        matching(json!({"geo_bounding_box": {"loc": {"top": 1, "left": 179, "bottom": -1, "right": 181}, "validation_method": "COERCE"}})).await,
        across
    );
}

#[tokio::test]
async fn nested_columns_added_later() {
    // Storage (docs/schema.md): a nested leaf first seen in a later document gets a column that is
    // empty for earlier documents. Matching must still pair values of the same object
    // (query-dsl-nested-query.html).
    let r = json_req(
        "PUT",
        "/tlq-nested",
        &json!({"mappings": {"properties": {"o": {"type": "nested"}}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let docs = [
        json!({"o": [{"a": "p", "n": 1}, {"a": "q", "n": 2}]}),
        json!({"o": [{"a": "p", "n": 2, "c": "red"}, {"a": "q", "c": "blue"}]}),
        json!({"o": [{"a": "q", "n": 1, "c": "green"}, {"a": "p", "c": "red"}]}),
        json!({"o": []}),
    ];
    let mut body = String::new();
    for (i, d) in docs.iter().enumerate() {
        // One request per document, so each new leaf arrives after the earlier rows were written.
        body.clear();
        body.push_str(&format!("{{\"index\":{{\"_id\":\"{i}\"}}}}\n{d}\n"));
        let r = bulk("/tlq-nested/_bulk?refresh=true", &body).await;
        assert_eq!(r.json()["errors"], false, "{}", r.text);
    }
    let hits = |q: Value| async move {
        let r = json_req(
            "POST",
            "/tlq-nested/_search",
            &json!({"query": {"nested": {"path": "o", "query": q}}, "sort": ["_doc"]}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()["hits"]["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["_id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let both = |a: Value, b: Value| json!({"bool": {"filter": [a, b]}});
    assert_eq!(
        hits(both(
            json!({"term": {"o.a": "p"}}),
            json!({"term": {"o.n": 2}})
        ))
        .await,
        ["1"]
    );
    assert_eq!(
        hits(both(
            json!({"term": {"o.a": "q"}}),
            json!({"term": {"o.c": "blue"}})
        ))
        .await,
        ["1"]
    );
    assert!(
        hits(both(
            json!({"term": {"o.a": "p"}}),
            json!({"term": {"o.c": "blue"}})
        ))
        .await
        .is_empty()
    );
    assert_eq!(
        hits(both(
            json!({"term": {"o.a": "q"}}),
            json!({"term": {"o.n": 1}})
        ))
        .await,
        ["2"]
    );
    // An object without the field: must_not exists matches it (doc 1's second object has no n,
    // doc 2's second object neither).
    assert_eq!(
        hits(json!({"bool": {"must_not": {"exists": {"field": "o.n"}}}})).await,
        ["1", "2"]
    );
}

/// `_tier` is a metadata field whose value is the index's preferred data tier: `data_content` for
/// an index created without a tier preference (TierFieldMapper, "_tier field" in the mapping
/// docs). Kibana's autocomplete sends `must_not: {terms: {_tier: ["data_frozen"]}}`.
#[tokio::test]
async fn tier_metadata_field() {
    let all = docs().await;
    let every = expect(all, |_| true);
    assert_eq!(
        matching(json!({"term": {"_tier": "data_content"}})).await,
        every
    );
    assert_eq!(
        matching(json!({"term": {"_tier": "data_frozen"}})).await,
        Vec::<String>::new()
    );
    assert_eq!(
        matching(json!({"bool": {"must_not": {"terms": {"_tier": ["data_frozen"]}}}})).await,
        every
    );
    assert_eq!(
        matching(json!({"terms": {"_tier": ["data_hot", "data_content"]}})).await,
        every
    );
}
