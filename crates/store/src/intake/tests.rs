//! The intake log's tests: records back after a reopen, torn and corrupt tails, resets, growth, the lock.

use serde_json::value::RawValue;

use super::*;
use crate::domain::Direction;

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
