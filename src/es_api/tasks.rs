//! The task management API for the long-running write operations (`_delete_by_query`,
//! `_update_by_query`, `_reindex` with `wait_for_completion=false`):
//! `GET /_tasks`, `GET /_tasks/{id}`, `POST /_tasks/{id}/_cancel`, `POST /_tasks/_cancel`.
//!
//! A task is a row of the cluster metadata table (kind `task`, name = the task id, see
//! `Catalog::put_metadata_doc`), written when it starts and when it ends, so any daemon on the
//! same ClickHouse answers `GET /_tasks/{id}` with `{completed, task, response}` as
//! Elasticsearch does from its `.tasks` index (TaskResult). The daemon running a task also
//! keeps its live counters in memory. A cancel is stored on the row too, and the running daemon
//! polls for it, so it can come through any daemon.
//! References: tasks.html, RestListTasksAction, RestGetTaskAction, RestCancelTasksAction,
//! TaskInfo, TaskResult, BulkByScrollTask.Status.

use super::by_query::{Job, Progress, run};
use super::{ApiResult, EsJson, Params, flag};
use crate::error::{EsError, EsResult};
use crate::server::AppState;
use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

const KIND: &str = "task";

/// A task this daemon runs.
struct Running {
    job_kind: super::by_query::Kind,
    rps: f64,
    description: String,
    start_millis: i64,
    started: Instant,
    progress: Arc<Progress>,
}

static RUNNING: LazyLock<parking_lot::Mutex<HashMap<String, Arc<Running>>>> =
    LazyLock::new(Default::default);

fn task_json(s: &AppState, id: &str, r: &Running, cancelled: bool) -> Value {
    let (node, num) = id.split_once(':').unwrap_or((id, "0"));
    let status = r.progress.counters.lock().status_json(r.job_kind, r.rps);
    let _ = s;
    json!({
        "node": node,
        "id": num.parse::<u64>().unwrap_or(0),
        "type": "transport",
        "action": r.job_kind.action(),
        "status": status,
        "description": r.description,
        "start_time_in_millis": r.start_millis,
        "running_time_in_nanos": r.started.elapsed().as_nanos() as u64,
        "cancellable": true,
        "cancelled": cancelled || r.progress.cancel.load(Ordering::SeqCst),
        "headers": {},
    })
}

/// Starts `job` in the background and returns its task id (`node:number`).
pub async fn spawn(s: &AppState, job: Job) -> EsResult<String> {
    let id = format!(
        "{}:{}",
        super::cluster::node_id(s),
        super::cursor::new_context_id()
    );
    let running = Arc::new(Running {
        job_kind: job.kind,
        rps: job.rps,
        description: job.description.clone(),
        start_millis: chrono::Utc::now().timestamp_millis(),
        started: Instant::now(),
        progress: Arc::new(Progress::default()),
    });
    s.catalog
        .put_metadata_doc(
            KIND,
            &id,
            Some(&json!({"completed": false, "task": task_json(s, &id, &running, false)})),
        )
        .await?;
    RUNNING.lock().insert(id.clone(), running.clone());
    tracing::info!(task = %id, action = job.kind.action(), "task started");
    let (s2, id2) = (s.clone(), id.clone());
    tokio::spawn(async move {
        let progress = running.progress.clone();
        let watch = {
            let (s3, id3, p3) = (s2.clone(), id2.clone(), progress.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    if stored(&s3, &id3)
                        .await
                        .is_some_and(|d| d["cancel_requested"] == json!(true))
                    {
                        p3.cancel.store(true, Ordering::SeqCst);
                        return;
                    }
                }
            })
        };
        let (_status, response) = run(&s2, &job, &progress).await;
        watch.abort();
        let task = task_json(&s2, &id2, &running, false);
        let doc = json!({"completed": true, "task": task, "response": response});
        if let Err(e) = s2.catalog.put_metadata_doc(KIND, &id2, Some(&doc)).await {
            tracing::warn!(task = %id2, error = %e.reason, "cannot store the task result");
        }
        RUNNING.lock().remove(&id2);
        tracing::info!(task = %id2, "task finished");
    });
    Ok(id)
}

async fn stored(s: &AppState, id: &str) -> Option<Value> {
    let docs = s.catalog.metadata_docs().await.ok()?;
    docs.get(&(KIND.to_string(), id.to_string())).cloned()
}

fn check_id(id: &str) -> EsResult<()> {
    match id.split_once(':') {
        Some((node, n)) if !node.is_empty() && n.parse::<u64>().is_ok() => Ok(()),
        _ => Err(EsError::illegal_argument(format!("malformed task id {id}"))),
    }
}

fn not_found(id: &str) -> EsError {
    EsError::new(
        404,
        "resource_not_found_exception",
        format!("task [{id}] isn't running and hasn't stored its results"),
    )
}

/// The current view of a task: live if this daemon runs it, else its stored row.
async fn view(s: &AppState, id: &str) -> Option<Value> {
    let live = RUNNING.lock().get(id).cloned();
    if let Some(r) = live {
        return Some(json!({"completed": false, "task": task_json(s, id, &r, false)}));
    }
    let mut d = stored(s, id).await?;
    if let Some(m) = d.as_object_mut() {
        m.remove("cancel_requested");
    }
    Some(d)
}

fn timeout_of(p: &Params) -> EsResult<Duration> {
    match p.get("timeout") {
        None => Ok(Duration::from_secs(30)),
        Some(t) => super::cursor::parse_time_value(t, "timeout")
            .map(|ms| Duration::from_millis(ms.max(0) as u64)),
    }
}

/// `GET /_tasks/{id}`; `wait_for_completion=true` waits (up to `timeout`, 30 s by default).
pub async fn get(
    State(s): State<AppState>,
    Path(id): Path<String>,
    UrlQuery(p): UrlQuery<Params>,
) -> ApiResult {
    super::search::check_params(
        &format!("/_tasks/{id}"),
        &p,
        &["wait_for_completion", "timeout"],
    )?;
    check_id(&id)?;
    let wait = flag(&p, "wait_for_completion")?;
    let deadline = Instant::now() + timeout_of(&p)?;
    loop {
        let v = view(&s, &id).await.ok_or_else(|| not_found(&id))?;
        if !wait || v["completed"] == json!(true) {
            return Ok(super::ok(v).into_response());
        }
        if Instant::now() >= deadline {
            return Err(EsError::new(
                408,
                "receive_timeout_transport_exception",
                format!("Timed out waiting for completion of task [{id}]"),
            ));
        }
        if RUNNING.lock().get(&id).is_none() {
            // Another daemon runs it: its result appears in the metadata table.
            s.catalog.invalidate();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Running tasks, from every daemon (rows not completed) and this daemon's live counters.
async fn running_tasks(s: &AppState) -> EsResult<Vec<(String, Value)>> {
    let mut out: HashMap<String, Value> = HashMap::new();
    for ((kind, name), doc) in s.catalog.metadata_docs().await?.iter() {
        if kind == KIND && doc["completed"] == json!(false) {
            out.insert(name.clone(), doc["task"].clone());
        }
    }
    let live: Vec<(String, Arc<Running>)> = RUNNING
        .lock()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (id, r) in live {
        out.insert(id.clone(), task_json(s, &id, &r, false));
    }
    let mut v: Vec<(String, Value)> = out.into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(v)
}

fn render_list(s: &AppState, tasks: Vec<(String, Value)>, p: &Params) -> EsResult<Value> {
    let detailed = flag(p, "detailed")?;
    let actions: Vec<String> = p
        .get("actions")
        .map(|a| super::cluster::split(a))
        .unwrap_or_default();
    let tasks: Vec<(String, Value)> = tasks
        .into_iter()
        .filter(|(_, t)| {
            actions.is_empty()
                || actions.iter().any(|a| {
                    crate::catalog::glob_match(a, t["action"].as_str().unwrap_or_default())
                })
        })
        .map(|(id, mut t)| {
            if !detailed && let Some(m) = t.as_object_mut() {
                m.remove("description");
                m.remove("status");
            }
            (id, t)
        })
        .collect();
    Ok(match p.get("group_by").map(String::as_str) {
        None | Some("nodes") => {
            let mut nodes: Map<String, Value> = Map::new();
            for (id, t) in tasks {
                let node = t["node"].as_str().unwrap_or_default().to_string();
                let entry = nodes.entry(node.clone()).or_insert_with(|| {
                    let mut n = json!({"tasks": {}});
                    if node == super::cluster::node_id(s) {
                        n["name"] = json!(s.cfg.node_name);
                        n["roles"] = json!(["data", "ingest", "master"]);
                    }
                    n
                });
                entry["tasks"][id] = t;
            }
            json!({ "nodes": nodes })
        }
        Some("parents") => {
            let m: Map<String, Value> = tasks.into_iter().collect();
            json!({ "tasks": m })
        }
        Some("none") => json!({ "tasks": tasks.into_iter().map(|(_, t)| t).collect::<Vec<_>>() }),
        Some(other) => {
            return Err(EsError::illegal_argument(format!(
                "No enum constant org.elasticsearch.rest.action.admin.cluster.RestListTasksAction.GroupBy.{}",
                other.to_uppercase()
            )));
        }
    })
}

/// `GET /_tasks` (RestListTasksAction): the running tasks, grouped by node by default.
pub async fn list(State(s): State<AppState>, UrlQuery(p): UrlQuery<Params>) -> ApiResult {
    super::search::check_params(
        "/_tasks",
        &p,
        &[
            "actions",
            "detailed",
            "nodes",
            "parent_task_id",
            "group_by",
            "wait_for_completion",
            "timeout",
        ],
    )?;
    let tasks = running_tasks(&s).await?;
    Ok(super::ok(render_list(&s, tasks, &p)?).into_response())
}

/// `POST /_tasks/{id}/_cancel` (RestCancelTasksAction): marks the task cancelled; it stops
/// before its next batch and its result says `canceled: "by user request"`.
pub async fn cancel(
    State(s): State<AppState>,
    Path(id): Path<String>,
    UrlQuery(p): UrlQuery<Params>,
) -> ApiResult {
    super::search::check_params(
        &format!("/_tasks/{id}/_cancel"),
        &p,
        &["wait_for_completion", "actions", "nodes", "parent_task_id"],
    )?;
    check_id(&id)?;
    let live = RUNNING.lock().get(&id).cloned();
    let task = match live {
        Some(r) => {
            r.progress.cancel.store(true, Ordering::SeqCst);
            task_json(&s, &id, &r, true)
        }
        None => {
            let Some(mut doc) = stored(&s, &id)
                .await
                .filter(|d| d["completed"] == json!(false))
            else {
                return Err(EsError::new(
                    404,
                    "resource_not_found_exception",
                    format!("task [{id}] is not found"),
                ));
            };
            doc["cancel_requested"] = json!(true);
            doc["task"]["cancelled"] = json!(true);
            s.catalog.put_metadata_doc(KIND, &id, Some(&doc)).await?;
            doc["task"].clone()
        }
    };
    if flag(&p, "wait_for_completion")? {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline
            && view(&s, &id)
                .await
                .is_some_and(|v| v["completed"] != json!(true))
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let resp = render_list(&s, vec![(id, task)], &Params::new())?;
    Ok(EsJson(StatusCode::OK, resp).into_response())
}
