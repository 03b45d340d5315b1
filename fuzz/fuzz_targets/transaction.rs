//! Fuzz target: `nakachain::fuzz::transaction` must return on any input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nakachain::fuzz::transaction(data));
