//! `#[chassis::service]`: parse, check, emit (like tokio-macros' `entry.rs`).

use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident};
use syn::ext::IdentExt;
use syn::parse::Parser;
use syn::{Item, ItemFn};

use crate::args::Args;
use crate::expand::{Service, camel_case};
use crate::signature::{self, Errors};

/// The attribute: the expansion, or the user's item unchanged plus `compile_error!`s so that
/// editors keep resolving the function while the attribute is wrong.
pub(crate) fn service(args: TokenStream, item: TokenStream) -> TokenStream {
    let function = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(function)) => function,
        Ok(other) => {
            let error = syn::Error::new_spanned(
                other,
                "`#[chassis::service]` goes on an `async fn` that builds the service's router",
            );
            return with_error(item, error);
        }
        Err(error) => return with_error(item, error),
    };
    match expand(args, &function) {
        Ok(tokens) => tokens,
        Err(error) => with_error(function.into_token_stream(), error),
    }
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
    Ok(Service {
        args: &parsed,
        item: function,
        checked,
        ty,
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

fn with_error(mut tokens: TokenStream, error: syn::Error) -> TokenStream {
    tokens.extend(error.into_compile_error());
    tokens
}
