//! `_delete_by_query`, `_update_by_query`, `_reindex` and the `_tasks` API, over HTTP against the
//! daemon on the real embedded ClickHouse engine. Each test states the Elasticsearch behaviour it
//! reproduces: docs-delete-by-query.html, docs-update-by-query.html, docs-reindex.html, tasks.html,
//! and the cases of modules/reindex/src/yamlRestTest (delete_by_query/, update_by_query/,
//! reindex/), written again with our own data.

use crate::common::*;
use serde_json::{Value, json};

async fn count(index: &str, q: &Value) -> u64 {
    let r = json_req("POST", &format!("/{index}/_count"), &json!({ "query": q })).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["count"].as_u64().unwrap()
}

async fn doc(index: &str, id: &str) -> Value {
    let r = get(&format!("/{index}/_doc/{id}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

fn fleet() -> Vec<Value> {
    vec![
        json!({"host": "a", "level": "error", "n": 1}),
        json!({"host": "b", "level": "info", "n": 2}),
        json!({"host": "c", "level": "error", "n": 3}),
        json!({"host": "d", "level": "warn", "n": 4}),
        json!({"host": "e", "level": "error", "n": 5}),
    ]
}

#[tokio::test]
async fn delete_by_query_deletes_the_matching_documents() {
    // delete_by_query/10_basic.yml "Basic response": deleted, batches, version_conflicts, noops,
    // retries, throttled_millis, requests_per_second, failures; no `created`/`updated`
    // (RestDeleteByQueryAction leaves them out).
    load_docs("dbq-basic", None, &fleet()).await;
    let r = json_req(
        "POST",
        "/dbq-basic/_delete_by_query",
        &json!({"query": {"term": {"level.keyword": "error"}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["deleted"], 3, "{v}");
    assert_eq!(v["total"], 3);
    assert_eq!(v["batches"], 1);
    assert_eq!(v["version_conflicts"], 0);
    assert_eq!(v["noops"], 0);
    assert_eq!(v["timed_out"], false);
    assert_eq!(v["retries"], json!({"bulk": 0, "search": 0}));
    assert_eq!(v["throttled_millis"], 0);
    assert_eq!(v["requests_per_second"], -1.0);
    assert_eq!(v["throttled_until_millis"], 0);
    assert_eq!(v["failures"], json!([]));
    assert!(v["took"].is_u64());
    assert!(
        v.get("created").is_none() && v.get("updated").is_none(),
        "{v}"
    );
    assert!(v.get("task").is_none());
    assert_eq!(count("dbq-basic", &json!({"match_all": {}})).await, 2);
    let r = get("/dbq-basic/_doc/0").await;
    assert_eq!(r.status, 404, "a deleted document is gone: {}", r.text);
    // Nothing left to match: zero of everything and no batch.
    let r = json_req(
        "POST",
        "/dbq-basic/_delete_by_query",
        &json!({"query": {"term": {"level.keyword": "error"}}}),
    )
    .await;
    let v = r.json();
    assert_eq!(
        (v["deleted"].clone(), v["batches"].clone()),
        (json!(0), json!(0)),
        "{v}"
    );
    // A deleted id written again continues its version (tombstones keep the version).
    let r = json_req(
        "PUT",
        "/dbq-basic/_doc/0?refresh=true",
        &json!({"host": "a"}),
    )
    .await;
    assert_eq!(r.json()["_version"], 3, "{}", r.text);
}

#[tokio::test]
async fn delete_by_query_parameters() {
    // `q` (RestDeleteByQueryAction takes the URL query), `max_docs` (docs-delete-by-query.html
    // "max_docs"), `scroll_size` makes several batches, `slices=auto` and `refresh` are accepted.
    load_docs("dbq-params", None, &fleet()).await;
    let r = req(
        "POST",
        "/dbq-params/_delete_by_query?q=level:error&max_docs=2&scroll_size=1&slices=auto&refresh=true",
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["deleted"], 2, "{v}");
    assert_eq!(v["total"], 2);
    assert_eq!(v["batches"], 2, "scroll_size=1: one document per batch");
    assert_eq!(count("dbq-params", &json!({"match_all": {}})).await, 3);
    // max_docs in the body.
    let r = json_req(
        "POST",
        "/dbq-params/_delete_by_query",
        &json!({"max_docs": 1, "query": {"match_all": {}}}),
    )
    .await;
    assert_eq!(r.json()["deleted"], 1, "{}", r.text);
    // Several indices through a wildcard.
    load_docs("dbq-params-2", None, &fleet()).await;
    let r = json_req(
        "POST",
        "/dbq-params*/_delete_by_query",
        &json!({"query": {"term": {"host.keyword": "d"}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let left_d = count("dbq-params*", &json!({"term": {"host.keyword": "d"}})).await;
    assert_eq!(left_d, 0);
}

#[tokio::test]
async fn delete_by_query_refuses_bad_requests() {
    // DeleteByQueryRequest#validate: "query is missing"; AbstractBulkByScrollRequest: conflicts
    // "proceed"/"abort" only, max_docs not negative; unknown parameters and body fields are 400;
    // a missing index is index_not_found_exception.
    load_docs("dbq-bad", None, &fleet()).await;
    let r = req("POST", "/dbq-bad/_delete_by_query", None).await;
    let e = assert_es_error(&r, 400, "action_request_validation_exception");
    assert!(
        e["reason"].as_str().unwrap().contains("query is missing"),
        "{e}"
    );
    let r = req(
        "POST",
        "/dbq-bad/_delete_by_query?conflicts=maybe&q=*",
        None,
    )
    .await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert!(e["reason"].as_str().unwrap().contains("[maybe]"));
    let r = req("POST", "/dbq-bad/_delete_by_query?max_docs=-1&q=*", None).await;
    assert_es_error(&r, 400, "illegal_argument_exception");
    let r = req("POST", "/dbq-bad/_delete_by_query?colour=red&q=*", None).await;
    assert_es_error(&r, 400, "illegal_argument_exception");
    let r = json_req(
        "POST",
        "/dbq-bad/_delete_by_query",
        &json!({"query": {"match_all": {}}, "sort": ["n"]}),
    )
    .await;
    assert_es_error(&r, 400, "parsing_exception");
    let r = json_req(
        "POST",
        "/dbq-nothing-here/_delete_by_query",
        &json!({"query": {"match_all": {}}}),
    )
    .await;
    assert_es_error(&r, 404, "index_not_found_exception");
    assert_eq!(
        count("dbq-bad", &json!({"match_all": {}})).await,
        5,
        "nothing lost"
    );
}

#[tokio::test]
async fn update_by_query_without_a_script_reindexes_every_match() {
    // update_by_query/10_basic.yml: every match is `updated` and gets a new version; no
    // `created` (RestUpdateByQueryAction); update_by_query/30_new_fields.yml: documents indexed
    // before a field was mapped become searchable on it after an update_by_query.
    let mapping =
        json!({"mappings": {"dynamic": false, "properties": {"host": {"type": "keyword"}}}});
    load_docs("ubq-basic", Some(&mapping), &fleet()).await;
    assert_eq!(
        count("ubq-basic", &json!({"term": {"level": "error"}})).await,
        0
    );
    let r = json_req(
        "PUT",
        "/ubq-basic/_mapping",
        &json!({"properties": {"level": {"type": "keyword"}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = req("POST", "/ubq-basic/_update_by_query?refresh", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["updated"], 5, "{v}");
    assert_eq!(v["total"], 5);
    assert_eq!(v["deleted"], 0);
    assert!(v.get("created").is_none(), "{v}");
    assert_eq!(doc("ubq-basic", "1").await["_version"], 2);
    assert_eq!(
        count("ubq-basic", &json!({"term": {"level": "error"}})).await,
        3
    );
    assert_eq!(count("ubq-basic", &json!({"match_all": {}})).await, 5);
    // The stored source is unchanged.
    assert_eq!(
        doc("ubq-basic", "1").await["_source"],
        json!({"host": "b", "level": "info", "n": 2})
    );
}

#[tokio::test]
async fn update_by_query_runs_painless_update_scripts() {
    // docs-update-by-query.html "Update the document source": ctx._source assignments, `+=`,
    // params; painless-update-by-query-context.html: ctx.op = 'noop' counts a noop and
    // ctx.op = 'delete' deletes the document.
    load_docs("ubq-script", None, &fleet()).await;
    let r = json_req(
        "POST",
        "/ubq-script/_update_by_query",
        &json!({
            "query": {"term": {"level.keyword": "error"}},
            "script": {
                "lang": "painless",
                "source": "ctx._source.n += params.step; ctx._source['tag'] = 'seen-' + ctx._source.host; ctx._source.remove('level')",
                "params": {"step": 10}
            }
        }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["updated"], 3, "{}", r.text);
    let d = doc("ubq-script", "2").await;
    assert_eq!(d["_source"], json!({"host": "c", "n": 13, "tag": "seen-c"}));
    assert_eq!(d["_version"], 2);
    assert_eq!(
        count("ubq-script", &json!({"term": {"tag.keyword": "seen-a"}})).await,
        1
    );

    let r = json_req(
        "POST",
        "/ubq-script/_update_by_query",
        &json!({"script": "if (ctx._source.n > 10) { ctx.op = 'noop' } else if (ctx._source.host == 'b') { ctx.op = 'delete' } else { ctx._source.n++ }"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(
        (
            v["noops"].clone(),
            v["deleted"].clone(),
            v["updated"].clone()
        ),
        (json!(3), json!(1), json!(1)),
        "{v}"
    );
    assert_eq!(get("/ubq-script/_doc/1").await.status, 404);
    assert_eq!(doc("ubq-script", "3").await["_source"]["n"], 5);
    assert_eq!(
        doc("ubq-script", "0").await["_version"],
        2,
        "a noop writes nothing"
    );
}

#[tokio::test]
async fn update_by_query_scripts_outside_the_subset_are_script_exceptions() {
    // Painless compile errors answer 400 script_exception (ScriptException, "compile error")
    // before any document is touched; ctx.op values other than noop/index/delete are refused
    // (AbstractAsyncBulkByScrollAction#applyScript).
    load_docs("ubq-bad", None, &fleet()).await;
    let r = json_req(
        "POST",
        "/ubq-bad/_update_by_query",
        &json!({"script": "for (int i = 0; i < 3; i++) { ctx._source.n = i }"}),
    )
    .await;
    assert_es_error(&r, 400, "script_exception");
    let r = json_req(
        "POST",
        "/ubq-bad/_update_by_query",
        &json!({"script": "ctx._id = 'other'"}),
    )
    .await;
    assert_es_error(&r, 400, "script_exception");
    let r = json_req(
        "POST",
        "/ubq-bad/_update_by_query",
        &json!({"script": "ctx.op = 'explode'"}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let v = r.json();
    assert_eq!(
        v["failures"][0]["cause"]["type"], "illegal_argument_exception",
        "{v}"
    );
    assert_eq!(
        count("ubq-bad", &json!({"match_all": {}})).await,
        5,
        "nothing lost"
    );
    assert_eq!(doc("ubq-bad", "0").await["_version"], 1, "nothing written");
}

#[tokio::test]
async fn update_by_query_applies_a_pipeline() {
    // update_by_query/35_ingest.yml (the `pipeline` parameter): every document goes through it.
    let r = json_req(
        "PUT",
        "/_ingest/pipeline/ubq-mark",
        &json!({"processors": [{"set": {"field": "marked", "value": true}}]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    load_docs("ubq-pipe", None, &fleet()).await;
    let r = req(
        "POST",
        "/ubq-pipe/_update_by_query?pipeline=ubq-mark&q=host:a",
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["updated"], 1);
    assert_eq!(doc("ubq-pipe", "0").await["_source"]["marked"], true);
    assert!(
        doc("ubq-pipe", "1").await["_source"]
            .get("marked")
            .is_none()
    );
}

#[tokio::test]
async fn reindex_copies_matching_documents_into_another_index() {
    // reindex/10_basic.yml: created counts, the destination is created, `_id`s are kept;
    // docs-reindex.html: source.query, source._source, max_docs, a script, dest.op_type.
    load_docs("rx-src", None, &fleet()).await;
    let r = json_req(
        "POST",
        "/_reindex?refresh",
        &json!({"source": {"index": "rx-src", "query": {"term": {"level.keyword": "error"}},
                           "_source": ["host", "n"]},
                "dest": {"index": "rx-dst"}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(
        (
            v["created"].clone(),
            v["updated"].clone(),
            v["total"].clone()
        ),
        (json!(3), json!(0), json!(3)),
        "{v}"
    );
    assert_eq!(
        doc("rx-dst", "2").await["_source"],
        json!({"host": "c", "n": 3})
    );
    // Again: the same ids are `updated`.
    let r = json_req(
        "POST",
        "/_reindex",
        &json!({"source": {"index": "rx-src"}, "dest": {"index": "rx-dst"}, "max_docs": 2}),
    )
    .await;
    let v = r.json();
    assert_eq!(v["total"], 2, "{v}");
    assert_eq!(
        v["created"].as_u64().unwrap() + v["updated"].as_u64().unwrap(),
        2
    );
    // A script changes what is written.
    let r = json_req(
        "POST",
        "/_reindex",
        &json!({"source": {"index": "rx-src"}, "dest": {"index": "rx-script"},
                "script": {"source": "ctx._source.n = ctx._source.n * 100; if (ctx._source.host == 'e') { ctx.op = 'noop' }"}}),
    )
    .await;
    let v = r.json();
    assert_eq!(
        (v["created"].clone(), v["noops"].clone()),
        (json!(4), json!(1)),
        "{v}"
    );
    assert_eq!(doc("rx-script", "3").await["_source"]["n"], 400);
    assert_eq!(get("/rx-script/_doc/4").await.status, 404);
}

#[tokio::test]
async fn reindex_op_type_create_and_conflicts() {
    // reindex/20_validation.yml and docs-reindex.html "op_type: create": an existing `_id` is a
    // version conflict; under conflicts=abort the answer is 409 with the failures, under
    // conflicts=proceed they are counted.
    load_docs("rx-c-src", None, &fleet()).await;
    load_docs("rx-c-dst", None, &fleet()[..2]).await;
    let body = json!({"source": {"index": "rx-c-src"}, "dest": {"index": "rx-c-dst", "op_type": "create"}});
    let r = json_req("POST", "/_reindex", &body).await;
    assert_eq!(r.status, 409, "{}", r.text);
    let v = r.json();
    assert_eq!(v["version_conflicts"], 2, "{v}");
    // The rest of the failing batch was written (ES collects the whole batch's failures).
    assert_eq!(v["created"], 3, "{v}");
    assert_eq!(
        v["failures"][0]["cause"]["type"],
        "version_conflict_engine_exception"
    );
    assert_eq!(v["failures"][0]["status"], 409);
    assert_eq!(v["failures"][0]["index"], "rx-c-dst");
    let mut body = body;
    body["conflicts"] = json!("proceed");
    let r = json_req("POST", "/_reindex", &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["version_conflicts"], 5, "{v}");
    assert_eq!(v["created"], 0, "{v}");
    assert_eq!(v["failures"], json!([]));
    assert_eq!(count("rx-c-dst", &json!({"match_all": {}})).await, 5);
    // Validation (ReindexRequest#validate, ReindexValidator).
    let r = json_req(
        "POST",
        "/_reindex",
        &json!({"source": {"index": "rx-c-src"}}),
    )
    .await;
    let e = assert_es_error(&r, 400, "action_request_validation_exception");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .contains("index must be specified"),
        "{e}"
    );
    let r = json_req(
        "POST",
        "/_reindex",
        &json!({"source": {"index": "rx-c-src"}, "dest": {"index": "rx-c-src"}}),
    )
    .await;
    let e = assert_es_error(&r, 400, "action_request_validation_exception");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .contains("cannot write into an index its reading from")
    );
    let r = json_req(
        "POST",
        "/_reindex",
        &json!({"source": {"index": "rx-c-src", "remote": {"host": "http://x:9200"}}, "dest": {"index": "y"}}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
}

#[tokio::test]
async fn wait_for_completion_false_runs_a_task() {
    // delete_by_query/10_basic.yml "wait_for_completion=false": the answer is {"task": "node:id"};
    // GET /_tasks/{id} (wait_for_completion=true) answers {completed, task{status}, response}
    // from the stored TaskResult.
    load_docs("task-dbq", None, &fleet()).await;
    let r = json_req(
        "POST",
        "/task-dbq/_delete_by_query?wait_for_completion=false",
        &json!({"query": {"term": {"level.keyword": "error"}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let task = r.json()["task"].as_str().unwrap().to_string();
    assert!(task.contains(':'), "{task}");
    let r = get(&format!("/_tasks/{task}?wait_for_completion=true")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["completed"], true, "{v}");
    assert_eq!(v["response"]["deleted"], 3);
    assert_eq!(v["task"]["action"], "indices:data/write/delete/byquery");
    assert_eq!(v["task"]["status"]["deleted"], 3);
    assert_eq!(v["task"]["cancellable"], true);
    assert_eq!(count("task-dbq", &json!({"match_all": {}})).await, 2);
    // Without waiting the stored result is there too.
    let r = get(&format!("/_tasks/{task}")).await;
    assert_eq!(r.json()["completed"], true);

    // update_by_query and reindex as tasks.
    let r = req(
        "POST",
        "/task-dbq/_update_by_query?wait_for_completion=false",
        None,
    )
    .await;
    let task = r.json()["task"].as_str().unwrap().to_string();
    let r = get(&format!("/_tasks/{task}?wait_for_completion=true")).await;
    assert_eq!(r.json()["response"]["updated"], 2, "{}", r.text);
    let r = json_req(
        "POST",
        "/_reindex?wait_for_completion=false",
        &json!({"source": {"index": "task-dbq"}, "dest": {"index": "task-dbq-copy"}}),
    )
    .await;
    let task = r.json()["task"].as_str().unwrap().to_string();
    let r = get(&format!("/_tasks/{task}?wait_for_completion=true")).await;
    assert_eq!(r.json()["response"]["created"], 2, "{}", r.text);
}

#[tokio::test]
async fn tasks_api_answers_like_elasticsearch() {
    // RestListTasksAction: {"nodes": {…}} by default, group_by=none gives a list; an unknown task
    // is 404 resource_not_found_exception, a malformed id 400 (TaskId); cancelling an unknown
    // task is 404.
    let r = get("/_tasks").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json()["nodes"].is_object(), "{}", r.text);
    let r = get("/_tasks?group_by=none&detailed=true&actions=*byquery").await;
    assert!(r.json()["tasks"].is_array(), "{}", r.text);
    let r = get("/_tasks/abc:123456").await;
    assert_es_error(&r, 404, "resource_not_found_exception");
    let r = get("/_tasks/not-a-task-id").await;
    assert_es_error(&r, 400, "illegal_argument_exception");
    let r = req("POST", "/_tasks/abc:123456/_cancel", None).await;
    assert_es_error(&r, 404, "resource_not_found_exception");
}
