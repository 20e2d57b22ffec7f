//! The `coord` layer.
