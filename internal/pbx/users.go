package pbx

import (
	"context"
	"strconv"
)

// User is the user a token acts for (GET /user/, UPSTREAM-API 1.5). Exactly one of ClientID,
// ExtensionGroupID and ExtensionID is set; it gives the user's realm.
type User struct {
	ID               int64        `json:"id"`
	Login            string       `json:"login"`
	Access           string       `json:"access"` // full or read_only
	Admin            bool         `json:"admin"`
	ClientID         *int64       `json:"client_id"`
	ExtensionGroupID *int64       `json:"extension_group_id"`
	ExtensionID      *int64       `json:"extension_id"`
	DealerID         *int64       `json:"dealer_id"`
	Timezone         string       `json:"timezone"`
	ExtraParams      *LooseString `json:"extra_params"`
}

// User access levels.
const (
	AccessFull     = "full"
	AccessReadOnly = "read_only"
)

// Realm returns the realm the user acts in, with its numeric id; false for a user of another
// level (dealer, admin).
func (u *User) Realm() (Realm, bool) {
	for _, r := range []struct {
		kind RealmKind
		id   *int64
	}{{RealmClient, u.ClientID}, {RealmExtensionGroup, u.ExtensionGroupID}, {RealmExtension, u.ExtensionID}} {
		if r.id != nil {
			return Realm{Kind: r.kind, ID: strconv.FormatInt(*r.id, 10)}, true
		}
	}
	return Realm{}, false
}

// UsersService tells who the client's token acts for.
type UsersService service

// Me returns the user the token acts for: GET /user/.
func (s *UsersService) Me(ctx context.Context) (*User, error) {
	return get[User](ctx, s.c, resUser.collection(Realm{}))
}
