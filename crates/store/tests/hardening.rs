//! What a careless or hostile client must not be able to do to the store: overflow a session's sums, run
//! its seqs into the server's, or leave half an import behind, crash included. Real SQLite files.

use realtime_store::{Direction, NewEvent, NewSession, SERVER_SEQ_START, SessionQuery, Store};
use serde_json::value::RawValue;

fn raw(s: &str) -> Box<RawValue> {
    RawValue::from_string(s.to_owned()).unwrap()
}

fn ev(seq: i64, event: &str) -> NewEvent {
    NewEvent::parse(&raw(&format!(
        r#"{{"seq":{seq},"ts":{seq},"direction":"server","event":{event}}}"#
    )))
    .unwrap()
}

fn system(event: &str) -> NewEvent {
    NewEvent::unsequenced(1.0, Direction::System, &raw(event)).unwrap()
}

#[tokio::test]
async fn server_events_take_the_next_seqs_of_the_servers_range() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_path(&dir.path().join("s.db")).await.unwrap();
    let s = store.create_session(NewSession::default()).await.unwrap();
    store
        .append_events(
            s.id,
            vec![ev(1, r#"{"type":"a"}"#), ev(2, r#"{"type":"b"}"#)],
        )
        .await
        .unwrap();
    store
        .append_server_event(s.id, system(r#"{"type":"console.hangup"}"#))
        .await
        .unwrap();
    // The client goes on recording meanwhile: its seqs and the server's never meet.
    store
        .append_events(s.id, vec![ev(3, r#"{"type":"c"}"#)])
        .await
        .unwrap();
    store
        .append_server_event(s.id, system(r#"{"type":"error"}"#))
        .await
        .unwrap();
    let page = store
        .list_events(
            s.id,
            &realtime_store::EventQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    let seqs: Vec<i64> = page.events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3, SERVER_SEQ_START, SERVER_SEQ_START + 1]);
    let s = store.get_session(s.id).await.unwrap().unwrap();
    assert_eq!(
        s.acked_seq, 3,
        "the server's range does not count as the client's"
    );
    let unknown = store
        .append_server_event(realtime_store::SessionId::new(), system(r#"{"type":"x"}"#))
        .await;
    assert!(matches!(
        unknown,
        Err(realtime_store::AppendError::UnknownSession)
    ));
    store.close().await;
}

#[tokio::test]
async fn usage_sums_saturate_and_stay_readable() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_path(&dir.path().join("u.db")).await.unwrap();
    let s = store.create_session(NewSession::default()).await.unwrap();
    // The largest counts a response may report, many times: the sums stay exact and never wrap.
    let done = |seq: i64| {
        ev(
            seq,
            r#"{"type":"response.done","response":{"usage":{"total_tokens":1000000000,"input_tokens":1}}}"#,
        )
    };
    let batch: Vec<NewEvent> = (1..=1000).map(done).collect();
    store.append_events(s.id, batch).await.unwrap();
    let s = store.get_session(s.id).await.unwrap().unwrap();
    assert_eq!(s.stats.usage.total_tokens, 1_000_000_000_000);
    assert_eq!(s.stats.usage.input_tokens, 1000);
    store.close().await;

    // A sum already at the top (as an older server could leave it) saturates rather than failing reads.
    let path = dir.path().join("u.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("UPDATE sessions SET total_tokens = 9223372036854775000")
        .unwrap();
    drop(conn);
    let store = Store::open_path(&path).await.unwrap();
    store
        .append_events(s.id, vec![done(1001), done(1002)])
        .await
        .unwrap();
    let read = store.get_session(s.id).await.unwrap().unwrap();
    assert_eq!(read.stats.usage.total_tokens, i64::MAX);
    store.close().await;
    let conn = rusqlite::Connection::open(&path).unwrap();
    let kind: String = conn
        .query_row("SELECT typeof(total_tokens) FROM sessions", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(kind, "integer");
}

fn line(seq: i64) -> String {
    format!(
        "{{\"seq\":{seq},\"ts\":{seq},\"direction\":\"server\",\"event\":{{\"type\":\"x\"}}}}\n"
    )
}

#[tokio::test]
async fn an_import_is_invisible_until_whole_and_gone_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("i.db");
    let store = Store::open_path(&path).await.unwrap();
    // An upload that stalls after 1,500 lines: two batches of it are stored, none of it is visible.
    let (tx, rx) = futures::channel::mpsc::unbounded::<Result<bytes::Bytes, String>>();
    let body: String = (1..=1500).map(line).collect();
    tx.unbounded_send(Ok(body.into())).unwrap();
    let importing = {
        let store = store.clone();
        tokio::spawn(async move {
            let new = NewSession {
                flow: Some("import".into()),
                ..NewSession::default()
            };
            store.import_jsonl(new, rx).await
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let hidden = loop {
        let conn = rusqlite::Connection::open(&path).unwrap();
        let stored: i64 = conn
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .unwrap();
        if stored >= 1000 {
            break conn
                .query_row("SELECT id FROM sessions", [], |r| r.get::<_, String>(0))
                .unwrap();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the import never stored a batch"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let listed = store.list_sessions(&SessionQuery::default()).await.unwrap();
    assert!(
        listed.sessions.is_empty(),
        "an import in progress is not listed"
    );
    let id = realtime_store::SessionId::parse(&hidden).unwrap();
    assert!(store.get_session(id).await.unwrap().is_none());
    assert!(store.event_types(id).await.unwrap().is_none());

    // The rest arrives: the session appears whole, ended.
    tx.unbounded_send(Ok(line(1501).into())).unwrap();
    drop(tx);
    let session = importing.await.unwrap().unwrap();
    assert_eq!(session.stats.events.total, 1501);
    assert!(session.ended_at.is_some());
    assert_eq!(
        store
            .list_sessions(&SessionQuery::default())
            .await
            .unwrap()
            .sessions
            .len(),
        1
    );
    store.close().await;
}

#[tokio::test]
async fn an_unfinished_import_is_deleted_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    {
        let store = Store::open_path(&path).await.unwrap();
        let (tx, rx) = futures::channel::mpsc::unbounded::<Result<bytes::Bytes, String>>();
        tx.unbounded_send(Ok((1..=1200).map(line).collect::<String>().into()))
            .unwrap();
        let importing = {
            let store = store.clone();
            tokio::spawn(async move { store.import_jsonl(NewSession::default(), rx).await })
        };
        // Let it store its first batch, then the server "dies": the import never finishes.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let conn = rusqlite::Connection::open(&path).unwrap();
            let n: i64 = conn
                .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
                .unwrap();
            if n >= 1000 {
                break;
            }
            assert!(std::time::Instant::now() < deadline);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        importing.abort();
        std::mem::forget(tx);
        store.close().await;
    }
    let store = Store::open_path(&path).await.unwrap();
    assert!(
        store
            .list_sessions(&SessionQuery::default())
            .await
            .unwrap()
            .sessions
            .is_empty()
    );
    store.close().await;
    let conn = rusqlite::Connection::open(&path).unwrap();
    let (sessions, events): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM events)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((sessions, events), (0, 0), "nothing of it is left");
}
