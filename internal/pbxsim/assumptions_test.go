package pbxsim_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

func TestAssumptions(t *testing.T) {
	type args struct {
		assume pbxsim.Assumptions
		method string
		path   string // {ext} and {did} stand for the ids of the fixture
		body   map[string]any
	}
	type want struct {
		status  int
		message string // of a 400
		field   string // a field of the answer that must be null
	}
	cases := map[string]struct {
		reason string
		args   args
		want   want
	}{
		"EmptyPhonePasswordAccepted": {
			reason: "By default an empty SIP password is accepted.",
			args:   args{method: http.MethodPut, path: "/extension/{ext}/phone/", body: map[string]any{"password": ""}},
			want:   want{status: http.StatusOK},
		},
		"EmptyPhonePasswordRejected": {
			reason: "RejectEmptyPhonePassword refuses it.",
			args:   args{assume: pbxsim.Assumptions{RejectEmptyPhonePassword: true}, method: http.MethodPut, path: "/extension/{ext}/phone/", body: map[string]any{"password": ""}},
			want:   want{status: http.StatusBadRequest, message: "password: must not be empty"},
		},
		"PhonePasswordAccepted": {
			reason: "RejectEmptyPhonePassword takes a password that is not empty.",
			args:   args{assume: pbxsim.Assumptions{RejectEmptyPhonePassword: true}, method: http.MethodPut, path: "/extension/{ext}/phone/", body: map[string]any{"password": "s3cret"}},
			want:   want{status: http.StatusOK},
		},
		"PhoneWithoutPassword": {
			reason: "RejectEmptyPhonePassword does not refuse a PUT that leaves the password alone.",
			args:   args{assume: pbxsim.Assumptions{RejectEmptyPhonePassword: true}, method: http.MethodPut, path: "/extension/{ext}/phone/", body: map[string]any{"record_enabled": true}},
			want:   want{status: http.StatusOK},
		},
		"ZeroGroupOnCreateRefused": {
			reason: "By default 0 is a group that does not exist.",
			args:   args{method: http.MethodPost, path: "/client/@me/extension/", body: map[string]any{"name": "102", "extension_group_id": 0}},
			want:   want{status: http.StatusBadRequest, message: "extension_group_id: extension group 0 does not exist"},
		},
		"ZeroGroupOnCreateIsNone": {
			reason: "ZeroIDIsNone reads 0 as no group.",
			args:   args{assume: pbxsim.Assumptions{ZeroIDIsNone: true}, method: http.MethodPost, path: "/client/@me/extension/", body: map[string]any{"name": "102", "extension_group_id": 0}},
			want:   want{status: http.StatusCreated, field: "extension_group_id"},
		},
		"ZeroGroupOnUpdateRefused": {
			reason: "By default a PUT of 0 does not take the extension out of its group.",
			args:   args{method: http.MethodPut, path: "/client/@me/extension/{ext}", body: map[string]any{"extension_group_id": 0}},
			want:   want{status: http.StatusBadRequest, message: "extension_group_id: extension group 0 does not exist"},
		},
		"ZeroGroupOnUpdateIsNone": {
			reason: "ZeroIDIsNone takes the extension out of its group.",
			args:   args{assume: pbxsim.Assumptions{ZeroIDIsNone: true}, method: http.MethodPut, path: "/client/@me/extension/{ext}", body: map[string]any{"extension_group_id": 0}},
			want:   want{status: http.StatusOK, field: "extension_group_id"},
		},
		"ZeroDIDExtensionRefused": {
			reason: "By default 0 is an extension that does not exist.",
			args:   args{method: http.MethodPut, path: "/client/@me/did/{did}", body: map[string]any{"extension_id": 0}},
			want:   want{status: http.StatusBadRequest, message: "extension_id: extension 0 does not exist"},
		},
		"ZeroDIDExtensionIsNone": {
			reason: "ZeroIDIsNone unassigns the DID.",
			args:   args{assume: pbxsim.Assumptions{ZeroIDIsNone: true}, method: http.MethodPut, path: "/client/@me/did/{did}", body: map[string]any{"extension_id": 0}},
			want:   want{status: http.StatusOK, field: "extension_id"},
		},
		"ZeroDIDMessageExtensionIsNone": {
			reason: "ZeroIDIsNone also covers message_extension_id.",
			args:   args{assume: pbxsim.Assumptions{ZeroIDIsNone: true}, method: http.MethodPut, path: "/client/@me/did/{did}", body: map[string]any{"message_extension_id": 0}},
			want:   want{status: http.StatusOK, field: "message_extension_id"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := pbxsim.DemoConfig()
			cfg.Assumptions = tc.args.assume
			e := newEnv(t, cfg, pbxsim.WithStrictSlashes())
			c := e.as(pbxsim.DemoTrustedAppID)
			g := must(t, c.do(http.MethodPost, "/client/@me/extension_group/", map[string]any{"name": "Sales"}), http.StatusCreated).obj(t)
			x := must(t, c.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "101", "extension_group_id": g["id"]}), http.StatusCreated).obj(t)
			did := must(t, c.do(http.MethodGet, "/client/@me/did/", nil), http.StatusOK).list(t)[0]
			must(t, c.do(http.MethodPut, "/client/@me/did/"+num(did["id"]), map[string]any{"extension_id": x["id"], "message_extension_id": x["id"]}), http.StatusOK)

			path := strings.NewReplacer("{ext}", num(x["id"]), "{did}", num(did["id"])).Replace(tc.args.path)
			r := c.do(tc.args.method, path, tc.args.body)
			if r.status != tc.want.status {
				t.Fatalf("%s\nwant %d, got %d: %s", tc.reason, tc.want.status, r.status, r.body)
			}
			if tc.want.message != "" && r.message(t) != tc.want.message {
				t.Errorf("%s\nwant message %q, got %q", tc.reason, tc.want.message, r.message(t))
			}
			if tc.want.field != "" {
				if v, present := r.obj(t)[tc.want.field]; !present || v != nil {
					t.Errorf("%s\nwant %s null, got %v", tc.reason, tc.want.field, r.obj(t))
				}
			}
		})
	}
}
