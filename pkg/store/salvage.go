package store

import (
	"bytes"
	"encoding/json"
	"os"
)

// Salvage reads what it can of a corrupt state file: of the fields delete
// --force needs to find what the container left (its init, its cgroups),
// those that stand whole before the damage. state.json is written in
// State's field order, so a truncated file keeps them (the spec, the bulk,
// comes last). A file naming another container gives nothing. The State
// always has ID set.
func (h *Handle) Salvage() *State {
	st := &State{ID: h.ID}
	data, err := os.ReadFile(h.Path(StateFile))
	if err != nil {
		return st
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return st
	}
	got := &State{ID: h.ID}
	for dec.More() {
		t, err := dec.Token()
		key, ok := t.(string)
		if err != nil || !ok {
			break
		}
		var into any
		switch key {
		case "id":
			var id string
			if dec.Decode(&id) != nil || id != h.ID {
				return st
			}
			continue
		case "initPid":
			into = &got.InitPid
		case "initStartTime":
			into = &got.InitStartTime
		case "cgroupPaths":
			into = &got.CgroupPaths
		case "cgroupDriver":
			into = &got.CgroupDriver
		case "cgroupsPath":
			into = &got.CgroupsPath
		default:
			into = new(json.RawMessage)
		}
		if dec.Decode(into) != nil {
			break
		}
	}
	// An init pid without its start time could be anyone's by now.
	if got.InitStartTime == 0 {
		got.InitPid = 0
	}
	return got
}
