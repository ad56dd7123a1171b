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
// that, and a Redis failover that loses a stamp's last moves, to five
// minutes.

const (
	// userCacheMax bounds the users an instance keeps.
	userCacheMax = 10000
	// userCacheMaxAge is how long a copy may answer at most: long enough
	// that a phone syncing every 30 s is read from the store once in ten.
	userCacheMaxAge = 5 * time.Minute
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

// WarmUsers reads every user who has a stamp into memory, so that the
// requests after a start answer from it too: the stamps first, then the
// users (a change begun between the two has moved its user's stamp, so
// that copy is never used). The server runs it once at start.
func (s *Service) WarmUsers(ctx context.Context) error {
	if s.Stamps == nil {
		return nil
	}
	ids, err := s.allUsers(ctx, nil)
	if err != nil {
		return err
	}
	stamps, err := s.Stamps.UserStampsOf(ctx, ids)
	if err != nil {
		return err
	}
	_, err = s.allUsers(ctx, func(u *backend.User) {
		if n := stamps[u.ID]; n > 0 && n%2 == 0 {
			s.users.put(u, n)
		}
	})
	return err
}

// allUsers lists the ids of every user, up to userCacheMax, calling fn
// with each when it is set.
func (s *Service) allUsers(ctx context.Context, fn func(*backend.User)) ([]string, error) {
	var ids []string
	f := backend.UserFilter{Limit: 500}
	for len(ids) < userCacheMax {
		list, _, err := s.Users.FindUsers(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, u := range list {
			ids = append(ids, u.ID)
			if fn != nil {
				fn(u)
			}
		}
		if len(list) < f.Limit {
			break
		}
		f.After = f.CursorOf(list[len(list)-1])
	}
	return ids, nil
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
	s.users.put(u, stamp)
	return u, nil
}

// put keeps u, read under stamp.
func (c *userCache) put(u *backend.User, stamp int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]cachedUser{}
	}
	for other := range c.m { // map order is random enough to choose what goes
		if len(c.m) < userCacheMax {
			break
		}
		delete(c.m, other)
	}
	c.m[u.ID] = cachedUser{u: u, stamp: stamp, at: time.Now()}
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
