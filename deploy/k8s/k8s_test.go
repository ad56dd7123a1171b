// Package k8s holds no code: its test parses every Kubernetes manifest in
// deploy/k8s and checks the invariants a deployment of suiji relies on.
package k8s

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"suiji/backend/config"
)

// object is one parsed manifest document.
type object struct {
	file string
	doc  map[string]any
}

func (o object) kind() string { return str(o.doc, "kind") }
func (o object) name() string { return str(o.doc, "metadata", "name") }

// get walks maps by key and lists by index ("0").
func get(v any, path ...string) any {
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i := 0
			for _, c := range p {
				i = i*10 + int(c-'0')
			}
			if i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func str(v any, path ...string) string { s, _ := get(v, path...).(string); return s }
func list(v any, path ...string) []any { l, _ := get(v, path...).([]any); return l }
func dict(v any, path ...string) map[string]any {
	m, _ := get(v, path...).(map[string]any)
	return m
}

// load parses every YAML document of every .yaml file under dir.
func load(t *testing.T, dir string) []object {
	t.Helper()
	var objs []object
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		for {
			var doc map[string]any
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Errorf("%s: %v", path, err)
				break
			}
			if doc == nil {
				continue
			}
			objs = append(objs, object{file: path, doc: doc})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func find(objs []object, kind, name string) *object {
	for i := range objs {
		if objs[i].kind() == kind && objs[i].name() == name {
			return &objs[i]
		}
	}
	return nil
}

// knownVars are the variables backend/config reads.
func knownVars() map[string]config.Var {
	m := map[string]config.Var{}
	for _, v := range config.Vars {
		m[v.Name] = v
	}
	return m
}

// TestManifestsParseAndKustomizationsResolve: every file parses, every
// object names its kind, and every file a kustomization lists exists.
func TestManifestsParseAndKustomizationsResolve(t *testing.T) {
	objs := load(t, ".")
	if len(objs) < 10 {
		t.Fatalf("only %d manifests found", len(objs))
	}
	for _, o := range objs {
		if o.kind() == "" && !strings.HasSuffix(o.file, "values.yaml") {
			t.Errorf("%s: a document without kind", o.file)
		}
		if o.kind() != "Kustomization" {
			continue
		}
		dir := filepath.Dir(o.file)
		var refs []string
		for _, r := range list(o.doc, "resources") {
			refs = append(refs, r.(string))
		}
		for _, p := range list(o.doc, "patches") {
			refs = append(refs, str(p, "path"))
		}
		for _, r := range refs {
			if _, err := os.Stat(filepath.Join(dir, r)); err != nil {
				t.Errorf("%s lists %s: %v", o.file, r, err)
			}
		}
	}
	for _, overlay := range []string{"base", "overlays/production"} {
		if find(load(t, overlay), "Kustomization", "") == nil {
			t.Errorf("%s has no kustomization.yaml", overlay)
		}
	}
}

// TestBaseDeploymentInvariants checks the suiji Deployment and what points
// at it: probes on /readyz and /healthz, resources, a locked-down security
// context, a PDB and a Service selecting its pods, an HPA scaling it.
func TestBaseDeploymentInvariants(t *testing.T) {
	objs := load(t, "base")
	dep := find(objs, "Deployment", "suiji")
	if dep == nil {
		t.Fatal("base has no Deployment suiji")
	}
	podLabels := dict(dep.doc, "spec", "template", "metadata", "labels")
	selector := dict(dep.doc, "spec", "selector", "matchLabels")
	if len(selector) == 0 || !subset(selector, podLabels) {
		t.Errorf("Deployment selector %v does not select its pod labels %v", selector, podLabels)
	}
	if get(dep.doc, "spec", "template", "spec", "securityContext", "runAsNonRoot") != true {
		t.Error("pods must run as non-root")
	}
	containers := list(dep.doc, "spec", "template", "spec", "containers")
	if len(containers) != 1 {
		t.Fatalf("want one container, have %d", len(containers))
	}
	c := containers[0]
	if p := str(c, "readinessProbe", "httpGet", "path"); p != "/readyz" {
		t.Errorf("readiness probe on %q, want /readyz", p)
	}
	if p := str(c, "livenessProbe", "httpGet", "path"); p != "/healthz" {
		t.Errorf("liveness probe on %q, want /healthz", p)
	}
	for _, r := range []string{"requests/cpu", "requests/memory", "limits/memory"} {
		kind, res, _ := strings.Cut(r, "/")
		if get(c, "resources", kind, res) == nil {
			t.Errorf("container has no resources.%s.%s", kind, res)
		}
	}
	sc := dict(c, "securityContext")
	if sc["allowPrivilegeEscalation"] != false || sc["readOnlyRootFilesystem"] != true {
		t.Errorf("container securityContext %v: want allowPrivilegeEscalation false, readOnlyRootFilesystem true", sc)
	}
	if !slices.Contains(list(c, "securityContext", "capabilities", "drop"), any("ALL")) {
		t.Error("container must drop ALL capabilities")
	}

	pdb := find(objs, "PodDisruptionBudget", "suiji")
	if pdb == nil || !subset(dict(pdb.doc, "spec", "selector", "matchLabels"), podLabels) ||
		len(dict(pdb.doc, "spec", "selector", "matchLabels")) == 0 {
		t.Errorf("no PodDisruptionBudget selecting the Deployment's pods %v", podLabels)
	}
	svc := find(objs, "Service", "suiji")
	if svc == nil || len(dict(svc.doc, "spec", "selector")) == 0 || !subset(dict(svc.doc, "spec", "selector"), podLabels) {
		t.Errorf("no Service selecting the Deployment's pods")
	}
	hpa := find(objs, "HorizontalPodAutoscaler", "suiji")
	if hpa == nil {
		t.Fatal("no HorizontalPodAutoscaler")
	}
	if k, n := str(hpa.doc, "spec", "scaleTargetRef", "kind"), str(hpa.doc, "spec", "scaleTargetRef", "name"); k != "Deployment" || n != "suiji" {
		t.Errorf("HPA scales %s/%s, want Deployment/suiji", k, n)
	}
	if minR, _ := get(hpa.doc, "spec", "minReplicas").(int); minR < 2 {
		t.Errorf("HPA minReplicas %v: want at least 2, so the PDB can let one go", get(hpa.doc, "spec", "minReplicas"))
	}
	// The ConfigMap the Deployment reads exists.
	for _, ef := range list(c, "envFrom") {
		if name := str(ef, "configMapRef", "name"); name != "" && find(objs, "ConfigMap", name) == nil {
			t.Errorf("envFrom names ConfigMap %s, which base does not define", name)
		}
	}
}

// TestOverlayPatchesTargetBaseObjects: every object an overlay patches
// exists in the base (a renamed object would make kustomize fail).
func TestOverlayPatchesTargetBaseObjects(t *testing.T) {
	base := load(t, "base")
	overlay := load(t, "overlays/production")
	kust := find(overlay, "Kustomization", "")
	for _, p := range list(kust.doc, "patches") {
		path := filepath.Join("overlays/production", str(p, "path"))
		for _, o := range overlay {
			if o.file == path && find(base, o.kind(), o.name()) == nil {
				t.Errorf("%s patches %s/%s, which base does not define", path, o.kind(), o.name())
			}
		}
	}
}

// TestNoInlineSecretsAndOnlyKnownVariables: no manifest carries a Secret's
// values or sets a secret variable by value, and every SUIJI_* name a
// manifest sets is one backend/config reads.
func TestNoInlineSecretsAndOnlyKnownVariables(t *testing.T) {
	vars := knownVars()
	for _, o := range load(t, ".") {
		if o.kind() == "Secret" && (dict(o.doc, "data") != nil || dict(o.doc, "stringData") != nil) {
			t.Errorf("%s: Secret %s has inline values; reference a Secret made outside git", o.file, o.name())
		}
		if o.kind() == "ConfigMap" {
			for name := range dict(o.doc, "data") {
				checkVar(t, o.file, name, vars, true)
			}
		}
		walk(o.doc, func(m map[string]any) {
			// A container env entry: {name, value} or {name, valueFrom}.
			name, ok := m["name"].(string)
			if !ok || !strings.HasPrefix(name, "SUIJI_") {
				return
			}
			_, hasValue := m["value"]
			_, hasFrom := m["valueFrom"]
			if !hasValue && !hasFrom {
				return
			}
			checkVar(t, o.file, name, vars, hasValue)
			if hasFrom && str(m, "valueFrom", "secretKeyRef", "name") == "" && str(m, "valueFrom", "configMapKeyRef", "name") == "" {
				t.Errorf("%s: %s comes from neither a Secret nor a ConfigMap", o.file, name)
			}
		})
	}
}

// checkVar fails for an unknown variable, and for a secret one (a password,
// a key, a connection string carrying credentials) given by value.
func checkVar(t *testing.T, file, name string, vars map[string]config.Var, byValue bool) {
	t.Helper()
	v, ok := vars[name]
	if !ok {
		t.Errorf("%s sets %s, which backend/config does not read", file, name)
		return
	}
	if byValue && (v.Secret || name == "SUIJI_MONGO_URI" || name == "SUIJI_REDIS_URL") {
		t.Errorf("%s sets %s by value; it must come from a secretKeyRef", file, name)
	}
}

func walk(v any, fn func(map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		fn(x)
		for _, c := range x {
			walk(c, fn)
		}
	case []any:
		for _, c := range x {
			walk(c, fn)
		}
	}
}

func subset(sel, labels map[string]any) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestOnlyTheIngressAndPrometheusComeIn: the NetworkPolicy over suiji's
// pods lets port 8080 be reached only from named peers — every rule has a
// from, every peer selects a namespace by name and pods by label (an empty
// from, or a peer without both, admits far more) — and production believes
// X-Forwarded-For from no range wider than a /16, nor from anything that
// is no IP or CIDR.
func TestOnlyTheIngressAndPrometheusComeIn(t *testing.T) {
	base := load(t, "base")
	dep := find(base, "Deployment", "suiji")
	np := find(base, "NetworkPolicy", "suiji")
	if dep == nil || np == nil {
		t.Fatal("base lacks the Deployment or the NetworkPolicy suiji")
	}
	if sel := dict(np.doc, "spec", "podSelector", "matchLabels"); len(sel) == 0 || !subset(sel, dict(dep.doc, "spec", "template", "metadata", "labels")) {
		t.Errorf("the NetworkPolicy selects %v, not the Deployment's pods", sel)
	}
	rules := list(np.doc, "spec", "ingress")
	if len(rules) == 0 {
		t.Fatal("the NetworkPolicy has no ingress rule (it would admit nothing)")
	}
	namespaces := map[string]bool{}
	for i, r := range rules {
		peers := list(r, "from")
		if len(peers) == 0 {
			t.Errorf("ingress rule %d has no from: every pod and address may come in", i)
		}
		for j, p := range peers {
			ns := str(p, "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name")
			if ns == "" || len(dict(p, "podSelector", "matchLabels")) == 0 {
				t.Errorf("ingress rule %d, peer %d: %v does not name a namespace and select pods by label", i, j, p)
			}
			namespaces[ns] = true
		}
	}
	if !namespaces["ingress-nginx"] || !namespaces["monitoring"] {
		t.Errorf("peers' namespaces %v: want the ingress controller's and Prometheus's", namespaces)
	}

	cm := find(load(t, "overlays/production"), "ConfigMap", "suiji-config")
	if cm == nil {
		t.Fatal("the production overlay has no ConfigMap suiji-config")
	}
	proxies := str(cm.doc, "data", "SUIJI_TRUSTED_PROXIES")
	for p := range strings.SplitSeq(proxies, ",") {
		p = strings.TrimSpace(p)
		if _, n, err := net.ParseCIDR(p); err == nil {
			if ones, _ := n.Mask.Size(); ones < 16 {
				t.Errorf("production trusts X-Forwarded-For from %s: wider than a /16", p)
			}
		} else if net.ParseIP(p) == nil {
			t.Errorf("production's SUIJI_TRUSTED_PROXIES entry %q is no IP or CIDR", p)
		}
	}
}
