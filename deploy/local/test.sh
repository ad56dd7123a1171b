#!/usr/bin/env bash
# deploy/local/test.sh — `make test` and `make bench`: an isolated test stack,
# the Go tests (or benchmarks) against it, and nothing left behind.
#
#   deploy/local/test.sh [go test args...]           make test ARGS='...'
#   deploy/local/test.sh --bench [go test args...]   make bench ARGS='...'
#
# The test stack never disturbs a `make run` stack: its own ports (FerretDB
# 27027, MinIO 9010/9011), its own temporary data folders (removed at the
# end), Redis database 15 with the key prefix suijitest: — on the Redis that
# answers on 6379, or else on a redis-server of its own on 6389.
#
# Without package arguments the tests run over ./...; arguments that name
# packages (./x/..., suiji/x) replace that, other arguments are passed on:
#   make test ARGS='-run TestReadyz ./mobile-api/...'
# The exit status is go test's.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
# shellcheck source=deploy/local/stack.sh
source "$ROOT/deploy/local/stack.sh"

FERRETDB_PORT=27027
MINIO_PORT=9010
MINIO_CONSOLE_PORT=9011
REDIS_SHARED_PORT=6379 # used (database 15) when it answers
REDIS_OWN_PORT=6389    # otherwise our own redis-server here
REDIS_DB=15
MINIO_USER=minioadmin
MINIO_PASSWORD=minioadmin

MODE='test'
if [[ ${1:-} == --bench ]]; then
	MODE=bench
	shift
fi

DATA=
GO_PGID=

# shellcheck disable=SC2317 # the EXIT trap
cleanup() {
	local status=$?
	trap 'STACK_FORCE=1' INT TERM
	# go test runs in its own process group (below): stop it, its compilers
	# and its test binaries, if we are here because of Ctrl-C or SIGTERM.
	if [[ -n $GO_PGID ]] && kill -0 "$GO_PGID" 2>/dev/null; then
		kill -INT -- "-$GO_PGID" 2>/dev/null || true
		for _ in $(seq 1 50); do
			stack_alive "$GO_PGID" || break
			sleep 0.1
		done
		kill -KILL -- "-$GO_PGID" 2>/dev/null || true
		wait "$GO_PGID" 2>/dev/null || true
	fi
	if ((${#STACK_PIDS[@]})); then
		stack_log "stopping the test stack"
	fi
	stack_stop
	if [[ -n $DATA && -d $DATA ]]; then
		rm -rf "$DATA"
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

"$ROOT/deploy/local/tools.sh" minio ferretdb
# The browser tests' Chromium and npm packages, and the web front-ends'
# vendored libraries (embedded by the build below).
"$ROOT/deploy/local/web.sh" browser

# One test stack per machine at a time, since its ports are fixed: a second
# make test (another terminal, another checkout) waits here for the first
# one to finish instead of failing on a busy port.
exec 8>>"${TMPDIR:-/tmp}/suiji-test-stack.lock"
if ! flock -n 8; then
	echo "test: another make test is using the test stack's ports; waiting for it to finish"
	flock 8
fi

started=$SECONDS
DATA=$(mktemp -d "${TMPDIR:-/tmp}/suiji-test.XXXXXX")
stack_init test "$DATA"
# The PDF fonts, poppler-utils whose pdftotext and pdfimages read the
# generated documents back in backend/documents' tests, and redis-server,
# whose binary the Sentinel and Cluster tests start on ports of their own.
# shellcheck disable=SC2046 # a list of package names
stack_apt_install $(stack_pdf_font_packages) poppler-utils redis-server
stack_start_redis "$REDIS_SHARED_PORT" "$REDIS_OWN_PORT" "$REDIS_DB" ephemeral
stack_start_ferretdb "$FERRETDB_PORT"
stack_start_minio "$MINIO_PORT" "$MINIO_CONSOLE_PORT" "$MINIO_USER" "$MINIO_PASSWORD" no-console
stack_log "test stack up in $((SECONDS - started))s (data $DATA)"

# What the tests see. storage/storagetest derives a database, bucket and key
# prefix per test from these.
export SUIJI_ENV=test
export SUIJI_MONGO_URI=$STACK_MONGO_URI
export SUIJI_REDIS_URL=$STACK_REDIS_URL
export SUIJI_REDIS_PREFIX=suijitest:
export SUIJI_MINIO_ENDPOINT=$STACK_MINIO_ENDPOINT
export SUIJI_MINIO_ACCESS_KEY=$MINIO_USER
export SUIJI_MINIO_SECRET_KEY=$MINIO_PASSWORD
export SUIJI_MINIO_SECURE=false
for v in SUIJI_ENV SUIJI_MONGO_URI SUIJI_REDIS_URL SUIJI_REDIS_PREFIX SUIJI_MINIO_ENDPOINT; do
	stack_log "  $v=${!v}"
done

# Package patterns given? Then they replace ./... .
pkgs=(./...)
for arg in "$@"; do
	case $arg in
	./* | ../* | suiji | suiji/* | ...) pkgs=() ;;
	esac
done

if [[ $MODE == test ]]; then
	# -p 4 and -parallel 4: the tests mostly wait on the stack, so more of
	# them at once than the machine has cores keeps both cores busy; the
	# timeout leaves room for the slowest package under -race on a 2-core
	# machine.
	cmd=(go test -race -count=1 -p 4 -parallel 4 -timeout 30m "${pkgs[@]}" "$@")
else
	# The scale benchmarks seed 10,000s of records and move 200 MB
	# videos on a shared 2-core machine: go test's default 10-minute
	# timeout per package is too short for mobile-api's.
	cmd=(go test -run '^$' -bench . -benchmem -timeout 90m "${pkgs[@]}" "$@")
fi
stack_log "running: ${cmd[*]}"

# Own process group, so cleanup can stop go test and every test binary it
# started; waiting in the background lets the traps act at once.
status=0
if [[ $MODE == test ]]; then
	setsid "${cmd[@]}" </dev/null 8>&- &
	GO_PGID=$!
	wait "$GO_PGID" || status=$?
else
	BENCH_OUT=$DATA/bench.txt
	# shellcheck disable=SC2016 # expanded by the inner bash
	setsid bash -o pipefail -c '"${@:2}" 2>&1 | tee "$1"' bench "$BENCH_OUT" "${cmd[@]}" </dev/null 8>&- &
	GO_PGID=$!
	wait "$GO_PGID" || status=$?
	echo
	echo "==== benchmark figures ===="
	if grep -q '^Benchmark' "$BENCH_OUT"; then
		awk '/^pkg: / { pkg = $2 } /^Benchmark/ { print pkg ": " $0 }' "$BENCH_OUT"
	else
		echo "(no benchmarks found)"
	fi
fi
GO_PGID=

# The load scenario is a module of its own (deploy/load), outside ./...:
# its unit tests (the report's arithmetic) need no stack and run with
# every full test run.
if [[ $MODE == test && ${#pkgs[@]} -gt 0 && $status == 0 ]]; then
	stack_log "running: (cd deploy/load && go test -count=1 ./...)"
	(cd "$ROOT/deploy/load" && go test -count=1 ./...) </dev/null 8>&- || status=$?
fi

if ((status == 0)); then
	stack_log "go test passed"
else
	stack_log "go test FAILED (exit $status)"
fi
exit "$status"
