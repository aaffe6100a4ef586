// Package killpoint marks the steps of rt's commands where a crash-safety
// test (test/crash) SIGKILLs the process, to show that whatever a command
// killed there leaves, `state`, `list` and `delete --force` still handle.
//
// Release builds compile Hit to nothing (off.go); test builds with the Go
// build tag rt_killpoints (harness.BuildWithTags) read two variables:
//
//   - RT_KILLPOINT_TRACE: a file each Hit appends its name to, a line each,
//     so a test learns a command's steps in order;
//   - RT_KILLPOINT: the step to die at, by its ordinal (1-based, counted in
//     this process) or by name; the process SIGKILLs itself there.
//
// Names are "<command>.<step>" for a command's own steps, and
// "<area>.<step>" for steps shared by several commands (a state save, a
// spawned rt-init), which then appear in each command's trace.
package killpoint
