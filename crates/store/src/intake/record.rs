//! A record's payload: one accepted batch, as the log stores it. Little endian; strings with a u32 length.

use serde_json::value::RawValue;

use crate::domain::{Direction, NewEvent, SessionId};

/// One accepted batch: the events it newly stored, and when the server received it.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub session: SessionId,
    pub received_at: i64,
    pub events: Vec<NewEvent>,
}

/// The bytes [`encode`] writes for these events.
pub(super) fn encoded_size(events: &[NewEvent]) -> usize {
    16 + 8
        + 4
        + events
            .iter()
            .map(|e| 8 + 8 + 1 + 4 + e.event_type.len() + 4 + e.event.get().len())
            .sum::<usize>()
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&u32::try_from(b.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(b);
}

pub(super) fn encode(out: &mut Vec<u8>, session: SessionId, received_at: i64, events: &[NewEvent]) {
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
pub(super) fn decode(mut p: &[u8]) -> Option<Record> {
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
