package push_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"suiji/backend"
	"suiji/storage/push"
)

// fcm is a local server speaking enough of the FCM HTTP v1 API for the
// sender: POST /v1/projects/{project}/messages:send. It answers by token:
// "gone" is unregistered (404), "bad" is malformed (400), "boom" is a server
// error (500), anything else is accepted.
type fcm struct {
	mu       sync.Mutex
	requests []map[string]any // decoded "message" objects
}

func (f *fcm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/projects/p/messages:send" {
		http.Error(w, `{"error":{"code":404,"message":"no such method","status":"NOT_FOUND"}}`, http.StatusNotFound)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var req struct {
		Message map[string]any `json:"message"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.requests = append(f.requests, req.Message)
	f.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	fail := func(status int, grpc, fcmCode, msg string) {
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
			"code": status, "message": msg, "status": grpc,
			"details": []any{map[string]any{
				"@type":     "type.googleapis.com/google.firebase.fcm.v1.FcmError",
				"errorCode": fcmCode,
			}},
		}})
	}
	switch req.Message["token"] {
	case "gone":
		fail(http.StatusNotFound, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found.")
	case "bad":
		fail(http.StatusBadRequest, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token")
	case "big":
		fail(http.StatusBadRequest, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Message is too big")
	case "boom":
		fail(http.StatusInternalServerError, "INTERNAL", "INTERNAL", "Internal error encountered.")
	default:
		_, _ = io.WriteString(w, `{"name":"projects/p/messages/123"}`)
	}
}

func open(t *testing.T) (*push.Sender, *fcm) {
	t.Helper()
	f := &fcm{}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	s, err := push.Open(t.Context(), push.Options{Endpoint: srv.URL + "/v1", ProjectID: "p"})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s, f
}

func TestSendReachesTheEndpoint(t *testing.T) {
	s, f := open(t)
	id, err := s.Send(t.Context(), push.Message{
		Token: "device-1", Title: "新任务", Body: "城关镇 3 家企业",
		Data: map[string]string{"task_id": "t42", "kind": "dispatch"},
	})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if id != "projects/p/messages/123" {
		t.Errorf("id = %q, want the name the server returned", id)
	}
	if len(f.requests) != 1 {
		t.Fatalf("server got %d requests, want 1; option.WithEndpoint was not honoured", len(f.requests))
	}
	got := f.requests[0]
	if got["token"] != "device-1" {
		t.Errorf("token = %v", got["token"])
	}
	n, _ := got["notification"].(map[string]any)
	if n["title"] != "新任务" || n["body"] != "城关镇 3 家企业" {
		t.Errorf("notification = %v", got["notification"])
	}
	d, _ := got["data"].(map[string]any)
	if d["task_id"] != "t42" || d["kind"] != "dispatch" || len(d) != 2 {
		t.Errorf("data = %v", got["data"])
	}
}

func TestSendDataOnly(t *testing.T) {
	s, f := open(t)
	if _, err := s.Send(t.Context(), push.Message{Token: "device-2", Data: map[string]string{"sync": "1"}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.requests[0]["notification"]; ok {
		t.Errorf("a message without title and body carried a notification: %v", f.requests[0])
	}
}

func TestSendErrors(t *testing.T) {
	s, _ := open(t)
	for _, tc := range []struct {
		token, want string
	}{
		{"gone", backend.ENOTFOUND},
		{"bad", backend.ENOTFOUND},
		{"big", backend.EINVALID},
		{"boom", backend.EUNAVAILABLE},
		{"", backend.EINVALID},
	} {
		_, err := s.Send(t.Context(), push.Message{Token: tc.token, Title: "t", Body: "b"})
		if got := backend.ErrorCode(err); got != tc.want {
			t.Errorf("token %q: code %q (%v), want %s", tc.token, got, err, tc.want)
		}
	}
}

func TestSendUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	s, err := push.Open(t.Context(), push.Options{Endpoint: url + "/v1", ProjectID: "p"})
	if err != nil {
		t.Fatal(err)
	}
	// The SDK retries network errors with back-off; bound the wait.
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	_, err = s.Send(ctx, push.Message{Token: "device-1", Title: "t"})
	if got := backend.ErrorCode(err); got != backend.EUNAVAILABLE {
		t.Errorf("Send to a closed port: code %q (%v), want EUNAVAILABLE", got, err)
	}
}

func TestOpenNeedsCredentialsOrEndpoint(t *testing.T) {
	_, err := push.Open(t.Context(), push.Options{ProjectID: "p"})
	if got := backend.ErrorCode(err); got != backend.EINVALID {
		t.Errorf("Open without credentials or endpoint: code %q (%v), want EINVALID", got, err)
	}
	_, err = push.Open(t.Context(), push.Options{Endpoint: "http://127.0.0.1:1/v1"})
	if got := backend.ErrorCode(err); got != backend.EINVALID {
		t.Errorf("Open without a project: code %q (%v), want EINVALID", got, err)
	}
}

// TestSendWithServiceAccount: with a service-account file the sender signs
// in (an OAuth token from the account's token_uri, here a local server) and
// sends with the token as bearer, to the project the file names.
func TestSendWithServiceAccount(t *testing.T) {
	token := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Form.Get("assertion") == "" {
			http.Error(w, "no assertion", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"token-123","token_type":"Bearer","expires_in":3600}`)
	}))
	t.Cleanup(token.Close)
	var gotAuth string
	fcmSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = r.Header.Get("Authorization")
		if r.URL.Path != "/v1/projects/suiji-test/messages:send" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"name":"projects/suiji-test/messages/1"}`)
	}))
	t.Cleanup(fcmSrv.Close)

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	account, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "suiji-test", "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "push@suiji-test.iam.gserviceaccount.com", "client_id": "1", "token_uri": token.URL,
	})
	file := filepath.Join(t.TempDir(), "account.json")
	if err := os.WriteFile(file, account, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := push.Open(t.Context(), push.Options{CredentialsFile: file, Endpoint: fcmSrv.URL + "/v1"})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.Push(t.Context(), backend.PushMessage{Token: "device-1", Title: "新任务", Body: "b"}); err != nil {
		t.Fatalf("Push: %v", err)
	}
	if gotAuth != "Bearer token-123" {
		t.Fatalf("Authorization %q, want the service account's token", gotAuth)
	}
}
