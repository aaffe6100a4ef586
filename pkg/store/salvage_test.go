package store

import (
	"maps"
	"os"
	"strings"
	"testing"
)

// TestSalvage: what delete --force can still read of a damaged state file.
func TestSalvage(t *testing.T) {
	full := `{"id":"c1","ociVersion":"1.3.0","bundle":"/b","rootfs":"/b/rootfs","created":"2026-12-06T00:00:00Z",` +
		`"initPid":4242,"initStartTime":77,"ready":true,"cgroupPaths":{"memory":"/sys/fs/cgroup/memory/c1","pids":"/sys/fs/cgroup/pids/c1"},` +
		`"cgroupsPath":"/c1","spec":{"ociVersion":"1.3.0","process":{"args":["sh"]}}}`
	paths := map[string]string{"memory": "/sys/fs/cgroup/memory/c1", "pids": "/sys/fs/cgroup/pids/c1"}
	for _, tt := range []struct {
		name       string
		data       string
		pid        int
		paths      map[string]string
		cgroupPath string
	}{
		{"whole", full, 4242, paths, "/c1"},
		{"cut in the spec", full[:strings.Index(full, `"process"`)+5], 4242, paths, "/c1"},
		{"cut after the paths", full[:strings.Index(full, `,"cgroupsPath"`)], 4242, paths, ""},
		{"cut in the paths", full[:strings.Index(full, `"pids"`)], 4242, nil, ""},
		{"cut before the start time", full[:strings.Index(full, `"initStartTime"`)], 0, nil, ""},
		{"another container's", strings.Replace(full, `"id":"c1"`, `"id":"c2"`, 1), 0, nil, ""},
		{"garbage", "garbage", 0, nil, ""},
		{"empty", "", 0, nil, ""},
		{"an array", "[1,2]", 0, nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := New(t.TempDir())
			h, err := s.Create("c1")
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			if err := os.WriteFile(h.Path(StateFile), []byte(tt.data), 0o600); err != nil {
				t.Fatal(err)
			}
			st := h.Salvage()
			if st.ID != "c1" || st.InitPid != tt.pid || !maps.Equal(st.CgroupPaths, tt.paths) || st.CgroupsPath != tt.cgroupPath {
				t.Errorf("Salvage = id %q pid %d paths %v cgroupsPath %q; want pid %d paths %v cgroupsPath %q",
					st.ID, st.InitPid, st.CgroupPaths, st.CgroupsPath, tt.pid, tt.paths, tt.cgroupPath)
			}
		})
	}
}
