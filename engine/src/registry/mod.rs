//! The `registry` layer.
