//! Footfall WebAssembly bindings: the browser host of the Footfall core.
//!
//! The core (`footfall`) owns the whole pipeline (validation, tracking plan, consent,
//! anonymization, sessions, batching, retry); this crate only drives it from a browser page:
//!
//! - [`options`]: the `Footfall.load({...})` object → host options + the core's `Config`.
//! - [`kv`]: the key-value storage traits (`localStorage`, the identity cookie) and key layout.
//! - [`kv_store`]: the core's `Store` over `localStorage` (one key per queued event, one
//!   partition per tab, nothing written before consent, optional cookie).
//! - `web` (wasm32 only): the exported `Footfall` class, the host loop (timers, `fetch`,
//!   `sendBeacon`), page listeners (visibility, `pagehide`, `online`, SPA history, click
//!   autocapture) and the Web Locks that give each tab its partition.
//!
//! The TypeScript wrapper in `js/` gives this the public, typed API; `js/scripts/build.sh`
//! builds the npm package.

pub mod kv;
pub mod kv_store;
pub mod options;

#[cfg(target_arch = "wasm32")]
mod web;
