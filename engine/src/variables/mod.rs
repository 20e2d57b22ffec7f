//! The `variables` layer.
