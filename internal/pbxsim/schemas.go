package pbxsim

// The resource schemas, from UPSTREAM-API.md section 3. Field names, types and defaults are the
// PBX's; where the sources are silent the choice is marked ASSUMPTION.

var (
	// extensionTypes and the other enums are the PBX's documented values.
	extensionTypes = []string{"phone", "queue", "ivr", "fax"}
	eventTypes     = []string{"dial-in", "dial-out", "answer", "hangup", "message-in", "message-out", "voicemail"}
)

// clientSchema is /client/@me/client/ (section 3.9). Everything is read-only for a client user.
var clientSchema = schema{
	{name: "id", kind: kindInt},
	{name: "name", kind: kindString},
	{name: "prefix", kind: kindString},
	{name: "domain", kind: kindString},
	{name: "domain_prefix", kind: kindString, nullable: true},
	// extension_len is a string in the PBX's own field table.
	{name: "extension_len", kind: kindString},
	{name: "timezone", kind: kindString},
	{name: "create_date", kind: kindString},
	{name: "type", kind: kindString, def: "J"},
	{name: "email", kind: kindString, nullable: true},
	{name: "contact_phones", kind: kindString, nullable: true},
	{name: "ambassadors", kind: kindString, nullable: true},
	{name: "jur_address", kind: kindString, nullable: true},
	{name: "fact_address", kind: kindString, nullable: true},
	{name: "language", kind: kindString, def: "en"},
	{name: "extra_params", kind: kindString, nullable: true},
	{name: "reg_status_log", kind: kindBool, def: false},
	{name: "geo_list", kind: kindString, nullable: true},
	{name: "dial_rule_id", kind: kindInt, nullable: true},
}

// userSchema covers the three user levels (section 1.6): exactly one of client_id,
// extension_group_id and extension_id is set. GET /user/ shows the same object.
var userSchema = schema{
	{name: "id", kind: kindInt},
	{name: "login", kind: kindString, create: true, required: true, maxLen: 64},
	{name: "password", kind: kindString, create: true, update: true, required: true, maxLen: 128, writeOnly: true},
	{name: "name", kind: kindString, create: true, update: true, required: true, maxLen: 255},
	{name: "email", kind: kindString, create: true, update: true, required: true, maxLen: 255},
	{name: "access", kind: kindString, create: true, update: true, def: "full", enum: []string{"full", "read_only"}},
	{name: "status", kind: kindString, create: true, update: true, def: "active", enum: []string{"active", "blocked"}},
	{name: "comment", kind: kindString, nullable: true, create: true, update: true, maxLen: 1024},
	{name: "timezone", kind: kindString, create: true, update: true, def: "Europe/Moscow", maxLen: 64},
	{name: "extra_params", kind: kindString, nullable: true, create: true, update: true, maxLen: 4096},
	{name: "email_notify", kind: kindBool, create: true, update: true, def: false},
	{name: "email_for_notify", kind: kindString, nullable: true, create: true, update: true, maxLen: 255},
	{name: "admin", kind: kindBool, def: false},
	{name: "dealer_id", kind: kindInt, nullable: true},
	// The owner keys are set from the request path's user level; see handleUsers.
	{name: "client_id", kind: kindInt, nullable: true, create: true},
	{name: "extension_group_id", kind: kindInt, nullable: true, create: true},
	{name: "extension_id", kind: kindInt, nullable: true, create: true},
}

// groupSchema is /extension_group/ (section 3.2).
var groupSchema = schema{
	{name: "id", kind: kindInt},
	// ASSUMPTION (DESIGN 6): name is required; group names are not unique.
	{name: "name", kind: kindString, create: true, update: true, required: true, maxLen: 255},
	{name: "client_id", kind: kindInt},
	{name: "extra_params", kind: kindString, nullable: true, create: true, update: true, maxLen: 4096},
}

// extensionSchema is /extension/ (section 3.1).
var extensionSchema = schema{
	{name: "id", kind: kindInt},
	// name and type are set on create only; a PUT that changes them is a 400 (DESIGN 6).
	{name: "name", kind: kindString, create: true, required: true, maxLen: 64},
	// ASSUMPTION (UPSTREAM-API 3.1): a POST without type makes a phone, without status a blocked one.
	{name: "type", kind: kindString, create: true, def: "phone", enum: extensionTypes},
	{name: "status", kind: kindString, create: true, update: true, def: "blocked", enum: []string{"active", "blocked"}},
	{name: "label", kind: kindString, nullable: true, create: true, update: true, maxLen: 255},
	{name: "client_id", kind: kindInt},
	{name: "extension_group_id", kind: kindInt, nullable: true, create: true, update: true},
	{name: "caller_id_name", kind: kindString, nullable: true, create: true, update: true, maxLen: 255},
	{name: "dial_rule_id", kind: kindInt, nullable: true, create: true, update: true},
	{name: "dial_rule_limit", kind: kindInt, nullable: true, create: true, update: true},
	{name: "did_as_transfer_caller_id", kind: kindString, nullable: true, create: true, update: true, maxLen: 32},
	{name: "message_did", kind: kindString, nullable: true, create: true, update: true, maxLen: 32},
	{name: "ani_rfc3325", kind: kindBool, create: true, update: true, def: false},
	{name: "ani", kind: kindString, nullable: true, create: true, update: true, maxLen: 64},
	{name: "extra_params", kind: kindString, nullable: true, create: true, update: true, maxLen: 4096},
	{name: "domain", kind: kindString},
	{name: "create_date", kind: kindString},
	{name: "caller_id_group_id", kind: kindInt, nullable: true, create: true, update: true},
	{name: "client_public_caller_id_number", kind: kindInt, nullable: true, create: true, update: true},
}

// phoneSchema is the /extension/{id}/phone/ singleton (section 3.3), which exists for every
// extension of type phone. ASSUMPTION: password is write-only (GET does not return it).
var phoneSchema = schema{
	{name: "extension_id", kind: kindInt},
	{name: "label", kind: kindString, nullable: true, update: true, maxLen: 255},
	{name: "auth_type", kind: kindString, update: true, def: "digest", enum: []string{"digest", "network", "both"}},
	{name: "password", kind: kindString, nullable: true, update: true, maxLen: 64, writeOnly: true},
	{name: "allow_webrtc", kind: kindBool, update: true, def: false},
	{name: "call_screening_enabled", kind: kindBool, update: true, def: false},
	{name: "conference_announce_caller_name", kind: kindBool, update: true, def: true},
	{name: "conference_end_on_exit", kind: kindBool, update: true, def: true},
	{name: "conference_pin", kind: kindString, nullable: true, update: true, maxLen: 16},
	{name: "record_enabled", kind: kindBool, update: true, def: false},
	{name: "record_transfer", kind: kindBool, update: true, def: false},
	{name: "record_stereo", kind: kindBool, update: true, def: false},
	{name: "record_format", kind: kindString, update: true, def: "mp3", enum: []string{"mp3", "wav"}},
	{name: "geo_list", kind: kindString, nullable: true, update: true, maxLen: 1024},
	{name: "announce_sound_upon_outgoing_call", kind: kindInt, nullable: true, update: true},
	{name: "announce_sound_upon_incoming_call", kind: kindInt, nullable: true, update: true},
	{name: "append_to_cid_name_on_transfer", kind: kindString, nullable: true, update: true, maxLen: 64},
	{name: "hold_music", kind: kindInt, nullable: true, update: true},
	{name: "ringback_sound", kind: kindInt, nullable: true, update: true},
	{name: "incoming_limit", kind: kindInt, nullable: true, update: true},
}

// eventSchema is /extension/{id}/event/ (section 3.5). extension_id is kept for the simulator's
// bookkeeping and is not part of the PBX's answer.
var eventSchema = schema{
	{name: "id", kind: kindInt},
	{name: "url", kind: kindString, create: true, update: true, required: true, maxLen: 1024},
	{name: "event_type", kind: kindString, create: true, update: true, required: true, enum: eventTypes},
	{name: "method", kind: kindString, create: true, update: true, required: true, enum: []string{"GET", "POST"}},
	{name: "extension_id", kind: kindInt, writeOnly: true},
}

// didSchema is /did/ (section 3.4): provider-owned numbers; only the assignment fields change.
var didSchema = schema{
	{name: "id", kind: kindInt},
	{name: "name", kind: kindString},
	{name: "domain", kind: kindString, nullable: true},
	{name: "client_id", kind: kindInt},
	{name: "extension_id", kind: kindInt, nullable: true, update: true},
	{name: "allow_message", kind: kindBool, update: true, def: false},
	{name: "message_extension_id", kind: kindInt, nullable: true, update: true},
	{name: "comment", kind: kindString, update: true, def: "", maxLen: 255},
	{name: "create_date", kind: kindString},
}

// schemas maps collection names to their schemas.
var schemas = map[string]schema{
	colClient:    clientSchema,
	colUser:      userSchema,
	colGroup:     groupSchema,
	colExtension: extensionSchema,
	colPhone:     phoneSchema,
	colEvent:     eventSchema,
	colDID:       didSchema,
}
