package api

import (
	"fmt"
	"strings"
)

// ContainerError is a sentinel error about one container. Its message puts
// the id where the sentinel says "container" (`container "web" does not
// exist`), which is the wording runc's clients show to users; errors.Is
// matches the sentinel.
type ContainerError struct {
	ID  string
	Err error
}

// NewContainerError wraps sentinel with the id it is about.
func NewContainerError(id string, sentinel error) error {
	return &ContainerError{ID: id, Err: sentinel}
}

func (e *ContainerError) Error() string {
	msg := e.Err.Error()
	if e.Err == ErrNotRunning {
		// Clients match runc's exact words; the id goes after them.
		return fmt.Sprintf("%s: %q", msg, e.ID)
	}
	named := fmt.Sprintf("container %q", e.ID)
	if strings.Contains(msg, "container") {
		return strings.Replace(msg, "container", named, 1)
	}
	return named + ": " + msg
}

func (e *ContainerError) Unwrap() error { return e.Err }
