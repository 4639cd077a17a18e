package controller

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestMayNotWrite(t *testing.T) {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "alice-sip"}}
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "alice-sip", errors.New("no RBAC"))
	other := errors.New("connection refused")
	cases := map[string]struct {
		reason string
		in     error
		want   string
	}{
		"Forbidden": {
			reason: "A write the API server forbids says which namespace needs the grant, and how.",
			in:     forbidden,
			want:   "The operator may not write the credentials Secret alice-sip in namespace team-a: an administrator grants it (the Helm chart's rbac.secrets.writeNamespaces)",
		},
		"Other": {
			reason: "Other errors pass unchanged.",
			in:     other,
			want:   "connection refused",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := mayNotWrite(s, tc.in)
			if !errors.Is(got, tc.in) {
				t.Errorf("%s\nthe error wraps the API server's: %v", tc.reason, got)
			}
			if !strings.HasPrefix(got.Error(), tc.want) {
				t.Errorf("%s\nwant a message starting %q, got %q", tc.reason, tc.want, got)
			}
		})
	}
}
