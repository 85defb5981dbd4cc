-- The event store: recorded Realtime sessions and every event of them.
-- Append-only: never edit this file once shipped; add a new migration instead.

CREATE TABLE sessions (
    pk                  INTEGER PRIMARY KEY,
    id                  TEXT    NOT NULL UNIQUE,          -- UUIDv7, time-sortable
    created_at          INTEGER NOT NULL,                 -- ms since the Unix epoch (server clock)
    ended_at            INTEGER,
    label               TEXT    NOT NULL DEFAULT '',
    flow                TEXT    NOT NULL,
    model               TEXT,
    config              TEXT,                             -- JSON, the session config
    call_id             TEXT,                             -- upstream rtc_… id
    -- derived stats, kept current by ingest so reading them never scans events
    acked_seq           INTEGER NOT NULL DEFAULT 0,       -- seqs 1..acked_seq are all stored
    client_events       INTEGER NOT NULL DEFAULT 0,
    server_events       INTEGER NOT NULL DEFAULT 0,
    system_events       INTEGER NOT NULL DEFAULT 0,
    error_count         INTEGER NOT NULL DEFAULT 0,
    response_count      INTEGER NOT NULL DEFAULT 0,       -- response.done events
    input_tokens        INTEGER NOT NULL DEFAULT 0,
    output_tokens       INTEGER NOT NULL DEFAULT 0,
    total_tokens        INTEGER NOT NULL DEFAULT 0,
    cached_tokens       INTEGER NOT NULL DEFAULT 0,
    input_text_tokens   INTEGER NOT NULL DEFAULT 0,
    input_audio_tokens  INTEGER NOT NULL DEFAULT 0,
    output_text_tokens  INTEGER NOT NULL DEFAULT 0,
    output_audio_tokens INTEGER NOT NULL DEFAULT 0,
    first_event_ts      REAL,
    last_event_ts       REAL
);

-- Clustered by (session, seq): paging a session and exporting it are range scans.
CREATE TABLE events (
    session_pk  INTEGER NOT NULL REFERENCES sessions (pk) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    ts          REAL    NOT NULL,                          -- the browser's clock, ms
    received_at INTEGER NOT NULL,                          -- the server's clock, ms
    direction   TEXT    NOT NULL CHECK (direction IN ('client', 'server', 'system')),
    type        TEXT    NOT NULL,
    event       TEXT    NOT NULL,                          -- the JSON exactly as received
    PRIMARY KEY (session_pk, seq)
) WITHOUT ROWID;

CREATE INDEX events_by_type ON events (session_pk, type, seq);

-- How many events of each type a session holds: lets a type filter pick its plan without scanning.
CREATE TABLE session_types (
    session_pk INTEGER NOT NULL REFERENCES sessions (pk) ON DELETE CASCADE,
    type       TEXT    NOT NULL,
    count      INTEGER NOT NULL,
    PRIMARY KEY (session_pk, type)
) WITHOUT ROWID;
