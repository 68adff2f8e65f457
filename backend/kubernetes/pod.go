package kubernetes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/moat-sandbox/moat"
	ctr "github.com/moat-sandbox/moat/backend/internal/container"
	"github.com/moat-sandbox/moat/backend/internal/ctrinit"
)

// Names of the Pod's containers and volumes.
const (
	mainName = "moat"
	initName = "moat-init"
	binVol   = "moat-bin"
	sysVol   = "moat-sys"
	noDevVol = "moat-nodev"
	// termDir/termFile in the init volume is the main container's
	// terminationMessagePath: the kubelet mounts a file of its own there
	// (by default /dev/termination-log, a file in /dev the program could
	// see and write to the node's disk without bound). initTerm is the
	// init container's, in its own root, which the program never sees.
	termDir  = ".t"
	termFile = "m"
	// etcDir, in the same volume, holds the run's /etc/passwd and
	// /etc/group: the image's with the persona's lines (see loader).
	etcDir   = ".e"
	initTerm = "/.moat-t"
	// ManagedBy is the value of app.kubernetes.io/managed-by on what moat
	// creates.
	ManagedBy = "moat"
)

// afterProgram bounds what moat's init does once the program has ended:
// the report's walks and the copy-out of /work (--out). The timeout
// counts the program alone (its wall clock); past this bound the run is
// a sandbox error.
const afterProgram = 2 * time.Minute

// deadlineSlack is how far past its wall clock, in seconds, the cluster
// ends a Pod by itself (activeDeadlineSeconds): moat stops it at the
// timeout; this is for a moat that is gone. It covers scheduling, the
// image's start, and afterProgram.
const deadlineSlack = 60 + int64(afterProgram/time.Second)

// uid and gid of the program, as for every container backend.
const uid, gid = 1000, 1000

// loader is the init container's program, run by the image's python3 as
// `python3 -I -S -c loader SHA256 SIZE` before any code of the run: it
// reads SIZE bytes (moat's binary) from its stdin into the emptyDir, and
// keeps it only if it has the SHA-256 the host sent. It also makes the
// place of the main container's termination message (termDir, termFile):
// a file in a directory of mode 0, which the program, without
// CAP_DAC_OVERRIDE on a read-only mount, can neither enter nor change.
// And the run's /etc/passwd and /etc/group (etcDir), bound read-only over
// the image's: the image's lines (at most 1 MiB of each) but those of
// the persona's name or of id 1000, then the persona's lines, argv 3 and
// 4 (ctr.Persona.WithEntries, as docker binds them), so that getpwuid,
// whoami and id -un answer the persona's user.
const loader = `import hashlib, os, sys
os.mkdir('` + ctrinit.Dir + `/` + etcDir + `', 0o755)
for f, line in (('passwd', sys.argv[3]), ('group', sys.argv[4])):
    name = line.split(':')[0]
    try:
        with open('/etc/' + f, encoding='utf-8', errors='surrogateescape') as g:
            old = g.read(1 << 20).split('\n')
    except OSError:
        old = []
    keep = [l for l in old if l and l.split(':')[0] != name and l.split(':')[2:3] != ['1000']]
    with open('` + ctrinit.Dir + `/` + etcDir + `/' + f, 'w', encoding='utf-8', errors='surrogateescape') as g:
        g.write(''.join(l + '\n' for l in keep) + line + '\n')
os.mkdir('` + ctrinit.Dir + `/` + termDir + `', 0o700)
open('` + ctrinit.Dir + `/` + termDir + `/` + termFile + `', 'w').close()
os.chmod('` + ctrinit.Dir + `/` + termDir + `', 0)
want, left = sys.argv[1], int(sys.argv[2])
p = '` + ctrinit.Path + `'
h = hashlib.sha256()
r = sys.stdin.buffer
with open(p + '.part', 'wb') as f:
    while left:
        b = r.read(min(left, 1 << 20))
        if not b:
            sys.exit('moat-init: the binary was cut short')
        h.update(b); f.write(b); left -= len(b)
if h.hexdigest() != want:
    os.remove(p + '.part')
    sys.exit('moat-init: the binary does not have the hash moat sent')
os.chmod(p + '.part', 0o555)
os.rename(p + '.part', p)
`

// self is this binary, read once: what the init container receives.
var self = sync.OnceValues(func() ([]byte, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return os.ReadFile(exe)
})

func selfHash() (string, int, error) {
	b, err := self()
	if err != nil {
		return "", 0, err
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:]), len(b), nil
}

func labels(id string) map[string]string {
	return map[string]string{ctr.Label: id, "app.kubernetes.io/managed-by": ManagedBy}
}

// policy denies the run's Pod every ingress and egress, for network
// plugins that enforce NetworkPolicy.
func policy(id string) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "moat-" + id, Labels: labels(id)},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{ctr.Label: id}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
		},
	}
}

// podSpec builds the run's Pod: see the package doc. goInit says whether
// an init container brings moat's binary (else bootstrap.py runs); idle
// is how long it may wait for its run.
func podSpec(id, image, runtimeClass string, lim moat.Limits, goInit bool, idle time.Duration, persona ctr.Persona) (*corev1.Pod, error) {
	no, yes := false, true
	prof, err := seccompProfile()
	if err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	}
	seccomp := &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &prof}
	user, group := int64(uid), int64(gid)
	sc := &corev1.SecurityContext{
		RunAsUser:                &user,
		RunAsGroup:               &group,
		RunAsNonRoot:             &yes,
		Privileged:               &no,
		AllowPrivilegeEscalation: &no,
		ReadOnlyRootFilesystem:   &yes,
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           seccomp,
	}
	// The memory limit holds the program, the init and the memory-backed
	// emptyDirs (tmpfs pages count where they are written).
	mem := resource.NewQuantity(lim.Memory, resource.BinarySI)
	res := corev1.ResourceRequirements{
		Limits:   corev1.ResourceList{corev1.ResourceMemory: *mem},
		Requests: corev1.ResourceList{corev1.ResourceMemory: *mem},
	}
	if lim.CPUs > 0 {
		cpu := resource.NewMilliQuantity(int64(math.Ceil(lim.CPUs*1000)), resource.DecimalSI)
		res.Limits[corev1.ResourceCPU] = *cpu
		res.Requests[corev1.ResourceCPU] = *cpu
	}
	mounts, shm := ctr.Tmpfs(lim.Disk, persona.Home)
	var vols []corev1.Volume
	var vms []corev1.VolumeMount
	add := func(name, path string, size int64) {
		q := resource.NewQuantity(size, resource.BinarySI)
		vols = append(vols, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
			EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: q}}})
		vms = append(vms, corev1.VolumeMount{Name: name, MountPath: path})
	}
	for i, m := range mounts {
		add("moat-tmp"+strconv.Itoa(i), m.Path, m.Size)
	}
	add("moat-shm", "/dev/shm", shm)
	// /sys: an empty read-only directory over the runtime's sysfs (the
	// node's under runc, the Sentry's under gVisor), as the other
	// container backends mask it.
	vols = append(vols, corev1.Volume{Name: sysVol, VolumeSource: corev1.VolumeSource{
		EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: resource.NewQuantity(4096, resource.BinarySI)}}})
	vms = append(vms, corev1.VolumeMount{Name: sysVol, MountPath: "/sys", ReadOnly: true})
	// gVisor's Sentry has its own /dev/fuse and /dev/net/tun, which open
	// for anyone: /dev/net is covered like /sys, and /dev/fuse by a file
	// of mode 0 (the only file volume a Pod can have without an API
	// object is the downward API's). Under runc neither exists, and the
	// mounts only add an empty directory and an unreadable file.
	vms = append(vms, corev1.VolumeMount{Name: sysVol, MountPath: "/dev/net", ReadOnly: true})
	vols = append(vols, corev1.Volume{Name: noDevVol, VolumeSource: corev1.VolumeSource{
		DownwardAPI: &corev1.DownwardAPIVolumeSource{DefaultMode: ptr(int32(0)), Items: []corev1.DownwardAPIVolumeFile{
			{Path: "none", Mode: ptr(int32(0)), FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}}})
	vms = append(vms, corev1.VolumeMount{Name: noDevVol, MountPath: "/dev/fuse", SubPath: "none", ReadOnly: true})
	deadline := int64(math.Ceil((lim.Timeout + idle).Seconds())) + deadlineSlack
	main := corev1.Container{
		Name:                     mainName,
		Image:                    image,
		ImagePullPolicy:          corev1.PullIfNotPresent,
		Command:                  ctr.Entrypoint(goInit, persona),
		Args:                     []string{},
		WorkingDir:               ctr.WorkDir,
		Env:                      []corev1.EnvVar{{Name: "PATH", Value: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
		Stdin:                    true,
		StdinOnce:                true,
		SecurityContext:          sc,
		Resources:                res,
		VolumeMounts:             vms,
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "moat-" + id, Labels: labels(id)},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			ActiveDeadlineSeconds:         &deadline,
			AutomountServiceAccountToken:  &no,
			EnableServiceLinks:            &no,
			HostNetwork:                   false,
			HostPID:                       false,
			HostIPC:                       false,
			ShareProcessNamespace:         &no,
			Hostname:                      persona.Host,
			TerminationGracePeriodSeconds: ptr(int64(1)),
			// No resolver: names do not resolve even where the Pod has
			// a network (runc).
			DNSPolicy: corev1.DNSNone,
			DNSConfig: &corev1.PodDNSConfig{Nameservers: []string{"127.0.0.1"}},
			SecurityContext: &corev1.PodSecurityContext{
				RunAsUser: &user, RunAsGroup: &group, RunAsNonRoot: &yes,
				SeccompProfile: seccomp,
			},
			Containers: []corev1.Container{main},
			Volumes:    vols,
		},
	}
	if runtimeClass != "" {
		pod.Spec.RuntimeClassName = &runtimeClass
	}
	if goInit {
		sum, size, err := selfHash()
		if err != nil {
			return nil, fmt.Errorf("init binary: %w", err)
		}
		// Disk-backed: the binary is not charged to the run's memory.
		q := resource.NewQuantity(int64(size)+1<<20, resource.BinarySI)
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: binVol, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: q}}})
		pod.Spec.Containers[0].VolumeMounts = append(pod.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: binVol, MountPath: persona.Tools, ReadOnly: true})
		pod.Spec.Containers[0].TerminationMessagePath = persona.Tools + "/" + termDir + "/" + termFile
		for _, f := range []string{"passwd", "group"} {
			pod.Spec.Containers[0].VolumeMounts = append(pod.Spec.Containers[0].VolumeMounts,
				corev1.VolumeMount{Name: binVol, MountPath: "/etc/" + f, SubPath: etcDir + "/" + f, ReadOnly: true})
		}
		pod.Spec.InitContainers = []corev1.Container{{
			Name:                   initName,
			Image:                  image,
			ImagePullPolicy:        corev1.PullIfNotPresent,
			Command:                []string{"python3", "-I", "-S", "-c", loader, sum, strconv.Itoa(size), persona.PasswdEntry(), persona.GroupEntry()},
			Stdin:                  true,
			StdinOnce:              true,
			SecurityContext:        sc,
			Resources:              res,
			VolumeMounts:           []corev1.VolumeMount{{Name: binVol, MountPath: ctrinit.Dir}},
			TerminationMessagePath: initTerm,
		}}
	}
	return pod, nil
}

func ptr[T any](v T) *T { return &v }

func deletePod(ctx context.Context, c *cluster, ns, name string) error {
	err := c.api.pods(ns).delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(1))})
	if err != nil && !notFound(err) {
		return fmt.Errorf("kubernetes: delete pod %s: %w", name, err)
	}
	return nil
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func joinErrs(errs []error) error { return errors.Join(errs...) }
