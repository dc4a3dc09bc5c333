//! The `footfall` binary: everything lives in the library ([`footfall_collector::cli`]).

/// mimalloc: ingestion allocates many small strings on request threads and frees them on the
/// commit writer; glibc's allocator spent about a third of the CPU time there (perf, no-op sink).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    footfall_collector::cli::main()
}
