//! Aggregations on the real engine. Every expected bucket and value is computed here from the
//! generated documents, not from the SQL the daemon builds. Response shapes follow Elasticsearch's
//! docs (search-aggregations-*) and InternalTerms / InternalDateHistogram / InternalStats.

use crate::common::*;
use chrono::{TimeZone, Timelike};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tokio::sync::OnceCell;

static LOADED: OnceCell<Vec<Value>> = OnceCell::const_new();
const IDX: &str = "agg-logs";
const HOSTS: [&str; 4] = ["alpha", "beta", "gamma", "delta"];
const STATUSES: [i64; 5] = [200, 200, 404, 500, 301];

/// Epoch millis of doc i: every 97 minutes from 2024-03-29T00:00Z, across Berlin's DST change
/// (2024-03-31 02:00 local).
fn ts(i: i64) -> i64 {
    1_711_670_400_000 + i * 97 * 60_000
}

async fn docs() -> &'static Vec<Value> {
    LOADED
        .get_or_init(|| async {
            let mapping = json!({"mappings": {"properties": {
                "@timestamp": {"type": "date"},
                "host": {"type": "keyword"},
                "status": {"type": "integer"},
                "bytes": {"type": "long"},
                "latency": {"type": "double"},
                "tags": {"type": "keyword"},
                "ok": {"type": "boolean"}
            }}});
            let mut all = Vec::new();
            for i in 0..120i64 {
                let mut d = json!({
                    "@timestamp": ts(i),
                    "host": HOSTS[(i * 7 % 11 % 4) as usize],
                    "status": STATUSES[(i % 5) as usize],
                    "bytes": (i * 37) % 1000,
                    "latency": ((i * 13) % 50) as f64 / 4.0,
                    "tags": match i % 4 { 0 => json!(["a", "b"]), 1 => json!(["b"]), 2 => json!(["a", "c", "a"]), _ => json!([]) },
                    "ok": i % 3 != 0
                });
                if i % 6 == 0 {
                    d.as_object_mut().unwrap().remove("bytes");
                }
                all.push(d);
            }
            load_docs(IDX, Some(&mapping), &all).await;
            all
        })
        .await
}

async fn aggs(body: Value) -> Value {
    docs().await;
    let r = json_req("POST", &format!("/{IDX}/_search"), &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    v["aggregations"].clone()
}

fn nums(docs: &[Value], f: &str) -> Vec<f64> {
    docs.iter().filter_map(|d| d[f].as_f64()).collect()
}

fn close(a: &Value, b: f64) {
    let x = a.as_f64().unwrap_or_else(|| panic!("not a number: {a}"));
    assert!((x - b).abs() < 1e-9 * b.abs().max(1.0), "{x} != {b}");
}

/// Percentile as Elasticsearch's exact digest computes it for small samples (Dist.quantile:
/// linear interpolation at q·(n−1)).
fn percentile(v: &[f64], p: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let idx = p / 100.0 * (s.len() - 1) as f64;
    let lo = idx.floor() as usize;
    let hi = (lo + 1).min(s.len() - 1);
    s[lo] + (idx - lo as f64) * (s[hi] - s[lo])
}

#[tokio::test]
async fn metrics_match_the_documents() {
    let d = docs().await;
    let a = aggs(json!({"size": 0, "aggs": {
        "avg_b": {"avg": {"field": "bytes"}},
        "sum_b": {"sum": {"field": "bytes"}},
        "min_b": {"min": {"field": "bytes"}},
        "max_l": {"max": {"field": "latency"}},
        "cnt": {"value_count": {"field": "bytes"}},
        "card": {"cardinality": {"field": "host"}},
        "st": {"stats": {"field": "latency"}},
        "ex": {"extended_stats": {"field": "bytes"}},
        "pc": {"percentiles": {"field": "latency", "percents": [25, 50, 99]}},
        "pc_list": {"percentiles": {"field": "latency", "percents": [50], "keyed": false}},
        "min_ts": {"min": {"field": "@timestamp"}},
        "tags_count": {"value_count": {"field": "tags"}}
    }}))
    .await;
    let b = nums(d, "bytes");
    let l = nums(d, "latency");
    let sum: f64 = b.iter().sum();
    close(&a["avg_b"]["value"], sum / b.len() as f64);
    close(&a["sum_b"]["value"], sum);
    close(
        &a["min_b"]["value"],
        b.iter().copied().fold(f64::INFINITY, f64::min),
    );
    close(
        &a["max_l"]["value"],
        l.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    );
    assert_eq!(a["cnt"]["value"], b.len());
    assert_eq!(a["card"]["value"], 4);
    assert_eq!(a["st"]["count"], l.len());
    close(&a["st"]["sum"], l.iter().sum());
    close(&a["st"]["avg"], l.iter().sum::<f64>() / l.len() as f64);
    let sq: f64 = b.iter().map(|x| x * x).sum();
    close(&a["ex"]["sum_of_squares"], sq);
    let mean = sum / b.len() as f64;
    close(&a["ex"]["variance"], sq / b.len() as f64 - mean * mean);
    for (k, p) in [("25.0", 25.0), ("50.0", 50.0), ("99.0", 99.0)] {
        close(&a["pc"]["values"][k], percentile(&l, p));
    }
    assert_eq!(a["pc_list"]["values"][0]["key"], 50.0);
    close(&a["pc_list"]["values"][0]["value"], percentile(&l, 50.0));
    assert_eq!(a["min_ts"]["value"], ts(0) as f64);
    assert_eq!(a["min_ts"]["value_as_string"], "2024-03-29T00:00:00.000Z");
    // Multi-valued: every value counts (a doc with ["a","c","a"] has three).
    let tag_values: usize = d.iter().map(|x| x["tags"].as_array().unwrap().len()).sum();
    assert_eq!(a["tags_count"]["value"], tag_values);
}

#[tokio::test]
async fn metrics_of_nothing_render_like_elasticsearch() {
    let a = aggs(
        json!({"size": 0, "query": {"term": {"host": "nope"}}, "aggs": {
            "avg": {"avg": {"field": "bytes"}},
            "min": {"min": {"field": "bytes"}},
            "sum": {"sum": {"field": "bytes"}},
            "cnt": {"value_count": {"field": "bytes"}},
            "st": {"stats": {"field": "bytes"}},
            "terms": {"terms": {"field": "host"}}
        }}),
    )
    .await;
    assert_eq!(a["avg"], json!({"value": null}));
    assert_eq!(a["min"], json!({"value": null}));
    assert_eq!(a["sum"], json!({"value": 0.0}));
    assert_eq!(a["cnt"], json!({"value": 0}));
    assert_eq!(
        a["st"],
        json!({"count": 0, "min": null, "max": null, "avg": null, "sum": 0.0})
    );
    assert_eq!(
        a["terms"],
        json!({"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0, "buckets": []})
    );
}

fn count_by<K: Ord>(d: &[Value], key: impl Fn(&Value) -> Vec<K>) -> BTreeMap<K, u64> {
    let mut m = BTreeMap::new();
    for x in d {
        for k in key(x) {
            *m.entry(k).or_insert(0) += 1;
        }
    }
    m
}

#[tokio::test]
async fn terms_sizes_orders_and_multi_values() {
    let d = docs().await;
    let a = aggs(json!({"size": 0, "aggs": {
        "hosts": {"terms": {"field": "host", "size": 2}},
        "by_avg": {"terms": {"field": "host", "order": {"lat": "desc"}}, "aggs": {"lat": {"avg": {"field": "latency"}}}},
        "tags": {"terms": {"field": "tags", "order": {"_key": "asc"}}},
        "status": {"terms": {"field": "status", "include": [200, 404]}},
        "ok": {"terms": {"field": "ok"}},
        "no_a": {"terms": {"field": "host", "exclude": "a.*"}}
    }})).await;
    let counts = count_by(d, |x| vec![x["host"].as_str().unwrap().to_string()]);
    let mut ranked: Vec<(String, u64)> = counts.clone().into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let got: Vec<(String, u64)> = a["hosts"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["key"].as_str().unwrap().to_string(),
                b["doc_count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, ranked[..2].to_vec());
    assert_eq!(
        a["hosts"]["sum_other_doc_count"],
        ranked[2..].iter().map(|x| x.1).sum::<u64>()
    );
    assert_eq!(a["hosts"]["doc_count_error_upper_bound"], 0);

    // Ordered by a sub-aggregation.
    let mut avgs: Vec<(String, f64)> = HOSTS
        .iter()
        .map(|h| {
            let v: Vec<f64> = d
                .iter()
                .filter(|x| x["host"] == *h)
                .map(|x| x["latency"].as_f64().unwrap())
                .collect();
            (h.to_string(), v.iter().sum::<f64>() / v.len() as f64)
        })
        .collect();
    avgs.sort_by(|a, b| b.1.total_cmp(&a.1));
    let got: Vec<String> = a["by_avg"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, avgs.iter().map(|x| x.0.clone()).collect::<Vec<_>>());
    for b in a["by_avg"]["buckets"].as_array().unwrap() {
        let want = avgs.iter().find(|x| x.0 == b["key"]).unwrap().1;
        close(&b["lat"]["value"], want);
    }

    // A document counts once per distinct term.
    let tags = count_by(d, |x| {
        let mut v: Vec<String> = x["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect();
        v.sort();
        v.dedup();
        v
    });
    let got: Vec<(String, u64)> = a["tags"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["key"].as_str().unwrap().to_string(),
                b["doc_count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, tags.into_iter().collect::<Vec<_>>());

    // Numeric keys are numbers, without key_as_string; include as an array.
    let st = count_by(d, |x| vec![x["status"].as_i64().unwrap()]);
    let b = a["status"]["buckets"].as_array().unwrap();
    assert_eq!(b.len(), 2);
    assert_eq!(b[0]["key"], 200);
    assert_eq!(b[0]["doc_count"], st[&200]);
    assert!(b[0].get("key_as_string").is_none());
    // Booleans: key 0/1 with key_as_string.
    let oks = count_by(d, |x| vec![x["ok"].as_bool().unwrap()]);
    let b = a["ok"]["buckets"].as_array().unwrap();
    assert_eq!(
        b[0],
        json!({"key": 1, "key_as_string": "true", "doc_count": oks[&true]})
    );
    assert_eq!(
        b[1],
        json!({"key": 0, "key_as_string": "false", "doc_count": oks[&false]})
    );
    let keys: Vec<&str> = a["no_a"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["key"].as_str().unwrap())
        .collect();
    assert!(!keys.contains(&"alpha") && keys.len() == 3, "{keys:?}");
}

#[tokio::test]
async fn date_histogram_across_dst_in_berlin() {
    let d = docs().await;
    let a = aggs(json!({"size": 0, "aggs": {
        "days": {"date_histogram": {"field": "@timestamp", "calendar_interval": "day", "time_zone": "Europe/Berlin"}},
        "hours6": {"date_histogram": {"field": "@timestamp", "fixed_interval": "6h"}}
    }})).await;
    let tz: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
    let day_key = |ms: i64| {
        let local = tz.timestamp_millis_opt(ms).unwrap();
        let midnight = local.date_naive().and_hms_opt(0, 0, 0).unwrap();
        tz.from_local_datetime(&midnight).unwrap()
    };
    let want = count_by(d, |x| vec![day_key(x["@timestamp"].as_i64().unwrap())]);
    let got = a["days"]["buckets"].as_array().unwrap();
    assert_eq!(got.len(), want.len());
    for (b, (k, n)) in got.iter().zip(&want) {
        assert_eq!(b["key"], k.timestamp_millis());
        assert_eq!(
            b["key_as_string"],
            k.format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string()
        );
        assert_eq!(b["doc_count"], *n);
    }
    // The day after the change starts at 22:00 UTC, the day before at 23:00 UTC.
    assert!(
        got.iter()
            .any(|b| b["key_as_string"] == "2024-03-31T00:00:00.000+01:00")
    );
    assert!(
        got.iter()
            .any(|b| b["key_as_string"] == "2024-04-01T00:00:00.000+02:00")
    );
    let six = count_by(d, |x| {
        vec![x["@timestamp"].as_i64().unwrap() / 21_600_000 * 21_600_000]
    });
    let got = a["hours6"]["buckets"].as_array().unwrap();
    let first = *six.keys().next().unwrap();
    let last = *six.keys().last().unwrap();
    assert_eq!(got.len() as i64, (last - first) / 21_600_000 + 1);
    for b in got {
        let k = b["key"].as_i64().unwrap();
        assert_eq!(b["doc_count"], six.get(&k).copied().unwrap_or(0));
        let t = chrono::DateTime::from_timestamp_millis(k).unwrap();
        assert_eq!(t.hour() % 6, 0);
    }
}

#[tokio::test]
async fn empty_buckets_with_min_doc_count_zero_and_extended_bounds() {
    let d = docs().await;
    let a = aggs(json!({"size": 0, "query": {"term": {"host": "alpha"}}, "aggs": {
        "h": {"histogram": {"field": "bytes", "interval": 100, "min_doc_count": 0, "extended_bounds": {"min": 0, "max": 1500}}},
        "sparse": {"histogram": {"field": "bytes", "interval": 100, "min_doc_count": 1}},
        "all_hosts": {"terms": {"field": "host", "min_doc_count": 0}}
    }})).await;
    let alpha: Vec<&Value> = d.iter().filter(|x| x["host"] == "alpha").collect();
    let want = count_by(
        &alpha.iter().map(|x| (*x).clone()).collect::<Vec<_>>(),
        |x| {
            x["bytes"]
                .as_i64()
                .map(|b| b / 100 * 100)
                .into_iter()
                .collect()
        },
    );
    let got = a["h"]["buckets"].as_array().unwrap();
    assert_eq!(got.len(), 16, "0..=1500 by 100");
    for (i, b) in got.iter().enumerate() {
        let k = i as i64 * 100;
        assert_eq!(b["key"], k as f64);
        assert_eq!(b["doc_count"], want.get(&k).copied().unwrap_or(0));
    }
    assert_eq!(a["sparse"]["buckets"].as_array().unwrap().len(), want.len());
    let hosts = a["all_hosts"]["buckets"].as_array().unwrap();
    assert_eq!(hosts.len(), 4);
    assert_eq!(hosts[0]["key"], "alpha");
    assert!(hosts[1..].iter().all(|b| b["doc_count"] == 0));
}

#[tokio::test]
async fn three_levels_deep_and_kibana_shape() {
    let d = docs().await;
    // date_histogram × terms × metrics (a Kibana panel), plus one more level below.
    let a = aggs(json!({"size": 0, "aggs": {"t": {
        "date_histogram": {"field": "@timestamp", "fixed_interval": "1d"},
        "aggs": {"h": {"terms": {"field": "host", "size": 10, "order": {"_key": "asc"}},
            "aggs": {
                "avg_l": {"avg": {"field": "latency"}},
                "p": {"percentiles": {"field": "latency", "percents": [50]}},
                "s": {"terms": {"field": "status"}, "aggs": {"mx": {"max": {"field": "bytes"}}}}
            }}}
    }}}))
    .await;
    let day = |x: &Value| x["@timestamp"].as_i64().unwrap() / 86_400_000 * 86_400_000;
    for db in a["t"]["buckets"].as_array().unwrap() {
        let k = db["key"].as_i64().unwrap();
        let in_day: Vec<&Value> = d.iter().filter(|x| day(x) == k).collect();
        assert_eq!(db["doc_count"], in_day.len());
        for hb in db["h"]["buckets"].as_array().unwrap() {
            let in_host: Vec<&&Value> = in_day.iter().filter(|x| x["host"] == hb["key"]).collect();
            assert_eq!(hb["doc_count"], in_host.len());
            let l: Vec<f64> = in_host
                .iter()
                .map(|x| x["latency"].as_f64().unwrap())
                .collect();
            close(
                &hb["avg_l"]["value"],
                l.iter().sum::<f64>() / l.len() as f64,
            );
            close(&hb["p"]["values"]["50.0"], percentile(&l, 50.0));
            for sb in hb["s"]["buckets"].as_array().unwrap() {
                let in_s: Vec<&&&Value> = in_host
                    .iter()
                    .filter(|x| x["status"] == sb["key"])
                    .collect();
                assert_eq!(sb["doc_count"], in_s.len());
                let mx = in_s
                    .iter()
                    .filter_map(|x| x["bytes"].as_f64())
                    .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
                assert_eq!(sb["mx"]["value"], mx.map_or(Value::Null, |v| json!(v)));
            }
        }
    }
}

#[tokio::test]
async fn range_filters_missing_global_and_post_filter() {
    let d = docs().await;
    let r = json_req("POST", &format!("/{IDX}/_search"), &json!({
        "size": 0,
        "query": {"range": {"status": {"gte": 300}}},
        "post_filter": {"term": {"host": "alpha"}},
        "aggs": {
            "r": {"range": {"field": "bytes", "ranges": [{"to": 300}, {"from": 300, "to": 600}, {"from": 600, "key": "big"}]}},
            "f": {"filter": {"term": {"host": "beta"}}, "aggs": {"a": {"avg": {"field": "bytes"}}}},
            "fs": {"filters": {"other_bucket": true, "filters": {"z_ok": {"term": {"ok": true}}, "a_404": {"term": {"status": 404}}}}},
            "anon": {"filters": {"filters": [{"term": {"status": 500}}]}},
            "m": {"missing": {"field": "bytes"}},
            "g": {"global": {}, "aggs": {"all": {"value_count": {"field": "host"}}}}
        }
    })).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    let a = &v["aggregations"];
    let q: Vec<&Value> = d
        .iter()
        .filter(|x| x["status"].as_i64().unwrap() >= 300)
        .collect();
    // post_filter narrows the hits only.
    assert_eq!(
        v["hits"]["total"]["value"],
        q.iter().filter(|x| x["host"] == "alpha").count()
    );
    let b = a["r"]["buckets"].as_array().unwrap();
    let in_range = |lo: i64, hi: i64| {
        q.iter()
            .filter(|x| x["bytes"].as_i64().is_some_and(|b| b >= lo && b < hi))
            .count()
    };
    assert_eq!(
        b[0],
        json!({"key": "*-300.0", "to": 300.0, "doc_count": in_range(i64::MIN, 300)})
    );
    assert_eq!(b[1]["key"], "300.0-600.0");
    assert_eq!(b[1]["doc_count"], in_range(300, 600));
    assert_eq!(
        b[2],
        json!({"key": "big", "from": 600.0, "doc_count": in_range(600, i64::MAX)})
    );
    let beta: Vec<f64> = q
        .iter()
        .filter(|x| x["host"] == "beta")
        .filter_map(|x| x["bytes"].as_f64())
        .collect();
    assert_eq!(
        a["f"]["doc_count"],
        q.iter().filter(|x| x["host"] == "beta").count()
    );
    close(
        &a["f"]["a"]["value"],
        beta.iter().sum::<f64>() / beta.len() as f64,
    );
    let ok = q.iter().filter(|x| x["ok"] == true).count();
    let s404 = q.iter().filter(|x| x["status"] == 404).count();
    let other = q
        .iter()
        .filter(|x| x["ok"] != true && x["status"] != 404)
        .count();
    // Named filters come back sorted by name, then the other bucket.
    assert_eq!(
        a["fs"]["buckets"],
        json!({"a_404": {"doc_count": s404}, "z_ok": {"doc_count": ok}, "_other_": {"doc_count": other}})
    );
    assert_eq!(
        a["anon"]["buckets"],
        json!([{"doc_count": q.iter().filter(|x| x["status"] == 500).count()}])
    );
    assert_eq!(
        a["m"]["doc_count"],
        q.iter().filter(|x| x.get("bytes").is_none()).count()
    );
    assert_eq!(a["g"]["doc_count"], d.len());
    assert_eq!(a["g"]["all"]["value"], d.len());
}

#[tokio::test]
async fn pipelines_over_histogram_buckets() {
    let d = docs().await;
    let a = aggs(json!({"size": 0, "aggs": {
        "days": {"date_histogram": {"field": "@timestamp", "calendar_interval": "1d"}, "aggs": {
            "b": {"sum": {"field": "bytes"}},
            "d": {"derivative": {"buckets_path": "b"}},
            "c": {"cumulative_sum": {"buckets_path": "_count"}},
            "mv": {"moving_fn": {"buckets_path": "b", "window": 2, "script": "MovingFunctions.unweightedAvg(values)"}},
            "ratio": {"bucket_script": {"buckets_path": {"s": "b", "n": "_count"}, "script": "params.s / params.n"}},
            "keep": {"bucket_selector": {"buckets_path": {"n": "_count"}, "script": "params.n > 10"}}
        }},
        "best": {"max_bucket": {"buckets_path": "days>b"}},
        "avg_day": {"avg_bucket": {"buckets_path": "days>_count"}}
    }})).await;
    let day = |x: &Value| x["@timestamp"].as_i64().unwrap() / 86_400_000 * 86_400_000;
    let mut per: BTreeMap<i64, (u64, f64)> = BTreeMap::new();
    for x in d {
        let e = per.entry(day(x)).or_default();
        e.0 += 1;
        e.1 += x["bytes"].as_f64().unwrap_or(0.0);
    }
    let all: Vec<(i64, u64, f64)> = per.iter().map(|(k, v)| (*k, v.0, v.1)).collect();
    let kept: Vec<usize> = (0..all.len()).filter(|i| all[*i].1 > 10).collect();
    let got = a["days"]["buckets"].as_array().unwrap();
    assert_eq!(got.len(), kept.len());
    let mut cum = 0u64;
    for (i, x) in all.iter().enumerate() {
        cum += x.1;
        let Some(pos) = kept.iter().position(|k| *k == i) else {
            continue;
        };
        let b = &got[pos];
        assert_eq!(b["key"], x.0);
        close(&b["c"]["value"], cum as f64);
        close(&b["ratio"]["value"], x.2 / x.1 as f64);
        if i == 0 {
            assert!(b.get("d").is_none());
            assert_eq!(b["mv"]["value"], Value::Null);
        } else {
            close(&b["d"]["value"], x.2 - all[i - 1].2);
            let w: Vec<f64> = all[i.saturating_sub(2)..i].iter().map(|y| y.2).collect();
            close(&b["mv"]["value"], w.iter().sum::<f64>() / w.len() as f64);
        }
    }
    // Sibling pipelines see the buckets bucket_selector kept.
    let best = kept
        .iter()
        .map(|i| all[*i].2)
        .fold(f64::NEG_INFINITY, f64::max);
    close(&a["best"]["value"], best);
    assert_eq!(a["best"]["keys"].as_array().unwrap().len(), 1);
    let kept_docs: u64 = kept.iter().map(|i| all[*i].1).sum();
    close(&a["avg_day"]["value"], kept_docs as f64 / kept.len() as f64);
}

#[tokio::test]
async fn meta_and_errors() {
    let a =
        aggs(json!({"size": 0, "aggs": {"x": {"meta": {"panel": 7}, "max": {"field": "bytes"}}}}))
            .await;
    assert_eq!(a["x"]["meta"], json!({"panel": 7}));
    docs().await;
    let path = format!("/{IDX}/_search");
    let r = json_req("POST", &path, &json!({"aggs": {"x": {"bogus": {}}}})).await;
    let e = assert_es_error(&r, 400, "parsing_exception");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .contains("Unknown aggregation type [bogus]"),
        "{e}"
    );
    assert_eq!(e["caused_by"]["type"], "named_object_not_found_exception");
    let r = json_req(
        "POST",
        &path,
        &json!({"aggs": {"x": {"matrix_stats": {"fields": ["bytes"]}}}}),
    )
    .await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert!(
        e["reason"].as_str().unwrap().contains("matrix_stats"),
        "{e}"
    );
    let r = json_req(
        "POST",
        &path,
        &json!({"aggs": {"x": {"terms": {"field": "host", "sise": 3}}}}),
    )
    .await;
    let e = assert_es_error(&r, 400, "x_content_parse_exception");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .contains("[terms] unknown field [sise]"),
        "{e}"
    );
    let r = json_req("POST", &path, &json!({"aggs": {"x": {"avg": {"field": "bytes"}, "aggs": {"y": {"max": {"field": "bytes"}}}}}})).await;
    assert_es_error(&r, 400, "aggregation_initialization_exception");
    let r = json_req(
        "POST",
        &path,
        &json!({"aggs": {"x": {"terms": {"field": "host"}, "max": {"field": "bytes"}}}}),
    )
    .await;
    let e = assert_es_error(&r, 400, "parsing_exception");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .contains("Found two aggregation type definitions in [x]: [terms] and [max]"),
        "{e}"
    );
}

/// geotile_grid `bounds` keeps the points whose tile intersects the box; tiles that only touch it
/// are left out (search-aggregations-bucket-geotilegrid-aggregation, "Requests with additional
/// bounding box filtering"; GeoTileBoundedPredicate). Maps sends the map's extent as bounds.
#[tokio::test]
async fn geotile_grid_with_bounds() {
    let mapping = json!({"mappings": {"properties": {"loc": {"type": "geo_point"}}}});
    assert_eq!(json_req("PUT", "/agg-tiles", &mapping).await.status, 200);
    let pts: Vec<(f64, f64)> = (0..60)
        .map(|i| {
            (
                -70.0 + (i * 37 % 140) as f64,
                -170.0 + (i * 53 % 340) as f64,
            )
        })
        .collect();
    let mut body = String::new();
    for (i, (lat, lon)) in pts.iter().enumerate() {
        body.push_str(&format!(
            "{{\"index\":{{\"_id\":\"{i}\"}}}}\n{{\"loc\":{{\"lat\":{lat},\"lon\":{lon}}}}}\n"
        ));
    }
    let r = bulk("/agg-tiles/_bulk?refresh=true", &body).await;
    assert_eq!(r.json()["errors"], false, "{}", r.text);
    // Zoom 2: 4×4 tiles, columns 90° wide. The box [lon 0..100, lat 60..10] intersects columns 2
    // and 3 (0 is column 2's west edge: column 1 only touches it) and rows 0 and 1 (10°N is inside
    // row 1, whose south edge is the equator).
    let tile = |lat: f64, lon: f64| {
        let x = (((lon + 180.0) / 360.0) * 4.0).floor().clamp(0.0, 3.0) as u32;
        let s = lat.to_radians().sin();
        let y = ((0.5 - ((1.0 + s) / (1.0 - s)).ln() / (4.0 * std::f64::consts::PI)) * 4.0)
            .floor()
            .clamp(0.0, 3.0) as u32;
        (x, y)
    };
    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    for (lat, lon) in &pts {
        let (x, y) = tile(*lat, *lon);
        if (2..=3).contains(&x) && y <= 1 {
            *want.entry(format!("2/{x}/{y}")).or_default() += 1;
        }
    }
    let r = json_req(
        "POST",
        "/agg-tiles/_search",
        &json!({"size": 0, "aggs": {"g": {"geotile_grid": {"field": "loc", "precision": 2,
            "bounds": {"top_left": {"lat": 60.0, "lon": 0.0}, "bottom_right": {"lat": 10.0, "lon": 100.0}}}}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let got: BTreeMap<String, u64> = r.json()["aggregations"]["g"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["key"].as_str().unwrap().to_string(),
                b["doc_count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got, want);
}
