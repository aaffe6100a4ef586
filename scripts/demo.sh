#!/usr/bin/env bash
# make demo: rt's main job on a busybox bundle it builds in a temp dir.
set -euo pipefail
BIN=${1:-$(pwd)/bin}
RT="$BIN/rt"
work=$(mktemp -d /tmp/rt-demo.XXXXXX)
root="$work/state"
rt() { "$RT" --root "$root" "$@"; }
cleanup() {
	for id in $(rt list -q 2>/dev/null); do rt delete --force "$id" || true; done
	rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

echo "rt demo: bundle and state in $work"
scripts/mkrootfs.sh "$work/bundle/rootfs" >/dev/null
step "$RT" --version
step "$RT" config
step "$RT" spec --bundle "$work/bundle"
# The default spec starts an interactive shell on a terminal; the demo runs
# commands without one.
sed -i 's/"terminal": true/"terminal": false/' "$work/bundle/config.json"
set_args() { python3 - "$work/bundle/config.json" "$@" <<'PY'
import json, sys
path, args = sys.argv[1], sys.argv[2:]
c = json.load(open(path))
c["process"]["args"] = args
json.dump(c, open(path, "w"), indent="\t")
PY
}

set_args sh -c 'echo "hello from $(hostname), pid $$, as $(id -un)"; grep -E "^(CapEff|NoNewPrivs)" /proc/self/status; exit 3'
printf '\n\033[1m$ rt run --bundle bundle demo-run   # exits with the container status\033[0m\n'
rt run --bundle "$work/bundle" demo-run || echo "(exit status $?)"

set_args sleep 1000
step rt create --bundle "$work/bundle" --pid-file "$work/pid" demo
step rt list
step rt start demo
step rt state demo
step rt ps --format json demo
step rt kill demo KILL
sleep 0.2
step rt list
step rt delete demo
step sh -c "\"$RT\" features | head -n 12"
