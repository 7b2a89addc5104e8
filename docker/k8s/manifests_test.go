package k8s

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// servingRuntime is the part of KServe's serving.kserve.io/v1alpha1
// ServingRuntime the manifest uses (KServe's Go types are not in k8s.io/api;
// its containers are the Kubernetes API's).
type servingRuntime struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		SupportedModelFormats []struct {
			Name       string `json:"name"`
			Version    string `json:"version,omitempty"`
			AutoSelect *bool  `json:"autoSelect,omitempty"`
		} `json:"supportedModelFormats"`
		ProtocolVersions []string           `json:"protocolVersions"`
		Containers       []corev1.Container `json:"containers"`
	} `json:"spec"`
}

// inferenceService is the part of KServe's serving.kserve.io/v1beta1
// InferenceService the manifest uses.
type inferenceService struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		Predictor struct {
			MinReplicas *int32 `json:"minReplicas,omitempty"`
			MaxReplicas int32  `json:"maxReplicas,omitempty"`
			Model       struct {
				ModelFormat struct {
					Name string `json:"name"`
				} `json:"modelFormat"`
				Runtime         string `json:"runtime"`
				ProtocolVersion string `json:"protocolVersion"`
				StorageURI      string `json:"storageUri"`
			} `json:"model"`
		} `json:"predictor"`
	} `json:"spec"`
}

// documents splits a multi-document YAML file.
func documents(t *testing.T, b []byte) [][]byte {
	var docs [][]byte
	for _, d := range bytes.Split(b, []byte("\n---\n")) {
		if len(bytes.TrimSpace(d)) > 0 {
			docs = append(docs, d)
		}
	}
	return docs
}

// decode decodes one YAML document into v strictly: unknown fields,
// duplicate fields and fields in the wrong case are errors, as kubectl's
// server-side field validation reports them.
func decode(doc []byte, v any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strict, err := kjson.UnmarshalStrict(j, v)
	if err != nil {
		return err
	}
	if len(strict) > 0 {
		return fmt.Errorf("strict decoding: %v", strict)
	}
	return nil
}

// kindOf is a document's apiVersion and kind.
func kindOf(t *testing.T, doc []byte) string {
	var tm metav1.TypeMeta
	j, err := yaml.YAMLToJSON(doc)
	if err == nil {
		err = kjson.UnmarshalCaseSensitivePreserveInts(j, &tm)
	}
	if err != nil {
		t.Fatal(err)
	}
	return tm.APIVersion + " " + tm.Kind
}

// decodeAll decodes every document of file by its kind.
func decodeAll(t *testing.T, b []byte) (objs map[string]any, err error) {
	objs = map[string]any{}
	for _, doc := range documents(t, b) {
		var v any
		switch k := kindOf(t, doc); k {
		case "apps/v1 Deployment":
			v = &appsv1.Deployment{}
		case "batch/v1 Job":
			v = &batchv1.Job{}
		case "v1 Service":
			v = &corev1.Service{}
		case "autoscaling/v2 HorizontalPodAutoscaler":
			v = &autoscalingv2.HorizontalPodAutoscaler{}
		case "serving.kserve.io/v1alpha1 ServingRuntime":
			v = &servingRuntime{}
		case "serving.kserve.io/v1beta1 InferenceService":
			v = &inferenceService{}
		default:
			return nil, fmt.Errorf("unexpected kind %q", k)
		}
		if err := decode(doc, v); err != nil {
			return nil, fmt.Errorf("%s: %w", kindOf(t, doc), err)
		}
		objs[kindOf(t, doc)] = v
	}
	return objs, nil
}

func read(t *testing.T, name string) []byte {
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// healthPaths are vggnb serve's endpoints that answer without a token.
var healthPaths = []string{"/healthz", "/v2/health/live", "/v2/health/ready"}

// addrPort is the port of the container's --addr flag.
func addrPort(t *testing.T, args []string) int32 {
	for i, a := range args {
		v, ok := strings.CutPrefix(a, "--addr=")
		if !ok && a == "--addr" && i+1 < len(args) {
			v, ok = args[i+1], true
		}
		if ok {
			var p int32
			if _, err := fmt.Sscanf(v[strings.LastIndex(v, ":")+1:], "%d", &p); err != nil {
				t.Fatalf("--addr %q", v)
			}
			return p
		}
	}
	t.Fatalf("no --addr in %q", args)
	return 0
}

// checkProbe checks that a probe asks a health endpoint on the serving port.
func checkProbe(t *testing.T, what string, p *corev1.Probe, c corev1.Container, port int32) {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Errorf("%s: no HTTP probe", what)
		return
	}
	if !slices.Contains(healthPaths, p.HTTPGet.Path) {
		t.Errorf("%s probes %s, not one of the health endpoints %v (the others want a token)", what, p.HTTPGet.Path, healthPaths)
	}
	got := p.HTTPGet.Port
	if got.Type == intstr.String {
		i := slices.IndexFunc(c.Ports, func(cp corev1.ContainerPort) bool { return cp.Name == got.StrVal })
		if i < 0 {
			t.Errorf("%s probes port %q, which the container does not name", what, got.StrVal)
			return
		}
		got = intstr.FromInt32(c.Ports[i].ContainerPort)
	}
	if got.IntVal != port {
		t.Errorf("%s probes port %d; the server listens on %d", what, got.IntVal, port)
	}
}

func TestServeManifest(t *testing.T) {
	objs, err := decodeAll(t, read(t, "serve.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	d, ok1 := objs["apps/v1 Deployment"].(*appsv1.Deployment)
	svc, ok2 := objs["v1 Service"].(*corev1.Service)
	hpa, ok3 := objs["autoscaling/v2 HorizontalPodAutoscaler"].(*autoscalingv2.HorizontalPodAutoscaler)
	if !ok1 || !ok2 || !ok3 {
		t.Fatalf("serve.yaml holds %d documents, want a Deployment, a Service and an HPA", len(objs))
	}
	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatal("want one container")
	}
	c := d.Spec.Template.Spec.Containers[0]
	port := addrPort(t, c.Args)
	checkProbe(t, "liveness", c.LivenessProbe, c, port)
	checkProbe(t, "readiness", c.ReadinessProbe, c, port)
	checkProbe(t, "startup", c.StartupProbe, c, port)
	if c.ReadinessProbe.HTTPGet.Path != "/v2/health/ready" {
		t.Errorf("readiness probes %s, want /v2/health/ready", c.ReadinessProbe.HTTPGet.Path)
	}
	if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "VGGNB_SERVE_TOKEN" && e.ValueFrom != nil }) &&
		!slices.Contains(c.Args, "--insecure-no-auth") {
		t.Error("the server binds beyond loopback with no VGGNB_SERVE_TOKEN from a secret (vggnb serve would refuse to start)")
	}
	for k, v := range d.Spec.Selector.MatchLabels {
		if d.Spec.Template.Labels[k] != v || svc.Spec.Selector[k] != v {
			t.Errorf("label %s=%s: the pods have %q, the Service selects %q", k, v, d.Spec.Template.Labels[k], svc.Spec.Selector[k])
		}
	}
	if tp := svc.Spec.Ports[0].TargetPort; tp.StrVal != c.Ports[0].Name && tp.IntVal != c.Ports[0].ContainerPort {
		t.Errorf("the Service targets %v, the container serves %+v", tp, c.Ports[0])
	}
	if r := hpa.Spec.ScaleTargetRef; r.Kind != "Deployment" || r.Name != d.Name || r.APIVersion != "apps/v1" {
		t.Errorf("the HPA scales %+v, not the Deployment %s", r, d.Name)
	}
	if c.Resources.Requests.Cpu().IsZero() {
		t.Error("no CPU request: the HPA's utilization target needs one")
	}
	if g := d.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g <= 30 {
		t.Errorf("terminationGracePeriodSeconds %v: want more than --grace 30s", g)
	}
}

func TestKServeManifest(t *testing.T) {
	objs, err := decodeAll(t, read(t, "kserve.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rt, ok1 := objs["serving.kserve.io/v1alpha1 ServingRuntime"].(*servingRuntime)
	is, ok2 := objs["serving.kserve.io/v1beta1 InferenceService"].(*inferenceService)
	if !ok1 || !ok2 {
		t.Fatalf("kserve.yaml holds %d documents, want a ServingRuntime and an InferenceService", len(objs))
	}
	m := is.Spec.Predictor.Model
	if m.Runtime != rt.Metadata.Name || m.ProtocolVersion != "v2" || !slices.Contains(rt.Spec.ProtocolVersions, "v2") {
		t.Errorf("the InferenceService asks runtime %q with protocol %q; the runtime is %q with %v", m.Runtime, m.ProtocolVersion, rt.Metadata.Name, rt.Spec.ProtocolVersions)
	}
	if !slices.ContainsFunc(rt.Spec.SupportedModelFormats, func(f struct {
		Name       string `json:"name"`
		Version    string `json:"version,omitempty"`
		AutoSelect *bool  `json:"autoSelect,omitempty"`
	}) bool {
		return f.Name == m.ModelFormat.Name
	}) {
		t.Errorf("the runtime does not support format %q", m.ModelFormat.Name)
	}
	if len(rt.Spec.Containers) != 1 || rt.Spec.Containers[0].Name != "kserve-container" {
		t.Fatal("want one container named kserve-container (KServe's name for the model server)")
	}
	c := rt.Spec.Containers[0]
	port := addrPort(t, c.Args)
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != port {
		t.Errorf("ports %+v; the server listens on %d", c.Ports, port)
	}
	checkProbe(t, "readiness", c.ReadinessProbe, c, port)
	if !slices.Contains(c.Args, "--model-name={{.Name}}") {
		t.Error("the model's /v2 name is not the InferenceService's ({{.Name}})")
	}
}

// TestTyposFail: the strict decoding catches a misspelt field, a field in
// the wrong case and a duplicate, which a lax decoding would drop silently.
func TestTyposFail(t *testing.T) {
	b := read(t, "serve.yaml")
	for _, c := range []struct{ from, to string }{
		{"readinessProbe:", "readinesProbe:"},
		{"containerPort: 8080", "containerport: 8080"},
		{"      terminationGracePeriodSeconds: 40", "      terminationGracePeriodSeconds: 40\n      terminationGracePeriodSeconds: 41"},
		{"averageUtilization: 70", "averageUtilisation: 70"},
	} {
		bad := strings.Replace(string(b), c.from, c.to, 1)
		if bad == string(b) {
			t.Fatalf("%q is not in serve.yaml", c.from)
		}
		if _, err := decodeAll(t, []byte(bad)); err == nil {
			t.Errorf("%q -> %q decoded without an error", c.from, c.to)
		}
	}
	k := strings.Replace(string(read(t, "kserve.yaml")), "protocolVersion: v2", "protocolversion: v2", 1)
	if _, err := decodeAll(t, []byte(k)); err == nil {
		t.Error("protocolversion (wrong case) decoded without an error")
	}
}

// TestDatasetJob: the Indexed Job's pods each run one shard, with
// JOB_COMPLETIONS equal to its completions (Kubernetes sets only the index).
func TestDatasetJob(t *testing.T) {
	objs, err := decodeAll(t, read(t, "dataset-job.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	j, ok := objs["batch/v1 Job"].(*batchv1.Job)
	if !ok {
		t.Fatal("dataset-job.yaml holds no Job")
	}
	if j.Spec.CompletionMode == nil || *j.Spec.CompletionMode != batchv1.IndexedCompletion || j.Spec.Completions == nil {
		t.Fatal("not an Indexed Job with completions")
	}
	c := j.Spec.Template.Spec.Containers[0]
	i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "JOB_COMPLETIONS" })
	if i < 0 || c.Env[i].Value != fmt.Sprint(*j.Spec.Completions) {
		t.Errorf("JOB_COMPLETIONS is not the completions (%d): %+v", *j.Spec.Completions, c.Env)
	}
	for _, want := range []string{"features", "--dataset=/data/images", "--out=/data/features"} {
		if !slices.Contains(c.Args, want) {
			t.Errorf("args %q lack %s", c.Args, want)
		}
	}
	mounts := map[string]bool{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = true
	}
	if !mounts["/data/images"] || !mounts["/data/features"] {
		t.Errorf("the dataset and output directories are not mounted: %v", mounts)
	}
	if j.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever && j.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		t.Errorf("restartPolicy %q", j.Spec.Template.Spec.RestartPolicy)
	}
}
