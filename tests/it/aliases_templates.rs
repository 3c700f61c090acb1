//! Index aliases, composable index templates, component templates, data streams and
//! `_resolve/index`, on the real embedded ClickHouse engine. Every test uses its own names (and
//! template patterns) because all tests share one daemon.

use crate::common::*;
use serde_json::{Value, json};

async fn ok_json(method: &str, path: &str, body: &Value) -> Value {
    let r = json_req(method, path, body).await;
    assert!(r.status < 300, "{method} {path}: {} {}", r.status, r.text);
    r.json()
}

async fn count(expr: &str) -> u64 {
    let r = get(&format!("/{expr}/_count")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["count"].as_u64().unwrap()
}

#[tokio::test]
async fn aliases_search_both_indices_and_write_to_the_write_index() {
    // aliases.html: an alias points to one or more indices; a search through it searches all of
    // them; writes go to the write index (`is_write_index`), and are refused when an alias points
    // to several indices without one (IndexAbstraction.Alias#getWriteIndex message).
    let r = bulk(
        "/_bulk?refresh=true",
        "{\"index\":{\"_index\":\"al-a1\",\"_id\":\"1\"}}\n{\"n\":1}\n\
         {\"index\":{\"_index\":\"al-a2\",\"_id\":\"2\"}}\n{\"n\":2}\n\
         {\"index\":{\"_index\":\"al-a2\",\"_id\":\"3\"}}\n{\"n\":3}\n",
    )
    .await;
    assert_eq!(r.json()["errors"], false, "{}", r.text);

    let v = ok_json(
        "POST",
        "/_aliases",
        &json!({"actions": [
            {"add": {"index": "al-a1", "alias": "al-both"}},
            {"add": {"indices": ["al-a2"], "aliases": ["al-both", "al-only2"]}}
        ]}),
    )
    .await;
    assert_eq!(v["acknowledged"], true);

    // 1 + 2 documents through the alias; an alias inside a wildcard expression too.
    assert_eq!(count("al-both").await, 3);
    assert_eq!(count("al-only2").await, 2);
    assert_eq!(count("al-both,al-a1").await, 3);
    let hits = ok_json("POST", "/al-both/_search", &json!({"sort": [{"n": "asc"}]})).await;
    let index_of: Vec<&str> = hits["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["_index"].as_str().unwrap())
        .collect();
    assert_eq!(index_of, ["al-a1", "al-a2", "al-a2"]);

    // Two indices, no write index: the write is refused.
    let r = json_req("PUT", "/al-both/_doc/9", &json!({"n": 9})).await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert_eq!(
        e["reason"],
        "no write index is defined for alias [al-both]. The write index may be explicitly disabled using is_write_index=false or the alias points to multiple indices without one being designated as a write index"
    );
    // An alias of one index writes there; the response names the concrete index.
    let r = json_req("PUT", "/al-only2/_doc/4?refresh=true", &json!({"n": 4})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["_index"], "al-a2");

    // A single-document read through an alias of two indices is refused.
    let r = get("/al-both/_doc/1").await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert_eq!(
        e["reason"],
        "alias [al-both] has more than one index associated with it [al-a1, al-a2], can't execute a single index op"
    );

    // Make al-a1 the write index of al-both.
    ok_json(
        "PUT",
        "/al-a1/_alias/al-both",
        &json!({"is_write_index": true}),
    )
    .await;
    let r = bulk(
        "/_bulk?refresh=true",
        "{\"create\":{\"_index\":\"al-both\",\"_id\":\"5\"}}\n{\"n\":5}\n",
    )
    .await;
    assert_eq!(
        r.json()["items"][0]["create"]["_index"],
        "al-a1",
        "{}",
        r.text
    );
    assert_eq!(count("al-a1").await, 2);

    // GET /_alias/{name} (indices-get-alias.html): index → aliases → properties.
    let v = get("/_alias/al-both").await.json();
    assert_eq!(
        v,
        json!({
            "al-a1": {"aliases": {"al-both": {"is_write_index": true}}},
            "al-a2": {"aliases": {"al-both": {}}}
        })
    );
    let v = get("/al-a2/_alias").await.json();
    assert_eq!(
        v,
        json!({"al-a2": {"aliases": {"al-both": {}, "al-only2": {}}}})
    );
    assert_eq!(req("HEAD", "/_alias/al-only2", None).await.status, 200);
    assert_eq!(req("HEAD", "/_alias/al-nope", None).await.status, 404);

    // GET /{index} lists the aliases.
    let v = get("/al-a1").await.json();
    assert_eq!(
        v["al-a1"]["aliases"],
        json!({"al-both": {"is_write_index": true}})
    );

    // _cat/aliases (cat-alias.html): alias index filter routing.index routing.search is_write_index.
    let v = get("/_cat/aliases/al-*?format=json").await.json();
    assert_eq!(
        v,
        json!([
            {"alias": "al-both", "index": "al-a1", "filter": "-", "routing.index": "-", "routing.search": "-", "is_write_index": "true"},
            {"alias": "al-both", "index": "al-a2", "filter": "-", "routing.index": "-", "routing.search": "-", "is_write_index": "-"},
            {"alias": "al-only2", "index": "al-a2", "filter": "-", "routing.index": "-", "routing.search": "-", "is_write_index": "-"}
        ])
    );

    // Remove: the alias is gone from al-a2 only.
    ok_json("DELETE", "/al-a2/_alias/al-both", &json!({})).await;
    assert_eq!(count("al-both").await, 2);
    let r = get("/_alias/al-only2,al-gone").await;
    // RestGetAliasesAction: a missing explicit name → 404 with what was found.
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        json!({"error": "alias [al-gone] missing", "status": 404,
               "al-a2": {"aliases": {"al-only2": {}}}})
    );
}

#[tokio::test]
async fn alias_errors_are_elasticsearch_errors() {
    for i in ["ale-x", "ale-y"] {
        ok_json("PUT", &format!("/{i}"), &json!({})).await;
    }
    ok_json("PUT", "/ale-x/_alias/ale-al", &json!({})).await;
    // AliasValidator: an alias may not have an index's name.
    let r = json_req(
        "POST",
        "/_aliases",
        &json!({"actions": [{"add": {"index": "ale-x", "alias": "ale-y"}}]}),
    )
    .await;
    let e = assert_es_error(&r, 400, "invalid_alias_name_exception");
    assert_eq!(
        e["reason"],
        "Invalid alias name [ale-y]: an index or data stream exists with the same name as the alias"
    );
    // MetadataCreateIndexService#validateIndexName: an index may not have an alias's name.
    let r = json_req("PUT", "/ale-al", &json!({})).await;
    let e = assert_es_error(&r, 400, "invalid_index_name_exception");
    assert_eq!(
        e["reason"],
        "Invalid index name [ale-al], already exists as alias"
    );
    // Removing an alias the index does not have: AliasesNotFoundException.
    let r = req("DELETE", "/ale-y/_alias/ale-al", None).await;
    let e = assert_es_error(&r, 404, "aliases_not_found_exception");
    assert_eq!(e["reason"], "aliases [ale-al] missing");
    // An index that does not exist.
    let r = json_req("PUT", "/ale-missing/_alias/ale-b", &json!({})).await;
    assert_es_error(&r, 404, "index_not_found_exception");
    // Deleting an alias as if it were an index.
    let r = req("DELETE", "/ale-al", None).await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert!(e["reason"].as_str().unwrap().contains("matches an alias"));
    // Two write indices for one alias.
    ok_json(
        "PUT",
        "/ale-x/_alias/ale-w",
        &json!({"is_write_index": true}),
    )
    .await;
    let r = json_req(
        "PUT",
        "/ale-y/_alias/ale-w",
        &json!({"is_write_index": true}),
    )
    .await;
    let e = assert_es_error(&r, 500, "illegal_state_exception");
    assert_eq!(
        e["reason"],
        "alias [ale-w] has more than one write index [ale-x,ale-y]"
    );
    // …also when an index is created with the alias as its write index.
    let r = json_req(
        "PUT",
        "/ale-z",
        &json!({"aliases": {"ale-w": {"is_write_index": true}}}),
    )
    .await;
    let e = assert_es_error(&r, 500, "illegal_state_exception");
    assert_eq!(
        e["reason"],
        "alias [ale-w] has more than one write index [ale-x,ale-z]"
    );
    // Alias routing is not implemented: a clear 400 naming the feature.
    let r = json_req("PUT", "/ale-x/_alias/ale-f", &json!({"routing": "1"})).await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert!(
        e["reason"].as_str().unwrap().contains("alias routing"),
        "{e}"
    );
    // AliasValidator#validateAliasFilter: a filter that is not a query.
    let r = json_req(
        "PUT",
        "/ale-x/_alias/ale-f",
        &json!({"filter": {"bogus": {"a": 1}}}),
    )
    .await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert_eq!(e["reason"], "failed to parse filter for alias [ale-f]");
    assert_eq!(e["caused_by"]["type"], "parsing_exception", "{e}");
    // docs-bulk.html `require_alias`: the target must be an alias (TransportBulkAction).
    let r = bulk(
        "/_bulk?require_alias=true",
        "{\"index\":{\"_index\":\"ale-x\",\"_id\":\"1\"}}\n{\"a\":1}\n\
         {\"index\":{\"_index\":\"ale-al\",\"_id\":\"2\"}}\n{\"a\":2}\n",
    )
    .await;
    let v = r.json();
    assert_eq!(v["items"][0]["index"]["status"], 404, "{}", r.text);
    assert_eq!(
        v["items"][0]["index"]["error"]["reason"],
        "no such index [ale-x] and [require_alias] request flag is [true] and [ale-x] is not an alias"
    );
    assert_eq!(v["items"][1]["index"]["status"], 201, "{}", r.text);
    assert_eq!(v["items"][1]["index"]["_index"], "ale-x");
    let r = json_req("PUT", "/ale-x/_doc/3?require_alias=true", &json!({"a": 3})).await;
    assert_es_error(&r, 404, "index_not_found_exception");
    let r = json_req("PUT", "/ale-al/_doc/3?require_alias=true", &json!({"a": 3})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    // An unknown action.
    let r = json_req(
        "POST",
        "/_aliases",
        &json!({"actions": [{"rename": {"index": "ale-x", "alias": "z"}}]}),
    )
    .await;
    assert_es_error(&r, 400, "x_content_parse_exception");
}

#[tokio::test]
async fn filtered_aliases_filter_searches_counts_and_aggregations() {
    // indices-aliases.html "filter": a search through a filtered alias sees only the documents
    // that match the filter; several filtered aliases of one index are ORed, and an index also
    // named directly (or through an alias without a filter, or a wildcard matching its name) is
    // searched unfiltered (IndexNameExpressionResolver#filteringAliases,
    // IndicesService#buildAliasFilter).
    let mut body = String::new();
    for n in 1..=9 {
        let index = if n <= 6 { "alf-1" } else { "alf-2" };
        let tag = if n % 3 == 0 { "a" } else { "b" };
        body.push_str(&format!(
            "{{\"index\":{{\"_index\":\"{index}\",\"_id\":\"{n}\"}}}}\n{{\"n\":{n},\"tag\":\"{tag}\"}}\n"
        ));
    }
    let r = bulk("/_bulk?refresh=true", &body).await;
    assert_eq!(r.json()["errors"], false, "{}", r.text);
    // A filter elastichouse cannot translate is refused when the alias is created, not at search
    // time.
    let e = assert_es_error(
        &json_req(
            "PUT",
            "/alf-1/_alias/alf-odd",
            &json!({"filter": {"percolate": {"field": "q"}}}),
        )
        .await,
        400,
        "illegal_argument_exception",
    );
    assert_eq!(e["reason"], "failed to parse filter for alias [alf-odd]");
    ok_json(
        "POST",
        "/_aliases",
        &json!({"actions": [
            {"add": {"indices": ["alf-1", "alf-2"], "alias": "alf-big",
                     "filter": {"range": {"n": {"gte": 5}}}}},
            {"add": {"index": "alf-1", "alias": "alf-small",
                     "filter": {"bool": {"filter": [{"range": {"n": {"lte": 2}}}]}}}},
            {"add": {"index": "alf-2", "alias": "alf-plain"}}
        ]}),
    )
    .await;
    let expect = |pred: &dyn Fn(u64) -> bool| (1..=9).filter(|n| pred(*n)).count() as u64;
    assert_eq!(count("alf-big").await, expect(&|n| n >= 5));
    // Two filtered aliases of alf-1: ORed; alf-2 only through alf-big.
    assert_eq!(
        count("alf-big,alf-small").await,
        expect(&|n| n >= 5 || n <= 2)
    );
    // alf-1 named directly: unfiltered; alf-2 still through alf-big.
    assert_eq!(count("alf-big,alf-1").await, expect(&|n| n <= 6 || n >= 5));
    // alf-2 through an alias without a filter: unfiltered.
    assert_eq!(
        count("alf-small,alf-plain").await,
        expect(&|n| n <= 2 || n >= 7)
    );
    // A wildcard matching the index names: unfiltered.
    assert_eq!(count("alf-*").await, 9);
    // The search's own query is ANDed with the filter; hits, total and aggregations agree.
    let v = ok_json(
        "POST",
        "/alf-big/_search",
        &json!({"query": {"term": {"tag": "a"}}, "size": 20,
                "aggs": {"sum": {"sum": {"field": "n"}}, "tags": {"terms": {"field": "tag.keyword"}}}}),
    )
    .await;
    let want: Vec<u64> = (5..=9).filter(|n| n % 3 == 0).collect();
    let mut got: Vec<u64> = v["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["_source"]["n"].as_u64().unwrap())
        .collect();
    got.sort();
    assert_eq!(got, want);
    assert_eq!(v["hits"]["total"]["value"], want.len());
    assert_eq!(
        v["aggregations"]["sum"]["value"],
        want.iter().sum::<u64>() as f64
    );
    assert_eq!(
        v["aggregations"]["tags"]["buckets"][0]["doc_count"],
        want.len()
    );
    // _msearch and the URL `q=` go through the same resolution.
    let r = bulk(
        "/_msearch",
        "{\"index\":\"alf-small\"}\n{\"size\":0}\n{\"index\":\"alf-1\"}\n{\"size\":0}\n",
    )
    .await;
    let v = r.json();
    assert_eq!(v["responses"][0]["hits"]["total"]["value"], 2, "{}", r.text);
    assert_eq!(v["responses"][1]["hits"]["total"]["value"], 6, "{}", r.text);
    let v = get("/alf-big/_search?q=tag:b&size=0").await.json();
    assert_eq!(
        v["hits"]["total"]["value"],
        expect(&|n| n >= 5 && n % 3 != 0)
    );
    // GET _alias shows the filter as given; _cat/aliases marks filtered aliases with `*`.
    let v = get("/_alias/alf-big").await.json();
    assert_eq!(
        v["alf-1"]["aliases"]["alf-big"]["filter"],
        json!({"range": {"n": {"gte": 5}}})
    );
    let rows = get("/_cat/aliases/alf-*?format=json").await.json();
    for row in rows.as_array().unwrap() {
        let filtered = row["alias"] != "alf-plain";
        assert_eq!(row["filter"], if filtered { "*" } else { "-" }, "{row}");
    }
    // Writes through a filtered alias are not filtered (alf-small has one index, its write index).
    let r = json_req("PUT", "/alf-small/_doc/10?refresh=true", &json!({"n": 10})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["_index"], "alf-1");
    assert_eq!(count("alf-small").await, 2);
    assert_eq!(count("alf-1").await, 7);
}

#[tokio::test]
async fn remove_index_and_add_alias_swap_in_one_request() {
    // indices-aliases.html: `remove_index` deletes an index; together with `add` in one request it
    // replaces an index by an alias of the same name (the whole new state is validated at once).
    ok_json("PUT", "/alsw-old", &json!({})).await;
    bulk(
        "/_bulk?refresh=true",
        "{\"index\":{\"_index\":\"alsw-new\",\"_id\":\"1\"}}\n{\"v\":1}\n",
    )
    .await;
    let v = ok_json(
        "POST",
        "/_aliases",
        &json!({"actions": [
            {"remove_index": {"index": "alsw-old"}},
            {"add": {"index": "alsw-new", "alias": "alsw-old"}}
        ]}),
    )
    .await;
    assert_eq!(v["acknowledged"], true);
    // A single-document read through an alias of one index (concreteSingleIndex).
    let g = get("/alsw-old/_doc/1").await;
    assert_eq!(g.status, 200, "{}", g.text);
    assert_eq!(g.json()["_index"], "alsw-new");
    assert_eq!(count("alsw-old").await, 1);
    assert_eq!(
        get("/alsw-new").await.json()["alsw-new"]["aliases"],
        json!({"alsw-old": {}})
    );
    // Create-index with aliases in the body (indices-create-index.html).
    ok_json(
        "PUT",
        "/alsw-c",
        &json!({"aliases": {"alsw-c-al": {"is_hidden": false}}}),
    )
    .await;
    assert_eq!(
        get("/_alias/alsw-c-al").await.json(),
        json!({"alsw-c": {"aliases": {"alsw-c-al": {"is_hidden": false}}}})
    );
    // A hidden alias is not matched by a plain wildcard, only by name (aliases.html#hidden).
    ok_json("PUT", "/alsw-h", &json!({})).await;
    ok_json(
        "PUT",
        "/alsw-h/_alias/alsw-hidden",
        &json!({"is_hidden": true}),
    )
    .await;
    ok_json("PUT", "/alsw-hi", &json!({})).await;
    let v = get("/alsw-hid*/_mapping").await.json();
    assert!(v.as_object().unwrap().is_empty(), "{v}");
    let v = get("/alsw-hidden/_mapping").await.json();
    assert!(v.get("alsw-h").is_some(), "{v}");
}

#[tokio::test]
async fn index_templates_compose_components_then_template_then_request() {
    // index-templates.html / indices-component-template.html: component templates apply in
    // `composed_of` order, then the index template's own `template`, then the create-index request;
    // the matching template with the highest priority wins.
    ok_json(
        "PUT",
        "/_component_template/tpl-ct-a",
        &json!({"template": {"mappings": {"properties": {
            "host": {"type": "keyword"}, "bytes": {"type": "integer"}}},
            "settings": {"number_of_shards": 1}}}),
    )
    .await;
    ok_json(
        "PUT",
        "/_component_template/tpl-ct-b",
        &json!({"template": {"mappings": {"properties": {"bytes": {"type": "long"}}}}}),
    )
    .await;
    ok_json(
        "PUT",
        "/_index_template/tpl-low",
        &json!({"index_patterns": ["tpl-*"], "priority": 1,
                "template": {"mappings": {"properties": {"low": {"type": "keyword"}}}}}),
    )
    .await;
    ok_json(
        "PUT",
        "/_index_template/tpl-high",
        &json!({"index_patterns": ["tpl-logs-*"], "priority": 10,
                "composed_of": ["tpl-ct-a", "tpl-ct-b"],
                "template": {"mappings": {"properties": {"msg": {"type": "text"}}},
                             "aliases": {"tpl-all-logs": {}, "{index}-alias": {}}}}),
    )
    .await;

    // Auto-created by a write: shaped by tpl-high only.
    let r = json_req(
        "POST",
        "/tpl-logs-1/_doc?refresh=true",
        &json!({"host": "a", "bytes": 5, "msg": "x y"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let v = get("/tpl-logs-1").await.json();
    let props = &v["tpl-logs-1"]["mappings"]["properties"];
    assert_eq!(props["host"]["type"], "keyword");
    assert_eq!(
        props["bytes"]["type"], "long",
        "tpl-ct-b overrides tpl-ct-a"
    );
    assert_eq!(props["msg"]["type"], "text");
    assert!(
        props.get("low").is_none(),
        "the lower-priority template does not apply: {props}"
    );
    // `{index}` in a template alias name becomes the index name (indices-put-template.html).
    assert_eq!(
        v["tpl-logs-1"]["aliases"],
        json!({"tpl-all-logs": {}, "tpl-logs-1-alias": {}})
    );
    assert_eq!(count("tpl-all-logs").await, 1);

    // Explicit create: the request's mapping wins over the template's.
    ok_json(
        "PUT",
        "/tpl-logs-2",
        &json!({"mappings": {"properties": {"host": {"type": "text"}}}}),
    )
    .await;
    let v = get("/tpl-logs-2/_mapping").await.json();
    assert_eq!(
        v["tpl-logs-2"]["mappings"]["properties"]["host"]["type"],
        "text"
    );
    assert_eq!(
        v["tpl-logs-2"]["mappings"]["properties"]["bytes"]["type"],
        "long"
    );
    // Another name only matches tpl-low.
    ok_json("PUT", "/tpl-other", &json!({})).await;
    let v = get("/tpl-other/_mapping").await.json();
    assert_eq!(
        v["tpl-other"]["mappings"]["properties"]["low"]["type"],
        "keyword"
    );

    // GET shapes (indices-get-template.html, getting-component-templates.html).
    let v = get("/_index_template/tpl-high").await.json();
    assert_eq!(v["index_templates"][0]["name"], "tpl-high");
    let t = &v["index_templates"][0]["index_template"];
    assert_eq!(t["index_patterns"], json!(["tpl-logs-*"]));
    assert_eq!(t["composed_of"], json!(["tpl-ct-a", "tpl-ct-b"]));
    assert_eq!(t["priority"], 10);
    let v = get("/_component_template/tpl-ct-a").await.json();
    assert_eq!(
        v["component_templates"][0]["component_template"]["template"]["settings"],
        json!({"index": {"number_of_shards": "1"}})
    );
    assert_eq!(
        get("/_index_template/tpl-*").await.json()["index_templates"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        req("HEAD", "/_index_template/tpl-low", None).await.status,
        200
    );
    assert_eq!(
        req("HEAD", "/_index_template/tpl-none", None).await.status,
        404
    );

    // _simulate_index (indices-simulate-index.html).
    let v = json_req(
        "POST",
        "/_index_template/_simulate_index/tpl-logs-9",
        &json!({}),
    )
    .await
    .json();
    assert_eq!(
        v["template"]["mappings"]["properties"]["bytes"]["type"],
        "long"
    );
    assert_eq!(
        v["template"]["aliases"],
        json!({"tpl-all-logs": {}, "tpl-logs-9-alias": {}})
    );
    assert_eq!(
        v["overlapping"],
        json!([{"name": "tpl-low", "index_patterns": ["tpl-*"]}])
    );

    // A component template in use cannot be deleted (MetadataIndexTemplateService).
    let r = req("DELETE", "/_component_template/tpl-ct-a", None).await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert_eq!(
        e["reason"],
        "component templates [tpl-ct-a] cannot be removed as they are still in use by index templates [tpl-high]"
    );
    ok_json("DELETE", "/_index_template/tpl-high", &json!({})).await;
    ok_json("DELETE", "/_component_template/tpl-ct-a", &json!({})).await;
    let r = get("/_index_template/tpl-high").await;
    let e = assert_es_error(&r, 404, "resource_not_found_exception");
    assert_eq!(e["reason"], "index template matching [tpl-high] not found");
    let r = req("DELETE", "/_index_template/tpl-high", None).await;
    assert_es_error(&r, 404, "index_template_missing_exception");
    let r = get("/_component_template/tpl-ct-a").await;
    assert_es_error(&r, 404, "resource_not_found_exception");
}

#[tokio::test]
async fn index_template_validation() {
    // MetadataIndexTemplateService#validateV2TemplateRequest / #addIndexTemplateV2.
    let r = json_req(
        "PUT",
        "/_index_template/tplv-a",
        &json!({"index_patterns": ["tplv-*"], "composed_of": ["tplv-nope"]}),
    )
    .await;
    let e = assert_es_error(&r, 400, "invalid_index_template_exception");
    assert_eq!(
        e["reason"],
        "index_template [tplv-a] invalid, cause [index template [tplv-a] specifies component templates [tplv-nope] that do not exist]"
    );
    ok_json(
        "PUT",
        "/_index_template/tplv-a",
        &json!({"index_patterns": ["tplv-*"]}),
    )
    .await;
    let r = json_req(
        "PUT",
        "/_index_template/tplv-b",
        &json!({"index_patterns": ["tplv-x*"]}),
    )
    .await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert_eq!(
        e["reason"],
        "index template [tplv-b] has index patterns [tplv-x*] matching patterns from existing templates [tplv-a] with patterns (tplv-a => [tplv-*]) that have the same priority [0], multiple index templates may not match during index creation, please use a different priority"
    );
    let r = json_req(
        "PUT",
        "/_index_template/tplv-c",
        &json!({"index_patterns": ["tplv-c"], "foo": 1}),
    )
    .await;
    assert_es_error(&r, 400, "x_content_parse_exception");
    let r = json_req(
        "PUT",
        "/_index_template/tplv-a?create=true",
        &json!({"index_patterns": ["tplv-*"]}),
    )
    .await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert_eq!(e["reason"], "index template [tplv-a] already exists");
    // `allow_auto_create: false` (index-templates.html): a write cannot create a matching index,
    // an explicit create-index can (AutoCreateIndex#shouldAutoCreate).
    ok_json(
        "PUT",
        "/_index_template/tplv-noauto",
        &json!({"index_patterns": ["tplv-noauto*"], "priority": 3, "allow_auto_create": false}),
    )
    .await;
    let r = json_req("PUT", "/tplv-noauto-1/_doc/1", &json!({"a": 1})).await;
    let e = assert_es_error(&r, 404, "index_not_found_exception");
    assert_eq!(
        e["reason"],
        "no such index [tplv-noauto-1] and composable template [tplv-noauto*] forbids index auto creation"
    );
    ok_json("PUT", "/tplv-noauto-1", &json!({})).await;
    let r = json_req("PUT", "/tplv-noauto-1/_doc/1", &json!({"a": 1})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    // Legacy templates: a clear 400.
    let r = json_req(
        "PUT",
        "/_template/tplv-legacy",
        &json!({"index_patterns": ["x"]}),
    )
    .await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .contains("legacy index templates")
    );
}

#[tokio::test]
async fn data_stream_created_by_a_write_through_a_template() {
    // set-up-a-data-stream.html / use-a-data-stream.html: a write to a name matching an index
    // template with `data_stream: {}` creates the data stream; its backing index is
    // `.ds-<name>-<yyyy.MM.dd>-000001` (DataStream#getDefaultBackingIndexName); documents need
    // `@timestamp`; only op_type create is allowed (TransportBulkAction#validateWriteIndex);
    // searches on the stream name search the backing indices and hits name them.
    ok_json(
        "PUT",
        "/_index_template/dst-tpl",
        &json!({"index_patterns": ["dst-logs-*"], "priority": 5, "data_stream": {},
                "template": {"mappings": {"properties": {"message": {"type": "text"}}}}}),
    )
    .await;
    let name = "dst-logs-nginx-default";
    let today = chrono::Utc::now().format("%Y.%m.%d").to_string();
    let backing = format!(".ds-{name}-{today}-000001");
    let r = bulk(
        "/_bulk?refresh=true",
        &format!(
            "{{\"create\":{{\"_index\":\"{name}\"}}}}\n{{\"@timestamp\":\"2024-05-01T10:00:00Z\",\"message\":\"GET /a\"}}\n\
             {{\"index\":{{\"_index\":\"{name}\"}}}}\n{{\"@timestamp\":\"2024-05-01T10:00:01Z\"}}\n\
             {{\"create\":{{\"_index\":\"{name}\"}}}}\n{{\"message\":\"no time\"}}\n\
             {{\"create\":{{\"_index\":\"{name}\"}}}}\n{{\"@timestamp\":\"2024-05-01T10:00:02Z\",\"message\":\"GET /b\"}}\n"
        ),
    )
    .await;
    let v = r.json();
    assert_eq!(v["errors"], true);
    let items = v["items"].as_array().unwrap();
    assert_eq!(items[0]["create"]["_index"], backing.as_str(), "{}", r.text);
    assert_eq!(items[0]["create"]["status"], 201);
    assert_eq!(items[1]["index"]["status"], 400);
    assert_eq!(
        items[1]["index"]["error"]["type"],
        "illegal_argument_exception"
    );
    assert_eq!(
        items[1]["index"]["error"]["reason"],
        "only write ops with an op_type of create are allowed in data streams"
    );
    assert_eq!(items[2]["create"]["status"], 400);
    assert_eq!(
        items[2]["create"]["error"]["type"],
        "document_parsing_exception"
    );
    assert!(
        items[2]["create"]["error"]["reason"]
            .as_str()
            .unwrap()
            .ends_with("failed to parse: data stream timestamp field [@timestamp] is missing")
    );
    assert_eq!(items[3]["create"]["status"], 201);

    // A single-document index request is refused too; POST /{ds}/_doc with op_type=create works.
    let r = json_req(
        "PUT",
        &format!("/{name}/_doc/1"),
        &json!({"@timestamp": "2024-05-01"}),
    )
    .await;
    assert_es_error(&r, 400, "illegal_argument_exception");
    let r = json_req(
        "POST",
        &format!("/{name}/_doc?op_type=create&refresh=true"),
        &json!({"@timestamp": "2024-05-01T11:00:00Z", "message": "GET /c"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["_index"], backing.as_str());

    // Search by the stream name and by a pattern; hits name the backing index.
    assert_eq!(count(name).await, 3);
    assert_eq!(count("dst-logs-*").await, 3);
    let v = ok_json(
        "POST",
        &format!("/{name}/_search"),
        &json!({"query": {"match": {"message": "b"}}}),
    )
    .await;
    assert_eq!(v["hits"]["total"]["value"], 1);
    assert_eq!(v["hits"]["hits"][0]["_index"], backing.as_str());
    // @timestamp is mapped as a date even though the template does not say so.
    let m = get(&format!("/{name}/_mapping")).await.json();
    assert_eq!(
        m[&backing]["mappings"]["properties"]["@timestamp"]["type"],
        "date"
    );
    let idx = get(&format!("/{backing}")).await.json();
    assert_eq!(idx[&backing]["data_stream"], name);
    assert_eq!(idx[&backing]["settings"]["index"]["hidden"], "true");

    // GET /_data_stream/{name} (indices-get-data-stream.html).
    let v = get(&format!("/_data_stream/{name}")).await.json();
    let ds = &v["data_streams"][0];
    assert_eq!(ds["name"], name);
    assert_eq!(ds["timestamp_field"], json!({"name": "@timestamp"}));
    assert_eq!(ds["generation"], 1);
    assert_eq!(ds["status"], "GREEN");
    assert_eq!(ds["template"], "dst-tpl");
    assert_eq!(ds["indices"][0]["index_name"], backing.as_str());
    assert_eq!(ds["hidden"], false);
    let r = get("/_data_stream/dst-nope").await;
    assert_es_error(&r, 404, "index_not_found_exception");

    // Rollover (indices-rollover-index.html): generation 2 becomes the write index; searches see both.
    let v = ok_json("POST", &format!("/{name}/_rollover"), &json!({})).await;
    let backing2 = format!(".ds-{name}-{today}-000002");
    assert_eq!(v["old_index"], backing.as_str());
    assert_eq!(v["new_index"], backing2.as_str());
    assert_eq!(v["rolled_over"], true);
    let r = json_req(
        "POST",
        &format!("/{name}/_doc?op_type=create&refresh=true"),
        &json!({"@timestamp": "2024-05-02T00:00:00Z"}),
    )
    .await;
    assert_eq!(r.json()["_index"], backing2.as_str(), "{}", r.text);
    assert_eq!(count(name).await, 4);
    let ds = get(&format!("/_data_stream/{name}")).await.json();
    assert_eq!(ds["data_streams"][0]["generation"], 2);
    assert_eq!(
        ds["data_streams"][0]["indices"][1]["index_name"],
        backing2.as_str()
    );
    // The write index goes only with its data stream.
    let r = req("DELETE", &format!("/{backing2}"), None).await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert_eq!(
        e["reason"],
        format!(
            "index [{backing2}] is the write index for data stream [{name}] and cannot be deleted"
        )
    );
    // The template cannot be deleted while the stream uses it.
    let r = req("DELETE", "/_index_template/dst-tpl", None).await;
    assert_es_error(&r, 400, "illegal_argument_exception");
    // An explicit create-index for a data-stream name is refused.
    let r = json_req("PUT", "/dst-logs-explicit", &json!({})).await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .contains("creates data streams only")
    );

    // PUT /_data_stream/{name} creates an empty one; DELETE drops the backing indices.
    ok_json("PUT", "/_data_stream/dst-logs-empty", &json!({})).await;
    let r = json_req("PUT", "/_data_stream/dst-logs-empty", &json!({})).await;
    let e = assert_es_error(&r, 400, "resource_already_exists_exception");
    assert_eq!(e["reason"], "data_stream [dst-logs-empty] already exists");
    assert_eq!(count("dst-logs-empty").await, 0);
    let r = json_req("PUT", "/_data_stream/dst-other", &json!({})).await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert_eq!(
        e["reason"],
        "no matching index template found for data stream [dst-other]"
    );
    ok_json("DELETE", "/_data_stream/dst-logs-empty", &json!({})).await;
    assert_es_error(
        &get("/_data_stream/dst-logs-empty").await,
        404,
        "index_not_found_exception",
    );
    ok_json("DELETE", &format!("/_data_stream/{name}"), &json!({})).await;
    assert_es_error(
        &get(&format!("/{name}/_count")).await,
        404,
        "index_not_found_exception",
    );
    ok_json("DELETE", "/_index_template/dst-tpl", &json!({})).await;
}

#[tokio::test]
async fn resolve_index_lists_indices_aliases_and_data_streams() {
    // indices-resolve-index-api.html (ResolveIndexAction): names and wildcards match indices,
    // aliases and data streams by their own names; hidden backing indices show with
    // expand_wildcards=all/hidden; attributes are sorted.
    ok_json(
        "PUT",
        "/_index_template/rsv-tpl",
        &json!({"index_patterns": ["rsv-ds*"], "priority": 7, "data_stream": {}}),
    )
    .await;
    ok_json("PUT", "/rsv-i1", &json!({"aliases": {"rsv-al": {}}})).await;
    ok_json("PUT", "/rsv-i2", &json!({})).await;
    ok_json("PUT", "/_data_stream/rsv-ds1", &json!({})).await;
    let today = chrono::Utc::now().format("%Y.%m.%d").to_string();
    let backing = format!(".ds-rsv-ds1-{today}-000001");

    let v = get("/_resolve/index/rsv-*").await.json();
    assert_eq!(
        v,
        json!({
            "indices": [
                {"name": "rsv-i1", "aliases": ["rsv-al"], "attributes": ["open"]},
                {"name": "rsv-i2", "attributes": ["open"]}
            ],
            "aliases": [{"name": "rsv-al", "indices": ["rsv-i1"]}],
            "data_streams": [{"name": "rsv-ds1", "backing_indices": [backing.clone()], "timestamp_field": "@timestamp"}]
        })
    );
    let v = get("/_resolve/index/*rsv-*?expand_wildcards=all")
        .await
        .json();
    let names: Vec<&str> = v["indices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, [backing.as_str(), "rsv-i1", "rsv-i2"]);
    assert_eq!(v["indices"][0]["attributes"], json!(["hidden", "open"]));
    assert_eq!(v["indices"][0]["data_stream"], "rsv-ds1");
    let v = get("/_resolve/index/rsv-al,rsv-i2").await.json();
    assert_eq!(v["aliases"][0]["name"], "rsv-al");
    assert_eq!(
        v["indices"],
        json!([{"name": "rsv-i2", "attributes": ["open"]}])
    );
    assert_es_error(
        &get("/_resolve/index/rsv-none").await,
        404,
        "index_not_found_exception",
    );
    let v = get("/_resolve/index/rsv-nothing*").await.json();
    assert_eq!(v, json!({"indices": [], "aliases": [], "data_streams": []}));
    ok_json("DELETE", "/_data_stream/rsv-ds1", &json!({})).await;
    ok_json("DELETE", "/_index_template/rsv-tpl", &json!({})).await;
}
