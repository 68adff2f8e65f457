package kubernetes

import (
	"path"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/moat-sandbox/moat"
	ctr "github.com/moat-sandbox/moat/backend/internal/container"
)

// TestPodSpec: the Pod of a run carries every hardening the package doc
// promises (what the cluster then does with it, the suite on a real
// cluster checks).
func TestPodSpec(t *testing.T) {
	persona := ctr.NewPersona("")
	lim := moat.Limits{Timeout: 30 * time.Second, Memory: 128 << 20, CPUs: 0.5, Disk: 64 << 20}.WithDefaults()
	pod, err := podSpec("abc", "img:1", "gvisor", lim, true, 10*time.Second, persona)
	if err != nil {
		t.Fatal(err)
	}
	s := pod.Spec
	if pod.Labels["moat.run"] != "abc" || pod.Name != "moat-abc" {
		t.Errorf("name %s labels %v", pod.Name, pod.Labels)
	}
	if s.RuntimeClassName == nil || *s.RuntimeClassName != "gvisor" {
		t.Errorf("RuntimeClassName %v", s.RuntimeClassName)
	}
	if s.AutomountServiceAccountToken == nil || *s.AutomountServiceAccountToken || s.EnableServiceLinks == nil || *s.EnableServiceLinks {
		t.Error("service account token or service links on")
	}
	if s.HostNetwork || s.HostPID || s.HostIPC || s.RestartPolicy != corev1.RestartPolicyNever || s.DNSPolicy != corev1.DNSNone {
		t.Errorf("host namespaces, restart policy or DNS: %+v", s)
	}
	if s.ActiveDeadlineSeconds == nil || *s.ActiveDeadlineSeconds != 30+10+deadlineSlack {
		t.Errorf("activeDeadlineSeconds %v", s.ActiveDeadlineSeconds)
	}
	if len(s.InitContainers) != 1 || len(s.Containers) != 1 {
		t.Fatalf("containers: %d init, %d", len(s.InitContainers), len(s.Containers))
	}
	for _, c := range append(s.InitContainers, s.Containers...) {
		sc := c.SecurityContext
		if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || *sc.RunAsUser == 0 || sc.Privileged == nil || *sc.Privileged ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || len(sc.Capabilities.Add) != 0 ||
			sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeLocalhost || !strings.HasPrefix(*sc.SeccompProfile.LocalhostProfile, "moat/moat-") {
			t.Errorf("container %s: security context %+v", c.Name, sc)
		}
		if m := c.Resources.Limits.Memory().Value(); m != 128<<20 {
			t.Errorf("container %s: memory limit %d", c.Name, m)
		}
		if cpu := c.Resources.Limits.Cpu().MilliValue(); cpu != 500 {
			t.Errorf("container %s: cpu limit %dm", c.Name, cpu)
		}
	}
	var sum int64
	for _, v := range s.Volumes {
		if v.Name == noDevVol {
			if d := v.DownwardAPI; d == nil || len(d.Items) != 1 || d.Items[0].Mode == nil || *d.Items[0].Mode != 0 {
				t.Errorf("volume %s is not one file of mode 0: %+v", v.Name, v.VolumeSource)
			}
			continue
		}
		if v.EmptyDir == nil || v.EmptyDir.SizeLimit == nil {
			t.Errorf("volume %s is not a size-limited emptyDir", v.Name)
			continue
		}
		if v.Name != binVol && v.Name != sysVol {
			sum += v.EmptyDir.SizeLimit.Value()
			if v.EmptyDir.Medium != corev1.StorageMediumMemory {
				t.Errorf("volume %s is not memory-backed", v.Name)
			}
		}
	}
	if sum > lim.Disk {
		t.Errorf("the writable emptyDirs hold %d bytes, over the disk limit %d", sum, lim.Disk)
	}
	for _, m := range s.Containers[0].VolumeMounts {
		etc := m.MountPath == "/etc/passwd" || m.MountPath == "/etc/group"
		if m.Name == binVol && (!m.ReadOnly || (m.MountPath != persona.Tools && !etc) || (etc && m.SubPath != ".e/"+path.Base(m.MountPath))) {
			t.Errorf("moat's volume is mounted %+v, want read-only at %s, and its .e/passwd and .e/group at /etc", m, persona.Tools)
		}
		if m.Name == sysVol && (!m.ReadOnly || (m.MountPath != "/sys" && m.MountPath != "/dev/net")) {
			t.Errorf("/sys or /dev/net is covered by %+v, want an empty read-only directory", m)
		}
		if m.Name == noDevVol && (!m.ReadOnly || m.MountPath != "/dev/fuse" || m.SubPath == "") {
			t.Errorf("/dev/fuse is covered by %+v, want a read-only file", m)
		}
	}
	if p := s.Containers[0].TerminationMessagePath; !strings.HasPrefix(p, persona.Tools+"/") {
		t.Errorf("terminationMessagePath %q, want it in the read-only init volume", p)
	}
	if c := s.Containers[0]; !c.Stdin || !c.StdinOnce || c.TTY || c.Command[0] != persona.InitPath() {
		t.Errorf("program container: stdin %v once %v tty %v command %q", c.Stdin, c.StdinOnce, c.TTY, c.Command)
	}
	// Without moat's binary: no init container, bootstrap.py by python3.
	pod, err = podSpec("abc", "img:1", "", lim, false, 0, persona)
	if err != nil {
		t.Fatal(err)
	}
	if len(pod.Spec.InitContainers) != 0 || pod.Spec.RuntimeClassName != nil || pod.Spec.Containers[0].Command[0] != "python3" {
		t.Errorf("python init: %+v", pod.Spec)
	}
}
