//! Search request features and the search APIs: search_after, scroll, point in time, _msearch,
//! fields/docvalue_fields/stored_fields, collapse, post_filter, terminate_after, min_score, URL
//! parameters, filter_path. Documents are generated here and expectations computed from them.
//! References are Elasticsearch 8.x docs pages (named per test) and source classes.

use crate::common::*;
use serde_json::{Value, json};
use std::collections::HashSet;
use tokio::sync::OnceCell;

// Its own daemon: `DELETE /_search/scroll/_all` frees every scroll and its answer counts them,
// so no other module's scrolls may be open on it.
crate::common::own_daemon!();

static SMALL: OnceCell<Vec<Value>> = OnceCell::const_new();

/// 40 documents in `sf-small`: ties in `grp`, missing `n` every 7th doc, dates, a long text.
async fn small() -> &'static Vec<Value> {
    SMALL
        .get_or_init(|| async {
            let mapping = json!({"mappings": {"properties": {
                "@timestamp": {"type": "date"},
                "grp": {"type": "keyword"},
                "n": {"type": "long"},
                "f": {"type": "float"},
                "tag": {"type": "keyword", "ignore_above": 5},
                "msg": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
                "code": {"type": "keyword", "store": true}
            }}});
            let mut all = Vec::new();
            for i in 0..40i64 {
                let mut d = json!({
                    "@timestamp": format!("2024-05-{:02}T10:00:00Z", 1 + i % 20),
                    "grp": format!("g{}", i % 4),
                    "n": i % 10,
                    "f": i as f64 / 4.0,
                    "tag": if i % 2 == 0 { "short" } else { "toolong" },
                    "msg": format!("hello number {i}"),
                    "code": format!("c{i}")
                });
                if i % 7 == 0 {
                    d.as_object_mut().unwrap().remove("n");
                }
                all.push(d);
            }
            load_docs("sf-small", Some(&mapping), &all).await;
            all
        })
        .await
}

async fn search(path: &str, body: Value) -> Value {
    let r = json_req("POST", path, &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

#[tokio::test]
async fn search_after_pages_across_tied_sort_values() {
    // paginate-search-results.html#search-after: sort values of the last hit, a tie-breaker field.
    let docs = small().await;
    let mut expected: Vec<(String, usize)> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| (d["grp"].as_str().unwrap().to_string(), i))
        .collect();
    // grp desc, then code (unique) asc as tie-breaker.
    expected.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(format!("c{}", a.1).cmp(&format!("c{}", b.1)))
    });
    let expected: Vec<String> = expected.iter().map(|(_, i)| i.to_string()).collect();
    let mut got = Vec::new();
    let mut after: Option<Value> = None;
    loop {
        let mut body = json!({"size": 7, "sort": [{"grp": "desc"}, {"code": "asc"}]});
        if let Some(a) = &after {
            body["search_after"] = a.clone();
        }
        let v = search("/sf-small/_search", body).await;
        let hits = v["hits"]["hits"].as_array().unwrap();
        if hits.is_empty() {
            break;
        }
        assert_eq!(
            v["hits"]["total"]["value"], 40,
            "total ignores search_after"
        );
        got.extend(ids(&v));
        after = Some(hits.last().unwrap()["sort"].clone());
    }
    assert_eq!(got, expected);

    // from must be 0 (SearchSourceBuilder#validate).
    let r = json_req(
        "POST",
        "/sf-small/_search",
        &json!({"from": 1, "sort": ["n"], "search_after": [1]}),
    )
    .await;
    let e = assert_es_error(&r, 400, "action_request_validation_exception");
    assert_eq!(
        e["reason"],
        "Validation Failed: 1: [from] parameter must be set to 0 when [search_after] is used;"
    );
    // Wrong number of values (SearchAfterBuilder#buildFieldDoc).
    let r = json_req(
        "POST",
        "/sf-small/_search",
        &json!({"sort": ["n"], "search_after": [1, 2]}),
    )
    .await;
    let e = assert_es_error(&r, 400, "search_phase_execution_exception");
    assert_eq!(
        e["root_cause"][0]["reason"],
        "search_after has 2 value(s) but sort has 1."
    );
}

#[tokio::test]
async fn missing_numeric_sort_values_render_as_long_extremes_and_round_trip() {
    // sort-search-results.html#_missing_values; IndexFieldData.XFieldComparatorSource#missingObject:
    // a missing long sorts (and shows) as Long.MAX_VALUE when last ascending, Long.MIN_VALUE when
    // last descending; strings show null.
    let docs = small().await;
    let missing: Vec<String> = docs
        .iter()
        .enumerate()
        .filter(|(_, d)| d.get("n").is_none())
        .map(|(i, _)| i.to_string())
        .collect();
    let v = search(
        "/sf-small/_search",
        json!({"size": 40, "sort": [{"n": "asc"}, {"code": "asc"}]}),
    )
    .await;
    let hits = v["hits"]["hits"].as_array().unwrap();
    let tail: Vec<&Value> = hits[40 - missing.len()..].iter().collect();
    for h in &tail {
        assert_eq!(h["sort"][0], json!(i64::MAX), "{h}");
    }
    let v = search(
        "/sf-small/_search",
        json!({"size": 40, "sort": [{"n": {"order": "desc"}}, {"code": "asc"}]}),
    )
    .await;
    let hits = v["hits"]["hits"].as_array().unwrap();
    assert_eq!(hits[39]["sort"][0], json!(i64::MIN));
    let v = search(
        "/sf-small/_search",
        json!({"size": 40, "sort": [{"n": {"order": "asc", "missing": "_first"}}, {"code": "asc"}]}),
    )
    .await;
    let hits = v["hits"]["hits"].as_array().unwrap();
    assert_eq!(hits[0]["sort"][0], json!(i64::MIN));

    // search_after from inside the missing block continues with the next missing doc.
    let v = search(
        "/sf-small/_search",
        json!({"size": 40, "sort": [{"n": "asc"}, {"code": "asc"}]}),
    )
    .await;
    let all = ids(&v);
    let pivot = &v["hits"]["hits"][40 - missing.len()]["sort"];
    let v2 = search(
        "/sf-small/_search",
        json!({"size": 40, "sort": [{"n": "asc"}, {"code": "asc"}], "search_after": pivot}),
    )
    .await;
    assert_eq!(ids(&v2), all[40 - missing.len() + 1..].to_vec());

    // A missing keyword shows null and search_after accepts it back.
    let v = search(
        "/sf-small/_search",
        json!({"size": 3, "sort": [{"nope": {"unmapped_type": "keyword"}}, {"code": "asc"}]}),
    )
    .await;
    assert_eq!(v["hits"]["hits"][0]["sort"][0], Value::Null);
    let after = v["hits"]["hits"][2]["sort"].clone();
    let v2 = search(
        "/sf-small/_search",
        json!({"size": 3, "sort": [{"nope": {"unmapped_type": "keyword"}}, {"code": "asc"}], "search_after": after}),
    )
    .await;
    assert_eq!(v2["hits"]["hits"].as_array().unwrap().len(), 3);
    assert!(!ids(&v).contains(&ids(&v2)[0]));
}

#[tokio::test]
async fn scroll_pages_through_2345_docs_without_duplicates_or_gaps() {
    // scroll-api.html, paginate-search-results.html#scroll-search-results.
    let mapping =
        json!({"mappings": {"properties": {"k": {"type": "long"}, "w": {"type": "keyword"}}}});
    assert_eq!(json_req("PUT", "/sf-scroll", &mapping).await.status, 200);
    let mut body = String::new();
    for i in 0..2345 {
        body.push_str(&format!(
            "{{\"index\":{{\"_id\":\"d{i}\"}}}}\n{{\"k\":{},\"w\":\"w{}\"}}\n",
            i % 13,
            i % 5
        ));
    }
    let r = bulk("/sf-scroll/_bulk?refresh=true", &body).await;
    assert_eq!(r.json()["errors"], false);

    for sort in [json!(["_doc"]), json!([{"k": "desc"}]), json!(null)] {
        let mut first = json!({"size": 500});
        if !sort.is_null() {
            first["sort"] = sort.clone();
        }
        let v = search("/sf-scroll/_search?scroll=1m", first).await;
        assert_eq!(v["hits"]["total"]["value"], 2345);
        let mut seen = HashSet::new();
        let mut pages = 0;
        let mut id = v["_scroll_id"].as_str().unwrap().to_string();
        let mut page = ids(&v);
        let mut last_k = i64::MAX;
        loop {
            if page.is_empty() {
                break;
            }
            pages += 1;
            for x in &page {
                assert!(seen.insert(x.clone()), "duplicate {x} with sort {sort}");
            }
            // A new document after the scroll started is not part of it (snapshot).
            if pages == 1 {
                let r = json_req(
                    "PUT",
                    "/sf-scroll/_doc/late?refresh=true",
                    &json!({"k": 99}),
                )
                .await;
                assert!(r.status == 200 || r.status == 201, "{}", r.text);
            }
            let r = json_req(
                "POST",
                "/_search/scroll",
                &json!({"scroll": "1m", "scroll_id": id}),
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.text);
            let v = r.json();
            assert_eq!(v["hits"]["total"]["value"], 2345);
            if sort == json!([{"k": "desc"}]) {
                for h in v["hits"]["hits"].as_array().unwrap() {
                    let k = h["sort"][0].as_i64().unwrap();
                    assert!(k <= last_k);
                    last_k = k;
                }
            }
            id = v["_scroll_id"].as_str().unwrap().to_string();
            page = ids(&v);
        }
        assert_eq!(pages, 5);
        assert_eq!(seen.len(), 2345, "sort {sort}");
        assert!(!seen.contains("late"));
        // The GET form with the id in the path, once exhausted, keeps answering empty pages.
        let r = get(&format!("/_search/scroll/{id}?scroll=1m")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json()["hits"]["hits"], json!([]));
        // clear-scroll-api.html
        let r = req(
            "DELETE",
            "/_search/scroll",
            Some(("application/json", &json!({"scroll_id": id}).to_string())),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json(), json!({"succeeded": true, "num_freed": 1}));
        let r = json_req("DELETE", "/sf-scroll/_doc/late?refresh=true", &json!({})).await;
        assert!(r.status < 300, "{}", r.text);
    }
    let r = req("DELETE", "/_search/scroll/_all", None).await;
    assert_eq!(r.json(), json!({"succeeded": true, "num_freed": 0}));

    // Scroll validation (SearchRequest#validate).
    let r = json_req("POST", "/sf-scroll/_search?scroll=1m", &json!({"from": 5})).await;
    let e = assert_es_error(&r, 400, "action_request_validation_exception");
    assert_eq!(
        e["reason"],
        "Validation Failed: 1: using [from] is not allowed in a scroll context;"
    );
    let r = json_req("POST", "/sf-scroll/_search?scroll=1m", &json!({"size": 0})).await;
    let e = assert_es_error(&r, 400, "action_request_validation_exception");
    assert_eq!(
        e["reason"],
        "Validation Failed: 1: [size] cannot be [0] in a scroll context;"
    );
    let r = json_req("POST", "/sf-scroll/_search?scroll=1x", &json!({})).await;
    assert_es_error(&r, 400, "illegal_argument_exception");
}

#[tokio::test]
async fn expired_and_malformed_scroll_ids() {
    // scroll-api.html: an expired context answers 404 search_context_missing_exception.
    small().await;
    let v = search("/sf-small/_search?scroll=1ms", json!({"size": 5})).await;
    let id = v["_scroll_id"].as_str().unwrap().to_string();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let r = json_req("POST", "/_search/scroll", &json!({"scroll_id": id})).await;
    let e = assert_es_error(&r, 404, "search_phase_execution_exception");
    assert_eq!(
        e["root_cause"][0]["type"],
        "search_context_missing_exception"
    );
    assert!(
        e["root_cause"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("No search context found for id [")
    );
    let r = json_req("POST", "/_search/scroll", &json!({"scroll_id": "garbage"})).await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert_eq!(e["reason"], "Cannot parse scroll id");
    // Clearing an expired id frees nothing.
    let r = req(
        "DELETE",
        "/_search/scroll",
        Some(("application/json", &json!({"scroll_id": [id]}).to_string())),
    )
    .await;
    assert_eq!(r.json(), json!({"succeeded": true, "num_freed": 0}));
}

#[tokio::test]
async fn point_in_time_with_search_after() {
    // point-in-time-api.html; paginate-search-results.html#search-after (PIT, implicit
    // `_shard_doc` tie-breaker, SearchRequest#rewrite).
    // Own index: a document is added while the PIT is open.
    let mut body = String::new();
    for i in 0..25 {
        body.push_str(&format!(
            "{{\"index\":{{\"_id\":\"{i}\"}}}}\n{{\"grp\":\"g{}\",\"code\":\"c{i}\"}}\n",
            i % 3
        ));
    }
    let r = bulk("/sf-pit/_bulk?refresh=true", &body).await;
    assert_eq!(r.json()["errors"], false, "{}", r.text);
    let docs: Vec<u32> = (0..25).collect();
    let r = req("POST", "/sf-pit/_pit?keep_alive=1m", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let pit = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(r.json()["_shards"]["total"], 1);

    // A document indexed after the PIT opened is not visible through it.
    let r = json_req(
        "PUT",
        "/sf-pit/_doc/after-pit?refresh=true",
        &json!({"grp": "g0", "code": "zz"}),
    )
    .await;
    assert!(r.status < 300, "{}", r.text);

    let mut got = Vec::new();
    let mut after: Option<Value> = None;
    let mut pit_id = pit.clone();
    loop {
        let mut body = json!({"size": 6, "sort": [{"grp.keyword": "asc"}], "pit": {"id": pit_id, "keep_alive": "1m"}});
        if let Some(a) = &after {
            body["search_after"] = a.clone();
        }
        let v = search("/_search", body).await;
        assert!(v["pit_id"].is_string(), "{v}");
        pit_id = v["pit_id"].as_str().unwrap().to_string();
        let hits = v["hits"]["hits"].as_array().unwrap();
        if hits.is_empty() {
            break;
        }
        // The tie-breaker shows as a second sort value.
        assert_eq!(hits[0]["sort"].as_array().unwrap().len(), 2);
        got.extend(ids(&v));
        after = Some(hits.last().unwrap()["sort"].clone());
    }
    assert_eq!(got.len(), docs.len());
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), docs.len());
    assert!(!got.contains(&"after-pit".to_string()));

    // An index in the path is refused (SearchRequest#validate).
    let r = json_req("POST", "/sf-pit/_search", &json!({"pit": {"id": pit}})).await;
    let e = assert_es_error(&r, 400, "action_request_validation_exception");
    assert_eq!(
        e["reason"],
        "Validation Failed: 1: [indices] cannot be used with point in time. Do not specify any index with point in time.;"
    );
    // _shard_doc needs a PIT.
    let r = json_req(
        "POST",
        "/sf-small/_search",
        &json!({"sort": ["_shard_doc"]}),
    )
    .await;
    assert_es_error(&r, 400, "action_request_validation_exception");

    let r = req(
        "DELETE",
        "/_pit",
        Some(("application/json", &json!({"id": pit}).to_string())),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json(), json!({"succeeded": true, "num_freed": 1}));

    // An expired PIT is a missing search context.
    let r = req("POST", "/sf-pit/_pit?keep_alive=1ms", None).await;
    let short = r.json()["id"].as_str().unwrap().to_string();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let r = json_req("POST", "/_search", &json!({"pit": {"id": short}})).await;
    let e = assert_es_error(&r, 404, "search_phase_execution_exception");
    assert_eq!(
        e["root_cause"][0]["type"],
        "search_context_missing_exception"
    );
}

#[tokio::test]
async fn msearch_reports_per_item_results_and_errors() {
    // search-multi-search.html: one response per header/body pair, errors per item with status.
    let docs = small().await;
    let g1 = docs.iter().filter(|d| d["grp"] == "g1").count();
    let nd = "{\"index\":\"sf-small\"}\n{\"query\":{\"term\":{\"grp\":\"g1\"}},\"size\":0}\n\
              {\"index\":\"sf-missing-index\"}\n{\"query\":{\"match_all\":{}}}\n\
              {}\n{\"size\":1,\"sort\":[\"code\"]}\n";
    let r = req(
        "POST",
        "/sf-small/_msearch",
        Some(("application/x-ndjson", nd)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert!(v["took"].is_u64());
    let resp = v["responses"].as_array().unwrap();
    assert_eq!(resp.len(), 3);
    assert_eq!(resp[0]["status"], 200);
    assert_eq!(resp[0]["hits"]["total"]["value"], g1);
    assert_eq!(resp[1]["status"], 404);
    assert_eq!(resp[1]["error"]["type"], "index_not_found_exception");
    assert_eq!(resp[2]["status"], 200);
    assert_eq!(resp[2]["hits"]["hits"][0]["_id"], "0");

    // Malformed metadata fails the whole request (MultiSearchRequest#readMultiLineFormat).
    let r = req(
        "POST",
        "/_msearch",
        Some(("application/x-ndjson", "{\"foo\":1}\n{}\n")),
    )
    .await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert_eq!(
        e["reason"],
        "key [foo] is not supported in the metadata section"
    );
    let r = req(
        "POST",
        "/_msearch",
        Some(("application/x-ndjson", "{}\n{}")),
    )
    .await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert_eq!(
        e["reason"],
        "The msearch request must be terminated by a newline [\n]"
    );
    let r = req("POST", "/_msearch", Some(("application/x-ndjson", ""))).await;
    let e = assert_es_error(&r, 400, "action_request_validation_exception");
    assert_eq!(e["reason"], "Validation Failed: 1: no requests added;");
}

#[tokio::test]
async fn fields_docvalue_fields_and_stored_fields() {
    // search-fields.html: values as arrays, dates formatted, ignore_above respected, multi-fields.
    small().await;
    let v = search(
        "/sf-small/_search",
        json!({"query": {"ids": {"values": ["1"]}}, "_source": false,
               "fields": ["grp", "n", "f", "tag", "msg*", {"field": "@timestamp", "format": "yyyy/MM/dd"}]}),
    )
    .await;
    let f = &v["hits"]["hits"][0]["fields"];
    assert_eq!(f["grp"], json!(["g1"]));
    assert_eq!(f["n"], json!([1]));
    assert_eq!(f["f"], json!([0.25]));
    assert!(f.get("tag").is_none(), "over ignore_above: {f}");
    assert_eq!(f["msg"], json!(["hello number 1"]));
    assert_eq!(f["msg.keyword"], json!(["hello number 1"]));
    assert_eq!(f["@timestamp"], json!(["2024/05/02"]));
    assert!(v["hits"]["hits"][0].get("_source").is_none());

    let v = search(
        "/sf-small/_search",
        json!({"query": {"ids": {"values": ["2"]}}, "docvalue_fields": ["@timestamp", "tag"],
               "fields": [{"field": "*", "include_unmapped": true}]}),
    )
    .await;
    let h = &v["hits"]["hits"][0];
    assert_eq!(
        h["fields"]["@timestamp"],
        json!(["2024-05-03T10:00:00.000Z"])
    );
    assert_eq!(h["fields"]["tag"], json!(["short"]));
    assert_eq!(h["fields"]["code"], json!(["c2"]));
    assert!(h["_source"].is_object());

    // Doc values of a text field: the fielddata error.
    let r = json_req(
        "POST",
        "/sf-small/_search",
        &json!({"docvalue_fields": ["msg"]}),
    )
    .await;
    assert_es_error(&r, 400, "search_phase_execution_exception");

    // stored_fields: only `store: true` fields, no _source unless asked; `_none_` drops _id too.
    let v = search(
        "/sf-small/_search",
        json!({"query": {"ids": {"values": ["3"]}}, "stored_fields": ["*"]}),
    )
    .await;
    let h = &v["hits"]["hits"][0];
    assert_eq!(h["_id"], "3");
    assert!(h.get("_source").is_none());
    assert_eq!(h["fields"], json!({"code": ["c3"]}));
    let v = search(
        "/sf-small/_search",
        json!({"query": {"ids": {"values": ["3"]}}, "stored_fields": "_none_"}),
    )
    .await;
    let h = &v["hits"]["hits"][0];
    assert!(h.get("_id").is_none() && h.get("_source").is_none(), "{h}");
    let r = json_req(
        "POST",
        "/sf-small/_search",
        &json!({"stored_fields": "_none_", "_source": true}),
    )
    .await;
    let e = assert_es_error(&r, 400, "action_request_validation_exception");
    assert_eq!(
        e["reason"],
        "Validation Failed: 1: [stored_fields] cannot be disabled if [_source] is requested;"
    );
}

#[tokio::test]
async fn post_filter_collapse_terminate_after_min_score() {
    let docs = small().await;
    // filter-search-results.html#post-filter: narrows hits and their total.
    let v = search(
        "/sf-small/_search",
        json!({"size": 100, "query": {"terms": {"grp": ["g1", "g2"]}},
               "post_filter": {"term": {"grp": "g2"}}}),
    )
    .await;
    let g2 = docs.iter().filter(|d| d["grp"] == "g2").count();
    assert_eq!(v["hits"]["total"]["value"], g2);
    assert_eq!(ids(&v).len(), g2);

    // collapse-search-results.html: one hit per group, the top by sort, with the key in fields.
    let v = search(
        "/sf-small/_search",
        json!({"size": 10, "collapse": {"field": "grp"}, "sort": [{"code": "asc"}]}),
    )
    .await;
    let hits = v["hits"]["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 4);
    assert_eq!(v["hits"]["total"]["value"], 40);
    let mut groups: Vec<String> = hits
        .iter()
        .map(|h| h["fields"]["grp"][0].as_str().unwrap().to_string())
        .collect();
    groups.sort();
    assert_eq!(groups, ["g0", "g1", "g2", "g3"]);
    for h in hits {
        // "c0" < "c1" < "c10".. : the smallest code of each group.
        let g = h["fields"]["grp"][0].as_str().unwrap();
        let best = docs
            .iter()
            .filter(|d| d["grp"] == g)
            .map(|d| d["code"].as_str().unwrap())
            .min()
            .unwrap();
        assert_eq!(h["_source"]["code"], best);
    }
    let r = json_req(
        "POST",
        "/sf-small/_search",
        &json!({"collapse": {"field": "grp", "inner_hits": {"name": "x", "collapse": {"field": "n"}}}}),
    )
    .await;
    assert_es_error(&r, 400, "illegal_argument_exception");
    let r = json_req(
        "POST",
        "/sf-small/_search",
        &json!({"collapse": {"field": "msg"}}),
    )
    .await;
    assert_es_error(&r, 400, "search_phase_execution_exception");

    // terminate_after (search-search.html#search-terminate-after).
    let v = search(
        "/sf-small/_search",
        json!({"terminate_after": 5, "size": 100}),
    )
    .await;
    assert_eq!(v["terminated_early"], true);
    assert_eq!(v["hits"]["total"]["value"], 5);
    assert_eq!(ids(&v).len(), 5);
    let v = search("/sf-small/_search", json!({"terminate_after": 500})).await;
    assert_eq!(v["terminated_early"], false);
    assert_eq!(v["hits"]["total"]["value"], 40);

    // min_score: with match_all every score is 1.0.
    let v = search("/sf-small/_search", json!({"min_score": 1.5})).await;
    assert_eq!(v["hits"]["total"]["value"], 0);
    let v = search("/sf-small/_search", json!({"min_score": 1.0, "size": 0})).await;
    assert_eq!(v["hits"]["total"]["value"], 40);

    // Accepted options and clear 400s for the unimplemented ones.
    let v = search(
        "/sf-small/_search",
        json!({"timeout": "5s", "script_fields": {}, "runtime_mappings": {}, "indices_boost": [],
               "explain": false, "stats": ["a"], "track_scores": true, "size": 1}),
    )
    .await;
    assert_eq!(v["timed_out"], false);
    for body in [
        json!({"explain": true}),
        json!({"script_fields": {"x": {"script": "1"}}}),
        json!({"runtime_mappings": {"x": {"type": "long", "script": "for (;;) {}"}}}),
        json!({"indices_boost": [{"sf-small": 2}]}),
    ] {
        let r = json_req("POST", "/sf-small/_search", &body).await;
        let e = assert_es_error(&r, 400, "illegal_argument_exception");
        assert!(
            e["reason"].as_str().unwrap().contains("does not support"),
            "{body}: {}",
            r.text
        );
    }
}

#[tokio::test]
async fn url_parameters() {
    // search-search.html#search-search-api-query-params.
    small().await;
    let v = get("/sf-small/_search?size=3&from=2&sort=code:asc&_source_includes=code&track_total_hits=true&version=true&seq_no_primary_term=true&timeout=1s&search_type=dfs_query_then_fetch&request_cache=false&allow_partial_search_results=true&batched_reduce_size=5&ccs_minimize_roundtrips=true&pre_filter_shard_size=3&max_concurrent_shard_requests=2&preference=_local&routing=a&expand_wildcards=open&ignore_throttled=false&typed_keys=true&human=true&error_trace=false").await;
    assert_eq!(v.status, 200, "{}", v.text);
    let v = v.json();
    // c0 c1 c10 c11 …: sorted as strings.
    assert_eq!(ids(&v), ["10", "11", "12"]);
    assert_eq!(v["hits"]["hits"][0]["_source"], json!({"code": "c10"}));
    assert_eq!(v["hits"]["hits"][0]["_version"], 1);
    let v = get("/sf-small/_search?rest_total_hits_as_int=true&size=0")
        .await
        .json();
    assert_eq!(v["hits"]["total"], 40);
    let v = get("/sf-small/_search?terminate_after=3&stored_fields=code&docvalue_fields=grp")
        .await
        .json();
    assert_eq!(v["terminated_early"], true);
    assert!(v["hits"]["hits"][0]["fields"]["grp"].is_array());

    // Unknown parameters (BaseRestHandler#unrecognized).
    let r = get("/sf-small/_search?foo=1").await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert_eq!(
        e["reason"],
        "request [/sf-small/_search] contains unrecognized parameter: [foo]"
    );
    let r = get("/sf-small/_search?search_type=bogus").await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert_eq!(e["reason"], "No search type for [bogus]");

    // q= goes through query_string; until that query type exists it is its clear 400.
    let r = get(
        "/sf-small/_search?q=grp:g1&df=msg&default_operator=AND&analyze_wildcard=true&lenient=true",
    )
    .await;
    if r.status == 200 {
        assert_eq!(r.json()["hits"]["total"]["value"], 10);
    } else {
        let e = assert_es_error(&r, 400, "parsing_exception");
        assert!(
            e["reason"].as_str().unwrap().contains("query_string"),
            "{}",
            r.text
        );
    }
}

#[tokio::test]
async fn filter_path_on_search_and_root() {
    // common-options.html#common-options-response-filtering.
    small().await;
    let r =
        get("/sf-small/_search?size=2&sort=code&filter_path=took,hits.hits._id,hits.total.value")
            .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["took", "hits"]);
    assert_eq!(
        v["hits"],
        json!({"total": {"value": 40}, "hits": [{"_id": "0"}, {"_id": "1"}]})
    );
    let v = get("/sf-small/_search?size=1&sort=code&filter_path=**._id,-hits.total")
        .await
        .json();
    assert_eq!(v, json!({"hits": {"hits": [{"_id": "0"}]}}));
    let v = get("/?filter_path=version.number,cluster_name")
        .await
        .json();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["cluster_name", "version"]);
    assert!(v["version"]["number"].is_string());
    assert_eq!(v["version"].as_object().unwrap().len(), 1);
    let v = get("/?filter_path=-version&pretty").await;
    assert!(v.text.contains("\n  \"cluster_name\""));
    assert!(v.json().get("version").is_none());
}
