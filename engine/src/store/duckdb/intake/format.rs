//! The intake log's record format (see "Format" in `intake.rs`): encoding a write into a record,
//! decoding a record's payload in place, and reading a segment back with its damage.

use crate::store::{DeadLetter, EventRow, IdentityLink};

const MAGIC: &[u8; 4] = b"FFI1";
pub(super) const HEADER: usize = 4 + 4 + 4 + 8;

/// One logged write (what was new in it, after dedupe), kept as its encoded payload: one
/// allocation per write instead of a score of strings per event, read in place by the loader.
#[derive(Clone)]
pub struct Record {
    pub seq: u64,
    /// The encoded record; its payload starts at `at`.
    pub(super) data: Vec<u8>,
    pub(super) at: usize,
    pub(super) rows: usize,
}

impl Record {
    /// The write, borrowed from the payload (checked when the record was made or read).
    pub fn view(&self) -> BatchView<'_> {
        decode_view(&self.data[self.at..]).expect("a record's payload is checked when it is made")
    }
}

/// One event, borrowed from a record.
pub struct EventRef<'a> {
    pub project_id: &'a str,
    pub message_id: &'a str,
    pub kind: &'a str,
    pub event: &'a str,
    pub ts: i64,
    pub received_at: i64,
    pub sent_at: Option<i64>,
    pub original_timestamp: Option<&'a str>,
    pub anonymous_id: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub session_id: Option<&'a str>,
    pub group_id: Option<&'a str>,
    pub browser: Option<&'a str>,
    pub os: Option<&'a str>,
    pub device_type: Option<&'a str>,
    pub is_bot: bool,
    pub ip: Option<&'a str>,
    pub properties: &'a str,
    pub traits: &'a str,
    pub context: &'a str,
}

/// A logged write, borrowed from its record (links and dead letters are rare: owned).
pub struct BatchView<'a> {
    pub events: Vec<EventRef<'a>>,
    pub links: Vec<IdentityLink>,
    pub dead_letters: Vec<DeadLetter>,
}

/// Bytes of a segment that hold no valid record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    pub offset: usize,
    pub len: usize,
    /// Valid records follow it (damage in the middle: data that was acknowledged), or it is the
    /// tail of the segment.
    pub mid: bool,
    /// The tail ends before the length its header announces: a write cut short (never
    /// acknowledged: the ack follows the fsync).
    pub short: bool,
}

/// The valid records of a segment, and the damaged stretches between or after them. Replay goes
/// on after damage at the next record that checks out (magic, CRC, decodable payload), so a
/// damaged record costs only itself.
pub(super) fn read_segment(bytes: &[u8]) -> (Vec<Record>, Vec<Damage>) {
    let mut out = Vec::new();
    let mut damage = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        if let Some((record, end)) = read_record(bytes, at) {
            out.push(record);
            at = end;
            continue;
        }
        let next = (at + 1..bytes.len().saturating_sub(HEADER - 1))
            .filter(|&p| &bytes[p..p + 4] == MAGIC)
            .find_map(|p| read_record(bytes, p).map(|r| (p, r)));
        let short = bytes.len() - at < HEADER
            || (&bytes[at..at + 4] == MAGIC
                && at
                    + HEADER
                    + u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes")) as usize
                    > bytes.len());
        match next {
            Some((p, (record, end))) => {
                damage.push(Damage {
                    offset: at,
                    len: p - at,
                    mid: true,
                    short: false,
                });
                out.push(record);
                at = end;
            }
            None => {
                damage.push(Damage {
                    offset: at,
                    len: bytes.len() - at,
                    mid: false,
                    short,
                });
                break;
            }
        }
    }
    (out, damage)
}

/// The record at `at` if it is whole and checks out, and where it ends.
fn read_record(bytes: &[u8], at: usize) -> Option<(Record, usize)> {
    if bytes.len() - at < HEADER || &bytes[at..at + 4] != MAGIC {
        return None;
    }
    let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().expect("4 bytes"));
    let body = at + 12;
    let end = body.checked_add(8 + len).filter(|&e| e <= bytes.len())?;
    if crc32fast::hash(&bytes[body..end]) != crc {
        return None;
    }
    let seq = u64::from_le_bytes(bytes[body..body + 8].try_into().expect("8 bytes"));
    let payload = &bytes[body + 8..end];
    let rows = decode_view(payload)?.events.len();
    let record = Record {
        seq,
        data: payload.to_vec(),
        at: 0,
        rows,
    };
    Some((record, end))
}

pub(super) fn encode_record(
    buf: &mut Vec<u8>,
    seq: u64,
    events: &[&EventRow],
    links: &[IdentityLink],
    dead_letters: &[DeadLetter],
) {
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(&[0; 8]); // length and CRC, filled in below
    let body = buf.len();
    buf.extend_from_slice(&seq.to_le_bytes());
    encode_batch(buf, events, links, dead_letters);
    let len = (buf.len() - body - 8) as u32;
    let crc = crc32fast::hash(&buf[body..]);
    buf[body - 8..body - 4].copy_from_slice(&len.to_le_bytes());
    buf[body - 4..body].copy_from_slice(&crc.to_le_bytes());
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
    buf.extend_from_slice(s.as_bytes());
}

fn put_opt_str(buf: &mut Vec<u8>, s: &Option<String>) {
    match s {
        Some(s) => {
            buf.push(1);
            put_str(buf, s);
        }
        None => buf.push(0),
    }
}

fn put_i64(buf: &mut Vec<u8>, v: i64) {
    buf.extend_from_slice(&v.to_le_bytes());
}

fn put_opt_i64(buf: &mut Vec<u8>, v: Option<i64>) {
    match v {
        Some(v) => {
            buf.push(1);
            put_i64(buf, v);
        }
        None => buf.push(0),
    }
}

pub(super) fn encode_batch(
    buf: &mut Vec<u8>,
    events: &[&EventRow],
    links: &[IdentityLink],
    dead_letters: &[DeadLetter],
) {
    buf.extend_from_slice(&(events.len() as u32).to_le_bytes());
    for e in events {
        // Destructured so that a new column cannot be forgotten here.
        let EventRow {
            project_id,
            message_id,
            kind,
            event,
            ts,
            received_at,
            sent_at,
            original_timestamp,
            anonymous_id,
            user_id,
            session_id,
            group_id,
            browser,
            os,
            device_type,
            is_bot,
            ip,
            properties,
            traits,
            context,
        } = *e;
        for s in [project_id, message_id, kind, event] {
            put_str(buf, s);
        }
        put_i64(buf, *ts);
        put_i64(buf, *received_at);
        put_opt_i64(buf, *sent_at);
        for s in [
            original_timestamp,
            anonymous_id,
            user_id,
            session_id,
            group_id,
            browser,
            os,
            device_type,
        ] {
            put_opt_str(buf, s);
        }
        buf.push(*is_bot as u8);
        put_opt_str(buf, ip);
        for s in [properties, traits, context] {
            put_str(buf, s);
        }
    }
    buf.extend_from_slice(&(links.len() as u32).to_le_bytes());
    for IdentityLink {
        project_id,
        anonymous_id,
        user_id,
        linked_at,
    } in links
    {
        for s in [project_id, anonymous_id, user_id] {
            put_str(buf, s);
        }
        put_i64(buf, *linked_at);
    }
    buf.extend_from_slice(&(dead_letters.len() as u32).to_le_bytes());
    for DeadLetter {
        project_id,
        received_at,
        reason,
        message_id,
        payload,
    } in dead_letters
    {
        put_opt_str(buf, project_id);
        put_i64(buf, *received_at);
        put_str(buf, reason);
        put_opt_str(buf, message_id);
        put_str(buf, payload);
    }
}

/// A cursor over a record's payload; every read fails (`None`) past the end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.bytes(1).map(|b| b[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.bytes(4)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.bytes(8)?.try_into().ok()?))
    }
    fn str(&mut self) -> Option<&'a str> {
        let n = self.u32()? as usize;
        std::str::from_utf8(self.bytes(n)?).ok()
    }
    fn string(&mut self) -> Option<String> {
        self.str().map(str::to_string)
    }
    fn opt<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        match self.u8()? {
            0 => Some(None),
            1 => read(self).map(Some),
            _ => None,
        }
    }
    fn opt_str(&mut self) -> Option<Option<&'a str>> {
        self.opt(Self::str)
    }
    fn opt_string(&mut self) -> Option<Option<String>> {
        self.opt(Self::string)
    }
    /// A count of items, each at least `min_size` bytes: never more than the bytes left allow.
    fn count(&mut self, min_size: usize) -> Option<usize> {
        let n = self.u32()? as usize;
        (n.saturating_mul(min_size) <= self.0.len()).then_some(n)
    }
}

pub(super) fn decode_view(bytes: &[u8]) -> Option<BatchView<'_>> {
    let mut r = Reader(bytes);
    let n = r.count(40)?;
    let mut events = Vec::with_capacity(n);
    for _ in 0..n {
        events.push(EventRef {
            project_id: r.str()?,
            message_id: r.str()?,
            kind: r.str()?,
            event: r.str()?,
            ts: r.i64()?,
            received_at: r.i64()?,
            sent_at: r.opt(Reader::i64)?,
            original_timestamp: r.opt_str()?,
            anonymous_id: r.opt_str()?,
            user_id: r.opt_str()?,
            session_id: r.opt_str()?,
            group_id: r.opt_str()?,
            browser: r.opt_str()?,
            os: r.opt_str()?,
            device_type: r.opt_str()?,
            is_bot: r.u8()? != 0,
            ip: r.opt_str()?,
            properties: r.str()?,
            traits: r.str()?,
            context: r.str()?,
        });
    }
    let mut links = Vec::new();
    for _ in 0..r.count(20)? {
        links.push(IdentityLink {
            project_id: r.string()?,
            anonymous_id: r.string()?,
            user_id: r.string()?,
            linked_at: r.i64()?,
        });
    }
    let mut dead_letters = Vec::new();
    for _ in 0..r.count(18)? {
        dead_letters.push(DeadLetter {
            project_id: r.opt_string()?,
            received_at: r.i64()?,
            reason: r.string()?,
            message_id: r.opt_string()?,
            payload: r.string()?,
        });
    }
    // Bytes after the dead letters are a newer version's addition (see the module docs: a
    // rollback must not drop its records), ignored.
    Some(BatchView {
        events,
        links,
        dead_letters,
    })
}
