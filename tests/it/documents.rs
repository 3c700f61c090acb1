//! Documents: `_bulk`, the single-document APIs and `_mget`, with Elasticsearch's `_id`, version and
//! result semantics, on the real embedded ClickHouse engine.

use crate::common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn round_trip_keeps_source_bytes_exactly() {
    // _source is returned exactly as sent (mapping-source-field.html): whitespace, key order,
    // number spelling and unicode escapes included.
    let src = r#"{ "msg" : "Hello  World", "z":1.50, "a":[3,1,2], "u":"\u00e9t\u00e9", "nested": {"k": null} }"#;
    let body = format!("{{\"index\":{{\"_index\":\"rt-exact\",\"_id\":\"doc-1\"}}}}\n{src}\n");
    let r = bulk("/_bulk?refresh=true", &body).await;
    assert_eq!(r.json()["errors"], false, "{}", r.text);

    let g = get("/rt-exact/_doc/doc-1").await;
    assert_eq!(g.status, 200);
    assert!(
        g.text.contains(src),
        "GET must embed the original bytes: {}",
        g.text
    );
    let v = g.json();
    assert_eq!(v["found"], true);
    assert_eq!(v["_version"], 1);
    assert_eq!(v["_index"], "rt-exact");

    let s = get("/rt-exact/_source/doc-1").await;
    assert_eq!(s.text, src);

    let hits = json_req(
        "POST",
        "/rt-exact/_search",
        &json!({"query": {"match_all": {}}}),
    )
    .await;
    assert!(
        hits.text.contains(src),
        "search must embed the original bytes: {}",
        hits.text
    );
    let v = hits.json();
    assert_eq!(v["hits"]["total"], json!({"value": 1, "relation": "eq"}));
    assert_eq!(v["hits"]["hits"][0]["_id"], "doc-1");
    assert_eq!(v["hits"]["hits"][0]["_score"], 1.0);
    assert_eq!(v["hits"]["max_score"], 1.0);
    assert_eq!(v["timed_out"], false);
    assert_eq!(v["_shards"]["failed"], 0);
}

#[tokio::test]
async fn bulk_items_have_elasticsearch_shape() {
    // docs-bulk.html: per-item _index, _id, _version, result, _shards, _seq_no, _primary_term, status.
    let body = "{\"index\":{\"_index\":\"bulk-shape\",\"_id\":\"1\"}}\n{\"a\":1}\n\
{\"create\":{\"_index\":\"bulk-shape\",\"_id\":\"2\"}}\n{\"a\":2}\n\
{\"index\":{\"_index\":\"bulk-shape\"}}\n{\"a\":3}\n\
{\"update\":{\"_index\":\"bulk-shape\",\"_id\":\"1\"}}\n{\"doc\":{\"b\":\"x\"}}\n\
{\"delete\":{\"_index\":\"bulk-shape\",\"_id\":\"2\"}}\n\
{\"delete\":{\"_index\":\"bulk-shape\",\"_id\":\"nope\"}}\n";
    let r = bulk("/_bulk", body).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["errors"], false);
    assert!(v["took"].is_u64());
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 6);
    let i0 = &items[0]["index"];
    assert_eq!(i0["_index"], "bulk-shape");
    assert_eq!(i0["_id"], "1");
    assert_eq!(i0["_version"], 1);
    assert_eq!(i0["result"], "created");
    assert_eq!(i0["status"], 201);
    assert_eq!(i0["_primary_term"], 1);
    assert_eq!(
        i0["_shards"],
        json!({"total": 1, "successful": 1, "failed": 0})
    );
    assert_eq!(items[1]["create"]["status"], 201);
    // Auto-generated ids: 20 URL-safe characters (TimeBasedUUIDGenerator).
    let auto = items[2]["index"]["_id"].as_str().unwrap();
    assert_eq!(auto.len(), 20);
    assert!(
        auto.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    );
    assert_eq!(items[3]["update"]["result"], "updated");
    assert_eq!(items[3]["update"]["_version"], 2);
    assert_eq!(items[3]["update"]["status"], 200);
    assert_eq!(items[4]["delete"]["result"], "deleted");
    assert_eq!(items[4]["delete"]["status"], 200);
    assert_eq!(items[5]["delete"]["result"], "not_found");
    assert_eq!(items[5]["delete"]["status"], 404);
    // Sequence numbers increase within the index.
    let seqs: Vec<u64> = items
        .iter()
        .map(|i| {
            i.as_object().unwrap().values().next().unwrap()["_seq_no"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    let d1 = get("/bulk-shape/_doc/1").await.json();
    assert_eq!(d1["_source"], json!({"a": 1, "b": "x"}));
    assert_eq!(d1["_version"], 2);
    assert_eq!(get("/bulk-shape/_doc/2").await.status, 404);
}

#[tokio::test]
async fn same_id_overwrites_and_create_conflicts() {
    // docs-index_.html: indexing an existing id replaces it (result updated, version + 1);
    // op_type=create / _create on an existing id is a 409 version_conflict_engine_exception.
    let r = json_req("PUT", "/ow-test/_doc/1", &json!({"v": 1})).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["result"], "created");
    let r = json_req("PUT", "/ow-test/_doc/1", &json!({"v": 2})).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["result"], "updated");
    assert_eq!(v["_version"], 2);
    let r = json_req("PUT", "/ow-test/_create/1", &json!({"v": 3})).await;
    let e = assert_es_error(&r, 409, "version_conflict_engine_exception");
    assert_eq!(
        e["reason"],
        "[1]: version conflict, document already exists (current version [2])"
    );
    assert_eq!(e["index"], "ow-test");
    let r = json_req("PUT", "/ow-test/_doc/1?op_type=create", &json!({"v": 3})).await;
    assert_es_error(&r, 409, "version_conflict_engine_exception");
    // Only one live document with that id, holding the latest source.
    let c = get("/ow-test/_count").await.json();
    assert_eq!(c["count"], 1);
    assert_eq!(
        get("/ow-test/_doc/1").await.json()["_source"],
        json!({"v": 2})
    );
    // Bulk create conflict: a per-item 409, the rest of the request still lands.
    let body = "{\"create\":{\"_index\":\"ow-test\",\"_id\":\"1\"}}\n{\"v\":9}\n{\"create\":{\"_index\":\"ow-test\",\"_id\":\"2\"}}\n{\"v\":9}\n";
    let v = bulk("/_bulk", body).await.json();
    assert_eq!(v["errors"], true);
    assert_eq!(v["items"][0]["create"]["status"], 409);
    assert_eq!(
        v["items"][0]["create"]["error"]["type"],
        "version_conflict_engine_exception"
    );
    assert_eq!(v["items"][1]["create"]["status"], 201);
}

#[tokio::test]
async fn delete_then_reindex_continues_versions() {
    // Deleting gives result deleted; a missing doc gives 404 not_found; re-indexing after a delete
    // continues the version (within gc_deletes) and is "created".
    json_req("PUT", "/dv-test/_doc/a", &json!({"x": 1})).await;
    let r = req("DELETE", "/dv-test/_doc/a", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["result"], "deleted");
    assert_eq!(r.json()["_version"], 2);
    let r = req("DELETE", "/dv-test/_doc/a", None).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["result"], "not_found");
    let r = get("/dv-test/_doc/a").await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        json!({"_index": "dv-test", "_id": "a", "found": false})
    );
    assert_eq!(req("HEAD", "/dv-test/_doc/a", None).await.status, 404);
    let r = json_req("PUT", "/dv-test/_doc/a", &json!({"x": 2})).await;
    assert_eq!(r.json()["result"], "created");
    assert!(r.json()["_version"].as_u64().unwrap() > 2);
    assert_eq!(req("HEAD", "/dv-test/_doc/a", None).await.status, 200);
    // Deleting from an index that does not exist: index_not_found (deletes do not create indices).
    let r = req("DELETE", "/dv-missing-index/_doc/a", None).await;
    assert_es_error(&r, 404, "index_not_found_exception");
    assert_eq!(req("HEAD", "/dv-missing-index", None).await.status, 404);
}

#[tokio::test]
async fn update_api_semantics() {
    // docs-update.html: partial doc merge, noop detection, doc_as_upsert, upsert, missing doc 404.
    json_req(
        "PUT",
        "/up-test/_doc/1",
        &json!({"a": {"b": 1, "c": 2}, "t": ["x"]}),
    )
    .await;
    let r = json_req(
        "POST",
        "/up-test/_update/1",
        &json!({"doc": {"a": {"b": 5}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["result"], "updated");
    assert_eq!(
        get("/up-test/_doc/1").await.json()["_source"],
        json!({"a": {"b": 5, "c": 2}, "t": ["x"]})
    );
    let r = json_req(
        "POST",
        "/up-test/_update/1",
        &json!({"doc": {"a": {"b": 5}}}),
    )
    .await;
    assert_eq!(r.json()["result"], "noop");
    assert_eq!(r.json()["_version"], 2);
    let r = json_req("POST", "/up-test/_update/2", &json!({"doc": {"z": 1}})).await;
    let e = assert_es_error(&r, 404, "document_missing_exception");
    assert_eq!(e["reason"], "[2]: document missing");
    let r = json_req(
        "POST",
        "/up-test/_update/2",
        &json!({"doc": {"z": 1}, "doc_as_upsert": true}),
    )
    .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["result"], "created");
    let r = json_req(
        "POST",
        "/up-test/_update/3",
        &json!({"doc": {"z": 1}, "upsert": {"z": 0}}),
    )
    .await;
    assert_eq!(r.json()["result"], "created");
    assert_eq!(
        get("/up-test/_doc/3").await.json()["_source"],
        json!({"z": 0})
    );
    let r = json_req(
        "POST",
        "/up-test/_update/3",
        &json!({"script": {"source": "ctx._source.z++"}}),
    )
    .await;
    assert_eq!(r.status, 400);
    let r = json_req("POST", "/up-test/_update/3", &json!({"dox": {}})).await;
    assert_es_error(&r, 400, "x_content_parse_exception");
}

#[tokio::test]
async fn optimistic_concurrency_with_if_seq_no() {
    // optimistic-concurrency-control.html
    let r = json_req("PUT", "/occ-test/_doc/1", &json!({"v": 1}))
        .await
        .json();
    let seq = r["_seq_no"].as_u64().unwrap();
    let ok = json_req(
        "PUT",
        &format!("/occ-test/_doc/1?if_seq_no={seq}&if_primary_term=1"),
        &json!({"v": 2}),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    let stale = json_req(
        "PUT",
        &format!("/occ-test/_doc/1?if_seq_no={seq}&if_primary_term=1"),
        &json!({"v": 3}),
    )
    .await;
    let e = assert_es_error(&stale, 409, "version_conflict_engine_exception");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("required seqNo [{seq}]")),
        "{e}"
    );
}

#[tokio::test]
async fn auto_id_post_and_get_source_filtering() {
    let r = json_req(
        "POST",
        "/ai-test/_doc?refresh=true",
        &json!({"user": {"id": "u1", "name": "n"}, "m": 1}),
    )
    .await;
    assert_eq!(r.status, 201);
    let v = r.json();
    assert_eq!(v["forced_refresh"], true);
    let id = v["_id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 20);
    let g = get(&format!("/ai-test/_doc/{id}?_source_includes=user.id"))
        .await
        .json();
    assert_eq!(g["_source"], json!({"user": {"id": "u1"}}));
    let g = get(&format!("/ai-test/_doc/{id}?_source=false"))
        .await
        .json();
    assert!(g.get("_source").is_none());
    assert_eq!(g["found"], true);
    let g = get(&format!("/ai-test/_doc/{id}?_source_excludes=user"))
        .await
        .json();
    assert_eq!(g["_source"], json!({"m": 1}));
    let r = get("/ai-test/_source/missing").await;
    assert_es_error(&r, 404, "resource_not_found_exception");
}

#[tokio::test]
async fn mget_by_docs_and_ids() {
    // docs-multi-get.html
    let body = "{\"index\":{\"_index\":\"mget-a\",\"_id\":\"1\"}}\n{\"a\":1}\n{\"index\":{\"_index\":\"mget-b\",\"_id\":\"2\"}}\n{\"b\":2}\n";
    bulk("/_bulk", body).await;
    let r = json_req("POST", "/_mget", &json!({"docs": [{"_index": "mget-a", "_id": "1"}, {"_index": "mget-b", "_id": "2"}, {"_index": "mget-a", "_id": "x"}, {"_index": "mget-nope", "_id": "1"}]})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["docs"][0]["_source"], json!({"a": 1}));
    assert_eq!(v["docs"][1]["_source"], json!({"b": 2}));
    assert_eq!(v["docs"][2]["found"], false);
    assert_eq!(v["docs"][3]["error"]["type"], "index_not_found_exception");
    let v = json_req("POST", "/mget-a/_mget", &json!({"ids": ["1", "zz"]}))
        .await
        .json();
    assert_eq!(v["docs"][0]["found"], true);
    assert_eq!(v["docs"][1]["found"], false);
}

#[tokio::test]
async fn malformed_bulk_bodies_fail_whole_and_write_nothing() {
    // BulkRequestParser validates every action line before any item runs.
    let body =
        "{\"index\":{\"_index\":\"mal-test\",\"_id\":\"1\"}}\n{\"a\":1}\n{\"bogus\":{}}\n{}\n";
    let r = bulk("/_bulk", body).await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .contains("Malformed action/metadata line [3]"),
        "{e}"
    );
    assert_eq!(
        req("HEAD", "/mal-test", None).await.status,
        404,
        "nothing may be written"
    );
    let r = bulk("/_bulk", "{\"index\":{\"_index\":\"mal-test\"}}\n{\"a\":1}").await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert_eq!(
        e["reason"],
        "The bulk request must be terminated by a newline [\\n]"
    );
    let r = bulk("/_bulk", "{\"index\":{}}\n{\"a\":1}\n").await;
    let e = assert_es_error(&r, 400, "action_request_validation_exception");
    assert_eq!(e["reason"], "Validation Failed: 1: index is missing;");
    let r = bulk("/_bulk", "").await;
    assert_es_error(&r, 400, "action_request_validation_exception");
}

#[tokio::test]
async fn bad_documents_fail_alone() {
    // A document that does not fit the mapping fails its own item (document_parsing_exception);
    // the other items of the request still land.
    let mapping = json!({"mappings": {"properties": {"n": {"type": "long"}}}});
    assert_eq!(json_req("PUT", "/bad-docs", &mapping).await.status, 200);
    let body = "{\"index\":{\"_index\":\"bad-docs\",\"_id\":\"1\"}}\n{\"n\":\"abc\"}\n\
{\"index\":{\"_index\":\"bad-docs\",\"_id\":\"2\"}}\n{\"n\":5}\n\
{\"index\":{\"_index\":\"bad-docs\",\"_id\":\"3\"}}\n{not json}\n\
{\"index\":{\"_index\":\"bad-docs\",\"_id\":\"4\"}}\n{\"n\":\"7\"}\n";
    let v = bulk("/_bulk?refresh=true", body).await.json();
    assert_eq!(v["errors"], true);
    let st: Vec<u64> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["index"]["status"].as_u64().unwrap())
        .collect();
    assert_eq!(st, [400, 201, 400, 201], "{v}");
    let e = &v["items"][0]["index"]["error"];
    assert_eq!(e["type"], "document_parsing_exception");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .contains("failed to parse field [n] of type [long] in document with id '1'"),
        "{e}"
    );
    assert_eq!(
        v["items"][2]["index"]["error"]["type"],
        "document_parsing_exception"
    );
    assert_eq!(get("/bad-docs/_count").await.json()["count"], 2);
    // Numeric strings are coerced (coerce: true by default), _source stays as sent.
    assert_eq!(
        get("/bad-docs/_doc/4").await.json()["_source"],
        json!({"n": "7"})
    );
    let hits = json_req(
        "POST",
        "/bad-docs/_search",
        &json!({"query": {"term": {"n": 7}}}),
    )
    .await
    .json();
    assert_eq!(hits["hits"]["total"]["value"], 1);
}

#[tokio::test]
async fn dynamic_mapping_follows_elasticsearch_rules() {
    // dynamic-field-mapping.html: string → text + keyword(ignore_above 256), date detection,
    // long, float, boolean, objects → properties.
    let doc = json!({"msg": "hello", "when": "2024-01-02T03:04:05Z", "n": 5, "f": 1.5, "ok": true, "obj": {"inner": "x"}, "tags": ["a", "b"]});
    json_req("PUT", "/dyn-test/_doc/1?refresh=true", &doc).await;
    let m = get("/dyn-test/_mapping").await.json();
    let p = &m["dyn-test"]["mappings"]["properties"];
    assert_eq!(
        p["msg"],
        json!({"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}})
    );
    assert_eq!(p["when"]["type"], "date");
    assert_eq!(p["n"]["type"], "long");
    assert_eq!(p["f"]["type"], "float");
    assert_eq!(p["ok"]["type"], "boolean");
    assert_eq!(p["obj"]["properties"]["inner"]["type"], "text");
    assert_eq!(p["tags"]["type"], "text");
    // The new fields are searchable right away.
    for q in [
        json!({"term": {"msg.keyword": "hello"}}),
        json!({"term": {"n": 5}}),
        json!({"term": {"ok": true}}),
        json!({"term": {"obj.inner.keyword": "x"}}),
        json!({"term": {"tags.keyword": "b"}}),
        json!({"range": {"when": {"gte": "2024-01-02", "lt": "2024-01-03"}}}),
        json!({"range": {"f": {"gt": 1, "lte": 1.5}}}),
        json!({"exists": {"field": "obj"}}),
    ] {
        let v = json_req("POST", "/dyn-test/_search", &json!({"query": q}))
            .await
            .json();
        assert_eq!(v["hits"]["total"]["value"], 1, "query {q}: {v}");
    }
}

#[tokio::test]
async fn strict_dynamic_mapping_rejects_new_fields() {
    // dynamic.html: "strict" rejects documents with unknown fields.
    let mapping =
        json!({"mappings": {"dynamic": "strict", "properties": {"a": {"type": "keyword"}}}});
    assert_eq!(json_req("PUT", "/strict-test", &mapping).await.status, 200);
    let r = json_req("PUT", "/strict-test/_doc/1", &json!({"a": "x", "b": 1})).await;
    let e = assert_es_error(&r, 400, "strict_dynamic_mapping_exception");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .contains("dynamic introduction of [b] within [_doc] is not allowed"),
        "{e}"
    );
    let r = json_req("PUT", "/strict-test/_doc/1", &json!({"a": "x"})).await;
    assert_eq!(r.status, 201);
}

#[tokio::test]
async fn scalar_field_later_given_an_array_keeps_all_values() {
    // Any field may hold one value or many (array.html); a field first seen single-valued still
    // matches every value of a later array.
    json_req("PUT", "/arr-test/_doc/1", &json!({"tag": "a"})).await;
    json_req("PUT", "/arr-test/_doc/2", &json!({"tag": ["b", "c"]})).await;
    for (t, n) in [("a", 1), ("b", 1), ("c", 1)] {
        let v = json_req(
            "POST",
            "/arr-test/_search",
            &json!({"query": {"term": {"tag.keyword": t}}}),
        )
        .await
        .json();
        assert_eq!(v["hits"]["total"]["value"], n, "{t}: {v}");
    }
    assert_eq!(
        get("/arr-test/_doc/1").await.json()["_source"],
        json!({"tag": "a"})
    );
}

#[tokio::test]
async fn large_bulk_is_batched_and_complete() {
    // More documents than one ClickHouse insert batch (the harness uses 500).
    let mut body = String::new();
    for i in 0..1234 {
        body.push_str(&format!(
            "{{\"index\":{{\"_id\":\"{i}\"}}}}\n{{\"i\":{i},\"even\":{}}}\n",
            i % 2 == 0
        ));
    }
    let v = bulk("/big-test/_bulk", &body).await.json();
    assert_eq!(v["errors"], false);
    assert_eq!(v["items"].as_array().unwrap().len(), 1234);
    assert_eq!(get("/big-test/_count").await.json()["count"], 1234);
    let v = json_req(
        "POST",
        "/big-test/_count",
        &json!({"query": {"term": {"even": true}}}),
    )
    .await
    .json();
    assert_eq!(v["count"], 617);
    let _: Value = v;
}

#[tokio::test]
async fn arrays_of_objects_with_uneven_fields_all_land() {
    // Elasticsearch accepts arrays of objects whose objects have different fields (array.html,
    // nested.html). ClickHouse groups dotted Array columns into Nested structures that require
    // equal lengths; every document here must still be stored and found (regression: rows were
    // acknowledged and then silently dropped).
    let mapping = json!({"mappings": {"properties": {"o": {"type": "nested"}}}});
    assert_eq!(
        json_req("PUT", "/uneven-nested", &mapping).await.status,
        200
    );
    let docs = [
        json!({"o": [{"a": "p", "n": 1}, {"a": "q", "n": 2}]}),
        json!({"o": [{"a": "p", "n": 2, "c": "red"}, {"a": "q", "c": "blue"}]}),
        json!({"o": [{"a": "q", "n": 1}, {"a": "p"}]}),
    ];
    for (i, d) in docs.iter().enumerate() {
        let r = bulk(
            "/uneven-nested/_bulk",
            &format!("{{\"index\":{{\"_id\":\"{i}\"}}}}\n{d}\n"),
        )
        .await;
        assert_eq!(r.json()["errors"], false, "{}", r.text);
    }
    assert_eq!(get("/uneven-nested/_count").await.json()["count"], 3);
    assert_eq!(
        get("/uneven-nested/_doc/2").await.json()["_source"],
        docs[2]
    );
    // Plain objects in arrays (ecommerce "products"), and a multi-valued text field under an object.
    let body = "{\"index\":{\"_id\":\"1\"}}\n{\"products\":[{\"sku\":\"A\",\"price\":1.5,\"tags\":[\"x\",\"y\"]},{\"sku\":\"B\"}],\"user\":{\"notes\":[\"first note\",\"a second longer note\"],\"ids\":[1]}}\n\
{\"index\":{\"_id\":\"2\"}}\n{\"products\":[{\"price\":2}],\"user\":{\"notes\":[\"other\"],\"ids\":[1,2,3]}}\n";
    let r = bulk("/uneven-objects/_bulk?refresh=true", body).await;
    assert_eq!(r.json()["errors"], false, "{}", r.text);
    assert_eq!(get("/uneven-objects/_count").await.json()["count"], 2);
    for (q, n) in [
        (json!({"term": {"products.sku.keyword": "B"}}), 1),
        (json!({"range": {"products.price": {"gte": 2}}}), 1),
        (json!({"match": {"user.notes": "longer"}}), 1),
        (json!({"term": {"user.ids": 3}}), 1),
    ] {
        let v = json_req("POST", "/uneven-objects/_search", &json!({"query": q}))
            .await
            .json();
        assert_eq!(v["hits"]["total"]["value"], n, "{q}: {v}");
    }
}

#[tokio::test]
async fn pipelined_auto_id_bulk_keeps_order_and_semantics() {
    // Elasticsearch answers a bulk request with one item per action, in request order, each
    // document operation of a shard getting a higher sequence number than the ones before it;
    // a document that does not fit the mapping fails only its own item, and new fields are mapped
    // as they appear (docs-bulk.html "Response body": items "in the order they were submitted";
    // optimistic-concurrency-control.html: "the sequence number is increased for each operation").
    // Here batches of generated-id documents (the harness batches by 500) are prepared while the
    // previous batch is being inserted; a batch with a new field changes the table in between, and
    // explicit-id actions at the end run after the pipelined inserts.
    let mapping = json!({"mappings": {"properties": {"n": {"type": "long"}}}});
    assert_eq!(json_req("PUT", "/pipe-test", &mapping).await.status, 200);
    let auto = 1300usize;
    let mut body = String::new();
    for i in 0..auto {
        let doc = if i == 700 {
            json!({"n": "not a number"})
        } else if i >= 900 {
            json!({"n": i, "extra": format!("e{i}")})
        } else {
            json!({"n": i})
        };
        body.push_str("{\"index\":{}}\n");
        body.push_str(&doc.to_string());
        body.push('\n');
    }
    body.push_str("{\"create\":{\"_id\":\"x\"}}\n{\"n\":-1}\n");
    body.push_str("{\"create\":{\"_id\":\"x\"}}\n{\"n\":-2}\n");
    body.push_str("{\"index\":{\"_id\":\"x\"}}\n{\"n\":-3}\n");
    let v = bulk("/pipe-test/_bulk?refresh=true", &body).await.json();
    assert_eq!(v["errors"], true);
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), auto + 3);
    let mut last_seq = None;
    let mut ids = std::collections::HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let (op, r) = item.as_object().unwrap().iter().next().unwrap();
        let want = match i {
            700 => 400,
            i if i == auto + 1 => 409,
            i if i == auto + 2 => 200,
            _ => 201,
        };
        assert_eq!(r["status"], want, "item {i}: {item}");
        assert_eq!(
            op,
            if i == auto || i == auto + 1 {
                "create"
            } else {
                "index"
            }
        );
        if want < 300 {
            let seq = r["_seq_no"].as_u64().unwrap();
            assert!(
                last_seq.is_none_or(|l| seq > l),
                "item {i}: {seq} after {last_seq:?}"
            );
            last_seq = Some(seq);
            if i < auto {
                assert!(
                    ids.insert(r["_id"].as_str().unwrap().to_string()),
                    "item {i}"
                );
            }
        }
    }
    assert_eq!(
        items[700]["index"]["error"]["type"],
        "document_parsing_exception"
    );
    assert_eq!(items[auto + 2]["index"]["_version"], 2);
    // 1299 generated-id documents plus "x".
    assert_eq!(get("/pipe-test/_count").await.json()["count"], auto);
    let with_extra = json_req(
        "POST",
        "/pipe-test/_count",
        &json!({"query": {"exists": {"field": "extra"}}}),
    )
    .await
    .json();
    assert_eq!(with_extra["count"], auto - 900);
    let some = &items[1234]["index"];
    let doc = get(&format!(
        "/pipe-test/_doc/{}",
        some["_id"].as_str().unwrap()
    ))
    .await
    .json();
    assert_eq!(doc["_source"], json!({"n": 1234, "extra": "e1234"}));
    assert_eq!(doc["_seq_no"], some["_seq_no"]);
    assert_eq!(
        get("/pipe-test/_doc/x").await.json()["_source"],
        json!({"n": -3})
    );
}

#[tokio::test]
async fn dynamic_mapping_in_the_middle_of_a_batch_applies_to_the_documents_after_it() {
    // Elasticsearch maps a new field when the first document that has it is indexed, and every
    // later document is parsed against that mapping: a later string in a field that became `long`
    // fails its own item (`document_parsing_exception`), a number in a field that became `text` is
    // kept as text (docs: dynamic-field-mapping.html "Dynamic field mapping"; the items of a bulk
    // request in the order they were submitted, docs-bulk.html). elastichouse prepares a batch's
    // documents on all cores against the batch's first mapping, then re-prepares each document
    // that follows a mapping change: this batch changes the mapping at documents 100 and 250
    // (one batch of the harness's 500, split across threads), and documents on either side of
    // each change must come out as if prepared one after the other.
    let mut body = String::new();
    for i in 0..500usize {
        let doc = match i {
            100 => json!({"n": i, "g": 5}),
            250 => json!({"n": i, "t": "some words"}),
            300 | 420 => json!({"n": i, "g": "not a number"}),
            i if i > 250 && i % 2 == 0 => json!({"n": i, "t": i, "g": i}),
            i if i > 100 => json!({"n": i, "g": i}),
            _ => json!({"n": i}),
        };
        body.push_str("{\"index\":{}}\n");
        body.push_str(&doc.to_string());
        body.push('\n');
    }
    let v = bulk("/prep-mid-batch/_bulk?refresh=true", &body)
        .await
        .json();
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 500);
    for (i, item) in items.iter().enumerate() {
        let want = if i == 300 || i == 420 { 400 } else { 201 };
        assert_eq!(item["index"]["status"], want, "item {i}: {item}");
    }
    assert_eq!(
        items[300]["index"]["error"]["type"],
        "document_parsing_exception"
    );
    let m = get("/prep-mid-batch/_mapping").await.json();
    let props = &m["prep-mid-batch"]["mappings"]["properties"];
    assert_eq!(props["g"]["type"], "long", "{m}");
    assert_eq!(props["t"]["type"], "text", "{m}");
    assert_eq!(get("/prep-mid-batch/_count").await.json()["count"], 498);
    // The numbers indexed into `t` after it became text are searchable as text tokens.
    let r = json_req(
        "POST",
        "/prep-mid-batch/_search",
        &json!({"query": {"match": {"t": "260"}}}),
    )
    .await
    .json();
    assert_eq!(r["hits"]["total"]["value"], 1, "{r}");
    assert_eq!(
        r["hits"]["hits"][0]["_source"],
        json!({"n": 260, "t": 260, "g": 260})
    );
    let r = json_req(
        "POST",
        "/prep-mid-batch/_count",
        &json!({"query": {"range": {"g": {"gte": 101}}}}),
    )
    .await
    .json();
    // 101..=499 have `g` as a number except 250 (no `g`) and the two refused documents.
    assert_eq!(r["count"], 399 - 1 - 2, "{r}");
}
