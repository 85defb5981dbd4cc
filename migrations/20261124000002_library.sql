-- The session library: live follow, event-text search and seeded sessions.
-- Append-only: never edit this file once shipped; add a new migration instead.

-- A per-session number that grows in commit order, whatever the seq: each new event gets one above the
-- session's largest so far. The live stream uses it as its resume cursor: a browser's retried batch fills a seq
-- gap later, so seq order and commit order differ, and only commit order makes "everything after the
-- cursor" exact.
ALTER TABLE events ADD COLUMN ingest_no INTEGER;

-- Events recorded before this migration: commit order is unknown, seq order stands in for it.
UPDATE events SET ingest_no = r.n
FROM (SELECT session_pk, seq, row_number() OVER (PARTITION BY session_pk ORDER BY seq) AS n FROM events) AS r
WHERE events.session_pk = r.session_pk AND events.seq = r.seq;

CREATE INDEX events_by_ingest ON events (session_pk, ingest_no);

-- The server's clock (ms) when the session last received an event: "live" is "not ended and heard from
-- recently".
ALTER TABLE sessions ADD COLUMN last_received_at INTEGER;
UPDATE sessions SET last_received_at = (SELECT max(received_at) FROM events WHERE events.session_pk = sessions.pk);

-- The session this one was seeded from ("Open in console"). An id, not a foreign key: deleting the
-- original keeps the copy and its provenance.
ALTER TABLE sessions ADD COLUMN seeded_from TEXT;

-- Full-text search over what was said and done: transcripts, texts, tool arguments and outputs, error
-- messages. Not deltas or audio: the finished text of a turn is in its `.done` event, so indexing deltas
-- would only multiply the index. rowid = session_pk << 40 | ingest_no, so a session's rows are one rowid
-- range (deleted with it) and a hit names its session without a join.
CREATE VIRTUAL TABLE event_text USING fts5 (text, tokenize = 'unicode61 remove_diacritics 2');

-- Events recorded before this migration, as far as SQL can pick their text out.
INSERT INTO event_text (rowid, text)
SELECT (session_pk << 40) | ingest_no, text FROM (
    SELECT session_pk, ingest_no, concat_ws(' ', json_extract(event, '$.transcript'), json_extract(event, '$.text'),
        json_extract(event, '$.arguments'), json_extract(event, '$.error.message')) AS text
    FROM events WHERE type NOT LIKE '%.delta' AND json_valid(event)
) WHERE text <> '';
