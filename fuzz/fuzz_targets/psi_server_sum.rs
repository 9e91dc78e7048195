#![no_main]
include!("common.rs");
libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_common::psi_server_sum(data));
