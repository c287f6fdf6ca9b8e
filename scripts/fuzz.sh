#!/usr/bin/env bash
# fuzz.sh [FUZZTIME]: run every fuzz target (func FuzzXxx in *_test.go) for FUZZTIME each
# (default 5s; `make fuzz` uses 60s). Go fuzzes one target of one package at a time.
# New failing inputs are written to <pkg>/testdata/fuzz/<FuzzName>/ (commit them).
set -euo pipefail

# shellcheck source=scripts/_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
cd "$LOYALTY_ROOT"

fuzztime="${1:-${FUZZTIME:-5s}}"

# "<dir> <FuzzName>" lines, sorted and unique.
targets="$(
	grep -rl --include='*_test.go' --exclude-dir=.git --exclude-dir=.data --exclude-dir=vendor \
		--exclude-dir=testdata -e '^func Fuzz' . 2>/dev/null |
		while IFS= read -r f; do
			sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$f" |
				while IFS= read -r name; do printf '%s %s\n' "$(dirname "$f")" "$name"; done
		done | sort -u
)" || true

if [[ -z "$targets" ]]; then
	log "no fuzz targets found; skipping fuzzing"
	exit 0
fi

# fuzz_once DIR NAME: fuzz one target; its output goes to the terminal and
# to $out.
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
fuzz_once() {
	go test -run '^$' -fuzz "^${2}\$" -fuzztime "$fuzztime" "$1" 2>&1 | tee "$out"
	return "${PIPESTATUS[0]}"
}

# Go's fuzzing coordinator can fail a target with a bare "context deadline
# exceeded" as -fuzztime runs out on a busy machine, having found nothing
# (go.dev/issue/75804, fixed in Go 1.27). A real finding always writes its
# input ("Failing input written to"), so such a run is fuzzed once more;
# anything else fails at once.
deadline_race() {
	grep -q 'context deadline exceeded' "$out" && ! grep -q -e 'Failing input written' -e 'panic:' "$out"
}

failed=()
while read -r dir name; do
	log "fuzzing ${name} in ${dir} for ${fuzztime}"
	if fuzz_once "$dir" "$name"; then
		continue
	fi
	if deadline_race; then
		log "${name}: the fuzzing engine's deadline race (nothing found); fuzzing it once more"
		fuzz_once "$dir" "$name" && continue
	fi
	failed+=("${name} (${dir})")
done <<<"$targets"

if ((${#failed[@]})); then
	printf 'error: fuzz target failed: %s\n' "${failed[@]}" >&2
	exit 1
fi
log "all fuzz targets passed"
