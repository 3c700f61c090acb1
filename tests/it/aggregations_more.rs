//! More aggregation types on the real engine: top_metrics, top_hits, multi_terms, composite, and
//! further metrics. Every expected value is computed here from the generated documents, not from
//! the SQL the daemon builds. Response shapes follow Elasticsearch's docs and the toXContent of
//! the internal aggregation classes cited at each test.

use crate::common::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tokio::sync::OnceCell;

static LOADED: OnceCell<Vec<Value>> = OnceCell::const_new();
const IDX: &str = "agg-more";
const HOSTS: [&str; 4] = ["alpha", "beta", "gamma", "delta"];
const STATUSES: [i64; 5] = [200, 200, 404, 500, 301];

/// Epoch millis of doc i: every 61 minutes from 2024-03-29T00:00Z.
fn ts(i: i64) -> i64 {
    1_711_670_400_000 + i * 61 * 60_000
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
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
                "weight": {"type": "double"},
                "tags": {"type": "keyword"},
                "ok": {"type": "boolean"}
            }}});
            let mut all = Vec::new();
            for i in 0..90i64 {
                let mut d = json!({
                    "@timestamp": ts(i),
                    "host": HOSTS[(i * 5 % 7 % 4) as usize],
                    "status": STATUSES[(i % 5) as usize],
                    "bytes": (i * 37) % 1000,
                    "latency": ((i * 13) % 50) as f64 / 4.0,
                    "weight": (i % 3 + 1) as f64,
                    "tags": match i % 4 { 0 => json!(["a", "b"]), 1 => json!(["b"]), 2 => json!(["a", "c"]), _ => json!([]) },
                    "ok": i % 3 != 0
                });
                if i % 6 == 0 {
                    d.as_object_mut().unwrap().remove("bytes");
                }
                d.as_object_mut().unwrap().insert("n".into(), json!(i));
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
    r.json()["aggregations"].clone()
}

fn close(a: &Value, b: f64) {
    let x = a.as_f64().unwrap_or_else(|| panic!("not a number: {a}"));
    assert!((x - b).abs() < 1e-9 * b.abs().max(1.0), "{x} != {b}");
}

fn of_host<'a>(d: &'a [Value], h: &str) -> Vec<&'a Value> {
    d.iter().filter(|x| x["host"] == h).collect()
}

/// top_metrics as Kibana Lens "last value" asks for it (sort by @timestamp desc, size 1), and
/// with size 2 and two metrics. Shape: InternalTopMetrics#doXContentBody / TopMetric#toXContent
/// (x-pack/plugin/analytics/.../topmetrics/InternalTopMetrics.java): `{"top": [{"sort": [v],
/// "metrics": {field: v}}]}`; a date sort value is shown with the field's format, a long metric
/// as a long, a missing metric as null; search-aggregations-metrics-top-metrics.html.
#[tokio::test]
async fn top_metrics_last_value_per_host() {
    let d = docs().await;
    let a = aggs(json!({"size": 0, "aggs": {
        "last": {"top_metrics": {"metrics": {"field": "latency"}, "sort": {"@timestamp": "desc"}}},
        "hosts": {"terms": {"field": "host"}, "aggs": {
            "tm": {"top_metrics": {"metrics": [{"field": "bytes"}, {"field": "latency"}],
                   "sort": [{"@timestamp": {"order": "desc"}}], "size": 2}},
            "low": {"top_metrics": {"metrics": {"field": "status"}, "sort": {"latency": "asc"}}}
        }}
    }}))
    .await;
    let newest = d.iter().max_by_key(|x| x["@timestamp"].as_i64()).unwrap();
    assert_eq!(
        a["last"],
        json!({"top": [{"sort": [iso(newest["@timestamp"].as_i64().unwrap())],
                        "metrics": {"latency": newest["latency"]}}]})
    );
    let buckets = a["hosts"]["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 4);
    for b in buckets {
        let mut mine = of_host(d, b["key"].as_str().unwrap());
        mine.sort_by_key(|x| std::cmp::Reverse(x["@timestamp"].as_i64()));
        let want: Vec<Value> = mine[..2]
            .iter()
            .map(|x| {
                json!({"sort": [iso(x["@timestamp"].as_i64().unwrap())],
                       "metrics": {"bytes": x.get("bytes").cloned().unwrap_or(Value::Null),
                                   "latency": x["latency"]}})
            })
            .collect();
        assert_eq!(b["tm"]["top"], json!(want), "{}", b["key"]);
        let lowest = mine
            .iter()
            .map(|x| x["latency"].as_f64().unwrap())
            .fold(f64::INFINITY, f64::min);
        assert_eq!(b["low"]["top"][0]["sort"], json!([lowest]));
        assert_eq!(b["low"]["top"].as_array().unwrap().len(), 1);
    }
    // No documents: an empty list.
    let a = aggs(
        json!({"size": 0, "query": {"term": {"host": "nope"}}, "aggs": {
        "tm": {"top_metrics": {"metrics": {"field": "bytes"}, "sort": {"@timestamp": "desc"}}}}}),
    )
    .await;
    assert_eq!(a["tm"], json!({"top": []}));
}

/// top_hits: hits shaped as search hits (`hits.total`, `max_score`, `_index`, `_id`, `_score`,
/// `_source`, `sort`), `from`/`size`, `_source` filtering; sorted by a field, `_score` and
/// `max_score` are null (search-aggregations-metrics-top-hits-aggregation.html, InternalTopHits).
/// A missing long sort value sorts last and shows as Long.MIN_VALUE in a descending sort.
#[tokio::test]
async fn top_hits_per_host_sorted_by_a_field() {
    let d = docs().await;
    let a = aggs(json!({"size": 0, "aggs": {
        "hosts": {"terms": {"field": "host"}, "aggs": {
            "top": {"top_hits": {"size": 2, "from": 1, "sort": [{"bytes": "desc"}],
                    "_source": {"includes": ["host", "bytes"]}}}
        }},
        "newest": {"top_hits": {"size": 1, "sort": [{"@timestamp": {"order": "desc"}}], "_source": false}},
        "by_score": {"top_hits": {"size": 3}}
    }}))
    .await;
    for b in a["hosts"]["buckets"].as_array().unwrap() {
        let h = b["key"].as_str().unwrap();
        let mut mine = of_host(d, h);
        mine.sort_by_key(|x| std::cmp::Reverse(x["bytes"].as_i64().unwrap_or(i64::MIN)));
        let want: Vec<Value> = mine[1..3]
            .iter()
            .map(|x| {
                let mut src = serde_json::Map::new();
                src.insert("host".into(), x["host"].clone());
                if let Some(v) = x.get("bytes") {
                    src.insert("bytes".into(), v.clone());
                }
                json!({"_index": IDX, "_id": x["n"].to_string(), "_score": null,
                       "_source": src, "sort": [x["bytes"].as_i64().unwrap_or(i64::MIN)]})
            })
            .collect();
        assert_eq!(
            b["top"],
            json!({"hits": {"total": {"value": mine.len(), "relation": "eq"},
                            "max_score": null, "hits": want}}),
            "{h}"
        );
    }
    let newest = d.iter().max_by_key(|x| x["@timestamp"].as_i64()).unwrap();
    assert_eq!(
        a["newest"]["hits"]["hits"],
        json!([{"_index": IDX, "_id": newest["n"].to_string(), "_score": null,
                "sort": [newest["@timestamp"]]}])
    );
    // Default: by score (match_all scores every document 1.0).
    let h = &a["by_score"]["hits"];
    assert_eq!(h["total"], json!({"value": d.len(), "relation": "eq"}));
    assert_eq!(h["max_score"], 1.0);
    assert_eq!(h["hits"].as_array().unwrap().len(), 3);
    for hit in h["hits"].as_array().unwrap() {
        assert_eq!(hit["_score"], 1.0);
        let n = hit["_source"]["n"].as_u64().unwrap() as usize;
        assert_eq!(hit["_source"], d[n]);
        assert!(hit.get("sort").is_none());
    }
}

#[tokio::test]
async fn top_hits_and_top_metrics_errors() {
    docs().await;
    let r = json_req(
        "POST",
        &format!("/{IDX}/_search"),
        &json!({"size": 0, "aggs": {"t": {"top_metrics": {"metrics": {"field": "bytes"}, "sort": {"n": "desc"}, "size": 11}}}}),
    )
    .await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert!(e.to_string().contains("top_metrics_max_size"), "{e}");
    let r = json_req(
        "POST",
        &format!("/{IDX}/_search"),
        &json!({"size": 0, "aggs": {"t": {"top_hits": {"highlight": {"fields": {"host": {}}}}}}}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("highlight"), "{}", r.text);
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

/// multi_terms (Kibana Lens "multiple terms"): buckets of field-value combinations, key as a list
/// and key_as_string joined with `|` (InternalMultiTerms.Bucket#toXContent, getKeyAsString), ordered
/// by `_count` desc then key asc by default, `sum_other_doc_count` as terms; a multi-valued field
/// yields every combination; booleans show as true/false; docs missing a field are left out
/// (search-aggregations-bucket-multi-terms-aggregation.html).
#[tokio::test]
async fn multi_terms_combinations() {
    let d = docs().await;
    let a = aggs(json!({"size": 0, "aggs": {
        "hs": {"multi_terms": {"terms": [{"field": "host"}, {"field": "status"}], "size": 5},
               "aggs": {"lat": {"avg": {"field": "latency"}}}},
        "by_key": {"multi_terms": {"terms": [{"field": "ok"}, {"field": "host"}], "order": {"_key": "asc"}}},
        "tags": {"multi_terms": {"terms": [{"field": "tags"}, {"field": "host"}], "size": 100}},
        "miss": {"multi_terms": {"terms": [{"field": "host"}, {"field": "bytes", "missing": -1}], "size": 1000}}
    }}))
    .await;
    let want = count_by(d, |x| {
        vec![(
            x["host"].as_str().unwrap().to_string(),
            x["status"].as_i64().unwrap(),
        )]
    });
    let mut ranked: Vec<_> = want.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let got = a["hs"]["buckets"].as_array().unwrap();
    assert_eq!(got.len(), 5);
    for (b, ((h, s), n)) in got.iter().zip(&ranked) {
        assert_eq!(b["key"], json!([h, s]));
        assert_eq!(b["key_as_string"], format!("{h}|{s}"));
        assert_eq!(b["doc_count"], *n);
        let lat: Vec<f64> = d
            .iter()
            .filter(|x| x["host"] == *h && x["status"] == *s)
            .map(|x| x["latency"].as_f64().unwrap())
            .collect();
        close(
            &b["lat"]["value"],
            lat.iter().sum::<f64>() / lat.len() as f64,
        );
    }
    assert_eq!(
        a["hs"]["sum_other_doc_count"],
        ranked[5..].iter().map(|x| x.1).sum::<u64>()
    );
    assert_eq!(a["hs"]["doc_count_error_upper_bound"], 0);

    // Ordered by key: false < true, then host.
    let want = count_by(d, |x| {
        vec![(
            x["ok"].as_bool().unwrap(),
            x["host"].as_str().unwrap().to_string(),
        )]
    });
    let got: Vec<(Value, Value, Value)> = a["by_key"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["key"].clone(),
                b["key_as_string"].clone(),
                b["doc_count"].clone(),
            )
        })
        .collect();
    let expect: Vec<(Value, Value, Value)> = want
        .iter()
        .map(|((o, h), n)| (json!([o, h]), json!(format!("{o}|{h}")), json!(n)))
        .collect();
    assert_eq!(got, expect);

    // Every (tag, host) combination of a document; documents without tags are in none.
    let want = count_by(d, |x| {
        x["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t.as_str().unwrap().to_string(),
                    x["host"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    });
    let got: BTreeMap<(String, String), u64> = a["tags"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                (
                    b["key"][0].as_str().unwrap().to_string(),
                    b["key"][1].as_str().unwrap().to_string(),
                ),
                b["doc_count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, want);
    // `missing` per term stands in for documents without the field.
    let got = a["miss"]["buckets"].as_array().unwrap();
    let with_missing = got
        .iter()
        .filter(|b| b["key"][1] == -1)
        .map(|b| b["doc_count"].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(
        with_missing,
        d.iter().filter(|x| x.get("bytes").is_none()).count() as u64
    );
    assert_eq!(
        got.iter()
            .map(|b| b["doc_count"].as_u64().unwrap())
            .sum::<u64>(),
        d.len() as u64
    );
}

/// composite: paging through every (host, day) bucket with `after`/`after_key`, in the sources'
/// order (host asc, day desc); date_histogram keys are epoch millis; `missing_bucket` keeps
/// documents without a value under a `null` key, first in ascending order (missing_order
/// default); sub-aggregations per bucket. Shape: InternalComposite#doXContentBody (`after_key`
/// then `buckets` of `{"key": {name: value}, "doc_count"}`),
/// search-aggregations-bucket-composite-aggregation.html.
#[tokio::test]
async fn composite_pages_through_every_bucket() {
    let d = docs().await;
    let day = |x: &Value| x["@timestamp"].as_i64().unwrap() / 86_400_000 * 86_400_000;
    let mut want: Vec<((String, i64), u64)> = count_by(d, |x| {
        vec![(x["host"].as_str().unwrap().to_string(), day(x))]
    })
    .into_iter()
    .collect();
    want.sort_by(|a, b| a.0.0.cmp(&b.0.0).then(b.0.1.cmp(&a.0.1)));
    let mut after: Option<Value> = None;
    let mut got = Vec::new();
    let mut pages = 0;
    loop {
        let mut comp = json!({"size": 3, "sources": [
            {"h": {"terms": {"field": "host"}}},
            {"d": {"date_histogram": {"field": "@timestamp", "calendar_interval": "1d", "order": "desc"}}}
        ]});
        if let Some(a) = &after {
            comp["after"] = a.clone();
        }
        let a = aggs(json!({"size": 0, "aggs": {"c": {"composite": comp,
            "aggs": {"mx": {"max": {"field": "latency"}}}}}}))
        .await;
        let buckets = a["c"]["buckets"].as_array().unwrap().clone();
        if buckets.is_empty() {
            assert!(a["c"].get("after_key").is_none());
            break;
        }
        assert!(buckets.len() <= 3);
        assert_eq!(a["c"]["after_key"], buckets.last().unwrap()["key"]);
        for b in &buckets {
            let h = b["key"]["h"].as_str().unwrap().to_string();
            let k = b["key"]["d"].as_i64().unwrap();
            let mx = d
                .iter()
                .filter(|x| x["host"] == h.as_str() && day(x) == k)
                .map(|x| x["latency"].as_f64().unwrap())
                .fold(f64::NEG_INFINITY, f64::max);
            close(&b["mx"]["value"], mx);
            got.push(((h, k), b["doc_count"].as_u64().unwrap()));
        }
        after = Some(a["c"]["after_key"].clone());
        pages += 1;
        assert!(pages < 100);
    }
    assert_eq!(got, want);

    // missing_bucket on a histogram of bytes: the null bucket comes first.
    let a = aggs(
        json!({"size": 0, "aggs": {"c": {"composite": {"size": 100, "sources": [
            {"b": {"histogram": {"field": "bytes", "interval": 250, "missing_bucket": true}}},
            {"ok": {"terms": {"field": "ok"}}}
        ]}}}}),
    )
    .await;
    // BTreeMap order: None first, then ascending — the composite order.
    let want: Vec<((Option<i64>, bool), u64)> = count_by(d, |x| {
        vec![(
            x["bytes"].as_i64().map(|b| b / 250 * 250),
            x["ok"].as_bool().unwrap(),
        )]
    })
    .into_iter()
    .collect();
    let got: Vec<Value> = a["c"]["buckets"].as_array().unwrap().clone();
    let expect: Vec<Value> = want
        .iter()
        .map(|((b, ok), n)| json!({"key": {"b": b.map(|x| x as f64), "ok": ok}, "doc_count": n}))
        .collect();
    assert_eq!(got, expect);
    // Under another bucket aggregation: an error, as Elasticsearch.
    let r = json_req(
        "POST",
        &format!("/{IDX}/_search"),
        &json!({"size": 0, "aggs": {"t": {"terms": {"field": "host"}, "aggs": {
            "c": {"composite": {"sources": [{"h": {"terms": {"field": "host"}}}]}}}}}}),
    )
    .await;
    assert_es_error(&r, 400, "illegal_argument_exception");
}

const GEO: &str = "agg-geo";
static GEO_LOADED: OnceCell<Vec<Value>> = OnceCell::const_new();

/// Points as Lucene's doc values hold them (GeoEncodingUtils: 32-bit quantisation).
fn q_lat(v: f64) -> f64 {
    let step = 180.0 / 2f64.powi(32);
    (v / step).floor() * step
}
fn q_lon(v: f64) -> f64 {
    let step = 360.0 / 2f64.powi(32);
    (v / step).floor() * step
}

/// Documents with one point, two points (an array) or none; group `g` 0..3, `far` marks points
/// on both sides of the antimeridian.
async fn geo_docs() -> &'static Vec<Value> {
    GEO_LOADED
        .get_or_init(|| async {
            let mapping = json!({"mappings": {"properties": {
                "loc": {"type": "geo_point"}, "g": {"type": "integer"}, "far": {"type": "boolean"}}}});
            let mut all = Vec::new();
            for i in 0..40i64 {
                let lat = -60.0 + (i * 37 % 120) as f64 + 0.123456789;
                let lon = -170.0 + (i * 53 % 340) as f64 + 0.987654321;
                let far = i % 10 == 0;
                let d = match i % 7 {
                    0 => json!({"g": i % 3, "far": far}),
                    1 => json!({"g": i % 3, "far": far, "loc": [{"lat": lat, "lon": lon}, {"lat": -lat / 2.0, "lon": lon / 3.0}]}),
                    _ if far => json!({"g": i % 3, "far": true, "loc": {"lat": lat, "lon": if i % 20 == 0 { 179.5 } else { -179.25 }}}),
                    _ => json!({"g": i % 3, "far": far, "loc": {"lat": lat, "lon": lon}}),
                };
                all.push(d);
            }
            load_docs(GEO, Some(&mapping), &all).await;
            all
        })
        .await
}

fn points(d: &Value) -> Vec<(f64, f64)> {
    match &d["loc"] {
        Value::Array(a) => a
            .iter()
            .map(|p| {
                (
                    q_lat(p["lat"].as_f64().unwrap()),
                    q_lon(p["lon"].as_f64().unwrap()),
                )
            })
            .collect(),
        Value::Object(p) => vec![(
            q_lat(p["lat"].as_f64().unwrap()),
            q_lon(p["lon"].as_f64().unwrap()),
        )],
        _ => vec![],
    }
}

/// GeoTileUtils: Web Mercator tile of a point at zoom z.
fn tile(lat: f64, lon: f64, z: u32) -> String {
    let n = (1u64 << z) as f64;
    let x = ((lon + 180.0) / 360.0 * n).floor().clamp(0.0, n - 1.0);
    let s = lat.to_radians().sin();
    let y = ((0.5 - ((1.0 + s) / (1.0 - s)).ln() / (4.0 * std::f64::consts::PI)) * n)
        .floor()
        .clamp(0.0, n - 1.0);
    format!("{z}/{x}/{y}")
}

/// geo_centroid (`{"location": {"lat", "lon"}, "count"}`, InternalGeoCentroid), geo_bounds
/// (`{"bounds": {"top_left", "bottom_right"}}`, InternalGeoBounds; the narrower box across the
/// antimeridian with wrap_longitude) and geotile_grid (`z/x/y` keys, doc_count desc; a
/// document counts once per distinct tile; search-aggregations-bucket-geotilegrid-aggregation.html)
/// — the Kibana Maps requests — on quantised points as Lucene stores them.
#[tokio::test]
async fn geo_centroid_bounds_and_tiles() {
    let d = geo_docs().await;
    let r = json_req("POST", &format!("/{GEO}/_search"), &json!({"size": 0, "aggs": {
        "c": {"geo_centroid": {"field": "loc"}},
        "b": {"geo_bounds": {"field": "loc"}},
        "far": {"filter": {"term": {"far": true}}, "aggs": {
            "b": {"geo_bounds": {"field": "loc"}},
            "nowrap": {"geo_bounds": {"field": "loc", "wrap_longitude": false}}}},
        "none": {"filter": {"term": {"g": 99}}, "aggs": {
            "c": {"geo_centroid": {"field": "loc"}}, "b": {"geo_bounds": {"field": "loc"}}}},
        "tiles": {"geotile_grid": {"field": "loc", "precision": 3}, "aggs": {"c": {"geo_centroid": {"field": "loc"}}}},
        "by_g": {"terms": {"field": "g"}, "aggs": {"t": {"geotile_grid": {"field": "loc", "precision": 1, "size": 2}}}}
    }})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let a = &r.json()["aggregations"];
    let all: Vec<(f64, f64)> = d.iter().flat_map(points).collect();
    let n = all.len() as f64;
    assert_eq!(a["c"]["count"], all.len());
    close(
        &a["c"]["location"]["lat"],
        all.iter().map(|p| p.0).sum::<f64>() / n,
    );
    close(
        &a["c"]["location"]["lon"],
        all.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let top = all.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    let bottom = all.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    // InternalGeoBounds with wrap_longitude: of the box [min lon, max lon] and the box from the
    // smallest positive to the largest negative longitude (across ±180), the narrower.
    let lr = |pts: &[(f64, f64)], wrap: bool| {
        let lons = pts.iter().map(|p| p.1);
        let neg_l = lons
            .clone()
            .filter(|l| *l < 0.0)
            .fold(f64::INFINITY, f64::min);
        let neg_r = lons
            .clone()
            .filter(|l| *l < 0.0)
            .fold(f64::NEG_INFINITY, f64::max);
        let pos_l = lons
            .clone()
            .filter(|l| *l >= 0.0)
            .fold(f64::INFINITY, f64::min);
        let pos_r = lons.filter(|l| *l >= 0.0).fold(f64::NEG_INFINITY, f64::max);
        if wrap && (180.0 - pos_l) - (-180.0 - neg_r) < pos_r - neg_l {
            (pos_l, neg_r)
        } else {
            (neg_l, pos_r)
        }
    };
    let (left, right) = lr(&all, true);
    assert!(
        left > right,
        "these points are narrower across the antimeridian"
    );
    assert_eq!(
        a["b"],
        json!({"bounds": {"top_left": {"lat": top, "lon": left}, "bottom_right": {"lat": bottom, "lon": right}}})
    );
    let far: Vec<(f64, f64)> = d
        .iter()
        .filter(|x| x["far"] == true)
        .flat_map(points)
        .collect();
    let (l, r) = lr(&far, true);
    assert_eq!(a["far"]["b"]["bounds"]["top_left"]["lon"], l);
    assert_eq!(a["far"]["b"]["bounds"]["bottom_right"]["lon"], r);
    let neg_left = far.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    assert_eq!(a["far"]["nowrap"]["bounds"]["top_left"]["lon"], neg_left);
    assert_eq!(a["none"]["c"], json!({"count": 0}));
    assert_eq!(a["none"]["b"], json!({}));

    let tiles = count_by(d, |x| {
        let mut t: Vec<String> = points(x).iter().map(|p| tile(p.0, p.1, 3)).collect();
        t.sort();
        t.dedup();
        t
    });
    let got = a["tiles"]["buckets"].as_array().unwrap();
    assert_eq!(got.len(), tiles.len());
    let mut prev = u64::MAX;
    for b in got {
        let k = b["key"].as_str().unwrap();
        let n = b["doc_count"].as_u64().unwrap();
        assert_eq!(n, tiles[k], "{k}");
        assert!(n <= prev);
        prev = n;
        // A sub-aggregation sees the whole document: every point of a document in the tile.
        let mine: usize = d
            .iter()
            .map(points)
            .filter(|ps| ps.iter().any(|p| tile(p.0, p.1, 3) == k))
            .map(|ps| ps.len())
            .sum();
        assert_eq!(b["c"]["count"], mine);
    }
    for b in a["by_g"]["buckets"].as_array().unwrap() {
        let g = b["key"].as_i64().unwrap();
        let want = count_by(d, |x| {
            if x["g"] != g {
                return vec![];
            }
            let mut t: Vec<String> = points(x).iter().map(|p| tile(p.0, p.1, 1)).collect();
            t.sort();
            t.dedup();
            t
        });
        let mut ranked: Vec<(String, u64)> = want.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
        let got: Vec<(String, u64)> = b["t"]["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["key"].as_str().unwrap().to_string(),
                    t["doc_count"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(got, ranked[..ranked.len().min(2)].to_vec(), "g={g}");
    }
}

/// serial_diff (value minus the value `lag` buckets back; none for the first `lag` buckets,
/// SerialDiffPipelineAggregator), normalize (rescale_0_1, percent_of_sum, z-score; NormalizePipelineMethods),
/// percentiles_bucket (nearest rank: round(p/100·(n−1)) of the sorted values,
/// PercentilesBucketPipelineAggregator; keyed and list forms) and extended_stats_bucket
/// (ExtendedStatsBucket: the extended_stats body over the bucket values); docs:
/// search-aggregations-pipeline-*.html.
#[tokio::test]
async fn serial_diff_normalize_and_bucket_statistics() {
    let d = docs().await;
    let a = aggs(json!({"size": 0, "aggs": {
        "h": {"date_histogram": {"field": "@timestamp", "fixed_interval": "12h"}, "aggs": {
            "b": {"sum": {"field": "bytes"}},
            "sd": {"serial_diff": {"buckets_path": "b", "lag": 2}},
            "r": {"normalize": {"buckets_path": "b", "method": "rescale_0_1"}},
            "ps": {"normalize": {"buckets_path": "b", "method": "percent_of_sum"}},
            "z": {"normalize": {"buckets_path": "b", "method": "z-score"}}
        }},
        "pb": {"percentiles_bucket": {"buckets_path": "h>b", "percents": [10, 50, 90]}},
        "pl": {"percentiles_bucket": {"buckets_path": "h>b", "percents": [50], "keyed": false}},
        "es": {"extended_stats_bucket": {"buckets_path": "h>b", "sigma": 3}}
    }}))
    .await;
    let mut sums: BTreeMap<i64, f64> = BTreeMap::new();
    for x in d {
        let k = x["@timestamp"].as_i64().unwrap() / 43_200_000 * 43_200_000;
        *sums.entry(k).or_default() += x["bytes"].as_f64().unwrap_or(0.0);
    }
    let v: Vec<f64> = sums.values().copied().collect();
    let b = a["h"]["buckets"].as_array().unwrap();
    assert_eq!(b.len(), v.len());
    let (min, max) = (
        v.iter().copied().fold(f64::INFINITY, f64::min),
        v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    );
    let total: f64 = v.iter().sum();
    let mean = total / v.len() as f64;
    let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
    for (i, bk) in b.iter().enumerate() {
        if i < 2 {
            assert!(bk.get("sd").is_none());
        } else {
            close(&bk["sd"]["value"], v[i] - v[i - 2]);
        }
        close(&bk["r"]["value"], (v[i] - min) / (max - min));
        close(&bk["ps"]["value"], v[i] / total);
        close(&bk["z"]["value"], (v[i] - mean) / sd);
    }
    let mut sorted = v.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let rank = |p: f64| sorted[((p / 100.0) * (sorted.len() - 1) as f64).round() as usize];
    assert_eq!(
        a["pb"]["values"],
        json!({"10.0": rank(10.0), "50.0": rank(50.0), "90.0": rank(90.0)})
    );
    assert_eq!(
        a["pl"]["values"],
        json!([{"key": 50.0, "value": rank(50.0)}])
    );
    let n = v.len() as f64;
    let sq: f64 = v.iter().map(|x| x * x).sum();
    assert_eq!(a["es"]["count"], v.len());
    close(&a["es"]["sum"], total);
    close(&a["es"]["sum_of_squares"], sq);
    close(&a["es"]["variance"], sd * sd);
    close(&a["es"]["std_deviation"], sd);
    let samp = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    close(&a["es"]["std_deviation_sampling"], samp);
    close(&a["es"]["std_deviation_bounds"]["upper"], mean + 3.0 * sd);
    close(
        &a["es"]["std_deviation_bounds"]["lower_sampling"],
        mean - 3.0 * samp,
    );
    close(&a["es"]["min"], min);
    close(&a["es"]["max"], max);
}

/// weighted_avg (Σ value·weight / Σ weight over documents having both, `missing` standing in;
/// search-aggregations-metrics-weight-avg-aggregation.html), median_absolute_deviation
/// (median of |x − median|; Elasticsearch's digest is exact on small sets, interpolating
/// medians of even counts; InternalMedianAbsoluteDeviation) and string_stats (count, min/max/avg
/// length, Shannon entropy in bits over all characters, distribution; InternalStringStats).
#[tokio::test]
async fn weighted_avg_mad_and_string_stats() {
    let d = docs().await;
    let a = aggs(json!({"size": 0, "aggs": {
        "w": {"weighted_avg": {"value": {"field": "bytes"}, "weight": {"field": "weight"}}},
        "wm": {"weighted_avg": {"value": {"field": "bytes", "missing": 500}, "weight": {"field": "weight"}}},
        "mad": {"median_absolute_deviation": {"field": "latency"}},
        "hosts": {"terms": {"field": "host"}, "aggs": {"mad": {"median_absolute_deviation": {"field": "bytes"}}}},
        "ss": {"string_stats": {"field": "host", "show_distribution": true}},
        "tags": {"string_stats": {"field": "tags"}},
        "none": {"filter": {"term": {"host": "nope"}}, "aggs": {
            "w": {"weighted_avg": {"value": {"field": "bytes"}, "weight": {"field": "weight"}}},
            "ss": {"string_stats": {"field": "host"}}}}
    }}))
    .await;
    let (mut s, mut w, mut sm, mut wm) = (0.0, 0.0, 0.0, 0.0);
    for x in d {
        let wt = x["weight"].as_f64().unwrap();
        if let Some(b) = x["bytes"].as_f64() {
            s += b * wt;
            w += wt;
        }
        sm += x["bytes"].as_f64().unwrap_or(500.0) * wt;
        wm += wt;
    }
    close(&a["w"]["value"], s / w);
    close(&a["wm"]["value"], sm / wm);
    fn median(v: &mut [f64]) -> f64 {
        v.sort_by(|a, b| a.total_cmp(b));
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    }
    let mad = |vals: Vec<f64>| {
        let mut v = vals.clone();
        let m = median(&mut v);
        let mut dev: Vec<f64> = vals.iter().map(|x| (x - m).abs()).collect();
        median(&mut dev)
    };
    close(
        &a["mad"]["value"],
        mad(d.iter().map(|x| x["latency"].as_f64().unwrap()).collect()),
    );
    for b in a["hosts"]["buckets"].as_array().unwrap() {
        let vals: Vec<f64> = of_host(d, b["key"].as_str().unwrap())
            .iter()
            .filter_map(|x| x["bytes"].as_f64())
            .collect();
        close(&b["mad"]["value"], mad(vals));
    }
    // string_stats over the host values.
    let hosts: Vec<&str> = d.iter().map(|x| x["host"].as_str().unwrap()).collect();
    let total: usize = hosts.iter().map(|h| h.chars().count()).sum();
    let mut freq: BTreeMap<char, f64> = BTreeMap::new();
    for h in &hosts {
        for c in h.chars() {
            *freq.entry(c).or_default() += 1.0;
        }
    }
    let entropy: f64 = freq
        .values()
        .map(|c| {
            let p = c / total as f64;
            -p * p.log2()
        })
        .sum();
    assert_eq!(a["ss"]["count"], hosts.len());
    assert_eq!(
        a["ss"]["min_length"],
        hosts.iter().map(|h| h.len()).min().unwrap()
    );
    assert_eq!(
        a["ss"]["max_length"],
        hosts.iter().map(|h| h.len()).max().unwrap()
    );
    close(&a["ss"]["avg_length"], total as f64 / hosts.len() as f64);
    close(&a["ss"]["entropy"], entropy);
    let dist = a["ss"]["distribution"].as_object().unwrap();
    assert_eq!(dist.len(), freq.len());
    for (c, n) in &freq {
        close(&dist[&c.to_string()], n / total as f64);
    }
    let tag_count: usize = d.iter().map(|x| x["tags"].as_array().unwrap().len()).sum();
    assert_eq!(a["tags"]["count"], tag_count);
    assert_eq!(a["tags"]["max_length"], 1);
    assert_eq!(a["none"]["w"], json!({"value": null}));
    assert_eq!(
        a["none"]["ss"],
        json!({"count": 0, "min_length": null, "max_length": null, "avg_length": null, "entropy": 0.0})
    );
}

/// rare_terms: terms of at most `max_doc_count` documents, ordered by doc_count then key
/// (InternalRareTerms; search-aggregations-bucket-rare-terms-aggregation.html); adjacency_matrix:
/// one bucket per filter and per pair `A&B` (filters sorted by name), empty cells left out,
/// buckets by key (search-aggregations-bucket-adjacency-matrix-aggregation.html).
#[tokio::test]
async fn rare_terms_and_adjacency_matrix() {
    let d = docs().await;
    let a = aggs(json!({"size": 0, "aggs": {
        "rare": {"rare_terms": {"field": "bytes", "max_doc_count": 1, "exclude": ["0"]}},
        "rare_status": {"rare_terms": {"field": "status", "max_doc_count": 18}},
        "m": {"adjacency_matrix": {"filters": {
            "ok": {"term": {"ok": true}},
            "a": {"term": {"tags": "a"}},
            "s404": {"term": {"status": 404}},
            "nope": {"term": {"host": "nope"}}
        }}, "aggs": {"b": {"sum": {"field": "bytes"}}}}
    }}))
    .await;
    let bytes = count_by(d, |x| x["bytes"].as_i64().into_iter().collect());
    let want: Vec<Value> = bytes
        .iter()
        .filter(|(k, n)| **n <= 1 && **k != 0)
        .map(|(k, n)| json!({"key": k, "doc_count": n}))
        .collect();
    assert_eq!(a["rare"]["buckets"], json!(want));
    let st = count_by(d, |x| vec![x["status"].as_i64().unwrap()]);
    let mut want: Vec<(u64, i64)> = st
        .iter()
        .filter(|(_, n)| **n <= 18)
        .map(|(k, n)| (*n, *k))
        .collect();
    want.sort();
    let got: Vec<(u64, i64)> = a["rare_status"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["doc_count"].as_u64().unwrap(), b["key"].as_i64().unwrap()))
        .collect();
    assert_eq!(got, want);

    type Pred = fn(&Value) -> bool;
    let preds: [(&str, Pred); 4] = [
        ("a", |x| {
            x["tags"].as_array().unwrap().iter().any(|t| t == "a")
        }),
        ("nope", |x| x["host"] == "nope"),
        ("ok", |x| x["ok"] == true),
        ("s404", |x| x["status"] == 404),
    ];
    let mut want = Vec::new();
    for i in 0..preds.len() {
        for j in i..preds.len() {
            let key = if i == j {
                preds[i].0.to_string()
            } else {
                format!("{}&{}", preds[i].0, preds[j].0)
            };
            let docs: Vec<&Value> = d
                .iter()
                .filter(|x| preds[i].1(x) && preds[j].1(x))
                .collect();
            if !docs.is_empty() {
                let sum: f64 = docs.iter().filter_map(|x| x["bytes"].as_f64()).sum();
                want.push((key, docs.len(), sum));
            }
        }
    }
    want.sort_by(|a, b| a.0.cmp(&b.0));
    let got = a["m"]["buckets"].as_array().unwrap();
    assert_eq!(got.len(), want.len());
    for (b, (k, n, sum)) in got.iter().zip(&want) {
        assert_eq!(b["key"], *k);
        assert_eq!(b["doc_count"], *n);
        close(&b["b"]["value"], *sum);
    }
}

/// percentile_ranks: 100 · cdf(v) with the cdf of Elasticsearch's digest over all values
/// (org.elasticsearch.tdigest.Dist#cdf on sorted data: 0 below the smallest value, else
/// (0.5 + #{later values < v} + interpolation to the next larger value, or half the count of
/// later values equal to v) / n); keyed by the value's double text, or a list
/// (search-aggregations-metrics-percentile-rank-aggregation.html).
#[tokio::test]
async fn percentile_ranks_keyed_and_list() {
    let d = docs().await;
    let vals: [f64; 6] = [-1.0, 0.0, 3.3, 5.0, 11.25, 100.0];
    let a = aggs(json!({"size": 0, "aggs": {
        "pr": {"percentile_ranks": {"field": "latency", "values": vals}},
        "list": {"percentile_ranks": {"field": "latency", "values": [5.0], "keyed": false}},
        "none": {"filter": {"term": {"host": "nope"}}, "aggs": {
            "pr": {"percentile_ranks": {"field": "latency", "values": [1]}}}}
    }}))
    .await;
    let mut s: Vec<f64> = d.iter().map(|x| x["latency"].as_f64().unwrap()).collect();
    s.sort_by(|a, b| a.total_cmp(b));
    let cdf = |x: f64| -> f64 {
        let n = s.len() as f64;
        if x < s[0] {
            return 0.0;
        }
        let mut n1 = 0.5;
        let mut n2 = 0.0;
        for i in 1..s.len() {
            if s[i] > x {
                if n2 > 0.0 {
                    return (n1 + 0.5 * n2) / n;
                }
                return (n1 + (x - s[i - 1]) / (s[i] - s[i - 1])) / n;
            }
            if s[i] < x {
                n1 += 1.0;
            } else {
                n2 += 1.0;
            }
        }
        (n - 0.5 * n2) / n
    };
    for v in vals {
        let key = if v.fract() == 0.0 {
            format!("{v:.1}")
        } else {
            format!("{v}")
        };
        close(&a["pr"]["values"][&key], (cdf(v) * 100.0).clamp(0.0, 100.0));
    }
    assert_eq!(a["list"]["values"][0]["key"], 5.0);
    close(&a["list"]["values"][0]["value"], cdf(5.0) * 100.0);
    assert_eq!(a["none"]["pr"], json!({"values": {"1.0": null}}));
}

/// Terms top-N cut inside ClickHouse (row_number per parent bucket): the same buckets and
/// `sum_other_doc_count` as Elasticsearch's (InternalTerms reduce: other = every count beyond
/// the top `size`), at two levels, with a multi-valued field and documents missing the field.
#[tokio::test]
async fn terms_top_n_pushdown_keeps_counts_exact() {
    let d = docs().await;
    let a = aggs(json!({"size": 0, "aggs": {
        "h": {"terms": {"field": "host", "size": 2}, "aggs": {
            "s": {"terms": {"field": "status", "size": 1}},
            "b": {"terms": {"field": "bytes", "size": 3}}}},
        "tags": {"terms": {"field": "tags", "size": 1}}
    }}))
    .await;
    let hosts = count_by(d, |x| vec![x["host"].as_str().unwrap().to_string()]);
    let mut ranked: Vec<(String, u64)> = hosts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let got = a["h"]["buckets"].as_array().unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(
        a["h"]["sum_other_doc_count"],
        ranked[2..].iter().map(|x| x.1).sum::<u64>()
    );
    for (b, (h, n)) in got.iter().zip(&ranked) {
        assert_eq!(b["key"], *h);
        assert_eq!(b["doc_count"], *n);
        let mine = of_host(d, h);
        let mut st: Vec<(i64, u64)> = count_by(
            &mine.iter().map(|x| (*x).clone()).collect::<Vec<_>>(),
            |x| vec![x["status"].as_i64().unwrap()],
        )
        .into_iter()
        .collect();
        st.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        assert_eq!(
            b["s"]["buckets"],
            json!([{"key": st[0].0, "doc_count": st[0].1}])
        );
        assert_eq!(
            b["s"]["sum_other_doc_count"],
            st[1..].iter().map(|x| x.1).sum::<u64>()
        );
        // bytes are unique per document: top 3 by key asc among count 1; docs without bytes
        // are in no bucket.
        let mut by: Vec<i64> = mine.iter().filter_map(|x| x["bytes"].as_i64()).collect();
        by.sort();
        let want: Vec<Value> = by[..3]
            .iter()
            .map(|k| json!({"key": k, "doc_count": 1}))
            .collect();
        assert_eq!(b["b"]["buckets"], json!(want));
        assert_eq!(b["b"]["sum_other_doc_count"], by.len() - 3);
    }
    let tags = count_by(d, |x| {
        let mut v: Vec<String> = x["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect();
        v.dedup();
        v
    });
    let mut ranked: Vec<(String, u64)> = tags.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    assert_eq!(
        a["tags"]["buckets"],
        json!([{"key": ranked[0].0, "doc_count": ranked[0].1}])
    );
    assert_eq!(
        a["tags"]["sum_other_doc_count"],
        ranked[1..].iter().map(|x| x.1).sum::<u64>()
    );
}

/// The ClickHouse statements a traced search sent that read the index (debug UI API).
async fn sql_of(body: &Value, opaque: &str) -> (Value, Vec<String>) {
    docs().await;
    let r = client()
        .post(format!("http://{}/{IDX}/_search", daemon().es))
        .header("content-type", "application/json")
        .header("x-opaque-id", opaque)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    let list = ui_get(&format!("/api/requests?q={opaque}")).await.json();
    let id = list["requests"][0]["id"].as_u64().expect("traced request");
    let full = ui_get(&format!("/api/requests/{id}")).await.json();
    let sql = full["sql"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["sql"].as_str().unwrap().to_string())
        .filter(|q| q.starts_with("SELECT") && q.contains(IDX))
        .collect();
    (v, sql)
}

/// The query-cost table of docs/aggregations.md: terms × top_metrics × top_hits × composite-free
/// trees stay one grouping query, and the terms top-N is ranked inside it.
#[tokio::test]
async fn one_query_for_top_metrics_top_hits_and_terms_top_n() {
    let body = json!({"size": 0, "aggs": {"h": {"terms": {"field": "host", "size": 2}, "aggs": {
        "last": {"top_metrics": {"metrics": {"field": "bytes"}, "sort": {"@timestamp": "desc"}}},
        "hits": {"top_hits": {"size": 1, "sort": [{"bytes": "asc"}]}},
        "mt": {"multi_terms": {"terms": [{"field": "status"}, {"field": "ok"}]}},
        "w": {"weighted_avg": {"value": {"field": "bytes"}, "weight": {"field": "weight"}}}
    }}}});
    let (v, sql) = sql_of(&body, "aggs-cost-1").await;
    assert_eq!(
        v["aggregations"]["h"]["buckets"].as_array().unwrap().len(),
        2
    );
    // One aggregation query (plus the count query answering hits.total).
    let agg: Vec<&String> = sql.iter().filter(|q| q.contains("GROUPING SETS")).collect();
    assert_eq!(agg.len(), 1, "{sql:#?}");
    assert!(agg[0].contains("row_number"), "{}", agg[0]);
    assert!(agg[0].contains("groupArraySorted"), "{}", agg[0]);
}

/// Standard base-32 geohash (longitude bit first), written out here.
fn geohash(lat: f64, lon: f64, len: usize) -> String {
    const B32: &[u8] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (mut la, mut lo) = ((-90.0, 90.0), (-180.0, 180.0));
    let mut out = String::new();
    let (mut bits, mut ch, mut even) = (0, 0usize, true);
    while out.len() < len {
        let (r, v) = if even { (&mut lo, lon) } else { (&mut la, lat) };
        let mid = (r.0 + r.1) / 2.0;
        ch <<= 1;
        if v >= mid {
            ch |= 1;
            r.0 = mid;
        } else {
            r.1 = mid;
        }
        even = !even;
        bits += 1;
        if bits == 5 {
            out.push(B32[ch] as char);
            bits = 0;
            ch = 0;
        }
    }
    out
}

/// geohash_grid: geohash cells of the (quantised) points, a document once per distinct cell,
/// doc_count desc then cell desc (search-aggregations-bucket-geohashgrid-aggregation.html;
/// InternalGeoGrid's bucket queue).
#[tokio::test]
async fn geohash_grid_cells() {
    let d = geo_docs().await;
    let r = json_req(
        "POST",
        &format!("/{GEO}/_search"),
        &json!({"size": 0, "aggs": {
            "g": {"geohash_grid": {"field": "loc", "precision": 2}},
            "g1": {"geohash_grid": {"field": "loc", "precision": 1, "size": 3}}
        }}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let a = &r.json()["aggregations"];
    for (name, p, size) in [("g", 2, usize::MAX), ("g1", 1, 3)] {
        let cells = count_by(d, |x| {
            let mut t: Vec<String> = points(x).iter().map(|q| geohash(q.0, q.1, p)).collect();
            t.sort();
            t.dedup();
            t
        });
        let mut ranked: Vec<(String, u64)> = cells.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
        ranked.truncate(size);
        let want: Vec<Value> = ranked
            .iter()
            .map(|(k, n)| json!({"key": k, "doc_count": n}))
            .collect();
        assert_eq!(a[name]["buckets"], json!(want), "{name}");
    }
}

/// boxplot: min, max, quartiles (the same exact interpolation as percentiles) and whiskers — the
/// smallest value ≥ q1 − 1.5·IQR and the largest ≤ q3 + 1.5·IQR (InternalBoxplot;
/// search-aggregations-metrics-boxplot-aggregation.html); an outlier lies beyond the whisker.
#[tokio::test]
async fn boxplot_quartiles_and_whiskers() {
    let d = docs().await;
    let a = aggs(json!({"size": 0, "aggs": {
        "bp": {"boxplot": {"field": "bytes"}},
        "hosts": {"terms": {"field": "host"}, "aggs": {"bp": {"boxplot": {"field": "latency"}}}}
    }}))
    .await;
    let check = |bp: &Value, mut v: Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        let q = |p: f64| {
            let i = p * (v.len() - 1) as f64;
            let lo = i.floor() as usize;
            let hi = (lo + 1).min(v.len() - 1);
            v[lo] + (i - lo as f64) * (v[hi] - v[lo])
        };
        let (q1, q3) = (q(0.25), q(0.75));
        let iqr = q3 - q1;
        close(&bp["min"], v[0]);
        close(&bp["max"], v[v.len() - 1]);
        close(&bp["q1"], q1);
        close(&bp["q2"], q(0.5));
        close(&bp["q3"], q3);
        close(
            &bp["lower"],
            v.iter()
                .copied()
                .filter(|x| *x >= q1 - 1.5 * iqr)
                .fold(f64::INFINITY, f64::min),
        );
        close(
            &bp["upper"],
            v.iter()
                .copied()
                .filter(|x| *x <= q3 + 1.5 * iqr)
                .fold(f64::NEG_INFINITY, f64::max),
        );
    };
    check(
        &a["bp"],
        d.iter().filter_map(|x| x["bytes"].as_f64()).collect(),
    );
    for b in a["hosts"]["buckets"].as_array().unwrap() {
        let h = b["key"].as_str().unwrap();
        check(
            &b["bp"],
            of_host(d, h)
                .iter()
                .map(|x| x["latency"].as_f64().unwrap())
                .collect(),
        );
    }
}

/// ip_range: from/to (to exclusive) and CIDR masks (`from` the network address, `to` the first
/// address after the block), default keys `from-to` with `*`, ranges ordered by (from, to) as
/// BinaryRangeAggregator sorts them, keyed form (InternalBinaryRange;
/// search-aggregations-bucket-iprange-aggregation.html).
#[tokio::test]
async fn ip_range_with_masks() {
    let idx = "agg-ip";
    let mapping = json!({"mappings": {"properties": {"ip": {"type": "ip"}}}});
    assert_eq!(
        json_req("PUT", &format!("/{idx}"), &mapping).await.status,
        200
    );
    let mut body = String::new();
    let mut ips: Vec<u32> = Vec::new();
    for i in 0..40u32 {
        let last = i * 7 % 256;
        let d = if i == 39 {
            json!({})
        } else {
            json!({"ip": format!("10.0.0.{last}")})
        };
        if i != 39 {
            ips.push(last);
        }
        body.push_str(&format!("{{\"index\":{{\"_id\":\"{i}\"}}}}\n{d}\n"));
    }
    body.push_str("{\"index\":{\"_id\":\"v6\"}}\n{\"ip\":\"2001:db8::1\"}\n");
    let r = bulk(&format!("/{idx}/_bulk?refresh=true"), &body).await;
    assert_eq!(r.json()["errors"], false, "{}", r.text);
    let q = json!({"size": 0, "aggs": {
        "r": {"ip_range": {"field": "ip", "ranges": [
            {"mask": "10.0.0.128/25"},
            {"to": "10.0.0.50"},
            {"from": "10.0.0.50", "to": "10.0.0.100", "key": "mid"},
            {"from": "10.0.0.200"}
        ]}},
        "k": {"ip_range": {"field": "ip", "keyed": true, "ranges": [{"mask": "2001:db8::/32"}]}}
    }});
    let r = json_req("POST", &format!("/{idx}/_search"), &q).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let a = &r.json()["aggregations"];
    let cnt = |lo: u32, hi: u32| ips.iter().filter(|x| **x >= lo && **x < hi).count();
    // `from: 10.0.0.200` also holds the IPv6 address (above every IPv4-mapped one).
    assert_eq!(
        a["r"]["buckets"],
        json!([
            {"key": "*-10.0.0.50", "to": "10.0.0.50", "doc_count": cnt(0, 50)},
            {"key": "mid", "from": "10.0.0.50", "to": "10.0.0.100", "doc_count": cnt(50, 100)},
            {"key": "10.0.0.128/25", "from": "10.0.0.128", "to": "10.0.1.0", "doc_count": cnt(128, 256)},
            {"key": "10.0.0.200-*", "from": "10.0.0.200", "doc_count": cnt(200, 256) + 1}
        ])
    );
    assert_eq!(
        a["k"]["buckets"],
        json!({"2001:db8::/32": {"from": "2001:db8::", "to": "2001:db9::", "doc_count": 1}})
    );
    // cardinality of an ip counts distinct addresses, exactly below precision_threshold
    // (search-aggregations-metrics-cardinality-aggregation.html); with `missing` the document
    // without an address counts as that address.
    let distinct = ips.iter().collect::<std::collections::HashSet<_>>().len() + 1;
    let q = json!({"size": 0, "aggs": {
        "c": {"cardinality": {"field": "ip"}},
        "m": {"cardinality": {"field": "ip", "missing": "192.168.0.1"}}
    }});
    let r = json_req("POST", &format!("/{idx}/_search"), &q).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["aggregations"]["c"]["value"], distinct);
    assert_eq!(r.json()["aggregations"]["m"]["value"], distinct + 1);
}

/// Several indices in one search (one UNION ALL inside the grouping query): top_hits,
/// top_metrics, multi_terms and composite still work where a field is mapped in only one index —
/// documents of the other index have no value (missing sort values sort last).
#[tokio::test]
async fn new_types_across_two_indices() {
    let d = docs().await;
    let g = geo_docs().await;
    let r = json_req("POST", &format!("/{IDX},{GEO}/_search"), &json!({"size": 0, "aggs": {
        "th": {"top_hits": {"size": 2, "sort": [{"bytes": "desc"}], "_source": ["bytes"]}},
        "tm": {"top_metrics": {"metrics": {"field": "latency"}, "sort": {"@timestamp": "asc"}}},
        "mt": {"multi_terms": {"terms": [{"field": "host"}, {"field": "ok"}], "size": 100}},
        "c": {"composite": {"size": 100, "sources": [{"g": {"terms": {"field": "g", "missing_bucket": true}}}]}}
    }})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let a = &r.json()["aggregations"];
    let mut bytes: Vec<i64> = d.iter().filter_map(|x| x["bytes"].as_i64()).collect();
    bytes.sort_by(|a, b| b.cmp(a));
    let hits = a["th"]["hits"]["hits"].as_array().unwrap();
    assert_eq!(hits[0]["_source"], json!({"bytes": bytes[0]}));
    assert_eq!(hits[1]["sort"], json!([bytes[1]]));
    assert_eq!(a["th"]["hits"]["total"]["value"], d.len() + g.len());
    assert_eq!(a["tm"]["top"][0]["metrics"]["latency"], d[0]["latency"]);
    let mt: u64 = a["mt"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["doc_count"].as_u64().unwrap())
        .sum();
    assert_eq!(mt, d.len() as u64);
    // composite over `g` (only in the geo index): the other index's documents in the null bucket.
    let c = a["c"]["buckets"].as_array().unwrap();
    assert_eq!(c[0], json!({"key": {"g": null}, "doc_count": d.len()}));
    assert_eq!(c.len(), 4);
}

/// top_hits without `sort` orders by the query's `_score` and shows it, with `max_score`, as the
/// search's own hits do (same scoring of the same query).
#[tokio::test]
async fn top_hits_by_score_of_a_scoring_query() {
    docs().await;
    let r = json_req("POST", &format!("/{IDX}/_search"), &json!({"size": 100,
        "query": {"bool": {"should": [{"term": {"host": "alpha"}}, {"term": {"status": {"value": 404, "boost": 3}}}]}},
        "aggs": {"t": {"top_hits": {"size": 3, "_source": false}}}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    let hits = v["hits"]["hits"].as_array().unwrap();
    let score_of = |id: &Value| hits.iter().find(|h| h["_id"] == *id).unwrap()["_score"].clone();
    let top = &v["aggregations"]["t"]["hits"];
    assert_eq!(top["max_score"], v["hits"]["max_score"]);
    let mut prev = f64::INFINITY;
    for h in top["hits"].as_array().unwrap() {
        assert_eq!(h["_score"], score_of(&h["_id"]));
        let s = h["_score"].as_f64().unwrap();
        assert!(s <= prev);
        prev = s;
    }
}

/// cumulative_cardinality: the number of distinct values of the referenced cardinality seen in
/// this and every earlier bucket (search-aggregations-pipeline-cumulative-cardinality-aggregation.html,
/// CumulativeCardinalityPipelineAggregator); the helper value sets never show in the response;
/// a path to anything but a cardinality is an error.
#[tokio::test]
async fn cumulative_cardinality_over_days() {
    let d = docs().await;
    let a = aggs(json!({"size": 0, "aggs": {"days": {
        "date_histogram": {"field": "@timestamp", "fixed_interval": "6h"},
        "aggs": {"st": {"cardinality": {"field": "status"}},
                 "cc": {"cumulative_cardinality": {"buckets_path": "st"}},
                 "tg": {"cardinality": {"field": "tags"}},
                 "ct": {"cumulative_cardinality": {"buckets_path": "tg"}}}}}}))
    .await;
    let mut by: BTreeMap<i64, Vec<&Value>> = BTreeMap::new();
    for x in d {
        by.entry(x["@timestamp"].as_i64().unwrap() / 21_600_000 * 21_600_000)
            .or_default()
            .push(x);
    }
    let b = a["days"]["buckets"].as_array().unwrap();
    assert_eq!(b.len(), by.len());
    let mut st = std::collections::BTreeSet::new();
    let mut tg = std::collections::BTreeSet::new();
    for (bk, (_, xs)) in b.iter().zip(&by) {
        for x in xs {
            st.insert(x["status"].as_i64().unwrap());
            for t in x["tags"].as_array().unwrap() {
                tg.insert(t.as_str().unwrap().to_string());
            }
        }
        assert_eq!(bk["cc"], json!({"value": st.len()}));
        assert_eq!(bk["ct"], json!({"value": tg.len()}));
        let keys: Vec<&String> = bk.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["key_as_string", "key", "doc_count", "st", "tg", "cc", "ct"],
            "{bk}"
        );
    }
    let r = json_req("POST", &format!("/{IDX}/_search"), &json!({"size": 0, "aggs": {"days": {
        "date_histogram": {"field": "@timestamp", "fixed_interval": "6h"},
        "aggs": {"m": {"max": {"field": "bytes"}}, "cc": {"cumulative_cardinality": {"buckets_path": "m"}}}}}})).await;
    assert_es_error(&r, 400, "illegal_argument_exception");
}

/// sampler: its sub-aggregations see the best `shard_size` documents by score of the shard (one
/// shard here), all of them when fewer match; `doc_count` is the number of sampled documents
/// (SamplerAggregator / BestDocsDeferringCollector; InternalSampler renders like a single-bucket
/// aggregation; search-aggregations-bucket-sampler-aggregation.html). Kibana's Discover field
/// statistics send `{"sample": {"sampler": {"shard_size": 5000}, "aggs": {…}}}`
/// (kbn-unified-field-list field_stats_utils.ts). Below a terms, each parent bucket samples its
/// own best documents; ties (filter context) are broken by `_id` (our documented choice).
#[tokio::test]
async fn sampler_best_documents_by_score() {
    let d = docs().await;
    // Fewer matches than shard_size: every document.
    let a = aggs(
        json!({"size": 0, "aggs": {"sample": {"sampler": {"shard_size": 5000},
        "aggs": {"hosts": {"terms": {"field": "host"}}, "avg": {"avg": {"field": "latency"}}}}}}),
    )
    .await;
    assert_eq!(a["sample"]["doc_count"], 90);
    let mean = d
        .iter()
        .map(|x| x["latency"].as_f64().unwrap())
        .sum::<f64>()
        / 90.0;
    close(&a["sample"]["avg"]["value"], mean);
    for b in a["sample"]["hosts"]["buckets"].as_array().unwrap() {
        assert_eq!(
            b["doc_count"],
            of_host(d, b["key"].as_str().unwrap()).len(),
            "{b}"
        );
    }
    // A scored query: alpha documents score 5 (7 when n < 30), others with n < 30 score 2; with
    // shard_size = number of alpha documents the sample is exactly them.
    let alpha = of_host(d, "alpha");
    let a = aggs(json!({"size": 0, "query": {"bool": {"should": [
            {"constant_score": {"filter": {"term": {"host": "alpha"}}, "boost": 5}},
            {"constant_score": {"filter": {"range": {"n": {"lt": 30}}}, "boost": 2}}]}},
        "aggs": {"sample": {"sampler": {"shard_size": alpha.len()},
            "aggs": {"hosts": {"terms": {"field": "host"}},
                     "sum": {"sum": {"field": "latency"}}}}}}))
    .await;
    assert_eq!(a["sample"]["doc_count"], alpha.len());
    assert_eq!(
        a["sample"]["hosts"]["buckets"],
        json!([{"key": "alpha", "doc_count": alpha.len()}])
    );
    close(
        &a["sample"]["sum"]["value"],
        alpha.iter().map(|x| x["latency"].as_f64().unwrap()).sum(),
    );
    // Default shard_size 100 below a terms: 3 per host, the smallest `_id`s on equal scores.
    let a = aggs(
        json!({"size": 0, "aggs": {"hosts": {"terms": {"field": "host"}, "aggs": {
        "s": {"sampler": {"shard_size": 3}, "aggs": {"mx": {"max": {"field": "n"}}}},
        "all": {"sampler": {}}}}}}),
    )
    .await;
    for b in a["hosts"]["buckets"].as_array().unwrap() {
        let mine = of_host(d, b["key"].as_str().unwrap());
        let mut ids: Vec<String> = mine.iter().map(|x| x["n"].to_string()).collect();
        ids.sort();
        let mx = ids[..3]
            .iter()
            .map(|s| s.parse::<f64>().unwrap())
            .fold(f64::MIN, f64::max);
        assert_eq!(b["s"]["doc_count"], 3);
        close(&b["s"]["mx"]["value"], mx);
        assert_eq!(b["all"], json!({"doc_count": mine.len()}));
    }
}

/// diversified_sampler: like sampler, at most `max_docs_per_value` (default 1) documents per
/// value of `field` (search-aggregations-bucket-diversified-sampler-aggregation.html).
#[tokio::test]
async fn diversified_sampler_per_value() {
    docs().await;
    let a = aggs(json!({"size": 0, "aggs": {
        "two": {"diversified_sampler": {"field": "host", "max_docs_per_value": 2},
                "aggs": {"h": {"terms": {"field": "host"}}}},
        "one": {"diversified_sampler": {"field": "status", "shard_size": 3}}}}))
    .await;
    assert_eq!(a["two"]["doc_count"], 2 * HOSTS.len());
    for b in a["two"]["h"]["buckets"].as_array().unwrap() {
        assert_eq!(b["doc_count"], 2);
    }
    // Four distinct statuses, one document each, cut to shard_size 3.
    assert_eq!(a["one"], json!({"doc_count": 3}));
}

/// random_sampler: a single bucket of a random subset of the documents, the same subset for the
/// same `seed`; rendered `seed`, `probability`, `doc_count`, sub-aggregations
/// (InternalRandomSampler#doXContentBody); probability in (0, 0.5] or exactly 1, no parent and
/// at least one sub-aggregation (RandomSamplerAggregationBuilder;
/// search-aggregations-random-sampler-aggregation.html).
#[tokio::test]
async fn random_sampler_subset() {
    docs().await;
    let a = aggs(
        json!({"size": 0, "aggs": {"r": {"random_sampler": {"probability": 1.0, "seed": 7},
        "aggs": {"c": {"value_count": {"field": "n"}}}}}}),
    )
    .await;
    assert_eq!(
        a["r"],
        json!({"seed": 7, "probability": 1.0, "doc_count": 90, "c": {"value": 90}})
    );
    // Sub-aggregation counts and sums are scaled up by 1/probability (SamplingContext#scaleUp,
    // counts rounded); averages and extrema stay as sampled; the sampler's own doc_count is the
    // sampled count.
    let req = json!({"size": 0, "query": {"range": {"n": {"lt": 60}}}, "aggs": {"r": {
        "random_sampler": {"probability": 0.4, "seed": 42},
        "aggs": {"c": {"value_count": {"field": "n"}}, "mx": {"max": {"field": "n"}},
                 "h": {"terms": {"field": "host"}},
                 "all": {"filter": {"match_all": {}}, "aggs": {"st": {"stats": {"field": "n"}}}}}}}});
    let a = aggs(req.clone()).await;
    let n = a["r"]["doc_count"].as_u64().unwrap();
    assert!(n > 5 && n < 50, "{n}");
    let scaled = (n as f64 / 0.4).round();
    assert_eq!(a["r"]["c"]["value"].as_f64().unwrap(), scaled);
    assert!(a["r"]["mx"]["value"].as_f64().unwrap() < 60.0);
    assert_eq!(a["r"]["all"]["doc_count"].as_f64().unwrap(), scaled);
    let st = &a["r"]["all"]["st"];
    assert_eq!(st["count"].as_f64().unwrap(), scaled);
    let avg = st["avg"].as_f64().unwrap();
    assert!(
        (st["sum"].as_f64().unwrap() / 2.5 / n as f64 - avg).abs() < 1e-9,
        "{st}"
    );
    let per_host: u64 = a["r"]["h"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["doc_count"].as_u64().unwrap())
        .sum();
    assert!(
        (per_host as f64 - n as f64 * 2.5).abs() <= 2.0,
        "{per_host} vs {n}"
    );
    let keys: Vec<&String> = a["r"].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["seed", "probability", "doc_count", "c", "mx", "h", "all"]
    );
    assert_eq!(aggs(req).await, a, "same seed, same sample");
    for bad in [
        json!({"t": {"terms": {"field": "host"}, "aggs": {"r": {"random_sampler": {"probability": 0.1},
            "aggs": {"c": {"value_count": {"field": "n"}}}}}}}),
        json!({"r": {"random_sampler": {"probability": 0.1}}}),
        json!({"r": {"random_sampler": {"probability": 0.7}, "aggs": {"c": {"value_count": {"field": "n"}}}}}),
    ] {
        let r = json_req(
            "POST",
            &format!("/{IDX}/_search"),
            &json!({"size": 0, "aggs": bad}),
        )
        .await;
        assert_eq!(r.status, 400, "{}", r.text);
    }
}

/// ip_prefix: buckets of the network address of each value (a document once per distinct
/// subnet of its values), sorted by address; IPv4 mode masks the last 4 bytes of the 16-byte form
/// and shows `netmask`; IPv6 mode masks all 16 bytes (IPv4 values mapped); `append_prefix_length`,
/// `keyed`, `min_doc_count`; bucket fields key, netmask, doc_count, is_ipv6, prefix_length
/// (InternalIpPrefix.Bucket#toXContent, IpPrefixAggregator#maskIpAddress,
/// search-aggregations-bucket-ipprefix-aggregation.html).
#[tokio::test]
async fn ip_prefix_buckets() {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let idx = "agg-ip-prefix";
    let r = json_req(
        "PUT",
        &format!("/{idx}"),
        &json!({"mappings": {"properties": {"ip": {"type": "ip"}, "n": {"type": "long"}}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let vals: Vec<Value> = vec![
        json!("10.1.2.3"),
        json!("10.1.200.4"),
        json!("10.2.0.9"),
        json!("192.168.7.1"),
        json!(["10.1.9.9", "10.1.8.8", "172.16.0.1"]),
        json!("2001:db8::1"),
        json!("2001:db8:0:1::5"),
        json!("2001:db8:ffff::1"),
        Value::Null,
        json!("10.1.0.1"),
    ];
    let mut body = String::new();
    for (i, v) in vals.iter().enumerate() {
        let d = if v.is_null() {
            json!({"n": i})
        } else {
            json!({"ip": v, "n": i})
        };
        body.push_str(&format!("{{\"index\":{{\"_id\":\"{i}\"}}}}\n{d}\n"));
    }
    let r = bulk(&format!("/{idx}/_bulk?refresh=true"), &body).await;
    assert_eq!(r.json()["errors"], false, "{}", r.text);
    let ips_of = |v: &Value| -> Vec<IpAddr> {
        match v {
            Value::Array(a) => a
                .iter()
                .map(|x| x.as_str().unwrap().parse().unwrap())
                .collect(),
            Value::String(s) => vec![s.parse().unwrap()],
            _ => vec![],
        }
    };
    let bytes16 = |ip: IpAddr| -> u128 {
        match ip {
            IpAddr::V4(v) => u128::from(v.to_ipv6_mapped()),
            IpAddr::V6(v) => u128::from(v),
        }
    };
    // Expected IPv4 /16: last 4 bytes masked; per document distinct subnets.
    let mut v4: BTreeMap<u32, (u64, i64)> = BTreeMap::new();
    let mut v6: BTreeMap<u128, u64> = BTreeMap::new();
    for (i, v) in vals.iter().enumerate() {
        let ips = ips_of(v);
        let s4: std::collections::BTreeSet<u32> = ips
            .iter()
            .map(|ip| (bytes16(*ip) as u32) & 0xFFFF_0000)
            .collect();
        for s in s4 {
            let e = v4.entry(s).or_insert((0, i64::MIN));
            e.0 += 1;
            e.1 = e.1.max(i as i64);
        }
        let s6: std::collections::BTreeSet<u128> = ips
            .iter()
            .map(|ip| bytes16(*ip) & (u128::MAX << (128 - 48)))
            .collect();
        for s in s6 {
            *v6.entry(s).or_default() += 1;
        }
    }
    let r = json_req("POST", &format!("/{idx}/_search"), &json!({"size": 0, "aggs": {
        "p4": {"ip_prefix": {"field": "ip", "prefix_length": 16}, "aggs": {"mx": {"max": {"field": "n"}}}},
        "p6": {"ip_prefix": {"field": "ip", "prefix_length": 48, "is_ipv6": true,
                              "append_prefix_length": true, "keyed": true}},
        "min2": {"ip_prefix": {"field": "ip", "prefix_length": 8, "min_doc_count": 2}}}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let a = &r.json()["aggregations"];
    let want4: Vec<Value> = v4
        .iter()
        .map(|(k, (n, mx))| {
            json!({"key": Ipv4Addr::from(*k).to_string(), "netmask": "255.255.0.0",
                   "doc_count": n, "is_ipv6": false, "prefix_length": 16, "mx": {"value": *mx as f64}})
        })
        .collect();
    assert_eq!(a["p4"]["buckets"], json!(want4));
    let mut want6 = serde_json::Map::new();
    for (k, n) in &v6 {
        let addr = Ipv6Addr::from(*k);
        let shown = match addr.to_ipv4_mapped() {
            Some(x) => x.to_string(),
            None => addr.to_string(),
        };
        want6.insert(
            format!("{shown}/48"),
            json!({"doc_count": n, "is_ipv6": true, "prefix_length": 48}),
        );
    }
    assert_eq!(a["p6"]["buckets"], Value::Object(want6));
    let keys6: Vec<&String> = a["p6"]["buckets"].as_object().unwrap().keys().collect();
    let mut sorted: Vec<(u128, &String)> = keys6
        .iter()
        .map(|k| {
            let ip: IpAddr = k.trim_end_matches("/48").parse().unwrap();
            (bytes16(ip), *k)
        })
        .collect();
    sorted.sort();
    assert_eq!(keys6, sorted.iter().map(|x| x.1).collect::<Vec<_>>());
    // /8: 10.0.0.0 has 6 documents, every other /8 fewer than 2 (min_doc_count 2).
    let mut by8: BTreeMap<u32, u64> = BTreeMap::new();
    for v in &vals {
        let s: std::collections::BTreeSet<u32> = ips_of(v)
            .iter()
            .map(|ip| (bytes16(*ip) as u32) & 0xFF00_0000)
            .collect();
        for x in s {
            *by8.entry(x).or_default() += 1;
        }
    }
    let want8: Vec<Value> = by8
        .iter()
        .filter(|(_, n)| **n >= 2)
        .map(|(k, n)| {
            json!({"key": Ipv4Addr::from(*k).to_string(), "netmask": "255.0.0.0",
                             "doc_count": n, "is_ipv6": false, "prefix_length": 8})
        })
        .collect();
    assert_eq!(a["min2"]["buckets"], json!(want8));
    for bad in [
        json!({"p": {"ip_prefix": {"field": "ip", "prefix_length": 33}}}),
        json!({"p": {"ip_prefix": {"field": "ip"}}}),
        json!({"p": {"ip_prefix": {"field": "n", "prefix_length": 8}}}),
    ] {
        let r = json_req(
            "POST",
            &format!("/{idx}/_search"),
            &json!({"size": 0, "aggs": bad}),
        )
        .await;
        assert_es_error(&r, 400, "illegal_argument_exception");
    }
}

/// Elasticsearch's auto_date_histogram choice for UTC data and units second…day (fixed lengths
/// in UTC), computed here from the timestamps: the smallest rounding (from `min_unit`) whose key
/// count from the first to the last key is ≤ buckets × its largest inner interval (and whose span
/// fits buckets × rough duration × largest inner interval), then the smallest inner interval
/// bringing the count to ≤ buckets, buckets merged from the first key
/// (AutoDateHistogramAggregationBuilder#buildRoundings, InternalAutoDateHistogram#reduce).
fn auto_expected(xs: &[(i64, i64)], t: i64, min_unit: usize) -> (String, Vec<(i64, u64, i64)>) {
    let ladder: [(i64, &str, &[i64]); 4] = [
        (1000, "s", &[1, 5, 10, 30]),
        (60_000, "m", &[1, 5, 10, 30]),
        (3_600_000, "h", &[1, 3, 12]),
        (86_400_000, "d", &[1, 7]),
    ];
    let min = xs.iter().map(|x| x.0).min().unwrap();
    let max = xs.iter().map(|x| x.0).max().unwrap();
    for (unit, abbr, inner) in &ladder[min_unit..] {
        let maxi = *inner.last().unwrap();
        let first = min.div_euclid(*unit) * unit;
        let k = (max.div_euclid(*unit) * unit - first) / unit + 1;
        if k <= t * maxi && max - min <= t * unit * maxi {
            let n = if k > t {
                *inner.iter().find(|i| (k + *i - 1) / *i <= t).unwrap()
            } else {
                1
            };
            let step = n * unit;
            let nb = (k + n - 1) / n;
            let mut out: Vec<(i64, u64, i64)> = (0..nb).map(|j| (first + j * step, 0, 0)).collect();
            for (ms, v) in xs {
                let b = &mut out[((ms - first) / step) as usize];
                b.1 += 1;
                b.2 += v;
            }
            return (format!("{n}{abbr}"), out);
        }
    }
    panic!("data spans more than the test's ladder");
}

/// auto_date_histogram: the rounding and inner interval Elasticsearch's reduction picks for
/// `buckets` (default 10), empty buckets inside the data filled, `interval` after `buckets`,
/// `minimum_interval`, `time_zone` across the 2024-03-31 DST change, sub-aggregations; bucket
/// shape as date_histogram (search-aggregations-bucket-autodatehistogram-aggregation.html,
/// InternalAutoDateHistogram#doXContentBody).
#[tokio::test]
async fn auto_date_histogram_rounding() {
    let d = docs().await;
    let all: Vec<(i64, i64)> = d
        .iter()
        .map(|x| (x["@timestamp"].as_i64().unwrap(), x["n"].as_i64().unwrap()))
        .collect();
    let gap: Vec<(i64, i64)> = all
        .iter()
        .copied()
        .filter(|x| !(20..70).contains(&x.1))
        .collect();
    for (query, xs, t, min_unit) in [
        (json!({"match_all": {}}), &all, 10, None),
        (json!({"match_all": {}}), &all, 3, None),
        (json!({"match_all": {}}), &all, 40, None),
        (json!({"match_all": {}}), &all, 100, Some("day")),
        (
            json!({"bool": {"must_not": {"range": {"n": {"gte": 20, "lt": 70}}}}}),
            &gap,
            20,
            None,
        ),
        (
            json!({"range": {"n": {"lt": 3}}}),
            &all[..3].to_vec(),
            10,
            None,
        ),
    ] {
        let mut body = json!({"field": "@timestamp", "buckets": t});
        if let Some(m) = min_unit {
            body["minimum_interval"] = json!(m);
        }
        let a = aggs(
            json!({"size": 0, "query": query, "aggs": {"h": {"auto_date_histogram": body,
            "aggs": {"s": {"sum": {"field": "n"}}}}}}),
        )
        .await;
        let mu = match min_unit {
            Some("day") => 3,
            _ => 0,
        };
        let (iv, want) = auto_expected(xs, t, mu);
        let want: Vec<Value> = want
            .iter()
            .map(|(k, n, s)| json!({"key_as_string": iso(*k), "key": k, "doc_count": n, "s": {"value": *s as f64}}))
            .collect();
        assert_eq!(
            a["h"],
            json!({"buckets": want, "interval": iv}),
            "buckets {t}"
        );
        let keys: Vec<&String> = a["h"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["buckets", "interval"]);
    }
    // Europe/Berlin: four local days (2024-03-29 … 04-01), the third one 23 hours long.
    let tz: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
    use chrono::TimeZone;
    let mut days: BTreeMap<chrono::NaiveDate, u64> = BTreeMap::new();
    for (ms, _) in &all {
        *days
            .entry(tz.timestamp_millis_opt(*ms).unwrap().date_naive())
            .or_default() += 1;
    }
    let want: Vec<Value> = days
        .iter()
        .map(|(day, n)| {
            let start = tz
                .from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap())
                .unwrap();
            json!({"key_as_string": start.format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string(),
                   "key": start.timestamp_millis(), "doc_count": n})
        })
        .collect();
    let a = aggs(json!({"size": 0, "aggs": {"h": {"auto_date_histogram": {
        "field": "@timestamp", "buckets": 5, "time_zone": "Europe/Berlin"}}}}))
    .await;
    assert_eq!(a["h"], json!({"buckets": want, "interval": "1d"}));
    // No documents: no buckets; a bad minimum_interval is a 400.
    let a = aggs(
        json!({"size": 0, "query": {"term": {"host": "nope"}}, "aggs": {"h": {
        "auto_date_histogram": {"field": "@timestamp"}}}}),
    )
    .await;
    assert_eq!(a["h"], json!({"buckets": [], "interval": "1s"}));
    let r = json_req(
        "POST",
        &format!("/{IDX}/_search"),
        &json!({"size": 0, "aggs": {"h": {
        "auto_date_histogram": {"field": "@timestamp", "minimum_interval": "week"}}}}),
    )
    .await;
    assert_es_error(&r, 400, "illegal_argument_exception");
}

/// auto_date_histogram over years: months merged by 3 from the first month (`3M`), years, and
/// years merged by 5 (`5y`) — calendar units counted from the first bucket as
/// InternalAutoDateHistogram#mergeConsecutiveBuckets does.
#[tokio::test]
async fn auto_date_histogram_months_and_years() {
    use chrono::{Datelike, NaiveDate};
    let idx = "agg-auto-long";
    let r = json_req(
        "PUT",
        &format!("/{idx}"),
        &json!({"mappings": {"properties": {"t": {"type": "date"}}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let start = NaiveDate::from_ymd_opt(2020, 1, 15).unwrap();
    let dates: Vec<NaiveDate> = (0..40)
        .map(|i| start + chrono::Duration::days(29 * i))
        .collect();
    let mut body = String::new();
    for (i, dt) in dates.iter().enumerate() {
        body.push_str(&format!(
            "{{\"index\":{{\"_id\":\"{i}\"}}}}\n{{\"t\":\"{}\"}}\n",
            dt.format("%Y-%m-%d")
        ));
    }
    let r = bulk(&format!("/{idx}/_bulk?refresh=true"), &body).await;
    assert_eq!(r.json()["errors"], false, "{}", r.text);
    let month_idx = |d: &NaiveDate| d.year() as i64 * 12 + d.month0() as i64;
    let ms_of = |y: i32, m: u32| {
        NaiveDate::from_ymd_opt(y, m, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_millis()
    };
    // (buckets, interval, months per bucket)
    for (t, iv, months) in [(15, "3M", 3i64), (10, "1y", 12), (2, "5y", 60)] {
        let first = if months % 12 == 0 {
            dates[0].year() as i64 * 12
        } else {
            month_idx(&dates[0])
        };
        let last = month_idx(dates.last().unwrap());
        let mut want: Vec<(i64, u64)> = Vec::new();
        let mut m = first;
        while m <= last {
            let n = dates
                .iter()
                .filter(|d| (month_idx(d) - first).div_euclid(months) == (m - first) / months)
                .count() as u64;
            want.push((ms_of((m / 12) as i32, (m % 12) as u32 + 1), n));
            m += months;
        }
        let r = json_req(
            "POST",
            &format!("/{idx}/_search"),
            &json!({"size": 0, "aggs": {"h": {
            "auto_date_histogram": {"field": "t", "buckets": t, "format": "yyyy-MM"}}}}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let want: Vec<Value> = want
            .iter()
            .map(|(k, n)| {
                let dt = chrono::DateTime::from_timestamp_millis(*k).unwrap();
                json!({"key_as_string": dt.format("%Y-%m").to_string(), "key": k, "doc_count": n})
            })
            .collect();
        assert_eq!(
            r.json()["aggregations"]["h"],
            json!({"buckets": want, "interval": iv}),
            "buckets {t}"
        );
    }
}

/// rate below a date_histogram: the bucket's sum (`mode: sum`, default), value count
/// (`mode: value_count`) or document count (no field), divided by the bucket's size in `unit`
/// (Rounding.Prepared#roundingSize: calendar units of the same kind by their fixed ratio — a
/// day is 24 hours even across DST — a month bucket by its real length for day-based units, a
/// fixed interval by its length; no unit: per bucket). Month-based units below day/fixed
/// histograms and rate outside a date_histogram are 400s
/// (search-aggregations-metrics-rate-aggregation.html, x-pack analytics RateAggregator).
#[tokio::test]
async fn rate_per_unit() {
    let d = docs().await;
    let a = aggs(json!({"size": 0, "aggs": {
        "days": {"date_histogram": {"field": "@timestamp", "calendar_interval": "day"}, "aggs": {
            "per_hour": {"rate": {"field": "bytes", "unit": "hour"}},
            "counted": {"rate": {"field": "bytes", "unit": "hour", "mode": "value_count"}},
            "docs_per_week": {"rate": {"unit": "week"}},
            "plain": {"rate": {"field": "bytes"}}}},
        "six": {"date_histogram": {"field": "@timestamp", "fixed_interval": "6h"}, "aggs": {
            "per_minute": {"rate": {"field": "latency", "unit": "minute"}}}},
        "months": {"date_histogram": {"field": "@timestamp", "calendar_interval": "month"}, "aggs": {
            "per_day": {"rate": {"field": "bytes", "unit": "day"}},
            "per_year": {"rate": {"field": "bytes", "unit": "year"}}}}}}))
    .await;
    let group = |size: i64| {
        let mut by: BTreeMap<i64, (f64, f64, f64, f64)> = BTreeMap::new();
        for x in d {
            let e = by
                .entry(x["@timestamp"].as_i64().unwrap().div_euclid(size) * size)
                .or_default();
            if let Some(b) = x["bytes"].as_f64() {
                e.0 += b;
                e.1 += 1.0;
            }
            e.2 += 1.0;
            e.3 += x["latency"].as_f64().unwrap();
        }
        by
    };
    let days = group(86_400_000);
    let b = a["days"]["buckets"].as_array().unwrap();
    assert_eq!(b.len(), days.len());
    for (bk, (_, (sum, cnt, docs, _))) in b.iter().zip(&days) {
        close(&bk["per_hour"]["value"], sum / 24.0);
        close(&bk["counted"]["value"], cnt / 24.0);
        close(&bk["docs_per_week"]["value"], docs * 7.0);
        close(&bk["plain"]["value"], *sum);
    }
    let six = group(21_600_000);
    let b = a["six"]["buckets"].as_array().unwrap();
    assert_eq!(b.len(), six.len());
    for (bk, (_, (_, _, _, lat))) in b.iter().zip(&six) {
        close(&bk["per_minute"]["value"], lat / 360.0);
    }
    // March 2024 has 31 days, April 30.
    let mut months: BTreeMap<u32, f64> = BTreeMap::new();
    for x in d {
        let t = chrono::DateTime::from_timestamp_millis(x["@timestamp"].as_i64().unwrap()).unwrap();
        use chrono::Datelike;
        *months.entry(t.month()).or_default() += x["bytes"].as_f64().unwrap_or(0.0);
    }
    let b = a["months"]["buckets"].as_array().unwrap();
    assert_eq!(b.len(), 2);
    close(&b[0]["per_day"]["value"], months[&3] / 31.0);
    close(&b[1]["per_day"]["value"], months[&4] / 30.0);
    close(&b[1]["per_year"]["value"], months[&4] * 12.0);
    for bad in [
        json!({"r": {"rate": {"field": "bytes", "unit": "day"}}}),
        json!({"h": {"terms": {"field": "host"}, "aggs": {"r": {"rate": {"field": "bytes"}}}}}),
        json!({"h": {"date_histogram": {"field": "@timestamp", "fixed_interval": "6h"},
                     "aggs": {"r": {"rate": {"field": "bytes", "unit": "month"}}}}}),
        json!({"h": {"date_histogram": {"field": "@timestamp", "calendar_interval": "day"},
                     "aggs": {"r": {"rate": {"field": "bytes", "unit": "month"}}}}}),
        json!({"h": {"date_histogram": {"field": "@timestamp", "calendar_interval": "day"},
                     "aggs": {"r": {"rate": {"field": "bytes", "unit": "fortnight"}}}}}),
    ] {
        let r = json_req(
            "POST",
            &format!("/{IDX}/_search"),
            &json!({"size": 0, "aggs": bad}),
        )
        .await;
        assert_es_error(&r, 400, "illegal_argument_exception");
    }
}

/// JLHScore#getScore, written out again for the expected values.
fn jlh_expected(sub: u64, sub_size: u64, sup: u64, sup_size: u64) -> f64 {
    let p = sub as f64 / sub_size as f64;
    let q = sup.max(1) as f64 / sup_size as f64;
    if p - q <= 0.0 { 0.0 } else { (p - q) * (p / q) }
}

/// significant_terms (default JLH heuristic): foreground = the query's documents (or the parent
/// bucket's), background = every document of the index; `doc_count` / `bg_count` of the
/// aggregation are their sizes; buckets with key, doc_count, score, bg_count, kept when
/// score > 0 and doc_count ≥ min_doc_count (default 3), by score descending, `size` of them
/// (InternalSignificantTerms#doXContentBody and Bucket#toXContent, JLHScore;
/// search-aggregations-bucket-significantterms-aggregation.html).
#[tokio::test]
async fn significant_terms_jlh() {
    let d = docs().await;
    let expected =
        |fg: &[&Value], field: &str, min: u64, size: usize| -> Vec<(String, u64, f64, u64)> {
            let terms = |x: &Value| -> Vec<String> {
                match &x[field] {
                    Value::Array(a) => {
                        let mut v: Vec<String> =
                            a.iter().map(|t| t.as_str().unwrap().to_string()).collect();
                        v.sort();
                        v.dedup();
                        v
                    }
                    Value::String(s) => vec![s.clone()],
                    Value::Number(n) => vec![n.to_string()],
                    _ => vec![],
                }
            };
            let mut fgc: BTreeMap<String, u64> = BTreeMap::new();
            let mut bgc: BTreeMap<String, u64> = BTreeMap::new();
            for x in fg {
                for t in terms(x) {
                    *fgc.entry(t).or_default() += 1;
                }
            }
            for x in d {
                for t in terms(x) {
                    *bgc.entry(t).or_default() += 1;
                }
            }
            let mut out: Vec<(String, u64, f64, u64)> = fgc
                .iter()
                .map(|(t, n)| {
                    (
                        t.clone(),
                        *n,
                        jlh_expected(*n, fg.len() as u64, bgc[t], d.len() as u64),
                        bgc[t],
                    )
                })
                .filter(|b| b.2 > 0.0 && b.1 >= min)
                .collect();
            out.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
            out.truncate(size);
            out
        };
    let check = |got: &Value, want: &[(String, u64, f64, u64)], fg: usize| {
        assert_eq!(got["doc_count"], fg, "{got}");
        assert_eq!(got["bg_count"], d.len(), "{got}");
        let b = got["buckets"].as_array().unwrap();
        assert_eq!(b.len(), want.len(), "{got}");
        for (bk, (k, n, s, bg)) in b.iter().zip(want) {
            assert_eq!(bk["key"].to_string().trim_matches('"'), k.as_str(), "{got}");
            assert_eq!(bk["doc_count"], *n);
            assert_eq!(bk["bg_count"], *bg);
            close(&bk["score"], *s);
        }
    };
    let fg: Vec<&Value> = d.iter().filter(|x| x["status"] == 500).collect();
    let a = aggs(
        json!({"size": 0, "query": {"term": {"status": 500}}, "aggs": {
        "hosts": {"significant_terms": {"field": "host"}},
        "tags": {"significant_terms": {"field": "tags", "min_doc_count": 1}}}}),
    )
    .await;
    // beta and gamma are over-represented among the status-500 documents.
    assert_eq!(a["hosts"]["buckets"].as_array().unwrap().len(), 2);
    check(&a["hosts"], &expected(&fg, "host", 3, 10), fg.len());
    check(&a["tags"], &expected(&fg, "tags", 1, 10), fg.len());
    let keys: Vec<&String> = a["hosts"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["doc_count", "bg_count", "buckets"]);
    if let Some(b) = a["hosts"]["buckets"].as_array().unwrap().first() {
        let keys: Vec<&String> = b.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["key", "doc_count", "score", "bg_count"]);
    }
    // Below a terms: each host's documents are the foreground of its status terms.
    let a = aggs(
        json!({"size": 0, "aggs": {"h": {"terms": {"field": "host"}, "aggs": {
        "st": {"significant_terms": {"field": "status", "min_doc_count": 1, "size": 2}}}}}}),
    )
    .await;
    for b in a["h"]["buckets"].as_array().unwrap() {
        let mine = of_host(d, b["key"].as_str().unwrap());
        check(&b["st"], &expected(&mine, "status", 1, 2), mine.len());
    }
}

/// geotile_grid `bounds`: only tiles sharing an interior point with the box are kept (a
/// document's points in other tiles are not counted), tiles merely touching an edge excluded,
/// boxes across the antimeridian allowed (GeoTileBoundedPredicate,
/// search-aggregations-bucket-geotilegrid-aggregation.html#geotilegrid-aggregation-with-bounds).
/// Valid tile columns/rows at zoom 2 (edges at lon −90/0/90, lat ±66.51/0) worked out by hand.
#[tokio::test]
async fn geotile_grid_bounds() {
    let d = geo_docs().await;
    let cases = [
        // top, left, bottom, right → valid x, valid y
        (
            json!({"top_left": {"lat": 40, "lon": -100}, "bottom_right": {"lat": -10, "lon": 10}}),
            vec![0, 1, 2],
            vec![1, 2],
        ),
        // right edge on lon 90: column 3 only touches the box.
        (
            json!({"top": 60, "left": 0, "bottom": -60, "right": 90}),
            vec![2],
            vec![1, 2],
        ),
        // across the antimeridian: columns 3 and 0.
        (
            json!({"top_left": [170, 80], "bottom_right": [-170, -80]}),
            vec![0, 3],
            vec![0, 1, 2, 3],
        ),
    ];
    for (bounds, xs, ys) in cases {
        let mut want: BTreeMap<String, u64> = BTreeMap::new();
        for doc in d {
            let mut cells: Vec<String> = points(doc)
                .into_iter()
                .map(|(la, lo)| tile(la, lo, 2))
                .filter(|t| {
                    let p: Vec<i64> = t.split('/').map(|x| x.parse().unwrap()).collect();
                    xs.contains(&p[1]) && ys.contains(&p[2])
                })
                .collect();
            cells.sort();
            cells.dedup();
            for c in cells {
                *want.entry(c).or_default() += 1;
            }
        }
        let r = json_req(
            "POST",
            &format!("/{GEO}/_search"),
            &json!({"size": 0, "aggs": {
            "t": {"geotile_grid": {"field": "loc", "precision": 2, "bounds": bounds}}}}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let got: BTreeMap<String, u64> = r.json()["aggregations"]["t"]["buckets"]
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
        assert_eq!(got, want, "{bounds}");
    }
}

/// nested: a single bucket of the nested objects under `path` of the matching documents
/// (`doc_count` = number of objects); sub-aggregations read the objects' fields (fields outside
/// the path have no value there); below a parent bucket, the objects of that bucket's documents
/// (NestedAggregator, InternalNested; search-aggregations-bucket-nested-aggregation.html).
#[tokio::test]
async fn nested_objects() {
    let idx = "agg-nested";
    let r = json_req(
        "PUT",
        &format!("/{idx}"),
        &json!({"mappings": {"properties": {
        "shop": {"type": "keyword"},
        "items": {"type": "nested", "properties": {
            "name": {"type": "keyword"}, "qty": {"type": "integer"}}}}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let names = ["apple", "pear", "fig"];
    let mut docs = Vec::new();
    for i in 0..12i64 {
        let items: Vec<Value> = (0..(i % 4))
            .map(|j| json!({"name": names[((i + j) % 3) as usize], "qty": i * 10 + j}))
            .collect();
        let d = json!({"shop": if i % 2 == 0 { "north" } else { "south" }, "items": items});
        docs.push(d);
    }
    load_docs(idx, None, &docs).await;
    let r = json_req("POST", &format!("/{idx}/_search"), &json!({"size": 0,
        "query": {"nested": {"path": "items", "query": {"range": {"items.qty": {"gte": 0}}}}},
        "aggs": {
            "it": {"nested": {"path": "items"}, "aggs": {
                "names": {"terms": {"field": "items.name"}, "aggs": {"q": {"sum": {"field": "items.qty"}}}},
                "shops": {"terms": {"field": "shop"}}}},
            "by_shop": {"terms": {"field": "shop"}, "aggs": {
                "it": {"nested": {"path": "items"}, "aggs": {"q": {"sum": {"field": "items.qty"}}}}}}}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let a = &r.json()["aggregations"];
    let objs: Vec<(&str, &str, i64)> = docs
        .iter()
        .flat_map(|d| {
            d["items"].as_array().unwrap().iter().map(move |o| {
                (
                    d["shop"].as_str().unwrap(),
                    o["name"].as_str().unwrap(),
                    o["qty"].as_i64().unwrap(),
                )
            })
        })
        .collect();
    assert_eq!(a["it"]["doc_count"], objs.len());
    let mut by_name: BTreeMap<&str, (u64, i64)> = BTreeMap::new();
    for (_, n, q) in &objs {
        let e = by_name.entry(n).or_default();
        e.0 += 1;
        e.1 += q;
    }
    let mut want: Vec<(&str, (u64, i64))> = by_name.into_iter().collect();
    want.sort_by(|x, y| y.1.0.cmp(&x.1.0).then(x.0.cmp(y.0)));
    let want: Vec<Value> = want
        .iter()
        .map(|(n, (c, q))| json!({"key": n, "doc_count": c, "q": {"value": *q as f64}}))
        .collect();
    assert_eq!(a["it"]["names"]["buckets"], json!(want));
    // A root field has no value on the nested objects.
    assert_eq!(a["it"]["shops"]["buckets"], json!([]));
    for b in a["by_shop"]["buckets"].as_array().unwrap() {
        let shop = b["key"].as_str().unwrap();
        let mine: Vec<&(&str, &str, i64)> = objs.iter().filter(|o| o.0 == shop).collect();
        let docs_with = docs
            .iter()
            .filter(|d| d["shop"] == shop && !d["items"].as_array().unwrap().is_empty())
            .count();
        assert_eq!(b["doc_count"], docs_with);
        assert_eq!(b["it"]["doc_count"], mine.len());
        close(
            &b["it"]["q"]["value"],
            mine.iter().map(|o| o.2 as f64).sum(),
        );
    }
    let r = json_req(
        "POST",
        &format!("/{idx}/_search"),
        &json!({"size": 0, "aggs": {
        "x": {"nested": {"path": "shop"}}}}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
}

/// reverse_nested: inside a `nested` aggregation, a single bucket of the parent (root) documents
/// of the nested objects in the enclosing bucket — `doc_count` is the number of distinct parent
/// documents, and its sub-aggregations read the root documents' fields (each parent counted
/// once per bucket, however many of its objects fell in it); outside a `nested` aggregation,
/// "Reverse nested aggregation [name] can only be used inside a [nested] aggregation"
/// (search-aggregations-bucket-reverse-nested-aggregation.html; ReverseNestedAggregator,
/// ReverseNestedAggregationBuilder#doBuild).
#[tokio::test]
async fn reverse_nested_parent_documents() {
    let idx = "agg-reverse-nested";
    let r = json_req(
        "PUT",
        &format!("/{idx}"),
        &json!({"mappings": {"properties": {
        "tags": {"type": "keyword"},
        "price": {"type": "integer"},
        "comments": {"type": "nested", "properties": {
            "username": {"type": "keyword"}, "votes": {"type": "integer"}}}}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let users = ["ann", "bob", "cyd"];
    let colours = ["red", "green", "blue"];
    let mut docs = Vec::new();
    for i in 0..15i64 {
        // Several comments of one user in the same document (i + j² repeats modulo 3).
        let comments: Vec<Value> = (0..(i % 4))
            .map(|j| json!({"username": users[((i + j * j) % 3) as usize], "votes": (i + j) % 7}))
            .collect();
        let mut tags = vec![colours[(i % 3) as usize]];
        if i % 4 == 0 && tags[0] != "blue" {
            tags.push("blue");
        }
        let d = json!({"tags": tags, "price": i * 3 + 1, "comments": comments});
        docs.push(d);
    }
    load_docs(idx, None, &docs).await;
    let r = json_req(
        "POST",
        &format!("/{idx}/_search"),
        &json!({"size": 0,
        "query": {"range": {"price": {"gte": 4}}},
        "aggs": {"c": {"nested": {"path": "comments"}, "aggs": {
            "users": {"terms": {"field": "comments.username"}, "aggs": {
                "back": {"reverse_nested": {}, "aggs": {
                    "tags": {"terms": {"field": "tags"}},
                    "p": {"sum": {"field": "price"}},
                    "inner": {"terms": {"field": "comments.username"}}}}}},
            "voted": {"filter": {"range": {"comments.votes": {"gte": 4}}}, "aggs": {
                "back": {"reverse_nested": {"path": ""}}}},
            "all": {"reverse_nested": {}}}}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let a = &r.json()["aggregations"]["c"];
    let matching: Vec<&Value> = docs
        .iter()
        .filter(|d| d["price"].as_i64().unwrap() >= 4)
        .collect();
    let comments_of = |d: &Value| d["comments"].as_array().unwrap().clone();
    let n_objs: usize = matching.iter().map(|d| comments_of(d).len()).sum();
    assert_eq!(a["doc_count"], n_objs);
    // Every parent document with at least one comment, once.
    let with_comments = matching
        .iter()
        .filter(|d| !comments_of(d).is_empty())
        .count();
    assert_eq!(a["all"]["doc_count"], with_comments);
    // Per user: objects, then the distinct parent documents and their tags and price.
    let mut want_users: Vec<(&str, usize)> = users
        .iter()
        .map(|u| {
            let objs = matching
                .iter()
                .flat_map(|d| comments_of(d))
                .filter(|c| c["username"] == *u)
                .count();
            (*u, objs)
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    want_users.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(y.0)));
    let got = a["users"]["buckets"].as_array().unwrap();
    assert_eq!(got.len(), want_users.len(), "{got:?}");
    for (b, (u, n)) in got.iter().zip(&want_users) {
        assert_eq!(b["key"], *u);
        assert_eq!(b["doc_count"], *n);
        let parents: Vec<&&Value> = matching
            .iter()
            .filter(|d| comments_of(d).iter().any(|c| c["username"] == *u))
            .collect();
        let back = &b["back"];
        assert_eq!(back["doc_count"], parents.len(), "{u}");
        close(
            &back["p"]["value"],
            parents.iter().map(|d| d["price"].as_f64().unwrap()).sum(),
        );
        let mut tags = count_by(
            &parents.iter().map(|d| (**d).clone()).collect::<Vec<_>>(),
            |d| {
                d["tags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t.as_str().unwrap().to_string())
                    .collect()
            },
        )
        .into_iter()
        .collect::<Vec<_>>();
        tags.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
        let want_tags: Vec<Value> = tags
            .iter()
            .map(|(t, c)| json!({"key": t, "doc_count": c}))
            .collect();
        assert_eq!(back["tags"]["buckets"], json!(want_tags), "{u}");
        // The root documents have no value of the nested objects' fields.
        assert_eq!(back["inner"]["buckets"], json!([]));
    }
    // A user with several comments in one document: more objects than parents somewhere.
    assert!(want_users.iter().any(|(u, n)| {
        let parents = matching
            .iter()
            .filter(|d| comments_of(d).iter().any(|c| c["username"] == *u))
            .count();
        parents < *n
    }));
    let voted_objs: usize = matching
        .iter()
        .map(|d| {
            comments_of(d)
                .iter()
                .filter(|c| c["votes"].as_i64().unwrap() >= 4)
                .count()
        })
        .sum();
    let voted_docs = matching
        .iter()
        .filter(|d| {
            comments_of(d)
                .iter()
                .any(|c| c["votes"].as_i64().unwrap() >= 4)
        })
        .count();
    assert_eq!(a["voted"]["doc_count"], voted_objs);
    assert_eq!(a["voted"]["back"]["doc_count"], voted_docs);
    // Below a bucket on a multi-valued root field: the parents of that bucket's objects.
    let r = json_req(
        "POST",
        &format!("/{idx}/_search"),
        &json!({"size": 0,
        "aggs": {"t": {"terms": {"field": "tags", "order": {"_key": "asc"}}, "aggs": {
            "c": {"nested": {"path": "comments"}, "aggs": {
                "back": {"reverse_nested": {}, "aggs": {"p": {"sum": {"field": "price"}},
                    "th": {"top_hits": {"size": 1, "sort": [{"price": "desc"}]}}}}}}}}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let got = r.json()["aggregations"]["t"]["buckets"].clone();
    let mut tags: Vec<&str> = colours.to_vec();
    tags.sort();
    assert_eq!(got.as_array().unwrap().len(), tags.len(), "{got}");
    for (b, t) in got.as_array().unwrap().iter().zip(&tags) {
        assert_eq!(b["key"], *t);
        let with: Vec<&Value> = docs
            .iter()
            .filter(|d| d["tags"].as_array().unwrap().iter().any(|x| x == t))
            .collect();
        assert_eq!(b["doc_count"], with.len());
        let parents: Vec<&&Value> = with.iter().filter(|d| !comments_of(d).is_empty()).collect();
        let objs: usize = with.iter().map(|d| comments_of(d).len()).sum();
        assert_eq!(b["c"]["doc_count"], objs, "{t}");
        assert_eq!(b["c"]["back"]["doc_count"], parents.len(), "{t}");
        close(
            &b["c"]["back"]["p"]["value"],
            parents.iter().map(|d| d["price"].as_f64().unwrap()).sum(),
        );
        // top_hits below reverse_nested: the parent documents (each once), best price first.
        let th = &b["c"]["back"]["th"]["hits"];
        assert_eq!(th["total"]["value"], parents.len(), "{t}");
        let best = parents
            .iter()
            .max_by_key(|d| d["price"].as_i64().unwrap())
            .unwrap();
        assert_eq!(th["hits"][0]["_source"], ***best, "{t}");
        assert_eq!(th["hits"][0]["sort"], json!([best["price"]]), "{t}");
    }
    // top_hits directly inside nested (the objects as hits): not supported yet, 400.
    let r = json_req(
        "POST",
        &format!("/{idx}/_search"),
        &json!({"size": 0, "aggs": {"c": {"nested": {"path": "comments"}, "aggs": {
            "th": {"top_hits": {"size": 1}}}}}}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    // Outside a nested aggregation: 400.
    let r = json_req(
        "POST",
        &format!("/{idx}/_search"),
        &json!({"size": 0, "aggs": {"t": {"terms": {"field": "tags"}, "aggs": {
            "back": {"reverse_nested": {}}}}}}),
    )
    .await;
    let e = assert_es_error(&r, 400, "illegal_argument_exception");
    assert_eq!(
        e["reason"],
        "Reverse nested aggregation [back] can only be used inside a [nested] aggregation"
    );
}
