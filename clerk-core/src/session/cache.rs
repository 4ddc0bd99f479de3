//! The verified-token cache: sessions by the SHA-256 digest of their token,
//! with a small table of recently reused tokens in front.
//!
//! * **Main cache** (quick_cache, bounded, S3-FIFO eviction): keyed by the
//!   token's SHA-256 digest. 32 bytes are cheap to hash and compare and
//!   small to keep (a token is ~1 KB), and the digest binds every byte of
//!   the token: two tokens share an entry only if they are the same token.
//!   Never a non-cryptographic hash alone: a collision there would hand one
//!   user's session to another. quick_cache rather than moka (used for the
//!   Backend API caches): a miss here is on the path of every new token,
//!   and its insert and eviction cost a fraction of moka's (measured in
//!   `benches/verify.rs`, `distinct_tokens_*`). It has no time-to-live:
//!   entries leave by eviction, and every hit is checked against `exp`.
//! * **Recent table** (`RECENT_SLOTS` slots): tokens seen again after they
//!   were cached, kept whole, so a burst of requests with one token (a page
//!   and its API calls, a keep-alive client) skips the digest. A hit needs
//!   the whole presented token to equal the kept one; the slot is picked
//!   from the token's last bytes, which decides only where to look. Only a
//!   token found in the main cache is admitted, so a flood of one-off tokens
//!   never churns it.
//!
//! Callers still check `exp`/`nbf` on every hit.

use crate::session::Session;
use std::sync::{Arc, RwLock};

/// The SHA-256 digest of a token.
pub(crate) type TokenKey = [u8; 32];

/// How many recently reused tokens are kept whole (at most ~130 KB).
const RECENT_SLOTS: usize = 128;

type Main = quick_cache::sync::Cache<
    TokenKey,
    Arc<Session>,
    quick_cache::UnitWeighter,
    foldhash::fast::RandomState,
>;

struct Recent {
    token: Box<str>,
    session: Arc<Session>,
}

pub(crate) struct TokenCache {
    main: Main,
    recent: Box<[RwLock<Option<Recent>>]>,
}

/// The SHA-256 digest of `token`.
pub(crate) fn token_key(token: &str) -> TokenKey {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut key = [0; 32];
    key.copy_from_slice(digest.as_ref());
    key
}

/// The recent-table slot for `token`: its last 8 bytes (signature bytes
/// for a JWS), mixed. Where to look, never whether it matches.
fn slot(token: &str) -> usize {
    let bytes = token.as_bytes();
    let tail = bytes
        .get(bytes.len().saturating_sub(8)..)
        .unwrap_or_default();
    let x = tail.iter().fold(0u64, |x, &b| x << 8 | u64::from(b));
    // RECENT_SLOTS is a power of two: the top bits of a multiplicative mix.
    (x.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - RECENT_SLOTS.trailing_zeros())) as usize
}

impl TokenCache {
    /// A cache of at most `capacity` sessions.
    pub(crate) fn new(capacity: u64) -> Self {
        // The table grows as it fills: preallocate for a modest start only.
        let estimate = usize::try_from(capacity.min(4_096)).unwrap_or(4_096);
        Self {
            main: Main::with(
                estimate,
                capacity,
                quick_cache::UnitWeighter,
                foldhash::fast::RandomState::default(),
                quick_cache::sync::DefaultLifecycle::default(),
            ),
            recent: (0..RECENT_SLOTS).map(|_| RwLock::new(None)).collect(),
        }
    }

    /// The session cached for exactly `token`, or on a miss the token's
    /// digest (for [`TokenCache::insert`]).
    pub(crate) fn get(&self, token: &str) -> Result<Arc<Session>, TokenKey> {
        let slot = &self.recent[slot(token)];
        if let Ok(recent) = slot.read()
            && let Some(r) = &*recent
            && *r.token == *token
        {
            return Ok(r.session.clone());
        }
        let key = token_key(token);
        match self.main.get(&key) {
            Some(session) => {
                // Seen again: keep it whole for the next request.
                if let Ok(mut recent) = slot.write() {
                    *recent = Some(Recent {
                        token: token.into(),
                        session: session.clone(),
                    });
                }
                Ok(session)
            }
            None => Err(key),
        }
    }

    /// Caches `session` for the token whose digest is `key`.
    pub(crate) fn insert(&self, key: TokenKey, session: Arc<Session>) {
        self.main.insert(key, session);
    }

    /// Forgets every token (a key they may have been signed with is gone).
    pub(crate) fn clear(&self) {
        self.main.clear();
        for slot in &self.recent {
            if let Ok(mut recent) = slot.write() {
                *recent = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn session(sub: &str) -> Arc<Session> {
        let payload = json!({"sub": sub, "sid": "sess_1", "exp": 2_000_000_000});
        Arc::new(Session::from_payload(payload.as_object().unwrap().clone()).unwrap())
    }

    fn cache() -> TokenCache {
        TokenCache::new(100)
    }

    /// Hostile table: tokens that share a recent slot, a prefix, a length
    /// or all but one byte with a cached token never get its session.
    #[test]
    fn only_the_exact_token_hits() {
        let c = cache();
        let token = "aaaa.bbbb.signature-0001";
        let Err(key) = c.get(token) else {
            panic!("empty cache")
        };
        c.insert(key, session("user_1"));
        for _ in 0..2 {
            // The first hit promotes it into the recent table, the second
            // is served from there.
            assert_eq!(c.get(token).unwrap().user_id(), "user_1");
        }
        for other in [
            "aaaa.bbbx.signature-0001", // same slot (same tail), one byte off
            "Xaaa.bbbb.signature-0001",
            "aaaa.bbbb.signature-0001 ",
            "aaaa.bbbb.signature-000",
            "aaaa.bbbb.signature-0001aaaa.bbbb.signature-0001",
            "",
            "a",
            ".signature-0001",
        ] {
            assert!(c.get(other).is_err(), "{other:?}");
        }
        assert_eq!(slot("aaaa.bbbx.signature-0001"), slot(token));
    }

    #[test]
    fn a_slot_holds_the_newest_reused_token_and_clear_forgets_both_tables() {
        let c = cache();
        let (a, b) = ("x.y.same-tail", "z.w.same-tail");
        assert_eq!(slot(a), slot(b));
        for (t, sub) in [(a, "user_a"), (b, "user_b")] {
            let Err(key) = c.get(t) else { panic!() };
            c.insert(key, session(sub));
        }
        for _ in 0..3 {
            assert_eq!(c.get(a).unwrap().user_id(), "user_a");
            assert_eq!(c.get(b).unwrap().user_id(), "user_b");
        }
        c.clear();
        assert!(c.get(a).is_err() && c.get(b).is_err());
    }

    #[test]
    fn the_key_is_the_sha256_of_the_whole_token() {
        assert_eq!(
            token_key("abc")[..4],
            [0xba, 0x78, 0x16, 0xbf],
            "SHA-256(\"abc\") begins ba7816bf"
        );
        assert_ne!(token_key("a.b.c"), token_key("a.b.d"));
    }
}
