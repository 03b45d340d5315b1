//! Fuzz target: `nakachain::fuzz::wallet_file` must return on any input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nakachain::fuzz::wallet_file(data));
