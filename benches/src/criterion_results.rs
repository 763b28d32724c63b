//! Reads criterion's saved estimates (`<target>/criterion/<group>/<bench>/new/estimates.json`)
//! so benches and the plot can print ratios of one run.

use std::path::PathBuf;

use crate::report::target_dir;

/// The directory criterion writes to: `$CRITERION_HOME`, else `<target>/criterion`.
pub fn criterion_dir() -> PathBuf {
    std::env::var_os("CRITERION_HOME").map_or_else(|| target_dir().join("criterion"), PathBuf::from)
}

/// The median time per iteration of `group/bench` in ns from the last run, if there was one.
pub fn median_ns(group: &str, bench: &str) -> Option<f64> {
    let path = criterion_dir()
        .join(group)
        .join(bench)
        .join("new")
        .join("estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json.get("median")?.get("point_estimate")?.as_f64()
}
