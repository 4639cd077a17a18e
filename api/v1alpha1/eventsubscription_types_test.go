package v1alpha1_test

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/cloudpbx/pbx-operator/api/v1alpha1"
)

func subscription(mods ...func(*v1alpha1.EventSubscription)) *v1alpha1.EventSubscription {
	s := &v1alpha1.EventSubscription{
		ObjectMeta: metav1.ObjectMeta{Name: "sub"},
		Spec: v1alpha1.EventSubscriptionSpec{
			ManagedSpec:  v1alpha1.ManagedSpec{AccountRef: accountRef()},
			ExtensionRef: v1alpha1.ExtensionReference{Name: "alice"},
			EventType:    v1alpha1.EventTypeHangup,
			URL:          "https://hooks.example/calls",
		},
	}
	for _, m := range mods {
		m(s)
	}
	return s
}

func withURL(u string) func(*v1alpha1.EventSubscription) {
	return func(s *v1alpha1.EventSubscription) { s.Spec.URL = u }
}

func withService(ref v1alpha1.ServiceReference) func(*v1alpha1.EventSubscription) {
	return func(s *v1alpha1.EventSubscription) {
		s.Spec.URL = ""
		s.Spec.ServiceRef = ref
	}
}

func TestEventSubscriptionValidation(t *testing.T) {
	needAPIServer(t)
	svc := v1alpha1.ServiceReference{Name: "hooks", Port: 8080, Scheme: v1alpha1.URLSchemeHTTP}

	type args struct {
		// obj is created; if update is set, the create must succeed and the update is checked.
		obj    *v1alpha1.EventSubscription
		update func(*v1alpha1.EventSubscription)
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
		"Minimal": {
			reason: "An extension, an event type and a URL make a subscription.",
			args:   args{obj: subscription()},
		},
		"ByExtensionID": {
			reason: "A raw PBX extension id works instead of an Extension.",
			args: args{obj: subscription(func(s *v1alpha1.EventSubscription) {
				s.Spec.ExtensionRef = v1alpha1.ExtensionReference{}
				s.Spec.ExtensionID = 303001
			})},
		},
		"NoExtension": {
			reason: "A subscription belongs to an extension.",
			args: args{obj: subscription(func(s *v1alpha1.EventSubscription) {
				s.Spec.ExtensionRef = v1alpha1.ExtensionReference{}
			})},
			want: want{err: "set exactly one of extensionRef and extensionID"},
		},
		"BothExtensions": {
			reason: "The extension is named one way.",
			args:   args{obj: subscription(func(s *v1alpha1.EventSubscription) { s.Spec.ExtensionID = 303001 })},
			want:   want{err: "set exactly one of extensionRef and extensionID"},
		},
		"ExtensionIDNotPositive": {
			reason: "PBX ids are positive.",
			args: args{obj: subscription(func(s *v1alpha1.EventSubscription) {
				s.Spec.ExtensionRef = v1alpha1.ExtensionReference{}
				s.Spec.ExtensionID = -1
			})},
			want: want{err: "spec.extensionID in body should be greater than or equal to 1"},
		},
		"ExtensionRefChanged": {
			reason: "The PBX cannot move a subscription to another extension.",
			args: args{obj: subscription(), update: func(s *v1alpha1.EventSubscription) {
				s.Spec.ExtensionRef.Name = "bob"
			}},
			want: want{err: "extensionRef is immutable: the PBX cannot move a subscription to another extension"},
		},
		"ExtensionIDChanged": {
			reason: "The raw extension id is immutable too.",
			args: args{obj: subscription(func(s *v1alpha1.EventSubscription) {
				s.Spec.ExtensionRef = v1alpha1.ExtensionReference{}
				s.Spec.ExtensionID = 303001
			}), update: func(s *v1alpha1.EventSubscription) { s.Spec.ExtensionID = 303002 }},
			want: want{err: "extensionID is immutable"},
		},
		"ExtensionRefReplacedByID": {
			reason: "Swapping the Extension for a raw id could name another extension.",
			args: args{obj: subscription(), update: func(s *v1alpha1.EventSubscription) {
				s.Spec.ExtensionRef = v1alpha1.ExtensionReference{}
				s.Spec.ExtensionID = 303001
			}},
			want: want{err: "the extension is immutable"},
		},
		"EventTypeChanged": {
			reason: "The PBX changes a subscription's event type in place.",
			args: args{obj: subscription(), update: func(s *v1alpha1.EventSubscription) {
				s.Spec.EventType = v1alpha1.EventTypeAnswer
			}},
		},
		"EventTypeWireSpelling": {
			reason: "Event types are PascalCase, as the API's other enums; the PBX's spelling is the operator's business.",
			args:   args{obj: subscription(func(s *v1alpha1.EventSubscription) { s.Spec.EventType = "dial-in" })},
			want: want{err: `spec.eventType: Unsupported value: "dial-in": supported values: "DialIn", "DialOut", "Answer", "Hangup", ` +
				`"MessageIn", "MessageOut", "Voicemail"`},
		},
		"NoEventType": {
			reason: "The event type is required.",
			args:   args{obj: subscription(func(s *v1alpha1.EventSubscription) { s.Spec.EventType = "" })},
			want:   want{err: "spec.eventType: Required value"},
		},
		"MethodGET": {
			reason: "GET sends the event in headers.",
			args: args{obj: subscription(func(s *v1alpha1.EventSubscription) {
				s.Spec.Method = v1alpha1.EventMethodGET
			})},
		},
		"MethodUnknown": {
			reason: "The PBX calls with GET or POST.",
			args:   args{obj: subscription(func(s *v1alpha1.EventSubscription) { s.Spec.Method = "PUT" })},
			want:   want{err: `spec.method: Unsupported value: "PUT": supported values: "GET", "POST"`},
		},
		"PlainHTTPRemoteIP": {
			reason: "Call data (and the token a query often carries) never travel in clear text to a remote host.",
			args:   args{obj: subscription(withURL("http://10.0.0.7:8099/calls?token=abc"))},
			want:   want{err: "url must use https: plain http is allowed only for loopback hosts (localhost, 127.0.0.0/8, [::1]) and in-cluster Services (name.namespace.svc)"},
		},
		"PlainHTTPRemoteHost": {
			reason: "A host name outside the cluster is remote.",
			args:   args{obj: subscription(withURL("http://hooks.example/calls"))},
			want:   want{err: "url must use https"},
		},
		"PlainHTTPLookalikeLoopback": {
			reason: "A host that only starts like localhost is remote.",
			args:   args{obj: subscription(withURL("http://localhost.hooks.example/calls"))},
			want:   want{err: "url must use https"},
		},
		"PlainHTTPLookalikeService": {
			reason: "A host that only contains .svc is remote.",
			args:   args{obj: subscription(withURL("http://hooks.crm.svc.example/calls"))},
			want:   want{err: "url must use https"},
		},
		"PlainHTTPLoopbackIPv4": {
			reason: "Plain http to a loopback address serves a local receiver, as in the samples.",
			args:   args{obj: subscription(withURL("http://127.0.0.1:8099/calls?token=abc"))},
		},
		"PlainHTTPLoopbackIPv6": {
			reason: "IPv6 loopback counts as loopback.",
			args:   args{obj: subscription(withURL("http://[::1]:8099/calls"))},
		},
		"PlainHTTPLocalhost": {
			reason: "localhost counts as loopback.",
			args:   args{obj: subscription(withURL("http://localhost/calls"))},
		},
		"PlainHTTPService": {
			reason: "An in-cluster Service, as serviceRef builds it, may be plain http.",
			args:   args{obj: subscription(withURL("http://call-hooks.crm.svc:8080/pbx/calls"))},
		},
		"PlainHTTPServiceFQDN": {
			reason: "The Service's full cluster name counts too.",
			args:   args{obj: subscription(withURL("http://call-hooks.crm.svc.cluster.local/pbx/calls"))},
		},
		"NoTarget": {
			reason: "The PBX needs somewhere to call.",
			args:   args{obj: subscription(withURL(""))},
			want:   want{err: "set exactly one of url and serviceRef"},
		},
		"URLAndService": {
			reason: "The target is named one way.",
			args: args{obj: subscription(func(s *v1alpha1.EventSubscription) {
				s.Spec.ServiceRef = svc
			})},
			want: want{err: "set exactly one of url and serviceRef"},
		},
		"URLNotAbsolute": {
			reason: "The URL must be absolute.",
			args:   args{obj: subscription(withURL("hooks.example/calls"))},
			want:   want{err: "url must be an absolute http(s) URL such as https://hooks.example/calls"},
		},
		"URLOtherScheme": {
			reason: "The PBX speaks http(s) only.",
			args:   args{obj: subscription(withURL("ftp://hooks.example/calls"))},
			want:   want{err: "url must be an absolute http(s) URL"},
		},
		"URLUserinfo": {
			reason: "Credentials never sit in a URL that kubectl get prints.",
			args:   args{obj: subscription(withURL("https://user:pw@hooks.example/calls"))},
			want:   want{err: "url must not contain a user name or password"},
		},
		"URLAtInPath": {
			reason: "An @ after the host is part of the path, not userinfo.",
			args:   args{obj: subscription(withURL("https://hooks.example/calls/@alice"))},
		},
		"URLFragment": {
			reason: "A fragment never reaches the server.",
			args:   args{obj: subscription(withURL("https://hooks.example/calls#top"))},
			want:   want{err: "url must not have a fragment"},
		},
		"URLLongest": {
			reason: "The longest URL allowed stays within the CEL cost budget and is accepted.",
			args:   args{obj: subscription(withURL("https://hooks.example/" + strings.Repeat("a", 2048-len("https://hooks.example/"))))},
		},
		"URLTooLong": {
			reason: "URLs are bounded.",
			args:   args{obj: subscription(withURL("https://hooks.example/" + strings.Repeat("a", 2048)))},
			want:   want{err: "spec.url: Too long: may not be more than 2048 bytes"},
		},
		"Service": {
			reason: "A Service port with a scheme is a target.",
			args:   args{obj: subscription(withService(svc))},
		},
		"ServiceFull": {
			reason: "Every optional serviceRef field within its bounds is valid.",
			args: args{obj: subscription(withService(v1alpha1.ServiceReference{
				Name: "hooks", Namespace: "integrations", Port: 443, Scheme: v1alpha1.URLSchemeHTTPS, Path: "/calls?source=pbx",
			}))},
		},
		"ServiceWithoutPort": {
			reason: "The port is required: the operator does not read the Service to guess it.",
			args:   args{obj: subscription(withService(v1alpha1.ServiceReference{Name: "hooks", Scheme: v1alpha1.URLSchemeHTTP}))},
			want:   want{err: "spec.serviceRef.port: Required value"},
		},
		"ServiceWithoutScheme": {
			reason: "The scheme is required.",
			args:   args{obj: subscription(withService(v1alpha1.ServiceReference{Name: "hooks", Port: 80}))},
			want:   want{err: "spec.serviceRef.scheme: Required value"},
		},
		"ServiceBadScheme": {
			reason: "The PBX calls http or https.",
			args:   args{obj: subscription(withService(v1alpha1.ServiceReference{Name: "hooks", Port: 80, Scheme: "ftp"}))},
			want:   want{err: `spec.serviceRef.scheme: Unsupported value: "ftp": supported values: "http", "https"`},
		},
		"ServicePortTooHigh": {
			reason: "Ports are 1 to 65535.",
			args:   args{obj: subscription(withService(v1alpha1.ServiceReference{Name: "hooks", Port: 70000, Scheme: v1alpha1.URLSchemeHTTP}))},
			want:   want{err: "spec.serviceRef.port in body should be less than or equal to 65535"},
		},
		"ServiceBadName": {
			reason: "A Service name is a DNS label.",
			args:   args{obj: subscription(withService(v1alpha1.ServiceReference{Name: "Hooks.x", Port: 80, Scheme: v1alpha1.URLSchemeHTTP}))},
			want:   want{err: "spec.serviceRef.name"},
		},
		"ServicePathWithoutSlash": {
			reason: "The path is appended to the host and port.",
			args:   args{obj: subscription(withService(v1alpha1.ServiceReference{Name: "hooks", Port: 80, Scheme: v1alpha1.URLSchemeHTTP, Path: "calls"}))},
			want:   want{err: "path must start with a slash, such as /calls"},
		},
		"ServicePathFragment": {
			reason: "A fragment never reaches the server.",
			args:   args{obj: subscription(withService(v1alpha1.ServiceReference{Name: "hooks", Port: 80, Scheme: v1alpha1.URLSchemeHTTP, Path: "/calls#x"}))},
			want:   want{err: "path must not have a fragment"},
		},
		"URLReplacedByService": {
			reason: "The target may change: the PBX changes a subscription's URL in place.",
			args: args{obj: subscription(), update: func(s *v1alpha1.EventSubscription) {
				s.Spec.URL = ""
				s.Spec.ServiceRef = svc
			}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			check(t, tc.reason, admit(t, tc.reason, tc.args.obj, tc.args.update), tc.want.err)
		})
	}
}

func TestEventSubscriptionDefaults(t *testing.T) {
	needAPIServer(t)
	s := subscription()
	s.SetNamespace(namespace(t))
	if err := k.Create(context.Background(), s); err != nil {
		t.Fatalf("creating a minimal EventSubscription: %v", err)
	}
	if s.Spec.Method != v1alpha1.EventMethodPOST {
		t.Errorf("method: want %q by default, got %q", v1alpha1.EventMethodPOST, s.Spec.Method)
	}
	if s.Status.ObservedGeneration == nil || *s.Status.ObservedGeneration != 0 {
		t.Errorf("a new EventSubscription reads status.observedGeneration 0: %+v", s.Status)
	}
}
