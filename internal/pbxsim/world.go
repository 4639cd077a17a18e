package pbxsim

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// Collection names: the keys of a Snapshot and of the saved state.
const (
	colClient    = "client"
	colUser      = "user"
	colGroup     = "extension_group"
	colExtension = "extension"
	colPhone     = "phone"
	colEvent     = "event"
	colDID       = "did"
)

var collections = []string{colClient, colUser, colGroup, colExtension, colPhone, colEvent, colDID}

// collection is one stored resource: objects by id, and the ids in ascending order for lists.
type collection struct {
	objs map[int64]object
	ids  []int64
}

func newCollection() *collection { return &collection{objs: map[int64]object{}} }

func (c *collection) get(id int64) (object, bool) {
	o, ok := c.objs[id]
	return o, ok
}

func (c *collection) put(id int64, o object) {
	if _, ok := c.objs[id]; !ok {
		i, _ := slices.BinarySearch(c.ids, id)
		c.ids = slices.Insert(c.ids, i, id)
	}
	c.objs[id] = o
}

func (c *collection) remove(id int64) {
	if _, ok := c.objs[id]; !ok {
		return
	}
	delete(c.objs, id)
	i, _ := slices.BinarySearch(c.ids, id)
	c.ids = slices.Delete(c.ids, i, i+1)
}

// each calls fn for every object in id order until fn returns false.
func (c *collection) each(fn func(object) bool) {
	for _, id := range c.ids {
		if !fn(c.objs[id]) {
			return
		}
	}
}

// indexExtension adds a new extension to the name index.
func (w *world) indexExtension(o object) {
	c := o.int("client_id")
	if w.extNames[c] == nil {
		w.extNames[c] = map[string]int64{}
	}
	w.extNames[c][o.str("name")] = o.int("id")
}

// keyField is the field that identifies objects of a collection: the phone singleton has no id of
// its own and is keyed by its extension.
func keyField(col string) string {
	if col == colPhone {
		return "extension_id"
	}
	return "id"
}

// tenant holds a client's settings that no API resource exposes.
type tenant struct {
	RateLimitPerHour int         `json:"rate_limit_per_hour"`
	Limits           LimitConfig `json:"limits"`
	Blocked          bool        `json:"blocked,omitempty"`
	// Apps are the client's registered OAuth2 applications, by client_id.
	Apps []AppConfig `json:"apps"`
}

// world is the whole simulated PBX. The Server guards it with one mutex.
type world struct {
	cols    map[string]*collection
	tenants map[int64]*tenant
	nextID  map[string]int64
	// extNames indexes extensions by client and full name (names are unique per client and never
	// change), so creates and @name lookups stay fast with many extensions.
	extNames map[int64]map[string]int64
}

func newWorld() *world {
	w := &world{
		cols: map[string]*collection{}, tenants: map[int64]*tenant{}, nextID: map[string]int64{},
		extNames: map[int64]map[string]int64{},
	}
	for _, c := range collections {
		w.cols[c] = newCollection()
	}
	return w
}

// Default first ids of the collections whose objects get server ids (FirstIDs overrides them).
// Real ids have five to seven digits (extension 303052, group 85219, client 9593), so these start
// above 65535: a client that keeps an id in a 16-bit integer mangles it here, as it would against
// the PBX. Each kind starts in its own range, so ids of different kinds differ in
// tests and logs.
const (
	defaultFirstUserID      = 72001
	defaultFirstGroupID     = 85201
	defaultFirstExtensionID = 303001
	defaultFirstDIDID       = 470001
	defaultFirstEventID     = 612001
)

// firstIDs returns the first id of each collection: the configured one, or the default.
func firstIDs(f FirstIDs) map[string]int64 {
	return map[string]int64{
		colUser:      cmp.Or(f.Users, defaultFirstUserID),
		colGroup:     cmp.Or(f.ExtensionGroups, defaultFirstGroupID),
		colExtension: cmp.Or(f.Extensions, defaultFirstExtensionID),
		colDID:       cmp.Or(f.DIDs, defaultFirstDIDID),
		colEvent:     cmp.Or(f.Events, defaultFirstEventID),
	}
}

// newID returns the next id of a collection. Ids are sequential per collection, so runs are
// deterministic.
func (w *world) newID(col string) int64 {
	if w.nextID[col] == 0 {
		// A state file from before a kind had objects has no counter for it.
		w.nextID[col] = cmp.Or(firstIDs(FirstIDs{})[col], 1)
	}
	id := w.nextID[col]
	w.nextID[col]++
	return id
}

// state is the JSON form of a world, for --state files.
type state struct {
	Tenants     map[string]*tenant  `json:"tenants"`
	NextID      map[string]int64    `json:"next_id"`
	Collections map[string][]object `json:"collections"`
}

func (w *world) state(includeSecrets bool) state {
	s := state{Tenants: map[string]*tenant{}, NextID: w.nextID, Collections: map[string][]object{}}
	for id, t := range w.tenants {
		s.Tenants[strconv.FormatInt(id, 10)] = t
	}
	for _, name := range collections {
		list := []object{}
		w.cols[name].each(func(o object) bool {
			if !includeSecrets && o["password"] != nil {
				o = o.clone()
				delete(o, "password")
			}
			list = append(list, o)
			return true
		})
		s.Collections[name] = list
	}
	return s
}

// save writes the world to path atomically: a temporary file in the same directory, then a rename.
func (w *world) save(path string) error {
	data, err := json.MarshalIndent(w.state(true), "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after a successful rename
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close() //nolint:errcheck,gosec // the write error is the one to report
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close() //nolint:errcheck,gosec // the sync error is the one to report
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// loadWorld reads a world saved by save. Numbers are read back as int64, as the schemas store them.
func loadWorld(data []byte) (*world, error) {
	var raw struct {
		Tenants     map[string]*tenant                      `json:"tenants"`
		NextID      map[string]int64                        `json:"next_id"`
		Collections map[string][]map[string]json.RawMessage `json:"collections"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	w := newWorld()
	for k, t := range raw.Tenants {
		id, err := strconv.ParseInt(k, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("tenant id %q: %w", k, err)
		}
		w.tenants[id] = t
	}
	for k, v := range raw.NextID {
		w.nextID[k] = v
	}
	for name, list := range raw.Collections {
		sch, ok := schemas[name]
		if !ok {
			return nil, fmt.Errorf("unknown collection %q", name)
		}
		for _, fields := range list {
			o := object{}
			for _, f := range sch {
				r, ok := fields[f.name]
				if !ok {
					o[f.name] = f.def
					continue
				}
				v, err := (field{name: f.name, kind: f.kind, nullable: true}).value(r)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", name, err)
				}
				o[f.name] = v
			}
			w.cols[name].put(o.int(keyField(name)), o)
			if name == colExtension {
				w.indexExtension(o)
			}
		}
	}
	return w, nil
}

// buildWorld makes the starting world of a Config.
func buildWorld(cfg Config, now time.Time) (*world, error) {
	w := newWorld()
	for col, id := range firstIDs(cfg.FirstIDs) {
		if id <= 0 {
			return nil, fmt.Errorf("first_ids: the first %s id must be positive, got %d", col, id)
		}
		w.nextID[col] = id
	}
	created := now.Format(time.DateTime)
	for _, c := range cfg.Clients {
		if c.ID <= 0 || c.Prefix == "" || c.ExtensionLen <= 0 {
			return nil, fmt.Errorf("client %q: id, prefix and extension_len are required", c.Name)
		}
		if _, dup := w.tenants[c.ID]; dup {
			return nil, fmt.Errorf("client %d: duplicate id", c.ID)
		}
		cl := clientSchema.defaults()
		for k, v := range map[string]any{
			"id": c.ID, "name": c.Name, "prefix": c.Prefix, "domain": c.Domain,
			"extension_len": strconv.Itoa(c.ExtensionLen), "timezone": cmp.Or(c.Timezone, "UTC"),
			"create_date": created,
		} {
			cl[k] = v
		}
		if c.DomainPrefix != "" {
			cl["domain_prefix"] = c.DomainPrefix
		}
		w.cols[colClient].put(c.ID, cl)
		w.tenants[c.ID] = &tenant{RateLimitPerHour: c.RateLimitPerHour, Limits: c.Limits, Blocked: c.Blocked, Apps: c.Apps}
		for _, g := range c.Groups {
			w.cols[colGroup].put(g.ID, object{"id": g.ID, "name": g.Name, "client_id": c.ID, "extra_params": nil})
			// New groups get ids above the configured ones, so they never collide.
			w.nextID[colGroup] = max(w.nextID[colGroup], g.ID+1)
		}
		for _, d := range c.DIDs {
			o := didSchema.defaults()
			id := w.newID(colDID)
			o["id"], o["name"], o["client_id"], o["comment"], o["create_date"] = id, d.Name, c.ID, d.Comment, created
			w.cols[colDID].put(id, o)
		}
		for _, u := range c.Users {
			o := userSchema.defaults()
			id := w.newID(colUser)
			o["id"], o["login"], o["password"], o["name"], o["email"] = id, u.Login, u.Password, u.Login, u.Login+"@pbxsim.local"
			o["access"] = cmp.Or(u.Access, "full")
			o["timezone"] = cmp.Or(c.Timezone, "UTC")
			switch cmp.Or(u.Level, colClient) {
			case colClient:
				o["client_id"] = c.ID
			case colGroup:
				o["extension_group_id"] = u.OwnerID
			case colExtension:
				o["extension_id"] = u.OwnerID
			default:
				return nil, fmt.Errorf("user %s: unknown level %q", u.Login, u.Level)
			}
			w.cols[colUser].put(id, o)
		}
	}
	return w, nil
}
