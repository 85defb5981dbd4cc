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

use crate::domain::{NewEvent, SessionId};

mod record;

pub(crate) use record::Record;
use record::{decode, encode};

const MAGIC: &[u8; 8] = b"RTINTAK1";
/// Records start here; the header lives in the first block.
const HEADER: u64 = 4096;
/// The file grows (zero-filled) at least this much at a time, so appends overwrite allocated blocks.
const GROW_MIN: u64 = 1 << 20;
/// ... and at most this much beyond what the next write needs.
const GROW_MAX: u64 = 16 << 20;

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
        8 + record::encoded_size(events)
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

#[cfg(test)]
mod tests;
