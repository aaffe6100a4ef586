// Command rt-init is the first process of every rt container. rt starts it
// in the container's namespaces; it sets up the rootfs and the process and
// then execve()s the user's program. It is started only by rt.
package main

import (
	"fmt"
	"os"

	"github.com/rtkit/rt/pkg/version"
)

func main() {
	if len(os.Args) == 2 && (os.Args[1] == "--version" || os.Args[1] == "-v") {
		version.Write(os.Stdout, "rt-init")
		return
	}
	fmt.Fprintln(os.Stderr, "rt-init: this program is started by rt as a container's init; it is not meant to be run by hand")
	os.Exit(1)
}
