package lifecycle_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/test/harness"
)

// TestMountThroughBrokenSymlinkRefused: a mount destination whose path
// goes through a symlink of the rootfs that leads nowhere inside it (or to
// a file) is refused, with nothing made, neither in the rootfs nor on the
// host: making the missing directories through the link is what runc ≤
// 1.1.13 did, the race of CVE-2024-45310. The one line on stderr says
// which component is the symlink, where it points and why that fails; rt
// once said only "openat2 …/rootfs/link: not a directory".
func TestMountThroughBrokenSymlinkRefused(t *testing.T) {
	if harness.Compared != "" {
		t.Skip("runc 1.1.5 makes the directories through the symlink (CVE-2024-45310)")
	}
	r := runner(t)
	src := t.TempDir()
	// Absolute targets unique to this run, so that the test can tell that
	// nothing was made on the host either.
	nowhere := fmt.Sprintf("/rt-test-nowhere-%d", os.Getpid())
	for _, tc := range []struct {
		name  string
		links map[string]string // rootfs path → symlink target
		dest  string
		want  string
	}{
		{"absolute, dangling", map[string]string{"link": nowhere + "/dir"}, "/link/newsub",
			"/link is a symlink to " + nowhere + "/dir, which does not exist in the rootfs"},
		{"relative, dangling, deeper", map[string]string{"a/rel": "../" + nowhere[1:] + "/x"}, "/a/rel/b/c",
			"/a/rel is a symlink to ../" + nowhere[1:] + "/x, which does not exist in the rootfs"},
		{"the destination itself", map[string]string{"link": nowhere + "/dir"}, "/link",
			"/link is a symlink to " + nowhere + "/dir, which does not exist in the rootfs"},
		{"to a file", map[string]string{"flink": "/etc/hosts"}, "/flink/sub",
			"/flink is a symlink to /etc/hosts, which is not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := bundle(t, []string{"true"}, func(s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: tc.dest, Type: "bind", Source: src, Options: []string{"bind"}})
			})
			rootfs := filepath.Join(b, "rootfs")
			for path, target := range tc.links {
				os.MkdirAll(filepath.Dir(filepath.Join(rootfs, path)), 0o755)
				if err := os.Symlink(target, filepath.Join(rootfs, path)); err != nil {
					t.Fatal(err)
				}
			}
			id := harness.ID("dangling")
			res := r.RT("create", "--bundle", b, id)
			line := failsCleanly(t, "create", res, "mount "+src+" on "+tc.dest+": "+tc.want)
			if strings.Contains(line, "openat2") || strings.Contains(line, rootfs) {
				t.Errorf("stderr %q: the safe walk's own error, want only the diagnosis", line)
			}
			for _, p := range []string{filepath.Join(rootfs, nowhere), nowhere} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("%s was made", p)
					os.RemoveAll(p)
				}
			}
			if res.Code == 0 {
				r.RT("delete", "--force", id)
			}
			r.AssertNoTrace(t, id, b)
		})
	}
}
