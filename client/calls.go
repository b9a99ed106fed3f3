package client

import (
	"context"
	"fmt"
	"iter"
	"reflect"
	"time"

	"github.com/gosignalr/gosignalr/signalr/protocol"
)

// upload is a channel argument sent to the server as an upload stream.
type upload struct {
	id string
	ch reflect.Value
}

// splitStreams replaces channel arguments by upload streams: they leave the
// argument list and get stream ids (allocated before the invocation id, like JS).
func (c *HubConnection) splitStreams(args []any) ([]any, []upload, []string) {
	var ups []upload
	var ids []string
	plain := args[:0:0]
	for _, a := range args {
		v := reflect.ValueOf(a)
		if a != nil && v.Kind() == reflect.Chan && v.Type().ChanDir()&reflect.RecvDir != 0 {
			id := c.newID()
			ups = append(ups, upload{id: id, ch: v})
			ids = append(ids, id)
			continue
		}
		plain = append(plain, a)
	}
	if len(ups) == 0 {
		return args, nil, nil
	}
	return plain, ups, ids
}

// launchUploads pumps each upload channel into StreamItems, then a Completion
// when the channel closes. A pump stops early when ctx or the session ends.
func (s *session) launchUploads(ctx context.Context, ups []upload) {
	if len(ups) == 0 {
		return
	}
	s.pmu.Lock()
	if s.ended {
		s.pmu.Unlock()
		return
	}
	s.uploads.Add(len(ups))
	s.pmu.Unlock()
	for _, u := range ups {
		go func() {
			defer s.uploads.Done()
			s.pump(ctx, u)
		}()
	}
}

func (s *session) pump(ctx context.Context, u upload) {
	cases := []reflect.SelectCase{
		{Dir: reflect.SelectRecv, Chan: u.ch},
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())},
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(s.ctx.Done())},
	}
	for {
		chosen, v, ok := reflect.Select(cases)
		if chosen != 0 {
			if chosen == 1 {
				// The caller gave up: end the stream so the server method finishes.
				_ = s.sendMessage(s.ctx, &protocol.Completion{InvocationID: u.id, Error: "Stream canceled by client."})
			}
			return
		}
		if !ok {
			_ = s.sendMessage(s.ctx, &protocol.Completion{InvocationID: u.id})
			return
		}
		item := v.Interface()
		if err, isErr := item.(error); isErr && err != nil {
			// An error value ends the stream with that error, as a failing JS subject does.
			_ = s.sendMessage(s.ctx, &protocol.Completion{InvocationID: u.id, Error: err.Error()})
			return
		}
		if err := s.sendMessage(ctx, &protocol.StreamItem{InvocationID: u.id, Item: item}); err != nil {
			return
		}
	}
}

// Invoke calls a hub method and waits for its result. The result is nil when
// the method returned nothing; decode it with its Decode method, or use the
// generic Invoke function. A server-side failure is a *HubError carrying the
// server's text. Channel arguments become upload streams: each value received
// is sent as a stream item and closing the channel completes the stream (a
// received error value ends it with that error).
func (c *HubConnection) Invoke(ctx context.Context, method string, args ...any) (protocol.RawValue, error) {
	s, err := c.active()
	if err != nil {
		return nil, err
	}
	args, ups, streamIDs := c.splitStreams(args)
	id := c.newID()
	cl := &call{result: make(chan callResult, 1), target: method}
	if err := s.register(id, cl); err != nil {
		return nil, err
	}
	defer s.unregister(id)
	if err := s.sendMessage(ctx, &protocol.Invocation{InvocationID: id, Target: method, Arguments: args, StreamIDs: streamIDs}); err != nil {
		return nil, err
	}
	s.launchUploads(ctx, ups)
	select {
	case r := <-cl.result:
		return r.value, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Send calls a hub method without waiting for it to run (no invocation id,
// the server sends nothing back). It returns once the message was written.
func (c *HubConnection) Send(ctx context.Context, method string, args ...any) error {
	s, err := c.active()
	if err != nil {
		return err
	}
	args, ups, streamIDs := c.splitStreams(args)
	if err := s.sendMessage(ctx, &protocol.Invocation{Target: method, Arguments: args, StreamIDs: streamIDs}); err != nil {
		return err
	}
	// Send returns before the uploads end, so they live as long as the
	// connection (or until their channels close), not as long as ctx.
	s.launchUploads(s.ctx, ups)
	return nil
}

// Stream calls a streaming hub method and yields its items. The invocation is
// sent when iteration starts (each iteration starts a new one). Stopping the
// iteration early or cancelling ctx sends CancelInvocation to the server. A
// failure ends the sequence with a non-nil error. Items the server sends
// faster than the loop consumes them are buffered (the reader never waits
// for a consumer, so a loop body may itself call Invoke).
func (c *HubConnection) Stream(ctx context.Context, method string, args ...any) iter.Seq2[protocol.RawValue, error] {
	return func(yield func(protocol.RawValue, error) bool) {
		s, err := c.active()
		if err != nil {
			yield(nil, err)
			return
		}
		args, ups, streamIDs := c.splitStreams(args)
		id := c.newID()
		cl := &call{items: newQueue[streamEvent](), target: method}
		if err := s.register(id, cl); err != nil {
			yield(nil, err)
			return
		}
		defer s.unregister(id)
		if err := s.sendMessage(ctx, &protocol.StreamInvocation{InvocationID: id, Target: method, Arguments: args, StreamIDs: streamIDs}); err != nil {
			yield(nil, err)
			return
		}
		s.launchUploads(ctx, ups)
		for {
			ev, ok := cl.items.pop(ctx)
			if !ok {
				s.cancelStream(id)
				yield(nil, ctx.Err())
				return
			}
			if ev.end {
				if ev.err != nil {
					yield(nil, ev.err)
				}
				return
			}
			if !yield(ev.item, nil) {
				s.cancelStream(id)
				return
			}
		}
	}
}

// cancelStream tells the server to stop a stream the caller abandoned.
func (s *session) cancelStream(id string) {
	if s.take(id, true) == nil {
		return // already completed
	}
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	_ = s.sendMessage(ctx, &protocol.CancelInvocation{InvocationID: id})
}

// Invoke calls a hub method on c and decodes its result into T (the zero T
// when the method returned nothing or null).
func Invoke[T any](ctx context.Context, c *HubConnection, method string, args ...any) (T, error) {
	var v T
	raw, err := c.Invoke(ctx, method, args...)
	if err != nil {
		return v, err
	}
	if raw != nil && !raw.IsNull() {
		if err := raw.Decode(&v); err != nil {
			return v, fmt.Errorf("decode result of %q: %w", method, err)
		}
	}
	return v, nil
}

// Stream calls a streaming hub method on c and yields its items decoded into T.
func Stream[T any](ctx context.Context, c *HubConnection, method string, args ...any) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for raw, err := range c.Stream(ctx, method, args...) {
			var v T
			if err != nil {
				yield(v, err)
				return
			}
			if raw != nil && !raw.IsNull() {
				if err := raw.Decode(&v); err != nil {
					yield(v, fmt.Errorf("decode item of %q: %w", method, err))
					return
				}
			}
			if !yield(v, nil) {
				return
			}
		}
	}
}
