//! The event store against a real SQLite file: idempotency, atomicity, conflicts, acknowledgement, paging,
//! filters, stats and the export/import round trip.

use futures::StreamExt;
use realtime_store::{
    AppendError, Direction, EventQuery, NewEvent, NewSession, SessionPatch, SessionQuery, Store,
};
use serde_json::value::RawValue;

struct TempStore {
    store: Store,
    _dir: tempfile::TempDir,
}

async fn store() -> TempStore {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_path(&dir.path().join("events.db"))
        .await
        .unwrap();
    TempStore { store, _dir: dir }
}

fn ev(seq: i64, direction: &str, event: &str) -> NewEvent {
    let raw = format!(
        r#"{{"seq":{seq},"ts":{},"direction":"{direction}","event":{event}}}"#,
        1000.0 + seq as f64
    );
    NewEvent::parse(&RawValue::from_string(raw).unwrap()).unwrap()
}

fn server(seq: i64, ty: &str) -> NewEvent {
    ev(
        seq,
        "server",
        &format!(r#"{{"type":"{ty}","event_id":"evt_{seq}"}}"#),
    )
}

async fn all_seqs(store: &Store, id: realtime_store::SessionId) -> Vec<i64> {
    let all = EventQuery {
        limit: 1000,
        ..Default::default()
    };
    let page = store.list_events(id, &all).await.unwrap().unwrap();
    page.events.iter().map(|e| e.seq).collect()
}

#[tokio::test]
async fn a_resent_batch_is_counted_as_duplicates_and_stored_once() {
    let t = store().await;
    let s = t.store.create_session(NewSession::default()).await.unwrap();
    let batch = || vec![server(1, "session.created"), server(2, "session.updated")];
    let first = t.store.append_events(s.id, batch()).await.unwrap();
    assert_eq!((first.acked_seq, first.stored, first.duplicates), (2, 2, 0));
    let again = t.store.append_events(s.id, batch()).await.unwrap();
    assert_eq!((again.acked_seq, again.stored, again.duplicates), (2, 0, 2));
    assert_eq!(all_seqs(&t.store, s.id).await, vec![1, 2]);
    let s = t.store.get_session(s.id).await.unwrap().unwrap();
    assert_eq!(
        s.stats.events.total, 2,
        "duplicates must not inflate the stats"
    );
}

#[tokio::test]
async fn a_conflicting_seq_rejects_the_whole_batch() {
    let t = store().await;
    let s = t.store.create_session(NewSession::default()).await.unwrap();
    t.store
        .append_events(s.id, vec![server(1, "a")])
        .await
        .unwrap();
    let err = t
        .store
        .append_events(
            s.id,
            vec![server(2, "b"), server(3, "c"), server(1, "other")],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppendError::Conflict { index: 2, seq: 1 }),
        "{err:?}"
    );
    assert_eq!(
        all_seqs(&t.store, s.id).await,
        vec![1],
        "nothing of the rejected batch is stored"
    );
    let s = t.store.get_session(s.id).await.unwrap().unwrap();
    assert_eq!((s.acked_seq, s.stats.events.total), (1, 1));
}

#[tokio::test]
async fn one_bad_request_in_a_group_commit_does_not_affect_the_others() {
    let t = store().await;
    let a = t.store.create_session(NewSession::default()).await.unwrap();
    let b = t.store.create_session(NewSession::default()).await.unwrap();
    t.store
        .append_events(a.id, vec![server(1, "x")])
        .await
        .unwrap();
    // Many concurrent requests land in the same commit; the conflicting one alone is refused.
    let mut tasks = Vec::new();
    for i in 0..50 {
        let store = t.store.clone();
        let (id, batch) = if i == 25 {
            (a.id, vec![server(1, "changed")])
        } else {
            (b.id, vec![server(i + 1, "y")])
        };
        tasks.push(tokio::spawn(
            async move { store.append_events(id, batch).await },
        ));
    }
    let mut refused = 0;
    for task in tasks {
        if task.await.unwrap().is_err() {
            refused += 1;
        }
    }
    assert_eq!(refused, 1);
    assert_eq!(all_seqs(&t.store, b.id).await.len(), 49);
    assert_eq!(all_seqs(&t.store, a.id).await, vec![1]);
}

#[tokio::test]
async fn acked_seq_stops_at_the_first_gap_and_moves_when_it_fills() {
    let t = store().await;
    let s = t.store.create_session(NewSession::default()).await.unwrap();
    let out = t
        .store
        .append_events(s.id, vec![server(2, "b"), server(3, "c")])
        .await
        .unwrap();
    assert_eq!(out.acked_seq, 0, "seq 1 is missing");
    let out = t
        .store
        .append_events(s.id, vec![server(5, "e")])
        .await
        .unwrap();
    assert_eq!(out.acked_seq, 0);
    let out = t
        .store
        .append_events(s.id, vec![server(1, "a")])
        .await
        .unwrap();
    assert_eq!(out.acked_seq, 3, "1..3 are contiguous, 4 is missing");
    let out = t
        .store
        .append_events(s.id, vec![server(4, "d")])
        .await
        .unwrap();
    assert_eq!(out.acked_seq, 5);
    let out = t.store.append_events(s.id, vec![]).await.unwrap();
    assert_eq!(
        (out.acked_seq, out.stored),
        (5, 0),
        "an empty batch reports the current acknowledgement"
    );

    // A batch out of order settles on its own; one that fills a gap below stored seqs walks past them.
    let s = t.store.create_session(NewSession::default()).await.unwrap();
    let batch = vec![
        server(3, "c"),
        server(1, "a"),
        server(2, "b"),
        server(5, "e"),
    ];
    let out = t.store.append_events(s.id, batch).await.unwrap();
    assert_eq!(out.acked_seq, 3);
    let out = t
        .store
        .append_events(s.id, vec![server(7, "g"), server(6, "f")])
        .await
        .unwrap();
    assert_eq!(out.acked_seq, 3, "4 is still missing");
    let out = t
        .store
        .append_events(s.id, vec![server(4, "d"), server(8, "h")])
        .await
        .unwrap();
    assert_eq!(
        out.acked_seq, 8,
        "4 fills the gap; 5..7 were stored, 8 came with it"
    );
    let s = t.store.get_session(s.id).await.unwrap().unwrap();
    assert_eq!(s.acked_seq, 8, "the session row agrees");
}

#[tokio::test]
async fn the_log_is_copied_into_the_database_file_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let store = Store::open_path(&path).await.unwrap();
    let s = store.create_session(NewSession::default()).await.unwrap();
    // About 8 MB of events: far below the writer's own checkpoint threshold, so only the background
    // checkpointer moves them out of the WAL into the database file.
    let pad = "x".repeat(800);
    for b in 0..10i64 {
        let batch = (1..=1000)
            .map(|i| {
                let seq = b * 1000 + i;
                ev(seq, "server", &format!(r#"{{"type":"t","pad":"{pad}"}}"#))
            })
            .collect();
        store.append_events(s.id, batch).await.unwrap();
    }
    let size = || std::fs::metadata(&path).map_or(0, |m| m.len());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while size() < 8_000_000 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        size() >= 8_000_000,
        "the database file holds the events ({} bytes), not only the WAL",
        size()
    );
    assert_eq!(all_seqs(&store, s.id).await.len(), 1000, "first page");
    drop(store);
    let again = Store::open_with(
        &format!("sqlite://{}", path.display()),
        realtime_store::Durability::Normal,
    )
    .await
    .unwrap();
    let s = again.get_session(s.id).await.unwrap().unwrap();
    assert_eq!((s.stats.events.total, s.acked_seq), (10_000, 10_000));
}

#[tokio::test]
async fn unknown_session_is_refused() {
    let t = store().await;
    let err = t
        .store
        .append_events(realtime_store::SessionId::new(), vec![server(1, "a")])
        .await
        .unwrap_err();
    assert!(matches!(err, AppendError::UnknownSession));
}

#[tokio::test]
async fn stats_count_directions_errors_and_usage() {
    let t = store().await;
    let s = t.store.create_session(NewSession::default()).await.unwrap();
    let done = r#"{"type":"response.done","response":{"usage":{"total_tokens":30,"input_tokens":10,"output_tokens":20,"input_token_details":{"cached_tokens":2,"text_tokens":4,"audio_tokens":6},"output_token_details":{"text_tokens":5,"audio_tokens":15}}}}"#;
    t.store
        .append_events(
            s.id,
            vec![
                ev(1, "client", r#"{"type":"response.create"}"#),
                ev(2, "server", done),
                ev(
                    3,
                    "server",
                    r#"{"type":"error","error":{"type":"invalid_request_error"}}"#,
                ),
                ev(4, "system", r#"{"type":"console.connected"}"#),
            ],
        )
        .await
        .unwrap();
    t.store
        .append_events(s.id, vec![ev(5, "server", done)])
        .await
        .unwrap();
    let s = t.store.get_session(s.id).await.unwrap().unwrap();
    let st = &s.stats;
    assert_eq!(
        (
            st.events.client,
            st.events.server,
            st.events.system,
            st.events.total
        ),
        (1, 3, 1, 5)
    );
    assert_eq!((st.errors, st.responses), (1, 2));
    assert_eq!(
        (
            st.usage.input_tokens,
            st.usage.output_tokens,
            st.usage.total_tokens
        ),
        (20, 40, 60)
    );
    assert_eq!(
        (st.usage.cached_tokens, st.usage.output_audio_tokens),
        (4, 30)
    );
    assert_eq!(
        (st.first_event_ts, st.last_event_ts),
        (Some(1001.0), Some(1005.0))
    );
}

#[tokio::test]
async fn events_page_by_seq_and_filter_by_type_direction_and_text() {
    let t = store().await;
    let s = t.store.create_session(NewSession::default()).await.unwrap();
    let mut batch = Vec::new();
    for seq in 1..=300 {
        batch.push(match seq % 3 {
            0 => ev(
                seq,
                "client",
                &format!(r#"{{"type":"conversation.item.create","text":"hello {seq}"}}"#),
            ),
            1 => server(seq, "response.output_text.delta"),
            _ => server(seq, "response.done"),
        });
    }
    t.store.append_events(s.id, batch).await.unwrap();
    let q = |limit, after_seq, ty: Option<&str>, dir, text: Option<&str>| EventQuery {
        limit,
        after_seq,
        event_type: ty.map(str::to_owned),
        direction: dir,
        q: text.map(str::to_owned),
    };
    let page = t
        .store
        .list_events(s.id, &q(100, 0, None, None, None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((page.events.len(), page.next_after_seq), (100, Some(100)));
    let page = t
        .store
        .list_events(s.id, &q(100, 250, None, None, None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((page.events.len(), page.next_after_seq), (50, None));
    assert_eq!(page.events[0].seq, 251);

    // A prefix spans both response types, in seq order, across pages.
    let page = t
        .store
        .list_events(s.id, &q(150, 0, Some("response."), None, None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(page.events.len(), 150);
    assert!(page.events.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(
        page.events
            .iter()
            .all(|e| e.event_type.starts_with("response."))
    );
    let rest = t
        .store
        .list_events(
            s.id,
            &q(
                150,
                page.next_after_seq.unwrap(),
                Some("response."),
                None,
                None,
            ),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!((rest.events.len(), rest.next_after_seq), (50, None));

    let exact = t
        .store
        .list_events(s.id, &q(1000, 0, Some("response.done"), None, None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exact.events.len(), 100);
    let none = t
        .store
        .list_events(s.id, &q(1000, 0, Some("input_audio_buffer."), None, None))
        .await
        .unwrap()
        .unwrap();
    assert!(none.events.is_empty());
    let client = t
        .store
        .list_events(s.id, &q(1000, 0, None, Some(Direction::Client), None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(client.events.len(), 100);
    let text = t
        .store
        .list_events(s.id, &q(1000, 0, None, None, Some("HELLO 27\"")))
        .await
        .unwrap()
        .unwrap();
    let seqs: Vec<i64> = text.events.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        vec![27],
        "case-insensitive substring of the event text"
    );
    let wildcard = t
        .store
        .list_events(s.id, &q(1000, 0, None, None, Some("%")))
        .await
        .unwrap()
        .unwrap();
    assert!(
        wildcard.events.is_empty(),
        "LIKE wildcards in the search are literal"
    );
}

#[tokio::test]
async fn sessions_list_newest_first_with_paging_search_update_and_delete() {
    let t = store().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let s = t
            .store
            .create_session(NewSession {
                label: Some(format!("call {i}")),
                flow: Some("unified".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        ids.push(s.id);
    }
    let page = t
        .store
        .list_sessions(&SessionQuery {
            limit: 3,
            ..Default::default()
        })
        .await
        .unwrap();
    let got: Vec<_> = page.sessions.iter().map(|s| s.id).collect();
    assert_eq!(got, vec![ids[4], ids[3], ids[2]]);
    let next = t
        .store
        .list_sessions(&SessionQuery {
            limit: 3,
            before: page.next_before,
            q: None,
        })
        .await
        .unwrap();
    assert_eq!(
        next.sessions.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![ids[1], ids[0]]
    );
    assert_eq!(next.next_before, None);
    let found = t
        .store
        .list_sessions(&SessionQuery {
            limit: 10,
            before: None,
            q: Some("CALL 3".into()),
        })
        .await
        .unwrap();
    assert_eq!(found.sessions.len(), 1);

    let updated = t
        .store
        .update_session(
            ids[0],
            SessionPatch {
                label: Some("renamed".into()),
                ended: true,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.label, "renamed");
    assert!(updated.ended_at.is_some());

    t.store
        .append_events(ids[0], vec![server(1, "a")])
        .await
        .unwrap();
    assert!(t.store.delete_session(ids[0]).await.unwrap());
    assert!(!t.store.delete_session(ids[0]).await.unwrap());
    assert!(t.store.get_session(ids[0]).await.unwrap().is_none());
    assert!(
        t.store
            .list_events(ids[0], &EventQuery::default())
            .await
            .unwrap()
            .is_none()
    );
}

async fn export(store: &Store, id: realtime_store::SessionId) -> String {
    let mut out = Vec::new();
    let mut stream = std::pin::pin!(store.export_jsonl(id).await.unwrap().unwrap());
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn export_import_export_gives_the_same_lines() {
    let t = store().await;
    let s = t.store.create_session(NewSession::default()).await.unwrap();
    let odd = r#"{"type":"response.output_audio_transcript.delta",   "delta":"h\u00e9llo \"q\"","n":1.50}"#;
    let mut batch = vec![
        ev(1, "client", r#"{"type":"session.update"}"#),
        ev(2, "server", odd),
    ];
    for seq in 3..=4500 {
        batch.push(server(seq, "response.output_text.delta"));
        if batch.len() == 1000 {
            t.store
                .append_events(s.id, std::mem::take(&mut batch))
                .await
                .unwrap();
        }
    }
    t.store.append_events(s.id, batch).await.unwrap();
    let first = export(&t.store, s.id).await;
    assert_eq!(first.lines().count(), 4500);
    assert!(
        first.contains(odd),
        "event bytes are exported exactly as received"
    );

    let body = futures::stream::iter(
        first
            .as_bytes()
            .chunks(777)
            .map(|c| Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(c)))
            .collect::<Vec<_>>(),
    );
    let imported = t
        .store
        .import_jsonl(
            NewSession {
                flow: Some("import".into()),
                ..Default::default()
            },
            body,
        )
        .await
        .unwrap();
    assert_eq!(imported.flow, "import");
    assert_eq!(imported.stats.events.total, 4500);
    assert_eq!(export(&t.store, imported.id).await, first);
}

#[tokio::test]
async fn a_bad_import_line_leaves_nothing_behind() {
    let t = store().await;
    let body = "{\"seq\":1,\"ts\":1,\"direction\":\"server\",\"event\":{\"type\":\"a\"}}\n{\"seq\":2,\"ts\":1,\"direction\":\"sideways\",\"event\":{\"type\":\"a\"}}\n";
    let stream = futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(body))]);
    let err = t
        .store
        .import_jsonl(NewSession::default(), stream)
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("line 2"), "{err}");
    let left = t
        .store
        .list_sessions(&SessionQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(left.sessions.is_empty());
}

#[tokio::test]
async fn a_seq_twice_in_one_batch_is_a_duplicate_or_a_conflict() {
    let t = store().await;
    let s = t.store.create_session(NewSession::default()).await.unwrap();
    let out = t
        .store
        .append_events(s.id, vec![server(1, "a"), server(2, "b"), server(1, "a")])
        .await
        .unwrap();
    assert_eq!((out.acked_seq, out.stored, out.duplicates), (2, 2, 1));
    let err = t
        .store
        .append_events(s.id, vec![server(3, "c"), server(3, "changed")])
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppendError::Conflict { index: 1, seq: 3 }),
        "{err:?}"
    );
    assert_eq!(all_seqs(&t.store, s.id).await, vec![1, 2]);
}
