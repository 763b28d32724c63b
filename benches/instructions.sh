#!/usr/bin/env bash
# Instructions per request, bare axum against the chassis, counted by valgrind's callgrind.
#
# Unlike times, instruction counts do not drift with the load of a shared 2-core machine, so
# they show the effect of a change that timings on this machine cannot resolve. They count
# user space only (no kernel time, no cache misses): a cross-check of the timed benches, not
# a replacement.
#
#   in-process  the services of `--bin allocs` (the same as `--bench overhead_inprocess`),
#               each run twice (N1 and N2 requests); per request = difference / (N2 - N1),
#               so start-up cancels out;
#   loopback    the servers of `--bin overhead` under callgrind, driven over loopback by
#               `overhead drive` for 2 s and then 8 s (one keep-alive connection per driver
#               connection); per request = difference / difference in requests served.
#
# Needs valgrind and curl (`apt-get install valgrind curl`). Takes about 3 minutes.
# Usage: benches/instructions.sh [in-process|loopback]   (both by default)
set -euo pipefail

cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

for tool in valgrind curl; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install $tool)" >&2; exit 2; }
done
cargo build --release -q -p chassis-benches --bin allocs --bin overhead

# Total instructions of a callgrind run of "$@".
instructions() {
  valgrind --tool=callgrind --callgrind-out-file="$WORK/out" "$@" 2>&1 >/dev/null |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

in_process() {
  local n1=2000 n2=22000 bare=""
  printf '%-24s %12s %8s\n' "in-process" "instr/req" "ratio"
  for service in a_bare standard_stack_only telemetry_layer_only b_chassis; do
    local i1 i2 per
    i1=$(instructions "$TARGET/release/allocs" --only "$service" --requests $n1)
    i2=$(instructions "$TARGET/release/allocs" --only "$service" --requests $n2)
    per=$(( (i2 - i1) / (n2 - n1) ))
    bare=${bare:-$per}
    printf '%-24s %12d %8s\n' "$service" "$per" "$(awk "BEGIN{printf \"%.2f\", $per/$bare}")"
  done
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# "instructions requests" of a server of kind $1 driven for $2 seconds.
serve_and_drive() {
  local kind=$1 seconds=$2 port
  port=$(free_port)
  # The server exits when its stdin closes; the fifo keeps it open until we are done.
  rm -f "$WORK/stdin" && mkfifo "$WORK/stdin"
  valgrind --tool=callgrind --callgrind-out-file="$WORK/server" \
    "$TARGET/release/overhead" serve "$kind" "$port" <"$WORK/stdin" >/dev/null 2>"$WORK/server.err" &
  local server=$!
  exec 3>"$WORK/stdin"
  local deadline=$((SECONDS + 60))
  until curl -sf -o /dev/null "http://127.0.0.1:$port/items/1"; do
    (( SECONDS < deadline )) || { echo "$kind did not start" >&2; cat "$WORK/server.err" >&2; exit 1; }
    sleep 0.2
  done
  local requests
  requests=$("$TARGET/release/overhead" drive "127.0.0.1:$port" --seconds "$seconds" --connections 4 |
    sed -n 's/^\([0-9]*\) requests.*/\1/p')
  exec 3>&-
  wait "$server"
  echo "$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$WORK/server.err") $requests"
}

loopback() {
  local bare=""
  printf '%-24s %12s %8s\n' "loopback (server)" "instr/req" "ratio"
  for kind in bare chassis; do
    local i1 r1 i2 r2 per
    read -r i1 r1 < <(serve_and_drive "$kind" 2)
    read -r i2 r2 < <(serve_and_drive "$kind" 8)
    per=$(( (i2 - i1) / (r2 - r1) ))
    bare=${bare:-$per}
    printf '%-24s %12d %8s\n' "$kind" "$per" "$(awk "BEGIN{printf \"%.2f\", $per/$bare}")"
  done
}

case "${1:-both}" in
  in-process) in_process ;;
  loopback) loopback ;;
  both) in_process; echo; loopback ;;
  *) echo "usage: $0 [in-process|loopback]" >&2; exit 2 ;;
esac
