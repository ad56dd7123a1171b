// Package push sends push alerts to inspectors' phones through Firebase Cloud
// Messaging (the HTTP v1 API, via the Firebase Admin SDK). A push is only an
// alert: the in-app inbox is the record, so a failed push loses nothing.
//
// It is the only package that knows about the Firebase SDK and its errors;
// every error it returns is a *backend.Error. It imports backend but must not
// import mobile-api or any other storage package.
package push

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/errorutils"
	"firebase.google.com/go/v4/messaging"
	"google.golang.org/api/option"
	htransport "google.golang.org/api/transport/http"

	"suiji/backend"
)

// Options says how to reach FCM.
type Options struct {
	// CredentialsFile is a Firebase service-account JSON file. It may be
	// empty only when Endpoint is set (a test server or a relay that adds
	// credentials itself); requests are then sent unauthenticated.
	CredentialsFile string
	// Endpoint overrides the FCM base URL, "https://fcm.googleapis.com/v1";
	// requests go to Endpoint + "/projects/{ProjectID}/messages:send".
	Endpoint string
	// ProjectID is the Firebase project. It may be empty when the
	// credentials file names it.
	ProjectID string
}

// Message is one alert to one device.
type Message struct {
	Token string            // the device's FCM registration token
	Title string            // notification title; with Body empty, no notification is shown
	Body  string            // notification text
	Data  map[string]string // key/value payload for the app, e.g. {"task_id": "…"}
}

// Sender sends messages to FCM. It is safe for concurrent use, and it is
// suiji's FCM transport: it implements backend.PushSender.
type Sender struct {
	client *messaging.Client
}

var _ backend.PushSender = (*Sender)(nil)

// maxConnections is how many connections to FCM the sender keeps open
// and reuses: a dispatch sends thousands of alerts, a few dozen at a time,
// and Go's default of two idle connections per host would open (and
// close) one for nearly every alert.
const maxConnections = 64

// Open prepares a sender. It does not contact FCM. It returns EINVALID when
// neither a credentials file nor an endpoint is given, when the project is
// unknown, or when the credentials file cannot be used.
func Open(ctx context.Context, o Options) (*Sender, error) {
	var auth, opts []option.ClientOption
	switch {
	case o.CredentialsFile != "":
		auth = []option.ClientOption{option.WithCredentialsFile(o.CredentialsFile), option.WithScopes(messagingScope)}
		opts = append(opts, option.WithCredentialsFile(o.CredentialsFile)) // names the project
	case o.Endpoint != "":
		auth = []option.ClientOption{option.WithoutAuthentication()}
	default:
		return nil, backend.Errorf(backend.EINVALID, "push needs a Firebase credentials file (or an endpoint of a relay or test server)")
	}
	base := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        maxConnections,
		MaxIdleConnsPerHost: maxConnections,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	// suiji exports no OpenTelemetry traces (its metrics are its own,
	// backend/telemetry), and the transport's instrumentation cost about
	// a quarter of each send's CPU — a dispatch sends thousands.
	auth = append(auth, option.WithTelemetryDisabled())
	transport, err := htransport.NewTransport(ctx, base, auth...)
	if err != nil {
		return nil, backend.Wrap(err, backend.EINVALID, "the Firebase credentials cannot be used")
	}
	opts = append(opts, option.WithHTTPClient(&http.Client{Transport: transport, Timeout: 30 * time.Second}))
	if o.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(o.Endpoint))
	}
	// A non-nil Config keeps the SDK from reading FIREBASE_CONFIG.
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: o.ProjectID}, opts...)
	if err != nil {
		return nil, backend.Wrap(err, backend.EINVALID, "Firebase cannot be set up")
	}
	client, err := app.Messaging(ctx)
	if err != nil {
		return nil, backend.Wrap(err, backend.EINVALID, "FCM cannot be set up (is the project ID known?)")
	}
	return &Sender{client: client}, nil
}

// messagingScope is the OAuth scope of the FCM HTTP v1 API.
const messagingScope = "https://www.googleapis.com/auth/firebase.messaging"

// Send delivers m to FCM and returns the message id FCM assigned, e.g.
// "projects/p/messages/123". It returns ENOTFOUND when the token is no
// longer registered, malformed or from another project, so that the caller
// drops the device; EINVALID when the message is otherwise rejected (an
// empty token, an oversized payload); and EUNAVAILABLE for every other
// failure (FCM unreachable, overloaded, out of quota), where a later retry
// may work.
func (s *Sender) Send(ctx context.Context, m Message) (string, error) {
	if m.Token == "" {
		return "", backend.Errorf(backend.EINVALID, "push message has no device token")
	}
	// High priority wakes an Android phone in doze; APNs priority 10 shows
	// the alert at once on iOS.
	msg := &messaging.Message{
		Token:   m.Token,
		Data:    m.Data,
		Android: &messaging.AndroidConfig{Priority: "high"},
		APNS:    &messaging.APNSConfig{Headers: map[string]string{"apns-priority": "10"}},
	}
	if m.Title != "" || m.Body != "" {
		msg.Notification = &messaging.Notification{Title: m.Title, Body: m.Body}
		msg.APNS.Payload = &messaging.APNSPayload{Aps: &messaging.Aps{
			Alert: &messaging.ApsAlert{Title: m.Title, Body: m.Body}, Sound: "default",
		}}
	} else {
		msg.APNS.Headers["apns-priority"] = "5" // Apple refuses priority 10 without an alert
		msg.APNS.Payload = &messaging.APNSPayload{Aps: &messaging.Aps{ContentAvailable: true}}
	}
	id, err := s.client.Send(ctx, msg)
	if err != nil {
		return "", translate(err)
	}
	return id, nil
}

// Push implements backend.PushSender: one alert to one device.
func (s *Sender) Push(ctx context.Context, m backend.PushMessage) error {
	_, err := s.Send(ctx, Message{Token: m.Token, Title: m.Title, Body: m.Body, Data: m.Data})
	return err
}

// translate classifies an error of the Firebase SDK. The SDK's predicates
// look at the error itself, not its chain, so err must be the SDK's own.
func translate(err error) error {
	var be *backend.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &be):
		return err
	case messaging.IsUnregistered(err), messaging.IsSenderIDMismatch(err):
		return backend.Wrap(err, backend.ENOTFOUND, "the device's push token is no longer valid")
	case messaging.IsInvalidArgument(err) && strings.Contains(strings.ToLower(err.Error()), "registration token"):
		return backend.Wrap(err, backend.ENOTFOUND, "the device's push token is not a valid FCM token")
	case messaging.IsInvalidArgument(err):
		return backend.Wrap(err, backend.EINVALID, "FCM rejected the push message")
	case messaging.IsQuotaExceeded(err):
		return backend.RateLimited(retryAfter(err), "FCM asks to slow down")
	default:
		if d := retryAfter(err); d > 0 {
			return backend.Wrap(&backend.RetryAfterError{Delay: d}, backend.EUNAVAILABLE, "FCM is unavailable: %v", err)
		}
		return backend.Wrap(err, backend.EUNAVAILABLE, "FCM is unavailable")
	}
}

// retryAfter reads the Retry-After header of FCM's answer (seconds or an
// HTTP date), 0 when there is none.
func retryAfter(err error) time.Duration {
	resp := errorutils.HTTPResponse(err)
	if resp == nil {
		return 0
	}
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if secs, err := strconv.Atoi(v); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(time.Until(at), 0)
	}
	return 0
}
