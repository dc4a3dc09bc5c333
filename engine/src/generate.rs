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

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::store::{EventRow, IdentityLink, Store, StoreError, WriteBatch};

const DAY: i64 = 86_400_000;

/// Pause between two events of a session: 1 to 91 s.
fn gap(rng: &mut Rng) -> i64 {
    1_000 + rng.below(90_000) as i64
}
const FEATURES: [&str; 8] = [
    "dashboards",
    "export",
    "alerts",
    "sharing",
    "search",
    "api",
    "annotations",
    "sso",
];
const PAGES: [&str; 7] = [
    "/",
    "/features",
    "/docs",
    "/blog/launch",
    "/blog/privacy",
    "/about",
    "/changelog",
];
const APP_PAGES: [&str; 5] = [
    "/app",
    "/app/dashboards",
    "/app/reports",
    "/app/settings",
    "/app/team",
];
const BROWSERS: [(&str, u32); 4] = [("Chrome", 62), ("Safari", 20), ("Firefox", 10), ("Edge", 8)];
const OSES: [(&str, &str, u32); 5] = [
    ("Windows", "desktop", 38),
    ("macOS", "desktop", 22),
    ("iOS", "mobile", 20),
    ("Android", "mobile", 16),
    ("Linux", "desktop", 4),
];

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

/// SplitMix64: tiny, fast, and identical everywhere.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// True with probability `per_mille / 1000`.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
    fn weighted<'a, T>(&mut self, items: &'a [(T, u32)]) -> &'a T {
        let total: u32 = items.iter().map(|i| i.1).sum();
        let mut x = self.below(total as u64) as u32;
        for (item, w) in items {
            if x < *w {
                return item;
            }
            x -= w;
        }
        &items[0].0
    }
}

#[derive(Debug, Clone)]
struct Visitor {
    anon: Vec<String>,
    user: Option<String>,
    browser: &'static str,
    os: &'static str,
    device: &'static str,
    plan: &'static str,
}

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

    fn pick_visitor(&mut self) -> usize {
        if self.visitors.is_empty() || self.rng.chance(300) {
            let browser = *self.rng.weighted(&BROWSERS);
            let (os, device) = {
                let items: Vec<((&str, &str), u32)> = OSES.iter().map(|(o, d, w)| ((*o, *d), *w)).collect();
                *self.rng.weighted(&items)
            };
            let plan = *self.rng.weighted(&[("free", 70), ("pro", 25), ("enterprise", 5)]);
            let id = self.visitors.len();
            self.visitors.push(Visitor {
                anon: vec![format!("anon-{:x}-{id}", self.cfg.seed)],
                user: None,
                browser,
                os,
                device,
                plan,
            });
            return id;
        }
        // Regulars: skewed towards a small set of visitors.
        let n = self.visitors.len() as u64;
        let u = self.rng.below(1_000_000);
        ((n * u / 1_000_000 * u / 1_000_000 * u / 1_000_000) as usize).min(self.visitors.len() - 1)
    }

    fn session(&mut self, start: i64, rows: &mut Vec<EventRow>) {
        let bot = self.rng.chance(30);
        let vid = if bot { usize::MAX } else { self.pick_visitor() };
        let session = format!("s-{:x}-{}", self.cfg.seed, self.next_id);
        let mut t = start;
        if bot {
            let anon = format!("bot-{}", self.rng.below(50));
            for _ in 0..(3 + self.rng.below(10)) {
                let page = PAGES[self.rng.below(PAGES.len() as u64) as usize];
                let mut r = self.row(
                    &anon,
                    None,
                    "page",
                    "page_view",
                    t,
                    &session,
                    ("Googlebot", "Linux", "bot"),
                );
                r.is_bot = true;
                r.properties = json!({"url": format!("https://example.com{page}"), "path": page}).to_string();
                rows.push(r);
                t += gap(&mut self.rng);
            }
            return;
        }
        // Late second device for some signed-up users.
        if self.visitors[vid].user.is_some() && self.visitors[vid].anon.len() == 1 && self.rng.chance(40) {
            let n = self.visitors[vid].anon.len();
            self.visitors[vid]
                .anon
                .push(format!("anon-{:x}-{vid}-{n}", self.cfg.seed));
        }
        let v = self.visitors[vid].clone();
        let anon = v.anon[self.rng.below(v.anon.len() as u64) as usize].clone();
        let ua = (v.browser, v.os, v.device);
        let mut user = v.user.clone();
        if user.is_some() && anon != v.anon[0] && self.linked.insert(anon.clone()) {
            // First session on the new device: sign in links it.
            let r = self.identify(
                &anon,
                user.as_deref().unwrap_or_default(),
                t,
                &session,
                ua,
                v.plan,
            );
            rows.push(r);
            t += gap(&mut self.rng);
        }
        let pages = if user.is_some() {
            &APP_PAGES[..]
        } else {
            &PAGES[..]
        };
        for _ in 0..(1 + self.rng.below(4)) {
            let page = pages[self.rng.below(pages.len() as u64) as usize];
            rows.push(self.page(&anon, user.as_deref(), t, &session, ua, page));
            t += gap(&mut self.rng);
            if self.rng.chance(500) {
                let id = format!("btn-{}", self.rng.below(12));
                let mut r = self.row(&anon, user.as_deref(), "track", "click", t, &session, ua);
                r.properties =
                    json!({"element_id": id, "element_type": "button", "element_text": "Go"}).to_string();
                rows.push(r);
                t += gap(&mut self.rng);
            }
        }
        if user.is_none() && self.rng.chance(180) {
            // The signup journey; some visitors drop off at each step.
            rows.push(self.page(&anon, None, t, &session, ua, "/pricing"));
            t += gap(&mut self.rng);
            if !self.rng.chance(700) {
                return;
            }
            let mut r = self.row(&anon, None, "track", "click", t, &session, ua);
            r.properties =
                json!({"element_id": "cta-signup", "element_type": "button", "element_text": "Start free"})
                    .to_string();
            rows.push(r);
            t += gap(&mut self.rng);
            rows.push(self.page(&anon, None, t, &session, ua, "/signup"));
            t += gap(&mut self.rng);
            if !self.rng.chance(600) {
                return;
            }
            let mut r = self.row(&anon, None, "track", "submit", t, &session, ua);
            r.properties = json!({"form_name": "signup"}).to_string();
            rows.push(r);
            t += 200 + self.rng.below(2_000) as i64;
            self.users += 1;
            let uid = format!("user-{:x}-{}", self.cfg.seed, self.users);
            let mut r = self.row(&anon, Some(&uid), "track", "sign_up", t, &session, ua);
            r.properties =
                json!({"method": if self.rng.chance(500) { "email" } else { "google" }, "plan": v.plan})
                    .to_string();
            rows.push(r);
            t += 100 + self.rng.below(1_000) as i64;
            self.linked.insert(anon.clone());
            rows.push(self.identify(&anon, &uid, t, &session, ua, v.plan));
            t += gap(&mut self.rng);
            self.visitors[vid].user = Some(uid.clone());
            user = Some(uid);
        }
        let Some(uid) = user else { return };
        if self.rng.chance(300) {
            rows.push(self.row(&anon, Some(&uid), "track", "sign_in", t, &session, ua));
            t += gap(&mut self.rng);
        }
        for _ in 0..self.rng.below(6) {
            // Zipf-like: feature k with weight 1/(k+1).
            let weights: Vec<(usize, u32)> = (0..FEATURES.len()).map(|k| (k, 840 / (k as u32 + 1))).collect();
            let f = FEATURES[*self.rng.weighted(&weights)];
            let mut r = self.row(&anon, Some(&uid), "track", "feature_used", t, &session, ua);
            r.properties =
                json!({"feature_name": f, "feature_version": format!("1.{}", self.rng.below(4))}).to_string();
            rows.push(r);
            t += gap(&mut self.rng);
        }
        if self.rng.chance(80) {
            let amount = (500 + self.rng.below(20_000)) as f64 / 100.0;
            let mut r = self.row(&anon, Some(&uid), "track", "purchase", t, &session, ua);
            r.properties = json!({"purchase_id": format!("p-{}", self.next_id), "amount": amount,
                "currency": if self.rng.chance(700) { "USD" } else { "EUR" }, "items": 1 + self.rng.below(4)})
            .to_string();
            rows.push(r);
            t += gap(&mut self.rng);
        }
        if self.rng.chance(20) {
            let mut r = self.row(&anon, Some(&uid), "track", "error", t, &session, ua);
            r.properties = json!({"error_type": "TypeError", "error_message": "x is undefined"}).to_string();
            rows.push(r);
        }
    }

    fn identify(
        &mut self,
        anon: &str,
        uid: &str,
        t: i64,
        session: &str,
        ua: (&str, &str, &str),
        plan: &str,
    ) -> EventRow {
        let mut r = self.row(anon, Some(uid), "identify", "$identify", t, session, ua);
        let size = ["1-10", "11-50", "51-200", "201+"][self.rng.below(4) as usize];
        r.traits = json!({"plan": plan, "company_size": size, "email_domain": "example.com"}).to_string();
        self.links.push(IdentityLink {
            project_id: self.cfg.project_id.clone(),
            anonymous_id: anon.into(),
            user_id: uid.into(),
            linked_at: t,
        });
        r
    }

    fn page(
        &mut self,
        anon: &str,
        user: Option<&str>,
        t: i64,
        session: &str,
        ua: (&str, &str, &str),
        path: &str,
    ) -> EventRow {
        let mut r = self.row(anon, user, "page", "page_view", t, session, ua);
        let referrer = [
            "",
            "https://google.com",
            "https://news.ycombinator.com",
            "https://twitter.com",
        ][self.rng.below(4) as usize];
        r.properties =
            json!({"url": format!("https://example.com{path}"), "path": path, "referrer": referrer})
                .to_string();
        // Visitors from the search ad and the launch post carry UTM parameters: the browser SDK
        // puts them in `context.campaign` (no random draw, so the rest of the data is unchanged).
        let campaign = match referrer {
            "https://google.com" => json!({"source": "google", "medium": "cpc", "name": "brand"}),
            "https://twitter.com" => json!({"source": "twitter", "medium": "social", "name": "launch"}),
            _ => Value::Null,
        };
        r.context = if campaign.is_null() {
            json!({"page": {"path": path}, "locale": "en-US"})
        } else {
            json!({"page": {"path": path}, "locale": "en-US", "campaign": campaign})
        }
        .to_string();
        r
    }

    #[allow(clippy::too_many_arguments)]
    fn row(
        &mut self,
        anon: &str,
        user: Option<&str>,
        kind: &str,
        event: &str,
        ts: i64,
        session: &str,
        ua: (&str, &str, &str),
    ) -> EventRow {
        self.next_id += 1;
        EventRow {
            project_id: self.cfg.project_id.clone(),
            message_id: format!("{:08x}-{:012x}", self.cfg.seed as u32, self.next_id),
            kind: kind.into(),
            event: event.into(),
            ts,
            received_at: ts + 50 + self.rng.below(500) as i64,
            sent_at: Some(ts + 20),
            original_timestamp: None,
            anonymous_id: Some(anon.into()),
            user_id: user.map(str::to_string),
            session_id: Some(session.into()),
            group_id: None,
            browser: Some(ua.0.into()),
            os: Some(ua.1.into()),
            device_type: Some(ua.2.into()),
            is_bot: false,
            ip: None,
            properties: "{}".into(),
            traits: "{}".into(),
            context: "{}".into(),
        }
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
