package usagetest

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Pod is a pod the Kubernetes stand-in serves.
type Pod struct {
	Name   string
	Labels map[string]string
	// Phase is Running (the default), Pending, Succeeded, Failed or
	// Unknown.
	Phase string
	// Images are its containers' images; ImageIDs, where given, what the
	// kubelet reports it pulled (docker-pullable://host/repo@sha256:…).
	Images   []string
	ImageIDs []string
	// InitImages and EphemeralImages are its init containers' and
	// ephemeral (debug) containers' images; the kubelet reports no
	// imageID for them here.
	InitImages      []string
	EphemeralImages []string
}

// Kube is a tiny Kubernetes API server: GET
// /api/v1/namespaces/{namespace}/pods with an equality labelSelector,
// limit and continue, over TLS, for one bearer token. It answers as the
// API server does: a v1 PodList, or a v1 Status with 401 or 403.
type Kube struct {
	srv   *httptest.Server
	token string

	mu       sync.Mutex
	pods     map[string][]Pod
	forbid   map[string]bool
	requests int
}

// NewKube starts the stand-in on 127.0.0.1 with a bearer token.
func NewKube(token string) *Kube {
	k := &Kube{token: token, pods: map[string][]Pod{}, forbid: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/namespaces/{namespace}/pods", k.list)
	k.srv = httptest.NewTLSServer(mux)
	return k
}

// URL is the API server's address.
func (k *Kube) URL() string { return k.srv.URL }

// Close stops it.
func (k *Kube) Close() { k.srv.Close() }

// Requests counts the pod lists asked for.
func (k *Kube) Requests() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.requests
}

// SetPods replaces a namespace's pods.
func (k *Kube) SetPods(namespace string, pods ...Pod) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.pods[namespace] = pods
}

// Forbid makes listing a namespace's pods answer 403, as RBAC does for a
// service account without the right.
func (k *Kube) Forbid(namespace string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.forbid[namespace] = true
}

// CAPEM is the PEM of the certificate the stand-in serves.
func (k *Kube) CAPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.srv.Certificate().Raw})
}

// WriteKubeconfig writes a kubeconfig whose current context reaches the
// stand-in with its CA and token, in namespace.
func (k *Kube) WriteKubeconfig(path, namespace string) error {
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
current-context: standin
clusters:
- name: standin
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: bot
  user:
    token: %s
contexts:
- name: standin
  context:
    cluster: standin
    user: bot
    namespace: %s
`, k.srv.URL, base64.StdEncoding.EncodeToString(k.CAPEM()), k.token, namespace)
	return os.WriteFile(path, []byte(cfg), 0o600)
}

func status(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{},
		"status": "Failure", "message": msg, "reason": reason, "code": code})
}

func (k *Kube) list(w http.ResponseWriter, r *http.Request) {
	ns := r.PathValue("namespace")
	k.mu.Lock()
	k.requests++
	pods := slices.Clone(k.pods[ns])
	forbidden := k.forbid[ns]
	k.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+k.token {
		status(w, http.StatusUnauthorized, "Unauthorized", "Unauthorized")
		return
	}
	if forbidden {
		status(w, http.StatusForbidden, "Forbidden", fmt.Sprintf(`pods is forbidden: User "system:serviceaccount:%s:helmupgradebot" cannot list resource "pods" in API group "" in the namespace "%s"`, ns, ns))
		return
	}
	sel, err := parseSelector(r.URL.Query().Get("labelSelector"))
	if err != nil {
		status(w, http.StatusBadRequest, "BadRequest", "unable to parse requirement: "+err.Error())
		return
	}
	var match []Pod
	for _, p := range pods {
		if sel(p.Labels) {
			match = append(match, p)
		}
	}
	from, _ := strconv.Atoi(r.URL.Query().Get("continue"))
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	from = min(max(from, 0), len(match))
	to := len(match)
	if limit > 0 && from+limit < to {
		to = from + limit
	}
	meta := map[string]any{"resourceVersion": "1234"}
	if to < len(match) {
		meta["continue"] = strconv.Itoa(to)
	}
	items := make([]map[string]any, 0, to-from)
	for _, p := range match[from:to] {
		items = append(items, podJSON(ns, p))
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"kind": "PodList", "apiVersion": "v1", "metadata": meta, "items": items})
}

// podJSON is a v1 Pod with the fields a real one has around the images.
func podJSON(ns string, p Pod) map[string]any {
	phase := p.Phase
	if phase == "" {
		phase = "Running"
	}
	var containers, statuses []map[string]any
	for i, im := range p.Images {
		name := "notebook"
		if i > 0 {
			name = fmt.Sprintf("sidecar-%d", i)
		}
		containers = append(containers, map[string]any{"name": name, "image": im, "imagePullPolicy": "IfNotPresent",
			"ports": []map[string]any{{"containerPort": 8888, "name": "notebook-port", "protocol": "TCP"}}})
		id := ""
		if i < len(p.ImageIDs) {
			id = p.ImageIDs[i]
		}
		st := map[string]any{"name": name, "image": im, "imageID": id, "ready": phase == "Running", "restartCount": 0,
			"started": phase == "Running", "state": map[string]any{}}
		statuses = append(statuses, st)
	}
	spec := map[string]any{"containers": containers, "restartPolicy": "OnFailure", "nodeName": "user-pool-1"}
	status := map[string]any{"phase": phase, "containerStatuses": statuses, "podIP": "10.0.0.7"}
	for _, k := range []struct {
		images     []string
		name, key  string
		statusesAt string
	}{{p.InitImages, "init", "initContainers", "initContainerStatuses"}, {p.EphemeralImages, "debugger", "ephemeralContainers", "ephemeralContainerStatuses"}} {
		if len(k.images) == 0 {
			continue
		}
		var cs, ss []map[string]any
		for i, im := range k.images {
			name := fmt.Sprintf("%s-%d", k.name, i)
			cs = append(cs, map[string]any{"name": name, "image": im})
			ss = append(ss, map[string]any{"name": name, "image": im, "imageID": "", "ready": false, "restartCount": 0, "state": map[string]any{}})
		}
		spec[k.key], status[k.statusesAt] = cs, ss
	}
	return map[string]any{
		"metadata": map[string]any{"name": p.Name, "namespace": ns, "labels": p.Labels, "uid": "00000000-0000-0000-0000-" + fmt.Sprintf("%012x", len(p.Name))},
		"spec":     spec,
		"status":   status,
	}
}

// parseSelector reads an equality-based label selector: k=v, k==v, k!=v,
// comma-separated.
func parseSelector(s string) (func(map[string]string) bool, error) {
	type req struct {
		k, v string
		not  bool
	}
	var reqs []req
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		var rq req
		switch {
		case strings.Contains(part, "!="):
			rq.k, rq.v, _ = strings.Cut(part, "!=")
			rq.not = true
		case strings.Contains(part, "=="):
			rq.k, rq.v, _ = strings.Cut(part, "==")
		case strings.Contains(part, "="):
			rq.k, rq.v, _ = strings.Cut(part, "=")
		default:
			return nil, fmt.Errorf("%q: only equality selectors are served", part)
		}
		rq.k, rq.v = strings.TrimSpace(rq.k), strings.TrimSpace(rq.v)
		reqs = append(reqs, rq)
	}
	return func(labels map[string]string) bool {
		for _, rq := range reqs {
			if (labels[rq.k] == rq.v) == rq.not {
				return false
			}
		}
		return true
	}, nil
}
