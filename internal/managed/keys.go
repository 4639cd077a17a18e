package managed

import (
	"encoding/json"
	"slices"
	"strconv"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
)

// A kind whose natural key the PBX changes in place (a group's name, a subscription's URL, see
// Adapter.Key) may find, at the recorded id, another key than the spec's: the resource's own
// object before a rename, or an object the PBX made after reusing the id. Its Observe reports the
// key of the object found in Observation.Key.
//
// The engine records, with the id, the keys the resource's object may carry
// (AnnotationExternalKey): the one it was made or found with (and the one the PBX answered a create
// with, should it write the key its own way), and during a rename the old and the new ones
// (written before the PBX is asked to rename). An object at the id with any other key is
// not the resource's. Without a record (a resource from before the record, or an id a user set to
// import an object) the object is the resource's unless another resource records its id.
//
// A create's record is written before the create, with the create-pending mark, when the id is
// not known yet: {"id":0,"keys":[...]}, the keys of the object that create makes. It stands for
// the id in status.id while no external-id annotation names an id (identity.go): status.id is
// written only by the operator, and only with the id of the object the create made or, with a
// record of its own written first, of one it adopted.

// keyRecord is the value of AnnotationExternalKey.
type keyRecord struct {
	ID   int64    `json:"id"`
	Keys []string `json:"keys"`
}

// RecordedKeys returns the natural keys recorded for the PBX id (AnnotationExternalKey), and false
// when there is no record for that id (none, unreadable, or written for another id). A create's
// record (id 0, written with the create-pending mark) is the record of the id in status.id while
// no external-id annotation names an id.
func RecordedKeys(obj Object, id int64) ([]string, bool) {
	return recordedKeys(obj, id, obj.GetManagedStatus().ID)
}

// recordedKeys is RecordedKeys with the id in status.id given (statusID).
func recordedKeys(obj Object, id, statusID int64) ([]string, bool) {
	var rec keyRecord
	if err := json.Unmarshal([]byte(obj.GetAnnotations()[v1alpha1.AnnotationExternalKey]), &rec); err != nil || id == 0 {
		return nil, false
	}
	if rec.ID == id || (rec.ID == 0 && annotatedID(obj) == 0 && statusID == id) {
		return rec.Keys, true
	}
	return nil, false
}

// ForeignKey tells whether an object with the natural key found, at the PBX id that obj records,
// carries a key that obj never gave it: the keys recorded for the id do not hold it. Such an
// object is not obj's (the PBX reused the id). Without a record it says false: the caller decides
// by who else records the id. The engine and kubectl pbx plan decide by it.
func ForeignKey(obj Object, id int64, found string) bool {
	keys, ok := RecordedKeys(obj, id)
	return ok && !slices.Contains(keys, found)
}

// keysToRecord returns the keys to record for an object observed at its id: the spec's alone once
// the object carries it; otherwise (a rename under way, or a key the PBX writes its own way) the
// key found, those recorded already and the spec's, so that no key the object may carry is lost
// while renames follow one another faster than their answers come back.
func keysToRecord(obj Object, obs Observation, want string) []string {
	if obs.Key == want {
		return []string{want}
	}
	keys := []string{obs.Key}
	if prev, ok := RecordedKeys(obj, obs.ExternalID); ok {
		keys = append(keys, prev...)
	}
	keys = append(keys, want)
	out := keys[:0]
	for _, k := range keys {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// identity is what the engine records of a resource's PBX object in its annotations.
type identity struct {
	id int64
	// keys are the natural keys the object may carry; nil for a kind whose key never changes in
	// place.
	keys []string
	// realm is the object's realm; "" for the account's client.
	realm string
}

// identityOf returns the identity to record for an object observed (or made) with id and keys.
func identityOf[O Object](ext Adapter[O], id int64, keys []string) identity {
	return identity{id: id, keys: keys, realm: ext.Realm()}
}

// recorded tells whether obj records idn already: in the identity annotations, or, for the
// object its create made, in status.id with the record its create-pending mark wrote (marked).
func (idn identity) recorded(obj Object) bool {
	if obj.GetAnnotations()[v1alpha1.AnnotationExternalID] == strconv.FormatInt(idn.id, 10) {
		return idn.keysAndRealm(obj, obj.GetManagedStatus().ID)
	}
	return obj.GetManagedStatus().ID == idn.id && idn.marked(obj)
}

// marked tells whether the create-pending mark of obj records idn for the object its create made:
// the mark is there, no external-id annotation names an id, and the keys and realm written with
// the mark are idn's. Then status.id alone records the id (identity.go).
func (idn identity) marked(obj Object) bool {
	if obj.GetAnnotations()[v1alpha1.AnnotationCreatePending] == "" || annotatedID(obj) != 0 {
		return false
	}
	// The record of a create stands for the id in status.id: judge it as it will be.
	return idn.keysAndRealm(obj, idn.id)
}

// keysAndRealm tells whether obj, with statusID in status.id, records idn's keys (for a kind
// that has them) and realm.
func (idn identity) keysAndRealm(obj Object, statusID int64) bool {
	if obj.GetAnnotations()[v1alpha1.AnnotationRealm] != idn.realm {
		return false
	}
	if idn.keys == nil {
		return true
	}
	keys, ok := recordedKeys(obj, idn.id, statusID)
	return ok && slices.Equal(keys, idn.keys)
}

// markIdentity sets, in annotations, what a create about to be made records before its id is
// known: the keys the object will carry (a create's record, id 0) and its realm.
func markIdentity(ann map[string]string, keys []string, realm string) {
	if keys != nil {
		b, _ := json.Marshal(keyRecord{Keys: keys})
		ann[v1alpha1.AnnotationExternalKey] = string(b)
	}
	if realm != "" {
		ann[v1alpha1.AnnotationRealm] = realm
	}
}

// write sets idn in annotations.
func (idn identity) write(ann map[string]string) {
	ann[v1alpha1.AnnotationExternalID] = strconv.FormatInt(idn.id, 10)
	if idn.keys != nil {
		b, _ := json.Marshal(keyRecord{ID: idn.id, Keys: idn.keys})
		ann[v1alpha1.AnnotationExternalKey] = string(b)
	}
	if idn.realm != "" {
		ann[v1alpha1.AnnotationRealm] = idn.realm
	}
}

// forgetIdentity removes every annotation of a resource's PBX identity.
func forgetIdentity(ann map[string]string) {
	delete(ann, v1alpha1.AnnotationExternalID)
	delete(ann, v1alpha1.AnnotationExternalKey)
	delete(ann, v1alpha1.AnnotationRealm)
}
