//! A merged configuration tree as one entry per dotted key, with the source of each: what
//! reloads compare and what the effective configuration shows.

use std::collections::BTreeMap;

use config::{Value, ValueKind};

use super::Origin;
use super::source::origin_of;

/// One key's value and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    /// The value as JSON (a list stays one value).
    pub(crate) value: serde_json::Value,
    /// The source that set it.
    pub(crate) origin: Origin,
}

/// Every key a source set, by dotted key.
pub(crate) type Flat = BTreeMap<String, Entry>;

/// Flattens `root` (a table) into its leaves.
pub(crate) fn flatten(root: &Value) -> Flat {
    let mut out = Flat::new();
    walk("", root, &mut out);
    out
}

fn walk(prefix: &str, value: &Value, out: &mut Flat) {
    match &value.kind {
        ValueKind::Table(table) => {
            for (key, child) in table {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                walk(&path, child, out);
            }
        }
        _ if prefix.is_empty() => {}
        _ => {
            out.insert(
                prefix.to_owned(),
                Entry {
                    value: json(value),
                    origin: origin_of(value),
                },
            );
        }
    }
}

/// A configuration value as JSON.
pub(crate) fn json(value: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match &value.kind {
        ValueKind::Nil => J::Null,
        ValueKind::Boolean(b) => J::Bool(*b),
        ValueKind::I64(n) => J::from(*n),
        ValueKind::U64(n) => J::from(*n),
        ValueKind::I128(n) => i64::try_from(*n).map_or_else(|_| J::String(n.to_string()), J::from),
        ValueKind::U128(n) => u64::try_from(*n).map_or_else(|_| J::String(n.to_string()), J::from),
        ValueKind::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        ValueKind::String(s) => J::String(s.clone()),
        ValueKind::Array(items) => J::Array(items.iter().map(json).collect()),
        ValueKind::Table(table) => J::Object(
            table
                .iter()
                .map(|(key, child)| (key.clone(), json(child)))
                .collect(),
        ),
    }
}

/// The keys whose values differ between `old` and `new` (set in one only, or to another
/// value; a value that only moved to another source is no change).
pub(crate) fn changed_keys(old: &Flat, new: &Flat) -> Vec<String> {
    let mut keys: Vec<String> = new
        .iter()
        .filter(|(key, entry)| old.get(*key).is_none_or(|was| was.value != entry.value))
        .map(|(key, _)| key.clone())
        .collect();
    keys.extend(old.keys().filter(|key| !new.contains_key(*key)).cloned());
    keys.sort();
    keys
}

#[cfg(test)]
mod tests {
    use config::Map;

    use super::*;

    fn table(entries: Vec<(&str, Value)>) -> Value {
        let map: Map<String, Value> = entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        Value::new(None, ValueKind::Table(map))
    }

    fn text(origin: &str, text: &str) -> Value {
        Value::new(Some(&origin.to_owned()), ValueKind::String(text.to_owned()))
    }

    #[test]
    fn leaves_get_dotted_keys_and_origins() {
        let root = table(vec![(
            "clients",
            table(vec![(
                "catalog",
                table(vec![("timeout", text("a.toml", "1s"))]),
            )]),
        )]);
        let flat = flatten(&root);
        let entry = &flat["clients.catalog.timeout"];
        assert_eq!(entry.value, serde_json::json!("1s"));
        assert_eq!(entry.origin, Origin::File("a.toml".into()));
    }

    #[test]
    fn a_value_that_moved_source_is_no_change() {
        let old = flatten(&table(vec![
            ("a", text("x.toml", "1")),
            ("b", text("x.toml", "2")),
        ]));
        let new = flatten(&table(vec![
            ("a", text("env:A", "1")),
            ("c", text("x.toml", "3")),
        ]));
        assert_eq!(changed_keys(&old, &new), ["b", "c"]);
    }
}
