package v1alpha1_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/localenv"
)

// k is a client of the envtest API server that serves the generated CRDs; nil with -short.
var k client.Client

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if localenv.Short() {
		return m.Run()
	}
	scheme := localenv.Scheme()
	env, cfg, err := localenv.APIServer(filepath.Join("..", ".."), scheme)
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting the envtest API server: %v\n", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping the envtest API server: %v\n", err)
		}
	}()
	if k, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintf(os.Stderr, "creating a client: %v\n", err)
		return 1
	}
	return m.Run()
}

// namespace creates a namespace of its own for one test.
func namespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "validation-"}}
	if err := k.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating a namespace: %v", err)
	}
	return ns.Name
}

func needAPIServer(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the envtest API server; runs without -short")
	}
}

func accountRef() v1alpha1.AccountReference {
	return v1alpha1.AccountReference{Kind: v1alpha1.AccountKindAccount, Name: "demo"}
}

func extension(mods ...func(*v1alpha1.Extension)) *v1alpha1.Extension {
	e := &v1alpha1.Extension{
		ObjectMeta: metav1.ObjectMeta{Name: "ext"},
		Spec: v1alpha1.ExtensionSpec{
			ManagedSpec: v1alpha1.ManagedSpec{AccountRef: accountRef()},
			Name:        "101",
			Type:        v1alpha1.ExtensionTypePhone,
		},
	}
	for _, m := range mods {
		m(e)
	}
	return e
}

func group(mods ...func(*v1alpha1.ExtensionGroup)) *v1alpha1.ExtensionGroup {
	g := &v1alpha1.ExtensionGroup{
		ObjectMeta: metav1.ObjectMeta{Name: "group"},
		Spec: v1alpha1.ExtensionGroupSpec{
			ManagedSpec: v1alpha1.ManagedSpec{AccountRef: accountRef()},
			Name:        "Sales",
		},
	}
	for _, m := range mods {
		m(g)
	}
	return g
}

func account(url string) *v1alpha1.Account {
	return &v1alpha1.Account{
		ObjectMeta: metav1.ObjectMeta{Name: "demo"},
		Spec: v1alpha1.AccountSpec{
			ConnectionSpec:       v1alpha1.ConnectionSpec{URL: url},
			CredentialsSecretRef: v1alpha1.LocalSecretReference{Name: "creds"},
		},
	}
}

func withCABundle(a *v1alpha1.Account, ref v1alpha1.CABundleReference) *v1alpha1.Account {
	a.Spec.CABundleRef = ref
	return a
}

func clusterAccount(mods ...func(*v1alpha1.ClusterAccount)) *v1alpha1.ClusterAccount {
	a := &v1alpha1.ClusterAccount{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "shared-"},
		Spec: v1alpha1.ClusterAccountSpec{
			ConnectionSpec:       v1alpha1.ConnectionSpec{URL: "https://apiproxy.example/"},
			CredentialsSecretRef: v1alpha1.SecretReference{Name: "creds", Namespace: "pbx"},
		},
	}
	for _, m := range mods {
		m(a)
	}
	return a
}

func TestValidation(t *testing.T) {
	needAPIServer(t)

	type args struct {
		// obj is created; if update is set, the create must succeed and the update is checked.
		obj    client.Object
		update func(client.Object)
	}
	type want struct {
		// err is a part of the API server's message; empty means the request is accepted.
		err string
	}
	cases := map[string]struct {
		reason string
		args   args
		want   want
	}{
		"MinimalExtension": {
			reason: "An Extension with an account, a number and a type is valid.",
			args:   args{obj: extension()},
		},
		"FullExtension": {
			reason: "Every optional Extension field within its bounds is valid.",
			args: args{obj: extension(func(e *v1alpha1.Extension) {
				e.Spec.State = v1alpha1.ExtensionStateBlocked
				e.Spec.Label = "Alice"
				e.Spec.CallerIDName = "Alice Smith"
				e.Spec.ExtraParams = `{"desk":4}`
				e.Spec.GroupRef = &v1alpha1.GroupReference{Name: "sales"}
				e.Spec.DialRuleID = 61
				e.Spec.DeletionPolicy = v1alpha1.DeletionPolicyOrphan
				e.Spec.ManagementPolicy = v1alpha1.ManagementPolicyObserveOnly
			})},
		},
		"PhoneLine": {
			reason: "A Phone with phone settings, a credentials Secret and a password Secret is valid.",
			args: args{obj: extension(func(e *v1alpha1.Extension) {
				e.Spec.Phone = v1alpha1.PhoneSettings{AuthType: v1alpha1.PhoneAuthDigest}
				e.Spec.WriteCredentialsSecretRef = v1alpha1.CredentialsSecretReference{Name: "alice-sip"}
				e.Spec.PasswordSecretRef = v1alpha1.PasswordSecretReference{Name: "alice-password", Key: "sip.password"}
			})},
		},
		"PhoneSettingsOfAnIVR": {
			reason: "Phone settings are for Phone extensions.",
			args: args{obj: extension(func(e *v1alpha1.Extension) {
				e.Spec.Type = v1alpha1.ExtensionTypeIVR
				e.Spec.Phone = v1alpha1.PhoneSettings{AuthType: v1alpha1.PhoneAuthDigest}
			})},
			want: want{err: "phone settings are for extensions of type Phone only"},
		},
		"CredentialsOfAnIVR": {
			reason: "SIP credentials are for Phone extensions.",
			args: args{obj: extension(func(e *v1alpha1.Extension) {
				e.Spec.Type = v1alpha1.ExtensionTypeIVR
				e.Spec.WriteCredentialsSecretRef = v1alpha1.CredentialsSecretReference{Name: "ivr-sip"}
			})},
			want: want{err: "SIP credentials are for extensions of type Phone only"},
		},
		"PasswordWithoutCredentialsSecret": {
			reason: "A password needs the Secret it is delivered in.",
			args: args{obj: extension(func(e *v1alpha1.Extension) {
				e.Spec.PasswordSecretRef = v1alpha1.PasswordSecretReference{Name: "alice-password", Key: "password"}
			})},
			want: want{err: "passwordSecretRef needs writeCredentialsSecretRef"},
		},
		"CredentialsSecretNameInvalid": {
			reason: "The operator creates this Secret: its name must be one the API server takes.",
			args: args{obj: extension(func(e *v1alpha1.Extension) {
				e.Spec.WriteCredentialsSecretRef = v1alpha1.CredentialsSecretReference{Name: "Alice_SIP"}
			})},
			want: want{err: "spec.writeCredentialsSecretRef.name: Invalid value"},
		},
		"PasswordKeyInvalid": {
			reason: "A Secret key has letters, digits, '-', '_' and '.' only.",
			args: args{obj: extension(func(e *v1alpha1.Extension) {
				e.Spec.WriteCredentialsSecretRef = v1alpha1.CredentialsSecretReference{Name: "alice-sip"}
				e.Spec.PasswordSecretRef = v1alpha1.PasswordSecretReference{Name: "alice-password", Key: "sip password"}
			})},
			want: want{err: "spec.passwordSecretRef.key: Invalid value"},
		},
		"PasswordAndCredentialsInOneSecret": {
			reason: "The operator writes the credentials Secret and only reads the password Secret.",
			args: args{obj: extension(func(e *v1alpha1.Extension) {
				e.Spec.WriteCredentialsSecretRef = v1alpha1.CredentialsSecretReference{Name: "alice-sip"}
				e.Spec.PasswordSecretRef = v1alpha1.PasswordSecretReference{Name: "alice-sip", Key: "password"}
			})},
			want: want{err: "must name two Secrets"},
		},
		"CredentialsObserveOnly": {
			reason: "Setting the SIP password is a write, which ObserveOnly never makes.",
			args: args{obj: extension(func(e *v1alpha1.Extension) {
				e.Spec.WriteCredentialsSecretRef = v1alpha1.CredentialsSecretReference{Name: "alice-sip"}
				e.Spec.ManagementPolicy = v1alpha1.ManagementPolicyObserveOnly
			})},
			want: want{err: "writeCredentialsSecretRef needs managementPolicy Manage"},
		},
		"ExtensionNameNotDigits": {
			reason: "An extension number has digits only.",
			args:   args{obj: extension(func(e *v1alpha1.Extension) { e.Spec.Name = "10a" })},
			want:   want{err: "spec.name: Invalid value: \"10a\": name must be the extension's short number, digits only (for example 101)"},
		},
		"ExtensionFullNameRejected": {
			reason: "The prefix*number form is the PBX's output, not the spec's input.",
			args:   args{obj: extension(func(e *v1alpha1.Extension) { e.Spec.Name = "0003*101" })},
			want:   want{err: "digits only"},
		},
		"ExtensionNameTooLong": {
			reason: "Extension numbers are bounded.",
			args:   args{obj: extension(func(e *v1alpha1.Extension) { e.Spec.Name = strings.Repeat("1", 17) })},
			want:   want{err: "spec.name: Too long: may not be more than 16 bytes"},
		},
		"ExtensionRenamed": {
			reason: "The PBX cannot renumber an extension.",
			args: args{obj: extension(), update: func(o client.Object) {
				o.(*v1alpha1.Extension).Spec.Name = "102"
			}},
			want: want{err: "name is immutable: the PBX cannot renumber an extension"},
		},
		"ExtensionTypeChanged": {
			reason: "The type of an extension cannot change.",
			args: args{obj: extension(), update: func(o client.Object) {
				o.(*v1alpha1.Extension).Spec.Type = v1alpha1.ExtensionTypeQueue
			}},
			want: want{err: "type is immutable: create a new Extension for another type"},
		},
		"ExtensionTypeUnknown": {
			reason: "The type is one of the PBX's four.",
			args:   args{obj: extension(func(e *v1alpha1.Extension) { e.Spec.Type = "Modem" })},
			want:   want{err: `spec.type: Unsupported value: "Modem": supported values: "Phone", "Queue", "IVR", "Fax"`},
		},
		"ExtensionStateChanged": {
			reason: "Blocking an extension is an ordinary edit.",
			args: args{obj: extension(), update: func(o client.Object) {
				o.(*v1alpha1.Extension).Spec.State = v1alpha1.ExtensionStateBlocked
			}},
		},
		"ExtensionStateUnknown": {
			reason: "The state is Active or Blocked.",
			args:   args{obj: extension(func(e *v1alpha1.Extension) { e.Spec.State = "active" })},
			want:   want{err: `spec.state: Unsupported value: "active": supported values: "Active", "Blocked"`},
		},
		"ExtensionGroupRefAndGroupID": {
			reason: "An extension is in at most one group, named one way.",
			args: args{obj: extension(func(e *v1alpha1.Extension) {
				e.Spec.GroupRef = &v1alpha1.GroupReference{Name: "sales"}
				e.Spec.GroupID = 14
			})},
			want: want{err: "groupRef and groupID are mutually exclusive: set one of them, or neither"},
		},
		"ExtensionGroupRefReplacedByGroupID": {
			reason: "Moving from a managed group to a raw group id is an ordinary edit.",
			args: args{obj: extension(func(e *v1alpha1.Extension) {
				e.Spec.GroupRef = &v1alpha1.GroupReference{Name: "sales"}
			}), update: func(o client.Object) {
				e := o.(*v1alpha1.Extension)
				e.Spec.GroupRef = nil
				e.Spec.GroupID = 14
			}},
		},
		"ExtensionGroupIDNotPositive": {
			reason: "PBX ids are positive.",
			args:   args{obj: extension(func(e *v1alpha1.Extension) { e.Spec.GroupID = -3 })},
			want:   want{err: "spec.groupID: Invalid value: -3: spec.groupID in body should be greater than or equal to 1"},
		},
		"ExtensionLabelTooLong": {
			reason: "Strings are bounded.",
			args:   args{obj: extension(func(e *v1alpha1.Extension) { e.Spec.Label = strings.Repeat("x", 256) })},
			want:   want{err: "spec.label: Too long: may not be more than 255 bytes"},
		},
		"BadDeletionPolicy": {
			reason: "deletionPolicy is Delete or Orphan.",
			args: args{obj: extension(func(e *v1alpha1.Extension) {
				e.Spec.DeletionPolicy = "Keep"
			})},
			want: want{err: `spec.deletionPolicy: Unsupported value: "Keep": supported values: "Delete", "Orphan"`},
		},
		"BadManagementPolicy": {
			reason: "managementPolicy is Manage or ObserveOnly.",
			args: args{obj: group(func(g *v1alpha1.ExtensionGroup) {
				g.Spec.ManagementPolicy = "ReadOnly"
			})},
			want: want{err: `spec.managementPolicy: Unsupported value: "ReadOnly": supported values: "Manage", "ObserveOnly"`},
		},
		"BadAccountRefKind": {
			reason: "accountRef names an Account or a ClusterAccount.",
			args: args{obj: extension(func(e *v1alpha1.Extension) {
				e.Spec.AccountRef.Kind = "Secret"
			})},
			want: want{err: `spec.accountRef.kind: Unsupported value: "Secret": supported values: "Account", "ClusterAccount"`},
		},
		"MissingAccountRefName": {
			reason: "accountRef needs a name.",
			args: args{obj: group(func(g *v1alpha1.ExtensionGroup) {
				g.Spec.AccountRef.Name = ""
			})},
			want: want{err: "spec.accountRef.name: Required value"},
		},
		"AccountRefChanged": {
			reason: "Moving a resource to another account would orphan its PBX object.",
			args: args{obj: group(), update: func(o client.Object) {
				o.(*v1alpha1.ExtensionGroup).Spec.AccountRef.Kind = v1alpha1.AccountKindClusterAccount
			}},
			want: want{err: "accountRef is immutable: create a new resource to manage an object in another account"},
		},
		"GroupRenamed": {
			reason: "The PBX can rename a group.",
			args: args{obj: group(), update: func(o client.Object) {
				o.(*v1alpha1.ExtensionGroup).Spec.Name = "Inside sales"
			}},
		},
		"GroupNameEmpty": {
			reason: "A group has a name.",
			args:   args{obj: group(func(g *v1alpha1.ExtensionGroup) { g.Spec.Name = "" })},
			want:   want{err: "spec.name: Required value"},
		},
		"AccountHTTPS": {
			reason: "An https URL is the normal case.",
			args:   args{obj: account("https://apiproxy.example/")},
		},
		"AccountHTTPLoopbackIPv4": {
			reason: "Plain http to a loopback address serves a local pbxsim.",
			args:   args{obj: account("http://127.0.0.1:8090/")},
		},
		"AccountHTTPLoopbackIPv6": {
			reason: "IPv6 loopback counts as loopback.",
			args:   args{obj: account("http://[::1]:8090/")},
		},
		"AccountHTTPLocalhost": {
			reason: "localhost counts as loopback.",
			args:   args{obj: account("http://localhost:8090")},
		},
		"AccountHTTPPublicHost": {
			reason: "Credentials never travel in clear text to a remote host.",
			args:   args{obj: account("http://apiproxy.example/")},
			want:   want{err: "url must use https: plain http is allowed only for loopback hosts"},
		},
		"AccountHTTPPublicIP": {
			reason: "A non-loopback IP address is remote too.",
			args:   args{obj: account("http://10.0.0.7:8090/")},
			want:   want{err: "url must use https: plain http is allowed only for loopback hosts"},
		},
		"AccountNotAURL": {
			reason: "The URL must be absolute.",
			args:   args{obj: account("apiproxy.example")},
			want:   want{err: "url must be an absolute http(s) URL such as https://apiproxy.example/"},
		},
		"AccountOtherScheme": {
			reason: "Only http(s) is spoken.",
			args:   args{obj: account("ftp://apiproxy.example/")},
			want:   want{err: "url must be an absolute http(s) URL"},
		},
		"AccountUserinfo": {
			reason: "Credentials never sit in the URL, which kubectl get prints.",
			args:   args{obj: account("https://user:pw@pbx.example.com/")},
			want:   want{err: "url must not contain a user name or password (https://user:password@host/): put the credentials in the Secret named by credentialsSecretRef"},
		},
		"AccountUserOnly": {
			reason: "A user name alone is userinfo too.",
			args:   args{obj: account("https://user@pbx.example.com/")},
			want:   want{err: "url must not contain a user name or password"},
		},
		"AccountLoopbackUserinfo": {
			reason: "The loopback exception does not let userinfo through.",
			args:   args{obj: account("http://user:pw@127.0.0.1:8090/")},
			want:   want{err: "url must not contain a user name or password"},
		},
		"AccountAtInPath": {
			reason: "An @ after the host is part of the path, not userinfo.",
			args:   args{obj: account("https://apiproxy.example/pbx/@me/")},
		},
		"AccountQuery": {
			reason: "The URL is a base URL: a query string would be lost or leak a token.",
			args:   args{obj: account("https://apiproxy.example/?token=secret")},
			want:   want{err: "url must not have a query string (?...): give the base URL of the API only, such as https://apiproxy.example/"},
		},
		"AccountFragment": {
			reason: "A fragment means nothing to an API base URL.",
			args:   args{obj: account("https://apiproxy.example/#top")},
			want:   want{err: "url must not have a fragment (#...): give the base URL of the API only"},
		},
		"AccountLongURL": {
			reason: "The longest URL allowed stays within the CEL cost budget and is accepted.",
			args:   args{obj: account("https://apiproxy.example/" + strings.Repeat("a", 2048-len("https://apiproxy.example/")))},
		},
		"AccountURLTooLong": {
			reason: "URLs are bounded.",
			args:   args{obj: account("https://apiproxy.example/" + strings.Repeat("a", 2048))},
			want:   want{err: "spec.url: Too long: may not be more than 2048 bytes"},
		},
		"AccountCABundleConfigMap": {
			reason: "An Account trusts a CA from a ConfigMap key in its namespace.",
			args: args{obj: withCABundle(account("https://apiproxy.example/"), v1alpha1.CABundleReference{
				Kind: v1alpha1.CABundleKindConfigMap, Name: "corp-ca", Key: "ca.crt"})},
		},
		"AccountCABundleSecret": {
			reason: "A Secret key works as well.",
			args: args{obj: withCABundle(account("https://apiproxy.example/"), v1alpha1.CABundleReference{
				Kind: v1alpha1.CABundleKindSecret, Name: "corp-ca", Key: "tls.ca"})},
		},
		"AccountCABundleNamespace": {
			reason: "An Account cannot point into another namespace.",
			args: args{obj: withCABundle(account("https://apiproxy.example/"), v1alpha1.CABundleReference{
				Kind: v1alpha1.CABundleKindConfigMap, Name: "corp-ca", Namespace: "kube-system", Key: "ca.crt"})},
			want: want{err: "caBundleRef.namespace must be unset: an Account's CA bundle is in the Account's own namespace"},
		},
		"AccountCABundleKind": {
			reason: "The bundle is in a ConfigMap or a Secret.",
			args: args{obj: withCABundle(account("https://apiproxy.example/"), v1alpha1.CABundleReference{
				Kind: "Pod", Name: "corp-ca", Key: "ca.crt"})},
			want: want{err: `spec.caBundleRef.kind: Unsupported value: "Pod": supported values: "ConfigMap", "Secret"`},
		},
		"AccountCABundleBadKey": {
			reason: "A key is a ConfigMap or Secret data key.",
			args: args{obj: withCABundle(account("https://apiproxy.example/"), v1alpha1.CABundleReference{
				Kind: v1alpha1.CABundleKindConfigMap, Name: "corp-ca", Key: "../ca.crt/"})},
			want: want{err: "spec.caBundleRef.key"},
		},
		"AccountCABundleNoKey": {
			reason: "The key is required: no guessing which key holds the certificates.",
			args: args{obj: withCABundle(account("https://apiproxy.example/"), v1alpha1.CABundleReference{
				Kind: v1alpha1.CABundleKindConfigMap, Name: "corp-ca"})},
			want: want{err: "spec.caBundleRef.key"},
		},
		"AccountBadRequestRate": {
			reason: "The request rate is bounded.",
			args: args{obj: func() client.Object {
				a := account("https://apiproxy.example/")
				a.Spec.RequestsPerSecond = 5000
				return a
			}()},
			want: want{err: "spec.requestsPerSecond: Invalid value: 5000: spec.requestsPerSecond in body should be less than or equal to 1000"},
		},
		"ClusterAccountValid": {
			reason: "A ClusterAccount names its Secret's namespace.",
			args:   args{obj: clusterAccount()},
		},
		"ClusterAccountSecretWithoutNamespace": {
			reason: "A cluster-scoped account cannot guess the Secret's namespace.",
			args: args{obj: clusterAccount(func(a *v1alpha1.ClusterAccount) {
				a.Spec.CredentialsSecretRef.Namespace = ""
			})},
			want: want{err: "spec.credentialsSecretRef.namespace"},
		},
		"ClusterAccountUserinfo": {
			reason: "The userinfo rule holds for ClusterAccounts too.",
			args: args{obj: clusterAccount(func(a *v1alpha1.ClusterAccount) {
				a.Spec.URL = "https://user:pw@apiproxy.example/"
			})},
			want: want{err: "url must not contain a user name or password"},
		},
		"ClusterAccountCABundle": {
			reason: "A ClusterAccount names the namespace of its CA bundle.",
			args: args{obj: clusterAccount(func(a *v1alpha1.ClusterAccount) {
				a.Spec.CABundleRef = v1alpha1.CABundleReference{Kind: v1alpha1.CABundleKindConfigMap, Name: "corp-ca", Namespace: "pbx", Key: "ca.crt"}
			})},
		},
		"ClusterAccountCABundleWithoutNamespace": {
			reason: "A cluster-scoped account cannot guess the bundle's namespace.",
			args: args{obj: clusterAccount(func(a *v1alpha1.ClusterAccount) {
				a.Spec.CABundleRef = v1alpha1.CABundleReference{Kind: v1alpha1.CABundleKindConfigMap, Name: "corp-ca", Key: "ca.crt"}
			})},
			want: want{err: "caBundleRef.namespace is required: a ClusterAccount names the namespace of its CA bundle"},
		},
		"ClusterAccountHTTPPublicHost": {
			reason: "The URL rule holds for ClusterAccounts too.",
			args: args{obj: clusterAccount(func(a *v1alpha1.ClusterAccount) {
				a.Spec.URL = "http://apiproxy.example/"
			})},
			want: want{err: "url must use https"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			check(t, tc.reason, admit(t, tc.reason, tc.args.obj, tc.args.update), tc.want.err)
		})
	}
}

func isClusterScoped(obj client.Object) bool {
	_, ok := obj.(*v1alpha1.ClusterAccount)
	return ok
}

// check compares an API server answer with the wanted message part ("" for accepted).
// admit creates obj, in a namespace of its own unless it has one or is cluster-scoped, and when
// update is set (the create must then succeed) changes it with update and writes it again. It
// returns the API server's answer to the last write.
func admit[O client.Object](t *testing.T, reason string, obj O, update func(O)) error {
	t.Helper()
	ctx := context.Background()
	if obj.GetNamespace() == "" && !isClusterScoped(obj) {
		obj.SetNamespace(namespace(t))
	}
	err := k.Create(ctx, obj)
	if update == nil {
		return err
	}
	if err != nil {
		t.Fatalf("%s\ncreating the object to update: %v", reason, err)
	}
	update(obj)
	return k.Update(ctx, obj)
}

func check(t *testing.T, reason string, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("%s\nwant accepted, got: %v", reason, err)
	case want != "" && err == nil:
		t.Errorf("%s\nwant rejected with %q, got accepted", reason, want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("%s\nwant a message containing %q, got: %v", reason, want, err)
	}
}

func TestDefaults(t *testing.T) {
	needAPIServer(t)
	ctx := context.Background()
	e := extension()
	e.SetNamespace(namespace(t))
	if err := k.Create(ctx, e); err != nil {
		t.Fatalf("creating a minimal Extension: %v", err)
	}
	got := e.Spec
	if got.DeletionPolicy != v1alpha1.DeletionPolicyDelete {
		t.Errorf("deletionPolicy: want %q by default, got %q", v1alpha1.DeletionPolicyDelete, got.DeletionPolicy)
	}
	if got.ManagementPolicy != v1alpha1.ManagementPolicyManage {
		t.Errorf("managementPolicy: want %q by default, got %q", v1alpha1.ManagementPolicyManage, got.ManagementPolicy)
	}
	if got.State != v1alpha1.ExtensionStateActive {
		t.Errorf("state: want %q by default (the PBX's own default is blocked), got %q", v1alpha1.ExtensionStateActive, got.State)
	}
}

// TestNewObjectsAreNotObservedYet: a new resource reads status.observedGeneration 0 before the
// operator has looked at it, so kstatus (Flux) reports it InProgress rather than Current.
func TestNewObjectsAreNotObservedYet(t *testing.T) {
	needAPIServer(t)
	ctx := context.Background()
	ns := namespace(t)
	for _, obj := range []client.Object{extension(), group(), account("https://pbx.example/")} {
		obj.SetNamespace(ns)
		if err := k.Create(ctx, obj); err != nil {
			t.Fatalf("creating %T: %v", obj, err)
		}
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind(reflect.TypeOf(obj).Elem().Name()))
		if err := k.Get(ctx, client.ObjectKeyFromObject(obj), u); err != nil {
			t.Fatal(err)
		}
		if got, found, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration"); !found || got != 0 || u.GetGeneration() != 1 {
			t.Errorf("%T: want status.observedGeneration 0 (found) at generation 1, got %d (found %t) at %d", obj, got, found, u.GetGeneration())
		}
	}
}

// TestSamples checks that every object of config/samples passes admission.
func TestSamples(t *testing.T) {
	needAPIServer(t)
	ctx := context.Background()
	ns := namespace(t)
	files, err := filepath.Glob(filepath.Join("..", "..", "config", "samples", "pbx_*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("finding the samples: %v (%d files)", err, len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			obj := &unstructured.Unstructured{}
			if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			obj.SetNamespace(ns)
			if err := k.Create(ctx, obj, client.DryRunAll); err != nil {
				t.Errorf("%s: %s %q rejected: %v", f, obj.GetKind(), obj.GetName(), err)
			}
		}
	}
}
