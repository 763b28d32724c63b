//! Procedural macros of `chassis`. Use them through the `chassis` crate.
