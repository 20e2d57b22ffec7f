//! The `mabeam` binary.
fn main() {}
