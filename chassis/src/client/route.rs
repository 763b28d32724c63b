//! [`Route`]: a route template and its parameters, one value, so the path and the template
//! (the metric label, `url.template`) cannot disagree.

use std::fmt::{self, Write as _};

/// A call's route: a template such as `/items/{id}` with its parameters, each
/// percent-encoded as one path segment, so no value can change the path's structure (a `/`,
/// `?`, `#` or `%` in a value is encoded; `.`, `..` and empty values are refused).
///
/// ```
/// use chassis::client::Route;
///
/// let route = Route::new("/items/{id}").param("id", "espresso?x=1");
/// assert_eq!(route.template(), "/items/{id}");
/// assert_eq!(route.path().unwrap(), "/items/espresso%3Fx%3D1");
///
/// // A template without parameters is a route as it is.
/// let all: Route = "/items".into();
/// assert_eq!(all.path().unwrap(), "/items");
/// ```
///
/// A `{*rest}` parameter takes a value of several segments separated by `/`, each encoded
/// and checked as above.
#[derive(Debug, Clone)]
pub struct Route {
    template: &'static str,
    params: Vec<(&'static str, String)>,
}

/// A route whose template and parameters do not fit together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// The template names a parameter no value was given for.
    #[error("route {template}: no value for {{{name}}}")]
    Missing {
        /// The template.
        template: &'static str,
        /// The parameter.
        name: String,
    },
    /// A value was given for a parameter the template does not name.
    #[error("route {template}: it has no parameter {{{name}}}")]
    Unknown {
        /// The template.
        template: &'static str,
        /// The parameter.
        name: &'static str,
    },
    /// A value would change the path's structure (empty, `.` or `..`).
    #[error(
        "route {template}: the value of {{{name}}} cannot be a path segment (empty, `.` or `..`)"
    )]
    Segment {
        /// The template.
        template: &'static str,
        /// The parameter.
        name: &'static str,
    },
    /// The template is not a path (`/...`) or has an unclosed `{`.
    #[error("route {0}: a template is a path such as /items/{{id}}")]
    Template(&'static str),
}

/// A route template: a string literal such as `"/items/{id}"` (the metric label and the
/// span's `url.template`, so never built from values).
#[diagnostic::on_unimplemented(
    message = "a route template is a string literal such as \"/items/{{id}}\", not `{Self}`",
    label = "not a template literal",
    note = "give the values with `param`, not in the template: `Route::new(\"/items/{{id}}\").param(\"id\", id)`",
    note = "the template names the call in metrics and traces; each value is percent-encoded into the path"
)]
pub trait Template {
    /// The template.
    fn template(self) -> &'static str;
}

impl Template for &'static str {
    fn template(self) -> &'static str {
        self
    }
}

/// What a call can be made to: a [`Route`], or a template literal without parameters.
#[diagnostic::on_unimplemented(
    message = "a call goes to a `Route` or a template literal, not `{Self}`",
    label = "not a route",
    note = "write the template as a literal and give its values with `param`: `Route::new(\"/items/{{id}}\").param(\"id\", id)`",
    note = "the template names the call in metrics and traces; each value is percent-encoded into the path"
)]
pub trait IntoRoute {
    /// The route.
    fn into_route(self) -> Route;
}

impl IntoRoute for Route {
    fn into_route(self) -> Route {
        self
    }
}

impl IntoRoute for &'static str {
    fn into_route(self) -> Route {
        Route::new(self)
    }
}

impl Route {
    /// A route with this template, a string literal; give each of its `{name}` a value with
    /// [`param`](Self::param).
    pub fn new(template: impl Template) -> Self {
        Self {
            template: template.template(),
            params: Vec::new(),
        }
    }

    /// The value of the template's `{name}` (or `{*name}`).
    #[must_use]
    pub fn param(mut self, name: &'static str, value: impl fmt::Display) -> Self {
        self.params.push((name, value.to_string()));
        self
    }

    /// The template (the `http_route` metric label and the span's `url.template`).
    pub fn template(&self) -> &'static str {
        self.template
    }

    /// The path: the template with every parameter encoded in its place.
    ///
    /// # Errors
    ///
    /// A [`RouteError`] when a parameter is missing, unknown or not a segment.
    pub fn path(&self) -> Result<String, RouteError> {
        let template = self.template;
        if !template.starts_with('/') {
            return Err(RouteError::Template(template));
        }
        let mut path = String::with_capacity(template.len() + 16);
        let mut used = 0;
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            path.push_str(&rest[..open]);
            let Some(close) = rest[open..].find('}') else {
                return Err(RouteError::Template(template));
            };
            let spec = &rest[open + 1..open + close];
            let (name, wildcard) = match spec.strip_prefix('*') {
                Some(name) => (name, true),
                None => (spec, false),
            };
            let (key, value) = self
                .params
                .iter()
                .find(|(key, _)| *key == name)
                .ok_or_else(|| RouteError::Missing {
                    template,
                    name: name.to_owned(),
                })?;
            used += 1;
            let segments: Vec<&str> = if wildcard {
                value.split('/').collect()
            } else {
                vec![value.as_str()]
            };
            for (i, segment) in segments.iter().enumerate() {
                if segment.is_empty() || *segment == "." || *segment == ".." {
                    return Err(RouteError::Segment {
                        template,
                        name: key,
                    });
                }
                if i > 0 {
                    path.push('/');
                }
                encode_segment(segment, &mut path);
            }
            rest = &rest[open + close + 1..];
        }
        path.push_str(rest);
        if used < self.params.len() {
            let name = self
                .params
                .iter()
                .map(|(key, _)| *key)
                .find(|key| !names(template).any(|n| n == *key))
                .unwrap_or_default();
            return Err(RouteError::Unknown { template, name });
        }
        Ok(path)
    }
}

impl From<&'static str> for Route {
    fn from(template: &'static str) -> Self {
        Self::new(template)
    }
}

/// The parameter names of a template.
fn names(template: &str) -> impl Iterator<Item = &str> {
    template.split('{').skip(1).filter_map(|part| {
        let name = part.split('}').next()?;
        Some(name.strip_prefix('*').unwrap_or(name))
    })
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode_segment(segment: &str, out: &mut String) {
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_value_changes_the_paths_structure() {
        let path = |value: &str| Route::new("/items/{id}/price").param("id", value).path();
        for (value, encoded) in [
            ("espresso", "/items/espresso/price"),
            ("a?b=1", "/items/a%3Fb%3D1/price"),
            ("a#frag", "/items/a%23frag/price"),
            ("a/b", "/items/a%2Fb/price"),
            ("100%", "/items/100%25/price"),
            ("../admin", "/items/..%2Fadmin/price"),
            ("a b", "/items/a%20b/price"),
            ("é", "/items/%C3%A9/price"),
            ("file.txt", "/items/file.txt/price"),
        ] {
            let made = path(value).expect(value);
            assert_eq!(made, encoded, "{value}");
            // Parsed back, the path has exactly the template's segments, no query or fragment.
            let uri: http::Uri = made.parse().expect("a valid path");
            assert_eq!(uri.query(), None);
            assert_eq!(uri.path().split('/').count(), 4, "{value}");
        }
        for refused in ["", ".", ".."] {
            assert!(
                matches!(path(refused), Err(RouteError::Segment { .. })),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn templates_and_parameters_must_fit() {
        let missing = Route::new("/items/{id}").path();
        assert!(matches!(missing, Err(RouteError::Missing { .. })));
        let unknown = Route::new("/items").param("id", 1).path();
        assert!(matches!(
            unknown,
            Err(RouteError::Unknown { name: "id", .. })
        ));
        assert!(matches!(
            Route::new("items").path(),
            Err(RouteError::Template(_))
        ));
        assert!(matches!(
            Route::new("/items/{id").path(),
            Err(RouteError::Template(_))
        ));
        let two = Route::new("/a/{x}/b/{y}").param("y", 2).param("x", "one");
        assert_eq!(two.path().expect("fits"), "/a/one/b/2");
    }

    #[test]
    fn a_wildcard_takes_checked_segments() {
        let route = |value: &str| Route::new("/files/{*path}").param("path", value).path();
        assert_eq!(route("a/b c/d").expect("segments"), "/files/a/b%20c/d");
        assert!(route("a/../b").is_err());
        assert!(route("a//b").is_err());
    }
}
