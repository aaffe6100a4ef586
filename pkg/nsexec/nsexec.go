// Package nsexec puts rt-init into the container's namespaces before the Go
// runtime starts. Importing it (only rt-init does) links a C constructor
// that, when the process was started by rt with _RT_INITFD set, joins the
// namespaces given by path, creates the new ones and forks the container's
// init, following the protocol in nsexec.c. Without _RT_INITFD it does
// nothing.
//
// The Go side of the protocol (what rt sends and reads) is in
// pkg/initproto. This package must stay free of Go code that runs at init:
// the constructor has already run by then.
package nsexec

// #cgo CFLAGS: -Wall -Wextra -O2
// int rt_orig_nofile(unsigned long long *cur, unsigned long long *max);
import "C"

// OrigNofile is RLIMIT_NOFILE as rt-init was started with, before the Go
// runtime raised its soft limit; ok is false outside rt-init.
func OrigNofile() (cur, max uint64, ok bool) {
	var c, m C.ulonglong
	ok = C.rt_orig_nofile(&c, &m) != 0
	return uint64(c), uint64(m), ok
}
