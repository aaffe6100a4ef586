package version

import (
	"strings"
	"testing"
)

// TestWrite: runc's layout, the libseccomp line only when known.
func TestWrite(t *testing.T) {
	for _, lib := range []string{"", "2.5.4"} {
		Libseccomp = lib
		var b strings.Builder
		Write(&b, "rt")
		lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
		if !strings.HasPrefix(lines[0], "rt version ") || !strings.HasPrefix(lines[1], "commit: ") ||
			!strings.HasPrefix(lines[2], "spec: ") || !strings.HasPrefix(lines[3], "go: ") {
			t.Errorf("Write = %q, want runc's layout", b.String())
		}
		switch {
		case lib == "" && len(lines) != 4:
			t.Errorf("Write with no libseccomp version = %q", b.String())
		case lib != "" && (len(lines) != 5 || lines[4] != "libseccomp: "+lib):
			t.Errorf("Write with libseccomp %s = %q", lib, b.String())
		}
	}
	Libseccomp = ""
}
