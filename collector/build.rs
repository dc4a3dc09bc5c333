// Bake the prebuilt libduckdb's directory (DUCKDB_LIB_DIR, set by .cargo/config.toml) into the
// rpath of this package's binaries and tests. Shared with engine/build.rs.
include!("../engine/rpath.rs");
