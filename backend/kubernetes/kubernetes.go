// Package kubernetes runs the program as a Pod on a Kubernetes cluster,
// through client-go's REST client (client.go): the user's kubeconfig (KUBECONFIG, ~/.kube/config) or,
// inside a cluster, the Pod's service account.
//
// Each run is one Pod, created for it and deleted when Run returns,
// whatever happened. It runs under a gVisor RuntimeClass when the cluster
// has one (a RuntimeClass whose handler or name says runsc or gvisor), or
// the one named by MOAT_KUBE_RUNTIMECLASS; plain runc Pods (the cluster's
// default runtime) share the node's kernel, are the seed's "medium", and
// run only with Spec.AllowDegraded, which the Result then lists. The
// namespace is MOAT_KUBE_NAMESPACE, else the kubeconfig's, else "default".
//
// The Pod is hardened like moat's other containers (see
// backend/internal/container): a non-root user, a read-only root, every
// capability dropped, no privilege escalation, moat's seccomp profile (a
// Localhost profile that `moat kube-seccomp` installs on each node; a node
// without it does not start the Pod), no service account token, no host
// namespaces, no service links, DNS pointed at nothing, an empty read-only
// /sys, requests and limits from the Spec, activeDeadlineSeconds from its
// wall clock (the cluster ends the Pod if moat is gone), size-limited
// memory-backed emptyDirs for /work, /tmp, the home and /dev/shm, and a
// NetworkPolicy of its own that denies all ingress and egress, for
// clusters whose network plugin enforces one. gVisor's runsc with
// network=none (which moat's CI configures) gives the Pod no network
// interface but loopback. Before the program starts, moat's init checks
// in the Pod what a runtime may leave out without failing it (each volume
// no larger than asked, no interface but loopback, no root uid or gid, no
// capability, a read-only root; gVisor's released containerd shim puts an
// unsized tmpfs at /dev/shm): one not in effect refuses the run
// (moat.ErrDegraded, the program never started) unless the Spec allows a
// degraded run, whose Result then lists it. A Pod has no pids limit of
// its own: moat's init counts the program's tasks and ends the run at the
// limit (and sets RLIMIT_NPROC under gVisor).
//
// moat's own init (backend/internal/ctrinit) is pid 1 of the Pod's
// container: an init container of the same image receives this binary
// over its attach stream, checks its SHA-256, and leaves it in an emptyDir
// that the program's container mounts read-only. The workspace goes in
// and the results come out over the container's attach stream, in the
// protocol of backend/internal/container: no volume is shared with the
// host. Where this binary cannot run on the nodes (another OS or
// architecture, MOAT_CONTAINER_INIT=python) the image's python3 runs
// bootstrap.py instead, the same protocol.
//
// Status comes from the init's report and the Pod's own: a container
// OOMKilled is the memory limit, a Pod evicted or past its deadline is a
// lost run, through moat.Ending like every backend. Pods and their
// policies are labelled moat.run=<id>; `moat gc` (Collect) deletes what a
// killed moat left.
package kubernetes

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/moat-sandbox/moat"
	ctr "github.com/moat-sandbox/moat/backend/internal/container"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultImage is used when neither Spec.Image nor Backend.Image is set.
const DefaultImage = "python:3.12-slim"

// Environment variables that configure the backend `moat` registers.
const (
	NamespaceEnv    = "MOAT_KUBE_NAMESPACE"
	RuntimeClassEnv = "MOAT_KUBE_RUNTIMECLASS" // "runc": none, the node's default runtime
	ImageEnv        = "MOAT_KUBE_IMAGE"
)

// Runc, as RuntimeClass, asks for no RuntimeClass: the cluster's default
// runtime (runc, shared kernel; only with Spec.AllowDegraded).
const Runc = "runc"

// Backend runs specs as Pods. The zero value uses the kubeconfig of
// KUBECONFIG or ~/.kube/config (or the in-cluster config), its namespace,
// a gVisor RuntimeClass, and DefaultImage.
type Backend struct {
	Kubeconfig   string // "" = KUBECONFIG, ~/.kube/config, or in-cluster
	Namespace    string // "" = the kubeconfig's namespace, or "default"
	RuntimeClass string // "" = a gVisor RuntimeClass of the cluster; Runc = none
	Image        string // "" = DefaultImage; Spec.Image wins
	// PythonInit runs bootstrap.py as the container's init instead of
	// moat's own (see backend/internal/container).
	PythonInit bool
}

var (
	_ moat.Backend   = (*Backend)(nil)
	_ moat.Checker   = (*Backend)(nil)
	_ moat.Describer = (*Backend)(nil)
	_ moat.Supporter = (*Backend)(nil)
	_ moat.Imager    = (*Backend)(nil)
	_ moat.Collector = (*Backend)(nil)
)

func init() {
	moat.Register("kubernetes", func() moat.Backend {
		return &Backend{Namespace: os.Getenv(NamespaceEnv), RuntimeClass: os.Getenv(RuntimeClassEnv), Image: os.Getenv(ImageEnv)}
	})
}

// cluster is one API server: its client, shared by every run.
type cluster struct {
	cfg       *rest.Config
	api       *api
	namespace string // the kubeconfig's, "" if none
	server    string

	infoOnce sync.Once
	version  string
}

var (
	clustersMu sync.Mutex
	clusters   = map[string]*cluster{}
)

// errNoConfig says there is no kubeconfig and no in-cluster config.
func errNoConfig(err error) error {
	if clientcmd.IsEmptyConfig(err) {
		return fmt.Errorf("kubernetes: no cluster configured: set KUBECONFIG or write ~/.kube/config (inside a Pod, its service account is used): %w", moat.ErrUnavailable)
	}
	return fmt.Errorf("kubernetes: kubeconfig: %s: %w", firstLine(err), moat.ErrUnavailable)
}

func (b *Backend) cluster() (*cluster, error) {
	clustersMu.Lock()
	defer clustersMu.Unlock()
	if c := clusters[b.Kubeconfig]; c != nil {
		return c, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if b.Kubeconfig != "" {
		rules.ExplicitPath = b.Kubeconfig
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
	cfg, err := cc.ClientConfig()
	if err != nil {
		if b.Kubeconfig == "" && os.Getenv("KUBECONFIG") == "" {
			if ic, ierr := rest.InClusterConfig(); ierr == nil {
				cfg, err = ic, nil
			}
		}
		if err != nil {
			return nil, errNoConfig(err)
		}
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 50, 100
	cfg.UserAgent = "moat"
	a, err := newAPI(cfg)
	if err != nil {
		return nil, err
	}
	ns, _, _ := cc.Namespace()
	c := &cluster{cfg: cfg, api: a, namespace: ns, server: cfg.Host}
	clusters[b.Kubeconfig] = c
	return c, nil
}

func (c *cluster) info(ctx context.Context) {
	c.infoOnce.Do(func() {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if v, err := c.api.version(ctx); err == nil {
			c.version = v
		}
	})
}

func (b *Backend) namespace(c *cluster) string { return cmp.Or(b.Namespace, c.namespace, "default") }

func (b *Backend) image(spec *moat.Spec) string { return cmp.Or(spec.Image, b.Image, DefaultImage) }

// DefaultImage is the image of a run whose Spec names none.
func (b *Backend) DefaultImage() string { return cmp.Or(b.Image, DefaultImage) }

// Supports refuses what a container cannot enforce: see ctr.Supports.
func (b *Backend) Supports(spec *moat.Spec) error { return ctr.Supports("kubernetes", spec) }

// Check asks the API server for its version.
func (b *Backend) Check(ctx context.Context) error {
	c, err := b.cluster()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := c.api.version(ctx); err != nil {
		return fmt.Errorf("kubernetes: cluster at %s not reachable: %v: %w", c.server, firstLine(err), moat.ErrUnavailable)
	}
	return nil
}

// Describe says which cluster, version, namespace, RuntimeClasses and
// image a run uses, and what is missing.
func (b *Backend) Describe(ctx context.Context) []string {
	c, err := b.cluster()
	if err != nil {
		return nil
	}
	c.info(ctx)
	lines := []string{fmt.Sprintf("cluster %s, Kubernetes %s, namespace %s", c.server, cmp.Or(c.version, "(version unknown)"), b.namespace(c))}
	rcs, err := c.runtimeClasses(ctx)
	if err != nil {
		lines = append(lines, "RuntimeClasses: cannot list: "+firstLine(err))
	} else {
		var names []string
		for _, rc := range rcs {
			names = append(names, rc.name+" (handler "+rc.handler+")")
		}
		lines = append(lines, "RuntimeClasses: "+cmp.Or(strings.Join(names, ", "), "none"))
	}
	rc, gvisor, err := b.runtimeClass(ctx, c)
	switch {
	case err != nil:
		lines = append(lines, "missing: "+firstLine(err))
	case gvisor:
		lines = append(lines, "runs under RuntimeClass "+rc+" (gVisor: high)")
	case rc == "":
		lines = append(lines, "missing: a gVisor RuntimeClass; runs are plain runc Pods (medium), only with --allow-degraded")
	default:
		lines = append(lines, "runs under RuntimeClass "+rc+" (not gVisor: medium, only with --allow-degraded)")
	}
	return append(lines,
		"image "+b.DefaultImage()+" (pulled by the node as its imagePullPolicy IfNotPresent says)",
		b.describeInit(),
		b.describeSeccomp(),
		"non-root, read-only root, cap drop ALL, no privilege escalation, no service account token, deny-all NetworkPolicy",
		"checked in the Pod before the program starts (refused unless --allow-degraded): sized volumes, loopback only, non-root, no capabilities, read-only root, seccomp")
}

func (b *Backend) describeSeccomp() string {
	prof, err := seccompProfile()
	if err != nil {
		return "missing: moat's seccomp profile: " + firstLine(err)
	}
	return "seccomp: moat's profile, the Localhost profile " + prof + " on every node (`moat kube-seccomp` installs it; a node without it does not start the Pod)"
}

func (b *Backend) describeInit() string {
	if v, _ := b.goInit(); v {
		return "init: moat's own, copied into the Pod by an init container over its attach stream"
	}
	return "init: bootstrap.py by the image's python3"
}

// goInit says whether the Pod runs this binary as its init: it is a
// static Linux binary of the nodes' architecture (assumed the host's).
func (b *Backend) goInit() (bool, error) {
	if b.PythonInit || runtime.GOOS != "linux" {
		return false, nil
	}
	v, err := ctr.InitFor("", "")
	return v != "", err
}

// Collect deletes the Pods and NetworkPolicies labelled by moat in the
// backend's namespace (left by a moat that was killed).
func (b *Backend) Collect(ctx context.Context) ([]string, error) {
	c, err := b.cluster()
	if err != nil {
		return nil, nil // no cluster, nothing to collect
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ns := b.namespace(c)
	sel := metav1.ListOptions{LabelSelector: ctr.Label}
	var pods corev1.PodList
	if err := c.api.pods(ns).list(ctx, sel, &pods); err != nil {
		if ctx.Err() == nil && isUnreachable(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("kubernetes: list pods: %w", err)
	}
	var removed []string
	var errs []error
	for _, p := range pods.Items {
		if err := deletePod(ctx, c, ns, p.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, "pod "+ns+"/"+p.Name)
	}
	var pols networkingv1.NetworkPolicyList
	if err := c.api.policies(ns).list(ctx, sel, &pols); err != nil {
		errs = append(errs, fmt.Errorf("kubernetes: list network policies: %w", err))
	} else {
		for _, p := range pols.Items {
			if err := c.api.policies(ns).delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil && !notFound(err) {
				errs = append(errs, err)
				continue
			}
			removed = append(removed, "networkpolicy "+ns+"/"+p.Name)
		}
	}
	slices.Sort(removed)
	return removed, joinErrs(errs)
}

// live holds the ids of this process's runs from before their policy is
// created until Close has seen their Pod gone: what they have on the
// cluster then is theirs, not left over.
var live = struct {
	sync.Mutex
	ids map[string]bool
}{ids: map[string]bool{}}

func setLive(id string, on bool) {
	live.Lock()
	defer live.Unlock()
	if on {
		live.ids[id] = true
	} else {
		delete(live.ids, id)
	}
}

// liveIDs returns the ids of the runs in progress.
func liveIDs() map[string]bool {
	live.Lock()
	defer live.Unlock()
	return maps.Clone(live.ids)
}

// Leftovers lists what moat's runs left in the backend's namespace: Pods
// (also those still terminating) and NetworkPolicies labelled by moat,
// but those of this process's runs still in progress.
func (b *Backend) Leftovers(ctx context.Context) ([]string, error) {
	c, err := b.cluster()
	if err != nil {
		return nil, err
	}
	ns := b.namespace(c)
	sel := metav1.ListOptions{LabelSelector: ctr.Label}
	var left []string
	// A run in progress when the lists are taken may end (its Pod gone)
	// before they are read: it is theirs, not left over.
	before := liveIDs()
	isLive := func(id string) bool { return before[id] || liveIDs()[id] }
	var pods corev1.PodList
	if err := c.api.pods(ns).list(ctx, sel, &pods); err != nil {
		return nil, err
	}
	for _, p := range pods.Items {
		if !isLive(p.Labels[ctr.Label]) {
			left = append(left, "pod "+p.Name)
		}
	}
	var pols networkingv1.NetworkPolicyList
	if err := c.api.policies(ns).list(ctx, sel, &pols); err != nil {
		return nil, err
	}
	for _, p := range pols.Items {
		if !isLive(p.Labels[ctr.Label]) {
			left = append(left, "networkpolicy "+p.Name)
		}
	}
	return left, nil
}
