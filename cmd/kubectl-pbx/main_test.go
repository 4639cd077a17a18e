package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// testStreams are empty stdin and two buffers.
func testStreams() (genericiooptions.IOStreams, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, &out, &errOut
}

// TestRun runs command lines that need no cluster: help, the checks of the flags, and the
// errors found before any connection.
func TestRun(t *testing.T) {
	cases := map[string]struct {
		reason  string
		args    []string
		env     map[string]string
		want    int
		wantOut string
		wantErr string
	}{
		"Help":     {reason: "no command prints the help", args: nil, want: 0, wantOut: "kubectl pbx [command]"},
		"HelpFlag": {reason: "-h prints a command's help", args: []string{"plan", "-h"}, want: 0, wantOut: "Exit code: 0 nothing to do, 2 changes"},
		"Unknown":  {reason: "an unknown command is an error", args: []string{"frobnicate"}, want: 1, wantErr: `unknown command "frobnicate"`},
		"UnknownFlag": {reason: "an unknown flag is an error that points at the help", args: []string{"status", "--frobnicate"}, want: 1,
			wantErr: "unknown flag: --frobnicate\nSee 'kubectl pbx status --help'"},
		"ExportNoSource": {reason: "export needs --account or --url", args: []string{"export"}, want: 1, wantErr: "exactly one of --account"},
		"ExportBadPolicy": {reason: "a management policy is checked", args: []string{"export", "--url", "http://127.0.0.1:1/", "--management-policy", "Sometimes"},
			want: 1, wantErr: "want ObserveOnly or Manage"},
		"ExportNoRef": {reason: "--url needs --account-ref", args: []string{"export", "--url", "http://127.0.0.1:1/"}, env: map[string]string{"PBX_CLIENT_ID": "a", "PBX_CLIENT_SECRET": "b"},
			want: 1, wantErr: "--account-ref is required"},
		"ExportUnreachable": {reason: "an unreachable PBX says so, without the secret", args: []string{"export", "--url", "http://127.0.0.1:1/", "--account-ref", "pbx"},
			env: map[string]string{"PBX_CLIENT_ID": "a", "PBX_CLIENT_SECRET": "s3cr3t"}, want: 1, wantErr: "cannot reach the PBX"},
		"ExportDirWithDashO": {reason: "export's old -o DIR names the flag that replaced it", args: []string{"export", "--account", "pbx", "-o", "pbx/"},
			want: 1, wantErr: `-o "pbx/": export writes YAML only (-o yaml); to write one file per kind into a directory, use --output-dir DIR`},
		"ExportDashOJSON": {reason: "export has no JSON output", args: []string{"export", "--account", "pbx", "-o", "json"}, want: 1, wantErr: "export writes YAML only"},
		"ExportArgument":  {reason: "export takes no arguments", args: []string{"export", "pbx"}, want: 1, wantErr: `unknown command "pbx" for "kubectl pbx export"`},
		"PlanNoFiles":     {reason: "plan needs -f", args: []string{"plan"}, want: 1, wantErr: "-f FILE"},
		"PlanUnknownFormat": {reason: "an unknown -o fails before the manifests or the cluster are read", args: []string{"plan", "-f", "missing.yaml", "-o", "xml"},
			want: 1, wantErr: `invalid argument "xml" for "-o, --output" flag: unknown output format "xml": want json or yaml (or no -o for text)`},
		"PlanWideFormat": {reason: "kubectl's other formats are not plan's", args: []string{"plan", "-f", "-", "-o", "wide"}, want: 1, wantErr: `unknown output format "wide"`},
		"StatusUnknownFormat": {reason: "status checks -o as plan does", args: []string{"status", "--output=table"}, want: 1,
			wantErr: `unknown output format "table": want json or yaml`},
		"CompletionNoShell":  {reason: "completion needs a shell", args: []string{"completion"}, want: 1, wantErr: "give one shell: bash, zsh or fish"},
		"CompletionBadShell": {reason: "completion knows three shells", args: []string{"completion", "tcsh"}, want: 1, wantErr: `give one shell: bash, zsh or fish (got ["tcsh"])`},
		"Version":            {reason: "version prints it", args: []string{"version"}, want: 0, wantOut: version + "\n"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Setenv("PBX_CLIENT_ID", "")
			t.Setenv("PBX_CLIENT_SECRET", "")
			// No kubeconfig of the machine's: the cases never reach a cluster.
			t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			streams, out, errOut := testStreams()
			got := run(context.Background(), tc.args, streams)
			if got != tc.want || !strings.Contains(out.String(), tc.wantOut) || !strings.Contains(errOut.String(), tc.wantErr) {
				t.Errorf("%s\nrun(%q) = %d, stdout %q, stderr %q; want %d, %q and %q", tc.reason, tc.args, got, out.String(), errOut.String(), tc.want, tc.wantOut, tc.wantErr)
			}
			if strings.Contains(out.String()+errOut.String(), "s3cr3t") {
				t.Errorf("%s\nthe output holds the secret", tc.reason)
			}
		})
	}
}

// TestFlags checks that every command has kubectl's connection flags and its own flags under the
// names kubectl users expect.
func TestFlags(t *testing.T) {
	streams, _, _ := testStreams()
	root := newRootCommand(newKube(), streams)
	type flag struct{ name, shorthand string }
	kubectl := []flag{
		{"kubeconfig", ""}, {"context", ""}, {"cluster", ""}, {"user", ""}, {"namespace", "n"}, {"as", ""}, {"as-group", ""},
		{"token", ""}, {"server", "s"}, {"request-timeout", ""}, {"certificate-authority", ""}, {"insecure-skip-tls-verify", ""},
	}
	cases := map[string]struct {
		reason string
		cmd    string
		want   []flag
		hidden []string
	}{
		"Export": {reason: "export writes a directory with --output-dir; its -o is hidden", cmd: "export",
			want:   []flag{{"output-dir", ""}, {"account", ""}, {"url", ""}, {"account-ref", ""}, {"management-policy", ""}, {"group", ""}, {"numbers", ""}, {"type", ""}},
			hidden: []string{"output"}},
		"Plan":   {reason: "plan reads manifests as kubectl apply does", cmd: "plan", want: []flag{{"filename", "f"}, {"output", "o"}, {"prune", ""}}},
		"Status": {reason: "status has kubectl get's -o and -A", cmd: "status", want: []flag{{"output", "o"}, {"all-namespaces", "A"}, {"errors", ""}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, _, err := root.Find([]string{tc.cmd})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range append(kubectl, tc.want...) {
				got := c.Flag(f.name)
				if got == nil || got.Shorthand != f.shorthand {
					t.Errorf("%s\n%s: flag --%s with shorthand %q missing (got %+v)", tc.reason, tc.cmd, f.name, f.shorthand, got)
				}
			}
			var hidden []string
			c.LocalFlags().VisitAll(func(f *pflag.Flag) {
				if f.Hidden {
					hidden = append(hidden, f.Name)
				}
			})
			if diff := cmp.Diff(tc.hidden, hidden); diff != "" {
				t.Errorf("%s\n%s: hidden flags (-want +got):\n%s", tc.reason, tc.cmd, diff)
			}
		})
	}
}

// TestConnectionFlags checks that kubectl's flags, given to a command, reach the connection and
// the namespace.
func TestConnectionFlags(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := clientcmdapi.Config{
		Clusters: map[string]*clientcmdapi.Cluster{
			"one": {Server: "https://one.example:6443"},
			"two": {Server: "https://two.example:6443"},
		},
		AuthInfos: map[string]*clientcmdapi.AuthInfo{"me": {Token: "kubeconfig-token"}},
		Contexts: map[string]*clientcmdapi.Context{
			"one": {Cluster: "one", AuthInfo: "me", Namespace: "telephony"},
			"two": {Cluster: "two", AuthInfo: "me"},
		},
		CurrentContext: "one",
	}
	if err := clientcmd.WriteToFile(cfg, kubeconfig); err != nil {
		t.Fatal(err)
	}
	type want struct {
		Namespace, Host, Token, As string
		Groups                     []string
		Timeout                    time.Duration
	}
	cases := map[string]struct {
		reason string
		args   []string
		want   want
	}{
		"Defaults": {reason: "the current context gives the server, the user and the namespace", args: nil,
			want: want{Namespace: "telephony", Host: "https://one.example:6443", Token: "kubeconfig-token"}},
		"Namespace": {reason: "-n wins over the context's namespace", args: []string{"-n", "other"},
			want: want{Namespace: "other", Host: "https://one.example:6443", Token: "kubeconfig-token"}},
		"Context": {reason: "--context picks another context; without a namespace it is default", args: []string{"--context", "two"},
			want: want{Namespace: "default", Host: "https://two.example:6443", Token: "kubeconfig-token"}},
		"Overrides": {reason: "the connection flags override the kubeconfig",
			args: []string{"--server", "https://three.example:6443", "--token", "flag-token", "--as", "alice", "--as-group", "ops", "--as-group", "audit", "--request-timeout", "5s"},
			want: want{Namespace: "telephony", Host: "https://three.example:6443", Token: "flag-token", As: "alice", Groups: []string{"ops", "audit"}, Timeout: 5 * time.Second}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			streams, _, errOut := testStreams()
			k := newKube()
			root := newRootCommand(k, streams)
			// Any command parses the flags; version reads nothing.
			root.SetArgs(append([]string{"version", "--kubeconfig", kubeconfig}, tc.args...))
			if err := root.Execute(); err != nil {
				t.Fatalf("%v: %s", err, errOut.String())
			}
			ns, err := k.namespace()
			if err != nil {
				t.Fatal(err)
			}
			rc, err := k.flags.ToRESTConfig()
			if err != nil {
				t.Fatal(err)
			}
			got := want{Namespace: ns, Host: rc.Host, Token: rc.BearerToken, As: rc.Impersonate.UserName, Groups: rc.Impersonate.Groups, Timeout: rc.Timeout}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\n(-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}

// TestCompletion checks the completion scripts and the values that cobra's completion command
// offers for the flags.
func TestCompletion(t *testing.T) {
	cases := map[string]struct {
		reason string
		args   []string
		want   string
	}{
		"Bash":   {reason: "a bash script for the kubectl-pbx binary", args: []string{"completion", "bash"}, want: "complete -o default -F __start_kubectl-pbx kubectl-pbx"},
		"Zsh":    {reason: "a zsh script for the kubectl-pbx binary", args: []string{"completion", "zsh"}, want: "#compdef kubectl-pbx"},
		"Fish":   {reason: "a fish script for the kubectl-pbx binary", args: []string{"completion", "fish"}, want: "complete -c kubectl-pbx"},
		"Output": {reason: "-o offers the formats", args: []string{"__complete", "status", "-o", ""}, want: "json\nyaml\n:4\n"},
		"Type":   {reason: "--type offers the extension types", args: []string{"__complete", "export", "--type", ""}, want: "Phone\nQueue\nIVR\nFax\n:4\n"},
		"Commands": {reason: "the commands are completed", args: []string{"__complete", "pl"},
			want: "plan\tShow what applying manifests would do to the PBX (exit 2: changes, 0: none, 1: error)\n:4\n"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
			streams, out, errOut := testStreams()
			if code := run(context.Background(), tc.args, streams); code != 0 {
				t.Fatalf("%s\nrun(%q) = %d: %s", tc.reason, tc.args, code, errOut.String())
			}
			if out.Len() == 0 || !strings.Contains(out.String(), tc.want) {
				t.Errorf("%s\nrun(%q) wrote %d bytes without %q:\n%.2000s", tc.reason, tc.args, out.Len(), tc.want, out.String())
			}
		})
	}
}

// TestCommandLine checks that the binary answers kubectl's plugin completion under the name
// kubectl_complete-pbx, and runs commands under any other.
func TestCommandLine(t *testing.T) {
	cases := map[string]struct {
		reason string
		argv   []string
		want   []string
	}{
		"Plugin":   {reason: "kubectl runs kubectl-pbx with the words after kubectl pbx", argv: []string{"/usr/local/bin/kubectl-pbx", "status", "-A"}, want: []string{"status", "-A"}},
		"Complete": {reason: "kubectl runs kubectl_complete-pbx with the words to complete", argv: []string{"/home/me/.krew/bin/kubectl_complete-pbx", "status", "-o", ""}, want: []string{"__complete", "status", "-o", ""}},
		"NoArgs":   {reason: "no words, no command", argv: []string{"kubectl-pbx"}, want: []string{}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, commandLine(tc.argv)); diff != "" {
				t.Errorf("%s\ncommandLine(%q) (-want +got):\n%s", tc.reason, tc.argv, diff)
			}
		})
	}
}
