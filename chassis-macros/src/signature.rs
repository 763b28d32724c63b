//! Checks the annotated function's signature: `async fn NAME(ctx: Context<C>) -> Result<Router, E>`.
//!
//! The checks are syntactic (a proc-macro cannot resolve types): the parameter's type must be a
//! path ending in `Context` with one type argument, the return type a path ending in `Result`
//! whose first argument is a path ending in `Router`. Whatever the macro cannot see (that `E`
//! converts into `BoxError`, that `C` deserializes, that the future is `Send`) the compiler
//! checks on the generated impl, with spans pointing back at the user's tokens.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, PathArguments, ReturnType, Signature, Type, TypePath};

/// What the expansion needs from a signature that passed every check.
pub(crate) struct Checked<'a> {
    /// `C` of the `Context<C>` parameter.
    pub(crate) config: &'a Type,
    /// `E` of `Result<Router, E>`, when written (an alias such as `anyhow::Result<Router>` has
    /// none); errors about its conversion point there.
    pub(crate) error: Option<&'a Type>,
    /// The whole return type, for errors when `error` is `None`.
    pub(crate) output: Span,
}

/// Runs every check, combining all failures into one error.
pub(crate) fn check(sig: &Signature) -> syn::Result<Checked<'_>> {
    let mut errors = Errors::default();
    if let Some(token) = &sig.constness {
        errors.push(token.span, "a service function cannot be `const`");
    }
    if let Some(token) = &sig.unsafety {
        errors.push(token.span, "a service function cannot be `unsafe`");
    }
    if let Some(abi) = &sig.abi {
        errors.spanned(abi, "a service function cannot be `extern`");
    }
    if sig.asyncness.is_none() {
        errors.push(
            sig.fn_token.span,
            "`#[chassis::service]` needs an `async fn`: add `async` before `fn`",
        );
    }
    if !sig.generics.params.is_empty() {
        errors.spanned(
            &sig.generics,
            "a service function cannot have generic parameters",
        );
    }
    if let Some(clause) = &sig.generics.where_clause {
        errors.spanned(clause, "a service function cannot have a `where` clause");
    }
    if let Some(variadic) = &sig.variadic {
        errors.spanned(variadic, "a service function cannot be variadic");
    }
    let config = errors.take(context_param(sig));
    let output = errors.take(router_result(sig));
    let checked = config.zip(output).map(|(config, (error, output))| Checked {
        config,
        error,
        output,
    });
    errors.finish(checked, sig.ident.span())
}

/// The single parameter `pattern: Context<C>`; returns `C`.
fn context_param(sig: &Signature) -> syn::Result<&Type> {
    let mut inputs = sig.inputs.iter();
    let Some(first) = inputs.next() else {
        return Err(syn::Error::new(
            sig.paren_token.span.join(),
            "expected one parameter, the service context: `ctx: Context<Config>`",
        ));
    };
    let mut errors = Errors::default();
    if let Some(extra) = inputs.next() {
        errors.spanned(
            extra,
            "expected only one parameter, the service context `Context<Config>`",
        );
    }
    let config = match first {
        FnArg::Receiver(receiver) => {
            errors.spanned(
                receiver,
                "`#[chassis::service]` goes on a free `async fn`, not a method: remove `self`",
            );
            None
        }
        FnArg::Typed(typed) => errors.take(context_argument(&typed.ty)),
    };
    errors.finish(config, first.span())
}

/// `C` of a type written `Context<C>` (any path ending in `Context`).
fn context_argument(ty: &Type) -> syn::Result<&Type> {
    let expected = || {
        syn::Error::new_spanned(
            ty,
            "expected the service context `Context<Config>` (`chassis::service::Context`)",
        )
    };
    let (ident, arguments) = last_segment(ty).ok_or_else(expected)?;
    if ident != "Context" {
        return Err(expected());
    }
    match type_arguments(arguments).as_slice() {
        [config] => Ok(config),
        _ => Err(syn::Error::new_spanned(
            ty,
            "expected one type argument, the service's settings: `Context<Config>` \
             (`Context<()>` for none)",
        )),
    }
}

/// Checks `-> Result<Router, E>` (or an alias `Result<Router>`); returns `E` and the span.
fn router_result(sig: &Signature) -> syn::Result<(Option<&Type>, Span)> {
    let ReturnType::Type(_, ty) = &sig.output else {
        return Err(syn::Error::new(
            sig.paren_token.span.close(),
            "expected a return type `Result<Router, E>` where `E: Into<BoxError>`",
        ));
    };
    let expected = || {
        syn::Error::new_spanned(
            ty,
            "expected the return type `Result<Router, E>` where `E: Into<BoxError>`",
        )
    };
    let (ident, arguments) = last_segment(ty).ok_or_else(expected)?;
    if ident != "Result" {
        return Err(expected());
    }
    let arguments = type_arguments(arguments);
    let (router, error) = match arguments.as_slice() {
        [router] => (*router, None),
        [router, error] => (*router, Some(*error)),
        _ => return Err(expected()),
    };
    match last_segment(router) {
        Some((ident, arguments)) if ident == "Router" => {
            let state = type_arguments(arguments);
            let stateless = match state.as_slice() {
                [] => true,
                [Type::Tuple(unit)] => unit.elems.is_empty(),
                _ => false,
            };
            if stateless {
                Ok((error, ty.span()))
            } else {
                Err(syn::Error::new_spanned(
                    router,
                    "the service returns a `Router` with its state provided: \
                     call `.with_state(..)` and return `Router` (that is, `Router<()>`)",
                ))
            }
        }
        _ => Err(syn::Error::new_spanned(
            router,
            "expected `Router` (`axum::Router`): a service returns its routes",
        )),
    }
}

/// The last segment's ident and arguments of a plain path type (no `<T as Trait>::`).
fn last_segment(ty: &Type) -> Option<(&syn::Ident, &PathArguments)> {
    match ty {
        Type::Path(TypePath { qself: None, path }) => path
            .segments
            .last()
            .map(|segment| (&segment.ident, &segment.arguments)),
        Type::Group(group) => last_segment(&group.elem),
        Type::Paren(paren) => last_segment(&paren.elem),
        _ => None,
    }
}

/// The type arguments of `<...>`; lifetimes and constants count as a mismatch.
fn type_arguments(arguments: &PathArguments) -> Vec<&Type> {
    match arguments {
        PathArguments::AngleBracketed(angle) => angle
            .args
            .iter()
            .map(|argument| match argument {
                GenericArgument::Type(ty) => Some(ty),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Accumulates errors so that one expansion reports every problem at once.
#[derive(Default)]
pub(crate) struct Errors(pub(crate) Option<syn::Error>);

impl Errors {
    /// Records an error at `span`.
    pub(crate) fn push(&mut self, span: Span, message: &str) {
        self.add(syn::Error::new(span, message));
    }

    /// Records an error spanning all of `tokens` (a span covers one token on stable Rust).
    pub(crate) fn spanned(&mut self, tokens: impl quote::ToTokens, message: &str) {
        self.add(syn::Error::new_spanned(tokens, message));
    }

    /// Records `error`.
    pub(crate) fn add(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(errors) => errors.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// `value` when no error was recorded, else every recorded error. A missing `value` with
    /// no recorded error cannot happen (whoever drops the value records why); should it, the
    /// error is a generic one at `span` rather than a panic.
    pub(crate) fn finish<T>(self, value: Option<T>, span: Span) -> syn::Result<T> {
        match (self.0, value) {
            (Some(error), _) => Err(error),
            (None, Some(value)) => Ok(value),
            (None, None) => Err(syn::Error::new(span, "invalid service function")),
        }
    }

    /// The value of `result`, or `None` after recording its error.
    pub(crate) fn take<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|error| self.add(error)).ok()
    }
}
