//! The `telemetry` layer.
