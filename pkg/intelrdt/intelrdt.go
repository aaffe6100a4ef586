// Package intelrdt puts a container into a resctrl group, as linux.intelRdt
// asks (Intel RDT: cache and memory bandwidth allocation, monitoring): a
// CTRL_MON group named by closID or the container's id, its schemata, the
// container's processes in its tasks file, and, with enableMonitoring, a
// MON group of the container's own below it. Every function takes the
// resctrl mount (Root finds the host's), so tests run it against a tree in
// a temporary directory.
//
// It keeps to what resctrl and a plain directory tree have in common: it
// writes files as runc does (opened with O_CREAT, which on resctrl finds
// the file the kernel made with the group), and removes groups with rmdir
// only (on resctrl that takes the group's files and MON groups with it; a
// test empties its plain directories first).
package intelrdt

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// DefaultRoot is where the kernel offers resctrl to be mounted.
const DefaultRoot = "/sys/fs/resctrl"

// ErrNotEnabled is wrapped when the host has no resctrl mounted.
//
//lint:ignore ST1005 runc's words; "Intel" is a name
var ErrNotEnabled = errors.New("Intel RDT is not enabled")

// Root finds the mounted resctrl filesystem: DefaultRoot when resctrl is
// mounted there, else the first resctrl mount of this mount namespace (as
// runc looks for it).
func Root() (string, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(DefaultRoot, &st); err == nil && st.Type == unix.RDTGROUP_SUPER_MAGIC {
		return DefaultRoot, nil
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("find resctrl: %w", err)
	}
	defer f.Close()
	if root, ok := resctrlMount(f); ok {
		return root, nil
	}
	return "", fmt.Errorf("%w: no resctrl filesystem is mounted", ErrNotEnabled)
}

// resctrlMount is the mount point of the first resctrl line of a
// mountinfo file (moby/sys/mountinfo's parser, which unescapes it).
func resctrlMount(r io.Reader) (string, bool) {
	mounts, err := mountinfo.GetMountsFromReader(r, mountinfo.FSTypeFilter("resctrl"))
	if err != nil || len(mounts) == 0 {
		return "", false
	}
	return mounts[0].Mountpoint, true
}

// Check refuses, naming the field, what r asks of root's resctrl that the
// host does not have (runc's words: "intelRdt.l3CacheSchema is specified
// in config, but Intel RDT/CAT is not enabled"). resctrl lists what it
// has as directories of info/.
func Check(root string, r *specs.LinuxIntelRdt) error {
	has := func(name string) bool {
		st, err := os.Stat(filepath.Join(root, "info", name))
		return err == nil && st.IsDir()
	}
	if r.L3CacheSchema != "" && !has("L3") {
		return fmt.Errorf("linux.intelRdt.l3CacheSchema is specified in config, but Intel RDT/CAT is not enabled (no info/L3 in %s)", root)
	}
	if r.MemBwSchema != "" && !has("MB") {
		return fmt.Errorf("linux.intelRdt.memBwSchema is specified in config, but Intel RDT/MBA is not enabled (no info/MB in %s)", root)
	}
	if r.EnableMonitoring {
		mon, _ := filepath.Glob(filepath.Join(root, "info", "*_MON"))
		if len(mon) == 0 {
			return fmt.Errorf("linux.intelRdt.enableMonitoring is specified in config, but Intel RDT monitoring is not enabled (no info/*_MON in %s)", root)
		}
	}
	return nil
}

// Group is a container's place in resctrl, as its state records it: exec
// puts each process there too, delete removes what rt made.
type Group struct {
	// Root is the resctrl mount.
	Root string `json:"root"`
	// Path is the CTRL_MON group: Root/<closID or container id>, or Root
	// itself for closID "/" (the default group).
	Path string `json:"path"`
	// MonPath is Path/mon_groups/<container id>, with enableMonitoring.
	MonPath string `json:"monPath,omitempty"`
	// Remove says rt made Path for the container: a group named by
	// closID, or one that existed, is not rt's to remove (the spec).
	Remove bool `json:"remove,omitempty"`
}

// Plan names the group of container id under root; nothing is made yet,
// so the state can record it first.
func Plan(root, id string, r *specs.LinuxIntelRdt) *Group {
	g := &Group{Root: root, Path: filepath.Join(root, id), Remove: true}
	if r.ClosID != "" {
		// spec.Validate refused "." and ".." and names with a "/"; "/"
		// itself is the root group.
		g.Path, g.Remove = filepath.Join(root, r.ClosID), false
	}
	if r.EnableMonitoring {
		g.MonPath = filepath.Join(g.Path, "mon_groups", id)
	}
	return g
}

// Create makes the group and writes its schemata (l3CacheSchema,
// memBwSchema, then the schemata lines, in the spec's order), then the MON
// group. A group that exists already is joined as it is: with no schema
// given, as the spec requires of a closID; with schemata, only when they
// match the group's, which rt does not change (other containers may
// share it). g.Remove is cleared then.
func (g *Group) Create(r *specs.LinuxIntelRdt) error {
	lines := schemaLines(r)
	if r.ClosID != "" && len(lines) == 0 {
		if _, err := os.Stat(g.Path); err != nil {
			return fmt.Errorf("linux.intelRdt.closID %q: the group must exist when no schema is given: %w", r.ClosID, err)
		}
	}
	switch err := os.Mkdir(g.Path, 0o755); {
	case err == nil:
		if len(lines) > 0 {
			data := strings.Join(lines, "\n") + "\n"
			if err := g.write("schemata", g.Path, data); err != nil {
				return fmt.Errorf("linux.intelRdt: %w", err)
			}
		}
	case errors.Is(err, fs.ErrExist):
		g.Remove = false
		if err := g.sameSchemata(lines); err != nil {
			return err
		}
	default:
		return fmt.Errorf("linux.intelRdt: create resctrl group: %w", g.status(err))
	}
	if g.MonPath != "" {
		if err := os.Mkdir(g.MonPath, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("linux.intelRdt.enableMonitoring: create MON group: %w", g.status(err))
		}
	}
	return nil
}

// schemaLines are the lines r has rt write to schemata, in order.
func schemaLines(r *specs.LinuxIntelRdt) []string {
	var out []string
	for _, l := range append([]string{r.L3CacheSchema, r.MemBwSchema}, r.Schemata...) {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// sameSchemata compares the schemata of an existing group with lines (the
// spec: "MUST compare … and generate an error if doesn't match"), value by
// value, as the kernel prints them otherwise (every domain, zero-padded
// masks, padded bandwidths).
func (g *Group) sameSchemata(lines []string) error {
	if len(lines) == 0 {
		return nil
	}
	data, err := os.ReadFile(filepath.Join(g.Path, "schemata"))
	if err != nil {
		return fmt.Errorf("linux.intelRdt: %w", err)
	}
	want, has := parseSchemata(lines), parseSchemata(strings.Split(string(data), "\n"))
	for key, v := range want {
		if has[key] != v {
			return fmt.Errorf("linux.intelRdt: resctrl group %s exists with other schemata (%s is %q, not %q); rt does not change a group it did not make",
				g.Path, key, has[key], v)
		}
	}
	return nil
}

// parseSchemata maps "RESOURCE:domain" to the value of each schemata line
// ("L3:0=7f0;1=1f"), values normalized: lower case, no padding or leading
// zeros. A later line wins.
func parseSchemata(lines []string) map[string]string {
	out := map[string]string{}
	for _, l := range lines {
		res, doms, ok := strings.Cut(strings.TrimSpace(l), ":")
		if !ok {
			continue
		}
		for _, d := range strings.Split(doms, ";") {
			id, v, ok := strings.Cut(d, "=")
			if !ok {
				continue
			}
			v = strings.TrimLeft(strings.ToLower(strings.TrimSpace(v)), "0")
			if v == "" {
				v = "0"
			}
			out[strings.TrimSpace(res)+":"+strings.TrimSpace(id)] = v
		}
	}
	return out
}

// Enter (nil: no group, nothing to do) moves the thread pid (a process's first thread is its pid) into
// the group and its MON group. resctrl groups hold threads: what pid
// creates afterwards, or execs into, stays there.
func (g *Group) Enter(pid int) error {
	if g == nil {
		return nil
	}
	for _, dir := range []string{g.Path, g.MonPath} {
		if dir == "" {
			continue
		}
		if err := g.write("tasks", dir, strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("linux.intelRdt: add pid %d: %w", pid, err)
		}
	}
	return nil
}

// Destroy (nil: nothing to do) removes the MON group, and the group if rt made it. What is
// gone already is no error, so a failed create and delete can both call
// it.
func (g *Group) Destroy() error {
	if g == nil {
		return nil
	}
	dirs := []string{g.MonPath}
	if g.Remove && g.Path != g.Root {
		dirs = append(dirs, g.Path)
	}
	for _, dir := range dirs {
		if dir == "" {
			continue
		}
		if err := unix.Rmdir(dir); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("linux.intelRdt: remove resctrl group %s: %w", dir, err)
		}
	}
	return nil
}

// write writes data to dir/name in one write, as resctrl files want, and
// adds resctrl's own account of a refusal.
func (g *Group) write(name, dir, data string) error {
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err == nil {
		_, err = f.Write([]byte(data))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("write %q to %s: %w", strings.TrimSpace(data), path, g.status(err))
	}
	return nil
}

// status adds info/last_cmd_status, where resctrl says why it refused the
// last write or mkdir ("Unknown or unsupported resource name 'L4'").
func (g *Group) status(err error) error {
	data, rerr := os.ReadFile(filepath.Join(g.Root, "info", "last_cmd_status"))
	if s := strings.TrimSpace(string(data)); rerr == nil && s != "" && s != "ok" {
		return fmt.Errorf("%w (last_cmd_status: %s)", err, s)
	}
	return err
}
