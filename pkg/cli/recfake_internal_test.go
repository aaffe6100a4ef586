package cli

import (
	"log/slog"
	"testing"
)

func TestRecParseBytes(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1024", 1024, true},
		{"512k", 512 << 10, true},
		{"512K", 512 << 10, true},
		{"64m", 64 << 20, true},
		{"64mb", 64 << 20, true},
		{"64MB", 64 << 20, true},
		{"2g", 2 << 30, true},
		{"1t", 1 << 40, true},
		{"-1", -1, true},
		{"", 0, false},
		{"b", 0, false},
		{"-2", 0, false},
		{"1.5g", 0, false},
		{"lots", 0, false},
		{"8388608t", 0, false},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseBytes(tt.in)
			if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
				t.Errorf("parseBytes(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestRecLevelName(t *testing.T) {
	for _, tt := range []struct {
		l    slog.Level
		want string
	}{
		{slog.LevelDebug - 4, "debug"},
		{slog.LevelDebug, "debug"},
		{slog.LevelInfo, "info"},
		{slog.LevelInfo + 1, "info"},
		{slog.LevelWarn, "warning"},
		{slog.LevelError, "error"},
		{slog.LevelError + 4, "error"},
	} {
		if got := levelName(tt.l); got != tt.want {
			t.Errorf("levelName(%v) = %q, want %q", tt.l, got, tt.want)
		}
	}
}
