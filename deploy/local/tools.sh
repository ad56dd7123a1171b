#!/usr/bin/env bash
# deploy/local/tools.sh — builds the pinned developer tools into .tools/bin
# once, and reuses them afterwards.
#
#   deploy/local/tools.sh [all | minio | ferretdb | staticcheck]...
#
# Nothing here is downloaded as a prebuilt binary: every tool is compiled from
# the Go module proxy (the only source these machines reach), which is why the
# first MinIO build takes minutes. `make run` and `make test` call this with
# `minio ferretdb`, `make check` with `staticcheck`.
#
# Next to each binary a stamp (.tools/bin/NAME.version) records the pin it was
# built from. A tool is rebuilt only when its binary is missing or its stamp
# differs from the pin below: bumping a pin here upgrades everyone's tools on
# their next `make`.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TOOLS=$ROOT/.tools
BIN=$TOOLS/bin
LOGS=$TOOLS/logs

# --- Pins ---------------------------------------------------------------------
# MinIO publishes no tagged Go module versions, so it is pinned by
# pseudo-version (the one named on the architecture page, tested here: object
# lock, COMPLIANCE retention, presigned PUT, multipart on one drive).
MINIO_MODULE=github.com/minio/minio
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
# staticcheck must understand the Go version in go.mod.
STATICCHECK_MODULE=honnef.co/go/tools
STATICCHECK_VERSION=v0.8.2
# suiji-ferretdb is our own nested module (deploy/ferretdb); its "pin" is the
# FerretDB version it requires plus a hash of its sources, so editing main.go
# or go.mod rebuilds it too.
FERRETDB_DIR=$ROOT/deploy/ferretdb

log() { printf 'tools: %s\n' "$*"; }
die() {
	printf 'tools: ERROR: %s\n' "$*" >&2
	exit 1
}

ferretdb_pin() {
	local version sum
	version=$(awk '$1 == "require" && $2 == "github.com/FerretDB/FerretDB" { print $3 }
		$1 == "github.com/FerretDB/FerretDB" { print $2 }' "$FERRETDB_DIR/go.mod" | head -n1)
	sum=$(cd "$FERRETDB_DIR" && cat go.mod go.sum ./*.go | sha256sum | cut -c1-12)
	printf 'FerretDB %s src %s\n' "${version:-unknown}" "$sum"
}

# up_to_date NAME PIN — true when .tools/bin/NAME exists and its stamp says PIN.
up_to_date() {
	[[ -x $BIN/$1 && -f $BIN/$1.version && "$(<"$BIN/$1.version")" == "$2" ]]
}

stamp() { printf '%s\n' "$2" >"$BIN/$1.version"; }

# adopt NAME MODULE VERSION — a binary that has no stamp (built by hand, or by
# an older copy of this script) is kept when the module version compiled into
# it (`go version -m`) is the pinned one, instead of spending minutes
# rebuilding an identical binary.
adopt() {
	local name=$1 module=$2 version=$3
	[[ -x $BIN/$name && ! -f $BIN/$name.version ]] || return 1
	if go version -m "$BIN/$name" 2>/dev/null |
		awk -v m="$module" -v v="$version" '$1 == "mod" && $2 == m && $3 == v { found = 1 } END { exit !found }'; then
		stamp "$name" "$version"
		log "$name: existing binary is $version; stamped it"
		return 0
	fi
	return 1
}

BUILD_PGID=
PREFETCH_PGID=
# Kill a build still running when this script is interrupted: builds run in
# their own process group (see build), so a Ctrl-C here must stop them too.
# The module prefetch is only a head start: stop it rather than wait.
cleanup() {
	local pgid
	for pgid in "$BUILD_PGID" "$PREFETCH_PGID"; do
		[[ -n $pgid ]] || continue
		kill -TERM -- "-$pgid" 2>/dev/null || true
		wait "$pgid" 2>/dev/null || true
	done
}

# prefetch_modules — while MinIO compiles (CPU-bound, minutes), download the
# modules suiji-ferretdb and suiji's own tests need, so that those builds do
# not wait on the network afterwards. On a fresh machine this saves a minute
# or so; failures here are harmless (the real builds download what is left).
prefetch_modules() {
	[[ -z $PREFETCH_PGID ]] || return 0
	mkdir -p "$LOGS"
	# shellcheck disable=SC2016 # expanded by the inner bash
	setsid bash -c '(cd "$0" && go mod download) && cd "$1" && go mod download' \
		"$FERRETDB_DIR" "$ROOT" >"$LOGS/prefetch.log" 2>&1 </dev/null &
	PREFETCH_PGID=$!
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# build NAME LOG COMMAND... — runs COMMAND with all its output in LOG and
# prints a progress line every 15 s, so a first build that takes minutes does
# not look hung. On failure it shows the end of the log.
build() {
	local name=$1 logfile=$2 start=$SECONDS next=15 status=0 downloads last=-1 phase
	shift 2
	mkdir -p "$LOGS"
	log "building $name (full output: ${logfile#"$ROOT"/})"
	# setsid: its own process group, so cleanup can stop go and its compilers.
	setsid "$@" >"$logfile" 2>&1 &
	BUILD_PGID=$!
	while kill -0 "$BUILD_PGID" 2>/dev/null; do
		sleep 1
		if ((SECONDS - start >= next)); then
			downloads=$(grep -c '^go: downloading' "$logfile" || true)
			# No new download in 15 s: go has moved on to compiling.
			phase="downloading modules ($downloads so far)"
			((downloads != last)) || phase="compiling ($downloads modules downloaded)"
			last=$downloads
			log "  … $name: $((SECONDS - start))s elapsed, $phase"
			next=$((next + 15))
		fi
	done
	wait "$BUILD_PGID" || status=$?
	BUILD_PGID=
	if ((status != 0)); then
		printf 'tools: ERROR: building %s failed (exit %d) after %ds; last lines of %s:\n' \
			"$name" "$status" "$((SECONDS - start))" "$logfile" >&2
		tail -n 40 "$logfile" >&2
		exit 1
	fi
	log "built $name in $((SECONDS - start))s"
}

# wait_for_foreign_minio_build — someone may already be running the very same
# `go install` (by hand, or a script from before this one existed). Building it
# twice at once only halves the speed of both, so wait for that one instead.
wait_for_foreign_minio_build() {
	local start=$SECONDS next=15
	while pgrep -f "go install $MINIO_MODULE@" >/dev/null; do
		if ((SECONDS - start >= next)); then
			log "  … waiting for a MinIO build started elsewhere ($((SECONDS - start))s)"
			next=$((next + 15))
		fi
		sleep 1
	done
}

tool_minio() {
	up_to_date minio "$MINIO_VERSION" && return 0
	adopt minio "$MINIO_MODULE" "$MINIO_VERSION" && return 0
	wait_for_foreign_minio_build
	# That build may have been this very binary (say, started by hand).
	adopt minio "$MINIO_MODULE" "$MINIO_VERSION" && return 0
	log "MinIO $MINIO_VERSION is compiled from source the first time: expect 3 to 8 minutes"
	prefetch_modules
	# -s -w: no symbol table or DWARF — a much shorter link of a 150 MB binary.
	build minio "$LOGS/minio-build.log" \
		env GOBIN="$BIN" go install -ldflags='-s -w' "$MINIO_MODULE@$MINIO_VERSION"
	stamp minio "$MINIO_VERSION"
}

tool_staticcheck() {
	up_to_date staticcheck "$STATICCHECK_VERSION" && return 0
	adopt staticcheck "$STATICCHECK_MODULE" "$STATICCHECK_VERSION" && return 0
	build staticcheck "$LOGS/staticcheck-build.log" \
		env GOBIN="$BIN" go install "$STATICCHECK_MODULE/cmd/staticcheck@$STATICCHECK_VERSION"
	stamp staticcheck "$STATICCHECK_VERSION"
}

tool_ferretdb() {
	local pin
	pin=$(ferretdb_pin)
	up_to_date suiji-ferretdb "$pin" && return 0
	# -C: build inside the nested module, so its dependencies stay out of ours.
	build suiji-ferretdb "$LOGS/ferretdb-build.log" \
		go build -C "$FERRETDB_DIR" -o "$BIN/suiji-ferretdb" .
	stamp suiji-ferretdb "$pin"
}

# tool_redocly installs the pinned OpenAPI linter (deploy/local/openapi-lint,
# its package-lock.json) into .tools/redocly with npm ci, again only when the
# lock file changed.
tool_redocly() {
	local src=$ROOT/deploy/local/openapi-lint dst=$TOOLS/redocly pin
	pin=$(sha256sum "$src/package-lock.json" | cut -c1-16)
	if [[ -x $dst/node_modules/.bin/redocly && -f $dst/.pin && "$(<"$dst/.pin")" == "$pin" ]]; then
		return 0
	fi
	command -v npm >/dev/null || die "npm is not installed (Debian: apt-get install nodejs npm)"
	mkdir -p "$dst"
	cp "$src/package.json" "$src/package-lock.json" "$dst/"
	log "installing the OpenAPI linter (npm ci in .tools/redocly)"
	(cd "$dst" && npm ci --no-audit --no-fund --loglevel=error >"$LOGS/redocly-install.log" 2>&1) ||
		die "npm ci of the OpenAPI linter failed; see $LOGS/redocly-install.log"
	printf '%s\n' "$pin" >"$dst/.pin"
}

main() {
	command -v go >/dev/null || die "go is not on PATH (Go $(awk '$1 == "go" { print $2 }' "$ROOT/go.mod") or newer is needed)"
	mkdir -p "$BIN"

	# One tools.sh at a time (say `make run` and `make test` in two
	# terminals): the second waits here and then finds the tools built.
	exec 9>"$TOOLS/.lock"
	if ! flock -n 9; then
		log "another tools.sh is building; waiting for it"
		flock 9
	fi

	local want=("$@")
	((${#want[@]})) || want=(all)
	for tool in "${want[@]}"; do
		case $tool in
		all) tool_minio && tool_ferretdb && tool_staticcheck ;;
		minio) tool_minio ;;
		ferretdb | suiji-ferretdb) tool_ferretdb ;;
		staticcheck) tool_staticcheck ;;
		redocly) tool_redocly ;;
		*) die "unknown tool '$tool' (want all, minio, ferretdb, staticcheck or redocly)" ;;
		esac
	done
	# A prefetch still running is still useful (go test needs those modules).
	if [[ -n $PREFETCH_PGID ]]; then
		wait "$PREFETCH_PGID" || true
		PREFETCH_PGID=
	fi
}

main "$@"
