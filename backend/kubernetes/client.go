package kubernetes

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sync"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
)

// The API is spoken through REST clients with a scheme of moat's own,
// built at the first use of a cluster, of the three groups moat uses:
// core/v1 (Pods, their attach), networking/v1 (NetworkPolicies) and
// node/v1 (RuntimeClasses). client-go's typed clients import
// k8s.io/client-go/kubernetes/scheme, which registers every API group of
// Kubernetes as the program starts: at every start of moat, whatever it
// runs (cmd/moat's TestNoClientGoScheme keeps it out).

type codecs struct {
	serializer.CodecFactory
	params runtime.ParameterCodec
}

var apiCodecs = sync.OnceValues(func() (codecs, error) {
	s := runtime.NewScheme()
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, networkingv1.AddToScheme, nodev1.AddToScheme} {
		if err := add(s); err != nil {
			return codecs{}, fmt.Errorf("kubernetes: scheme: %w", err)
		}
	}
	return codecs{serializer.NewCodecFactory(s), runtime.NewParameterCodec(s)}, nil
})

// api is a cluster's API, the parts of it moat uses.
type api struct {
	core, networking, node *rest.RESTClient
	params                 runtime.ParameterCodec
}

func newAPI(cfg *rest.Config) (*api, error) {
	cs, err := apiCodecs()
	if err != nil {
		return nil, err
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: client: %w", err)
	}
	// One rate limit for the three, as a clientset has.
	limit := cfg.RateLimiter
	if limit == nil && cfg.QPS > 0 {
		limit = flowcontrol.NewTokenBucketRateLimiter(cfg.QPS, cfg.Burst)
	}
	client := func(gv schema.GroupVersion, path string) (*rest.RESTClient, error) {
		c := rest.CopyConfig(cfg)
		c.RateLimiter = limit
		c.GroupVersion, c.APIPath = &gv, path
		c.NegotiatedSerializer = cs.WithoutConversion()
		rc, err := rest.RESTClientForConfigAndClient(c, hc)
		if err != nil {
			return nil, fmt.Errorf("kubernetes: client of %s: %w", gv, err)
		}
		return rc, nil
	}
	a := &api{params: cs.params}
	if a.core, err = client(corev1.SchemeGroupVersion, "/api"); err != nil {
		return nil, err
	}
	if a.networking, err = client(networkingv1.SchemeGroupVersion, "/apis"); err != nil {
		return nil, err
	}
	if a.node, err = client(nodev1.SchemeGroupVersion, "/apis"); err != nil {
		return nil, err
	}
	return a, nil
}

// objects are one kind of object in one namespace ("": cluster-wide).
type objects struct {
	rc     *rest.RESTClient
	params runtime.ParameterCodec
	ns     string
	name   string // the plural, "pods"
}

func (a *api) pods(ns string) objects { return objects{a.core, a.params, ns, "pods"} }

func (a *api) policies(ns string) objects {
	return objects{a.networking, a.params, ns, "networkpolicies"}
}

func (a *api) runtimeClasses() objects { return objects{a.node, a.params, "", "runtimeclasses"} }

func (r objects) create(ctx context.Context, obj, into runtime.Object) error {
	return r.rc.Post().Namespace(r.ns).Resource(r.name).VersionedParams(&metav1.CreateOptions{}, r.params).Body(obj).Do(ctx).Into(into)
}

func (r objects) get(ctx context.Context, name string, into runtime.Object) error {
	return r.rc.Get().Namespace(r.ns).Resource(r.name).Name(name).VersionedParams(&metav1.GetOptions{}, r.params).Do(ctx).Into(into)
}

func (r objects) list(ctx context.Context, opts metav1.ListOptions, into runtime.Object) error {
	return r.rc.Get().Namespace(r.ns).Resource(r.name).VersionedParams(&opts, r.params).Do(ctx).Into(into)
}

func (r objects) delete(ctx context.Context, name string, opts metav1.DeleteOptions) error {
	return r.rc.Delete().Namespace(r.ns).Resource(r.name).Name(name).Body(&opts).Do(ctx).Error()
}

func (r objects) watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	opts.Watch = true
	return r.rc.Get().Namespace(r.ns).Resource(r.name).VersionedParams(&opts, r.params).Watch(ctx)
}

// attachURL is the address of the attach stream of a Pod's container.
func (a *api) attachURL(ns, pod, container string) *url.URL {
	return a.core.Post().Namespace(ns).Resource("pods").Name(pod).SubResource("attach").
		VersionedParams(&corev1.PodAttachOptions{Container: container, Stdin: true, Stdout: true, Stderr: true}, a.params).URL()
}

// version asks the API server for its version (GET /version).
func (a *api) version(ctx context.Context) (string, error) {
	b, err := a.core.Get().AbsPath("/version").DoRaw(ctx)
	if err != nil {
		return "", err
	}
	var v version.Info
	if err := json.Unmarshal(b, &v); err != nil {
		return "", fmt.Errorf("kubernetes: version: %w", err)
	}
	return v.GitVersion, nil
}
