# shellcheck shell=bash
# scripts/criu-suite.sh - sourced by install-criu.sh: install_suite unpacks a
# Debian suite's criu with its whole library closure into a directory of its
# own, through a private apt configuration (own sources, lists, cache and an
# EMPTY dpkg status, so apt resolves the complete closure; nothing under
# /etc/apt or /var/lib/{apt,dpkg} is written). Downloads are kept under
# $CACHE/apt/<suite>, so a later install of the same suite (a test's fresh
# prefix) fetches only the index.
#
# Uses log, CACHE, CLEAN_DIRS and REASON from install-criu.sh.

# find_mirror: MIRROR and KEYRING from $RT_CRIU_MIRROR or the system's
# apt sources (deb822, else one-line), the first non-security "deb" entry.
find_mirror() {
	local line src822=${RT_CRIU_SOURCES822:-/etc/apt/sources.list.d/debian.sources}
	local srclist=${RT_CRIU_SOURCESLIST:-/etc/apt/sources.list}
	MIRROR=${RT_CRIU_MIRROR:-}
	KEYRING=""
	if [ -n "$MIRROR" ]; then
		:
	elif [ -f "$src822" ]; then
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
			}' "$src822")
		MIRROR=$(printf '%s' "$line" | cut -f1)
		KEYRING=$(printf '%s' "$line" | cut -f2)
	elif [ -f "$srclist" ]; then
		line=$(sed -E 's/#.*//' "$srclist" | awk '
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
	fi
	if [ -z "$MIRROR" ]; then
		REASON="no Debian archive in $src822 or $srclist (set RT_CRIU_MIRROR)"
		return 1
	fi
	case $KEYRING in
	/*) [ -r "$KEYRING" ] || KEYRING="" ;;
	*) KEYRING="" ;; # inline key or none: fall back to the trusted.gpg.d keys
	esac
	if [ -z "$KEYRING" ] && [ -r /usr/share/keyrings/debian-archive-keyring.gpg ]; then
		KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
	fi
}

# apt_tree SUITE A: the private apt configuration of SUITE in A.
apt_tree() {
	local suite=$1 a=$2 arch
	arch=$(dpkg --print-architecture)
	mkdir -p "$a/etc/apt/sources.list.d" "$a/etc/apt/preferences.d" "$a/etc/apt/apt.conf.d" \
		"$a/var/lib/apt/lists/partial" "$a/var/cache/apt/archives/partial" "$a/var/lib/dpkg" \
		"$a/var/log/apt" "$a/debs"
	: >"$a/var/lib/dpkg/status"
	{
		echo "Types: deb"
		echo "URIs: $MIRROR"
		echo "Suites: $suite"
		echo "Components: main"
		[ -z "$KEYRING" ] || echo "Signed-By: $KEYRING"
	} >"$a/etc/apt/sources.list.d/$suite.sources"
	cat >"$a/apt.conf" <<EOF
Dir "$a/";
Dir::State::status "$a/var/lib/dpkg/status";
Dir::Etc::trusted "/etc/apt/trusted.gpg";
Dir::Etc::trustedparts "/etc/apt/trusted.gpg.d";
APT::Architecture "$arch";
APT::Architectures { "$arch"; };
APT::Install-Recommends "false";
APT::Install-Suggests "false";
// The mirror serves frozen snapshots of the newer suites whose Release files
// are past their Valid-Until date; apt would refuse them as expired. Their
// signatures are still checked.
Acquire::Check-Valid-Until "false";
Acquire::Languages "none";
Acquire::IndexTargets::deb::DEP-11::DefaultEnabled "false";
Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled "false";
Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled "false";
Debug::NoLocking "true";
APT::Sandbox::User "root";
EOF
}

# apt_errors LOG: apt's E: (else W:) lines of LOG, joined.
apt_errors() {
	grep -E '^E:' "$1" | head -n 2 | paste -sd ';' - | grep . ||
		grep -E '^W:' "$1" | head -n 2 | paste -sd ';' -
}

# install_suite SUITE DIR: SUITE's criu unpacked into DIR, run by the
# wrapper DIR/criu. On failure REASON says why and DIR is untouched.
install_suite() {
	local suite=$1 dir=$2 a pkgs stage version triplet loader libdir deb
	case $(dpkg --print-architecture) in
	amd64) triplet=x86_64-linux-gnu loader=ld-linux-x86-64.so.2 ;;
	arm64) triplet=aarch64-linux-gnu loader=ld-linux-aarch64.so.1 ;;
	*) REASON="unsupported architecture $(dpkg --print-architecture) (only amd64 and arm64)"; return 1 ;;
	esac
	libdir=usr/lib/$triplet
	[ -n "${MIRROR:-}" ] || find_mirror || return 1
	a=$CACHE/apt/$suite
	apt_tree "$suite" "$a"
	log "$suite: apt-get update of a private index (archive $MIRROR)"
	if ! APT_CONFIG=$a/apt.conf apt-get -q update >"$a/update.log" 2>&1 || grep -q '^E:' "$a/update.log"; then
		REASON="apt-get update of $suite failed: $(apt_errors "$a/update.log")"
		return 1
	fi
	if ! APT_CONFIG=$a/apt.conf apt-get -s -q install criu >"$a/sim.log" 2>&1; then
		REASON="apt cannot resolve criu in $suite: $(apt_errors "$a/sim.log")"
		return 1
	fi
	pkgs=$(awk '/^Inst /{ v = $3; sub(/^\(/, "", v); print $2 "=" v }' "$a/sim.log")
	if ! printf '%s\n' "$pkgs" | grep -q '^criu='; then
		REASON="criu is not among the packages apt would install from $suite"
		return 1
	fi
	log "$suite: downloading $(printf '%s\n' "$pkgs" | wc -l) packages (kept in $a/debs)"
	rm -f "$a"/debs/*.deb.tmp
	# shellcheck disable=SC2086 # word splitting of the package list is intended
	if ! (cd "$a/debs" && APT_CONFIG=$a/apt.conf apt-get -q download $pkgs >"$a/download.log" 2>&1); then
		REASON="apt-get download from $suite failed: $(apt_errors "$a/download.log")"
		return 1
	fi
	stage=$dir.new.$$
	CLEAN_DIRS="$CLEAN_DIRS $stage"
	rm -rf "$stage"
	mkdir -p "$stage"
	# Only the versions just resolved: the cache may hold older ones.
	: >"$stage/PACKAGES.unsorted"
	for p in $pkgs; do
		deb=$(ls "$a/debs/${p%%=*}_$(printf '%s' "${p#*=}" | sed 's/:/%3a/')"_*.deb 2>/dev/null | head -n 1)
		if [ -z "$deb" ] || ! dpkg-deb -x "$deb" "$stage"; then
			REASON="unpacking $p from $suite failed"
			return 1
		fi
		echo "${p%%=*} ${p#*=}" >>"$stage/PACKAGES.unsorted"
	done
	sort "$stage/PACKAGES.unsorted" >"$stage/PACKAGES"
	rm "$stage/PACKAGES.unsorted"
	if [ ! -x "$stage/usr/sbin/criu" ] || [ ! -e "$stage/$libdir/$loader" ]; then
		REASON="the packages of $suite hold no usr/sbin/criu or $libdir/$loader"
		return 1
	fi
	version=$(sed -n 's/^criu //p' "$stage/PACKAGES")
	cat >"$stage/criu" <<EOF
#!/bin/sh
# criu $version from Debian $suite, installed by rt's scripts/install-criu.sh
# (package list: $dir/PACKAGES). criu runs under $suite's own dynamic loader
# with --library-path instead of LD_LIBRARY_PATH, so the programs criu
# executes (ip, iptables-restore, tar, action scripts) keep the host libraries.
exec '$dir/$libdir/$loader' --library-path '$dir/$libdir' '$dir/usr/sbin/criu' "\$@"
EOF
	chmod 755 "$stage/criu"
	mkdir -p "$(dirname "$dir")"
	rm -rf "$dir.old.$$"
	[ ! -e "$dir" ] || mv -T "$dir" "$dir.old.$$"
	mv -T "$stage" "$dir"
	rm -rf "$dir.old.$$"
	log "$suite: unpacked criu $version into $dir ($(wc -l <"$dir/PACKAGES") packages)"
}
