//! Fuzz target: `nakachain::fuzz::message` must return on any input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nakachain::fuzz::message(data));
