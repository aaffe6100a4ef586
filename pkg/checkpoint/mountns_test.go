package checkpoint

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestInPrivateMountNS: a mount made in fn, and a child started there,
// see each other; the host's namespace sees neither the mount nor, once
// the child exits, anything left to unmount.
func TestInPrivateMountNS(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (unshare CLONE_NEWNS, mount)")
	}
	dir := t.TempDir()
	hostNS, _ := os.Readlink("/proc/self/ns/mnt")
	var cmd *exec.Cmd
	var out strings.Builder
	err := inPrivateMountNS(func() error {
		if err := unix.Mount(dir, dir, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return err
		}
		cmd = exec.Command("sh", "-c", "readlink /proc/self/ns/mnt; grep -c ' "+dir+" ' /proc/self/mountinfo")
		cmd.Stdout = &out
		return cmd.Start()
	})
	if err != nil {
		t.Fatalf("inPrivateMountNS: %v", err)
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), " "+dir+" ") {
		t.Errorf("the bind made in the private namespace shows in the host's")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v (%q)", err, out.String())
	}
	lines := strings.Fields(out.String())
	if len(lines) != 2 || lines[0] == hostNS || lines[1] != "1" {
		t.Errorf("child saw namespace and bind count %q, want a namespace other than %s and 1", lines, hostNS)
	}
	if ns, _ := os.Readlink("/proc/self/ns/mnt"); ns != hostNS {
		t.Errorf("the process moved to mount namespace %s", ns)
	}
	// The thread that made the namespace is gone: no thread of this
	// process keeps it (and its mounts) alive.
	if len(lines) == 2 {
		deadline := time.Now().Add(2 * time.Second)
		for {
			left := threadsIn(lines[0])
			if len(left) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("threads %v still in the private namespace %s", left, lines[0])
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// threadsIn lists this process's threads in mount namespace ns.
func threadsIn(ns string) []string {
	var out []string
	links, _ := filepath.Glob("/proc/self/task/*/ns/mnt")
	for _, l := range links {
		if target, err := os.Readlink(l); err == nil && target == ns {
			out = append(out, l)
		}
	}
	return out
}
