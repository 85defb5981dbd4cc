use serde_json::value::RawValue;

use super::thread::MAX_RECORD_BYTES;
use super::*;
use crate::{EventQuery, Store};

#[test]
fn the_writer_connection_gets_every_setting() {
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open(dir.path().join("w.db")).unwrap();
    configure(&conn).unwrap();
    let read = |name: &str| -> i64 {
        conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(read("synchronous"), 1, "NORMAL");
    assert_eq!(read("wal_autocheckpoint"), checkpoint::BACKSTOP_PAGES);
    assert_eq!(
        read("journal_size_limit"),
        checkpoint::BACKSTOP_PAGES * 4096
    );
    assert_eq!(read("foreign_keys"), 1);
    assert_eq!(read("temp_store"), 2, "MEMORY");
    assert_eq!(read("cache_size"), -65536);
}

fn ev(seq: i64, text: &str) -> NewEvent {
    let raw = format!(
        r#"{{"seq":{seq},"ts":{},"direction":"server","event":{{"type":"conversation.item.done","text":"{text}"}}}}"#,
        1000.0 + seq as f64
    );
    NewEvent::parse(&RawValue::from_string(raw).unwrap()).unwrap()
}

async fn events_of(store: &Store, id: SessionId) -> Vec<(i64, i64)> {
    let page = store
        .list_events(
            id,
            &EventQuery {
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    page.events.iter().map(|e| (e.seq, e.received_at)).collect()
}

/// What a crash between an answer and the commit that covers it leaves behind: batches in the intake log that
/// the database lacks. The next open stores them once, however often they were logged.
#[tokio::test]
async fn logged_batches_the_database_lacks_are_stored_once_at_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let url = format!("sqlite://{}", path.display());
    let store = Store::open(&url).await.unwrap();
    let kept = store.create_session(NewSession::default()).await.unwrap();
    let gone = store.create_session(NewSession::default()).await.unwrap();
    store
        .append_events(kept.id, vec![ev(1, "one"), ev(2, "two")])
        .await
        .unwrap();
    store.delete_session(gone.id).await.unwrap();
    store.close().await;

    let log_path = intake::path_for(&path);
    {
        let (mut log, records) = IntakeLog::open(&log_path).unwrap();
        assert!(
            records.is_empty(),
            "a store that closed leaves an empty log"
        );
        // Already stored (the crash came after the commit): duplicates.
        log.push(kept.id, 7, &[ev(1, "one"), ev(2, "two")]);
        // Not stored yet: 3 and 4, then 6 after a gap.
        log.push(kept.id, 1234, &[ev(3, "three Fjord"), ev(4, "four")]);
        log.push(kept.id, 1235, &[ev(6, "six")]);
        // A session deleted after its batch was answered.
        log.push(gone.id, 1236, &[ev(1, "lost")]);
        log.flush(true).unwrap();
    }

    let store = Store::open(&url).await.unwrap();
    let stored = events_of(&store, kept.id).await;
    let seqs: Vec<i64> = stored.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 6]);
    assert_eq!(
        stored[2].1, 1234,
        "the time the server received it, from the log"
    );
    let s = store.get_session(kept.id).await.unwrap().unwrap();
    assert_eq!(s.acked_seq, 4, "5 is missing");
    assert_eq!(s.stats.events.total, 5, "each event counted once");
    let found = store
        .list_sessions(&crate::SessionQuery {
            limit: 10,
            q: Some("fjord".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(found.sessions.len(), 1, "replayed text is searchable");
    assert!(store.get_session(gone.id).await.unwrap().is_none());
    store.close().await;

    let (_, records) = IntakeLog::open(&log_path).unwrap();
    assert!(
        records.is_empty(),
        "replayed, committed, and the log emptied"
    );
}

/// A batch too large to log (an import of big events) is answered after a durable commit instead.
#[tokio::test]
async fn a_batch_too_large_for_the_log_is_committed_before_its_answer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let store = Store::open_path(&path).await.unwrap();
    let s = store.create_session(NewSession::default()).await.unwrap();
    let big = "w".repeat(250_000);
    let batch: Vec<NewEvent> = (1..=40).map(|seq| ev(seq, &big)).collect();
    assert!(IntakeLog::record_size(&batch) > MAX_RECORD_BYTES);
    let out = store.append_events(s.id, batch).await.unwrap();
    assert_eq!((out.acked_seq, out.stored), (40, 40));
    assert_eq!(events_of(&store, s.id).await.len(), 40);
    let log_bytes = std::fs::metadata(intake::path_for(&path)).unwrap().len();
    assert!(
        log_bytes < MAX_RECORD_BYTES as u64,
        "the batch did not go through the log ({log_bytes} bytes)"
    );
    // A normal batch after it goes through the log as usual.
    let out = store
        .append_events(s.id, vec![ev(41, "small")])
        .await
        .unwrap();
    assert_eq!(out.acked_seq, 41);
}
