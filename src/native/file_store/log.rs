//! The `queue.log` record format (see the module docs of `file_store`): encoding records, and
//! replaying a log into its live messages, skipping what is torn or corrupt.

use std::collections::HashMap;

use crate::store::StoredMessage;

pub(super) const MAGIC: &[u8; 4] = b"FFQ1";
pub(super) const HEADER: usize = 12;
const ADD: u8 = 1;
pub(super) const REMOVE: u8 = 2;
/// The largest payload a reader accepts (a message is at most a few hundred KB).
const MAX_PAYLOAD: usize = 16 * 1024 * 1024;

pub(super) fn push_record(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

pub(in crate::native) fn encode_add(
    out: &mut Vec<u8>,
    id: &str,
    category: &str,
    enqueued_at: u64,
    json: &str,
) {
    let mut p = Vec::with_capacity(1 + 8 + 4 + id.len() + category.len() + json.len());
    p.push(ADD);
    p.extend_from_slice(&enqueued_at.to_le_bytes());
    for s in [id, category] {
        p.extend_from_slice(&(s.len().min(u16::MAX as usize) as u16).to_le_bytes());
        p.extend_from_slice(&s.as_bytes()[..s.len().min(u16::MAX as usize)]);
    }
    p.extend_from_slice(json.as_bytes());
    push_record(out, &p);
}

enum Record {
    Add(StoredMessage),
    Remove(Vec<String>),
}

fn take_str(p: &[u8], at: &mut usize) -> Option<String> {
    let len = u16::from_le_bytes(p.get(*at..*at + 2)?.try_into().ok()?) as usize;
    let s = std::str::from_utf8(p.get(*at + 2..*at + 2 + len)?)
        .ok()?
        .to_string();
    *at += 2 + len;
    Some(s)
}

fn decode(payload: &[u8]) -> Option<Record> {
    match *payload.first()? {
        ADD => {
            let enqueued_at = u64::from_le_bytes(payload.get(1..9)?.try_into().ok()?);
            let mut at = 9;
            let message_id = take_str(payload, &mut at)?;
            let category = take_str(payload, &mut at)?;
            let json = std::str::from_utf8(payload.get(at..)?).ok()?.to_string();
            Some(Record::Add(StoredMessage {
                message_id,
                category,
                enqueued_at,
                json,
            }))
        }
        REMOVE => {
            let text = std::str::from_utf8(&payload[1..]).ok()?;
            Some(Record::Remove(
                text.split('\n')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
            ))
        }
        _ => None,
    }
}

/// Replays a log: the live messages in order, and a warning per skipped stretch.
pub(in crate::native) fn replay(bytes: &[u8]) -> (Vec<StoredMessage>, Vec<String>) {
    let mut slots: Vec<Option<StoredMessage>> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut warnings = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let header = bytes.get(pos..pos + HEADER);
        let parsed = header.and_then(|h| {
            if &h[..4] != MAGIC {
                return None;
            }
            let len = u32::from_le_bytes(h[4..8].try_into().ok()?) as usize;
            let crc = u32::from_le_bytes(h[8..12].try_into().ok()?);
            if len > MAX_PAYLOAD {
                return None;
            }
            let payload = bytes.get(pos + HEADER..pos + HEADER + len)?;
            (crc32fast::hash(payload) == crc).then(|| decode(payload).map(|r| (r, HEADER + len)))?
        });
        match parsed {
            Some((record, size)) => {
                match record {
                    Record::Add(m) => match index.get(&m.message_id) {
                        // A rewrite (`Store::replace`) keeps the message's place.
                        Some(&i) => slots[i] = Some(m),
                        None => {
                            index.insert(m.message_id.clone(), slots.len());
                            slots.push(Some(m));
                        }
                    },
                    Record::Remove(ids) => {
                        for id in ids {
                            if let Some(i) = index.remove(&id) {
                                slots[i] = None;
                            }
                        }
                    }
                }
                pos += size;
            }
            None => {
                let next = bytes[pos + 1..]
                    .windows(4)
                    .position(|w| w == MAGIC)
                    .map(|i| pos + 1 + i);
                let skipped = next.unwrap_or(bytes.len()) - pos;
                let what = if next.is_none() {
                    "torn or corrupt record at the end"
                } else {
                    "corrupt record"
                };
                warnings.push(format!(
                    "queue.log: {what} at byte {pos} ({skipped} bytes) skipped"
                ));
                pos = next.unwrap_or(bytes.len());
            }
        }
    }
    (slots.into_iter().flatten().collect(), warnings)
}
