//! The README shows this example's source as it is: the copy cannot drift from the code.

#![allow(clippy::unwrap_used)]

/// The first `rust,ignore` block after `heading` in `text`.
fn block_after<'a>(text: &'a str, heading: &str) -> &'a str {
    let from = text.find(heading).unwrap();
    let open = text[from..].find("```rust,ignore\n").unwrap() + from + "```rust,ignore\n".len();
    let close = text[open..].find("```").unwrap() + open;
    &text[open..close]
}

#[test]
fn the_readme_shows_examples_hello_as_it_is() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let source = include_str!("../src/main.rs");
    assert_eq!(block_after(&readme, "## A complete service"), source);
}

#[test]
fn it_is_at_most_twenty_lines_of_rust() {
    let lines = include_str!("../src/main.rs")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("//"))
        .count();
    assert!(lines <= 20, "{lines} lines");
}
