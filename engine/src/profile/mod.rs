//! The `profile` layer.
