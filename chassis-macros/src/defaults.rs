//! The embedded configuration defaults: which file, checked at expansion.
//!
//! The file is embedded with `include_str!`, so the compiler tracks it: changing it rebuilds
//! the crate and the macro checks it again. A file that does not exist cannot be tracked
//! (a stable proc-macro cannot ask to be re-run when a file appears), so the default file,
//! `config/default.toml`, is required unless `defaults = false`: a file created later would
//! otherwise be left out of the binary until something else changed.

use std::path::{Path, PathBuf};

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};

use crate::args::Defaults;

/// The default file embedded as configuration defaults, relative to the package root.
pub(crate) const DEFAULT_CONFIG: &str = "config/default.toml";

/// The `include_str!` of the defaults file, once it exists and is TOML; `None` with
/// `defaults = false`.
pub(crate) fn resolve(defaults: &Defaults, attribute: Span) -> syn::Result<Option<TokenStream>> {
    let (relative, span) = match defaults {
        Defaults::Off => return Ok(None),
        Defaults::Auto => (DEFAULT_CONFIG.to_owned(), attribute),
        Defaults::Path(path) => (path.value(), path.span()),
    };
    let root = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(PathBuf::new, PathBuf::from);
    let file = if Path::new(&relative).is_absolute() {
        PathBuf::from(&relative)
    } else {
        root.join(&relative)
    };
    let text = std::fs::read_to_string(&file).map_err(|error| {
        let hint = if matches!(defaults, Defaults::Auto) {
            format!(
                "the service's configuration defaults are read from `{DEFAULT_CONFIG}`, which \
                 cannot be read ({error}): create it (an empty file will do) or say \
                 `defaults = false`"
            )
        } else {
            format!("cannot read the defaults file `{relative}`: {error}")
        };
        syn::Error::new(span, hint)
    })?;
    if let Err(error) = toml::from_str::<toml::Table>(&text) {
        let (line, column) = error
            .span()
            .map_or((1, 1), |range| position(&text, range.start));
        let message = error.message().replace('\n', " ");
        return Err(syn::Error::new(
            span,
            format!("{relative}:{line}:{column}: not valid TOML: {message}"),
        ));
    }
    let include = if Path::new(&relative).is_absolute() {
        quote_spanned!(span=> ::core::include_str!(#relative))
    } else {
        let suffix = format!("/{relative}");
        quote_spanned!(span=> ::core::include_str!(::core::concat!(
            ::core::env!("CARGO_MANIFEST_DIR"),
            #suffix
        )))
    };
    Ok(Some(quote!(#include)))
}

/// The 1-based line and column of byte `offset` in `text`.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        assert_eq!(position("a = 1\nb = \n", 0), (1, 1));
        assert_eq!(position("a = 1\nb = \n", 10), (2, 5));
    }
}
