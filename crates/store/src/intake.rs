//! The intake log: a file beside the database where the writer appends every batch it accepts, and (with
//! `full` durability) syncs it, before the batch is acknowledged. SQLite is brought up to date right after the
//! answer and committed in large transactions; whatever an acknowledged batch had not yet reached a durable
//! SQLite commit when the process died is replayed from here at the next start.
//!
//! Why a second log in front of SQLite's own: one browser session sends one batch at a time, so with SQLite
//! on the acknowledgement path each 200 waits for that batch's inserts and a commit of its own (and its sync).
//! Here the path is one sequential write into a file whose blocks are already allocated and zero-filled, so
//! the sync does not have to journal any file-system metadata.
//!
//! Layout: a header block (magic, epoch, checksum), then records `[len u32][crc u32][payload]`, little endian.
//! A record's crc covers the epoch and its payload, so records left over from before a reset (an older epoch),
//! a torn last write and the zeros past the end all read as "the log ends here". Replaying a record is
//! idempotent (a batch already stored counts as duplicates), so reading one that was already applied is
//! harmless.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde_json::value::RawValue;

use crate::domain::{Direction, NewEvent, SessionId};

const MAGIC: &[u8; 8] = b"RTINTAK1";
/// Records start here; the header lives in the first block.
const HEADER: u64 = 4096;
/// The file grows (zero-filled) at least this much at a time, so appends overwrite allocated blocks.
const GROW_MIN: u64 = 1 << 20;
/// ... and at most this much beyond what the next write needs.
const GROW_MAX: u64 = 16 << 20;

/// One accepted batch: the events it newly stored, and when the server received it.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub session: SessionId,
    pub received_at: i64,
    pub events: Vec<NewEvent>,
}

pub(crate) struct IntakeLog {
    file: File,
    path: PathBuf,
    epoch: u64,
    /// Where the next record goes.
    pos: u64,
    /// How far the file is allocated and zero-filled.
    len: u64,
    /// Records encoded since the last flush.
    buf: Vec<u8>,
}

/// The log's path for the database at `db`: `console.db` → `console.db-intake`.
pub(crate) fn path_for(db: &Path) -> PathBuf {
    crate::beside(db, "-intake")
}

impl IntakeLog {
    /// Opens the log (creating it if needed) and reads the records it holds, in order. The log is locked
    /// while it is open: one writer per database, in this process or another.
    pub(crate) fn open(path: &Path) -> io::Result<(Self, Vec<Record>)> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        file.try_lock().map_err(|e| match e {
            std::fs::TryLockError::WouldBlock => io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "{} is locked: another realtime-console (or store) has this database open",
                    path.display()
                ),
            ),
            std::fs::TryLockError::Error(e) => e,
        })?;
        let new = file.metadata()?.len() == 0;
        let mut log = Self {
            file,
            path: path.to_owned(),
            epoch: 0,
            pos: HEADER,
            len: 0,
            buf: Vec::new(),
        };
        let records = log.reread()?;
        if new {
            // The file's name must outlast a power cut as its records do.
            let dir = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            File::open(dir)?.sync_all()?;
        }
        Ok((log, records))
    }

    /// Reads the records the file holds, from the start, as [`open`](Self::open) does; anything queued is
    /// dropped.
    pub(crate) fn reread(&mut self) -> io::Result<Vec<Record>> {
        self.buf.clear();
        self.len = self.file.metadata()?.len();
        match self.read_header()? {
            Some(epoch) => {
                self.epoch = epoch;
                self.read_records()
            }
            None => {
                if self.len >= HEADER {
                    tracing::warn!(path = %self.path.display(), "intake log: the header is unreadable; starting a new log");
                }
                // New, or torn while being reset (which happens only once everything before it is stored).
                // A fresh epoch from the clock keeps any old record in the file from reading as current.
                self.epoch = u64::try_from(crate::now_ms()).unwrap_or(1);
                self.pos = HEADER;
                self.write_header()?;
                Ok(Vec::new())
            }
        }
    }

    /// Bytes of records since the last reset, written or not.
    pub(crate) fn used(&self) -> u64 {
        self.pos - HEADER + self.buf.len() as u64
    }

    /// Queues a record for the next [`flush`](Self::flush).
    pub(crate) fn push(&mut self, session: SessionId, received_at: i64, events: &[NewEvent]) {
        let start = self.buf.len();
        self.buf.extend_from_slice(&[0; 8]);
        encode(&mut self.buf, session, received_at, events);
        let payload = &self.buf[start + 8..];
        let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        let crc = checksum(self.epoch, payload);
        self.buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
        self.buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    }

    /// The size a record of these events takes, to keep one oversized batch out of the log.
    pub(crate) fn record_size(events: &[NewEvent]) -> usize {
        8 + 16
            + 8
            + 4
            + events
                .iter()
                .map(|e| 8 + 8 + 1 + 4 + e.event_type.len() + 4 + e.event.get().len())
                .sum::<usize>()
    }

    /// Writes the queued records in one write and, when `sync`, waits until they are on disk. On an error
    /// nothing queued counts as written: the next records go where these would have.
    pub(crate) fn flush(&mut self, sync: bool) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let result = self.write_queued(sync);
        self.buf.clear();
        result
    }

    fn write_queued(&mut self, sync: bool) -> io::Result<()> {
        let end = self.pos + self.buf.len() as u64;
        // Room for the records plus the zero length that marks the end.
        if end + 8 > self.len {
            self.grow(end + 8)?;
        }
        self.file.write_all_at(&self.buf, self.pos)?;
        if sync {
            self.file.sync_data()?;
        }
        self.pos = end;
        Ok(())
    }

    /// Drops the queued records.
    pub(crate) fn discard(&mut self) {
        self.buf.clear();
    }

    /// Starts over: everything recorded so far is stored durably in SQLite. Records written after this
    /// carry the new epoch; the old ones stop reading as valid. The header reaches the disk with the next
    /// synced flush, before any record that depends on it is acknowledged.
    pub(crate) fn reset(&mut self) -> io::Result<()> {
        self.buf.clear();
        self.epoch = self.epoch.wrapping_add(1);
        self.pos = HEADER;
        self.write_header()
    }

    /// Zero-fills the file up to at least `needed` bytes and syncs it, so later writes never allocate.
    fn grow(&mut self, needed: u64) -> io::Result<()> {
        let target = needed
            .max(self.len + self.len.clamp(GROW_MIN, GROW_MAX))
            .next_multiple_of(GROW_MIN);
        let zeros = vec![0u8; GROW_MIN as usize];
        let mut at = self.len;
        while at < target {
            let n = (target - at).min(GROW_MIN) as usize;
            self.file.write_all_at(&zeros[..n], at)?;
            at += n as u64;
        }
        self.file.sync_all()?;
        self.len = target;
        Ok(())
    }

    fn write_header(&mut self) -> io::Result<()> {
        if self.len < HEADER {
            self.grow(HEADER)?;
        }
        let mut h = Vec::with_capacity(20);
        h.extend_from_slice(MAGIC);
        h.extend_from_slice(&self.epoch.to_le_bytes());
        h.extend_from_slice(&crc32fast::hash(&h).to_le_bytes());
        self.file.write_all_at(&h, 0)
    }

    fn read_header(&self) -> io::Result<Option<u64>> {
        if self.len < HEADER {
            return Ok(None);
        }
        let mut h = [0u8; 20];
        self.file.read_exact_at(&mut h, 0)?;
        let crc = u32::from_le_bytes(h[16..20].try_into().unwrap_or_default());
        if &h[..8] != MAGIC || crc32fast::hash(&h[..16]) != crc {
            return Ok(None);
        }
        Ok(Some(u64::from_le_bytes(
            h[8..16].try_into().unwrap_or_default(),
        )))
    }

    /// Reads records from the start until one is missing, torn, of another epoch or unreadable, and leaves
    /// `pos` there, so new records overwrite whatever follows.
    fn read_records(&mut self) -> io::Result<Vec<Record>> {
        let mut records = Vec::new();
        let mut pos = HEADER;
        let mut head = [0u8; 8];
        while pos + 8 <= self.len {
            self.file.read_exact_at(&mut head, pos)?;
            let len = u64::from(u32::from_le_bytes(head[..4].try_into().unwrap_or_default()));
            let crc = u32::from_le_bytes(head[4..].try_into().unwrap_or_default());
            if len == 0 || pos + 8 + len > self.len {
                break;
            }
            let mut payload = vec![0u8; len as usize];
            self.file.read_exact_at(&mut payload, pos + 8)?;
            if checksum(self.epoch, &payload) != crc {
                break;
            }
            let Some(record) = decode(&payload) else {
                tracing::warn!(
                    at = pos,
                    "intake log: a record with a valid checksum could not be read; stopping there"
                );
                break;
            };
            records.push(record);
            pos += 8 + len;
        }
        self.pos = pos;
        Ok(records)
    }
}

fn checksum(epoch: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&epoch.to_le_bytes());
    h.update(payload);
    h.finalize()
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&u32::try_from(b.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(b);
}

fn encode(out: &mut Vec<u8>, session: SessionId, received_at: i64, events: &[NewEvent]) {
    out.extend_from_slice(&session.to_bytes());
    out.extend_from_slice(&received_at.to_le_bytes());
    out.extend_from_slice(
        &u32::try_from(events.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    for e in events {
        out.extend_from_slice(&e.seq.to_le_bytes());
        out.extend_from_slice(&e.ts.to_bits().to_le_bytes());
        out.push(match e.direction {
            Direction::Client => 0,
            Direction::Server => 1,
            Direction::System => 2,
        });
        put_bytes(out, e.event_type.as_bytes());
        put_bytes(out, e.event.get().as_bytes());
    }
}

/// Reads what [`encode`] wrote; `None` if it is not that.
fn decode(mut p: &[u8]) -> Option<Record> {
    fn take<'a>(p: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if p.len() < n {
            return None;
        }
        let (head, rest) = p.split_at(n);
        *p = rest;
        Some(head)
    }
    fn u32_(p: &mut &[u8]) -> Option<u32> {
        Some(u32::from_le_bytes(take(p, 4)?.try_into().ok()?))
    }
    fn u64_(p: &mut &[u8]) -> Option<u64> {
        Some(u64::from_le_bytes(take(p, 8)?.try_into().ok()?))
    }
    fn text(p: &mut &[u8]) -> Option<String> {
        let n = u32_(p)? as usize;
        String::from_utf8(take(p, n)?.to_vec()).ok()
    }
    let session = SessionId::from_bytes(take(&mut p, 16)?.try_into().ok()?);
    let received_at = u64_(&mut p)? as i64;
    let count = u32_(&mut p)? as usize;
    let mut events = Vec::with_capacity(count.min(p.len() / 25));
    for _ in 0..count {
        let seq = u64_(&mut p)? as i64;
        let ts = f64::from_bits(u64_(&mut p)?);
        let direction = match take(&mut p, 1)?[0] {
            0 => Direction::Client,
            1 => Direction::Server,
            2 => Direction::System,
            _ => return None,
        };
        let event_type = text(&mut p)?;
        let event = RawValue::from_string(text(&mut p)?).ok()?;
        events.push(NewEvent {
            seq,
            ts,
            direction,
            event_type,
            event,
        });
    }
    p.is_empty().then_some(Record {
        session,
        received_at,
        events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(seq: i64, text: &str) -> NewEvent {
        NewEvent {
            seq,
            ts: 1_732_390_000_000.5 + seq as f64,
            direction: if seq % 2 == 0 {
                Direction::Client
            } else {
                Direction::Server
            },
            event_type: "conversation.item.done".into(),
            event: RawValue::from_string(format!(
                r#"{{"type":"conversation.item.done","text":"{text}","n":{seq}}}"#
            ))
            .unwrap(),
        }
    }

    fn same(a: &[NewEvent], b: &[NewEvent]) -> bool {
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| {
                x.seq == y.seq
                    && x.event_type == y.event_type
                    && x.same_content(y.ts, y.direction, y.event.get())
            })
    }

    fn log_in(dir: &tempfile::TempDir) -> PathBuf {
        path_for(&dir.path().join("t.db"))
    }

    #[test]
    fn records_read_back_in_order_after_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_in(&dir);
        let (a, b) = (SessionId::new(), SessionId::new());
        let first = vec![ev(1, "héllo"), ev(2, "wörld")];
        let second = vec![ev(7, "x")];
        {
            let (mut log, old) = IntakeLog::open(&path).unwrap();
            assert!(old.is_empty());
            log.push(a, 11, &first);
            log.flush(true).unwrap();
            log.push(b, 12, &second);
            log.flush(false).unwrap();
            // Queued but never flushed: not in the log.
            log.push(a, 13, &[ev(3, "lost")]);
        }
        let (log, records) = IntakeLog::open(&path).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!((records[0].session, records[0].received_at), (a, 11));
        assert!(same(&records[0].events, &first));
        assert_eq!((records[1].session, records[1].received_at), (b, 12));
        assert!(same(&records[1].events, &second));
        assert!(log.used() > 0);
    }

    #[test]
    fn a_torn_or_corrupt_tail_ends_the_log_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_in(&dir);
        let s = SessionId::new();
        let (mut log, _) = IntakeLog::open(&path).unwrap();
        log.push(s, 1, &[ev(1, "kept")]);
        log.flush(true).unwrap();
        let end_of_first = log.pos;
        log.push(s, 2, &[ev(2, "torn")]);
        log.flush(true).unwrap();
        let end_of_second = log.pos;
        drop(log);

        // A torn write: the second record lost its last bytes.
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        file.write_all_at(&[0u8; 4], end_of_second - 4).unwrap();
        let (_, records) = IntakeLog::open(&path).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].events[0].seq, 1);

        // A flipped bit in the first record: nothing after it is trusted either.
        file.write_all_at(&[0xff], end_of_first - 3).unwrap();
        let (mut log, records) = IntakeLog::open(&path).unwrap();
        assert!(records.is_empty());
        // New records go where the bad one was, and read back.
        log.push(s, 3, &[ev(3, "after")]);
        log.flush(true).unwrap();
        drop(log);
        let (_, records) = IntakeLog::open(&path).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].events[0].seq, 3);
    }

    #[test]
    fn a_reset_forgets_what_was_written_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_in(&dir);
        let s = SessionId::new();
        let (mut log, _) = IntakeLog::open(&path).unwrap();
        for seq in 1..=3 {
            log.push(s, seq, &[ev(seq, "old")]);
        }
        log.flush(true).unwrap();
        log.reset().unwrap();
        assert_eq!(log.used(), 0);
        // One new record, shorter than the three old ones it partly overwrites.
        log.push(s, 9, &[ev(9, "n")]);
        log.flush(true).unwrap();
        drop(log);
        let (_, records) = IntakeLog::open(&path).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].events[0].seq, 9);
    }

    #[test]
    fn the_file_grows_zero_filled_for_a_large_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_in(&dir);
        let s = SessionId::new();
        let big = "x".repeat(200_000);
        let events: Vec<NewEvent> = (1..=12).map(|seq| ev(seq, &big)).collect();
        let (mut log, _) = IntakeLog::open(&path).unwrap();
        log.push(s, 1, &events);
        assert_eq!(log.used() as usize, IntakeLog::record_size(&events));
        log.flush(true).unwrap();
        let len = std::fs::metadata(&path).unwrap().len();
        assert!(len >= log.pos + 8 && len.is_multiple_of(GROW_MIN), "{len}");
        drop(log);
        let (_, records) = IntakeLog::open(&path).unwrap();
        assert!(same(&records[0].events, &events));
    }

    #[test]
    fn a_second_open_of_the_same_log_is_refused_until_the_first_closes() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_in(&dir);
        let (log, _) = IntakeLog::open(&path).unwrap();
        let err = IntakeLog::open(&path).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert!(
            err.to_string().contains("another realtime-console"),
            "{err}"
        );
        drop(log);
        IntakeLog::open(&path).unwrap();
    }

    #[test]
    fn a_damaged_header_starts_an_empty_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_in(&dir);
        let s = SessionId::new();
        let (mut log, _) = IntakeLog::open(&path).unwrap();
        log.push(s, 1, &[ev(1, "a")]);
        log.flush(true).unwrap();
        drop(log);
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        file.write_all_at(b"garbage!", 0).unwrap();
        let (log, records) = IntakeLog::open(&path).unwrap();
        assert!(records.is_empty());
        assert_eq!(log.used(), 0);
    }
}
