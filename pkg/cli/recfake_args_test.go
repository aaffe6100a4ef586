package cli_test

import (
	"strings"
	"testing"
)

// TestArgValidation checks that every command refuses a missing container id
// and extra arguments with one line naming the subcommand, exit 1, and no
// runtime call.
func TestArgValidation(t *testing.T) {
	type tc struct {
		name string
		prog string // "rt" or "rt-checkpoint"
		args []string
		// sub is the subcommand the message must name.
		sub string
		// want is a fragment of the message.
		want string
	}
	const (
		exactly0 = "requires exactly 1 argument (container-id), got 0"
		exactly2 = "requires exactly 1 argument (container-id), got 2"
	)
	var tests []tc
	for _, sub := range []string{"create", "start", "run", "state", "delete", "pause", "resume", "update", "events"} {
		tests = append(tests,
			tc{sub + "/missing-id", "rt", []string{sub}, sub, exactly0},
			tc{sub + "/extra-arg", "rt", []string{sub, "a", "b"}, sub, exactly2},
		)
	}
	tests = append(tests,
		tc{"exec/missing-id", "rt", []string{"exec"}, "exec", "requires at least 1 argument (<container-id> <command> [args...]), got 0"},
		tc{"exec/missing-command", "rt", []string{"exec", "a"}, "exec", "requires a command to run after the container id"},
		tc{"ps/missing-id", "rt", []string{"ps"}, "ps", "requires at least 1 argument (<container-id> [ps options]), got 0"},
		tc{"kill/missing-id", "rt", []string{"kill"}, "kill", "requires 1 to 2 arguments (<container-id> [signal]), got 0"},
		tc{"kill/extra-arg", "rt", []string{"kill", "a", "9", "x"}, "kill", "requires 1 to 2 arguments (<container-id> [signal]), got 3"},
		tc{"list/extra-arg", "rt", []string{"list", "x"}, "list", "takes no arguments, got 1"},
		tc{"ls/extra-arg", "rt", []string{"ls", "x"}, "list", "takes no arguments, got 1"},
		tc{"spec/extra-arg", "rt", []string{"spec", "x"}, "spec", "takes no arguments, got 1"},
		tc{"features/extra-arg", "rt", []string{"features", "x"}, "features", "takes no arguments, got 1"},
		tc{"config/extra-arg", "rt", []string{"config", "x"}, "config", "takes no arguments, got 1"},
		tc{"rt-checkpoint/checkpoint/missing-id", "rt-checkpoint", []string{"checkpoint"}, "checkpoint", exactly0},
		tc{"rt-checkpoint/checkpoint/extra-arg", "rt-checkpoint", []string{"checkpoint", "a", "b"}, "checkpoint", exactly2},
		tc{"rt-checkpoint/restore/missing-id", "rt-checkpoint", []string{"restore"}, "restore", exactly0},
		tc{"rt-checkpoint/restore/extra-arg", "rt-checkpoint", []string{"restore", "a", "b"}, "restore", exactly2},
		tc{"rt-checkpoint/config/extra-arg", "rt-checkpoint", []string{"config", "x"}, "config", "takes no arguments, got 1"},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRecFake()
			var out recOut
			if tt.prog == "rt" {
				out = recRT(t, f, tt.args...)
			} else {
				out = recCkpt(t, f, tt.args...)
			}
			out.wantExit(t, 1)
			line := out.oneErrLine(t)
			prefix := tt.prog + ": " + tt.sub + ": "
			if !strings.HasPrefix(line, prefix) {
				t.Errorf("stderr %q does not start with %q", line, prefix)
			}
			if !strings.Contains(line, tt.want) {
				t.Errorf("stderr %q does not contain %q", line, tt.want)
			}
			help := "see '" + tt.prog + " " + tt.sub + " --help'"
			if !strings.HasSuffix(line, help) {
				t.Errorf("stderr %q does not end with %q", line, help)
			}
			if out.stdout != "" {
				t.Errorf("stdout = %q, want nothing", out.stdout)
			}
			f.noCalls(t)
		})
	}

	t.Run("state/exact-message", func(t *testing.T) {
		f := newRecFake()
		out := recRT(t, f, "state")
		out.wantExit(t, 1)
		const want = "rt: state: requires exactly 1 argument (container-id), got 0; see 'rt state --help'\n"
		if out.stderr != want {
			t.Errorf("stderr = %q, want %q", out.stderr, want)
		}
		f.noCalls(t)
	})

	t.Run("unknown-command", func(t *testing.T) {
		f := newRecFake()
		out := recRT(t, f, "frobnicate")
		out.wantExit(t, 1)
		const want = "rt: unknown command \"frobnicate\"; see 'rt --help'\n"
		if out.stderr != want {
			t.Errorf("stderr = %q, want %q", out.stderr, want)
		}
		f.noCalls(t)
	})

	t.Run("unknown-flag", func(t *testing.T) {
		f := newRecFake()
		out := recRT(t, f, "state", "--bogus", "a")
		out.wantExit(t, 1)
		line := out.oneErrLine(t)
		if !strings.HasPrefix(line, "rt: state: ") || !strings.Contains(line, "--bogus") || !strings.HasSuffix(line, "see 'rt state --help'") {
			t.Errorf("stderr = %q, want a usage line about --bogus naming state", line)
		}
		f.noCalls(t)
	})
}

// TestInvalidIDs checks that every id-taking command refuses ids that are
// unsafe as path components before anything reaches the runtime.
func TestInvalidIDs(t *testing.T) {
	ids := []struct {
		name, id, want string
	}{
		{"dotdot-slash", "../x", "invalid container id"},
		{"slash", "a/b", "invalid container id"},
		{"empty", "", "container id cannot be empty"},
		{"1000-chars", strings.Repeat("a", 1000), "invalid container id"},
	}
	cmds := []struct {
		prog string
		sub  string
		// build returns the arguments for id.
		build func(id string) []string
	}{
		{"rt", "create", func(id string) []string { return []string{"create", id} }},
		{"rt", "start", func(id string) []string { return []string{"start", id} }},
		{"rt", "run", func(id string) []string { return []string{"run", id} }},
		{"rt", "exec", func(id string) []string { return []string{"exec", id, "sh"} }},
		{"rt", "state", func(id string) []string { return []string{"state", id} }},
		{"rt", "ps", func(id string) []string { return []string{"ps", id} }},
		{"rt", "kill", func(id string) []string { return []string{"kill", id} }},
		{"rt", "delete", func(id string) []string { return []string{"delete", id} }},
		{"rt", "pause", func(id string) []string { return []string{"pause", id} }},
		{"rt", "resume", func(id string) []string { return []string{"resume", id} }},
		{"rt", "update", func(id string) []string { return []string{"update", id} }},
		{"rt", "events", func(id string) []string { return []string{"events", id} }},
		{"rt-checkpoint", "checkpoint", func(id string) []string { return []string{"checkpoint", id} }},
		{"rt-checkpoint", "restore", func(id string) []string { return []string{"restore", id} }},
	}
	for _, c := range cmds {
		for _, id := range ids {
			name := c.sub + "/" + id.name
			if c.prog != "rt" {
				name = c.prog + "/" + name
			}
			t.Run(name, func(t *testing.T) {
				f := newRecFake()
				var out recOut
				if c.prog == "rt" {
					out = recRT(t, f, c.build(id.id)...)
				} else {
					out = recCkpt(t, f, c.build(id.id)...)
				}
				// runc: exec exits 255 for anything that keeps the
				// process from starting, a bad id included.
				want := 1
				if c.sub == "exec" {
					want = 255
				}
				out.wantExit(t, want)
				line := out.oneErrLine(t)
				if !strings.Contains(line, id.want) {
					t.Errorf("stderr %q does not contain %q", line, id.want)
				}
				if prefix := c.prog + ": " + c.sub + ": "; !strings.HasPrefix(line, prefix) {
					t.Errorf("stderr %q does not start with %q", line, prefix)
				}
				f.noCalls(t)
			})
		}
	}
}
