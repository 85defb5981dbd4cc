//! The access secret that guards a console listening on a non-loopback address.
//!
//! Only a keyed digest of the secret is kept. It is also the value of the `console_access` cookie, so the
//! cookie lets a browser in without the secret itself sitting in its cookie jar (or in a log of headers).

use std::fmt;

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

    /// What the `console_access` cookie holds.
    pub fn cookie_value(&self) -> &str {
        &self.digest
    }

    /// Whether `given` is the secret (from `Authorization: Bearer` or `?access=`).
    pub fn is_secret(&self, given: &str) -> bool {
        constant_time_eq(digest(given.trim()).as_bytes(), self.digest.as_bytes())
    }

    /// Whether `given` is the cookie value.
    pub fn is_cookie(&self, given: &str) -> bool {
        constant_time_eq(given.as_bytes(), self.digest.as_bytes())
    }
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
    fn recognises_the_secret_and_its_cookie_only() {
        let s = AccessSecret::new("correct horse battery staple");
        assert!(s.long_enough());
        assert!(s.is_secret("correct horse battery staple"));
        assert!(!s.is_secret("correct horse battery stapl"));
        assert!(s.is_cookie(s.cookie_value()));
        assert!(!s.is_cookie("correct horse battery staple"));
        assert!(!s.cookie_value().contains("horse"));
        assert!(!format!("{s:?}").contains("horse"));
        assert!(!AccessSecret::new("   short   ").long_enough());
    }
}
