package auth

import (
	"context"
	"sync"
	"time"

	"suiji/backend"
)

// Users in memory. Authenticate reads the user behind a token on every
// request, which on FerretDB v1 compares every stored user's _id; with
// Service.Stamps set it keeps what it read, tagged with the user's change
// stamp (backend.UserStamps) as seen in the same round trip to Redis as
// the session, just before the read. A later request whose stamp is the
// same even number answers from memory: every change makes the stamp odd
// before it is stored and even again after (StampedUsers), so a copy is
// used only while no change has begun since it was read, on any instance.
// An odd stamp (a change under way, or one whose writer died before
// ending it) and no stamp keep nothing. Two changes of one user racing,
// one ended and the other's writer dead after storing it, would leave an
// even stamp over a copy from before the second: userCacheMaxAge bounds
// that, and a Redis failover that loses a stamp's last moves, to a
// minute.

const (
	// userCacheMax bounds the users an instance keeps.
	userCacheMax = 10000
	// userCacheMaxAge is how long a copy may answer at most.
	userCacheMaxAge = time.Minute
)

type userCache struct {
	mu sync.Mutex
	m  map[string]cachedUser
}

type cachedUser struct {
	u     *backend.User
	stamp int64
	at    time.Time
}

// user returns the user id, from memory when stamp allows (see above),
// else from the store, keeping it when stamp is even.
func (s *Service) user(ctx context.Context, id string, stamp int64) (*backend.User, error) {
	keep := s.Stamps != nil && stamp > 0 && stamp%2 == 0
	if keep {
		s.users.mu.Lock()
		c, ok := s.users.m[id]
		s.users.mu.Unlock()
		if ok && c.stamp == stamp && time.Since(c.at) < userCacheMaxAge {
			return c.u, nil
		}
	}
	u, err := s.Users.FindUserByID(ctx, id)
	if err != nil || !keep {
		return u, err
	}
	s.users.mu.Lock()
	defer s.users.mu.Unlock()
	if s.users.m == nil {
		s.users.m = map[string]cachedUser{}
	}
	for other := range s.users.m { // map order is random enough to choose what goes
		if len(s.users.m) < userCacheMax {
			break
		}
		delete(s.users.m, other)
	}
	s.users.m[id] = cachedUser{u: u, stamp: stamp, at: time.Now()}
	return u, nil
}

// StampedUsers is the user store through which users change when
// instances keep users in memory: every UpdateUser begins a change of the
// user's stamp before the write and ends it after (backend.UserStamps).
// A change that cannot begin is not made; one whose end fails leaves the
// stamp odd, and the user unkept everywhere, until the next change.
type StampedUsers struct {
	backend.UserStore
	Stamps backend.UserStamps
}

// UpdateUser implements backend.UserStore.
func (s StampedUsers) UpdateUser(ctx context.Context, u *backend.User) error {
	if err := s.Stamps.BeginUserChange(ctx, u.ID); err != nil {
		return err
	}
	err := s.UserStore.UpdateUser(ctx, u)
	_ = s.Stamps.EndUserChange(context.WithoutCancel(ctx), u.ID) // see above: a failure keeps the user unkept
	return err
}
