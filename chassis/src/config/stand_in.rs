//! Stand-in values: what takes the place of a bad or missing value so that deserialization
//! can go on and find the other problems.
//!
//! serde stops at the first problem. Removing a bad value makes a required key look missing
//! (reported twice, the second time wrongly), and a missing key cannot be removed at all, so
//! only the first one used to be named. Instead, the place gets a neutral value of the kind
//! the type expects (`0`, `""`, `false`, an empty list or table): its problem is reported
//! once, and the search goes on. The kind comes from serde's "expected ..." text; a missing
//! key starts with a string, and a type error on that stand-in says what kind it needs.

use config::{Map, Value, ValueKind};

/// A neutral value of the kind `expected` names (serde's `Expected` text, such as "an
/// integer", "a boolean", "u32", "a sequence"), if it names one.
pub(crate) fn for_expected(expected: &str) -> Option<ValueKind> {
    let e = expected.to_ascii_lowercase();
    let kind = if e.contains("unsigned")
        || e.contains("u8")
        || e.contains("u16")
        || e.contains("u32")
        || e.contains("u64")
        || e.contains("usize")
    {
        ValueKind::U64(0)
    } else if e.contains("integer") || e.contains("i32") || e.contains("i64") {
        ValueKind::I64(0)
    } else if e.contains("float") || e.contains("f64") || e.contains("f32") {
        ValueKind::Float(0.0)
    } else if e.contains("bool") {
        ValueKind::Boolean(false)
    } else if e.contains("sequence") || e.contains("array") || e.contains("list") {
        ValueKind::Array(Vec::new())
    } else if e.contains("map") || e.contains("struct") || e.contains("table") {
        ValueKind::Table(Map::new())
    } else if e.contains("string")
        || e.contains("str")
        || e.contains("char")
        || e.contains("duration")
    {
        ValueKind::String(String::new())
    } else {
        return None;
    };
    Some(kind)
}

/// The first stand-in of a missing key: a string (most leaf types read one; others say what
/// they expect instead).
pub(crate) fn first() -> Value {
    Value::new(None, ValueKind::String(String::new()))
}

/// Puts `kind` at `path` (creating the last segment); false when the parent is not a table
/// or an array holding that index.
pub(crate) fn place(root: &mut Value, path: &[String], kind: ValueKind) -> bool {
    let Some((last, parents)) = path.split_last() else {
        *root = Value::new(None, kind);
        return true;
    };
    let mut node = root;
    for segment in parents {
        node = match &mut node.kind {
            ValueKind::Table(table) => match table.get_mut(segment) {
                Some(child) => child,
                None => return false,
            },
            ValueKind::Array(items) => {
                match segment.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                    Some(child) => child,
                    None => return false,
                }
            }
            _ => return false,
        };
    }
    match &mut node.kind {
        ValueKind::Table(table) => {
            table.insert(last.clone(), Value::new(None, kind));
            true
        }
        ValueKind::Array(items) => {
            match last.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                Some(item) => {
                    *item = Value::new(None, kind);
                    true
                }
                None => false,
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_expected_text() {
        assert!(matches!(
            for_expected("an unsigned 64 bit or less integer"),
            Some(ValueKind::U64(0))
        ));
        assert!(matches!(for_expected("u32"), Some(ValueKind::U64(0))));
        assert!(matches!(
            for_expected("an integer"),
            Some(ValueKind::I64(0))
        ));
        assert!(matches!(
            for_expected("a boolean"),
            Some(ValueKind::Boolean(false))
        ));
        assert!(matches!(
            for_expected("a sequence"),
            Some(ValueKind::Array(_))
        ));
        assert!(matches!(
            for_expected("a string"),
            Some(ValueKind::String(_))
        ));
        assert!(for_expected("something else").is_none());
    }
}
