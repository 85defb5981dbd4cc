//! Wall clock for key expiry, with an offset tests can advance (so "expired key" needs no sleeping).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Unix time plus a shared, test-controlled offset. Clones share the offset.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_secs: Arc<AtomicI64>,
}

impl Clock {
    /// Seconds since the Unix epoch, as the API reports `expires_at`.
    pub fn now_unix(&self) -> i64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        real + self.offset_secs.load(Ordering::Relaxed)
    }

    /// Moves this clock (and every clone) forward.
    pub fn advance(&self, by: Duration) {
        self.offset_secs
            .fetch_add(by.as_secs() as i64, Ordering::Relaxed);
    }
}
