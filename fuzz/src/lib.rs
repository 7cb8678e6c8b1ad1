//! Helpers of the fuzz targets (`fuzz_targets/`): turning fuzzer bytes into operations that
//! look like the field's (ids from small pools so operations collide, real field names, stamps
//! close together so they tie), and a transport that replays one page to the device's engine.

pub mod ops;
pub mod replay;
