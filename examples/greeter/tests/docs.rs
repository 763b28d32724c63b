//! The getting-started guide's gRPC section shows this example as it is: its copies cannot
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

/// The here-document `cat > {file} <<'EOF'` in the first `sh` block after `heading`.
fn heredoc_after<'a>(text: &'a str, heading: &str, file: &str) -> &'a str {
    let block = block_after(text, heading, "```sh");
    let opening = format!("cat > {file} <<'EOF'\n");
    let open = block
        .find(&opening)
        .unwrap_or_else(|| panic!("no here-document for {file} after {heading:?}"))
        + opening.len();
    let close = block[open..].find("EOF\n").unwrap() + open;
    &block[open..close]
}

/// The guide's gRPC step, from its heading on.
fn guide() -> String {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let guide = std::fs::read_to_string(format!("{root}/docs/getting-started.md")).unwrap();
    let step = guide.find("## 11. A gRPC service").expect("the gRPC step");
    guide[step..].to_owned()
}

#[test]
fn the_guide_shows_the_proto_as_it_is() {
    assert_eq!(
        heredoc_after(&guide(), "### The API", "proto/greeter/v1/greeter.proto"),
        include_str!("../proto/greeter/v1/greeter.proto")
    );
}

#[test]
fn the_proto_of_catalog_is_catalogs_own() {
    assert_eq!(
        include_str!("../proto/catalog/v1/catalog.proto"),
        include_str!("../../catalog/proto/catalog/v1/catalog.proto")
    );
}

#[test]
fn the_guide_shows_build_rs_as_it_is() {
    assert_eq!(
        block_after(&guide(), "### Compiling it", "```rust,ignore"),
        include_str!("../build.rs")
    );
}

#[test]
fn the_guide_shows_the_configuration_as_it_is() {
    assert_eq!(
        heredoc_after(&guide(), "### The configuration", "config/default.toml"),
        include_str!("../config/default.toml")
    );
}

#[test]
fn the_guide_shows_the_service_as_it_is() {
    assert_eq!(
        block_after(&guide(), "### The gRPC service, complete", "```rust,ignore"),
        include_str!("../src/main.rs")
    );
}
