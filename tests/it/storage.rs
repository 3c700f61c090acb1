//! Storage: the log-native table layout (docs/storage.md) and Elasticsearch's `_id` semantics in
//! it — overwrite, update, delete, re-create, concurrent writers of one id, an interrupted write,
//! and two daemons sharing one ClickHouse — on the real embedded ClickHouse engine.

use crate::common::*;
use serde_json::{Value, json};
use std::net::SocketAddr;

/// `SHOW CREATE TABLE` of an index's table, as ClickHouse prints it.
async fn create_statement(index: &str) -> String {
    let d = daemon();
    clickhouse_sql(&format!(
        "SELECT create_table_query FROM system.tables WHERE database = '{}' AND name = '{index}' FORMAT TSVRaw",
        d.database
    ))
    .await
}

/// (`..state`, rows) of every row of `id` in the index's table, lowest state first.
async fn row_states(index: &str, id: &str) -> Vec<(u64, u64)> {
    let text = clickhouse_sql(&format!(
        "SELECT `..state`, count() FROM `{index}` WHERE _id = '{id}' GROUP BY 1 ORDER BY 1 FORMAT TSV"
    ))
    .await;
    text.lines()
        .map(|l| {
            let mut p = l.split('\t').map(|x| x.parse::<u64>().unwrap());
            (p.next().unwrap(), p.next().unwrap())
        })
        .collect()
}

async fn count(index: &str) -> u64 {
    let r = get(&format!("/{index}/_count")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["count"].as_u64().unwrap()
}

#[tokio::test]
async fn tables_are_time_sorted_merge_trees_with_id_and_text_indexes() {
    // The index is auto-created by its first write (docs-index_.html, "Automatically create data
    // streams and indices"); its first document's @timestamp is a date by dynamic mapping
    // (dynamic-field-mapping.html, date_detection), so the table is sorted by it.
    let r = bulk(
        "/_bulk",
        "{\"index\":{\"_index\":\"st-layout\"}}\n{\"@timestamp\":\"2024-05-01T10:00:00Z\",\"msg\":\"GET /index.html\",\"status\":200}\n",
    )
    .await;
    assert_eq!(r.json()["errors"], false, "{}", r.text);
    let ddl = create_statement("st-layout").await;
    assert!(ddl.contains("ENGINE = MergeTree"), "{ddl}");
    assert!(!ddl.contains("Replacing"), "{ddl}");
    assert!(ddl.contains("ORDER BY `@timestamp`"), "{ddl}");
    assert!(ddl.contains("`..state` UInt8"), "{ddl}");
    assert!(!ddl.contains("`_deleted`"), "{ddl}");
    assert!(ddl.contains("bloom_filter"), "{ddl}");
    // The standard-analyzer tokens of `msg` have ClickHouse's text index.
    assert!(ddl.contains("TYPE text(tokenizer = 'array')"), "{ddl}");
    assert!(ddl.contains("\"format\":2"), "{ddl}");

    // A text field added later gets its text index too.
    let r = bulk(
        "/_bulk",
        "{\"index\":{\"_index\":\"st-layout\"}}\n{\"@timestamp\":\"2024-05-01T10:01:00Z\",\"agent\":\"curl 8\"}\n",
    )
    .await;
    assert_eq!(r.json()["errors"], false, "{}", r.text);
    let ddl = create_statement("st-layout").await;
    assert_eq!(ddl.matches("TYPE text(").count(), 2, "{ddl}");
    // ClickHouse answers token predicates from the text index (`EXPLAIN indexes = 1`).
    let plan = clickhouse_sql(
        "EXPLAIN indexes = 1 SELECT count() FROM `st-layout` WHERE has(`.msg\\x01tokens`, 'index') FORMAT TSVRaw",
    )
    .await;
    assert!(plan.contains("..text:.msg"), "{plan}");

    // Searches through the daemon find both documents, newest first.
    let r = json_req(
        "POST",
        "/st-layout/_search",
        &json!({"sort": [{"@timestamp": "desc"}], "query": {"match_all": {}}}),
    )
    .await;
    let v = r.json();
    assert_eq!(v["hits"]["total"]["value"], 2, "{}", r.text);
    assert_eq!(v["hits"]["hits"][0]["_source"]["agent"], "curl 8");
}

#[tokio::test]
async fn index_sort_settings_become_the_sorting_key() {
    // index-modules-index-sorting.html: `index.sort.field` (and `order`) sort the index's segments;
    // here they are the table's sorting key. An unmapped sort field is refused at creation
    // (IndexSortConfig#buildIndexSort: "unknown index sort field:[…]").
    let r = json_req(
        "PUT",
        "/st-sorted",
        &json!({"settings": {"index": {"sort.field": ["host", "ts"], "sort.order": ["asc", "desc"]}},
                "mappings": {"properties": {"host": {"type": "keyword"}, "ts": {"type": "date"}}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ddl = create_statement("st-sorted").await;
    assert!(ddl.contains("ORDER BY (host, ts)"), "{ddl}");
    // GET /{index} shows the settings as given (indices-get-index.html).
    let s = get("/st-sorted").await.json();
    assert_eq!(
        s["st-sorted"]["settings"]["index"]["sort"]["field"],
        json!(["host", "ts"])
    );
    let r = json_req(
        "PUT",
        "/st-sorted-bad",
        &json!({"settings": {"index.sort.field": "nope"},
                "mappings": {"properties": {"host": {"type": "keyword"}}}}),
    )
    .await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert_eq!(e["reason"], "unknown index sort field:[nope]");
    // Indices without a time field are sorted by `_id`.
    let r = json_req(
        "PUT",
        "/st-no-time",
        &json!({"mappings": {"properties": {"k": {"type": "keyword"}}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        create_statement("st-no-time")
            .await
            .contains("ORDER BY _id")
    );
}

#[tokio::test]
async fn overwrite_update_delete_recreate_keep_one_live_version() {
    // docs-index_.html / docs-update.html / docs-delete.html: one live document per _id, versions
    // counting up across overwrite, update and delete, and continuing after a delete (the delete's
    // tombstone keeps the version within index.gc_deletes).
    let idx = "st-versions";
    let put = |body: Value| async move { json_req("PUT", &format!("/{idx}/_doc/a"), &body).await };
    let r = put(json!({"@timestamp": "2024-05-01T10:00:00Z", "v": "one"})).await;
    assert_eq!(
        (r.status, r.json()["result"].clone()),
        (201, json!("created"))
    );
    let r = put(json!({"@timestamp": "2024-05-01T10:00:05Z", "v": "two"})).await;
    assert_eq!(r.json()["result"], "updated");
    assert_eq!(r.json()["_version"], 2);
    let r = json_req(
        "POST",
        &format!("/{idx}/_update/a"),
        &json!({"doc": {"v": "three"}}),
    )
    .await;
    assert_eq!(r.json()["_version"], 3, "{}", r.text);
    assert_eq!(count(idx).await, 1);
    let s = json_req(
        "POST",
        &format!("/{idx}/_search"),
        &json!({"query": {"match": {"v": "three"}}}),
    )
    .await;
    assert_eq!(ids(&s.json()), vec!["a"], "{}", s.text);
    let s = json_req(
        "POST",
        &format!("/{idx}/_search"),
        &json!({"query": {"match": {"v": "one two"}}}),
    )
    .await;
    assert_eq!(s.json()["hits"]["total"]["value"], 0, "{}", s.text);
    // Exactly one live row; older versions are superseded (and deleted in the background).
    let states = row_states(idx, "a").await;
    assert_eq!(
        states.iter().find(|(s, _)| *s == 0),
        Some(&(0, 1)),
        "{states:?}"
    );
    assert!(states.iter().all(|(s, _)| *s == 0 || *s == 2), "{states:?}");

    let r = req("DELETE", &format!("/{idx}/_doc/a"), None).await;
    assert_eq!(r.json()["result"], "deleted");
    assert_eq!(r.json()["_version"], 4);
    assert_eq!(get(&format!("/{idx}/_doc/a")).await.status, 404);
    assert_eq!(count(idx).await, 0);
    let states = row_states(idx, "a").await;
    assert!(states.iter().all(|(s, _)| *s != 0), "{states:?}");
    assert!(states.contains(&(3, 1)), "one tombstone: {states:?}");

    let r = put(json!({"@timestamp": "2024-05-01T10:00:09Z", "v": "four"})).await;
    assert_eq!(r.json()["result"], "created");
    assert_eq!(r.json()["_version"], 5);
    let g = get(&format!("/{idx}/_doc/a")).await.json();
    assert_eq!(g["_source"]["v"], "four");
    assert_eq!(count(idx).await, 1);
}

#[tokio::test]
async fn concurrent_writers_of_one_id_leave_one_document() {
    // Writes of one _id are applied one after the other (Elasticsearch's primary shard serialises
    // them): every write gets its own version, and the document is the last one's.
    let idx = "st-race";
    let n = 16;
    let mut tasks = Vec::new();
    for i in 0..n {
        tasks.push(tokio::spawn(async move {
            json_req(
                "PUT",
                &format!("/{idx}/_doc/same"),
                &json!({"@timestamp": "2024-05-01T10:00:00Z", "n": i}),
            )
            .await
        }));
    }
    let mut versions = Vec::new();
    let mut last = None;
    for t in tasks {
        let r = t.await.unwrap();
        assert!(r.status == 200 || r.status == 201, "{}", r.text);
        let v = r.json();
        let version = v["_version"].as_u64().unwrap();
        versions.push(version);
        if version == n {
            last = Some(v);
        }
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=n).collect::<Vec<_>>());
    assert!(last.is_some());
    assert_eq!(count(idx).await, 1);
    let g = get(&format!("/{idx}/_doc/same")).await.json();
    assert_eq!(g["_version"], n);
    let s = json_req("POST", &format!("/{idx}/_search"), &json!({})).await;
    let v = s.json();
    assert_eq!(v["hits"]["total"]["value"], 1, "{}", s.text);
    assert_eq!(v["hits"]["hits"][0]["_source"], g["_source"]);
    let states = row_states(idx, "same").await;
    assert_eq!(
        states.iter().find(|(s, _)| *s == 0),
        Some(&(0, 1)),
        "{states:?}"
    );
}

#[tokio::test]
async fn a_write_interrupted_before_its_commit_stays_invisible() {
    // A process crash between a batch's INSERT and its commit leaves pending rows. They are never
    // read: the acknowledged version stays the document, the unacknowledged write did not happen
    // (as for an Elasticsearch write that was never acknowledged), and later writes continue from
    // the acknowledged version.
    let idx = "st-crash";
    let r = json_req(
        "PUT",
        &format!("/{idx}/_doc/a?refresh=true"),
        &json!({"@timestamp": "2024-05-01T10:00:00Z", "v": "acknowledged"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    // What the crashed batch left: a new version of `a` and a new document `b`, both pending,
    // with sequence numbers far above the counter (as another daemon's would be).
    clickhouse_sql(&format!(
        "INSERT INTO `{idx}` (_id, _source, _version, _seq_no, `..state`, `@timestamp`) VALUES \
         ('a', '{{\"v\":\"lost\"}}', 2, 1000, 1, '2024-05-01 10:00:01'), \
         ('b', '{{\"v\":\"lost\"}}', 1, 1001, 1, '2024-05-01 10:00:02')"
    ))
    .await;
    assert_eq!(count(idx).await, 1);
    assert_eq!(
        get(&format!("/{idx}/_doc/a")).await.json()["_source"]["v"],
        "acknowledged"
    );
    assert_eq!(get(&format!("/{idx}/_doc/b")).await.status, 404);
    let s = json_req(
        "POST",
        &format!("/{idx}/_search"),
        &json!({"query": {"match": {"v": "lost"}}}),
    )
    .await;
    assert_eq!(s.json()["hits"]["total"]["value"], 0, "{}", s.text);

    let r = json_req(
        "PUT",
        &format!("/{idx}/_doc/a"),
        &json!({"@timestamp": "2024-05-01T10:00:03Z", "v": "second"}),
    )
    .await;
    assert_eq!(r.json()["_version"], 2, "{}", r.text);
    assert_eq!(r.json()["result"], "updated");
    let r = json_req(
        "PUT",
        &format!("/{idx}/_doc/b"),
        &json!({"@timestamp": "2024-05-01T10:00:04Z", "v": "new"}),
    )
    .await;
    assert_eq!(r.json()["result"], "created", "{}", r.text);
    assert_eq!(count(idx).await, 2);
    assert_eq!(
        get(&format!("/{idx}/_doc/a")).await.json()["_source"]["v"],
        "second"
    );
}

async fn req_to(es: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> Resp {
    let mut r = client().request(method.parse().unwrap(), format!("http://{es}{path}"));
    if let Some(b) = body {
        r = r
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    Resp {
        status,
        headers,
        text: resp.text().await.unwrap(),
    }
}

#[tokio::test]
async fn two_daemons_on_one_clickhouse_behave_as_one() {
    // Daemons keep no state another daemon needs (docs/storage.md): a second daemon pointed at the
    // first one's ClickHouse (the embedded engine served over HTTP) sees and continues its writes.
    let a = daemon().es;
    let url = daemon().clickhouse.clone();
    let b = tokio::task::spawn_blocking(move || {
        start_daemon(|cfg| {
            cfg.clickhouse_url = Some(url);
        })
        .es
    })
    .await
    .unwrap();
    let idx = "st-two";
    let doc = |v: &str| json!({"@timestamp": "2024-05-01T10:00:00Z", "v": v});
    let r = req_to(a, "PUT", &format!("/{idx}/_doc/1"), Some(&doc("from a"))).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let g = req_to(b, "GET", &format!("/{idx}/_doc/1"), None)
        .await
        .json();
    assert_eq!(
        (g["_version"].clone(), g["_source"]["v"].clone()),
        (json!(1), json!("from a"))
    );
    let r = req_to(b, "PUT", &format!("/{idx}/_doc/1"), Some(&doc("from b"))).await;
    assert_eq!(r.json()["result"], "updated", "{}", r.text);
    assert_eq!(r.json()["_version"], 2);
    let g = req_to(a, "GET", &format!("/{idx}/_doc/1"), None)
        .await
        .json();
    assert_eq!(
        (g["_version"].clone(), g["_source"]["v"].clone()),
        (json!(2), json!("from b"))
    );
    // A's sequence-number counter is behind B's writes: it moves past them.
    let r = req_to(a, "PUT", &format!("/{idx}/_doc/1"), Some(&doc("a again"))).await;
    assert_eq!(r.json()["_version"], 3, "{}", r.text);
    assert!(r.json()["_seq_no"].as_u64().unwrap() > 1, "{}", r.text);
    for es in [a, b] {
        let c = req_to(es, "GET", &format!("/{idx}/_count"), None)
            .await
            .json();
        assert_eq!(c["count"], 1);
        let s = req_to(es, "POST", &format!("/{idx}/_search"), Some(&json!({})))
            .await
            .json();
        assert_eq!(s["hits"]["hits"][0]["_source"]["v"], "a again");
    }
    let states = row_states(idx, "1").await;
    assert_eq!(
        states.iter().find(|(s, _)| *s == 0),
        Some(&(0, 1)),
        "{states:?}"
    );
}

#[tokio::test]
async fn descending_time_sort_puts_documents_without_the_field_last() {
    // search-request-sort.html "Missing values": `_last` is the default in both directions. The
    // table reads backwards (`DESC NULLS FIRST`) only while no document lacks the sort field; the
    // first such document switches it to the exact order.
    let idx = "st-missing-ts";
    let docs: Vec<Value> = (0..5)
        .map(|i| json!({"@timestamp": format!("2024-05-01T10:00:0{i}Z"), "n": i}))
        .collect();
    load_docs(idx, None, &docs).await;
    let newest_first = || async {
        let r = json_req(
            "POST",
            &format!("/{idx}/_search"),
            &json!({"size": 10, "sort": [{"@timestamp": "desc"}]}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()
    };
    let v = newest_first().await;
    assert_eq!(ids(&v), vec!["4", "3", "2", "1", "0"]);
    assert_eq!(v["hits"]["hits"][0]["sort"], json!([1714557604000i64]));
    assert!(!create_statement(idx).await.contains("sort_field_nulls"));

    let r = json_req("PUT", &format!("/{idx}/_doc/none"), &json!({"n": 9})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(
        create_statement(idx)
            .await
            .contains("\"sort_field_nulls\":true")
    );
    let v = newest_first().await;
    assert_eq!(ids(&v), vec!["4", "3", "2", "1", "0", "none"]);
    // A missing date sorts as Long.MIN_VALUE when descending (XFieldComparatorSource#missingObject).
    assert_eq!(v["hits"]["hits"][5]["sort"], json!([i64::MIN]));
    let r = json_req(
        "POST",
        &format!("/{idx}/_search"),
        &json!({"size": 2, "sort": [{"@timestamp": {"order": "asc"}}]}),
    )
    .await;
    assert_eq!(ids(&r.json()), vec!["0", "1"]);
}

#[tokio::test]
async fn cached_bm25_statistics_follow_every_write() {
    // BM25 (index-modules-similarity.html) reads per-shard statistics that change with every
    // indexed document: idf = ln(1 + (N - n + 0.5) / (n + 0.5)). The daemon keeps them between
    // searches, so a write must invalidate them: the next score reflects the new N.
    let idx = "st-bm25-cache";
    load_docs(
        idx,
        None,
        &[json!({"t": "quick fox"}), json!({"t": "lazy dog"})],
    )
    .await;
    let score = || async {
        let r = json_req(
            "POST",
            &format!("/{idx}/_search"),
            &json!({"query": {"match": {"t": "fox"}}}),
        )
        .await;
        r.json()["hits"]["max_score"].as_f64().unwrap()
    };
    let before = score().await;
    assert_eq!(before, score().await, "the same statistics twice");
    let r = json_req(
        "PUT",
        &format!("/{idx}/_doc/x"),
        &json!({"t": "sleepy cat"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let after = score().await;
    // N grew from 2 to 3 with n = 1: the idf (and the score) grows.
    assert!(after > before, "{before} → {after}");
    // Both equal Lucene's BM25Similarity for their N (field length 2 everywhere, avgdl 2):
    // idf · tf / (tf + k1 · (1 - b + b · dl / avgdl)) with tf = 1, dl = avgdl.
    let bm25 = |n_docs: f64| {
        let idf = (1.0 + (n_docs - 1.0 + 0.5) / 1.5f64).ln();
        idf / (1.0 + 1.2)
    };
    assert!((before - bm25(2.0)).abs() < 1e-5, "{before}");
    assert!((after - bm25(3.0)).abs() < 1e-5, "{after}");
}

#[tokio::test]
async fn equal_scores_come_in_index_sort_order() {
    // Hits with equal scores come in index order; an index sorted by index.sort.* stores its
    // documents in that order (index-modules-index-sorting.html), and so does every time-sorted
    // table here. match_all, filters and a term on a single-valued keyword score the same for every
    // match, so their default order is the sorting key (then the order of arrival).
    let idx = "st-index-order";
    let docs: Vec<Value> = (0..6)
        .map(|i| {
            json!({"@timestamp": format!("2024-05-01T10:00:0{}Z", 5 - i), "k": if i % 2 == 0 { "even" } else { "odd" }})
        })
        .collect();
    load_docs(idx, None, &docs).await;
    let search = |body: Value| async move {
        let r = json_req("POST", &format!("/{idx}/_search"), &body).await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()
    };
    let v = search(json!({})).await;
    assert_eq!(ids(&v), vec!["5", "4", "3", "2", "1", "0"]);
    assert_eq!(v["hits"]["max_score"], 1.0);
    assert_eq!(v["hits"]["total"]["value"], 6);
    let v = search(json!({"size": 2, "from": 1})).await;
    assert_eq!(ids(&v), vec!["4", "3"]);
    let v = search(json!({"query": {"term": {"k.keyword": "even"}}})).await;
    assert_eq!(ids(&v), vec!["4", "2", "0"]);
    let scores: Vec<f64> = v["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["_score"].as_f64().unwrap())
        .collect();
    assert!(
        scores.iter().all(|s| *s == scores[0] && *s > 0.0),
        "{scores:?}"
    );
    assert_eq!(v["hits"]["max_score"].as_f64(), Some(scores[0]));
}

/// The `_source` of document `id`, as GET answers it.
async fn get_source(index: &str, id: &str) -> Value {
    let r = get(&format!("/{index}/_doc/{id}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["_source"].clone()
}

#[tokio::test]
async fn synthetic_source_rebuilds_documents_from_columns() {
    // mapping-source-field.html, "Synthetic `_source`": with `index.mapping.source.mode:
    // synthetic` (and by default in `index.mode: logsdb`) the source is rebuilt from the fields'
    // values: keys sorted, dotted names as objects, arrays moved to the leaves, single-element
    // arrays flattened, keyword and ip arrays sorted and deduplicated, numeric arrays sorted,
    // numbers as their mapped type, dates in the field's format.
    let mapping = json!({"dynamic": false, "properties": {
        "@timestamp": {"type": "date"},
        "host": {"properties": {"name": {"type": "keyword"}}},
        "tags": {"type": "keyword"},
        "ports": {"type": "integer"},
        "ip": {"type": "ip"},
        "msg": {"type": "text"},
        "ratio": {"type": "float"},
        "ok": {"type": "boolean"},
        "foo": {"properties": {"bar": {"type": "long"}}},
        "loc": {"type": "geo_point"},
        "t_ns": {"type": "date_nanos"},
        "t_ms": {"type": "date", "format": "epoch_millis"}
    }});
    let r = json_req(
        "PUT",
        "/st-synth",
        &json!({"settings": {"index": {"mode": "logsdb"}}, "mappings": mapping}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let doc = json!({
        "tags": ["b", "a", "b"], "ports": [443, 80], "ip": "10.0.0.1",
        "@timestamp": "2024-05-01T10:00:00Z", "host.name": "web-1", "msg": "GET /x",
        "ratio": 0.5, "ok": true, "foo": [{"bar": 2}, {"bar": 1}],
        "loc": {"lat": 41.5, "lon": 2.25}, "t_ns": "2024-05-01T10:00:00.123456Z",
        "t_ms": 1714557600000i64, "unmapped": {"kept": [1, "x"]}, "empty": null
    });
    let r = json_req("PUT", "/st-synth/_doc/1?refresh=true", &doc).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let expected = json!({
        "@timestamp": "2024-05-01T10:00:00.000Z",
        "foo": {"bar": [1, 2]},
        "host": {"name": "web-1"},
        "ip": "10.0.0.1",
        "msg": "GET /x",
        "ok": true,
        "ports": [80, 443],
        "ratio": 0.5,
        "t_ms": 1714557600000i64,
        "t_ns": "2024-05-01T10:00:00.123456Z",
        "tags": ["a", "b"],
        // Not rebuilt from columns: kept as sent (geo_point, unmapped fields with dynamic false,
        // like Elasticsearch's _ignored_source).
        "loc": {"lat": 41.5, "lon": 2.25},
        "unmapped": {"kept": [1, "x"]},
        "empty": null
    });
    let got = get_source("st-synth", "1").await;
    assert_eq!(got, expected);
    // The rebuilt keys come in sorted order.
    let keys: Vec<&String> = got.as_object().unwrap().keys().collect();
    let rebuilt: Vec<&String> = keys
        .iter()
        .copied()
        .filter(|k| !["loc", "unmapped", "empty"].contains(&k.as_str()))
        .collect();
    let mut sorted = rebuilt.clone();
    sorted.sort();
    assert_eq!(rebuilt, sorted);
    // Search hits carry the same source, and source filtering applies to it.
    let r = json_req(
        "POST",
        "/st-synth/_search",
        &json!({"_source": ["host.*", "ports"], "query": {"term": {"tags": "a"}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json()["hits"]["hits"][0]["_source"],
        json!({"host": {"name": "web-1"}, "ports": [80, 443]})
    );
    // The stored `_source` column keeps only the residual.
    let stored = clickhouse_sql("SELECT _source FROM `st-synth` FORMAT TSVRaw").await;
    let stored: Value = serde_json::from_str(stored.trim()).unwrap();
    assert_eq!(
        stored,
        json!({"loc": {"lat": 41.5, "lon": 2.25}, "unmapped": {"kept": [1, "x"]}, "empty": null})
    );
    // logsdb sorts the table by host.name, then @timestamp (logs-data-stream.html).
    let ddl = create_statement("st-synth").await;
    assert!(
        ddl.contains("ORDER BY (`host.name`, `@timestamp`)"),
        "{ddl}"
    );
    // _update reads the rebuilt document and merges the change into it (docs-update.html).
    let r = json_req(
        "POST",
        "/st-synth/_update/1?refresh=true",
        &json!({"doc": {"ok": false, "ports": 22}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut after = expected.clone();
    after["ok"] = json!(false);
    after["ports"] = json!(22);
    assert_eq!(get_source("st-synth", "1").await, after);
}

#[tokio::test]
async fn source_mode_setting_is_validated() {
    // SourceFieldMapper's index.mapping.source.mode takes stored, synthetic or disabled.
    let r = json_req(
        "PUT",
        "/st-synth-bad",
        &json!({"settings": {"index.mapping.source.mode": "compressed"}}),
    )
    .await;
    assert_es_error(&r, 400, "illegal_argument_exception");
    // index.mode time_series is not implemented: a clear 400 naming it.
    let r = json_req(
        "PUT",
        "/st-synth-bad",
        &json!({"settings": {"index.mode": "time_series"}}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("time_series"), "{}", r.text);
    // The setting on a standard index: synthetic, and a stored index stays exact.
    let r = json_req(
        "PUT",
        "/st-synth-setting",
        &json!({"settings": {"index.mapping.source.mode": "synthetic"},
                "mappings": {"properties": {"n": {"type": "long"}, "s": {"type": "keyword"}}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = json_req(
        "PUT",
        "/st-synth-setting/_doc/1?refresh=true",
        &json!({"s": "x", "n": "7"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    // "7" is coerced: synthetic source shows the indexed long.
    assert_eq!(
        get_source("st-synth-setting", "1").await,
        json!({"n": 7, "s": "x"})
    );
}

#[tokio::test]
async fn disabled_source_keeps_no_source_but_keeps_fields() {
    // mapping-source-field.html, "Disabling the `_source` field": documents are indexed and
    // searchable, GET and search hits carry no `_source`, `GET _source` is not found
    // (RestGetSourceAction), and `_update` fails with document_source_missing_exception
    // (UpdateHelper). Doc-value fields stay retrievable with `fields`.
    let r = json_req(
        "PUT",
        "/st-nosource",
        &json!({"mappings": {"_source": {"enabled": false},
                             "properties": {"n": {"type": "long"}, "s": {"type": "keyword"}}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = json_req(
        "PUT",
        "/st-nosource/_doc/1?refresh=true",
        &json!({"n": 3, "s": "x"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = get("/st-nosource/_doc/1").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["found"], true);
    assert!(r.json().get("_source").is_none(), "{}", r.text);
    let r = json_req(
        "POST",
        "/st-nosource/_search",
        &json!({"query": {"term": {"s": "x"}}, "fields": ["n"]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let hit = &r.json()["hits"]["hits"][0];
    assert!(hit.get("_source").is_none(), "{}", r.text);
    assert_eq!(hit["fields"]["n"], json!([3]));
    let r = get("/st-nosource/_source/1").await;
    assert_es_error(&r, 404, "resource_not_found_exception");
    let r = json_req("POST", "/st-nosource/_update/1", &json!({"doc": {"n": 4}})).await;
    assert_es_error(&r, 400, "document_source_missing_exception");
    let stored = clickhouse_sql("SELECT _source FROM `st-nosource` FORMAT TSVRaw").await;
    assert_eq!(stored.trim(), "");
}
