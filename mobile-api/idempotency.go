package mobileapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"

	"suiji/backend"
)

// Idempotency headers. A client sends HeaderIdempotencyKey with a mutating
// request; a response that was stored earlier and is sent again carries
// HeaderIdempotentReplayed.
const (
	HeaderIdempotencyKey     = "Idempotency-Key"
	HeaderIdempotentReplayed = "Idempotent-Replayed"
)

// maxIdempotencyKey is the longest key accepted: long enough for a UUID or
// any client's own scheme, short enough to bound what the store hashes.
const maxIdempotencyKey = 255

// idempotent returns middleware that makes mutating requests (POST, PUT,
// PATCH, DELETE) carrying an Idempotency-Key safe to repeat: the first
// response is stored and sent again for a repeat with the same method, URL
// and body; the same key with another request is refused (422), and a repeat
// that arrives while the first is still running is refused (409) rather than
// run twice. Keys are scoped to the acting user, so it must run after the
// authentication middleware; anonymous requests (sign-in) are scoped to the
// client address. Requests without the header pass through untouched.
//
// Server errors (5xx) and panics are not stored: the claim is abandoned so
// that a retry runs the request again. 429 is not stored either, because a
// rate-limited request did nothing and must run when retried after the wait.
// When the store is unreachable the request fails with 503 instead of running
// without protection, since the client will retry anyway.
//
// Each claim carries a random token, and only the request that made it
// renews, completes or frees it (backend.IdempotencyStore).
//
// What the store keeps is bounded (see storage/cache.IdempotencyStore): a
// user who claims too many new keys in a day gets 429 for new keys (repeats
// of used ones are still answered), and a reply too large to keep is
// recorded without its body, so a repeat gets 422 telling the client to
// fetch the result — never a second run.
func (s *Server) idempotent(store backend.IdempotencyStore) fiber.Handler {
	return func(c *fiber.Ctx) error {
		switch c.Method() {
		case fiber.MethodPost, fiber.MethodPut, fiber.MethodPatch, fiber.MethodDelete:
		default:
			return c.Next()
		}
		values := c.Request().Header.PeekAll(HeaderIdempotencyKey)
		if len(values) == 0 {
			return c.Next()
		}
		if len(values) > 1 || !validIdempotencyKey(values[0]) {
			return backend.InvalidFields("invalid "+HeaderIdempotencyKey+" header",
				map[string]string{HeaderIdempotencyKey: "must be sent once, 1 to 255 printable ASCII characters"})
		}
		key := string(values[0]) // a copy: Fiber reuses the header's memory

		ctx := c.UserContext()
		scope := backend.ActorFromContext(ctx).UserID
		if scope == "" {
			// Per address group, like the other per-address limits, so
			// that the key quota cannot be multiplied by walking an
			// IPv6 /64.
			scope = "anon:" + backend.AddressBucket(s.clientIP(c))
		}
		fp := requestFingerprint(c)

		token, stored, err := store.Claim(ctx, scope, key, fp)
		if err != nil {
			return err
		}
		if stored != nil {
			return replay(c, stored)
		}
		own := ownClaim{store: store, scope: scope, key: key, fp: fp, token: token}

		// From here the claim must be finished or abandoned whatever happens;
		// a context that outlives a cancelled request lets that still work.
		bg := context.WithoutCancel(ctx)
		settled := false
		defer func() {
			if !settled { // a panic is unwinding through us
				s.abandon(bg, c, own)
			}
		}()
		// The claim lives as long as the request runs, however long that
		// is: a retry meanwhile gets 409, never a second run.
		stop := s.keepClaim(bg, c, own)
		defer stop()

		// A lease held elsewhere is no answer: the work is in progress
		// there (or its holder died and the lease has yet to lapse), so
		// the retry must run again, not be told the same forever. Nor is
		// any refusal that says when to repeat (Retry-After: a record
		// that kept changing under the request).
		transient := false
		if err := c.Next(); err != nil {
			_, later := backend.RetryAfter(err)
			transient = errors.Is(err, backend.ErrLeaseHeld) || later
			// Render the error now so that what is stored is what the client
			// sees; the outer middleware then has nothing left to render.
			if herr := s.errorHandler(c, err); herr != nil {
				settled = true
				s.abandon(bg, c, own)
				return herr
			}
		}
		settled = true
		status := c.Response().StatusCode()
		if status >= fiber.StatusInternalServerError || status == fiber.StatusTooManyRequests || transient {
			s.abandon(bg, c, own)
			return nil
		}
		resp := &backend.StoredResponse{
			Status:      status,
			ContentType: string(c.Response().Header.ContentType()),
			Location:    string(c.Response().Header.Peek(fiber.HeaderLocation)),
			// Copied: Fiber reuses the response buffer for the next request,
			// and a store is free to keep the slice.
			Body: append([]byte(nil), c.Response().Body()...),
		}
		if err := store.FinishClaim(bg, scope, key, fp, token, resp); err != nil {
			// The request took effect and the client gets its answer; only
			// the replay is lost (the claim expires on its own), so log it
			// rather than turn a success into an error.
			s.logger.ErrorContext(ctx, "idempotency: storing response failed",
				slog.String("request_id", requestID(c)),
				slog.String("path", c.Path()),
				slog.Any("error", err))
		}
		return nil
	}
}

// ownClaim is a request's own claim on its key.
type ownClaim struct {
	store                 backend.IdempotencyStore
	scope, key, fp, token string
}

// abandon frees the claim, logging a failure: the claim then expires on its
// own, and until then retries get 409.
func (s *Server) abandon(ctx context.Context, c *fiber.Ctx, own ownClaim) {
	if err := own.store.AbandonClaim(ctx, own.scope, own.key, own.fp, own.token); err != nil {
		s.logger.ErrorContext(ctx, "idempotency: abandoning claim failed",
			slog.String("request_id", requestID(c)),
			slog.String("path", c.Path()),
			slog.Any("error", err))
	}
}

// replay sends a stored response again, marked as a replay.
func replay(c *fiber.Ctx, r *backend.StoredResponse) error {
	c.Status(r.Status)
	if r.ContentType != "" {
		c.Set(fiber.HeaderContentType, r.ContentType)
	}
	if r.Location != "" {
		c.Set(fiber.HeaderLocation, r.Location)
	}
	c.Set(HeaderIdempotentReplayed, "true")
	return c.Send(r.Body)
}

// validIdempotencyKey reports whether k is 1 to 255 printable ASCII
// characters (space to tilde).
func validIdempotencyKey(k []byte) bool {
	if len(k) == 0 || len(k) > maxIdempotencyKey {
		return false
	}
	for _, b := range k {
		if b < 0x20 || b > 0x7e {
			return false
		}
	}
	return true
}

// requestFingerprint is the SHA-256 of the method, the URL as sent (path and
// query) and the body, so that a key reused for anything else is detected.
func requestFingerprint(c *fiber.Ctx) string {
	h := sha256.New()
	h.Write([]byte(c.Method()))
	h.Write([]byte("\n"))
	h.Write([]byte(c.OriginalURL()))
	h.Write([]byte("\n"))
	h.Write(c.Body())
	return hex.EncodeToString(h.Sum(nil))
}

// claimHeartbeat is how often a running request renews its idempotency
// claim: well within the store's claim period (cache.IdempotencyClaimTTL),
// so that a renewal can fail once and the claim still holds.
const claimHeartbeat = 10 * time.Second

// keepClaim renews the claim every heartbeat until the returned stop is
// called. A renewal that fails is logged; the claim then expires on its own
// at the end of its period, as after a crash.
func (s *Server) keepClaim(ctx context.Context, c *fiber.Ctx, own ownClaim) (stop func()) {
	every := s.claimHeartbeat
	if every <= 0 {
		every = claimHeartbeat
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	requestID := requestID(c)
	go func() {
		defer close(finished)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if err := own.store.ExtendClaim(ctx, own.scope, own.key, own.fp, own.token); err != nil {
					s.logger.ErrorContext(ctx, "idempotency: renewing the claim failed",
						slog.String("request_id", requestID), slog.Any("error", err))
					return
				}
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
