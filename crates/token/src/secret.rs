//! Secret key types: the server's standard API key and minted ephemeral keys, which never print themselves.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// The server's standard OpenAI API key (`sk-…`).
///
/// `Debug` prints `[redacted]` and there is no `Display`, so the key cannot reach a log line, an error
/// message or a response by accident; only this crate reads it, to build the `Authorization` header.
#[derive(Clone)]
pub struct ApiKey(SecretString);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(SecretString::from(key.into()))
    }

    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Whether `given` is this key, compared without stopping at the first difference.
    pub fn is(&self, given: &str) -> bool {
        let own = self.expose().as_bytes();
        own.len() == given.len()
            && own
                .iter()
                .zip(given.as_bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

/// A minted ephemeral key (`ek_…`), valid until its `expires_at`.
///
/// Its only legitimate destination is the one response that hands it to the browser; everything else
/// (the event store, logs) should keep its [`KeyFingerprint`] instead.
#[derive(Clone)]
pub struct EphemeralKey(SecretString);

impl EphemeralKey {
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    /// The key itself. Named like `secrecy`'s accessor so every use is easy to find in review.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    pub fn fingerprint(&self) -> KeyFingerprint {
        KeyFingerprint::of(self.expose_secret())
    }
}

impl fmt::Debug for EphemeralKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EphemeralKey({})", self.fingerprint())
    }
}

/// A short, non-reversible name for a key: its prefix (`ek_`, `sk-`) and the first hex digits of its
/// SHA-256, e.g. `ek_…3f9a1c2b7d4e`.
///
/// Enough to tell keys apart in the recorder and in logs, useless for calling the API: 48 bits of a
/// hash of a 128-bit random value reveal nothing usable about it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct KeyFingerprint(String);

impl KeyFingerprint {
    const HEX_DIGITS: usize = 12;

    pub fn of(key: &str) -> Self {
        let digest = Sha256::digest(key.as_bytes());
        let hex: String = digest
            .iter()
            .take(Self::HEX_DIGITS / 2)
            .map(|b| format!("{b:02x}"))
            .collect();
        Self(format!("{}…{hex}", key_prefix(key)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The non-secret kind marker at the start of a key (`ek_`, `sk-`, `sk-proj-`), if it has one.
///
/// Only short, lowercase ASCII runs count, so a key without a marker contributes nothing of itself.
fn key_prefix(key: &str) -> &str {
    let mut end = 0;
    for (i, c) in key.char_indices().take(9) {
        match c {
            '_' | '-' if i > 0 => end = i + 1,
            c if c.is_ascii_lowercase() => {}
            _ => break,
        }
    }
    &key[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_keeps_the_prefix_and_hides_the_rest() {
        let key = "ek_68af296e8e408191a1120ab6383263c2";
        let fp = KeyFingerprint::of(key);
        assert!(fp.as_str().starts_with("ek_…"), "{fp}");
        assert_eq!(fp.as_str().chars().count(), "ek_…".chars().count() + 12);
        assert!(!fp.as_str().contains("68af296e"));
        assert_eq!(fp, KeyFingerprint::of(key), "deterministic");
        assert_ne!(
            fp,
            KeyFingerprint::of("ek_68af296e8e408191a1120ab6383263c3")
        );
    }

    #[test]
    fn prefixes() {
        assert_eq!(key_prefix("sk-proj-abc"), "sk-proj-");
        assert_eq!(key_prefix("sk-abc"), "sk-");
        assert_eq!(key_prefix("ABCDEF"), "");
        assert_eq!(key_prefix("_abc"), "");
        assert_eq!(key_prefix("abcdefghijklmnop"), "");
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = ApiKey::new("sk-canary-0123456789");
        assert!(!format!("{key:?}").contains("canary"));
        let ek = EphemeralKey::new("ek_canary0123456789");
        assert!(!format!("{ek:?}").contains("canary"));
    }
}
