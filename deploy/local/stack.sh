# shellcheck shell=bash
# deploy/local/stack.sh — starts and stops the services of one local stack
# (FerretDB for MongoDB, MinIO, Redis). Sourced by run.sh (`make run`) and
# test.sh (`make test`, `make bench`); it runs nothing by itself.
#
#   stack_init NAME DATA_DIR           where data, logs and the pid file go
#   stack_start_redis REUSE_PORT OWN_PORT DB persist|ephemeral
#                                      sets STACK_REDIS_URL
#   stack_start_ferretdb PORT          sets STACK_MONGO_URI
#   stack_start_minio PORT CONSOLE_PORT ACCESS_KEY SECRET_KEY console|no-console [NODES]
#                                      sets STACK_MINIO_ENDPOINT; NODES=4 starts a
#                                      distributed, erasure-coded MinIO (ports
#                                      PORT, PORT+100, PORT+200, PORT+300)
#   stack_apt_install PACKAGE...       installs Debian packages that are missing
#   stack_pdf_font_packages            prints the packages of the default PDF fonts
#   stack_stop                         stops what this stack started, only that
#
# Every service is started in its own session (setsid), so a Ctrl-C at the
# terminal reaches only the script, which then stops the application first
# and the services after it, instead of everything dying at once. The price
# is that the script must stop them itself — hence the trap in every caller,
# and the pid file that lets the next run clear up after a SIGKILLed one.
#
# A caller sets `trap ... EXIT` that calls stack_stop before starting
# anything: stack_fail exits, and the trap then stops what was started.

# The STACK_* results (STACK_MONGO_URI, ...) are read by the caller.
# shellcheck disable=SC2034

# Where the pinned tools live (deploy/local/tools.sh builds them).
STACK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STACK_BIN=$STACK_ROOT/.tools/bin

STACK_PIDS=()  # pids this stack started, in start order
STACK_NAMES=() # their names, for messages
STACK_FORCE=   # set by a second Ctrl-C during stop: SIGKILL at once
STACK_STOP_TIMEOUT=${STACK_STOP_TIMEOUT:-10} # seconds between SIGTERM and SIGKILL

stack_log() { printf '%s: %s\n' "${STACK_NAME:-stack}" "$*"; }

# stack_fail MESSAGE [LOGFILE] — report, show the end of the service's log,
# and exit (the caller's EXIT trap stops whatever was started).
stack_fail() {
	printf '%s: ERROR: %s\n' "${STACK_NAME:-stack}" "$1" >&2
	if [[ -n ${2:-} && -s $2 ]]; then
		printf -- '--- last lines of %s ---\n' "$2" >&2
		tail -n 25 "$2" >&2
		printf -- '---\n' >&2
	fi
	exit 1
}

# stack_init NAME DATA_DIR
stack_init() {
	STACK_NAME=$1
	STACK_DATA=$2
	STACK_LOGS=$STACK_DATA/logs
	STACK_PIDFILE=$STACK_DATA/stack.pids
	mkdir -p "$STACK_LOGS"
	stack_clear_leftovers
	printf 'owner %s\n' "$$" >"$STACK_PIDFILE"
}

# stack_alive PID — true while PID runs (a zombie awaiting wait counts as gone).
stack_alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat:0:1} != Z ]]
}

# stack_clear_leftovers — a run killed with SIGKILL cannot stop its services;
# the pid file it left names them. Stop those (checking each pid still runs
# the binary we started, in case the pid was reused), unless the run that
# wrote the file is still alive: then this data folder is in use.
stack_clear_leftovers() {
	[[ -f $STACK_PIDFILE ]] || return 0
	local kind pid name owner
	owner=$(awk '$1 == "owner" { print $2 }' "$STACK_PIDFILE")
	# (Alive and still one of our scripts: its pid may have been reused.)
	if [[ -n $owner && $owner != "$$" ]] && stack_alive "$owner" &&
		tr '\0' ' ' <"/proc/$owner/cmdline" 2>/dev/null | grep -q 'deploy/local/'; then
		stack_fail "$STACK_DATA is in use by another run (pid $owner: $(tr '\0' ' ' </proc/"$owner"/cmdline 2>/dev/null)). Stop that one first (Ctrl-C in its terminal)."
	fi
	# Newest first, like stack_stop: suiji before the services it uses.
	while read -r kind pid name; do
		[[ $kind == service ]] || continue
		if stack_alive "$pid" && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "${name:0:15}" ]]; then
			stack_log "stopping $name (pid $pid) left running by an earlier run that did not stop cleanly"
			kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
			for _ in $(seq 1 $((STACK_STOP_TIMEOUT * 5))); do
				stack_alive "$pid" || break
				sleep 0.2
			done
			if stack_alive "$pid"; then
				kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
			fi
		fi
	done < <(tac "$STACK_PIDFILE")
	rm -f "$STACK_PIDFILE"
}

# stack_spawn NAME LOGFILE COMMAND... — start a service in its own session,
# output appended to LOGFILE, and remember it for stack_stop. NAME is the
# service binary's file name: the leftover check compares it with the
# process's /proc/PID/comm.
stack_spawn() {
	local name=$1 logfile=$2 pid
	shift 2
	printf '\n===== %s: starting %s =====\n' "$(date -Is)" "$*" >>"$logfile"
	# In a script (no job control) a background child is not a process-group
	# leader, so setsid does not fork: $! is the service's own pid, and that
	# pid is also its process-group id (used by stack_stop).
	# 8>&- 9>&-: the callers' lock descriptors stay with them; a service
	# must not keep a lock held after its script has gone.
	setsid "$@" </dev/null >>"$logfile" 2>&1 8>&- 9>&- &
	pid=$!
	STACK_PIDS+=("$pid")
	STACK_NAMES+=("$name")
	printf 'service %s %s\n' "$pid" "$name" >>"$STACK_PIDFILE"
}

# stack_wait NAME PID LOGFILE TIMEOUT CHECK... — until CHECK succeeds; fail
# early with the log if the service exits, or after TIMEOUT seconds.
stack_wait() {
	local name=$1 pid=$2 logfile=$3 timeout=$4 deadline
	shift 4
	deadline=$((SECONDS + timeout))
	until "$@"; do
		stack_alive "$pid" || stack_fail "$name exited while starting" "$logfile"
		((SECONDS < deadline)) || stack_fail "$name did not answer within ${timeout}s" "$logfile"
		sleep 0.2
	done
}

# tcp_open PORT — something accepts connections on 127.0.0.1:PORT.
tcp_open() {
	# shellcheck disable=SC2016 # expanded by the inner bash
	timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"' "$1" 2>/dev/null
}

# http_ok URL — URL answers 2xx (curl when present, else a TCP connect).
http_ok() {
	if command -v curl >/dev/null; then
		curl -sf -o /dev/null -m 2 "$1"
	else
		local hostport=${1#http://}
		hostport=${hostport%%/*}
		tcp_open "${hostport##*:}"
	fi
}

# redis_ping PORT — a Redis on 127.0.0.1:PORT answers PING (without a password).
redis_ping() {
	local reply
	if command -v redis-cli >/dev/null; then
		reply=$(timeout 2 redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null) || return 1
	else
		# shellcheck disable=SC2016 # expanded by the inner bash
		reply=$(timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" && printf "PING\r\n" >&3 && IFS= read -r line <&3 && printf "%s" "$line"' "$1" 2>/dev/null) || return 1
	fi
	[[ $reply == *PONG* ]]
}

# port_free PORT WHAT HINT — fail with a useful message when PORT is taken.
port_free() {
	tcp_open "$1" || return 0
	local who
	who=$(ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\(.*\)))/\1/p' | head -n1)
	stack_fail "127.0.0.1:$1 ($2) is already in use${who:+ by $who}. $3"
}

# stack_apt_install PACKAGE... — installs those of Debian's packages that are
# not installed yet (one dpkg query each when all are), after an apt-get
# update. Output goes to the stack's apt.log, shown if it fails.
stack_apt_install() {
	local pkg missing=() sudo=()
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
	done
	((${#missing[@]})) || return 0
	stack_log "installing Debian's ${missing[*]}"
	((EUID == 0)) || sudo=(sudo)
	# Lock::Timeout: another make test may be installing at the same moment.
	"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq >>"$STACK_LOGS/apt.log" 2>&1 ||
		stack_fail "apt-get update failed" "$STACK_LOGS/apt.log"
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${missing[@]}" >>"$STACK_LOGS/apt.log" 2>&1 ||
		stack_fail "apt-get install ${missing[*]} failed" "$STACK_LOGS/apt.log"
}

# stack_pdf_font_packages — the Debian packages of the default PDF fonts
# (SUIJI_PDF_FONTS in backend/config: Droid Sans Fallback for Chinese, DejaVu
# Sans for Latin letters and digits); none when SUIJI_PDF_FONTS names others.
stack_pdf_font_packages() {
	[[ -n ${SUIJI_PDF_FONTS:-} ]] || echo fonts-droid-fallback fonts-dejavu-core
}

# stack_start_redis REUSE_PORT OWN_PORT DB persist|ephemeral
# Uses the Redis already answering on REUSE_PORT (never stopped by us);
# otherwise installs Debian's redis-server if needed and starts one on
# OWN_PORT with its files under the stack's data folder.
stack_start_redis() {
	local reuse=$1 own=$2 db=$3 mode=$4 logfile=$STACK_LOGS/redis.log
	if redis_ping "$reuse"; then
		STACK_REDIS_URL=redis://127.0.0.1:$reuse/$db
		stack_log "Redis: using the server already on 127.0.0.1:$reuse (database $db); it is not ours and stays running"
		return
	fi
	if ! command -v redis-server >/dev/null; then
		stack_log "Redis: nothing answers on 127.0.0.1:$reuse and redis-server is not installed"
		stack_apt_install redis-server
		# The package may have started the system's own Redis on 6379.
		if redis_ping "$reuse"; then
			STACK_REDIS_URL=redis://127.0.0.1:$reuse/$db
			stack_log "Redis: the package started a server on 127.0.0.1:$reuse; using it (database $db)"
			return
		fi
	fi
	port_free "$own" "Redis" "It does not answer PING without a password: set SUIJI_REDIS_URL to reach it, or stop it."
	local args=(--bind 127.0.0.1 --port "$own" --daemonize no --logfile "" --dir "$STACK_DATA/redis")
	if [[ $mode == persist ]]; then
		args+=(--appendonly yes)
	else
		args+=(--save "" --appendonly no)
	fi
	mkdir -p "$STACK_DATA/redis"
	stack_spawn redis-server "$logfile" redis-server "${args[@]}"
	stack_wait Redis "${STACK_PIDS[-1]}" "$logfile" 15 redis_ping "$own"
	STACK_REDIS_URL=redis://127.0.0.1:$own/$db
	stack_log "Redis: started our own on 127.0.0.1:$own (database $db, data $STACK_DATA/redis)"
}

# stack_start_ferretdb PORT — FerretDB (MongoDB wire protocol, SQLite files).
stack_start_ferretdb() {
	local port=$1 logfile=$STACK_LOGS/ferretdb.log
	port_free "$port" "FerretDB" "Set SUIJI_MONGO_URI to use the MongoDB listening there, or stop it."
	stack_spawn suiji-ferretdb "$logfile" \
		"$STACK_BIN/suiji-ferretdb" -listen "127.0.0.1:$port" -dir "$STACK_DATA/ferretdb"
	stack_wait FerretDB "${STACK_PIDS[-1]}" "$logfile" 30 tcp_open "$port"
	STACK_MONGO_URI=mongodb://127.0.0.1:$port/
	stack_log "FerretDB: started on 127.0.0.1:$port (data $STACK_DATA/ferretdb)"
}

# stack_start_minio PORT CONSOLE_PORT ACCESS_KEY SECRET_KEY console|no-console [NODES]
# One node (the default) keeps its data in $STACK_DATA/minio. NODES (4 or
# more) starts that many MinIO processes, one drive folder each
# ($STACK_DATA/minio-N), on ports PORT, PORT+100, …, which form one
# erasure-coded deployment: any one node may stop without losing an object
# or refusing a write. suiji talks to the first node (in production a load
# balancer spreads requests over all of them).
stack_start_minio() {
	local port=$1 console=$2 user=$3 password=$4 browser=on nodes=${6:-1} logfile=$STACK_LOGS/minio.log
	[[ $5 == console ]] || browser=off
	if ((nodes == 1)); then
		port_free "$port" "MinIO" "Set SUIJI_MINIO_ENDPOINT to use the server listening there, or stop it."
		port_free "$console" "MinIO console" "Stop whatever listens there."
		# MINIO_UPDATE=off: no update checks (these machines reach no such site).
		# MINIO_API_STALE_UPLOADS_EXPIRY: longer than SUIJI_UPLOAD_ABANDON_AFTER
		# (MinIO would drop an unfinished upload after 24h, a phone resumes
		# for 48h; deploy/compose/compose.yaml says more).
		stack_spawn minio "$logfile" env \
			MINIO_ROOT_USER="$user" MINIO_ROOT_PASSWORD="$password" \
			MINIO_BROWSER="$browser" MINIO_UPDATE=off MINIO_API_STALE_UPLOADS_EXPIRY=168h \
			"$STACK_BIN/minio" server "$STACK_DATA/minio" \
			--address "127.0.0.1:$port" --console-address "127.0.0.1:$console"
		stack_wait MinIO "${STACK_PIDS[-1]}" "$logfile" 60 http_ok "http://127.0.0.1:$port/minio/health/live"
		STACK_MINIO_ENDPOINT=127.0.0.1:$port
		stack_log "MinIO: started on 127.0.0.1:$port (data $STACK_DATA/minio)"
		return
	fi
	((nodes >= 4)) || stack_fail "MINIO_NODES must be 1 or at least 4 (erasure coding needs 4 drives), not $nodes"
	local i p endpoints=() pids=()
	for ((i = 0; i < nodes; i++)); do
		p=$((port + 100 * i))
		port_free "$p" "MinIO node $((i + 1))" "Stop whatever listens there."
		port_free "$((console + 100 * i))" "MinIO node $((i + 1)) console" "Stop whatever listens there."
		mkdir -p "$STACK_DATA/minio-$((i + 1))"
		endpoints+=("http://127.0.0.1:$p$STACK_DATA/minio-$((i + 1))")
	done
	for ((i = 0; i < nodes; i++)); do
		p=$((port + 100 * i))
		# MINIO_CI_CD: the drive folders share the root disk, which a real
		# deployment must not do and MinIO refuses by default.
		# _MINIO_SERVER_LOCAL: inside a container MinIO waits for loopback
		# endpoints to resolve to another address, unless told which one is
		# this process's own.
		stack_spawn minio "$STACK_LOGS/minio-$((i + 1)).log" env \
			MINIO_ROOT_USER="$user" MINIO_ROOT_PASSWORD="$password" \
			MINIO_BROWSER="$([[ $i == 0 ]] && echo "$browser" || echo off)" MINIO_UPDATE=off MINIO_API_STALE_UPLOADS_EXPIRY=168h \
			MINIO_CI_CD=on _MINIO_SERVER_LOCAL="127.0.0.1:$p" \
			"$STACK_BIN/minio" server "${endpoints[@]}" \
			--address "127.0.0.1:$p" --console-address "127.0.0.1:$((console + 100 * i))"
		pids+=("${STACK_PIDS[-1]}")
	done
	# The cluster health check answers 200 once the nodes have formed a
	# deployment that can take writes.
	stack_wait "MinIO ($nodes nodes)" "${pids[0]}" "$STACK_LOGS/minio-1.log" 90 \
		http_ok "http://127.0.0.1:$port/minio/health/cluster"
	STACK_MINIO_ENDPOINT=127.0.0.1:$port
	stack_log "MinIO: $nodes nodes, erasure coded, on 127.0.0.1:$port, :$((port + 100)) … (data $STACK_DATA/minio-1 … -$nodes; logs minio-N.log)"
}

# stack_stop — SIGTERM everything this stack started (newest first), wait up
# to STACK_STOP_TIMEOUT seconds, then SIGKILL what is left. Idempotent.
stack_stop() {
	local i pid deadline
	((${#STACK_PIDS[@]})) || return 0
	for ((i = ${#STACK_PIDS[@]} - 1; i >= 0; i--)); do
		# Each service leads its own process group: signal the group, so
		# nothing it may have spawned outlives it.
		kill -TERM -- "-${STACK_PIDS[i]}" 2>/dev/null || kill -TERM "${STACK_PIDS[i]}" 2>/dev/null || true
	done
	deadline=$((SECONDS + STACK_STOP_TIMEOUT))
	for ((i = ${#STACK_PIDS[@]} - 1; i >= 0; i--)); do
		pid=${STACK_PIDS[i]}
		while stack_alive "$pid" && [[ -z $STACK_FORCE ]] && ((SECONDS < deadline)); do
			sleep 0.1
		done
		if stack_alive "$pid"; then
			stack_log "${STACK_NAMES[i]} (pid $pid) did not stop in time; killing it"
			kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
		fi
		wait "$pid" 2>/dev/null || true
		stack_log "stopped ${STACK_NAMES[i]} (pid $pid)"
	done
	STACK_PIDS=()
	STACK_NAMES=()
	rm -f "$STACK_PIDFILE"
}
