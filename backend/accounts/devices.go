package accounts

import (
	"context"
	"fmt"
	"strings"

	"suiji/backend"
)

// MaxDevicesPerUser bounds the push registrations one user keeps: every
// alert is sent to each of them, and they are all read for every alert.
// A person has a phone or two and a browser or two; registrations pile up
// only as phones are replaced, reinstalled or reset, each with a new token
// (a token FCM reports dead is pruned when an alert is sent to it, one
// that is never alerted stays). Registering one more device than this
// forgets the least recently seen, which is what someone switching phones
// expects.
const MaxDevicesPerUser = 10

// MaxTokenBytes bounds a push token. FCM registration tokens are some 150
// to 200 bytes; this leaves room for other formats while keeping every
// stored registration small.
const MaxTokenBytes = 4096

// RegisterDevice registers (or refreshes) a push token for the acting user.
// A token seen before under another user moves to this one. The user keeps
// at most MaxDevicesPerUser devices: the least recently seen beyond that
// are removed, each with its audit event (device.evict). EINVALID.
func (s *Service) RegisterDevice(ctx context.Context, token, platform string) (*backend.Device, error) {
	d, err := s.registerDevice(ctx, token, platform)
	if err != nil {
		return nil, err
	}
	if err := s.evictDevices(ctx, d); err != nil {
		return nil, err
	}
	return d, nil
}

// evictDevices removes the least recently seen devices of d's user beyond
// MaxDevicesPerUser, never d itself. Registrations that run at once may
// both evict: a device removed by the other is no error.
func (s *Service) evictDevices(ctx context.Context, d *backend.Device) error {
	list, err := s.Devices.FindDevicesByUser(ctx, d.UserID) // most recently seen first
	if err != nil || len(list) <= MaxDevicesPerUser {
		return err
	}
	keep := 1 // d
	for _, old := range list {
		if old.ID == d.ID {
			continue
		}
		if keep < MaxDevicesPerUser {
			keep++
			continue
		}
		err := s.Audit.Change(ctx, backend.AuditChange{Action: "device.evict", ObjectType: "device", ObjectID: old.ID, Before: deviceDigest(old)},
			func(ctx context.Context) error { return s.Devices.DeleteDevice(ctx, old.ID) })
		if err != nil && backend.ErrorCode(err) != backend.ENOTFOUND {
			return err
		}
	}
	return nil
}

// registerDevice validates and stores one registration.
func (s *Service) registerDevice(ctx context.Context, token, platform string) (*backend.Device, error) {
	actor := backend.ActorFromContext(ctx)
	token = strings.TrimSpace(token)
	fields := map[string]string{}
	if token == "" || len(token) > MaxTokenBytes {
		fields["token"] = fmt.Sprintf("required, at most %d bytes", MaxTokenBytes)
	}
	switch platform {
	case backend.PlatformAndroid, backend.PlatformIOS, backend.PlatformWeb:
	default:
		fields["platform"] = "android, ios or web"
	}
	if len(fields) > 0 {
		return nil, backend.InvalidFields("invalid device", fields)
	}
	// The registration and its event in one write (the device's document
	// carries the event; backend.Auditor.Change), so the event must name
	// the device before the write: the one holding the token, or a new
	// id. A phone registering the same token in between makes the write a
	// conflict, and the registration is looked up again.
	var err error
	for range 3 {
		now := s.Now().UTC()
		d := &backend.Device{ID: backend.NewID(), UserID: actor.UserID, Token: token, Platform: platform, CreatedAt: now, LastSeenAt: now}
		old, ferr := s.Devices.FindDeviceByToken(ctx, token)
		switch {
		case ferr == nil:
			d.ID = old.ID
		case backend.ErrorCode(ferr) != backend.ENOTFOUND:
			return nil, ferr
		}
		err = s.Audit.Change(ctx, backend.AuditChange{Action: "device.register", ObjectType: "device", ObjectID: d.ID, After: deviceDigest(d)},
			func(ctx context.Context) error { return s.Devices.UpsertDevice(ctx, d) })
		if err == nil {
			return d, nil
		}
		if backend.ErrorCode(err) != backend.ECONFLICT {
			return nil, err
		}
	}
	return nil, err
}

// ListDevices lists the acting user's devices.
func (s *Service) ListDevices(ctx context.Context) ([]*backend.Device, error) {
	return s.Devices.FindDevicesByUser(ctx, backend.ActorFromContext(ctx).UserID)
}

// DeleteDevice removes one of the acting user's devices. Another user's
// device is reported as not found, so ids cannot be probed.
func (s *Service) DeleteDevice(ctx context.Context, id string) error {
	d, err := s.Devices.FindDeviceByID(ctx, id)
	if err != nil {
		return err
	}
	if d.UserID != backend.ActorFromContext(ctx).UserID {
		return backend.Errorf(backend.ENOTFOUND, "device not found")
	}
	// The device is marked deleted with its event in one write, and
	// removed once the event is in the chain (backend.Auditor.Change).
	return s.Audit.Change(ctx, backend.AuditChange{Action: "device.delete", ObjectType: "device", ObjectID: id, Before: deviceDigest(d)},
		func(ctx context.Context) error { return s.Devices.DeleteDevice(ctx, id) })
}

// deviceDigest is what the audit trail keeps of a device: not the token.
func deviceDigest(d *backend.Device) map[string]string {
	return map[string]string{"id": d.ID, "user_id": d.UserID, "platform": d.Platform}
}
