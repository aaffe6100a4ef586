// Package nsexec puts rt-init into the container's namespaces before glibc
// and the Go runtime start. Importing it (only rt-init does) links the C
// stage and makes its rtentry the program's ELF entry point: when the
// process was started by rt with _RT_INITFD set, it joins the namespaces
// given by path, creates the new ones and forks the container's init,
// following the protocol in nsexec.c; on the fast path (fastinit.c) the
// init then sets the container up and execs its program without ever
// starting glibc or Go. Without _RT_INITFD it does nothing.
//
// The Go side of the protocol (what rt sends and reads) is in
// pkg/initproto, the fast path's plan in pkg/initplan. The C code runs
// before glibc is initialised: it must not call into libc (nolibc.h).
package nsexec

// #cgo CFLAGS: -Wall -Wextra -O2 -fno-stack-protector
// #cgo LDFLAGS: -Wl,-e,rtentry
// int rt_orig_nofile(unsigned long long *cur, unsigned long long *max);
import "C"

// OrigNofile is RLIMIT_NOFILE as rt-init was started with, before the Go
// runtime raised its soft limit; ok is false outside rt-init.
func OrigNofile() (cur, max uint64, ok bool) {
	var c, m C.ulonglong
	ok = C.rt_orig_nofile(&c, &m) != 0
	return uint64(c), uint64(m), ok
}
