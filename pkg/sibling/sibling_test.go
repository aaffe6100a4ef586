package sibling

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPath(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(bin, "rt")
	if err := os.WriteFile(exe, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "runc")
	if err := os.Symlink(exe, link); err != nil {
		t.Fatal(err)
	}
	// TempDir may itself sit behind a symlink.
	realBin, err := filepath.EvalSymlinks(bin)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		exe     func() (string, error)
		want    string // the path, or the error's start
		wantErr bool
	}{
		{"plain", func() (string, error) { return exe, nil }, filepath.Join(realBin, "rt-init"), false},
		{"symlink resolved", func() (string, error) { return link, nil }, filepath.Join(realBin, "rt-init"), false},
		{"unknown", func() (string, error) { return "", errors.New("no /proc") }, "locate the running executable: no /proc", true},
		{"gone", func() (string, error) { return filepath.Join(dir, "deleted"), nil }, "lstat ", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Path(tt.exe, "rt-init")
			if tt.wantErr {
				if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
					t.Fatalf("error %v, want prefix %q", err, tt.want)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Path = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestPathOfThisProcess(t *testing.T) {
	got, err := Path(nil, "x")
	if err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	real, _ := filepath.EvalSymlinks(self)
	if got != filepath.Join(filepath.Dir(real), "x") {
		t.Errorf("Path = %q, want beside %q", got, real)
	}
}
