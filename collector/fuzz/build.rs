// Bake the prebuilt libduckdb's directory into the rpath (as collector/build.rs does).
include!("../../engine/rpath.rs");
