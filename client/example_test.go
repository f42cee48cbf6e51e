package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/keyward/keyward/client"
)

// Ids as the server issues them (UUIDv7); in a program they come from earlier answers.
var (
	projectID = "01a209ef-6055-776e-845b-77f94afea29b"
	keyID     = "01a209ef-6082-79c1-a3ae-ac1d604a672b"
)

func ExampleClient_CreateKey() {
	ctx := context.Background()
	kw := client.New("http://127.0.0.1:8080", os.Getenv("KEYWARD_TOKEN"))

	created, err := kw.CreateKey(ctx, client.CreateKeyParams{
		ProjectID: projectID,
		Name:      "billing worker",
		Scopes:    []string{"invoices:read", "invoices:write"},
		ExpiresAt: new(time.Now().Add(90 * 24 * time.Hour)),
		Metadata:  map[string]any{"team": "billing"},
	})
	if err != nil {
		log.Fatal(err)
	}
	// The secret is shown only now; Keyward keeps a hash of it.
	fmt.Println(created.ID, created.Secret)
}

func ExampleClient_AllKeys() {
	ctx := context.Background()
	kw := client.New("http://127.0.0.1:8080", os.Getenv("KEYWARD_TOKEN"))

	for key, err := range kw.AllKeys(ctx, client.ListKeysParams{ProjectID: projectID, Status: client.StatusActive}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(key.ID, key.Name, key.KeyPrefix)
	}
}

func ExampleClient_UpdateKey() {
	ctx := context.Background()
	kw := client.New("http://127.0.0.1:8080", os.Getenv("KEYWARD_TOKEN"))

	// Rename the key, make it never expire, and leave everything else as it is.
	key, err := kw.UpdateKey(ctx, keyID, client.UpdateKeyParams{
		Name:           new("billing worker (legacy)"),
		ClearExpiresAt: true,
	})
	if client.IsNotFound(err) {
		log.Fatal("no such key")
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(key.Name)
}

func ExampleClient_RotateKey() {
	ctx := context.Background()
	kw := client.New("http://127.0.0.1:8080", os.Getenv("KEYWARD_TOKEN"))

	// The old key keeps working for an hour while callers switch to the new one.
	rotated, err := kw.RotateKey(ctx, keyID, client.RotateKeyParams{GracePeriod: new(time.Hour)})
	if err != nil {
		var apiErr *client.Error
		if errors.As(err, &apiErr) && apiErr.Code == client.CodeConflict {
			log.Fatal("the key is revoked or already rotated")
		}
		log.Fatal(err)
	}
	fmt.Println(rotated.NewKeyID, rotated.Secret, rotated.GraceExpiresAt)
}

func ExampleClient_CreateKey_forUser() {
	ctx := context.Background()
	kw := client.New("http://127.0.0.1:8080", os.Getenv("KEYWARD_TOKEN"))

	// A user, and an account key that acts for them: it holds at most what they hold, reads
	// keys account-wide (its role) and administers one project (its project access). It
	// stops working when the user is disabled.
	user, err := kw.CreateUser(ctx, client.CreateUserParams{Email: "ada@example.com", RoleID: client.RoleAdmin})
	if err != nil {
		log.Fatal(err)
	}
	created, err := kw.CreateKey(ctx, client.CreateKeyParams{
		Name:            "ada's laptop",
		UserID:          user.ID,
		RoleID:          client.RoleViewer,
		ProjectAccesses: []client.ProjectAccess{{ProjectID: projectID, RoleID: client.RoleAdmin}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(created.ID, created.Secret)
}

func ExampleClient_Whoami() {
	ctx := context.Background()
	kw := client.New("http://127.0.0.1:8080", os.Getenv("KEYWARD_TOKEN"))

	who, err := kw.Whoami(ctx)
	if client.IsUnauthenticated(err) {
		log.Fatal("KEYWARD_TOKEN is not a valid credential")
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(who.Kind, who.Account.Name, who.Permissions)
	for _, p := range who.Projects {
		fmt.Println(p.ProjectName, p.RoleSlug)
	}
}

func ExampleClient_AllAuditEvents() {
	ctx := context.Background()
	kw := client.New("http://127.0.0.1:8080", os.Getenv("KEYWARD_TOKEN"))

	// Everything refused in the last day, newest first.
	params := client.ListAuditEventsParams{Outcome: client.OutcomeFailure, From: time.Now().Add(-24 * time.Hour)}
	for e, err := range kw.AllAuditEvents(ctx, params) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(e.At, e.ActorKind, e.ActorID, e.Action, e.TargetID, e.ErrorCode)
	}
}

func ExampleClient_Middleware() {
	kw := client.New("http://127.0.0.1:8080", "") // verification needs no admin key
	requireKey := kw.Middleware(client.MiddlewareOptions{
		Header:         "X-API-Key",
		RequiredScopes: []string{"invoices:read"},
	})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /invoices", func(w http.ResponseWriter, r *http.Request) {
		res, _ := client.VerifyResultFrom(r.Context())
		fmt.Fprintf(w, "invoices of account %s, seen through key %s\n", res.AccountID, res.KeyID)
	})
	log.Fatal(http.ListenAndServe(":8081", requireKey(mux)))
}

func ExampleClient_Token() {
	ctx := context.Background()
	kw := client.New("http://127.0.0.1:8080", "") // the key authenticates itself

	tok, err := kw.Token(ctx, client.TokenParams{
		ClientID:     keyID,
		ClientSecret: os.Getenv("API_KEY"),
		Scopes:       []string{"invoices:read"},
	})
	var oauthErr *client.OAuthError
	if errors.As(err, &oauthErr) && oauthErr.Code == client.OAuthInvalidClient {
		log.Fatal("the key is unknown, revoked or expired, or the secret is wrong")
	}
	if err != nil {
		log.Fatal(err)
	}
	// The token works wherever the key does, until tok.Expiry or its revocation.
	fmt.Println(tok.Scopes(), tok.Expiry)
}

func ExampleClient_Introspect() {
	ctx := context.Background()
	kw := client.New("http://127.0.0.1:8080", os.Getenv("KEYWARD_TOKEN"))

	info, err := kw.Introspect(ctx, os.Getenv("ACCESS_TOKEN"))
	if err != nil {
		log.Fatal(err)
	}
	if !info.Active {
		log.Fatal("the token is unknown, expired or revoked")
	}
	fmt.Println(info.ClientID, info.Scopes(), info.ExpiresAt)
}
