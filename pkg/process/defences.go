//go:build !rt_nodefence

package process

// defencesOff is false in every build but test/security's positive controls
// (the tag rt_nodefence, defences_off.go): the race defences of this package
// are on, and the undefended* functions are never called.
const defencesOff = false
