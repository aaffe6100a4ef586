package api

import "testing"

func TestOneLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"  padded \n", "padded"},
		{"Error (criu/mount.c:1): a\n\n  Error (criu/cr-dump.c:2): b\n", "Error (criu/mount.c:1): a; Error (criu/cr-dump.c:2): b"},
		{"yaml: unmarshal errors:\n  line 1: cannot unmarshal\n  line 2: again", "yaml: unmarshal errors: line 1: cannot unmarshal; line 2: again"},
		// Control characters from the input (FuzzLoad: a YAML tag "!\r").
		{"tag !\r `` here", `tag !\r ` + "``" + ` here`},
		{"vt\vff\fnul\x00del\x7f", `vt\vff\fnul\x00del\x7f`},
		{"sep\u2028par\u2029nel\u0085end", `sep\u2028par\u2029nel\u0085end`},
		{"tab\tstays, ünïcode too", "tab\tstays, ünïcode too"},
	}
	for _, tt := range tests {
		if got := OneLine(tt.in); got != tt.want {
			t.Errorf("OneLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
