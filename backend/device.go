package backend

import (
	"context"
	"time"
)

// Platforms a push token may belong to.
const (
	PlatformAndroid = "android"
	PlatformIOS     = "ios"
	PlatformWeb     = "web"
)

// Device is a phone (or browser) registered for push alerts. A token belongs
// to one user at a time: registering it again under another user moves it,
// since a handed-over phone must not get the previous owner's alerts.
type Device struct {
	ID         string
	UserID     string
	Token      string
	Platform   string
	CreatedAt  time.Time
	LastSeenAt time.Time
}

// DeviceStore keeps push registrations.
type DeviceStore interface {
	// UpsertDevice stores d by its token: a new token is created, a known
	// one is given to d.UserID with LastSeenAt updated. It sets d.ID and
	// d.CreatedAt from the stored device. With d.ID set it stores the
	// token under that id only — the id of the device found by the token
	// (FindDeviceByToken), or a new one's — and is ECONFLICT when the
	// token belongs to another device by then.
	UpsertDevice(ctx context.Context, d *Device) error
	// FindDeviceByToken returns the device holding a token. ENOTFOUND when
	// there is none.
	FindDeviceByToken(ctx context.Context, token string) (*Device, error)
	// FindDevicesByUser lists a user's devices, most recently seen first.
	FindDevicesByUser(ctx context.Context, userID string) ([]*Device, error)
	// FindDevicesByUsers lists the devices of every user in userIDs (one
	// query for a whole batch of alerts).
	FindDevicesByUsers(ctx context.Context, userIDs []string) ([]*Device, error)
	// FindDeviceByID returns one device. ENOTFOUND when there is none.
	FindDeviceByID(ctx context.Context, id string) (*Device, error)
	// DeleteDevice removes a registration. ENOTFOUND when there is none.
	DeleteDevice(ctx context.Context, id string) error
}
