package harness

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

// ListFds parses the output of busybox `ls -l /proc/<pid>/fd` into fd
// number → link target, for tests that check what a container's process
// holds open.
func ListFds(t testing.TB, out string) map[int]string {
	t.Helper()
	fds := map[int]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || !strings.HasPrefix(f[0], "l") {
			continue
		}
		n, err := strconv.Atoi(f[8])
		if err != nil {
			t.Fatalf("ls line %q", line)
		}
		target := ""
		if len(f) >= 11 && f[9] == "->" {
			target = strings.Join(f[10:], " ")
		}
		fds[n] = target
	}
	return fds
}

// FdNumbers is the sorted fd numbers of a ListFds result.
func FdNumbers(m map[int]string) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
