package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestKeyLifecycle(t *testing.T) {
	e := newEnv(t)
	proj := e.must(http.StatusCreated, "POST", "/v1/projects", map[string]any{"name": "billing", "key_prefix": "raff"}).object(t)
	projectID := proj["id"].(string)
	envID := e.must(http.StatusCreated, "POST", "/v1/projects/"+projectID+"/environments", map[string]any{"name": "production"}).object(t)["id"].(string)

	expires := e.clock.Now().Add(90 * 24 * time.Hour)
	r := e.must(http.StatusCreated, "POST", "/v1/api-keys", map[string]any{
		"project_id": projectID, "name": "ci-deploys", "scopes": []string{"read", "write", "read"},
		"environment_id": envID, "expires_at": expires, "metadata": map[string]any{"team": "infra"},
		"rotation_interval_days": 30, "rotation_webhook_url": "https://hooks.example.com/rotate",
	})
	created := r.object(t)
	secret := created["key"].(string)
	if !strings.HasPrefix(secret, "raff_") {
		t.Errorf("secret %q does not start with the project prefix raff_", secret)
	}
	if got, want := created["key_prefix"], secret[:len("raff_")+8]; got != want {
		t.Errorf("key_prefix = %v, want %v", got, want)
	}
	if got, want := created["last4"], secret[len(secret)-4:]; got != want {
		t.Errorf("last4 = %v, want %v", got, want)
	}
	if loc := r.header.Get("Location"); loc != "/v1/api-keys/"+created["id"].(string) {
		t.Errorf("Location = %q", loc)
	}
	wantFields := []string{"id", "project_id", "name", "key_prefix", "scopes", "expires_at", "last_used_at", "created_at", "revoked_at",
		"replaced_by_key_id", "grace_expires_at", "environment_id", "rotation_interval_days", "next_rotation_at", "rotation_webhook_url",
		"account_id", "last4", "metadata", "created_by", "status"}
	for _, f := range wantFields {
		if _, ok := created[f]; !ok {
			t.Errorf("created key lacks field %q", f)
		}
	}
	if got := created["scopes"].([]any); len(got) != 2 {
		t.Errorf("scopes = %v, want duplicates dropped", got)
	}
	if got, want := created["next_rotation_at"], e.clock.Now().AddDate(0, 0, 30).Format(time.RFC3339); got != want {
		t.Errorf("next_rotation_at = %v, want %v", got, want)
	}
	if created["last_used_at"] != nil || created["revoked_at"] != nil || created["replaced_by_key_id"] != nil {
		t.Errorf("unset fields should be null: %v", created)
	}
	keyID := created["id"].(string)

	get := e.must(http.StatusOK, "GET", "/v1/api-keys/"+keyID, nil)
	list := e.must(http.StatusOK, "GET", "/v1/api-keys?project_id="+projectID, nil)
	for name, body := range map[string][]byte{"get": get.body, "list": list.body} {
		if strings.Contains(string(body), secret) || strings.Contains(string(body), `"key":`) {
			t.Errorf("%s response carries the secret: %s", name, body)
		}
	}

	if v := e.verify(secret); !v.Valid || v.Code != "VALID" || *v.KeyID != keyID {
		t.Errorf("verify = %+v, want VALID for %s", v, keyID)
	}
	if v := e.verify(secret, "read", "write"); v.Code != "VALID" {
		t.Errorf("verify with held scopes = %s, want VALID", v.Code)
	}
	if v := e.verify(secret, "admin"); v.Valid || v.Code != "INSUFFICIENT_SCOPE" {
		t.Errorf("verify with missing scope = %+v, want INSUFFICIENT_SCOPE", v)
	}

	// last_used_at is recorded off the hot path and appears after a flush.
	if err := e.verifier.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := e.must(http.StatusOK, "GET", "/v1/api-keys/"+keyID, nil).object(t)["last_used_at"]; got == nil {
		t.Errorf("last_used_at is still null after verification and flush")
	}

	e.must(http.StatusNoContent, "DELETE", "/v1/api-keys/"+keyID, nil)
	if v := e.verify(secret); v.Valid || v.Code != "REVOKED" {
		t.Errorf("verify after revoke = %+v, want REVOKED at once", v)
	}
	e.must(http.StatusNoContent, "DELETE", "/v1/api-keys/"+keyID, nil) // idempotent
	revoked := e.must(http.StatusOK, "GET", "/v1/api-keys/"+keyID, nil).object(t)
	if revoked["revoked_at"] == nil || revoked["status"] != "revoked" {
		t.Errorf("after revoke: revoked_at=%v status=%v", revoked["revoked_at"], revoked["status"])
	}
	if r := e.do("POST", "/v1/api-keys/"+keyID+"/rotate", map[string]any{}); r.status != http.StatusConflict {
		t.Errorf("rotating a revoked key = %d %s, want 409", r.status, r.body)
	}
	if r := e.do("PATCH", "/v1/api-keys/"+keyID, map[string]any{"name": "x"}); r.status != http.StatusConflict {
		t.Errorf("updating a revoked key = %d, want 409", r.status)
	}
}

func TestRotateWithGrace(t *testing.T) {
	e := newEnv(t)
	projectID := e.project("p")
	old := e.key(map[string]any{"project_id": projectID, "name": "svc", "scopes": []string{"read"}, "metadata": map[string]any{"a": 1}})

	var rot struct {
		OldKeyID       string    `json:"old_key_id"`
		NewKeyID       string    `json:"new_key_id"`
		Key            string    `json:"key"`
		Name           string    `json:"name"`
		Scopes         []string  `json:"scopes"`
		GraceExpiresAt time.Time `json:"grace_expires_at"`
	}
	e.must(http.StatusCreated, "POST", "/v1/api-keys/"+old.ID+"/rotate", map[string]any{"grace_period_seconds": 60}).decode(t, &rot)
	if rot.OldKeyID != old.ID || rot.NewKeyID == old.ID || rot.Name != "svc" || len(rot.Scopes) != 1 {
		t.Errorf("rotation = %+v", rot)
	}
	if want := e.clock.Now().Add(60 * time.Second); !rot.GraceExpiresAt.Equal(want) {
		t.Errorf("grace_expires_at = %v, want %v", rot.GraceExpiresAt, want)
	}
	oldNow := e.must(http.StatusOK, "GET", "/v1/api-keys/"+old.ID, nil).object(t)
	if oldNow["replaced_by_key_id"] != rot.NewKeyID {
		t.Errorf("old key replaced_by_key_id = %v, want %v", oldNow["replaced_by_key_id"], rot.NewKeyID)
	}
	newKey := e.must(http.StatusOK, "GET", "/v1/api-keys/"+rot.NewKeyID, nil).object(t)
	if newKey["metadata"].(map[string]any)["a"] != float64(1) {
		t.Errorf("new key metadata = %v, want inherited", newKey["metadata"])
	}

	if v := e.verify(old.Key); v.Code != "VALID" {
		t.Errorf("old key during grace = %s, want VALID", v.Code)
	}
	if v := e.verify(rot.Key); v.Code != "VALID" {
		t.Errorf("new key = %s, want VALID", v.Code)
	}
	if r := e.do("POST", "/v1/api-keys/"+old.ID+"/rotate", nil); r.status != http.StatusConflict {
		t.Errorf("rotating an already rotated key = %d, want 409", r.status)
	}

	e.clock.Advance(61 * time.Second)
	if v := e.verify(old.Key); v.Valid || v.Code != "EXPIRED" {
		t.Errorf("old key after grace = %+v, want EXPIRED", v)
	}
	if v := e.verify(rot.Key); v.Code != "VALID" {
		t.Errorf("new key after grace = %s, want VALID", v.Code)
	}
	var expired []map[string]any
	e.must(http.StatusOK, "GET", "/v1/api-keys?status=expired", nil).decode(t, &expired)
	if len(expired) != 1 || expired[0]["id"] != old.ID {
		t.Errorf("status=expired lists %v, want the old key", expired)
	}
}

func TestRotateWithoutGrace(t *testing.T) {
	e := newEnv(t)
	old := e.key(map[string]any{"project_id": e.project("p"), "name": "svc"})
	var rot struct {
		Key            string     `json:"key"`
		GraceExpiresAt *time.Time `json:"grace_expires_at"`
	}
	// No body at all, as `curl -X POST …/rotate` sends.
	e.must(http.StatusCreated, "POST", "/v1/api-keys/"+old.ID+"/rotate", nil).decode(t, &rot)
	if rot.GraceExpiresAt != nil {
		t.Errorf("grace_expires_at = %v, want null", rot.GraceExpiresAt)
	}
	if v := e.verify(old.Key); v.Valid {
		t.Errorf("old key after rotation without grace = %s, want it refused at once", v.Code)
	}
	if v := e.verify(rot.Key); v.Code != "VALID" {
		t.Errorf("new key = %s, want VALID", v.Code)
	}
}

func TestRotateKeepsLifetime(t *testing.T) {
	e := newEnv(t)
	old := e.key(map[string]any{"project_id": e.project("p"), "name": "svc", "expires_at": e.clock.Now().Add(48 * time.Hour)})
	e.clock.Advance(24 * time.Hour)
	var rot struct {
		ExpiresAt time.Time `json:"expires_at"`
	}
	e.must(http.StatusCreated, "POST", "/v1/api-keys/"+old.ID+"/rotate", map[string]any{}).decode(t, &rot)
	if want := e.clock.Now().Add(48 * time.Hour); !rot.ExpiresAt.Equal(want) {
		t.Errorf("new key expires_at = %v, want the old lifetime again: %v", rot.ExpiresAt, want)
	}
}

func TestExpiry(t *testing.T) {
	e := newEnv(t)
	k := e.key(map[string]any{"project_id": e.project("p"), "name": "short", "expires_at": e.clock.Now().Add(time.Hour)})
	if v := e.verify(k.Key); v.Code != "VALID" {
		t.Fatalf("before expiry: %s", v.Code)
	}
	e.clock.Advance(time.Hour)
	if v := e.verify(k.Key); v.Code != "EXPIRED" {
		t.Errorf("at expiry: %s, want EXPIRED", v.Code)
	}
}

func TestUpdateKey(t *testing.T) {
	e := newEnv(t)
	k := e.key(map[string]any{"project_id": e.project("p"), "name": "a", "expires_at": e.clock.Now().Add(time.Hour),
		"metadata": map[string]any{"x": "y"}, "rotation_interval_days": 7, "rotation_webhook_url": "http://127.0.0.1:9/hook"})

	got := e.must(http.StatusOK, "PATCH", "/v1/api-keys/"+k.ID, map[string]any{"name": "b", "scopes": []string{"read"}}).object(t)
	if got["name"] != "b" || len(got["scopes"].([]any)) != 1 || got["expires_at"] == nil || got["metadata"] == nil {
		t.Errorf("after partial update: %v", got)
	}
	if v := e.verify(k.Key, "read"); v.Code != "VALID" {
		t.Errorf("verify with the new scope = %s, want VALID (cache must be invalidated)", v.Code)
	}

	got = e.must(http.StatusOK, "PATCH", "/v1/api-keys/"+k.ID, `{"expires_at": null, "metadata": null, "rotation_interval_days": null, "rotation_webhook_url": null}`).object(t)
	for _, f := range []string{"expires_at", "metadata", "next_rotation_at", "rotation_webhook_url"} {
		if got[f] != nil {
			t.Errorf("%s = %v after clearing, want null", f, got[f])
		}
	}
	if got["rotation_interval_days"] != float64(0) {
		t.Errorf("rotation_interval_days = %v, want 0", got["rotation_interval_days"])
	}
	e.clock.Advance(2 * time.Hour)
	if v := e.verify(k.Key); v.Code != "VALID" {
		t.Errorf("verify after expiry was cleared = %s, want VALID", v.Code)
	}

	for name, body := range map[string]string{
		"past expiry":   `{"expires_at": "2000-01-01T00:00:00Z"}`,
		"null name":     `{"name": null}`,
		"empty name":    `{"name": ""}`,
		"bad webhook":   `{"rotation_webhook_url": "ftp://x"}`,
		"unknown field": `{"nmae": "x"}`,
	} {
		t.Run(name, func(t *testing.T) {
			if r := e.do("PATCH", "/v1/api-keys/"+k.ID, body); r.status != http.StatusUnprocessableEntity && r.status != http.StatusBadRequest {
				t.Errorf("PATCH %s = %d %s, want 400 or 422", body, r.status, r.body)
			}
		})
	}
}

func TestListKeysPagination(t *testing.T) {
	e := newEnv(t)
	p1, p2 := e.project("one"), e.project("two")
	var want []string
	for i := range 5 {
		want = append(want, e.key(map[string]any{"project_id": p1, "name": "k" + string(rune('a'+i))}).ID)
	}
	e.key(map[string]any{"project_id": p2, "name": "other"})

	var got []string
	path := "/v1/api-keys?project_id=" + p1 + "&limit=2"
	for pages := 0; path != ""; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		r := e.must(http.StatusOK, "GET", path, nil)
		var items []struct{ ID string }
		r.decode(t, &items)
		for _, it := range items {
			got = append(got, it.ID)
		}
		path = ""
		if c := r.header.Get("X-Next-Cursor"); c != "" {
			path = "/v1/api-keys?project_id=" + p1 + "&limit=2&cursor=" + c
			if !strings.Contains(r.header.Get("Link"), `rel="next"`) {
				t.Errorf("Link = %q, want a next link", r.header.Get("Link"))
			}
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("paged ids = %v, want %v", got, want)
	}
	var all []any
	e.must(http.StatusOK, "GET", "/v1/api-keys", nil).decode(t, &all)
	if len(all) != 6 {
		t.Errorf("list without project_id = %d keys, want every key of the account (6)", len(all))
	}
}

func TestProjectsAndEnvironments(t *testing.T) {
	e := newEnv(t)
	p := e.must(http.StatusCreated, "POST", "/v1/projects", map[string]any{"name": "web"}).object(t)
	if p["key_prefix"] != "kw" {
		t.Errorf("default key_prefix = %v, want kw", p["key_prefix"])
	}
	id := p["id"].(string)
	if r := e.do("POST", "/v1/projects", map[string]any{"name": "web"}); r.status != http.StatusConflict || problemCode(t, r) != "conflict" {
		t.Errorf("duplicate project = %d %s, want 409 conflict", r.status, r.body)
	}
	for _, prefix := range []string{"Bad", "sk-live", "kwadmin", "1x"} {
		if r := e.do("POST", "/v1/projects", map[string]any{"name": "x" + prefix, "key_prefix": prefix}); r.status != http.StatusUnprocessableEntity {
			t.Errorf("key_prefix %q = %d, want 422", prefix, r.status)
		}
	}
	e.must(http.StatusOK, "GET", "/v1/projects/"+id, nil)
	e.must(http.StatusCreated, "POST", "/v1/projects/"+id+"/environments", map[string]any{"name": "production"})
	e.must(http.StatusCreated, "POST", "/v1/projects/"+id+"/environments", map[string]any{"name": "staging"})
	if r := e.do("POST", "/v1/projects/"+id+"/environments", map[string]any{"name": "staging"}); r.status != http.StatusConflict {
		t.Errorf("duplicate environment = %d, want 409", r.status)
	}
	var envs []struct{ Name string }
	e.must(http.StatusOK, "GET", "/v1/projects/"+id+"/environments", nil).decode(t, &envs)
	if len(envs) != 2 || envs[0].Name != "production" {
		t.Errorf("environments = %+v", envs)
	}
	r := e.must(http.StatusOK, "GET", "/v1/projects?limit=1", nil)
	if r.header.Get("X-Next-Cursor") != "" {
		t.Errorf("one project, limit 1: no next page expected, got %q", r.header.Get("X-Next-Cursor"))
	}

	// A key's environment must belong to the key's project.
	other := e.project("other")
	otherEnv := e.must(http.StatusCreated, "POST", "/v1/projects/"+other+"/environments", map[string]any{"name": "production"}).object(t)["id"]
	if r := e.do("POST", "/v1/api-keys", map[string]any{"project_id": id, "name": "k", "environment_id": otherEnv}); r.status != http.StatusUnprocessableEntity {
		t.Errorf("key in another project's environment = %d %s, want 422", r.status, r.body)
	}
}

func TestVerifyInputs(t *testing.T) {
	e := newEnv(t)
	k := e.key(map[string]any{"project_id": e.project("p"), "name": "k"})

	if v := e.verify("not-a-key"); v.Valid || v.Code != "MALFORMED" || v.KeyID != nil {
		t.Errorf("garbage = %+v, want MALFORMED", v)
	}
	tampered := k.Key[:10] + string('A'+(k.Key[10]-'A'+1)%26) + k.Key[11:]
	if v := e.verify(tampered); v.Code != "MALFORMED" {
		t.Errorf("one changed character = %s, want MALFORMED (checksum)", v.Code)
	}
	// The key may come as a bearer token instead of in the body.
	r := e.doAs(k.Key, "POST", "/v1/keys/verify", nil)
	var v verdict
	r.decode(t, &v)
	if r.status != http.StatusOK || v.Code != "VALID" {
		t.Errorf("verify by bearer = %d %+v, want 200 VALID", r.status, v)
	}

	for name, tc := range map[string]struct {
		body string
		want int
	}{
		"no key":        {`{}`, http.StatusBadRequest},
		"unknown field": {`{"key":"x","extra":1}`, http.StatusUnprocessableEntity},
		"trailing data": {`{"key":"x"} {}`, http.StatusBadRequest},
		"not json":      {`key=x`, http.StatusBadRequest},
		"too large":     {`{"key":"` + strings.Repeat("a", 70<<10) + `"}`, http.StatusRequestEntityTooLarge},
	} {
		t.Run(name, func(t *testing.T) {
			r := e.doAs("", "POST", "/v1/keys/verify", tc.body)
			if r.status != tc.want {
				t.Errorf("status = %d %s, want %d", r.status, r.body, tc.want)
			}
			problemCode(t, r)
		})
	}
}

func TestVerifyNotFound(t *testing.T) {
	e := newEnv(t)
	// A key issued by another Keyward (another server secret) is well-formed but unknown here.
	other := newEnv(t)
	k := other.key(map[string]any{"project_id": other.project("p"), "name": "elsewhere"})
	if v := e.verify(k.Key); v.Valid || v.Code != "NOT_FOUND" {
		t.Errorf("unknown well-formed key = %+v, want NOT_FOUND", v)
	}
}
