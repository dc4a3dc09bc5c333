//! Bucket masks: a person's activity over consecutive buckets (days, weeks, months) as the bits
//! of 64-bit integers, so that a per-person [`super::rollup`] groups the events by their raw
//! identity alone instead of by (raw identity, bucket).
//!
//! Grouping 10M events by (raw id, day) builds ~1.5M groups keyed by strings, and the merge by
//! (person, day) after the identity join as many again; with masks the first aggregation has one
//! group per raw id (and chunk), its aggregate a `bit_or` of `1 << bucket index`, and the merge
//! one row per person (`bit_or` again: a person active on a day through two raw ids counts once).
//! Counts per bucket are then sums of bit tests over the persons' rows, and windows over buckets
//! (WAU/MAU, retention's "period C + k") are shifts of the masks: all integer arithmetic, the
//! same on every backend.
//!
//! Bucket `first + i` is bit `i % BITS` of the mask of chunk `i / BITS`. [`BITS`] = 62 keeps
//! every shift inside a signed 64-bit integer on every backend (DuckDB refuses an overflowing
//! `<<`). A range of at most [`BITS`] buckets is one chunk: the rollup then has no chunk key.

use super::rollup::{Agg, Merge};
use super::sql::Sql;

/// Buckets per 64-bit mask.
pub const BITS: i64 = 62;

/// Consecutive bucket ids `first..=last` as masks.
#[derive(Debug, Clone, Copy)]
pub struct Mask {
    pub first: i64,
    /// Number of buckets (at least 1).
    pub n: i64,
}

impl Mask {
    pub fn new(first: i64, last: i64) -> Mask {
        Mask {
            first,
            n: (last - first + 1).max(1),
        }
    }

    /// Whether every bucket is a bit of one mask (no chunk key).
    pub fn single(&self) -> bool {
        self.n <= BITS
    }

    fn index(&self, bucket: &str) -> String {
        format!("(({bucket}) - {})", self.first)
    }

    /// The rollup keys: the chunk `w` when there are several chunks, else none.
    pub fn keys(&self, sql: &Sql, bucket: &str) -> Vec<(String, String)> {
        if self.single() {
            Vec::new()
        } else {
            vec![(sql.idiv(&self.index(bucket), BITS), "w".into())]
        }
    }

    /// The chunk of a rollup row: `w`, or the constant 0 for a single chunk.
    pub fn chunk_col(&self, sql: &Sql) -> String {
        if self.single() { sql.int("0") } else { "w".into() }
    }

    /// A rollup aggregate `alias`: the mask of the buckets (within the row's chunk) of the events
    /// for which `cond` holds (every event when `None`). `bucket` must lie in `first..first + n`
    /// on every event the rollup reads.
    pub fn agg(&self, sql: &Sql, alias: &str, bucket: &str, cond: Option<&str>) -> Agg {
        let pos = if self.single() {
            self.index(bucket)
        } else {
            sql.imod(&self.index(bucket), BITS)
        };
        let bit = sql.bit(&pos);
        let value = match cond {
            Some(c) => format!("(CASE WHEN {c} THEN {bit} ELSE {} END)", sql.int("0")),
            None => bit,
        };
        Agg::new(alias, sql.bit_or_agg(&value), Merge::BitOr)
    }

    /// The bits of one chunk that hold buckets (all of them when there are several chunks).
    pub fn chunk_bits(&self) -> std::ops::Range<u32> {
        0..self.n.min(BITS) as u32
    }

    /// The bucket id of bit `j` of chunk `w`.
    pub fn bucket(&self, w: i64, j: u32) -> i64 {
        self.first + w * BITS + j as i64
    }

    /// For a single chunk: a mask with bit i set when bit i - s of `mask` is set for some
    /// `0 <= s < width` (activity in the `width` buckets ending with bucket i).
    pub fn window(&self, sql: &Sql, mask: &str, width: u32) -> String {
        debug_assert!(self.single());
        let terms: Vec<String> = (0..width.min(BITS as u32))
            .map(|s| sql.shl_within(mask, s, BITS as u32))
            .collect();
        sql.bor(&terms)
    }
}

/// `sum(bit j of mask) AS c{j}` for the bits `bits`: the number of rows (persons) with each bit.
pub fn bit_counts(sql: &Sql, mask: &str, bits: std::ops::Range<u32>) -> Vec<String> {
    bits.map(|j| {
        format!(
            "{} AS c{j}",
            sql.int(&format!("sum({})", sql.flag(&sql.has_bit(mask, j))))
        )
    })
    .collect()
}
