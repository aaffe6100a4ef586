package checkpoint

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/checkpoint-restore/go-criu/v7/crit/images/stats"

	"github.com/rtkit/rt/pkg/api"
)

// statsRestoreFile is CRIU's restore statistics image, which it writes
// into its work directory (the image directory without --work-path) after
// a successful restore.
const statsRestoreFile = "stats-restore"

// readRestoreStats decodes stats-restore; nil, nil when there is none.
func readRestoreStats(dir string) (*api.RestoreStats, error) {
	msgs, err := readImage(dir, statsRestoreFile, &stats.StatsEntry{})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("restore statistics: %w", err)
	}
	e, ok := first[*stats.StatsEntry](msgs)
	if !ok || e.GetRestore() == nil {
		return nil, fmt.Errorf("restore statistics: %s holds no restore entry", statsRestoreFile)
	}
	r := e.GetRestore()
	return &api.RestoreStats{
		ForkingTimeUs: r.GetForkingTime(), RestoreTimeUs: r.GetRestoreTime(),
		PagesCompared: r.GetPagesCompared(), PagesSkippedCow: r.GetPagesSkippedCow(),
		PagesRestored: r.GetPagesRestored(),
	}, nil
}

// statsDir is where CRIU wrote its statistics: the work directory when
// there is one, else the image directory.
func statsDir(imageDir, workDir string) string {
	if workDir != "" {
		return workDir
	}
	return imageDir
}
