package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	cases := map[string]struct {
		reason  string
		args    []string
		env     map[string]string
		want    int
		wantErr string
	}{
		"Help":           {reason: "no command prints the usage", args: nil, want: 0},
		"Unknown":        {reason: "an unknown command is an error", args: []string{"frobnicate"}, want: 1, wantErr: `unknown command "frobnicate"`},
		"ExportNoSource": {reason: "export needs --account or --url", args: []string{"export"}, want: 1, wantErr: "exactly one of --account"},
		"ExportBadPolicy": {reason: "a management policy is checked", args: []string{"export", "--url", "http://127.0.0.1:1/", "--management-policy", "Sometimes"},
			want: 1, wantErr: "want ObserveOnly or Manage"},
		"ExportNoRef": {reason: "--url needs --account-ref", args: []string{"export", "--url", "http://127.0.0.1:1/"}, env: map[string]string{"PBX_CLIENT_ID": "a", "PBX_CLIENT_SECRET": "b"},
			want: 1, wantErr: "--account-ref is required"},
		"ExportUnreachable": {reason: "an unreachable PBX says so, without the secret", args: []string{"export", "--url", "http://127.0.0.1:1/", "--account-ref", "pbx"},
			env: map[string]string{"PBX_CLIENT_ID": "a", "PBX_CLIENT_SECRET": "s3cr3t"}, want: 1, wantErr: "cannot reach the PBX"},
		"PlanNoFiles": {reason: "plan needs -f", args: []string{"plan"}, want: 1, wantErr: "-f FILE"},
		"Version":     {reason: "version prints it", args: []string{"version"}, want: 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Setenv("PBX_CLIENT_ID", "")
			t.Setenv("PBX_CLIENT_SECRET", "")
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var out, errOut bytes.Buffer
			got := run(context.Background(), tc.args, strings.NewReader(""), &out, &errOut)
			if got != tc.want || !strings.Contains(errOut.String(), tc.wantErr) {
				t.Errorf("%s\nrun(%q) = %d, stderr %q; want %d and %q", tc.reason, tc.args, got, errOut.String(), tc.want, tc.wantErr)
			}
			if strings.Contains(out.String()+errOut.String(), "s3cr3t") {
				t.Errorf("%s\nthe output holds the secret", tc.reason)
			}
		})
	}
}
