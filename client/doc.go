// Package client is the Go SDK for Keyward's HTTP API: it manages projects, environments and
// API keys, and the identity model around them (accounts, users, roles, project members and
// the audit log), verifies API keys, and offers a net/http middleware that guards a service
// with Keyward-issued keys. Management calls authenticate with an admin key, or with an API
// key or OIDC access token that holds the permissions they need; Whoami says which.
//
// The package has its own wire types and imports nothing else of Keyward, so a program that
// only talks to a Keyward server pulls in no server code.
//
// Manage keys with an admin key (ids are the UUIDs the server returns):
//
//	kw := client.New("https://keyward.example.com", os.Getenv("KEYWARD_TOKEN"))
//	created, err := kw.CreateKey(ctx, client.CreateKeyParams{
//		ProjectID: projectID,
//		Name:      "billing worker",
//		Scopes:    []string{"invoices:read"},
//	})
//	if err != nil {
//		return err
//	}
//	fmt.Println("store it now:", created.Secret) // the secret is returned only once
//
//	for key, err := range kw.AllKeys(ctx, client.ListKeysParams{ProjectID: projectID}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(key.ID, key.Name, key.Status)
//	}
//
// Guard a service with API keys (verification needs no admin key):
//
//	kw := client.New("https://keyward.example.com", "")
//	guard := kw.Middleware(client.MiddlewareOptions{RequiredScopes: []string{"invoices:read"}})
//	http.ListenAndServe(":8080", guard(mux))
//
// A key is also an OAuth 2.0 client (client_id = its id, client_secret = the key): Token
// exchanges it for a short-lived access token, which works wherever the key does;
// Introspect and RevokeToken inspect and end one:
//
//	tok, err := client.New("https://keyward.example.com", "").Token(ctx, client.TokenParams{
//		ClientID: keyID, ClientSecret: apiKey, Scopes: []string{"invoices:read"},
//	})
//
// Keys are held to rate-limit tiers and may carry usage credits: ListTiers, CreateTier and
// UpdateTier manage the tiers; RequestTier, ApproveTierRequest and RejectTierRequest the
// approval of tiers that need it; CreateKeyParams.RateLimit and Credits give a key its own
// limit and credits; KeyUsage and Usage report verifications by outcome over time. A
// verification's RateLimit and Remaining say where the key stands.
//
// Errors the server reports are *Error values with a stable Code; use ErrorCode, IsNotFound
// and friends, or errors.As, to branch on them. The OAuth endpoints answer as RFC 6749 says,
// with *OAuthError values (Code such as invalid_client, Description, Status); use
// OAuthErrorCode or errors.As.
//
// The client never logs, and never puts a secret in a URL or an error message.
package client
