// Package version identifies a build of rt. Version and Commit are set at
// link time by the Makefile (-X); a plain `go build` falls back to the VCS
// information Go embeds.
package version

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Version is the release of rt; set with -ldflags "-X ...version.Version=…".
var Version = "0.1.0-dev"

// Commit is the git commit rt was built from; set with -ldflags, else taken
// from the build info, else "unknown".
var Commit = ""

// Libseccomp is the libseccomp version rt-init is linked with, set with
// -ldflags by the Makefile (rt itself links no C); "" when unknown.
var Libseccomp = ""

// CommitID returns Commit, or the vcs.revision Go recorded (with "-dirty"
// when the tree had changes), or "unknown".
func CommitID() string {
	if Commit != "" {
		return Commit
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "unknown"
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}

// Write prints the version block every rt binary shows for --version, in
// runc's layout (clients parse the first line), with runc's libseccomp
// line when the build knows it.
func Write(w io.Writer, name string) {
	fmt.Fprintf(w, "%s version %s\ncommit: %s\nspec: %s\ngo: %s\n", name, Version, CommitID(), specs.Version, runtime.Version())
	if Libseccomp != "" {
		fmt.Fprintf(w, "libseccomp: %s\n", Libseccomp)
	}
}
