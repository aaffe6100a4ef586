#!/bin/bash
# scripts/deps.sh - install the Debian packages rt needs (build, tests, the
# runtimes it is compared with, and CRIU), then make sure a working criu exists
# via scripts/install-criu.sh, whose last stdout line (the criu path) is also
# ours. Non-interactive and idempotent: when everything is present it runs one
# dpkg-query plus one `criu check` (well under a second) and never touches apt.
#
# Podman: what `podman run --runtime X` needs on these hosts (root, cgroup v1
# hybrid, no systemd), found with strace -f -e execve:
#   --network none : podman, conmon, an OCI runtime, and the config files
#                    from golang-github-containers-common (its dependency
#                    golang-github-containers-image comes along);
#   default bridge : + netavark (golang-github-containers-common depends on
#                    the virtual container-network-stack; naming netavark
#                    avoids apt choosing) + iptables (netavark's firewall);
#   --init         : + catatonit.
# uidmap (newuidmap/newgidmap) is for rootless containers with more than the
# user's own id (test/rootless); slirp4netns, fuse-overlayfs,
# dbus-user-session and buildah are extra tools and are not installed. Two
# host quirks:
#   * the sandbox lacks CAP_SYS_RESOURCE, so podman's default root rlimits
#     (RLIMIT_NOFILE/RLIMIT_NPROC 1048576) fail in the runtime with
#     "error setting rlimit type 7: operation not permitted"; pass e.g.
#     `--ulimit nofile=1024:1024 --ulimit nproc=1024:1024`;
#   * crun 1.8.1 refuses this cgroup hybrid layout ("cgroups in hybrid mode
#     not supported, drop all controllers from cgroupv2"); runc works.
#
# dbus-daemon: the systemd cgroup driver's tests (pkg/cgroups) put a fake
# systemd on a private bus, started with dbus-daemon. Debian 12 split the
# daemon out of the "dbus" package into "dbus-daemon"; which of the two a
# release has is known only from apt's lists, so it is checked for by its
# command (a shell builtin: no cost when present) and named after
# apt-get update.
#
# CRIU prerequisites installed here: the distro criu package (install-criu.sh
# tries it first; bookworm's 3.17 is broken on kernel 6.18, so newer Debian
# suites' criu are then unpacked under /opt/rt/criu/<suite> until one passes a
# real dump + restore), debian-archive-keyring (verifies the suites' indexes),
# iptables (criu's default network locking), iproute2 (criu runs `ip` to
# save/restore network namespaces). See install-criu.sh for the host limits
# (fs.pipe-max-size for lazy pages, no soft-dirty/pre-dump).
set -eu

log() { printf 'deps: %s\n' "$*" >&2; }
die() { printf 'deps: ERROR: %s\n' "$*" >&2; exit 1; }

PKGS="
runc crun containerd
podman conmon golang-github-containers-common netavark iptables catatonit
busybox-static uidmap containernetworking-plugins
libseccomp-dev pkg-config gcc libc6-dev
iproute2 procps
criu debian-archive-keyring
"

[ "$(id -u)" = 0 ] || die "must run as root (apt-get install)"
command -v dpkg-query >/dev/null || die "dpkg-query not found: this script is for Debian"
here=$(cd "$(dirname "$0")" && pwd)
[ -x "$here/install-criu.sh" ] || die "$here/install-criu.sh is missing or not executable"

# shellcheck disable=SC2086 # the list is split on purpose
set -- $PKGS
log "checking $# packages with dpkg-query"
# shellcheck disable=SC2016 # ${...} is dpkg-query's syntax, not the shell's
status=$(dpkg-query -W -f='${Package}\t${Status}\n' "$@" 2>/dev/null || true)
# is_installed PKG: true if dpkg-query reported PKG as "install ok installed"
NL=$'\n' TAB=$'\t'
is_installed() {
	case "$NL$status$NL" in
	*"$NL$1${TAB}install ok installed$NL"*) return 0 ;;
	esac
	return 1
}
missing=""
for p in "$@"; do
	is_installed "$p" || missing="$missing $p"
done

need_dbus=""
command -v dbus-daemon >/dev/null || need_dbus=1
dbus_pkg=""

if [ -n "$missing" ] || [ -n "$need_dbus" ]; then
	export DEBIAN_FRONTEND=noninteractive
	out=$(mktemp /tmp/rt-deps.XXXXXX.log)
	trap 'rm -f "$out"' EXIT # on failure; removed by hand before the exec below
	[ -z "$missing" ] || log "missing:$missing"
	[ -z "$need_dbus" ] || log "missing: the dbus-daemon command"
	log "apt-get update"
	if ! apt-get -q -o DPkg::Lock::Timeout=300 update </dev/null >"$out" 2>&1; then
		tail -n 5 "$out" | sed 's/^/deps:   /' >&2
		die "apt-get update failed"
	fi
	if [ -n "$need_dbus" ]; then
		dbus_pkg=dbus # before Debian 12
		if apt-cache show dbus-daemon >/dev/null 2>&1; then
			dbus_pkg=dbus-daemon
		fi
		missing="$missing $dbus_pkg"
	fi
	log "apt-get install --no-install-recommends:$missing"
	# shellcheck disable=SC2086
	if ! apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
		$missing </dev/null >"$out" 2>&1; then
		tail -n 8 "$out" | sed 's/^/deps:   /' >&2
		die "apt-get install failed for:$missing"
	fi
	# shellcheck disable=SC2016,SC2086 # dpkg-query's ${...}; $dbus_pkg is empty or one name
	status=$(dpkg-query -W -f='${Package}\t${Status}\n' "$@" $dbus_pkg 2>/dev/null || true)
	for p in $missing; do
		is_installed "$p" || die "$p is still not installed after apt-get install"
	done
	command -v dbus-daemon >/dev/null || die "no dbus-daemon command after installing $dbus_pkg"
	rm -f "$out"
	export RT_APT_UPDATED=1
	log "installed:$missing"
else
	log "all $# packages already installed"
fi

# checkpointctl, podman's and Kubernetes' checkpoint archive reader: the
# archive test (test/checkpoint/archive_test.go) checks with it that rt's
# archives are readable, and skips that check without it. Pinned: @latest
# (v1.7.0) needs go-criu/v8 v8.5.0, which the Go module proxy refuses (403);
# v1.3.0 builds. Only with go on PATH, once (a present checkpointctl costs a
# `command -v`); a failed build is a warning, never an error. Its output
# goes to stderr: stdout's last line is install-criu.sh's.
CHECKPOINTCTL_VERSION=v1.3.0
if ! command -v checkpointctl >/dev/null && command -v go >/dev/null; then
	log "go install checkpointctl@$CHECKPOINTCTL_VERSION into /usr/local/bin"
	if ! (cd / && GOBIN=/usr/local/bin go install "github.com/checkpoint-restore/checkpointctl@$CHECKPOINTCTL_VERSION") >&2; then
		log "WARNING: checkpointctl did not build: the archive test will not use it"
	fi
fi

# crictl (cri-tools), kubelet's CRI client: test/cri drives pods through
# containerd's CRI plugin with it. Not packaged in bookworm; v1.34.0 builds
# with this Go and speaks CRI v1, which Debian's containerd 1.6 serves.
# Unlike checkpointctl it is required: a failed build is an error.
CRICTL_VERSION=v1.34.0
if ! crictl --version 2>/dev/null | grep -qx "crictl version $CRICTL_VERSION"; then
	command -v go >/dev/null || die "go is needed to build crictl $CRICTL_VERSION"
	log "go install crictl@$CRICTL_VERSION into /usr/local/bin"
	(cd / && GOBIN=/usr/local/bin go install -ldflags "-X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" \
		"sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION") >&2 ||
		die "crictl $CRICTL_VERSION did not build"
fi

log "ensuring a working criu (scripts/install-criu.sh)"
exec "$here/install-criu.sh"
