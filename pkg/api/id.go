package api

import "fmt"

// MaxIDLength bounds container ids. An id becomes a directory name under the
// root (NAME_MAX is 255) and part of cgroup paths, so longer ones are refused
// before any path is built.
const MaxIDLength = 255

// ValidateID checks that id can safely name a container: letters, digits and
// "_ + - .", not "." or "..", at most MaxIDLength bytes. It must be called
// before the id is joined to any path. The returned error wraps ErrEmptyID or
// ErrInvalidID.
func ValidateID(id string) error {
	if id == "" {
		return ErrEmptyID
	}
	if len(id) > MaxIDLength {
		return fmt.Errorf("%w: %d bytes long, at most %d allowed", ErrInvalidID, len(id), MaxIDLength)
	}
	if id == "." || id == ".." {
		return fmt.Errorf("%w %q", ErrInvalidID, id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_', c == '+', c == '-', c == '.':
		default:
			return fmt.Errorf("%w %q: character %q not allowed (letters, digits, _ + - . only)", ErrInvalidID, id, c)
		}
	}
	return nil
}
