package fs

// linux.resources.devices: devices.allow and devices.deny on v1, the
// library's eBPF filter on cgroup2.

import (
	"fmt"
	"strconv"
	"strings"

	libcg "github.com/opencontainers/cgroups"
	// Imported for its side effect: it installs libcg.DevicesSetV2, the
	// eBPF device filter.
	_ "github.com/opencontainers/cgroups/devices"
	devconfig "github.com/opencontainers/cgroups/devices/config"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// deviceRule is one checked linux.resources.devices entry.
type deviceRule struct {
	field        string
	allow        bool
	typ          byte  // 'a', 'b' or 'c'
	major, minor int64 // -1: any
	access       string
}

// v1 is the rule as devices.allow and devices.deny take it.
func (d deviceRule) v1() string {
	if d.typ == 'a' {
		return "a"
	}
	num := func(n int64) string {
		if n == -1 {
			return "*"
		}
		return strconv.FormatInt(n, 10)
	}
	return fmt.Sprintf("%c %s:%s %s", d.typ, num(d.major), num(d.minor), d.access)
}

// checkDevices validates the rules: type a, b or c (empty is a), numbers
// -1 (any) or more, access a non-empty combination of r, w and m.
func (p *planner) checkDevices(list []specs.LinuxDeviceCgroup) []deviceRule {
	var rules []deviceRule
	for i, d := range list {
		r := deviceRule{field: fmt.Sprintf("%sdevices[%d]", res, i), allow: d.Allow, major: -1, minor: -1}
		switch d.Type {
		case "", "a":
			r.typ = 'a'
		case "b", "c":
			r.typ = d.Type[0]
		default:
			p.bad(r.field+".type", "%q is not a, b or c", d.Type)
		}
		if d.Major != nil {
			r.major = *d.Major
		}
		if d.Minor != nil {
			r.minor = *d.Minor
		}
		if r.major < -1 || r.minor < -1 {
			p.bad(r.field, "device %d:%d: numbers are -1 (any) or more", r.major, r.minor)
		}
		acc, ok := normalizeAccess(d.Access)
		r.access = acc
		switch {
		case !ok:
			p.bad(r.field+".access", "%q is not a combination of r, w and m", d.Access)
		case r.typ == 'a' && (r.major != -1 || r.minor != -1 || (d.Access != "" && acc != "rwm")):
			// The kernel (and runc's emulation of it) takes a rule for
			// every device as every number and every access: refuse what
			// would silently mean more than it says.
			p.bad(r.field, "a rule for every device (type a) always covers all numbers and access rwm; give neither numbers nor other access")
		case r.typ != 'a' && acc == "":
			p.bad(r.field+".access", "empty: give a combination of r, w and m")
		}
		rules = append(rules, r)
	}
	return rules
}

// lib is the rule as the library's device code takes it (the cgroup2 eBPF
// filter, systemd's device properties): a rule for every device has every
// access, whatever the spec said (the checks allow only that or none).
func (d deviceRule) lib() *devconfig.Rule {
	r := &devconfig.Rule{
		Type: devconfig.Type(d.typ), Major: d.major, Minor: d.minor,
		Permissions: devconfig.Permissions(d.access), Allow: d.allow,
	}
	if d.typ == 'a' {
		r.Permissions = "rwm"
	}
	return r
}

// DeviceRules checks list as Set does and returns it in the form of the
// library's device code, for the systemd driver's device properties.
func DeviceRules(list []specs.LinuxDeviceCgroup) ([]*devconfig.Rule, error) {
	p := &planner{}
	rules := p.checkDevices(list)
	if p.err != nil {
		return nil, p.err
	}
	return libRules(rules), nil
}

// libRules converts checked rules with lib.
func libRules(rules []deviceRule) []*devconfig.Rule {
	lib := make([]*devconfig.Rule, len(rules))
	for i := range rules {
		lib[i] = rules[i].lib()
	}
	return lib
}

// normalizeAccess returns access in rwm order, false if it has anything else
// or a letter twice.
func normalizeAccess(access string) (string, bool) {
	var seen [3]bool
	for _, c := range access {
		i := strings.IndexRune("rwm", c)
		if i < 0 || seen[i] {
			return "", false
		}
		seen[i] = true
	}
	var b strings.Builder
	for i, c := range "rwm" {
		if seen[i] {
			b.WriteRune(c)
		}
	}
	return b.String(), true
}

func (p *planner) devices(list []specs.LinuxDeviceCgroup) {
	if list == nil {
		return
	}
	const f = res + "devices"
	rules := p.checkDevices(list)
	if p.v2 {
		// Not a controller: the eBPF program attaches to any cgroup2
		// directory, so nothing to enable.
		dir := p.m.paths[""]
		lib := libRules(rules)
		p.add(step{field: f, dir: dir, run: func() error {
			if err := libcg.DevicesSetV2(dir, &libcg.Resources{Devices: lib}); err != nil {
				return fmt.Errorf("attach the eBPF device filter to %s: %w", dir, err)
			}
			return nil
		}})
		return
	}
	dir, ok := p.dir("devices", f)
	if !ok {
		return
	}
	// Deny everything, then the rules in order: the spec's rules are an
	// allow list on top of nothing, as in runc.
	p.add(step{field: f, dir: dir, file: "devices.deny", value: "a"})
	for _, r := range rules {
		file := "devices.deny"
		if r.allow {
			file = "devices.allow"
		}
		p.add(step{field: r.field, dir: dir, file: file, value: r.v1()})
	}
}
