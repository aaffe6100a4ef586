package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/api"
)

// TestCreateRunFlags checks that create's and run's flags land in
// api.CreateOpts.
func TestCreateRunFlags(t *testing.T) {
	all := []string{"-b", "/bundle", "--console-socket", "/run/sock", "--pid-file", "/run/pid",
		"--no-pivot", "--no-new-keyring", "--preserve-fds", "2"}
	allWant := api.CreateOpts{Bundle: "/bundle", ConsoleSocket: "/run/sock", PidFile: "/run/pid",
		NoPivot: true, NoNewKeyring: true, PreserveFDs: 2}
	tests := []struct {
		name   string
		args   []string
		method string
		want   api.CreateOpts
	}{
		{"create/defaults", []string{"create", "c1"}, "Create", api.CreateOpts{}},
		{"create/all", append(append([]string{"create"}, all...), "c1"), "Create", allWant},
		{"create/long-bundle-equals", []string{"create", "--bundle=/b2", "c1"}, "Create", api.CreateOpts{Bundle: "/b2"}},
		{"create/flags-after-id", []string{"create", "c1", "--bundle", "/b3", "--preserve-fds=1"}, "Create", api.CreateOpts{Bundle: "/b3", PreserveFDs: 1}},
		{"run/defaults", []string{"run", "c1"}, "Run", api.CreateOpts{}},
		{"run/all", append(append([]string{"run"}, all...), "-d", "--keep", "--no-subreaper", "c1"), "Run",
			func() api.CreateOpts { o := allWant; o.Detach, o.Keep, o.NoSubreaper = true, true, true; return o }()},
		{"run/detach-long", []string{"run", "--detach", "c1"}, "Run", api.CreateOpts{Detach: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRecFake()
			out := recRT(t, f, tt.args...)
			out.wantExit(t, 0)
			call := f.onlyCall(t, tt.method)
			if call.ID != "c1" {
				t.Errorf("id = %q, want c1", call.ID)
			}
			got := call.Opts.(api.CreateOpts)
			if got.Stdin == nil || got.Stdout == nil || got.Stderr == nil {
				t.Errorf("Stdio not wired: %+v", got.Stdio)
			}
			got.Stdio = api.Stdio{}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("opts = %+v\nwant   %+v", got, tt.want)
			}
		})
	}
	for _, sub := range []string{"create", "run"} {
		t.Run(sub+"/negative-preserve-fds", func(t *testing.T) {
			f := newRecFake()
			out := recRT(t, f, sub, "--preserve-fds", "-1", "c1")
			out.wantExit(t, 1)
			if line := out.oneErrLine(t); !strings.Contains(line, "--preserve-fds -1: must not be negative") {
				t.Errorf("stderr = %q", line)
			}
			f.noCalls(t)
		})
	}
}

// TestExecFlags checks that exec's flags land in api.ExecOpts and that the
// command line after the id is passed through unparsed.
func TestExecFlags(t *testing.T) {
	dir := t.TempDir()
	procFile := filepath.Join(dir, "process.json")
	proc := specs.Process{Args: []string{"/bin/true", "x"}, Cwd: "/work", Env: []string{"A=1"},
		User: specs.User{UID: 5, GID: 6}, Terminal: true}
	data, err := json.Marshal(proc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(procFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	emptyArgs := filepath.Join(dir, "empty.json")
	if err := os.WriteFile(emptyArgs, []byte(`{"cwd":"/"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	notJSON := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(notJSON, []byte("not json"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		args []string
		want api.ExecOpts
	}{
		{"command-line-not-parsed", []string{"exec", "c1", "sh", "-c", "ls -l"},
			api.ExecOpts{Args: []string{"sh", "-c", "ls -l"}}},
		{"flags-after-command-belong-to-it", []string{"exec", "c1", "ls", "-t", "--cwd", "/x", "-e", "A=B"},
			api.ExecOpts{Args: []string{"ls", "-t", "--cwd", "/x", "-e", "A=B"}}},
		{"process-file", []string{"exec", "--process", procFile, "c1"},
			api.ExecOpts{Process: &proc}},
		{"process-file-short", []string{"exec", "-p", procFile, "c1"},
			api.ExecOpts{Process: &proc}},
		{"all-flags", []string{"exec",
			"-e", "A=1", "--env", "B=2",
			"--cwd", "/tmp",
			"-u", "1000:1000",
			"-g", "10", "--additional-gids", "20",
			"--cap", "CAP_NET_ADMIN", "-c", "CAP_SYS_ADMIN",
			"-t", "-d",
			"--pid-file", "/run/exec.pid",
			"--console-socket", "/run/console.sock",
			"--no-new-privs",
			"--apparmor", "unconfined",
			"--process-label", "system_u:system_r:container_t:s0",
			"--preserve-fds", "3",
			"--cgroup", "sub", "--cgroup", "cpu:other",
			"--ignore-paused",
			"c1", "sh", "-c", "ls -l"},
			api.ExecOpts{
				Args:           []string{"sh", "-c", "ls -l"},
				Env:            []string{"A=1", "B=2"},
				Cwd:            "/tmp",
				User:           "1000:1000",
				AdditionalGids: []uint32{10, 20},
				Caps:           []string{"CAP_NET_ADMIN", "CAP_SYS_ADMIN"},
				Tty:            true,
				Detach:         true,
				PidFile:        "/run/exec.pid",
				ConsoleSocket:  "/run/console.sock",
				NoNewPrivs:     true,
				AppArmor:       "unconfined",
				ProcessLabel:   "system_u:system_r:container_t:s0",
				PreserveFDs:    3,
				Cgroup:         []string{"sub", "cpu:other"},
				IgnorePaused:   true,
			}},
		{"user-uid-only", []string{"exec", "--user", "0", "c1", "id"},
			api.ExecOpts{Args: []string{"id"}, User: "0"}},
		{"tty-long", []string{"exec", "--tty", "--detach", "c1", "top"},
			api.ExecOpts{Args: []string{"top"}, Tty: true, Detach: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRecFake()
			out := recRT(t, f, tt.args...)
			out.wantExit(t, 0)
			call := f.onlyCall(t, "Exec")
			if call.ID != "c1" {
				t.Errorf("id = %q, want c1", call.ID)
			}
			got := call.Opts.(api.ExecOpts)
			if got.Stdin == nil || got.Stdout == nil || got.Stderr == nil {
				t.Errorf("Stdio not wired: %+v", got.Stdio)
			}
			got.Stdio = api.Stdio{}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("opts = %#v\nwant   %#v", got, tt.want)
			}
		})
	}

	bad := []struct {
		name  string
		args  []string
		want  string
		usage bool
	}{
		{"process-and-command", []string{"exec", "--process", procFile, "c1", "sh"}, "--process and a command line are mutually exclusive", true},
		{"bad-user", []string{"exec", "-u", "root", "c1", "sh"}, `--user "root": uid "root" is not a number`, true},
		{"bad-gid-in-user", []string{"exec", "-u", "0:wheel", "c1", "sh"}, `gid "wheel" is not a number`, true},
		{"bad-additional-gid", []string{"exec", "-g", "wheel", "c1", "sh"}, `--additional-gids "wheel": not a numeric group id`, true},
		{"negative-preserve-fds", []string{"exec", "--preserve-fds", "-2", "c1", "sh"}, "--preserve-fds -2: must not be negative", true},
		{"missing-process-file", []string{"exec", "--process", filepath.Join(dir, "nope.json"), "c1"}, "--process: ", false},
		{"process-file-not-json", []string{"exec", "--process", notJSON, "c1"}, "invalid JSON", false},
		{"process-file-empty-args", []string{"exec", "--process", emptyArgs, "c1"}, "args is empty", false},
	}
	for _, tt := range bad {
		t.Run("bad/"+tt.name, func(t *testing.T) {
			f := newRecFake()
			out := recRT(t, f, tt.args...)
			want := 1 // usage errors; a process that cannot start is 255, as runc
			if !tt.usage {
				want = 255
			}
			out.wantExit(t, want)
			line := out.oneErrLine(t)
			if !strings.Contains(line, tt.want) {
				t.Errorf("stderr %q does not contain %q", line, tt.want)
			}
			if isUsage := strings.HasSuffix(line, "see 'rt exec --help'"); isUsage != tt.usage {
				t.Errorf("stderr %q: usage error = %v, want %v", line, isUsage, tt.usage)
			}
			f.noCalls(t)
		})
	}
}

// TestKillFlags checks signal parsing and --all.
func TestKillFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		sig  api.Signal
		all  bool
	}{
		{"default-SIGTERM", []string{"kill", "c1"}, 15, false},
		{"number", []string{"kill", "c1", "9"}, 9, false},
		{"bare-name", []string{"kill", "c1", "KILL"}, 9, false},
		{"sig-name", []string{"kill", "c1", "SIGKILL"}, 9, false},
		{"lower-case", []string{"kill", "c1", "sigusr1"}, 10, false},
		{"lower-bare", []string{"kill", "c1", "hup"}, 1, false},
		{"rtmin-plus", []string{"kill", "c1", "SIGRTMIN+3"}, 37, false},
		{"rtmax-minus", []string{"kill", "c1", "RTMAX-1"}, 63, false},
		{"number-64", []string{"kill", "c1", "64"}, 64, false},
		{"all-long", []string{"kill", "--all", "c1", "KILL"}, 9, true},
		{"all-short", []string{"kill", "-a", "c1"}, 15, true},
		{"all-after-id", []string{"kill", "c1", "TERM", "--all"}, 15, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRecFake()
			out := recRT(t, f, tt.args...)
			out.wantExit(t, 0)
			call := f.onlyCall(t, "Kill")
			if call.ID != "c1" || call.Signal != tt.sig {
				t.Errorf("Kill(%q, %d), want Kill(c1, %d)", call.ID, call.Signal, tt.sig)
			}
			if got := call.Opts.(api.KillOpts); got.All != tt.all {
				t.Errorf("All = %v, want %v", got.All, tt.all)
			}
		})
	}
	for _, sig := range []string{"FOO", "0", "65", "-3", "SIGRTMIN+31", "SIGRTMAX-31", "SIGRTMIN+x", ""} {
		t.Run("bad/"+sig, func(t *testing.T) {
			f := newRecFake()
			// "--" so that "-3" reaches the signal parser rather than pflag.
			out := recRT(t, f, "kill", "c1", "--", sig)
			out.wantExit(t, 1)
			line := out.oneErrLine(t)
			if want := "rt: kill: unknown signal \"" + sig + "\"; see 'rt kill --help'"; line != want {
				t.Errorf("stderr = %q, want %q", line, want)
			}
			f.noCalls(t)
		})
	}
}

// TestDeleteFlags checks --force.
func TestDeleteFlags(t *testing.T) {
	for _, tt := range []struct {
		name  string
		args  []string
		force bool
	}{
		{"default", []string{"delete", "c1"}, false},
		{"force-long", []string{"delete", "--force", "c1"}, true},
		{"force-short", []string{"delete", "-f", "c1"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newRecFake()
			recRT(t, f, tt.args...).wantExit(t, 0)
			call := f.onlyCall(t, "Delete")
			if got := call.Opts.(api.DeleteOpts); call.ID != "c1" || got.Force != tt.force {
				t.Errorf("Delete(%q, %+v), want Force=%v", call.ID, got, tt.force)
			}
		})
	}
}

// TestUpdateFlags checks update's flags, --resources from a file and stdin,
// and that flags override the file.
func TestUpdateFlags(t *testing.T) {
	dir := t.TempDir()
	resFile := filepath.Join(dir, "res.json")
	fileJSON := `{"memory":{"limit":100,"reservation":50},"cpu":{"shares":2,"cpus":"3"},"pids":{"limit":5}}`
	if err := os.WriteFile(resFile, []byte(fileJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	badFile := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(badFile, []byte("memory: 1g\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		args  []string
		stdin string
		want  specs.LinuxResources
	}{
		{"no-flags", []string{"update", "c1"}, "", specs.LinuxResources{}},
		{"memory-64m", []string{"update", "--memory", "64m", "c1"}, "",
			specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: recPtr[int64](67108864)}}},
		{"memory-unlimited", []string{"update", "--memory", "-1", "c1"}, "",
			specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: recPtr[int64](-1)}}},
		{"memory-bytes-and-suffixes", []string{"update", "--memory=1024", "--memory-reservation", "512k", "--memory-swap", "2G", "c1"}, "",
			specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: recPtr[int64](1024), Reservation: recPtr[int64](512 << 10), Swap: recPtr[int64](2 << 30)}}},
		{"cpu-quota", []string{"update", "--cpu-quota", "50000", "c1"}, "",
			specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: recPtr[int64](50000)}}},
		{"cpu-quota-unlimited", []string{"update", "--cpu-quota", "-1", "c1"}, "",
			specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: recPtr[int64](-1)}}},
		{"cpu-share", []string{"update", "--cpu-share", "512", "c1"}, "",
			specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: recPtr[uint64](512)}}},
		{"cpu-shares", []string{"update", "--cpu-shares", "1024", "c1"}, "",
			specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: recPtr[uint64](1024)}}},
		{"cpu-all", []string{"update", "--cpu-period", "100000", "--cpu-burst", "10", "--cpu-rt-runtime", "950",
			"--cpu-rt-period", "1000", "--cpuset-cpus", "0-1", "--cpuset-mems", "0", "c1"}, "",
			specs.LinuxResources{CPU: &specs.LinuxCPU{Period: recPtr[uint64](100000), Burst: recPtr[uint64](10),
				RealtimeRuntime: recPtr[int64](950), RealtimePeriod: recPtr[uint64](1000), Cpus: "0-1", Mems: "0"}}},
		{"cpuset-cpus", []string{"update", "--cpuset-cpus", "0,2", "c1"}, "",
			specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0,2"}}},
		{"pids-limit", []string{"update", "--pids-limit", "100", "c1"}, "",
			specs.LinuxResources{Pids: &specs.LinuxPids{Limit: recPtr[int64](100)}}},
		// Passed on for the runtime to warn about and ignore, as runc 1.1 does.
		{"kernel-memory", []string{"update", "--kernel-memory", "10m", "--kernel-memory-tcp", "-1", "--memory", "64m", "c1"}, "",
			specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: recPtr[int64](64 << 20), Kernel: recPtr[int64](10 << 20), KernelTCP: recPtr[int64](-1)}}},
		{"blkio-weight", []string{"update", "--blkio-weight", "500", "c1"}, "",
			specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: recPtr[uint16](500)}}},
		{"resources-file", []string{"update", "--resources", resFile, "c1"}, "",
			specs.LinuxResources{
				Memory: &specs.LinuxMemory{Limit: recPtr[int64](100), Reservation: recPtr[int64](50)},
				CPU:    &specs.LinuxCPU{Shares: recPtr[uint64](2), Cpus: "3"},
				Pids:   &specs.LinuxPids{Limit: recPtr[int64](5)},
			}},
		{"resources-file-flags-override", []string{"update", "-r", resFile, "--memory", "1g", "--cpuset-cpus", "0-7", "--pids-limit", "-1", "c1"}, "",
			specs.LinuxResources{
				Memory: &specs.LinuxMemory{Limit: recPtr[int64](1 << 30), Reservation: recPtr[int64](50)},
				CPU:    &specs.LinuxCPU{Shares: recPtr[uint64](2), Cpus: "0-7"},
				Pids:   &specs.LinuxPids{Limit: recPtr[int64](-1)},
			}},
		{"resources-stdin", []string{"update", "--resources", "-", "c1"}, `{"pids":{"limit":7},"blockIO":{"weight":300}}`,
			specs.LinuxResources{Pids: &specs.LinuxPids{Limit: recPtr[int64](7)}, BlockIO: &specs.LinuxBlockIO{Weight: recPtr[uint16](300)}}},
		{"resources-stdin-flag-override", []string{"update", "--resources=-", "--pids-limit", "9", "c1"}, `{"pids":{"limit":7}}`,
			specs.LinuxResources{Pids: &specs.LinuxPids{Limit: recPtr[int64](9)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recIsolate(t)
			f := newRecFake()
			out := recMain(t, recRTProgram(f.factory), tt.stdin, append([]string{"--root", t.TempDir()}, tt.args...)...)
			out.wantExit(t, 0)
			call := f.onlyCall(t, "Update")
			if call.ID != "c1" {
				t.Errorf("id = %q, want c1", call.ID)
			}
			got := call.Opts.(api.UpdateOpts).Resources
			if got == nil {
				t.Fatal("Resources is nil")
			}
			if !reflect.DeepEqual(*got, tt.want) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(tt.want)
				t.Errorf("resources = %s\nwant        %s", g, w)
			}
		})
	}

	bad := []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		{"resources-not-json", []string{"update", "--resources", badFile, "c1"}, "", "--resources " + badFile + ": not a LinuxResources JSON"},
		{"resources-stdin-not-json", []string{"update", "--resources", "-", "c1"}, "nope", "--resources -: not a LinuxResources JSON"},
		{"resources-missing", []string{"update", "--resources", filepath.Join(dir, "none.json"), "c1"}, "", "--resources: "},
		{"memory-not-a-size", []string{"update", "--memory", "lots", "c1"}, "", `update: --memory "lots": not a size`},
		{"memory-negative", []string{"update", "--memory", "-2", "c1"}, "", `update: --memory "-2": not a size`},
		{"memory-overflow", []string{"update", "--memory", "9999999999999t", "c1"}, "", "size out of range"},
		{"kernel-memory-not-a-size", []string{"update", "--kernel-memory", "lots", "c1"}, "", `update: --kernel-memory "lots": not a size`},
		{"cpu-quota-not-a-number", []string{"update", "--cpu-quota", "x", "c1"}, "", "update: invalid argument"},
	}
	for _, tt := range bad {
		t.Run("bad/"+tt.name, func(t *testing.T) {
			recIsolate(t)
			f := newRecFake()
			out := recMain(t, recRTProgram(f.factory), tt.stdin, append([]string{"--root", t.TempDir()}, tt.args...)...)
			out.wantExit(t, 1)
			line := out.oneErrLine(t)
			if !strings.Contains(line, tt.want) {
				t.Errorf("stderr %q does not contain %q", line, tt.want)
			}
			f.noCalls(t)
		})
	}
}

// TestEventsFlags checks --stats and --interval and that events reach stdout
// as JSON lines.
func TestEventsFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		stats    bool
		interval time.Duration
	}{
		{"defaults", []string{"events", "c1"}, false, 5 * time.Second},
		{"stats", []string{"events", "--stats", "c1"}, true, 5 * time.Second},
		{"interval", []string{"events", "--interval", "2s", "c1"}, false, 2 * time.Second},
		{"interval-equals-ms", []string{"events", "--interval=250ms", "--stats", "c1"}, true, 250 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRecFake()
			f.events = []api.Event{
				{Type: "stats", ID: "c1", Data: map[string]any{"pids": map[string]any{"current": 3.0}}},
				{Type: "oom", ID: "c1"},
			}
			out := recRT(t, f, tt.args...)
			out.wantExit(t, 0)
			call := f.onlyCall(t, "Events")
			got := call.Opts.(api.EventsOpts)
			if call.ID != "c1" || got.Stats != tt.stats || got.Interval != tt.interval || got.Sink == nil {
				t.Errorf("Events(%q, stats=%v interval=%v sink=%v), want (c1, %v, %v, non-nil)",
					call.ID, got.Stats, got.Interval, got.Sink != nil, tt.stats, tt.interval)
			}
			lines := recLines(out.stdout)
			if len(lines) != 2 {
				t.Fatalf("stdout = %q, want 2 JSON lines", out.stdout)
			}
			for i, l := range lines {
				var ev api.Event
				if err := json.Unmarshal([]byte(l), &ev); err != nil {
					t.Fatalf("line %d %q: %v", i, l, err)
				}
				if ev.Type != f.events[i].Type || ev.ID != "c1" {
					t.Errorf("line %d = %+v, want %+v", i, ev, f.events[i])
				}
			}
			if !reflect.DeepEqual(decodeAny(t, lines[0])["data"], f.events[0].Data) {
				t.Errorf("stats data = %s", lines[0])
			}
			if _, ok := decodeAny(t, lines[1])["data"]; ok {
				t.Errorf("oom event %s has data, want it omitted", lines[1])
			}
		})
	}
	for _, iv := range []string{"0", "-1s"} {
		t.Run("bad-interval/"+iv, func(t *testing.T) {
			f := newRecFake()
			out := recRT(t, f, "events", "--interval", iv, "c1")
			out.wantExit(t, 1)
			if line := out.oneErrLine(t); !strings.Contains(line, "must be positive") || !strings.HasPrefix(line, "rt: events: --interval") {
				t.Errorf("stderr = %q", line)
			}
			f.noCalls(t)
		})
	}
}

func decodeAny(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return m
}

// TestCheckpointFlags checks rt-checkpoint's checkpoint options.
func TestCheckpointFlags(t *testing.T) {
	t.Chdir(t.TempDir())
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	def := api.CheckpointOpts{ImagePath: filepath.Join(cwd, "checkpoint"), StatusFd: -1}
	tests := []struct {
		name string
		args []string
		want api.CheckpointOpts
	}{
		{"defaults", []string{"checkpoint", "c1"}, def},
		{"all", []string{"checkpoint",
			"--image-path", "/img", "--work-path", "/work", "--parent-path", "../pre",
			"--leave-running", "--tcp-established", "--ext-unix-sk", "--shell-job", "--file-locks",
			"--pre-dump", "--page-server", "1.2.3.4:5000", "--manage-cgroups-mode", "full",
			"--empty-ns", "network", "--auto-dedup", "--lazy-pages", "--status-fd", "5", "c1"},
			api.CheckpointOpts{ImagePath: "/img", WorkPath: "/work", ParentPath: "../pre",
				LeaveRunning: true, TCPEstablished: true, ExtUnixSk: true, ShellJob: true, FileLocks: true,
				PreDump: true, PageServer: api.PageServer{Address: "1.2.3.4", Port: 5000},
				ManageCgroupsMode: "full", EmptyNs: []string{"network"}, AutoDedup: true, LazyPages: true, StatusFd: 5}},
		{"page-server-ipv6", []string{"checkpoint", "--page-server", "[::1]:27", "c1"},
			func() api.CheckpointOpts { o := def; o.PageServer = api.PageServer{Address: "::1", Port: 27}; return o }()},
		{"page-server-hostname", []string{"checkpoint", "--page-server=criu.example:65535", "c1"},
			func() api.CheckpointOpts {
				o := def
				o.PageServer = api.PageServer{Address: "criu.example", Port: 65535}
				return o
			}()},
		{"relative-image-path-kept", []string{"checkpoint", "--image-path", "img", "c1"},
			func() api.CheckpointOpts { o := def; o.ImagePath = "img"; return o }()},
		// --export alone: no ./checkpoint default, the runtime uses a
		// temporary directory.
		{"export", []string{"checkpoint", "--export", "/a/c.tar.zst", "c1"},
			api.CheckpointOpts{Export: "/a/c.tar.zst", StatusFd: -1}},
		{"export-gz-leave-running", []string{"checkpoint", "--export=c.tar.gz", "--leave-running", "c1"},
			api.CheckpointOpts{Export: "c.tar.gz", LeaveRunning: true, StatusFd: -1}},
		{"export-with-image-path", []string{"checkpoint", "--export", "c.tar", "--image-path", "/img", "c1"},
			api.CheckpointOpts{Export: "c.tar", ImagePath: "/img", StatusFd: -1}},
	}
	for _, mode := range []string{"soft", "strict", "ignore"} {
		o := def
		o.ManageCgroupsMode = mode
		tests = append(tests, struct {
			name string
			args []string
			want api.CheckpointOpts
		}{"manage-cgroups-mode-" + mode, []string{"checkpoint", "--manage-cgroups-mode", mode, "c1"}, o})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRecFake()
			recCkpt(t, f, tt.args...).wantExit(t, 0)
			call := f.onlyCall(t, "Checkpoint")
			if call.ID != "c1" {
				t.Errorf("id = %q, want c1", call.ID)
			}
			if got := call.Opts.(api.CheckpointOpts); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("opts = %+v\nwant   %+v", got, tt.want)
			}
		})
	}

	bad := []struct {
		name, flag, val, want string
	}{
		{"page-server-no-port", "--page-server", "1.2.3.4", `--page-server "1.2.3.4": must be ADDRESS:PORT`},
		{"page-server-no-host", "--page-server", ":5000", `--page-server ":5000": must be ADDRESS:PORT`},
		{"page-server-port-range", "--page-server", "1.2.3.4:70000", `--page-server "1.2.3.4:70000": must be ADDRESS:PORT`},
		{"page-server-port-name", "--page-server", "1.2.3.4:http", `must be ADDRESS:PORT`},
		{"manage-cgroups-mode", "--manage-cgroups-mode", "bad", `--manage-cgroups-mode "bad": must be soft, full, strict or ignore`},
		{"empty-ns", "--empty-ns", "pid", `--empty-ns "pid": only network is supported`},
		{"export-suffix", "--export", "c.zip", `--export "c.zip": must end in .tar, .tar.gz or .tar.zst`},
	}
	for _, tt := range bad {
		t.Run("bad/"+tt.name, func(t *testing.T) {
			f := newRecFake()
			out := recCkpt(t, f, "checkpoint", tt.flag, tt.val, "c1")
			out.wantExit(t, 1)
			line := out.oneErrLine(t)
			if !strings.HasPrefix(line, "rt-checkpoint: checkpoint: ") || !strings.Contains(line, tt.want) ||
				!strings.HasSuffix(line, "see 'rt-checkpoint checkpoint --help'") {
				t.Errorf("stderr = %q, want a checkpoint usage line containing %q", line, tt.want)
			}
			f.noCalls(t)
		})
	}

	for _, extra := range [][]string{{"--pre-dump"}, {"--lazy-pages"}, {"--page-server", "1.2.3.4:5000"}} {
		t.Run("bad/export-with"+extra[0], func(t *testing.T) {
			f := newRecFake()
			out := recCkpt(t, f, append(append([]string{"checkpoint", "--export", "c.tar"}, extra...), "c1")...)
			out.wantExit(t, 1)
			if line := out.oneErrLine(t); !strings.Contains(line, "--export cannot be used with "+extra[0]) {
				t.Errorf("stderr = %q", line)
			}
			f.noCalls(t)
		})
	}

	t.Run("not-implemented", func(t *testing.T) {
		recIsolate(t)
		f := newRecFake()
		prog := recCkptProgram(func(cfg api.GlobalConfig) (api.ContainerOperations, error) {
			_, _ = f.factory(cfg)
			return onlyOps{f}, nil
		})
		out := recMain(t, prog, "", "--root", t.TempDir(), "checkpoint", "c1")
		out.wantExit(t, 1)
		if line := out.oneErrLine(t); line != "rt-checkpoint: checkpoint: not implemented" {
			t.Errorf("stderr = %q", line)
		}
		if calls := f.Calls(); len(calls) != 0 {
			t.Errorf("calls = %+v", calls)
		}
	})
}

// TestRestoreFlags checks rt-checkpoint's restore options.
func TestRestoreFlags(t *testing.T) {
	t.Chdir(t.TempDir())
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want api.RestoreOpts
	}{
		{"defaults", []string{"restore", "c1"}, api.RestoreOpts{
			CheckpointOpts: api.CheckpointOpts{ImagePath: filepath.Join(cwd, "checkpoint"), StatusFd: -1}}},
		{"all", []string{"restore",
			"-b", "/bundle", "--console-socket", "/run/console.sock", "-d", "--pid-file", "/run/pid",
			"--no-subreaper", "--no-pivot", "--lsm-profile", "selinux:label", "--lsm-mount-context", "ctx",
			"--image-path", "/img", "--work-path", "/work", "--tcp-established", "--ext-unix-sk",
			"--shell-job", "--file-locks", "--manage-cgroups-mode", "ignore", "--empty-ns", "network",
			"--auto-dedup", "--lazy-pages", "c1"},
			api.RestoreOpts{
				CreateOpts: api.CreateOpts{Bundle: "/bundle", ConsoleSocket: "/run/console.sock", Detach: true,
					PidFile: "/run/pid", NoPivot: true},
				CheckpointOpts: api.CheckpointOpts{ImagePath: "/img", WorkPath: "/work", TCPEstablished: true,
					ExtUnixSk: true, ShellJob: true, FileLocks: true, ManageCgroupsMode: "ignore",
					EmptyNs: []string{"network"}, AutoDedup: true, LazyPages: true, StatusFd: -1},
				NoSubreaper:     true,
				LSMProfile:      "selinux:label",
				LSMMountContext: "ctx",
			}},
		{"bundle-long-detach-long", []string{"restore", "--bundle=/b", "--detach", "c1"}, api.RestoreOpts{
			CreateOpts:     api.CreateOpts{Bundle: "/b", Detach: true},
			CheckpointOpts: api.CheckpointOpts{ImagePath: filepath.Join(cwd, "checkpoint"), StatusFd: -1}}},
		// --import: no ./checkpoint default, the images come from the
		// archive.
		{"import", []string{"restore", "--import", "/a/c.tar.zst", "-b", "/b", "-d", "c1"}, api.RestoreOpts{
			CreateOpts:     api.CreateOpts{Bundle: "/b", Detach: true},
			CheckpointOpts: api.CheckpointOpts{StatusFd: -1},
			Import:         "/a/c.tar.zst"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRecFake()
			recCkpt(t, f, tt.args...).wantExit(t, 0)
			call := f.onlyCall(t, "Restore")
			if call.ID != "c1" {
				t.Errorf("id = %q, want c1", call.ID)
			}
			got := call.Opts.(api.RestoreOpts)
			if got.Stdin == nil || got.Stdout == nil || got.Stderr == nil {
				t.Errorf("Stdio not wired: %+v", got.Stdio)
			}
			got.Stdio = api.Stdio{}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("opts = %+v\nwant   %+v", got, tt.want)
			}
		})
	}
	for _, tt := range []struct{ name, flag, val, want string }{
		{"manage-cgroups-mode", "--manage-cgroups-mode", "bad", `--manage-cgroups-mode "bad"`},
		{"empty-ns", "--empty-ns", "ipc", `--empty-ns "ipc"`},
	} {
		t.Run("bad/"+tt.name, func(t *testing.T) {
			f := newRecFake()
			out := recCkpt(t, f, "restore", tt.flag, tt.val, "c1")
			out.wantExit(t, 1)
			line := out.oneErrLine(t)
			if !strings.HasPrefix(line, "rt-checkpoint: restore: ") || !strings.Contains(line, tt.want) {
				t.Errorf("stderr = %q", line)
			}
			f.noCalls(t)
		})
	}
	t.Run("import-with-image-path", func(t *testing.T) {
		f := newRecFake()
		out := recCkpt(t, f, "restore", "--import", "c.tar", "--image-path", "/img", "c1")
		out.wantExit(t, 1)
		if line := out.oneErrLine(t); !strings.Contains(line, "--import and --image-path cannot be used together") {
			t.Errorf("stderr = %q", line)
		}
		f.noCalls(t)
	})
	t.Run("export-is-checkpoint-only", func(t *testing.T) {
		f := newRecFake()
		out := recCkpt(t, f, "restore", "--export", "c.tar", "c1")
		out.wantExit(t, 1)
		if line := out.oneErrLine(t); !strings.Contains(line, "--export") {
			t.Errorf("stderr = %q", line)
		}
		f.noCalls(t)
	})
	t.Run("checkpoint-only-flag-refused", func(t *testing.T) {
		f := newRecFake()
		out := recCkpt(t, f, "restore", "--leave-running", "c1")
		out.wantExit(t, 1)
		if line := out.oneErrLine(t); !strings.Contains(line, "--leave-running") {
			t.Errorf("stderr = %q", line)
		}
		f.noCalls(t)
	})
}
