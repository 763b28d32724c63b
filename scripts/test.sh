#!/usr/bin/env bash
# The whole test suite: installs the real servers and tools the tests need, checks that each
# is really there, then formatting, clippy with warnings denied, docs, and every test
# (including those that talk to real servers).
#
# Usage: scripts/test.sh        (from anywhere; CI runs it through .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"

# Debian packages the build and the tests need. Installed with their recommends left out,
# so every package a tool or file comes from is named here (libprotobuf-dev carries
# google/protobuf/*.proto, which protobuf-compiler alone does not; ca-certificates the
# system roots a TLS client trusts by default).
PACKAGES=(etcd-server etcd-client prometheus dnsmasq-base protobuf-compiler libprotobuf-dev
  ca-certificates)

missing=()
for package in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "==> installing: ${missing[*]}"
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then as_root=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # Packages that start daemons: the tests start their own on loopback.
  for service in etcd prometheus dnsmasq; do
    "${as_root[@]}" systemctl stop "$service" >/dev/null 2>&1 || \
      "${as_root[@]}" service "$service" stop >/dev/null 2>&1 || true
  done
fi

# Check that every tool and file is really there, and name what is not.
problems=()
for tool in etcd etcdctl prometheus promtool dnsmasq protoc; do
  command -v "$tool" >/dev/null 2>&1 || problems+=("the command '$tool' is not on PATH")
done
if command -v protoc >/dev/null 2>&1; then
  probe=$(mktemp -d)
  printf 'syntax = "proto3";\nimport "google/protobuf/descriptor.proto";\nmessage Probe { google.protobuf.FileDescriptorProto file = 1; }\n' \
    >"$probe/probe.proto"
  if ! protoc --proto_path="$probe" --descriptor_set_out=/dev/null "$probe/probe.proto" 2>"$probe/err"; then
    problems+=("protoc cannot import google/protobuf/descriptor.proto (package libprotobuf-dev): $(cat "$probe/err")")
  fi
  rm -rf "$probe"
fi
if [ ! -s /etc/ssl/certs/ca-certificates.crt ]; then
  problems+=("the system's CA roots /etc/ssl/certs/ca-certificates.crt are missing or empty (package ca-certificates)")
fi
if [ "${#problems[@]}" -gt 0 ]; then
  echo "scripts/test.sh: the tests need tools that are missing and could not be installed:" >&2
  printf '  - %s\n' "${problems[@]}" >&2
  echo "Install the Debian packages ${PACKAGES[*]} and run again." >&2
  exit 1
fi

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy (warnings denied)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
# The library without its optional integrations: what a user gets with default-features off.
cargo clippy -p chassis --all-targets --no-default-features --locked -- -D warnings

echo "==> cargo doc (warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features --locked

echo "==> cargo test"
cargo test --workspace --all-targets --all-features --locked --no-fail-fast
cargo test --workspace --doc --all-features --locked
