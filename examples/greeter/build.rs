//! Compiles `proto/` with protox, a protobuf compiler in pure Rust (no `protoc`), for tonic.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let protos = ["greeter/v1/greeter.proto", "catalog/v1/catalog.proto"];
    let files = protox::compile(protos, ["proto"])?; // pure Rust: no protoc
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("descriptor.bin"),
        prost::Message::encode_to_vec(&files),
    )?;
    tonic_prost_build::configure()
        .build_transport(false) // the chassis' channel replaces tonic's transport
        .compile_fds(files)?;
    Ok(())
}
