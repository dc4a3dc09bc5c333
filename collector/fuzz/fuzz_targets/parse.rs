//! Fuzzes the collector's body and message parsing (gzip, envelopes, messages, validation and
//! row building): `footfall_collector::fuzz_parse` must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    footfall_collector::fuzz_parse(data);
});
