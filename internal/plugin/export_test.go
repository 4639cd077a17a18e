package plugin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
)

func TestGroupNames(t *testing.T) {
	cases := map[string]struct {
		reason string
		groups []pbx.ExtensionGroup
		want   map[int64]string
	}{
		"Plain": {
			reason: "a name becomes lower-case with dashes",
			groups: []pbx.ExtensionGroup{{ID: 1, Name: "Support Team (2nd line)"}},
			want:   map[int64]string{1: "support-team-2nd-line"},
		},
		"CollisionKeepsLowestID": {
			reason: "names that derive to one keep it for the lowest id, so a group added later never renames an exported one",
			groups: []pbx.ExtensionGroup{{ID: 9, Name: "sales"}, {ID: 3, Name: "Sales"}, {ID: 12, Name: "SALES!"}},
			want:   map[int64]string{3: "sales", 9: "sales-9", 12: "sales-12"},
		},
		"SuffixTakenByAnotherGroup": {
			reason: "a suffixed name equal to another group's own name falls back to group-<id>",
			groups: []pbx.ExtensionGroup{{ID: 1, Name: "a"}, {ID: 2, Name: "a-3"}, {ID: 3, Name: "A"}},
			want:   map[int64]string{1: "a", 2: "a-3", 3: "group-3"},
		},
		"NothingUsable": {
			reason: "a name in another script becomes group-<id>",
			groups: []pbx.ExtensionGroup{{ID: 4, Name: "Отдел кадров"}},
			want:   map[int64]string{4: "group-4"},
		},
		"Long": {
			reason: "names are cut to a DNS label, leaving room for the id suffix",
			groups: []pbx.ExtensionGroup{{ID: 1, Name: strings.Repeat("x", 100)}},
			want:   map[int64]string{1: strings.Repeat("x", 61)},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, groupNames(tc.groups)); diff != "" {
				t.Errorf("%s\ngroupNames(): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestExtensionName(t *testing.T) {
	cases := map[string]struct {
		reason, number, label, want string
	}{
		"NumberAndLabel": {"number and label", "101", "Alice Smith", "ext-101-alice-smith"},
		"NoLabel":        {"the number alone", "007", "", "ext-007"},
		"OtherScript":    {"a label with nothing usable is left out", "103", "Иван", "ext-103"},
		"Long":           {"cut to 63 characters without a trailing dash", "101", strings.Repeat("ab ", 40), "ext-101-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-a"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := extensionName(tc.number, tc.label)
			if got != tc.want || len(got) > maxNameLength {
				t.Errorf("%s\nextensionName(%q, %q) = %q, want %q", tc.reason, tc.number, tc.label, got, tc.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// exported is what a test compares of an export: object names, with the spec fields that vary.
type exported struct {
	Groups     []string
	Extensions []string
	Warnings   int
}

func summary(e Export) exported {
	var s exported
	for _, g := range e.Groups {
		s.Groups = append(s.Groups, g.Name+"="+g.Spec.Name+" id="+g.Annotations[v1alpha1.AnnotationExternalID])
	}
	for _, x := range e.Extensions {
		group := ""
		if x.Spec.GroupRef != nil {
			group = " groupRef=" + x.Spec.GroupRef.Name
		}
		if x.Spec.GroupID != 0 {
			group = " groupID=" + idText(x.Spec.GroupID)
		}
		s.Extensions = append(s.Extensions, x.Name+" "+string(x.Spec.Type)+" "+string(x.Spec.State)+group+" id="+x.Annotations[v1alpha1.AnnotationExternalID])
	}
	s.Warnings = len(e.Warnings)
	return s
}

func TestBuild(t *testing.T) {
	tn := Tenant{
		Groups: []pbx.ExtensionGroup{{ID: 1, Name: "Sales"}, {ID: 2, Name: "Support"}, {ID: 3, Name: "Empty"}},
		Extensions: []pbx.Extension{
			{ID: 11, Name: "0003*200", Type: "queue", Status: "active", Label: ptr("Queue"), ExtensionGroupID: ptr[int64](2)},
			{ID: 10, Name: "0003*101", Type: "phone", Status: "blocked", Label: ptr("Alice"), ExtensionGroupID: ptr[int64](1)},
			{ID: 12, Name: "0003*150", Type: "phone", Status: "active", ExtensionGroupID: ptr[int64](99)},
			{ID: 13, Name: "0003*300", Type: "pager", Status: "active"},
			{ID: 14, Name: "0003*099", Type: "fax", Status: "active"},
		},
	}
	cases := map[string]struct {
		reason string
		filter Filter
		want   exported
	}{
		"Everything": {
			reason: "every group (the empty one too), every extension sorted by number; an unknown group is a raw groupID, an unknown type is left out with a warning",
			want: exported{
				Groups: []string{"empty=Empty id=3", "sales=Sales id=1", "support=Support id=2"},
				Extensions: []string{
					"ext-099 Fax Active id=14",
					"ext-101-alice Phone Blocked groupRef=sales id=10",
					"ext-150 Phone Active groupID=99 id=12",
					"ext-200-queue Queue Active groupRef=support id=11",
				},
				Warnings: 1,
			},
		},
		"ByGroup": {
			reason: "a group by its PBX name, with its members",
			filter: Filter{Group: "Sales"},
			want:   exported{Groups: []string{"sales=Sales id=1"}, Extensions: []string{"ext-101-alice Phone Blocked groupRef=sales id=10"}},
		},
		"ByExportedGroupName": {
			reason: "a group by its exported name",
			filter: Filter{Group: "support"},
			want:   exported{Groups: []string{"support=Support id=2"}, Extensions: []string{"ext-200-queue Queue Active groupRef=support id=11"}},
		},
		"UnknownGroup": {
			reason: "a group that does not exist selects nothing and warns",
			filter: Filter{Group: "Nope"},
			want:   exported{Warnings: 1},
		},
		"ByNumbers": {
			reason: "a number range keeps the groups of the selected extensions only",
			filter: Filter{NumberMin: 100, NumberMax: 199},
			want: exported{
				Groups:     []string{"sales=Sales id=1"},
				Extensions: []string{"ext-101-alice Phone Blocked groupRef=sales id=10", "ext-150 Phone Active groupID=99 id=12"},
			},
		},
		"ByType": {
			reason: "a type",
			filter: Filter{Type: v1alpha1.ExtensionTypeQueue},
			want:   exported{Groups: []string{"support=Support id=2"}, Extensions: []string{"ext-200-queue Queue Active groupRef=support id=11"}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := Build(tn, ExportOptions{AccountRef: v1alpha1.AccountReference{Kind: v1alpha1.AccountKindAccount, Name: "pbx"}, Filter: tc.filter})
			if diff := cmp.Diff(tc.want, summary(got)); diff != "" {
				t.Errorf("%s\nBuild(): -want, +got:\n%s\nwarnings: %v", tc.reason, diff, got.Warnings)
			}
			for _, x := range got.Extensions {
				if x.Spec.ManagementPolicy != v1alpha1.ManagementPolicyObserveOnly || x.Spec.AccountRef.Name != "pbx" {
					t.Errorf("%s\n%s: managementPolicy %q, accountRef %v; want ObserveOnly and pbx", tc.reason, x.Name, x.Spec.ManagementPolicy, x.Spec.AccountRef)
				}
			}
		})
	}
}

// TestExtensionSpecIsUpToDate checks the export mapping against the diff plan uses: an exported
// spec has no changes against the PBX object it came from.
func TestExtensionSpecIsUpToDate(t *testing.T) {
	cases := map[string]struct {
		reason string
		x      pbx.Extension
	}{
		"Full": {"every mapped field set", pbx.Extension{ID: 1, Name: "0003*101", Type: "phone", Status: "blocked", Label: ptr("A"), CallerIDName: ptr("B"),
			ExtraParams: ptr(pbx.LooseString(`{"a":1}`)), ExtensionGroupID: ptr[int64](5), DialRuleID: ptr[int64](7)}},
		"Empty": {"nothing optional set", pbx.Extension{ID: 2, Name: "0003*102", Type: "ivr", Status: "active"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			spec, err := extensionSpec(&tc.x, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := extensionChanges(&spec, deref(tc.x.ExtensionGroupID), &tc.x); len(got) != 0 {
				t.Errorf("%s\nextensionChanges() = %v, want none", tc.reason, got)
			}
		})
	}
}

func TestParseNumbers(t *testing.T) {
	cases := map[string]struct {
		in      string
		lo, hi  int64
		wantErr bool
	}{
		"Range":    {in: "100-199", lo: 100, hi: 199},
		"One":      {in: "101", lo: 101, hi: 101},
		"Reversed": {in: "199-100", wantErr: true},
		"Words":    {in: "a-b", wantErr: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			lo, hi, err := ParseNumbers(tc.in)
			if (err != nil) != tc.wantErr || lo != tc.lo || hi != tc.hi {
				t.Errorf("ParseNumbers(%q) = %d, %d, %v", tc.in, lo, hi, err)
			}
		})
	}
}

// TestBuildNumbersAndWebhooks: routed numbers are exported bound by their digits and routed to
// the exported Extensions; the webhooks of the exported extensions are exported bound by id; what
// the API server would refuse is left out with a warning, and a token in a URL is warned about.
func TestBuildNumbersAndWebhooks(t *testing.T) {
	ten, eleven, twelve := int64(10), int64(11), int64(12)
	comment := "Reception"
	tenant := Tenant{
		Extensions: []pbx.Extension{pbxExt(10, "101", "Alice", 0), pbxExt(11, "102", "Bob", 0)},
		DIDs: []pbx.DID{
			{ID: 50, Name: "74950000001", ExtensionID: &ten, Comment: &comment},
			{ID: 51, Name: "74950000002", ExtensionID: &twelve, AllowMessage: true, MessageExtensionID: &eleven},
			{ID: 52, Name: "74950000003"},
		},
		Events: map[int64][]pbx.Event{
			10: {
				{ID: 70, URL: "https://crm.example/calls?token=s3cret", EventType: pbx.EventHangup, Method: "POST"},
				{ID: 71, URL: "http://crm.example/calls", EventType: pbx.EventDialIn, Method: "GET"},
			},
			12: {{ID: 72, URL: "https://other.example/", EventType: pbx.EventAnswer, Method: "POST"}},
		},
	}
	ref := v1alpha1.AccountReference{Kind: v1alpha1.AccountKindAccount, Name: "pbx"}
	ex := Build(tenant, ExportOptions{AccountRef: ref})
	var numbers []v1alpha1.PhoneNumberSpec
	for _, n := range ex.PhoneNumbers {
		if n.Annotations[v1alpha1.AnnotationExternalID] != "" {
			t.Errorf("a number is bound by its digits, not an id: %v", n.Annotations)
		}
		numbers = append(numbers, n.Spec)
	}
	observe := v1alpha1.ManagedSpec{AccountRef: ref, ManagementPolicy: v1alpha1.ManagementPolicyObserveOnly}
	want := []v1alpha1.PhoneNumberSpec{
		{ManagedSpec: observe, Number: "74950000001", ExtensionRef: v1alpha1.PhoneNumberExtensionReference{Name: "ext-101-alice"}, Comment: "Reception"},
		{ManagedSpec: observe, Number: "74950000002", ExtensionID: 12, Messages: v1alpha1.PhoneNumberMessagesEnabled,
			MessageExtensionRef: v1alpha1.PhoneNumberExtensionReference{Name: "ext-102-bob"}},
	}
	if diff := cmp.Diff(want, numbers); diff != "" {
		t.Errorf("routed numbers, free ones left out: -want +got:\n%s", diff)
	}
	if len(ex.EventSubscriptions) != 1 {
		t.Fatalf("one webhook of an exported extension applies as it is: %+v", ex.EventSubscriptions)
	}
	s := ex.EventSubscriptions[0]
	if s.Name != "ext-101-alice-hangup-70" || s.Annotations[v1alpha1.AnnotationExternalID] != "70" || s.Spec.ExtensionRef.Name != "ext-101-alice" ||
		s.Spec.EventType != v1alpha1.EventTypeHangup || s.Spec.Method != v1alpha1.EventMethodPOST || s.Spec.URL != "https://crm.example/calls?token=s3cret" {
		t.Errorf("the webhook as exported: %s %v %+v", s.Name, s.Annotations, s.Spec)
	}
	warnings := strings.Join(ex.Warnings, "\n")
	for _, w := range []string{"Left out the subscription 71 of the extension ext-101-alice: its URL uses plain http", "subscription 70 of the extension ext-101-alice has a query in its URL"} {
		if !strings.Contains(warnings, w) {
			t.Errorf("warning %q missing from:\n%s", w, warnings)
		}
	}
	if strings.Contains(warnings, "s3cret") {
		t.Errorf("a warning shows a token:\n%s", warnings)
	}
}

// TestWebhookProblem: export leaves out the webhooks the CRD's rules refuse, with their reason,
// and keeps the ones it takes.
func TestWebhookProblem(t *testing.T) {
	cases := map[string]struct {
		url  string
		want string
	}{
		"HTTPS":             {url: "https://crm.example/calls?token=x"},
		"PlainToLoopback":   {url: "http://127.0.0.1:8080/hook"},
		"PlainToIPv6":       {url: "http://[::1]:8080/hook"},
		"PlainToService":    {url: "http://crm.telephony.svc:8080/"},
		"PlainToPublicHost": {url: "http://crm.example/", want: "plain http"},
		"UpperCaseScheme":   {url: "HTTPS://crm.example/", want: "in lower case"},
		"UpperCaseService":  {url: "http://CRM.telephony.svc/", want: "plain http"},
		"LongIPv6Loopback":  {url: "http://[0:0:0:0:0:0:0:1]/", want: "plain http"},
		"UserInfo":          {url: "https://user:pw@crm.example/", want: "user name"},
		"Fragment":          {url: "https://crm.example/#x", want: "fragment"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			spec := v1alpha1.EventSubscriptionSpec{EventType: v1alpha1.EventTypeHangup, Method: v1alpha1.EventMethodPOST, URL: tc.url}
			got := webhookProblem(&spec)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("webhookProblem(%q) = %q, want one saying %q", tc.url, got, tc.want)
			}
		})
	}
}

// TestWriteDirReplacesAnEarlierExport: a second export into the same directory leaves no file of
// a kind it no longer has (kubectl pbx plan -f DIR would read it), and the webhooks' file, whose
// URLs may hold tokens, is readable by its owner only.
func TestWriteDirReplacesAnEarlierExport(t *testing.T) {
	dir := t.TempDir()
	first := Export{EventSubscriptions: []v1alpha1.EventSubscription{{}}, Extensions: []v1alpha1.Extension{{}}}
	if err := first.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "eventsubscriptions.yaml"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the webhooks' file is the owner's only: %v %v", st, err)
	}
	if err := (&Export{Extensions: []v1alpha1.Extension{{}}}).WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "eventsubscriptions.yaml")); !os.IsNotExist(err) {
		t.Errorf("the earlier export's webhooks are gone: %v", err)
	}
	kust, _ := os.ReadFile(filepath.Join(dir, KustomizationFile))
	if strings.Contains(string(kust), "eventsubscriptions") || !strings.Contains(string(kust), "extensions.yaml") {
		t.Errorf("the kustomization lists the files written:\n%s", kust)
	}
}
