//! Footfall core SDK.
//!
//! One Rust core for the event model, pipeline, queue, batching, sessions, identity, consent,
//! anonymization and delivery policy, compiled natively for servers and to WebAssembly for
//! browsers. The core does no I/O and owns no threads or runtime: a host drives it.

pub mod message;

pub use message::{Batch, Message, MessageType};
