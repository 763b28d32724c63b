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

/// The current-thread runtime (timers and I/O on) the bench binaries run on; `None`, after
/// saying why, when it cannot be built.
pub fn runtime() -> Option<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .inspect_err(|error| eprintln!("cannot build a runtime: {error}"))
        .ok()
}
