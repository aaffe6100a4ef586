package checkpoint_test

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRestoreRelativeDestination: a bundle whose mount destination is
// relative (deprecated since runtime-spec 1.2; create takes it from the
// container's root, with a warning) restores as it was created: restore
// reads config.json again and must take it the same way.
func TestRestoreRelativeDestination(t *testing.T) {
	requireCRIU(t)
	c := startCounterAt(t, counter, "data")
	images := filepath.Join(t.TempDir(), "img")
	c.waitCount(t, 2)
	if res := c.r.RT("checkpoint", "--image-path", images, c.id); res.Code != 0 {
		t.Fatalf("checkpoint: %s", res)
	}
	if res := c.r.RT("restore", "-d", "--image-path", images, "--bundle", c.bundle, c.id); res.Code != 0 {
		t.Fatalf("restore of a bundle with a relative mount destination: %s", res)
	}
	os.WriteFile(filepath.Join(c.data, "hello"), []byte("from the host"), 0o644)
	if res := c.r.RT("exec", c.id, "cat", "/data/hello"); res.Code != 0 || res.Stdout != "from the host" {
		t.Errorf("exec cat /data/hello in the restored container: %s", res)
	}
	stopAndDelete(t, c)
}
