// The Go runtime (1.25+) reads the cgroup's CPU limit at start-up and, with
// container-aware GOMAXPROCS updates, keeps cpu.cfs_quota_us and
// cpu.cfs_period_us (or cpu.max) of the host's cgroupfs open for the
// process's life: in the created state a container could write its own CPU
// limit through /proc/1/fd (CVE-2024-21626 class). Both settings off, the
// runtime closes them after its start-up read. test/security checks that
// no such fd is left.
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command rt-init is the first process of every rt container. rt starts it
// with a socket (fd 3) and the exec fifo (fd 4); the C stage linked from
// pkg/nsexec (the ELF entry point) has already joined and created the
// namespaces by the time main runs, and on the fast path has set the
// container up and exec'd its program without main ever running. main is
// the Go path (pkg/initproc).
//
// It is started only by rt; by hand it only answers --version.
package main

import (
	"fmt"
	"os"
	"runtime"

	"github.com/rtkit/rt/pkg/initproc"
	"github.com/rtkit/rt/pkg/initproto"
	"github.com/rtkit/rt/pkg/version"
)

func init() {
	// Capabilities, the uid switch, no_new_privs and LSM labels are per
	// thread: everything runs on the main thread that finally calls execve.
	runtime.LockOSThread()
}

func main() {
	if os.Getenv(initproto.EnvInitFD) == "" {
		if len(os.Args) == 2 && (os.Args[1] == "--version" || os.Args[1] == "-v") {
			version.Write(os.Stdout, "rt-init")
			return
		}
		fmt.Fprintln(os.Stderr, "rt-init: this program is started by rt as a container's init; it is not meant to be run by hand")
		os.Exit(1)
	}
	os.Exit(initproc.Main(os.NewFile(initproto.FdInit, "init")))
}
