#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| uplink_core::fuzzing::checkin(data));
