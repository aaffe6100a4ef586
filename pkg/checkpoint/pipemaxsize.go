package checkpoint

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The page server of a --lazy-pages dump (the dumping criu, which the
// lazy-pages daemon fetches pages from) copies the pages asked for into a
// pipe it first grows to CRIU's PIPE_MAX_SIZE (pipe_read_dest_init in
// criu/page-pipe.c). Without CAP_SYS_RESOURCE the kernel refuses a pipe
// larger than fs.pipe-max-size (EPERM); CRIU 4.1 ignores that failure and
// fails at the first pages asked for: "page-pipe: splice: -1: Bad file
// descriptor" in dump.log, after which the daemon logs "Remote side closed
// connection" and the restore fails. Root has CAP_SYS_RESOURCE on most
// hosts, where the sysctl does not matter; in a sandbox whose bounding set
// lacks it, fs.pipe-max-size must be at least PipeMaxSizeNeeded. Nothing
// else of CRIU's page transfers needs it (a page server receiving a dump,
// the lazy-pages daemon, the restore): their pipes grow as far as allowed.

// pipeMaxSizePath is the sysctl fs.pipe-max-size.
const pipeMaxSizePath = "/proc/sys/fs/pipe-max-size"

// PipeMaxSizeNeeded is the smallest fs.pipe-max-size, in bytes, with which
// a --lazy-pages dump can serve its pages when criu lacks CAP_SYS_RESOURCE:
// 4194304 with 4 KiB pages.
func PipeMaxSizeNeeded() int { return pipeMaxSizeFor(os.Getpagesize()) }

// pipeMaxSizeFor is PipeMaxSizeNeeded for a page size: CRIU's
// PIPE_MAX_SIZE is as many pages as an 8-page (PAGE_ALLOC_COSTLY_ORDER)
// array of the kernel's 40-byte struct pipe_buffer holds (819 with 4 KiB
// pages), which the kernel rounds up to a power of two pages before it
// compares the size with fs.pipe-max-size.
func pipeMaxSizeFor(pageSize int) int {
	pages := 8 * pageSize / 40
	n := 1
	for n < pages {
		n <<= 1
	}
	return n * pageSize
}

// pipeMaxSizeShort returns fs.pipe-max-size and whether it is too small
// for a lazy page server started by this process: below PipeMaxSizeNeeded
// while this process (and so the criu it starts) lacks CAP_SYS_RESOURCE.
// Whatever cannot be read counts as not short: this is only ever a
// warning.
func pipeMaxSizeShort() (int, bool) {
	data, err := os.ReadFile(pipeMaxSizePath)
	if err != nil {
		return 0, false
	}
	cur, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || cur >= PipeMaxSizeNeeded() {
		return cur, false
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return cur, false
	}
	return cur, !hasEffectiveCap(string(status), unix.CAP_SYS_RESOURCE)
}

// hasEffectiveCap reports whether the CapEff line of a /proc/PID/status
// holds capability c.
func hasEffectiveCap(status string, c int) bool {
	for _, l := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			eff, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && eff&(1<<c) != 0
		}
	}
	return false
}

// pipeMaxSizeHint is what to do about a short fs.pipe-max-size, "" when it
// is not short.
func pipeMaxSizeHint() string {
	cur, short := pipeMaxSizeShort()
	if !short {
		return ""
	}
	need := PipeMaxSizeNeeded()
	return fmt.Sprintf("fs.pipe-max-size is %d, below the %d that CRIU's lazy page server needs without CAP_SYS_RESOURCE (sysctl -w fs.pipe-max-size=%d)",
		cur, need, need)
}

// warnLazyDump warns, before a --lazy-pages dump, that its page transfer
// will fail.
func (r *Runtime) warnLazyDump(id string) {
	if hint := pipeMaxSizeHint(); hint != "" {
		r.log.Warn("checkpoint --lazy-pages: the pages will fail to transfer when the lazy-pages daemon asks for them: "+hint, "container", id)
	}
}

// warnLazyDaemon warns, before a lazy-pages daemon fetches pages from the
// page server at addr, that the dumping criu there will fail if it runs on
// a host like this one. The daemon itself needs no large pipe.
func (r *Runtime) warnLazyDaemon(addr string) {
	if hint := pipeMaxSizeHint(); hint != "" {
		r.log.Warn("lazy-pages: if the dump serving the pages ("+addr+") runs on this host, its transfer will fail: "+hint, "page-server", addr)
	}
}
