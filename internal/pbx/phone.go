package pbx

import (
	"context"
	"net/http"
)

// Phone is the phone terminal settings of a phone extension (UPSTREAM-API 3.3): a singleton that
// comes into being with the extension. ASSUMPTION: the SIP password is write-only and never
// read back; extension_id is part of the answer; the types the PBX leaves as "?" (record_format,
// hold_music, ringback_sound, incoming_limit) follow the simulator.
type Phone struct {
	ExtensionID                   int64   `json:"extension_id"`
	Label                         *string `json:"label"`
	AuthType                      string  `json:"auth_type"` // digest, network or both
	AllowWebRTC                   bool    `json:"allow_webrtc"`
	CallScreeningEnabled          bool    `json:"call_screening_enabled"`
	ConferenceAnnounceCallerName  bool    `json:"conference_announce_caller_name"`
	ConferenceEndOnExit           bool    `json:"conference_end_on_exit"`
	ConferencePIN                 *string `json:"conference_pin"`
	RecordEnabled                 bool    `json:"record_enabled"`
	RecordTransfer                bool    `json:"record_transfer"`
	RecordStereo                  bool    `json:"record_stereo"`
	RecordFormat                  string  `json:"record_format"`
	GeoList                       *string `json:"geo_list"`
	AnnounceSoundUponOutgoingCall *int64  `json:"announce_sound_upon_outgoing_call"`
	AnnounceSoundUponIncomingCall *int64  `json:"announce_sound_upon_incoming_call"`
	AppendToCIDNameOnTransfer     *string `json:"append_to_cid_name_on_transfer"`
	HoldMusic                     *int64  `json:"hold_music"`
	RingbackSound                 *int64  `json:"ringback_sound"`
	IncomingLimit                 *int64  `json:"incoming_limit"`
}

// PhoneUpdate is the body of the phone settings' PUT: only the set fields change, and Null
// clears a field. Password sets the SIP registration password; it is redacted from logs.
type PhoneUpdate struct {
	Label                         Opt[string] `json:"label,omitzero"`
	AuthType                      Opt[string] `json:"auth_type,omitzero"`
	Password                      Opt[string] `json:"password,omitzero"`
	AllowWebRTC                   Opt[bool]   `json:"allow_webrtc,omitzero"`
	CallScreeningEnabled          Opt[bool]   `json:"call_screening_enabled,omitzero"`
	ConferenceAnnounceCallerName  Opt[bool]   `json:"conference_announce_caller_name,omitzero"`
	ConferenceEndOnExit           Opt[bool]   `json:"conference_end_on_exit,omitzero"`
	ConferencePIN                 Opt[string] `json:"conference_pin,omitzero"`
	RecordEnabled                 Opt[bool]   `json:"record_enabled,omitzero"`
	RecordTransfer                Opt[bool]   `json:"record_transfer,omitzero"`
	RecordStereo                  Opt[bool]   `json:"record_stereo,omitzero"`
	RecordFormat                  Opt[string] `json:"record_format,omitzero"`
	GeoList                       Opt[string] `json:"geo_list,omitzero"`
	AnnounceSoundUponOutgoingCall Opt[int64]  `json:"announce_sound_upon_outgoing_call,omitzero"`
	AnnounceSoundUponIncomingCall Opt[int64]  `json:"announce_sound_upon_incoming_call,omitzero"`
	AppendToCIDNameOnTransfer     Opt[string] `json:"append_to_cid_name_on_transfer,omitzero"`
	HoldMusic                     Opt[int64]  `json:"hold_music,omitzero"`
	RingbackSound                 Opt[int64]  `json:"ringback_sound,omitzero"`
	IncomingLimit                 Opt[int64]  `json:"incoming_limit,omitzero"`
}

// PhonesService reads and changes phone settings: /extension/{id}/phone/. The realm is the
// extension's (ExtensionRealm or ExtensionNameRealm); a client-level user may use it.
type PhonesService service

// Get returns the phone settings of a phone extension; other types have none (a 404).
func (s *PhonesService) Get(ctx context.Context, ext Realm) (*Phone, error) {
	return get[Phone](ctx, s.c, resPhone.collection(ext))
}

// Update changes the set phone settings and returns them as the PBX stored them.
func (s *PhonesService) Update(ctx context.Context, ext Realm, in PhoneUpdate) (*Phone, error) {
	return send[Phone](ctx, s.c, http.MethodPut, resPhone.collection(ext), in)
}
