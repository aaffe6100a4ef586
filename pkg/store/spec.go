package store

import (
	"encoding/json"
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/specjson"
)

// SpecRecord is the container's spec as kept in its state, decoded only
// when a command asks for it.
//
// Why: the first decode of a whole runtime spec in a fresh process costs
// ~0.6-0.9 ms (encoding/json builds its decoders for every type of
// specs.Spec), about a sixth of a `state` or `start`, which never look at
// it. The record keeps the raw JSON; Spec decodes it all, Hooks only the
// hooks.
//
// A nil *SpecRecord is a state without a spec: Spec and Hooks return nil.
type SpecRecord struct {
	raw  json.RawMessage
	spec *specs.Spec
}

// RecordSpec returns a record of s, which it keeps (not a copy): changes
// made to s before the state is saved are saved.
func RecordSpec(s *specs.Spec) *SpecRecord {
	if s == nil {
		return nil
	}
	return &SpecRecord{spec: s}
}

// Spec returns the decoded spec, decoding it on the first call. The result
// is the record's own: changes to it are saved with the state.
func (r *SpecRecord) Spec() (*specs.Spec, error) {
	if r == nil {
		return nil, nil
	}
	if r.spec == nil {
		s, err := specjson.Parse(r.raw)
		if err != nil {
			return nil, fmt.Errorf("decode the spec in the state: %w", err)
		}
		r.spec = s
	}
	return r.spec, nil
}

// Hooks returns the spec's hooks (nil if none), decoding only them unless the
// whole spec was decoded already.
func (r *SpecRecord) Hooks() (*specs.Hooks, error) {
	if r == nil {
		return nil, nil
	}
	if r.spec != nil {
		return r.spec.Hooks, nil
	}
	var h struct {
		Hooks *specs.Hooks `json:"hooks"`
	}
	if err := json.Unmarshal(r.raw, &h); err != nil {
		return nil, fmt.Errorf("decode the hooks in the state: %w", err)
	}
	return h.Hooks, nil
}

// MarshalJSON encodes the decoded spec if there is one (it may have been
// changed), else the raw JSON as read.
func (r *SpecRecord) MarshalJSON() ([]byte, error) {
	if r == nil {
		return []byte("null"), nil
	}
	if r.spec != nil {
		return specjson.Marshal(r.spec)
	}
	if r.raw == nil {
		return []byte("null"), nil
	}
	return r.raw, nil
}

// UnmarshalJSON keeps data for a later Spec or Hooks.
func (r *SpecRecord) UnmarshalJSON(data []byte) error {
	r.raw, r.spec = append(r.raw[:0], data...), nil
	return nil
}

// Resources returns the spec's linux.resources (nil if none), decoding only
// that unless the whole spec was decoded already: update needs nothing else.
func (r *SpecRecord) Resources() (*specs.LinuxResources, error) {
	if r == nil {
		return nil, nil
	}
	if r.spec != nil {
		if r.spec.Linux == nil {
			return nil, nil
		}
		return r.spec.Linux.Resources, nil
	}
	var s struct {
		Linux *struct {
			Resources *specs.LinuxResources `json:"resources"`
		} `json:"linux"`
	}
	if err := json.Unmarshal(r.raw, &s); err != nil {
		return nil, fmt.Errorf("decode the resources in the state: %w", err)
	}
	if s.Linux == nil {
		return nil, nil
	}
	return s.Linux.Resources, nil
}

// SetResources replaces the spec's linux.resources (creating linux if the
// spec has none). Unless the whole spec was decoded, it edits the raw JSON
// through maps of raw messages, leaving every other field as it was read,
// byte for byte, with no decoder or encoder built for their types.
func (r *SpecRecord) SetResources(res *specs.LinuxResources) error {
	if r == nil {
		return errors.New("the state has no spec to set resources in")
	}
	if r.spec != nil {
		if r.spec.Linux == nil {
			r.spec.Linux = &specs.Linux{}
		}
		r.spec.Linux.Resources = res
		return nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(r.raw, &top); err != nil {
		return fmt.Errorf("decode the spec in the state: %w", err)
	}
	if top == nil {
		top = map[string]json.RawMessage{}
	}
	linux := map[string]json.RawMessage{}
	if raw, ok := top["linux"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &linux); err != nil {
			return fmt.Errorf("decode linux in the state's spec: %w", err)
		}
	}
	var err error
	if linux["resources"], err = json.Marshal(res); err != nil {
		return err
	}
	if top["linux"], err = json.Marshal(linux); err != nil {
		return err
	}
	raw, err := json.Marshal(top)
	if err != nil {
		return err
	}
	r.raw = raw
	return nil
}
