//! Replay of `kibana-fixtures/`: loads the fixture files, sends each request to the replay's own daemon
//! exactly as written (method, path, query parameters, headers, body) and hands back the answer.
#![allow(dead_code)]

pub mod data;

use crate::common::{Resp, client};
use serde_json::Value;
use std::path::PathBuf;
use tokio::sync::OnceCell;

// The replay's own daemon: `_resolve/index/*` (Kibana's has-data check) must list exactly the
// sample data sets, so no other module's indices may be on it.
crate::common::own_daemon!(pub);

pub struct Fixture {
    /// `<app>/<name>`, e.g. `discover/document_table`.
    pub key: String,
    pub value: Value,
}

impl Fixture {
    pub fn request(&self) -> &Value {
        &self.value["request"]
    }
}

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("kibana-fixtures")
}

/// Every fixture of one app (a folder of `kibana-fixtures/`), sorted by name.
pub fn fixtures(app: &str) -> Vec<Fixture> {
    let dir = fixtures_dir().join(app);
    let mut out: Vec<Fixture> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let value: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            Fixture {
                key: format!("{app}/{}", p.file_stem().unwrap().to_string_lossy()),
                value,
            }
        })
        .collect();
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

/// Every app folder.
pub fn apps() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    out.sort();
    out
}

/// Sends a fixture's request; `{id}` in the path is replaced by `id`.
pub async fn send(f: &Fixture, id: Option<&str>) -> Resp {
    let r = f.request();
    let mut path = r["path"].as_str().unwrap().to_string();
    if let Some(id) = id {
        path = path.replace("{id}", id);
    }
    let url = format!("http://{}{}", daemon().es, path);
    let params: Vec<(String, String)> = r["params"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let mut rb = client()
        .request(r["method"].as_str().unwrap().parse().unwrap(), &url)
        .query(&params);
    for (k, v) in r["headers"].as_object().unwrap() {
        rb = rb.header(k.as_str(), v.as_str().unwrap());
    }
    if let Some(b) = r.get("body") {
        rb = rb.body(serde_json::to_vec(b).unwrap());
    }
    let resp = rb.send().await.expect("request");
    Resp {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        text: resp.text().await.unwrap(),
    }
}

/// The search response inside an answer: `_async_search` answers are checked for Elasticsearch's
/// envelope (AsyncSearchResponse#toXContent) and polled until complete; others are returned as they are.
pub async fn search_response(f: &Fixture, r: &Resp) -> Result<Value, String> {
    if r.status != 200 {
        return Err(format!("status {}: {}", r.status, r.text));
    }
    let v: Value = serde_json::from_str(&r.text).map_err(|e| format!("{e}: {}", r.text))?;
    if !f.request()["path"]
        .as_str()
        .unwrap()
        .contains("_async_search")
    {
        return Ok(v);
    }
    let mut v = v;
    let mut polled = false;
    for _ in 0..200 {
        for k in [
            "is_partial",
            "is_running",
            "start_time_in_millis",
            "expiration_time_in_millis",
        ] {
            if v.get(k).is_none() {
                return Err(format!("async search answer without `{k}`: {v}"));
            }
        }
        if v["is_running"] == false {
            if v["is_partial"] != false {
                return Err(format!("completed async search is partial: {v}"));
            }
            // Elasticsearch hands out an id only for a stored search: one kept on completion or
            // one still running when wait_for_completion_timeout passed.
            let kept = f.request()["params"]["keep_on_completion"] == "true";
            if !kept && !polled && v.get("id").is_some() {
                return Err(format!("id returned for a search that is not stored: {v}"));
            }
            if kept && !v["id"].is_string() {
                return Err(format!("no id for a search kept on completion: {v}"));
            }
            if !v["completion_time_in_millis"].is_number() {
                return Err(format!(
                    "completed async search without completion_time_in_millis: {v}"
                ));
            }
            return Ok(v["response"].clone());
        }
        let id = v["id"]
            .as_str()
            .ok_or_else(|| format!("running async search without id: {v}"))?
            .to_string();
        polled = true;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let g = get(&format!(
            "/_async_search/{id}?wait_for_completion_timeout=1s"
        ))
        .await;
        if g.status != 200 {
            return Err(format!("GET _async_search/{id}: {} {}", g.status, g.text));
        }
        v = g.json();
    }
    Err("async search did not complete".into())
}

static LOADED: OnceCell<()> = OnceCell::const_new();

/// Creates the three sample indices and loads the generated documents (once per test binary).
pub async fn load() {
    LOADED
        .get_or_init(|| async {
            for (index, (mapping, docs)) in [
                (data::LOGS, data::logs()),
                (data::FLIGHTS, data::flights()),
                (data::ECOMMERCE, data::ecommerce()),
            ] {
                let r = json_req("PUT", &format!("/{index}"), &mapping).await;
                assert_eq!(r.status, 200, "{}", r.text);
                let mut body = String::new();
                for d in &docs {
                    body.push_str(&format!(
                        "{{\"index\":{{\"_id\":\"{}\"}}}}\n{}\n",
                        d.id, d.src
                    ));
                }
                let r = bulk(&format!("/{index}/_bulk?refresh=true"), &body).await;
                assert_eq!(r.json()["errors"], false, "{}", r.text);
            }
        })
        .await;
}
