package clients_test

import "path/filepath"

// imageName is the name both clients know the test image by.
const imageName = "localhost/rt-clients/busybox:latest"

// imagePath is where the suite writes the archive (in its temp dir).
func imagePath(dir string) string { return filepath.Join(dir, "busybox-oci.tar") }
