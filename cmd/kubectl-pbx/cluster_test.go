package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/localenv"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
	"github.com/cloudpbx/pbx-operator/internal/plugin"
)

// TestClusterOutput runs status and plan against an envtest API server and a simulated PBX, and
// checks their exit codes and that -o json and -o yaml print exactly what the library returns,
// decodable into its result types; and the completions read from the cluster. The context's namespace of the kubeconfig is the default
// of -n. No manager runs: the commands read, and the plan needs only the Account, its Secret
// and the PBX.
func TestClusterOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the envtest API server; runs without -short")
	}
	ctx := context.Background()
	scheme := localenv.Scheme()
	env, cfg, err := localenv.APIServer(filepath.Join("..", ".."), scheme)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	k, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}

	sim, err := pbxsim.New(pbxsim.DemoConfig(), pbxsim.WithStrictSlashes())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	pc, err := pbx.New(srv.URL, pbx.WithCredentials(pbxsim.DemoTrustedAppID, pbxsim.DemoAppSecret))
	if err != nil {
		t.Fatal(err)
	}
	sales, err := pc.Groups.Create(ctx, pbx.MeRealm(pbx.RealmClient), pbx.ExtensionGroupCreate{Name: "Sales"})
	if err != nil {
		t.Fatal(err)
	}

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "cli-"}}
	if err := k.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	account := v1alpha1.AccountReference{Kind: v1alpha1.AccountKindAccount, Name: "pbx"}
	// The group the cluster holds, bound to the PBX group by its external-id annotation.
	group := &v1alpha1.ExtensionGroup{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "ExtensionGroup"},
		ObjectMeta: metav1.ObjectMeta{Name: "sales", Namespace: ns.Name,
			Annotations: map[string]string{v1alpha1.AnnotationExternalID: strconv.FormatInt(sales.ID, 10)}},
		Spec: v1alpha1.ExtensionGroupSpec{ManagedSpec: v1alpha1.ManagedSpec{AccountRef: account}, Name: "Sales"},
	}
	ext := &v1alpha1.Extension{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Extension"},
		ObjectMeta: metav1.ObjectMeta{Name: "ext-101", Namespace: ns.Name},
		Spec: v1alpha1.ExtensionSpec{ManagedSpec: v1alpha1.ManagedSpec{AccountRef: account}, Name: "101",
			Type: v1alpha1.ExtensionTypePhone, State: v1alpha1.ExtensionStateActive, GroupRef: &v1alpha1.GroupReference{Name: "sales"}},
	}
	for _, o := range []client.Object{
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "pbx", Namespace: ns.Name, Labels: map[string]string{v1alpha1.LabelCredentials: "true"}},
			StringData: map[string]string{"clientID": pbxsim.DemoTrustedAppID, "clientSecret": pbxsim.DemoAppSecret, "url": srv.URL + "/"},
		},
		&v1alpha1.Account{
			ObjectMeta: metav1.ObjectMeta{Name: "pbx", Namespace: ns.Name},
			Spec: v1alpha1.AccountSpec{
				ConnectionSpec:       v1alpha1.ConnectionSpec{URL: srv.URL + "/"},
				CredentialsSecretRef: v1alpha1.LocalSecretReference{Name: "pbx"},
			},
		},
		group.DeepCopy(),
	} {
		if err := k.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}

	dir := t.TempDir()
	kubeconfig := writeKubeconfig(t, env, dir, ns.Name)
	unchanged := writeManifests(t, dir, "unchanged.yaml", group)
	added := writeManifests(t, dir, "added.yaml", group, ext)
	noNamespace := ext.DeepCopy()
	noNamespace.Namespace = ""
	elsewhere := writeManifests(t, dir, "elsewhere.yaml", noNamespace)

	wantStatus, err := plugin.ReadStatus(ctx, k, ns.Name, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(wantStatus.Accounts) != 1 || !wantStatus.Accounts[0].Found {
		t.Fatalf("the library's status misses the account: %+v", wantStatus)
	}
	planOf := func(path string) plugin.PlanResult {
		cmd := plugin.PlanCommand{Kube: k, Paths: []string{path}, Namespace: ns.Name, Prune: true}
		res, err := cmd.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	wantUnchanged, wantAdded := planOf(unchanged), planOf(added)
	if wantUnchanged.HasChanges() || !wantAdded.HasChanges() {
		t.Fatalf("the library's plans: %+v and %+v, want no changes, then changes", wantUnchanged, wantAdded)
	}

	cases := map[string]struct {
		reason   string
		args     []string
		want     int
		wantText string
		wantErr  string
		// decode reads the output into the library's result type; want is that result.
		decode func([]byte) (any, error)
		result any
	}{
		"StatusJSON": {reason: "status -o json is the library's report, in the kubeconfig context's namespace", args: []string{"status", "-o", "json"},
			decode: decodeJSON[plugin.StatusReport], result: wantStatus},
		"StatusYAML": {reason: "status -o yaml is the same report as YAML", args: []string{"status", "-n", ns.Name, "-o", "yaml"},
			decode: decodeYAML[plugin.StatusReport], result: wantStatus},
		"StatusText": {reason: "status without -o prints the screen", args: []string{"status", "-A"},
			wantText: "Account " + ns.Name + "/pbx"},
		"PlanNoChangesJSON": {reason: "plan -o json of manifests that change nothing exits 0", args: []string{"plan", "-f", unchanged, "-o", "json"},
			decode: decodeJSON[plugin.PlanResult], result: wantUnchanged},
		"PlanChangesJSON": {reason: "plan -o json of manifests that create an extension exits 2", args: []string{"plan", "-f", added, "-o", "json"}, want: 2,
			decode: decodeJSON[plugin.PlanResult], result: wantAdded},
		"PlanChangesYAML": {reason: "plan -o yaml is the same plan as YAML, with the same exit code", args: []string{"plan", "--filename=" + added, "-o", "yaml"}, want: 2,
			decode: decodeYAML[plugin.PlanResult], result: wantAdded},
		"PlanChangesText": {reason: "plan without -o prints the plan for a person", args: []string{"plan", "-f", added}, want: 2,
			wantText: "ext-101"},
		"CompleteNamespaces": {reason: "-n completes the cluster's namespaces", args: []string{"__complete", "status", "-n", ""},
			wantText: ns.Name + "\n"},
		"CompleteAccounts": {reason: "--account completes the Accounts of the namespace", args: []string{"__complete", "export", "--account", ""},
			wantText: "pbx\n:4\n"},
		"PlanNamespace": {reason: "-n is the namespace of the manifests without one, and of their Account", args: []string{"plan", "-f", elsewhere, "-n", "elsewhere"}, want: 1,
			wantErr: "the Account elsewhere/pbx does not exist"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"--kubeconfig", kubeconfig}, tc.args...)
			got := run(ctx, args, genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
			if got != tc.want || !strings.Contains(errOut.String(), tc.wantErr) {
				t.Fatalf("%s\nrun(%q) = %d, want %d and %q; stderr:\n%s", tc.reason, tc.args, got, tc.want, tc.wantErr, errOut.String())
			}
			if !strings.Contains(out.String(), tc.wantText) {
				t.Errorf("%s\nrun(%q) printed no %q:\n%s", tc.reason, tc.args, tc.wantText, out.String())
			}
			if tc.decode == nil {
				return
			}
			res, err := tc.decode(out.Bytes())
			if err != nil {
				t.Fatalf("%s\nrun(%q) printed what does not decode into %T: %v\n%s", tc.reason, tc.args, tc.result, err, out.String())
			}
			if diff := cmp.Diff(tc.result, res); diff != "" {
				t.Errorf("%s\nrun(%q) (-library +printed):\n%s", tc.reason, tc.args, diff)
			}
		})
	}
}

// decodeJSON reads exactly one JSON value of type T, with no field that T lacks.
func decodeJSON[T any](data []byte) (any, error) {
	var v T
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value")
	}
	return v, nil
}

// decodeYAML reads one YAML document of type T, with no field that T lacks.
func decodeYAML[T any](data []byte) (any, error) {
	var v T
	if err := yaml.UnmarshalStrict(data, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// writeKubeconfig writes a kubeconfig of an administrator of env whose context's namespace is ns.
func writeKubeconfig(t *testing.T, env *envtest.Environment, dir, ns string) string {
	t.Helper()
	user, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Contexts[cfg.CurrentContext].Namespace = ns
	path := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeManifests writes objs as one YAML stream into dir/name.
func writeManifests(t *testing.T, dir, name string, objs ...client.Object) string {
	t.Helper()
	var buf bytes.Buffer
	for _, o := range objs {
		data, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		buf.WriteString("---\n")
		buf.Write(data)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
