#!/usr/bin/env bash
# deploy/local/run.sh — `make run`: the development stack and suiji on it.
#
# Starts FerretDB (MongoDB protocol), MinIO and Redis on their usual ports
# with data under var/ (kept: a second run reuses it), builds and starts
# `suiji serve`, and prints what runs where. When suiji exits, on Ctrl-C, or
# on SIGTERM (GNU make passes it on to this script), it stops everything it
# started, and only that.
#
# SUIJI_* variables already set in the environment are kept. Setting
# SUIJI_MONGO_URI, SUIJI_REDIS_URL or SUIJI_MINIO_ENDPOINT also means "I run
# that service myself": the stack then does not start its own.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
# shellcheck source=deploy/local/stack.sh
source "$ROOT/deploy/local/stack.sh"

# The development stack's ports: the services' standard ones, so that
# mongosh, redis-cli and mc work with their defaults. make test uses others.
FERRETDB_PORT=27017
MINIO_PORT=9000
MINIO_CONSOLE_PORT=9001
REDIS_PORT=6379
REDIS_DB=0
DATA=$ROOT/var
SUIJI_BIN=$ROOT/.tools/bin/suiji
# MINIO_NODES=4 (make run MINIO_NODES=4): a distributed, erasure-coded MinIO
# of 4 processes on 9000, 9100, 9200, 9300 instead of one on 9000.
MINIO_NODES=${MINIO_NODES:-1}
[[ $MINIO_NODES =~ ^[0-9]+$ ]] || { echo "run: MINIO_NODES must be a number, not $MINIO_NODES" >&2; exit 2; }

SUIJI_PID=

# --- stopping ---------------------------------------------------------------

# shellcheck disable=SC2317 # called from the EXIT trap
# stop_suiji — SIGTERM lets in-flight requests finish (suiji waits up to
# SUIJI_SHUTDOWN_TIMEOUT); SIGKILL only if it overruns that by 5 s.
stop_suiji() {
	[[ -n $SUIJI_PID ]] || return 0
	if stack_alive "$SUIJI_PID"; then
		kill -TERM -- "-$SUIJI_PID" 2>/dev/null || true
		local limit=${SUIJI_SHUTDOWN_TIMEOUT:-15s}
		limit=${limit%s}
		[[ $limit =~ ^[0-9]+$ ]] || limit=15
		local deadline=$((SECONDS + limit + 5))
		while stack_alive "$SUIJI_PID" && [[ -z $STACK_FORCE ]] && ((SECONDS < deadline)); do
			sleep 0.1
		done
		if stack_alive "$SUIJI_PID"; then
			stack_log "suiji did not stop in time; killing it"
			kill -KILL -- "-$SUIJI_PID" 2>/dev/null || true
		fi
	fi
	wait "$SUIJI_PID" 2>/dev/null || true
	stack_log "stopped suiji (pid $SUIJI_PID)"
	SUIJI_PID=
}

# shellcheck disable=SC2317 # the EXIT trap
cleanup() {
	local status=$?
	# A second Ctrl-C while stopping: stop waiting, kill what is left.
	trap 'STACK_FORCE=1; echo "run: killing what is left"' INT TERM
	if [[ -n $SUIJI_PID || ${#STACK_PIDS[@]} -gt 0 ]]; then
		echo
		stack_log "stopping the development stack (Ctrl-C again to kill at once)"
	fi
	stop_suiji
	stack_stop
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# --- configuration ----------------------------------------------------------

declare -A FROM_ENV=()
# setdefault NAME VALUE — keep NAME if the environment has it, else export VALUE.
setdefault() {
	if [[ -v $1 ]]; then
		FROM_ENV[$1]=1
		export "${1?}"
	else
		export "$1=$2"
	fi
}

# shown NAME — the value to print: development values are printed, values
# from the environment are not (they may be real secrets).
shown() {
	if [[ -n ${FROM_ENV[$1]:-} ]]; then
		case $1 in
		*PASSWORD* | *SECRET* | *KEY* | *URI* | *URL*) printf '(from your environment)' ;;
		*) printf '%s (from your environment)' "${!1}" ;;
		esac
	else
		printf '%s' "${!1}"
	fi
}

# where STARTED_FLAG VAR TEXT — TEXT for a service this run started, else
# the caller's own setting.
where() {
	if [[ -n ${!1} ]]; then
		printf '%s' "$3"
	else
		shown "$2"
	fi
}

# Services the caller points at are not started here.
START_MONGO=yes START_REDIS=yes START_MINIO=yes
[[ -v SUIJI_MONGO_URI ]] && START_MONGO=
[[ -v SUIJI_REDIS_URL ]] && START_REDIS=
[[ -v SUIJI_MINIO_ENDPOINT ]] && START_MINIO=

setdefault SUIJI_ENV development
setdefault SUIJI_HTTP_ADDR 127.0.0.1:8080
setdefault SUIJI_MINIO_ACCESS_KEY minioadmin
setdefault SUIJI_MINIO_SECRET_KEY minioadmin
setdefault SUIJI_ADMIN_USERNAME admin
setdefault SUIJI_ADMIN_PASSWORD suiji-admin-dev
# The rest (JWT key, buckets, database name, ...) keep suiji's own defaults
# (backend/config); suiji itself warns about development secrets.

# --- tools and build ----------------------------------------------------------

tools=()
[[ -n $START_MONGO ]] && tools+=(ferretdb)
[[ -n $START_MINIO ]] && tools+=(minio)
((${#tools[@]} == 0)) || "$ROOT/deploy/local/tools.sh" "${tools[@]}"

# The console's and portal's browser libraries, embedded by the build.
"$ROOT/deploy/local/web.sh" vendor
echo "run: building suiji"
go build -o "$SUIJI_BIN" ./backend/cmd/suiji

# --- services -------------------------------------------------------------------

stack_init run "$DATA"
# shellcheck disable=SC2046 # a list of package names
stack_apt_install $(stack_pdf_font_packages)
if [[ -n $START_REDIS ]]; then
	stack_start_redis "$REDIS_PORT" "$REDIS_PORT" "$REDIS_DB" persist
	export SUIJI_REDIS_URL=$STACK_REDIS_URL
fi
if [[ -n $START_MONGO ]]; then
	stack_start_ferretdb "$FERRETDB_PORT"
	export SUIJI_MONGO_URI=$STACK_MONGO_URI
fi
if [[ -n $START_MINIO ]]; then
	stack_start_minio "$MINIO_PORT" "$MINIO_CONSOLE_PORT" \
		"$SUIJI_MINIO_ACCESS_KEY" "$SUIJI_MINIO_SECRET_KEY" console "$MINIO_NODES"
	export SUIJI_MINIO_ENDPOINT=$STACK_MINIO_ENDPOINT
fi

# --- demo data ----------------------------------------------------------------
# An empty database gets the demo directory, roster, item list and users
# (`suiji seed --demo`); a database with data is left as it is.
"$SUIJI_BIN" seed --demo --if-empty
# --------------------------------------------------------------------------------

# --- suiji ----------------------------------------------------------------------

# Not exec: this script must outlive suiji to stop the services. Own session,
# so Ctrl-C reaches only this script, which stops suiji first (SIGTERM,
# graceful) and the services after it.
setsid "$SUIJI_BIN" serve </dev/null &
SUIJI_PID=$!
# In the pid file too, so a run after a SIGKILLed one stops this suiji as well.
printf 'service %s suiji\n' "$SUIJI_PID" >>"$STACK_PIDFILE"
stack_log "started suiji serve (pid $SUIJI_PID)"

# Where to knock: a wildcard listen address is reached on loopback.
http_host=${SUIJI_HTTP_ADDR%:*}
http_port=${SUIJI_HTTP_ADDR##*:}
case $http_host in "" | 0.0.0.0 | "[::]" | ::) http_host=127.0.0.1 ;; esac
base_url=http://$http_host:$http_port

ready=
for _ in $(seq 1 180); do
	if curl -sf -o /dev/null -m 2 "$base_url/readyz"; then
		ready=yes
		break
	fi
	stack_alive "$SUIJI_PID" || break
	sleep 0.5
done

if ! stack_alive "$SUIJI_PID"; then
	status=0
	wait "$SUIJI_PID" || status=$?
	SUIJI_PID=
	stack_log "ERROR: suiji exited while starting (status $status); its messages are above"
	exit "$status"
fi

bar='================================================================================'
cat <<EOF

$bar
  suiji development stack$([[ -n $ready ]] && echo " — READY" || echo " — NOT READY YET: /readyz is not 200 (see suiji's log)")
$bar
  API            $base_url      ($base_url/readyz)
  admin login    $(shown SUIJI_ADMIN_USERNAME) / $(shown SUIJI_ADMIN_PASSWORD)
  environment    $(shown SUIJI_ENV)
  MongoDB        $(where START_MONGO SUIJI_MONGO_URI "FerretDB, $SUIJI_MONGO_URI  (data var/ferretdb)")
  Redis          $(where START_REDIS SUIJI_REDIS_URL "$SUIJI_REDIS_URL")
  MinIO          $(where START_MINIO SUIJI_MINIO_ENDPOINT "http://$SUIJI_MINIO_ENDPOINT  ($( ((MINIO_NODES > 1)) && echo "$MINIO_NODES nodes, erasure coded, data var/minio-1 … var/minio-$MINIO_NODES" || echo "data var/minio"))")
EOF
if [[ -n $START_MINIO ]]; then
	cat <<EOF
  MinIO console  http://127.0.0.1:$MINIO_CONSOLE_PORT   login $(shown SUIJI_MINIO_ACCESS_KEY) / $(shown SUIJI_MINIO_SECRET_KEY)
EOF
fi
cat <<EOF
  logs           var/logs/  (suiji logs to this terminal)
  These are DEVELOPMENT credentials: never use them anywhere else.
  Ctrl-C stops suiji and every service this run started.
$bar

EOF

# Wait for suiji to exit — or for a service to die under it, which ends the
# run too. Polling (rather than `wait -n`, which misses a child that exited
# just before it is called); a signal's trap runs within half a second.
while stack_alive "$SUIJI_PID"; do
	for i in "${!STACK_PIDS[@]}"; do
		if ! stack_alive "${STACK_PIDS[i]}"; then
			stack_log "ERROR: ${STACK_NAMES[i]} exited unexpectedly; its log is in var/logs/"
			exit 1
		fi
	done
	sleep 0.5
done
status=0
wait "$SUIJI_PID" || status=$?
SUIJI_PID=
stack_log "suiji exited (status $status)"
exit "$status"
