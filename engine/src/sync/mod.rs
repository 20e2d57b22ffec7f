//! The `sync` layer.
