//! The full-text index of what was said and done in sessions (the `event_text` FTS5 table), fed by the
//! writer at ingest and searched by the session library.
//!
//! Only finished text is indexed: transcripts, texts, tool calls and outputs, error messages. Deltas repeat
//! what their `.done` event holds, and audio is not text, so indexing either would multiply the index (and
//! the ingest cost) for no new hits.

use crate::domain::NewEvent;
use serde_json::Value;

/// A row's rowid is `session_pk << 40 | ingest_no`: a session's rows are one rowid range.
const INGEST_BITS: u32 = 40;
/// Text kept per event; a hit needs words, not a whole document.
const MAX_TEXT_BYTES: usize = 8 * 1024;
/// Keys whose string values are the text of an event.
const TEXT_KEYS: [&str; 6] = [
    "transcript",
    "text",
    "arguments",
    "output",
    "message",
    "name",
];

fn rowid(pk: i64, ingest_no: i64) -> i64 {
    (pk << INGEST_BITS) | ingest_no
}

/// Whether an event of this type can hold text worth indexing (decided without parsing it).
fn is_candidate(event_type: &str) -> bool {
    !event_type.ends_with(".delta")
        && (event_type.ends_with(".done")
            || event_type.ends_with(".completed")
            || event_type == "error"
            || event_type.starts_with("conversation.item."))
}

/// The searchable text of an event, if it has any.
pub(crate) fn extract(event_type: &str, json: &str) -> Option<String> {
    if !is_candidate(event_type) {
        return None;
    }
    let value: Value = serde_json::from_str(json).ok()?;
    let mut out = String::new();
    collect(&value, None, &mut out);
    (!out.is_empty()).then_some(out)
}

fn collect(v: &Value, key: Option<&str>, out: &mut String) {
    if out.len() >= MAX_TEXT_BYTES {
        return;
    }
    match v {
        Value::String(s) if key.is_some_and(|k| TEXT_KEYS.contains(&k)) => {
            if !out.is_empty() {
                out.push(' ');
            }
            let room = MAX_TEXT_BYTES.saturating_sub(out.len());
            let mut end = s.len().min(room);
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            out.push_str(&s[..end]);
        }
        Value::Array(items) => items.iter().for_each(|i| collect(i, key, out)),
        Value::Object(map) => map.iter().for_each(|(k, v)| collect(v, Some(k), out)),
        _ => {}
    }
}

/// Runs inside the writer's transaction, for each newly stored event.
pub(crate) fn index_event(
    conn: &rusqlite::Connection,
    pk: i64,
    ingest_no: i64,
    e: &NewEvent,
) -> rusqlite::Result<()> {
    let Some(text) = extract(&e.event_type, e.event.get()) else {
        return Ok(());
    };
    conn.prepare_cached("INSERT INTO event_text (rowid, text) VALUES (?, ?)")?
        .execute(rusqlite::params![rowid(pk, ingest_no), text])?;
    Ok(())
}

/// Runs inside the writer's transaction, before the session row goes (FTS tables have no cascade).
pub(crate) fn forget_session(conn: &rusqlite::Connection, pk: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM event_text WHERE rowid >= ? AND rowid < ?")?
        .execute([rowid(pk, 0), rowid(pk + 1, 0)])?;
    Ok(())
}

/// The FTS5 query for what a person typed: every word must appear, each as a prefix, with FTS syntax
/// quoted away. `None` when there is no word to look for.
pub(crate) fn match_query(q: &str) -> Option<String> {
    let words: Vec<String> = q
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(16)
        .map(|w| format!("\"{w}\"*"))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// SQL that selects the pks of sessions whose indexed text matches a bound FTS query.
pub(crate) const SESSIONS_MATCHING: &str =
    "SELECT DISTINCT rowid >> 40 FROM event_text WHERE event_text MATCH ";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_finished_text_and_skips_deltas() {
        let done =
            r#"{"type":"response.output_audio_transcript.done","transcript":"Sunny in Paris"}"#;
        assert_eq!(
            extract("response.output_audio_transcript.done", done).as_deref(),
            Some("Sunny in Paris")
        );
        let delta = r#"{"type":"response.output_audio_transcript.delta","delta":"Sunny"}"#;
        assert_eq!(
            extract("response.output_audio_transcript.delta", delta),
            None
        );
        let err = r#"{"type":"error","error":{"message":"Rate limit reached","code":"x"}}"#;
        assert_eq!(extract("error", err).as_deref(), Some("Rate limit reached"));
        let call = r#"{"type":"response.function_call_arguments.done","name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}"#;
        let text = extract("response.function_call_arguments.done", call).unwrap();
        assert!(text.contains("get_weather") && text.contains("Oslo"));
    }

    #[test]
    fn match_query_quotes_words_as_prefixes() {
        assert_eq!(
            match_query("Oslo wea").as_deref(),
            Some("\"Oslo\"* \"wea\"*")
        );
        assert_eq!(
            match_query("\"a\" OR b*").as_deref(),
            Some("\"a\"* \"OR\"* \"b\"*")
        );
        assert_eq!(match_query(" -* "), None);
        assert_eq!(rowid(3, 5) >> INGEST_BITS, 3);
    }
}
