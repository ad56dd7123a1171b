package cache

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"suiji/backend"
)

// subscriberBuffer is how many entries a slow subscriber may fall behind
// before its subscription is ended; it then resumes from the store.
const subscriberBuffer = 256

// EventBus is the Redis pub/sub implementation of backend.EventBus. Every
// server instance publishes new stream entries on one channel and keeps one
// subscription to it, which fans entries out to the phones and consoles
// connected to that instance. Build one per process with NewEventBus.
//
// Pub/sub is fire-and-forget: an entry published while an instance was
// reconnecting is not delivered to it. The store is the record, so the
// stream handler reads back whatever it missed.
type EventBus struct {
	c       *Cache
	channel string

	mu   sync.Mutex
	ps   *redis.PubSub
	subs map[string]map[*subscription]struct{}
}

var _ backend.EventBus = (*EventBus)(nil)

// NewEventBus returns the event bus on c. It subscribes to Redis on first
// use.
func NewEventBus(c *Cache) *EventBus {
	return &EventBus{c: c, channel: c.Key("events"), subs: map[string]map[*subscription]struct{}{}}
}

// eventMessage is a stream entry on the wire.
type eventMessage struct {
	ID        string            `json:"id"`
	UserID    string            `json:"user_id"`
	Seq       int64             `json:"seq"`
	Kind      string            `json:"kind"`
	Silent    bool              `json:"silent,omitempty"`
	TaskID    string            `json:"task_id,omitempty"`
	PlanID    string            `json:"plan_id,omitempty"`
	Title     string            `json:"title,omitempty"`
	Body      string            `json:"body,omitempty"`
	Data      map[string]string `json:"data,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
}

// Publish implements backend.EventBus: one pipelined PUBLISH per entry.
func (b *EventBus) Publish(ctx context.Context, ns []*backend.Notification) error {
	if len(ns) == 0 {
		return nil
	}
	_, err := b.c.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, n := range ns {
			raw, err := json.Marshal(eventMessage{
				ID: n.ID, UserID: n.UserID, Seq: n.Seq, Kind: n.Kind, Silent: n.Silent, TaskID: n.TaskID,
				PlanID: n.PlanID, Title: n.Title, Body: n.Body, Data: n.Data, CreatedAt: n.CreatedAt,
			})
			if err != nil {
				return backend.Wrap(err, backend.EINTERNAL, "encoding an event")
			}
			p.Publish(ctx, b.channel, raw)
		}
		return nil
	})
	return translate(err)
}

// Subscribe implements backend.EventBus.
func (b *EventBus) Subscribe(ctx context.Context, userID string) (backend.Subscription, error) {
	if err := b.listen(ctx); err != nil {
		return nil, err
	}
	s := &subscription{bus: b, userID: userID, ch: make(chan *backend.Notification, subscriberBuffer)}
	b.mu.Lock()
	if b.subs[userID] == nil {
		b.subs[userID] = map[*subscription]struct{}{}
	}
	b.subs[userID][s] = struct{}{}
	b.mu.Unlock()
	return s, nil
}

// listen subscribes this process to the channel once and starts the
// fan-out. A failed attempt leaves nothing behind, so the next Subscribe
// tries again.
func (b *EventBus) listen(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ps != nil {
		return nil
	}
	ps := b.c.client.Subscribe(context.WithoutCancel(ctx), b.channel)
	// The first reply confirms the subscription: from here on nothing
	// published is missed (while the connection lasts).
	if _, err := ps.Receive(ctx); err != nil {
		_ = ps.Close()
		return translate(err)
	}
	b.ps = ps
	go b.fanOut(ps.Channel(redis.WithChannelSize(1024)))
	return nil
}

func (b *EventBus) fanOut(msgs <-chan *redis.Message) {
	for msg := range msgs {
		var m eventMessage
		if err := json.Unmarshal([]byte(msg.Payload), &m); err != nil {
			continue
		}
		n := &backend.Notification{
			ID: m.ID, UserID: m.UserID, Seq: m.Seq, Kind: m.Kind, Silent: m.Silent, TaskID: m.TaskID,
			PlanID: m.PlanID, Title: m.Title, Body: m.Body, Data: m.Data, CreatedAt: m.CreatedAt,
		}
		b.mu.Lock()
		for s := range b.subs[m.UserID] {
			select {
			case s.ch <- n:
			default:
				// Too far behind: end the subscription rather than drop
				// an entry silently; the reader resumes from the store.
				b.removeLocked(s)
			}
		}
		b.mu.Unlock()
	}
	// The bus was closed: end every subscription.
	b.mu.Lock()
	for _, set := range b.subs {
		for s := range set {
			b.removeLocked(s)
		}
	}
	b.mu.Unlock()
}

func (b *EventBus) removeLocked(s *subscription) {
	if set, ok := b.subs[s.userID]; ok {
		if _, ok := set[s]; ok {
			delete(set, s)
			close(s.ch)
			if len(set) == 0 {
				delete(b.subs, s.userID)
			}
		}
	}
}

// Close ends the Redis subscription and every local one.
func (b *EventBus) Close() error {
	b.mu.Lock()
	ps := b.ps
	b.mu.Unlock()
	if ps == nil {
		return nil
	}
	return translate(ps.Close())
}

// subscription is one local listener.
type subscription struct {
	bus    *EventBus
	userID string
	ch     chan *backend.Notification
}

func (s *subscription) C() <-chan *backend.Notification { return s.ch }

func (s *subscription) Close() {
	s.bus.mu.Lock()
	s.bus.removeLocked(s)
	s.bus.mu.Unlock()
}
