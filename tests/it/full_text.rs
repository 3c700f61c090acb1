//! Full-text queries on the real engine: tokens (standard analyzer) rather than substrings, operators,
//! minimum_should_match, fuzziness, phrases with slop, multi_match, and BM25 scores computed
//! independently here (a reference implementation of Lucene 9's BM25 in float32).

use crate::common::*;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

/// Documents of index `ft-docs`: plain lower-case-able ASCII words, so splitting on spaces is the
/// standard analyzer's tokenisation for them.
const DOCS: [&str; 8] = [
    "The quick brown fox",
    "quick quick dog",
    "lazy cat sat on the mat",
    "category of cats",
    "brown quick fox jumps",
    "the quick red brown fox",
    "Cat",
    "a very long line about the quick brown fox and the lazy dog and a cat that sat",
];

static LOADED: OnceCell<()> = OnceCell::const_new();

async fn load() {
    LOADED
        .get_or_init(|| async {
            let mapping = json!({"mappings": {"properties": {
                "msg": {"type": "text"}, "title": {"type": "text"}, "tag": {"type": "keyword"}, "n": {"type": "integer"}
            }}});
            assert_eq!(json_req("PUT", "/ft-docs", &mapping).await.status, 200);
            let mut body = String::new();
            for (i, d) in DOCS.iter().enumerate() {
                let title = if i % 2 == 0 { "quick title" } else { "slow title" };
                body.push_str(&format!("{{\"index\":{{\"_id\":\"{i}\"}}}}\n{}\n", json!({"msg": d, "title": title, "tag": format!("t{}", i % 3), "n": i})));
            }
            let r = bulk("/ft-docs/_bulk?refresh=true", &body).await;
            assert_eq!(r.json()["errors"], false, "{}", r.text);
        })
        .await;
}

fn tokens(s: &str) -> Vec<String> {
    s.split_whitespace().map(|w| w.to_lowercase()).collect()
}

/// Lucene 9 BM25 (k1 1.2, b 0.75) in float32, with the SmallFloat length quantisation (exact below
/// 24 tokens — every document here is shorter than that except the last, 19 tokens).
fn bm25(docs: &[Vec<String>], doc: usize, term: &str, boost: f32) -> f32 {
    let with_field: Vec<&Vec<String>> = docs.iter().filter(|d| !d.is_empty()).collect();
    let dc = with_field.len() as f64;
    let df = with_field
        .iter()
        .filter(|d| d.iter().any(|t| t == term))
        .count() as f64;
    let idf = (1.0 + (dc - df + 0.5) / (df + 0.5)).ln() as f32;
    let avgdl = (with_field.iter().map(|d| d.len()).sum::<usize>() as f64 / dc) as f32;
    let freq = docs[doc].iter().filter(|t| *t == term).count() as f32;
    if freq == 0.0 {
        return 0.0;
    }
    let dl = docs[doc].len() as f32;
    let norm_inverse = 1.0f32 / (1.2f32 * ((1.0f32 - 0.75f32) + 0.75f32 * dl / avgdl));
    let weight = boost * idf;
    weight - weight / (1.0f32 + freq * norm_inverse)
}

async fn search(body: Value) -> Value {
    load().await;
    let r = json_req("POST", "/ft-docs/_search", &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort_by_key(|x| x.parse::<usize>().unwrap());
    v
}

fn where_(pred: impl Fn(&[String]) -> bool) -> Vec<String> {
    DOCS.iter()
        .enumerate()
        .filter(|(_, d)| pred(&tokens(d)))
        .map(|(i, _)| i.to_string())
        .collect()
}

fn has(t: &[String], w: &str) -> bool {
    t.iter().any(|x| x == w)
}

#[tokio::test]
async fn match_matches_tokens_not_substrings() {
    // query-dsl-match-query.html: text is analysed; "cat" matches the token "cat" (any case), not
    // "category" or "cats".
    let v = search(json!({"query": {"match": {"msg": "CAT"}}, "size": 20})).await;
    assert_eq!(sorted(ids(&v)), where_(|t| has(t, "cat")));
    assert!(!ids(&v).contains(&"3".to_string()));
}

#[tokio::test]
async fn bm25_scores_and_order_match_lucene() {
    let docs: Vec<Vec<String>> = DOCS.iter().map(|d| tokens(d)).collect();
    let v = search(json!({"query": {"match": {"msg": "quick fox"}}, "size": 20})).await;
    let mut want: Vec<(usize, f32)> = (0..docs.len())
        .map(|i| (i, bm25(&docs, i, "quick", 1.0) + bm25(&docs, i, "fox", 1.0)))
        .filter(|(_, s)| *s > 0.0)
        .collect();
    // Score descending, ties in indexing order.
    want.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap().then(a.0.cmp(&b.0)));
    let got: Vec<(String, f64)> = v["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["_id"].as_str().unwrap().to_string(),
                h["_score"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got.iter().map(|g| g.0.clone()).collect::<Vec<_>>(),
        want.iter().map(|w| w.0.to_string()).collect::<Vec<_>>(),
        "{v}"
    );
    for ((_, g), (_, w)) in got.iter().zip(&want) {
        assert!((*g as f32 - w).abs() < 1e-5, "score {g} vs reference {w}");
    }
    assert!((v["hits"]["max_score"].as_f64().unwrap() as f32 - want[0].1).abs() < 1e-5);
    // max_score is the best score of all matches, also on a later page and without a total.
    for body in [
        json!({"query": {"match": {"msg": "quick fox"}}, "from": 2, "size": 1}),
        json!({"query": {"match": {"msg": "quick fox"}}, "size": 1, "track_total_hits": false}),
    ] {
        let p = search(body.clone()).await;
        let m = p["hits"]["max_score"].as_f64().unwrap() as f32;
        assert!((m - want[0].1).abs() < 1e-5, "{body}: {p}");
    }
    // Boost multiplies the score.
    let b = search(json!({"query": {"match": {"msg": {"query": "lazy", "boost": 2}}}})).await;
    let first = &b["hits"]["hits"][0];
    let i: usize = first["_id"].as_str().unwrap().parse().unwrap();
    assert!((first["_score"].as_f64().unwrap() as f32 - bm25(&docs, i, "lazy", 2.0)).abs() < 1e-5);
}

/// Lucene's SmallFloat#intToByte4 then #byte4ToInt: the field length BM25 sees (exact below 24,
/// then 4 significant bits).
fn quantised_length(n: usize) -> usize {
    if n < 24 {
        return n;
    }
    let v = n - 24;
    let bits = usize::BITS - v.leading_zeros();
    let shift = bits.saturating_sub(4);
    24 + ((v >> shift) << shift)
}

#[tokio::test]
async fn bm25_field_length_quantisation_like_lucene() {
    // BM25Similarity reads the document length from its one-byte norm (SmallFloat.intToByte4):
    // lengths from 24 tokens on lose precision (40 and 41 tokens score alike), and every length
    // scores — 24 tokens included (v = 0 in the encoding).
    let lengths = [23usize, 24, 25, 39, 40, 41, 60];
    let mut body = String::new();
    let mut docs = Vec::new();
    for (i, n) in lengths.iter().enumerate() {
        let words: Vec<String> = (0..*n)
            .map(|k| {
                if k == 0 {
                    "needle".to_string()
                } else {
                    format!("w{k}")
                }
            })
            .collect();
        body.push_str(&format!(
            "{{\"index\":{{\"_id\":\"{i}\"}}}}\n{}\n",
            json!({"msg": words.join(" ")})
        ));
        docs.push(words);
    }
    let r = bulk("/ft-long/_bulk?refresh=true", &body).await;
    assert_eq!(r.json()["errors"], false, "{}", r.text);
    let r = json_req(
        "POST",
        "/ft-long/_search",
        &json!({"query": {"match": {"msg": "needle"}}, "size": 10}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    let dc = docs.len() as f64;
    let idf = (1.0 + (dc - dc + 0.5) / (dc + 0.5)).ln() as f32;
    let avgdl = (lengths.iter().sum::<usize>() as f64 / dc) as f32;
    for h in v["hits"]["hits"].as_array().unwrap() {
        let i: usize = h["_id"].as_str().unwrap().parse().unwrap();
        let dl = quantised_length(lengths[i]) as f32;
        let norm_inverse = 1.0f32 / (1.2f32 * ((1.0f32 - 0.75f32) + 0.75f32 * dl / avgdl));
        let want = idf - idf / (1.0f32 + norm_inverse);
        let got = h["_score"].as_f64().unwrap() as f32;
        assert!(
            (got - want).abs() < 1e-6,
            "{} tokens: {got} vs {want}",
            lengths[i]
        );
    }
    assert_eq!(v["hits"]["total"]["value"], lengths.len());
    let score = |i: usize| {
        v["hits"]["hits"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["_id"].as_str() == Some(i.to_string().as_str()))
            .unwrap()["_score"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(score(4), score(5), "40 and 41 tokens share a norm");
}

#[tokio::test]
async fn single_document_score_is_elasticsearchs() {
    // An index with one document containing the term once, field length = average length:
    // Elasticsearch 8 answers _score 0.13076457 (idf ln(1 + 0.5/1.5) = 0.2876821, times 1/2.2).
    bulk(
        "/ft-one/_bulk?refresh=true",
        "{\"index\":{\"_id\":\"1\"}}\n{\"msg\":\"hello world\"}\n",
    )
    .await;
    let v = json_req(
        "POST",
        "/ft-one/_search",
        &json!({"query": {"match": {"msg": "hello"}}}),
    )
    .await
    .json();
    assert_eq!(v["hits"]["hits"][0]["_score"], json!(0.13076457));
    assert!(
        v.to_string().contains("\"_score\":0.13076457"),
        "printed as Java prints the float: {v}"
    );
}

#[tokio::test]
async fn operator_and_minimum_should_match() {
    // operator and: every token required; minimum_should_match as in query-dsl-minimum-should-match.
    let v = search(json!({"query": {"match": {"msg": {"query": "quick brown fox", "operator": "and"}}}, "size": 20})).await;
    assert_eq!(
        sorted(ids(&v)),
        where_(|t| has(t, "quick") && has(t, "brown") && has(t, "fox"))
    );
    let v = search(json!({"query": {"match": {"msg": {"query": "quick lazy cat dog", "minimum_should_match": "75%"}}}, "size": 20})).await;
    assert_eq!(
        sorted(ids(&v)),
        where_(|t| ["quick", "lazy", "cat", "dog"]
            .iter()
            .filter(|w| has(t, w))
            .count()
            >= 3)
    );
    let v = search(
        json!({"query": {"match": {"msg": {"query": "quick lazy", "minimum_should_match": 3}}}}),
    )
    .await;
    assert_eq!(
        v["hits"]["total"]["value"], 0,
        "more required than clauses: nothing matches"
    );
}

#[tokio::test]
async fn match_on_keyword_numbers_and_leniency() {
    // A match on a keyword field is an exact term; on a number a term on the parsed value.
    let v = search(json!({"query": {"match": {"tag": "t1"}}, "size": 20})).await;
    assert_eq!(
        sorted(ids(&v)),
        (0..DOCS.len())
            .filter(|i| i % 3 == 1)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
    );
    let v = search(json!({"query": {"match": {"n": "5"}}})).await;
    assert_eq!(ids(&v), ["5"]);
    let r = json_req(
        "POST",
        "/ft-docs/_search",
        &json!({"query": {"match": {"n": "five"}}}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let v = search(json!({"query": {"match": {"n": {"query": "five", "lenient": true}}}})).await;
    assert_eq!(v["hits"]["total"]["value"], 0);
    // Analysis leaving no tokens: zero_terms_query none (default) / all.
    let v = search(json!({"query": {"match": {"msg": "!!!"}}})).await;
    assert_eq!(v["hits"]["total"]["value"], 0);
    let v =
        search(json!({"query": {"match": {"msg": {"query": "!!!", "zero_terms_query": "all"}}}}))
            .await;
    assert_eq!(v["hits"]["total"]["value"], DOCS.len());
}

#[tokio::test]
async fn fuzziness() {
    // Fuzziness AUTO: 0 edits below 3 chars, 1 for 3-5, 2 above; transpositions count as one edit.
    let v = search(
        json!({"query": {"match": {"msg": {"query": "qiuck", "fuzziness": "AUTO"}}}, "size": 20}),
    )
    .await;
    assert_eq!(sorted(ids(&v)), where_(|t| has(t, "quick")));
    // Without transpositions "qiuck" is two substitutions away from "quick", and AUTO allows one
    // edit for a 5-character term: no match.
    let v = search(json!({"query": {"match": {"msg": {"query": "qiuck", "fuzziness": "AUTO", "fuzzy_transpositions": false}}}, "size": 20})).await;
    assert_eq!(v["hits"]["total"]["value"], 0);
    // With fuzziness 2 it matches again.
    let v = search(json!({"query": {"match": {"msg": {"query": "qiuck", "fuzziness": 2, "fuzzy_transpositions": false}}}, "size": 20})).await;
    assert_eq!(sorted(ids(&v)), where_(|t| has(t, "quick")));
    // prefix_length: the first characters must match exactly.
    let v = search(json!({"query": {"match": {"msg": {"query": "qiuck", "fuzziness": "AUTO", "prefix_length": 2}}}})).await;
    assert_eq!(v["hits"]["total"]["value"], 0);
}

#[tokio::test]
async fn fuzziness_counts_code_points_and_restricted_transpositions() {
    // FuzzyQuery (used by match `fuzziness` and query_string `term~N` as by `fuzzy`): edits are
    // counted in code points, and a transposition is one edit only between untouched adjacent
    // characters (optimal string alignment): "ca" is 3 edits from "abc", not 2 (ca → ac → abc).
    let r = bulk(
        "/ft-fz/_bulk?refresh=true",
        "{\"index\":{\"_id\":\"1\"}}\n{\"msg\":\"élan vital\"}\n\
         {\"index\":{\"_id\":\"2\"}}\n{\"msg\":\"abc\"}\n",
    )
    .await;
    assert_eq!(r.json()["errors"], false, "{}", r.text);
    let hits = |body: Value| async move {
        let r = json_req("POST", "/ft-fz/_search", &body).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let mut v: Vec<String> = r.json()["hits"]["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["_id"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    // "elan" is one substitution from "élan" (two bytes differ).
    assert_eq!(
        hits(json!({"query": {"match": {"msg": {"query": "elan", "fuzziness": 1}}}})).await,
        ["1"]
    );
    assert_eq!(
        hits(json!({"query": {"query_string": {"query": "msg:elan~1"}}})).await,
        ["1"]
    );
    for q in [
        json!({"match": {"msg": {"query": "ca", "fuzziness": 2}}}),
        json!({"query_string": {"query": "msg:ca~2"}}),
        json!({"fuzzy": {"msg": {"value": "ca", "fuzziness": 2}}}),
    ] {
        assert!(hits(json!({"query": q})).await.is_empty(), "{q}");
    }
    // One more allowed edit reaches it.
    assert_eq!(
        hits(json!({"query": {"match": {"msg": {"query": "cab", "fuzziness": 2}}}})).await,
        ["2"]
    );
}

#[tokio::test]
async fn phrases_with_slop_and_prefix() {
    // query-dsl-match-query-phrase.html: terms at consecutive positions; slop allows moves, and two
    // terms in reverse order need slop 2.
    let v = search(json!({"query": {"match_phrase": {"msg": "quick brown"}}, "size": 20})).await;
    assert_eq!(sorted(ids(&v)), ["0", "7"]);
    let v = search(json!({"query": {"match_phrase": {"msg": {"query": "quick brown", "slop": 1}}}, "size": 20})).await;
    assert_eq!(sorted(ids(&v)), ["0", "5", "7"]);
    let v = search(json!({"query": {"match_phrase": {"msg": {"query": "quick brown", "slop": 2}}}, "size": 20})).await;
    assert_eq!(sorted(ids(&v)), ["0", "4", "5", "7"]);
    let v =
        search(json!({"query": {"match_phrase_prefix": {"msg": "quick bro"}}, "size": 20})).await;
    assert_eq!(sorted(ids(&v)), ["0", "7"]);
    // Values of a multi-valued field are 100 positions apart (position_increment_gap).
    bulk(
        "/ft-multi/_bulk?refresh=true",
        "{\"index\":{\"_id\":\"1\"}}\n{\"msg\":[\"a b\",\"c d\"]}\n",
    )
    .await;
    let v = json_req(
        "POST",
        "/ft-multi/_search",
        &json!({"query": {"match_phrase": {"msg": "b c"}}}),
    )
    .await
    .json();
    assert_eq!(v["hits"]["total"]["value"], 0);
    let v = json_req(
        "POST",
        "/ft-multi/_search",
        &json!({"query": {"match_phrase": {"msg": "c d"}}}),
    )
    .await
    .json();
    assert_eq!(v["hits"]["total"]["value"], 1);
}

#[tokio::test]
async fn multi_match_types() {
    let docs: Vec<Vec<String>> = DOCS.iter().map(|d| tokens(d)).collect();
    let titles: Vec<Vec<String>> = (0..DOCS.len())
        .map(|i| {
            tokens(if i % 2 == 0 {
                "quick title"
            } else {
                "slow title"
            })
        })
        .collect();
    // best_fields: the best field's score (dis_max), fields boosted with ^.
    let v = search(json!({"query": {"multi_match": {"query": "quick", "fields": ["msg", "title^2"]}}, "size": 20})).await;
    for h in v["hits"]["hits"].as_array().unwrap() {
        let i: usize = h["_id"].as_str().unwrap().parse().unwrap();
        let want = bm25(&docs, i, "quick", 1.0).max(bm25(&titles, i, "quick", 2.0));
        assert!(
            (h["_score"].as_f64().unwrap() as f32 - want).abs() < 1e-5,
            "doc {i}"
        );
    }
    // most_fields: the sum.
    let v = search(json!({"query": {"multi_match": {"query": "quick", "fields": ["msg", "title"], "type": "most_fields"}}, "size": 20})).await;
    for h in v["hits"]["hits"].as_array().unwrap() {
        let i: usize = h["_id"].as_str().unwrap().parse().unwrap();
        let want = bm25(&docs, i, "quick", 1.0) + bm25(&titles, i, "quick", 1.0);
        assert!(
            (h["_score"].as_f64().unwrap() as f32 - want).abs() < 1e-5,
            "doc {i}"
        );
    }
    // phrase type and wildcard field names.
    let v = search(json!({"query": {"multi_match": {"query": "quick brown", "type": "phrase", "fields": ["m*"]}}, "size": 20})).await;
    assert_eq!(sorted(ids(&v)), ["0", "7"]);
    let r = json_req(
        "POST",
        "/ft-docs/_search",
        &json!({"query": {"multi_match": {"query": "x", "type": "phrase", "fuzziness": 1}}}),
    )
    .await;
    assert_es_error(&r, 400, "parsing_exception");
}

#[tokio::test]
async fn match_errors() {
    // MatchQueryBuilder: unknown parameters and multiple fields are parsing errors.
    let r = json_req(
        "POST",
        "/ft-docs/_search",
        &json!({"query": {"match": {"msg": {"query": "x", "bogus": 1}}}}),
    )
    .await;
    let e = assert_es_error(&r, 400, "parsing_exception");
    assert_eq!(e["reason"], "[match] query does not support [bogus]");
    let r = json_req(
        "POST",
        "/ft-docs/_search",
        &json!({"query": {"match": {"msg": "x", "title": "y"}}}),
    )
    .await;
    assert_es_error(&r, 400, "parsing_exception");
    let r = json_req(
        "POST",
        "/ft-docs/_search",
        &json!({"query": {"match": {"msg": {"query": "x", "analyzer": "whitespace"}}}}),
    )
    .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn highlight_like_the_unified_highlighter() {
    // highlighting.html: matched terms wrapped in <em></em>, only fields the query targets
    // (require_field_match true), per hit in "highlight".
    let v = search(json!({"query": {"match": {"msg": "quick"}}, "highlight": {"fields": {"msg": {}}}, "sort": ["_doc"], "size": 1})).await;
    assert_eq!(
        v["hits"]["hits"][0]["highlight"],
        json!({"msg": ["The <em>quick</em> brown fox"]})
    );
    // A phrase highlights its occurrences only.
    let v = search(json!({"query": {"match_phrase": {"msg": "quick brown"}}, "highlight": {"fields": {"msg": {}}}, "sort": ["_doc"], "size": 1})).await;
    assert_eq!(
        v["hits"]["hits"][0]["highlight"]["msg"],
        json!(["The <em>quick</em> <em>brown</em> fox"])
    );
    // Kibana's request: its own tags, every field, whole values (fragment_size 2147483647),
    // keyword fields highlighted whole.
    let kibana = json!({
        "query": {"bool": {"filter": [{"match": {"tag": "t0"}}], "must": [{"match": {"msg": "cat"}}]}},
        "highlight": {"pre_tags": ["@kibana-highlighted-field@"], "post_tags": ["@/kibana-highlighted-field@"],
                      "fields": {"*": {}}, "fragment_size": 2147483647, "require_field_match": false},
        "sort": ["_doc"], "size": 20
    });
    let v = search(kibana).await;
    let h = &v["hits"]["hits"][0];
    assert_eq!(h["_id"], "6");
    assert_eq!(
        h["highlight"]["msg"],
        json!(["@kibana-highlighted-field@Cat@/kibana-highlighted-field@"])
    );
    assert_eq!(
        h["highlight"]["tag"],
        json!(["@kibana-highlighted-field@t0@/kibana-highlighted-field@"])
    );
    // Long values are cut into sentence fragments of at most fragment_size characters.
    let long = "First sentence has nothing. The quick fox runs here. Filler words go on and on. Another quick one.";
    bulk(
        "/ft-hl/_bulk?refresh=true",
        &format!(
            "{{\"index\":{{\"_id\":\"1\"}}}}\n{}\n",
            json!({"msg": long})
        ),
    )
    .await;
    let v = json_req("POST", "/ft-hl/_search", &json!({"query": {"match": {"msg": "quick"}}, "highlight": {"fields": {"msg": {"fragment_size": 30, "number_of_fragments": 2}}}})).await.json();
    assert_eq!(
        v["hits"]["hits"][0]["highlight"]["msg"],
        json!([
            "The <em>quick</em> fox runs here.",
            "Another <em>quick</em> one."
        ])
    );
    let v = json_req("POST", "/ft-hl/_search", &json!({"query": {"match": {"msg": "quick"}}, "highlight": {"fields": {"msg": {"number_of_fragments": 0}}}})).await.json();
    assert_eq!(
        v["hits"]["hits"][0]["highlight"]["msg"],
        json!([long.replace("quick", "<em>quick</em>")])
    );
    let r = json_req("POST", "/ft-hl/_search", &json!({"query": {"match": {"msg": "quick"}}, "highlight": {"fields": {"msg": {"type": "fvh"}}}})).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn highlight_terms_of_search_bar_queries() {
    // Kibana's Discover sends the search bar as query_string and highlights with its own tags:
    // terms, phrases and wildcards of the query string are highlighted in the fields they hit.
    let body = json!({
        "query": {"bool": {"must": [{"query_string": {"query": "quick AND fo* AND tag:t0", "analyze_wildcard": true}}]}},
        "highlight": {"pre_tags": ["@kibana-highlighted-field@"], "post_tags": ["@/kibana-highlighted-field@"],
                      "fields": {"*": {}}, "fragment_size": 2147483647},
        "sort": ["_doc"], "size": 1
    });
    let v = search(body).await;
    let h = &v["hits"]["hits"][0];
    assert_eq!(h["_id"], "0", "{v}");
    assert_eq!(
        h["highlight"]["msg"],
        json!([
            "The @kibana-highlighted-field@quick@/kibana-highlighted-field@ brown @kibana-highlighted-field@fox@/kibana-highlighted-field@"
        ])
    );
    assert_eq!(
        h["highlight"]["tag"],
        json!(["@kibana-highlighted-field@t0@/kibana-highlighted-field@"])
    );
    let v = search(
        json!({"query": {"query_string": {"query": "\"quick brown\"", "default_field": "msg"}},
        "highlight": {"fields": {"msg": {}}}, "sort": ["_doc"], "size": 1}),
    )
    .await;
    assert_eq!(
        v["hits"]["hits"][0]["highlight"]["msg"],
        json!(["The <em>quick</em> <em>brown</em> fox"])
    );
}
