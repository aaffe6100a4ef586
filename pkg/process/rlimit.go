package process

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Rlimits are process.rlimits, checked, applied in two steps so that the
// program starts under exactly the configured limits, whatever they are:
// Raise lifts what the config sets above the current limits while rt-init
// still has CAP_SYS_RESOURCE, and Apply sets the exact values as the last
// step before the seccomp filter and execve.
//
// Why not all at once, early (as rt did): rt-init is a Go program whose
// runtime has reserved ~1.5 GiB of address space (page-allocator
// summaries, heap arena hints, glibc's per-thread malloc arenas and thread
// stacks). Once RLIMIT_AS is below that, every new mapping fails, so the
// steps after it (libseccomp's compiler, opening the exec fifo) died with
// ENOMEM; a low RLIMIT_NOFILE or RLIMIT_NPROC would break them likewise.
// Apply only lowers, which needs no privilege, and makes one system call
// per limit without allocating.
type Rlimits []Rlimit

// Rlimit is one checked process.rlimits entry.
type Rlimit struct {
	Type     string
	resource int
	want     unix.Rlimit
}

// PrepareRlimits checks p.Rlimits (known types, soft not above hard).
func PrepareRlimits(p *specs.Process) (Rlimits, error) {
	out := make(Rlimits, 0, len(p.Rlimits))
	for _, rl := range p.Rlimits {
		res, ok := rlimits[rl.Type]
		if !ok {
			return nil, fmt.Errorf("rlimit %s: unknown type", rl.Type)
		}
		if rl.Soft > rl.Hard {
			return nil, fmt.Errorf("rlimit %s: soft %d is above hard %d", rl.Type, rl.Soft, rl.Hard)
		}
		out = append(out, Rlimit{Type: rl.Type, resource: res, want: unix.Rlimit{Cur: rl.Soft, Max: rl.Hard}})
	}
	return out, nil
}

// Default adds typ with soft cur and hard max unless the config sets typ.
func (l Rlimits) Default(typ string, cur, max uint64) Rlimits {
	for _, rl := range l {
		if rl.Type == typ {
			return l
		}
	}
	return append(l, Rlimit{Type: typ, resource: rlimits[typ], want: unix.Rlimit{Cur: cur, Max: max}})
}

// Raise lifts every limit whose configured soft or hard value is above the
// current one, never lowering anything. Raising a hard limit needs
// CAP_SYS_RESOURCE, which the error then names.
func (l Rlimits) Raise() error {
	for _, rl := range l {
		var cur unix.Rlimit
		if err := unix.Prlimit(0, rl.resource, nil, &cur); err != nil {
			return fmt.Errorf("rlimit %s: %w", rl.Type, err)
		}
		up := unix.Rlimit{Cur: max(cur.Cur, rl.want.Cur), Max: max(cur.Max, rl.want.Max)}
		if up == cur {
			continue
		}
		if err := unix.Prlimit(0, rl.resource, &up, nil); err != nil {
			if errors.Is(err, unix.EPERM) {
				return fmt.Errorf("rlimit %s soft %d hard %d: %w (raising a hard limit needs CAP_SYS_RESOURCE)", rl.Type, rl.want.Cur, rl.want.Max, err)
			}
			return fmt.Errorf("rlimit %s soft %d hard %d: %w", rl.Type, rl.want.Cur, rl.want.Max, err)
		}
	}
	return nil
}

// Apply sets every limit to its configured values. After Raise it only
// lowers; it allocates nothing until it fails.
func (l Rlimits) Apply() error {
	for i := range l {
		if err := unix.Prlimit(0, l[i].resource, &l[i].want, nil); err != nil {
			return fmt.Errorf("rlimit %s soft %d hard %d: %w", l[i].Type, l[i].want.Cur, l[i].want.Max, err)
		}
	}
	return nil
}

var rlimits = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}

// RlimitTypes lists the rlimit names PrepareRlimits knows, sorted.
func RlimitTypes() []string {
	out := make([]string, 0, len(rlimits))
	for k := range rlimits {
		out = append(out, k)
	}
	slices.SortFunc(out, strings.Compare)
	return out
}

// Resource is the limit's RLIMIT_* number; Soft and Hard its values.
func (rl Rlimit) Resource() int { return rl.resource }

// Soft is the configured soft limit.
func (rl Rlimit) Soft() uint64 { return rl.want.Cur }

// Hard is the configured hard limit.
func (rl Rlimit) Hard() uint64 { return rl.want.Max }
