package lifecycle_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/test/harness"
)

// thHookScript records what a hook got: the state from stdin, its environment
// (as the shell exports it), its arguments and, for the pid in the state, the
// comm of that process, then appends its name to the order file. $1 is the
// hook's name, $2 the directory to write to. startContainer takes its time, so
// that a poststart that does not wait for the program to be executed (which
// is after startContainer) shows.
const thHookScript = `#!/bin/busybox sh
name=$1 dir=$2
[ "$name" = startContainer ] && /bin/busybox sleep 0.3
/bin/busybox cat > "$dir/$name.json"
/bin/busybox cat /proc/self/environ > "$dir/$name.env"
printf '%s\n' "$@" > "$dir/$name.args"
pid=$(/bin/busybox sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$dir/$name.json")
/bin/busybox cat /proc/$pid/comm > "$dir/$name.comm" 2>/dev/null
echo "$name" >> "$dir/order"
`

// thHookRecord is what thHookScript wrote for one hook.
type thHookRecord struct {
	State specs.State
	Env   []string
	Args  []string
	Comm  string
}

func thReadHook(t *testing.T, dir, name string) thHookRecord {
	t.Helper()
	var rec thHookRecord
	data, err := os.ReadFile(filepath.Join(dir, name+".json"))
	if err != nil {
		t.Fatalf("%s hook did not run: %v", name, err)
	}
	if err := json.Unmarshal(data, &rec.State); err != nil {
		t.Fatalf("%s hook got state %q: %v", name, data, err)
	}
	env, _ := os.ReadFile(filepath.Join(dir, name+".env"))
	rec.Env = strings.Split(strings.TrimRight(string(env), "\x00"), "\x00")
	args, _ := os.ReadFile(filepath.Join(dir, name+".args"))
	rec.Args = strings.Split(strings.TrimSuffix(string(args), "\n"), "\n")
	comm, _ := os.ReadFile(filepath.Join(dir, name+".comm"))
	rec.Comm = strings.TrimSpace(string(comm))
	return rec
}

var thHookPoints = []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}

// thHookEnv is the environment given to hook name.
func thHookEnv(name string) []string {
	return []string{"PATH=/nowhere", "HOOK_NAME=" + name, "SPACED=a b=c"}
}

// thHooked is a container whose config has one recording hook at every point.
type thHooked struct {
	r      *harness.Runner
	id     string
	bundle string
	// log is the host dir the hooks write to.
	log string
	// pid is the container's init as the host sees it.
	pid int
}

// thRunHooked creates, starts, kills and deletes a container with a recording
// hook at every point. The startContainer hook runs after pivot_root, so its
// script lives in the rootfs and writes to the log dir bound into the
// container at /hooklog; the others use the host's paths (createContainer
// runs before pivot_root, where they still resolve). poststart is run through
// /bin/busybox with argv[0] "sh", which only works if argv[0] is passed as
// given.
func thRunHooked(t *testing.T) *thHooked {
	r := thXrunner(t)
	// rt's own environment must not reach a hook.
	r.Env = append(os.Environ(), "RT_TEST_LEAK=1")
	h := &thHooked{r: r, id: harness.ID("hooks"), log: t.TempDir()}
	script := filepath.Join(h.log, "hook.sh")
	if err := os.WriteFile(script, []byte(thHookScript), 0o755); err != nil {
		t.Fatal(err)
	}
	hook := func(name string) specs.Hook {
		return specs.Hook{Path: script, Args: []string{"argv0-" + name, name, h.log, "two words"}, Env: thHookEnv(name)}
	}
	h.bundle = bundle(t, []string{"sleep", "1000"}, func(s *specs.Spec) {
		s.Annotations = map[string]string{"org.rt.test": "hooks", "second": "two"}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/hooklog", Type: "bind", Source: h.log, Options: []string{"rbind", "rw"}})
		s.Hooks = &specs.Hooks{
			Prestart:        []specs.Hook{hook("prestart")},
			CreateRuntime:   []specs.Hook{hook("createRuntime")},
			CreateContainer: []specs.Hook{hook("createContainer")},
			StartContainer: []specs.Hook{{
				Path: "/start-hook.sh", Args: []string{"argv0-startContainer", "startContainer", "/hooklog", "two words"},
				Env: thHookEnv("startContainer"),
			}},
			Poststart: []specs.Hook{{
				Path: "/bin/busybox", Args: []string{"sh", script, "poststart", h.log, "two words"},
				Env: thHookEnv("poststart"),
			}},
			Poststop: []specs.Hook{hook("poststop")},
		}
	})
	if err := os.WriteFile(filepath.Join(h.bundle, "rootfs/start-hook.sh"), []byte(thHookScript), 0o755); err != nil {
		t.Fatal(err)
	}
	if res := r.RT("create", "--bundle", h.bundle, h.id); res.Code != 0 {
		t.Fatalf("create: %s", res)
	}
	st := state(t, r, h.id)
	h.pid = st.InitProcessPid
	if got := h.order(t); !slices.Equal(got, thHookPoints[:3]) {
		t.Errorf("hooks run by create: %v, want %v", got, thHookPoints[:3])
	}
	if res := r.RT("start", h.id); res.Code != 0 {
		t.Fatalf("start: %s", res)
	}
	waitFor(t, func() bool { return len(h.order(t)) >= 5 })
	if res := r.RT("kill", h.id, "KILL"); res.Code != 0 {
		t.Fatalf("kill: %s", res)
	}
	thWaitStopped(t, r, h.id)
	if res := r.RT("delete", h.id); res.Code != 0 {
		t.Fatalf("delete: %s", res)
	}
	r.AssertNoTrace(t, h.id, h.bundle)
	return h
}

func (h *thHooked) order(t *testing.T) []string {
	data, _ := os.ReadFile(filepath.Join(h.log, "order"))
	return strings.Fields(string(data))
}

// TestHookPoints checks every hook point: the order, the state each got, and the
// arguments and environment exactly as configured.
func TestHookPoints(t *testing.T) {
	h := thRunHooked(t)
	// Where poststart runs is TestHookPoststartAfterExec's.
	got := h.order(t)
	if n := len(slices.DeleteFunc(slices.Clone(got), func(p string) bool { return p != "poststart" })); n != 1 {
		t.Errorf("hook order %v: poststart ran %d times", got, n)
	}
	got = slices.DeleteFunc(got, func(p string) bool { return p == "poststart" })
	if want := slices.DeleteFunc(slices.Clone(thHookPoints), func(p string) bool { return p == "poststart" }); !slices.Equal(got, want) {
		t.Errorf("hook order %v (poststart left out), want %v", got, want)
	}
	wantStatus := map[string]specs.ContainerState{
		"prestart": specs.StateCreating, "createRuntime": specs.StateCreating,
		"startContainer": specs.StateCreated, "poststart": specs.StateRunning, "poststop": specs.StateStopped,
	}
	for _, name := range thHookPoints {
		rec := thReadHook(t, h.log, name)
		st := rec.State
		if st.ID != h.id || st.Bundle != h.bundle || st.Annotations["org.rt.test"] != "hooks" || st.Annotations["second"] != "two" {
			t.Errorf("%s hook got state %+v, want id %s, bundle %s and the annotations", name, st, h.id, h.bundle)
		}
		if want, ok := wantStatus[name]; ok && st.Status != want {
			t.Errorf("%s hook got status %q, want %q", name, st.Status, want)
		}
		switch name {
		case "prestart", "createRuntime", "poststart":
			// Run in the runtime's namespaces: the host's pid.
			if st.Pid != h.pid {
				t.Errorf("%s hook got pid %d, want the init's %d", name, st.Pid, h.pid)
			}
		}
		if want := []string{name, h.log, "two words"}; name == "startContainer" {
			if want[1] = "/hooklog"; !slices.Equal(rec.Args, want) {
				t.Errorf("%s hook got args %q, want %q", name, rec.Args, want)
			}
		} else if !slices.Equal(rec.Args, want) {
			t.Errorf("%s hook got args %q, want %q", name, rec.Args, want)
		}
		// The shell exports SHLVL and PWD of its own; nothing else may be
		// there but the hook's env.
		var env []string
		for _, e := range rec.Env {
			if !strings.HasPrefix(e, "SHLVL=") && !strings.HasPrefix(e, "PWD=") {
				env = append(env, e)
			}
		}
		slices.Sort(env)
		want := slices.Sorted(slices.Values(thHookEnv(name)))
		if !slices.Equal(env, want) {
			t.Errorf("%s hook got env %q, want exactly %q", name, env, want)
		}
	}
}

// TestHookPoststartAfterExec: the runtime-spec runs poststart after the
// user-specified program is executed (lifecycle steps 7-9: startContainer,
// the program, poststart), and before start returns.
func TestHookPoststartAfterExec(t *testing.T) {
	h := thRunHooked(t)
	rec := thReadHook(t, h.log, "poststart")
	if got := h.order(t); !slices.Equal(got, thHookPoints) || rec.Comm != "sleep" {
		thBug(t, fmt.Sprintf("poststart hooks run before the container's program is executed (the process was %q, "+
			"not sleep; hook order %v) and so race with the startContainer hooks: pkg/runtime/lifecycle.go start runs "+
			"them as soon as releaseFifo has read the one byte rt-init writes, and pkg/initproc closes the fifo "+
			"right after writing it, before startContainer, the uid switch and execve. runc's way: rt-init keeps its "+
			"O_CLOEXEC write end open until execve and releaseFifo reads to end of file (which then means the exec "+
			"happened, or init died), before poststart. (Debian's runc 1.1.5 is no reference here: it runs poststart "+
			"during create, with status created.)", rec.Comm, got))
		t.Errorf("hook order %v, want %v; poststart saw the process as %q, want sleep", got, thHookPoints, rec.Comm)
	}
}

// TestHookCreateContainerStatus: createContainer runs during create, so its
// state says creating, as for createRuntime (runc: creating).
func TestHookCreateContainerStatus(t *testing.T) {
	h := thRunHooked(t)
	if rec := thReadHook(t, h.log, "createContainer"); rec.State.Status != specs.StateCreating {
		thBug(t, fmt.Sprintf("createContainer hooks get status %q; the create operation has not finished (runc "+
			"and the spec: creating, as prestart/createRuntime get here): pkg/initproc sets "+
			`cfg.State.Status = "created" before hooks.Run(..."createContainer"...); keep "creating"`, rec.State.Status))
		t.Errorf("createContainer status %q, want creating", rec.State.Status)
	}
}

// TestHookContainerNamespacePid: the runtime-spec says a hook run in the
// container namespace gets the pid as seen by the container: 1 in the
// container's own pid namespace (runc: 1).
func TestHookContainerNamespacePid(t *testing.T) {
	h := thRunHooked(t)
	pids := map[string]int{}
	for _, name := range []string{"createContainer", "startContainer"} {
		pids[name] = thReadHook(t, h.log, name).State.Pid
	}
	if pids["createContainer"] != 1 || pids["startContainer"] != 1 {
		thBug(t, fmt.Sprintf("hooks run in the container's namespaces get the init's pid as the host sees it (%v, "+
			"init %d); the spec wants the pid as seen by the container there (runc passes getpid() of its init: 1): "+
			"pkg/initproc passes cfg.State, whose pid rt filled with the host pid, as is; set State.Pid = "+
			"os.Getpid() before running createContainer and startContainer", pids, h.pid))
		t.Errorf("pids %v, want 1", pids)
	}
}

// TestHookTimeout: a hook that outlives its timeout is killed and fails the
// create, which leaves nothing behind.
func TestHookTimeout(t *testing.T) {
	r := thXrunner(t)
	pidFile := filepath.Join(t.TempDir(), "hook.pid")
	timeout := 1
	b := bundle(t, []string{"true"}, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{
			Path: "/bin/busybox", Args: []string{"sh", "-c", "echo $$ > " + pidFile + "; exec /bin/busybox sleep 30"},
			Timeout: &timeout,
		}}}
	})
	id := harness.ID("hooktimeout")
	start := time.Now()
	res := r.RT("create", "--bundle", b, id)
	took := time.Since(start)
	if res.Code == 0 || !regexp.MustCompile(`(?i)time(d)? ?out`).MatchString(res.Stderr) {
		t.Errorf("create with a hook past its timeout: %s", res)
	}
	if took > 10*time.Second {
		t.Errorf("create took %v with a 1s hook timeout", took)
	}
	if data, err := os.ReadFile(pidFile); err != nil {
		t.Errorf("the hook did not run: %v", err)
	} else if _, err := os.Stat("/proc/" + strings.TrimSpace(string(data))); err == nil {
		t.Errorf("the timed-out hook (pid %s) is still there", strings.TrimSpace(string(data)))
	}
	if res := r.RT("state", id); res.Code == 0 {
		t.Errorf("container exists after a failed create: %s", res)
	}
	r.AssertNoTrace(t, id, b)
}

// TestHookPoststopFailure: a failing poststop hook is only warned about; the
// next one still runs and delete succeeds.
func TestHookPoststopFailure(t *testing.T) {
	r := thXrunner(t)
	ran := filepath.Join(t.TempDir(), "ran")
	b := bundle(t, []string{"true"}, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{Poststop: []specs.Hook{
			{Path: "/bin/busybox", Args: []string{"sh", "-c", "echo poststop-broke >&2; exit 3"}},
			{Path: "/bin/busybox", Args: []string{"sh", "-c", "echo ok > " + ran}},
		}}
	})
	id := harness.ID("poststop")
	if res := r.RT("create", "--bundle", b, id); res.Code != 0 {
		t.Fatal(res)
	}
	if res := r.RT("start", id); res.Code != 0 {
		t.Fatal(res)
	}
	thWaitStopped(t, r, id)
	res := r.RT("delete", id)
	if res.Code != 0 {
		if thCompared != "" {
			t.Logf("%s: delete with a failing poststop hook: %s", thCompared, res)
		} else {
			t.Errorf("delete with a failing poststop hook: %s", res)
		}
	}
	if !strings.Contains(res.Stderr, "poststop") || !strings.Contains(res.Stderr, "poststop-broke") {
		t.Errorf("no warning about the failed poststop hook: %s", res)
	}
	if _, err := os.Stat(ran); err != nil {
		t.Errorf("the poststop hook after the failed one did not run: %v", err)
	}
	r.AssertNoTrace(t, id, b)
}
