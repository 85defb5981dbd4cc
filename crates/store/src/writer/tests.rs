use serde_json::value::RawValue;

use super::thread::MAX_RECORD_BYTES;
use super::*;
use crate::{EventQuery, NewEvent, NewSession, SessionId, Store};

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
    let all = EventQuery {
        limit: 1000,
        ..Default::default()
    };
    let page = store.list_events(id, &all).await.unwrap().unwrap();
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

/// The check settles every answer on a connection that cannot write: a gap-filling batch's `acked_seq`, a
/// conflict, the server's own seqs. Nothing it refuses, or accepts and is then not applied, is stored.
#[tokio::test]
async fn the_check_step_writes_nothing() {
    use super::check::{Seqs, check};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let store = Store::open_path(&path).await.unwrap();
    let s = store.create_session(NewSession::default()).await.unwrap();
    store
        .append_events(s.id, vec![ev(2, "b"), ev(3, "c"), ev(5, "e")])
        .await
        .unwrap();
    store.close().await;

    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA query_only = ON; BEGIN").unwrap();
    let fills = vec![ev(1, "a"), ev(3, "c"), ev(4, "d")];
    let (outcome, accepted) = check(&conn, s.id, fills, Seqs::Given, 1).unwrap();
    assert_eq!(
        (outcome.acked_seq, outcome.stored, outcome.duplicates),
        (5, 2, 1)
    );
    let seqs: Vec<i64> = accepted.unwrap().rows.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 4]);
    let conflict = check(&conn, s.id, vec![ev(1, "a"), ev(5, "E")], Seqs::Given, 1);
    assert!(matches!(
        conflict,
        Err(AppendError::Conflict { index: 1, seq: 5 })
    ));
    let hangup = NewEvent::unsequenced(
        1.0,
        crate::Direction::System,
        &RawValue::from_string(r#"{"type":"console.hangup"}"#.into()).unwrap(),
    )
    .unwrap();
    let (_, accepted) = check(&conn, s.id, vec![hangup], Seqs::ServerRange, 1).unwrap();
    assert_eq!(accepted.unwrap().rows[0].seq, crate::SERVER_SEQ_START);
    conn.execute_batch("COMMIT").unwrap();
    drop(conn);

    let store = Store::open_path(&path).await.unwrap();
    let seqs: Vec<i64> = events_of(&store, s.id).await.iter().map(|e| e.0).collect();
    assert_eq!(seqs, [2, 3, 5]);
    let session = store.get_session(s.id).await.unwrap().unwrap();
    assert_eq!((session.acked_seq, session.stats.events.total), (0, 3));
    store.close().await;
}

/// A batch that would fill the gap but conflicts further on is refused whole: the gap stays open.
#[tokio::test]
async fn a_refused_gap_filling_batch_leaves_the_session_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_path(&dir.path().join("s.db")).await.unwrap();
    let s = store.create_session(NewSession::default()).await.unwrap();
    store
        .append_events(s.id, vec![ev(2, "b"), ev(3, "c")])
        .await
        .unwrap();
    let refused = store
        .append_events(s.id, vec![ev(1, "a"), ev(3, "other")])
        .await;
    assert!(matches!(
        refused,
        Err(AppendError::Conflict { index: 1, seq: 3 })
    ));
    let seqs: Vec<i64> = events_of(&store, s.id).await.iter().map(|e| e.0).collect();
    assert_eq!(seqs, [2, 3]);
    let session = store.get_session(s.id).await.unwrap().unwrap();
    assert_eq!((session.acked_seq, session.stats.events.total), (0, 2));
    let out = store.append_events(s.id, vec![ev(1, "a")]).await.unwrap();
    assert_eq!(out.acked_seq, 3);
    store.close().await;
}

mod acked_after {
    use std::collections::BTreeSet;

    use super::super::check::acked_after;
    use super::ev;

    /// `acked_after` over a stored set held in memory, with the queries it made.
    fn walk(acked: i64, stored: &BTreeSet<i64>, batch: &[i64]) -> (i64, usize) {
        let rows: Vec<_> = batch.iter().map(|&seq| ev(seq, "x")).collect();
        let max_seq = stored.last().copied().unwrap_or(0);
        let mut queries = 0;
        let end = acked_after(acked, max_seq, &rows, |end| {
            queries += 1;
            let mut run = None;
            while stored.contains(&(run.unwrap_or(end) + 1)) {
                run = Some(run.unwrap_or(end) + 1);
            }
            Ok(run)
        })
        .unwrap();
        (end, queries)
    }

    fn set(seqs: &[i64]) -> BTreeSet<i64> {
        seqs.iter().copied().collect()
    }

    #[test]
    fn an_in_order_batch_or_one_after_a_gap_takes_no_query() {
        assert_eq!(walk(3, &set(&[1, 2, 3]), &[4, 5, 6]), (6, 0));
        assert_eq!(walk(3, &set(&[1, 2, 3]), &[6, 5]), (3, 0));
        assert_eq!(walk(0, &set(&[]), &[3, 1, 2, 5]), (3, 0));
    }

    #[test]
    fn a_batch_that_fills_gaps_walks_on_through_the_stored_runs() {
        // 1 fills the first gap, 3 and 6 the next ones; 8 is missing.
        assert_eq!(walk(0, &set(&[2, 4, 5, 7, 9]), &[6, 1, 3]).0, 7);
        // The stored run 2..3 ends where the batch goes on: 4 and 5 are its, 6 is missing.
        assert_eq!(walk(0, &set(&[2, 3]), &[1, 4, 5, 7]).0, 5);
        // A gap the batch leaves open stops the walk, however much is stored after it.
        assert_eq!(walk(0, &set(&[2, 4, 5, 6]), &[1]).0, 2);
    }

    /// Against the plain definition, the longest 1..=n within stored ∪ batch, on many small random sessions.
    #[test]
    fn it_agrees_with_the_contiguous_prefix_of_everything_stored() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n) as i64
        };
        for _ in 0..2_000 {
            let all: Vec<i64> = (1..=24).filter(|_| next(3) > 0).collect();
            let (stored, batch): (Vec<i64>, Vec<i64>) = all.iter().partition(|_| next(2) == 0);
            let stored = set(&stored);
            let acked = (1..).take_while(|s| stored.contains(s)).count() as i64;
            let union: BTreeSet<i64> = stored.iter().chain(&batch).copied().collect();
            let expected = (1..).take_while(|s| union.contains(s)).count() as i64;
            assert_eq!(
                walk(acked, &stored, &batch).0,
                expected,
                "stored {stored:?}, batch {batch:?}"
            );
        }
    }
}

/// The server's own events go one past the largest seq stored in the server's range (an import may have
/// stored some there), and are refused once that range is used up.
#[tokio::test]
async fn server_events_are_numbered_from_the_largest_stored_in_the_servers_range() {
    use crate::SERVER_SEQ_START;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_path(&dir.path().join("s.db")).await.unwrap();
    let at = |seq: i64| NewEvent {
        seq,
        ..ev(1, "imported")
    };
    let hangup = || NewEvent {
        seq: 0,
        ..ev(1, "hangup")
    };
    let s = store.create_session(NewSession::default()).await.unwrap();
    store
        .append_events(s.id, vec![ev(1, "a"), at(SERVER_SEQ_START + 7)])
        .await
        .unwrap();
    store.append_server_event(s.id, hangup()).await.unwrap();
    let seqs: Vec<i64> = events_of(&store, s.id).await.iter().map(|e| e.0).collect();
    assert_eq!(seqs, [1, SERVER_SEQ_START + 7, SERVER_SEQ_START + 8]);

    let full = store.create_session(NewSession::default()).await.unwrap();
    store
        .append_events(full.id, vec![at(i64::MAX)])
        .await
        .unwrap();
    let refused = store.append_server_event(full.id, hangup()).await;
    assert!(matches!(refused, Err(AppendError::SeqsExhausted)));
    assert_eq!(events_of(&store, full.id).await.len(), 1);
    store.close().await;
}
