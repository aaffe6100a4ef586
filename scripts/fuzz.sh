#!/bin/sh
# fuzz.sh runs every native Go fuzz target of pkg/ (a `func FuzzX(f
# *testing.F)` in a _test.go, found here with grep, so the list is the
# code's) for FUZZTIME each, one after the other: `go test -fuzz` takes one
# target of one package per run. It goes on after a failure and lists the
# failed targets at the end. A failure leaves its input in the package's
# testdata/fuzz/FuzzX/: fix the code, then commit the file as a regression
# seed (plain `go test` runs it).
#
# Usage: scripts/fuzz.sh [-l] [REGEXP]
#   -l      list the targets ("./pkg/dir FuzzX") instead of running them
#   REGEXP  only the targets whose line matches (grep -E), such as "store|Inspect"
# Environment: GO (go), FUZZTIME (60s), FUZZMINIMIZETIME (200x),
# FUZZFLAGS (more go test flags, such as "-parallel 1" on a shared host),
# FUZZMERGE (1; 0 skips the merge below).
#
# At the end, test/fuzzmerge folds what the fuzzer added to its corpus in
# the build cache into testdata/fuzz/, keeping only inputs that cover
# something the seeds and smaller inputs do not: commit them, and the next
# run (anyone's) starts from there.
#
# FUZZMINIMIZETIME bounds the minimizing of each new input, in runs of the
# target: go's default, 60s, let FuzzParse spend a whole run minimizing its
# first find (a config.json seed of a few KB) without running anything
# else, and even 1s left FuzzInspectImage (a millisecond a run) a tenth of
# its time for new inputs. A crash's input is minimized within the same
# bound.
#
# Go 1.26's fuzzing can fail a run that found nothing with "context
# deadline exceeded" as -fuzztime ends (golang/go#75804, fixed in 1.27): a
# run that fails so and saves no input is reported, not counted as failed.
set -eu
cd "$(dirname "$0")/.."

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-60s}
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-200x}
FUZZFLAGS=${FUZZFLAGS:-}

# targets prints "./pkg/dir FuzzX", one target a line, sorted.
targets() {
	grep -rE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' pkg |
		sed -E 's#^(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*#./\1 \2#' | sort -u
}

# inputs lists the saved inputs of target $2 of the package in $1.
inputs() { ls "$1/testdata/fuzz/$2" 2>/dev/null || true; }

list_only=false
if [ "${1:-}" = "-l" ]; then
	list_only=true
	shift
fi
list=$(targets | grep -E -e "${1:-.}" || true)
[ -n "$list" ] || { echo "fuzz.sh: no fuzz target in pkg/ matches ${1:-.}" >&2; exit 1; }
if $list_only; then
	echo "$list"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=""
while read -r dir name; do
	echo "== $dir $name ($FUZZTIME)"
	before=$(inputs "$dir" "$name")
	rm -f "$tmp/rc"
	{
		rc=0
		# shellcheck disable=SC2086 # FUZZFLAGS is a list of flags
		"$GO" test -run '^$' -fuzz "^$name\$" -fuzztime "$FUZZTIME" \
			-fuzzminimizetime "$FUZZMINIMIZETIME" $FUZZFLAGS "$dir" </dev/null || rc=$?
		echo "$rc" >"$tmp/rc"
	} 2>&1 | tee "$tmp/out"
	[ "$(cat "$tmp/rc" 2>/dev/null)" = 0 ] && continue
	if [ "$(inputs "$dir" "$name")" = "$before" ] && grep -qx '    context deadline exceeded' "$tmp/out"; then
		echo "fuzz.sh: $dir $name: nothing failed, go's race at the end of -fuzztime (golang/go#75804): not counted"
		continue
	fi
	failed="$failed $dir:$name"
done <<END
$list
END

if [ "${FUZZMERGE:-1}" != 0 ]; then
	"$GO" run ./test/fuzzmerge "${1:-.}"
fi
if [ -n "$failed" ]; then
	echo "fuzz.sh: failed:$failed (inputs in their testdata/fuzz/)" >&2
	exit 1
fi
echo "fuzz.sh: $(echo "$list" | wc -l) target(s), $FUZZTIME each, no failure"
