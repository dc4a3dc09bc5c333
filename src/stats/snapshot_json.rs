//! [`Stats::to_json`]: the snapshot as JSON, written by hand (the browser's `stats()`), and the
//! same shape with serde ([`DropCounts`](super::DropCounts) as a map of the non-zero counts).

#[cfg(feature = "serde")]
use super::DropCounts;
use super::{DropReason, Stats};
use crate::json::{push_u64, write_str};

#[cfg(feature = "serde")]
impl serde::Serialize for DropCounts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        for (reason, n) in self.iter() {
            map.serialize_entry(reason.as_str(), &n)?;
        }
        map.end()
    }
}

impl Stats {
    /// The snapshot as JSON, camelCase (`{"enqueued":3,...,"dropped":{"queue_full":2},...}`).
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(256);
        let num = |out: &mut String, key: &str, n: u64| {
            out.push_str(key);
            push_u64(out, n);
        };
        num(&mut out, "{\"enqueued\":", self.enqueued);
        num(&mut out, ",\"restored\":", self.restored);
        num(&mut out, ",\"sent\":", self.sent);
        num(&mut out, ",\"retried\":", self.retried);
        num(&mut out, ",\"batches\":", self.batches);
        out.push_str(",\"dropped\":{");
        // The non-zero counts (`DropCounts::iter`), by a plain loop: the filter/map chain cost
        // the browser bundle more.
        let mut first = true;
        for &reason in &DropReason::ALL {
            let n = self.dropped.get(reason);
            if n == 0 {
                continue;
            }
            if !first {
                out.push(',');
            }
            first = false;
            write_str(&mut out, reason.as_str());
            out.push(':');
            push_u64(&mut out, n);
        }
        out.push('}');
        num(&mut out, ",\"pendingConsent\":", self.pending_consent as u64);
        num(&mut out, ",\"queued\":", self.queued as u64);
        num(&mut out, ",\"inFlight\":", self.in_flight as u64);
        num(&mut out, ",\"storeErrors\":", self.store_errors);
        num(&mut out, ",\"invalidPatterns\":", self.invalid_patterns);
        out.push_str(",\"recentRejections\":[");
        for (i, r) in self.recent_rejections.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"messageId\":");
            write_str(&mut out, &r.message_id);
            out.push_str(",\"reason\":");
            write_str(&mut out, &r.reason);
            out.push('}');
        }
        out.push_str("],\"warnings\":[");
        for (i, w) in self.warnings.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_str(&mut out, w);
        }
        out.push_str("]}");
        out
    }
}
