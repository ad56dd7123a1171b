#!/usr/bin/env bash
# deploy/local/web.sh — what the web front-ends need beyond Go.
#
#   deploy/local/web.sh vendor    npm packages (package-lock.json) installed
#                                 and the browser libraries copied into
#                                 mobile-api/web/vendor/ (make run, Docker)
#   deploy/local/web.sh browser   vendor, plus Debian's Chromium and a CJK
#                                 font for the browser tests (make test)
#
# Node and npm come from Debian's packages when missing; Chromium too
# (/usr/bin/chromium) — never from a browser download, which these machines
# cannot reach. `npm ci` runs only when package-lock.json changed since the
# last install (a stamp in node_modules), so repeated runs cost nothing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WEB=$ROOT/mobile-api/web
STAMP=$WEB/node_modules/.suiji-lock.sha256

log() { printf 'web: %s\n' "$*"; }
die() {
	printf 'web: ERROR: %s\n' "$*" >&2
	exit 1
}

# apt_install PACKAGE... — Debian packages, as root or through sudo.
apt_install() {
	local sudo=() logfile
	((EUID == 0)) || sudo=(sudo)
	logfile=$(mktemp "${TMPDIR:-/tmp}/suiji-web-apt.XXXXXX")
	log "installing Debian's $* (log $logfile)"
	"${sudo[@]}" apt-get update -qq >"$logfile" 2>&1 || die "apt-get update failed; see $logfile"
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" >>"$logfile" 2>&1 ||
		die "apt-get install $* failed; see $logfile"
}

ensure_node() {
	command -v node >/dev/null && command -v npm >/dev/null && return
	apt_install nodejs npm
}

ensure_packages() {
	ensure_node
	local want have=
	want=$(sha256sum "$WEB/package-lock.json" | cut -d' ' -f1)
	[[ -f $STAMP ]] && have=$(<"$STAMP")
	if [[ $want != "$have" || ! -d $WEB/node_modules ]]; then
		log "npm ci (mobile-api/web/package-lock.json)"
		(cd "$WEB" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
		printf '%s\n' "$want" >"$STAMP"
	fi
}

# copy_vendor — the browser libraries the pages load, from node_modules.
copy_vendor() {
	local nm=$WEB/node_modules out=$WEB/vendor
	install -m 0644 "$nm/chart.js/dist/chart.umd.min.js" "$out/chart.umd.min.js"
	install -m 0644 "$nm/uqr/dist/index.mjs" "$out/uqr.mjs"
	install -m 0644 "$nm/idb/build/index.js" "$out/idb.js"
	install -m 0644 "$nm/hash-wasm/dist/sha256.umd.min.js" "$out/sha256.umd.min.js"
}

ensure_browser() {
	local missing=()
	[[ -x /usr/bin/chromium ]] || missing+=(chromium)
	# Without a CJK font every Chinese character renders as a box in the
	# screenshots (the tests themselves read text, not pixels).
	fc-list :lang=zh 2>/dev/null | grep -q . || missing+=(fonts-wqy-microhei)
	((${#missing[@]} == 0)) || apt_install "${missing[@]}"
}

case ${1:-} in
vendor)
	ensure_packages
	copy_vendor
	;;
browser)
	ensure_packages
	copy_vendor
	ensure_browser
	;;
*)
	die "usage: deploy/local/web.sh vendor|browser"
	;;
esac
