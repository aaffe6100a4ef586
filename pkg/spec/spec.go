// Package spec loads, validates and generates OCI bundle configurations
// (config.json), and describes what rt supports as the OCI features document.
//
// Validation here is static: it rejects what no host could run (unknown
// namespace types, relative hook paths, bad JSON with its position). What
// depends on the host (a missing mount source, an unsupported sysctl) is
// reported by the code that applies it, with the step that failed.
package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/rootfs"
	"github.com/rtkit/rt/pkg/seccomp"
	"github.com/rtkit/rt/pkg/specjson"
)

// ConfigFile is the name of the configuration inside a bundle.
const ConfigFile = "config.json"

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid configuration")

// Namespaces maps each namespace type rt can create or join to the
// /proc/<pid>/ns file that names it.
var Namespaces = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace:     "pid",
	specs.NetworkNamespace: "net",
	specs.MountNamespace:   "mnt",
	specs.IPCNamespace:     "ipc",
	specs.UTSNamespace:     "uts",
	specs.UserNamespace:    "user",
	specs.CgroupNamespace:  "cgroup",
	specs.TimeNamespace:    "time",
}

// Hooks are the hook points rt runs, in the order of the lifecycle.
var Hooks = []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}

// BundleDir is the absolute path of the bundle named by a --bundle flag:
// the current directory when it is empty, as in runc.
func BundleDir(flag string) (string, error) {
	if flag == "" {
		flag = "."
	}
	dir, err := filepath.Abs(flag)
	if err != nil {
		return "", fmt.Errorf("bundle: %w", err)
	}
	return dir, nil
}

// Load reads and validates bundle/config.json. Errors name the file and,
// for JSON syntax errors, the line and column.
func Load(bundle string) (*specs.Spec, error) {
	path := filepath.Join(bundle, ConfigFile)
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s: no such file (is %s a bundle?)", ErrInvalid, path, bundle)
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	s, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Parse decodes and validates a configuration.
func Parse(data []byte) (*specs.Spec, error) {
	s, err := specjson.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, describeJSONError(data, err))
	}
	if s.Linux == nil {
		// OPTIONAL in the spec, as in runc: a container with no
		// namespaces, cgroups path or limits of its own.
		s.Linux = &specs.Linux{}
	}
	if err := Validate(s); err != nil {
		return nil, err
	}
	return s, nil
}

func describeJSONError(data []byte, err error) string {
	var off int64
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		// Offset counts the offending byte; the column names it. At the
		// end of the input there is no such byte: the position is the end.
		off = syn.Offset
		if syn.Error() != "unexpected end of JSON input" {
			off--
		}
	case errors.As(err, &typ):
		// Offset is just past the value of the wrong type: step into it.
		off = typ.Offset - 1
	default:
		return err.Error()
	}
	off = max(0, min(off, int64(len(data))))
	line := 1 + strings.Count(string(data[:off]), "\n")
	col := off - int64(strings.LastIndex(string(data[:off]), "\n"))
	return fmt.Sprintf("invalid JSON at line %d, column %d: %v", line, col, err)
}

// Validate checks what can be checked without the host.
func Validate(s *specs.Spec) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, a...)...)
	}
	if s.Version == "" {
		return bad("ociVersion is missing")
	}
	if !strings.HasPrefix(s.Version, "1.") {
		return bad("ociVersion %q not supported (1.x only)", s.Version)
	}
	if s.Root == nil || s.Root.Path == "" {
		return bad("root.path is missing")
	}
	if other := otherPlatforms(s); len(other) > 0 {
		return bad("%s: configuration for another platform than linux, which rt does not apply", strings.Join(other, ", "))
	}
	if s.Process == nil {
		return bad("process is missing")
	}
	// process.commandLine is Windows's: a Linux process needs args (runc:
	// "args must not be empty").
	if len(s.Process.Args) == 0 {
		return bad("process.args must not be empty")
	}
	// The spec: "If the same type is given twice, the runtime MUST
	// generate an error." (runc applies them in order.)
	rlimits := map[string]bool{}
	for i, rl := range s.Process.Rlimits {
		if rlimits[rl.Type] {
			return bad("process.rlimits[%d]: %q given twice", i, rl.Type)
		}
		rlimits[rl.Type] = true
	}
	if s.Process.Cwd == "" || !filepath.IsAbs(s.Process.Cwd) {
		return bad("process.cwd %q must be an absolute path", s.Process.Cwd)
	}
	// Capability names unknown to rt or the kernel are not errors: the
	// spec says SHOULD NOT fail; pkg/runtime skips them with a warning
	// (UsableCapabilities), as runc does.
	if err := validateMounts(s.Mounts); err != nil {
		return err
	}
	if s.Hooks != nil {
		for name, hooks := range map[string][]specs.Hook{
			"prestart": s.Hooks.Prestart, "createRuntime": s.Hooks.CreateRuntime,
			"createContainer": s.Hooks.CreateContainer, "startContainer": s.Hooks.StartContainer,
			"poststart": s.Hooks.Poststart, "poststop": s.Hooks.Poststop,
		} {
			for i, h := range hooks {
				if !filepath.IsAbs(h.Path) {
					return bad("hooks.%s[%d]: path %q must be absolute", name, i, h.Path)
				}
				if h.Timeout != nil && *h.Timeout <= 0 {
					return bad("hooks.%s[%d]: timeout %d must be positive", name, i, *h.Timeout)
				}
			}
		}
	}
	if s.Linux == nil {
		return bad("linux section is missing")
	}
	seen := map[specs.LinuxNamespaceType]bool{}
	for _, ns := range s.Linux.Namespaces {
		if _, ok := Namespaces[ns.Type]; !ok {
			return bad("linux.namespaces: unknown namespace type %q", ns.Type)
		}
		if seen[ns.Type] {
			return bad("linux.namespaces: %q given twice", ns.Type)
		}
		seen[ns.Type] = true
		if ns.Path != "" && !filepath.IsAbs(ns.Path) {
			return bad("linux.namespaces: %s path %q must be absolute", ns.Type, ns.Path)
		}
	}
	if (len(s.Linux.UIDMappings) > 0 || len(s.Linux.GIDMappings) > 0) && !seen[specs.UserNamespace] {
		return bad("linux.uidMappings/gidMappings need a user namespace")
	}
	if len(s.Linux.TimeOffsets) > 0 && !seen[specs.TimeNamespace] {
		return bad("linux.timeOffsets need a time namespace")
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.TimeNamespace && ns.Path != "" && len(s.Linux.TimeOffsets) > 0 {
			return bad("linux.timeOffsets apply to a new time namespace, not one joined by path")
		}
	}
	for k := range s.Linux.TimeOffsets {
		if k != "monotonic" && k != "boottime" {
			return bad("linux.timeOffsets: unknown clock %q (monotonic or boottime)", k)
		}
	}
	if (s.Hostname != "" || s.Domainname != "") && !seen[specs.UTSNamespace] {
		return bad("hostname/domainname need a uts namespace: setting them would rename the host")
	}
	if err := validateNoMountNS(s, seen); err != nil {
		return err
	}
	if err := validateNetDevices(s, seen); err != nil {
		return err
	}
	if err := validateIDMapMounts(s, seen); err != nil {
		return err
	}
	if p := s.Linux.Personality; p != nil && p.Domain != "LINUX" && p.Domain != "LINUX32" {
		return bad("linux.personality.domain %q: LINUX or LINUX32", p.Domain)
	}
	if p := s.Linux.Personality; p != nil && len(p.Flags) > 0 {
		// The spec defines none ("currently no flag values are
		// supported"); runc drops them with a warning.
		return bad("linux.personality.flags %q: not supported (the runtime spec defines no flags; rt sets only the domain)", p.Flags)
	}
	if err := seccomp.Validate(s.Linux.Seccomp); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	for _, err := range []error{
		ValidateProcessAttrs(s.Process), validateMemoryPolicy(s.Linux.MemoryPolicy), validateIntelRdt(s.Linux.IntelRdt),
	} {
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	return validateSysctl(s, seen)
}

// validateMounts checks each mount's destination and options as written.
func validateMounts(mounts []specs.Mount) error {
	for i, m := range mounts {
		if m.Destination == "" {
			return fmt.Errorf("%w: mounts[%d]: destination is missing", ErrInvalid, i)
		}
		if data := rootfs.BindData(m); len(data) > 0 {
			return fmt.Errorf("%w: mounts[%d] %q: bind mounts cannot have filesystem-specific options: %s", ErrInvalid, i, m.Destination, quoteAll(data))
		}
		// The path as given; rt-init checks again where it resolves to
		// in the rootfs, and the source of a bind on /proc.
		if _, err := rootfs.ProcDestination(m.Destination, m); err != nil {
			return fmt.Errorf("%w: mounts[%d] %q: %w", ErrInvalid, i, m.Destination, err)
		}
	}
	return nil
}

// otherPlatforms names the sections of s for platforms other than Linux
// (or for VM-based runtimes): a runtime that accepted them would ignore
// them.
func otherPlatforms(s *specs.Spec) []string {
	var out []string
	for _, p := range []struct {
		name string
		set  bool
	}{
		{"solaris", s.Solaris != nil}, {"windows", s.Windows != nil}, {"vm", s.VM != nil},
		{"zos", s.ZOS != nil}, {"freebsd", s.FreeBSD != nil},
	} {
		if p.set {
			out = append(out, p.name)
		}
	}
	return out
}

// quoteAll is words quoted and separated by ", ".
func quoteAll(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = strconv.Quote(w)
	}
	return strings.Join(q, ", ")
}

// validateNoMountNS refuses what a container without a mount namespace of its
// own cannot have. The runtime spec says an unlisted namespace is the
// runtime's: rt-init then mounts in rt's mount namespace and enters the
// rootfs with chroot, as runc does. runc refuses masked and read-only paths
// there ("unable to restrict sys entries without a private MNT namespace");
// rt does too, naming the fields. A user namespace (new or joined) could
// never mount in rt's mount namespace, which an ancestor user namespace
// owns: refused here rather than failing with EPERM halfway through create.
func validateNoMountNS(s *specs.Spec, seen map[specs.LinuxNamespaceType]bool) error {
	if seen[specs.MountNamespace] {
		return nil
	}
	var fields []string
	if len(s.Linux.MaskedPaths) > 0 {
		fields = append(fields, "linux.maskedPaths")
	}
	if len(s.Linux.ReadonlyPaths) > 0 {
		fields = append(fields, "linux.readonlyPaths")
	}
	const why = `a mount namespace of the container's own (linux.namespaces has no "mount")`
	switch len(fields) {
	case 1:
		return fmt.Errorf("%w: %s needs %s", ErrInvalid, fields[0], why)
	case 2:
		return fmt.Errorf("%w: %s and %s need %s", ErrInvalid, fields[0], fields[1], why)
	}
	if seen[specs.UserNamespace] {
		return fmt.Errorf("%w: a user namespace needs %s: rt-init would mount in rt's, where it has no privilege", ErrInvalid, why)
	}
	return nil
}

// Capability returns the capability named n ("CAP_SYS_ADMIN"), as known to
// the capability library rt applies capabilities with.
func Capability(n string) (capability.Cap, bool) {
	c, ok := capabilityByName[strings.ToUpper(n)]
	return c, ok
}

var capabilityByName = func() map[string]capability.Cap {
	m := map[string]capability.Cap{}
	for _, c := range capability.ListKnown() {
		m["CAP_"+strings.ToUpper(c.String())] = c
	}
	return m
}()

// CapabilityNames lists every capability name rt knows, in kernel order.
func CapabilityNames() []string {
	known := capability.ListKnown()
	names := make([]string, 0, len(known))
	for _, c := range known {
		names = append(names, "CAP_"+strings.ToUpper(c.String()))
	}
	return names
}
