-- The gateway: sessions recorded from any app, not only the console page.
-- Append-only: never edit this file once shipped; add a new migration instead.

-- The `User-Agent` of the client that opened the session (an SDK, a browser), as it sent it, cut at 256 bytes.
ALTER TABLE sessions ADD COLUMN user_agent TEXT;

-- Why the recording lacks events, when it does (the store failed mid-relay, a frame was too large to keep):
-- the first reason, in words for the library. NULL: nothing is known to be missing.
ALTER TABLE sessions ADD COLUMN incomplete TEXT;

-- The gateway finds a call's session by its id: to record a hangup, and a sideband's events, in it.
CREATE INDEX sessions_by_call ON sessions (call_id) WHERE call_id IS NOT NULL;
