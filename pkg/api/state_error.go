package api

import "fmt"

// Op is a command whose refusal depends on the state of the container.
type Op string

// The operations refused in some states (see StateError).
const (
	OpStart      Op = "start"
	OpDelete     Op = "delete"
	OpPause      Op = "pause"
	OpResume     Op = "resume"
	OpExec       Op = "exec"
	OpCheckpoint Op = "checkpoint"
	OpUpdate     Op = "update"
	OpKill       Op = "kill"
	OpEvents     Op = "events"
)

// StateError is an operation refused because of the state the container is
// in. It reads as runc's refusal of that operation in that state, word for
// word, since clients match runc's words (containerd's shim: "container not
// running"). errors.Is matches both Err, what the operation needed (runc's
// sentinel, where runc has one: ErrNotRunning for pause, kill, update; else
// the state's), and the sentinel of the state it found: ErrRunning,
// ErrPaused or ErrStopped (a created container has none).
type StateError struct {
	ID     string
	Op     Op
	Status Status
	Err    error
}

func (e *StateError) Error() string {
	switch e.Op {
	case OpStart:
		switch e.Status {
		case StatusStopped:
			return "cannot start a container that has stopped"
		case StatusRunning:
			return "cannot start an already running container"
		}
		return fmt.Sprintf("cannot start a container in the %s state", e.Status)
	case OpDelete:
		return fmt.Sprintf("cannot delete container %s that is not stopped: %s", e.ID, e.Status)
	case OpResume:
		return "container not paused"
	case OpExec:
		if e.Status == StatusPaused {
			return "cannot exec in a paused container (use --ignore-paused to override)"
		}
		return fmt.Sprintf("cannot exec in a %s container", e.Status)
	case OpCheckpoint:
		return fmt.Sprintf("Container cannot be checkpointed in %s state", e.Status)
	case OpEvents:
		return fmt.Sprintf("container with id %s is not running", e.ID)
	}
	// pause, update, kill: libcontainer.ErrNotRunning's words.
	return ErrNotRunning.Error()
}

// Unwrap returns Err and the sentinel of Status.
func (e *StateError) Unwrap() []error {
	errs := []error{e.Err}
	if s := statusErr(e.Status); s != nil && s != e.Err {
		errs = append(errs, s)
	}
	return errs
}

func statusErr(s Status) error {
	switch s {
	case StatusRunning:
		return ErrRunning
	case StatusPaused:
		return ErrPaused
	case StatusStopped:
		return ErrStopped
	}
	return nil
}
