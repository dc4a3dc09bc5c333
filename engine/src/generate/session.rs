//! One session of the simulation: who visits (a new visitor, a regular or a bot), the pages and
//! events of the visit, the signup journey and the identity links it creates.

use serde_json::{Value, json};

use super::{Generator, Rng};
use crate::store::{EventRow, IdentityLink};

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

#[derive(Debug, Clone)]
pub(super) struct Visitor {
    anon: Vec<String>,
    user: Option<String>,
    browser: &'static str,
    os: &'static str,
    device: &'static str,
    plan: &'static str,
}

impl Generator {
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

    pub(super) fn session(&mut self, start: i64, rows: &mut Vec<EventRow>) {
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
