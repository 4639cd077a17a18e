package pbxsim_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

func TestListsFiltersAndPages(t *testing.T) {
	e := strictDemo(t)
	c := e.as(pbxsim.DemoTrustedAppID)
	g := must(t, c.do(http.MethodPost, "/client/@me/extension_group/", map[string]any{"name": "Sales"}), http.StatusCreated).obj(t)
	for i := range 120 {
		body := map[string]any{"name": fmt.Sprintf("%03d", 100+i)}
		if i%3 == 0 {
			body["type"] = "queue"
		}
		if i < 10 {
			body["extension_group_id"] = g["id"]
		}
		must(t, c.do(http.MethodPost, "/client/@me/extension/", body), http.StatusCreated)
	}
	const list = "/client/@me/extension/"
	cases := map[string]struct {
		reason string
		query  string
		want   int    // the number of objects returned
		first  string // the name of the first one
	}{
		"DefaultPage":      {reason: "Without page and per_page the first 50 come back.", query: "", want: 50, first: "0003*100"},
		"SecondPage":       {reason: "page is 1-based.", query: "?page=2&per_page=50", want: 50, first: "0003*150"},
		"ShortLastPage":    {reason: "The last page is short.", query: "?page=3&per_page=50", want: 20, first: "0003*200"},
		"PastTheEnd":       {reason: "A page past the end is an empty array.", query: "?page=9&per_page=50", want: 0},
		"BigPage":          {reason: "per_page may be up to 500.", query: "?per_page=500", want: 120, first: "0003*100"},
		"FilterType":       {reason: "Filters are query parameters on documented fields.", query: "?type=queue&per_page=500", want: 40, first: "0003*100"},
		"FilterTwoFields":  {reason: "Filters combine.", query: "?type=phone&extension_group_id=" + num(g["id"]), want: 6, first: "0003*101"},
		"FilterNull":       {reason: "null matches an unset field.", query: "?extension_group_id=null&per_page=500", want: 110, first: "0003*110"},
		"FilterArray":      {reason: "PHP-style arrays match any of the values.", query: "?name[]=0003*101&name[]=0003*219", want: 2, first: "0003*101"},
		"FilterIndexed":    {reason: "PHP's indexed arrays (key[0]=a&key[1]=b) are arrays too.", query: "?name[0]=0003*101&name[1]=0003*219", want: 2, first: "0003*101"},
		"FilterByFullName": {reason: "name filters on the stored prefix*number form.", query: "?name=0003*105", want: 1, first: "0003*105"},
		"NoMatch":          {reason: "Nothing matching is an empty array, not a 404.", query: "?type=fax", want: 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := must(t, c.do(http.MethodGet, list+tc.query, nil), http.StatusOK).list(t)
			if len(got) != tc.want {
				t.Fatalf("%s\nwant %d objects, got %d", tc.reason, tc.want, len(got))
			}
			if tc.want > 0 && got[0]["name"] != tc.first {
				t.Errorf("%s\nwant %s first, got %v", tc.reason, tc.first, got[0]["name"])
			}
		})
	}
	if r := must(t, c.do(http.MethodGet, "/client/@me/extension/?type=fax", nil), http.StatusOK); string(r.body) != "[]" {
		t.Errorf("an empty list is the JSON array [], got %s", r.body)
	}
	for query, want := range map[string]string{
		"?per_page=501":             "per_page: must be an integer from 1 to 500",
		"?per_page=0":               "per_page: must be an integer from 1 to 500",
		"?page=0":                   "page: must be a positive integer",
		"?colour=blue":              "colour: unknown filter",
		"?colour[0]=blue":           "colour: unknown filter",
		"?type[first]=queue":        "type[first]: unknown filter",
		"?extension_group_id=sales": "extension_group_id: must be an integer",
	} {
		if r := c.do(http.MethodGet, list+query, nil); r.status != http.StatusBadRequest || r.message(t) != want {
			t.Errorf("GET %s: want 400 %q, got %d %s", query, want, r.status, r.body)
		}
	}
}

func TestArrayFiltersEveryList(t *testing.T) {
	e := strictDemo(t)
	c := e.as(pbxsim.DemoTrustedAppID)
	g1 := must(t, c.do(http.MethodPost, "/client/@me/extension_group/", map[string]any{"name": "Sales"}), http.StatusCreated).obj(t)
	g2 := must(t, c.do(http.MethodPost, "/client/@me/extension_group/", map[string]any{"name": "Support"}), http.StatusCreated).obj(t)
	must(t, c.do(http.MethodPost, "/client/@me/extension_group/", map[string]any{"name": "Ops"}), http.StatusCreated)
	x := must(t, c.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "101", "extension_group_id": g1["id"]}), http.StatusCreated).obj(t)
	y := must(t, c.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "102", "extension_group_id": g2["id"]}), http.StatusCreated).obj(t)
	must(t, c.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "103"}), http.StatusCreated)
	dids := must(t, c.do(http.MethodGet, "/client/@me/did/", nil), http.StatusOK).list(t)
	must(t, c.do(http.MethodPut, "/client/@me/did/"+num(dids[0]["id"]), map[string]any{"extension_id": x["id"]}), http.StatusOK)
	must(t, c.do(http.MethodPut, "/client/@me/did/"+num(dids[1]["id"]), map[string]any{"extension_id": y["id"]}), http.StatusOK)
	events := "/extension/" + num(x["id"]) + "/event/"
	for _, typ := range []string{"dial-in", "answer", "hangup"} {
		must(t, c.do(http.MethodPost, events, map[string]any{"url": "https://h.example/", "event_type": typ, "method": "POST"}), http.StatusCreated)
	}

	cases := map[string]struct {
		reason string
		path   string
		want   int
	}{
		"Extensions":      {reason: "Extensions by group.", path: "/client/@me/extension/?extension_group_id[0]=" + num(g1["id"]) + "&extension_group_id[1]=" + num(g2["id"]), want: 2},
		"ExtensionsMixed": {reason: "Indexed and empty brackets combine.", path: "/client/@me/extension/?name[0]=0003*101&name[]=0003*103", want: 2},
		"Groups":          {reason: "Groups by id.", path: "/client/@me/extension_group/?id[0]=" + num(g1["id"]) + "&id[1]=" + num(g2["id"]), want: 2},
		"DIDs":            {reason: "DIDs by extension.", path: "/client/@me/did/?extension_id[0]=" + num(x["id"]) + "&extension_id[1]=" + num(y["id"]), want: 2},
		"Events":          {reason: "Event subscriptions by type.", path: events + "?event_type[0]=dial-in&event_type[1]=hangup", want: 2},
		"Users":           {reason: "Users by login.", path: "/client/@me/user/client/?login[0]=" + pbxsim.DemoAdminLogin + "&login[1]=" + pbxsim.DemoReadOnlyLogin, want: 2},
		"GroupRealm":      {reason: "The extension-group realm's list.", path: "/extension_group/" + num(g1["id"]) + "/extension/?name[0]=0003*101&name[1]=0003*102", want: 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := must(t, c.do(http.MethodGet, tc.path, nil), http.StatusOK).list(t); len(got) != tc.want {
				t.Errorf("%s\nGET %s: want %d objects, got %d", tc.reason, tc.path, tc.want, len(got))
			}
		})
	}
}

func TestTrailingSlashes(t *testing.T) {
	cases := map[string]struct {
		reason       string
		method, path string
		strict       int // the answer with WithStrictSlashes
		lenient      int // the answer without
	}{
		"CollectionWithSlash":   {reason: "Collections end with a slash.", method: http.MethodGet, path: "/client/@me/extension_group/", strict: 200, lenient: 200},
		"CollectionNoSlash":     {reason: "A collection without the slash.", method: http.MethodGet, path: "/client/@me/extension_group", strict: 404, lenient: 200},
		"SingletonWithSlash":    {reason: "Singletons end with a slash.", method: http.MethodGet, path: "/client/@me/client/", strict: 200, lenient: 200},
		"SingletonNoSlash":      {reason: "A singleton without the slash.", method: http.MethodGet, path: "/client/@me/client", strict: 404, lenient: 200},
		"RealmlessNoSlash":      {reason: "/user without the slash, as some SDKs call it.", method: http.MethodGet, path: "/user", strict: 404, lenient: 200},
		"ObjectNoSlash":         {reason: "Single objects have no trailing slash.", method: http.MethodGet, path: "/client/@me/extension_group/{id}", strict: 200, lenient: 200},
		"ObjectWithSlash":       {reason: "A single object with a slash.", method: http.MethodGet, path: "/client/@me/extension_group/{id}/", strict: 404, lenient: 200},
		"PostCollectionNoSlash": {reason: "POST goes to the collection URL.", method: http.MethodPost, path: "/client/@me/extension_group", strict: 404, lenient: 201},
	}
	for _, strict := range []bool{true, false} {
		var opts []pbxsim.Option
		if strict {
			opts = append(opts, pbxsim.WithStrictSlashes())
		}
		e := newEnv(t, pbxsim.DemoConfig(), opts...)
		c := e.as(pbxsim.DemoTrustedAppID)
		g := must(t, c.do(http.MethodPost, "/client/@me/extension_group/", map[string]any{"name": "G"}), http.StatusCreated).obj(t)
		for name, tc := range cases {
			t.Run(fmt.Sprintf("%s/strict=%t", name, strict), func(t *testing.T) {
				want := tc.lenient
				if strict {
					want = tc.strict
				}
				var body any
				if tc.method == http.MethodPost {
					body = map[string]any{"name": "G"}
				}
				if r := c.do(tc.method, strings.ReplaceAll(tc.path, "{id}", num(g["id"])), body); r.status != want {
					t.Errorf("%s\nwant %d, got %d: %s", tc.reason, want, r.status, r.body)
				}
			})
		}
	}
}
