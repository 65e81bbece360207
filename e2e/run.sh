#!/usr/bin/env bash
# Browser tests of the examples (the chat, and its /metrics under load
# drawn as chat-metrics.png; the AsyncAPI documents and pages of the tour,
# the chat and the gateway). Installs what it needs on a
# fresh Debian machine (as root): Chromium from Debian when /usr/bin/chromium is
# missing, Node.js when node is missing, redis-server under CI (the
# two-node test; skipped without it elsewhere), and playwright-core and
# @asyncapi/parser from the lockfile (npm ci; no browser download). Then
# runs the tests, whose last
# line is "e2e: N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")"

trap 'echo "e2e: 0 passed, 1 failed (setup failed)"' ERR

apt_install() {
	if [ "$(id -u)" != 0 ]; then
		echo "e2e: need root to apt-get install $*" >&2
		return 1
	fi
	if [ -z "${E2E_APT_UPDATED:-}" ]; then
		apt-get update -qq
		E2E_APT_UPDATED=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if [ ! -x /usr/bin/chromium ]; then
	echo "== installing chromium (Debian)"
	apt_install chromium
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "== installing nodejs and npm (Debian)"
	apt_install nodejs npm
fi
if ! command -v redis-server >/dev/null && [ "${FIBERWS_CI:-}" = 1 ]; then
	echo "== installing redis-server (Debian), for the two-node test"
	apt_install redis-server
fi

echo "== npm ci (playwright-core, @asyncapi/parser; no browser download)"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
npm ci --no-audit --no-fund --loglevel=error

trap - ERR
echo "== browser test"
exec timeout -k 10 480 node examples.e2e.mjs
