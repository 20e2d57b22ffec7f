//! mabeam-load.
fn main() {}
