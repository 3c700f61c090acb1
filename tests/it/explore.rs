//! The log explorer (`/explore` on the UI port) driven in headless Chromium: each step loads a URL
//! the page itself rendered (links stand for clicks) and checks the DOM after scripts ran.
//! Screenshots go to `target/screenshots/explore/` (kept as CI artifacts).

use crate::common::*;
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

// ------------------------------------------------------------- driving Chromium (DevTools)

/// Headless Chromium driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`:
/// JSON messages ending in NUL, commands on its fd 3, answers and events on its fd 4), so a test
/// can type and drag like a person. The shell maps the child's stdin/stdout onto fds 3/4.
/// (Protocol: https://chromedevtools.github.io/devtools-protocol/ — Target, Page, Input, Runtime.)
struct Browser {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    rx: std::sync::mpsc::Receiver<serde_json::Value>,
    /// Events read while waiting for an answer.
    events: Vec<serde_json::Value>,
    next_id: u64,
    session: String,
    _profile: tempfile::TempDir,
}

/// How long one answer or event may take before the test gives up (a hang guard, not a timing
/// assertion).
const CDP_PATIENCE: std::time::Duration = std::time::Duration::from_secs(90);

impl Browser {
    fn start() -> Browser {
        use std::io::Read;
        assert!(Path::new(CHROMIUM).exists(), "{CHROMIUM} is missing");
        let profile = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>/dev/null 2>/dev/null"#)
            .arg(CHROMIUM)
            .args(CHROMIUM_FLAGS)
            .arg("--remote-debugging-pipe")
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("run chromium");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 65536];
            while let Ok(n) = stdout.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                while let Some(end) = buf.iter().position(|b| *b == 0) {
                    let msg: Vec<u8> = buf.drain(..=end).collect();
                    if let Ok(v) = serde_json::from_slice(&msg[..msg.len() - 1])
                        && tx.send(v).is_err()
                    {
                        return;
                    }
                }
            }
        });
        let mut b = Browser {
            child,
            stdin,
            rx,
            events: Vec::new(),
            next_id: 0,
            session: String::new(),
            _profile: profile,
        };
        let t = b.call("Target.createTarget", json!({"url": "about:blank"}));
        let target = t["targetId"].as_str().unwrap().to_string();
        let s = b.call(
            "Target.attachToTarget",
            json!({"targetId": target, "flatten": true}),
        );
        b.session = s["sessionId"].as_str().unwrap().to_string();
        b.call("Page.enable", json!({}));
        b.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": false}),
        );
        b
    }

    fn recv(&mut self) -> serde_json::Value {
        self.rx
            .recv_timeout(CDP_PATIENCE)
            .expect("chromium stopped answering")
    }

    /// Sends a command (to the page's session once attached) and returns its result.
    fn call(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        use std::io::Write;
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.stdin.write_all(&bytes).unwrap();
        self.stdin.flush().unwrap();
        loop {
            let v = self.recv();
            if v["id"].as_u64() == Some(id) {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
            self.events.push(v);
        }
    }

    /// Waits for an event of the page (kept ones first).
    fn wait_event(&mut self, method: &str) -> serde_json::Value {
        if let Some(i) = self.events.iter().position(|e| e["method"] == method) {
            return self.events.remove(i);
        }
        loop {
            let v = self.recv();
            if v["method"] == method {
                return v;
            }
            if v.get("id").is_none() {
                continue;
            }
        }
    }

    /// Forgets the events seen so far (before an action whose load is then awaited).
    fn clear_events(&mut self) {
        while let Ok(v) = self.rx.try_recv() {
            self.events.push(v);
        }
        self.events.clear();
    }

    fn goto(&mut self, url: &str) {
        self.clear_events();
        self.call("Page.navigate", json!({"url": url}));
        self.wait_event("Page.loadEventFired");
    }

    /// The value of a JavaScript expression (JSON-serialisable).
    fn eval(&mut self, expr: &str) -> serde_json::Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true}),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expr}: {r}");
        r["result"]["value"].clone()
    }

    /// Types text key by key into the focused element.
    fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            let s = c.to_string();
            self.call(
                "Input.dispatchKeyEvent",
                json!({"type": "keyDown", "key": s, "text": s}),
            );
            self.call("Input.dispatchKeyEvent", json!({"type": "keyUp", "key": s}));
        }
    }

    fn press_enter(&mut self) {
        let k = json!({"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13});
        let mut down = k.clone();
        down["type"] = json!("keyDown");
        down["text"] = json!("\r");
        self.call("Input.dispatchKeyEvent", down);
        let mut up = k;
        up["type"] = json!("keyUp");
        self.call("Input.dispatchKeyEvent", up);
    }

    fn mouse(&mut self, kind: &str, x: f64, y: f64) {
        self.call(
            "Input.dispatchMouseEvent",
            json!({"type": kind, "x": x, "y": y, "button": "left",
                "buttons": if kind == "mouseReleased" { 0 } else { 1 }, "clickCount": 1}),
        );
    }

    fn screenshot(&mut self, name: &str) {
        use base64::Engine;
        let r = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap())
            .unwrap();
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/explore");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Typing a KQL query into the query bar and pressing Enter searches it (the form puts it in
/// the URL); dragging across histogram bars zooms to the dragged range, whichever way the drag
/// goes, and the zoomed page counts what those bars counted. (Kibana Discover: "Search for
/// relevance" — the query bar; the histogram's brush selection sets the time range.)
#[tokio::test]
async fn typing_a_query_and_dragging_over_the_histogram() {
    let i = "explore-drive";
    seed(i).await;
    let ui = daemon().ui;
    let mut b = Browser::start();
    b.goto(&format!("http://{ui}/explore?index={i}&from=now-1h&to=now"));
    assert_eq!(
        b.eval("document.getElementById('total').textContent"),
        "120"
    );

    // Type into the query bar.
    b.eval("document.querySelector('input[name=q]').focus()");
    b.type_text("level:error and service:api");
    assert_eq!(
        b.eval("document.querySelector('input[name=q]').value"),
        "level:error and service:api"
    );
    b.clear_events();
    b.press_enter();
    b.wait_event("Page.loadEventFired");
    b.screenshot("09-typed-query");
    // Every fourth line is an error, every third is api: 10 of 120.
    assert_eq!(b.eval("document.getElementById('total').textContent"), "10");
    let search = b.eval("decodeURIComponent(location.search.replace(/\\+/g, ' '))");
    assert!(
        search
            .as_str()
            .unwrap()
            .contains("q=level:error and service:api"),
        "{search}"
    );
    assert_eq!(
        b.eval("document.querySelector('input[name=q]').value"),
        "level:error and service:api"
    );

    // Drag across bars, from a later one back to an earlier one.
    b.goto(&format!("http://{ui}/explore?index={i}&from=now-1h&to=now"));
    let bars = b.eval(
        "Array.from(document.querySelectorAll('#histogram a.bar')).map(function(a){\
         var r=a.getBoundingClientRect();return {x:r.x+r.width/2,y:r.bottom-1,\
         count:+a.dataset.count,to:a.dataset.to,href:a.href}})",
    );
    let bars = bars.as_array().unwrap();
    let first = bars
        .iter()
        .position(|b| b["count"].as_u64() > Some(0))
        .expect("a bar with documents");
    let (lo, hi) = (first, (first + 4).min(bars.len() - 1));
    let sum: u64 = bars[lo..=hi]
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .sum();
    let (x0, x1, y) = (
        bars[hi]["x"].as_f64().unwrap(),
        bars[lo]["x"].as_f64().unwrap(),
        bars[hi]["y"].as_f64().unwrap(),
    );
    b.clear_events();
    b.mouse("mouseMoved", x0, y);
    b.mouse("mousePressed", x0, y);
    b.mouse("mouseMoved", (x0 + x1) / 2.0, y);
    b.mouse("mouseMoved", x1, y);
    b.screenshot("10-dragging");
    b.mouse("mouseReleased", x1, y);
    b.wait_event("Page.loadEventFired");
    b.screenshot("11-zoomed");
    let params = b.eval(
        "(function(){var p=new URLSearchParams(location.search);return [p.get('from'),p.get('to')]})()",
    );
    let want_from = Regex::new(r"from=([^&]*)")
        .unwrap()
        .captures(bars[lo]["href"].as_str().unwrap())
        .map(|c| percent_decode(&c[1]))
        .unwrap();
    assert_eq!(params[0], want_from.as_str(), "{params}");
    assert_eq!(params[1], bars[hi]["to"], "{params}");
    let total: u64 = b
        .eval("document.getElementById('total').textContent")
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // `to` is inclusive (lte): a document exactly on the last bar's end may count too.
    assert!(
        total == sum || total == sum + 1,
        "{total} vs the bars' {sum}"
    );
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// Paging keeps every document when many share a timestamp: the sort has a tie-breaker after the
/// time field, so `search_after` resumes inside a run of equal timestamps instead of past it.
/// (Elasticsearch "Paginate search results": search_after needs a tiebreaker field with a unique
/// value per document; Kibana adds `_shard_doc`/`_doc` to Discover's sort.)
#[tokio::test]
async fn paging_does_not_skip_documents_sharing_a_timestamp() {
    let i = "explore-ties";
    let mapping = json!({"mappings": {"properties": {
        "@timestamp": {"type": "date"}, "n": {"type": "long"}
    }}});
    let now = chrono::Utc::now();
    // 120 documents on only three timestamps: both page boundaries (50, 100) fall inside a run.
    let docs: Vec<_> = (0..120)
        .map(|n| {
            let t = now - chrono::Duration::seconds(10 * (n / 40) as i64 + 10);
            json!({"@timestamp": t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true), "n": n})
        })
        .collect();
    load_docs(i, Some(&mapping), &docs).await;
    let ids = |dom: &str| -> Vec<String> {
        Regex::new(r#"class="open" href="[^"]*doc=([^"&]*)"#)
            .unwrap()
            .captures_iter(dom)
            .map(|c| c[1].to_string())
            .collect()
    };
    let mut seen = std::collections::BTreeSet::new();
    let mut dom = page(
        &format!("/explore?index={i}&from=now-15m&to=now"),
        "12-ties",
    );
    let mut pages = 0;
    loop {
        pages += 1;
        let got = ids(&dom);
        assert!(!got.is_empty() && pages <= 3, "{dom}");
        for id in got {
            assert!(seen.insert(id.clone()), "{id} shown twice");
        }
        if !dom.contains("id=\"next\"") {
            break;
        }
        dom = dom_from(&link(&dom, "id=\"next\"", "after="));
    }
    assert_eq!(seen.len(), 120, "every document once, on {pages} pages");
    assert_eq!(pages, 3);
}
