package usage

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The pods come from the Kubernetes API over plain REST, GET
// /api/v1/namespaces/{namespace}/pods?labelSelector=…&limit=500 (following
// metadata.continue), decoded into the few fields used. One documented,
// stable (v1) call does not warrant client-go, which would add some thirty
// modules and several MB to the binary. Credentials: the pod's service
// account when running in a cluster (KUBERNETES_SERVICE_HOST and the
// mounted token), else a kubeconfig: its cluster's server and CA, and its
// user's token, token file, client certificate, basic auth or exec plugin
// (kubelogin, gke-gcloud-auth-plugin, aws eks get-token). The legacy
// auth-provider entries are not supported.

// kubeClient is one cluster's API endpoint and credentials.
type kubeClient struct {
	server    string
	namespace string // the context's or the pod's namespace
	http      *http.Client
	token     func(context.Context) (string, error)
	basic     [2]string
}

// podList is the part of a v1 PodList read.
type podList struct {
	Metadata struct {
		Continue string `json:"continue"`
	} `json:"metadata"`
	Items []struct {
		Metadata struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
		Spec struct {
			Containers          []kubeContainer `json:"containers"`
			InitContainers      []kubeContainer `json:"initContainers"`
			EphemeralContainers []kubeContainer `json:"ephemeralContainers"`
		} `json:"spec"`
		Status struct {
			Phase                      string                `json:"phase"`
			ContainerStatuses          []kubeContainerStatus `json:"containerStatuses"`
			InitContainerStatuses      []kubeContainerStatus `json:"initContainerStatuses"`
			EphemeralContainerStatuses []kubeContainerStatus `json:"ephemeralContainerStatuses"`
		} `json:"status"`
	} `json:"items"`
}

type kubeContainer struct {
	Name  string `json:"name"`
	Image string `json:"image"`
}

type kubeContainerStatus struct {
	Name    string `json:"name"`
	Image   string `json:"image"`
	ImageID string `json:"imageID"`
}

// kubeStatus is the API's error body.
type kubeStatus struct {
	Message string `json:"message"`
	Reason  string `json:"reason"`
}

// listPods lists the images of the running (and starting) pods a source
// selects, and how many pods there were.
func (r *Reader) listPods(ctx context.Context, k Kube) ([]PodImage, int, error) {
	kc, err := r.kubeClient(k)
	if err != nil {
		return nil, 0, err
	}
	ns := k.Namespace
	if ns == "" {
		ns = kc.namespace
	}
	if ns == "" {
		ns = "default"
	}
	sel := k.Selector
	if sel == "" {
		sel = DefaultSelector
	}
	var out []PodImage
	pods := 0
	cont := ""
	for page := 0; ; page++ {
		if page > 10000 {
			return nil, 0, errors.New("the pod list does not end")
		}
		q := url.Values{"labelSelector": {sel}, "limit": {"500"}}
		if cont != "" {
			q.Set("continue", cont)
		}
		u := strings.TrimSuffix(kc.server, "/") + "/api/v1/namespaces/" + url.PathEscape(ns) + "/pods?" + q.Encode()
		var pl podList
		if err := kc.get(ctx, u, &pl); err != nil {
			return nil, 0, fmt.Errorf("list pods in %s: %w", ns, err)
		}
		for _, p := range pl.Items {
			if !usesImages(p.Status.Phase) {
				continue
			}
			pods++
			// container names are unique across the three kinds
			ids := map[string]string{}
			for _, cs := range slices.Concat(p.Status.ContainerStatuses, p.Status.InitContainerStatuses, p.Status.EphemeralContainerStatuses) {
				ids[cs.Name] = cs.ImageID
			}
			for _, c := range slices.Concat(p.Spec.Containers, p.Spec.InitContainers, p.Spec.EphemeralContainers) {
				out = append(out, PodImage{Namespace: p.Metadata.Namespace, Pod: p.Metadata.Name, Container: c.Name, Image: c.Image, ImageID: ids[c.Name]})
			}
		}
		if cont = pl.Metadata.Continue; cont == "" {
			return out, pods, nil
		}
	}
}

// usesImages reports whether a pod in a phase uses its images: a Running
// one, a Pending one (starting: pulling them, or about to), one whose node
// stopped reporting (Unknown), which may well still run, and one without a
// phase yet. Succeeded and Failed pods are done.
func usesImages(phase string) bool {
	return phase != "Succeeded" && phase != "Failed"
}

func (kc *kubeClient) get(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "helmupgradebot")
	if kc.token != nil {
		tok, err := kc.token(ctx)
		if err != nil {
			return err
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
	}
	if kc.basic[0] != "" {
		req.SetBasicAuth(kc.basic[0], kc.basic[1])
	}
	resp, err := kc.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return fmt.Errorf("%s: %w", kc.server, ue.Err)
		}
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("read the pod list: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var st kubeStatus
		_ = json.Unmarshal(body, &st)
		msg := st.Message
		if msg == "" {
			msg = strings.TrimSpace(string(body[:min(len(body), 200)]))
		}
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			return fmt.Errorf("the API server did not accept the credentials (401): %s", msg)
		case http.StatusForbidden:
			return fmt.Errorf("not allowed to list pods (403): %s; grant the service account get and list on pods in that namespace", msg)
		}
		return fmt.Errorf("HTTP %s: %s", resp.Status, msg)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("the API server's answer is not a pod list: %w", err)
	}
	return nil
}

// kubeClient builds the client for a source: its kubeconfig, else the
// in-cluster service account, else $KUBECONFIG or ~/.kube/config.
func (r *Reader) kubeClient(k Kube) (*kubeClient, error) {
	if k.Kubeconfig == "" && r.getenv("KUBERNETES_SERVICE_HOST") != "" && r.getenv("KUBERNETES_SERVICE_PORT") != "" {
		if _, err := os.Stat(filepath.Join(r.serviceAccount, "token")); err == nil {
			return r.inCluster()
		}
	}
	path := k.Kubeconfig
	if path == "" {
		if kc := r.getenv("KUBECONFIG"); kc != "" {
			path = filepath.SplitList(kc)[0]
		} else if home := r.getenv("HOME"); home != "" {
			path = filepath.Join(home, ".kube", "config")
		} else {
			return nil, errors.New("not running in a cluster, and no kubeconfig (set kubeconfig, KUBECONFIG or HOME)")
		}
	}
	return loadKubeconfig(path, k.Context)
}

// inCluster is the pod's own service account.
func (r *Reader) inCluster() (*kubeClient, error) {
	host, port := r.getenv("KUBERNETES_SERVICE_HOST"), r.getenv("KUBERNETES_SERVICE_PORT")
	ca, err := os.ReadFile(filepath.Join(r.serviceAccount, "ca.crt"))
	if err != nil {
		return nil, fmt.Errorf("in-cluster configuration: %w", err)
	}
	tlsc, err := tlsConfig(ca, "", false)
	if err != nil {
		return nil, fmt.Errorf("in-cluster configuration: %w", err)
	}
	ns, _ := os.ReadFile(filepath.Join(r.serviceAccount, "namespace"))
	tokenPath := filepath.Join(r.serviceAccount, "token")
	return &kubeClient{
		server:    "https://" + net.JoinHostPort(host, port),
		namespace: strings.TrimSpace(string(ns)),
		http:      httpClient(tlsc),
		// the kubelet rotates projected tokens: read it for each request
		token: func(context.Context) (string, error) { return readToken(tokenPath) },
	}, nil
}

func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read the service account token: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

func httpClient(tlsc *tls.Config) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsc
	return &http.Client{Transport: tr, Timeout: time.Minute}
}

func tlsConfig(caPEM []byte, serverName string, insecure bool) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName, InsecureSkipVerify: insecure} //nolint:gosec // the kubeconfig asks for it
	if len(caPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, errors.New("the cluster's CA certificate is not PEM")
		}
		c.RootCAs = pool
	}
	return c, nil
}

// kubeconfig is the part of a kubeconfig file read.
type kubeconfig struct {
	CurrentContext string `yaml:"current-context"`
	Clusters       []struct {
		Name    string `yaml:"name"`
		Cluster struct {
			Server                   string `yaml:"server"`
			CertificateAuthority     string `yaml:"certificate-authority"`
			CertificateAuthorityData string `yaml:"certificate-authority-data"`
			InsecureSkipTLSVerify    bool   `yaml:"insecure-skip-tls-verify"`
			TLSServerName            string `yaml:"tls-server-name"`
		} `yaml:"cluster"`
	} `yaml:"clusters"`
	Users []struct {
		Name string `yaml:"name"`
		User struct {
			Token                 string         `yaml:"token"`
			TokenFile             string         `yaml:"tokenFile"`
			ClientCertificate     string         `yaml:"client-certificate"`
			ClientCertificateData string         `yaml:"client-certificate-data"`
			ClientKey             string         `yaml:"client-key"`
			ClientKeyData         string         `yaml:"client-key-data"`
			Username              string         `yaml:"username"`
			Password              string         `yaml:"password"`
			Exec                  *execConfig    `yaml:"exec"`
			AuthProvider          map[string]any `yaml:"auth-provider"`
		} `yaml:"user"`
	} `yaml:"users"`
	Contexts []struct {
		Name    string `yaml:"name"`
		Context struct {
			Cluster   string `yaml:"cluster"`
			User      string `yaml:"user"`
			Namespace string `yaml:"namespace"`
		} `yaml:"context"`
	} `yaml:"contexts"`
}

type execConfig struct {
	APIVersion string   `yaml:"apiVersion"`
	Command    string   `yaml:"command"`
	Args       []string `yaml:"args"`
	Env        []struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	} `yaml:"env"`
}

// loadKubeconfig builds a client from a kubeconfig's context (its
// current-context when name is "").
func loadKubeconfig(path, name string) (*kubeClient, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	var kc kubeconfig
	if err := yaml.Unmarshal(raw, &kc); err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	if name == "" {
		name = kc.CurrentContext
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("kubeconfig %s: "+format, append([]any{path}, args...)...)
	}
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(filepath.Dir(path), p)
	}
	fileOrData := func(file, data, what string) ([]byte, error) {
		if data != "" {
			b, err := base64.StdEncoding.DecodeString(data)
			if err != nil {
				return nil, bad("%s-data is not base64", what)
			}
			return b, nil
		}
		if file == "" {
			return nil, nil
		}
		b, err := os.ReadFile(rel(file))
		if err != nil {
			return nil, bad("%s: %v", what, err)
		}
		return b, nil
	}
	ci := -1
	for i, c := range kc.Contexts {
		if c.Name == name {
			ci = i
		}
	}
	if ci < 0 {
		return nil, bad("no context %q", name)
	}
	ctxc := kc.Contexts[ci].Context
	out := &kubeClient{namespace: ctxc.Namespace}
	found := false
	var tlsc *tls.Config
	for _, c := range kc.Clusters {
		if c.Name != ctxc.Cluster {
			continue
		}
		found = true
		out.server = c.Cluster.Server
		ca, err := fileOrData(c.Cluster.CertificateAuthority, c.Cluster.CertificateAuthorityData, "certificate-authority")
		if err != nil {
			return nil, err
		}
		if tlsc, err = tlsConfig(ca, c.Cluster.TLSServerName, c.Cluster.InsecureSkipTLSVerify); err != nil {
			return nil, bad("%v", err)
		}
	}
	if !found || out.server == "" {
		return nil, bad("context %q names no cluster with a server", name)
	}
	if u, err := url.Parse(out.server); err != nil || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
		return nil, bad("server %s: want https:// (plain http only on loopback)", out.server)
	}
	for _, u := range kc.Users {
		if u.Name != ctxc.User {
			continue
		}
		usr := u.User
		switch {
		case usr.AuthProvider != nil:
			return nil, bad("user %s uses an auth-provider, which is not supported: use an exec plugin (kubelogin, gke-gcloud-auth-plugin) or a token", u.Name)
		case usr.Token != "":
			tok := usr.Token
			out.token = func(context.Context) (string, error) { return tok, nil }
		case usr.TokenFile != "":
			p := rel(usr.TokenFile)
			out.token = func(context.Context) (string, error) { return readToken(p) }
		case usr.Exec != nil:
			ex := *usr.Exec
			out.token = func(ctx context.Context) (string, error) { return runExec(ctx, ex) }
		case usr.Username != "":
			out.basic = [2]string{usr.Username, usr.Password}
		}
		cert, err := fileOrData(usr.ClientCertificate, usr.ClientCertificateData, "client-certificate")
		if err != nil {
			return nil, err
		}
		key, err := fileOrData(usr.ClientKey, usr.ClientKeyData, "client-key")
		if err != nil {
			return nil, err
		}
		if cert != nil || key != nil {
			pair, err := tls.X509KeyPair(cert, key)
			if err != nil {
				return nil, bad("user %s: client certificate: %v", u.Name, err)
			}
			tlsc.Certificates = []tls.Certificate{pair}
		}
	}
	out.http = httpClient(tlsc)
	return out, nil
}

// runExec runs a kubeconfig exec plugin and returns the token of the
// ExecCredential it prints.
func runExec(ctx context.Context, ex execConfig) (string, error) {
	cmd := exec.CommandContext(ctx, ex.Command, ex.Args...)
	cmd.Env = os.Environ()
	for _, e := range ex.Env {
		cmd.Env = append(cmd.Env, e.Name+"="+e.Value)
	}
	apiVersion := ex.APIVersion
	if apiVersion == "" {
		apiVersion = "client.authentication.k8s.io/v1"
	}
	info, _ := json.Marshal(map[string]any{"apiVersion": apiVersion, "kind": "ExecCredential", "spec": map[string]any{"interactive": false}})
	cmd.Env = append(cmd.Env, "KUBERNETES_EXEC_INFO="+string(info))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("kubeconfig exec plugin %s: %v: %s", ex.Command, err, strings.TrimSpace(stderr.String()))
	}
	var cred struct {
		Status struct {
			Token string `json:"token"`
		} `json:"status"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &cred); err != nil || cred.Status.Token == "" {
		return "", fmt.Errorf("kubeconfig exec plugin %s printed no ExecCredential token", ex.Command)
	}
	return cred.Status.Token, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
