//! Fuzz target: `nakachain::fuzz::block_log` must return on any input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nakachain::fuzz::block_log(data));
