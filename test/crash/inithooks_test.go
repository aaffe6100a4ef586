package crash_test

// rt-init killed while rt waits for it: a hook, which rt runs with the
// init's pid on its stdin, SIGKILLs the init at that step.

import (
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/test/harness"
)

// killerHook is a hook that SIGKILLs the process whose pid its state names.
const killerHook = `#!/bin/sh
pid=$(sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
kill -9 "$pid"
`

// TestInitKilledAtHook kills the container's init from each hook rt runs
// itself on the host: during create (prestart, createRuntime: rt-init then
// waits on its socket) the create fails and leaves nothing; after start
// (poststart) the container is stopped. Then state, list and delete
// --force work, and nothing is left.
func TestInitKilledAtHook(t *testing.T) {
	harness.RequireRoot(t)
	hook := filepath.Join(t.TempDir(), "kill-init")
	if err := os.WriteFile(hook, []byte(killerHook), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		set       func(h *specs.Hooks)
		createErr bool
		allowed   []string
	}{
		{"prestart", func(h *specs.Hooks) { h.Prestart = []specs.Hook{{Path: hook}} }, true, []string{absent}},
		{"createRuntime", func(h *specs.Hooks) { h.CreateRuntime = []specs.Hook{{Path: hook}} }, true, []string{absent}},
		{"poststart", func(h *specs.Hooks) { h.Poststart = []specs.Hook{{Path: hook}} }, false, []string{stopped}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := harness.Bundle(t, func(s *specs.Spec) {
				s.Process.Terminal = false
				s.Process.Args = []string{"sleep", "1000"}
				s.Hooks = &specs.Hooks{}
				tc.set(s.Hooks)
			})
			f := newFixture(t, b)
			res := f.rt(t, "run", "-d", "--bundle", b, f.id)
			if failed := res.Code != 0; failed != tc.createErr {
				t.Errorf("run -d with the init killed at %s: %s", tc.name, res)
			}
			afterKill(t, command{allowed: tc.allowed}, f)
		})
	}
}
