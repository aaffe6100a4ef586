// Command swapper is the attacker of test/security's race tests. It runs
// inside a container (the first of two sharing a host directory) and
// exchanges two names in the shared directory with renameat2
// (RENAME_EXCHANGE), as fast as it can, while the victim container is
// created over and over: NAME is the path the victim's runtime uses
// (null, console, …) and PARTNER a symlink to TARGET, so that NAME is the
// symlink half of the time.
//
//	swapper -ready FILE -stop FILE -report FILE [-max DURATION] DIR NAME PARTNER TARGET
//
// It writes FILE -ready once swapping, stops when FILE -stop exists (or
// after -max), and writes what it did to -report and stdout: the number of
// exchanges, failed exchanges (a name missing meanwhile) and repairs. A
// runtime may replace the symlink it found (rt makes /dev/null the device
// again), leaving neither name a symlink: PARTNER is then made the symlink
// again (a repair). A directory is never removed.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	ready := flag.String("ready", "", "file written once swapping")
	stop := flag.String("stop", "", "stop when this file exists")
	report := flag.String("report", "", "file the counts are written to")
	maxDur := flag.Duration("max", 10*time.Minute, "stop after this long in any case")
	flag.Parse()
	if flag.NArg() != 4 {
		fmt.Fprintln(os.Stderr, "usage: swapper -ready FILE -stop FILE -report FILE [-max DURATION] DIR NAME PARTNER TARGET")
		os.Exit(2)
	}
	dir, name, partner, target := flag.Arg(0), flag.Arg(1), flag.Arg(2), flag.Arg(3)
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "swapper:", err)
		os.Exit(1)
	}
	var exchanges, failed, repairs uint64
	// repair makes partner the symlink when neither name is one.
	repair := func() {
		var st unix.Stat_t
		isLink := func(n string) (exists, link, dir bool) {
			if unix.Fstatat(dfd, n, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
				return false, false, false
			}
			t := st.Mode & unix.S_IFMT
			return true, t == unix.S_IFLNK, t == unix.S_IFDIR
		}
		_, nameLink, _ := isLink(name)
		pExists, pLink, pDir := isLink(partner)
		if nameLink || pLink || pDir {
			return
		}
		if pExists {
			if err := unix.Unlinkat(dfd, partner, 0); err != nil && !errors.Is(err, unix.ENOENT) {
				return
			}
		}
		if unix.Symlinkat(target, dfd, partner) == nil {
			repairs++
		}
	}
	repair()
	if err := os.WriteFile(*ready, []byte("ready\n"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "swapper:", err)
		os.Exit(1)
	}
	deadline := time.Now().Add(*maxDur)
	for i := uint64(1); ; i++ {
		if err := unix.Renameat2(dfd, name, dfd, partner, unix.RENAME_EXCHANGE); err == nil {
			exchanges++
		} else {
			failed++
			repair()
		}
		if i%64 == 0 {
			repair()
		}
		if i%1024 == 0 {
			if _, err := os.Stat(*stop); err == nil || time.Now().After(deadline) {
				break
			}
		}
	}
	out := fmt.Sprintf("exchanges %d failed %d repairs %d\n", exchanges, failed, repairs)
	os.WriteFile(*report, []byte(out), 0o644)
	fmt.Print(out)
}
