//! The embedded defaults file is tracked by the build, as a user meets it: a scratch crate
//! built with cargo, its `config/default.toml` missing, created, changed and broken between
//! builds. Each build must see the file as it is now.
//!
//! The scratch crate builds in trybuild's target directory (beside the UI tests), so the
//! dependencies it shares with them are compiled once.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root: two levels above this crate's manifest.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

const MAIN: &str = r#"
#[derive(Debug, serde::Deserialize)]
struct Settings { greeting: String }

#[chassis::service(name = "tracked")]
async fn tracked(_ctx: chassis::service::Context<Settings>) -> Result<axum::Router, std::convert::Infallible> {
    Ok(axum::Router::new())
}

fn main() {
    use chassis::service::Microservice;
    println!("{}", Tracked::embedded_defaults().unwrap_or("none"));
}
"#;

/// A crate depending on the workspace's `chassis`, pinned to the workspace's lock file.
fn scratch(dir: &Path) {
    let root = workspace();
    let manifest = format!(
        "[package]\nname = \"tracked\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         [dependencies]\nchassis = {{ path = \"{chassis}\" }}\n\
         axum = {{ version = \"0.8.9\", default-features = false }}\n\
         serde = {{ version = \"1.0\", features = [\"derive\"] }}\n\n[workspace]\n",
        chassis = root.join("chassis").display(),
    );
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(dir.join("src/main.rs"), MAIN).unwrap();
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
}

fn build(dir: &Path) -> Output {
    let target = workspace().join("target/tests/trybuild");
    Command::new(env!("CARGO"))
        .args(["build", "--offline", "--quiet"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap()
}

fn run(dir: &Path) -> String {
    let out = build(dir);
    assert!(
        out.status.success(),
        "the build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let binary = workspace().join("target/tests/trybuild/debug/tracked");
    let ran = Command::new(binary).output().unwrap();
    String::from_utf8_lossy(&ran.stdout).into_owned()
}

#[test]
fn creating_changing_and_breaking_the_defaults_file_is_seen_by_the_next_build() {
    let dir = tempfile::tempdir().unwrap();
    let crate_dir = dir.path().join("tracked");
    scratch(&crate_dir);

    let missing = build(&crate_dir);
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success());
    assert!(stderr.contains("config/default.toml"), "{stderr}");
    assert!(!stderr.contains("E0601"), "no follow-on errors: {stderr}");

    std::fs::create_dir_all(crate_dir.join("config")).unwrap();
    let file = crate_dir.join("config/default.toml");
    std::fs::write(&file, "greeting = \"one\"\n").unwrap();
    assert!(run(&crate_dir).contains("greeting = \"one\""), "created");

    std::fs::write(&file, "greeting = \"two\"\n").unwrap();
    assert!(run(&crate_dir).contains("greeting = \"two\""), "changed");

    std::fs::write(&file, "greeting = \"three\"\nbroken = \n").unwrap();
    let broken = build(&crate_dir);
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(!broken.status.success(), "a broken file fails the build");
    assert!(
        stderr.contains("config/default.toml:2:"),
        "the file and line are named: {stderr}"
    );
}
