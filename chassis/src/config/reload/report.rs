//! [`ReloadReport`]: how a reload ended, as logged, counted and answered to an operator.

use serde::Serialize;

use crate::config::{ConfigError, ConfigProblem};

/// What started a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReloadTrigger {
    /// A configuration file changed.
    File,
    /// SIGHUP.
    Signal,
    /// A key under the etcd prefix changed.
    Etcd,
    /// `POST /admin/config/reload`.
    Admin,
    /// [`ReloadHandle::reload`](super::ReloadHandle::reload) called in code.
    Code,
}

/// How a reload ended: the `result` label of `chassis_config_reloads_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReloadResult {
    /// Changes were applied (some may also wait for a restart: see `needs_restart`).
    Applied,
    /// Only keys that need a restart changed: nothing was applied.
    NeedsRestart,
    /// The sources say what runs already.
    Unchanged,
    /// The new configuration is invalid: nothing was applied, the last good one stays.
    Refused,
}

impl ReloadResult {
    /// The label: `applied`, `needs_restart`, `unchanged`, `refused`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::NeedsRestart => "needs_restart",
            Self::Unchanged => "unchanged",
            Self::Refused => "refused",
        }
    }

    /// Every result, for registering the counters.
    pub(crate) const ALL: [Self; 4] = [
        Self::Applied,
        Self::NeedsRestart,
        Self::Unchanged,
        Self::Refused,
    ];
}

/// One problem of a refused configuration: the key, its source, what was expected (values
/// of secrets and credentials are not shown, as at start-up).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportedProblem {
    /// The dotted key.
    pub key: String,
    /// Where the offending value came from.
    pub source: String,
    /// What was wrong.
    pub message: String,
}

impl From<&ConfigProblem> for ReportedProblem {
    fn from(problem: &ConfigProblem) -> Self {
        Self {
            key: problem.key.clone(),
            source: problem.origin.to_string(),
            message: problem.message.clone(),
        }
    }
}

/// How one reload ended (`POST /admin/config/reload` answers it as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReloadReport {
    /// The outcome.
    pub result: ReloadResult,
    /// What started it.
    pub trigger: ReloadTrigger,
    /// Keys whose new values are in force now.
    pub changed: Vec<String>,
    /// Keys whose new values wait for a restart (they are listed, never silently ignored).
    pub needs_restart: Vec<String>,
    /// When refused: every problem, as the start-up report lists them.
    pub problems: Vec<ReportedProblem>,
    /// When refused: the whole report as text (a file that does not parse has no problem
    /// list, only this).
    pub error: Option<String>,
}

impl ReloadReport {
    /// A refusal of an invalid configuration.
    pub(crate) fn refused(trigger: ReloadTrigger, error: &ConfigError) -> Self {
        Self {
            result: ReloadResult::Refused,
            trigger,
            changed: Vec::new(),
            needs_restart: Vec::new(),
            problems: error.problems().iter().map(ReportedProblem::from).collect(),
            error: Some(error.to_string()),
        }
    }

    /// Logs the report: a refusal as an error with the whole report, a change as a warning
    /// (an operator changed what runs), no change at debug.
    pub(crate) fn log(&self) {
        match self.result {
            ReloadResult::Refused => tracing::error!(
                trigger = ?self.trigger,
                error = self.error.as_deref().unwrap_or_default(),
                "configuration reload refused; the last good configuration stays"
            ),
            ReloadResult::Unchanged => {
                tracing::debug!(trigger = ?self.trigger, "configuration reloaded: unchanged");
            }
            ReloadResult::Applied | ReloadResult::NeedsRestart => {
                if !self.changed.is_empty() {
                    tracing::warn!(
                        trigger = ?self.trigger,
                        changed = ?self.changed,
                        "configuration reloaded: changes applied"
                    );
                }
                if !self.needs_restart.is_empty() {
                    tracing::warn!(
                        trigger = ?self.trigger,
                        keys = ?self.needs_restart,
                        "configuration changed where it needs a restart: these keys keep their running values until then"
                    );
                }
            }
        }
    }
}
