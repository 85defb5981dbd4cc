//! The `rtc_…` id of a WebRTC call, parsed from the `Location` header of `POST /realtime/calls`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A call id such as `rtc_u1_9c6574da8b8a41a18da9308f4ad974ce`.
///
/// Parsed, not trusted: it goes into a URL path (`/realtime/calls/{id}/hangup`), so only the
/// characters ids are made of are accepted.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CallId(String);

impl CallId {
    const MAX_LEN: usize = 128;

    pub fn parse(id: &str) -> Result<Self> {
        let valid = id.starts_with("rtc_")
            && id.len() > "rtc_".len()
            && id.len() <= Self::MAX_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if valid {
            Ok(Self(id.to_owned()))
        } else {
            Err(Error::InvalidInput {
                reason: "a call id is `rtc_` followed by letters, digits, `_` or `-`".to_owned(),
                param: "call_id",
            })
        }
    }

    /// The id from a `Location` header: its last path segment (PROTOCOL §3.3; OpenAI's own clients
    /// take the last `/`-segment too). Absolute and relative URLs both work.
    pub fn from_location(location: &str) -> Option<Self> {
        let path = location.split(['?', '#']).next().unwrap_or_default();
        let last = path.trim_end_matches('/').rsplit('/').next()?;
        Self::parse(last).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for CallId {
    type Error = Error;

    fn try_from(value: String) -> Result<Self> {
        Self::parse(&value)
    }
}

impl From<CallId> for String {
    fn from(id: CallId) -> Self {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_locations() {
        let id = "rtc_u1_9c6574da8b8a41a18da9308f4ad974ce";
        for location in [
            format!("/v1/realtime/calls/{id}"),
            format!("https://api.openai.com/v1/realtime/calls/{id}"),
            format!("/v1/realtime/calls/{id}/"),
            format!("/v1/realtime/calls/{id}?x=1"),
            id.to_owned(),
        ] {
            assert_eq!(
                CallId::from_location(&location)
                    .map(String::from)
                    .as_deref(),
                Some(id),
                "{location}"
            );
        }
    }

    #[test]
    fn rejects_odd_locations() {
        for location in [
            "",
            "/",
            "/v1/realtime/calls",
            "/v1/realtime/calls/sess_123",
            "/v1/realtime/calls/rtc_",
            "/v1/realtime/calls/rtc_a%2F..",
        ] {
            assert_eq!(CallId::from_location(location), None, "{location}");
        }
    }

    #[test]
    fn parse_rejects_path_tricks() {
        assert!(CallId::parse("rtc_abc/../../x").is_err());
        assert!(CallId::parse("rtc_abc def").is_err());
        assert!(CallId::parse("rtc_abc_DEF-1").is_ok());
    }
}
