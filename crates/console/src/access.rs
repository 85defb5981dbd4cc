//! The access secret that guards a console listening on a non-loopback address, and the browser sessions it
//! opens.
//!
//! Only a keyed digest of the secret is kept. A browser that opens `/?access=<secret>` gets a cookie with a
//! random value of its own (the server keeps its digest), so a cookie says nothing about the secret, and a
//! restart of the server revokes every cookie without changing the secret.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// The name of the cookie set by opening `/?access=<secret>` once.
pub const COOKIE: &str = "console_access";

#[derive(Clone)]
pub struct AccessSecret {
    digest: String,
    chars: usize,
}

impl AccessSecret {
    /// Shorter secrets are refused at start-up: the secret is all that stands between the network and the
    /// server's OpenAI key.
    pub const MIN_LEN: usize = 16;

    pub fn new(secret: &str) -> Self {
        let secret = secret.trim();
        Self {
            digest: digest(secret),
            chars: secret.chars().count(),
        }
    }

    pub fn long_enough(&self) -> bool {
        self.chars >= Self::MIN_LEN
    }

    /// Whether `given` is the secret (from `Authorization: Bearer` or `?access=`).
    pub fn is_secret(&self, given: &str) -> bool {
        constant_time_eq(digest(given.trim()).as_bytes(), self.digest.as_bytes())
    }
}

/// The cookies issued to browsers that opened `/?access=<secret>`, as digests, newest last. In memory: a
/// restart of the server ends them all (open `/?access=` again).
#[derive(Default)]
pub struct AccessSessions {
    issued: Mutex<Issued>,
}

/// Digests of the cookies issued: a set to look them up, and their order to forget the oldest.
#[derive(Default)]
struct Issued {
    digests: HashSet<[u8; 32]>,
    order: VecDeque<[u8; 32]>,
}

impl AccessSessions {
    /// Cookies kept at once; the oldest is forgotten beyond this.
    const MAX: usize = 4096;

    /// A new cookie value: 244 random bits (two v4 UUIDs, from the OS's generator).
    pub fn issue(&self) -> String {
        let token = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let key = token_digest(&token);
        let mut issued = self.issued.lock().unwrap_or_else(|e| e.into_inner());
        if issued.digests.insert(key) {
            issued.order.push_back(key);
        }
        while issued.order.len() > Self::MAX {
            if let Some(old) = issued.order.pop_front() {
                issued.digests.remove(&old);
            }
        }
        token
    }

    /// Whether `given` is a cookie this server issued.
    pub fn is_valid(&self, given: &str) -> bool {
        let key = token_digest(given);
        let issued = self.issued.lock().unwrap_or_else(|e| e.into_inner());
        issued.digests.contains(&key)
    }
}

fn token_digest(token: &str) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(b"realtime-console access session v2\0");
    hash.update(token.as_bytes());
    hash.finalize().into()
}

impl fmt::Debug for AccessSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessSecret([redacted])")
    }
}

fn digest(secret: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(b"realtime-console access cookie v1\0");
    hash.update(secret.as_bytes());
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares without stopping at the first difference, so response time says nothing about the secret.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_secret_only() {
        let s = AccessSecret::new("correct horse battery staple");
        assert!(s.long_enough());
        assert!(s.is_secret("correct horse battery staple"));
        assert!(!s.is_secret("correct horse battery stapl"));
        assert!(!format!("{s:?}").contains("horse"));
        assert!(!AccessSecret::new("   short   ").long_enough());
    }

    #[test]
    fn cookies_are_random_and_only_issued_ones_count() {
        let sessions = AccessSessions::default();
        let a = sessions.issue();
        let b = sessions.issue();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert!(sessions.is_valid(&a) && sessions.is_valid(&b));
        assert!(!sessions.is_valid("0".repeat(64).as_str()));
        assert!(
            !AccessSessions::default().is_valid(&a),
            "another server (a restart) knows none"
        );
        let first = sessions.issue();
        for _ in 0..AccessSessions::MAX {
            sessions.issue();
        }
        assert!(
            !sessions.is_valid(&first),
            "the oldest is forgotten beyond the bound"
        );
    }
}
