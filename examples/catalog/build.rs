//! Compiles `proto/catalog/v1/catalog.proto` at build time with protox, a protobuf compiler
//! in pure Rust, feeding tonic's code generator: no `protoc` on the machine. The encoded
//! descriptor set is written beside the code, for server reflection and for clients that
//! read which methods are idempotent.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let files = protox::compile(["catalog/v1/catalog.proto"], ["proto"])?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("catalog_descriptor.bin"),
        prost::Message::encode_to_vec(&files),
    )?;
    tonic_prost_build::configure()
        .build_transport(false)
        .compile_fds(files)?;
    Ok(())
}
