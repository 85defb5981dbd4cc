//! What the session library needs from the store: commit-order reads for the live stream, full-text search
//! of what was said, the timeline, seeded sessions and the live flag.

use realtime_store::{Change, NewEvent, NewSession, SessionId, SessionPatch, SessionQuery, Store};
use serde_json::value::RawValue;

async fn store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_path(&dir.path().join("events.db"))
        .await
        .unwrap();
    (store, dir)
}

fn ev(seq: i64, event: &str) -> NewEvent {
    let raw = format!(
        r#"{{"seq":{seq},"ts":{},"direction":"server","event":{event}}}"#,
        1000.0 + seq as f64
    );
    NewEvent::parse(&RawValue::from_string(raw).unwrap()).unwrap()
}

async fn labelled(store: &Store, label: &str) -> realtime_store::Session {
    store
        .create_session(NewSession {
            label: Some(label.into()),
            ..NewSession::default()
        })
        .await
        .unwrap()
}

fn delta(seq: i64) -> NewEvent {
    ev(seq, r#"{"type":"response.output_text.delta","delta":"x"}"#)
}

fn said(seq: i64, text: &str) -> NewEvent {
    ev(
        seq,
        &format!(r#"{{"type":"response.output_audio_transcript.done","transcript":"{text}"}}"#),
    )
}

async fn search(store: &Store, q: &str) -> Vec<String> {
    let page = store
        .list_sessions(&SessionQuery {
            limit: 50,
            q: Some(q.into()),
            ..SessionQuery::default()
        })
        .await
        .unwrap();
    page.sessions.iter().map(|s| s.label.clone()).collect()
}

/// The seqs of a session's first 100 events in the order they were ingested, and their ingest cursors.
async fn in_ingest_order(store: &Store, id: SessionId) -> (Vec<i64>, Vec<i64>) {
    let all = store
        .events_after_ingest(id, 0, 100)
        .await
        .unwrap()
        .unwrap();
    all.iter().map(|(n, e)| (e.seq, *n)).unzip()
}

#[tokio::test]
async fn reads_after_an_ingest_cursor_come_in_commit_order_and_commits_are_announced() {
    let (store, _dir) = store().await;
    let s = store.create_session(NewSession::default()).await.unwrap();
    let mut changes = store.subscribe();
    store
        .append_events(s.id, vec![delta(1), delta(3)])
        .await
        .unwrap();
    store
        .append_events(s.id, vec![delta(2), delta(1)])
        .await
        .unwrap(); // 1 is a resend
    let (seqs, cursors) = in_ingest_order(&store, s.id).await;
    assert_eq!(seqs, vec![1, 3, 2]);
    assert!(cursors.windows(2).all(|w| w[0] < w[1]));
    let after_first = store
        .events_after_ingest(s.id, cursors[0], 100)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after_first.len(), 2);
    let first = changes.recv().await.unwrap();
    assert!(matches!(first, Change::Appended { session, .. } if session == s.id));
    let second = changes.recv().await.unwrap();
    assert!(matches!(second, Change::Appended { ingested, .. } if ingested == cursors[2]));
}

#[tokio::test]
async fn a_large_batch_is_stored_in_its_own_order_with_its_text() {
    let (store, _dir) = store().await;
    let s = labelled(&store, "ferry").await;
    // 57 events, seqs descending (a retry reorders them), with text near the end of the batch.
    let batch = (1..=57)
        .rev()
        .map(|seq| {
            if seq == 3 {
                said(seq, "Fjord ferry at noon")
            } else {
                delta(seq)
            }
        })
        .collect();
    let out = store.append_events(s.id, batch).await.unwrap();
    assert_eq!((out.acked_seq, out.stored, out.duplicates), (57, 57, 0));
    let (seqs, cursors) = in_ingest_order(&store, s.id).await;
    assert_eq!(seqs, (1..=57).rev().collect::<Vec<_>>());
    assert_eq!(cursors, (1..=57).collect::<Vec<_>>());
    assert_eq!(search(&store, "fjord ferry").await, vec!["ferry"]);
    let page = store
        .list_events(
            s.id,
            &realtime_store::EventQuery {
                after_seq: 2,
                limit: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert!(page.events[0].event.get().contains("Fjord ferry"));
}

#[tokio::test]
async fn what_was_said_finds_its_session_until_the_session_is_deleted() {
    let (store, _dir) = store().await;
    let a = labelled(&store, "a").await;
    let b = labelled(&store, "b").await;
    store
        .append_events(a.id, vec![said(1, "Sunny in Tromsø today"), delta(2)])
        .await
        .unwrap();
    store
        .append_events(b.id, vec![said(1, "Rain in Bergen")])
        .await
        .unwrap();
    assert_eq!(search(&store, "tromsø").await, vec!["a"]);
    assert_eq!(search(&store, "Ber").await, vec!["b"]);
    assert_eq!(search(&store, "sunny tromsø").await, vec!["a"]);
    assert!(search(&store, "sunny bergen").await.is_empty());
    // FTS syntax is text, not a query.
    assert!(search(&store, "\"OR*(").await.is_empty());
    assert!(store.delete_session(a.id).await.unwrap());
    assert!(search(&store, "tromsø").await.is_empty());
    assert_eq!(search(&store, "bergen").await, vec!["b"]);
}

#[tokio::test]
async fn timeline_samples_turns_errors_seeds_and_liveness() {
    let (store, _dir) = store().await;
    let s = store.create_session(NewSession::default()).await.unwrap();
    let mut events: Vec<NewEvent> = (1..=300).map(delta).collect();
    events.push(ev(301, r#"{"type":"response.done","response":{}}"#));
    events.push(ev(302, r#"{"type":"error","error":{"message":"bad"}}"#));
    store.append_events(s.id, events).await.unwrap();
    let t = store.timeline(s.id, 10).await.unwrap().unwrap();
    assert_eq!(t.points.len(), 10);
    assert_eq!(t.points.first().unwrap().seq, 1);
    assert_eq!(t.points.last().unwrap().seq, 302);
    assert_eq!(t.turns.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![301]);
    assert_eq!(
        t.errors.iter().map(|m| m.seq).collect::<Vec<_>>(),
        vec![302]
    );

    let fresh = store.get_session(s.id).await.unwrap().unwrap();
    assert!(fresh.live && fresh.last_received_at.is_some());
    let copy = store.create_session(NewSession::default()).await.unwrap();
    let patch = |from| SessionPatch {
        seeded_from: Some(from),
        ended: true,
        ..SessionPatch::default()
    };
    let seeded = store
        .update_session(copy.id, patch(s.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seeded.seeded_from, Some(s.id));
    assert!(!seeded.live, "ended sessions are not live");
    let again = store
        .update_session(copy.id, patch(copy.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.seeded_from, Some(s.id), "set once");
}
