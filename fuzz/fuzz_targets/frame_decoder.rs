//! Fuzz target: `nakachain::fuzz::frame_decoder` must return on any input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nakachain::fuzz::frame_decoder(data));
