//! The attribute's arguments: `name`, `version`, `config`, `defaults`, `main`.

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Lit, LitStr, Type};

/// Every key the attribute accepts, in the order the error message lists them.
const KEYS: &str = "`name`, `version`, `config`, `defaults`, `main`";

/// Where the embedded configuration defaults come from.
#[derive(Default)]
pub(crate) enum Defaults {
    /// `config/default.toml` of the package, when it exists at expansion time.
    #[default]
    Auto,
    /// `defaults = "path"`: a file relative to the package root.
    Path(LitStr),
    /// `defaults = false`: embed nothing.
    Off,
}

/// The parsed arguments of `#[chassis::service(...)]`.
#[derive(Default)]
pub(crate) struct Args {
    /// `name = "..."`, already validated.
    pub(crate) name: Option<LitStr>,
    /// `version = "..."`.
    pub(crate) version: Option<LitStr>,
    /// `config = Type`.
    pub(crate) config: Option<Type>,
    /// `defaults = "path"` or `defaults = false`.
    pub(crate) defaults: Defaults,
    /// The span of the `main` flag, when given.
    pub(crate) main: Option<Span>,
    /// Keys seen so far, to reject duplicates.
    seen: Vec<String>,
}

impl Args {
    /// Parses one `key = value` or flag; the callback of `syn::meta::parser`.
    pub(crate) fn parse_one(&mut self, meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
        let Some(key) = meta.path.get_ident().map(ToString::to_string) else {
            return Err(meta.error(format!("unknown key; expected one of {KEYS}")));
        };
        if !matches!(
            key.as_str(),
            "name" | "version" | "config" | "defaults" | "main"
        ) {
            return Err(meta.error(format!("unknown key `{key}`; expected one of {KEYS}")));
        }
        if self.seen.contains(&key) {
            return Err(meta.error(format!("duplicate key `{key}`")));
        }
        self.seen.push(key.clone());
        match key.as_str() {
            "name" => {
                let name = string_value(meta, "name")?;
                check_name(&name)?;
                self.name = Some(name);
            }
            "version" => {
                let version = string_value(meta, "version")?;
                if version.value().trim().is_empty() {
                    return Err(syn::Error::new(
                        version.span(),
                        "`version` must not be empty",
                    ));
                }
                self.version = Some(version);
            }
            "config" => self.config = Some(meta.value()?.parse()?),
            "defaults" => self.defaults = defaults_value(meta)?,
            _ => {
                if !meta.input.is_empty() && !meta.input.peek(syn::Token![,]) {
                    return Err(meta.error("`main` is a flag: write `main` without a value"));
                }
                self.main = Some(meta.path.span());
            }
        }
        Ok(())
    }
}

/// The value of `key = "..."`; any other expression is an error on that expression.
fn string_value(meta: &ParseNestedMeta<'_>, key: &str) -> syn::Result<LitStr> {
    let expr: Expr = meta.value()?.parse()?;
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Ok(lit),
        other => Err(syn::Error::new_spanned(
            other,
            format!("`{key}` takes a string literal, such as `{key} = \"...\"`"),
        )),
    }
}

/// `defaults = "path"` or `defaults = false`.
fn defaults_value(meta: &ParseNestedMeta<'_>) -> syn::Result<Defaults> {
    let expr: Expr = meta.value()?.parse()?;
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(path),
            ..
        }) if !path.value().is_empty() => Ok(Defaults::Path(path)),
        Expr::Lit(ExprLit {
            lit: Lit::Bool(flag),
            ..
        }) if !flag.value => Ok(Defaults::Off),
        other => Err(syn::Error::new_spanned(
            other,
            "`defaults` takes a TOML file path relative to the package root, \
             such as `defaults = \"config/default.toml\"`, or `false` to embed nothing",
        )),
    }
}

/// Rejects a `name` that is not a valid service name, pointing at the literal.
fn check_name(name: &LitStr) -> syn::Result<()> {
    let value = name.value();
    if is_valid_service_name(&value) {
        Ok(())
    } else {
        Err(syn::Error::new(
            name.span(),
            format!(
                "`{value}` is not a valid service name: use lowercase letters, digits and `-`, \
                 starting with a letter, not ending with `-`, at most 63 characters"
            ),
        ))
    }
}

/// The rule of `chassis::config::is_valid_service_name`, which this crate cannot call (the
/// chassis depends on it, not the other way round). Tests keep both in step.
pub(crate) fn is_valid_service_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_lowercase()
        && !name.ends_with('-')
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

#[cfg(test)]
mod tests {
    use super::is_valid_service_name;

    #[test]
    fn service_names() {
        for good in ["catalog", "orders-v2", "a", "x1-y2"] {
            assert!(is_valid_service_name(good), "{good}");
        }
        let long = "a".repeat(64);
        for bad in [
            "",
            "Catalog",
            "2fa",
            "-a",
            "a-",
            "a_b",
            "a.b",
            "é",
            long.as_str(),
        ] {
            assert!(!is_valid_service_name(bad), "{bad}");
        }
        assert!(is_valid_service_name(&"a".repeat(63)));
    }
}
