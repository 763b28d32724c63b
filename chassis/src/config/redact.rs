//! Keeping credentials out of errors and logs.
//!
//! Wherever the chassis puts a configured value into a message (a configuration problem, a
//! log line, an error), it passes here first. The rules:
//!
//! - A key **names a secret** when its dotted path (read case-insensitively, `-` as `_`)
//!   contains `token`, `password`, `passwd`, `passphrase`, `secret`, `credential`,
//!   `api_key`, `apikey`, `private_key` or `auth`.
//! - A value **looks like a credential** when it holds a URL with userinfo
//!   (`scheme://user:pw@host`) or with a query parameter naming a secret (`?api_key=...`), is
//!   an HTTP authorization (`Bearer <credential>`, `Basic <credential>`), or holds a
//!   token-like run: at least 20 ASCII letters and digits in a row, mixing both, with at least
//!   3 bits of Shannon entropy per character (random tokens, API keys, hex digests; not host
//!   names, paths, durations or plain numbers, whose runs are short or one-kind).
//! - A URL is shown with its userinfo and the values of query parameters that name a secret
//!   replaced by `***`, keeping scheme, host, port and path: `http://***@host:4317/v1`.
//!
//! A false positive only costs a value not shown: the key and the source still are.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

/// What stands in for a hidden value.
pub(crate) const HIDDEN: &str = "***";

/// Words that mark a key as holding a secret.
const SECRET_WORDS: [&str; 10] = [
    "token",
    "password",
    "passwd",
    "passphrase",
    "secret",
    "credential",
    "api_key",
    "apikey",
    "private_key",
    "auth",
];

/// HTTP authorization schemes whose parameter is a credential.
const AUTH_SCHEMES: [&str; 2] = ["bearer", "basic"];

/// Shortest run of letters and digits taken for a token.
const MIN_TOKEN_LEN: usize = 20;

/// Least Shannon entropy, in bits per character, of a token-like run.
const MIN_TOKEN_ENTROPY: f64 = 3.0;

/// Shortest value replaced wherever it appears in a message; shorter ones are replaced only
/// where quoted (`"ab"`, `` `ab` ``, `'ab'`), so that a short value does not garble the text.
const MIN_PLAIN_LEN: usize = 4;

/// Whether the dotted `key` names a secret.
pub(crate) fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase().replace('-', "_");
    SECRET_WORDS.iter().any(|word| key.contains(word))
}

/// Whether `value` looks like a credential: a URL with userinfo or a secret query parameter,
/// an HTTP authorization, or a token-like run.
pub(crate) fn looks_like_credential(value: &str) -> bool {
    url_spans(value)
        .into_iter()
        .any(|span| matches!(redact_url(&value[span]), Cow::Owned(_)))
        || is_authorization(value)
        || value
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(is_token_like)
}

/// The message of a problem at `key` whose value has the texts `texts` (its scalars, the
/// elements of a list): unchanged when nothing in it must be hidden; else cut to what was
/// expected, with the texts hidden (every text when the key names a secret, else those that
/// look like credentials). Credentials in URLs are hidden in any case.
pub(crate) fn problem_message(key: &str, texts: &[String], message: &str) -> String {
    let message = redact_urls_in(message);
    let (hidden, reason): (Vec<String>, _) = if is_secret_key(key) {
        (texts.to_vec(), "the key names a secret")
    } else {
        let credentials = texts.iter().filter(|t| looks_like_credential(t));
        (credentials.cloned().collect(), "it looks like a credential")
    };
    if hidden.is_empty() || hide_texts(&message, &hidden) == message {
        return message.into_owned();
    }
    let expected = message
        .rfind("expected ")
        .map_or("expected another value", |at| &message[at..]);
    format!(
        "{}; the value is not shown: {reason}",
        hide_texts(expected, &hidden)
    )
}

/// `message` with every occurrence of each of `texts` replaced by [`HIDDEN`].
pub(crate) fn hide_texts(message: &str, texts: &[String]) -> String {
    let mut texts: Vec<&str> = texts
        .iter()
        .map(String::as_str)
        .filter(|t| !t.is_empty())
        .collect();
    // The longest first, so that a list is hidden whole before its elements.
    texts.sort_by_key(|t| std::cmp::Reverse(t.len()));
    let mut out = message.to_owned();
    for text in texts {
        for quoted in [
            format!("{text:?}"),
            format!("`{text}`"),
            format!("'{text}'"),
        ] {
            out = out.replace(&quoted, HIDDEN);
        }
        if text.chars().count() >= MIN_PLAIN_LEN {
            out = out.replace(text, HIDDEN);
        }
    }
    out
}

/// A parser's error message with the quoted source lines (`2 | key = "value"`) cut to the key
/// where the key names a secret or the value looks like a credential.
pub(crate) fn hide_in_excerpt(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for line in message.split_inclusive('\n') {
        let (text, newline) = line
            .strip_suffix('\n')
            .map_or((line, ""), |text| (text, "\n"));
        match text.split_once(" | ") {
            Some((number, source))
                if !number.trim().is_empty()
                    && number.trim().bytes().all(|b| b.is_ascii_digit()) =>
            {
                let (key, value) = source.split_once('=').unwrap_or(("", source));
                let key = key.trim().trim_matches(['"', '\'', '[', ']']);
                if is_secret_key(key) || looks_like_credential(value) {
                    out.push_str(number);
                    out.push_str(" | ");
                    if !key.is_empty() {
                        out.push_str(key);
                        out.push_str(" = ");
                    }
                    out.push_str(HIDDEN);
                } else {
                    out.push_str(text);
                }
            }
            _ => out.push_str(&redact_urls_in(text)),
        }
        out.push_str(newline);
    }
    out
}

/// Where the userinfo of `rest` (a URL after its `://`) ends: its last `@` that a host and
/// port follow, when the text before the first `@` has a `:` that starts no port number
/// (`user:password@`). The password may hold `@`, `/`, `?` or `#` unencoded
/// (`postgres://app:p@ss/word@db:5432/app`): the last such `@` is taken, which may hide a
/// path's `@...` too (shown less, never a password). `None` without a password (a plain
/// `user@` is found as usual).
fn userinfo_end(rest: &str) -> Option<usize> {
    let first_at = rest.find('@')?;
    let colon = rest[..first_at].find(':')?;
    let plain_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let port = &rest[colon + 1..plain_end.max(colon + 1)];
    if plain_end < first_at && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
        return None; // `host:port/...@...`: an `@` in the path or query
    }
    rest.match_indices('@').rev().map(|(at, _)| at).find(|&at| {
        let host = &rest[at + 1..];
        let host = &host[..host.find(['/', '?', '#']).unwrap_or(host.len())];
        !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-_:[]%".contains(&b))
    })
}

/// `url` with its userinfo, and the values of query parameters naming a secret, hidden:
/// `http://user:pw@host:4317/v1?api_key=k` becomes `http://***@host:4317/v1?api_key=***`.
pub(crate) fn redact_url(url: &str) -> Cow<'_, str> {
    let Some(sep) = url.find("://") else {
        return Cow::Borrowed(url);
    };
    let rest = &url[sep + 3..];
    let host_start = userinfo_end(rest).map_or(0, |at| at + 1);
    let authority_end = rest[host_start..]
        .find(['/', '?', '#'])
        .map_or(rest.len(), |end| host_start + end);
    let (authority, tail) = rest.split_at(authority_end);
    let mut out = String::with_capacity(url.len());
    out.push_str(&url[..sep + 3]);
    match authority.rfind('@') {
        Some(at) => {
            out.push_str(HIDDEN);
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    let (before_fragment, fragment) = tail.split_at(tail.find('#').unwrap_or(tail.len()));
    match before_fragment.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            for (i, pair) in query.split('&').enumerate() {
                if i > 0 {
                    out.push('&');
                }
                match pair.split_once('=') {
                    Some((name, _)) if is_secret_key(name) => {
                        out.push_str(name);
                        out.push('=');
                        out.push_str(HIDDEN);
                    }
                    _ => out.push_str(pair),
                }
            }
        }
        None => out.push_str(before_fragment),
    }
    out.push_str(fragment);
    if out == url {
        Cow::Borrowed(url)
    } else {
        Cow::Owned(out)
    }
}

/// `text` with [`redact_url`] applied to every `scheme://...` URL in it.
pub(crate) fn redact_urls_in(text: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut copied = 0;
    for span in url_spans(text) {
        if let Cow::Owned(redacted) = redact_url(&text[span.clone()]) {
            out.push_str(&text[copied..span.start]);
            out.push_str(&redacted);
            copied = span.end;
        }
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// The byte ranges of the `scheme://...` URLs in `text`, each ending at whitespace, a quote
/// or an angle bracket.
fn url_spans(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(found) = text[from..].find("://") {
        let sep = from + found;
        let mut start = sep;
        while start > from
            && (bytes[start - 1].is_ascii_alphanumeric() || b"+-.".contains(&bytes[start - 1]))
        {
            start -= 1;
        }
        // A scheme begins with a letter.
        while start < sep && !bytes[start].is_ascii_alphabetic() {
            start += 1;
        }
        let end = text[sep + 3..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>'))
            .map_or(text.len(), |n| sep + 3 + n);
        if start < sep {
            spans.push(start..end);
        }
        from = end.max(sep + 3);
    }
    spans
}

/// Whether `value` is an HTTP authorization, `Bearer <credential>` or `Basic <credential>`
/// (optionally after `Authorization:`).
fn is_authorization(value: &str) -> bool {
    let mut words: Vec<&str> = value.split_whitespace().collect();
    if words
        .first()
        .is_some_and(|w| w.eq_ignore_ascii_case("authorization:"))
    {
        words.remove(0);
    }
    matches!(words.as_slice(), [scheme, _] if AUTH_SCHEMES.iter().any(|s| scheme.eq_ignore_ascii_case(s)))
}

/// Whether a run of letters and digits looks like a random token.
fn is_token_like(run: &str) -> bool {
    run.len() >= MIN_TOKEN_LEN
        && run.bytes().any(|b| b.is_ascii_digit())
        && run.bytes().any(|b| b.is_ascii_alphabetic())
        && entropy(run) >= MIN_TOKEN_ENTROPY
}

/// Shannon entropy of an ASCII string, in bits per character.
fn entropy(run: &str) -> f64 {
    let mut counts = [0_u32; 128];
    for b in run.bytes() {
        counts[usize::from(b & 0x7f)] += 1;
    }
    let len = f64::from(u32::try_from(run.len()).unwrap_or(u32::MAX));
    counts
        .iter()
        .filter(|&&n| n > 0)
        .map(|&n| {
            let p = f64::from(n) / len;
            -p * p.log2()
        })
        .sum()
}

/// An error standing in for another one whose message could carry credentials: the same
/// message, with the credentials in its URLs hidden.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(not(feature = "otlp"), allow(dead_code))]
pub(crate) struct Redacted(String);

#[cfg_attr(not(feature = "otlp"), allow(dead_code))]
impl Redacted {
    /// The message of `error` and of its sources, URLs redacted.
    pub(crate) fn from_error(error: &(dyn std::error::Error + 'static)) -> Self {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            source = cause.source();
        }
        Self(redact_urls_in(&message).into_owned())
    }
}

impl fmt::Display for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Redacted").field(&self.0).finish()
    }
}

impl std::error::Error for Redacted {}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }

    #[test]
    fn keys_that_name_a_secret() {
        for key in [
            "server.admin_token",
            "db.PASSWORD",
            "vault.api-key",
            "smtp.passwd",
            "tls.private_key",
            "clients.billing.auth",
            "oauth.client_secret",
            "aws.credentials.id",
            "apikey",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
        for key in [
            "server.port",
            "telemetry.otlp.endpoint",
            "discovery.etcd.endpoints",
        ] {
            assert!(!is_secret_key(key), "{key}");
        }
    }

    #[test]
    fn urls_lose_userinfo_and_secret_query_values_but_keep_host_port_and_path() {
        let cases = [
            ("http://user:pw@host:4317/v1", "http://***@host:4317/v1"),
            ("https://ghp_abc@github.com", "https://***@github.com"),
            ("http://u:p@ss@[::1]:2379", "http://***@[::1]:2379"),
            (
                "https://h/v1/traces?api_key=k&region=eu#top",
                "https://h/v1/traces?api_key=***&region=eu#top",
            ),
            ("http://h/p?Token=t", "http://h/p?Token=***"),
            // Passwords holding `/`, `#` or `?` unencoded.
            (
                "redis://default:pa#ss-REDISPW@cache:6379/0",
                "redis://***@cache:6379/0",
            ),
            (
                "postgres://app:s3cr/et-PGPW@db:5432/app",
                "postgres://***@db:5432/app",
            ),
            ("amqp://guest:a?b@mq:5672", "amqp://***@mq:5672"),
            ("amqp://guest:MQPW%40x@mq:5672", "amqp://***@mq:5672"),
            // ... and `@` with them.
            (
                "postgres://app:p@ss/word@db:5432/app",
                "postgres://***@db:5432/app",
            ),
            ("redis://u:p@ss#w@cache:6379/0", "redis://***@cache:6379/0"),
        ];
        for (url, shown) in cases {
            assert_eq!(redact_url(url), shown, "{url}");
        }
        for clean in [
            "http://127.0.0.1:4317",
            "http://h:80/v1?email=a@b.com",
            "https://gitlab.example.com:8443/@group/x",
            "http://host/a@b",
            "http://h/p?page=2",
            "no url at all",
        ] {
            assert!(matches!(redact_url(clean), Cow::Borrowed(_)), "{clean}");
        }
    }

    #[test]
    fn urls_inside_text_are_redacted_in_place() {
        let text = "invalid endpoint 'http://u:hunter2@h:1/x y', also <grpc://a:b@c> and ftp://d";
        assert_eq!(
            redact_urls_in(text),
            "invalid endpoint 'http://***@h:1/x y', also <grpc://***@c> and ftp://d"
        );
        assert!(matches!(
            redact_urls_in("see http://h:1 or ://nothing"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn values_that_look_like_credentials() {
        for value in [
            "http://user:hunter2@db:5432/shop",
            "http://collector/v1?api_key=abc",
            "Bearer hunter2",
            "basic dXNlcjpodW50ZXIy",
            "Authorization: Bearer abc",
            "ghp_8f3KxQ2mV9pL4rT7wY1bN3cF6hJ0sD5a",
            "9f86d081884c7d659a2feaa0c55ad015",
            "AKIAIOSFODNN7EXAMPLE",
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig",
        ] {
            assert!(looks_like_credential(value), "{value}");
        }
        for value in [
            "catalog.shop.svc.cluster.local",
            "ip-10-0-0-1.eu-west-1.compute.internal",
            "http://otel-collector.monitoring:4317/v1",
            "250ms",
            "12345678901234567890123",
            "/app/config/default.toml",
            "info,chassis=debug,tower_http=trace",
            "aaaaaaaaaaaaaaaa1111",
            "a basic setting",
            "bearer",
            "3fa85f64-5717-4562-b3fc-2c963f66afa6",
        ] {
            assert!(!looks_like_credential(value), "{value}");
        }
    }

    #[test]
    fn a_problem_message_hides_the_value_only_when_it_must() {
        let message = "expected an integer, found string \"hunter2\"";
        assert_eq!(
            problem_message("db.password", &texts(&["hunter2"]), message),
            "expected an integer, found string ***; the value is not shown: the key names a secret"
        );
        // The same mistake on a plain key shows the value.
        assert_eq!(
            problem_message("db.pool", &texts(&["hunter2"]), message),
            message
        );
        // Text before the expectation can carry fragments of the value: it is cut.
        let duration = "invalid duration \"Bearer hunter2\" (unknown time unit \"hunter\"); \
                        expected a duration such as \"5s\"";
        assert_eq!(
            problem_message(
                "shutdown.drain_delay",
                &texts(&["Bearer hunter2"]),
                duration
            ),
            "expected a duration such as \"5s\"; the value is not shown: it looks like a credential"
        );
        // A message that does not carry the value stays as it is.
        let unknown = "unknown field `admin_tokn`, expected one of `admin_token`";
        assert_eq!(
            problem_message("server.admin_tokn", &texts(&["hunter2"]), unknown),
            unknown
        );
        // Of a list, only the elements that look like credentials are hidden.
        let list = "expected a range such as 10.0.0.0/8, got \"Bearer hunter2\"";
        let elements = texts(&["10.0.0.0/8,Bearer hunter2", "10.0.0.0/8", "Bearer hunter2"]);
        assert_eq!(
            problem_message("server.trust.peers", &elements, list),
            "expected a range such as 10.0.0.0/8, got ***; the value is not shown: it looks like a credential"
        );
        // Credentials in a URL are hidden in any message.
        assert_eq!(
            problem_message("x", &[], "cannot reach http://u:pw@h:1"),
            "cannot reach http://***@h:1"
        );
    }

    #[test]
    fn quoted_source_lines_of_a_parse_error_hide_secrets() {
        let message = "TOML parse error at line 2, column 37\n  |\n2 | admin_token = \"hunter2\n  |     ^\ninvalid basic string\n";
        assert_eq!(
            hide_in_excerpt(message),
            "TOML parse error at line 2, column 37\n  |\n2 | admin_token = ***\n  |     ^\ninvalid basic string\n"
        );
        let url = "12 | endpoint = \"http://u:hunter2@h:1\" x\n";
        assert_eq!(hide_in_excerpt(url), "12 | endpoint = ***\n");
        let plain = "3 | port = \"80\nexpected `\"`";
        assert_eq!(hide_in_excerpt(plain), plain);
    }

    #[test]
    fn short_values_are_hidden_only_where_quoted() {
        let message = "found string \"ab\", integer `7`: a value abides";
        assert_eq!(
            hide_texts(message, &texts(&["ab", "7"])),
            "found string ***, integer ***: a value abides"
        );
        assert_eq!(
            hide_texts(
                "got a,hunter2 and hunter2",
                &texts(&["a,hunter2", "hunter2"])
            ),
            "got *** and ***"
        );
    }

    #[test]
    fn a_redacted_error_keeps_the_message_and_the_causes_without_credentials() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("invalid endpoint 'http://u:hunter2@h:1'")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let error = Outer(std::io::Error::other("refused by grpc://a:hunter2@b"));
        let redacted = Redacted::from_error(&error);
        let shown = format!("{redacted} {redacted:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(
            redacted.to_string(),
            "invalid endpoint 'http://***@h:1': refused by grpc://***@b"
        );
    }
}
