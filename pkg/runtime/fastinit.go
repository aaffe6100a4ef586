package runtime

import (
	"errors"
	"os"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/initplan"
	"github.com/rtkit/rt/pkg/rootfs"
	"github.com/rtkit/rt/pkg/store"
)

// envNoFastInit turns the fast init path off (RT_NO_FAST_INIT=1): a way to
// compare both paths, and to rule the fast one out.
const envNoFastInit = "RT_NO_FAST_INIT"

// fastPlan is the encoded plan for the fast init path, nil when the
// container needs the Go path (the reason goes to the debug log).
func (r *Runtime) fastPlan(in *createInput, opts api.CreateOpts, st *store.State) []byte {
	if os.Getenv(envNoFastInit) == "1" || rootfs.DefencesOff() {
		return nil
	}
	// Build refuses the rest: no mount namespace of the container's own
	// (in.hostMounts), idmapped binds, --no-pivot.
	p, err := initplan.Build(initplan.Input{
		ID: st.ID, Bundle: in.bundle, Rootfs: in.rootfs, Spec: in.spec, NoNewKeyring: opts.NoNewKeyring, NoPivot: opts.NoPivot,
		PreserveFDs: in.extraFDs, NewNetNS: in.plan.newNet, NewUserNS: in.plan.newUser, NewCgroupNS: in.plan.newCgroup,
		CgroupPaths: st.CgroupPaths, Hierarchies: rootfs.HostHierarchies,
	})
	var b []byte
	if err == nil {
		b, err = p.Encode()
	}
	if err != nil {
		if !errors.Is(err, initplan.ErrUnsupported) {
			r.log.Warn("fast init path", "id", st.ID, "error", err)
		}
		r.log.Debug("fast init path: not for this config", "id", st.ID, "reason", err)
		return nil
	}
	return b
}
