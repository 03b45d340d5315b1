//! Replays every fuzz target's committed corpus (`fuzz/corpus/<target>/`) through the same entry
//! points the targets call, on stable Rust: what the fuzzers found interesting keeps being
//! decoded in CI without a panic. A target without a corpus fails the test.

use std::path::Path;

/// A fuzz target's name and the entry point it calls.
type Target = (&'static str, fn(&[u8]));

const TARGETS: [Target; 7] = [
    ("frame_decoder", nakachain::fuzz::frame_decoder),
    ("message", nakachain::fuzz::message),
    ("block", nakachain::fuzz::block),
    ("transaction", nakachain::fuzz::transaction),
    ("rpc_request", nakachain::fuzz::rpc_request),
    ("block_log", nakachain::fuzz::block_log),
    ("wallet_file", nakachain::fuzz::wallet_file),
];

#[test]
fn every_corpus_replays_without_a_panic() {
    let corpora = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for (target, run) in TARGETS {
        let dir = corpora.join(target);
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("no corpus for {target} in {}: {e}", dir.display()));
        let mut inputs = 0;
        for entry in entries {
            let path = entry.expect("a corpus entry").path();
            let data = std::fs::read(&path).expect("a corpus file");
            run(&data);
            inputs += 1;
        }
        assert!(inputs > 0, "the corpus of {target} is empty");
    }
}
