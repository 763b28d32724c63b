//! Emits the service type, its `Microservice` impl and, with `main`, the entry point.
//!
//! Every path goes through `::chassis::__private`, so the user's crate needs `chassis` only.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, Ident, ItemFn, Type};

use crate::args::Args;
use crate::signature::Checked;

/// Everything the expansion is made from.
pub(crate) struct Service<'a> {
    /// The attribute's arguments.
    pub(crate) args: &'a Args,
    /// The user's function, emitted unchanged.
    pub(crate) item: &'a ItemFn,
    /// The checked signature.
    pub(crate) checked: Checked<'a>,
    /// The generated type's name.
    pub(crate) ty: Ident,
    /// The `include_str!` of the defaults file, if any.
    pub(crate) defaults: Option<TokenStream>,
}

impl Service<'_> {
    /// The whole expansion.
    pub(crate) fn expand(&self) -> TokenStream {
        let item = self.item;
        let cfgs = self.cfgs();
        let ty = &self.ty;
        let vis = &item.vis;
        let doc = self.doc();
        let microservice = self.microservice_impl();
        let main = self.main();
        let name_check = self.name_check();
        // The macro demands `async`, so clippy's "remove `async`" would break the build.
        quote! {
            #[allow(clippy::unused_async)]
            #item

            #[doc = #doc]
            #(#cfgs)*
            #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
            #vis struct #ty;

            #microservice
            #name_check
            #main
        }
    }

    /// The `#[cfg]` attributes of the function, repeated on every generated item.
    fn cfgs(&self) -> Vec<&Attribute> {
        self.item
            .attrs
            .iter()
            .filter(|attr| attr.path().is_ident("cfg"))
            .collect()
    }

    /// The generated type's doc: what it is and where it was declared.
    fn doc(&self) -> TokenStream {
        let function = self.item.sig.ident.to_string();
        let text = format!(
            "` service, declared with `#[chassis::service]` on `fn {function}`: it implements \
             `chassis::service::Microservice`, for `chassis::service::run` and `spawn`."
        );
        let name = self.name();
        quote!(::core::concat!("The `", #name, #text))
    }

    /// The service name: the literal given, or the package name.
    fn name(&self) -> TokenStream {
        self.args.name.as_ref().map_or_else(
            || quote!(::core::env!("CARGO_PKG_NAME")),
            |name| quote!(#name),
        )
    }

    /// The `impl Microservice`.
    fn microservice_impl(&self) -> TokenStream {
        let ty = &self.ty;
        let cfgs = self.cfgs();
        let config = self.checked.config;
        let name = self.name();
        let version = self.args.version.as_ref().map_or_else(
            || quote!(::core::env!("CARGO_PKG_VERSION")),
            |version| quote!(#version),
        );
        let defaults = self.embedded_defaults();
        let function = &self.item.sig.ident;
        let ctx = Ident::new("ctx", Span::mixed_site());
        // Errors about the conversion into `BoxError` and about `Send` point at the user's
        // return type and signature, not at this macro.
        let error_span = self.checked.error.map_or(self.checked.output, Type::span);
        let convert = quote_spanned! {error_span=>
            ::core::result::Result::map_err(#function(#ctx).await, ::core::convert::Into::into)
        };
        let signature_span = self.item.sig.span();
        let router = quote_spanned! {signature_span=>
            async fn router(
                #ctx: ::chassis::__private::Context<Self::Config>,
            ) -> ::core::result::Result<::chassis::__private::Router, ::chassis::__private::BoxError> {
                #convert
            }
        };
        quote! {
            #(#cfgs)*
            impl ::chassis::__private::Microservice for #ty {
                type Config = #config;
                const NAME: &'static str = #name;
                const VERSION: &'static str = #version;
                #defaults
                #router
            }
        }
    }

    /// `fn embedded_defaults` when there is a file to embed (checked by [`defaults`]).
    ///
    /// [`defaults`]: crate::defaults
    fn embedded_defaults(&self) -> Option<TokenStream> {
        let include = self.defaults.as_ref()?;
        Some(quote! {
            fn embedded_defaults() -> ::core::option::Option<&'static str> {
                ::core::option::Option::Some(#include)
            }
        })
    }

    /// A literal name was checked by the macro; the package name is checked by the compiler.
    fn name_check(&self) -> Option<TokenStream> {
        if self.args.name.is_some() {
            return None;
        }
        let ty = &self.ty;
        let cfgs = self.cfgs();
        Some(quote! {
            #(#cfgs)*
            const _: () = ::core::assert!(
                ::chassis::__private::is_valid_service_name(
                    <#ty as ::chassis::__private::Microservice>::NAME
                ),
                "the package name is not a valid service name (lowercase letters, digits and `-`, \
                 starting with a letter): give one with `#[chassis::service(name = \"...\")]`",
            );
        })
    }

    /// With the `main` flag: `fn main` on a multi-thread tokio runtime.
    fn main(&self) -> Option<TokenStream> {
        let span = self.args.main?;
        let ty = &self.ty;
        let cfgs = self.cfgs();
        let runtime = Ident::new("runtime", Span::mixed_site());
        let error = Ident::new("error", Span::mixed_site());
        Some(quote_spanned! {span=>
            #(#cfgs)*
            fn main() -> ::std::process::ExitCode {
                match ::chassis::__private::tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
                {
                    ::core::result::Result::Ok(#runtime) => {
                        #runtime.block_on(::chassis::__private::run::<#ty>())
                    }
                    ::core::result::Result::Err(#error) => {
                        ::std::eprintln!("error: cannot start the tokio runtime: {}", #error);
                        ::std::process::ExitCode::FAILURE
                    }
                }
            }
        })
    }
}

/// `catalog` -> `Catalog`, `order_service` -> `OrderService`, `r#type` -> `Type`.
pub(crate) fn camel_case(snake: &str) -> String {
    let mut camel = String::with_capacity(snake.len());
    let mut upper = true;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            camel.extend(c.to_uppercase());
            upper = false;
        } else {
            camel.push(c);
        }
    }
    camel
}

#[cfg(test)]
mod tests {
    use super::camel_case;

    #[test]
    fn camel_case_of_function_names() {
        assert_eq!(camel_case("catalog"), "Catalog");
        assert_eq!(camel_case("order_service"), "OrderService");
        assert_eq!(camel_case("_private_svc"), "PrivateSvc");
        assert_eq!(camel_case("svc2_v3"), "Svc2V3");
        assert_eq!(camel_case("a__b"), "AB");
    }
}
