#!/usr/bin/env bash
# Local PostgreSQL and Redis for development and tests.
#
#   scripts/services.sh up       install (apt-get) if missing, initialise, start, wait; idempotent
#   scripts/services.sh down     stop the servers started by this script
#   scripts/services.sh status   show what runs; exit status 0 only when both answer
#   scripts/services.sh env      print export lines:  eval "$(scripts/services.sh env)"
#   scripts/services.sh destroy  down, then delete all their data
#
# PostgreSQL listens on 127.0.0.1:${PG_PORT:-54329}, Redis on 127.0.0.1:${REDIS_PORT:-63799}.
# Data lives in <repo>/.data, or LOYALTY_DATA_DIR (PostgreSQL falls back to /tmp/loyalty-<uid>-<hash>/pg when the
# postgres user cannot reach the repository, e.g. a repository under /root).
# Other knobs: SERVICES_TIMEOUT (seconds to wait for a server, default 60), PG_BIN (folder of
# the PostgreSQL binaries; default: newest /usr/lib/postgresql/<ver>/bin), REDIS_APPENDONLY=yes.
set -euo pipefail

# shellcheck source=scripts/_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

# LOYALTY_DATA_DIR moves everything (a second, private pair of servers on other ports, as
# `make drill` runs); relative paths are taken from the repository root.
DATA_DIR="${LOYALTY_DATA_DIR:-${LOYALTY_ROOT}/.data}"
if [[ "$DATA_DIR" != /* ]]; then DATA_DIR="${LOYALTY_ROOT}/${DATA_DIR}"; fi
REDIS_DIR="${DATA_DIR}/redis"
REDIS_LOG="${REDIS_DIR}/redis.log"
REDIS_PIDFILE="${REDIS_DIR}/redis.pid"
TIMEOUT="${SERVICES_TIMEOUT:-60}"
# REDIS_APPENDONLY=yes starts Redis with its append-only file (fsync every second), so a
# restart keeps the queue; the default keeps nothing on disk.
REDIS_APPENDONLY="${REDIS_APPENDONLY:-no}"
[[ "$REDIS_APPENDONLY" == yes || "$REDIS_APPENDONLY" == no ]] || die "REDIS_APPENDONLY must be yes or no"
IS_ROOT=0
if [[ $(id -u) -eq 0 ]]; then IS_ROOT=1; fi

# Set by choose_pg_home: PG_HOME (owned by the user running postgres) holds
# data/ (the cluster), run/ (unix socket) and postgresql.log.
PG_HOME=""
PGDATA_DIR=""
PG_SOCKET_DIR=""
PG_LOG=""
PG_BIN_OVERRIDE="${PG_BIN:-}"
PG_BIN=""

usage() {
	sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

# ---------------------------------------------------------------- helpers

fallback_base() {
	local hash key="$LOYALTY_ROOT"
	# Another data folder must never fall back onto the default servers' cluster.
	if [[ -n "${LOYALTY_DATA_DIR:-}" ]]; then key="$DATA_DIR"; fi
	hash="$(printf '%s' "$key" | sha256sum | cut -c1-12)"
	printf '/tmp/loyalty-%s-%s' "$(id -u)" "$hash"
}

set_pg_paths() {
	PG_HOME="$1"
	PGDATA_DIR="${PG_HOME}/data"
	PG_SOCKET_DIR="${PG_HOME}/run"
	PG_LOG="${PG_HOME}/postgresql.log"
}

# A unix socket path must fit in 107 bytes: <dir>/.s.PGSQL.<port>(.lock)
socket_path_fits() {
	local home="$1"
	((${#home} + ${#PG_PORT} + 25 <= 100))
}

postgres_can_reach() {
	((IS_ROOT)) || return 0
	(cd / && runuser -u postgres -- test -x "$1") 2>/dev/null
}

# choose_pg_home [create]: pick the project-local folder when usable, else the /tmp fallback.
# An existing initialised cluster wins. With "create", make the folders.
choose_pg_home() {
	local create="${1:-}" local_home="${DATA_DIR}/pg" fb_base fb_home
	fb_base="$(fallback_base)"
	fb_home="${fb_base}/pg"

	if [[ -f "${local_home}/data/PG_VERSION" ]] && socket_path_fits "$local_home" &&
		postgres_can_reach "$local_home"; then
		set_pg_paths "$local_home"
	elif [[ -f "${fb_home}/data/PG_VERSION" ]]; then
		set_pg_paths "$fb_home"
	elif socket_path_fits "$local_home" && postgres_can_reach "$LOYALTY_ROOT" &&
		{ [[ ! -e "$DATA_DIR" ]] || postgres_can_reach "$DATA_DIR" || { ((IS_ROOT)) && [[ -O "$DATA_DIR" ]]; }; }; then
		set_pg_paths "$local_home"
	else
		set_pg_paths "$fb_home"
	fi

	[[ "$create" == create ]] || return 0

	if [[ "$PG_HOME" == "$fb_home" ]]; then
		mkdir -p "$fb_base"
		[[ -O "$fb_base" && ! -L "$fb_base" ]] || die "$fb_base is not owned by $(id -un); remove it"
		chmod 755 "$fb_base"
	else
		mkdir -p "$DATA_DIR"
		if ((IS_ROOT)); then chmod 755 "$DATA_DIR"; fi
	fi
	mkdir -p "$PG_HOME"
	if ((IS_ROOT)); then
		chown postgres:postgres "$PG_HOME"
		chmod 700 "$PG_HOME"
		postgres_can_reach "$PG_HOME" || die "user postgres cannot reach $PG_HOME"
	fi
	return 0
}

# as_pg CMD...: run as the postgres user when root (PostgreSQL refuses to run as root).
as_pg() {
	if ((IS_ROOT)); then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

# find_pg_bin: set PG_BIN to the folder holding initdb/pg_ctl/psql/pg_isready.
find_pg_bin() {
	local d ver=""
	if [[ -n "$PG_BIN_OVERRIDE" ]]; then
		[[ -x "${PG_BIN_OVERRIDE}/pg_ctl" ]] || die "PG_BIN=${PG_BIN_OVERRIDE} has no pg_ctl"
		PG_BIN="$PG_BIN_OVERRIDE"
		return 0
	fi
	# Prefer the version an existing cluster was made with.
	if [[ -n "$PGDATA_DIR" && -f "${PGDATA_DIR}/PG_VERSION" ]]; then
		ver="$(cat "${PGDATA_DIR}/PG_VERSION")"
		if [[ -x "/usr/lib/postgresql/${ver}/bin/pg_ctl" ]]; then
			PG_BIN="/usr/lib/postgresql/${ver}/bin"
			return 0
		fi
	fi
	d="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -type d -name bin 2>/dev/null | sort -V | tail -n 1)"
	if [[ -n "$d" && -x "${d}/pg_ctl" && -x "${d}/initdb" && -x "${d}/psql" && -x "${d}/pg_isready" ]]; then
		PG_BIN="$d"
		return 0
	fi
	if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
		PG_BIN="$(dirname "$(command -v pg_ctl)")"
		[[ -x "${PG_BIN}/psql" && -x "${PG_BIN}/pg_isready" ]] && return 0
	fi
	PG_BIN=""
	return 1
}

ensure_installed() {
	local pkgs=()
	find_pg_bin || pkgs+=(postgresql)
	command -v redis-server >/dev/null 2>&1 || pkgs+=(redis-server)
	command -v redis-cli >/dev/null 2>&1 || pkgs+=(redis-tools)
	if ((${#pkgs[@]})); then
		apt_install "${pkgs[@]}"
	fi
	find_pg_bin || die "PostgreSQL binaries not found after installing (looked in /usr/lib/postgresql/*/bin and PATH)"
	command -v redis-server >/dev/null 2>&1 || die "redis-server not found after installing"
	if ((IS_ROOT)); then
		id -u postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' user to run PostgreSQL"
	fi
}

pg_conninfo() { # pg_conninfo USER DB
	printf 'host=127.0.0.1 port=%s user=%s dbname=%s sslmode=disable connect_timeout=5' "$PG_PORT" "$1" "$2"
}

pg_ready() {
	local bin="${PG_BIN:-}"
	[[ -n "$bin" ]] || bin="$(dirname "$(command -v pg_isready 2>/dev/null || echo /nonexistent/x)")"
	[[ -x "${bin}/pg_isready" ]] || return 1
	"${bin}/pg_isready" -q -t 3 -d "$(pg_conninfo postgres postgres)" >/dev/null 2>&1
}

redis_cli() {
	timeout 10 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"
}

redis_ready() {
	command -v redis-cli >/dev/null 2>&1 || return 1
	[[ "$(redis_cli ping 2>/dev/null)" == PONG ]]
}

redis_pid() {
	redis_cli info server 2>/dev/null | tr -d '\r' | sed -n 's/^process_id:\([0-9][0-9]*\)$/\1/p'
}

show_log_tail() { # show_log_tail NAME FILE
	if [[ -f "$2" ]]; then
		printf -- '---- last lines of %s (%s) ----\n' "$1" "$2" >&2
		tail -n 40 "$2" >&2 || true
		printf -- '---- end of %s ----\n' "$1" >&2
	else
		printf '(no %s log at %s)\n' "$1" "$2" >&2
	fi
}

# wait_until NAME LOGFILE CHECK_FUNCTION
wait_until() {
	local name="$1" logfile="$2" check="$3" deadline=$((SECONDS + TIMEOUT))
	while ! "$check"; do
		if ((SECONDS >= deadline)); then
			show_log_tail "$name" "$logfile"
			die "$name did not answer on 127.0.0.1 within ${TIMEOUT}s (see the log above)"
		fi
		sleep 0.2
	done
}

lock() {
	mkdir -p "$DATA_DIR"
	if command -v flock >/dev/null 2>&1; then
		exec 9>"${DATA_DIR}/.services.lock"
		flock -w 300 9 || die "another scripts/services.sh is still running (lock ${DATA_DIR}/.services.lock)"
	fi
}

# --------------------------------------------------------------- postgres

write_pg_conf() {
	local conf="${PGDATA_DIR}/loyalty.conf"
	cat >"$conf" <<EOF
# Managed by scripts/services.sh: rewritten on every start, edits are lost.
listen_addresses = '127.0.0.1'
port = ${PG_PORT}
unix_socket_directories = '${PG_SOCKET_DIR}'
max_connections = 300
shared_buffers = 256MB
# Durable like production: fsync stays on, synchronous_commit keeps its default.
fsync = on
max_wal_size = 1GB
timezone = 'UTC'
log_timezone = 'UTC'
log_line_prefix = '%m [%p] %q%u@%d '
log_min_messages = warning
EOF
	if ((IS_ROOT)); then chown postgres:postgres "$conf"; fi
}

init_pg() {
	[[ -f "${PGDATA_DIR}/PG_VERSION" ]] && return 0
	local loc=C initlog="${PG_HOME}/initdb.log"
	if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then loc=C.UTF-8; fi
	log "initialising PostgreSQL cluster in ${PGDATA_DIR} (locale ${loc})"
	if [[ -d "$PGDATA_DIR" ]]; then rm -rf "$PGDATA_DIR"; fi # half-made by an interrupted initdb
	if ! as_pg "${PG_BIN}/initdb" -D "$PGDATA_DIR" --auth=trust -U postgres --encoding=UTF8 \
		--locale="$loc" >"$initlog" 2>&1; then
		show_log_tail initdb "$initlog"
		die "initdb failed"
	fi
	printf "\n# Settings for the loyalty dev/test server\ninclude_if_exists = 'loyalty.conf'\n" \
		>>"${PGDATA_DIR}/postgresql.conf"
}

start_pg() {
	if pg_ready; then
		log "PostgreSQL already answers on 127.0.0.1:${PG_PORT}; leaving it as it is"
		return 0
	fi
	choose_pg_home create
	find_pg_bin || die "PostgreSQL binaries not found"
	init_pg
	if as_pg "${PG_BIN}/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; then
		# Running (maybe still starting up) but not answering yet: wait for it.
		log "PostgreSQL in ${PGDATA_DIR} is running; waiting for it"
		wait_until PostgreSQL "$PG_LOG" pg_ready
		return 0
	fi
	mkdir -p "$PG_SOCKET_DIR"
	if ((IS_ROOT)); then chown postgres:postgres "$PG_SOCKET_DIR"; fi
	write_pg_conf
	log "starting PostgreSQL on 127.0.0.1:${PG_PORT} (data ${PGDATA_DIR})"
	# 9>&-: the server must not inherit (and keep holding) the services lock.
	if ! as_pg "${PG_BIN}/pg_ctl" -D "$PGDATA_DIR" -l "$PG_LOG" -w -t "$TIMEOUT" start >/dev/null 2>&1 9>&-; then
		show_log_tail PostgreSQL "$PG_LOG"
		die "PostgreSQL failed to start on 127.0.0.1:${PG_PORT} (is the port used by something else?)"
	fi
	wait_until PostgreSQL "$PG_LOG" pg_ready
}

ensure_pg_role_db() {
	local psql=("${PG_BIN}/psql" -X -q -v ON_ERROR_STOP=1 -tA)
	local admin
	admin="$(pg_conninfo postgres postgres)"
	if "${psql[@]}" -d "$admin" -c 'select 1' >/dev/null 2>&1; then
		if [[ "$("${psql[@]}" -d "$admin" -c "select 1 from pg_roles where rolname = 'loyalty'")" != 1 ]]; then
			log "creating role loyalty"
			"${psql[@]}" -d "$admin" -c 'CREATE ROLE loyalty LOGIN SUPERUSER' >/dev/null
		fi
		if [[ "$("${psql[@]}" -d "$admin" -c "select 1 from pg_database where datname = 'loyalty'")" != 1 ]]; then
			log "creating database loyalty"
			"${psql[@]}" -d "$admin" -c 'CREATE DATABASE loyalty OWNER loyalty' >/dev/null
		fi
	elif "${psql[@]}" -d "$(pg_conninfo loyalty loyalty)" -c 'select 1' >/dev/null 2>&1; then
		: # a server not managed here that already has what we need
	else
		die "cannot connect to PostgreSQL on 127.0.0.1:${PG_PORT} as postgres (to create role/database loyalty) nor as loyalty"
	fi
}

stop_pg() {
	choose_pg_home
	if [[ -f "${PGDATA_DIR}/postmaster.pid" ]] && find_pg_bin &&
		as_pg "${PG_BIN}/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; then
		log "stopping PostgreSQL (data ${PGDATA_DIR})"
		if ! as_pg "${PG_BIN}/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t "$TIMEOUT" stop >/dev/null 2>&1; then
			show_log_tail PostgreSQL "$PG_LOG"
			die "pg_ctl stop failed"
		fi
	elif pg_ready; then
		log "PostgreSQL on 127.0.0.1:${PG_PORT} was not started from ${PGDATA_DIR}; left alone"
	else
		log "PostgreSQL is not running"
	fi
}

# ------------------------------------------------------------------ redis

start_redis() {
	if redis_ready; then
		log "Redis already answers on 127.0.0.1:${REDIS_PORT}; leaving it as it is"
		local dbs
		dbs="$(redis_cli config get databases 2>/dev/null | tr -d '\r' | sed -n 2p)"
		if [[ "$dbs" =~ ^[0-9]+$ ]] && ((dbs < 64)); then
			warn "that Redis has only ${dbs} databases (tests may want 64); restart it with: scripts/services.sh down && scripts/services.sh up"
		fi
		return 0
	fi
	mkdir -p "$REDIS_DIR"
	log "starting Redis on 127.0.0.1:${REDIS_PORT} (data ${REDIS_DIR})"
	if ! redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --databases 64 \
		--dir "$REDIS_DIR" --logfile "$REDIS_LOG" --pidfile "$REDIS_PIDFILE" \
		--save '' --appendonly "$REDIS_APPENDONLY" >/dev/null 2>&1 9>&-; then
		show_log_tail Redis "$REDIS_LOG"
		die "redis-server failed to start"
	fi
	wait_until Redis "$REDIS_LOG" redis_ready
}

stop_redis() {
	if ! redis_ready; then
		log "Redis is not running"
		return 0
	fi
	local pid ours=""
	pid="$(redis_pid)"
	if [[ -f "$REDIS_PIDFILE" && -n "$pid" && "$(cat "$REDIS_PIDFILE")" == "$pid" ]]; then ours=1; fi
	if [[ -z "$ours" ]]; then
		log "Redis on 127.0.0.1:${REDIS_PORT} was not started from ${REDIS_DIR}; left alone"
		return 0
	fi
	log "stopping Redis"
	redis_cli shutdown nosave >/dev/null 2>&1 || true
	local deadline=$((SECONDS + TIMEOUT))
	while redis_ready; do
		((SECONDS < deadline)) || die "Redis did not stop within ${TIMEOUT}s"
		sleep 0.2
	done
}

# --------------------------------------------------------------- commands

cmd_up() {
	lock
	ensure_installed
	start_pg
	ensure_pg_role_db
	start_redis
	log "services ready: PostgreSQL 127.0.0.1:${PG_PORT}, Redis 127.0.0.1:${REDIS_PORT}"
}

cmd_down() {
	lock
	stop_pg
	stop_redis
}

cmd_status() {
	local rc=0
	choose_pg_home
	find_pg_bin || true
	if pg_ready; then
		echo "postgres: up    127.0.0.1:${PG_PORT}  data ${PGDATA_DIR}  log ${PG_LOG}"
	else
		echo "postgres: down  127.0.0.1:${PG_PORT}  data ${PGDATA_DIR}"
		rc=1
	fi
	if redis_ready; then
		echo "redis:    up    127.0.0.1:${REDIS_PORT}  pid $(redis_pid)  data ${REDIS_DIR}"
	else
		echo "redis:    down  127.0.0.1:${REDIS_PORT}  data ${REDIS_DIR}"
		rc=1
	fi
	return "$rc"
}

cmd_env() {
	printf "export DATABASE_URL='%s'\n" "$LOYALTY_DEFAULT_DATABASE_URL"
	printf "export REDIS_URL='%s'\n" "$LOYALTY_DEFAULT_REDIS_URL"
	printf "export TEST_DATABASE_URL='%s'\n" "$LOYALTY_DEFAULT_DATABASE_URL"
	printf "export TEST_REDIS_URL='%s'\n" "$LOYALTY_DEFAULT_REDIS_URL"
}

cmd_destroy() {
	cmd_down
	local fb
	fb="$(fallback_base)"
	log "removing ${DATA_DIR}"
	rm -rf "$DATA_DIR"
	if [[ -d "$fb" && -O "$fb" ]]; then
		log "removing ${fb}"
		rm -rf "$fb"
	fi
}

case "${1:-}" in
up) cmd_up ;;
down | stop) cmd_down ;;
status) cmd_status ;;
env) cmd_env ;;
destroy) cmd_destroy ;;
-h | --help | help) usage ;;
*)
	usage >&2
	exit 2
	;;
esac
