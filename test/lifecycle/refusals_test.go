package lifecycle_test

import (
	"strings"
	"testing"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/test/harness"
)

// refused runs a command the container's state refuses: exit 1 (255 for
// exec, as runc), and on stderr the one line of runc's words for that
// refusal, after the binary's name (rt-checkpoint's for checkpoint). Under
// RT_TEST_COMPARE the words are looked for in the compared runtime's log
// line.
func refused(t *testing.T, r *harness.Runner, code int, words string, args ...string) {
	t.Helper()
	res := r.RT(args...)
	prefix := "rt: "
	if args[0] == "checkpoint" {
		prefix = "rt-checkpoint: "
	}
	switch {
	case res.Code != code:
		t.Errorf("%v: %s, want exit %d", args, res, code)
	case harness.Compared != "":
		if !strings.Contains(res.Stderr, words) {
			t.Errorf("%v: %s, want %q", args, res, words)
		}
	case res.Stderr != prefix+words+"\n" || res.Stdout != "":
		t.Errorf("%v: %s, want stderr %q", args, res, prefix+words+"\n")
	}
}

// TestStateRefusalWords: every command refused for the state of the
// container, in each state, says what runc says (current runc's words;
// containerd's shim matches "container not running"), and the container
// stays as it was.
func TestStateRefusalWords(t *testing.T) {
	r := runner(t)
	b := bundle(t, []string{"sleep", "1000"}, nil)
	id := harness.ID("refuse")
	t.Cleanup(func() {
		r.RT("resume", id)
		r.RT("delete", "--force", id)
		r.AssertNoTrace(t, id, b)
	})
	is := func(want api.Status) {
		t.Helper()
		if st := state(t, r, id); st.Status != want {
			t.Fatalf("state: %s, want %s", st.Status, want)
		}
	}
	if res := r.RT("create", "--bundle", b, id); res.Code != 0 {
		t.Fatalf("create: %s", res)
	}
	refused(t, r, 1, "container not paused", "resume", id)
	refused(t, r, 1, "Container cannot be checkpointed in created state", "checkpoint", "--image-path", t.TempDir(), id)
	is(api.StatusCreated)

	if res := r.RT("start", id); res.Code != 0 {
		t.Fatalf("start: %s", res)
	}
	refused(t, r, 1, "cannot start an already running container", "start", id)
	refused(t, r, 1, "cannot delete container "+id+" that is not stopped: running", "delete", id)
	refused(t, r, 1, "container not paused", "resume", id)
	is(api.StatusRunning)

	if res := r.RT("pause", id); res.Code != 0 {
		t.Fatalf("pause: %s", res)
	}
	refused(t, r, 1, "container not running", "pause", id)
	refused(t, r, 1, "cannot start a container in the paused state", "start", id)
	refused(t, r, 1, "cannot delete container "+id+" that is not stopped: paused", "delete", id)
	refused(t, r, 255, "cannot exec in a paused container (use --ignore-paused to override)", "exec", id, "true")
	is(api.StatusPaused)

	if res := r.RT("resume", id); res.Code != 0 {
		t.Fatalf("resume: %s", res)
	}
	if res := r.RT("kill", id, "KILL"); res.Code != 0 {
		t.Fatalf("kill: %s", res)
	}
	waitFor(t, func() bool { return state(t, r, id).Status == api.StatusStopped })
	refused(t, r, 1, "cannot start a container that has stopped", "start", id)
	refused(t, r, 1, "container not running", "pause", id)
	refused(t, r, 1, "container not paused", "resume", id)
	refused(t, r, 255, "cannot exec in a stopped container", "exec", id, "true")
	refused(t, r, 1, "container not running", "kill", id)
	refused(t, r, 1, "container not running", "update", "--memory", "50m", id)
	refused(t, r, 1, "container with id "+id+" is not running", "events", "--stats", id)
	refused(t, r, 1, "Container cannot be checkpointed in stopped state", "checkpoint", "--image-path", t.TempDir(), id)
	is(api.StatusStopped)
}

// TestDeleteCreatedWithoutForce: delete of a created container needs no
// --force: its init is killed and nothing is left, as with runc (containerd
// deletes a task it never started so).
func TestDeleteCreatedWithoutForce(t *testing.T) {
	r := runner(t)
	b := bundle(t, []string{"sleep", "1000"}, nil)
	id := harness.ID("delcreated")
	if res := r.RT("create", "--bundle", b, id); res.Code != 0 {
		t.Fatalf("create: %s", res)
	}
	if res := r.RT("delete", id); res.Code != 0 || res.Stdout != "" || res.Stderr != "" {
		t.Errorf("delete of a created container: %s", res)
	}
	r.AssertNoTrace(t, id, b)
}
