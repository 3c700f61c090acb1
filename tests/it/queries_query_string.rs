//! `query_string` and `simple_query_string` against the real engine, with the queries Kibana's
//! search bar sends (Lucene syntax). Expected ids are computed here from the generated documents.

use crate::common::*;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

const INDEX: &str = "qs-logs";
static LOADED: OnceCell<Vec<Value>> = OnceCell::const_new();

/// 40 web-log documents, timestamps spread over the last 40 hours (on the half hour, so no
/// document sits on a `now-1d` boundary).
async fn docs() -> &'static Vec<Value> {
    LOADED
        .get_or_init(|| async {
            let mapping = json!({"mappings": {"properties": {
                "@timestamp": {"type": "date"},
                "status": {"type": "long"},
                "response": {"type": "keyword"},
                "extension": {"type": "keyword"},
                "machine": {"properties": {"os": {"type": "text", "fields": {"keyword": {"type": "keyword"}}}}},
                "bytes": {"type": "long"},
                "message": {"type": "text"},
                "geo": {"properties": {"dest": {"type": "keyword"}}},
                "tags": {"type": "keyword"}
            }}});
            let r = json_req("PUT", &format!("/{INDEX}"), &mapping).await;
            assert_eq!(r.status, 200, "{}", r.text);
            let oses = ["win 8", "win xp", "osx", "ios", "Windows 10"];
            let exts = ["php", "html", "css", "jpg"];
            let responses = ["200", "404", "503"];
            let messages = [
                "The quick brown fox",
                "A lazy dog sleeps",
                "quick thinking wins",
                "brown bear runs",
                "php error in module",
                "Quick Brown Fox jumps",
            ];
            let tags: [&[&str]; 4] = [&["success", "info"], &["warning"], &["error", "security"], &["info"]];
            let statuses = [200, 404, 503, 200];
            let now = chrono::Utc::now();
            let mut all = Vec::new();
            for i in 0..40usize {
                let ts = now - chrono::Duration::minutes(i as i64 * 60 + 30);
                let mut d = json!({
                    "@timestamp": ts.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
                    "status": statuses[i % 4],
                    "response": responses[(i / 2) % 3],
                    "extension": exts[(i / 3) % 4],
                    "machine": {"os": oses[i % 5]},
                    "bytes": i as i64 * 137,
                    "message": messages[i % 6],
                    "tags": tags[(i / 2) % 4],
                });
                if i % 3 == 0 {
                    d["geo"] = json!({"dest": "US"});
                }
                all.push(d);
            }
            load_docs(INDEX, None, &all).await;
            all
        })
        .await
}

async fn search(body: Value) -> Resp {
    docs().await;
    json_req("POST", &format!("/{INDEX}/_search"), &body).await
}

async fn matching(query: Value) -> Vec<String> {
    let r = search(json!({"query": query, "size": 100, "sort": ["_doc"]})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["_id"].as_str().unwrap().to_string())
        .collect()
}

async fn qs(query: &str) -> Vec<String> {
    matching(json!({"query_string": {"query": query}})).await
}

fn expect(docs: &[Value], pred: impl Fn(&Value) -> bool) -> Vec<String> {
    docs.iter()
        .enumerate()
        .filter(|(_, d)| pred(d))
        .map(|(i, _)| i.to_string())
        .collect()
}

/// Tokens of a text value as the index has them (lower-cased, split on punctuation/whitespace).
fn tokens(v: &Value) -> Vec<String> {
    v.as_str()
        .unwrap_or("")
        .to_lowercase()
        .split(|c: char| c.is_ascii_punctuation() || c.is_ascii_whitespace())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

fn has_token(v: &Value, t: &str) -> bool {
    tokens(v).iter().any(|x| x == t)
}

fn tags_of(d: &Value) -> Vec<&str> {
    d["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn kibana_field_terms_and_boolean_operators() {
    let d = docs().await;
    // A number on a long field and a keyword, joined by AND.
    assert_eq!(
        qs("status:200 AND extension:php").await,
        expect(d, |x| x["status"] == 200 && x["extension"] == "php")
    );
    // NOT alone means "everything except" (Elasticsearch's fix for pure negative queries).
    assert_eq!(
        qs("NOT response:404").await,
        expect(d, |x| x["response"] != "404")
    );
    assert_eq!(qs("-response:404").await, qs("NOT response:404").await);
    // OR, &&, ||, ! and + / -.
    assert_eq!(
        qs("extension:php || extension:css").await,
        expect(d, |x| x["extension"] == "php" || x["extension"] == "css")
    );
    assert_eq!(
        qs("+extension:php -status:200").await,
        expect(d, |x| x["extension"] == "php" && x["status"] != 200)
    );
    assert_eq!(
        qs("extension:php && !response:200").await,
        expect(d, |x| x["extension"] == "php" && x["response"] != "200")
    );
    // Grouping, and field grouping.
    assert_eq!(
        qs("(extension:php OR extension:css) AND status:404").await,
        expect(d, |x| (x["extension"] == "php" || x["extension"] == "css")
            && x["status"] == 404)
    );
    assert_eq!(
        qs("tags:(success OR info)").await,
        expect(d, |x| tags_of(x)
            .iter()
            .any(|t| *t == "success" || *t == "info"))
    );
    assert_eq!(
        qs("status:(200 OR 404)").await,
        expect(d, |x| x["status"] == 200 || x["status"] == 404)
    );
    // Without an operator, "200 404" is one text (operators split, whitespace does not): not a
    // number, so on a long field it matches nothing (lenient, as with the default `*` fields).
    assert!(qs("status:(200 404)").await.is_empty());
    // Lucene's classic rule: `a AND b OR c` is +a +b c (c only scores).
    assert_eq!(
        qs("extension:php AND status:200 OR extension:css").await,
        expect(d, |x| x["extension"] == "php" && x["status"] == 200)
    );
    // Keywords are exact and case-sensitive.
    assert!(qs("extension:PHP").await.is_empty());
}

#[tokio::test]
async fn wildcards_ranges_exists_phrases() {
    let d = docs().await;
    // On a text field, the prefix applies to each (lower-cased) token.
    assert_eq!(
        qs("machine.os:win*").await,
        expect(d, |x| tokens(&x["machine"]["os"])
            .iter()
            .any(|t| t.starts_with("win")))
    );
    // On the keyword subfield, to the whole value, case-sensitively.
    assert_eq!(
        qs("machine.os.keyword:win*").await,
        expect(d, |x| x["machine"]["os"]
            .as_str()
            .unwrap()
            .starts_with("win"))
    );
    assert_eq!(
        qs("extension:?h?").await,
        expect(d, |x| x["extension"] == "php")
    );
    assert_eq!(
        qs("extension:h*l").await,
        expect(d, |x| x["extension"] == "html")
    );
    assert_eq!(
        qs("extension:/p.p/").await,
        expect(d, |x| x["extension"] == "php")
    );
    assert_eq!(
        qs("message:quikc~").await,
        expect(d, |x| has_token(&x["message"], "quick"))
    );
    // One-sided and two-sided ranges.
    assert_eq!(
        qs("bytes:>=1000").await,
        expect(d, |x| x["bytes"].as_i64().unwrap() >= 1000)
    );
    assert_eq!(
        qs("bytes:<548").await,
        expect(d, |x| x["bytes"].as_i64().unwrap() < 548)
    );
    assert_eq!(
        qs("bytes:{1096 TO 2055]").await,
        expect(d, |x| {
            let b = x["bytes"].as_i64().unwrap();
            b > 1096 && b <= 2055
        })
    );
    assert_eq!(
        qs("bytes:[4000 TO *]").await,
        expect(d, |x| x["bytes"].as_i64().unwrap() >= 4000)
    );
    // `bytes >= 1000` (spaces) is not a range in Lucene syntax: it is the text "bytes >= 1000"
    // searched on every field (leniently), so only documents with one of its words match.
    assert_eq!(
        qs("bytes >= 1000").await,
        expect(d, |x| {
            ["bytes", "1000"]
                .iter()
                .any(|w| has_token(&x["message"], w) || has_token(&x["machine"]["os"], w))
        })
    );
    // Date math in a range.
    let now = chrono::Utc::now();
    assert_eq!(
        qs("@timestamp:[now-1d TO now]").await,
        expect(d, |x| {
            let t =
                chrono::DateTime::parse_from_rfc3339(x["@timestamp"].as_str().unwrap()).unwrap();
            now.signed_duration_since(t) < chrono::Duration::days(1)
        })
    );
    assert_eq!(
        qs("_exists_:geo.dest").await,
        expect(d, |x| x.get("geo").is_some())
    );
    assert_eq!(
        qs("NOT _exists_:geo.dest").await,
        expect(d, |x| x.get("geo").is_none())
    );
    // Phrase (the documents keep "quick brown" adjacent whenever both words occur).
    assert_eq!(
        qs("message:\"quick brown\"").await,
        expect(d, |x| x["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("quick brown"))
    );
    // Escaped wildcard in a field name expands over the mapping (docs: `book.\*:(quick OR brown)`).
    assert_eq!(
        qs(r"machine.\*:osx").await,
        expect(d, |x| x["machine"]["os"] == "osx")
    );
}

#[tokio::test]
async fn default_field_all_covers_text_and_keyword_fields() {
    let d = docs().await;
    // `php` without a field: the extension keyword or a message token.
    assert_eq!(
        qs("php").await,
        expect(d, |x| x["extension"] == "php"
            || has_token(&x["message"], "php"))
    );
    // A number searches numeric fields too; words that are not numbers do not fail there.
    assert_eq!(
        qs("200").await,
        expect(d, |x| x["status"] == 200
            || x["response"] == "200"
            || x["bytes"] == 200)
    );
    assert_eq!(
        qs("quick OR security").await,
        expect(d, |x| has_token(&x["message"], "quick")
            || tags_of(x).contains(&"security"))
    );
    // Explicit fields with boosts and a pattern; default_operator AND on one text field.
    assert_eq!(
        matching(
            json!({"query_string": {"query": "quick OR win", "fields": ["message", "machine.*^2"]}})
        )
        .await,
        expect(d, |x| has_token(&x["message"], "quick")
            || has_token(&x["machine"]["os"], "win"))
    );
    assert_eq!(
        matching(json!({"query_string": {"query": "quick fox", "default_field": "message", "default_operator": "AND"}}))
            .await,
        expect(d, |x| has_token(&x["message"], "quick") && has_token(&x["message"], "fox"))
    );
    assert_eq!(
        matching(json!({"query_string": {"query": "quick fox", "default_field": "message"}})).await,
        expect(d, |x| has_token(&x["message"], "quick")
            || has_token(&x["message"], "fox"))
    );
    // minimum_should_match on the top-level group.
    assert_eq!(
        matching(json!({"query_string": {"query": "quick brown fox", "default_field": "message", "minimum_should_match": 3}}))
            .await,
        expect(d, |x| ["quick", "brown", "fox"].iter().all(|w| has_token(&x["message"], w)))
    );
    // `*` alone matches everything.
    assert_eq!(qs("*").await.len(), d.len());
}

#[tokio::test]
async fn errors_and_leniency() {
    docs().await;
    // A syntax error is a shard failure: query_shard_exception around Lucene's ParseException.
    let r = search(json!({"query": {"query_string": {"query": "status:(200"}}})).await;
    let e = assert_es_error(&r, 400, "search_phase_execution_exception");
    let cause = &e["caused_by"];
    assert_eq!(cause["type"], "query_shard_exception");
    assert_eq!(cause["reason"], "Failed to parse query [status:(200]");
    assert_eq!(cause["index"], INDEX);
    assert_eq!(cause["caused_by"]["type"], "parse_exception");
    let reason = cause["caused_by"]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("parse_exception: Cannot parse 'status:(200': Encountered \"<EOF>\" at line 1, column 11."),
        "{reason}"
    );
    // A value of the wrong type: an error on a named field, nothing with lenient (and with `*`).
    let r = search(
        json!({"query": {"query_string": {"query": "bytes:abc", "default_field": "message"}}}),
    )
    .await;
    assert_es_error(&r, 400, "search_phase_execution_exception");
    assert!(matching(json!({"query_string": {"query": "bytes:abc", "default_field": "message", "lenient": true}})).await.is_empty());
    assert!(qs("bytes:abc").await.is_empty());
    // allow_leading_wildcard: false.
    let r = search(json!({"query": {"query_string": {"query": "extension:*hp", "allow_leading_wildcard": false}}})).await;
    let e = assert_es_error(&r, 400, "search_phase_execution_exception");
    assert!(
        e["caused_by"]["caused_by"]["reason"]
            .as_str()
            .unwrap()
            .contains("'*' or '?' not allowed as first character in WildcardQuery")
    );
    // Unknown options are a parsing_exception before any shard runs.
    let r = search(json!({"query": {"query_string": {"query": "a", "foo": "bar"}}})).await;
    let e = assert_es_error(&r, 400, "parsing_exception");
    assert_eq!(e["reason"], "[query_string] query does not support [foo]");
    // Unsupported analyzers are a clear 400.
    let r =
        search(json!({"query": {"query_string": {"query": "a", "analyzer": "whitespace"}}})).await;
    assert_eq!(r.status, 400, "{}", r.text);
}

#[tokio::test]
async fn simple_query_string_syntax() {
    let d = docs().await;
    let sqs = |q: Value| matching(json!({ "simple_query_string": q }));
    assert_eq!(
        sqs(json!({"query": "php | css", "fields": ["extension"]})).await,
        expect(d, |x| x["extension"] == "php" || x["extension"] == "css")
    );
    assert_eq!(
        sqs(json!({"query": "quick + fox", "fields": ["message"]})).await,
        expect(d, |x| has_token(&x["message"], "quick")
            && has_token(&x["message"], "fox"))
    );
    assert_eq!(
        sqs(json!({"query": "\"quick brown\" -jumps", "fields": ["message"], "default_operator": "and"}))
            .await,
        expect(d, |x| {
            x["message"].as_str().unwrap().to_lowercase().contains("quick brown")
                && !has_token(&x["message"], "jumps")
        })
    );
    assert_eq!(
        sqs(json!({"query": "thin*", "fields": ["message"]})).await,
        expect(d, |x| tokens(&x["message"])
            .iter()
            .any(|t| t.starts_with("thin")))
    );
    // Broken syntax never fails: the stray quote and parenthesis are ignored.
    assert_eq!(
        sqs(json!({"query": "(\"php", "fields": ["extension"]})).await,
        expect(d, |x| x["extension"] == "php")
    );
    // Default fields `*`, lenient: text, keyword and numbers.
    assert_eq!(
        sqs(json!({"query": "php"})).await,
        expect(d, |x| x["extension"] == "php"
            || has_token(&x["message"], "php"))
    );
}

#[tokio::test]
async fn quoted_phrases_check_positions_and_slop() {
    // query-dsl-query-string-query.html: "quick brown" is a phrase (adjacent tokens), "~N" allows
    // N position moves (two reversed terms need 2).
    let body = "{\"index\":{\"_id\":\"1\"}}\n{\"msg\":\"the quick brown fox\"}\n{\"index\":{\"_id\":\"2\"}}\n{\"msg\":\"brown and quick\"}\n{\"index\":{\"_id\":\"3\"}}\n{\"msg\":\"quick red brown\"}\n";
    bulk("/qs-phrase/_bulk?refresh=true", body).await;
    let count = |q: &str| {
        let q = q.to_string();
        async move {
            json_req(
                "POST",
                "/qs-phrase/_count",
                &json!({"query": {"query_string": {"query": q, "default_field": "msg"}}}),
            )
            .await
            .json()["count"]
                .clone()
        }
    };
    assert_eq!(count("\"quick brown\"").await, 1);
    assert_eq!(count("\"quick brown\"~1").await, 2);
    assert_eq!(count("\"brown quick\"~2").await, 2);
    assert_eq!(count("quick brown").await, 3);
}
