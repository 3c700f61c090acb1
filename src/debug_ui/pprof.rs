//! `/debug/pprof/*`: CPU profiles (pprof protobuf for `go tool pprof`, or a flamegraph SVG) sampled
//! with the `pprof` crate's SIGPROF profiler, and the jemalloc heap profile.

use crate::render::esc;
use axum::extract::Query;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use std::io::Write;
use std::time::Duration;

/// Longest CPU profile one request may ask for.
const MAX_SECONDS: u64 = 60;
const DEFAULT_SECONDS: u64 = 10;
/// Samples per second (not a round number, so as not to run in lockstep with periodic work).
const FREQUENCY: i32 = 99;

/// The CPU profiler is process-wide: one profile at a time.
static CPU_BUSY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[derive(Deserialize)]
pub struct ProfileParams {
    seconds: Option<String>,
}

fn seconds(p: &ProfileParams) -> Result<u64, Response> {
    let Some(s) = p.seconds.as_deref() else {
        return Ok(DEFAULT_SECONDS);
    };
    match s.parse::<u64>() {
        Ok(n) if (1..=MAX_SECONDS).contains(&n) => Ok(n),
        _ => Err(text(
            StatusCode::BAD_REQUEST,
            format!("seconds must be a whole number from 1 to {MAX_SECONDS}, not [{s}]"),
        )),
    }
}

fn text(status: StatusCode, msg: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        msg + "\n",
    )
        .into_response()
}

pub async fn index() -> Html<String> {
    let heap = if heap_available() {
        "<li><a href=\"/debug/pprof/heap\">heap</a>: jemalloc heap profile (allocations sampled \
every 512 KiB; gzipped pprof, addresses symbolised by <code>go tool pprof BINARY heap.pb.gz</code>)</li>"
            .to_string()
    } else {
        format!("<li>heap: not available ({})</li>", esc(HEAP_UNAVAILABLE))
    };
    super::pages::page(
        "profiling",
        "pprof",
        &format!(
            "<ul><li><a href=\"/debug/pprof/profile?seconds=10\">profile?seconds=10</a>: CPU profile, \
gzipped pprof protobuf (<code>go tool pprof http://HOST/debug/pprof/profile?seconds=30</code>); at most \
{MAX_SECONDS} s</li><li><a href=\"/debug/pprof/flamegraph?seconds=5\">flamegraph?seconds=5</a>: the same \
as an SVG flame graph</li>{heap}</ul>"
        ),
    )
}

/// Samples the CPU for `secs` seconds on a blocking thread (the profiler guard must stay on one
/// thread) and returns the report.
async fn sample(secs: u64) -> Result<pprof::Report, Response> {
    let Ok(_busy) = CPU_BUSY.try_lock() else {
        return Err(text(
            StatusCode::CONFLICT,
            "a CPU profile is already being taken; try again when it is done".into(),
        ));
    };
    let r = tokio::task::spawn_blocking(move || {
        let guard = pprof::ProfilerGuardBuilder::default()
            .frequency(FREQUENCY)
            .blocklist(&["libc", "libgcc", "pthread", "vdso"])
            .build()?;
        std::thread::sleep(Duration::from_secs(secs));
        guard.report().build()
    })
    .await;
    match r {
        Ok(Ok(report)) => Ok(report),
        Ok(Err(e)) => Err(text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("CPU profiler: {e}"),
        )),
        Err(e) => Err(text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("CPU profiler task: {e}"),
        )),
    }
}

pub async fn profile(Query(p): Query<ProfileParams>) -> Response {
    let secs = match seconds(&p) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let report = match sample(secs).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let encoded = report.pprof().map_err(|e| e.to_string()).and_then(|p| {
        use pprof::protos::Message;
        p.write_to_bytes().map_err(|e| e.to_string())
    });
    let raw = match encoded {
        Ok(b) => b,
        Err(e) => {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("encoding the profile: {e}"),
            );
        }
    };
    // Gzipped, as Go's own /debug/pprof/profile serves it.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let body = gz.write_all(&raw).and_then(|()| gz.finish());
    match body {
        Ok(b) => (
            [
                (header::CONTENT_TYPE, "application/octet-stream"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"profile.pb.gz\"",
                ),
            ],
            b,
        )
            .into_response(),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("gzip: {e}")),
    }
}

pub async fn flamegraph(Query(p): Query<ProfileParams>) -> Response {
    let secs = match seconds(&p) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let report = match sample(secs).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    if report.data.is_empty() {
        // The flame graph renderer writes nothing for no samples; say why instead.
        let svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"60\">\
<text x=\"10\" y=\"35\" font-family=\"sans-serif\" font-size=\"16\">No CPU samples in {secs} s: \
the process was idle.</text></svg>"
        );
        return ([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response();
    }
    let mut svg = Vec::new();
    if let Err(e) = report.flamegraph(&mut svg) {
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("rendering the flame graph: {e}"),
        );
    }
    ([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response()
}

#[cfg(all(target_os = "linux", not(target_env = "msvc")))]
const HEAP_UNAVAILABLE: &str = "jemalloc profiling is not active in this process";
#[cfg(not(all(target_os = "linux", not(target_env = "msvc"))))]
const HEAP_UNAVAILABLE: &str = "heap profiles need jemalloc, which this build uses on Linux only";

#[cfg(all(target_os = "linux", not(target_env = "msvc")))]
fn heap_available() -> bool {
    jemalloc_pprof::PROF_CTL.is_some()
}

#[cfg(not(all(target_os = "linux", not(target_env = "msvc"))))]
fn heap_available() -> bool {
    false
}

#[cfg(all(target_os = "linux", not(target_env = "msvc")))]
pub async fn heap() -> Response {
    let Some(ctl) = jemalloc_pprof::PROF_CTL.as_ref() else {
        return text(StatusCode::NOT_IMPLEMENTED, HEAP_UNAVAILABLE.into());
    };
    let mut ctl = ctl.lock().await;
    if !ctl.activated() {
        return text(StatusCode::NOT_IMPLEMENTED, HEAP_UNAVAILABLE.into());
    }
    // Dumping writes a small temporary file and parses it (milliseconds).
    match ctl.dump_pprof() {
        Ok(b) => (
            [
                (header::CONTENT_TYPE, "application/octet-stream"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"heap.pb.gz\"",
                ),
            ],
            b,
        )
            .into_response(),
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("heap profile: {e:#}"),
        ),
    }
}

#[cfg(not(all(target_os = "linux", not(target_env = "msvc"))))]
pub async fn heap() -> Response {
    text(StatusCode::NOT_IMPLEMENTED, HEAP_UNAVAILABLE.into())
}
