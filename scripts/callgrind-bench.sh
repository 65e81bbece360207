#!/usr/bin/env bash
# Instructions per operation of one Go benchmark, counted by callgrind:
# repeatable on a noisy machine, unlike ns/op. It runs the benchmark with
# -benchtime N and 2N under valgrind and prints (total(2N) - total(N)) / N,
# so the set-up of the process and of the benchmark cancels out.
#
#   scripts/callgrind-bench.sh [-p PKG] BENCH_REGEX [N]
#
# Example: scripts/callgrind-bench.sh 'BenchmarkDispatch/json/no-hooks$' 20000
set -euo pipefail
pkg=.
if [ "${1:-}" = "-p" ]; then pkg=$2; shift 2; fi
re=${1:?usage: $0 [-p PKG] BENCH_REGEX [N]}
n=${2:-20000}
command -v valgrind >/dev/null || { echo "valgrind not found (Debian: apt-get install valgrind)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go test -c -o "$dir/bench.test" "$pkg"
total() {
	# GOMAXPROCS=1 and no async preemption: one thread, no signals, the same
	# schedule from run to run.
	GODEBUG=asyncpreemptoff=1 GOMAXPROCS=1 valgrind --tool=callgrind \
		--callgrind-out-file="$dir/cg.$1" "$dir/bench.test" \
		-test.run '^$' -test.bench "$re" -test.benchtime "${1}x" >/dev/null 2>&1
	grep -m1 '^summary:\|^totals:' "$dir/cg.$1" | awk '{print $2}'
}
a=$(total "$n")
b=$(total $((2 * n)))
echo "$re: $(((b - a) / n)) instructions/op"
