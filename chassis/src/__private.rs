//! What `#[chassis::service]` expands to, so that user crates need to depend on `chassis`
//! only. Not public API: no stability promise, may change in any release.

pub use axum::Router;
pub use tokio;
pub use tower::BoxError;

pub use crate::service::{Context, Microservice, run};

/// [`crate::config::is_valid_service_name`] as a `const fn`, for the expansion's compile-time
/// check of the default (package) name.
pub const fn is_valid_service_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() > 63 || !bytes[0].is_ascii_lowercase() {
        return false;
    }
    if bytes[bytes.len() - 1] == b'-' {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::is_valid_service_name;
    use crate::config;

    #[test]
    fn const_rule_matches_the_config_rule() {
        let long = "a".repeat(63);
        let too_long = "a".repeat(64);
        let names = [
            "",
            "a",
            "catalog",
            "orders-v2",
            "x1-y2",
            "Catalog",
            "2fa",
            "-a",
            "a-",
            "a_b",
            "a.b",
            "é",
            "a b",
            &long,
            &too_long,
        ];
        for name in names {
            assert_eq!(
                is_valid_service_name(name),
                config::is_valid_service_name(name),
                "{name:?}"
            );
        }
    }
}
