package accounts

import (
	"context"
	"strings"

	"suiji/backend"
)

// RegisterDevice registers (or refreshes) a push token for the acting user.
// A token seen before under another user moves to this one. EINVALID.
func (s *Service) RegisterDevice(ctx context.Context, token, platform string) (*backend.Device, error) {
	actor := backend.ActorFromContext(ctx)
	token = strings.TrimSpace(token)
	fields := map[string]string{}
	if token == "" || len(token) > 4096 {
		fields["token"] = "required, at most 4096 bytes"
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
