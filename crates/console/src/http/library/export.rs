//! `GET /api/sessions/{id}/export.json`: the session and all its events as one JSON document, streamed a
//! page at a time so a session of any size costs the server one page of memory.

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use realtime_store::EventQuery;
use tokio::sync::mpsc;

use super::super::error::{ApiError, Result};
use super::super::events::attachment;
use super::super::extract::SessionPath;
use crate::AppState;

const PAGE: u32 = 1000;

pub(super) async fn export_json(
    State(state): State<AppState>,
    SessionPath(sid): SessionPath,
) -> Result<Response> {
    let Some(session) = state.store.get_session(sid).await? else {
        return Err(ApiError::SessionNotFound(sid.to_string()));
    };
    // A Session always serializes (string keys, finite numbers).
    let head = serde_json::to_vec(&session).unwrap_or_else(|_| b"null".to_vec());
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(4);
    let store = state.store.clone();
    tokio::spawn(async move {
        let mut buf = b"{\"session\":".to_vec();
        buf.extend_from_slice(&head);
        buf.extend_from_slice(b",\"events\":[");
        let mut query = EventQuery {
            limit: PAGE,
            ..EventQuery::default()
        };
        let mut first = true;
        loop {
            let page = match store.list_events(sid, &query).await {
                Ok(Some(page)) => page,
                Ok(None) | Err(_) => {
                    // Headers are gone: a cut-short document is what the client sees (it won't parse).
                    tracing::error!(session = %sid, "export.json failed midway");
                    let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
                    return;
                }
            };
            for e in &page.events {
                if !first {
                    buf.push(b',');
                }
                first = false;
                // A StoredEvent always serializes.
                let _ = serde_json::to_writer(&mut buf, e);
            }
            if tx
                .send(Ok(Bytes::from(std::mem::take(&mut buf))))
                .await
                .is_err()
            {
                return;
            }
            match page.next_after_seq {
                Some(after) => query.after_seq = after,
                None => break,
            }
        }
        let _ = tx.send(Ok(Bytes::from_static(b"]}\n"))).await;
    });
    let mut rx = rx;
    let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
    Ok(attachment(
        Body::from_stream(stream),
        "application/json",
        &format!("session-{sid}.json"),
    ))
}
