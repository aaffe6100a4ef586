package harness

// A small OCI image for the clients (containerd, podman) to run.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// imageEpoch is every file's mtime in the layer: the image is the same
// bytes (and digests) on every run.
var imageEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// blob is one content-addressed file of the OCI layout.
type blob struct {
	mediaType string
	data      []byte
}

func (b blob) digest() string {
	sum := sha256.Sum256(b.data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func (b blob) descriptor(extra map[string]any) map[string]any {
	d := map[string]any{"mediaType": b.mediaType, "digest": b.digest(), "size": len(b.data)}
	for k, v := range extra {
		d[k] = v
	}
	return d
}

// BuildImageArchive writes an OCI image layout of a busybox rootfs, named
// name, as a tar (what `ctr images import` and `podman load -i` take as an
// OCI archive) to path. The one layer holds /bin/busybox with a symlink for every applet,
// /etc/passwd and /etc/group with root and a uid 1000 user.
func BuildImageArchive(path, name string) error {
	layerTar, err := rootfsTar()
	if err != nil {
		return err
	}
	return writeImage(path, name, layerTar, []string{"sh"})
}

// BuildBinaryImageArchive writes, as BuildImageArchive, an image whose one
// layer holds only the static program bin, as /<its base name>, which is
// the image's command: a pause image for a pod sandbox.
func BuildBinaryImageArchive(path, name, bin string) error {
	data, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	base := filepath.Base(bin)
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	tw.WriteHeader(&tar.Header{Name: base, Mode: 0o755, Size: int64(len(data)), ModTime: imageEpoch, Typeflag: tar.TypeReg, Format: tar.FormatPAX})
	tw.Write(data)
	if err := tw.Close(); err != nil {
		return err
	}
	return writeImage(path, name, out.Bytes(), []string{"/" + base})
}

// writeImage writes the OCI archive of an image of one layer, layerTar
// (uncompressed), with cmd as its command.
func writeImage(path, name string, layerTar []byte, cmd []string) error {
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	zw.ModTime = imageEpoch
	zw.Write(layerTar)
	if err := zw.Close(); err != nil {
		return err
	}
	diffID := sha256.Sum256(layerTar)
	layer := blob{"application/vnd.oci.image.layer.v1.tar+gzip", gz.Bytes()}

	config := blob{mediaType: "application/vnd.oci.image.config.v1+json"}
	config.data, _ = json.Marshal(map[string]any{
		"created":      imageEpoch.Format(time.RFC3339),
		"architecture": goarch(),
		"os":           "linux",
		"config": map[string]any{
			"Env":        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			"Cmd":        cmd,
			"WorkingDir": "/",
		},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + hex.EncodeToString(diffID[:])}},
		"history": []map[string]any{{"created": imageEpoch.Format(time.RFC3339), "created_by": "rt test/harness"}},
	})

	manifest := blob{mediaType: "application/vnd.oci.image.manifest.v1+json"}
	manifest.data, _ = json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     manifest.mediaType,
		"config":        config.descriptor(nil),
		"layers":        []any{layer.descriptor(nil)},
	})

	index, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.index.v1+json",
		"manifests": []any{manifest.descriptor(map[string]any{
			"annotations": map[string]string{
				// podman names the image after it; ctr import takes a full
				// reference as the image name.
				"org.opencontainers.image.ref.name": name,
				"io.containerd.image.name":          name,
			},
			"platform": map[string]string{"architecture": goarch(), "os": "linux"},
		})},
	})

	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	add := func(name string, data []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: imageEpoch, Typeflag: tar.TypeReg, Format: tar.FormatPAX})
		tw.Write(data)
	}
	dir := func(name string) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, ModTime: imageEpoch, Typeflag: tar.TypeDir, Format: tar.FormatPAX})
	}
	add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	add("index.json", index)
	dir("blobs/")
	dir("blobs/sha256/")
	for _, b := range []blob{layer, config, manifest} {
		add("blobs/sha256/"+strings.TrimPrefix(b.digest(), "sha256:"), b.data)
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, out.Bytes(), 0o644)
}

// rootfsTar is the layer's uncompressed tar.
func rootfsTar() ([]byte, error) {
	list, err := exec.Command(Busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("needs busybox-static at %s (make deps installs it): %w", Busybox, err)
	}
	busybox, err := os.ReadFile(Busybox)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	hdr := func(h *tar.Header) {
		h.ModTime, h.Format = imageEpoch, tar.FormatPAX
		if err == nil {
			err = tw.WriteHeader(h)
		}
	}
	for _, d := range []string{"bin", "dev", "etc", "home", "home/user", "proc", "root", "sbin", "sys", "tmp", "usr", "usr/bin", "usr/sbin", "var"} {
		mode := int64(0o755)
		switch d {
		case "tmp":
			mode = 0o1777
		case "root":
			mode = 0o700
		}
		h := &tar.Header{Name: d + "/", Mode: mode, Typeflag: tar.TypeDir}
		if d == "home/user" {
			h.Uid, h.Gid = 1000, 1000
		}
		hdr(h)
	}
	hdr(&tar.Header{Name: "bin/busybox", Mode: 0o755, Size: int64(len(busybox)), Typeflag: tar.TypeReg})
	if err == nil {
		_, err = tw.Write(busybox)
	}
	applets := strings.Fields(string(list))
	sort.Strings(applets)
	for _, a := range applets {
		if a != "busybox" {
			hdr(&tar.Header{Name: "bin/" + a, Linkname: "busybox", Mode: 0o777, Typeflag: tar.TypeSymlink})
		}
	}
	files := []struct{ name, content string }{
		{"etc/passwd", "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"},
		{"etc/group", "root:x:0:\ntty:x:5:\nuser:x:1000:\nnogroup:x:65534:\n"},
	}
	for _, f := range files {
		hdr(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.content)), Typeflag: tar.TypeReg})
		if err == nil {
			_, err = tw.Write([]byte(f.content))
		}
	}
	if err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func goarch() string { return runtime.GOARCH }
