//! The bounded in-memory store of A/B comparisons: the latest mismatches with both answers, and
//! counts grouped by index and by `X-Opaque-Id` (Kibana sets one per panel).

use super::Diff;
use crate::config::Backend;
use parking_lot::Mutex;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Mismatches kept with their answers.
pub const KEPT: usize = 200;
/// Bytes of each body kept with a mismatch.
pub const BODY_KEPT: usize = 64 * 1024;
/// Groups (index × opaque id) counted; later ones are counted under `(other)`.
const MAX_GROUPS: usize = 1000;

#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub status: u16,
    pub millis: f64,
    pub body: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub id: u64,
    pub at: String,
    /// The request's id in the debug UI's ring.
    pub request_id: Option<u64>,
    pub method: String,
    pub path: String,
    pub index: String,
    pub opaque_id: Option<String>,
    pub primary: Backend,
    pub request_body: String,
    pub elasticsearch: Side,
    pub clickhouse: Side,
    pub diffs: Vec<Diff>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Group {
    pub compared: u64,
    pub mismatched: u64,
    /// The latest mismatch of the group, while it is kept.
    pub last_mismatch: Option<u64>,
}

#[derive(Default)]
pub struct Store {
    next: AtomicU64,
    pub compared: AtomicU64,
    pub mismatched: AtomicU64,
    items: Mutex<VecDeque<Arc<Comparison>>>,
    groups: Mutex<BTreeMap<(String, String), Group>>,
}

pub fn truncate(b: &[u8]) -> String {
    let cut = &b[..b.len().min(BODY_KEPT)];
    String::from_utf8_lossy(cut).into_owned()
}

/// The longest prefix of `s` of at most `n` bytes that ends on a character boundary.
pub fn truncate_to(s: &str, n: usize) -> &str {
    let mut end = n.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl Store {
    /// Records one comparison; a mismatch keeps its answers. Returns the kept mismatch (with its
    /// id).
    pub fn record(&self, mut c: Comparison) -> Option<Arc<Comparison>> {
        self.compared.fetch_add(1, Ordering::Relaxed);
        let mismatch = !c.diffs.is_empty();
        let id = mismatch.then(|| self.next.fetch_add(1, Ordering::Relaxed) + 1);
        {
            let mut g = self.groups.lock();
            let key = (c.index.clone(), c.opaque_id.clone().unwrap_or_default());
            let key = if g.contains_key(&key) || g.len() < MAX_GROUPS {
                key
            } else {
                ("(other)".into(), String::new())
            };
            let e = g.entry(key).or_default();
            e.compared += 1;
            if let Some(id) = id {
                e.mismatched += 1;
                e.last_mismatch = Some(id);
            }
        }
        let id = id?;
        self.mismatched.fetch_add(1, Ordering::Relaxed);
        c.id = id;
        let c = Arc::new(c);
        let mut items = self.items.lock();
        if items.len() == KEPT {
            items.pop_front();
        }
        items.push_back(c.clone());
        Some(c)
    }

    /// Kept mismatches, newest first.
    pub fn mismatches(&self) -> Vec<Arc<Comparison>> {
        self.items.lock().iter().rev().cloned().collect()
    }

    pub fn get(&self, id: u64) -> Option<Arc<Comparison>> {
        self.items.lock().iter().find(|c| c.id == id).cloned()
    }

    pub fn groups(&self) -> BTreeMap<(String, String), Group> {
        self.groups.lock().clone()
    }
}
