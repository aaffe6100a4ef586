package runtime

import "github.com/rtkit/rt/pkg/api"

// refusals are, for each operation, the statuses that refuse it and the
// sentinel of what it needed: runc's rules (start.go, delete.go, exec.go,
// checkpoint.go, events.go and libcontainer's Pause, Resume, Set, Signal).
// A status not listed lets the operation go on. Delete's are without
// --force (runc deletes a created container without it too, killing it),
// exec's without --ignore-paused, kill's without --all.
var refusals = map[api.Op]map[api.Status]error{
	api.OpStart: {
		api.StatusRunning: api.ErrRunning, api.StatusPaused: api.ErrPaused, api.StatusStopped: api.ErrStopped,
	},
	api.OpDelete: {api.StatusRunning: api.ErrRunning, api.StatusPaused: api.ErrPaused},
	// runc: "container not running" for a paused one too.
	api.OpPause: {api.StatusPaused: api.ErrNotRunning, api.StatusStopped: api.ErrNotRunning},
	api.OpResume: {
		api.StatusCreated: api.ErrNotPaused, api.StatusRunning: api.ErrNotPaused, api.StatusStopped: api.ErrNotPaused,
	},
	api.OpExec:       {api.StatusPaused: api.ErrPaused, api.StatusStopped: api.ErrNotRunning},
	api.OpCheckpoint: {api.StatusCreated: api.ErrNotRunning, api.StatusStopped: api.ErrNotRunning},
	api.OpUpdate:     {api.StatusStopped: api.ErrNotRunning},
	api.OpKill:       {api.StatusStopped: api.ErrNotRunning},
	api.OpEvents:     {api.StatusStopped: api.ErrNotRunning},
}

// Refuse returns the refusal of op on container id in status s (an
// *api.StateError), or nil when op may go on. Every state refusal of the
// runtime and of pkg/checkpoint comes from here, so that each reads as
// runc's and matches its sentinels with errors.Is.
func Refuse(op api.Op, id string, s api.Status) error {
	if sentinel, ok := refusals[op][s]; ok {
		return &api.StateError{ID: id, Op: op, Status: s, Err: sentinel}
	}
	return nil
}
