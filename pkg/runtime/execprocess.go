package runtime

// The process an exec runs: --process, or the container's own with the
// command line and runc's overrides.

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/api"
)

// execProcess is the process exec runs: --process as given, or the
// container's own process with the command line and the overrides applied,
// as runc does.
func execProcess(base *specs.Process, o api.ExecOpts) (*specs.Process, error) {
	if o.Process != nil {
		p := *o.Process
		if p.Cwd == "" {
			p.Cwd = "/"
		}
		// As runc: what --process leaves out of these, the container's
		// process gives.
		if p.Scheduler == nil {
			p.Scheduler = base.Scheduler
		}
		if p.IOPriority == nil {
			p.IOPriority = base.IOPriority
		}
		if p.ExecCPUAffinity == nil {
			p.ExecCPUAffinity = base.ExecCPUAffinity
		}
		return &p, nil
	}
	if len(o.Args) == 0 {
		return nil, errors.New("exec: no command given")
	}
	p := *base
	p.Args = slices.Clone(o.Args)
	p.CommandLine = ""
	p.Terminal = o.Tty
	p.ConsoleSize = nil
	p.Env = slices.Clone(base.Env)
	for _, e := range o.Env {
		name, _, hasValue := strings.Cut(e, "=")
		if !hasValue || name == "" {
			return nil, fmt.Errorf("--env %q: not NAME=value", e)
		}
		p.Env = slices.DeleteFunc(p.Env, func(x string) bool { return strings.HasPrefix(x, name+"=") })
		p.Env = append(p.Env, e)
	}
	if o.Cwd != "" {
		p.Cwd = o.Cwd
	}
	if o.User != "" {
		if err := execUser(&p.User, o.User); err != nil {
			return nil, err
		}
	}
	p.User.AdditionalGids = append(slices.Clone(base.User.AdditionalGids), o.AdditionalGids...)
	if len(o.Caps) > 0 {
		p.Capabilities = withCaps(base.Capabilities, o.Caps)
	}
	if o.NoNewPrivs {
		p.NoNewPrivileges = true
	}
	if o.AppArmor != "" {
		p.ApparmorProfile = o.AppArmor
	}
	if o.ProcessLabel != "" {
		p.SelinuxLabel = o.ProcessLabel
	}
	return &p, nil
}

// execUser sets u's ids from --user's "uid[:gid]".
func execUser(u *specs.User, flag string) error {
	uid, gid, hasGid := strings.Cut(flag, ":")
	n, err := strconv.ParseUint(uid, 10, 32)
	if err != nil {
		return fmt.Errorf("--user %q: uid is not a number", flag)
	}
	u.UID = uint32(n)
	if hasGid {
		g, err := strconv.ParseUint(gid, 10, 32)
		if err != nil {
			return fmt.Errorf("--user %q: gid is not a number", flag)
		}
		u.GID = uint32(g)
	}
	return nil
}

// withCaps is base (nil for none) with the --cap names added, as runc
// adds them.
func withCaps(base *specs.LinuxCapabilities, names []string) *specs.LinuxCapabilities {
	c := specs.LinuxCapabilities{}
	if base != nil {
		c = *base
	}
	for _, n := range names {
		n = strings.ToUpper(n)
		if !strings.HasPrefix(n, "CAP_") {
			n = "CAP_" + n
		}
		// A name unknown to rt or the kernel is skipped with a warning
		// (usableCapabilities), as runc does.
		c.Bounding = append(slices.Clone(c.Bounding), n)
		c.Effective = append(slices.Clone(c.Effective), n)
		c.Permitted = append(slices.Clone(c.Permitted), n)
		// Never inheritable (CVE-2022-29162); ambient only when the
		// process has inheritable capabilities already, as runc.
		if len(c.Inheritable) > 0 {
			c.Ambient = append(slices.Clone(c.Ambient), n)
		}
	}
	return &c
}
