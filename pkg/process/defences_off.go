//go:build rt_nodefence

package process

// defencesOff turns this package's race defences off, in a build with the
// tag rt_nodefence: test/security's positive controls (harness.BuildWithTags),
// which show that each race test catches the attack its defence stops.
// Never ship such a build. docs/security.md lists the defences.
const defencesOff = true
