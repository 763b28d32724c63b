#!/usr/bin/env bash
# The whole test suite: installs the real servers the tests need, then formatting, clippy
# with warnings denied, and every test (including those that talk to real servers).
#
# Usage: scripts/test.sh        (from anywhere; CI runs it through .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: command they provide -> package.
declare -A NEEDS=(
  [etcd]=etcd-server
  [prometheus]=prometheus
  [promtool]=prometheus
  [dnsmasq]=dnsmasq
  [protoc]=protobuf-compiler
)

missing=()
for command in "${!NEEDS[@]}"; do
  if ! command -v "$command" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$command" ]; then
    missing+=("${NEEDS[$command]}")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  packages=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
  echo "==> installing: $packages"
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then as_root=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -qq
  # shellcheck disable=SC2086
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends $packages
  # The packages start their daemons; the tests start their own on loopback.
  for service in etcd prometheus dnsmasq; do
    "${as_root[@]}" systemctl stop "$service" >/dev/null 2>&1 || \
      "${as_root[@]}" service "$service" stop >/dev/null 2>&1 || true
  done
fi
export PATH="$PATH:/usr/sbin"

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy (warnings denied)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

echo "==> cargo doc (warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features --locked

echo "==> cargo test"
cargo test --workspace --all-targets --all-features --locked --no-fail-fast
cargo test --workspace --doc --all-features --locked
