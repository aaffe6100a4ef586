// Package initplan turns a container's configuration into the plan the fast
// path of rt-init runs (pkg/nsexec/fastinit.c): a flat list of operations
// with their arguments resolved, so that the C code only executes (resolving
// paths inside the rootfs safely) and the decisions stay in Go, tested here.
// A configuration the plan cannot express gets ErrUnsupported and takes the
// Go path of rt-init, which handles everything.
package initplan

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrUnsupported is wrapped by Build for a configuration the fast path does
// not cover; the text says which field.
var ErrUnsupported = errors.New("not covered by the fast init path")

// Code is an operation of the plan; the values are fastinit.c's.
type Code uint32

const (
	OpMount       Code = iota + 1 // s: src, target, fstype, data; a: flags (in the host's view)
	OpRoot                        // s: rootfs; resolves every *In op
	OpMountIn                     // s: dest, src, fstype, data; a: flags, b: kind, c: proc rule
	OpRemountIn                   // s: dest; a: flags (bind remount, keeping locked flags)
	OpPropagateIn                 // s: dest; a: propagation flag
	OpSetattrIn                   // s: dest; a: attr_set, b: attr_clr (recursive)
	OpDevice                      // s: path, name, dir; a: type|perm|fromSpec, b: major, c: minor, d: uid|gid<<32
	OpSymlinkIn                   // s: dir, name, target
	OpJoined                      // a: 1 to create the cgroup namespace after
	OpWriteProc                   // s: path under /proc, value (before pivot_root)
	OpHostname                    // s: name
	OpDomainname                  // s: name
	OpLoUp                        //
	OpKeyring                     // s: name
	OpPivot                       //
	OpMkdirAll                    // s: path (after pivot_root)
	OpReadonly                    // s: path; a: remount flags
	OpMask                        // s: path
	OpRemount                     // s: path; a: flags
	OpSetHome                     // a: uid
	OpLookPath                    // s: args[0], PATH
	OpRlimit                      // a: resource, b: soft, c: hard
	OpCloseFds                    // a: first fd made close-on-exec
	OpChdir                       // s: cwd
	OpReady                       //
	OpWaitStart                   //
	OpPreserve                    // a: number of preserved fds
	OpCaps                        // a: bounding, b: effective, c: permitted, d: inheritable
	OpUser                        // s: groups (uint32s); a: uid, b: gid, c: umask, d: nnp|ngroups<<32
	OpCreds                       // a: ambient
	OpExec                        // s: args then env; a: len(args)
)

// Mount kinds (OpMountIn b) and proc rules (OpMountIn c).
const (
	KindDir  = 0 // mkdir the destination
	KindBind = 1 // a directory or a file, as the source is

	ProcNone = 0 // the destination must not resolve into /proc
	ProcFS   = 1 // a procfs: only /proc itself
)

// DevFromSpec marks an OpDevice from linux.devices, which must not replace
// a different file.
const DevFromSpec = 0x100000

// maxStrings is fastinit.c's MAX_STR.
const maxStrings = 1024

// Op is one operation.
type Op struct {
	Code       Code
	A, B, C, D uint64
	S          []string
}

// Plan is the list the fast path runs in order.
type Plan struct{ Ops []Op }

func (p *Plan) add(c Code, s ...string) *Op {
	p.Ops = append(p.Ops, Op{Code: c, S: s})
	return &p.Ops[len(p.Ops)-1]
}

const magic = 0x52544658

// Encode lays the plan out as fastinit.c reads it: magic, count, then per
// op code, string count, a-d and the strings, NUL-terminated with their
// length first.
func (p *Plan) Encode() ([]byte, error) {
	b := binary.NativeEndian.AppendUint32(nil, magic)
	b = binary.NativeEndian.AppendUint32(b, uint32(len(p.Ops)))
	for _, o := range p.Ops {
		if len(o.S) > maxStrings {
			return nil, fmt.Errorf("%w: more than %d strings in one step", ErrUnsupported, maxStrings)
		}
		b = binary.NativeEndian.AppendUint32(b, uint32(o.Code))
		b = binary.NativeEndian.AppendUint32(b, uint32(len(o.S)))
		for _, v := range []uint64{o.A, o.B, o.C, o.D} {
			b = binary.NativeEndian.AppendUint64(b, v)
		}
		for _, s := range o.S {
			for i := 0; i < len(s); i++ {
				if s[i] == 0 && o.Code != OpUser {
					return nil, fmt.Errorf("%w: a NUL byte in %q", ErrUnsupported, s)
				}
			}
			b = binary.NativeEndian.AppendUint32(b, uint32(len(s)+1))
			b = append(b, s...)
			b = append(b, 0)
		}
	}
	if len(b) > 1<<20 {
		return nil, fmt.Errorf("%w: plan of %d bytes", ErrUnsupported, len(b))
	}
	return b, nil
}
