//! `echo.v1.Echo`: the gRPC service chassis' tests call, generated at build time from
//! `proto/echo.proto` by protox and tonic's code generator (no `protoc`).

#![allow(missing_docs, clippy::pedantic, unreachable_pub)]

/// The generated messages, client and server.
pub mod pb {
    tonic::include_proto!("echo.v1");
}

/// The encoded `FileDescriptorSet` of `echo.proto`, for reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/echo_descriptor.bin"));
