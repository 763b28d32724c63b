//! Command-line flags of the bench binaries.

/// The value after `--name` in `args`, if given.
pub fn value(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// The value after `--name` parsed as a number, else `default`.
pub fn number(args: &[String], name: &str, default: usize) -> usize {
    value(args, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
