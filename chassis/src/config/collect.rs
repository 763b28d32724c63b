//! Typed deserialization of a configuration tree that reports every problem, once, not the
//! first.
//!
//! serde stops at the first error. To list them all, the offending place gets a
//! [stand-in](super::stand_in) of the kind the type expects (or, when the kind is unknown or
//! the key unknown, the value is removed) in a working copy of the tree, and deserialization
//! is tried again, until it succeeds. A missing required key gets a stand-in too, so every
//! missing key is named, and a bad value of a required key is not reported again as missing.

use config::{Map, Value, ValueKind};
use serde::de::DeserializeOwned;

use super::redact;
use super::source::origin_of;
use super::stand_in;
use super::{ConfigProblem, Origin};

/// Upper bound on retries, so a pathological tree cannot loop for long.
const MAX_ROUNDS_PER_SECTION: usize = 128;

/// One deserialization error, located.
struct Found {
    path: Vec<String>,
    message: String,
    /// The `expected` text of a type error.
    expected: Option<String>,
    missing: bool,
    unknown: bool,
}

/// Deserializes `value` (found at `prefix`) as `T`, appending every problem to `problems`.
/// Returns what parsed once the offending values were stood in for (so range checks can still
/// run on the rest), or `None` when nothing could be parsed.
pub(crate) fn deserialize_all<T: DeserializeOwned>(
    prefix: &str,
    mut value: Value,
    problems: &mut Vec<ConfigProblem>,
) -> Option<T> {
    // Places holding a stand-in: their later errors only refine the stand-in's kind.
    let mut stood_in: Vec<Vec<String>> = Vec::new();
    for _ in 0..MAX_ROUNDS_PER_SECTION {
        let error = match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            Ok(parsed) => return Some(parsed),
            Err(error) => error,
        };
        let found = locate(&error);
        if stood_in.contains(&found.path) {
            // The stand-in's kind was wrong: take the one the type asks for, once.
            let kind = found.expected.as_deref().and_then(stand_in::for_expected);
            let replaced = kind.is_some_and(|kind| {
                lookup(&value, &found.path).is_none_or(|old| old.kind != kind)
                    && stand_in::place(&mut value, &found.path, kind)
            });
            if !replaced && !remove(&mut value, &found.path) {
                break;
            }
            continue;
        }
        let at = lookup(&value, &found.path).filter(|_| !found.missing);
        let key = join(prefix, &found.path);
        problems.push(ConfigProblem {
            origin: at.map_or(Origin::Unset, origin_of),
            message: shown(&key, at, &found.message),
            key,
        });
        let kind = if found.missing {
            Some(stand_in::first().kind)
        } else if found.unknown {
            None
        } else {
            found.expected.as_deref().and_then(stand_in::for_expected)
        };
        let placed = kind.is_some_and(|kind| stand_in::place(&mut value, &found.path, kind));
        let moved_on = if placed {
            stood_in.push(found.path);
            true
        } else {
            remove(&mut value, &found.path)
        };
        if !moved_on {
            break;
        }
    }
    None
}

/// Where an error is and what it says.
fn locate(error: &serde_path_to_error::Error<config::ConfigError>) -> Found {
    let mut path: Vec<String> = error
        .path()
        .iter()
        .map(ToString::to_string)
        .filter(|segment| segment != "?")
        .collect();
    let (message, missing, expected) = match error.inner() {
        // config's own spelling of serde's "missing field".
        config::ConfigError::NotFound(field) => (
            format!("missing field `{field}`"),
            Some(field.clone()),
            None,
        ),
        other => {
            let message = describe(other);
            let missing = field_named(&message, "missing field `");
            (message, missing, expected_of(other))
        }
    };
    let unknown = field_named(&message, "unknown field `");
    if let Some(field) = unknown.clone().or_else(|| missing.clone())
        && path.last() != Some(&field)
    {
        path.push(field);
    }
    Found {
        path,
        message,
        expected,
        missing: missing.is_some(),
        unknown: unknown.is_some(),
    }
}

/// The `expected` text of a type error.
fn expected_of(error: &config::ConfigError) -> Option<String> {
    match error {
        config::ConfigError::Type { expected, .. } => Some((*expected).to_owned()),
        config::ConfigError::At { error, .. } => expected_of(error),
        config::ConfigError::Message(message) => message
            .split_once("expected ")
            .map(|(_, rest)| rest.to_owned()),
        _ => None,
    }
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
        } => {
            let found = unexpected.to_string();
            // A negative number where the type is unsigned: config reports a string that does
            // not parse as "an integer", or "an unsigned ... integer" for a number.
            let negative = negative_number(&found);
            match negative {
                Some(number) if expected.contains("unsigned") || *expected == "an integer" => {
                    format!("expected a whole number of at least 0, found {number}")
                }
                _ if expected.contains("unsigned") => {
                    format!("expected a whole number of at least 0, found {found}")
                }
                _ => format!("expected {expected}, found {found}"),
            }
        }
        config::ConfigError::At { error, .. } => describe(error),
        other => other.to_string(),
    }
}

/// The negative integer a found value shows (`64-bit integer `-5``, `string "-5"`), if any.
fn negative_number(found: &str) -> Option<i64> {
    let inner = found
        .rsplit(['`', '"'])
        .find(|part| !part.is_empty() && part.trim().parse::<i64>().is_ok())?;
    inner.trim().parse::<i64>().ok().filter(|n| *n < 0)
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
