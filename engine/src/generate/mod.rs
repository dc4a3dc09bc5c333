//! A deterministic generator of realistic product events, for benchmarks, differential tests
//! and the collector's demo project.
//!
//! The same [`GenConfig`] (seed included) always yields the same events, in the same order, on
//! every machine (own SplitMix64 generator, no floating-point time arithmetic). The model:
//!
//! * **Visitors** arrive over the period (a new visitor starts ~30% of sessions); returning
//!   sessions favour a heavy-tailed set of regulars. Each visitor has a browser, OS and device,
//!   and one anonymous id per device (some signed-up users get a second device later).
//! * **Sessions** (`session_id`) at daytime-weighted hours: page views (`page_view`, `kind`
//!   page) and clicks; anonymous visitors sometimes run the **signup journey** — pricing →
//!   click → signup page → `submit` → `sign_up` → an `identify` (`$identify`, traits plan,
//!   company_size, email_domain) with an [`IdentityLink`] from the anonymous id: the events
//!   before it carry only the anonymous id, so person resolution must merge them.
//! * **Signed-up users**: `sign_in`, `feature_used` (`feature_name` Zipf-distributed over eight
//!   features, `feature_version`), `purchase` (`amount`, `currency`, `items`), `error`.
//! * **Campaigns**: page views referred by the search ad or the launch post carry
//!   `context.campaign` (`source`/`medium`/`name`, as the browser SDK sends from UTM parameters).
//! * **Bots** (~3% of sessions): page views flagged `is_bot` with a crawler browser.
//! * **Retries**: a small share of events is emitted twice with the same message id (the store
//!   must keep one).
//!
//! Events stream as [`WriteBatch`] chunks ([`Generator`] is an iterator), day by day in time
//! order, so any [`Store`] can be fed without holding the data set in memory.
//!
//! # Layout
//!
//! This file holds the configuration, the [`Generator`]'s day-by-day driver (a day's quota,
//! session starts, batching and retries) and the seeding functions; `session.rs` simulates one
//! visitor's session (who visits, which pages and events, the signup journey, identity links)
//! and `rng.rs` is the random generator. The draws happen in a fixed order, so the output
//! depends on nothing but the [`GenConfig`].

use std::collections::HashSet;

use crate::store::{EventRow, IdentityLink, Store, StoreError, WriteBatch};

mod rng;
mod session;

use rng::Rng;
use session::Visitor;

const DAY: i64 = 86_400_000;

/// What to generate. Defaults: 1,000,000 events over 30 days from 2026-10-01 UTC, seed 42.
#[derive(Debug, Clone, PartialEq)]
pub struct GenConfig {
    pub project_id: String,
    pub seed: u64,
    /// Total events emitted (duplicates included).
    pub events: usize,
    /// First day, ms since the epoch (UTC midnight recommended).
    pub start_ms: i64,
    pub days: u32,
    /// Events per [`WriteBatch`] (default 10,000).
    pub batch_size: usize,
    /// Share of events sent twice with the same message id (default 0.002).
    pub duplicate_rate: f64,
    /// No event at or after this instant (ms): the day it falls in gets its share of events in
    /// the hours before it. Default none (every day whole).
    pub until_ms: Option<i64>,
}

impl GenConfig {
    pub fn new(project_id: &str, events: usize) -> Self {
        GenConfig {
            project_id: project_id.into(),
            seed: 42,
            events,
            start_ms: 1_790_812_800_000, // 2026-10-01T00:00:00Z
            days: 30,
            batch_size: 10_000,
            duplicate_rate: 0.002,
            until_ms: None,
        }
    }

    /// The collector's demo project: 400,000 events over the 61 days ending at `now_ms` — the
    /// example dashboards' default range (the last 30 days and today) and the period before it,
    /// so "vs previous period" compares with real numbers. None after `now_ms` (less a second):
    /// today's share falls in today's hours so far, and what arrives live comes after it.
    pub fn demo(project_id: &str, now_ms: i64) -> Self {
        let mut c = GenConfig::new(project_id, 400_000);
        c.days = DEMO_DAYS;
        c.start_ms = (now_ms.div_euclid(DAY) - (DEMO_DAYS as i64 - 1)) * DAY;
        c.until_ms = Some(now_ms - 1_000);
        c
    }
}

/// Days of the demo project's events (see [`GenConfig::demo`]).
pub const DEMO_DAYS: u32 = 61;

/// Streams the events of a [`GenConfig`] as write batches.
pub struct Generator {
    cfg: GenConfig,
    rng: Rng,
    visitors: Vec<Visitor>,
    day: u32,
    emitted: usize,
    next_id: u64,
    pending: Vec<EventRow>,
    links: Vec<IdentityLink>,
    /// Anonymous ids already linked to a user.
    linked: HashSet<String>,
    users: u64,
}

/// Counts of what a generation produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenReport {
    pub events: usize,
    pub inserted: usize,
    pub duplicates: usize,
    pub links: usize,
}

impl Generator {
    pub fn new(cfg: GenConfig) -> Self {
        let rng = Rng(cfg.seed ^ 0x5EED_F007_FA11_0001);
        Generator {
            cfg,
            rng,
            visitors: Vec::new(),
            day: 0,
            emitted: 0,
            next_id: 0,
            pending: Vec::new(),
            links: Vec::new(),
            linked: HashSet::new(),
            users: 0,
        }
    }

    fn quota(&self, day: u32) -> usize {
        let per = self.cfg.events / self.cfg.days.max(1) as usize;
        if day + 1 == self.cfg.days {
            self.cfg.events - per * (self.cfg.days as usize - 1)
        } else {
            per
        }
    }

    /// Generates one day into `pending` (sorted by time).
    fn fill_day(&mut self) {
        let quota = self.quota(self.day);
        let day_start = self.cfg.start_ms + self.day as i64 * DAY;
        // The part of the day before `until_ms` (all of it without one): session starts are
        // squeezed into it and events after it dropped (a session running past it is cut).
        let until = self.cfg.until_ms.unwrap_or(i64::MAX);
        let span = (until.saturating_sub(day_start)).clamp(1, DAY);
        let mut rows = Vec::with_capacity(quota + 64);
        while rows.len() < quota {
            while rows.len() < quota {
                // Daytime-weighted session start: the mean of two uniform hours, shifted to 6..24.
                let minute = (self.rng.below(18 * 60) + self.rng.below(18 * 60)) / 2 + 6 * 60;
                let offset = minute as i64 * 60_000 + self.rng.below(60_000) as i64;
                let start = day_start + (offset as i128 * span as i128 / DAY as i128) as i64;
                self.session(start, &mut rows);
            }
            rows.retain(|r| r.ts < until);
        }
        rows.truncate(quota);
        rows.sort_by(|a, b| (a.ts, &a.message_id).cmp(&(b.ts, &b.message_id)));
        self.pending = rows;
    }
}

impl Iterator for Generator {
    type Item = WriteBatch;

    fn next(&mut self) -> Option<WriteBatch> {
        while self.pending.is_empty() {
            if self.day >= self.cfg.days || self.emitted >= self.cfg.events {
                return None;
            }
            self.fill_day();
            self.day += 1;
        }
        // Retries below count towards the total: the last day is cut so that exactly
        // `events` are emitted.
        let take = self
            .cfg
            .batch_size
            .max(1)
            .min(self.pending.len())
            .min(self.cfg.events - self.emitted);
        let mut events: Vec<EventRow> = self.pending.drain(..take).collect();
        // Retries: re-send a few events of this batch with the same message id.
        let dup_per_million = (self.cfg.duplicate_rate * 1e6) as u64;
        let extra: Vec<EventRow> = events
            .iter()
            .filter(|_| self.rng.below(1_000_000) < dup_per_million)
            .cloned()
            .collect();
        let room = self.cfg.events.saturating_sub(self.emitted + events.len());
        events.extend(extra.into_iter().take(room));
        self.emitted += events.len();
        if self.emitted >= self.cfg.events {
            self.pending.clear();
            self.day = self.cfg.days;
        }
        let last_ts = events.last().map(|e| e.ts).unwrap_or(i64::MAX);
        let (links, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.links)
            .into_iter()
            .partition(|l| l.linked_at <= last_ts);
        self.links = rest;
        Some(WriteBatch {
            events,
            links,
            dead_letters: Vec::new(),
        })
    }
}

/// Writes everything `cfg` generates into `store`.
pub async fn seed_store(store: &dyn Store, cfg: GenConfig) -> Result<GenReport, StoreError> {
    let mut report = GenReport::default();
    for batch in Generator::new(cfg) {
        report.events += batch.events.len();
        report.links += batch.links.len();
        let r = store.write(batch).await?;
        report.inserted += r.inserted;
        report.duplicates += r.duplicates.len();
    }
    Ok(report)
}

/// Seeds the collector's demo project (see [`GenConfig::demo`]).
pub async fn seed_demo(store: &dyn Store, project_id: &str, now_ms: i64) -> Result<GenReport, StoreError> {
    seed_store(store, GenConfig::demo(project_id, now_ms)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The demo's last day ends at "now": no event (nor its arrival) after it, and the total is
    /// still the configured number.
    #[test]
    fn nothing_is_generated_after_until() {
        let now = 1_790_812_800_000 + 2 * DAY + 10 * 3_600_000; // day 3, 10:00 UTC
        let mut c = GenConfig::new("p", 30_000);
        c.days = 3;
        c.until_ms = Some(now);
        let events: Vec<EventRow> = Generator::new(c).flat_map(|b| b.events).collect();
        assert_eq!(events.len(), 30_000);
        let last_day: Vec<&EventRow> = events.iter().filter(|e| e.ts >= now - 10 * 3_600_000).collect();
        assert!(
            last_day.len() > 5_000,
            "today keeps its share: {}",
            last_day.len()
        );
        assert!(events.iter().all(|e| e.ts < now && e.received_at < now + 1_000));
        let mut without = GenConfig::new("p", 30_000);
        without.days = 3;
        let late = Generator::new(without)
            .flat_map(|b| b.events)
            .filter(|e| e.ts >= now)
            .count();
        assert!(
            late > 1_000,
            "without `until_ms` the day is whole ({late} after 10:00)"
        );
    }
}
