//! What routing records for the debug UI: failed secondary writes of dual writes, and in
//! transparent-proxy mode the readiness report (per endpoint and index: counts, status, latency, and
//! the features the request bodies use that elastichouse does not support yet).

use crate::config::Backend;
use parking_lot::Mutex;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};

/// Secondary failures kept.
const FAILURES_KEPT: usize = 200;
/// (endpoint, index) pairs and (index, feature) pairs counted; later ones go under `(other)`.
const MAX_KEYS: usize = 2000;
/// Latency samples kept per (endpoint, index).
const SAMPLES: usize = 256;

#[derive(Debug, Clone, Serialize)]
pub struct SecondaryFailure {
    pub at: String,
    pub request_id: Option<u64>,
    pub method: String,
    pub path: String,
    pub backend: Backend,
    /// HTTP status of the secondary's answer (none when it could not be reached).
    pub status: Option<u16>,
    /// `http_error`, `item_errors` (a `_bulk` with `"errors":true`), `unreachable`.
    pub reason: String,
    pub detail: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct EndpointStats {
    pub count: u64,
    pub errors: u64,
    pub statuses: BTreeMap<u16, u64>,
    pub total_millis: f64,
    pub max_millis: f64,
    #[serde(skip)]
    samples: VecDeque<f64>,
}

impl EndpointStats {
    /// Nearest-rank percentile of the latest latencies.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        if self.samples.is_empty() {
            return None;
        }
        let mut s: Vec<f64> = self.samples.iter().copied().collect();
        s.sort_by(f64::total_cmp);
        let rank = ((p / 100.0) * s.len() as f64).ceil() as usize;
        Some(s[rank.clamp(1, s.len()) - 1])
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FeatureUse {
    pub count: u64,
    pub example_path: String,
    pub example_body: String,
    pub example_request: Option<u64>,
}

#[derive(Default)]
pub struct Records {
    failures: Mutex<VecDeque<SecondaryFailure>>,
    pub failures_total: std::sync::atomic::AtomicU64,
    endpoints: Mutex<BTreeMap<(String, String), EndpointStats>>,
    features: Mutex<BTreeMap<(String, String), FeatureUse>>,
    /// Requests whose bodies were analysed for readiness, per index.
    analysed: Mutex<BTreeMap<String, (u64, u64)>>,
}

fn capped<K: Ord + Clone, V: Default>(m: &mut BTreeMap<K, V>, key: K, other: K) -> &mut V {
    let key = if m.contains_key(&key) || m.len() < MAX_KEYS {
        key
    } else {
        other
    };
    m.entry(key).or_default()
}

impl Records {
    pub fn secondary_failure(&self, f: SecondaryFailure) {
        self.failures_total
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut l = self.failures.lock();
        if l.len() == FAILURES_KEPT {
            l.pop_front();
        }
        l.push_back(f);
    }

    /// Kept secondary failures, newest first.
    pub fn failures(&self) -> Vec<SecondaryFailure> {
        self.failures.lock().iter().rev().cloned().collect()
    }

    pub fn request(&self, endpoint: &str, index: &str, status: u16, millis: f64) {
        let mut m = self.endpoints.lock();
        let e = capped(
            &mut m,
            (endpoint.to_string(), index.to_string()),
            ("(other)".into(), "(other)".into()),
        );
        e.count += 1;
        if status >= 400 {
            e.errors += 1;
        }
        *e.statuses.entry(status).or_default() += 1;
        e.total_millis += millis;
        e.max_millis = e.max_millis.max(millis);
        if e.samples.len() == SAMPLES {
            e.samples.pop_front();
        }
        e.samples.push_back(millis);
    }

    /// One analysed request body of `index` and the unsupported features it uses.
    pub fn analysed(
        &self,
        index: &str,
        features: &[String],
        path: &str,
        body: &str,
        request: Option<u64>,
    ) {
        {
            let mut a = self.analysed.lock();
            let e = capped(&mut a, index.to_string(), "(other)".into());
            e.0 += 1;
            if !features.is_empty() {
                e.1 += 1;
            }
        }
        let mut m = self.features.lock();
        for f in features {
            let e = capped(
                &mut m,
                (index.to_string(), f.clone()),
                ("(other)".into(), "(other)".into()),
            );
            if e.count == 0 {
                e.example_path = path.to_string();
                e.example_body = body.chars().take(2048).collect();
                e.example_request = request;
            }
            e.count += 1;
        }
    }

    pub fn endpoints(&self) -> BTreeMap<(String, String), EndpointStats> {
        self.endpoints.lock().clone()
    }

    pub fn features(&self) -> BTreeMap<(String, String), FeatureUse> {
        self.features.lock().clone()
    }

    /// Per index: (request bodies analysed, of which using something unsupported).
    pub fn analysed_by_index(&self) -> BTreeMap<String, (u64, u64)> {
        self.analysed.lock().clone()
    }
}
