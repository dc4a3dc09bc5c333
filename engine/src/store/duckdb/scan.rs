//! The loader's way into DuckDB: a table function, `footfall_intake_scan()`, that yields the
//! events of the records being loaded, so that one `INSERT INTO events … SELECT … FROM
//! footfall_intake_scan()` moves them.
//!
//! Why not the Appender: per row it collects the values into two vectors of `ToSqlOutput`,
//! validates them, calls DuckDB once per value, and DuckDB then copies every row into an
//! intermediate collection before appending it to the table (perf at 300K events/s: 8 % of the
//! collector's CPU under `append_parameter_row` and the collection copy; the scan took 4 % off
//! the CPU per event, in alternated pairs of runs). The scan writes the integers straight into
//! DuckDB's vectors and the strings with one call each, and DuckDB's insert appends its chunks
//! to the table directly (whole row groups still go optimistically to the database file).
//!
//! Ownership: the loader hands the records to the scan through a [`Slot`] (shared, never moved
//! out: the loader gets them back for reuse or, if the insert fails, to keep them pending). The
//! scan runs single-threaded and fills the slot's `links` and `dead_letters` as it reads each
//! record, so every record is decoded once.

use std::sync::{Arc, Mutex};

use ::duckdb::core::{DataChunkHandle, Inserter, LogicalTypeHandle, LogicalTypeId};
use ::duckdb::vtab::{BindInfo, InitInfo, TableFunctionInfo, VTab};

use super::intake::{EventRef, Record};
use crate::store::{DeadLetter, IdentityLink, common};

/// The table function's name.
pub const SCAN_FUNCTION: &str = "footfall_intake_scan";

/// What one load hands to the scan, and what the scan collects on the way.
#[derive(Default)]
pub struct ScanSlot {
    pub records: Option<Arc<Vec<Record>>>,
    pub links: Vec<IdentityLink>,
    pub dead_letters: Vec<DeadLetter>,
}

/// Shared by the store's writer (which fills it before each insert) and the table function.
pub type Slot = Arc<Mutex<ScanSlot>>;

/// The scan's columns and their types, in the order of [`super::KEYED_EVENT_COLUMN_NAMES`].
const COLUMNS: [(&str, Kind); 21] = [
    ("project_id", Kind::Text),
    ("message_id", Kind::Text),
    ("type", Kind::Text),
    ("event", Kind::Text),
    ("ts", Kind::Int),
    ("received_at", Kind::Int),
    ("sent_at", Kind::Int),
    ("original_timestamp", Kind::Text),
    ("anonymous_id", Kind::Text),
    ("user_id", Kind::Text),
    ("session_id", Kind::Text),
    ("group_id", Kind::Text),
    ("browser", Kind::Text),
    ("os", Kind::Text),
    ("device_type", Kind::Text),
    ("is_bot", Kind::Bool),
    ("ip", Kind::Text),
    ("properties", Kind::Text),
    ("traits", Kind::Text),
    ("context", Kind::Text),
    ("rid_key", Kind::Int),
];

#[derive(Clone, Copy)]
enum Kind {
    Text,
    Int,
    Bool,
}

/// The table function (registered per database by [`super::Inner`]'s writer).
pub struct IntakeScan;

pub struct ScanState {
    slot: Slot,
    records: Arc<Vec<Record>>,
    /// Next record, and next event within it.
    position: Mutex<(usize, usize)>,
}

impl VTab for IntakeScan {
    type InitData = ScanState;
    type BindData = ();

    fn bind(bind: &BindInfo) -> Result<(), Box<dyn std::error::Error>> {
        for (name, kind) in COLUMNS {
            let ty = match kind {
                Kind::Text => LogicalTypeId::Varchar,
                Kind::Int => LogicalTypeId::Bigint,
                Kind::Bool => LogicalTypeId::Boolean,
            };
            bind.add_result_column(name, LogicalTypeHandle::from(ty));
        }
        Ok(())
    }

    fn init(init: &InitInfo) -> Result<ScanState, Box<dyn std::error::Error>> {
        // SAFETY: the extra info is the `Slot` given at registration; DuckDB keeps it alive as
        // long as the function exists.
        let slot: Slot = unsafe { (*init.get_extra_info::<Slot>()).clone() };
        let records = slot
            .lock()
            .map_err(|_| "intake scan: slot poisoned")?
            .records
            .clone()
            .ok_or("intake scan: no load in progress")?;
        init.set_max_threads(1);
        Ok(ScanState {
            slot,
            records,
            position: Mutex::new((0, 0)),
        })
    }

    fn func(
        func: &TableFunctionInfo<Self>,
        output: &mut DataChunkHandle,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let state = func.get_init_data();
        let mut position = state.position.lock().map_err(|_| "intake scan: poisoned")?;
        let mut columns: Vec<_> = (0..COLUMNS.len()).map(|c| output.flat_vector(c)).collect();
        let capacity = columns[0].capacity();
        let mut n = 0;
        while n < capacity && position.0 < state.records.len() {
            let view = state.records[position.0].view();
            if position.1 == 0 && (!view.links.is_empty() || !view.dead_letters.is_empty()) {
                let mut slot = state.slot.lock().map_err(|_| "intake scan: slot poisoned")?;
                slot.links.extend(view.links);
                slot.dead_letters.extend(view.dead_letters);
            }
            let events = &view.events[position.1..];
            let take = events.len().min(capacity - n);
            for e in &events[..take] {
                write_row(&mut columns, n, e);
                n += 1;
            }
            if take == events.len() {
                *position = (position.0 + 1, 0);
            } else {
                position.1 += take;
            }
        }
        output.set_len(n);
        Ok(())
    }
}

/// Writes event `e` as row `row` of the output vectors.
fn write_row(columns: &mut [::duckdb::core::FlatVector<'_>], row: usize, e: &EventRef<'_>) {
    let texts: [(usize, Option<&str>); 16] = [
        (0, Some(e.project_id)),
        (1, Some(e.message_id)),
        (2, Some(e.kind)),
        (3, Some(e.event)),
        (7, e.original_timestamp),
        (8, e.anonymous_id),
        (9, e.user_id),
        (10, e.session_id),
        (11, e.group_id),
        (12, e.browser),
        (13, e.os),
        (14, e.device_type),
        (16, e.ip),
        (17, Some(e.properties)),
        (18, Some(e.traits)),
        (19, Some(e.context)),
    ];
    for (c, v) in texts {
        match v {
            Some(s) => columns[c].insert(row, s),
            None => columns[c].set_null(row),
        }
    }
    let ints = [
        (4, Some(e.ts)),
        (5, Some(e.received_at)),
        (6, e.sent_at),
        (20, Some(common::rid_key(e.user_id, e.anonymous_id))),
    ];
    for (c, v) in ints {
        match v {
            // SAFETY: column `c` was declared BIGINT in `bind` and `row` < the chunk's capacity.
            Some(v) => unsafe { columns[c].as_mut_slice::<i64>()[row] = v },
            None => columns[c].set_null(row),
        }
    }
    // SAFETY: column 15 was declared BOOLEAN in `bind` (one byte per value).
    unsafe { columns[15].as_mut_slice::<bool>()[row] = e.is_bot };
}
