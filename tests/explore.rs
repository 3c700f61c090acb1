//! The log explorer (`/explore` on the UI port) driven in headless Chromium: each step loads a URL
//! the page itself rendered (links stand for clicks) and checks the DOM after scripts ran.
//! Screenshots go to `target/screenshots/explore/` (kept as CI artifacts).

mod common;

use common::*;
use regex::Regex;
use serde_json::json;
use std::path::{Path, PathBuf};

/// The DOM (or nothing, for a screenshot) headless Chromium gives for `url`.
fn browse(args: &[&str], url: &str) -> String {
    chromium(args, url).0
}

/// The DOM of an explorer URL (a path on the UI port); saves a screenshot named `shot`.
fn page(path: &str, shot: &str) -> String {
    assert!(Path::new(CHROMIUM).exists(), "{CHROMIUM} is missing");
    let url = format!("http://{}{}", daemon().ui, path);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/explore");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, size) in [
        (shot.to_string(), "1280,800"),
        (format!("{shot}-phone"), "390,844"),
    ] {
        let file = dir.join(format!("{name}.png"));
        browse(
            &[
                &format!("--screenshot={}", file.display()),
                &format!("--window-size={size}"),
            ],
            &url,
        );
    }
    browse(&["--dump-dom"], &url)
}

/// The `href` of the first element with this class (or id) whose link contains `contains`.
fn link(dom: &str, attr: &str, contains: &str) -> String {
    let re = Regex::new(&format!(r#"<a [^>]*{attr}[^>]*href="([^"]*)""#)).unwrap();
    re.captures_iter(dom)
        .map(|c| c[1].replace("&amp;", "&"))
        .find(|h| h.contains(contains))
        .unwrap_or_else(|| panic!("no link {attr} with {contains:?} in {dom}"))
}

fn rows(dom: &str) -> usize {
    dom.matches("<tr class=\"row\">").count()
}

/// 120 log lines over the last ten minutes, one every 5 s; every fourth is an error.
async fn seed(index: &str) {
    let mapping = json!({"mappings": {"properties": {
        "@timestamp": {"type": "date"}, "level": {"type": "keyword"},
        "service": {"type": "keyword"}, "message": {"type": "text"}, "bytes": {"type": "long"}
    }}});
    let now = chrono::Utc::now();
    let docs: Vec<_> = (0..120)
        .map(|i| {
            let t = now - chrono::Duration::seconds(5 * i as i64 + 5);
            let service = ["api", "web", "db"][i % 3];
            json!({
                "@timestamp": t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "level": if i % 4 == 0 { "error" } else { "info" },
                "service": service,
                "message": format!("request {i} served"),
                "bytes": i * 100
            })
        })
        .collect();
    load_docs(index, Some(&mapping), &docs).await;
}

/// Discover's basics: 50 rows newest first with a histogram; a KQL query in the URL; a filter
/// pill from a sidebar value, then removed; the next page through search_after; an open document.
/// (Kibana Discover: "Search for relevance", "Filter with the field list", docs/explore-analyze.)
#[tokio::test]
async fn discover_basics_in_the_browser() {
    let i = "explore-logs";
    seed(i).await;
    let base = format!("/explore?index={i}&from=now-1h&to=now");
    let dom = page(&base, "01-page");
    assert_eq!(rows(&dom), 50, "{dom}");
    assert!(dom.contains("<b id=\"total\">120</b>"), "{dom}");
    assert!(dom.matches("class=\"bar\"").count() >= 10, "{dom}");
    assert!(dom.contains("per 1m"), "Kibana's interval for 1 h: {dom}");

    // A pattern instead of a name.
    let dom = dom_from("/explore?index=explore-lo*&from=now-1h&to=now");
    assert!(dom.contains("<b id=\"total\">120</b>"), "{dom}");

    // KQL by URL.
    let dom = page(
        &format!("{base}&q=level%3Aerror%20and%20not%20service%3Adb"),
        "02-kql",
    );
    assert!(dom.contains("<b id=\"total\">20</b>"), "{dom}");
    assert_eq!(rows(&dom), 20);
    let dom_err = page(&format!("{base}&q=level%3A(error"), "02-kql-error");
    assert!(dom_err.contains("position 12"), "{dom_err}");

    // Filter in on a sidebar value, then remove the pill.
    let fin = link(&dom_from(&base), "class=\"fin\"", "f=%2Bservice%3Aapi");
    let dom = page(&fin, "03-filter");
    assert!(dom.contains("class=\"pill\""), "{dom}");
    assert!(dom.contains("<b id=\"total\">40</b>"), "{dom}");
    let remove = link(&dom, "class=\"pill\"", "explore");
    let dom = page(&remove, "04-filter-removed");
    assert!(!dom.contains("class=\"pill\""), "{dom}");
    assert!(dom.contains("<b id=\"total\">120</b>"), "{dom}");

    // Page forward.
    let next = link(&dom, "id=\"next\"", "after=");
    let dom2 = page(&next, "05-page2");
    assert_eq!(rows(&dom2), 50, "{dom2}");
    assert!(dom2.contains("page 2"), "{dom2}");
    let first_time = |d: &str| {
        let re = Regex::new(r#"class="open" href="[^"]*">([^<]*)<"#).unwrap();
        re.captures(d).unwrap()[1].to_string()
    };
    assert!(first_time(&dom2) < first_time(&dom), "page 2 is older");

    // Open a document.
    let open = link(&dom2, "class=\"open\"", "doc=");
    let dom = page(&open, "06-document");
    assert!(dom.contains("id=\"doc\""), "{dom}");
    assert!(
        dom.contains("&quot;_source&quot;") || dom.contains("\"_source\""),
        "{dom}"
    );
}

fn dom_from(path: &str) -> String {
    browse(&["--dump-dom"], &format!("http://{}{}", daemon().ui, path))
}

/// Live tail: with `tail=1` the page reloads itself; a document ingested meanwhile shows up on the
/// next load, with the ingest status line (Kibana's "Refresh every" auto-refresh).
#[tokio::test]
async fn live_tail_shows_a_new_document() {
    let i = "explore-tail";
    seed(i).await;
    let tail = format!("/explore?index={i}&from=now-15m&to=now&tail=1");
    let dom = page(&tail, "07-tail");
    assert!(dom.contains("id=\"ingest\""), "{dom}");
    assert!(!dom.contains("fresh-doc-42"));
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let r = bulk(
        &format!("/{i}/_bulk?refresh=true"),
        &format!("{{\"index\":{{}}}}\n{{\"@timestamp\":\"{now}\",\"level\":\"info\",\"message\":\"fresh-doc-42\"}}\n"),
    )
    .await;
    assert_eq!(r.json()["errors"], false, "{}", r.text);
    let dom = page(&tail, "08-tail-after-ingest");
    assert!(dom.contains("fresh-doc-42"), "{dom}");
    assert!(dom.contains("<b id=\"total\">"), "{dom}");
}
