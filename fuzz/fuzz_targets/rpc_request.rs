//! Fuzz target: `nakachain::fuzz::rpc_request` must return on any input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nakachain::fuzz::rpc_request(data));
