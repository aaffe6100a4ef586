#!/bin/bash
# scripts/install-criu.sh [PREFIX] - make sure a criu that WORKS on this host
# is available and print its path as the last line on stdout. Progress goes
# to stderr, one line per candidate tried.
#
# "Works" means a real dump + restore of a throw-away process (the self-test),
# not only `criu check`: Debian trixie's criu 4.1.1 passes `criu check` on
# kernel 6.18 VMs whose hardware breakpoints do not fire, and then hangs in
# every dump after "Daemon N exited trapping" (CRIU 4.2 detects that and falls
# back). Candidates, the first that passes wins:
#   1. $RT_CRIU, if set (a path or a command name);
#   2. $RT_CRIU_LINK (default /usr/local/sbin/criu), if it exists: normally
#      the link this script made on an earlier run;
#   3. the distribution's /usr/sbin/criu (the package is installed if absent;
#      bookworm's 3.17 fails `criu check` on kernel 6.18: "vdso: Unexpected
#      rt vDSO area bounds");
#   4. each suite of $RT_CRIU_SUITES in order (default "trixie forky sid"),
#      its criu and whole library closure unpacked into PREFIX/<suite>
#      (default PREFIX /opt/rt/criu) with a private apt configuration - the
#      system's apt sources, lists, dpkg database and libraries are never
#      touched - and run through the wrapper PREFIX/<suite>/criu.
# The winner is linked at $RT_CRIU_LINK (atomically; empty: no link).
#
# The self-test result is cached in $RT_CRIU_CACHE/selftest (default
# /var/cache/rt/criu) by the binary's path, size and mtime, criu's version and
# the kernel release, so a warm run costs one `criu --version`. A failed test
# says what happened in one line - a hang (no new log line for
# $RT_CRIU_STALL seconds, default 15, with the log's last line), a crash (the
# signal) or CRIU's own Error lines - and keeps the log under
# $RT_CRIU_CACHE/logs. When nothing works the script fails with one line
# naming every candidate and its reason.
#
# What CRIU needs on this host for later features - NOT done by this script:
#   * lazy pages with a remote page server need `sysctl -w
#     fs.pipe-max-size=4194304` (with the default 1 MiB the dump side fails as
#     soon as the lazy-pages daemon connects: "page-pipe: splice: -1: Bad file
#     descriptor"); local lazy restore works with the default;
#   * the kernel has no soft-dirty tracking (CONFIG_MEM_SOFT_DIRTY off): `criu
#     check --feature mem_dirty_track` fails and pre-dump aborts (criu 4.1:
#     "BUG at criu/mem.c:45"), so incremental dumps are impossible;
#   * every criu run logs a harmless "rlimit: Can't setup RLIMIT_NOFILE for
#     self" (the sandbox lacks CAP_SYS_RESOURCE); the self-test ignores it.
#
# Other environment: RT_CRIU_MIRROR (archive URI; default: from the system's
# apt sources, RT_CRIU_SOURCES822 / RT_CRIU_SOURCESLIST name them),
# RT_APT_UPDATED=1 (set by deps.sh: the system apt lists are fresh).
set -eu

PREFIX=${1:-/opt/rt/criu}
LINK=${RT_CRIU_LINK-/usr/local/sbin/criu}
SUITES=${RT_CRIU_SUITES-trixie forky sid}
CACHE=${RT_CRIU_CACHE:-/var/cache/rt/criu}
STALL=${RT_CRIU_STALL:-15}
export DEBIAN_FRONTEND=noninteractive

log() { printf 'install-criu: %s\n' "$*" >&2; }
die() { printf 'install-criu: ERROR: %s\n' "$*" >&2; exit 1; }

case $PREFIX in
/*) ;;
*) die "PREFIX must be an absolute path, got '$PREFIX'" ;;
esac
case $PREFIX in
*[!A-Za-z0-9/._+-]*) die "PREFIX '$PREFIX' contains unsupported characters" ;;
esac
PREFIX=${PREFIX%/}
[ -n "$PREFIX" ] || die "PREFIX must not be /"
case $STALL in
'' | *[!0-9]* | 0) die "RT_CRIU_STALL must be a positive number of seconds, got '$STALL'" ;;
esac
[ "$(id -u)" = 0 ] || die "must run as root (criu needs it, and so does installing)"
mkdir -p "$CACHE/logs"
# One run at a time: concurrent runs would test and install the same trees.
exec 9>"$CACHE/lock"
flock -w 900 9 || die "timed out waiting for the lock $CACHE/lock"

# ---- cleanup of everything this script creates in /tmp or spawns ----------
CLEAN_DIRS=""
SELFTEST_PID=""
CRIU_PID=""
cleanup() {
	if [ -n "$CRIU_PID" ]; then
		pkill -9 -P "$CRIU_PID" 2>/dev/null || true
		kill -9 "$CRIU_PID" 2>/dev/null || true
	fi
	kill_selftest
	for d in $CLEAN_DIRS; do rm -rf "$d"; done
}
# kill_selftest: kill the self-test's process, if it is still ours.
kill_selftest() {
	if [ -n "$SELFTEST_PID" ] && [ -r "/proc/$SELFTEST_PID/cmdline" ] &&
		tr '\0' ' ' <"/proc/$SELFTEST_PID/cmdline" | grep -q '^sleep 4242 '; then
		kill -9 "$SELFTEST_PID" 2>/dev/null || true
	fi
	SELFTEST_PID=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# run_logged WHAT CMD...: run CMD quietly; on failure show its last lines and die.
run_logged() {
	local what=$1 out
	shift
	out=$(mktemp /tmp/rt-install-criu.XXXXXX.log)
	if ! "$@" </dev/null >"$out" 2>&1; then
		tail -n 5 "$out" | sed 's/^/install-criu:   /' >&2
		rm -f "$out"
		die "$what failed"
	fi
	rm -f "$out"
}

# ---- the "works" check ------------------------------------------------------
# Every check sets REASON (one line) when it fails.
REASON=""

# errors_of LOG: CRIU's Error lines in LOG, timestamps and the harmless
# RLIMIT_NOFILE line dropped, the last two joined.
errors_of() {
	grep -E 'Error|BUG' "$1" 2>/dev/null | grep -v RLIMIT_NOFILE |
		sed -E 's/^\([ 0-9.]+\) //' | tail -n 2 | paste -sd ';' -
}

# last_line LOG: the last line of LOG without its timestamp.
last_line() {
	tail -n 1 "$1" 2>/dev/null | sed -E 's/^\([ 0-9.]+\) //'
}

# criu_check CMD...: `CMD check` exits 0.
criu_check() {
	local out
	if out=$(timeout 60 "$@" check 2>&1 </dev/null); then
		return 0
	fi
	REASON=$(printf '%s\n' "$out" | grep -E 'Error|error|not found|No such' | head -n 3 |
		sed -E 's/^Error \([^)]*\): //' | paste -sd ';' -)
	[ -n "$REASON" ] || REASON=$(printf '%s\n' "$out" | tail -n 1)
	REASON="criu check failed: ${REASON:-no output}"
	return 1
}

# watch STEP LOG KEEP CMD...: run CMD in the background and wait for it,
# killing it when LOG has not grown for $STALL seconds. On failure REASON
# names the hang, the crash or CRIU's errors, and LOG is kept as KEEP.
# CMD runs under a sh that records its status: bash would print a second
# line of its own ("Segmentation fault ...") for a job killed by a signal.
watch() {
	local step=$1 logf=$2 keep=$3 size=-1 now idle=0 rc sig status
	shift 3
	status=$logf.status
	sh -c '"$@"; echo $? >"$0"' "$status" "$@" </dev/null >/dev/null 2>&1 &
	CRIU_PID=$!
	while kill -0 "$CRIU_PID" 2>/dev/null; do
		now=$(stat -c %s "$logf" 2>/dev/null || echo 0)
		if [ "$now" != "$size" ]; then
			size=$now idle=0
		else
			idle=$((idle + 1))
		fi
		if [ "$idle" -ge $((STALL * 5)) ]; then
			pkill -9 -P "$CRIU_PID" 2>/dev/null || true
			kill -9 "$CRIU_PID" 2>/dev/null || true
			wait "$CRIU_PID" 2>/dev/null || true
			CRIU_PID=""
			cp "$logf" "$keep" 2>/dev/null || true
			REASON="criu $step hung: no progress for $STALL s (last log line: $(last_line "$logf"))"
			return 1
		fi
		sleep 0.2
	done
	wait "$CRIU_PID" 2>/dev/null || true
	CRIU_PID=""
	rc=$(cat "$status" 2>/dev/null || echo 255)
	[ "$rc" != 0 ] || return 0
	cp "$logf" "$keep" 2>/dev/null || true
	if [ "$rc" -gt 128 ]; then
		sig=$(kill -l $((rc - 128)) 2>/dev/null || echo $((rc - 128)))
		REASON="criu $step crashed with SIG$sig (last log line: $(last_line "$logf"))"
	else
		REASON="criu $step failed with exit status $rc: $(errors_of "$logf")"
	fi
	return 1
}

# selftest NAME CMD...: a real dump + restore of a throw-away process.
selftest() {
	local name=$1 d pidf i
	shift
	d=$(mktemp -d /tmp/rt-criu-selftest.XXXXXX)
	CLEAN_DIRS="$CLEAN_DIRS $d"
	pidf=$d/pid
	# setsid: own session so --shell-job is not needed for a foreign sid; the
	# pid comes from a file because setsid(1) forks when it is a group leader.
	# A direct child, so this shell reaps it as soon as criu dump kills it (an
	# orphan is reaped by PID 1, here only about once a second, and restore
	# needs the pid free); disowned, so bash prints no "Killed" notice. The
	# lock fd 9 is closed: criu refuses to dump tasks holding file locks.
	setsid sh -c 'echo $$ >"$1"; exec sleep 4242 1000' sh "$pidf" </dev/null >/dev/null 2>&1 9>&- &
	disown $! 2>/dev/null || true
	for i in $(seq 50); do
		[ -s "$pidf" ] && break
		sleep 0.05
	done
	SELFTEST_PID=$(cat "$pidf" 2>/dev/null || true)
	[ -n "$SELFTEST_PID" ] || { REASON="self-test: the test process did not start"; return 1; }
	for i in $(seq 50); do
		grep -q '^sleep' "/proc/$SELFTEST_PID/cmdline" 2>/dev/null && break
		sleep 0.05
	done
	mkdir "$d/img"
	if ! watch dump "$d/img/dump.log" "$CACHE/logs/$name-dump.log" \
		"$@" dump -t "$SELFTEST_PID" -D "$d/img" --shell-job -v4 -o dump.log; then
		kill_selftest
		REASON="$REASON (log: $CACHE/logs/$name-dump.log)"
		return 1
	fi
	for i in $(seq 200); do # up to ~10 s
		[ -e "/proc/$SELFTEST_PID" ] || break
		sleep 0.05
	done
	if [ -e "/proc/$SELFTEST_PID" ]; then
		kill_selftest
		REASON="self-test: pid $SELFTEST_PID still exists after the dump (not killed or not reaped)"
		return 1
	fi
	if ! watch restore "$d/img/restore.log" "$CACHE/logs/$name-restore.log" \
		"$@" restore -D "$d/img" --shell-job -d -v4 -o restore.log; then
		REASON="$REASON (log: $CACHE/logs/$name-restore.log)"
		return 1
	fi
	if ! tr '\0' ' ' <"/proc/$SELFTEST_PID/cmdline" 2>/dev/null | grep -q '^sleep 4242 '; then
		REASON="self-test: the restored process $SELFTEST_PID is not running"
		return 1
	fi
	kill_selftest
	rm -rf "$d"
	return 0
}

# cache_key FILE CMD...: what the self-test result depends on: the file
# (resolved), its size and mtime, criu's version and the kernel release.
cache_key() {
	local f ver
	f=$(readlink -f "$1")
	shift
	ver=$("$@" --version 2>/dev/null | sed -n 's/^Version: //p' | head -n 1)
	printf '%s %s %s %s\n' "$f" "$(stat -c %s:%Y "$f" 2>/dev/null)" "${ver:-unknown}" "$(uname -r)"
}

# works NAME FILE CMD...: criu check and the self-test, or a cached pass.
# FILE is what the cache key follows (the binary or its wrapper).
works() {
	local name=$1 file=$2 key
	shift 2
	key=$(cache_key "$file" "$@")
	if grep -qxF "ok $key" "$CACHE/selftest" 2>/dev/null; then
		return 0
	fi
	# A failure is remembered too: a hang costs $STALL seconds each time.
	REASON=$(grep -F "fail $key	" "$CACHE/selftest" 2>/dev/null | tail -n 1 | cut -f2)
	if [ -n "$REASON" ]; then
		REASON="$REASON (cached: delete $CACHE/selftest to test again)"
		return 1
	fi
	if criu_check "$@"; then
		log "$name: self-test (dump + restore of a sleep process)"
		if selftest "$name" "$@"; then
			printf 'ok %s\n' "$key" >>"$CACHE/selftest"
			return 0
		fi
	fi
	printf 'fail %s\t%s\n' "$key" "$REASON" >>"$CACHE/selftest"
	return 1
}

# Every candidate rejected, for the final error.
TRIED=""
reject() {
	log "$1: rejected: $REASON"
	TRIED="$TRIED${TRIED:+; }$1: $REASON"
}

# accept NAME PATH: the winner; link it and print its path.
accept() {
	local name=$1 path=$2
	if [ -n "$LINK" ] && [ "$path" != "$LINK" ]; then
		if [ -e "$LINK" ] && [ ! -L "$LINK" ]; then
			die "$LINK exists and is not a symlink; refusing to replace it (remove it or set RT_CRIU_LINK)"
		fi
		if [ "$(readlink "$LINK" 2>/dev/null || true)" != "$path" ]; then
			log "linking $LINK -> $path"
			mkdir -p "$(dirname "$LINK")"
			ln -sfn "$path" "$LINK.rt-tmp.$$"
			mv -T "$LINK.rt-tmp.$$" "$LINK"
		fi
		path=$LINK
	fi
	log "using $name ($("$path" --version 2>/dev/null | head -n 1)) at $path"
	printf '%s\n' "$path"
	exit 0
}

# ---- 1. $RT_CRIU, 2. the link ---------------------------------------------------
if [ -n "${RT_CRIU:-}" ]; then
	c=$(command -v "$RT_CRIU" || true)
	if [ -z "$c" ]; then
		REASON="not found"
		reject "RT_CRIU=$RT_CRIU"
	elif works "RT_CRIU" "$c" "$c"; then
		accept "RT_CRIU=$c" "$c"
	else
		reject "RT_CRIU=$c"
	fi
fi
if [ -n "$LINK" ] && [ -x "$LINK" ]; then
	if works link "$LINK" "$LINK"; then
		accept "the linked criu" "$(readlink -f "$LINK")"
	fi
	reject "$LINK"
fi

# ---- 3. the distribution's criu ---------------------------------------------
if [ "$(dpkg-query -W -f='${Status}' criu 2>/dev/null || true)" != "install ok installed" ]; then
	if [ "${RT_APT_UPDATED:-0}" != 1 ]; then
		log "distro criu package missing: apt-get update"
		run_logged "apt-get update" apt-get -q -o DPkg::Lock::Timeout=300 update
	fi
	log "installing the distro criu package"
	run_logged "apt-get install criu" apt-get install -y -q --no-install-recommends \
		-o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold criu
fi
if [ -x /usr/sbin/criu ]; then
	name="distro criu $(dpkg-query -W -f='${Version}' criu 2>/dev/null)"
	if works distro /usr/sbin/criu /usr/sbin/criu; then
		accept "$name" /usr/sbin/criu
	fi
	reject "$name"
fi

# ---- 4. newer Debian suites, each in PREFIX/<suite> -----------------------------
# shellcheck source=scripts/criu-suite.sh
. "$(dirname "$0")/criu-suite.sh"

# An install of this script's earlier versions (one suite, PREFIX/PACKAGES)
# is replaced by the per-suite layout.
if [ -f "$PREFIX/PACKAGES" ] && grep -q '^criu ' "$PREFIX/PACKAGES"; then
	log "removing the single-suite install in $PREFIX (now PREFIX/<suite>)"
	rm -rf "$PREFIX"
fi
for suite in $SUITES; do
	dir=$PREFIX/$suite
	if [ -x "$dir/criu" ] && [ -f "$dir/PACKAGES" ]; then
		name="$suite criu $(sed -n 's/^criu //p' "$dir/PACKAGES")"
		if works "$suite" "$dir/criu" "$dir/criu"; then
			accept "$name" "$dir/criu"
		fi
		reject "$name"
		continue
	fi
	if ! install_suite "$suite" "$dir"; then
		reject "$suite criu"
		continue
	fi
	name="$suite criu $(sed -n 's/^criu //p' "$dir/PACKAGES")"
	if works "$suite" "$dir/criu" "$dir/criu"; then
		accept "$name" "$dir/criu"
	fi
	reject "$name"
done
die "no criu works on this host ($(uname -r)); tried: ${TRIED:-nothing}"
