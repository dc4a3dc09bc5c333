//! The browser host (wasm32 only): the `FootfallHost` class the TypeScript wrapper drives.
//!
//! Every method takes JSON text built by the wrapper (one string crossing the boundary is
//! cheaper than walking JS objects from Rust) and hands a core `Event` to the core. Bad
//! arguments (wrong shape, or what the core's `validate` step rejects) become a JS `Error`
//! naming the argument; everything else is silent to the page and visible in `stats()` and,
//! with `debug: true`, in the console.

mod env;
mod host;
mod page;
mod tabs;

use std::cell::RefCell;
use std::rc::Rc;

use footfall::consent::ConsentDecision;
use footfall::{ConsentMode, Core, Event, MessageType, NullStore, Properties, Store};
use serde_json::Value;
use wasm_bindgen::prelude::*;

use crate::kv_store::{self, Cookie, KvStore};
use crate::options::{self, Persistence};
use host::Host;
use page::{Listeners, PageState};

/// `context.library.name` of browser messages.
pub const LIBRARY: &str = "footfall-js";

fn arg_error(detail: impl std::fmt::Display) -> JsError {
    JsError::new(&detail.to_string())
}

/// The browser host of one tracker.
#[wasm_bindgen]
pub struct FootfallHost {
    host: Rc<Host>,
    page: Rc<RefCell<PageState>>,
    listeners: RefCell<Listeners>,
}

#[wasm_bindgen]
impl FootfallHost {
    /// Parses the options, claims this tab's storage partition, restores the persisted queue and
    /// identity, attaches the page listeners and sends the initial page view.
    pub async fn start(options_json: String) -> Result<FootfallHost, JsError> {
        let origin = env::origin();
        let options = options::parse(&options_json, origin.as_deref()).map_err(|e| arg_error(e.0))?;
        let host_options = options.host;
        let config = options.config;
        let now = env::now_ms();
        let opt_out = config.consent_mode() == ConsentMode::OptOut;

        let mut store_handle = None;
        let storage = match host_options.persistence {
            Persistence::LocalStorage => env::LocalStorage::open(),
            Persistence::Memory => None,
        };
        let store: Box<dyn Store> = match storage {
            Some(kv) => {
                let prefix = kv_store::prefix(&host_options.write_key);
                let tab = footfall::rng::uuid_v4(&mut env::CryptoRng::new());
                let adopted = tabs::claim(&kv, &prefix, &tab, now).await;
                let cookie = host_options
                    .cookie_domain
                    .as_deref()
                    .and_then(|d| env::DocumentCookie::new(&host_options.write_key, d))
                    .map(|c| Box::new(c) as Box<dyn Cookie>);
                let (store, handle) = KvStore::new(Box::new(kv), cookie, prefix, tab, adopted, opt_out);
                store_handle = Some(handle);
                Box::new(store)
            }
            None => Box::new(NullStore),
        };

        let mut core = Core::new(config, store, Box::new(env::CryptoRng::new()), now).map_err(arg_error)?;
        core.set_library(LIBRARY, env!("CARGO_PKG_VERSION"));
        if host_options.debug {
            core.set_debug_log(Box::new(|e| {
                env::log(&(String::from("[footfall] ") + &e.to_string()))
            }));
        }
        let page = Rc::new(RefCell::new(PageState::read(None)));
        core.set_default_context(page.borrow().context());
        core.set_privacy_signals(env::privacy_signals(), now);

        let host = Host::new(core, store_handle);
        let listeners = Listeners::attach(
            &host,
            &page,
            host_options.auto_page_views,
            host_options.autocapture,
        );
        if host_options.auto_page_views {
            page::page_view(&host, &page);
        }
        host.schedule(now);
        Ok(FootfallHost {
            host,
            page,
            listeners: RefCell::new(listeners),
        })
    }

    /// Any event, as the core's `Event` JSON (`{"type":"track","event":…,"properties":…}`).
    pub fn track(&self, event_json: &str) -> Result<(), JsError> {
        let mut event: Event = serde_json::from_str(event_json).map_err(arg_error)?;
        footfall::pipeline::validate::validate(&event).map_err(|r| arg_error(r.detail))?;
        if event.kind == MessageType::Page {
            self.page.borrow().fill(&mut event);
        }
        self.submit(event);
        Ok(())
    }

    /// A typed product event built by the core (`click`, `purchase`, ...): `args` is the JSON
    /// array of its positional arguments, `properties` extra properties.
    pub fn typed(&self, kind: &str, args_json: &str, properties_json: Option<String>) -> Result<(), JsError> {
        let args: Vec<Value> = serde_json::from_str(args_json).map_err(arg_error)?;
        let s = |i: usize| args.get(i).and_then(Value::as_str);
        let req = |i: usize| s(i).unwrap_or("");
        let mut event = match kind {
            "page_view" => {
                let page = self.page.borrow();
                let url = s(0)
                    .or_else(|| page.info.get("url").and_then(Value::as_str))
                    .unwrap_or("");
                let referrer = s(1)
                    .or_else(|| page.info.get("referrer").and_then(Value::as_str))
                    .filter(|r| !r.is_empty());
                Event::page_view(url, referrer, s(2))
            }
            "click" => Event::click(req(0), req(1), s(2)),
            "submit" => Event::submit(req(0)),
            "sign_up" => Event::sign_up(),
            "sign_in" => Event::sign_in(),
            "sign_out" => Event::sign_out(),
            "feature_used" => Event::feature_used(req(0), s(1)),
            "purchase" => {
                let amount = args.get(1).and_then(Value::as_f64).unwrap_or(0.0);
                Event::purchase(
                    req(0),
                    amount,
                    req(2),
                    args.get(3).cloned().unwrap_or(Value::Array(Vec::new())),
                )
            }
            "error" => Event::error(req(0), req(1), s(2)),
            other => return Err(arg_error(String::from("unknown typed event ") + other)),
        };
        if let Some(json) = properties_json {
            let extra: Properties = serde_json::from_str(&json).map_err(arg_error)?;
            for (k, v) in extra {
                event.properties.entry(k).or_insert(v);
            }
        }
        self.submit(event);
        Ok(())
    }

    fn submit(&self, event: Event) {
        let now = env::now_ms();
        self.host.core.borrow_mut().track(event, now);
        self.host.schedule(now);
    }

    /// `grant`, `deny` or `revoke` the JSON array of categories (`null`: every category).
    pub fn consent(&self, action: &str, categories_json: Option<String>) -> Result<(), JsError> {
        let categories: Option<Vec<String>> = match categories_json {
            Some(json) => Some(serde_json::from_str(&json).map_err(arg_error)?),
            None => None,
        };
        let refs: Option<Vec<&str>> = categories
            .as_ref()
            .map(|c| c.iter().map(String::as_str).collect());
        let now = env::now_ms();
        {
            let mut core = self.host.core.borrow_mut();
            match (action, refs.as_deref()) {
                ("grant", Some(c)) => core.grant(c, now),
                ("grant", None) => core.grant_all(now),
                ("deny", Some(c)) => core.deny(c, now),
                ("deny", None) => core.deny_all(now),
                ("revoke", Some(c)) => core.revoke(c, now),
                ("revoke", None) => {
                    let all: Vec<String> = core.config().consent.categories.clone();
                    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
                    core.revoke(&refs, now);
                }
                _ => return Err(arg_error(String::from("unknown consent action ") + action)),
            }
        }
        if action == "grant" && !self.host.store_open() && self.any_granted() {
            self.host.open_store();
        }
        self.host.schedule(now);
        Ok(())
    }

    fn any_granted(&self) -> bool {
        let core = self.host.core.borrow();
        let categories = &core.config().consent.categories;
        categories
            .iter()
            .any(|c| c != "necessary" && core.consent_decision(c) == ConsentDecision::Granted)
    }

    /// `{category: "granted" | "denied" | "pending"}` for every configured category, as JSON.
    #[wasm_bindgen(js_name = consentState)]
    pub fn consent_state(&self) -> String {
        let core = self.host.core.borrow();
        let map: serde_json::Map<String, Value> = core
            .config()
            .consent
            .categories
            .iter()
            .map(|c| {
                (
                    c.clone(),
                    serde_json::to_value(core.consent_decision(c)).unwrap_or(Value::Null),
                )
            })
            .collect();
        Value::Object(map).to_string()
    }

    /// Sends everything queued now; resolves when done or when delivery is failing (never rejects).
    pub fn flush(&self) -> js_sys::Promise {
        self.host.flush()
    }

    /// Logout: new anonymous id, no user id, new session.
    pub fn reset(&self) {
        self.host.core.borrow_mut().reset(env::now_ms());
    }

    /// Super properties (a JSON object) added to every event.
    pub fn register(&self, properties_json: &str) -> Result<(), JsError> {
        let props: Properties = serde_json::from_str(properties_json).map_err(arg_error)?;
        self.host.core.borrow_mut().register(props);
        Ok(())
    }

    pub fn unregister(&self, key: &str) {
        self.host.core.borrow_mut().unregister(key);
    }

    /// The core's counters as JSON.
    pub fn stats(&self) -> String {
        let mut stats = self.host.core.borrow().stats();
        stats.store_errors += self.host.commit_errors.get();
        serde_json::to_string(&stats).unwrap_or_default()
    }

    #[wasm_bindgen(js_name = anonymousId)]
    pub fn anonymous_id(&self) -> String {
        self.host.core.borrow().anonymous_id().to_string()
    }

    #[wasm_bindgen(js_name = userId)]
    pub fn user_id(&self) -> Option<String> {
        self.host.core.borrow().user_id().map(str::to_string)
    }

    #[wasm_bindgen(js_name = sessionId)]
    pub fn session_id(&self) -> Option<String> {
        self.host
            .core
            .borrow()
            .session_id(env::now_ms())
            .map(str::to_string)
    }

    /// Removes the listeners and stops sending; what is queued stays persisted.
    pub fn destroy(&self) {
        self.listeners.borrow_mut().detach();
        self.host.core.borrow_mut().persist(env::now_ms());
        self.host.stop();
    }
}
