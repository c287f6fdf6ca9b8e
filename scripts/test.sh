#!/usr/bin/env bash
# make test: start PostgreSQL and Redis, then go vet, gofmt check, go test -race and a short
# fuzz pass. Extra arguments go to `go test` (e.g. scripts/test.sh -run TestLedger -v).
#
# Knobs: TEST_PKGS (packages for go test, default ./...), FUZZTIME (per target, default 5s;
# 0 skips fuzzing), TEST_DATABASE_URL / TEST_REDIS_URL (default: the local services),
# LOYALTY_SKIP_SERVICES=1 (do not start the local services).
set -euo pipefail

# shellcheck source=scripts/_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
cd "$LOYALTY_ROOT"

CURRENT_STEP="setup"
step() {
	CURRENT_STEP="$1"
	printf '\n==> [%s]\n' "$1" >&2
}
on_exit() {
	local rc=$?
	if ((rc != 0)); then
		printf '\nFAILED: step "%s" (exit status %d)\n' "$CURRENT_STEP" "$rc" >&2
	else
		printf '\nOK: all test steps passed\n' >&2
	fi
}
trap on_exit EXIT

step "services up"
if [[ "${LOYALTY_SKIP_SERVICES:-0}" != 1 ]]; then
	scripts/services.sh up
else
	log "LOYALTY_SKIP_SERVICES=1: not starting local services"
fi
export_test_env
log "TEST_DATABASE_URL=${TEST_DATABASE_URL}"
log "TEST_REDIS_URL=${TEST_REDIS_URL}"

# The race detector needs cgo, hence a C compiler.
if ! command -v gcc >/dev/null 2>&1; then
	step "install gcc (needed by go test -race)"
	apt_install gcc libc6-dev
fi

# The companion WordPress plugin's signer is checked against the Go verifier
# and linted with php -l; without PHP those tests would only skip.
if ! command -v php >/dev/null 2>&1; then
	step "install php-cli (WordPress plugin tests)"
	apt_install php-cli
fi

# The storefront widget's browser tests drive a headless Chromium; with
# LOYALTY_REQUIRE_BROWSER=1 they fail rather than skip when it is missing.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
	step "install chromium (widget browser tests)"
	apt_install chromium
fi
export LOYALTY_REQUIRE_BROWSER=1

step "go vet"
go vet ./...

step "gofmt"
unformatted="$(
	find . -type f -name '*.go' -not -path './.git/*' -not -path './.data/*' \
		-not -path './vendor/*' -not -path '*/testdata/*' -print0 |
		xargs -0 -r gofmt -l
)"
if [[ -n "$unformatted" ]]; then
	printf 'these files are not gofmt-formatted (run: make fmt):\n%s\n' "$unformatted" >&2
	exit 1
fi

step "go test -race"
# shellcheck disable=SC2086 # TEST_PKGS may hold several packages
CGO_ENABLED=1 go test -count=1 -race "$@" ${TEST_PKGS:-./...}

if [[ "${FUZZTIME:-5s}" != 0 ]]; then
	step "fuzz (${FUZZTIME:-5s} per target)"
	scripts/fuzz.sh "${FUZZTIME:-5s}"
fi
