//! Footfall reference collector (library): `app(state) -> Router`.
