//! [`BaseUrl`]: `clients.<name>.url`, the one address and the path prefix of an API called
//! instead of a discovered service.
//!
//! `https://api.example.com/v1` sends a call of `/items` to `api.example.com:443` (the name
//! resolved when connecting) as `/v1/items`, over TLS; the route template, the metric label
//! and the span's `url.template`, stays the caller's `/items`. A base URL is a scheme, a host,
//! an optional port and an optional path: credentials in it would show wherever the URL does
//! (a config dump, a span's `url.full`), and a query or fragment has no place to go.

use http::Uri;

use crate::discovery::{Address, Endpoint, Endpoints};

/// A valid `clients.<name>.url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BaseUrl {
    tls: bool,
    address: Address,
    /// The path, without a trailing `/`: empty for none.
    prefix: String,
}

/// Why a text is not a base URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InvalidBaseUrl {
    /// Not a URL at all.
    Unparsable,
    /// Neither `http` nor `https`.
    Scheme,
    /// A user or password before the host.
    Userinfo,
    /// A `?query` or `#fragment`.
    QueryOrFragment,
    /// No host, or one that is not a DNS name or IP address.
    Host,
    /// Port 0.
    Port,
}

impl InvalidBaseUrl {
    /// What was expected instead, for the configuration problem.
    pub(crate) const fn expected(self) -> &'static str {
        match self {
            Self::Unparsable => "a URL such as https://api.example.com/v1",
            Self::Scheme => "a URL with scheme http or https, such as https://api.example.com/v1",
            Self::Userinfo => {
                "a URL without a user or password (send credentials in a header, from a Secret)"
            }
            Self::QueryOrFragment => "a URL without a query or fragment: scheme, host, port, path",
            Self::Host => "a URL whose host is a DNS name or an IP address",
            Self::Port => "a URL with a port from 1 to 65535",
        }
    }
}

impl BaseUrl {
    /// Parses `text`: `http(s)://host[:port][/path]`, the port defaulting to 80 or 443.
    pub(crate) fn parse(text: &str) -> Result<Self, InvalidBaseUrl> {
        // Before parsing: `http::Uri` takes userinfo as part of the authority, and drops a
        // fragment without a word.
        if let Some((_, rest)) = text.split_once("://") {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            if authority.contains('@') {
                return Err(InvalidBaseUrl::Userinfo);
            }
        }
        if text.contains('#') {
            return Err(InvalidBaseUrl::QueryOrFragment);
        }
        let uri: Uri = text.parse().map_err(|_| InvalidBaseUrl::Unparsable)?;
        let tls = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(InvalidBaseUrl::Scheme),
        };
        if uri.query().is_some() {
            return Err(InvalidBaseUrl::QueryOrFragment);
        }
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or(InvalidBaseUrl::Host)?;
        let port = match uri.port_u16() {
            Some(0) => return Err(InvalidBaseUrl::Port),
            Some(port) => port,
            None if tls => 443,
            None => 80,
        };
        let address = Address::from_host_port(host, port).map_err(|_| InvalidBaseUrl::Host)?;
        Ok(Self {
            tls,
            address,
            prefix: uri.path().trim_end_matches('/').to_owned(),
        })
    }

    /// Whether the scheme is `https`.
    pub(crate) fn is_tls(&self) -> bool {
        self.tls
    }

    /// The path every route goes under, without a trailing `/` (empty for none).
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The endpoint set of `service`: this URL's host and port, and nothing else.
    pub(crate) fn endpoints(&self, service: &str) -> Endpoints {
        Endpoints::fixed(service, [Endpoint::new(self.address.clone())])
    }
}

/// `path_and_query` under `prefix`: `/v1` and `/items?x=1` give `/v1/items?x=1`.
pub(crate) fn under(prefix: &str, path_and_query: &str) -> String {
    if prefix.is_empty() {
        path_and_query.to_owned()
    } else if path_and_query.starts_with('/') {
        format!("{prefix}{path_and_query}")
    } else {
        format!("{prefix}/{path_and_query}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_url_gives_the_address_the_scheme_and_the_prefix() {
        let url = BaseUrl::parse("https://api.example.com/v1/").expect("valid");
        assert!(url.is_tls());
        assert_eq!(
            url.address,
            Address::Name("api.example.com".to_owned(), 443)
        );
        assert_eq!(url.prefix(), "/v1");
        let plain = BaseUrl::parse("HTTP://10.0.0.7:8080").expect("valid");
        assert!(!plain.is_tls());
        assert_eq!(plain.address.to_string(), "10.0.0.7:8080");
        assert_eq!(plain.prefix(), "");
        let v6 = BaseUrl::parse("https://[::1]:8443/a/b").expect("valid");
        assert_eq!(v6.address.to_string(), "[::1]:8443");
        assert_eq!(v6.prefix(), "/a/b");
    }

    #[test]
    fn what_a_base_url_cannot_be() {
        for (text, why) in [
            ("ftp://files.example.com/pub", InvalidBaseUrl::Scheme),
            ("api.example.com/v1", InvalidBaseUrl::Unparsable),
            ("grpc://api.example.com", InvalidBaseUrl::Scheme),
            (
                "https://user:hunter2@api.example.com/v1",
                InvalidBaseUrl::Userinfo,
            ),
            ("https://token@api.example.com", InvalidBaseUrl::Userinfo),
            (
                "https://api.example.com/v1?key=1",
                InvalidBaseUrl::QueryOrFragment,
            ),
            (
                "https://api.example.com/v1#top",
                InvalidBaseUrl::QueryOrFragment,
            ),
            ("https://api.example.com:0/v1", InvalidBaseUrl::Port),
            ("https:///v1", InvalidBaseUrl::Unparsable),
            ("not a url", InvalidBaseUrl::Unparsable),
        ] {
            assert_eq!(BaseUrl::parse(text), Err(why), "{text}");
        }
    }

    #[test]
    fn routes_go_under_the_prefix() {
        assert_eq!(under("/v1", "/items?x=1"), "/v1/items?x=1");
        assert_eq!(under("/v1", "/"), "/v1/");
        assert_eq!(under("", "/items"), "/items");
    }
}
