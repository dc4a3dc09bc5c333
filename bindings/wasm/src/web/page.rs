//! Page-level listeners: flush on hide, retry when back online, storage changes by other tabs
//! (consent given there allows storage here), automatic page views for the initial load and SPA
//! navigations, and click autocapture. All are removed by `detach`.

use std::cell::RefCell;
use std::rc::Rc;

use footfall::{Event, EventContext, Properties};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use super::env::{self, click_target, page_info, watch_history};
use super::host::Host;

/// What the page looks like now: `{url, path, referrer, search, title}` and the last URL seen.
pub struct PageState {
    pub info: Properties,
    pub url: String,
    user_agent: Option<String>,
    locale: Option<String>,
}

impl PageState {
    pub fn read(referrer: Option<String>) -> PageState {
        let info: Properties = serde_json::from_str(&page_info(referrer)).unwrap_or_default();
        let url = info
            .get("url")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string();
        let (user_agent, locale) = env::user_agent_and_locale();
        PageState {
            info,
            url,
            user_agent,
            locale,
        }
    }

    /// The context every message gets: user agent, locale and this page.
    pub fn context(&self) -> EventContext {
        EventContext {
            user_agent: self.user_agent.clone(),
            locale: self.locale.clone(),
            page: Some(self.info.clone()),
            ..EventContext::default()
        }
    }

    /// Fills a `page` event's properties with the page's (the caller's win).
    pub fn fill(&self, event: &mut Event) {
        for (k, v) in &self.info {
            event.properties.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}

type Listener = (
    web_sys::EventTarget,
    &'static str,
    Closure<dyn FnMut(web_sys::Event)>,
);

/// The listeners of one tracker; `detach` removes them.
#[derive(Default)]
pub struct Listeners {
    listeners: Vec<Listener>,
    unwatch_history: Option<js_sys::Function>,
    _navigate: Option<Closure<dyn FnMut()>>,
}

fn listen(
    list: &mut Vec<Listener>,
    target: web_sys::EventTarget,
    name: &'static str,
    f: impl FnMut(web_sys::Event) + 'static,
) {
    let closure = Closure::<dyn FnMut(web_sys::Event)>::new(f);
    let options = web_sys::AddEventListenerOptions::new();
    options.set_capture(true);
    let _ = target.add_event_listener_with_callback_and_add_event_listener_options(
        name,
        closure.as_ref().unchecked_ref(),
        &options,
    );
    list.push((target, name, closure));
}

/// Records a navigation: when the URL changed, updates the page state and context and (with
/// `auto_page_views`) sends a page view.
pub fn navigated(host: &Host, page: &RefCell<PageState>, auto_page_views: bool) {
    let previous = page.borrow().url.clone();
    let next = PageState::read(Some(previous.clone()));
    if next.url == previous {
        return;
    }
    host.core.borrow_mut().set_default_context(next.context());
    *page.borrow_mut() = next;
    if auto_page_views {
        page_view(host, page);
    }
}

/// A `page` call for the current page.
pub fn page_view(host: &Host, page: &RefCell<PageState>) {
    let mut event = Event::page(None);
    page.borrow().fill(&mut event);
    let now = env::now_ms();
    host.core.borrow_mut().track(event, now);
    host.schedule(now);
}

impl Listeners {
    pub fn attach(
        host: &Rc<Host>,
        page: &Rc<RefCell<PageState>>,
        auto_page_views: bool,
        autocapture: bool,
    ) -> Listeners {
        let mut me = Listeners::default();
        let Some(window) = env::window() else { return me };
        let document = window.document();
        let weak = Rc::downgrade(host);

        if let Some(doc) = &document {
            let (w, d) = (weak.clone(), doc.clone());
            listen(
                &mut me.listeners,
                doc.clone().into(),
                "visibilitychange",
                move |_| {
                    if d.visibility_state() == web_sys::VisibilityState::Hidden {
                        if let Some(h) = w.upgrade() {
                            h.flush_on_hide();
                        }
                    }
                },
            );
        }
        let w = weak.clone();
        listen(&mut me.listeners, window.clone().into(), "pagehide", move |_| {
            if let Some(h) = w.upgrade() {
                h.flush_on_hide();
            }
        });
        let w = weak.clone();
        listen(&mut me.listeners, window.clone().into(), "storage", move |_| {
            if let Some(h) = w.upgrade() {
                h.on_storage_changed();
            }
        });
        let w = weak.clone();
        listen(&mut me.listeners, window.clone().into(), "online", move |_| {
            if let Some(h) = w.upgrade() {
                h.on_online();
            }
        });

        let (w, p) = (weak.clone(), page.clone());
        let navigate = Closure::<dyn FnMut()>::new(move || {
            if let Some(h) = w.upgrade() {
                navigated(&h, &p, auto_page_views);
            }
        });
        me.unwatch_history = Some(watch_history(navigate.as_ref().unchecked_ref()));
        me._navigate = Some(navigate);

        if autocapture {
            if let Some(doc) = document {
                let w = weak.clone();
                listen(&mut me.listeners, doc.into(), "click", move |e| {
                    let Some(h) = w.upgrade() else { return };
                    let found = click_target(&e);
                    if found.is_null() {
                        return;
                    }
                    let pair = js_sys::Array::from(&found);
                    let (Some(name), Some(props)) = (pair.get(0).as_string(), pair.get(1).as_string()) else {
                        return;
                    };
                    let props: Properties = serde_json::from_str(&props).unwrap_or_default();
                    let now = env::now_ms();
                    h.core
                        .borrow_mut()
                        .track(Event::track(name).properties(props), now);
                    h.schedule(now);
                });
            }
        }
        me
    }

    pub fn detach(&mut self) {
        for (target, name, closure) in self.listeners.drain(..) {
            let _ = target.remove_event_listener_with_callback_and_bool(
                name,
                closure.as_ref().unchecked_ref(),
                true,
            );
        }
        if let Some(unwatch) = self.unwatch_history.take() {
            let _ = unwatch.call0(&JsValue::UNDEFINED);
        }
    }
}
