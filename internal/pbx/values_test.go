package pbx

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestOptMarshal(t *testing.T) {
	cases := map[string]struct {
		reason string
		in     ExtensionUpdate
		want   string
	}{
		"Unset":  {reason: "Unset fields are left out, so a PUT leaves them unchanged.", in: ExtensionUpdate{}, want: `{}`},
		"Value":  {reason: "A set field is sent.", in: ExtensionUpdate{Label: Set("Reception")}, want: `{"label":"Reception"}`},
		"Null":   {reason: "Null sends an explicit null, which clears the field.", in: ExtensionUpdate{Label: Null[string]()}, want: `{"label":null}`},
		"Zero":   {reason: "A zero value is a value, not unset.", in: ExtensionUpdate{ANIRFC3325: Set(false), DialRuleLimit: Set(int64(0))}, want: `{"dial_rule_limit":0,"ani_rfc3325":false}`},
		"Number": {reason: "An int64 field is sent as a number.", in: ExtensionUpdate{ExtensionGroupID: Set(int64(14))}, want: `{"extension_group_id":14}`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := json.Marshal(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("%s\n-want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestOptUnsetWithoutOmitzeroFails(t *testing.T) {
	var bad struct {
		Label Opt[string] `json:"label"`
	}
	if _, err := json.Marshal(bad); !errors.Is(err, errUnsetOpt) {
		t.Errorf("marshalling an unset Opt without omitzero: got %v, want errUnsetOpt (it would clear the field)", err)
	}
}

func TestRequestTypesOmitUnsetFields(t *testing.T) {
	// A zero request marshals without error and sends only its plain required fields: every Opt
	// field is tagged omitzero.
	cases := map[string]struct {
		in   any
		want string
	}{
		"ExtensionCreate":      {in: ExtensionCreate{}, want: `{"name":""}`},
		"ExtensionUpdate":      {in: ExtensionUpdate{}, want: `{}`},
		"ExtensionGroupCreate": {in: ExtensionGroupCreate{}, want: `{"name":""}`},
		"ExtensionGroupUpdate": {in: ExtensionGroupUpdate{}, want: `{}`},
		"PhoneUpdate":          {in: PhoneUpdate{}, want: `{}`},
		"EventCreate":          {in: EventCreate{}, want: `{"url":"","event_type":"","method":""}`},
		"EventUpdate":          {in: EventUpdate{}, want: `{}`},
		"DIDUpdate":            {in: DIDUpdate{}, want: `{}`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := json.Marshal(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("-want, +got:\n%s", diff)
			}
		})
	}
}

func TestOptGet(t *testing.T) {
	type state struct {
		Value         string
		HasValue      bool
		IsNull, IsSet bool
	}
	view := func(o Opt[string]) state {
		v, ok := o.Get()
		return state{Value: v, HasValue: ok, IsNull: o.IsNull(), IsSet: !o.IsZero()}
	}
	cases := map[string]struct {
		in   Opt[string]
		want state
	}{
		"Unset": {in: Opt[string]{}, want: state{}},
		"Value": {in: Set("x"), want: state{Value: "x", HasValue: true, IsSet: true}},
		"Empty": {in: Set(""), want: state{HasValue: true, IsSet: true}},
		"Null":  {in: Null[string](), want: state{IsNull: true, IsSet: true}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, view(tc.in)); diff != "" {
				t.Errorf("-want, +got:\n%s", diff)
			}
		})
	}
}

func TestDecodeExtensionLeniently(t *testing.T) {
	cases := map[string]struct {
		reason string
		body   string
		want   Extension
	}{
		"DocExample": {
			reason: "The vendor's own example decodes, the literal \"null\" string included.",
			body: `{"id": 30, "name": "000*300", "type": "phone", "status": "active", "label": "Petrov",
				"caller_id_name": "Petrov P. P.", "client_id": 12, "extension_group_id": 14,
				"domain": "sip.ringme.ru", "create_date": "2020-03-16 12:18:08",
				"dial_rule_id": null, "dial_rule_limit": null, "did_as_transfer_caller_id": null,
				"message_did": "string", "ani_rfc3325": false, "extra_params": "null"}`,
			want: Extension{
				ID: 30, Name: "000*300", Type: "phone", Status: "active", Label: ptr("Petrov"),
				CallerIDName: ptr("Petrov P. P."), ClientID: 12, ExtensionGroupID: ptr(int64(14)),
				Domain: "sip.ringme.ru", CreateDate: "2020-03-16 12:18:08", MessageDID: ptr("string"),
				ExtraParams: ptr(LooseString("null")),
			},
		},
		"TransferCallerIDNumber": {
			reason: "did_as_transfer_caller_id may be a number.",
			body:   `{"id": 1, "did_as_transfer_caller_id": 74950000001}`,
			want:   Extension{ID: 1, DIDAsTransferCallerID: ptr(LooseString("74950000001"))},
		},
		"TransferCallerIDString": {
			reason: "did_as_transfer_caller_id may be a string.",
			body:   `{"id": 1, "did_as_transfer_caller_id": "74950000001"}`,
			want:   Extension{ID: 1, DIDAsTransferCallerID: ptr(LooseString("74950000001"))},
		},
		"UnknownAndLegacyFields": {
			reason: "Fields the client does not know (legacy caller-id fields, new ones) are ignored.",
			body:   `{"id": 1, "public_caller_id_number": 5, "rfc_public_caller_id_number": true, "caller_id_group_method": {"x": 1}}`,
			want:   Extension{ID: 1},
		},
		"ExtraParamsObject": {
			reason: "extra_params holding a JSON object is kept as its text.",
			body:   `{"id": 1, "extra_params": {"crm": "x", "n": [1, 2]}}`,
			want:   Extension{ID: 1, ExtraParams: ptr(LooseString(`{"crm":"x","n":[1,2]}`))},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var got Extension
			if err := json.Unmarshal([]byte(tc.body), &got); err != nil {
				t.Fatalf("%s\nUnmarshal: %v", tc.reason, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\n-want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestLooseInt(t *testing.T) {
	cases := map[string]struct {
		body    string
		want    LooseInt
		wantErr bool
	}{
		"Number":    {body: `3`, want: 3},
		"String":    {body: `"3"`, want: 3},
		"Null":      {body: `null`, want: 0},
		"Fraction":  {body: `3.5`, wantErr: true},
		"NotNumber": {body: `"three"`, wantErr: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var got LooseInt
			err := json.Unmarshal([]byte(tc.body), &got)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("Unmarshal(%s) = %d, %v; want %d, error %t", tc.body, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestClientInfoExtensionLen(t *testing.T) {
	for _, body := range []string{`{"extension_len": "3"}`, `{"extension_len": 3}`} {
		var info ClientInfo
		if err := json.Unmarshal([]byte(body), &info); err != nil || info.ExtensionLen != 3 {
			t.Errorf("Unmarshal(%s): extension_len %d, %v; want 3", body, info.ExtensionLen, err)
		}
	}
}

func TestTimezoneForms(t *testing.T) {
	var got []Timezone
	if err := json.Unmarshal([]byte(`[{"name": "UTC"}, "Europe/Moscow"]`), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Timezone{{Name: "UTC"}, {Name: "Europe/Moscow"}}, got); diff != "" {
		t.Errorf("objects and bare strings: -want, +got:\n%s", diff)
	}
}
