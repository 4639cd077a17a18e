package plugin

import (
	"cmp"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/controller"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
)

// Tenant is what export and plan read from a PBX account: its groups, extensions and DIDs, and
// the event subscriptions of its extensions (by extension id).
type Tenant struct {
	Groups     []pbx.ExtensionGroup
	Extensions []pbx.Extension
	DIDs       []pbx.DID
	Events     map[int64][]pbx.Event
}

// Filter selects what export writes; the zero value selects everything.
type Filter struct {
	// Group selects one group, by its PBX name or its exported name, and its extensions.
	Group string
	// NumberMin and NumberMax, when NumberMax is not 0, select the extensions whose numbers are
	// in the range, ends included.
	NumberMin, NumberMax int64
	// Type selects the extensions of one type.
	Type v1alpha1.ExtensionType
}

// extensionFilter reports whether the filter selects anything about extensions alone.
func (f Filter) extensionFilter() bool { return f.NumberMax != 0 || f.Type != "" }

// ParseNumbers parses a number range such as 100-199, or a single number such as 101.
func ParseNumbers(s string) (lo, hi int64, err error) {
	a, b, isRange := strings.Cut(s, "-")
	if !isRange {
		b = a
	}
	lo, err1 := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
	hi, err2 := strconv.ParseInt(strings.TrimSpace(b), 10, 64)
	if err1 != nil || err2 != nil || lo < 0 || hi < lo {
		return 0, 0, fmt.Errorf("--numbers %q: want a number or a range such as 100-199", s)
	}
	return lo, hi, nil
}

// ExportOptions says how export writes the objects.
type ExportOptions struct {
	// Namespace is the objects' namespace; empty leaves it out (kubectl apply -n chooses).
	Namespace string
	// AccountRef is every object's spec.accountRef.
	AccountRef v1alpha1.AccountReference
	// ManagementPolicy is every object's spec.managementPolicy (ObserveOnly when empty).
	ManagementPolicy v1alpha1.ManagementPolicy
	// Filter selects the objects.
	Filter Filter
}

// Export is the result of export: the objects, sorted (groups by name, extensions and numbers by
// number, subscriptions by name), and warnings about PBX objects that were left out or will not
// apply as they are.
type Export struct {
	Groups             []v1alpha1.ExtensionGroup
	Extensions         []v1alpha1.Extension
	PhoneNumbers       []v1alpha1.PhoneNumber
	EventSubscriptions []v1alpha1.EventSubscription
	Warnings           []string
}

// Build maps a tenant onto custom resources that the operator takes over without writing to the
// PBX: each carries the PBX id in the external-id annotation and a spec equal to the PBX object.
func Build(t Tenant, o ExportOptions) Export {
	policy := cmp.Or(o.ManagementPolicy, v1alpha1.ManagementPolicyObserveOnly)
	names := groupNames(t.Groups)
	var out Export
	selectedGroup := map[int64]bool{}
	for _, g := range t.Groups {
		if o.Filter.Group == "" || o.Filter.Group == g.Name || o.Filter.Group == names[g.ID] {
			selectedGroup[g.ID] = true
		}
	}
	if o.Filter.Group != "" && len(selectedGroup) == 0 {
		out.Warnings = append(out.Warnings, fmt.Sprintf("No PBX group is named %q", o.Filter.Group))
	}
	usedGroup := map[int64]bool{}
	for i := range t.Extensions {
		x := &t.Extensions[i]
		gid := deref(x.ExtensionGroupID)
		if o.Filter.Group != "" && !selectedGroup[gid] {
			continue
		}
		if !o.Filter.selects(x) {
			continue
		}
		spec, err := extensionSpec(x, names)
		if err != nil {
			out.Warnings = append(out.Warnings, fmt.Sprintf("Left out the PBX extension %s (id %d): %v", x.Name, x.ID, err))
			continue
		}
		spec.AccountRef = o.AccountRef
		spec.ManagementPolicy = policy
		out.Warnings = append(out.Warnings, tooLong("extension "+x.Name, "label", spec.Label, 255)...)
		out.Warnings = append(out.Warnings, tooLong("extension "+x.Name, "callerIDName", spec.CallerIDName, 255)...)
		out.Warnings = append(out.Warnings, tooLong("extension "+x.Name, "extraParams", spec.ExtraParams, 4096)...)
		if gid != 0 {
			usedGroup[gid] = true
		}
		out.Extensions = append(out.Extensions, v1alpha1.Extension{
			TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Extension"},
			ObjectMeta: objectMeta(extensionName(spec.Name, spec.Label), o.Namespace, x.ID),
			Spec:       spec,
		})
	}
	for i := range t.Groups {
		g := &t.Groups[i]
		// Filters on extensions keep the groups those extensions are in; otherwise every selected
		// group goes out, empty ones included.
		if !selectedGroup[g.ID] || (o.Filter.extensionFilter() && !usedGroup[g.ID]) {
			continue
		}
		spec := groupSpec(g)
		spec.AccountRef = o.AccountRef
		spec.ManagementPolicy = policy
		out.Warnings = append(out.Warnings, tooLong(fmt.Sprintf("group %q", g.Name), "name", spec.Name, 255)...)
		out.Warnings = append(out.Warnings, tooLong(fmt.Sprintf("group %q", g.Name), "extraParams", spec.ExtraParams, 4096)...)
		out.Groups = append(out.Groups, v1alpha1.ExtensionGroup{
			TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "ExtensionGroup"},
			ObjectMeta: objectMeta(names[g.ID], o.Namespace, g.ID),
			Spec:       spec,
		})
	}
	exported := out.exported()
	out.numbers(t, o, policy, exported)
	out.subscriptions(t, o, policy, exported)
	slices.SortFunc(out.Groups, func(a, b v1alpha1.ExtensionGroup) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortFunc(out.Extensions, func(a, b v1alpha1.Extension) int {
		return cmp.Or(cmp.Compare(len(a.Spec.Name), len(b.Spec.Name)), cmp.Compare(a.Spec.Name, b.Spec.Name))
	})
	return out
}

// numbers exports the routed DIDs: a PhoneNumber per DID whose calls or messages go to an
// extension, bound by its digits (the number is its identity), routed to the exported Extension
// by extensionRef, or by extensionID to one not exported when nothing is filtered out. Free
// numbers route nothing and are left out.
func (out *Export) numbers(t Tenant, o ExportOptions, policy v1alpha1.ManagementPolicy, exported map[int64]string) {
	filtered := o.Filter != (Filter{})
	for i := range t.DIDs {
		d := &t.DIDs[i]
		calls, messages := deref(d.ExtensionID), deref(d.MessageExtensionID)
		if calls == 0 && (!d.AllowMessage || messages == 0) {
			continue
		}
		if filtered && exported[calls] == "" && exported[messages] == "" {
			continue
		}
		spec := v1alpha1.PhoneNumberSpec{Number: d.Name, Comment: deref(d.Comment)}
		spec.AccountRef, spec.ManagementPolicy = o.AccountRef, policy
		if name := exported[calls]; name != "" {
			spec.ExtensionRef.Name = name
		} else {
			spec.ExtensionID = calls
		}
		if d.AllowMessage {
			spec.Messages = v1alpha1.PhoneNumberMessagesEnabled
			if name := exported[messages]; name != "" {
				spec.MessageExtensionRef.Name = name
			} else {
				spec.MessageExtensionID = messages
			}
		}
		out.PhoneNumbers = append(out.PhoneNumbers, v1alpha1.PhoneNumber{
			TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "PhoneNumber"},
			ObjectMeta: metav1.ObjectMeta{Name: "number-" + slug(d.Name, maxNameLength-len("number-")), Namespace: o.Namespace},
			Spec:       spec,
		})
	}
	slices.SortFunc(out.PhoneNumbers, func(a, b v1alpha1.PhoneNumber) int {
		return cmp.Or(cmp.Compare(len(a.Spec.Number), len(b.Spec.Number)), cmp.Compare(a.Spec.Number, b.Spec.Number))
	})
}

// subscriptions exports the event subscriptions of the exported extensions, each bound to its
// subscription by the external-id annotation (the PBX allows identical ones), named after its
// extension and event type.
func (out *Export) subscriptions(t Tenant, o ExportOptions, policy v1alpha1.ManagementPolicy, exported map[int64]string) {
	ids := slices.Sorted(maps.Keys(t.Events))
	for _, extID := range ids {
		ext := exported[extID]
		if ext == "" {
			continue
		}
		for _, e := range t.Events[extID] {
			spec := v1alpha1.EventSubscriptionSpec{ExtensionRef: v1alpha1.ExtensionReference{Name: ext}, EventType: specEventType(e.EventType),
				Method: v1alpha1.EventMethod(strings.ToUpper(e.Method)), URL: e.URL}
			spec.AccountRef, spec.ManagementPolicy = o.AccountRef, policy
			what := fmt.Sprintf("subscription %d of the extension %s", e.ID, ext)
			if problem := webhookProblem(&spec); problem != "" {
				out.Warnings = append(out.Warnings, fmt.Sprintf("Left out the %s: %s", what, problem))
				continue
			}
			if strings.Contains(e.URL, "?") {
				out.Warnings = append(out.Warnings, fmt.Sprintf("The %s has a query in its URL (often a token): the manifest holds it in clear, so keep the file where the token may be read", what))
			}
			out.EventSubscriptions = append(out.EventSubscriptions, v1alpha1.EventSubscription{
				TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "EventSubscription"},
				ObjectMeta: objectMeta(subscriptionName(ext, string(spec.EventType), e.ID), o.Namespace, e.ID),
				Spec:       spec,
			})
		}
	}
}

// webhookProblem says why the API server would refuse a subscription as exported, or "".
func webhookProblem(spec *v1alpha1.EventSubscriptionSpec) string {
	known := []v1alpha1.EventType{v1alpha1.EventTypeDialIn, v1alpha1.EventTypeDialOut, v1alpha1.EventTypeAnswer,
		v1alpha1.EventTypeHangup, v1alpha1.EventTypeMessageIn, v1alpha1.EventTypeMessageOut, v1alpha1.EventTypeVoicemail}
	u, err := url.Parse(spec.URL)
	switch {
	case !slices.Contains(known, spec.EventType):
		return fmt.Sprintf("its event type %q is not one an EventSubscription takes", spec.EventType)
	case spec.Method != v1alpha1.EventMethodGET && spec.Method != v1alpha1.EventMethodPOST:
		return fmt.Sprintf("its method %q is neither GET nor POST", spec.Method)
	case err != nil || u.Host == "" || (!strings.HasPrefix(spec.URL, "https://") && !strings.HasPrefix(spec.URL, "http://")):
		// The CRD's rule is case-sensitive: HTTPS://... is refused.
		return "its URL is not an absolute http(s) URL in lower case"
	case u.User != nil || u.Fragment != "" || strings.Contains(spec.URL, "#"):
		return "its URL has a user name, a password or a fragment, which an EventSubscription refuses"
	case u.Scheme == "http" && !plainHTTPAllowed(u.Host):
		return "its URL uses plain http to a host that is neither loopback nor an in-cluster Service, which an EventSubscription refuses (the PBX sends call data)"
	case len(spec.URL) > 2048:
		return "its URL is longer than the 2048 characters an EventSubscription takes"
	}
	return ""
}

// plainHTTP is the CRD's rule for the hosts (with an optional port) an EventSubscription may call
// over plain http: loopback as localhost, 127.0.0.0/8 or [::1], and in-cluster Services.
var plainHTTP = regexp.MustCompile(`^(localhost|127([.][0-9]{1,3}){3}|\[::1\]|[a-z0-9]([-a-z0-9.]*[a-z0-9])?[.]svc([.]cluster[.]local)?)(:[0-9]{1,5})?$`)

// plainHTTPAllowed tells whether an EventSubscription may call host (host[:port]) over plain
// http, as the CRD decides it.
func plainHTTPAllowed(host string) bool { return plainHTTP.MatchString(host) }

// exported are the names of the exported Extensions, by their PBX ids.
func (out *Export) exported() map[int64]string {
	names := map[int64]string{}
	for _, x := range out.Extensions {
		id, _ := strconv.ParseInt(x.Annotations[v1alpha1.AnnotationExternalID], 10, 64)
		names[id] = x.Name
	}
	return names
}

// selects reports whether the extension filters select x.
func (f Filter) selects(x *pbx.Extension) bool {
	if f.Type != "" && x.Type != controller.PBXType(f.Type) {
		return false
	}
	if f.NumberMax != 0 {
		n, err := strconv.ParseInt(pbx.ShortName(x.Name), 10, 64)
		if err != nil || n < f.NumberMin || n > f.NumberMax {
			return false
		}
	}
	return true
}

func objectMeta(name, namespace string, id int64) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:        name,
		Namespace:   namespace,
		Annotations: map[string]string{v1alpha1.AnnotationExternalID: strconv.FormatInt(id, 10)},
	}
}

// subscriptionName derives an EventSubscription's name from its extension's and its event type:
// ext-101-alice-hangup-7001; the id keeps subscriptions of one type apart.
func subscriptionName(extension, eventType string, id int64) string {
	suffix := "-" + slug(eventType, 20) + "-" + strconv.FormatInt(id, 10)
	return strings.TrimRight(extension[:min(len(extension), maxNameLength-len(suffix))], "-") + suffix
}

// tooLong warns about a value the API server will refuse (the CRD bounds it).
func tooLong(what, field, value string, limit int) []string {
	if len(value) <= limit {
		return nil
	}
	return []string{fmt.Sprintf("The %s has a %s of %d characters, more than the %d an Extension or ExtensionGroup allows: shorten it in the PBX or the manifest", what, field, len(value), limit)}
}
