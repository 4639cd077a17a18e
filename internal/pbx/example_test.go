package pbx_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"

	"github.com/cloudpbx/pbx-operator/internal/pbx"
	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// The steps of the package documentation, against the simulator.
func Example_client() {
	sim, err := pbxsim.New(pbxsim.DemoConfig(), pbxsim.WithStrictSlashes())
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()

	ctx := context.Background()
	c, err := pbx.New(srv.URL,
		pbx.WithCredentials(pbxsim.DemoTrustedAppID, pbxsim.DemoAppSecret),
		pbx.WithUserAgent("pbx-operator/example"),
		pbx.WithRateLimit(5, 10),
		pbx.WithWriteReserve(10),
	)
	if err != nil {
		log.Fatal(err)
	}
	me, err := c.Users.Me(ctx)
	if err != nil {
		log.Fatal(err)
	}
	realm, _ := me.Realm()
	info, err := c.ClientInfo.Get(ctx, realm)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("acting for %s in %s, prefix %s, %d-digit numbers\n", me.Login, realm, info.Prefix, info.ExtensionLen)

	ext, err := c.Extensions.FindByName(ctx, realm, pbx.FullName(info.Prefix, "101"))
	if pbx.IsNotFound(err) {
		ext, err = c.Extensions.Create(ctx, realm, pbx.ExtensionCreate{
			Name:   "101",
			Type:   pbx.ExtensionTypePhone,
			Status: pbx.StatusActive,
			Label:  pbx.Set("Reception"),
		})
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("extension %d is %s, %s, label %q\n", ext.ID, ext.Name, ext.Status, *ext.Label)

	ext, err = c.Extensions.Update(ctx, realm, ext.ID, pbx.ExtensionUpdate{
		Status: pbx.Set(pbx.StatusBlocked),
		Label:  pbx.Null[string](),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("after the update: %s, label cleared: %t\n", ext.Status, ext.Label == nil)

	for e, err := range c.Extensions.List(ctx, realm, pbx.ExtensionFilter{Type: pbx.ExtensionTypePhone}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("listed", pbx.ShortName(e.Name))
	}

	phone, err := c.Phones.Get(ctx, pbx.ExtensionRealm(ext.ID))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("phone auth type:", phone.AuthType)

	_, err = c.Extensions.Get(ctx, realm, 9999)
	fmt.Println("missing extension is not found:", pbx.IsNotFound(err))
	fmt.Println("requests left this hour:", c.Budget().Remaining)

	// Output:
	// acting for demo-admin in client/1, prefix 0003, 3-digit numbers
	// extension 303001 is 0003*101, active, label "Reception"
	// after the update: blocked, label cleared: true
	// listed 101
	// phone auth type: digest
	// missing extension is not found: true
	// requests left this hour: 9992
}
