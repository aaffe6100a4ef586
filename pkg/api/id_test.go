package api

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateID(t *testing.T) {
	tests := []struct {
		id   string
		want error
	}{
		{"abc", nil},
		{"a.b_c+d-e", nil},
		{"0123456789abcdef", nil},
		{"...", nil},
		{strings.Repeat("a", MaxIDLength), nil},
		{"", ErrEmptyID},
		{".", ErrInvalidID},
		{"..", ErrInvalidID},
		{"../x", ErrInvalidID},
		{"a/b", ErrInvalidID},
		{"/abs", ErrInvalidID},
		{"a b", ErrInvalidID},
		{"a\x00b", ErrInvalidID},
		{"caf\u00e9", ErrInvalidID},
		{strings.Repeat("a", MaxIDLength+1), ErrInvalidID},
		{strings.Repeat("a", 1000), ErrInvalidID},
	}
	for _, tt := range tests {
		name := tt.id
		if len(name) > 20 {
			name = name[:20] + "…"
		}
		t.Run(name, func(t *testing.T) {
			err := ValidateID(tt.id)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("ValidateID(%q) = %v, want nil", tt.id, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("ValidateID(%q) = %v, want %v", tt.id, err, tt.want)
			}
		})
	}
}
