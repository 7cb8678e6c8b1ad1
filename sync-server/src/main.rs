//! `gridwork-server` binary.
fn main() {}
