#!/bin/bash
# scripts/install-criu.sh [PREFIX] - make sure a WORKING criu is available and
# print its path as the last line on stdout. Progress goes to stderr.
#
# Order (the first criu that passes the "works" check below wins):
#   1. $RT_CRIU, if set (a path or a command name);
#   2. /usr/local/sbin/criu (normally the wrapper this script installs);
#   3. the distro /usr/sbin/criu (the Debian "criu" package is installed first
#      if absent);
#   4. otherwise Debian trixie's criu (4.x) and its whole library closure are
#      unpacked into PREFIX (default /opt/rt/criu) with a private apt
#      configuration - the system's apt sources, lists, dpkg database and
#      libraries are not touched - and /usr/local/sbin/criu is made a symlink
#      to the wrapper PREFIX/criu. If PREFIX/criu already exists and works it
#      is reused as is. The package list goes to PREFIX/PACKAGES.
#
# "Works" check: `criu check` must exit 0. Debian bookworm's criu 3.17 fails on
# kernel 6.18 while initialising kerndat (before any command runs):
#     Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds
#     Error (criu/vdso.c:613): vdso: Failed to fill self vdso symtable
#     Error (criu/kerndat.c:1615): kerndat_vdso_fill_symtable failed when initializing kerndat.
# `criu check` runs exactly that initialisation (and the essential kernel
# feature checks) in ~50 ms, so it catches it; `criu --version` does NOT (it
# succeeds with the broken 3.17). criu 4.1.1 from trixie passes `criu check`
# and real dump/restore on this kernel. After a fresh install (or with
# RT_CRIU_SELFTEST=1) a real dump + restore of a throw-away `sleep` is done too.
# Note: criu caches kerndat in /run/criu.kdat only when /run is a tmpfs; it is
# not on these hosts ("Can't keep kdat cache on non-tempfs"), so every
# `criu check` re-detects.
#
# What else CRIU needs on this host (kernel 6.18, sandbox without
# CAP_SYS_RESOURCE) for later features - NOT done by this script:
#   * Lazy pages with a remote page server (`criu dump --lazy-pages` +
#     `criu lazy-pages --page-server` + `criu restore --lazy-pages`) need
#         sysctl -w fs.pipe-max-size=4194304
#     (default 1048576). With 1 MiB or 2 MiB the dump side fails as soon as the
#     lazy-pages daemon connects:
#         Error (criu/page-pipe.c:424): page-pipe: splice: -1: Bad file descriptor
#         Error (criu/cr-dump.c:2019): Lazy pages transfer FAILED.
#     The kernel rounds the value up to a power-of-two number of pages, so any
#     value above 2 MiB becomes 4 MiB; 4194304 worked for 4 MiB and 256 MiB
#     processes. Local lazy restore (plain dump, then `criu lazy-pages -D dir`
#     + `criu restore --lazy-pages`) works with the default. uffd and
#     uffd-noncoop are supported.
#   * The kernel has no soft-dirty tracking (CONFIG_MEM_SOFT_DIRTY off), so
#     incremental dumps are impossible:
#       `criu check --feature mem_dirty_track` exits 1 with
#         Warn  (criu/cr-check.c:824): Dirty tracking is OFF. Memory snapshot will not work.
#       `criu pre-dump -t PID -D DIR --shell-job` aborts (SIGABRT, exit 134)
#       and leaves the task running:
#         Error (criu/mem.c:45): BUG at criu/mem.c:45
#       (also with --pre-dump-mode=read), and `criu dump --track-mem` exits 1:
#         Error (criu/config.c:1128): Tracking memory is not available. Consider omitting --track-mem option.
#   * Every criu run logs (harmless) "Error (criu/util.c:1533): rlimit: Can't
#     setup RLIMIT_NOFILE for self: Operation not permitted" because the
#     sandbox lacks CAP_SYS_RESOURCE; dump/restore still succeed.
#   * `criu check --all` reports only mem_dirty_track and apparmor_stacking as
#     missing.
#
# Environment: RT_CRIU (criu to try first), RT_CRIU_SELFTEST=1 (always do the
# dump/restore self-test), RT_CRIU_SUITE (default trixie), RT_CRIU_MIRROR
# (archive URI; default: taken from the system's apt sources),
# RT_CRIU_LINK (default /usr/local/sbin/criu; empty = do not create the link),
# RT_CRIU_SOURCES822 / RT_CRIU_SOURCESLIST (where to look for the archive URI;
# default /etc/apt/sources.list.d/debian.sources, then /etc/apt/sources.list),
# RT_APT_UPDATED=1 (set by deps.sh: the system apt lists are fresh).
set -eu

PREFIX=${1:-/opt/rt/criu}
LINK=${RT_CRIU_LINK-/usr/local/sbin/criu}
SUITE=${RT_CRIU_SUITE:-trixie}
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
[ "$(id -u)" = 0 ] || die "must run as root (criu needs it, and so does installing)"

# ---- cleanup of everything this script creates in /tmp or spawns ----------
CLEAN_DIRS=""
SELFTEST_PID=""
cleanup() {
	if [ -n "$SELFTEST_PID" ] && [ -r "/proc/$SELFTEST_PID/cmdline" ] &&
		tr '\0' ' ' <"/proc/$SELFTEST_PID/cmdline" | grep -q '^sleep 4242 '; then
		kill -9 "$SELFTEST_PID" 2>/dev/null || true
	fi
	for d in $CLEAN_DIRS; do rm -rf "$d"; done
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
CHECK_ERR=""
# criu_works CMD...: true if `CMD check` exits 0; else the reason in CHECK_ERR.
criu_works() {
	local out
	if out=$(timeout 60 "$@" check 2>&1 </dev/null); then
		return 0
	fi
	CHECK_ERR=$(printf '%s\n' "$out" | grep -E 'Error|error|not found|No such' | head -n 3 |
		sed -E 's/^Error \([^)]*\): //' | paste -sd ';' -)
	[ -n "$CHECK_ERR" ] || CHECK_ERR=$(printf '%s\n' "$out" | tail -n 1)
	[ -n "$CHECK_ERR" ] || CHECK_ERR="criu check failed with no output"
	return 1
}

# criu_selftest CMD...: real dump + restore of a throw-away process.
criu_selftest() {
	local d pidf i
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
	[ -n "$SELFTEST_PID" ] || { CHECK_ERR="self-test: test process did not start"; return 1; }
	for i in $(seq 50); do
		grep -q '^sleep' "/proc/$SELFTEST_PID/cmdline" 2>/dev/null && break
		sleep 0.05
	done
	mkdir "$d/img"
	if ! timeout 60 "$@" dump -t "$SELFTEST_PID" -D "$d/img" --shell-job -o dump.log </dev/null >/dev/null 2>&1; then
		CHECK_ERR="self-test dump failed: $(grep -E 'Error' "$d/img/dump.log" 2>/dev/null | grep -v RLIMIT_NOFILE | tail -n 2 | paste -sd ';' -)"
		return 1
	fi
	for i in $(seq 200); do # up to ~10 s
		[ -e "/proc/$SELFTEST_PID" ] || break
		sleep 0.05
	done
	if [ -e "/proc/$SELFTEST_PID" ]; then
		CHECK_ERR="self-test: pid $SELFTEST_PID still exists after dump (not killed or not reaped)"
		return 1
	fi
	if ! timeout 60 "$@" restore -D "$d/img" --shell-job -d -o restore.log </dev/null >/dev/null 2>&1; then
		CHECK_ERR="self-test restore failed: $(grep -E 'Error' "$d/img/restore.log" 2>/dev/null | grep -v RLIMIT_NOFILE | tail -n 2 | paste -sd ';' -)"
		return 1
	fi
	if ! tr '\0' ' ' <"/proc/$SELFTEST_PID/cmdline" 2>/dev/null | grep -q '^sleep 4242 '; then
		CHECK_ERR="self-test: restored process $SELFTEST_PID is not running"
		return 1
	fi
	kill -9 "$SELFTEST_PID" 2>/dev/null || true
	SELFTEST_PID=""
	rm -rf "$d"
	return 0
}

# accept NAME CMD...: the winning criu; optional self-test; print its path.
accept() {
	local name=$1
	shift
	if [ "${RT_CRIU_SELFTEST:-0}" = 1 ]; then
		log "self-test: dump + restore of a sleep process with $name"
		criu_selftest "$@" || die "$name passes 'criu check' but $CHECK_ERR"
	fi
	log "using $name ($("$@" --version 2>/dev/null | head -n 1))"
	printf '%s\n' "$1"
	exit 0
}

# ---- 1. $RT_CRIU ------------------------------------------------------------
if [ -n "${RT_CRIU:-}" ]; then
	c=$(command -v "$RT_CRIU" || true)
	if [ -z "$c" ]; then
		log "RT_CRIU=$RT_CRIU not found, trying the next candidate"
	elif criu_works "$c"; then
		accept "RT_CRIU=$c" "$c"
	else
		log "RT_CRIU=$c does not work ($CHECK_ERR), trying the next candidate"
	fi
fi

# ---- 2. /usr/local/sbin/criu ------------------------------------------------
if [ -n "$LINK" ] && [ -x "$LINK" ]; then
	if criu_works "$LINK"; then
		accept "$LINK" "$LINK"
	fi
	log "$LINK does not work ($CHECK_ERR)"
fi

# ---- 3. distro criu -----------------------------------------------------------
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
	if criu_works /usr/sbin/criu; then
		accept /usr/sbin/criu /usr/sbin/criu
	fi
	log "distro /usr/sbin/criu ($(/usr/sbin/criu --version 2>/dev/null | sed -n 's/^Version: //p')) does not work: $CHECK_ERR"
fi

# ---- 4. trixie criu in PREFIX ---------------------------------------------------
arch=$(dpkg --print-architecture)
case $arch in
amd64) TRIPLET=x86_64-linux-gnu LOADER=ld-linux-x86-64.so.2 ;;
arm64) TRIPLET=aarch64-linux-gnu LOADER=ld-linux-aarch64.so.1 ;;
*) die "unsupported architecture '$arch' (only amd64 and arm64)" ;;
esac
LIBDIR=usr/lib/$TRIPLET

# link_and_accept: point $LINK at PREFIX/criu (atomically) and print the result.
link_and_accept() {
	if [ -n "$LINK" ]; then
		if [ -e "$LINK" ] && [ ! -L "$LINK" ]; then
			die "$LINK exists and is not a symlink; refusing to replace it (remove it or set RT_CRIU_LINK)"
		fi
		if [ "$(readlink "$LINK" 2>/dev/null || true)" != "$PREFIX/criu" ]; then
			log "linking $LINK -> $PREFIX/criu"
			mkdir -p "$(dirname "$LINK")"
			ln -sfn "$PREFIX/criu" "$LINK.rt-tmp.$$"
			mv -T "$LINK.rt-tmp.$$" "$LINK"
		fi
		criu_works "$LINK" || die "$LINK does not work after linking: $CHECK_ERR"
		accept "$LINK" "$LINK"
	fi
	accept "$PREFIX/criu" "$PREFIX/criu"
}

if [ -f "$PREFIX/criu" ] && [ -x "$PREFIX/criu" ]; then
	if criu_works "$PREFIX/criu"; then
		log "$PREFIX/criu already installed and works"
		link_and_accept
	fi
	log "existing $PREFIX/criu does not work ($CHECK_ERR); reinstalling"
fi

# Never replace a directory that is not a previous install of ours.
if [ -e "$PREFIX" ] && [ -n "$(ls -A "$PREFIX" 2>/dev/null)" ] &&
	! grep -q '^criu ' "$PREFIX/PACKAGES" 2>/dev/null; then
	die "$PREFIX exists, is not empty and has no PACKAGES list from this script; refusing to replace it"
fi

# Serialise concurrent installs into the same PREFIX.
mkdir -p "$(dirname "$PREFIX")"
LOCK=/run/lock
[ -d "$LOCK" ] && [ -w "$LOCK" ] || LOCK=/tmp
LOCK=$LOCK/rt-install-criu.$(printf '%s' "$PREFIX" | tr / _).lock
exec 9>"$LOCK"
flock -w 600 9 || die "timed out waiting for the lock $LOCK"
if [ -x "$PREFIX/criu" ] && criu_works "$PREFIX/criu"; then
	log "$PREFIX/criu was installed meanwhile by another run"
	link_and_accept
fi

# Find the Debian archive URI (and its keyring) in the system's apt sources.
MIRROR=${RT_CRIU_MIRROR:-}
KEYRING=""
SOURCES822=${RT_CRIU_SOURCES822:-/etc/apt/sources.list.d/debian.sources}
SOURCESLIST=${RT_CRIU_SOURCESLIST:-/etc/apt/sources.list}
if [ -z "$MIRROR" ]; then
	if [ -f "$SOURCES822" ]; then
		# deb822: first enabled "deb" stanza that is not the security archive
		line=$(awk 'BEGIN { RS = ""; FS = "\n" }
			{
				types = ""; uris = ""; signed = ""; enabled = "yes"
				for (i = 1; i <= NF; i++) {
					if ($i ~ /^[ \t]*#/) continue
					if (match($i, /^[Tt]ypes:[ \t]*/)) types = substr($i, RLENGTH + 1)
					else if (match($i, /^URIs:[ \t]*/)) uris = substr($i, RLENGTH + 1)
					else if (match($i, /^Signed-By:[ \t]*/)) signed = substr($i, RLENGTH + 1)
					else if (match($i, /^Enabled:[ \t]*/)) enabled = tolower(substr($i, RLENGTH + 1))
				}
				if (enabled == "no" || (" " types " ") !~ / deb /) next
				split(uris, u, /[ \t]+/)
				if (u[1] == "" || u[1] ~ /security/) next
				print u[1] "\t" signed
				exit
			}' "$SOURCES822")
		MIRROR=$(printf '%s' "$line" | cut -f1)
		KEYRING=$(printf '%s' "$line" | cut -f2)
		[ -n "$MIRROR" ] || die "no usable 'Types: deb' stanza (non-security) in $SOURCES822"
	elif [ -f "$SOURCESLIST" ]; then
		# classic one-line format: deb [opts] URI suite components
		line=$(sed -E 's/#.*//' "$SOURCESLIST" | awk '
			$1 != "deb" { next }
			{
				opts = ""; i = 2
				if ($2 ~ /^\[/) {
					while (i <= NF) { opts = opts " " $i; if ($i ~ /\]$/) { i++; break } i++ }
				}
				uri = $i
				if (uri == "" || uri ~ /security/) next
				signed = ""
				if (match(opts, /signed-by=[^] ]+/)) signed = substr(opts, RSTART + 10, RLENGTH - 10)
				print uri "\t" signed
				exit
			}')
		MIRROR=$(printf '%s' "$line" | cut -f1)
		KEYRING=$(printf '%s' "$line" | cut -f2)
		[ -n "$MIRROR" ] || die "no usable 'deb' line (non-security) in $SOURCESLIST"
	else
		die "no Debian apt sources: neither $SOURCES822 nor $SOURCESLIST exists (set RT_CRIU_MIRROR)"
	fi
fi
case $KEYRING in
/*) [ -r "$KEYRING" ] || KEYRING="" ;;
*) KEYRING="" ;; # inline key or none: fall back to the trusted.gpg.d keys
esac
if [ -z "$KEYRING" ] && [ -r /usr/share/keyrings/debian-archive-keyring.gpg ]; then
	KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
fi
log "criu from the system does not work; installing Debian $SUITE criu into $PREFIX (archive $MIRROR)"

# Private apt tree: own sources, lists, cache and an EMPTY dpkg status, so
# apt resolves criu's complete dependency closure; nothing under /etc/apt or
# /var/lib/{apt,dpkg} is written.
A=$(mktemp -d /tmp/rt-criu-apt.XXXXXX)
CLEAN_DIRS="$CLEAN_DIRS $A"
mkdir -p "$A/etc/apt/sources.list.d" "$A/etc/apt/preferences.d" "$A/etc/apt/apt.conf.d" \
	"$A/var/lib/apt/lists/partial" "$A/var/cache/apt/archives/partial" "$A/var/lib/dpkg" \
	"$A/var/log/apt" "$A/debs"
: >"$A/var/lib/dpkg/status"
{
	echo "Types: deb"
	echo "URIs: $MIRROR"
	echo "Suites: $SUITE"
	echo "Components: main"
	[ -z "$KEYRING" ] || echo "Signed-By: $KEYRING"
} >"$A/etc/apt/sources.list.d/$SUITE.sources"
cat >"$A/apt.conf" <<EOF
Dir "$A/";
Dir::State::status "$A/var/lib/dpkg/status";
Dir::Etc::trusted "/etc/apt/trusted.gpg";
Dir::Etc::trustedparts "/etc/apt/trusted.gpg.d";
APT::Architecture "$arch";
APT::Architectures { "$arch"; };
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
Acquire::IndexTargets::deb::DEP-11::DefaultEnabled "false";
Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled "false";
Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled "false";
Debug::NoLocking "true";
APT::Sandbox::User "root";
EOF

log "apt-get update of the private $SUITE index"
if ! APT_CONFIG=$A/apt.conf apt-get -q update >"$A/update.log" 2>&1; then
	die "apt-get update for $SUITE failed: $(grep -E '^(E|W):' "$A/update.log" | head -n 2 | paste -sd ';' -)"
fi
if grep -q '^E:' "$A/update.log"; then
	die "apt-get update for $SUITE reported: $(grep '^E:' "$A/update.log" | head -n 2 | paste -sd ';' -)"
fi

log "resolving criu's dependency closure in $SUITE"
APT_CONFIG=$A/apt.conf apt-get -s -q install criu >"$A/sim.log" 2>&1 ||
	die "apt cannot resolve criu in $SUITE: $(grep '^E:' "$A/sim.log" | head -n 2 | paste -sd ';' -)"
pkgs=$(awk '/^Inst /{ v = $3; sub(/^\(/, "", v); print $2 "=" v }' "$A/sim.log")
printf '%s\n' "$pkgs" | grep -q '^criu=' || die "criu is not among the packages apt would install from $SUITE"

log "downloading $(printf '%s\n' "$pkgs" | wc -l) packages"
# shellcheck disable=SC2086 # word splitting of the package list is intended
(cd "$A/debs" && APT_CONFIG=$A/apt.conf apt-get -q download $pkgs >"$A/download.log" 2>&1) ||
	die "apt-get download failed: $(grep -E '^(E|W):' "$A/download.log" | head -n 2 | paste -sd ';' -)"

STAGE=$PREFIX.new.$$
CLEAN_DIRS="$CLEAN_DIRS $STAGE"
rm -rf "$STAGE"
mkdir -p "$STAGE"
log "unpacking into $STAGE"
for deb in "$A"/debs/*.deb; do
	dpkg-deb -x "$deb" "$STAGE" || die "dpkg-deb -x $deb failed"
done
for deb in "$A"/debs/*.deb; do
	dpkg-deb -f "$deb" Package Version | awk -F': ' '{ printf "%s%s", (NR > 1 ? " " : ""), $2 } END { print "" }'
done | sort >"$STAGE/PACKAGES"
[ -x "$STAGE/usr/sbin/criu" ] || die "the unpacked packages contain no usr/sbin/criu"
[ -e "$STAGE/$LIBDIR/$LOADER" ] || die "the unpacked packages contain no $LIBDIR/$LOADER"

version=$(sed -n 's/^criu //p' "$STAGE/PACKAGES")
cat >"$STAGE/criu" <<EOF
#!/bin/sh
# criu $version from Debian $SUITE, installed by rt's scripts/install-criu.sh
# (package list: $PREFIX/PACKAGES). criu runs under $SUITE's own dynamic loader
# with --library-path instead of LD_LIBRARY_PATH, so the programs criu
# executes (ip, iptables-restore, tar, action scripts) keep the host libraries.
exec '$PREFIX/$LIBDIR/$LOADER' --library-path '$PREFIX/$LIBDIR' '$PREFIX/usr/sbin/criu' "\$@"
EOF
chmod 755 "$STAGE/criu"

log "checking the unpacked criu $version (criu check, then a dump + restore self-test)"
criu_works "$STAGE/$LIBDIR/$LOADER" --library-path "$STAGE/$LIBDIR" "$STAGE/usr/sbin/criu" ||
	die "criu $version from $SUITE does not work either: $CHECK_ERR"
criu_selftest "$STAGE/$LIBDIR/$LOADER" --library-path "$STAGE/$LIBDIR" "$STAGE/usr/sbin/criu" ||
	die "criu $version from $SUITE passes 'criu check' but $CHECK_ERR"

# Swap the new tree in; the old one (if any) is removed only afterwards.
if [ -e "$PREFIX" ]; then
	OLD=$PREFIX.old.$$
	CLEAN_DIRS="$CLEAN_DIRS $OLD"
	mv -T "$PREFIX" "$OLD"
fi
mv -T "$STAGE" "$PREFIX"
log "installed criu $version into $PREFIX ($(wc -l <"$PREFIX/PACKAGES") packages, see $PREFIX/PACKAGES)"

criu_works "$PREFIX/criu" || die "$PREFIX/criu does not work: $CHECK_ERR"
RT_CRIU_SELFTEST=0 # just done on the unpacked tree
link_and_accept
