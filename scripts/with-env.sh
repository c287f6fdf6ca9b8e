#!/usr/bin/env bash
# with-env.sh CMD [ARGS...]: run CMD with DATABASE_URL, REDIS_URL, TEST_DATABASE_URL and
# TEST_REDIS_URL pointing at the services of scripts/services.sh (values already set win).
# It does not start the services: run scripts/services.sh up first.
set -euo pipefail

# shellcheck source=scripts/_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

[[ $# -gt 0 ]] || die "usage: scripts/with-env.sh CMD [ARGS...]"
export_app_env
export_test_env
exec "$@"
