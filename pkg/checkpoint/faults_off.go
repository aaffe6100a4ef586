//go:build !rt_faults

package checkpoint

// fault is a point where tests inject a failure (faults_on.go); release
// builds compile it away.
func fault(string) bool { return false }
