//! The search subset of the foundation: match_all, term, terms, range, bool, exists, ids; sort;
//! from/size; track_total_hits; `_source` filtering; `_count`. Expected results are computed in the
//! test from the documents it indexes.

use crate::common::*;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

static LOADED: OnceCell<Vec<Value>> = OnceCell::const_new();

/// 30 small log documents in index `sb-logs`.
async fn docs() -> &'static Vec<Value> {
    LOADED
        .get_or_init(|| async {
            let mapping = json!({"mappings": {"properties": {
                "@timestamp": {"type": "date"},
                "status": {"type": "keyword"},
                "code": {"type": "integer"},
                "bytes": {"type": "long"},
                "ratio": {"type": "double"},
                "msg": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 20}}},
                "ip": {"type": "ip"},
                "ok": {"type": "boolean"}
            }}});
            let statuses = ["ok", "warn", "error"];
            let mut all = Vec::new();
            for i in 0..30i64 {
                let mut d = json!({
                    "@timestamp": format!("2024-03-{:02}T{:02}:00:00Z", 1 + i % 10, i % 24),
                    "status": statuses[(i % 3) as usize],
                    "code": 200 + (i % 4) * 100,
                    "bytes": i * 100,
                    "ratio": i as f64 / 10.0,
                    "msg": format!("Request number {i} from Client"),
                    "ip": format!("10.0.{}.{}", i % 3, i),
                    "ok": i % 2 == 0
                });
                if i % 5 == 0 {
                    d.as_object_mut().unwrap().remove("bytes");
                }
                all.push(d);
            }
            load_docs("sb-logs", Some(&mapping), &all).await;
            all
        })
        .await
}

async fn search(body: Value) -> Value {
    docs().await;
    let r = json_req("POST", "/sb-logs/_search", &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

fn expect_ids(docs: &[Value], pred: impl Fn(&Value) -> bool) -> Vec<String> {
    docs.iter()
        .enumerate()
        .filter(|(_, d)| pred(d))
        .map(|(i, _)| i.to_string())
        .collect()
}

async fn matching(query: Value) -> Vec<String> {
    let v = search(json!({"query": query, "size": 100, "sort": ["_doc"]})).await;
    ids(&v)
}

#[tokio::test]
async fn term_and_terms_on_each_type() {
    let d = docs().await;
    // term-query.html: exact values; keyword case-sensitive unless case_insensitive.
    assert_eq!(
        matching(json!({"term": {"status": "warn"}})).await,
        expect_ids(d, |x| x["status"] == "warn")
    );
    assert!(
        matching(json!({"term": {"status": "WARN"}}))
            .await
            .is_empty()
    );
    assert_eq!(
        matching(json!({"term": {"status": {"value": "WARN", "case_insensitive": true}}})).await,
        expect_ids(d, |x| x["status"] == "warn")
    );
    assert_eq!(
        matching(json!({"term": {"code": 300}})).await,
        expect_ids(d, |x| x["code"] == 300)
    );
    assert_eq!(
        matching(json!({"term": {"code": "300"}})).await,
        expect_ids(d, |x| x["code"] == 300)
    );
    assert!(matching(json!({"term": {"code": 300.5}})).await.is_empty());
    assert_eq!(
        matching(json!({"term": {"ok": "true"}})).await,
        expect_ids(d, |x| x["ok"] == true)
    );
    assert_eq!(
        matching(json!({"term": {"ip": "10.0.1.4"}})).await,
        vec!["4".to_string()]
    );
    // An ip term accepts CIDR notation (ip.html#query-ip-fields).
    assert_eq!(
        matching(json!({"term": {"ip": "10.0.2.0/24"}})).await,
        expect_ids(d, |x| x["ip"].as_str().unwrap().starts_with("10.0.2."))
    );
    // A term query on a text field matches a token as indexed (lower-cased), not the whole value.
    assert_eq!(matching(json!({"term": {"msg": "client"}})).await.len(), 30);
    assert!(
        matching(json!({"term": {"msg": "Client"}}))
            .await
            .is_empty()
    );
    // keyword ignore_above: longer values are not indexed for the keyword subfield.
    assert_eq!(
        matching(json!({"term": {"msg.keyword": "Request number 3 from Client"}})).await,
        Vec::<String>::new(),
        "29-char value exceeds ignore_above 20"
    );
    // Unmapped fields match nothing.
    assert!(matching(json!({"term": {"nope": "x"}})).await.is_empty());
    assert_eq!(
        matching(json!({"terms": {"status": ["ok", "error"]}})).await,
        expect_ids(d, |x| x["status"] == "ok" || x["status"] == "error")
    );
    assert_eq!(
        matching(json!({"terms": {"code": [200, 500]}})).await,
        expect_ids(d, |x| x["code"] == 200 || x["code"] == 500)
    );
    assert_eq!(
        matching(json!({"terms": {"_id": ["3", "7"]}})).await,
        ["3", "7"]
    );
}

#[tokio::test]
async fn range_on_numbers_dates_keywords_ips() {
    let d = docs().await;
    let n = |x: &Value| x["bytes"].as_i64();
    assert_eq!(
        matching(json!({"range": {"bytes": {"gte": 500, "lt": 1500}}})).await,
        expect_ids(d, |x| n(x).is_some_and(|b| (500..1500).contains(&b)))
    );
    assert_eq!(
        matching(json!({"range": {"ratio": {"gt": 1.05, "lte": 2}}})).await,
        expect_ids(d, |x| {
            let r = x["ratio"].as_f64().unwrap();
            r > 1.05 && r <= 2.0
        })
    );
    // Integer fields with a decimal bound: gt 350.5 on an integer means gte 351.
    assert_eq!(
        matching(json!({"range": {"code": {"gt": 350.5}}})).await,
        expect_ids(d, |x| x["code"].as_i64().unwrap() > 350)
    );
    // Dates: rounding with date math (query-dsl-range-query.html#range-query-date-math-rounding):
    // lte 2024-03-02||/d includes the whole day; gt ...||/d excludes it.
    let day = |x: &Value| x["@timestamp"].as_str().unwrap()[..10].to_string();
    assert_eq!(
        matching(json!({"range": {"@timestamp": {"lte": "2024-03-02||/d"}}})).await,
        expect_ids(d, |x| day(x).as_str() <= "2024-03-02")
    );
    assert_eq!(
        matching(json!({"range": {"@timestamp": {"gt": "2024-03-02||/d"}}})).await,
        expect_ids(d, |x| day(x).as_str() > "2024-03-02")
    );
    assert_eq!(
        matching(json!({"range": {"@timestamp": {"gte": "2024-03-05", "lt": "2024-03-07"}}})).await,
        expect_ids(d, |x| {
            let s = day(x);
            s.as_str() >= "2024-03-05" && s.as_str() < "2024-03-07"
        })
    );
    assert_eq!(
        matching(json!({"range": {"@timestamp": {"gte": "05/03/2024", "format": "dd/MM/yyyy"}}}))
            .await,
        expect_ids(d, |x| day(x).as_str() >= "2024-03-05")
    );
    // Keywords compare as strings.
    assert_eq!(
        matching(json!({"range": {"status": {"gte": "p"}}})).await,
        expect_ids(d, |x| x["status"].as_str().unwrap() >= "p")
    );
    assert_eq!(
        matching(json!({"range": {"ip": {"gte": "10.0.1.0", "lte": "10.0.1.255"}}})).await,
        expect_ids(d, |x| x["ip"].as_str().unwrap().starts_with("10.0.1."))
    );
}

#[tokio::test]
async fn bool_exists_ids() {
    let d = docs().await;
    // query-dsl-bool-query.html
    assert_eq!(
        matching(json!({"bool": {"filter": [{"term": {"status": "ok"}}], "must_not": [{"term": {"code": 200}}]}})).await,
        expect_ids(d, |x| x["status"] == "ok" && x["code"] != 200)
    );
    // must_not on a field a document lacks keeps that document.
    assert_eq!(
        matching(json!({"bool": {"must_not": {"range": {"bytes": {"gte": 0}}}}})).await,
        expect_ids(d, |x| x.get("bytes").is_none())
    );
    // should without must: at least one must match.
    assert_eq!(
        matching(
            json!({"bool": {"should": [{"term": {"status": "ok"}}, {"term": {"code": 500}}]}})
        )
        .await,
        expect_ids(d, |x| x["status"] == "ok" || x["code"] == 500)
    );
    // should with filter: optional.
    assert_eq!(
        matching(json!({"bool": {"filter": {"term": {"status": "warn"}}, "should": {"term": {"code": 500}}}})).await,
        expect_ids(d, |x| x["status"] == "warn")
    );
    // minimum_should_match 2 of 3.
    assert_eq!(
        matching(json!({"bool": {"should": [{"term": {"status": "ok"}}, {"term": {"ok": true}}, {"term": {"code": 200}}], "minimum_should_match": 2}})).await,
        expect_ids(d, |x| [x["status"] == "ok", x["ok"] == true, x["code"] == 200].iter().filter(|b| **b).count() >= 2)
    );
    // A minimum_should_match above the number of clauses matches nothing: never lowered.
    assert!(
        matching(
            json!({"bool": {"should": [{"term": {"status": "ok"}}], "minimum_should_match": 2}})
        )
        .await
        .is_empty()
    );
    assert_eq!(
        matching(json!({"exists": {"field": "bytes"}})).await,
        expect_ids(d, |x| x.get("bytes").is_some())
    );
    assert!(
        matching(json!({"exists": {"field": "nope"}}))
            .await
            .is_empty()
    );
    assert_eq!(
        matching(json!({"ids": {"values": ["5", "1", "999"]}})).await,
        ["1", "5"]
    );
}

#[tokio::test]
async fn sort_from_size_and_totals() {
    let d = docs().await;
    // sort-search-results.html: multiple keys, missing values last by default.
    let v = search(json!({"sort": [{"bytes": "desc"}], "size": 30})).await;
    let got = ids(&v);
    let mut want: Vec<(Option<i64>, usize)> = d
        .iter()
        .enumerate()
        .map(|(i, x)| (x["bytes"].as_i64(), i))
        .collect();
    want.sort_by(|a, b| match (a.0, b.0) {
        (Some(x), Some(y)) => y.cmp(&x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.1.cmp(&b.1),
    });
    assert_eq!(
        got,
        want.iter().map(|w| w.1.to_string()).collect::<Vec<_>>()
    );
    let first = &v["hits"]["hits"][0];
    assert_eq!(first["sort"], json!([2900]));
    assert_eq!(first["_score"], Value::Null);
    assert_eq!(v["hits"]["max_score"], Value::Null);

    let v = search(json!({"sort": [{"status": "asc"}, {"code": {"order": "desc"}}, "_doc"], "from": 5, "size": 4})).await;
    let mut want: Vec<(String, i64, usize)> = d
        .iter()
        .enumerate()
        .map(|(i, x)| {
            (
                x["status"].as_str().unwrap().to_string(),
                x["code"].as_i64().unwrap(),
                i,
            )
        })
        .collect();
    want.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
    assert_eq!(
        ids(&v),
        want[5..9]
            .iter()
            .map(|w| w.2.to_string())
            .collect::<Vec<_>>()
    );
    assert_eq!(v["hits"]["total"], json!({"value": 30, "relation": "eq"}));

    // Dates sort as epoch millis.
    let v = search(json!({"sort": [{"@timestamp": "asc"}], "size": 1})).await;
    assert_eq!(v["hits"]["hits"][0]["sort"], json!([1709251200000i64]));

    // track_total_hits: false drops the total; N caps it with relation gte.
    let v = search(json!({"track_total_hits": false, "size": 1})).await;
    assert!(v["hits"].get("total").is_none());
    let v = search(json!({"track_total_hits": 10, "size": 1})).await;
    assert_eq!(v["hits"]["total"], json!({"value": 10, "relation": "gte"}));
    let v = search(json!({"track_total_hits": true, "size": 0})).await;
    assert_eq!(v["hits"]["total"], json!({"value": 30, "relation": "eq"}));
    assert_eq!(v["hits"]["hits"], json!([]));
    // rest_total_hits_as_int
    let r = json_req(
        "POST",
        "/sb-logs/_search?rest_total_hits_as_int=true&size=0",
        &json!({}),
    )
    .await;
    assert_eq!(r.json()["hits"]["total"], 30);
    // URL parameters. bytes asc: doc 1 (100), 2 (200), 3 (300)…; from=1 skips the first.
    let r = get("/sb-logs/_search?size=2&from=1&sort=bytes:asc")
        .await
        .json();
    assert_eq!(ids(&r), ["2", "3"]);
}

#[tokio::test]
async fn sort_errors_like_elasticsearch() {
    docs().await;
    // Unmapped sort field: query_shard_exception inside search_phase_execution_exception, unless unmapped_type.
    let r = json_req(
        "POST",
        "/sb-logs/_search",
        &json!({"sort": [{"nope": "asc"}]}),
    )
    .await;
    let e = assert_es_error(&r, 400, "search_phase_execution_exception");
    assert_eq!(e["root_cause"][0]["type"], "query_shard_exception");
    assert_eq!(
        e["root_cause"][0]["reason"],
        "No mapping found for [nope] in order to sort on"
    );
    let r = json_req(
        "POST",
        "/sb-logs/_search",
        &json!({"sort": [{"nope": {"order": "asc", "unmapped_type": "long"}}], "size": 1}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Text fields cannot be sorted on.
    let r = json_req("POST", "/sb-logs/_search", &json!({"sort": ["msg"]})).await;
    let e = assert_es_error(&r, 400, "search_phase_execution_exception");
    assert!(
        e["root_cause"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("Text fields are not optimised")
    );
    // from + size beyond index.max_result_window.
    let r = json_req(
        "POST",
        "/sb-logs/_search",
        &json!({"from": 9995, "size": 10}),
    )
    .await;
    let e = assert_es_error(&r, 400, "search_phase_execution_exception");
    assert!(e["root_cause"][0]["reason"].as_str().unwrap().starts_with("Result window is too large, from + size must be less than or equal to: [10000] but was [10005]"));
    let r = json_req("POST", "/sb-logs/_search", &json!({"size": -1})).await;
    assert_eq!(r.status, 400);
    let r = json_req("POST", "/sb-logs/_search", &json!({"qurey": {}})).await;
    let e = assert_es_error(&r, 400, "parsing_exception");
    assert_eq!(e["reason"], "Unknown key for a START_OBJECT in [qurey].");
}

#[tokio::test]
async fn source_filtering_in_search() {
    docs().await;
    let v =
        search(json!({"_source": ["status", "code"], "query": {"ids": {"values": ["3"]}}})).await;
    assert_eq!(
        v["hits"]["hits"][0]["_source"],
        json!({"status": "ok", "code": 500})
    );
    let v = search(json!({"_source": false, "query": {"ids": {"values": ["3"]}}})).await;
    assert!(v["hits"]["hits"][0].get("_source").is_none());
    let v = search(
        json!({"_source": {"excludes": ["msg", "ip", "@*"]}, "query": {"ids": {"values": ["3"]}}}),
    )
    .await;
    let keys: Vec<&String> = v["hits"]["hits"][0]["_source"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(keys, ["status", "code", "bytes", "ratio", "ok"]);
    let v = search(
        json!({"version": true, "seq_no_primary_term": true, "query": {"ids": {"values": ["3"]}}}),
    )
    .await;
    let h = &v["hits"]["hits"][0];
    assert_eq!(h["_version"], 1);
    assert!(h["_seq_no"].is_u64());
    assert_eq!(h["_primary_term"], 1);
}

#[tokio::test]
async fn count_and_multi_index_search() {
    let d = docs().await;
    let v = json_req(
        "POST",
        "/sb-logs/_count",
        &json!({"query": {"term": {"status": "ok"}}}),
    )
    .await
    .json();
    assert_eq!(v["count"], d.iter().filter(|x| x["status"] == "ok").count());
    assert_eq!(v["_shards"]["total"], 1);
    // Two indices, comma list and wildcard.
    bulk(
        "/sb-other/_bulk?refresh=true",
        "{\"index\":{\"_id\":\"o1\"}}\n{\"status\":\"ok\"}\n",
    )
    .await;
    let v = json_req(
        "POST",
        "/sb-logs,sb-other/_count",
        &json!({"query": {"term": {"status": "ok"}}}),
    )
    .await
    .json();
    assert_eq!(
        v["count"],
        d.iter().filter(|x| x["status"] == "ok").count() + 1
    );
    let v = json_req(
        "POST",
        "/sb-*/_search",
        &json!({"query": {"ids": {"values": ["o1", "2"]}}}),
    )
    .await
    .json();
    let mut got: Vec<(String, String)> = v["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["_index"].as_str().unwrap().into(),
                h["_id"].as_str().unwrap().into(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("sb-logs".to_string(), "2".to_string()),
            ("sb-other".to_string(), "o1".to_string())
        ]
    );
    assert_eq!(v["_shards"]["total"], 2);
    // ignore_unavailable / missing index.
    let r = json_req("POST", "/sb-logs,sb-missing/_search", &json!({})).await;
    assert_es_error(&r, 404, "index_not_found_exception");
    let r = json_req(
        "POST",
        "/sb-logs,sb-missing/_search?ignore_unavailable=true",
        &json!({"size": 0}),
    )
    .await;
    assert_eq!(r.status, 200);
    // A wildcard that matches nothing is an empty result, not an error.
    let v = json_req("POST", "/nothing-matches-*/_search", &json!({}))
        .await
        .json();
    assert_eq!(v["hits"]["total"]["value"], 0);
}

/// `hits.total` with the default `track_total_hits` (10,000) is the exact count whatever page is
/// asked for: a full page, a partial one, a page past the last hit (no hits, total still 30), no
/// match (0), and a bound below the count (`{value: 5, relation: gte}`) (search-your-data.html,
/// "Track total hits"). The total of a one-index search is computed in the hits statement.
#[tokio::test]
async fn totals_on_every_page() {
    let n = docs().await.len() as u64;
    let warn = docs()
        .await
        .iter()
        .filter(|d| d["status"] == "warn")
        .count() as u64;
    let v = search(json!({"size": 10})).await;
    assert_eq!(v["hits"]["total"], json!({"value": n, "relation": "eq"}));
    let v = search(json!({"size": 10, "query": {"term": {"status": "warn"}}})).await;
    assert_eq!(v["hits"]["total"]["value"], warn);
    let v = search(json!({"from": 5, "size": 20, "query": {"term": {"status": "warn"}}})).await;
    assert_eq!(v["hits"]["total"]["value"], warn);
    assert_eq!(v["hits"]["hits"].as_array().unwrap().len() as u64, warn - 5);
    let v = search(json!({"from": 40, "size": 10})).await;
    assert_eq!(v["hits"]["hits"], json!([]));
    assert_eq!(v["hits"]["total"], json!({"value": n, "relation": "eq"}));
    let v = search(json!({"query": {"term": {"status": "none-such"}}})).await;
    assert_eq!(v["hits"]["total"], json!({"value": 0, "relation": "eq"}));
    let v = search(json!({"track_total_hits": 5, "sort": [{"@timestamp": "desc"}]})).await;
    assert_eq!(v["hits"]["total"], json!({"value": 5, "relation": "gte"}));
    let v = search(json!({"track_total_hits": true, "size": 1})).await;
    assert_eq!(v["hits"]["total"], json!({"value": n, "relation": "eq"}));
}
