//! The README and the getting-started guide show this example as it is: their copies cannot
//! drift from the code.

#![allow(clippy::unwrap_used)]

/// The first block fenced with `fence` (such as ```` ```rust,ignore ````) after `heading` in
/// `text`.
fn block_after<'a>(text: &'a str, heading: &str, fence: &str) -> &'a str {
    let from = text
        .find(heading)
        .unwrap_or_else(|| panic!("no heading {heading:?}"));
    let opening = format!("{fence}\n");
    let open = text[from..]
        .find(&opening)
        .unwrap_or_else(|| panic!("no {fence} block after {heading:?}"))
        + from
        + opening.len();
    let close = text[open..].find("```").unwrap() + open;
    &text[open..close]
}

fn read(path: &str) -> String {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    std::fs::read_to_string(format!("{root}/{path}")).unwrap()
}

#[test]
fn the_readme_shows_examples_hello_as_it_is() {
    let readme = read("README.md");
    let source = include_str!("../src/main.rs");
    assert_eq!(
        block_after(&readme, "## A complete service", "```rust,ignore"),
        source
    );
}

#[test]
fn the_guide_ends_with_examples_hello_as_it_is() {
    let guide = read("docs/getting-started.md");
    let source = include_str!("../src/main.rs");
    assert_eq!(
        block_after(&guide, "### The service, complete", "```rust,ignore"),
        source
    );
}

#[test]
fn the_guide_ends_with_the_configuration_of_examples_hello() {
    let guide = read("docs/getting-started.md");
    let config = include_str!("../config/default.toml");
    assert_eq!(
        block_after(&guide, "### The configuration, complete", "```toml"),
        config
    );
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
