//! Which gRPC methods may be retried: those a `.proto` marks
//! `option idempotency_level = IDEMPOTENT` (or `NO_SIDE_EFFECTS`), and any named.

use prost::Message as _;
use prost_types::FileDescriptorSet;
use prost_types::method_options::IdempotencyLevel;

/// The paths (`/package.Service/Method`) of the methods an encoded `FileDescriptorSet`
/// marks idempotent or free of side effects.
///
/// # Errors
///
/// When the bytes are not a `FileDescriptorSet`.
pub(crate) fn idempotent_methods(encoded: &[u8]) -> Result<Vec<String>, prost::DecodeError> {
    let set = FileDescriptorSet::decode(encoded)?;
    let mut paths = Vec::new();
    for file in &set.file {
        let package = file.package();
        for service in &file.service {
            for method in &service.method {
                let level = method
                    .options
                    .as_ref()
                    .map_or(IdempotencyLevel::IdempotencyUnknown, |o| {
                        o.idempotency_level()
                    });
                if matches!(
                    level,
                    IdempotencyLevel::Idempotent | IdempotencyLevel::NoSideEffects
                ) {
                    let service = match package {
                        "" => service.name().to_owned(),
                        package => format!("{package}.{}", service.name()),
                    };
                    paths.push(format!("/{service}/{}", method.name()));
                }
            }
        }
    }
    Ok(paths)
}
