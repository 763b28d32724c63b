//! Typed deserialization of a configuration tree that reports every problem, not the first.
//!
//! serde stops at the first error. To list them all, the offending value is removed from a
//! working copy of the tree and deserialization is tried again, until it succeeds or the
//! remaining problem (a missing required key) cannot be removed.

use config::{Map, Value, ValueKind};
use serde::de::DeserializeOwned;

use super::redact;
use super::source::origin_of;
use super::{ConfigProblem, Origin};

/// Upper bound on retries, so a pathological tree cannot loop for long.
const MAX_PROBLEMS_PER_SECTION: usize = 64;

/// Deserializes `value` (found at `prefix`) as `T`, appending every problem to `problems`.
/// Returns what parsed once the offending values were removed (so range checks can still run
/// on the rest), or `None` when nothing could be parsed.
pub(crate) fn deserialize_all<T: DeserializeOwned>(
    prefix: &str,
    mut value: Value,
    problems: &mut Vec<ConfigProblem>,
) -> Option<T> {
    for _ in 0..MAX_PROBLEMS_PER_SECTION {
        let error = match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            Ok(parsed) => return Some(parsed),
            Err(error) => error,
        };
        let mut path: Vec<String> = error
            .path()
            .iter()
            .map(ToString::to_string)
            .filter(|segment| segment != "?")
            .collect();
        let (message, missing) = match error.inner() {
            // config's own spelling of serde's "missing field".
            config::ConfigError::NotFound(field) => {
                (format!("missing field `{field}`"), Some(field.clone()))
            }
            other => {
                let message = describe(other);
                let missing = field_named(&message, "missing field `");
                (message, missing)
            }
        };
        if let Some(field) = field_named(&message, "unknown field `").or_else(|| missing.clone())
            && path.last() != Some(&field)
        {
            path.push(field);
        }
        let found = lookup(&value, &path).filter(|_| missing.is_none());
        let key = join(prefix, &path);
        problems.push(ConfigProblem {
            origin: found.map_or(Origin::Unset, origin_of),
            message: shown(&key, found, &message),
            key,
        });
        if missing.is_some() || !remove(&mut value, &path) {
            break;
        }
    }
    None
}

/// `message`, about the value `found` at `key`, without the value when it must not be shown
/// (see [`redact`]).
pub(crate) fn shown(key: &str, found: Option<&Value>, message: &str) -> String {
    let mut texts = Vec::new();
    if let Some(value) = found {
        texts_of(value, &mut texts);
    }
    redact::problem_message(key, &texts, message)
}

/// Every text a value could show as in a message: its scalars, and the elements of a
/// comma-separated string (an environment variable's list).
fn texts_of(value: &Value, texts: &mut Vec<String>) {
    match &value.kind {
        ValueKind::Nil => {}
        ValueKind::String(text) => {
            if text.contains(',') {
                texts.extend(text.split(',').map(|t| t.trim().to_owned()));
            }
            texts.push(text.clone());
        }
        ValueKind::Table(table) => table.values().for_each(|v| texts_of(v, texts)),
        ValueKind::Array(items) => items.iter().for_each(|v| texts_of(v, texts)),
        scalar => texts.push(scalar.to_string()),
    }
}

fn describe(error: &config::ConfigError) -> String {
    match error {
        config::ConfigError::Type {
            unexpected,
            expected,
            ..
        } => format!("expected {expected}, found {unexpected}"),
        config::ConfigError::At { error, .. } => describe(error),
        other => other.to_string(),
    }
}

fn field_named(message: &str, lead: &str) -> Option<String> {
    let rest = message.strip_prefix(lead)?;
    rest.split('`').next().map(str::to_owned)
}

fn join(prefix: &str, path: &[String]) -> String {
    let mut key = prefix.to_owned();
    for segment in path {
        if !key.is_empty() {
            key.push('.');
        }
        key.push_str(segment);
    }
    key
}

pub(crate) fn lookup<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter()
        .try_fold(value, |node, segment| match &node.kind {
            ValueKind::Table(table) => table.get(segment),
            ValueKind::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
}

/// Removes the value at `path`; false when there was nothing to remove.
fn remove(value: &mut Value, path: &[String]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        // The whole section is wrong: replace it with an empty table so defaults apply.
        let empty = Value::new(None, ValueKind::Table(Map::new()));
        let changed = *value != empty;
        *value = empty;
        return changed;
    };
    let mut node = value;
    for segment in parents {
        node = match &mut node.kind {
            ValueKind::Table(table) => match table.get_mut(segment) {
                Some(child) => child,
                None => return false,
            },
            _ => return false,
        };
    }
    match &mut node.kind {
        ValueKind::Table(table) => table.remove(last).is_some(),
        ValueKind::Array(items) => match last.parse::<usize>() {
            Ok(i) if i < items.len() => {
                items.remove(i);
                true
            }
            _ => false,
        },
        _ => false,
    }
}
