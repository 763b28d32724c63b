//! The answer to a probe, in the `application/health+json` format.

use std::sync::Arc;
use std::time::SystemTime;

use serde::ser::{SerializeMap, SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};

use super::check::{CheckResult, Status};

/// The media type of a [`HealthReport`] body.
pub const CONTENT_TYPE: &str = "application/health+json";

/// One check's line in a report: what it found and when.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CheckOutcome {
    /// The name the check was registered under (the key in `checks`).
    pub name: Arc<str>,
    /// What the check found.
    pub result: CheckResult,
    /// When the result was produced; a cached result keeps its original time.
    pub time: SystemTime,
}

impl CheckOutcome {
    /// An outcome produced now.
    pub fn new(name: Arc<str>, result: CheckResult) -> CheckOutcome {
        CheckOutcome::at(name, result, SystemTime::now())
    }

    /// An outcome produced at `time`.
    pub fn at(name: Arc<str>, result: CheckResult, time: SystemTime) -> CheckOutcome {
        CheckOutcome { name, result, time }
    }

    /// The status of the result.
    pub fn status(&self) -> Status {
        self.result.status
    }

    /// The message of the result, if any.
    pub fn output(&self) -> Option<&str> {
        self.result.output.as_deref()
    }
}

/// The answer to one probe (or to all checks): an overall status and every check's outcome.
///
/// Serializes as the IETF draft "Health Check Response Format for HTTP APIs":
///
/// ```json
/// {"status":"fail","checks":{"db":[{"status":"fail","time":"2025-01-01T00:00:00.000Z","output":"timed out"}]}}
/// ```
///
/// Checks that share a name share one array, in registration order.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HealthReport {
    /// The worst status of all checks, `pass` when there are none.
    pub status: Status,
    /// Every check's outcome, in registration order.
    pub checks: Vec<CheckOutcome>,
}

impl HealthReport {
    /// A report over `checks`, its status the worst of theirs.
    pub fn new(checks: Vec<CheckOutcome>) -> HealthReport {
        let status = checks
            .iter()
            .map(CheckOutcome::status)
            .fold(Status::Pass, Status::worst);
        HealthReport { status, checks }
    }

    /// The first outcome of the check named `name`.
    pub fn check(&self, name: &str) -> Option<&CheckOutcome> {
        self.checks.iter().find(|c| &*c.name == name)
    }

    /// Whether the report answers HTTP 200 (`pass` or `warn`).
    pub fn is_healthy(&self) -> bool {
        self.status.is_healthy()
    }

    /// The JSON body.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing this type into memory cannot fail: every map key is a string.
        serde_json::to_vec(self).unwrap_or_else(|_| br#"{"status":"fail"}"#.to_vec())
    }
}

impl Serialize for HealthReport {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut report = serializer.serialize_struct("HealthReport", 2)?;
        report.serialize_field("status", &self.status)?;
        report.serialize_field("checks", &Grouped(&self.checks))?;
        report.end()
    }
}

/// The checks as a map from name to the array of that name's outcomes.
struct Grouped<'a>(&'a [CheckOutcome]);

impl Serialize for Grouped<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let checks = self.0;
        let mut map = serializer.serialize_map(None)?;
        for (i, check) in checks.iter().enumerate() {
            // A name seen before was written with its first occurrence. Reports hold a
            // handful of checks, so the quadratic scan beats building an index.
            if checks[..i].iter().any(|c| c.name == check.name) {
                continue;
            }
            map.serialize_entry(&*check.name, &SameName(&checks[i..]))?;
        }
        map.end()
    }
}

/// The outcomes in a slice that carry the name of its first element.
struct SameName<'a>(&'a [CheckOutcome]);

impl Serialize for SameName<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let name = &self.0[0].name;
        let mut seq = serializer.serialize_seq(None)?;
        for outcome in self.0.iter().filter(|c| &c.name == name) {
            seq.serialize_element(&Entry(outcome))?;
        }
        seq.end()
    }
}

/// One check object of the draft.
struct Entry<'a>(&'a CheckOutcome);

impl Serialize for Entry<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let outcome = self.0;
        let result = &outcome.result;
        let mut entry = serializer.serialize_map(None)?;
        entry.serialize_entry("status", &result.status)?;
        entry.serialize_entry("time", &Rfc3339(outcome.time))?;
        if let Some(output) = &result.output {
            entry.serialize_entry("output", output)?;
        }
        if let Some(value) = &result.observed_value {
            entry.serialize_entry("observedValue", value)?;
        }
        if let Some(unit) = &result.observed_unit {
            entry.serialize_entry("observedUnit", unit)?;
        }
        entry.end()
    }
}

/// A time as RFC 3339 UTC with milliseconds.
struct Rfc3339(SystemTime);

impl Serialize for Rfc3339 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&humantime::format_rfc3339_millis(self.0))
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use serde_json::json;

    use super::*;

    fn at(name: &str, result: CheckResult, secs: u64) -> CheckOutcome {
        CheckOutcome::at(name.into(), result, UNIX_EPOCH + Duration::from_secs(secs))
    }

    fn json(report: &HealthReport) -> serde_json::Value {
        serde_json::from_slice(&report.to_json()).expect("valid json")
    }

    #[test]
    fn empty_report_passes_with_empty_checks() {
        let report = HealthReport::new(Vec::new());
        assert_eq!(report.status, Status::Pass);
        assert_eq!(json(&report), json!({"status": "pass", "checks": {}}));
    }

    #[test]
    fn overall_status_is_the_worst() {
        let pass = at("a", CheckResult::pass(), 0);
        let warn = at("b", CheckResult::warn("slow"), 0);
        let fail = at("c", CheckResult::fail("down"), 0);
        assert_eq!(HealthReport::new(vec![pass.clone()]).status, Status::Pass);
        let report = HealthReport::new(vec![pass.clone(), warn.clone()]);
        assert_eq!(report.status, Status::Warn);
        assert!(report.is_healthy());
        let report = HealthReport::new(vec![fail, pass, warn]);
        assert_eq!(report.status, Status::Fail);
        assert!(!report.is_healthy());
    }

    #[test]
    fn serializes_as_the_ietf_draft() {
        let report = HealthReport::new(vec![
            at("db", CheckResult::pass(), 0),
            at("queue", CheckResult::warn("lagging").observed(250, "ms"), 1),
            at("cache", CheckResult::fail("timed out"), 2),
        ]);
        assert_eq!(
            json(&report),
            json!({
                "status": "fail",
                "checks": {
                    "db": [{"status": "pass", "time": "1970-01-01T00:00:00.000Z"}],
                    "queue": [{
                        "status": "warn",
                        "time": "1970-01-01T00:00:01.000Z",
                        "output": "lagging",
                        "observedValue": 250,
                        "observedUnit": "ms"
                    }],
                    "cache": [{
                        "status": "fail",
                        "time": "1970-01-01T00:00:02.000Z",
                        "output": "timed out"
                    }]
                }
            })
        );
    }

    #[test]
    fn checks_sharing_a_name_share_an_array_in_order() {
        let report = HealthReport::new(vec![
            at("db", CheckResult::pass().output("primary"), 0),
            at("cache", CheckResult::pass(), 0),
            at("db", CheckResult::warn("replica"), 0),
        ]);
        let body = String::from_utf8(report.to_json()).expect("utf-8");
        // Key order follows registration order.
        assert!(body.find("\"db\"") < body.find("\"cache\""), "{body}");
        let value = json(&report);
        let db = value["checks"]["db"].as_array().expect("array");
        assert_eq!(db.len(), 2);
        assert_eq!(db[0]["output"], "primary");
        assert_eq!(db[1]["output"], "replica");
        assert_eq!(value["checks"]["cache"].as_array().map(Vec::len), Some(1));
        assert_eq!(
            report.check("db").and_then(CheckOutcome::output),
            Some("primary")
        );
    }

    #[test]
    fn time_has_millisecond_precision() {
        let time = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let report = HealthReport::new(vec![CheckOutcome::at(
            "x".into(),
            CheckResult::pass(),
            time,
        )]);
        assert_eq!(
            json(&report)["checks"]["x"][0]["time"],
            "2023-11-14T22:13:20.123Z"
        );
    }
}
