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
	now := s.Now().UTC()
	d := &backend.Device{UserID: actor.UserID, Token: token, Platform: platform, CreatedAt: now, LastSeenAt: now}
	if err := s.Devices.UpsertDevice(ctx, d); err != nil {
		return nil, err
	}
	return d, s.Audit.Record(ctx, "device.register", "device", d.ID, nil, deviceDigest(d))
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
	if err := s.Devices.DeleteDevice(ctx, id); err != nil {
		return err
	}
	return s.Audit.Record(ctx, "device.delete", "device", id, deviceDigest(d), nil)
}

// deviceDigest is what the audit trail keeps of a device: not the token.
func deviceDigest(d *backend.Device) map[string]string {
	return map[string]string{"id": d.ID, "user_id": d.UserID, "platform": d.Platform}
}
