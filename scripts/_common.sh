# shellcheck shell=bash
# Shared settings and helpers for the scripts in this folder.
# Sourced (not executed) by services.sh, run.sh, test.sh, fuzz.sh and with-env.sh.

# Repository root (the folder holding go.mod).
LOYALTY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
export LOYALTY_ROOT

PG_PORT="${PG_PORT:-54329}"
REDIS_PORT="${REDIS_PORT:-63799}"
export PG_PORT REDIS_PORT

LOYALTY_DEFAULT_DATABASE_URL="postgres://loyalty@127.0.0.1:${PG_PORT}/loyalty?sslmode=disable"
LOYALTY_DEFAULT_REDIS_URL="redis://127.0.0.1:${REDIS_PORT}/0"

# Go may be installed but not on PATH in minimal CI shells.
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
	PATH="/usr/local/go/bin:${PATH}"
	export PATH
fi

log() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

# apt_install PKG... : install Debian packages, noninteractive and quiet.
# Uses sudo when not root (and sudo exists); fails with a clear message otherwise.
apt_install() {
	local sudo=()
	if [[ $(id -u) -ne 0 ]]; then
		if command -v sudo >/dev/null 2>&1; then
			sudo=(sudo -n)
		else
			die "need to install: $* (not root and no sudo; install them yourself)"
		fi
	fi
	command -v apt-get >/dev/null 2>&1 || die "need to install: $* (apt-get not found; install them yourself)"
	log "installing $* with apt-get"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null ||
		die "apt-get update failed"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" >/dev/null ||
		die "apt-get install $* failed"
}

# export_app_env: DATABASE_URL / REDIS_URL for the app, unless already set.
export_app_env() {
	export DATABASE_URL="${DATABASE_URL:-$LOYALTY_DEFAULT_DATABASE_URL}"
	export REDIS_URL="${REDIS_URL:-$LOYALTY_DEFAULT_REDIS_URL}"
}

# export_test_env: TEST_DATABASE_URL / TEST_REDIS_URL for go test, unless already set.
export_test_env() {
	export TEST_DATABASE_URL="${TEST_DATABASE_URL:-$LOYALTY_DEFAULT_DATABASE_URL}"
	export TEST_REDIS_URL="${TEST_REDIS_URL:-$LOYALTY_DEFAULT_REDIS_URL}"
}
