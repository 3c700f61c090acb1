//! ES|QL (`POST /_query`) against the real engine, over a small web-logs index the tests generate
//! (Kibana's sample web logs in miniature: timestamp, host, status, bytes, client ip, message,
//! multi-valued tags, price). Expected answers are computed here from the same documents; each
//! test names the ES|QL behaviour it reproduces and the Elasticsearch page or source it comes from
//! (reference pages under docs/reference/query-languages/esql/, source under x-pack/plugin/esql).

use crate::common::*;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

const N: usize = 12;
const HOSTS: [&str; 3] = ["web-a", "web-b", "web-c"];
const STATUS: [i64; 4] = [200, 200, 404, 500];
/// 2024-05-01T00:00:00Z
const T0: i64 = 1_714_521_600_000;
const HOUR: i64 = 3_600_000;

struct Doc {
    ts: i64,
    host: &'static str,
    status: i64,
    bytes: Option<i64>,
    ip: String,
    message: String,
    tags: Vec<&'static str>,
    price: f64,
}

fn docs() -> Vec<Doc> {
    (0..N)
        .map(|i| Doc {
            ts: T0 + i as i64 * 3 * HOUR,
            host: HOSTS[i % 3],
            status: STATUS[i % 4],
            bytes: (i != 5).then_some(i as i64 * 100 + 50),
            ip: if i % 2 == 0 {
                format!("10.0.0.{i}")
            } else {
                format!("192.168.1.{i}")
            },
            message: format!("GET /page/{i} HTTP/1.1 took {} ms", i * 7),
            tags: if i % 2 == 0 {
                vec!["a", "b"]
            } else {
                vec!["b"]
            },
            price: i as f64 * 1.5,
        })
        .collect()
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

static LOADED: OnceCell<()> = OnceCell::const_new();

async fn load() {
    LOADED
        .get_or_init(|| async {
            let mapping = json!({"mappings": {"properties": {
                "@timestamp": {"type": "date"},
                "host": {"type": "keyword"},
                "status": {"type": "integer"},
                "bytes": {"type": "long"},
                "ip": {"type": "ip"},
                "message": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
                "tags": {"type": "keyword"},
                "price": {"type": "double"}
            }}});
            let body: Vec<Value> = docs()
                .iter()
                .map(|d| {
                    let mut v = json!({
                        "@timestamp": iso(d.ts), "host": d.host, "status": d.status, "ip": d.ip,
                        "message": d.message, "tags": d.tags, "price": d.price
                    });
                    if let Some(b) = d.bytes {
                        v["bytes"] = json!(b);
                    }
                    v
                })
                .collect();
            load_docs("eslogs", Some(&mapping), &body).await;
            // A second index the pattern `eslogs*` reaches, with a field of its own.
            let m2 = json!({"mappings": {"properties": {
                "host": {"type": "keyword"}, "bytes": {"type": "long"}, "region": {"type": "keyword"}
            }}});
            load_docs(
                "eslogs2",
                Some(&m2),
                &[
                    json!({"host": "web-z", "bytes": 7, "region": "eu"}),
                    json!({"host": "web-y", "bytes": 9, "region": "us"}),
                ],
            )
            .await;
        })
        .await;
}

async fn esql_body(body: Value) -> Resp {
    load().await;
    json_req("POST", "/_query", &body).await
}

/// Runs a query and returns the JSON answer (asserting 200).
async fn esql(q: &str) -> Value {
    let r = esql_body(json!({ "query": q })).await;
    assert_eq!(r.status, 200, "{q}: {}", r.text);
    r.json()
}

fn columns(v: &Value) -> Vec<(String, String)> {
    v["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["type"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn cols(spec: &[(&str, &str)]) -> Vec<(String, String)> {
    spec.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// The error object of a failed query, after checking its status and type.
async fn esql_error(q: &str, kind: &str) -> String {
    let r = esql_body(json!({ "query": q })).await;
    let e = assert_es_error(&r, 400, kind);
    e["reason"].as_str().unwrap().to_string()
}

// esql-rest.md / EsqlQueryResponse.java: took, is_partial, columns, values; FROM lists every
// mapped field (multi-fields as their own columns) sorted by name, typed as ES|QL types
// (integer, long, double, keyword, text, ip, date).
#[tokio::test]
async fn response_shape_and_column_types_of_from() {
    let v = esql("FROM eslogs | LIMIT 0").await;
    assert!(v["took"].is_u64());
    assert_eq!(v["is_partial"], false);
    assert_eq!(v["values"], json!([]));
    assert_eq!(
        columns(&v),
        cols(&[
            ("@timestamp", "date"),
            ("bytes", "long"),
            ("host", "keyword"),
            ("ip", "ip"),
            ("message", "text"),
            ("message.keyword", "keyword"),
            ("price", "double"),
            ("status", "integer"),
            ("tags", "keyword"),
        ])
    );
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["took", "is_partial", "columns", "values"]);
}

// commands/keep.md, sort.md, limit.md: KEEP orders columns, SORT … DESC NULLS LAST, LIMIT.
#[tokio::test]
async fn keep_sort_limit() {
    let v =
        esql("FROM eslogs | KEEP host, bytes, @timestamp | SORT bytes DESC NULLS LAST | LIMIT 3")
            .await;
    assert_eq!(
        columns(&v),
        cols(&[
            ("host", "keyword"),
            ("bytes", "long"),
            ("@timestamp", "date")
        ])
    );
    let mut d = docs();
    d.retain(|d| d.bytes.is_some());
    d.sort_by_key(|d| std::cmp::Reverse(d.bytes));
    let want: Vec<Value> = d[..3]
        .iter()
        .map(|d| json!([d.host, d.bytes, iso(d.ts)]))
        .collect();
    assert_eq!(v["values"], json!(want));
}

// commands/sort.md: "null values are sorted last ascending and first descending" by default;
// NULLS FIRST overrides.
#[tokio::test]
async fn sort_null_placement() {
    let v = esql("FROM eslogs | KEEP bytes | SORT bytes DESC | LIMIT 2").await;
    assert_eq!(v["values"], json!([[null], [1150]]));
    let v = esql("FROM eslogs | KEEP bytes | SORT bytes | LIMIT 1").await;
    assert_eq!(v["values"], json!([[50]]));
    let v = esql("FROM eslogs | KEEP bytes | SORT bytes ASC NULLS FIRST | LIMIT 1").await;
    assert_eq!(v["values"], json!([[null]]));
}

// commands/where.md and eval.md; operators.md: integer division truncates, `/` with a double
// is a double, division by zero is null.
#[tokio::test]
async fn where_eval_and_arithmetic() {
    let v = esql(
        "FROM eslogs | WHERE status == 200 AND bytes > 100 | EVAL kb = bytes / 1000.0, half = bytes / 2, \
         z = bytes / 0 | KEEP bytes, kb, half, z | SORT bytes",
    )
    .await;
    assert_eq!(
        columns(&v),
        cols(&[
            ("bytes", "long"),
            ("kb", "double"),
            ("half", "long"),
            ("z", "long")
        ])
    );
    let want: Vec<Value> = docs()
        .iter()
        .filter(|d| d.status == 200 && d.bytes.is_some_and(|b| b > 100))
        .map(|d| {
            let b = d.bytes.unwrap();
            json!([b, b as f64 / 1000.0, b / 2, null])
        })
        .collect();
    assert!(!want.is_empty());
    assert_eq!(v["values"], json!(want));
    // An unaliased EVAL expression is named by its text.
    let v = esql("ROW a = 7 | EVAL a * 2, -a + 1").await;
    assert_eq!(
        columns(&v),
        cols(&[
            ("a", "integer"),
            ("a * 2", "integer"),
            ("-a + 1", "integer")
        ])
    );
    assert_eq!(v["values"], json!([[7, 14, -6]]));
}

// commands/stats-by.md: aggregates first, then the BY columns; count → long, avg → double,
// sum of long → long, min/max keep the type.
#[tokio::test]
async fn stats_by_group() {
    let v = esql(
        "FROM eslogs | STATS c = COUNT(*), n = COUNT(bytes), total = SUM(bytes), avg = AVG(bytes), \
         mx = MAX(bytes), first = MIN(@timestamp) BY host | SORT host",
    )
    .await;
    assert_eq!(
        columns(&v),
        cols(&[
            ("c", "long"),
            ("n", "long"),
            ("total", "long"),
            ("avg", "double"),
            ("mx", "long"),
            ("first", "date"),
            ("host", "keyword"),
        ])
    );
    let d = docs();
    let want: Vec<Value> = HOSTS
        .iter()
        .map(|h| {
            let g: Vec<&Doc> = d.iter().filter(|x| x.host == *h).collect();
            let bytes: Vec<i64> = g.iter().filter_map(|x| x.bytes).collect();
            let total: i64 = bytes.iter().sum();
            json!([
                g.len(),
                bytes.len(),
                total,
                total as f64 / bytes.len() as f64,
                bytes.iter().max(),
                iso(g.iter().map(|x| x.ts).min().unwrap()),
                h
            ])
        })
        .collect();
    assert_eq!(v["values"], json!(want));
    // STATS without BY: one row, named by the expression text when unaliased.
    let v = esql("FROM eslogs | STATS COUNT(*), MAX(price) - MIN(price)").await;
    assert_eq!(
        columns(&v),
        cols(&[("COUNT(*)", "long"), ("MAX(price) - MIN(price)", "double")])
    );
    assert_eq!(v["values"], json!([[N, (N - 1) as f64 * 1.5]]));
}

// functions-operators/aggregation-functions.md: COUNT_DISTINCT, MEDIAN, PERCENTILE, VALUES;
// COUNT of a multi-valued field counts its values; STATS … BY a multi-valued field puts the row
// in the group of each value.
#[tokio::test]
async fn aggregate_functions_and_multi_values() {
    let v = esql(
        "FROM eslogs | STATS hosts = COUNT_DISTINCT(host), med = MEDIAN(price), p90 = PERCENTILE(status, 100), \
         st = VALUES(status), tags = COUNT(tags)",
    )
    .await;
    assert_eq!(
        columns(&v),
        cols(&[
            ("hosts", "long"),
            ("med", "double"),
            ("p90", "double"),
            ("st", "integer"),
            ("tags", "long"),
        ])
    );
    let d = docs();
    let mut prices: Vec<f64> = d.iter().map(|x| x.price).collect();
    prices.sort_by(f64::total_cmp);
    let med = (prices[N / 2 - 1] + prices[N / 2]) / 2.0;
    let ntags: usize = d.iter().map(|x| x.tags.len()).sum();
    assert_eq!(
        v["values"],
        json!([[3, med, 500.0, [200, 404, 500], ntags]])
    );
    let v = esql("FROM eslogs | STATS c = COUNT(*) BY tags | SORT tags").await;
    let a = d.iter().filter(|x| x.tags.contains(&"a")).count();
    assert_eq!(v["values"], json!([[a, "a"], [N, "b"]]));
}

// functions-operators/grouping-functions.md (BUCKET) and date-time-functions.md (DATE_TRUNC):
// with a target of 24 buckets over two days BUCKET picks 3 hours (Bucket.java's roundings);
// a numeric span floors to multiples of it (double).
#[tokio::test]
async fn bucket_and_date_trunc() {
    let v = esql(
        "FROM eslogs | EVAL d = DATE_TRUNC(1 day, @timestamp) | STATS c = COUNT(*) BY d | SORT d",
    )
    .await;
    assert_eq!(columns(&v), cols(&[("c", "long"), ("d", "date")]));
    assert_eq!(v["values"], json!([[8, iso(T0)], [4, iso(T0 + 24 * HOUR)]]));
    let v = esql(
        "FROM eslogs | STATS c = COUNT(*) BY b = BUCKET(@timestamp, 24, \"2024-05-01T00:00:00Z\", \"2024-05-03T00:00:00Z\") \
         | SORT b | LIMIT 2",
    )
    .await;
    assert_eq!(v["values"], json!([[1, iso(T0)], [1, iso(T0 + 3 * HOUR)]]));
    let v = esql("FROM eslogs | STATS c = COUNT(*) BY b = BUCKET(bytes, 500.0) | SORT b").await;
    assert_eq!(columns(&v), cols(&[("c", "long"), ("b", "double")]));
    let mut counts = std::collections::BTreeMap::<i64, usize>::new();
    let mut nulls = 0;
    for d in docs() {
        match d.bytes {
            Some(b) => *counts.entry(b / 500 * 500).or_default() += 1,
            None => nulls += 1,
        }
    }
    let mut want: Vec<Value> = counts
        .into_iter()
        .map(|(k, c)| json!([c, k as f64]))
        .collect();
    want.push(json!([nulls, null]));
    assert_eq!(v["values"], json!(want));
}

// commands/keep.md, drop.md, rename.md: wildcards, an exact name beats a wildcard, RENAME keeps
// the position (both `old AS new` and `new = old`).
#[tokio::test]
async fn keep_drop_rename() {
    let v = esql("FROM eslogs | KEEP *, host | LIMIT 0").await;
    assert_eq!(columns(&v).last().unwrap().0, "host");
    // A partial wildcard beats `*`; between equals the rightmost wins (keep.md precedence).
    let v = esql("FROM eslogs | KEEP message*, *, h* | LIMIT 0").await;
    let names: Vec<String> = columns(&v).into_iter().map(|c| c.0).collect();
    assert_eq!(
        names,
        [
            "message",
            "message.keyword",
            "@timestamp",
            "bytes",
            "ip",
            "price",
            "status",
            "tags",
            "host"
        ]
    );
    let v = esql(
        "FROM eslogs | DROP message*, @timestamp, p* | RENAME host AS server, b = bytes | LIMIT 0",
    )
    .await;
    let names: Vec<String> = columns(&v).into_iter().map(|c| c.0).collect();
    assert_eq!(names, ["b", "server", "ip", "status", "tags"]);
}

// functions-operators/string-functions.md (examples of LENGTH, SUBSTRING, REPLACE, …).
#[tokio::test]
async fn string_functions() {
    let v = esql(
        "ROW a = \"Hello World\" | EVAL l = LENGTH(a), u = TO_UPPER(a), lo = TO_LOWER(a), s = SUBSTRING(a, 7, 5), \
         neg = SUBSTRING(a, -5), c = CONCAT(a, \"!\", \"?\"), r = REPLACE(a, \"o\", \"0\"), sw = STARTS_WITH(a, \"Hell\"), \
         ew = ENDS_WITH(a, \"x\"), t = TRIM(\"  x  \"), lf = LEFT(a, 5), rt = RIGHT(a, 5), loc = LOCATE(a, \"World\"), \
         rev = REVERSE(\"abc\"), rep = REPEAT(\"ab\", 2), sp = SPLIT(\"a,b,c\", \",\")",
    )
    .await;
    assert_eq!(
        v["values"],
        json!([[
            "Hello World",
            11,
            "HELLO WORLD",
            "hello world",
            "World",
            "World",
            "Hello World!?",
            "Hell0 W0rld",
            true,
            false,
            "x",
            "Hello",
            "World",
            7,
            "cba",
            "abab",
            ["a", "b", "c"]
        ]])
    );
    let types: Vec<String> = columns(&v).into_iter().map(|c| c.1).collect();
    assert_eq!(types[1], "integer");
    assert_eq!(types[8], "boolean");
    assert_eq!(types[16], "keyword");
}

// functions-operators/math-functions.md: ROUND half away from zero, SQRT of a negative number is
// null, POW and LOG10 are doubles.
#[tokio::test]
async fn math_functions() {
    let v = esql(
        "ROW a = ABS(-5), b = ROUND(2.5), c = ROUND(-2.5), d = ROUND(1.2345, 2), e = POW(2, 10), f = SQRT(-1), \
         g = 7 / 2, h = 7 % 3, i = FLOOR(2.7), j = CEIL(2.1), k = LOG10(100), l = SIGNUM(-3), m = 1 / 0",
    )
    .await;
    assert_eq!(
        v["values"],
        json!([[
            5, 3.0, -3.0, 1.23, 1024.0, null, 3, 1, 2.0, 3.0, 2.0, -1.0, null
        ]])
    );
    assert_eq!(columns(&v)[0].1, "integer");
    assert_eq!(columns(&v)[4].1, "double");
}

// functions-operators/conditional-functions-and-expressions.md: CASE, COALESCE, GREATEST/LEAST
// (null when an argument is null).
#[tokio::test]
async fn conditional_functions() {
    let v = esql(
        "FROM eslogs | EVAL kind = CASE(status >= 500, \"error\", status >= 400, \"miss\", \"ok\") \
         | STATS c = COUNT(*) BY kind | SORT kind",
    )
    .await;
    let d = docs();
    let count = |f: &dyn Fn(i64) -> bool| d.iter().filter(|x| f(x.status)).count();
    assert_eq!(
        v["values"],
        json!([
            [count(&|s| s >= 500), "error"],
            [count(&|s| (400..500).contains(&s)), "miss"],
            [count(&|s| s < 400), "ok"]
        ])
    );
    let v = esql("ROW a = COALESCE(null, 2, 3), b = GREATEST(1, 5, 3), c = LEAST(4, 2.5), d = GREATEST(1, null)")
        .await;
    assert_eq!(v["values"], json!([[2, 5, 2.5, null]]));
    assert_eq!(columns(&v)[2].1, "double");
}

// functions-operators/type-conversion-functions.md and the `::` cast operator.
#[tokio::test]
async fn conversion_functions() {
    let v = esql(
        "ROW a = TO_LONG(\"42\"), b = TO_DOUBLE(\"3.5\"), c = TO_STRING(12), d = TO_BOOLEAN(\"TRUE\"), \
         e = TO_DATETIME(\"2024-05-01T00:00:00Z\"), f = TO_IP(\"10.0.0.1\"), g = \"5\"::integer, h = TO_LONG(\"x\"), \
         i = TO_INTEGER(3.9), j = TO_STRING(TO_DATETIME(\"2024-05-01T01:02:03Z\"))",
    )
    .await;
    assert_eq!(
        v["values"],
        json!([[
            42,
            3.5,
            "12",
            true,
            iso(T0),
            "10.0.0.1",
            5,
            null,
            3,
            "2024-05-01T01:02:03.000Z"
        ]])
    );
    let types: Vec<String> = columns(&v).into_iter().map(|c| c.1).collect();
    assert_eq!(
        types,
        [
            "long", "double", "keyword", "boolean", "date", "ip", "integer", "long", "integer",
            "keyword"
        ]
    );
}

// functions-operators/ip-functions.md (CIDR_MATCH), operators.md (LIKE, RLIKE, IS NULL, IN) and
// implicit casting of string literals to dates in comparisons.
#[tokio::test]
async fn predicates() {
    let d = docs();
    let count = |v: &Value| v["values"][0][0].as_u64().unwrap() as usize;
    let v = esql("FROM eslogs | WHERE CIDR_MATCH(ip, \"10.0.0.0/8\", \"192.168.1.1/32\") | STATS c = COUNT(*)").await;
    assert_eq!(
        count(&v),
        d.iter()
            .filter(|x| x.ip.starts_with("10.") || x.ip == "192.168.1.1")
            .count()
    );
    let v = esql("FROM eslogs | WHERE message.keyword LIKE \"GET /page/1*\" | STATS c = COUNT(*)")
        .await;
    assert_eq!(
        count(&v),
        d.iter()
            .filter(|x| x.message.starts_with("GET /page/1"))
            .count()
    );
    let v = esql(
        "FROM eslogs | WHERE message.keyword RLIKE \"GET /page/[0-3] .*\" | STATS c = COUNT(*)",
    )
    .await;
    assert_eq!(count(&v), 4);
    let v = esql("FROM eslogs | WHERE bytes IS NULL | STATS c = COUNT(*)").await;
    assert_eq!(count(&v), 1);
    let v = esql(
        "FROM eslogs | WHERE status IN (404, 500) AND NOT host == \"web-a\" | STATS c = COUNT(*)",
    )
    .await;
    assert_eq!(
        count(&v),
        d.iter()
            .filter(|x| x.status >= 404 && x.host != "web-a")
            .count()
    );
    let v = esql("FROM eslogs | WHERE @timestamp >= \"2024-05-01T12:00:00Z\" | STATS c = COUNT(*)")
        .await;
    assert_eq!(
        count(&v),
        d.iter().filter(|x| x.ts >= T0 + 12 * HOUR).count()
    );
    // A hostile string is a value, nothing else.
    let v =
        esql("FROM eslogs | WHERE host == \"x'; DROP TABLE eslogs; --\\\\\" | STATS c = COUNT(*)")
            .await;
    assert_eq!(count(&v), 0);
}

// functions-operators/date-time-functions.md: DATE_EXTRACT, DATE_FORMAT, DATE_DIFF, NOW, date
// arithmetic with time spans.
#[tokio::test]
async fn date_functions() {
    let v = esql(
        "FROM eslogs | SORT @timestamp | LIMIT 2 | EVAL h = DATE_EXTRACT(\"hour_of_day\", @timestamp), \
         f = DATE_FORMAT(\"yyyy-MM-dd HH:mm\", @timestamp), later = @timestamp + 1 day, \
         diff = DATE_DIFF(\"hour\", \"2024-05-01T00:00:00Z\", @timestamp), recent = @timestamp < NOW() \
         | KEEP h, f, later, diff, recent",
    )
    .await;
    assert_eq!(
        columns(&v),
        cols(&[
            ("h", "long"),
            ("f", "keyword"),
            ("later", "date"),
            ("diff", "integer"),
            ("recent", "boolean")
        ])
    );
    assert_eq!(
        v["values"],
        json!([
            [0, "2024-05-01 00:00", iso(T0 + 24 * HOUR), 0, true],
            [3, "2024-05-01 03:00", iso(T0 + 27 * HOUR), 3, true]
        ])
    );
}

// functions-operators/mv-functions.md and commands/mv_expand.md.
#[tokio::test]
async fn multi_value_functions_and_mv_expand() {
    let v = esql(
        "ROW a = [3, 1, 2] | EVAL c = MV_COUNT(a), mn = MV_MIN(a), mx = MV_MAX(a), s = MV_SUM(a), srt = MV_SORT(a, \"DESC\"), \
         f = MV_FIRST(a), j = MV_CONCAT([\"x\", \"y\"], \"-\"), d = MV_DEDUPE([1, 1, 2]), sl = MV_SLICE(a, 1, 2), av = MV_AVG(a)",
    )
    .await;
    assert_eq!(
        v["values"],
        json!([[
            [3, 1, 2],
            3,
            1,
            3,
            6,
            [3, 2, 1],
            3,
            "x-y",
            [1, 2],
            [1, 2],
            2.0
        ]])
    );
    let v =
        esql("FROM eslogs | KEEP tags | MV_EXPAND tags | STATS c = COUNT(*) BY tags | SORT tags")
            .await;
    let d = docs();
    let a = d.iter().filter(|x| x.tags.contains(&"a")).count();
    assert_eq!(v["values"], json!([[a, "a"], [N, "b"]]));
    // A multi-valued field comes back as an array, a single value as itself.
    let v = esql("FROM eslogs | SORT @timestamp | KEEP tags | LIMIT 2").await;
    assert_eq!(v["values"], json!([[["a", "b"]], ["b"]]));
}

// commands/dissect.md and commands/grok.md (their first examples).
#[tokio::test]
async fn dissect_and_grok() {
    let v = esql(
        "ROW a = \"2023-01-23T12:15:00.000Z - some text - 127.0.0.1\" \
         | DISSECT a \"%{date} - %{msg} - %{ip}\" | KEEP date, msg, ip",
    )
    .await;
    assert_eq!(
        v["values"],
        json!([["2023-01-23T12:15:00.000Z", "some text", "127.0.0.1"]])
    );
    let v = esql(
        "ROW a = \"2023-01-23T12:15:00.000Z 127.0.0.1 some.email@foo.com 42\" \
         | GROK a \"\"\"%{TIMESTAMP_ISO8601:date} %{IP:ip} %{EMAILADDRESS:email} %{NUMBER:num:int}\"\"\" \
         | KEEP date, ip, email, num",
    )
    .await;
    assert_eq!(
        columns(&v),
        cols(&[
            ("date", "keyword"),
            ("ip", "keyword"),
            ("email", "keyword"),
            ("num", "integer")
        ])
    );
    assert_eq!(
        v["values"],
        json!([[
            "2023-01-23T12:15:00.000Z",
            "127.0.0.1",
            "some.email@foo.com",
            42
        ]])
    );
    let v = esql("ROW a = \"no match\" | DISSECT a \"%{x}-%{y}\" | KEEP x, y").await;
    assert_eq!(v["values"], json!([[null, null]]));
}

// esql-rest.md "Passing parameters to a query" (positional and named) and "Filtering using
// Elasticsearch Query DSL" (filter ANDed with the query).
#[tokio::test]
async fn params_and_filter() {
    let d = docs();
    let r = esql_body(json!({
        "query": "FROM eslogs | WHERE status == ? AND host != ?h | STATS c = COUNT(*)",
        "params": [404, {"h": "web-a"}]
    }))
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json()["values"][0][0].as_u64().unwrap() as usize,
        d.iter()
            .filter(|x| x.status == 404 && x.host != "web-a")
            .count()
    );
    let r = esql_body(json!({
        "query": "FROM eslogs | STATS c = COUNT(*)",
        "filter": {"bool": {"filter": [{"term": {"host": "web-a"}}, {"range": {"bytes": {"gte": 300}}}]}}
    }))
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json()["values"][0][0].as_u64().unwrap() as usize,
        d.iter()
            .filter(|x| x.host == "web-a" && x.bytes.is_some_and(|b| b >= 300))
            .count()
    );
}

// esql-rest.md: format=txt|csv|tsv, `columnar`, and `drop_null_columns` (with `all_columns`).
#[tokio::test]
async fn formats_columnar_and_null_columns() {
    load().await;
    let q = json!({"query": "ROW a = 1, b = \"x,y\", c = null"});
    let r = json_req("POST", "/_query?format=txt", &q).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(
        r.text,
        "       a       |       b       |       c       \n\
         ---------------+---------------+---------------\n\
         1              |x,y            |null           \n"
    );
    let r = json_req("POST", "/_query?format=csv", &q).await;
    assert_eq!(r.text, "a,b,c\r\n1,\"x,y\",\r\n");
    let r = json_req("POST", "/_query?format=tsv", &q).await;
    assert_eq!(r.text, "a\tb\tc\n1\tx,y\t\n");
    // esql-rest.md formats: yaml and cbor carry the json object; smile and arrow are not
    // produced here (406).
    let r = json_req("POST", "/_query?format=yaml", &q).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.starts_with("---"), "{}", r.text);
    let y = &yaml_rust2::YamlLoader::load_from_str(&r.text).unwrap()[0];
    assert_eq!(y["columns"][1]["name"].as_str(), Some("b"));
    assert_eq!(y["values"][0][0].as_i64(), Some(1));
    assert_eq!(y["values"][0][1].as_str(), Some("x,y"));
    let bytes = client()
        .post(format!("http://{}/_query?format=cbor", daemon().es))
        .json(&q)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let c: Value = ciborium::from_reader(bytes.as_ref()).unwrap();
    assert_eq!(c["values"], json!([[1, "x,y", null]]));
    let r = json_req("POST", "/_query?format=smile", &q).await;
    assert_es_error(&r, 406, "media_type_header_exception");
    let r = json_req("POST", "/_query?format=nope", &q).await;
    assert_es_error(&r, 400, "illegal_argument_exception");

    let r = esql_body(json!({"query": "FROM eslogs | SORT @timestamp | KEEP host, bytes | LIMIT 2", "columnar": true})).await;
    assert_eq!(r.json()["values"], json!([["web-a", "web-b"], [50, 150]]));

    let r = json_req("POST", "/_query?drop_null_columns", &q).await;
    let v = r.json();
    assert_eq!(v["all_columns"].as_array().unwrap().len(), 3);
    assert_eq!(v["all_columns"][2]["type"], "null");
    assert_eq!(columns(&v), cols(&[("a", "integer"), ("b", "keyword")]));
    assert_eq!(v["values"], json!([[1, "x,y"]]));
}

// commands/from.md: METADATA _id, _index; index patterns over several indices (fields missing
// from an index are null there).
#[tokio::test]
async fn metadata_and_index_patterns() {
    let v = esql(
        "FROM eslogs METADATA _id, _index | SORT @timestamp | KEEP _id, _index, host | LIMIT 2",
    )
    .await;
    assert_eq!(
        columns(&v),
        cols(&[
            ("_id", "keyword"),
            ("_index", "keyword"),
            ("host", "keyword")
        ])
    );
    assert_eq!(
        v["values"],
        json!([["0", "eslogs", "web-a"], ["1", "eslogs", "web-b"]])
    );
    let v = esql("FROM eslogs* METADATA _index | STATS c = COUNT(*), r = COUNT(region) BY _index | SORT _index").await;
    assert_eq!(v["values"], json!([[N, 0, "eslogs"], [2, 2, "eslogs2"]]));
    let v = esql("FROM eslogs, eslogs2 | WHERE region == \"eu\" | KEEP host, bytes, region").await;
    assert_eq!(v["values"], json!([["web-z", 7, "eu"]]));
}

// esql-limitations.md: LIMIT is capped at 10000; SHOW INFO (commands/show.md).
#[tokio::test]
async fn limits_and_show_info() {
    let v = esql("ROW a = 1 | LIMIT 100000").await;
    assert_eq!(v["values"], json!([[1]]));
    let v = esql("SHOW INFO").await;
    assert_eq!(
        columns(&v),
        cols(&[
            ("version", "keyword"),
            ("date", "keyword"),
            ("hash", "keyword")
        ])
    );
}

// Errors: parsing_exception / verification_exception with `line L:C:` (esql/parser/
// ParsingException.java, esql/common/Failure.java: "Found 1 problem\nline L:C: …").
#[tokio::test]
async fn errors_with_positions() {
    assert_eq!(
        esql_error("FROM eslogs | KEEP hots", "verification_exception").await,
        "Found 1 problem\nline 1:20: Unknown column [hots], did you mean [host]?"
    );
    assert_eq!(
        esql_error("FROM eslogs\n| WHERE nope > 1", "verification_exception").await,
        "Found 1 problem\nline 2:9: Unknown column [nope]"
    );
    assert_eq!(
        esql_error("FROM missing_idx", "verification_exception").await,
        "Found 1 problem\nline 1:6: Unknown index [missing_idx]"
    );
    assert!(
        esql_error("FROM eslogs | WHER x", "parsing_exception")
            .await
            .starts_with("line 1:15: mismatched input 'WHER'")
    );
    assert_eq!(
        esql_error("ROW a = FOO(1)", "verification_exception").await,
        "Found 1 problem\nline 1:9: Unknown function [FOO]"
    );
    assert_eq!(
        esql_error("FROM eslogs | EVAL x = host + 1", "verification_exception").await,
        "Found 1 problem\nline 1:24: [+] has arguments with incompatible types [keyword] and [integer]"
    );
    assert_eq!(
        esql_error("FROM eslogs | EVAL c = COUNT(*)", "verification_exception").await,
        "Found 1 problem\nline 1:24: aggregate function [COUNT(*)] not allowed outside STATS command"
    );
    assert_eq!(
        esql_error("FROM eslogs | EVAL a = ABS(host)", "verification_exception").await,
        "Found 1 problem\nline 1:28: first argument of [ABS(host)] must be [numeric], found value [host] type [keyword]"
    );
    assert!(
        esql_error("FROM eslogs | STATS x = host", "verification_exception")
            .await
            .contains("must appear in the STATS BY clause")
    );
    let r = esql_body(json!({"query": ""})).await;
    assert_es_error(&r, 400, "action_request_validation_exception");
    let r = esql_body(json!({"query": "ROW a = 1", "nope": 1})).await;
    assert_es_error(&r, 400, "x_content_parse_exception");
    let r = esql_body(json!({"query": "FROM eslogs | ENRICH no_such_policy"})).await;
    let e = assert_es_error(&r, 400, "verification_exception");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .contains("cannot find enrich policy [no_such_policy]")
    );
}

// Commands after STATS and after LIMIT see the previous command's result (commands/stats-by.md,
// commands/limit.md); EVAL of an existing name replaces the column (commands/eval.md).
#[tokio::test]
async fn commands_see_previous_results() {
    let d = docs();
    let v = esql("FROM eslogs | STATS avg = AVG(bytes) BY host | WHERE avg > 500 | SORT avg DESC")
        .await;
    let mut want: Vec<(f64, &str)> = HOSTS
        .iter()
        .map(|h| {
            let b: Vec<i64> = d
                .iter()
                .filter(|x| x.host == *h)
                .filter_map(|x| x.bytes)
                .collect();
            (b.iter().sum::<i64>() as f64 / b.len() as f64, *h)
        })
        .filter(|(a, _)| *a > 500.0)
        .collect();
    want.sort_by(|a, b| b.0.total_cmp(&a.0));
    assert_eq!(
        v["values"],
        json!(want.iter().map(|(a, h)| json!([a, h])).collect::<Vec<_>>())
    );
    let v = esql("FROM eslogs | SORT bytes | LIMIT 3 | SORT bytes DESC | KEEP bytes").await;
    assert_eq!(v["values"], json!([[250], [150], [50]]));
    let v = esql("FROM eslogs | EVAL x = bytes | EVAL x = x * 2 | KEEP x | SORT x | LIMIT 1").await;
    assert_eq!(v["values"], json!([[100]]));
    let v = esql("FROM eslogs | STATS BY host | SORT host").await;
    assert_eq!(v["values"], json!([["web-a"], ["web-b"], ["web-c"]]));
    let v = esql("ROW a = 1 | WHERE a > 5").await;
    assert_eq!(v["values"], json!([]));
    let v = esql("FROM eslogs | STATS x = AVG(bytes) * 2, r = ROUND(AVG(price), 1), t = TOP(bytes, 2, \"desc\"), sd = STD_DEV(status)").await;
    let b: Vec<i64> = d.iter().filter_map(|x| x.bytes).collect();
    let avg = b.iter().sum::<i64>() as f64 / b.len() as f64;
    let pavg = d.iter().map(|x| x.price).sum::<f64>() / N as f64;
    let smean = d.iter().map(|x| x.status as f64).sum::<f64>() / N as f64;
    let sd = (d
        .iter()
        .map(|x| (x.status as f64 - smean).powi(2))
        .sum::<f64>()
        / N as f64)
        .sqrt();
    let got = &v["values"][0];
    assert_eq!(got[0], json!(avg * 2.0));
    assert_eq!(got[1], json!((pavg * 10.0).round() / 10.0));
    assert_eq!(got[2], json!([1150, 1050]));
    assert!((got[3].as_f64().unwrap() - sd).abs() < 1e-9, "{got}");
    // A multi-valued field in a comparison is null (no match) — single-valued rows only.
    let v = esql("FROM eslogs | WHERE tags == \"b\" | STATS c = COUNT(*)").await;
    assert_eq!(
        v["values"],
        json!([[d.iter().filter(|x| x.tags == ["b"]).count()]])
    );
    let v = esql("FROM eslogs | WHERE message == \"GET /page/3 HTTP/1.1 took 21 ms\" | KEEP host")
        .await;
    assert_eq!(v["values"], json!([["web-a"]]));
    let v = esql(
        "FROM eslogs | SORT @timestamp | LIMIT 1 | EVAL m = DATE_TRUNC(1 month, @timestamp), s = TO_STRING(ip), \
         p = DATE_PARSE(\"yyyy-MM-dd\", \"2024-02-03\") | KEEP m, s, p",
    )
    .await;
    assert_eq!(
        v["values"],
        json!([[iso(T0), "10.0.0.0", "2024-02-03T00:00:00.000Z"]])
    );
}

// esql-async-query-api.md: a query that completes within wait_for_completion_timeout and is not
// kept answers `is_running: false` with the results and no id; unknown ids are a 404.
#[tokio::test]
async fn async_query_api() {
    load().await;
    let r = json_req(
        "POST",
        "/_query/async",
        &json!({"query": "ROW a = 1", "wait_for_completion_timeout": "2s", "keep_on_completion": false}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["is_running"], false);
    assert!(v.get("id").is_none());
    assert_eq!(v["values"], json!([[1]]));
    // Kept: the id answers GET (the same query as of the same `now`) and DELETE.
    let r = json_req(
        "POST",
        "/_query/async",
        &json!({"query": "FROM eslogs | STATS c = COUNT(*), t = MAX(NOW())", "keep_on_completion": true}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let first = r.json();
    let id = first["id"].as_str().unwrap().to_string();
    assert_eq!(first["is_running"], false);
    let again = get(&format!("/_query/async/{id}")).await.json();
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["values"], first["values"]);
    let r = req("DELETE", &format!("/_query/async/{id}"), None).await;
    assert_eq!(r.json(), json!({"acknowledged": true}));
    let r =
        get("/_query/async/FmNJRUZ1YWZCU3dHY1BIOUhaenVSRkEaaXFlZ3h4c1RTWFNocDdnY2FSaERnUTozNDE=")
            .await;
    assert_es_error(&r, 404, "resource_not_found_exception");
}

// ---------------------------------------------------------------------------------------------
// Elasticsearch SQL (`POST /_sql`), translated through the same planner: sql-rest-overview.md
// (columns + rows), sql-functions-aggs.md, sql-syntax-select.md (GROUP BY, HAVING, DISTINCT,
// ORDER BY ordinals), sql-syntax-show-tables.md, sql-syntax-describe-table.md.

async fn sql(body: Value) -> Value {
    load().await;
    let r = json_req("POST", "/_sql", &body).await;
    assert_eq!(r.status, 200, "{body}: {}", r.text);
    r.json()
}

#[tokio::test]
async fn sql_select_group_by_having() {
    let d = docs();
    let v = sql(json!({"query": "SELECT host, COUNT(*) AS c, AVG(bytes) AS a FROM eslogs GROUP BY host ORDER BY host"})).await;
    assert_eq!(
        columns(&v),
        cols(&[("host", "keyword"), ("c", "long"), ("a", "double")])
    );
    let want: Vec<Value> = HOSTS
        .iter()
        .map(|h| {
            let g: Vec<&Doc> = d.iter().filter(|x| x.host == *h).collect();
            let b: Vec<i64> = g.iter().filter_map(|x| x.bytes).collect();
            json!([h, g.len(), b.iter().sum::<i64>() as f64 / b.len() as f64])
        })
        .collect();
    assert_eq!(v["rows"], json!(want));
    let v = sql(json!({"query": "SELECT host, SUM(bytes) AS total FROM eslogs GROUP BY host HAVING SUM(bytes) > 2000 ORDER BY 2 DESC"})).await;
    let mut want: Vec<(i64, &str)> = HOSTS
        .iter()
        .map(|h| {
            (
                d.iter()
                    .filter(|x| x.host == *h)
                    .filter_map(|x| x.bytes)
                    .sum::<i64>(),
                *h,
            )
        })
        .filter(|(t, _)| *t > 2000)
        .collect();
    want.sort_by_key(|w| std::cmp::Reverse(w.0));
    assert_eq!(
        v["rows"],
        json!(want.iter().map(|(t, h)| json!([h, t])).collect::<Vec<_>>())
    );
    let v = sql(json!({"query": "SELECT DISTINCT status FROM eslogs ORDER BY status DESC"})).await;
    assert_eq!(v["rows"], json!([[500], [404], [200]]));
    let v = sql(json!({"query": "SELECT HISTOGRAM(bytes, 500) AS h, COUNT(*) AS c FROM eslogs WHERE bytes IS NOT NULL GROUP BY h ORDER BY h"})).await;
    let mut hist = std::collections::BTreeMap::<i64, usize>::new();
    for b in d.iter().filter_map(|x| x.bytes) {
        *hist.entry(b / 500 * 500).or_default() += 1;
    }
    let want: Vec<Value> = hist
        .into_iter()
        .map(|(k, c)| json!([k as f64, c]))
        .collect();
    assert_eq!(v["rows"], json!(want));
}

#[tokio::test]
async fn sql_select_where_order_limit_and_functions() {
    let d = docs();
    let v = sql(json!({"query": "SELECT host AS h, bytes, bytes * 2 AS twice FROM eslogs WHERE status = 404 AND bytes BETWEEN 0 AND 10000 ORDER BY bytes DESC LIMIT 2"})).await;
    assert_eq!(
        columns(&v),
        cols(&[("h", "keyword"), ("bytes", "long"), ("twice", "long")])
    );
    let mut want: Vec<&Doc> = d.iter().filter(|x| x.status == 404).collect();
    want.sort_by_key(|x| std::cmp::Reverse(x.bytes));
    assert_eq!(
        v["rows"],
        json!(
            want[..2]
                .iter()
                .map(|x| json!([x.host, x.bytes, x.bytes.map(|b| b * 2)]))
                .collect::<Vec<_>>()
        )
    );
    let v = sql(json!({"query": "SELECT COUNT(*) AS c FROM eslogs WHERE message.keyword LIKE 'GET /page/1%' AND host IN ('web-a', 'web-b')"})).await;
    assert_eq!(
        v["rows"][0][0].as_u64().unwrap() as usize,
        d.iter()
            .filter(|x| x.message.starts_with("GET /page/1") && x.host != "web-c")
            .count()
    );
    let v = sql(json!({
        "query": "SELECT COUNT(*) AS c FROM eslogs WHERE status = ? AND \"@timestamp\" >= CAST('2024-05-01T06:00:00Z' AS DATETIME)",
        "params": [{"type": "integer", "value": 404}]
    }))
    .await;
    assert_eq!(
        v["rows"][0][0].as_u64().unwrap() as usize,
        d.iter()
            .filter(|x| x.status == 404 && x.ts >= T0 + 6 * HOUR)
            .count()
    );
    let v = sql(json!({"query": "SELECT UCASE('abc') AS u, ROUND(2.5) AS r, YEAR(CAST('2024-05-01T00:00:00Z' AS DATETIME)) AS y, \
        CASE WHEN 1 > 0 THEN 'yes' ELSE 'no' END AS c, IFNULL(NULL, 3) AS n, MOD(7, 3) AS m, LOCATE('b', 'abc') AS l, REPLACE('a.b', '.', '-') AS rp"})).await;
    assert_eq!(
        v["rows"],
        json!([["ABC", 3.0, 2024, "yes", 3, 1, 2, "a-b"]])
    );
    assert_eq!(columns(&v)[2].1, "long");
    let v =
        sql(json!({"query": "SELECT \"@timestamp\" AS t FROM eslogs ORDER BY t LIMIT 1"})).await;
    assert_eq!(columns(&v), cols(&[("t", "datetime")]));
    assert_eq!(v["rows"], json!([[iso(T0)]]));
}

#[tokio::test]
async fn sql_show_describe_formats_and_errors() {
    let v = sql(json!({"query": "SHOW TABLES LIKE 'eslogs%'"})).await;
    // Indices (aliases are VIEWs; another test adds one).
    let names: Vec<&str> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r[2] == "TABLE")
        .map(|r| r[1].as_str().unwrap())
        .collect();
    assert_eq!(names, ["eslogs", "eslogs2"]);
    assert_eq!(v["rows"][0][2], "TABLE");
    let v = sql(json!({"query": "DESCRIBE eslogs"})).await;
    let rows = v["rows"].as_array().unwrap();
    assert!(rows.contains(&json!(["bytes", "BIGINT", "long"])), "{v}");
    assert!(
        rows.contains(&json!(["@timestamp", "TIMESTAMP", "datetime"])),
        "{v}"
    );
    let r = json_req(
        "POST",
        "/_sql?format=txt",
        &json!({"query": "SELECT 1 AS a"}),
    )
    .await;
    assert_eq!(
        r.text,
        "       a       \n---------------\n1              \n"
    );
    let r = json_req(
        "POST",
        "/_sql?format=csv",
        &json!({"query": "SELECT 'x' AS a, 2 AS b"}),
    )
    .await;
    assert_eq!(r.text, "a,b\r\nx,2\r\n");
    let v =
        sql(json!({"query": "SELECT host FROM eslogs ORDER BY host LIMIT 2", "columnar": true}))
            .await;
    assert_eq!(v["values"], json!([["web-a", "web-a"]]));

    let r = json_req(
        "POST",
        "/_sql",
        &json!({"query": "SELECT nope FROM eslogs"}),
    )
    .await;
    let e = assert_es_error(&r, 400, "verification_exception");
    assert_eq!(
        e["reason"],
        "Found 1 problem\nline 1:8: Unknown column [nope]"
    );
    let r = json_req("POST", "/_sql", &json!({"query": "SELECT FROM WHERE"})).await;
    let e = assert_es_error(&r, 400, "parsing_exception");
    assert!(e["reason"].as_str().unwrap().starts_with("line 1:"), "{e}");
    let r = json_req(
        "POST",
        "/_sql",
        &json!({"query": "SELECT tags FROM eslogs"}),
    )
    .await;
    let e = assert_es_error(&r, 400, "ql_illegal_argument_exception");
    assert_eq!(e["reason"], "Arrays (returned by [tags]) are not supported");
    let v = sql(json!({"query": "SELECT tags FROM eslogs ORDER BY \"@timestamp\" LIMIT 1", "field_multi_value_leniency": true})).await;
    assert_eq!(v["rows"], json!([["a"]]));
    let r = json_req(
        "POST",
        "/_sql",
        &json!({"query": "SELECT a.x FROM eslogs a JOIN eslogs2 b ON a.host = b.host"}),
    )
    .await;
    assert_es_error(&r, 400, "illegal_argument_exception");
    let r = json_req("POST", "/_sql/close", &json!({"cursor": "abc"})).await;
    assert_es_error(&r, 400, "illegal_argument_exception");
}

// storage.md "Tables elastichouse did not create": ES|QL reads them too (DateTime and IPv4 columns
// as date and ip; `_id` a hash of the row).
#[tokio::test]
async fn existing_clickhouse_table() {
    load().await;
    clickhouse_sql(
        "CREATE TABLE IF NOT EXISTS esql_ext (ts DateTime, host String, bytes Int64, ip IPv4) \
         ENGINE = MergeTree ORDER BY ts",
    )
    .await;
    clickhouse_sql("TRUNCATE TABLE esql_ext").await;
    clickhouse_sql(
        "INSERT INTO esql_ext VALUES ('2024-01-01 00:00:00','a',100,'10.0.0.1'), ('2024-01-02 00:00:00','b',7,'192.168.0.1')",
    )
    .await;
    let v = esql(
        "FROM esql_ext METADATA _id | WHERE CIDR_MATCH(ip, \"10.0.0.0/8\") | EVAL d = DATE_TRUNC(1 day, ts) \
         | KEEP ts, d, ip, bytes, _id",
    )
    .await;
    assert_eq!(
        columns(&v),
        cols(&[
            ("ts", "date"),
            ("d", "date"),
            ("ip", "ip"),
            ("bytes", "long"),
            ("_id", "keyword")
        ])
    );
    let row = &v["values"][0];
    assert_eq!(row[0], "2024-01-01T00:00:00.000Z");
    assert_eq!(row[2], "10.0.0.1");
    assert_eq!(row[3], 100);
    assert!(row[4].as_str().is_some_and(|s| s.len() == 32), "{row}");
}

// indices-aliases.md: a filtered alias filters what FROM reads through it.
#[tokio::test]
async fn filtered_alias() {
    load().await;
    let r = json_req(
        "POST",
        "/_aliases",
        &json!({"actions": [{"add": {"index": "eslogs", "alias": "eslogs_errors", "filter": {"range": {"status": {"gte": 500}}}}}]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = esql("FROM eslogs_errors | STATS c = COUNT(*)").await;
    assert_eq!(
        v["values"],
        json!([[docs().iter().filter(|d| d.status >= 500).count()]])
    );
    // Reached directly too: unfiltered.
    let v = esql("FROM eslogs_errors, eslogs | STATS c = COUNT(*)").await;
    assert_eq!(v["values"], json!([[N]]));
}

// commands/stats-by.md "Filtering aggregates": `agg WHERE condition` per aggregate.
#[tokio::test]
async fn stats_with_filtered_aggregates() {
    let d = docs();
    let v = esql(
        "FROM eslogs | STATS errors = COUNT(*) WHERE status >= 500, big = SUM(bytes) WHERE bytes > 500, n = COUNT(*) BY host | SORT host",
    )
    .await;
    let want: Vec<Value> = HOSTS
        .iter()
        .map(|h| {
            let g: Vec<&Doc> = d.iter().filter(|x| x.host == *h).collect();
            let big: Vec<i64> = g
                .iter()
                .filter_map(|x| x.bytes)
                .filter(|b| *b > 500)
                .collect();
            json!([
                g.iter().filter(|x| x.status >= 500).count(),
                if big.is_empty() {
                    Value::Null
                } else {
                    json!(big.iter().sum::<i64>())
                },
                g.len(),
                h
            ])
        })
        .collect();
    assert_eq!(v["values"], json!(want));
}

// Field names are data: a name with quotes, backticks and backslashes is one backquoted ES|QL
// identifier (`` doubled) and one escaped ClickHouse identifier.
#[tokio::test]
async fn hostile_field_names() {
    load().await;
    let name = "we`ird'name\\x";
    let mapping =
        json!({"mappings": {"properties": {name: {"type": "keyword"}, "n": {"type": "long"}}}});
    load_docs(
        "esql_hostile",
        Some(&mapping),
        &[json!({name: "v1", "n": 1}), json!({name: "v2", "n": 2})],
    )
    .await;
    let v =
        esql("FROM esql_hostile | WHERE `we``ird'name\\x` == \"v2\" | KEEP `we``ird'name\\x`, n")
            .await;
    assert_eq!(columns(&v), cols(&[(name, "keyword"), ("n", "long")]));
    assert_eq!(v["values"], json!([["v2", 2]]));
}

// functions-operators/search-functions.md: MATCH, the `:` operator and QSTR in the WHERE after FROM
// run as the query DSL's match / query_string (analyzed tokens, not substrings).
#[tokio::test]
async fn full_text_functions() {
    let d = docs();
    let count = |v: &Value| v["values"][0][0].as_u64().unwrap() as usize;
    let v =
        esql("FROM eslogs | WHERE MATCH(message, \"21\") AND status == 500 | STATS c = COUNT(*)")
            .await;
    // "took 21 ms" is document 3; the token "21" does not match inside "210".
    assert_eq!(count(&v), 1);
    assert_eq!(
        d.iter()
            .filter(|x| x.message.contains(" 21 ") && x.status == 500)
            .count(),
        1
    );
    let v = esql("FROM eslogs | WHERE message : \"21\" | STATS c = COUNT(*)").await;
    assert_eq!(count(&v), 1);
    let v =
        esql("FROM eslogs | WHERE QSTR(\"message:21 OR host:web-b\") | STATS c = COUNT(*)").await;
    assert_eq!(
        count(&v),
        d.iter()
            .filter(|x| x.message.contains(" 21 ") || x.host == "web-b")
            .count()
    );
    let r =
        esql_body(json!({"query": "FROM eslogs | LIMIT 5 | WHERE MATCH(message, \"x\")"})).await;
    assert_es_error(&r, 400, "illegal_argument_exception");
}

// commands/lookup-join.md: LEFT JOIN with an index in `lookup` mode on a key field; its other
// fields are added (null where nothing matches); an index not in lookup mode is refused.
#[tokio::test]
async fn lookup_join() {
    load().await;
    let mapping = json!({
        "settings": {"index": {"mode": "lookup"}},
        "mappings": {"properties": {"host": {"type": "keyword"}, "region": {"type": "keyword"}, "owner": {"type": "keyword"}}}
    });
    load_docs(
        "eslookup",
        Some(&mapping),
        &[
            json!({"host": "web-a", "region": "eu", "owner": "alice"}),
            json!({"host": "web-b", "region": "us", "owner": "bob"}),
        ],
    )
    .await;
    let v = esql("FROM eslogs | SORT @timestamp | LIMIT 3 | LOOKUP JOIN eslookup ON host | KEEP host, region, owner").await;
    assert_eq!(
        columns(&v),
        cols(&[
            ("host", "keyword"),
            ("region", "keyword"),
            ("owner", "keyword")
        ])
    );
    assert_eq!(
        v["values"],
        json!([
            ["web-a", "eu", "alice"],
            ["web-b", "us", "bob"],
            ["web-c", null, null]
        ])
    );
    let v = esql(
        "FROM eslogs | LOOKUP JOIN eslookup ON host | STATS c = COUNT(*) BY region | SORT region",
    )
    .await;
    let per = |h: &str| docs().iter().filter(|d| d.host == h).count();
    assert_eq!(
        v["values"],
        json!([
            [per("web-a"), "eu"],
            [per("web-b"), "us"],
            [per("web-c"), null]
        ])
    );
    let e = esql_error(
        "FROM eslogs | LOOKUP JOIN eslogs2 ON host",
        "verification_exception",
    )
    .await;
    assert_eq!(
        e,
        "Found 1 problem\nline 1:27: invalid [eslogs2] resolution in lookup mode to an index in [standard] mode"
    );
}

// Bounded parsing (DESIGN.md "Bounded recursion in every parser"): long operator chains are
// fine, deeper nesting is a parsing_exception, never a crash.
#[tokio::test]
async fn long_chains_and_deep_nesting() {
    let q = format!(
        "FROM eslogs | WHERE bytes == -1{} | STATS c = COUNT(*)",
        (0..250)
            .map(|i| format!(" OR bytes == {}", i * 100 + 50))
            .collect::<String>()
    );
    let v = esql(&q).await;
    assert_eq!(v["values"], json!([[N - 1]]));
    let deep = format!("ROW a = {}1{}", "(".repeat(40), ")".repeat(40));
    assert!(
        esql_error(&deep, "parsing_exception")
            .await
            .contains("maximum expression depth")
    );
    let long = format!("ROW a = 1{}", " + 1".repeat(300));
    assert!(
        esql_error(&long, "parsing_exception")
            .await
            .contains("maximum expression depth")
    );
}

// Elasticsearch SQL: a very long operator chain is a parsing_exception, not a crash.
#[tokio::test]
async fn sql_long_chains() {
    let q = format!(
        "SELECT COUNT(*) AS c FROM eslogs WHERE bytes = -1{}",
        " OR bytes = 50".repeat(100)
    );
    let v = sql(json!({ "query": q })).await;
    assert_eq!(v["rows"], json!([[1]]));
    let q = format!(
        "SELECT COUNT(*) AS c FROM eslogs WHERE bytes = -1{}",
        " OR bytes = 50".repeat(3_000)
    );
    let r = json_req("POST", "/_sql", &json!({ "query": q })).await;
    assert_es_error(&r, 400, "parsing_exception");
}

// sql-rest.md "Paginating through a large response": `fetch_size` rows a page, a `cursor` until
// the last page (which has none), `columns` on the first page only; the cursor in the `Cursor`
// header for txt; POST /_sql/close. Cursors are self-contained here: a cursor works on any
// daemon, every page is a query of its own.
#[tokio::test]
async fn sql_cursor_paging() {
    let mut want: Vec<(String, i64)> = docs().iter().map(|d| (d.host.to_string(), d.ts)).collect();
    want.sort();
    let first = sql(json!({"query": "SELECT host, \"@timestamp\" FROM eslogs ORDER BY host, \"@timestamp\"", "fetch_size": 5})).await;
    assert_eq!(first["columns"][0]["name"], "host");
    let mut got: Vec<Value> = first["rows"].as_array().unwrap().clone();
    let mut cursor = first["cursor"].as_str().unwrap().to_string();
    let mut pages = 1;
    loop {
        let v = sql(json!({ "cursor": cursor })).await;
        assert!(v.get("columns").is_none(), "{v}");
        got.extend(v["rows"].as_array().unwrap().iter().cloned());
        pages += 1;
        match v["cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(pages, N.div_ceil(5));
    let got: Vec<(String, String)> = got
        .iter()
        .map(|r| (r[0].as_str().unwrap().into(), r[1].as_str().unwrap().into()))
        .collect();
    let want: Vec<(String, String)> = want.into_iter().map(|(h, t)| (h, iso(t))).collect();
    assert_eq!(got, want);
    // No ORDER BY: the pages still cover every row once (the order is made total).
    let mut seen = Vec::new();
    let mut body = json!({"query": "SELECT host, bytes FROM eslogs", "fetch_size": 4});
    loop {
        let v = sql(body).await;
        seen.extend(v["rows"].as_array().unwrap().iter().cloned());
        match v["cursor"].as_str() {
            Some(c) => body = json!({ "cursor": c, "columnar": false }),
            None => break,
        }
    }
    assert_eq!(seen.len(), N);
    // LIMIT bounds all pages together; a grouped query pages its groups.
    let v = sql(json!({"query": "SELECT host FROM eslogs ORDER BY host LIMIT 3", "fetch_size": 2}))
        .await;
    let v2 = sql(json!({"cursor": v["cursor"]})).await;
    assert_eq!(v2["rows"], json!([["web-a"]]));
    assert!(v2.get("cursor").is_none());
    let v = sql(json!({"query": "SELECT host, COUNT(*) c FROM eslogs GROUP BY host ORDER BY host", "fetch_size": 2, "columnar": true})).await;
    assert_eq!(v["values"], json!([["web-a", "web-b"], [4, 4]]));
    let v2 = sql(json!({"cursor": v["cursor"], "columnar": true})).await;
    assert_eq!(v2["values"], json!([["web-c"], [4]]));
    // txt: the cursor travels in a header; later pages have no header line.
    let r = json_req(
        "POST",
        "/_sql?format=txt",
        &json!({"query": "SELECT host FROM eslogs ORDER BY host", "fetch_size": 10}),
    )
    .await;
    let c = r.headers["cursor"].to_str().unwrap().to_string();
    assert_eq!(r.text.lines().count(), 12);
    let r = json_req("POST", "/_sql?format=txt", &json!({ "cursor": c })).await;
    assert_eq!(r.text, "web-c          \nweb-c          \n");
    let r = json_req("POST", "/_sql/close", &json!({ "cursor": c })).await;
    assert_eq!(r.json(), json!({"succeeded": true}));
}

// sql-async.md: `wait_for_completion_timeout` / `keep_on_completion` make an SQL search async;
// GET /_sql/async/{id}, /_sql/async/status/{id} and DELETE /_sql/async/delete/{id}. Searches here
// finish before answering, so the answer is complete (is_running false) and the id holds the
// request itself.
#[tokio::test]
async fn sql_async() {
    let v = sql(json!({"query": "SELECT COUNT(*) c FROM eslogs", "wait_for_completion_timeout": "2s", "keep_on_completion": true})).await;
    assert_eq!(v["is_running"], json!(false));
    assert_eq!(v["is_partial"], json!(false));
    assert_eq!(v["rows"], json!([[N]]));
    let id = v["id"].as_str().unwrap().to_string();
    let r = get(&format!("/_sql/async/{id}?format=json")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["rows"], json!([[N]]));
    assert_eq!(r.json()["id"], json!(id));
    let r = get(&format!("/_sql/async/status/{id}")).await;
    assert_eq!(r.json()["completion_status"], json!(200));
    let r = req("DELETE", &format!("/_sql/async/delete/{id}"), None).await;
    assert_eq!(r.json(), json!({"acknowledged": true}));
    let r = get("/_sql/async/nope").await;
    assert_es_error(&r, 404, "resource_not_found_exception");
    // Text formats: Async-ID / Async-partial / Async-running headers.
    let r = json_req(
        "POST",
        "/_sql?format=csv",
        &json!({"query": "SELECT COUNT(*) c FROM eslogs", "keep_on_completion": true}),
    )
    .await;
    assert!(r.headers.get("async-id").is_some());
    assert_eq!(r.headers["async-running"], "false");
}

// sql-rest.md `time_zone`, functions/date-time.md: date parts, DATE_TRUNC and HISTOGRAM in the
// request's zone, datetimes shown with its offset; DAY_OF_WEEK (Sunday = 1), ISO_DAY_OF_WEEK,
// DAY_NAME, MONTH_NAME; SHOW FUNCTIONS [LIKE].
#[tokio::test]
async fn sql_time_zone_and_date_names() {
    // Doc 0 is 2024-05-01T00:00:00Z, a Wednesday: in Europe/Paris (UTC+2 in May) 02:00.
    let v = sql(json!({"query": "SELECT \"@timestamp\" t, HOUR(\"@timestamp\") h, DAY_OF_WEEK(\"@timestamp\") dow, \
        ISO_DAY_OF_WEEK(\"@timestamp\") idow, DAY_NAME(\"@timestamp\") dn, MONTH_NAME(\"@timestamp\") mn, \
        DATE_TRUNC('day', \"@timestamp\") d FROM eslogs ORDER BY \"@timestamp\" LIMIT 1", "time_zone": "Europe/Paris"})).await;
    assert_eq!(
        v["rows"],
        json!([[
            "2024-05-01T02:00:00.000+02:00",
            2,
            4,
            3,
            "Wednesday",
            "May",
            "2024-05-01T00:00:00.000+02:00"
        ]])
    );
    let v = sql(json!({"query": "SELECT HOUR(\"@timestamp\") h FROM eslogs ORDER BY \"@timestamp\" LIMIT 1", "time_zone": "-05:00"})).await;
    assert_eq!(v["rows"], json!([[19]]));
    // Per UTC day, docs every 3 hours from midnight: 8 a day; in UTC+2 the first day has 7 (from 02:00 local... 22:00 is the next day).
    let per_day = |tz: i64| {
        let mut m = std::collections::BTreeMap::new();
        for d in docs() {
            *m.entry((d.ts + tz * HOUR).div_euclid(24 * HOUR))
                .or_insert(0i64) += 1;
        }
        m.into_values().collect::<Vec<_>>()
    };
    let v = sql(json!({"query": "SELECT COUNT(*) c FROM eslogs GROUP BY HISTOGRAM(\"@timestamp\", INTERVAL 1 DAY) ORDER BY 1", "time_zone": "+02:00"})).await;
    let mut got: Vec<i64> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_i64().unwrap())
        .collect();
    let mut want = per_day(2);
    got.sort();
    want.sort();
    assert_eq!(got, want);
    let r = json_req(
        "POST",
        "/_sql",
        &json!({"query": "SELECT 1", "time_zone": "Mars/Olympus"}),
    )
    .await;
    assert_es_error(&r, 400, "x_content_parse_exception");
    let v = sql(json!({"query": "SHOW FUNCTIONS LIKE 'DAY%'"})).await;
    assert_eq!(
        v["columns"],
        json!([{"name": "name", "type": "keyword"}, {"name": "type", "type": "keyword"}])
    );
    assert!(
        v["rows"]
            .as_array()
            .unwrap()
            .contains(&json!(["DAY_NAME", "SCALAR"]))
    );
    let v = sql(json!({"query": "SHOW FUNCTIONS"})).await;
    assert_eq!(v["rows"][0], json!(["AVG", "AGGREGATE"]));
}

// functions/search.md: MATCH(field, text[, options]), MATCH('f1,f2', text) and QUERY(text) in
// WHERE run as the query DSL's match, multi_match and query_string (analyzed like `_search`).
#[tokio::test]
async fn sql_full_text_predicates() {
    let want = docs()
        .iter()
        .filter(|d| d.message.contains("/page/3 "))
        .count();
    let v = sql(json!({"query": "SELECT COUNT(*) FROM eslogs WHERE MATCH(message, '3')"})).await;
    assert_eq!(v["rows"], json!([[want]]));
    let both = docs()
        .iter()
        .filter(|d| d.message.contains("/page/3 ") && d.message.contains(" 21 "))
        .count();
    let v = sql(json!({"query": "SELECT COUNT(*) FROM eslogs WHERE MATCH(message, '3 21', 'operator=and')"})).await;
    assert_eq!(v["rows"], json!([[both]]));
    let v = sql(json!({"query": "SELECT COUNT(*) FROM eslogs WHERE QUERY('message:3 OR message:4') AND status = 200"})).await;
    let n = docs()
        .iter()
        .filter(|d| {
            (d.message.contains("/page/3 ") || d.message.contains("/page/4 ")) && d.status == 200
        })
        .count();
    assert_eq!(v["rows"], json!([[n]]));
    let v =
        sql(json!({"query": "SELECT COUNT(*) FROM eslogs WHERE MATCH('message,host', 'web-a')"}))
            .await;
    assert_eq!(v["rows"], json!([[4]]));
    let r = json_req(
        "POST",
        "/_sql",
        &json!({"query": "SELECT COUNT(*) FROM eslogs WHERE MATCH(message, '3', 'nonsense')"}),
    )
    .await;
    assert_es_error(&r, 400, "verification_exception");
}

// sql-translate-api.md: the query DSL of a SELECT (fields, sort, size; bool/term/range; composite
// aggregation for GROUP BY), and a 400 where Elasticsearch would use a script.
#[tokio::test]
async fn sql_translate() {
    load().await;
    let r = json_req("POST", "/_sql/translate", &json!({"query": "SELECT host, bytes FROM eslogs WHERE status >= 500 ORDER BY bytes DESC", "fetch_size": 10})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({
            "size": 10,
            "query": {"range": {"status": {"gte": 500, "boost": 1.0}}},
            "_source": false,
            "fields": [{"field": "host"}, {"field": "bytes"}],
            "sort": [{"bytes": {"order": "desc", "missing": "_first", "unmapped_type": "long"}}],
            "track_total_hits": -1
        })
    );
    let r = json_req("POST", "/_sql/translate", &json!({"query": "SELECT host, MAX(bytes) FROM eslogs WHERE host IN ('web-a', 'web-b') GROUP BY host"})).await;
    let v = r.json();
    assert_eq!(
        v["query"],
        json!({"terms": {"host": ["web-a", "web-b"], "boost": 1.0}})
    );
    assert_eq!(
        v["aggregations"]["groupby"]["composite"]["sources"][0]["host"]["terms"]["field"],
        "host"
    );
    assert_eq!(
        v["aggregations"]["groupby"]["aggregations"]["a0"],
        json!({"max": {"field": "bytes"}})
    );
    // The translated search runs on `_search` and finds what the SQL query finds.
    let mut search = v.clone();
    search.as_object_mut().unwrap().remove("track_total_hits");
    let r = json_req("POST", "/eslogs/_search", &search).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json()["aggregations"]["groupby"]["buckets"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let r = json_req(
        "POST",
        "/_sql/translate",
        &json!({"query": "SELECT bytes * 2 FROM eslogs"}),
    )
    .await;
    assert_es_error(&r, 400, "illegal_argument_exception");
    let r = json_req(
        "POST",
        "/_sql/translate",
        &json!({"query": "SELECT x FROM nope"}),
    )
    .await;
    assert_es_error(&r, 400, "verification_exception");
}

// commands/enrich.md, put-enrich-policy-api.md, execute-enrich-policy-api.md: a `match` policy
// over a source index; ENRICH adds its enrich fields (all, or WITH [new =] field) at the end, null
// where nothing matches; several source documents with one key merge into multi-values; an
// unknown policy is `cannot find enrich policy [x], did you mean [y]?`.
#[tokio::test]
async fn enrich_policies() {
    load().await;
    let m = json!({"mappings": {"properties": {
        "host": {"type": "keyword"}, "owner": {"type": "keyword"}, "rack": {"type": "integer"}
    }}});
    load_docs(
        "eshosts",
        Some(&m),
        &[
            json!({"host": "web-a", "owner": "alice", "rack": 1}),
            json!({"host": "web-b", "owner": "bob", "rack": 2}),
            json!({"host": "web-b", "owner": "dan", "rack": 2}),
        ],
    )
    .await;
    let policy = json!({"match": {"indices": "eshosts", "match_field": "host", "enrich_fields": ["owner", "rack"]}});
    let r = json_req("PUT", "/_enrich/policy/hosts_policy", &policy).await;
    assert_eq!(r.json(), json!({"acknowledged": true}), "{}", r.text);
    let r = json_req("PUT", "/_enrich/policy/hosts_policy", &policy).await;
    assert_es_error(&r, 400, "resource_already_exists_exception");
    let r = json_req(
        "PUT",
        "/_enrich/policy/r",
        &json!({"range": {"indices": "x", "match_field": "a", "enrich_fields": ["b"]}}),
    )
    .await;
    assert_es_error(&r, 400, "illegal_argument_exception");
    let e = esql_error(
        "FROM eslogs | ENRICH hosts_policy",
        "verification_exception",
    )
    .await;
    assert!(e.contains("has not been executed"), "{e}");
    let r = json_req("POST", "/_enrich/policy/hosts_policy/_execute", &json!({})).await;
    assert_eq!(r.json(), json!({"status": {"phase": "COMPLETE"}}));
    let v = get("/_enrich/policy/hosts_policy").await.json();
    assert_eq!(v["policies"][0]["config"]["match"]["match_field"], "host");

    let v =
        esql("FROM eslogs | ENRICH hosts_policy | KEEP host, owner, rack | SORT host | LIMIT 12")
            .await;
    assert_eq!(
        columns(&v),
        cols(&[
            ("host", "keyword"),
            ("owner", "keyword"),
            ("rack", "integer")
        ])
    );
    let rows = v["values"].as_array().unwrap();
    for (i, r) in rows.iter().enumerate() {
        let want = match i / 4 {
            0 => json!(["web-a", "alice", 1]),
            1 => json!(["web-b", ["bob", "dan"], [2, 2]]),
            _ => json!(["web-c", null, null]),
        };
        assert_eq!(*r, want);
    }
    let v = esql("FROM eslogs | ENRICH hosts_policy ON host WITH who = owner | STATS c = COUNT(*) BY who | SORT who").await;
    assert_eq!(
        v["values"],
        json!([[4, "alice"], [4, "bob"], [4, "dan"], [4, null]])
    );
    let e = esql_error("FROM eslogs | ENRICH hosts_polcy", "verification_exception").await;
    assert!(
        e.ends_with("cannot find enrich policy [hosts_polcy], did you mean [hosts_policy]?"),
        "{e}"
    );
    let e = esql_error(
        "FROM eslogs | ENRICH hosts_policy WITH nope",
        "verification_exception",
    )
    .await;
    assert!(e.contains("Enrich field [nope] not found"), "{e}");
    let r = req("DELETE", "/_enrich/policy/hosts_policy", None).await;
    assert_eq!(r.json(), json!({"acknowledged": true}));
    let r = req("DELETE", "/_enrich/policy/hosts_policy", None).await;
    assert_es_error(&r, 404, "resource_not_found_exception");
}
