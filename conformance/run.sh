#!/usr/bin/env bash
# RFC 6455 conformance run: builds the fiberws conformance server, starts it
# on a loopback port and drives it with raw frames from cases.js (built and
# parsed by the npm `ws` library). Installs what it needs on a fresh Debian
# machine (as root): Node.js and npm from Debian, `ws` from the lockfile.
# Go must already be installed (it builds the module).
#
# The last line is "conformance: N passed, M failed"; the exit status is
# non-zero when any case failed.
set -euo pipefail
cd "$(dirname "$0")"

fail() {
	echo "conformance: $1" >&2
	echo "conformance: 0 passed, 1 failed"
	exit 1
}

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	if [[ $(id -u) -ne 0 ]]; then fail "node and npm are missing; run as root to install them"; fi
	echo "== installing nodejs and npm"
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
command -v go >/dev/null 2>&1 || fail "go is not installed"

echo "== npm ci (ws, from package-lock.json)"
npm ci --no-audit --no-fund --silent >/dev/null || fail "npm ci failed"

tmp=$(mktemp -d)
server_pid=""
cleanup() {
	if [[ -n "$server_pid" ]]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

echo "== building the conformance server"
go build -o "$tmp/server" ./server || fail "build failed"

"$tmp/server" -addr 127.0.0.1:0 >"$tmp/server.out" 2>&1 &
server_pid=$!
addr=""
for _ in $(seq 1 100); do
	addr=$(awk '/^listening /{print $2}' "$tmp/server.out")
	[[ -n "$addr" ]] && break
	kill -0 "$server_pid" 2>/dev/null || break
	sleep 0.1
done
[[ -n "$addr" ]] || { cat "$tmp/server.out" >&2; fail "server did not start"; }

echo "== cases against $addr"
set +e
timeout 600 node cases.js "$addr"
rc=$?
set -e
exit "$rc"
