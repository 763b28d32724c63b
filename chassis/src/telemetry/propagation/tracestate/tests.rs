//! The grammar walked case by case, through what the server does with an inbound request.

use http::{HeaderMap, HeaderValue};

use super::{TRACESTATE_MAX_LEN, inbound};
use crate::telemetry::propagation::{TRACESTATE, TraceContext};

/// What becomes of an inbound `tracestate`.
#[derive(Debug, PartialEq)]
enum Want {
    /// Carried on as the very value received.
    Same,
    /// Carried on as this value (combined or truncated).
    Sent(String),
    /// Not carried on.
    Dropped,
}

fn carried(lines: &[Vec<u8>]) -> Option<HeaderValue> {
    let mut headers = HeaderMap::new();
    for line in lines {
        headers.append(
            TRACESTATE,
            HeaderValue::from_bytes(line).expect("a header value"),
        );
    }
    inbound(&headers, headers.get(TRACESTATE)?, lines.len())
}

fn outcome(lines: &[Vec<u8>]) -> Want {
    match carried(lines) {
        None => Want::Dropped,
        Some(value) if lines.len() == 1 && value.as_bytes() == lines[0] => Want::Same,
        Some(value) => Want::Sent(value.to_str().expect("ascii").to_owned()),
    }
}

/// A `key=vvv...` member `len` bytes long.
fn sized(key: &str, len: usize) -> String {
    format!("{key}={}", "v".repeat(len - key.len() - 1))
}

fn members(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("k{i:02}={i}")).collect()
}

/// `(what, header lines, outcome)`.
#[allow(clippy::too_many_lines, reason = "one table")]
fn table() -> Vec<(String, Vec<String>, Want)> {
    use Want::{Dropped, Same, Sent};
    let one = |what: &str, line: String, want: Want| (what.to_owned(), vec![line], want);
    let mut cases = vec![
        // simple-key = lcalpha 0*255( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
        one("shortest simple key", "a=1".into(), Same),
        one(
            "every character a simple key may have",
            "a0123456789_-*/bcdefghijklmnopqrstuvwxyz=1".into(),
            Same,
        ),
        one("simple key of 256", format!("{}=1", "z".repeat(256)), Same),
        one(
            "simple key of 257",
            format!("{}=1", "z".repeat(257)),
            Dropped,
        ),
        one(
            "simple key starting with a digit (Level 2 only)",
            "1a=1".into(),
            Dropped,
        ),
        one("upper-case key", "Foo=1".into(), Dropped),
        one("key with a dot", "foo.bar=1".into(), Dropped),
        one("space between key and =", "foo =1".into(), Dropped),
        one("empty key", "=1".into(), Dropped),
        one("no =", "foo".into(), Dropped),
        // multi-tenant-key = tenant-id "@" system-id
        one("tenant@system", "t@v=1".into(), Same),
        one("tenant id starting with a digit", "1t@v=1".into(), Same),
        one(
            "every character tenant and system ids may have",
            "t0_-*/@v0_-*/=1".into(),
            Same,
        ),
        one(
            "tenant id of 241, system id of 14",
            format!("{}@{}=1", "t".repeat(241), "v".repeat(14)),
            Same,
        ),
        one(
            "tenant id of 242",
            format!("{}@v=1", "t".repeat(242)),
            Dropped,
        ),
        one(
            "system id of 15",
            format!("t@{}=1", "v".repeat(15)),
            Dropped,
        ),
        one("system id starting with a digit", "t@1v=1".into(), Dropped),
        one("tenant id starting with _", "_t@v=1".into(), Dropped),
        one("empty tenant id", "@v=1".into(), Dropped),
        one("empty system id", "t@=1".into(), Dropped),
        one("two @ in a row", "t@@v=1".into(), Dropped),
        one("two @", "t@v@w=1".into(), Dropped),
        // value = 0*255(chr) nblk-chr
        one("space inside a value", "k=a b".into(), Same),
        one("a leading space belongs to the value", "k= b".into(), Same),
        one(
            "a trailing space is optional whitespace",
            "k=1 ".into(),
            Same,
        ),
        one(
            "a trailing tab is optional whitespace",
            "k=1\t".into(),
            Same,
        ),
        one("empty value", "k=".into(), Dropped),
        one("value of spaces only", "k=   ".into(), Dropped),
        one("= in a value", "k=a=b".into(), Dropped),
        one(", in a value splits the member", "k=a,b".into(), Dropped),
        one("tab inside a value", "k=a\tb".into(), Dropped),
        one("value of 256", format!("k={}", "v".repeat(256)), Same),
        one("value of 257", format!("k={}", "v".repeat(257)), Dropped),
        // list = list-member 0*31( OWS "," OWS list-member ); list-member = (key "=" value) / OWS
        one("32 members", members(32).join(","), Same),
        one("33 members", members(33).join(","), Dropped),
        one("empty members", "foo=1,,bar=2,".into(), Same),
        one(
            "optional whitespace around members",
            "foo=1 \t , \t bar=2".into(),
            Same,
        ),
        one("whitespace-only members", " , \t,foo=1, ".into(), Same),
        one(
            "empty members do not count",
            format!(",{},", members(32).join(",,")),
            Same,
        ),
        one("empty header", String::new(), Dropped),
        one("only empty members", " , ,\t".into(), Dropped),
        one(
            "one bad member discards the list",
            "foo=1,BAR=2,baz=3".into(),
            Dropped,
        ),
        // Only one entry per key is allowed (§3.3.1.4).
        one("duplicate keys", "foo=1,foo=2".into(), Dropped),
        one("the same member twice", "foo=1,foo=1".into(), Dropped),
        one("duplicate multi-tenant keys", "t@v=1,t@v=2".into(), Dropped),
        one("same tenant, other systems", "t@v=1,t@w=2,t=3".into(), Same),
    ];
    // Combined lines (RFC 7230 §3.2.2).
    let lines = |what: &str, lines: &[&str], want: Want| {
        let lines = lines.iter().map(|l| (*l).to_owned()).collect();
        (what.to_owned(), lines, want)
    };
    let m = members(33);
    cases.extend([
        lines(
            "lines joined in order",
            &["foo=1,bar=2", "rojo=1,congo=2", "baz=3"],
            Sent("foo=1,bar=2,rojo=1,congo=2,baz=3".into()),
        ),
        lines("empty lines", &["", "foo=1", ""], Sent("foo=1".into())),
        lines(
            "whitespace dropped when joined",
            &[" foo=1 , ", "\tbar=2"],
            Sent("foo=1,bar=2".into()),
        ),
        lines(
            "32 members over 4 lines",
            &[
                &m[..10].join(","),
                &m[10..20].join(","),
                &m[20..30].join(","),
                &m[30..32].join(","),
            ],
            Sent(m[..32].join(",")),
        ),
        lines(
            "33 members over 4 lines",
            &[
                &m[..10].join(","),
                &m[10..20].join(","),
                &m[20..30].join(","),
                &m[30..].join(","),
            ],
            Dropped,
        ),
        lines("a key in two lines", &["foo=1", "foo=2"], Dropped),
        lines("the same member in two lines", &["foo=1", "foo=1"], Dropped),
        lines("a bad line discards all", &["foo=1", "BAD=1"], Dropped),
    ]);
    // Truncation to 512 bytes (§3.3.1.5).
    let list = |parts: &[&String]| {
        parts
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    let (aa, bb, cc, dd, ee) = (
        sized("a", 120),
        sized("b", 120),
        sized("c", 120),
        sized("d", 120),
        sized("e", 120),
    );
    let (big, big2) = (sized("big", 200), sized("bigger", 200));
    let (x128, y128, z128, w128) = (
        sized("x", 128),
        sized("y", 128),
        sized("z", 128),
        sized("w", 128),
    );
    let exact = format!("{},{},{},{}", aa, bb, cc, sized("f", 512 - 3 * 121));
    assert_eq!(exact.len(), TRACESTATE_MAX_LEN);
    cases.extend([
        one("512 bytes: kept whole", exact.clone(), Same),
        one(
            "513 bytes: the last entry goes",
            format!("{exact}1"),
            Sent(list(&[&aa, &bb, &cc])),
        ),
        one(
            "an entry over 128 goes first",
            list(&[&aa, &big, &bb, &cc, &dd]),
            Sent(list(&[&aa, &bb, &cc, &dd])),
        ),
        one(
            "an entry of 128 is not large",
            list(&[&x128, &y128, &z128, &w128]),
            Sent(list(&[&x128, &y128, &z128])),
        ),
        one(
            "the last large entry first, only as many as needed",
            list(&[&big, &aa, &big2, &bb]),
            Sent(list(&[&big, &aa, &bb])),
        ),
        one(
            "large entries, then from the end",
            list(&[&aa, &big, &bb, &cc, &dd, &ee]),
            Sent(list(&[&aa, &bb, &cc, &dd])),
        ),
        one(
            "over 512 only by whitespace: nothing removed",
            format!("{aa} ,   {bb}  , {cc}  ,{}", " ".repeat(100) + &dd),
            Sent(list(&[&aa, &bb, &cc, &dd])),
        ),
        one(
            "over 32 KiB with whitespace: discarded unread",
            format!("{aa},{}{bb}", " ".repeat(32 * 1024)),
            Dropped,
        ),
        one(
            "a 513-byte entry leaves nothing",
            format!("{}={}", "k".repeat(256), "v".repeat(256)),
            Dropped,
        ),
    ]);
    cases
}

#[test]
fn the_grammar_case_by_case() {
    let mut wrong = Vec::new();
    for (what, lines, want) in table() {
        let lines: Vec<Vec<u8>> = lines.into_iter().map(String::into_bytes).collect();
        let got = outcome(&lines);
        if got != want {
            wrong.push(format!("{what}: want {want:?}, got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_printable_value_character_but_comma_and_equals() {
    let value: Vec<u8> = (0x20..=0x7e_u8)
        .filter(|b| !matches!(b, b',' | b'='))
        .collect();
    let line = [b"k=".as_slice(), &value].concat();
    assert_eq!(outcome(&[line]), Want::Same);
}

#[test]
fn non_ascii_in_a_value_discards_the_list() {
    assert_eq!(outcome(&[b"k=caf\xc3\xa9".to_vec()]), Want::Dropped);
    assert_eq!(outcome(&[b"k=1,\xff=2".to_vec()]), Want::Dropped);
}

#[test]
fn a_single_well_formed_line_is_passed_on_without_a_copy() {
    let value = HeaderValue::from_static("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    let mut headers = HeaderMap::new();
    headers.insert(TRACESTATE, value.clone());
    let sent = inbound(&headers, &value, 1).expect("kept");
    assert_eq!(sent.as_bytes().as_ptr(), value.as_bytes().as_ptr());
}

#[test]
fn a_bad_tracestate_leaves_the_trace_alone() {
    let mut headers = HeaderMap::new();
    headers.insert(
        "traceparent",
        HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    );
    headers.insert(TRACESTATE, HeaderValue::from_static("foo=1,foo=2"));
    let ctx = TraceContext::from_headers(&headers);
    assert_eq!(
        ctx.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert!(ctx.tracestate().is_none());
}
