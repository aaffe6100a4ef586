#!/usr/bin/env bash
# make demo: show rt on a busybox bundle it builds in a temp dir.
set -euo pipefail
BIN=${1:-$(pwd)/bin}
RT="$BIN/rt"
work=$(mktemp -d /tmp/rt-demo.XXXXXX)
root="$work/state"
cleanup() {
	for id in $("$RT" --root "$root" list -q 2>/dev/null); do "$RT" --root "$root" delete --force "$id" || true; done
	rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

echo "rt demo — bundle and state in $work"
scripts/mkrootfs.sh "$work/bundle/rootfs" >/dev/null
step "$RT" --version
step "$RT" config
step "$RT" spec --bundle "$work/bundle"
step head -n 12 "$work/bundle/config.json"
step sh -c "\"$RT\" features | head -n 12"
step "$RT" --root "$root" list
step "$RT" --root "$root" state demo || true
