//! Footfall WebAssembly bindings.
