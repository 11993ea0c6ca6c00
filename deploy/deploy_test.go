package deploy

import (
	"os"
	"strconv"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// What the tests of every deployment share (decoding a Kubernetes document
// strictly, reading a flag), and the Dockerfile's test.

// decodeDocument decodes one YAML document strictly (an unknown or
// duplicate field is an error) into its Kubernetes API type, by apiVersion
// and kind. It returns nil for a document of comments only, and for one it
// could not decode (reported).
func decodeDocument(t *testing.T, where, doc string) any {
	t.Helper()
	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
		t.Fatalf("%s: %v\n%s", where, err, doc)
	}
	if meta.Kind == "" {
		if strings.TrimSpace(stripComments(doc)) != "" {
			t.Errorf("%s: no kind", where)
		}
		return nil
	}
	var obj any
	switch meta.APIVersion + " " + meta.Kind {
	case "batch/v1 CronJob":
		obj = &batchv1.CronJob{}
	case "v1 ConfigMap":
		obj = &corev1.ConfigMap{}
	case "v1 ServiceAccount":
		obj = &corev1.ServiceAccount{}
	case "v1 PersistentVolumeClaim":
		obj = &corev1.PersistentVolumeClaim{}
	case "rbac.authorization.k8s.io/v1 Role":
		obj = &rbacv1.Role{}
	case "rbac.authorization.k8s.io/v1 RoleBinding":
		obj = &rbacv1.RoleBinding{}
	default:
		t.Fatalf("%s: %s %s has no check here; add one", where, meta.APIVersion, meta.Kind)
	}
	if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
		t.Errorf("%s (%s): %v\n%s", where, meta.Kind, err, doc)
		return nil
	}
	return obj
}

func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var from, user, entrypoint string
	var build []string
	for _, line := range strings.Split(string(data), "\n") {
		instr, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch strings.ToUpper(instr) {
		case "FROM":
			from, user, entrypoint = rest, "", ""
		case "USER":
			user = rest
		case "ENTRYPOINT":
			entrypoint = rest
		case "RUN":
			build = append(build, rest)
		}
	}
	if !strings.HasPrefix(from, "gcr.io/distroless/static") && from != "scratch" {
		t.Errorf("final stage FROM %s: want distroless static or scratch", from)
	}
	if u, _, _ := strings.Cut(user, ":"); u == "" || u == "0" || u == "root" {
		t.Errorf("final stage USER %q: want a non-root user", user)
	}
	if entrypoint != `["/usr/local/bin/helmupgradebot"]` {
		t.Errorf("ENTRYPOINT %s, want the binary in exec form", entrypoint)
	}
	if b := strings.Join(build, "\n"); !strings.Contains(b, "CGO_ENABLED=0 go build") || !strings.Contains(b, "-X main.version=") {
		t.Errorf("the build %q: want a static build (CGO_ENABLED=0) that sets main.version", b)
	}
	// The CronJobs run this image's binary by its arguments, as a user the
	// image has.
	for _, cj := range loadManifests(t).cronJobs {
		pod := cj.Spec.JobTemplate.Spec.Template.Spec
		if len(pod.Containers[0].Command) != 0 {
			t.Errorf("%s: command %q overrides the image's entrypoint", cj.Name, pod.Containers[0].Command)
		}
		if u, _, _ := strings.Cut(user, ":"); pod.SecurityContext.RunAsUser == nil || strconv.FormatInt(*pod.SecurityContext.RunAsUser, 10) != u {
			t.Errorf("%s: runAsUser is not the image's user %s", cj.Name, user)
		}
	}
}
