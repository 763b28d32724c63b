//! `#[chassis::service]`: parse, check, emit (like tokio-macros' `entry.rs`).

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident};
use syn::ext::IdentExt;
use syn::parse::Parser;
use syn::{Item, ItemFn};

use crate::args::Args;
use crate::defaults;
use crate::expand::{Service, camel_case};
use crate::signature::{self, Errors};

/// The attribute: the expansion, or the user's item unchanged plus `compile_error!`s so that
/// editors keep resolving the function while the attribute is wrong.
pub(crate) fn service(args: TokenStream, item: TokenStream) -> TokenStream {
    let wants_main = has_main_flag(&args);
    let function = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(function)) => function,
        Ok(other) => {
            let error = syn::Error::new_spanned(
                other,
                "`#[chassis::service]` goes on an `async fn` that builds the service's router",
            );
            return with_error(item, error, wants_main);
        }
        Err(error) => return with_error(item, error, wants_main),
    };
    match expand(args, &function) {
        Ok(tokens) => tokens,
        Err(error) => {
            // A `fn main` of the user's own is not doubled.
            let wants_main = wants_main && function.sig.ident != "main";
            with_error(function.into_token_stream(), error, wants_main)
        }
    }
}

/// Whether the attribute asks for `main` (read from its tokens, so that it is known even
/// when the rest of the attribute does not parse).
fn has_main_flag(args: &TokenStream) -> bool {
    let mut at_key = true;
    for token in args.clone() {
        match token {
            proc_macro2::TokenTree::Ident(ident) if at_key && ident == "main" => return true,
            proc_macro2::TokenTree::Punct(punct) if punct.as_char() == ',' => at_key = true,
            _ => at_key = false,
        }
    }
    false
}

fn expand(args: TokenStream, function: &ItemFn) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let mut parsed = Args::default();
    let parser = syn::meta::parser(|meta| parsed.parse_one(&meta));
    errors.take(parser.parse2(args));
    let checked = errors.take(signature::check(&function.sig));
    let ident = &function.sig.ident;
    let ty = format_ident!(
        "{}",
        camel_case(&ident.unraw().to_string()),
        span = ident.span()
    );
    if ty == *ident {
        errors.add(syn::Error::new(
            ident.span(),
            format!(
                "the generated service type is named `{ty}` after the function: name the \
                 function in snake_case (`fn {}`)",
                ty.to_string().to_lowercase()
            ),
        ));
    }
    if parsed.main.is_some() && ident == "main" {
        errors.add(syn::Error::new(
            ident.span(),
            "with the `main` flag the macro generates `fn main`: give the service function \
             another name",
        ));
    }
    if let (Some(key), Some(checked)) = (&parsed.config, &checked)
        && !same_tokens(key, checked.config)
    {
        errors.add(syn::Error::new_spanned(
            checked.config,
            format!(
                "the `config` key names `{}` but the context is `Context<{}>`: they must be \
                 the same type (the key is optional; the parameter decides)",
                tokens(key),
                tokens(checked.config),
            ),
        ));
    }
    let checked = errors.finish(checked, ident.span())?;
    // Only once the rest is right, so that a mistake elsewhere is the only error shown.
    let defaults = defaults::resolve(&parsed.defaults, Span::call_site())?;
    Ok(Service {
        args: &parsed,
        item: function,
        checked,
        ty,
        defaults,
    }
    .expand())
}

fn same_tokens(a: &syn::Type, b: &syn::Type) -> bool {
    tokens(a) == tokens(b)
}

/// A type as written, with the spacing `quote` gives it (`Vec < u8 >`) squeezed out.
fn tokens(ty: &syn::Type) -> String {
    ty.to_token_stream()
        .to_string()
        .replace(" <", "<")
        .replace("< ", "<")
        .replace(" >", ">")
        .replace(" ::", "::")
        .replace(":: ", "::")
        .replace(" ,", ",")
}

/// The user's item unchanged, the errors, and, when `main` was asked for, an empty `fn main`
/// so that the only errors are the ones that point at the mistake (no "`main` function not
/// found" after them).
fn with_error(mut tokens: TokenStream, error: syn::Error, wants_main: bool) -> TokenStream {
    tokens.extend(error.into_compile_error());
    if wants_main {
        tokens.extend(quote::quote!(
            fn main() {}
        ));
    }
    tokens
}
