package runtime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/rtkit/rt/pkg/api"
)

// featureTests maps every key of `rt features` to the tests that exercise
// what it claims. A list's key ("linux.namespaces[]") stands for each of its
// values: the tests named go over every value of the list (a table test) or
// run containers that use them. Names are Go test functions anywhere in the
// repository; TestFeaturesMapped checks that each exists and that no key of
// the document is missing here. Annotations' values are data, not claims.
var featureTests = map[string][]string{
	"ociVersionMin":                       {"TestFeatures", "TestValidate"},
	"ociVersionMax":                       {"TestFeatures", "TestValidate"},
	"hooks[]":                             {"TestHookPoints", "TestHookPoststopFailure"},
	"mountOptions[]":                      {"TestOptionsTable", "TestParseOptions", "TestConfigMounts", "TestConfigMountIDMapped"},
	"linux.namespaces[]":                  {"TestConfigNamespaces", "TestConfigUserNamespace", "TestConfigTimeNamespace", "TestNoMountNamespaceRuns"},
	"linux.capabilities[]":                {"TestFeaturesCapabilities", "TestCapability", "TestConfigCapabilities"},
	"linux.cgroup.v1":                     {"TestSetV1Writes", "TestFeaturesReportsCgroupDrivers"},
	"linux.cgroup.v2":                     {"TestSetV2Writes", "TestCgroupV2Limits", "TestFeaturesReportsCgroupDrivers"},
	"linux.cgroup.systemd":                {"TestSystemdDriverLifecycle", "TestSystemdCgroupDriverWithoutSystemdFails", "TestFeaturesReportsCgroupDrivers"},
	"linux.cgroup.systemdUser":            {"TestFeaturesReportsCgroupDrivers"},
	"linux.cgroup.rdma":                   {"TestSetV1Writes"},
	"linux.seccomp.enabled":               {"TestSeccompFilterInForce"},
	"linux.seccomp.actions[]":             {"TestFeaturesSeccomp", "TestCompile", "TestSeccompFilterInForce", "TestSeccompBadProfile"},
	"linux.seccomp.operators[]":           {"TestFeaturesSeccomp", "TestSeccompFilterInForce", "TestSeccompBadProfile"},
	"linux.seccomp.archs[]":               {"TestFeaturesSeccomp", "TestArchsKnownToLibseccomp", "TestSeccompArchitectures"},
	"linux.seccomp.knownFlags[]":          {"TestFeaturesSeccomp", "TestCompile", "TestSeccompFlagTSYNC"},
	"linux.seccomp.supportedFlags[]":      {"TestFeaturesSeccomp", "TestCompile", "TestSeccompFlagTSYNC"},
	"linux.apparmor.enabled":              {"TestConfigLSMUnavailable", "TestWriteAttrNotThroughProc"},
	"linux.selinux.enabled":               {"TestConfigLSMUnavailable", "TestWriteAttrNotThroughProc", "TestWithMountLabel"},
	"linux.intelRdt.enabled":              {"TestNewGroup", "TestCheck", "TestProcAttrsRefused"},
	"linux.intelRdt.schemata":             {"TestNewGroup", "TestParseSchemata"},
	"linux.intelRdt.monitoring":           {"TestNewGroup"},
	"linux.memoryPolicy.modes[]":          {"TestFeaturesProcAttrs", "TestProcSchedulerIOPriorityMemoryPolicy", "TestProcAttrsRefused"},
	"linux.memoryPolicy.flags[]":          {"TestFeaturesProcAttrs", "TestEncodeAttrs"},
	"linux.mountExtensions.idmap.enabled": {"TestConfigMountIDMapped", "TestConfigMountRIDMapped", "TestFeaturesEnabled"},
	"linux.netDevices.enabled":            {"TestConfigNetDevices", "TestConfigNetDevicesRefused", "TestFeaturesEnabled"},
	"annotations":                         {"TestFeaturesMapped"},
}

// featureKeys flattens a features document into its keys: objects by
// their fields, lists as "key[]", annotations as one key.
func featureKeys(prefix string, v any, out map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		if prefix == "annotations" {
			out[prefix] = true
			return
		}
		for k, e := range v {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			featureKeys(p, e, out)
		}
	case []any:
		out[prefix+"[]"] = true
	default:
		out[prefix] = true
	}
}

// TestFeaturesMapped: every key `rt features` reports has tests in
// featureTests, and every test named there exists.
func TestFeaturesMapped(t *testing.T) {
	f, err := New(api.GlobalConfig{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	feat, err := f.(*Runtime).Features()
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(feat)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	featureKeys("", doc, keys)
	for _, k := range sortedSet(keys) {
		if len(featureTests[k]) == 0 {
			t.Errorf("features key %q has no test in featureTests", k)
		}
	}
	for k := range featureTests {
		if !keys[k] {
			t.Errorf("featureTests has %q, which features does not report", k)
		}
	}
	if ann, _ := doc["annotations"].(map[string]any); ann["org.rtkit.rt.version"] == nil || ann["org.rtkit.rt.commit"] == nil {
		t.Errorf("annotations %v lack rt's version and commit", ann)
	}
	defined := testFuncs(t)
	for k, tests := range featureTests {
		for _, name := range tests {
			if !defined[name] {
				t.Errorf("featureTests[%q]: no test function %s in the repository", k, name)
			}
		}
	}
}

// testFuncs is the name of every test function in the repository.
func testFuncs(t *testing.T) map[string]bool {
	t.Helper()
	re := regexp.MustCompile(`(?m)^func (Test\w+)\(t \*testing\.T\)`)
	names := map[string]bool{}
	err := filepath.WalkDir("../..", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, "_test.go") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range re.FindAllSubmatch(data, -1) {
			names[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return slices.Clip(out)
}
