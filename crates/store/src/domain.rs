//! Domain types of the store, parsed at the edge: once a value has one of these types it is valid.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A console session's id: a UUIDv7, so ids sort by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(uuid::Uuid);

impl SessionId {
    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7())
    }

    /// The id's 16 bytes, for the intake log.
    pub(crate) fn to_bytes(self) -> [u8; 16] {
        *self.0.as_bytes()
    }

    pub(crate) fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(uuid::Uuid::from_bytes(bytes))
    }

    /// Accepts the hyphenated form only, which is what this server hands out.
    pub fn parse(s: &str) -> Option<Self> {
        if s.len() != 36 {
            return None;
        }
        uuid::Uuid::try_parse(s).ok().map(Self)
    }
}

impl Default for SessionId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl Serialize for SessionId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Who sent an event: the browser (`client`), the Realtime API (`server`) or the console itself (`system`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Client,
    Server,
    System,
}

impl Direction {
    pub const ALL: [Direction; 3] = [Direction::Client, Direction::Server, Direction::System];

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Client => "client",
            Direction::Server => "server",
            Direction::System => "system",
        }
    }
}

impl FromStr for Direction {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Direction::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or(())
    }
}

/// Largest single event accepted (bytes of its JSON).
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

/// Why one element of a batch (or one line of an import) is not a valid event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The offending field relative to the element, e.g. `direction` or `event.type`.
    pub field: &'static str,
    pub message: String,
    pub kind: FieldErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldErrorKind {
    Missing,
    Invalid,
    Unknown,
    TooLarge,
}

impl FieldError {
    fn new(kind: FieldErrorKind, field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
            kind,
        }
    }
}

/// One event as the browser sends it, validated. `event` keeps the exact bytes received.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub seq: i64,
    pub ts: f64,
    pub direction: Direction,
    pub event_type: String,
    pub event: Box<RawValue>,
}

#[derive(Deserialize)]
struct TypeOnly {
    #[serde(rename = "type")]
    event_type: Option<serde_json::Value>,
}

impl NewEvent {
    /// Parses `{"seq","ts","direction","event"}`. Every field is required; unknown fields are refused so a
    /// typo in a client does not silently drop data.
    pub fn parse(element: &RawValue) -> Result<Self, FieldError> {
        use FieldErrorKind::*;
        let mut fields: std::collections::BTreeMap<String, &RawValue> =
            serde_json::from_str(element.get())
                .map_err(|_| FieldError::new(Invalid, "", "each event must be a JSON object"))?;
        let mut take = |name: &str| fields.remove(name);
        let (seq, ts, direction, event) =
            (take("seq"), take("ts"), take("direction"), take("event"));
        if let Some(name) = fields.keys().next() {
            return Err(FieldError::new(
                Unknown,
                "",
                format!(
                    "unknown field `{name}`; an event has `seq`, `ts`, `direction` and `event`"
                ),
            ));
        }
        let seq = seq.ok_or_else(|| FieldError::new(Missing, "seq", "missing `seq`"))?;
        let seq = seq
            .get()
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| FieldError::new(Invalid, "seq", "`seq` must be an integer >= 1"))?;
        let ts = ts.ok_or_else(|| FieldError::new(Missing, "ts", "missing `ts`"))?;
        let ts = serde_json::from_str::<f64>(ts.get())
            .ok()
            .filter(|t| t.is_finite())
            .ok_or_else(|| FieldError::new(Invalid, "ts", "`ts` must be a number (ms)"))?;
        let direction = direction
            .ok_or_else(|| FieldError::new(Missing, "direction", "missing `direction`"))?;
        let direction = serde_json::from_str::<String>(direction.get())
            .ok()
            .and_then(|d| d.parse::<Direction>().ok())
            .ok_or_else(|| {
                FieldError::new(
                    Invalid,
                    "direction",
                    "`direction` must be one of `client`, `server`, `system`",
                )
            })?;
        let event = event.ok_or_else(|| FieldError::new(Missing, "event", "missing `event`"))?;
        if event.get().len() > MAX_EVENT_BYTES {
            return Err(FieldError::new(
                TooLarge,
                "event",
                format!("an event may be at most {MAX_EVENT_BYTES} bytes"),
            ));
        }
        let event_type = match serde_json::from_str::<TypeOnly>(event.get()) {
            Err(_) => {
                return Err(FieldError::new(
                    Invalid,
                    "event",
                    "`event` must be a JSON object",
                ));
            }
            Ok(TypeOnly { event_type: None }) => {
                return Err(FieldError::new(
                    Missing,
                    "event.type",
                    "`event` has no `type`",
                ));
            }
            Ok(TypeOnly {
                event_type: Some(serde_json::Value::String(t)),
            }) => t,
            Ok(_) => {
                return Err(FieldError::new(
                    Invalid,
                    "event.type",
                    "`event.type` must be a string",
                ));
            }
        };
        Ok(Self {
            seq,
            ts,
            direction,
            event_type,
            event: event.to_owned(),
        })
    }

    /// The same content as `other`: a resend of this event, not a conflicting one.
    pub fn same_content(&self, ts: f64, direction: Direction, event: &str) -> bool {
        self.ts == ts && self.direction == direction && self.event.get() == event
    }
}

/// Token usage of `response.done` events, summed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub total_tokens: i64,
    pub cached_tokens: i64,
    pub input_text_tokens: i64,
    pub input_audio_tokens: i64,
    pub output_text_tokens: i64,
    pub output_audio_tokens: i64,
}

impl Usage {
    /// Reads `response.usage` of a `response.done` event; absent fields count as zero.
    pub fn from_response_done(event: &str) -> Self {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(event) else {
            return Self::default();
        };
        let u = &v["response"]["usage"];
        let n = |x: &serde_json::Value| x.as_i64().unwrap_or(0);
        Self {
            input_tokens: n(&u["input_tokens"]),
            output_tokens: n(&u["output_tokens"]),
            total_tokens: n(&u["total_tokens"]),
            cached_tokens: n(&u["input_token_details"]["cached_tokens"]),
            input_text_tokens: n(&u["input_token_details"]["text_tokens"]),
            input_audio_tokens: n(&u["input_token_details"]["audio_tokens"]),
            output_text_tokens: n(&u["output_token_details"]["text_tokens"]),
            output_audio_tokens: n(&u["output_token_details"]["audio_tokens"]),
        }
    }

    pub fn add(&mut self, o: &Usage) {
        self.input_tokens += o.input_tokens;
        self.output_tokens += o.output_tokens;
        self.total_tokens += o.total_tokens;
        self.cached_tokens += o.cached_tokens;
        self.input_text_tokens += o.input_text_tokens;
        self.input_audio_tokens += o.input_audio_tokens;
        self.output_text_tokens += o.output_text_tokens;
        self.output_audio_tokens += o.output_audio_tokens;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    #[test]
    fn session_id_round_trips_and_sorts_by_time() {
        let a = SessionId::new();
        let b = SessionId::new();
        assert!(a < b);
        assert_eq!(SessionId::parse(&a.to_string()), Some(a));
        assert_eq!(SessionId::parse("nope"), None);
        assert_eq!(SessionId::parse(&a.to_string().replace('-', "")), None);
    }

    #[test]
    fn parses_a_valid_event_keeping_its_bytes() {
        let e = NewEvent::parse(&raw(
            r#"{"seq":3,"ts":1.5,"direction":"server","event":{"type":"x",  "a":1}}"#,
        ))
        .unwrap();
        assert_eq!((e.seq, e.ts, e.direction), (3, 1.5, Direction::Server));
        assert_eq!(e.event_type, "x");
        assert_eq!(e.event.get(), r#"{"type":"x",  "a":1}"#);
    }

    #[test]
    fn names_the_bad_field() {
        let cases = [
            (
                r#"{"ts":1,"direction":"client","event":{"type":"x"}}"#,
                "seq",
            ),
            (
                r#"{"seq":0,"ts":1,"direction":"client","event":{"type":"x"}}"#,
                "seq",
            ),
            (
                r#"{"seq":1.5,"ts":1,"direction":"client","event":{"type":"x"}}"#,
                "seq",
            ),
            (
                r#"{"seq":1,"ts":"1","direction":"client","event":{"type":"x"}}"#,
                "ts",
            ),
            (
                r#"{"seq":1,"ts":1,"direction":"up","event":{"type":"x"}}"#,
                "direction",
            ),
            (
                r#"{"seq":1,"ts":1,"direction":"client","event":[]}"#,
                "event",
            ),
            (
                r#"{"seq":1,"ts":1,"direction":"client","event":{"a":1}}"#,
                "event.type",
            ),
            (
                r#"{"seq":1,"ts":1,"direction":"client","event":{"type":7}}"#,
                "event.type",
            ),
            (
                r#"{"seq":1,"ts":1,"direction":"client","event":{"type":"x"},"extra":1}"#,
                "",
            ),
        ];
        for (input, field) in cases {
            let err = NewEvent::parse(&raw(input)).unwrap_err();
            assert_eq!(err.field, field, "{input}: {err:?}");
        }
    }

    #[test]
    fn sums_usage_from_response_done() {
        let mut total = Usage::default();
        let ev = r#"{"type":"response.done","response":{"usage":{"total_tokens":30,"input_tokens":10,"output_tokens":20,
            "input_token_details":{"cached_tokens":4,"text_tokens":6,"audio_tokens":4},
            "output_token_details":{"text_tokens":5,"audio_tokens":15}}}}"#;
        total.add(&Usage::from_response_done(ev));
        total.add(&Usage::from_response_done(ev));
        assert_eq!(total.total_tokens, 60);
        assert_eq!(total.cached_tokens, 8);
        assert_eq!(total.output_audio_tokens, 30);
        assert_eq!(
            Usage::from_response_done(r#"{"type":"response.done"}"#),
            Usage::default()
        );
    }
}
