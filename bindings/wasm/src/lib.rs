//! Footfall WebAssembly bindings: the browser host of the Footfall core.
//!
//! The core (`footfall`, built without features: no serde, its own JSON) owns the whole
//! pipeline (validation, tracking plan, consent, anonymization, sessions, batching, retry); this
//! crate drives it from a browser page:
//!
//! - [`options`]: the `Footfall.load({...})` object → host options + the core's `Config`.
//! - [`kv`]: the key-value storage traits (`localStorage`, the identity cookie) and key layout.
//! - [`kv_store`]: the core's `Store` over `localStorage` (chunks of queued events, one
//!   partition per tab, nothing written before consent, optional cookie, adoption of a dead
//!   tab's partition).
//! - [`heap`]: the bundle's small allocator (the global allocator on wasm32).
//! - `web` (wasm32 only): the exported `FootfallHost` class — the host's decisions (what to
//!   send when, beacons on page hide, retries on `online`, other tabs' changes) — over a few
//!   synchronous browser calls (`glue.js`). The JS side of the package (`js/src/host.ts`) owns
//!   the asynchronous parts: the timer, `fetch`, the page listeners and the Web Locks.
//!
//! The TypeScript wrapper in `js/` gives this the public, typed API; `js/scripts/build.sh`
//! builds the npm package.

pub mod heap;
pub mod kv;
pub mod kv_store;
pub mod options;

#[cfg(target_arch = "wasm32")]
mod web;
