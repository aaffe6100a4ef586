package checkpoint

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/checkpoint-restore/go-criu/v7/crit/images/pagemap"

	"github.com/rtkit/rt/pkg/api"
)

// sumMemory adds up the pages stored in dir (pages-*.img, whose sizes are
// whole pages) and the pages its pagemaps list (pagemap-*.img, the
// per-process and shared-memory ones), pageSize bytes each.
func sumMemory(dir string, pageSize uint64) (api.ImageMemory, error) {
	var m api.ImageMemory
	pages, err := filepath.Glob(filepath.Join(dir, "pages-*.img"))
	if err != nil {
		return m, err
	}
	for _, p := range pages {
		fi, err := os.Stat(p)
		if err != nil {
			return m, fmt.Errorf("memory: %w", err)
		}
		m.Bytes += uint64(fi.Size())
	}
	m.Pages = m.Bytes / pageSize
	maps, err := filepath.Glob(filepath.Join(dir, "pagemap-*.img"))
	if err != nil {
		return m, err
	}
	for _, p := range maps {
		msgs, err := readImage(dir, filepath.Base(p), &pagemap.PagemapHead{})
		if err != nil {
			return m, fmt.Errorf("memory: %w", err)
		}
		for _, e := range msgs {
			// The first entry is the head (which pages-N.img holds
			// the pages); the rest are pagemap entries.
			if pe, ok := e.(*pagemap.PagemapEntry); ok {
				m.MappedPages += uint64(pe.GetNrPages())
			}
		}
	}
	return m, nil
}
