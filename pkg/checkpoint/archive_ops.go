package checkpoint

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/store"
)

// exportArchive writes the archive opts.Export of the container st, whose
// images were just dumped into imageDir.
func exportArchive(name, imageDir string, st *store.State) error {
	s, err := st.Spec.Spec()
	if err != nil {
		return err
	}
	diff, err := os.CreateTemp("", "rt-rootfs-diff-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(diff.Name())
	defer diff.Close()
	if _, err := writeRootfsDiff(diff, st.Rootfs, st.Created); err != nil {
		return err
	}
	if err := diff.Close(); err != nil {
		return err
	}
	return writeArchive(name, archiveContent{
		Config: containerConfig{
			ID: st.ID, Name: st.ID, OCIRuntime: ociRuntimeName, CreatedTime: st.Created.UTC(),
		},
		Spec: s, ImageDir: imageDir, RootfsDiff: diff.Name(),
	})
}

// checkExport refuses the dumps that cannot go into an archive: a
// pre-dump, a lazy-pages dump and one sent to a page server leave pages
// out of the image directory.
func checkExport(opts *api.CheckpointOpts) error {
	if opts.Export == "" {
		return nil
	}
	if _, err := compressionFor(opts.Export); err != nil {
		return err
	}
	switch {
	case opts.PreDump:
		return errors.New("--export cannot hold a pre-dump")
	case opts.LazyPages:
		return errors.New("--export cannot hold a lazy-pages dump (its pages are not in the images)")
	case opts.PageServer.Address != "":
		return errors.New("--export cannot hold a dump sent to a page server")
	}
	return nil
}

// importArchive unpacks the archive opts.Import, applies its rootfs diff
// onto rootfs and points opts.ImagePath at its images. The returned
// directory is removed by the caller; on error nothing is left.
func importArchive(name, rootfs string) (dir string, retErr error) {
	tmp, err := unpackArchive(name)
	if err != nil {
		return "", err
	}
	defer func() {
		if retErr != nil {
			os.RemoveAll(tmp)
		}
	}()
	if _, err := os.Stat(filepath.Join(tmp, archiveImageDir, "inventory.img")); err != nil {
		return "", fmt.Errorf("archive %s holds no CRIU images (no %s/inventory.img)", name, archiveImageDir)
	}
	if err := applyRootfsDiffFile(filepath.Join(tmp, rootfsDiffFile), rootfs); err != nil {
		return "", fmt.Errorf("archive %s: %w", name, err)
	}
	return tmp, nil
}

// InspectArchive is InspectImage of the images in a checkpoint archive,
// unpacked into a temporary directory removed after. ImagePath is the
// archive's absolute path.
func InspectArchive(name string) (*api.ImageInfo, error) {
	abs, err := filepath.Abs(name)
	if err != nil {
		return nil, err
	}
	dir, err := unpackArchive(abs)
	if err != nil {
		return nil, fmt.Errorf("image path %s: %w", abs, err)
	}
	defer os.RemoveAll(dir)
	info, err := InspectImage(filepath.Join(dir, archiveImageDir))
	if err != nil {
		return nil, fmt.Errorf("archive %s: %w", abs, err)
	}
	info.ImagePath = abs
	return info, nil
}
