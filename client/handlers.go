package client

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/gosignalr/gosignalr/signalr/protocol"
)

// handler is one registered client method.
type handler struct {
	fn        reflect.Value
	in        []reflect.Type
	hasResult bool // returns a value (first result)
	hasError  bool // last result is an error
}

var (
	errorType    = reflect.TypeFor[error]()
	rawValueType = reflect.TypeFor[protocol.RawValue]()
)

// On registers handler for calls of target from the server. The match is
// case-insensitive, as in the JS client. handler must be a func; each
// parameter receives one argument of the call, decoded into the parameter's
// type (a protocol.RawValue parameter gets the undecoded value). Allowed
// results: none, error, a value, or (value, error). A handler with a value
// result answers client-result invocations; its error is sent as the
// Completion's error text. Several handlers may share a target; they run in
// registration order. Handlers run one at a time on the connection's
// dispatch goroutine, in the order the calls arrived; a handler may call
// Invoke, Send or Stream, but must not wait for Stop (Stop waits for the
// running handler): call Stop from a new goroutine instead.
func (c *HubConnection) On(target string, handler any) error {
	h, err := newHandler(handler)
	if err != nil {
		return fmt.Errorf("client: On(%q): %w", target, err)
	}
	key := strings.ToLower(target)
	c.hmu.Lock()
	c.handlers[key] = append(c.handlers[key], h)
	c.hmu.Unlock()
	return nil
}

// Off removes every handler of target.
func (c *HubConnection) Off(target string) {
	c.hmu.Lock()
	delete(c.handlers, strings.ToLower(target))
	c.hmu.Unlock()
}

func newHandler(fn any) (*handler, error) {
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func || v.IsNil() {
		return nil, fmt.Errorf("handler must be a non-nil func, got %T", fn)
	}
	t := v.Type()
	if t.IsVariadic() {
		return nil, errors.New("variadic handlers are not supported")
	}
	h := &handler{fn: v}
	for i := range t.NumIn() {
		h.in = append(h.in, t.In(i))
	}
	switch t.NumOut() {
	case 0:
	case 1:
		if t.Out(0) == errorType {
			h.hasError = true
		} else {
			h.hasResult = true
		}
	case 2:
		if t.Out(1) != errorType {
			return nil, errors.New("a handler with two results must return (T, error)")
		}
		h.hasResult, h.hasError = true, true
	default:
		return nil, errors.New("a handler returns at most (T, error)")
	}
	return h, nil
}

// call decodes args into the handler's parameters and calls it. It reports
// whether a result was produced.
func (h *handler) call(args []any) (result any, produced bool, err error) {
	if len(args) != len(h.in) {
		return nil, false, fmt.Errorf("handler expects %d argument(s) but the server sent %d", len(h.in), len(args))
	}
	in := make([]reflect.Value, len(args))
	for i, a := range args {
		pt := h.in[i]
		raw, isRaw := a.(protocol.RawValue)
		switch {
		case isRaw && pt == rawValueType:
			in[i] = reflect.ValueOf(&raw).Elem()
		case isRaw:
			p := reflect.New(pt)
			if !raw.IsNull() {
				if err := raw.Decode(p.Interface()); err != nil {
					return nil, false, fmt.Errorf("argument %d: %w", i, err)
				}
			}
			in[i] = p.Elem()
		case a == nil:
			in[i] = reflect.Zero(pt)
		case reflect.TypeOf(a).AssignableTo(pt):
			in[i] = reflect.ValueOf(a)
		default:
			return nil, false, fmt.Errorf("argument %d: cannot use %T as %v", i, a, pt)
		}
	}
	defer func() {
		if r := recover(); r != nil {
			result, produced, err = nil, false, fmt.Errorf("handler panicked: %v", r)
		}
	}()
	out := h.fn.Call(in)
	if h.hasError {
		if e := out[len(out)-1]; !e.IsNil() {
			return nil, false, e.Interface().(error)
		}
	}
	if h.hasResult {
		return out[0].Interface(), true, nil
	}
	return nil, false, nil
}

// invokeHandlers runs the handlers of a server invocation and, when the server
// expects a result (the invocation has an id), sends the Completion.
func (c *HubConnection) invokeHandlers(s *session, inv *protocol.Invocation) {
	c.hmu.RLock()
	hs := c.handlers[strings.ToLower(inv.Target)]
	c.hmu.RUnlock()
	if len(hs) == 0 {
		c.log.Warn().Str("target", inv.Target).Msg("no client method with this name")
	}
	// Same precedence as JS: several results beat an error, the last
	// handler's error beats a result, and no result is an error too.
	var (
		result   any
		produced bool
		multiple bool
		lastErr  error
	)
	for _, h := range hs {
		r, ok, err := h.call(inv.Arguments)
		if err != nil {
			c.log.Error().Err(err).Str("target", inv.Target).Msg("client method failed")
			lastErr = err
			continue
		}
		lastErr = nil
		if ok {
			multiple = multiple || produced
			result, produced = r, true
		}
	}
	if inv.InvocationID == "" {
		return
	}
	comp := &protocol.Completion{InvocationID: inv.InvocationID}
	switch {
	case multiple:
		comp.Error = textMultipleResults
	case lastErr != nil:
		comp.Error = lastErr.Error()
	case !produced:
		comp.Error = textNoResult
	default:
		comp.HasResult, comp.Result = true, result
	}
	if _, err := s.proto.AppendMessage(nil, comp); err != nil {
		// The result cannot be encoded: the server must still get an answer.
		comp = &protocol.Completion{InvocationID: inv.InvocationID, Error: "Client failed to encode its result: " + err.Error()}
	}
	if err := s.sendMessage(context.Background(), comp); err != nil {
		c.log.Debug().Err(err).Str("invocationId", inv.InvocationID).Msg("client result not sent")
	}
}
