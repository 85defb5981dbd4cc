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
/// Longest event `type` accepted, in bytes. The API's longest is about 60.
pub const MAX_TYPE_BYTES: usize = 128;
/// The first seq of the server's own range: what the console records in a session after its opening event
/// (a hangup and its outcome) takes the next seq from here, so it never collides with a client's seqs.
pub const SERVER_SEQ_START: i64 = 1 << 50;
/// The largest seq a client may record: seqs 1..=this are the client's.
pub const MAX_CLIENT_SEQ: i64 = SERVER_SEQ_START - 1;
/// The largest seq an imported event may have: JSON numbers stay exact in a browser up to here.
pub const MAX_IMPORTED_SEQ: i64 = (1 << 53) - 1;
/// The largest token count one `response.done` may report in each `usage` field. Real responses report
/// thousands; the bound keeps a session's sums far from overflowing.
pub const MAX_USAGE_TOKENS: i64 = 1_000_000_000;

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
    /// Parses `{"seq","ts","direction","event"}` as a client records it: `seq` in 1..=[`MAX_CLIENT_SEQ`].
    /// Every field is required; unknown fields are refused so a typo in a client does not silently drop data.
    pub fn parse(element: &RawValue) -> Result<Self, FieldError> {
        Self::parse_in(element, MAX_CLIENT_SEQ)
    }

    /// [`NewEvent::parse`] for a line of an export being imported: its seqs may include the server's range.
    pub fn parse_exported(element: &RawValue) -> Result<Self, FieldError> {
        Self::parse_in(element, MAX_IMPORTED_SEQ)
    }

    /// An event the server records itself, at the next seq of its own range: the store assigns the seq
    /// ([`crate::Store::append_server_event`]). `event` must be an object with a string `type`.
    pub fn unsequenced(
        ts: f64,
        direction: Direction,
        event: &RawValue,
    ) -> Result<Self, FieldError> {
        let element = format!(
            r#"{{"seq":1,"ts":{ts},"direction":"{}","event":{}}}"#,
            direction.as_str(),
            event.get()
        );
        let element = RawValue::from_string(element).map_err(|_| {
            FieldError::new(
                FieldErrorKind::Invalid,
                "ts",
                "`ts` must be a finite number",
            )
        })?;
        let mut parsed = Self::parse_in(&element, MAX_CLIENT_SEQ)?;
        parsed.seq = 0;
        Ok(parsed)
    }

    /// An event the server records at a seq it numbers itself, in the client range (a relay that is the only
    /// writer of its session). `event` must be an object with a string `type`.
    pub fn sequenced(
        seq: i64,
        ts: f64,
        direction: Direction,
        event: &RawValue,
    ) -> Result<Self, FieldError> {
        let mut parsed = Self::unsequenced(ts, direction, event)?;
        if !(1..=MAX_CLIENT_SEQ).contains(&seq) {
            return Err(FieldError::new(
                FieldErrorKind::Invalid,
                "seq",
                format!("`seq` must be an integer from 1 to {MAX_CLIENT_SEQ}"),
            ));
        }
        parsed.seq = seq;
        Ok(parsed)
    }

    fn parse_in(element: &RawValue, max_seq: i64) -> Result<Self, FieldError> {
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
            .filter(|n| (1..=max_seq).contains(n))
            .ok_or_else(|| {
                let message = if max_seq == MAX_CLIENT_SEQ {
                    format!(
                        "`seq` must be an integer from 1 to {max_seq} (2^50 - 1; the seqs above are the server's)"
                    )
                } else {
                    format!("`seq` must be an integer from 1 to {max_seq}")
                };
                FieldError::new(Invalid, "seq", message)
            })?;
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
            }) if t.len() <= MAX_TYPE_BYTES => t,
            Ok(TypeOnly {
                event_type: Some(serde_json::Value::String(_)),
            }) => {
                return Err(FieldError::new(
                    Invalid,
                    "event.type",
                    format!("`event.type` may be at most {MAX_TYPE_BYTES} bytes"),
                ));
            }
            Ok(_) => {
                return Err(FieldError::new(
                    Invalid,
                    "event.type",
                    "`event.type` must be a string",
                ));
            }
        };
        if event_type == "response.done" {
            check_usage(event.get())?;
        }
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

/// The counts of `response.done` → `response.usage` the stats sum, each with where it sits in an event.
const USAGE_FIELDS: [(&str, Option<&str>, &str); 8] = [
    ("input_tokens", None, "event.response.usage.input_tokens"),
    ("output_tokens", None, "event.response.usage.output_tokens"),
    ("total_tokens", None, "event.response.usage.total_tokens"),
    (
        "cached_tokens",
        Some("input_token_details"),
        "event.response.usage.input_token_details.cached_tokens",
    ),
    (
        "text_tokens",
        Some("input_token_details"),
        "event.response.usage.input_token_details.text_tokens",
    ),
    (
        "audio_tokens",
        Some("input_token_details"),
        "event.response.usage.input_token_details.audio_tokens",
    ),
    (
        "text_tokens",
        Some("output_token_details"),
        "event.response.usage.output_token_details.text_tokens",
    ),
    (
        "audio_tokens",
        Some("output_token_details"),
        "event.response.usage.output_token_details.audio_tokens",
    ),
];

/// A `response.done`'s usage counts, where present (and not null), must be integers in
/// 0..=[`MAX_USAGE_TOKENS`]: they are summed into the session's stats.
fn check_usage(event: &str) -> Result<(), FieldError> {
    let v: serde_json::Value = serde_json::from_str(event)
        .map_err(|_| FieldError::new(FieldErrorKind::Invalid, "event", "`event` is not JSON"))?;
    let usage = &v["response"]["usage"];
    if usage.is_null() {
        return Ok(());
    }
    if !usage.is_object() {
        return Err(FieldError::new(
            FieldErrorKind::Invalid,
            "event.response.usage",
            "`response.usage` must be an object",
        ));
    }
    for (name, details, path) in USAGE_FIELDS {
        let value = match details {
            None => &usage[name],
            Some(d) => &usage[d][name],
        };
        let ok = value.is_null()
            || value
                .as_i64()
                .is_some_and(|n| (0..=MAX_USAGE_TOKENS).contains(&n));
        if !ok {
            return Err(FieldError::new(
                FieldErrorKind::Invalid,
                path,
                format!("`{path}` must be an integer from 0 to {MAX_USAGE_TOKENS}"),
            ));
        }
    }
    Ok(())
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
    /// Reads `response.usage` of a `response.done` event; absent fields count as zero. Values are checked
    /// at ingest; out-of-range ones (an intake log from before the check) are clamped.
    pub fn from_response_done(event: &str) -> Self {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(event) else {
            return Self::default();
        };
        let u = &v["response"]["usage"];
        let n = |x: &serde_json::Value| x.as_i64().unwrap_or(0).clamp(0, MAX_USAGE_TOKENS);
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

    /// Adds `o`, saturating at `i64::MAX` (a sum never wraps).
    pub fn add(&mut self, o: &Usage) {
        for (sum, n) in [
            (&mut self.input_tokens, o.input_tokens),
            (&mut self.output_tokens, o.output_tokens),
            (&mut self.total_tokens, o.total_tokens),
            (&mut self.cached_tokens, o.cached_tokens),
            (&mut self.input_text_tokens, o.input_text_tokens),
            (&mut self.input_audio_tokens, o.input_audio_tokens),
            (&mut self.output_text_tokens, o.output_text_tokens),
            (&mut self.output_audio_tokens, o.output_audio_tokens),
        ] {
            *sum = sum.saturating_add(n);
        }
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
    fn client_seqs_stop_below_the_servers_range_and_imports_reach_past_it() {
        let at = |seq: i64| {
            raw(&format!(
                r#"{{"seq":{seq},"ts":1,"direction":"client","event":{{"type":"x"}}}}"#
            ))
        };
        NewEvent::parse(&at(MAX_CLIENT_SEQ)).unwrap();
        for seq in [SERVER_SEQ_START, i64::MAX] {
            let err = NewEvent::parse(&at(seq)).unwrap_err();
            assert_eq!(err.field, "seq", "{seq}");
            assert!(err.message.contains("2^50"), "{}", err.message);
        }
        assert_eq!(
            NewEvent::parse_exported(&at(SERVER_SEQ_START)).unwrap().seq,
            SERVER_SEQ_START
        );
        assert_eq!(
            NewEvent::parse_exported(&at(i64::MAX)).unwrap_err().field,
            "seq"
        );
        let bigger =
            raw(r#"{"seq":9223372036854775808,"ts":1,"direction":"client","event":{"type":"x"}}"#);
        assert_eq!(NewEvent::parse(&bigger).unwrap_err().field, "seq");
    }

    #[test]
    fn a_long_type_is_refused() {
        let t = "x".repeat(MAX_TYPE_BYTES + 1);
        let e = raw(&format!(
            r#"{{"seq":1,"ts":1,"direction":"client","event":{{"type":"{t}"}}}}"#
        ));
        assert_eq!(NewEvent::parse(&e).unwrap_err().field, "event.type");
        let t = "x".repeat(MAX_TYPE_BYTES);
        let e = raw(&format!(
            r#"{{"seq":1,"ts":1,"direction":"client","event":{{"type":"{t}"}}}}"#
        ));
        NewEvent::parse(&e).unwrap();
    }

    #[test]
    fn usage_counts_must_be_bounded_non_negative_integers() {
        let done = |usage: &str| {
            raw(&format!(
                r#"{{"seq":1,"ts":1,"direction":"server","event":{{"type":"response.done","response":{{"usage":{usage}}}}}}}"#
            ))
        };
        for ok in [
            "null",
            "{}",
            r#"{"total_tokens":0,"input_tokens":1000000000}"#,
            r#"{"input_token_details":{"cached_tokens":null}}"#,
        ] {
            NewEvent::parse(&done(ok)).unwrap_or_else(|e| panic!("{ok}: {e:?}"));
        }
        for (bad, field) in [
            (
                r#"{"total_tokens":9223372036854775807}"#,
                "event.response.usage.total_tokens",
            ),
            (
                r#"{"total_tokens":-1}"#,
                "event.response.usage.total_tokens",
            ),
            (
                r#"{"input_tokens":1.5}"#,
                "event.response.usage.input_tokens",
            ),
            (
                r#"{"output_tokens":"12"}"#,
                "event.response.usage.output_tokens",
            ),
            (
                r#"{"output_token_details":{"audio_tokens":1000000001}}"#,
                "event.response.usage.output_token_details.audio_tokens",
            ),
            ("[1]", "event.response.usage"),
        ] {
            let err = NewEvent::parse(&done(bad)).unwrap_err();
            assert_eq!(err.field, field, "{bad}");
        }
        // Other events may carry anything.
        let other = raw(
            r#"{"seq":1,"ts":1,"direction":"server","event":{"type":"x","response":{"usage":{"total_tokens":-5}}}}"#,
        );
        NewEvent::parse(&other).unwrap();
    }

    #[test]
    fn sums_saturate() {
        let mut total = Usage {
            total_tokens: i64::MAX - 1,
            ..Usage::default()
        };
        total.add(&Usage {
            total_tokens: 5,
            input_tokens: 2,
            ..Usage::default()
        });
        assert_eq!((total.total_tokens, total.input_tokens), (i64::MAX, 2));
    }

    #[test]
    fn a_server_event_is_parsed_without_a_seq() {
        let e = NewEvent::unsequenced(5.5, Direction::System, &raw(r#"{"type":"console.hangup"}"#))
            .unwrap();
        assert_eq!(
            (e.seq, e.ts, e.event_type.as_str()),
            (0, 5.5, "console.hangup")
        );
        assert_eq!(
            NewEvent::unsequenced(1.0, Direction::System, &raw("[]"))
                .unwrap_err()
                .field,
            "event"
        );
        assert!(
            NewEvent::unsequenced(f64::NAN, Direction::System, &raw(r#"{"type":"x"}"#)).is_err()
        );
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
