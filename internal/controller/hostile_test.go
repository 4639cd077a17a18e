package controller_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	. "github.com/onsi/gomega" //nolint:revive // Gomega's Eventually is the one part we use

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// hostilePBX is a tenant's own server: it answers the token and the account check honestly (from
// the world's simulator), and the lists of extensions with a gzip bomb and the lists of groups
// with full pages of groups never seen before, on and on (up to floodPages, so that a manager
// without a bound ends its list too). It counts what it served.
type hostilePBX struct {
	srv        *httptest.Server
	bombs      atomic.Int64 // gzip bombs served
	groupPages atomic.Int64 // pages of groups served
}

// floodPages is how many pages of a list the hostile PBX fills.
const floodPages = 50

func newHostilePBX(t *testing.T, honest http.Handler) *hostilePBX {
	t.Helper()
	bomb := pbxsim.GzipBomb(`[{"id":1,"name":"`, `"}]`, 24*testMaxAnswerBytes)
	h := &hostilePBX{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/extension/"):
			h.bombs.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(bomb) //nolint:errcheck,gosec // the manager hangs up early
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/extension_group/"):
			page := h.groupPages.Add(1)
			perPage, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
			if p, _ := strconv.Atoi(r.URL.Query().Get("page")); p > floodPages {
				perPage = 0
			}
			items := make([]string, perPage)
			for i := range items {
				items[i] = fmt.Sprintf(`{"id":%d,"name":"flood-%d-%d"}`, page*1_000_000+int64(i), page, i)
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, "["+strings.Join(items, ",")+"]")
		default:
			honest.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// TestHostilePBX: a tenant points an Account at its own server, which hands out tokens and passes
// the account check, then answers a list with a gzip bomb or with page after page of new objects.
// The manager stops reading at its bounds (a bomb at --max-pbx-answer-bytes, a list at the pages
// the account's limits allow) and the resources say so, APIUnavailable, instead of the manager
// running out of memory.
func TestHostilePBX(t *testing.T) {
	cfg := pbxsim.DemoConfig()
	cfg.Clients[0].Limits.ExtensionGroups = 300 // at most twice 300 groups, pages of 500: 3 pages
	w := newWorld(t, &cfg)
	h := newHostilePBX(t, w.sim)
	w.secretFor("hostile", pbxsim.DemoTrustedAppID, pbxsim.DemoAppSecret, h.srv.URL+"/")
	a := w.accountAt("hostile", "hostile", h.srv.URL+"/", v1alpha1.CABundleReference{})
	w.waitReady(a)

	onHostile := v1alpha1.AccountReference{Kind: v1alpha1.AccountKindAccount, Name: "hostile"}
	e := ext(w.ns, "bombed", "371", func(e *v1alpha1.Extension) { e.Spec.AccountRef = onHostile })
	g := group(w.ns, "flooded", "Flooded")
	g.Spec.AccountRef = onHostile
	w.create(e)
	w.create(g)

	w.g.Eventually(w.cond(e, v1alpha1.ConditionSynced)).Should(Equal("False/APIUnavailable"))
	if want, got := "The PBX answer is larger than 1 MiB (--max-pbx-answer-bytes)", message(e, v1alpha1.ConditionSynced); got != want {
		t.Errorf("the Extension says which bound the PBX passed:\nwant %q\ngot  %q", want, got)
	}
	if h.bombs.Load() == 0 {
		t.Error("the hostile PBX served no bomb")
	}
	w.g.Eventually(w.cond(g, v1alpha1.ConditionSynced)).Should(Equal("False/APIUnavailable"))
	if want, got := "The PBX list has more than 3 pages", message(g, v1alpha1.ConditionSynced); got != want {
		t.Errorf("the ExtensionGroup says which bound the PBX passed:\nwant %q\ngot  %q", want, got)
	}
	if n := h.groupPages.Load(); n < 3 {
		t.Errorf("the hostile PBX served %d pages of groups, want the 3 the bound allows (per list)", n)
	}
	// The account itself still works: only what the PBX flooded fails.
	w.waitReady(a)
}
