package config

import (
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"testing"
)

// FuzzLoad feeds bytes as the config file (config.yaml) to Load, with no
// flag and no RT_* variable, as every rt command starts. Nothing may panic;
// a refusal is one line that wraps ErrInvalid (the file exists, so no I/O
// error is expected); an accepted config writes its table, and JSON that
// reads back as its settings.
func FuzzLoad(f *testing.F) {
	for _, c := range badConfigFileCases() {
		f.Add([]byte(c.file))
	}
	for _, c := range precedenceCases() {
		f.Add([]byte(c.file))
	}
	shipped, err := os.ReadFile("../../configs/config.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(shipped)
	h := newHarness(f)
	opts := h.options(f, nil)
	f.Fuzz(func(t *testing.T, file []byte) {
		// A new file each time: ext4 writes a truncated and rewritten
		// one back at close, which is slow.
		if err := os.Remove(h.file); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		if err := os.WriteFile(h.file, file, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(nil, opts)
		if err != nil {
			if msg := err.Error(); strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("Load: error of several lines: %q", msg)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Load: %v does not wrap ErrInvalid", err)
			}
			return
		}
		if err := cfg.WriteTable(io.Discard); err != nil {
			t.Fatalf("WriteTable: %v", err)
		}
		var out strings.Builder
		if err := cfg.WriteJSON(&out); err != nil {
			t.Fatalf("WriteJSON: %v", err)
		}
		var back []Setting
		if err := json.Unmarshal([]byte(out.String()), &back); err != nil || len(back) != len(cfg.Settings) {
			t.Fatalf("WriteJSON wrote %d settings of %d (%v):\n%s", len(back), len(cfg.Settings), err, out.String())
		}
	})
}
