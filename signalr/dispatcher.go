package signalr

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/gosignalr/gosignalr/signalr/protocol"
)

// dispatcher runs one connection's incoming hub messages: invocations
// (bounded by MaximumParallelInvocationsPerClient), server streams and
// upload streams in the background, client-result completions, cancels.
type dispatcher struct {
	h    *ConnectionHandler
	c    *HubConnection
	hctx *Context
	sem  chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex
	streams map[string]context.CancelFunc // server streams by invocation id
	uploads map[string]*upload            // upload streams by stream id
}

type upload struct {
	ch   reflect.Value // chan T, sent to by the read loop only
	elem reflect.Type
	done chan struct{} // closed when the invocation has returned
	err  string        // set by the read loop when the client ends the stream with an error
	mu   *sync.Mutex
}

func newDispatcher(h *ConnectionHandler, c *HubConnection) *dispatcher {
	return &dispatcher{
		h:    h,
		c:    c,
		hctx: &Context{Context: c.ctx, conn: c, h: h},
		sem:  make(chan struct{}, h.opts.MaximumParallelInvocationsPerClient),
	}
}

// wait waits for every invocation and stream of the connection to return.
func (d *dispatcher) wait() { d.wg.Wait() }

// closeUploads ends every open upload stream once reading has stopped, so
// hub methods ranging over them return. Only the read loop sends on these
// channels, and it has returned.
func (d *dispatcher) closeUploads() {
	d.mu.Lock()
	ups := d.uploads
	d.uploads = nil
	for _, u := range ups {
		u.err = "The connection was closed before the stream completed."
	}
	d.mu.Unlock()
	for _, u := range ups {
		u.ch.Close()
	}
}

func (d *dispatcher) dispatch(msg protocol.HubMessage) error {
	if r := d.c.replay; r != nil {
		switch m := msg.(type) {
		case *protocol.Ack:
			r.ack(m.SequenceID)
			return nil
		case *protocol.Sequence:
			return r.sequence(m.SequenceID)
		}
		if protocol.IsTrackable(msg) && !r.receive() {
			return nil // already processed before the reconnect
		}
	}
	switch m := msg.(type) {
	case *protocol.Invocation:
		d.invoke(m.InvocationID, m.Target, m.Arguments, m.StreamIDs, false)
	case *protocol.StreamInvocation:
		d.invoke(m.InvocationID, m.Target, m.Arguments, m.StreamIDs, true)
	case *protocol.StreamItem:
		d.streamItem(m)
	case *protocol.Completion:
		d.completion(m)
	case *protocol.CancelInvocation:
		d.mu.Lock()
		cancel := d.streams[m.InvocationID]
		d.mu.Unlock()
		if cancel != nil {
			cancel()
		}
	case *protocol.Ping:
		d.c.armClientTimeout(d.h.opts.ClientTimeoutInterval)
	default:
		// Ack and Sequence without stateful reconnect, and anything else,
		// are ignored like .NET does.
	}
	return nil
}

func (d *dispatcher) detailed() bool { return d.h.opts.EnableDetailedErrors }

// replyError sends a Completion with an error, if the call wants an answer.
func (d *dispatcher) replyError(id, text string) {
	if id == "" {
		return
	}
	if err := d.c.writeMessage(d.c.ctx, &protocol.Completion{InvocationID: id, Error: text}); err != nil {
		d.c.log.Debug().Str("connectionId", d.c.id).Err(err).Msg("write completion")
	}
}

// authorized runs Options.AuthorizeMethod and the hub's MethodAuthorizer.
func (d *dispatcher) authorized(method string) bool {
	if f := d.h.opts.AuthorizeMethod; f != nil && !f(d.hctx, method) {
		return false
	}
	if f := d.h.hub.authorize; f != nil && !f(d.hctx, method) {
		return false
	}
	return true
}

func invokeFailed(target string) string {
	return "Failed to invoke '" + target + "' due to an error on the server."
}

func unexpectedError(target string) string {
	return "An unexpected error occurred invoking '" + target + "' on the server."
}

// observed is a started invocation for Observer. Without an Observer it is
// nil: no clock read, and one word in the invocation goroutine's closure.
type observed struct {
	obs    Observer
	method string
	start  time.Time
}

func (d *dispatcher) observe(m *hubMethod) *observed {
	if d.h.opts.Observer == nil {
		return nil
	}
	return &observed{obs: d.h.opts.Observer, method: m.name, start: time.Now()}
}

// done reports the invocation's end with its error (nil: success).
func (o *observed) done(err error) {
	if o != nil {
		o.obs.InvocationCompleted(o.method, time.Since(o.start), err)
	}
}

// refused reports an invocation turned down with text sent to the client.
func (o *observed) refused(text string) {
	if o != nil {
		o.done(errors.New(text))
	}
}

func (d *dispatcher) invoke(id, target string, args []any, streamIDs []string, isStream bool) {
	m := d.h.lookup(target)
	if m == nil {
		// Not observed: the name comes from the client, not the hub.
		d.replyError(id, invokeFailed(target)+" HubException: Method does not exist.")
		return
	}
	o := d.observe(m)
	refuse := func(text string) {
		d.replyError(id, text)
		o.refused(text)
	}
	argv, err := bindArgs(m, args)
	if err != nil {
		d.replyError(id, buildErrorMessage(invokeFailed(target), err, d.detailed()))
		o.done(err)
		return
	}
	if !d.authorized(m.name) {
		d.c.log.Debug().Str("connectionId", d.c.id).Str("method", target).Msg("hub method not authorized")
		refuse("Failed to invoke '" + target + "' because user is unauthorized")
		return
	}
	switch {
	case !isStream && m.stream != streamNone:
		refuse("The client attempted to invoke the streaming '" + target + "' method with a non-streaming invocation.")
		return
	case isStream && m.stream == streamNone:
		refuse("The client attempted to invoke the non-streaming '" + target + "' method with a streaming invocation.")
		return
	case len(streamIDs) != len(m.uploadParams):
		refuse(unexpectedError(target) + " HubException: Client sent " + strconv.Itoa(len(streamIDs)) +
			" stream(s), Hub method expects " + strconv.Itoa(len(m.uploadParams)) + ".")
		return
	}

	hctx := d.hctx
	var cancel context.CancelFunc = func() {}
	if isStream {
		sctx, scancel := context.WithCancel(d.c.ctx)
		hctx, cancel = &Context{Context: sctx, conn: d.c, h: d.h}, scancel
	}

	d.mu.Lock()
	open := len(d.streams) + len(d.uploads)
	if isStream {
		open++
	}
	if isStream || len(streamIDs) > 0 {
		if open+len(streamIDs) > d.h.opts.MaximumStreamsPerConnection {
			d.mu.Unlock()
			cancel()
			refuse(unexpectedError(target) + " HubException: Too many open streams.")
			return
		}
	}
	if isStream {
		if _, dup := d.streams[id]; dup {
			d.mu.Unlock()
			cancel()
			refuse("Invocation ID '" + id + "' is already in use.")
			return
		}
		if d.streams == nil {
			d.streams = make(map[string]context.CancelFunc)
		}
		d.streams[id] = cancel
	}
	var ups []*upload
	if len(streamIDs) > 0 {
		if d.uploads == nil {
			d.uploads = make(map[string]*upload)
		}
		done := make(chan struct{})
		off := 0
		if m.hasCtx {
			off = 1
		}
		for i, pi := range m.uploadParams {
			pt := m.params[pi]
			ch := reflect.MakeChan(reflect.ChanOf(reflect.BothDir, pt.Elem()), d.h.opts.StreamBufferCapacity)
			u := &upload{ch: ch, elem: pt.Elem(), done: done, mu: &d.mu}
			d.uploads[streamIDs[i]] = u
			ups = append(ups, u)
			argv[off+pi] = ch
		}
	}
	d.mu.Unlock()

	if isStream {
		d.wg.Add(1)
		go d.runStream(hctx, cancel, id, target, m, argv, streamIDs, ups, o)
		return
	}
	if len(ups) == 0 {
		// Plain invocations share the per-client limit; while waiting for a
		// slot the client timeout is suspended, as reading is.
		select {
		case d.sem <- struct{}{}:
		default:
			d.c.suspended.Store(true)
			select {
			case d.sem <- struct{}{}:
				d.c.suspended.Store(false)
				d.c.touch()
			case <-d.c.readCtx.Done():
				d.c.suspended.Store(false)
				o.done(ErrConnectionClosed) // never ran
				return
			}
		}
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if len(ups) == 0 {
			defer func() { <-d.sem }()
		}
		res, err := m.call(hctx, argv)
		if len(ups) > 0 {
			if uerr := d.endUploads(streamIDs, ups); uerr != "" {
				err = &HubError{Message: uerr}
			}
		}
		o.done(err)
		d.complete(id, target, m, res, err)
	}()
}

// complete sends the Completion of a non-streaming invocation.
func (d *dispatcher) complete(id, target string, m *hubMethod, res reflect.Value, err error) {
	if err != nil {
		d.logCallError(target, err)
	}
	if id == "" {
		return
	}
	msg := &protocol.Completion{InvocationID: id, HasResult: true}
	if err != nil {
		msg = &protocol.Completion{InvocationID: id, Error: buildErrorMessage(unexpectedError(target), err, d.detailed())}
	} else if res.IsValid() {
		msg.Result = res.Interface()
	}
	b, encErr := d.c.proto.AppendMessage(nil, msg)
	if encErr != nil {
		d.logCallError(target, encErr)
		b, _ = d.c.proto.AppendMessage(nil, &protocol.Completion{InvocationID: id,
			Error: buildErrorMessage(unexpectedError(target), encErr, d.detailed())})
	}
	if err := d.c.enqueueWait(d.c.ctx, b, protocol.TypeCompletion); err != nil {
		d.c.log.Debug().Str("connectionId", d.c.id).Err(err).Msg("write completion")
	}
}

func (d *dispatcher) logCallError(target string, err error) {
	var pe *panicError
	ev := d.c.log.Debug().Str("connectionId", d.c.id)
	if errors.As(err, &pe) {
		ev = d.c.log.Error().Str("connectionId", d.c.id)
	}
	ev.Err(err).Str("method", target).Msg("hub method failed")
}

// bindArgs decodes the invocation's arguments into the method's parameter
// types. The returned slice has room for the *Context and upload channels.
func bindArgs(m *hubMethod, args []any) ([]reflect.Value, error) {
	if len(args) != len(m.valueParams) {
		return nil, newException("InvalidDataException", fmt.Sprintf(
			"Invocation provides %d argument(s) but target expects %d.", len(args), len(m.valueParams)))
	}
	off := 0
	if m.hasCtx {
		off = 1
	}
	argv := make([]reflect.Value, off+len(m.params))
	for i, pi := range m.valueParams {
		v, err := decodeValue(args[i], m.params[pi])
		if err != nil {
			return nil, &exception{typ: "InvalidDataException", err: err, msg: "Error binding arguments. " +
				"Make sure that the types of the provided values match the types of the hub method being invoked."}
		}
		argv[off+pi] = v
	}
	return argv, nil
}

// decodeValue turns a received value (a RawValue, or a Go value when called
// in process) into a value of type t.
func decodeValue(a any, t reflect.Type) (reflect.Value, error) {
	switch v := a.(type) {
	case nil:
		return reflect.Zero(t), nil
	case protocol.RawValue:
		if t == rawValueType {
			return reflect.ValueOf(&v).Elem(), nil
		}
		if v.IsNull() && !nullable(t) {
			// .NET cannot bind null to a value type (int, bool, double...);
			// Go would silently give zero.
			return reflect.Value{}, fmt.Errorf("signalr: null for %s", t)
		}
		p := reflect.New(t)
		if err := v.Decode(p.Interface()); err != nil {
			return reflect.Value{}, err
		}
		return p.Elem(), nil
	}
	rv := reflect.ValueOf(a)
	switch {
	case rv.Type().AssignableTo(t):
		return rv, nil
	case rv.Type().ConvertibleTo(t):
		return rv.Convert(t), nil
	}
	return reflect.Value{}, fmt.Errorf("signalr: cannot use %s as %s", rv.Type(), t)
}

// nullable reports whether null binds to t: the Go counterparts of .NET
// reference types (strings and structs stand for classes) and pointers.
func nullable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return false
	}
	return true
}

// streamItem feeds an upload stream. Like .NET, a full stream buffer holds
// up the read loop (back-pressure to the client).
func (d *dispatcher) streamItem(m *protocol.StreamItem) {
	d.mu.Lock()
	u := d.uploads[m.InvocationID]
	d.mu.Unlock()
	if u == nil {
		return // unknown or finished stream: ignored
	}
	v, err := decodeValue(m.Item, u.elem)
	if err != nil {
		// As .NET: the stream ends with this error, which the invocation
		// reading it then reports as a HubException.
		d.c.log.Debug().Str("connectionId", d.c.id).Err(err).Str("streamId", m.InvocationID).Msg("Failed to bind Stream message.")
		d.endUpload(m.InvocationID, u, buildErrorMessage("Failed to bind Stream message.",
			&exception{typ: "InvalidDataException", msg: "Error binding arguments. Make sure that the types of the provided values match the types of the hub method being invoked.", err: err},
			d.detailed()))
		return
	}
	if u.ch.TrySend(v) {
		return
	}
	d.c.suspended.Store(true)
	defer func() { d.c.suspended.Store(false); d.c.touch() }()
	reflect.Select([]reflect.SelectCase{
		{Dir: reflect.SelectSend, Chan: u.ch, Send: v},
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(u.done)},
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(d.c.readCtx.Done())},
	})
}

// completion ends an upload stream, or else is a client result.
func (d *dispatcher) completion(m *protocol.Completion) {
	d.mu.Lock()
	u := d.uploads[m.InvocationID]
	d.mu.Unlock()
	if u != nil {
		d.endUpload(m.InvocationID, u, m.Error)
		return
	}
	if err := d.h.lm.SetConnectionResult(d.c.id, m); err != nil {
		d.c.log.Debug().Str("connectionId", d.c.id).Err(err).Str("invocationId", m.InvocationID).Msg("unexpected completion")
	}
}

// endUpload closes an upload channel; only the read loop sends on or closes it.
func (d *dispatcher) endUpload(id string, u *upload, errText string) {
	d.mu.Lock()
	if d.uploads[id] != u {
		d.mu.Unlock()
		return
	}
	delete(d.uploads, id)
	u.err = errText
	d.mu.Unlock()
	u.ch.Close()
}

// endUploads forgets the invocation's streams once it returned and reports
// the first error a client ended one of them with.
func (d *dispatcher) endUploads(ids []string, ups []*upload) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, id := range ids {
		if d.uploads[id] == ups[i] {
			delete(d.uploads, id)
		}
	}
	if len(ups) > 0 {
		close(ups[0].done)
	}
	for _, u := range ups {
		if u.err != "" {
			return u.err
		}
	}
	return ""
}

// runStream runs a server-to-client stream: items, then one Completion
// (without error when the client cancelled).
func (d *dispatcher) runStream(hctx *Context, cancel context.CancelFunc, id, target string, m *hubMethod, argv []reflect.Value, streamIDs []string, ups []*upload, o *observed) {
	defer d.wg.Done()
	defer func() {
		d.mu.Lock()
		delete(d.streams, id)
		d.mu.Unlock()
		cancel()
	}()
	res, err := m.call(hctx, argv)
	var text string
	switch {
	case err != nil:
		d.logCallError(target, err)
		text = buildErrorMessage(unexpectedError(target), err, d.detailed())
	case !res.IsValid() || res.IsNil():
		text = "The value returned by the streaming method '" + target + "' is not a ChannelReader<> or IAsyncEnumerable<>."
		err = errors.New(text)
	default:
		if err = d.pump(hctx, id, m.stream, res); err != nil {
			d.logCallError(target, err)
			text = buildErrorMessage("An error occurred on the server while streaming results.", err, d.detailed())
		}
	}
	if len(ups) > 0 {
		if uerr := d.endUploads(streamIDs, ups); uerr != "" && text == "" {
			err = &HubError{Message: uerr}
			text = buildErrorMessage("An error occurred on the server while streaming results.", err, d.detailed())
		}
	}
	o.done(err)
	if err := d.c.writeMessage(d.c.ctx, &protocol.Completion{InvocationID: id, Error: text}); err != nil {
		d.c.log.Debug().Str("connectionId", d.c.id).Err(err).Msg("write stream completion")
	}
}

var errStreamEnded = errors.New("signalr: stream ended")

// pump sends the items of a channel or iterator until it ends, the client
// cancels, or the connection ends.
func (d *dispatcher) pump(ctx *Context, id string, kind streamKind, src reflect.Value) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &panicError{v: r}
		}
	}()
	send := func(v reflect.Value) error {
		if ctx.Err() != nil {
			return errStreamEnded
		}
		b, err := d.c.proto.AppendMessage(nil, &protocol.StreamItem{InvocationID: id, Item: v.Interface()})
		if err != nil {
			return err
		}
		if err := d.c.enqueueWait(ctx, b, protocol.TypeStreamItem); err != nil {
			return errStreamEnded
		}
		return nil
	}
	switch kind {
	case streamChan:
		cases := []reflect.SelectCase{
			{Dir: reflect.SelectRecv, Chan: src},
			{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())},
		}
		for {
			chosen, v, ok := reflect.Select(cases)
			if chosen == 1 || !ok {
				return nil
			}
			if err := send(v); err != nil {
				return ignoreEnded(err)
			}
		}
	case streamSeq, streamSeq2:
		var failed error
		yt := src.Type().In(0)
		yield := reflect.MakeFunc(yt, func(in []reflect.Value) []reflect.Value {
			if kind == streamSeq2 && !in[1].IsNil() {
				failed = in[1].Interface().(error)
				return []reflect.Value{reflect.ValueOf(false)}
			}
			if err := send(in[0]); err != nil {
				failed = err
				return []reflect.Value{reflect.ValueOf(false)}
			}
			return []reflect.Value{reflect.ValueOf(true)}
		})
		src.Call([]reflect.Value{yield})
		return ignoreEnded(failed)
	}
	return nil
}

func ignoreEnded(err error) error {
	if errors.Is(err, errStreamEnded) {
		return nil
	}
	return err
}
