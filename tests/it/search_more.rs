//! More search request features: runtime fields (`runtime_mappings`), collapse with inner_hits,
//! sort `numeric_type`/`format`, empty indices and unmapped sort fields. Documents are generated
//! here and every expectation is computed from them in the test. References are Elasticsearch 8.x
//! docs pages (named per test) and source classes.

use crate::common::*;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

async fn search(path: &str, body: Value) -> Value {
    let r = json_req("POST", path, &body).await;
    assert_eq!(r.status, 200, "{body}: {}", r.text);
    r.json()
}

static RT: OnceCell<Vec<Value>> = OnceCell::const_new();

/// 30 documents in `rt-idx`: a long (missing every 5th), a double, a keyword (missing every 7th),
/// a date, a boolean.
async fn rt_docs() -> &'static Vec<Value> {
    RT.get_or_init(|| async {
        let mapping = json!({"mappings": {"properties": {
            "a": {"type": "long"}, "d": {"type": "double"}, "s": {"type": "keyword"},
            "ts": {"type": "date"}, "ok": {"type": "boolean"}, "msg": {"type": "text"}
        }}});
        let mut all = Vec::new();
        for i in 0..30i64 {
            let mut d = json!({
                "a": i * 3 - 20,
                "d": i as f64 * 1.25,
                "s": format!("Name{}", i % 6),
                "ts": format!("2024-03-{:02}T{:02}:30:00Z", 1 + i % 28, i % 24),
                "ok": i % 3 == 0,
                "msg": format!("message {i}")
            });
            if i % 5 == 0 {
                d.as_object_mut().unwrap().remove("a");
            }
            if i % 7 == 0 {
                d.as_object_mut().unwrap().remove("s");
            }
            all.push(d);
        }
        load_docs("rt-idx", Some(&mapping), &all).await;
        all
    })
    .await
}

fn id_of(docs: &[Value], pred: impl Fn(&Value) -> bool) -> Vec<String> {
    docs.iter()
        .enumerate()
        .filter(|(_, d)| pred(d))
        .map(|(i, _)| i.to_string())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn runtime_fields_in_query_sort_fields_and_aggs() {
    // runtime-search-request.html: runtime fields defined in the search request are usable in the
    // query, sort, `fields` and aggregations; scripts `emit` values read with doc['f'].value.
    let docs = rt_docs().await;
    let rm = json!({
        "double_a": {"type": "long", "script": {"source": "if (doc['a'].size() != 0) { emit(doc['a'].value * 2); }"}},
        "label": {"type": "keyword", "script": "if (doc['s'].size() == 0) return; emit(doc['s'].value.toLowerCase() + '-' + doc['ok'].value)"},
        "half": {"type": "double", "script": "if (doc.containsKey('d') && !doc.containsKey('nope')) { emit(doc['d'].value / 2) }"},
        "big": {"type": "boolean", "script": {"source": "if (doc['a'].size() > 0) emit(doc['a'].value > params.limit)", "params": {"limit": 10}}},
        "later": {"type": "date", "script": "emit(doc['ts'].value.toInstant().toEpochMilli() + 3600000L)"}
    });
    // Query on a long runtime field: range.
    let v = search(
        "/rt-idx/_search",
        json!({"runtime_mappings": rm, "size": 100,
               "query": {"range": {"double_a": {"gte": 0, "lt": 60}}}}),
    )
    .await;
    let exp = id_of(docs, |d| {
        d["a"].as_i64().is_some_and(|a| (0..60).contains(&(a * 2)))
    });
    assert_eq!(sorted(ids(&v)), sorted(exp.clone()));
    // Constant score (script queries are constant-score): every hit scores 1.0.
    for h in v["hits"]["hits"].as_array().unwrap() {
        assert_eq!(h["_score"], 1.0);
    }

    // Sort on it (missing last), with `fields` returning the computed values.
    let v = search(
        "/rt-idx/_search",
        json!({"runtime_mappings": rm, "size": 100, "sort": [{"double_a": "desc"}],
               "fields": ["double_a", "label", "half", "big", "later"], "_source": false}),
    )
    .await;
    let mut exp: Vec<(Option<i64>, usize)> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| (d["a"].as_i64().map(|a| a * 2), i))
        .collect();
    // desc, missing last, ties by index order.
    exp.sort_by(|x, y| match (x.0, y.0) {
        (Some(a), Some(b)) => b.cmp(&a).then(x.1.cmp(&y.1)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => x.1.cmp(&y.1),
    });
    let exp_ids: Vec<String> = exp.iter().map(|(_, i)| i.to_string()).collect();
    assert_eq!(ids(&v), exp_ids);
    for h in v["hits"]["hits"].as_array().unwrap() {
        let i: usize = h["_id"].as_str().unwrap().parse().unwrap();
        let d = &docs[i];
        let f = &h["fields"];
        match d["a"].as_i64() {
            Some(a) => {
                assert_eq!(f["double_a"], json!([a * 2]), "{h}");
                assert_eq!(f["big"], json!([a > 10]), "{h}");
            }
            None => {
                assert!(f.get("double_a").is_none(), "{h}");
                assert!(f.get("big").is_none(), "{h}");
            }
        }
        match d["s"].as_str() {
            Some(s) => assert_eq!(
                f["label"],
                json!([format!(
                    "{}-{}",
                    s.to_lowercase(),
                    d["ok"].as_bool().unwrap()
                )])
            ),
            None => assert!(f.get("label").is_none(), "{h}"),
        }
        assert_eq!(f["half"], json!([d["d"].as_f64().unwrap() / 2.0]));
        // The date format of a date runtime field defaults to strict_date_optional_time.
        let ts = chrono::DateTime::parse_from_rfc3339(d["ts"].as_str().unwrap()).unwrap()
            + chrono::Duration::hours(1);
        assert_eq!(
            f["later"],
            json!([ts.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()])
        );
    }

    // term on a keyword runtime field, range on a date one, term on a boolean one.
    let v = search(
        "/rt-idx/_search",
        json!({"runtime_mappings": rm, "size": 100, "query": {"bool": {"filter": [
            {"term": {"label": "name3-true"}}]}}}),
    )
    .await;
    let exp = id_of(docs, |d| {
        d["s"].as_str() == Some("Name3") && d["ok"] == true
    });
    assert!(!exp.is_empty());
    assert_eq!(sorted(ids(&v)), sorted(exp));
    let v = search(
        "/rt-idx/_search",
        json!({"runtime_mappings": rm, "size": 100, "query": {"bool": {"filter": [
            {"range": {"later": {"gte": "2024-03-10T00:00:00Z", "lt": "2024-03-12T00:00:00Z"}}},
            {"term": {"big": true}}]}}}),
    )
    .await;
    let exp = id_of(docs, |d| {
        let ts = chrono::DateTime::parse_from_rfc3339(d["ts"].as_str().unwrap()).unwrap()
            + chrono::Duration::hours(1);
        let day = ts.format("%Y-%m-%d").to_string();
        (day == "2024-03-10" || day == "2024-03-11") && d["a"].as_i64().is_some_and(|a| a > 10)
    });
    assert_eq!(sorted(ids(&v)), sorted(exp));

    // exists on a runtime field: documents where the script emitted.
    let v = search(
        "/rt-idx/_search",
        json!({"runtime_mappings": rm, "size": 0, "track_total_hits": true,
               "query": {"exists": {"field": "label"}}}),
    )
    .await;
    let n = docs.iter().filter(|d| d["s"].is_string()).count();
    assert_eq!(v["hits"]["total"]["value"], n);

    // Aggregations resolve runtime fields through the same field resolution.
    let v = search(
        "/rt-idx/_search",
        json!({"runtime_mappings": rm, "size": 0,
               "aggs": {"m": {"max": {"field": "double_a"}}, "t": {"terms": {"field": "label", "size": 100}}}}),
    )
    .await;
    let max = docs.iter().filter_map(|d| d["a"].as_i64()).max().unwrap() * 2;
    assert_eq!(v["aggregations"]["m"]["value"], max as f64);
    let buckets = v["aggregations"]["t"]["buckets"].as_array().unwrap();
    let distinct: std::collections::BTreeSet<String> = docs
        .iter()
        .filter_map(|d| {
            d["s"]
                .as_str()
                .map(|s| format!("{}-{}", s.to_lowercase(), d["ok"].as_bool().unwrap()))
        })
        .collect();
    assert_eq!(buckets.len(), distinct.len(), "{v}");
}

#[tokio::test]
async fn runtime_fields_without_script_and_shadowing() {
    // runtime-mapping-fields.html#runtime-fields-scriptless: without a script the value is read
    // from `_source` under the same name. runtime-override-values.html: a runtime field shadows
    // the mapped field of the same name.
    let docs = rt_docs().await;
    let v = search(
        "/rt-idx/_search",
        json!({"runtime_mappings": {"msg": {"type": "keyword"}}, "size": 100,
               "query": {"term": {"msg": "message 7"}}}),
    )
    .await;
    // As a text field `message 7` is two tokens and a term query would match nothing; as a
    // runtime keyword it is the whole value.
    assert_eq!(ids(&v), vec!["7"]);
    let v = search(
        "/rt-idx/_search",
        json!({"runtime_mappings": {"a": {"type": "double", "script": "emit(doc['d'].value)"}},
               "size": 100, "query": {"range": {"a": {"gte": 30}}}}),
    )
    .await;
    let exp = id_of(docs, |d| d["d"].as_f64().unwrap() >= 30.0);
    assert_eq!(sorted(ids(&v)), sorted(exp));
    // `{}` is accepted.
    let v = search(
        "/rt-idx/_search",
        json!({"runtime_mappings": {}, "size": 0}),
    )
    .await;
    assert_eq!(v["hits"]["total"]["value"], 30);
}

#[tokio::test]
async fn runtime_scripts_outside_the_subset_are_a_clear_400() {
    // elastichouse translates a subset of Painless; anything else names the script (a silent
    // approximation would return wrong hits).
    rt_docs().await;
    for (script, ty) in [
        ("for (def v : doc['a']) { emit(v) }", "long"),
        ("emit(params._source.a)", "long"),
        ("emit(doc['a'].value); emit(1L)", "long"),
        ("emit(doc['nope'].value)", "long"),
        ("emit(doc['msg'].value)", "keyword"),
        ("emit(doc['a'].value)", "keyword"),
    ] {
        let r = json_req(
            "POST",
            "/rt-idx/_search",
            &json!({"runtime_mappings": {"x": {"type": ty, "script": script}},
                    "query": {"exists": {"field": "x"}}}),
        )
        .await;
        let e = assert_es_error(&r, 400, "illegal_argument_exception");
        let reason = e["reason"].as_str().unwrap();
        assert!(
            reason.contains(script) && reason.contains("runtime field [x]"),
            "{script}: {reason}"
        );
    }
    // RuntimeFieldParser's own errors.
    let r = json_req(
        "POST",
        "/rt-idx/_search",
        &json!({"runtime_mappings": {"x": {"script": "emit(1L)"}}}),
    )
    .await;
    let e = assert_es_error(&r, 400, "mapper_parsing_exception");
    assert_eq!(e["reason"], "No type specified for runtime field [x]");
    let r = json_req(
        "POST",
        "/rt-idx/_search",
        &json!({"runtime_mappings": {"x": {"type": "text"}}}),
    )
    .await;
    let e = assert_es_error(&r, 400, "mapper_parsing_exception");
    assert_eq!(
        e["reason"],
        "No handler for type [text] declared on runtime field [x]"
    );
}

#[tokio::test]
async fn collapse_with_several_inner_hits() {
    // collapse-search-results.html#expand-collapse-results: each collapsed hit is expanded with
    // `inner_hits` (name, size, from, sort, _source; several definitions); the inner search is the
    // original query plus the group's key (ExpandSearchPhase), with its own total and max_score.
    let mapping = json!({"mappings": {"properties": {
        "grp": {"type": "keyword"}, "n": {"type": "long"}, "msg": {"type": "text"}
    }}});
    let mut docs = Vec::new();
    for i in 0..23i64 {
        let mut d = json!({"grp": format!("g{}", i % 4), "n": (i * 7) % 11, "msg": format!("word{} common", i % 3)});
        if i % 9 == 4 {
            d.as_object_mut().unwrap().remove("grp");
        }
        docs.push(d);
    }
    load_docs("ih-idx", Some(&mapping), &docs).await;

    let v = search(
        "/ih-idx/_search",
        json!({
            "query": {"range": {"n": {"gte": 1}}},
            "collapse": {"field": "grp", "max_concurrent_group_searches": 4, "inner_hits": [
                {"name": "lowest", "size": 2, "sort": [{"n": "asc"}], "_source": ["n"]},
                {"name": "second", "size": 1, "from": 1, "sort": [{"n": "desc"}], "_source": false}
            ]},
            "sort": [{"n": "desc"}],
            "size": 10
        }),
    )
    .await;
    let matching: Vec<(usize, &Value)> = docs
        .iter()
        .enumerate()
        .filter(|(_, d)| d["n"].as_i64().unwrap() >= 1)
        .collect();
    let key = |d: &Value| d["grp"].as_str().map(str::to_string);
    let hits = v["hits"]["hits"].as_array().unwrap();
    // One hit per key (a missing key is a group of its own).
    let mut keys: Vec<Option<String>> = matching.iter().map(|(_, d)| key(d)).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(hits.len(), keys.len(), "{v}");
    for h in hits {
        let i: usize = h["_id"].as_str().unwrap().parse().unwrap();
        let k = key(&docs[i]);
        let mut group: Vec<(i64, usize)> = matching
            .iter()
            .filter(|(_, d)| key(d) == k)
            .map(|(j, d)| (d["n"].as_i64().unwrap(), *j))
            .collect();
        // The top hit of the group by n desc (ties: index order).
        let top = group
            .iter()
            .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))
            .unwrap();
        assert_eq!(top.1, i, "{h}");
        let ih = &h["inner_hits"];
        assert_eq!(
            ih["lowest"]["hits"]["total"],
            json!({"value": group.len(), "relation": "eq"})
        );
        assert_eq!(ih["lowest"]["hits"]["max_score"], Value::Null);
        group.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        let lowest: Vec<Value> = group
            .iter()
            .take(2)
            .map(|(n, j)| json!({"_index": "ih-idx", "_id": j.to_string(), "_score": null, "_source": {"n": n}, "sort": [n]}))
            .collect();
        assert_eq!(ih["lowest"]["hits"]["hits"], json!(lowest), "{h}");
        group.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let second: Vec<Value> = group
            .iter()
            .skip(1)
            .take(1)
            .map(|(n, j)| json!({"_index": "ih-idx", "_id": j.to_string(), "_score": null, "sort": [n]}))
            .collect();
        assert_eq!(ih["second"]["hits"]["hits"], json!(second), "{h}");
    }

    // Default inner sort is by score: max_score is the group's best score, hits carry scores.
    let v = search(
        "/ih-idx/_search",
        json!({"query": {"match": {"msg": "word1"}}, "collapse": {"field": "grp",
               "inner_hits": {"name": "best"}}, "size": 10}),
    )
    .await;
    for h in v["hits"]["hits"].as_array().unwrap() {
        let inner = &h["inner_hits"]["best"]["hits"];
        let n = docs
            .iter()
            .filter(|d| d["msg"].as_str().unwrap().starts_with("word1 "))
            .filter(|d| key(d).as_deref() == h["fields"]["grp"][0].as_str())
            .count();
        assert_eq!(inner["total"]["value"], n, "{h}");
        assert_eq!(inner["hits"].as_array().unwrap().len(), n.min(3), "{h}");
        assert_eq!(inner["max_score"], inner["hits"][0]["_score"], "{h}");
    }

    // Errors: the inner window limit, duplicate names.
    let r = json_req(
        "POST",
        "/ih-idx/_search",
        &json!({"collapse": {"field": "grp", "inner_hits": {"name": "a", "size": 101}}}),
    )
    .await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .starts_with("Inner result window is too large")
    );
    let r = json_req(
        "POST",
        "/ih-idx/_search",
        &json!({"collapse": {"field": "grp", "inner_hits": [{"name": "a"}, {"name": "a"}]}}),
    )
    .await;
    assert_es_error(&r, 400, "illegal_argument_exception");
}

#[tokio::test]
async fn sort_numeric_type_and_format() {
    // sort-search-results.html#_sort_numeric_type and FieldSortBuilder: `numeric_type` converts the
    // values of every index to one type (date ↔ date_nanos across indices, long truncates doubles,
    // double widens longs); `format` prints date sort values with a date format.
    let a = json!({"mappings": {"properties": {"t": {"type": "date"}, "x": {"type": "long"}, "k": {"type": "keyword"}}}});
    let b =
        json!({"mappings": {"properties": {"t": {"type": "date_nanos"}, "x": {"type": "double"}}}});
    assert_eq!(json_req("PUT", "/nt-a", &a).await.status, 200);
    assert_eq!(json_req("PUT", "/nt-b", &b).await.status, 200);
    // (index, id, time, nanos since epoch, x)
    let rows = [
        (
            "nt-a",
            "a1",
            "2024-01-01T00:00:01.500Z",
            1_704_067_201_500_000_000i64,
            json!(5),
        ),
        (
            "nt-a",
            "a2",
            "2024-01-01T00:00:03Z",
            1_704_067_203_000_000_000,
            json!(-2),
        ),
        (
            "nt-b",
            "b1",
            "2024-01-01T00:00:01.500000001Z",
            1_704_067_201_500_000_001,
            json!(1.7),
        ),
        (
            "nt-b",
            "b2",
            "2024-01-01T00:00:02.250000999Z",
            1_704_067_202_250_000_999,
            json!(-1.9),
        ),
    ];
    for (idx, id, t, _, x) in &rows {
        let r = json_req(
            "PUT",
            &format!("/{idx}/_doc/{id}?refresh=true"),
            &json!({"t": t, "x": x, "k": id}),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let mut by_nanos: Vec<&(&str, &str, &str, i64, Value)> = rows.iter().collect();
    by_nanos.sort_by_key(|r| r.3);

    // date_nanos across a date and a date_nanos index: nanosecond values, exact order.
    let v = search(
        "/nt-a,nt-b/_search",
        json!({"sort": [{"t": {"order": "asc", "numeric_type": "date_nanos"}}]}),
    )
    .await;
    assert_eq!(ids(&v), by_nanos.iter().map(|r| r.1).collect::<Vec<_>>());
    let sorts: Vec<Value> = v["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["sort"][0].clone())
        .collect();
    assert_eq!(
        sorts,
        by_nanos.iter().map(|r| json!(r.3)).collect::<Vec<_>>()
    );

    // date: nanos truncated to millis (a1 and b1 tie at .500 and keep index order).
    let v = search(
        "/nt-a,nt-b/_search",
        json!({"sort": [{"t": {"order": "asc", "numeric_type": "date"}}]}),
    )
    .await;
    let sorts: Vec<Value> = v["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["sort"][0].clone())
        .collect();
    assert_eq!(
        sorts,
        by_nanos
            .iter()
            .map(|r| json!(r.3 / 1_000_000))
            .collect::<Vec<_>>()
    );

    // format: formatted sort values, with nanosecond resolution under date_nanos; search_after
    // accepts the formatted value.
    let v = search(
        "/nt-a,nt-b/_search",
        json!({"sort": [{"t": {"order": "desc", "numeric_type": "date_nanos",
                               "format": "strict_date_optional_time_nanos"}}], "size": 2}),
    )
    .await;
    let sorts: Vec<Value> = v["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["sort"][0].clone())
        .collect();
    assert_eq!(
        sorts,
        vec![
            json!("2024-01-01T00:00:03.000Z"),
            json!("2024-01-01T00:00:02.250000999Z")
        ]
    );
    let v = search(
        "/nt-a/_search",
        json!({"sort": [{"t": {"order": "asc", "format": "yyyy-MM-dd HH:mm:ss"}}],
               "search_after": ["2024-01-01 00:00:02"]}),
    )
    .await;
    assert_eq!(ids(&v), vec!["a2"]);
    assert_eq!(v["hits"]["hits"][0]["sort"], json!(["2024-01-01 00:00:03"]));

    // long truncates doubles (1.7 → 1, -1.9 → -1); double widens longs (5 → 5.0).
    let v = search(
        "/nt-a,nt-b/_search",
        json!({"sort": [{"x": {"order": "asc", "numeric_type": "long"}}]}),
    )
    .await;
    let mut exp: Vec<(i64, usize)> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.4.as_f64().unwrap().trunc() as i64, i))
        .collect();
    exp.sort();
    assert_eq!(
        ids(&v),
        exp.iter().map(|(_, i)| rows[*i].1).collect::<Vec<_>>()
    );
    let sorts: Vec<Value> = v["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["sort"][0].clone())
        .collect();
    assert_eq!(sorts, exp.iter().map(|(x, _)| json!(x)).collect::<Vec<_>>());
    let v = search(
        "/nt-a/_search",
        json!({"sort": [{"x": {"order": "desc", "numeric_type": "double"}}]}),
    )
    .await;
    assert_eq!(v["hits"]["hits"][0]["sort"], json!([5.0]));
    assert_eq!(v["hits"]["hits"][0]["sort"][0].to_string(), "5.0");

    // Errors: an unknown numeric_type (parse), numeric_type or format on a keyword (shard).
    let r = json_req(
        "POST",
        "/nt-a/_search",
        &json!({"sort": [{"x": {"numeric_type": "int"}}]}),
    )
    .await;
    let e = assert_es_error(&r, 400, "x_content_parse_exception");
    assert_eq!(
        e["caused_by"]["reason"],
        "invalid value for [numeric_type], must be [long, double, date, date_nanos], got int"
    );
    let r = json_req(
        "POST",
        "/nt-a/_search",
        &json!({"sort": [{"k": {"numeric_type": "long"}}]}),
    )
    .await;
    let e = assert_es_error(&r, 400, "search_phase_execution_exception");
    assert_eq!(e["root_cause"][0]["type"], "query_shard_exception");
    assert_eq!(
        e["root_cause"][0]["reason"],
        "[numeric_type] option cannot be set on a non-numeric field, got keyword"
    );
    let r = json_req(
        "POST",
        "/nt-a/_search",
        &json!({"sort": [{"k": {"format": "yyyy"}}]}),
    )
    .await;
    let e = assert_es_error(&r, 400, "search_phase_execution_exception");
    assert_eq!(
        e["root_cause"][0]["reason"],
        "Field [k] of type [keyword] does not support custom formats"
    );
}

#[tokio::test]
async fn empty_indices_and_unmapped_sort_fields() {
    // An index with no documents and no mapped fields answers empty results, not errors
    // (search-search.html; count: search-count.html; aggregations on unmapped fields return
    // empty buckets / null values).
    assert_eq!(json_req("PUT", "/em-none", &json!({})).await.status, 200);
    let v = search(
        "/em-none/_search",
        json!({"query": {"match": {"msg": "x"}}}),
    )
    .await;
    assert_eq!(
        v["hits"],
        json!({"total": {"value": 0, "relation": "eq"}, "max_score": null, "hits": []})
    );
    assert_eq!(
        v["_shards"],
        json!({"total": 1, "successful": 1, "skipped": 0, "failed": 0})
    );
    let r = get("/em-none/_count").await;
    assert_eq!(r.json()["count"], 0);
    let r = json_req(
        "POST",
        "/em-none/_count",
        &json!({"query": {"term": {"a": "b"}}}),
    )
    .await;
    assert_eq!(r.json()["count"], 0, "{}", r.text);
    let v = search(
        "/em-none/_search",
        json!({"size": 0, "aggs": {"t": {"terms": {"field": "k"}}, "m": {"max": {"field": "n"}},
                                    "c": {"value_count": {"field": "n"}}}}),
    )
    .await;
    assert_eq!(v["aggregations"]["t"]["buckets"], json!([]), "{v}");
    assert_eq!(v["aggregations"]["m"]["value"], Value::Null, "{v}");
    assert_eq!(v["aggregations"]["c"]["value"], 0, "{v}");

    // Sorting on a field no index maps: every shard fails with query_shard_exception
    // (FieldSortBuilder#resolveUnmappedType) inside search_phase_execution_exception.
    let r = json_req("POST", "/em-none/_search", &json!({"sort": [{"f": "asc"}]})).await;
    let e = assert_es_error(&r, 400, "search_phase_execution_exception");
    assert_eq!(e["reason"], "all shards failed");
    assert_eq!(e["root_cause"][0]["type"], "query_shard_exception");
    assert_eq!(
        e["root_cause"][0]["reason"],
        "No mapping found for [f] in order to sort on"
    );
    assert_eq!(e["failed_shards"][0]["index"], "em-none");
    // unmapped_type: the field sorts as missing (sort-search-results.html#_ignoring_unmapped_fields).
    let v = search(
        "/em-none/_search",
        json!({"sort": [{"f": {"order": "asc", "unmapped_type": "long"}}]}),
    )
    .await;
    assert_eq!(v["hits"]["total"]["value"], 0);

    // Several indices, the sort field mapped in one only.
    let m = json!({"mappings": {"properties": {"n": {"type": "long"}}}});
    assert_eq!(json_req("PUT", "/em-a", &m).await.status, 200);
    let m = json!({"mappings": {"properties": {"other": {"type": "keyword"}}}});
    assert_eq!(json_req("PUT", "/em-b", &m).await.status, 200);
    let r = bulk(
        "/_bulk?refresh=true",
        "{\"index\":{\"_index\":\"em-a\",\"_id\":\"a1\"}}\n{\"n\":3}\n{\"index\":{\"_index\":\"em-a\",\"_id\":\"a2\"}}\n{\"n\":1}\n{\"index\":{\"_index\":\"em-b\",\"_id\":\"b1\"}}\n{\"other\":\"x\"}\n",
    )
    .await;
    assert_eq!(r.json()["errors"], false, "{}", r.text);
    // Without unmapped_type: em-b's shard fails, em-a's hits come back (partial results).
    let v = search("/em-a,em-b/_search", json!({"sort": [{"n": "asc"}]})).await;
    assert_eq!(ids(&v), vec!["a2", "a1"]);
    assert_eq!(v["hits"]["total"]["value"], 2);
    assert_eq!(v["_shards"]["total"], 2);
    assert_eq!(v["_shards"]["successful"], 1);
    assert_eq!(v["_shards"]["failed"], 1);
    let f = &v["_shards"]["failures"][0];
    assert_eq!(f["index"], "em-b");
    assert_eq!(f["reason"]["type"], "query_shard_exception");
    assert_eq!(
        f["reason"]["reason"],
        "No mapping found for [n] in order to sort on"
    );
    assert_eq!(f["reason"]["index"], "em-b");
    // With unmapped_type: em-b's documents have no value and sort last, shown as Long.MAX_VALUE.
    let v = search(
        "/em-a,em-b/_search",
        json!({"sort": [{"n": {"order": "asc", "unmapped_type": "long"}}]}),
    )
    .await;
    assert_eq!(ids(&v), vec!["a2", "a1", "b1"]);
    assert_eq!(v["hits"]["hits"][2]["sort"], json!([i64::MAX]));
    assert_eq!(v["_shards"]["failed"], 0);
    // A field no index of the search maps: all shards fail.
    let r = json_req("POST", "/em-a,em-b/_search", &json!({"sort": ["zz"]})).await;
    let e = assert_es_error(&r, 400, "search_phase_execution_exception");
    assert_eq!(e["failed_shards"].as_array().unwrap().len(), 2);

    // ignore_unavailable / allow_no_indices (multi-index.html).
    let r = json_req("POST", "/em-a,em-missing/_search", &json!({})).await;
    let e = assert_es_error(&r, 404, "index_not_found_exception");
    assert_eq!(e["reason"], "no such index [em-missing]");
    let v = search(
        "/em-a,em-missing/_search?ignore_unavailable=true",
        json!({}),
    )
    .await;
    assert_eq!(v["hits"]["total"]["value"], 2);
    let v = search("/em-missing/_search?ignore_unavailable=true", json!({})).await;
    assert_eq!(v["hits"]["total"]["value"], 0);
    assert_eq!(v["_shards"]["total"], 0);
    let v = search("/em-nomatch*/_search", json!({})).await;
    assert_eq!(v["hits"]["total"]["value"], 0);
    let r = json_req(
        "POST",
        "/em-nomatch*/_search?allow_no_indices=false",
        &json!({}),
    )
    .await;
    let e = assert_es_error(&r, 404, "index_not_found_exception");
    assert_eq!(e["reason"], "no such index [em-nomatch*]");
}

#[tokio::test]
async fn highlight_of_multi_term_queries_on_text() {
    // highlighting.html: the unified highlighter marks the terms a multi-term query (regexp,
    // wildcard, prefix, fuzzy; also /regex/ in query_string) matched in a text field — whole
    // tokens, as indexed (lower-cased), not substrings.
    let m = json!({"mappings": {"properties": {"msg": {"type": "text"}}}});
    assert_eq!(json_req("PUT", "/hl-mt", &m).await.status, 200);
    let text = "The Quick brown foxes jumped over quickly lazy dogs";
    let r = json_req("PUT", "/hl-mt/_doc/1?refresh=true", &json!({"msg": text})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    // Expected: the tokens the query's term test accepts, wrapped in <em> in the original text.
    let mark = |pred: &dyn Fn(&str) -> bool| -> String {
        text.split(' ')
            .map(|w| {
                if pred(&w.to_lowercase()) {
                    format!("<em>{w}</em>")
                } else {
                    w.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let cases: Vec<(Value, String)> = vec![
        (
            json!({"regexp": {"msg": "qu.*k"}}),
            mark(&|t| t.starts_with("qu") && t.ends_with('k')),
        ),
        (
            json!({"regexp": {"msg": {"value": "[a-d]o.s|la[xyz]y"}}}),
            mark(&|t| t == "dogs" || t == "lazy"),
        ),
        (
            json!({"wildcard": {"msg": "fox*"}}),
            mark(&|t| t.starts_with("fox")),
        ),
        (json!({"wildcard": {"msg": "?ver"}}), mark(&|t| t == "over")),
        (
            json!({"prefix": {"msg": "jum"}}),
            mark(&|t| t.starts_with("jum")),
        ),
        (json!({"fuzzy": {"msg": "dogz"}}), mark(&|t| t == "dogs")),
        (
            json!({"query_string": {"query": "msg:/la.y/ OR msg:brow*"}}),
            mark(&|t| t == "lazy" || t == "brown"),
        ),
    ];
    for (q, expected) in cases {
        let v = search(
            "/hl-mt/_search",
            json!({"query": q, "highlight": {"fields": {"msg": {}}}}),
        )
        .await;
        assert_eq!(ids(&v), vec!["1"], "{q}");
        assert_eq!(
            v["hits"]["hits"][0]["highlight"]["msg"],
            json!([expected]),
            "{q}"
        );
    }
}

#[tokio::test]
async fn nested_inner_hits_return_the_matching_objects() {
    // inner-hits.html#nested-inner-hits: a nested query's inner_hits return, per hit, the nested
    // objects that matched, with `_nested.field`/`offset` (the position in the source array), the
    // object as `_source`, best score first (ties in offset order), `size` 3 by default.
    let m = json!({"mappings": {"properties": {"title": {"type": "keyword"}, "comments": {
        "type": "nested", "properties": {"author": {"type": "keyword"}, "votes": {"type": "long"}}}}}});
    assert_eq!(json_req("PUT", "/nih-idx", &m).await.status, 200);
    let docs = [
        json!({"title": "a", "comments": [
            {"author": "alice", "votes": 3}, {"author": "bob", "votes": 1},
            {"author": "alice", "votes": 5}, {"author": "dave", "votes": 9},
            {"author": "alice", "votes": 0}, {"author": "alice", "votes": 4}]}),
        json!({"title": "b", "comments": [{"author": "carol", "votes": 2}]}),
        json!({"title": "c", "comments": {"author": "alice", "votes": 7}}),
    ];
    let mut body = String::new();
    for (i, d) in docs.iter().enumerate() {
        body.push_str(&format!("{{\"index\":{{\"_id\":\"{i}\"}}}}\n{d}\n"));
    }
    let r = bulk("/nih-idx/_bulk?refresh=true", &body).await;
    assert_eq!(r.json()["errors"], false, "{}", r.text);
    let objects = |d: &Value| -> Vec<Value> {
        match &d["comments"] {
            Value::Array(a) => a.clone(),
            o => vec![o.clone()],
        }
    };

    let v = search(
        "/nih-idx/_search",
        json!({"query": {"nested": {"path": "comments", "query": {"term": {"comments.author": "alice"}},
               "inner_hits": {}}}, "sort": ["title"]}),
    )
    .await;
    assert_eq!(ids(&v), vec!["0", "2"]);
    for h in v["hits"]["hits"].as_array().unwrap() {
        let i: usize = h["_id"].as_str().unwrap().parse().unwrap();
        let objs = objects(&docs[i]);
        let matching: Vec<usize> = (0..objs.len())
            .filter(|&k| objs[k]["author"] == "alice")
            .collect();
        let inner = &h["inner_hits"]["comments"]["hits"];
        assert_eq!(
            inner["total"],
            json!({"value": matching.len(), "relation": "eq"}),
            "{h}"
        );
        let got = inner["hits"].as_array().unwrap();
        // Equal scores: offset order, three by default.
        assert_eq!(got.len(), matching.len().min(3), "{h}");
        for (g, k) in got.iter().zip(&matching) {
            assert_eq!(g["_id"], h["_id"]);
            assert_eq!(g["_index"], "nih-idx");
            assert_eq!(g["_nested"], json!({"field": "comments", "offset": k}));
            assert_eq!(g["_source"], objs[*k]);
            assert_eq!(g["_score"], inner["max_score"]);
        }
    }

    // name, from, size, _source: false; a range (constant score) inside a bool.
    let v = search(
        "/nih-idx/_search",
        json!({"query": {"bool": {"filter": [{"nested": {"path": "comments",
            "query": {"range": {"comments.votes": {"gte": 3}}},
            "inner_hits": {"name": "popular", "from": 1, "size": 2, "_source": false}}}]}},
            "sort": ["title"]}),
    )
    .await;
    assert_eq!(ids(&v), vec!["0", "2"]);
    let h = &v["hits"]["hits"][0];
    let objs = objects(&docs[0]);
    let matching: Vec<usize> = (0..objs.len())
        .filter(|&k| objs[k]["votes"].as_i64().unwrap() >= 3)
        .collect();
    let inner = &h["inner_hits"]["popular"]["hits"];
    assert_eq!(inner["total"]["value"], matching.len());
    let offsets: Vec<Value> = inner["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["_nested"]["offset"].clone())
        .collect();
    assert_eq!(
        offsets,
        matching
            .iter()
            .skip(1)
            .take(2)
            .map(|k| json!(k))
            .collect::<Vec<_>>()
    );
    assert!(inner["hits"][0].get("_source").is_none());
    assert_eq!(inner["hits"][0]["_score"], 1.0);
}

/// Field names that are also names the daemon gives to its own select items (`i`, `sc`, `n`, `m`,
/// `t`) are ordinary fields: a query on them filters by the documents' values in `_search` (hits
/// and total), `_count`, `_field_caps` `index_filter` and `_terms_enum` `index_filter`
/// (ClickHouse would otherwise resolve such a name in WHERE to the select item of that name).
#[tokio::test]
async fn fields_named_like_internal_select_items() {
    let docs: Vec<Value> = (0..6)
        .map(|k| {
            json!({"i": format!("v{}", k % 2), "sc": k, "n": k, "m": k % 3, "t": format!("w{k}"),
                   "k0": k, "v0": k, "s0": k, "c0": k})
        })
        .collect();
    load_docs("sm-clash", None, &docs).await;
    let q = json!({"bool": {"filter": [
        {"term": {"i.keyword": "v1"}}, {"range": {"sc": {"gte": 2}}},
        {"range": {"n": {"lte": 4}}}, {"terms": {"m": [0, 1]}}, {"exists": {"field": "t"}}
    ]}});
    // k odd, 2 ≤ k ≤ 4, k % 3 ∈ {0, 1}: k = 3.
    let v = search(
        "/sm-clash/_search",
        json!({"query": q, "track_total_hits": true}),
    )
    .await;
    assert_eq!(v["hits"]["total"]["value"], 1, "{v}");
    assert_eq!(v["hits"]["hits"][0]["_id"], "3");
    let r = json_req("POST", "/sm-clash/_count", &json!({"query": q})).await;
    assert_eq!(r.json()["count"], 1, "{}", r.text);
    // Sort keys and aggregation keys/values are select items too (`s0`, `k0`, `v0` fields).
    let v = search(
        "/sm-clash/_search",
        json!({"query": {"bool": {"filter": [
                   {"range": {"s0": {"gte": 1}}}, {"range": {"k0": {"lte": 4}}},
                   {"range": {"v0": {"gte": 2}}}, {"range": {"c0": {"lte": 3}}}]}},
               "sort": [{"n": "desc"}],
               "aggs": {"by": {"terms": {"field": "m"}, "aggs": {"s": {"sum": {"field": "n"}}}}}}),
    )
    .await;
    let ids: Vec<&str> = v["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["3", "2"], "{v}");
    // k = 2 (m 2), k = 3 (m 0).
    assert_eq!(
        v["aggregations"]["by"]["buckets"],
        json!([{"key": 0, "doc_count": 1, "s": {"value": 3.0}},
               {"key": 2, "doc_count": 1, "s": {"value": 2.0}}])
    );
    let r = json_req(
        "POST",
        "/sm-clash/_field_caps?fields=n",
        &json!({"index_filter": {"range": {"m": {"gte": 5}}}}),
    )
    .await;
    assert_eq!(r.json()["indices"], json!([]), "{}", r.text);
    // terms_enum's index_filter keeps or drops the whole index (search-terms-enum.html), here
    // by a field named `t`.
    let r = json_req(
        "POST",
        "/sm-clash/_terms_enum",
        &json!({"field": "i.keyword", "index_filter": {"term": {"t.keyword": "w3"}}}),
    )
    .await;
    assert_eq!(r.json()["terms"], json!(["v0", "v1"]), "{}", r.text);
    let r = json_req(
        "POST",
        "/sm-clash/_terms_enum",
        &json!({"field": "i.keyword", "index_filter": {"term": {"t.keyword": "nope"}}}),
    )
    .await;
    assert_eq!(r.json()["terms"], json!([]), "{}", r.text);
}
