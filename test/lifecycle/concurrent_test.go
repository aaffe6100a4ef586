package lifecycle_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/test/harness"
)

// TestConcurrentOperations: every command that changes a container, issued
// at once on one container (created or running), has a well-defined
// result: each succeeds, or fails with one clean line (the state error);
// state and list always answer; afterwards the state agrees with the
// processes, and delete --force leaves nothing.
func TestConcurrentOperations(t *testing.T) {
	r := runner(t)
	b := bundle(t, []string{"sleep", "1000"}, nil)
	for round := 0; round < 6; round++ {
		id := harness.ID("conc")
		verb := []string{"create", "run -d"}[round%2]
		if res := r.RT(append(strings.Fields(verb), "--bundle", b, id)...); res.Code != 0 {
			t.Fatalf("%s: %s", verb, res)
		}
		cmds := [][]string{
			{"start", id}, {"kill", id, "KILL"}, {"delete", id}, {"delete", "--force", id},
			{"exec", id, "true"}, {"pause", id}, {"resume", id}, {"update", "--memory", "104857600", id},
			{"state", id}, {"list"}, {"ps", id}, {"kill", id, "TERM"},
		}
		// Each round starts them in another order.
		order := make([][]string, len(cmds))
		for i := range cmds {
			order[i] = cmds[(i*5+round)%len(cmds)]
		}
		for i, res := range raceAll(r, order) {
			checkConcurrentResult(t, id, order[i], res)
		}
		checkConsistent(t, r, id)
		// A container left paused is thawed by delete --force.
		deleteLeavesNothing(t, r, id, b)
	}
}

// TestConcurrentCreate: creates of one id racing each other and the
// commands that find it (or not): one create wins at a time, the others
// fail with one line saying it exists; nothing else tears or hangs, and
// delete --force leaves nothing.
func TestConcurrentCreate(t *testing.T) {
	r := runner(t)
	b := bundle(t, []string{"sleep", "1000"}, nil)
	for round := 0; round < 4; round++ {
		id := harness.ID("conccreate")
		create := []string{"create", "--bundle", b, id}
		cmds := [][]string{create, {"start", id}, create, {"delete", "--force", id}, create,
			{"state", id}, {"kill", id, "KILL"}, {"list"}, {"run", "-d", "--bundle", b, id}}
		order := make([][]string, len(cmds))
		for i := range cmds {
			order[i] = cmds[(i*4+round)%len(cmds)]
		}
		won := 0
		for i, res := range raceAll(r, order) {
			checkConcurrentResult(t, id, order[i], res)
			if order[i][0] != "create" && order[i][0] != "run" {
				continue
			}
			switch {
			case res.Code == 0:
				won++
			case order[i][0] == "run" && strings.Contains(res.Stderr, "does not exist"):
				// run -d created it, and the delete --force got the
				// lock between its create and its start.
				won++
			case !strings.Contains(res.Stderr, "already exists"):
				t.Errorf("%v failed for another reason than the id being taken: %s", order[i], res)
			}
		}
		if won == 0 {
			t.Error("no create of a free id succeeded")
		}
		checkConsistent(t, r, id)
		deleteLeavesNothing(t, r, id, b)
	}
}

// deleteLeavesNothing deletes a raced container with --force and checks
// that nothing of it is left: no trace of it on the host, no process in
// its cgroups.
func deleteLeavesNothing(t *testing.T, r *harness.Runner, id, bundle string) {
	t.Helper()
	if res := r.RT("delete", "--force", id); res.Code != 0 {
		t.Errorf("final delete --force: %s", res)
	}
	r.AssertNoTrace(t, id, bundle)
	if procs := procsInCgroup(id); len(procs) > 0 {
		t.Errorf("processes left in the container's cgroups: %v", procs)
	}
}

// raceAll runs each of cmds (rt's arguments) at once, as far as
// goroutines released together go, and returns their results in order,
// less the warning a command kept waiting over a second for another's lock
// gives (a loaded host makes such waits; TestLockWaitNamesHolder tests it).
func raceAll(r *harness.Runner, cmds [][]string) []harness.Result {
	results := make([]harness.Result, len(cmds))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i] = r.RT(cmds[i]...)
			results[i].Stderr = lockWaitLine.ReplaceAllString(results[i].Stderr, "")
		}()
	}
	close(start)
	wg.Wait()
	return results
}

var lockWaitLine = regexp.MustCompile(`(?m)^time=\S+ level=warning msg="container \S+ is locked by .*: waiting for it"\n`)

// checkConcurrentResult: a success is clean (state untorn, list a table),
// a failure is one line; exec may also end with its process killed.
func checkConcurrentResult(t *testing.T, id string, args []string, res harness.Result) {
	t.Helper()
	what := strings.Join(args, " ")
	switch {
	case args[0] == "list":
		if res.Code != 0 || !strings.HasPrefix(res.Stdout, "ID ") {
			t.Errorf("%s did not answer: %s", what, res)
		}
	case res.Code == 0 && args[0] == "state":
		var c api.Container
		if err := json.Unmarshal([]byte(res.Stdout), &c); err != nil || c.ID != id || c.Status == "" {
			t.Errorf("%s: torn state: %s (%v)", what, res, err)
		}
	case res.Code == 0:
		if res.Stderr != "" {
			t.Errorf("%s: exit 0 with stderr %q", what, res.Stderr)
		}
	case args[0] == "exec" && res.Code == 128+int(syscall.SIGKILL) && res.Stderr == "":
		// The process exec started was killed with the container.
	case args[0] == "exec":
		// exec fails with 255, as runc's, apart from its process's codes.
		if res.Code != 255 {
			t.Errorf("%s: %s, want exit 255", what, res)
		}
		res.Code = 1 // for failsCleanly's other checks
		failsCleanly(t, what, res)
	default:
		failsCleanly(t, what, res)
	}
}

// checkConsistent: what state says agrees with the init process.
func checkConsistent(t *testing.T, r *harness.Runner, id string) {
	t.Helper()
	res := r.RT("state", id)
	if res.Code != 0 {
		failsCleanly(t, "state after the race", res, "does not exist")
		return
	}
	var c api.Container
	if err := json.Unmarshal([]byte(res.Stdout), &c); err != nil {
		t.Fatalf("state after the race: %v: %s", err, res.Stdout)
	}
	alive := c.InitProcessPid > 0 && syscall.Kill(c.InitProcessPid, 0) == nil && !isZombie(c.InitProcessPid)
	switch c.Status {
	case "created", "running", "paused":
		if !alive {
			t.Errorf("state says %s but init %d is gone", c.Status, c.InitProcessPid)
		}
	case "stopped":
		if alive {
			t.Errorf("state says stopped but init %d is alive", c.InitProcessPid)
		}
	default:
		t.Errorf("state after the race: status %q", c.Status)
	}
}

func isZombie(pid int) bool {
	raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	data := string(raw)
	i := strings.LastIndexByte(data, ')')
	return i < 0 || i+2 >= len(data) || data[i+2] == 'Z'
}

// TestLockWaitNamesHolder: a command that must wait for another's lock
// (here a create held up by a createRuntime hook) says who holds it, and
// state answers meanwhile without waiting.
func TestLockWaitNamesHolder(t *testing.T) {
	r := runner(t)
	id := harness.ID("held")
	b := bundle(t, []string{"sleep", "1000"}, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sleep", Args: []string{"sleep", "3"}}}}
	})
	create := r.Command("create", "--bundle", b, id)
	create.Stdout, create.Stderr = harness.TempFile(t), harness.TempFile(t)
	if err := create.Start(); err != nil {
		t.Fatal(err)
	}
	harness.WaitFor(t, 10*time.Second, "create's state dir", func() bool {
		_, err := os.Stat(filepath.Join(r.Root, id))
		return err == nil
	})
	before := time.Now()
	if res := r.RT("state", id); res.Code != 0 && !strings.Contains(res.Stderr, "not exist") {
		t.Errorf("state during create: %s", res)
	}
	if d := time.Since(before); d > time.Second {
		t.Errorf("state waited %v for create's lock", d)
	}
	res := r.RT("start", id)
	if err := create.Wait(); err != nil {
		t.Fatalf("create: %v", err)
	}
	want := fmt.Sprintf("container %s is locked by pid %d (%s --root %s create", id, create.Process.Pid, r.Bins.RT, r.Root)
	if res.Code != 0 || !strings.Contains(res.Stderr, want) {
		t.Errorf("start behind create's lock: %s; want it to start and say %q", res, want)
	}
}
