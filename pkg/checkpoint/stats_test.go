package checkpoint

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/checkpoint-restore/go-criu/v7/crit/images/pstree"
	"github.com/checkpoint-restore/go-criu/v7/crit/images/stats"
	"google.golang.org/protobuf/proto"

	"github.com/rtkit/rt/pkg/api"
)

func TestReadRestoreStats(t *testing.T) {
	t.Run("decoded", func(t *testing.T) {
		dir := t.TempDir()
		writeImage(t, dir, statsRestoreFile, "STATS", &stats.StatsEntry{Restore: &stats.RestoreStatsEntry{
			PagesCompared: proto.Uint64(7), PagesSkippedCow: proto.Uint64(3), ForkingTime: proto.Uint32(1234),
			RestoreTime: proto.Uint32(56789), PagesRestored: proto.Uint64(4242),
		}})
		got, err := readRestoreStats(dir)
		if err != nil {
			t.Fatal(err)
		}
		want := api.RestoreStats{ForkingTimeUs: 1234, RestoreTimeUs: 56789, PagesCompared: 7, PagesSkippedCow: 3, PagesRestored: 4242}
		if got == nil || *got != want {
			t.Errorf("stats = %+v, want %+v", got, want)
		}
	})
	t.Run("no-pages-restored", func(t *testing.T) {
		// pages_restored is optional in CRIU's proto (older CRIUs).
		dir := t.TempDir()
		writeImage(t, dir, statsRestoreFile, "STATS", &stats.StatsEntry{Restore: &stats.RestoreStatsEntry{
			PagesCompared: proto.Uint64(0), PagesSkippedCow: proto.Uint64(0), ForkingTime: proto.Uint32(1), RestoreTime: proto.Uint32(2),
		}})
		got, err := readRestoreStats(dir)
		if err != nil || got == nil || *got != (api.RestoreStats{ForkingTimeUs: 1, RestoreTimeUs: 2}) {
			t.Errorf("stats = %+v, %v", got, err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		got, err := readRestoreStats(t.TempDir())
		if got != nil || err != nil {
			t.Errorf("got %+v, %v; want nil, nil", got, err)
		}
	})
	t.Run("dump-entry", func(t *testing.T) {
		// A stats file holding a dump's entry is not restore statistics.
		dir := t.TempDir()
		writeImage(t, dir, statsRestoreFile, "STATS", &stats.StatsEntry{Dump: &stats.DumpStatsEntry{
			FreezingTime: proto.Uint32(1), FrozenTime: proto.Uint32(2), MemdumpTime: proto.Uint32(3), MemwriteTime: proto.Uint32(4),
			PagesScanned: proto.Uint64(5), PagesSkippedParent: proto.Uint64(6), PagesWritten: proto.Uint64(7), PagesLazy: proto.Uint64(0),
		}})
		if _, err := readRestoreStats(dir); err == nil || !strings.Contains(err.Error(), "no restore entry") {
			t.Errorf("err = %v, want no restore entry", err)
		}
	})
	t.Run("other-image", func(t *testing.T) {
		dir := t.TempDir()
		writeImage(t, dir, statsRestoreFile, "PSTREE", &pstree.PstreeEntry{Pid: proto.Uint32(1), Ppid: proto.Uint32(0), Pgid: proto.Uint32(1), Sid: proto.Uint32(1)})
		if _, err := readRestoreStats(dir); err == nil {
			t.Error("a pstree image decoded as restore statistics")
		}
	})
	t.Run("garbage", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, statsRestoreFile), []byte("not an image"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := readRestoreStats(dir); err == nil {
			t.Error("garbage decoded")
		}
	})
}

func TestStatsDir(t *testing.T) {
	if d := statsDir("/img", ""); d != "/img" {
		t.Errorf("without a work dir: %s", d)
	}
	if d := statsDir("/img", "/work"); d != "/work" {
		t.Errorf("with a work dir: %s", d)
	}
}
