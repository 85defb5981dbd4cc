-- Imports become visible whole or not at all.
-- Append-only: never edit this file once shipped; add a new migration instead.

-- 1 while an import is still storing its lines: no listing, read or search shows the session, and a start
-- after a crash deletes what an unfinished import left behind. The last line stored sets it to 0, in the same
-- commit that ends the session.
ALTER TABLE sessions ADD COLUMN importing INTEGER NOT NULL DEFAULT 0;
