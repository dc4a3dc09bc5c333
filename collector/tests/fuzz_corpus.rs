//! The fuzz target's seed corpus (`collector/fuzz/corpus/parse`) as a plain test on the stable
//! toolchain: every seed, every prefix of it and deterministic byte mutations of it go through
//! `fuzz_parse` (body → envelope → messages → validation → rows) without a panic.

use std::path::Path;

#[test]
fn seed_corpus_and_mutations_never_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/parse");
    let mut seeds = 0;
    let mut inputs = 0;
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        seeds += 1;
        footfall_collector::fuzz_parse(&data);
        let step = (data.len() / 64).max(1);
        for cut in (0..data.len()).step_by(step) {
            footfall_collector::fuzz_parse(&data[..cut]);
            inputs += 1;
        }
        for _ in 0..200 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut mutated = data.clone();
            if mutated.is_empty() {
                break;
            }
            let i = (state % mutated.len() as u64) as usize;
            mutated[i] = match state >> 60 {
                0..=5 => {
                    let special = b"{}[]\",:\\0";
                    special[(state >> 32) as usize % special.len()]
                }
                6..=10 => (state >> 40) as u8,
                _ => mutated[i].wrapping_add(1),
            };
            footfall_collector::fuzz_parse(&mutated);
            inputs += 1;
        }
    }
    assert!(
        seeds >= 10,
        "the seed corpus is missing ({seeds} files in {})",
        dir.display()
    );
    assert!(inputs > 1000);
}
