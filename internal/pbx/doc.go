// Package pbx is the typed client of the cloud PBX REST API (/api/ver1.0/, described in the
// project's UPSTREAM-API.md). It is the only code that speaks HTTP to the PBX: controllers see
// its types and errors, never a request. It imports no Kubernetes packages.
//
// # Quick start
//
//	c, err := pbx.New("https://apiproxy.example",
//		pbx.WithCredentials(clientID, clientSecret), // a trusted application
//		pbx.WithUserAgent("pbx-operator/"+version),
//		pbx.WithRateLimit(5, 10),                    // requests per second, burst
//		pbx.WithWriteReserve(10),                    // keep the last 10% of the hour for writes
//		pbx.WithMetrics(prometheus.WrapRegistererWith(prometheus.Labels{"kind": "Account", "namespace": ns, "name": name}, registry)),
//		pbx.WithLogger(log),
//		pbx.WithCABundle(corpCAPEM),                 // optional: a private CA, trusted on top of the system roots
//	)
//	if err != nil {
//		return err
//	}
//	me, err := c.Users.Me(ctx) // who the application acts for
//	if err != nil {
//		return err
//	}
//	realm, _ := me.Realm() // client/1; pbx.MeRealm(pbx.RealmClient) is client/@me
//	info, err := c.ClientInfo.Get(ctx, realm)
//	if err != nil {
//		return err
//	}
//
//	// Find by natural key, create if absent.
//	ext, err := c.Extensions.FindByName(ctx, realm, pbx.FullName(info.Prefix, "101"))
//	if pbx.IsNotFound(err) {
//		ext, err = c.Extensions.Create(ctx, realm, pbx.ExtensionCreate{
//			Name:   "101",
//			Type:   pbx.ExtensionTypePhone,
//			Status: pbx.StatusActive, // the PBX's default is blocked
//			Label:  pbx.Set("Reception"),
//		})
//	}
//	if err != nil {
//		return err
//	}
//
//	// A partial update: the status changes, the label is cleared, nothing else is sent.
//	ext, err = c.Extensions.Update(ctx, realm, ext.ID, pbx.ExtensionUpdate{
//		Status: pbx.Set(pbx.StatusBlocked),
//		Label:  pbx.Null[string](),
//	})
//
//	// Lists page transparently.
//	for e, err := range c.Extensions.List(ctx, realm, pbx.ExtensionFilter{Type: pbx.ExtensionTypePhone}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(e.ID, pbx.ShortName(e.Name))
//	}
//
//	// Sub-resources of one extension live in the extension realm.
//	phone, err := c.Phones.Get(ctx, pbx.ExtensionRealm(ext.ID))
//
// Example_client in example_test.go runs the same steps against the simulator.
//
// # API version and paths
//
// The client speaks /api/ver1.0/. Paths follow the API's core rules exactly: collections and
// singletons (phone/, client/, limit/) end with "/", single objects do not
// (/api/ver1.0/client/1/extension/1001). A Realm is the /{realm}/{realm_id}/ part: a numeric id,
// @me (only in the realm of the user's own level), or in the extension realm @name with the full
// or short extension name. /user/ and /timezone/ have no realm.
//
// # Requests and answers
//
// Each resource has a service on the Client (Users, ClientInfo, Groups, Extensions, Phones,
// Events, DIDs, Timezones) with typed request and answer structs that mirror the JSON. Answers
// are decoded leniently: unknown fields are ignored and loosely typed fields use LooseString and
// LooseInt. Create and update bodies use Opt for optional fields: unset fields are left out, so a
// PUT changes only what is set, and Null sends an explicit null that clears a field. List
// returns an iter.Seq2 that pages (page, per_page) until a short page; ListAll collects it.
// FindByName looks an object up by its natural key and answers a not-found error when nothing
// matches.
//
// # Errors
//
// Every answer other than success is an *APIError with the HTTP status, the PBX's "status" code
// (Code), its "message", the request id when there is one, the time to retry when known
// (RetryAt), and the start of the body. Test errors with the predicates, which see through
// wrapping: IsNotFound, IsBadRequest, IsUnauthorized, IsForbidden, IsRateLimited and
// IsServerError. Failures to get an answer (connection errors, timeouts) are wrapped with the
// method and path and keep their cause: errors.Is(err, context.DeadlineExceeded) works.
//
// # Bounds
//
// The PBX may be hostile (a tenant controls its account's url), so nothing it answers is read
// without a bound. Every answer, the token endpoint's and error answers included, is read up to
// WithMaxAnswerBytes (DefaultMaxAnswerBytes, 8 MiB), counted after decompression, so a gzip bomb
// stops there. A list reads at most DefaultMaxPages pages, and no more objects than that many full
// pages hold; once ClientInfo.Limits has read the client's limits, lists of extensions, groups and
// event subscriptions stop at the pages that twice the limit fills. Past a bound the call fails
// with a *TooLargeError (not asked again). The PBX's message, code and request id are cut at 1 KiB
// when an APIError is made, so every copy of them is bounded.
//
// # Authentication
//
// WithCredentials uses the OAuth2 client_credentials grant against {base}/oauth/token (the
// form body carries client_id and client_secret). The token is cached and renewed a minute
// before it expires. A 401 means the PBX refused the token before doing anything (tokens can be
// revoked early), so the client renews the token and sends the same request once more, whatever
// its method; a second 401 is returned as the error.
//
// # Request budget
//
// The PBX limits requests per client and hour, and after a 429 refuses everything until the hour
// rolls over. The client reads X-RateLimit-Limit, -Remaining and -Reset from every answer (see
// Client.Budget). After a 429, or once Remaining reaches 0, every call fails at once with a
// rate-limited APIError whose RetryAt is the reset time, without a network call, until then.
// WithWriteReserve keeps the end of the budget for writes: reads fail fast first. WithRateLimit
// paces requests on the client side (requests per second and burst).
//
// # Concurrency, context and timeouts
//
// A Client is safe for concurrent use; create one per PBX account and share it, so that all
// callers share its token and budget. Every call takes a context whose deadline and
// cancellation bound the whole call, the wait for the rate limiter and the token request
// included. Without WithHTTPClient, each request is also bounded by DefaultTimeout.
//
// # What the client does not do
//
// It never sleeps and never retries, apart from the single renewal after a 401: retrying, and
// waiting for RetryAt, is the caller's decision. It never deletes a whole event collection, and
// it has no create or delete for DIDs, which the provider owns.
//
// # Observability
//
// WithMetrics counts requests (pbx_client_requests_total, by method, resource and code) and
// measures their latency (pbx_client_request_duration_seconds); the resource label is the path
// template, such as /client/{realm_id}/extension/{id}, never an id or a name. WithLogger logs
// every request at V(2) with the Authorization header, client_secret, tokens and every password
// field redacted. Budget and Pace report the request budget the PBX announced and the pace in
// force, for the manager's account metrics.
package pbx
