package argocd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
)

var docs = filepath.Join("..", "..", "docs")

// health runs the health check on obj the way Argo CD does: obj is a global table, and the script
// returns a table with status and message.
func health(t *testing.T, script string, obj runtime.Object) (status, message string) {
	t.Helper()
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, open := range []lua.LGFunction{lua.OpenBase, lua.OpenTable, lua.OpenString} {
		l.Push(l.NewFunction(open))
		l.Call(0, 0)
	}
	l.SetGlobal("obj", toLua(l, u))
	if err := l.DoString(script); err != nil {
		t.Fatal(err)
	}
	ret, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("the script returns %v, not a table", l.Get(-1))
	}
	return lua.LVAsString(ret.RawGetString("status")), lua.LVAsString(ret.RawGetString("message"))
}

// toLua converts decoded JSON into Lua values, as Argo CD's VM does.
func toLua(l *lua.LState, v any) lua.LValue {
	switch x := v.(type) {
	case map[string]any:
		t := l.NewTable()
		for k, e := range x {
			t.RawSetString(k, toLua(l, e))
		}
		return t
	case []any:
		t := l.NewTable()
		for _, e := range x {
			t.Append(toLua(l, e))
		}
		return t
	case string:
		return lua.LString(x)
	case bool:
		return lua.LBool(x)
	case int64:
		return lua.LNumber(x)
	case float64:
		return lua.LNumber(x)
	case nil:
		return lua.LNil
	}
	panic("unexpected JSON value")
}

func cond(typ string, status metav1.ConditionStatus, reason, msg string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, LastTransitionTime: metav1.Now()}
}

func extension(gen, observed int64, annotations map[string]string, conds ...metav1.Condition) *v1alpha1.Extension {
	e := &v1alpha1.Extension{}
	e.APIVersion, e.Kind = v1alpha1.GroupVersion.String(), "Extension"
	e.Name, e.Generation, e.Annotations = "alice", gen, annotations
	e.Status.ObservedGeneration, e.Status.Conditions = &observed, conds
	return e
}

func TestHealth(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(docs, "argocd", "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	script := string(data)
	account := &v1alpha1.Account{}
	account.APIVersion, account.Kind, account.Name, account.Generation = v1alpha1.GroupVersion.String(), "Account", "pbx", 1
	account.Status.ObservedGeneration = ptr.To[int64](1)
	account.Status.Conditions = []metav1.Condition{
		cond(v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonUnauthorized, "The PBX refused the account's credentials"),
		cond(v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonUnauthorized, "The PBX refused the account's credentials"),
	}
	cases := map[string]struct {
		reason string
		obj    runtime.Object
		status string
		msg    string
	}{
		"New": {
			reason: "A resource the operator has not looked at yet is Progressing, never Healthy.",
			obj:    extension(1, 0, nil), status: "Progressing", msg: "Waiting for the operator to look at the latest spec",
		},
		"EditNotSeenYet": {
			reason: "An edit the operator has not looked at is Progressing, even while Ready.",
			obj: extension(2, 1, nil, cond(v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable, "The PBX object exists"),
				cond(v1alpha1.ConditionSynced, metav1.ConditionTrue, v1alpha1.ReasonUpToDate, "The PBX object matches the spec")),
			status: "Progressing", msg: "Waiting for the operator to look at the latest spec",
		},
		"Updating": {
			reason: "An update sent but not confirmed is Progressing.",
			obj: extension(2, 2, nil, cond(v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable, "The PBX object exists"),
				cond(v1alpha1.ConditionSynced, metav1.ConditionFalse, v1alpha1.ReasonUpdating, "An update was sent to the PBX: label"),
				cond(v1alpha1.ConditionReconciling, metav1.ConditionTrue, v1alpha1.ReasonUpdating, "An update was sent to the PBX: label")),
			status: "Progressing", msg: "Updating: An update was sent to the PBX: label",
		},
		"Healthy": {
			reason: "Ready and in sync is Healthy.",
			obj: extension(2, 2, nil, cond(v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable, "The PBX object exists"),
				cond(v1alpha1.ConditionSynced, metav1.ConditionTrue, v1alpha1.ReasonUpToDate, "The PBX object matches the spec")),
			status: "Healthy", msg: "The PBX object exists",
		},
		"RejectedByThePBX": {
			reason: "A spec the PBX rejects is Degraded, with the PBX's message.",
			obj: extension(1, 1, nil, cond(v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonUnavailable, "The PBX object could not be created"),
				cond(v1alpha1.ConditionSynced, metav1.ConditionFalse, v1alpha1.ReasonInvalidSpec, "The number 1234567 has 7 digits"),
				cond(v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonInvalidSpec, "The number 1234567 has 7 digits")),
			status: "Degraded", msg: "InvalidSpec: The number 1234567 has 7 digits",
		},
		"ObserveOnlyDrifted": {
			reason: "An ObserveOnly resource that reports drift is Healthy, with the drift in the message.",
			obj: extension(1, 1, nil, cond(v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable, "The PBX object exists"),
				cond(v1alpha1.ConditionSynced, metav1.ConditionFalse, v1alpha1.ReasonDrifted, "The PBX object differs from the spec: label")),
			status: "Healthy", msg: "Drifted: The PBX object differs from the spec: label",
		},
		"Paused": {
			reason: "A paused resource is Suspended.",
			obj: extension(1, 1, map[string]string{v1alpha1.AnnotationPaused: "true"},
				cond(v1alpha1.ConditionSynced, metav1.ConditionFalse, v1alpha1.ReasonPaused, "Writes to the PBX are paused")),
			status: "Suspended", msg: "Writes to the PBX are paused by the pbx.cloudpbx.dev/paused annotation",
		},
		"AccountWithWrongCredentials": {
			reason: "An account whose credentials the PBX refuses is Degraded.",
			obj:    account, status: "Degraded", msg: "Unauthorized: The PBX refused the account's credentials",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			status, msg := health(t, script, tc.obj)
			if status != tc.status || msg != tc.msg {
				t.Errorf("%s\nwant %s %q\ngot  %s %q", tc.reason, tc.status, tc.msg, status, msg)
			}
		})
	}
}

// TestDocumentedSnippets: every snippet in docs/argocd.md is health.lua, indented.
func TestDocumentedSnippets(t *testing.T) {
	script, err := os.ReadFile(filepath.Join(docs, "argocd", "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(docs, "argocd.md"))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.TrimRight(string(script), "\n")
	lines := strings.Split(string(page), "\n")
	found := 0
	for i, line := range lines {
		if !strings.HasSuffix(line, "health.lua: |") && !strings.Contains(line, "resource.customizations.health.") {
			continue
		}
		indent := len(lines[i+1]) - len(strings.TrimLeft(lines[i+1], " "))
		var got []string
		for _, l := range lines[i+1:] {
			if l != "" && !strings.HasPrefix(l, strings.Repeat(" ", indent)) {
				break
			}
			got = append(got, strings.TrimPrefix(l, strings.Repeat(" ", indent)))
		}
		if g := strings.TrimRight(strings.Join(got, "\n"), "\n"); g != want {
			t.Errorf("the snippet after line %d of docs/argocd.md is not docs/argocd/health.lua", i+1)
		}
		found++
	}
	crds, err := filepath.Glob(filepath.Join("..", "..", "config", "crd", "bases", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + len(crds); found != want {
		t.Errorf("want the wildcard snippet and one per kind (%d), found %d", want, found)
	}
}
