//! The query layer: SQL generated per [`crate::store::Dialect`], executed inside the backend.
