// Package pbxsim is a stateful simulator of the cloud PBX REST API (/api/ver1.0/), faithful to the
// project's reference, UPSTREAM-API.md. It is an http.Handler built on the standard library only,
// with wire types of its own: it never imports the operator's client (internal/pbx), so a JSON tag
// the client gets wrong fails against it.
//
// # Quick start
//
//	sim, err := pbxsim.New(pbxsim.DemoConfig(), pbxsim.WithStrictSlashes())
//	if err != nil { ... }
//	srv := httptest.NewServer(sim)
//	defer srv.Close()
//	// POST srv.URL+"/oauth/token" with grant_type=client_credentials, client_id=demo-trusted and
//	// client_secret=demo-secret, then call srv.URL+"/api/ver1.0/client/@me/extension/" with the
//	// bearer token.
//
// cmd/pbxsim serves the same handler on 127.0.0.1:8090 with the demo tenant of DemoConfig.
//
// # What it implements
//
//   - POST /oauth/token: client_credentials for trusted apps (the token acts for the user who
//     registered the app), password for password_credentials apps, with the parameters in an
//     application/x-www-form-urlencoded or a multipart/form-data body (PHP's curl sends an array
//     that way) or the query string; expires_in is configurable and InvalidateTokens revokes every
//     token early. A missing, unknown or expired bearer is a 401
//     with {"message": "Unauthorized"}.
//   - GET /user/ (who am I), GET /timezone/ (no realm); realms client, extension_group and
//     extension, with numeric ids, @me (only in the realm of the user's own type) and, in the
//     extension realm, @<full name> and @<short name>. A higher-level user may use lower realms
//     inside its own client; nobody reaches another client (403 access_denied; 404
//     client_not_found for a client that does not exist). read_only users get 403
//     user_access_type_deny on writes, Call API apps 403 app_access_type_deny, blocked users and
//     clients 403 user_blocked.
//   - Resources: client info (/client/{id}/client/), limits (/limit/), extension groups and
//     extensions (CRUD), the phone singleton of phone extensions, event subscriptions (CRUD and the
//     documented DELETE of the whole collection), DIDs (list, get, PUT of the assignment fields),
//     and users of the three levels under /client/{id}/user/{level}/.
//   - The core rules: lists are JSON arrays ([] when nothing matches), filtered by query
//     parameters on every field (also as PHP's arrays name[]=a&name[]=b and name[0]=a&name[1]=b)
//     and paged by page and per_page;
//     POST answers 201 with the object, GET and PUT 200 with the object, DELETE 204 with no body;
//     PUT changes only the fields given and null clears a nullable field; a missing object is a
//     404; bad parameters are a 400 whose message names the field; a body that is not JSON is a
//     400 "Bad Request". Collections and singletons end with "/", single objects do not; both
//     forms are served unless WithStrictSlashes, which answers the wrong form with 404.
//   - Rate limits: an hourly request budget per client, X-RateLimit-Limit, -Remaining and -Reset
//     on every authenticated answer, and 429 with status rate_limit_exceeded once it is spent,
//     until the window resets.
//   - gzip answers for clients that send Accept-Encoding: gzip.
//   - Ids of realistic sizes: real ones have five to seven digits (extension 303052, group 85219),
//     so the counters start above 65535, one range per kind (users 72001, extension groups 85201,
//     extensions 303001, DIDs 470001, event subscriptions 612001; Config.FirstIDs changes them),
//     and an id kept in a narrow integer breaks here as it would against the PBX.
//
// # Tests and chaos
//
// Faults (AddFault) match requests by method and path (literal or template, with a trailing *)
// and add latency, answer a status code (429 answers like the rate limit), or serve the request
// and then cut the connection (DropAfterCommit: the change is made, the answer is lost) or answer
// an error status (StatusAfterCommit: the change is made, the answer says it failed). They may
// apply with a probability and a given number of times. FaultsFired counts the faults that
// fired, by kind ("status:503", "drop_after_commit", "after_commit:500", "latency"), apart from the request
// counters. Snapshot returns the whole world and Requests the request counters by method, path
// template and status (an answer cut off by DropAfterCommit is counted under status 0, a request
// abandoned during injected latency under 499), so tests assert state and count calls. Reset makes
// the PBX lose its data: the world starts over from its Config, ids included, and every token is
// revoked, as after a restore from an older backup. WithAdmin serves the same controls over HTTP
// under /_pbxsim/ (see serveAdmin). WithStateFile keeps the world in a file across restarts,
// written atomically after every change.
//
// # Call events
//
// SimulateCall (POST /_pbxsim/calls) plays a call to an extension, by default dial-in, answer and
// hangup, and delivers each event to every subscription of the extension to that event type, as
// the PBX does: a real HTTP request per subscription, GET with the data in request headers, POST
// with it as an application/x-www-form-urlencoded body, with the documented keys EventType,
// CallID, CallerIDNum, CallerIDName, CalledDID, CalledExtension, CalledNumber, CallerExtension
// (clientprefix*name@domain), SubCallID and Bridged. Each delivery has a timeout
// (WithEventTimeout, 2 s by default), and the answer reports what went to which URL and how the
// subscriber answered (CallResult), so a demo can print it.
//
// # Assumptions
//
// Where the public sources leave behaviour open, the simulator takes the choice below and marks it
// in the code with ASSUMPTION:
//
//   - a duplicate extension name in a client, a name of the wrong length or with another
//     client's prefix, an unknown type and an unknown extension_group_id are 400s naming the field;
//   - a PUT that tries to change name or type is a 400;
//   - deleting a group clears extension_group_id on its members; deleting an extension deletes its
//     event subscriptions, phone settings and users, and unassigns its DIDs;
//   - lists take page (1-based) and per_page (default 50, at most 500); an unknown filter is a 400;
//   - group names are not unique; a POST without status makes a blocked extension, without type a
//     phone;
//   - fields the PBX does not know are ignored in bodies; string fields also take numbers;
//   - the phone password is write-only; /limit/ and /timezone/ have shapes of the simulator's own
//     choosing, since the PBX does not document them (/limit/ answers extension_limit,
//     extension_group_limit, event_limit and user_limit, each with its *_count; event_limit caps
//     the subscriptions of all the client's extensions, set per client in LimitConfig.Events);
//   - an empty phone password is accepted (Assumptions.RejectEmptyPhonePassword, flag
//     --reject-empty-phone-password, refuses it with a 400);
//   - 0 in extension_group_id (extensions) and in extension_id and message_extension_id (DIDs) is
//     an id that names nothing, a 400; only null means "none" (Assumptions.ZeroIDIsNone, flag
//     --zero-id-is-none, reads 0 as null);
//   - a Call API app may subscribe to events and read, but not change the configuration;
//   - ivr and queue extensions take only hangup subscriptions: every other type is a 400 whose
//     message contains "ivr-type" (one integrator saw that error for answer and dial-out);
//   - event deliveries (SimulateCall) carry only the documented keys, a GET one header per key
//     named as the key; CalledExtension has CallerExtension's form, SubCallID is an opaque id of
//     the call's one leg, and Bridged is "yes" from the answer on; redirects are not followed.
package pbxsim
