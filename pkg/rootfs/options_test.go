package rootfs

import (
	"github.com/moby/sys/mountinfo"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// parseOptionsCase is a mounts[].options list and how it parses.
type parseOptionsCase struct {
	name string
	opts []string
	want parsedOptions
}

// parseOptionsCases are TestParseOptions's cases, and FuzzParseOptions's
// seeds.
func parseOptionsCases() []parseOptionsCase {
	return []parseOptionsCase{
		{"none", nil, parsedOptions{}},
		{"defaults does nothing", []string{"defaults"}, parsedOptions{}},
		{"ro", []string{"ro"}, parsedOptions{flags: unix.MS_RDONLY}},
		{"ro then rw", []string{"ro", "rw"}, parsedOptions{}},
		{"rw then ro", []string{"rw", "ro"}, parsedOptions{flags: unix.MS_RDONLY}},
		{"nosuid suid nodev", []string{"nosuid", "suid", "nodev"}, parsedOptions{flags: unix.MS_NODEV}},
		{"exec clears noexec", []string{"noexec", "nodev", "exec"}, parsedOptions{flags: unix.MS_NODEV}},
		{"dev atime async", []string{"nodev", "noatime", "sync", "dev", "atime", "async"}, parsedOptions{}},
		{"several flags", []string{"nosuid", "noexec", "nodev", "relatime", "ro"},
			parsedOptions{flags: unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV | unix.MS_RELATIME | unix.MS_RDONLY}},
		{"bind", []string{"bind"}, parsedOptions{flags: unix.MS_BIND}},
		{"rbind", []string{"rbind"}, parsedOptions{flags: unix.MS_BIND | unix.MS_REC}},
		{"rbind ro", []string{"rbind", "ro"}, parsedOptions{flags: unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY}},
		{"remount", []string{"remount", "ro"}, parsedOptions{flags: unix.MS_REMOUNT | unix.MS_RDONLY}},
		{"propagation words collected in order", []string{"rprivate", "bind", "shared", "rslave"}, parsedOptions{
			flags:       unix.MS_BIND,
			propagation: []uintptr{unix.MS_PRIVATE | unix.MS_REC, unix.MS_SHARED, unix.MS_SLAVE | unix.MS_REC},
		}},
		{"every propagation word", []string{"private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable"}, parsedOptions{
			propagation: []uintptr{
				unix.MS_PRIVATE, unix.MS_PRIVATE | unix.MS_REC, unix.MS_SHARED, unix.MS_SHARED | unix.MS_REC,
				unix.MS_SLAVE, unix.MS_SLAVE | unix.MS_REC, unix.MS_UNBINDABLE, unix.MS_UNBINDABLE | unix.MS_REC,
			},
		}},
		{"recursive set", []string{"rro", "rnosuid", "rnodev", "rnoexec"}, parsedOptions{
			attrSet: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC,
		}},
		{"recursive clear", []string{"rrw", "rsuid", "rdev", "rexec", "rsymfollow"}, parsedOptions{
			attrClr: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC | unix.MOUNT_ATTR_NOSYMFOLLOW,
		}},
		{"recursive set and clear of different attrs", []string{"rro", "rexec", "rnosymfollow"}, parsedOptions{
			attrSet: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSYMFOLLOW,
			attrClr: unix.MOUNT_ATTR_NOEXEC,
		}},
		// Changing the atime mode needs the whole atime field in attr_clr.
		{"recursive noatime", []string{"rnoatime"}, parsedOptions{attrSet: unix.MOUNT_ATTR_NOATIME, attrClr: unix.MOUNT_ATTR__ATIME}},
		{"recursive words leave flags alone", []string{"ro", "rrw"}, parsedOptions{flags: unix.MS_RDONLY, attrClr: unix.MOUNT_ATTR_RDONLY}},
		// Never data: the spec says idmap SHOULD NOT reach mount(2).
		{"idmap", []string{"bind", "idmap"}, parsedOptions{flags: unix.MS_BIND, idmap: true}},
		{"ridmap", []string{"rbind", "ridmap", "ro"}, parsedOptions{flags: unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY, idmap: true, ridmap: true}},
		{"the last of idmap and ridmap wins", []string{"ridmap", "idmap"}, parsedOptions{idmap: true}},
		{"ridmap after idmap", []string{"idmap", "ridmap"}, parsedOptions{idmap: true, ridmap: true}},
		{"unknown words are data, in order", []string{"mode=755", "ro", "size=65536k", "uid=0", "newinstance"}, parsedOptions{
			flags: unix.MS_RDONLY,
			data:  []string{"mode=755", "size=65536k", "uid=0", "newinstance"},
		}},
		{"case matters", []string{"RO"}, parsedOptions{data: []string{"RO"}}},
		{"default spec /dev", []string{"nosuid", "strictatime", "mode=755", "size=65536k"}, parsedOptions{
			flags: unix.MS_NOSUID | unix.MS_STRICTATIME,
			data:  []string{"mode=755", "size=65536k"},
		}},
	}
}

func TestParseOptions(t *testing.T) {
	for _, tt := range parseOptionsCases() {
		t.Run(tt.name, func(t *testing.T) {
			got := parseOptions(tt.opts)
			if !equalParsed(got, tt.want) {
				t.Errorf("parseOptions(%q) = %+v, want %+v", tt.opts, got, tt.want)
			}
		})
	}
}

// TestParseOptionsRecursiveOrder checks that recursive words, like the
// plain ones, apply in order: a later word undoes an earlier one.
func TestParseOptionsRecursiveOrder(t *testing.T) {
	const orderBug = "parseOptions ORs a recursive word into attrSet or attrClr without removing it from the other; " +
		"mount_setattr then applies attr_set over attr_clr (checked: rro,rrw leaves the mount read-only), so the order " +
		"is lost (fix, as runc: on set attrSet |= a; attrClr &^= a, on clear attrClr |= a; attrSet &^= a)"
	tests := []struct {
		name string
		opts []string
		want parsedOptions
		bug  string
	}{
		{"rro then rrw", []string{"rro", "rrw"}, parsedOptions{attrClr: unix.MOUNT_ATTR_RDONLY}, orderBug},
		{"rrw then rro", []string{"rrw", "rro"}, parsedOptions{attrSet: unix.MOUNT_ATTR_RDONLY}, orderBug},
		{"rnosuid then rsuid", []string{"rnosuid", "rsuid"}, parsedOptions{attrClr: unix.MOUNT_ATTR_NOSUID}, orderBug},
		// MOUNT_ATTR_RELATIME is 0: the word must still select relatime,
		// which mount_setattr does with MOUNT_ATTR__ATIME in attr_clr.
		{"rrelatime", []string{"rrelatime"}, parsedOptions{attrClr: unix.MOUNT_ATTR__ATIME},
			"rrelatime is a no-op: its Attr (MOUNT_ATTR_RELATIME) is 0, so neither \"def.Attr != 0\" case matches and " +
				"finishMount never calls mount_setattr (fix, as runc: for the atime words add MOUNT_ATTR__ATIME to attrClr, " +
				"or match the recursive cases on a field other than Attr != 0)"},
		// The atime words are one value: the last one wins.
		{"rstrictatime then rnoatime", []string{"rstrictatime", "rnoatime"}, parsedOptions{attrSet: unix.MOUNT_ATTR_NOATIME},
			"atime words are ORed into attrSet (STRICTATIME|NOATIME), which mount_setattr rejects with EINVAL " +
				"(checked) (fix: for an atime word attrSet &^= MOUNT_ATTR__ATIME before setting it)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseOptions(tt.opts)
			// finishMount adds MOUNT_ATTR__ATIME to attr_clr whenever an
			// atime attribute is involved; compare with that applied.
			norm := func(p parsedOptions) parsedOptions {
				if (p.attrSet|p.attrClr)&unix.MOUNT_ATTR__ATIME != 0 {
					p.attrClr |= unix.MOUNT_ATTR__ATIME
				}
				return p
			}
			if !equalParsed(norm(got), norm(tt.want)) {
				t.Errorf("parseOptions(%q) = %+v, want %+v (%s)", tt.opts, got, tt.want, tt.bug)
			}
		})
	}
}

func equalParsed(a, b parsedOptions) bool {
	return a.flags == b.flags && a.attrSet == b.attrSet && a.attrClr == b.attrClr &&
		slices.Equal(a.propagation, b.propagation) && slices.Equal(a.data, b.data) &&
		a.idmap == b.idmap && a.ridmap == b.ridmap
}

func TestOptionNames(t *testing.T) {
	names := OptionNames()
	if !sort.StringsAreSorted(names) {
		t.Errorf("not sorted: %q", names)
	}
	if len(names) != len(Options) {
		t.Errorf("%d names, %d options", len(names), len(Options))
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Errorf("%q twice", n)
		}
		seen[n] = true
		if _, ok := Options[n]; !ok {
			t.Errorf("%q not in Options", n)
		}
	}
	for n := range Options {
		if !seen[n] {
			t.Errorf("%q missing from OptionNames", n)
		}
	}
	// Every word runc and the runtime-spec name must be there.
	for _, n := range []string{
		"async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "iversion", "lazytime",
		"loud", "mand", "noatime", "nodev", "nodiratime", "noexec", "noiversion", "nolazytime", "nomand",
		"norelatime", "nostrictatime", "nosuid", "nosymfollow", "private", "ratime", "rbind", "rdev",
		"rdiratime", "relatime", "remount", "rexec", "rnoatime", "rnodev", "rnodiratime", "rnoexec",
		"rnorelatime", "rnostrictatime", "rnosuid", "rnosymfollow", "ro", "rprivate", "rrelatime", "rro",
		"rrw", "rshared", "rslave", "rstrictatime", "rsuid", "rsymfollow", "runbindable", "rw", "shared",
		"silent", "slave", "strictatime", "suid", "symfollow", "sync", "unbindable", "idmap", "ridmap",
	} {
		if !seen[n] {
			t.Errorf("%q missing", n)
		}
	}
	// A copy each time: the caller may change it.
	names[0] = "changed"
	if OptionNames()[0] == "changed" {
		t.Errorf("OptionNames shares its slice")
	}
}

// TestOptionsTable checks the table's own consistency: each word is of one
// kind only.
func TestOptionsTable(t *testing.T) {
	for n, o := range Options {
		kinds := 0
		if o.Propagation {
			kinds++
		}
		if o.Attr != 0 || o.AttrClear {
			kinds++
		}
		if o.Clear || (o.Flag != 0 && !o.Propagation) {
			kinds++
		}
		if kinds > 1 {
			t.Errorf("%q is of %d kinds: %+v", n, kinds, o)
		}
		if o.Propagation && o.Flag&(unix.MS_PRIVATE|unix.MS_SHARED|unix.MS_SLAVE|unix.MS_UNBINDABLE) == 0 {
			t.Errorf("%q is propagation without a propagation flag", n)
		}
		if rec := strings.HasPrefix(n, "r") && o.Flag&unix.MS_REC != 0; rec && !o.Propagation && n != "rbind" {
			t.Errorf("%q has MS_REC", n)
		}
	}
}

// mountpoints reads this process's mount points from mountinfo,
// independently of mountOf.
func mountpoints(t *testing.T) map[string]bool {
	t.Helper()
	infos, err := mountinfo.GetMounts(nil)
	if err != nil {
		t.Skipf("no mountinfo: %v", err)
	}
	m := map[string]bool{}
	for _, info := range infos {
		m[info.Mountpoint] = true
	}
	return m
}

func TestMountOf(t *testing.T) {
	mps := mountpoints(t)
	tests := []struct{ path, want string }{
		{"/", "/"},
	}
	if mps["/proc"] {
		tests = append(tests,
			struct{ path, want string }{"/proc", "/proc"},
			struct{ path, want string }{"/proc/self/mountinfo", "/proc"},
		)
		if !mps["/procx"] && !mps["/procx/y"] {
			// A mount point is not a prefix of a sibling's name.
			tests = append(tests, struct{ path, want string }{"/procx/y", "/"})
		}
	}
	if mps["/sys"] && !mps["/sys/nonexistent"] {
		tests = append(tests, struct{ path, want string }{"/sys/nonexistent", "/sys"})
	}
	for _, tt := range tests {
		got, _, err := mountOf(tt.path)
		if err != nil || got != tt.want {
			t.Errorf("mountOf(%q) = %q, %v; want %q", tt.path, got, err, tt.want)
		}
	}
	// Every mount point holds itself (unless a deeper one does not exist:
	// mountOf answers the longest match).
	for mp := range mps {
		got, _, err := mountOf(mp)
		if err != nil || got != mp {
			t.Errorf("mountOf(%q) = %q, %v", mp, got, err)
		}
	}
	if _, _, err := mountOf("relative/path"); err == nil || !strings.Contains(err.Error(), "no mount holds") {
		t.Errorf("mountOf(relative) = %v, want \"no mount holds\"", err)
	}
}

// TestMountOfShared compares the shared flag of / with its optional fields
// in mountinfo (the last mount on / is the visible one).
func TestMountOfShared(t *testing.T) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Skip(err)
	}
	want := false
	for _, line := range strings.Split(string(data), "\n") {
		pre, _, ok := strings.Cut(line, " - ")
		f := strings.Fields(pre)
		if !ok || len(f) < 6 || f[4] != "/" {
			continue
		}
		want = strings.Contains(" "+strings.Join(f[6:], " "), " shared:")
	}
	_, shared, err := mountOf("/")
	if err != nil || shared != want {
		t.Errorf("mountOf(/): shared %v, %v; mountinfo says %v", shared, err, want)
	}
}

func TestStatfsToMountFlags(t *testing.T) {
	tests := []struct {
		name string
		in   int64
		want uintptr
	}{
		{"none", 0, 0},
		{"rdonly", unix.ST_RDONLY, unix.MS_RDONLY},
		{"nosuid", unix.ST_NOSUID, unix.MS_NOSUID},
		{"nodev", unix.ST_NODEV, unix.MS_NODEV},
		{"noexec", unix.ST_NOEXEC, unix.MS_NOEXEC},
		{"noatime", unix.ST_NOATIME, unix.MS_NOATIME},
		{"nodiratime", unix.ST_NODIRATIME, unix.MS_NODIRATIME},
		{"relatime", unix.ST_RELATIME, unix.MS_RELATIME},
		{"all", unix.ST_RDONLY | unix.ST_NOSUID | unix.ST_NODEV | unix.ST_NOEXEC | unix.ST_NOATIME | unix.ST_NODIRATIME | unix.ST_RELATIME,
			unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME},
		{"read-only system mount", unix.ST_RDONLY | unix.ST_NOSUID | unix.ST_NODEV | unix.ST_NOEXEC | unix.ST_RELATIME,
			unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RELATIME},
		// Bits a bind remount does not keep are dropped.
		{"others ignored", unix.ST_SYNCHRONOUS | unix.ST_MANDLOCK, 0},
		{"mixed", unix.ST_NODEV | unix.ST_MANDLOCK, unix.MS_NODEV},
	}
	for _, tt := range tests {
		if got := statfsToMountFlags(tt.in); got != tt.want {
			t.Errorf("%s: statfsToMountFlags(%#x) = %#x, want %#x", tt.name, tt.in, got, tt.want)
		}
	}
}

// TestBindData: the words of a bind mount's options that would be
// filesystem data, which a bind ignores (spec.Validate refuses them, as
// runc does); nothing for other mounts, whose data goes to mount(2).
func TestBindData(t *testing.T) {
	tests := []struct {
		name string
		m    specs.Mount
		want []string
	}{
		{"bind with size", specs.Mount{Options: []string{"bind", "size=1m"}}, []string{"size=1m"}},
		{"rbind with several, in order", specs.Mount{Type: "none", Options: []string{"mode=755", "rbind", "ro", "uid=0"}}, []string{"mode=755", "uid=0"}},
		{"type bind without the word", specs.Mount{Type: "bind", Options: []string{"size=1m"}}, []string{"size=1m"}},
		{"bind with flags, propagation, recursive words and tmpcopyup", specs.Mount{Type: "bind",
			Options: []string{"rbind", "ro", "nosuid", "nodev", "rprivate", "rro", "rnoexec", "defaults", "tmpcopyup"}}, nil},
		{"tmpfs with data", specs.Mount{Type: "tmpfs", Options: []string{"size=1m", "mode=755"}}, nil},
		{"idmap and ridmap are not data", specs.Mount{Type: "bind", Options: []string{"rbind", "idmap", "ridmap"}}, nil},
		{"no options", specs.Mount{Type: "bind"}, nil},
	}
	for _, tt := range tests {
		if got := BindData(tt.m); !slices.Equal(got, tt.want) {
			t.Errorf("%s: BindData = %q, want %q", tt.name, got, tt.want)
		}
	}
}
