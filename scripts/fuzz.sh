#!/usr/bin/env bash
# Runs every fuzz target (root package and hub/redisbroker) for a bounded
# time each.
#   scripts/fuzz.sh                 # 10s per target
#   FUZZTIME=2m scripts/fuzz.sh     # longer
#   FUZZ_PARALLEL=1 scripts/fuzz.sh # fewer workers (default: GOMAXPROCS)
# New crashers are written to testdata/fuzz/<Target>/ by go test; commit
# them with the fix so they stay in the seed corpus.
set -uo pipefail
cd "$(dirname "$0")/.."

fuzztime="${FUZZTIME:-10s}"
parallel=()
if [[ -n "${FUZZ_PARALLEL:-}" ]]; then
	parallel=(-parallel "$FUZZ_PARALLEL")
fi

# Every package with fuzz targets: "pkg target" pairs.
pairs=$(for pkg in . ./hub/redisbroker; do
	go test -list '^Fuzz' "$pkg" | grep '^Fuzz' | sed "s|^|$pkg |"
done)
if [[ -z "$pairs" ]]; then
	echo "fuzz: no targets found" >&2
	exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
passed=0
failed=0
while read -r pkg t; do
	echo "== fuzz $pkg $t ($fuzztime)"
	ok=0
	for attempt in 1 2; do
		# The -timeout is a backstop far above the fuzz time.
		if go test -run '^$' -fuzz "^${t}\$" -fuzztime "$fuzztime" "${parallel[@]}" -timeout 10m "$pkg" 2>&1 | tee "$log"; then
			ok=1
			break
		fi
		# On a loaded machine the fuzzing engine itself sometimes stops with
		# "context deadline exceeded" and no failing input; that is not a
		# finding, so try once more. A real crasher is always reported with
		# "Failing input written to testdata/fuzz/...".
		if grep -q 'Failing input' "$log" || ! grep -q 'context deadline exceeded' "$log"; then
			break
		fi
		echo "fuzz: $t: engine timeout without a failing input, retrying"
	done
	if [[ $ok -eq 1 ]]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
done <<<"$pairs"
echo "fuzz: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
