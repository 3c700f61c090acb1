//! Hostile inputs (issue 11): requests that once crashed, exhausted or slipped past the daemon.
//! Each test sends what a broken or malicious client would, asserts Elasticsearch's status and
//! error type for it, and then that the daemon still answers (`GET /` → 200). Each names the
//! Elasticsearch behaviour it reproduces and where that behaviour is defined (elastic/elasticsearch
//! source paths are of the 8.x branch).

use crate::common::*;
use serde_json::{Value, json};
use std::io::Write;
use tokio::sync::OnceCell;

// Its own daemon: these requests push the daemon to its limits (100 MB bodies, gzip bombs,
// cut connections to the engine), which must not reach the other modules' tests.
crate::common::own_daemon!();

const INDEX: &str = "hostile";
static LOADED: OnceCell<()> = OnceCell::const_new();

async fn index() -> &'static str {
    LOADED
        .get_or_init(|| async {
            let mapping = json!({"mappings": {"properties": {
                "msg": {"type": "text"},
                "tag": {"type": "keyword"},
                "d": {"type": "date"},
                "n": {"type": "long"}
            }}});
            let docs = [
                json!({"msg": "hello world", "tag": "a", "d": "2024-05-01T00:00:00Z", "n": 1}),
                json!({"msg": "goodbye world", "tag": "b", "d": "2024-05-02T00:00:00Z", "n": 2}),
            ];
            load_docs(INDEX, Some(&mapping), &docs).await;
        })
        .await;
    INDEX
}

/// The daemon survived: it still answers the root endpoint and a search.
async fn alive() {
    index().await;
    let r = get("/").await;
    assert_eq!(r.status, 200, "the daemon no longer answers: {}", r.text);
    let r = json_req(
        "POST",
        &format!("/{INDEX}/_search"),
        &json!({"query": {"match_all": {}}}),
    )
    .await;
    assert_eq!(
        r.status, 200,
        "search after the hostile request: {}",
        r.text
    );
}

async fn search(body: &Value) -> Resp {
    let i = index().await;
    json_req("POST", &format!("/{i}/_search"), body).await
}

fn nested(open: &str, inner: &str, close: &str, n: usize) -> String {
    format!("{}{inner}{}", open.repeat(n), close.repeat(n))
}

/// The `reason` of the deepest cause.
fn root_reason(r: &Resp) -> String {
    r.json()["error"]["root_cause"][0]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// Recursion: every parser of user input has a depth bound.

#[tokio::test]
async fn query_string_of_20000_nested_parentheses_is_a_parse_failure() {
    // Lucene's classic QueryParser (queryparser/classic/QueryParser.jj) recurses per group;
    // Elasticsearch reports a query string it cannot parse as a shard failure: 400
    // search_phase_execution_exception around query_shard_exception "Failed to parse query"
    // (QueryStringQueryBuilder#doToQuery). Elasticsearch has no depth bound of its own here (its
    // search thread overflows); elastichouse stops at 32 groups.
    let r =
        search(&json!({"query": {"query_string": {"query": nested("(", "a", ")", 20_000)}}})).await;
    let e = assert_es_error(&r, 400, "search_phase_execution_exception");
    assert_eq!(
        e["failed_shards"][0]["reason"]["type"],
        "query_shard_exception"
    );
    assert!(root_reason(&r).contains("nested deeper"), "{}", r.text);
    alive().await;
    // Just inside the bound, with a group of two clauses at every level (nested SQL all the way).
    let q = nested("(hello OR ", "world", ")", 32);
    let r = search(&json!({"query": {"query_string": {"query": q, "default_field": "msg"}}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["hits"]["total"]["value"], 2);
    alive().await;
}

#[tokio::test]
async fn simple_query_string_of_20000_nested_parentheses_is_refused() {
    // Lucene's SimpleQueryParser (queryparser/simple/SimpleQueryParser.java) recurses per group
    // too; simple_query_string never fails on syntax, so the bound is elastichouse's: 400 with the
    // shard failure shape of a query Elasticsearch cannot build.
    let r = search(
        &json!({"query": {"simple_query_string": {"query": nested("(", "a", ")", 20_000)}}}),
    )
    .await;
    assert_es_error(&r, 400, "search_phase_execution_exception");
    alive().await;
    let q = nested("(hello | ", "world", ")", 32);
    let r =
        search(&json!({"query": {"simple_query_string": {"query": q, "fields": ["msg"]}}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["hits"]["total"]["value"], 2);
}

#[tokio::test]
async fn regexp_of_nested_groups_is_bounded() {
    // RegexpQueryBuilder#doToQuery: a pattern longer than index.max_regex_length (1000) is an
    // IllegalArgumentException on the shard: 400 search_phase_execution_exception, root cause
    // illegal_argument_exception with this message (RegexpQueryBuilder.java).
    let r = search(&json!({"query": {"regexp": {"tag": nested("(", "a", ")", 20_000)}}})).await;
    assert_es_error(&r, 400, "search_phase_execution_exception");
    assert_eq!(
        root_reason(&r),
        "The length of regex [40001] used in the Regexp Query request has exceeded the allowed maximum of [1000]. This maximum can be set by changing the [index.max_regex_length] index level setting."
    );
    alive().await;
    // Within the length limit but nested past elastichouse's depth bound of 100 (Lucene's
    // RegExp parser would recurse; elastichouse answers a parse failure).
    let r = search(&json!({"query": {"regexp": {"tag": nested("(", "a", ")", 400)}}})).await;
    assert_es_error(&r, 400, "search_phase_execution_exception");
    // The same pattern in a query string (`/…/`), where no length limit applies.
    // (Not lenient: with the default `*` fields query_string is lenient and a failing field
    // matches nothing, as in Elasticsearch.)
    let q = format!("tag:/{}/", nested("(", "a", ")", 20_000));
    let r = search(&json!({"query": {"query_string": {"query": q, "lenient": false}}})).await;
    assert_es_error(&r, 400, "search_phase_execution_exception");
    alive().await;
    let r = search(&json!({"query": {"regexp": {"tag": nested("(", "a", ")", 90)}}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["hits"]["total"]["value"], 1);
}

#[tokio::test]
async fn painless_script_of_nested_parentheses_is_a_compile_error() {
    // Painless reports a script it cannot compile as a 400 script_exception "compile error" with
    // the script and its language (PainlessScriptEngine#convertToScriptException); elastichouse's
    // Painless parser stops at a nesting of 64.
    let src = format!("emit({})", nested("(", "1", ")", 20_000));
    let r = search(
        &json!({"runtime_mappings": {"x": {"type": "long", "script": {"source": src}}},
        "fields": ["x"]}),
    )
    .await;
    let e = assert_es_error(&r, 400, "script_exception");
    assert_eq!(e["reason"], "compile error");
    assert_eq!(e["lang"], "painless");
    alive().await;
    for src in [
        format!("emit({}true)", "!".repeat(50_000)),
        format!("emit(1{})", " + 1".repeat(50_000)),
        format!("{}emit(1);", "if (true) ".repeat(50_000)),
    ] {
        let r = search(
            &json!({"runtime_mappings": {"x": {"type": "long", "script": {"source": src}}}}),
        )
        .await;
        assert_es_error(&r, 400, "script_exception");
    }
    alive().await;
    // Ordinary nesting still works.
    let src = format!("emit({})", nested("(", "doc['n'].value + 1", ")", 20));
    let r = search(
        &json!({"runtime_mappings": {"x": {"type": "long", "script": {"source": src}}},
        "fields": ["x"], "sort": ["n"]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["hits"]["hits"][0]["fields"]["x"], json!([2]));
}

#[tokio::test]
async fn runtime_field_calling_get_without_a_name_is_a_400_not_a_panic() {
    // `ZonedDateTime#get` needs a TemporalField: Painless fails to compile the call (a 400).
    // elastichouse's translator once sliced the empty property name and panicked.
    let r = search(&json!({"runtime_mappings": {"x": {"type": "long",
        "script": {"source": "emit(doc['d'].value.get())"}}}, "fields": ["x"]}))
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    alive().await;
}

#[tokio::test]
async fn bool_query_nested_past_max_nested_depth() {
    // AbstractQueryBuilder#parseTopLevelQuery counts query objects as they nest; past
    // indices.query.bool.max_nested_depth (SearchModule#INDICES_MAX_NESTED_DEPTH_SETTING, default
    // 30) the IllegalArgumentException reaches the client inside the object parser's
    // x_content_parse_exception (AbstractQueryBuilderTests#testMaxNestedDepth: 30 levels parse,
    // 31 fail).
    let wrap = |levels: usize| {
        let mut q = json!({"match_all": {}});
        for _ in 1..levels {
            q = json!({"bool": {"must": [q]}});
        }
        json!({ "query": q })
    };
    let r = search(&wrap(30)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = search(&wrap(31)).await;
    let e = assert_es_error(&r, 400, "x_content_parse_exception");
    assert_eq!(
        root_reason(&r),
        "The nested depth of the query exceeds the maximum nested depth for queries set in [indices.query.bool.max_nested_depth]"
    );
    assert_eq!(e["caused_by"]["type"], "illegal_argument_exception");
    // Every way of nesting counts: constant_score, dis_max, nested, boosting.
    let mut q = json!({"match_all": {}});
    for i in 0..40 {
        q = match i % 3 {
            0 => json!({"constant_score": {"filter": q}}),
            1 => json!({"dis_max": {"queries": [q]}}),
            _ => json!({"bool": {"filter": q}}),
        };
    }
    let r = search(&json!({ "query": q })).await;
    assert_es_error(&r, 400, "x_content_parse_exception");
    alive().await;
    // The bounds add up: 29 levels of bool around a query string 32 groups deep, a regexp 99
    // groups deep and a scored bool of many clauses, highlighted, in one request, still fits.
    let qs = nested("(hello OR ", "world", ")", 32);
    let re = nested("(", "a", ")", 99);
    let mut q = json!({"bool": {
        "should": [
            {"query_string": {"query": qs, "default_field": "msg"}},
            {"regexp": {"tag": re}},
            {"bool": {"should": (0..200).map(|i| json!({"match": {"msg": format!("w{i}")}})).collect::<Vec<_>>()}}
        ]
    }});
    for _ in 0..27 {
        q = json!({"bool": {"must": [q]}});
    }
    let r = search(
        &json!({ "query": q, "aggs": {"t": {"terms": {"field": "tag"}}},
        "highlight": {"fields": {"msg": {}, "tag": {}}} }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", &r.text[..r.text.len().min(500)]);
    assert_eq!(r.json()["hits"]["total"]["value"], 2);
    alive().await;
}

#[tokio::test]
async fn json_nested_10000_deep_is_a_parse_error() {
    // Jackson bounds the nesting of the JSON it reads (StreamReadConstraints, maxNestingDepth) and
    // Elasticsearch answers x_content_parse_exception (400); elastichouse's JSON reader stops at 128.
    let body = format!("{{\"query\": {}}}", nested("[", "1", "]", 10_000));
    let i = index().await;
    let r = req(
        "POST",
        &format!("/{i}/_search"),
        Some(("application/json", &body)),
    )
    .await;
    assert_es_error(&r, 400, "x_content_parse_exception");
    // A document as deep: the document parser's own bound (document_parsing_exception).
    let doc = format!("{{\"a\": {}}}", nested("{\"b\": ", "1", "}", 10_000));
    let r = req(
        "PUT",
        "/hostile-deepdoc/_doc/1",
        Some(("application/json", &doc)),
    )
    .await;
    assert_es_error(&r, 400, "document_parsing_exception");
    // Just inside it: arrays of arrays (no object depth for the mapping to refuse).
    let doc = format!("{{\"a\": {}}}", nested("[", "1", "]", 98));
    let r = req(
        "PUT",
        "/hostile-deepdoc/_doc/2",
        Some(("application/json", &doc)),
    )
    .await;
    assert_eq!(r.status, 201, "{}", &r.text[..r.text.len().min(500)]);
    let doc = format!("{{\"a\": {}}}", nested("[", "1", "]", 200));
    let r = req(
        "PUT",
        "/hostile-deepdoc/_doc/3",
        Some(("application/json", &doc)),
    )
    .await;
    assert_es_error(&r, 400, "document_parsing_exception");
    // Aggregations: 16 levels run, deeper is elastichouse's 400 (Elasticsearch has no bound).
    let aggs = |levels: usize| {
        let mut aggs = json!({"t": {"terms": {"field": "tag"}}});
        for _ in 1..levels {
            aggs = json!({"t": {"terms": {"field": "tag"}, "aggs": aggs}});
        }
        json!({"size": 0, "aggs": aggs})
    };
    let r = search(&aggs(16)).await;
    assert_eq!(r.status, 200, "{}", &r.text[..r.text.len().min(500)]);
    let r = search(&aggs(17)).await;
    assert_es_error(&r, 400, "illegal_argument_exception");
    let r = search(&aggs(40)).await;
    assert_es_error(&r, 400, "illegal_argument_exception");
    alive().await;
}

#[tokio::test]
async fn long_date_math_and_wildcards_stay_cheap() {
    // Date math (DateMathParser) is a sequence of operations, and wildcard patterns
    // (WildcardQuery#toAutomaton) are matched without backtracking blow-up.
    let math = format!("now{}", "-1d+1d".repeat(20_000));
    let r = search(&json!({"query": {"range": {"d": {"gte": math}}}})).await;
    assert!(r.status == 200 || r.status == 400, "{}", r.text);
    let pattern = format!("{}b", "*a".repeat(5_000));
    let r = search(&json!({"query": {"wildcard": {"tag": pattern}}})).await;
    assert!(r.status == 200 || r.status == 400, "{}", r.text);
    alive().await;
}

// ---------------------------------------------------------------------------------------------
// Limits, with Elasticsearch's error types and messages.

#[tokio::test]
async fn from_plus_size_cannot_overflow_past_max_result_window() {
    // DefaultSearchContext#preProcess: from + size > index.max_result_window (10000) is an
    // IllegalArgumentException on the shard (search_phase_execution_exception, 400). A size of
    // 2^64-1 once wrapped the sum around (and panicked in debug builds).
    let r = search(&json!({"from": 1, "size": 18446744073709551615u64})).await;
    assert_es_error(&r, 400, "search_phase_execution_exception");
    assert!(
        root_reason(&r).starts_with(
            "Result window is too large, from + size must be less than or equal to: [10000]"
        ),
        "{}",
        r.text
    );
    let i = index().await;
    // In the URL the values are ints (RestRequest#paramAsInt): not even parsed.
    let r = get(&format!(
        "/{i}/_search?from=18446744073709551615&size=18446744073709551615"
    ))
    .await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert_eq!(
        e["reason"],
        "Failed to parse int parameter [from] with value [18446744073709551615]"
    );
    let r = search(&json!({"from": 9990, "size": 10})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The window is the index's (IndexSettings#MAX_RESULT_WINDOW_SETTING), checked per index as
    // Elasticsearch checks it per shard.
    let r = json_req(
        "PUT",
        "/hostile-window",
        &json!({"settings": {"index.max_result_window": 50000}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = json_req(
        "POST",
        "/hostile-window/_search",
        &json!({"from": 20000, "size": 10}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = json_req(
        "POST",
        "/hostile-window/_search",
        &json!({"from": 50000, "size": 1}),
    )
    .await;
    assert_es_error(&r, 400, "search_phase_execution_exception");
    assert!(
        root_reason(&r).contains("less than or equal to: [50000] but was [50001]"),
        "{}",
        r.text
    );
    let r = json_req(
        "POST",
        "/hostile-window/_search",
        &json!({"from": 1, "size": 18446744073709551615u64}),
    )
    .await;
    assert_es_error(&r, 400, "search_phase_execution_exception");
    alive().await;
}

#[tokio::test]
async fn scroll_batch_size_is_bounded_by_max_result_window() {
    // DefaultSearchContext#preProcess with a scroll: "Batch size is too large" (400).
    let i = index().await;
    let r = json_req(
        "POST",
        &format!("/{i}/_search?scroll=1m"),
        &json!({"size": 1_000_000_000}),
    )
    .await;
    assert_es_error(&r, 400, "search_phase_execution_exception");
    assert_eq!(
        root_reason(&r),
        "Batch size is too large, size must be less than or equal to: [10000] but was [1000000000]. Scroll batch sizes cost as much memory as result windows so they are controlled by the [index.max_result_window] index level setting."
    );
    alive().await;
}

#[tokio::test]
async fn terms_query_past_max_terms_count() {
    // TermsQueryBuilder#doToQuery: more values than index.max_terms_count (65,536) is an
    // IllegalArgumentException on the shard (400), with this message.
    let many: Vec<String> = (0..100_000).map(|i| format!("v{i}")).collect();
    let r = search(&json!({"query": {"terms": {"tag": many}}})).await;
    assert_es_error(&r, 400, "search_phase_execution_exception");
    assert_eq!(
        root_reason(&r),
        "The number of terms [100000] used in the Terms Query request has exceeded the allowed maximum of [65536]. This maximum can be set by changing the [index.max_terms_count] index level setting."
    );
    alive().await;
    // At the limit it runs.
    let mut max: Vec<String> = (0..65_535).map(|i| format!("v{i}")).collect();
    max.push("a".into());
    let r = search(&json!({"query": {"terms": {"tag": max}}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["hits"]["total"]["value"], 1);
    // The setting is the index's (IndexSettings#MAX_TERMS_COUNT_SETTING is an index setting).
    let r = json_req(
        "PUT",
        "/hostile-terms",
        &json!({"settings": {"index.max_terms_count": 2}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = json_req(
        "POST",
        "/hostile-terms/_search",
        &json!({"query": {"terms": {"tag": ["a", "b", "c"]}}}),
    )
    .await;
    assert_es_error(&r, 400, "search_phase_execution_exception");
    assert!(
        root_reason(&r).contains("allowed maximum of [2]"),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn bool_query_past_max_clause_count() {
    // indices.query.bool.max_clause_count (SearchModule; Elasticsearch 8 sizes it from the heap,
    // the daemon uses 4096): Lucene's IndexSearcher throws TooManyNestedClauses while visiting the
    // query, which Elasticsearch ≥ 8.15 answers 400 "Query rewrite failed: too many clauses"
    // (elastic/elasticsearch#112678, SearchService / QueryPhase).
    let clauses = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| json!({"term": {"tag": format!("v{i}")}}))
            .collect()
    };
    let r = search(&json!({"query": {"bool": {"should": clauses(5_000)}}})).await;
    let e = assert_es_error(&r, 400, "search_phase_execution_exception");
    assert_eq!(
        e["caused_by"]["reason"],
        "Query rewrite failed: too many clauses"
    );
    assert_eq!(
        e["caused_by"]["caused_by"]["type"],
        "too_many_nested_clauses"
    );
    assert_eq!(
        root_reason(&r),
        "Query contains too many nested clauses; maxClauseCount is set to 4096"
    );
    // Query strings count their terms, times the fields each one searches (found by the
    // fuzzer: 20,000 empty phrases once took the translation tens of seconds).
    let r = search(&json!({"query": {"query_string": {"query": "\"\"".repeat(20_000)}}})).await;
    let e = assert_es_error(&r, 400, "search_phase_execution_exception");
    assert_eq!(
        e["caused_by"]["caused_by"]["type"], "too_many_nested_clauses",
        "{}",
        r.text
    );
    let words: Vec<String> = (0..5_000).map(|i| format!("w{i}")).collect();
    let r = search(
        &json!({"query": {"query_string": {"query": words.join(" "), "default_field": "msg"}}}),
    )
    .await;
    assert_es_error(&r, 400, "search_phase_execution_exception");
    let r = search(
        &json!({"query": {"simple_query_string": {"query": words.join(" | "), "fields": ["msg"]}}}),
    )
    .await;
    assert_es_error(&r, 400, "search_phase_execution_exception");
    let r = search(&json!({"query": {"query_string": {"query": words[..100].join(" "), "default_field": "msg"}}})).await;
    assert_eq!(r.status, 200, "{}", &r.text[..r.text.len().min(500)]);
    // Nested bools count all their leaves.
    let r = search(&json!({"query": {"bool": {"filter": [
        {"bool": {"should": clauses(3_000)}},
        {"bool": {"should": clauses(3_000)}}
    ]}}}))
    .await;
    assert_es_error(&r, 400, "search_phase_execution_exception");
    // At the limit it runs (in filter context: 4096 scored clauses cost ClickHouse about a
    // minute in a debug build, a cost of its own for the search timeout to bound).
    let mut at_limit = clauses(4_095);
    at_limit.push(json!({"term": {"tag": "a"}}));
    let r = search(&json!({"query": {"bool": {"filter": {"bool": {"should": at_limit}}}}})).await;
    assert_eq!(r.status, 200, "{}", &r.text[..r.text.len().min(500)]);
    assert_eq!(r.json()["hits"]["total"]["value"], 1);
    alive().await;
}

#[tokio::test]
async fn document_with_5000_fields_past_total_fields_limit() {
    // DocumentParser / MappingLookup#checkFieldLimit: a document whose dynamic fields take the
    // mapping past index.mapping.total_fields.limit (1000) fails with document_parsing_exception
    // "failed to parse: Limit of total fields [1000] has been exceeded while adding new fields
    // [N]" (400), and nothing of it is mapped.
    let mut doc = serde_json::Map::new();
    for i in 0..5_000 {
        doc.insert(format!("f{i}"), json!(i));
    }
    let r = json_req("PUT", "/hostile-fields/_doc/1", &Value::Object(doc.clone())).await;
    let e = assert_es_error(&r, 400, "document_parsing_exception");
    assert!(
        e["reason"].as_str().unwrap().contains(
            "Limit of total fields [1000] has been exceeded while adding new fields [5000]"
        ),
        "{}",
        r.text
    );
    assert_eq!(e["caused_by"]["type"], "illegal_argument_exception");
    // In a _bulk, that item fails and the others are written.
    let body = format!(
        "{{\"index\":{{\"_index\":\"hostile-fields\",\"_id\":\"2\"}}}}\n{}\n{{\"index\":{{\"_index\":\"hostile-fields\",\"_id\":\"3\"}}}}\n{{\"ok\":1}}\n",
        Value::Object(doc.clone())
    );
    let r = bulk("/_bulk?refresh=true", &body).await;
    let v = r.json();
    assert_eq!(v["errors"], true);
    assert_eq!(v["items"][0]["index"]["status"], 400);
    assert_eq!(
        v["items"][0]["index"]["error"]["type"],
        "document_parsing_exception"
    );
    assert_eq!(v["items"][1]["index"]["status"], 201);
    // The limit is an index setting: raised at creation, the same document is accepted.
    let r = json_req(
        "PUT",
        "/hostile-fields-wide",
        &json!({"settings": {"index.mapping.total_fields.limit": 6000}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = json_req("PUT", "/hostile-fields-wide/_doc/1", &Value::Object(doc)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    alive().await;
}

#[tokio::test]
async fn mapping_limits_on_create_and_put_mapping() {
    // MapperService#checkLimits on a mapping put explicitly: illegal_argument_exception (400)
    // for index.mapping.total_fields.limit, index.mapping.depth.limit (20; depth = dots + 2 of
    // the object's path, MappingLookup#checkDepthLimit) and index.mapping.nested_fields.limit (50).
    let mut props = serde_json::Map::new();
    for i in 0..1_001 {
        props.insert(format!("f{i}"), json!({"type": "keyword"}));
    }
    let r = json_req(
        "PUT",
        "/hostile-map-total",
        &json!({"mappings": {"properties": props}}),
    )
    .await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert_eq!(
        e["reason"],
        "Limit of total fields [1000] has been exceeded"
    );
    let mut deep = json!({"type": "keyword"});
    for _ in 0..20 {
        deep = json!({"properties": {"o": deep}});
    }
    let r = json_req(
        "PUT",
        "/hostile-map-depth",
        &json!({"mappings": {"properties": {"o": deep}}}),
    )
    .await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert!(
        e["reason"].as_str().unwrap().starts_with(
            "Limit of mapping depth [20] has been exceeded due to object field [o.o.o"
        ),
        "{}",
        r.text
    );
    let mut nested = serde_json::Map::new();
    for i in 0..51 {
        nested.insert(format!("n{i}"), json!({"type": "nested"}));
    }
    let r = json_req(
        "PUT",
        "/hostile-map-nested",
        &json!({"mappings": {"properties": nested}}),
    )
    .await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert_eq!(e["reason"], "Limit of nested fields [50] has been exceeded");
    // PUT _mapping checks the merged mapping.
    let r = json_req(
        "PUT",
        "/hostile-map-put",
        &json!({"settings": {"index.mapping.total_fields.limit": 3}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = json_req(
        "PUT",
        "/hostile-map-put/_mapping",
        &json!({"properties": {"a": {"type": "long"}, "b": {"type": "long"}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = json_req(
        "PUT",
        "/hostile-map-put/_mapping",
        &json!({"properties": {"c": {"type": "long"}, "d": {"type": "long"}}}),
    )
    .await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert_eq!(e["reason"], "Limit of total fields [3] has been exceeded");
    // A document nesting objects past the depth limit (dynamic mapping).
    let mut doc = json!(1);
    for _ in 0..25 {
        doc = json!({ "o": doc });
    }
    let r = json_req("PUT", "/hostile-map-deepdoc/_doc/1", &doc).await;
    let e = assert_es_error(&r, 400, "document_parsing_exception");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .contains("Limit of mapping depth [20]"),
        "{}",
        r.text
    );
    alive().await;
}

/// `mib` MiB of zeros as one gzip member: about 1 KiB on the wire per MiB.
fn gzip_bomb(mib: usize) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..mib {
        gz.write_all(&zeros).unwrap();
    }
    gz.finish().unwrap()
}

#[tokio::test]
async fn gzip_bomb_to_bulk_is_413_after_decompression() {
    // http.max_content_length (HttpTransportSettings, 100mb) bounds the request content after
    // decompression (Netty decompresses before its HttpObjectAggregator); past it Netty answers
    // 413 Request Entity Too Large. 2 GiB of zeros, 2 MiB on the wire.
    let d = daemon();
    let bomb = gzip_bomb(2048);
    let r = client()
        .post(format!("http://{}/_bulk", d.es))
        .header("content-type", "application/x-ndjson")
        .header("content-encoding", "gzip")
        .body(bomb)
        .send()
        .await;
    // The daemon may close the connection while the client still sends: either way no 2xx.
    if let Ok(r) = r {
        let status = r.status().as_u16();
        assert_eq!(status, 413, "{:?}", r.text().await);
    }
    // A declared length over the limit is refused before anything is read.
    let r = client()
        .post(format!("http://{}/_bulk", d.es))
        .header("content-type", "application/x-ndjson")
        .body(vec![b'x'; 100 * 1024 * 1024 + 1])
        .send()
        .await;
    if let Ok(r) = r {
        assert_eq!(r.status().as_u16(), 413);
    }
    alive().await;
    // A compressed body under the limit still works.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"{\"index\":{\"_index\":\"hostile-gz\",\"_id\":\"1\"}}\n{\"a\":1}\n")
        .unwrap();
    let r = client()
        .post(format!("http://{}/_bulk?refresh=true", d.es))
        .header("content-type", "application/x-ndjson")
        .header("content-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test]
async fn http_max_content_length_is_configurable() {
    // http.max_content_length is a node setting in Elasticsearch; here the configuration's
    // `http_max_content_length`, reported by _nodes as max_content_length_in_bytes.
    let own = start_daemon(|c| c.http_max_content_length = 1024);
    let url = |p: &str| format!("http://{}{}", own.es, p);
    let doc = json!({"a": "x".repeat(2_000)});
    let r = client()
        .put(url("/hostile-small/_doc/1"))
        .json(&doc)
        .send()
        .await;
    if let Ok(r) = r {
        assert_eq!(r.status().as_u16(), 413);
    }
    let r = client()
        .put(url("/hostile-small/_doc/2"))
        .json(&json!({"a": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let v: Value = client()
        .get(url("/_nodes/http"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let node = v["nodes"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone();
    assert_eq!(node["http"]["max_content_length_in_bytes"], 1024, "{v}");
}

#[tokio::test]
async fn body_without_content_type_is_406() {
    // RestController#dispatchRequest: a request with content needs a Content-Type; without one
    // {"error":"Content-Type header is missing","status":406}, and the browser-safelisted types
    // (text/plain, form data) are refused with "Content-Type header [x] is not supported"
    // (RestController#sendContentTypeErrorMessage, isContentTypeDisallowed).
    let d = daemon();
    let r = client()
        .put(format!("http://{}/hostile-ct/_doc/1", d.es))
        .body("{\"a\":1}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 406);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v,
        json!({"error": "Content-Type header is missing", "status": 406})
    );
    let r = req(
        "PUT",
        "/hostile-ct/_doc/1",
        Some(("text/plain", "{\"a\":1}")),
    )
    .await;
    assert_eq!(r.status, 406);
    assert_eq!(
        r.json()["error"],
        "Content-Type header [text/plain] is not supported"
    );
    let r = req(
        "PUT",
        "/hostile-ct/_doc/1",
        Some(("application/x-www-form-urlencoded", "{\"a\":1}")),
    )
    .await;
    assert_eq!(r.status, 406);
    // Nothing was written.
    let r = get("/hostile-ct/_doc/1").await;
    assert_eq!(r.status, 404, "{}", r.text);
    // A body-less request needs none.
    let r = client()
        .get(format!("http://{}/_cluster/health", d.es))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    alive().await;
}

// ---------------------------------------------------------------------------------------------
// Storage faults.

/// A TCP relay to the shared daemon's ClickHouse that can be cut and restored: a real engine
/// that becomes unreachable, as when ClickHouse goes down.
struct Relay {
    addr: std::net::SocketAddr,
    up: tokio::sync::watch::Sender<bool>,
}

async fn relay(target: String) -> Relay {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (up, rx) = tokio::sync::watch::channel(true);
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                return;
            };
            let mut rx = rx.clone();
            if !*rx.borrow() {
                drop(inbound);
                continue;
            }
            let target = target.clone();
            tokio::spawn(async move {
                let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                    return;
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    _ = rx.wait_for(|up| !*up) => {}
                }
            });
        }
    });
    Relay { addr, up }
}

#[tokio::test]
async fn clickhouse_down_is_503_and_red_health_then_recovers() {
    // Elasticsearch answers 503 when no copy of the data can serve a request
    // (NoShardAvailableActionException → RestStatus.SERVICE_UNAVAILABLE), which Beats, Logstash
    // and the clients retry; _cluster/health reports red (ClusterHealthStatus.RED) while data is
    // unavailable. A second daemon reaches the engine through a relay that the test cuts.
    index().await;
    let d = daemon();
    let engine = reqwest::Url::parse(&d.clickhouse).unwrap();
    let target = format!("{}:{}", engine.host_str().unwrap(), engine.port().unwrap());
    let relay = relay(target).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = elastichouse::config::Config::ephemeral(dir.path().to_path_buf(), None);
    let mut through_relay = engine.clone();
    through_relay.set_port(Some(relay.addr.port())).unwrap();
    cfg.clickhouse_url = Some(through_relay.to_string());
    cfg.clickhouse_database = d.database.clone();
    let second = elastichouse::server::start(cfg)
        .await
        .expect("second daemon");
    let url = |p: &str| format!("http://{}{}", second.es_addr, p);
    let search = || async {
        client()
            .post(url(&format!("/{INDEX}/_search")))
            .json(&json!({"query": {"match_all": {}}}))
            .send()
            .await
            .unwrap()
    };
    assert_eq!(search().await.status().as_u16(), 200);

    relay.up.send_replace(false);
    let r = search().await;
    assert_eq!(r.status().as_u16(), 503);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], 503, "{v}");
    assert_eq!(
        v["error"]["root_cause"][0]["type"], "no_shard_available_action_exception",
        "{v}"
    );
    // _bulk answers 200 with each failed item's own 503 (BulkItemResponse), which shippers retry
    let r = client()
        .post(url("/_bulk"))
        .header("content-type", "application/x-ndjson")
        .body(format!(
            "{{\"index\":{{\"_index\":\"{INDEX}\"}}}}\n{{\"n\":9}}\n"
        ))
        .send()
        .await
        .unwrap();
    // (or a 503 for the whole request when the failure comes before any item is tried).
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap();
    if status == 200 {
        assert_eq!(v["errors"], true, "{v}");
        assert_eq!(v["items"][0]["index"]["status"], 503, "{v}");
    } else {
        assert_eq!(status, 503, "{v}");
        assert_eq!(v["status"], 503, "{v}");
    }
    // A document write answers the 503 itself.
    let r = client()
        .put(url(&format!("/{INDEX}/_doc/down")))
        .json(&json!({"n": 9}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 503, "{:?}", r.text().await);
    let h: Value = client()
        .get(url("/_cluster/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["status"], "red", "{h}");
    // The daemon itself still answers.
    let r = client().get(url("/")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);

    relay.up.send_replace(true);
    assert_eq!(search().await.status().as_u16(), 200);
    let h: Value = client()
        .get(url("/_cluster/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["status"], "green", "{h}");
}

/// A search `timeout` is enforced, not ignored: the statements get it as ClickHouse's
/// `max_execution_time`, and a search past it answers 200 with `timed_out: true` (Elasticsearch's
/// search timeout: search-your-data.html#search-timeout, SearchResponse#isTimedOut); within it, the
/// full answer with `timed_out: false`. The daemon goes on serving.
#[tokio::test]
async fn search_timeout_stops_the_statements() {
    clickhouse_sql(
        "CREATE TABLE IF NOT EXISTS hostile_slow (n UInt64, s String) ENGINE = MergeTree ORDER BY n \
         AS SELECT number, toString(cityHash64(number)) FROM numbers(20000000)",
    )
    .await;
    let slow = json!({"timeout": "1ms", "track_total_hits": true,
        "query": {"wildcard": {"s": {"value": "*12345*"}}}});
    let r = json_req("POST", "/hostile_slow/_search", &slow).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["timed_out"], true, "{v}");
    assert_eq!(v["hits"]["hits"], json!([]));
    let ok = json!({"timeout": "60s", "query": {"term": {"n": 7}}});
    let r = json_req("POST", "/hostile_slow/_search", &ok).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["timed_out"], false, "{v}");
    assert_eq!(v["hits"]["total"]["value"], 1, "{v}");
    // The URL parameter is the same setting.
    let r = json_req(
        "POST",
        "/hostile_slow/_search?timeout=1ms",
        &json!({"track_total_hits": true, "query": {"wildcard": {"s": {"value": "*12345*"}}}}),
    )
    .await;
    assert_eq!(r.json()["timed_out"], true, "{}", r.text);
    alive().await;
}

async fn send_to(d: &Daemon, method: &str, path: &str, ct: &str, body: String) -> Resp {
    let r = client()
        .request(method.parse().unwrap(), format!("http://{}{}", d.es, path))
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .expect("request");
    Resp {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        text: r.text().await.unwrap(),
    }
}

/// Indexing pressure: write requests whose bytes in flight would pass
/// `indexing_pressure.memory.limit` are refused at once with 429 `es_rejected_execution_exception`
/// ("rejected execution of coordinating operation [...]", IndexingPressure.java), nothing of them
/// written; smaller ones go through. The refusal counts in `/metrics`.
#[tokio::test]
async fn indexing_pressure_answers_429() {
    let d = start_daemon(|c| c.indexing_pressure_memory_limit = 300);
    let big = (0..5)
        .map(|i| format!("{{\"index\":{{\"_index\":\"pressure\",\"_id\":\"big{i}\"}}}}\n{{\"msg\":\"{}\"}}\n", "x".repeat(40)))
        .collect::<String>();
    let r = send_to(
        &d,
        "POST",
        "/_bulk?refresh=true",
        "application/x-ndjson",
        big,
    )
    .await;
    let e = assert_es_error(&r, 429, "es_rejected_execution_exception");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .starts_with("rejected execution of coordinating operation ["),
        "{e}"
    );
    let small =
        "{\"index\":{\"_index\":\"pressure\",\"_id\":\"s\"}}\n{\"msg\":\"ok\"}\n".to_string();
    let r = send_to(
        &d,
        "POST",
        "/_bulk?refresh=true",
        "application/x-ndjson",
        small,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = send_to(
        &d,
        "POST",
        "/pressure/_count",
        "application/json",
        "{}".into(),
    )
    .await;
    assert_eq!(
        r.json()["count"],
        1,
        "only the accepted request was written: {}",
        r.text
    );
    let m = client()
        .get(format!("http://{}/metrics", d.ui))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains("elastichouse_rejected_requests_total{kind=\"write\"} 1"),
        "{m}"
    );
}

/// The search queue: past `search_queue_size` searches in flight, a search is refused at once with
/// 429 `es_rejected_execution_exception` (the search thread pool's EsRejectedExecutionException,
/// RestStatus.TOO_MANY_REQUESTS) instead of waiting without bound; once the running one is done,
/// searches are served again.
#[tokio::test]
async fn a_full_search_queue_answers_429() {
    let d = start_daemon(|c| c.search_queue_size = 1);
    let r = client()
        .post(format!("{}/?database={}", d.clickhouse, d.database))
        .body(
            "CREATE TABLE queue_slow (n UInt64, s String) ENGINE = MergeTree ORDER BY n \
             AS SELECT number, toString(cityHash64(number)) FROM numbers(30000000)",
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let slow_body = json!({"track_total_hits": true,
        "query": {"wildcard": {"s": {"value": "*12345*"}}}})
    .to_string();
    let es = d.es;
    let slow = tokio::spawn(async move {
        client()
            .post(format!("http://{es}/queue_slow/_search"))
            .header("content-type", "application/json")
            .body(slow_body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    let mut refused = None;
    for _ in 0..200 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let r = count_search(&d).await;
        if r.status == 429 {
            refused = Some(r);
            break;
        }
        if slow.is_finished() {
            break;
        }
    }
    let r = refused.expect("a search while the slow one ran was refused");
    assert_es_error(&r, 429, "es_rejected_execution_exception");
    assert_eq!(slow.await.unwrap(), 200);
    let r = count_search(&d).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

async fn count_search(d: &Daemon) -> Resp {
    let body = "{\"size\":0}".to_string();
    send_to(d, "POST", "/queue_slow/_search", "application/json", body).await
}

/// `search.max_buckets` (65,536): Elasticsearch counts the buckets of every multi-bucket
/// aggregation of the response, at every level, and answers 400 `too_many_buckets_exception`
/// with `max_buckets` past it (server/.../search/aggregations/MultiBucketConsumerService.java).
/// Exactly the limit is allowed. Each document holds 1,000 distinct values of a multi-valued
/// field, so a `histogram` of interval 1 has 1,000 buckets per document.
#[tokio::test]
async fn max_buckets_counts_the_buckets_of_the_response() {
    let idx = "hostile_buckets";
    let doc = |i: usize| json!({"v": (i * 1000..(i + 1) * 1000).collect::<Vec<_>>(), "k": "x"});
    let mut docs: Vec<Value> = (0..65).map(doc).collect();
    docs.push(json!({"v": (65_000..65_536).collect::<Vec<_>>()}));
    load_docs(idx, None, &docs).await;
    let hist = json!({"histogram": {"field": "v", "interval": 1}});
    let r = json_req(
        "POST",
        &format!("/{idx}/_search"),
        &json!({"size": 0, "aggs": {"h": hist}}),
    )
    .await;
    assert_eq!(r.status, 200, "exactly 65,536 buckets: {}", &r.text[..200]);
    let buckets = r.json()["aggregations"]["h"]["buckets"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(buckets, 65_536);
    // The same histogram beside a terms bucket with a sub-histogram: 65,536 + 1 + 65,000.
    let r = json_req(
        "POST",
        &format!("/{idx}/_search"),
        &json!({"size": 0, "aggs": {"h": hist, "t": {"terms": {"field": "k.keyword"}, "aggs": {"h": hist}}}}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", &r.text[..200.min(r.text.len())]);
    assert_eq!(r.json()["error"]["type"], "too_many_buckets_exception");
    assert_eq!(r.json()["error"]["max_buckets"], 65_536);
    assert!(
        root_reason(&r).contains("[search.max_buckets]"),
        "{}",
        r.text
    );
    alive().await;
}

/// The limit is pushed into the statement: 800,000 buckets stop in the engine (its
/// `max_result_rows`) instead of reaching the daemon, with the same Elasticsearch error.
#[tokio::test]
async fn max_buckets_stops_a_huge_aggregation_in_the_engine() {
    let idx = "hostile_buckets_huge";
    let docs: Vec<Value> = (0..800)
        .map(|i| json!({"v": (i * 1000..(i + 1) * 1000).collect::<Vec<_>>()}))
        .collect();
    load_docs(idx, None, &docs).await;
    let r = json_req(
        "POST",
        &format!("/{idx}/_search"),
        &json!({"size": 0, "aggs": {"h": {"histogram": {"field": "v", "interval": 1}}}}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", &r.text[..200.min(r.text.len())]);
    assert_eq!(r.json()["error"]["type"], "too_many_buckets_exception");
    alive().await;
}
