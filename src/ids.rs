//! Document ids and index uuids, generated like Elasticsearch generates them.
//!
//! Elasticsearch's auto-generated `_id` is 15 bytes of a time-based UUID encoded as URL-safe base64
//! without padding: 20 characters (server/src/main/java/org/elasticsearch/common/TimeBasedUUIDGenerator.java).
//! The layout below follows the same idea — a millisecond timestamp, a sequence number and a
//! per-process random "node" part — so ids are unique, roughly time-ordered and share prefixes, which
//! compresses and sorts well in ClickHouse's primary key. Written by hand: it is 30 lines and no crate
//! produces this exact 20-character shape.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

static SEQUENCE: AtomicU64 = AtomicU64::new(0);
static LAST_MILLIS: AtomicU64 = AtomicU64::new(0);
static NODE: OnceLock<[u8; 6]> = OnceLock::new();

fn node() -> &'static [u8; 6] {
    NODE.get_or_init(rand::random)
}

/// A new 20-character URL-safe document id.
pub fn generate_id() -> String {
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed) & 0xff_ffff;
    let now = chrono::Utc::now().timestamp_millis().max(0) as u64;
    // Never go back in time (clock adjustments), as Elasticsearch does.
    let ts = LAST_MILLIS.fetch_max(now, Ordering::Relaxed).max(now);
    let mut b = [0u8; 15];
    // Sequence low byte first: consecutive ids differ early, spreading writes like ES does.
    b[0] = seq as u8;
    b[1] = (seq >> 16) as u8;
    // 6 bytes of timestamp, big-endian.
    b[2..8].copy_from_slice(&ts.to_be_bytes()[2..8]);
    b[8..14].copy_from_slice(node());
    b[14] = (seq >> 8) as u8;
    URL_SAFE_NO_PAD.encode(b)
}

/// A stable, index-specific uuid (22 characters, like Elasticsearch's index uuids), derived from the
/// index name so that every stateless daemon reports the same one.
pub fn index_uuid(index: &str) -> String {
    // FNV-1a over the name, twice with different seeds, gives 16 stable bytes.
    let mut out = [0u8; 16];
    for (half, seed) in [0xcbf29ce484222325u64, 0x84222325cbf29ce4]
        .iter()
        .enumerate()
    {
        let mut h = *seed;
        for b in index.as_bytes() {
            h ^= *b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
        out[half * 8..half * 8 + 8].copy_from_slice(&h.to_be_bytes());
    }
    URL_SAFE_NO_PAD.encode(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_20_url_safe_chars_and_unique() {
        // ES auto ids: 20 chars of URL-safe base64 (TimeBasedUUIDGenerator).
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let id = generate_id();
            assert_eq!(id.len(), 20);
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            );
            assert!(seen.insert(id));
        }
    }

    #[test]
    fn index_uuid_is_stable() {
        assert_eq!(index_uuid("logs"), index_uuid("logs"));
        assert_ne!(index_uuid("logs"), index_uuid("logs2"));
        assert_eq!(index_uuid("logs").len(), 22);
    }
}
