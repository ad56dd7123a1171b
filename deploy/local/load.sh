#!/usr/bin/env bash
# deploy/local/load.sh — `make load`: a stack of its own (FerretDB 27047,
# MinIO 9050, Redis database 13 with the prefix suijiload: — or a Redis of
# its own on 6409 —, suiji on 127.0.0.1:8090; data in a temporary folder
# removed at the end; none of it shared with `make test` (27027, 9010,
# database 15, 6389) or `make run`, and no lock taken), the load
# scenario of deploy/load against it, and the figures in
# deploy/load/RESULTS.md. Loopback only; it stops by itself (LOAD_DURATION,
# default 3m, plus the set-up and the read-back).
#
#   make load                       # the scenario of deploy/load (300 inspectors, ...)
#   make load LOAD_DURATION=1m      # shorter
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
# shellcheck source=deploy/local/stack.sh
source "$ROOT/deploy/local/stack.sh"

FERRETDB_PORT=27047
MINIO_PORT=9050
MINIO_CONSOLE_PORT=9051
REDIS_SHARED_PORT=6379
REDIS_OWN_PORT=6409
REDIS_DB=13
HTTP_ADDR=127.0.0.1:8090
LOAD_DURATION=${LOAD_DURATION:-3m}
ADMIN_PASSWORD=load-admin-password
# Its own binary: .tools may be shared between worktrees.
SUIJI_BIN=$ROOT/var/load/suiji

DATA=
SUIJI_PID=
# shellcheck disable=SC2317 # the EXIT trap
cleanup() {
	local status=$?
	if [[ -n $SUIJI_PID ]]; then
		kill -TERM "$SUIJI_PID" 2>/dev/null || true
		wait "$SUIJI_PID" 2>/dev/null || true
	fi
	stack_stop
	[[ -z $DATA ]] || rm -rf "$DATA"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$ROOT/deploy/local/tools.sh" minio ferretdb
"$ROOT/deploy/local/web.sh" vendor
mkdir -p "$ROOT/var/load"
go build -o "$SUIJI_BIN" ./backend/cmd/suiji

DATA=$(mktemp -d "${TMPDIR:-/tmp}/suiji-load.XXXXXX")
stack_init load "$DATA"
# shellcheck disable=SC2046 # a list of package names
stack_apt_install $(stack_pdf_font_packages)
stack_start_redis "$REDIS_SHARED_PORT" "$REDIS_OWN_PORT" "$REDIS_DB" ephemeral
stack_start_ferretdb "$FERRETDB_PORT"
stack_start_minio "$MINIO_PORT" "$MINIO_CONSOLE_PORT" minioadmin minioadmin no-console

export SUIJI_ENV=test SUIJI_HTTP_ADDR=$HTTP_ADDR SUIJI_MONGO_URI=$STACK_MONGO_URI SUIJI_MONGO_DATABASE=suijiload
export SUIJI_REDIS_URL=$STACK_REDIS_URL SUIJI_REDIS_PREFIX=suijiload:$$: SUIJI_MINIO_ENDPOINT=$STACK_MINIO_ENDPOINT
export SUIJI_MINIO_ACCESS_KEY=minioadmin SUIJI_MINIO_SECRET_KEY=minioadmin SUIJI_ADMIN_PASSWORD=$ADMIN_PASSWORD
export SUIJI_LOG_LEVEL=warn SUIJI_LOG_FORMAT=json
# All load comes from loopback, as if through one reverse proxy: trust it,
# so its connections are not capped at 64 per address, and let each
# simulated phone name its own address in X-Forwarded-For.
export SUIJI_TRUSTED_PROXIES=127.0.0.1
"$SUIJI_BIN" serve 2>>"$STACK_LOGS/suiji.log" &
SUIJI_PID=$!
for _ in $(seq 1 120); do
	curl -sf -o /dev/null "http://$HTTP_ADDR/readyz" && break
	stack_alive "$SUIJI_PID" || stack_fail "suiji exited while starting" "$STACK_LOGS/suiji.log"
	sleep 0.5
done
stack_log "suiji ready on http://$HTTP_ADDR; running the load scenario for $LOAD_DURATION"

status=0
(cd deploy/load && go run . -base "http://$HTTP_ADDR" -admin-password "$ADMIN_PASSWORD" \
	-duration "$LOAD_DURATION" -results RESULTS.md) || status=$?
# suiji's log outlives the temporary stack, for a look at what failed.
mkdir -p var/load && cp "$STACK_LOGS/suiji.log" var/load/suiji.log
if ((status != 0)); then
	stack_log "the load scenario FAILED (exit $status); suiji's log is in var/load/suiji.log"
fi
exit "$status"
