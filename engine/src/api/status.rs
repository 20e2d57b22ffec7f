//! The one table from error class to HTTP status. The server (`src/http/reply.rs`) and the
//! load generator's embedded target both answer through it, so they cannot disagree. A
//! plain `u16`: the engine does not depend on HTTP crates.

use crate::error::ErrorClass;

/// The HTTP status every error of `class` is answered with.
///
/// | class | status |
/// |---|---|
/// | `invalid` | 400 |
/// | `unauthorised` | 401 |
/// | `forbidden` | 403 |
/// | `not_found` | 404 |
/// | `conflict` | 409 |
/// | `gone` | 410 |
/// | `too_large` | 413 |
/// | `rejected` | 422 |
/// | `internal` | 500 |
/// | `overloaded`, `unavailable` | 503 (with `Retry-After`) |
/// | `timeout` | 504 |
pub fn http_status(class: ErrorClass) -> u16 {
    match class {
        ErrorClass::Invalid => 400,
        ErrorClass::Unauthorised => 401,
        ErrorClass::Forbidden => 403,
        ErrorClass::NotFound => 404,
        ErrorClass::Conflict => 409,
        ErrorClass::Gone => 410,
        ErrorClass::TooLarge => 413,
        ErrorClass::Rejected => 422,
        ErrorClass::Internal => 500,
        ErrorClass::Overloaded | ErrorClass::Unavailable => 503,
        ErrorClass::Timeout => 504,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_has_an_error_status() {
        for class in ErrorClass::ALL {
            let status = http_status(class);
            assert!((400..600).contains(&status), "{class:?} -> {status}");
        }
        let names: std::collections::HashSet<_> =
            ErrorClass::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), ErrorClass::ALL.len(), "class names are unique");
    }
}
