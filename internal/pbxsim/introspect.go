package pbxsim

import (
	"cmp"
	"slices"
)

// RequestKey identifies a request counter: the method, the path template ({realm_id} and {id} in
// place of ids, see Fault.Path) and the answer's status code. Requests that got no answer are
// counted under pseudo codes: StatusDropped (0) when a DropAfterCommit fault served the request
// and cut the answer off, StatusClientGone (499) when the client gave up during injected latency.
type RequestKey struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Status int    `json:"status"`
}

// RequestCount is one request counter.
type RequestCount struct {
	RequestKey
	Count int `json:"count"`
}

// Requests returns the request counters, sorted by path, method and status. Requests to the
// admin controls are not counted.
func (s *Server) Requests() []RequestCount {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]RequestCount, 0, len(s.counts))
	for k, n := range s.counts {
		out = append(out, RequestCount{RequestKey: k, Count: n})
	}
	slices.SortFunc(out, func(a, b RequestCount) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Method, b.Method), cmp.Compare(a.Status, b.Status))
	})
	return out
}

// RequestTotal sums the counters that match a method and a path template; empty strings match
// everything. RequestTotal("", "") is the number of requests served.
func (s *Server) RequestTotal(method, path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, c := range s.counts {
		if (method == "" || k.Method == method) && (path == "" || k.Path == path) {
			n += c
		}
	}
	return n
}

// ResetRequests sets every request counter to zero, the counters by agent too.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.counts)
	clear(s.agents)
}

// AgentKey identifies a counter of authenticated API requests by the User-Agent that sent them
// and the client (tenant) they acted for, so that a test can tell which of several operator
// processes (shards, each with its own User-Agent) talked to which client.
type AgentKey struct {
	Agent  string `json:"agent"`
	Client int64  `json:"client"`
}

// AgentCount is one counter of requests by agent.
type AgentCount struct {
	AgentKey
	Count int `json:"count"`
}

// maxAgents bounds the counters by agent: past it, new User-Agents count as OtherAgent.
const maxAgents = 256

// OtherAgent is the agent of the requests counted after maxAgents distinct ones.
const OtherAgent = "(other)"

// countAgent counts an authenticated request. The caller holds s.mu.
func (s *Server) countAgent(agent string, client int64) {
	k := AgentKey{Agent: agent, Client: client}
	if _, ok := s.agents[k]; !ok && len(s.agents) >= maxAgents {
		k.Agent = OtherAgent
	}
	s.agents[k]++
}

// RequestsByAgent returns the counters of authenticated API requests by User-Agent and client,
// sorted by client and agent. ResetRequests resets them.
func (s *Server) RequestsByAgent() []AgentCount {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]AgentCount, 0, len(s.agents))
	for k, n := range s.agents {
		out = append(out, AgentCount{AgentKey: k, Count: n})
	}
	slices.SortFunc(out, func(a, b AgentCount) int {
		return cmp.Or(cmp.Compare(a.Client, b.Client), cmp.Compare(a.Agent, b.Agent))
	})
	return out
}

// Snapshot is the whole simulated world: every object of every resource as the simulator stores
// it (user passwords left out; events carry the extension_id they belong to), in id order.
type Snapshot struct {
	Clients         []map[string]any `json:"clients"`
	Users           []map[string]any `json:"users"`
	ExtensionGroups []map[string]any `json:"extension_groups"`
	Extensions      []map[string]any `json:"extensions"`
	Phones          []map[string]any `json:"phones"`
	Events          []map[string]any `json:"events"`
	DIDs            []map[string]any `json:"dids"`
}

// Snapshot returns a copy of the world.
func (s *Server) Snapshot() Snapshot {
	s.mu.Lock()
	st := s.w.state(false)
	s.mu.Unlock()
	conv := func(col string) []map[string]any {
		out := make([]map[string]any, 0, len(st.Collections[col]))
		for _, o := range st.Collections[col] {
			out = append(out, o)
		}
		return out
	}
	return Snapshot{
		Clients:         conv(colClient),
		Users:           conv(colUser),
		ExtensionGroups: conv(colGroup),
		Extensions:      conv(colExtension),
		Phones:          conv(colPhone),
		Events:          conv(colEvent),
		DIDs:            conv(colDID),
	}
}
