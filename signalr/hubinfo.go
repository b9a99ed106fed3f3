package signalr

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/gosignalr/gosignalr/signalr/protocol"
)

// Hub methods are found once, by reflection, when the server is built; a
// call then costs one map lookup plus the reflective call.

type resultKind uint8

const (
	resultNone     resultKind = iota // func(...)
	resultErr                        // func(...) error
	resultValue                      // func(...) T
	resultValueErr                   // func(...) (T, error)
)

type streamKind uint8

const (
	streamNone streamKind = iota
	streamChan            // <-chan T or chan T
	streamSeq             // iter.Seq[T]
	streamSeq2            // iter.Seq2[T, error]
)

type hubMethod struct {
	name   string
	fn     reflect.Value
	hasCtx bool
	// params are the parameters after the optional *Context, in order.
	params []reflect.Type
	// valueParams index params decoded from the invocation's arguments;
	// uploadParams index channel parameters fed from its streamIds.
	valueParams  []int
	uploadParams []int
	result       resultKind
	stream       streamKind
}

type hubDescriptor struct {
	name    string
	methods map[string]*hubMethod // keyed by strings.ToLower(name)

	onConnected    func(*Context) error
	onDisconnected func(*Context, error) error
	authorize      func(*Context, string) bool
}

// MethodAuthorizer is an optional hub interface: AuthorizeMethod runs
// before every invocation with the hub method's Go name; false refuses the
// call with "Failed to invoke 'X' because user is unauthorized". It is not
// itself a hub method.
type MethodAuthorizer interface {
	AuthorizeMethod(ctx *Context, method string) bool
}

var (
	contextPtrType  = reflect.TypeFor[*Context]()
	errorType       = reflect.TypeFor[error]()
	rawValueType    = reflect.TypeFor[protocol.RawValue]()
	boolType        = reflect.TypeFor[bool]()
	lifecycleNames  = map[string]bool{"onconnected": true, "ondisconnected": true, "authorizemethod": true}
	errNilHub       = errors.New("signalr: hub is nil")
	errNoHubMethods = errors.New("signalr: hub has no exported methods")
)

func describeHub(hub any, name string) (*hubDescriptor, error) {
	if hub == nil {
		return nil, errNilHub
	}
	v := reflect.ValueOf(hub)
	t := v.Type()
	if name == "" {
		bt := t
		for bt.Kind() == reflect.Pointer {
			bt = bt.Elem()
		}
		name = bt.Name()
	}
	d := &hubDescriptor{name: name, methods: make(map[string]*hubMethod)}

	for i := 0; i < t.NumMethod(); i++ {
		mt := t.Method(i)
		if !mt.IsExported() {
			continue
		}
		key := strings.ToLower(mt.Name)
		if lifecycleNames[key] {
			continue
		}
		m, err := describeMethod(mt.Name, v.Method(i))
		if err != nil {
			return nil, err
		}
		if prev, ok := d.methods[key]; ok {
			return nil, fmt.Errorf("signalr: hub methods %s and %s differ only in case", prev.name, mt.Name)
		}
		d.methods[key] = m
	}

	// Lifecycle hooks: fixed signatures, checked so a typo'd signature is an
	// error at startup rather than a hook that silently never runs.
	if mv := v.MethodByName("OnConnected"); mv.IsValid() {
		switch f := mv.Interface().(type) {
		case func(*Context) error:
			d.onConnected = f
		case func(*Context):
			d.onConnected = func(c *Context) error { f(c); return nil }
		default:
			return nil, fmt.Errorf("signalr: %s.OnConnected must be func(*signalr.Context) error, is %s", name, mv.Type())
		}
	}
	if mv := v.MethodByName("OnDisconnected"); mv.IsValid() {
		switch f := mv.Interface().(type) {
		case func(*Context, error) error:
			d.onDisconnected = f
		case func(*Context, error):
			d.onDisconnected = func(c *Context, err error) error { f(c, err); return nil }
		default:
			return nil, fmt.Errorf("signalr: %s.OnDisconnected must be func(*signalr.Context, error) error, is %s", name, mv.Type())
		}
	}
	if a, ok := hub.(MethodAuthorizer); ok {
		d.authorize = a.AuthorizeMethod
	}
	if len(d.methods) == 0 {
		return nil, errNoHubMethods
	}
	return d, nil
}

func describeMethod(name string, fn reflect.Value) (*hubMethod, error) {
	ft := fn.Type()
	if ft.IsVariadic() {
		return nil, fmt.Errorf("signalr: hub method %s: variadic methods are not supported", name)
	}
	m := &hubMethod{name: name, fn: fn}
	in := 0
	if ft.NumIn() > 0 && ft.In(0) == contextPtrType {
		m.hasCtx = true
		in = 1
	}
	for ; in < ft.NumIn(); in++ {
		pt := ft.In(in)
		if pt == contextPtrType {
			return nil, fmt.Errorf("signalr: hub method %s: *signalr.Context must be the first parameter", name)
		}
		idx := len(m.params)
		m.params = append(m.params, pt)
		if pt.Kind() == reflect.Chan {
			if pt.ChanDir()&reflect.RecvDir == 0 {
				return nil, fmt.Errorf("signalr: hub method %s: upload stream parameter must be <-chan T or chan T, is %s", name, pt)
			}
			m.uploadParams = append(m.uploadParams, idx)
		} else {
			m.valueParams = append(m.valueParams, idx)
		}
	}

	var valType reflect.Type
	switch ft.NumOut() {
	case 0:
		m.result = resultNone
	case 1:
		if ft.Out(0) == errorType {
			m.result = resultErr
		} else {
			m.result = resultValue
			valType = ft.Out(0)
		}
	case 2:
		if ft.Out(1) != errorType {
			return nil, fmt.Errorf("signalr: hub method %s: the second result must be error", name)
		}
		m.result = resultValueErr
		valType = ft.Out(0)
	default:
		return nil, fmt.Errorf("signalr: hub method %s: at most two results (T, error) are supported", name)
	}
	if valType != nil {
		m.stream = classifyStream(valType)
	}
	return m, nil
}

// classifyStream recognises the result types that make a method a server
// stream: a receive channel, iter.Seq[T] and iter.Seq2[T, error].
func classifyStream(t reflect.Type) streamKind {
	switch t.Kind() {
	case reflect.Chan:
		if t.ChanDir()&reflect.RecvDir != 0 {
			return streamChan
		}
	case reflect.Func:
		// iter.Seq[T] is func(yield func(T) bool); Seq2[T, error] is func(yield func(T, error) bool).
		if t.NumIn() != 1 || t.NumOut() != 0 {
			return streamNone
		}
		y := t.In(0)
		if y.Kind() != reflect.Func || y.NumOut() != 1 || y.Out(0) != boolType {
			return streamNone
		}
		switch y.NumIn() {
		case 1:
			return streamSeq
		case 2:
			if y.In(1) == errorType {
				return streamSeq2
			}
		}
	}
	return streamNone
}

// call runs the method and recovers a panic into an error. For a server
// stream, the stream value comes back in result.
func (m *hubMethod) call(hctx *Context, args []reflect.Value) (result reflect.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &panicError{v: r}
		}
	}()
	if m.hasCtx {
		args[0] = reflect.ValueOf(hctx)
	}
	out := m.fn.Call(args)
	switch m.result {
	case resultErr:
		err, _ = out[0].Interface().(error)
	case resultValue:
		result = out[0]
	case resultValueErr:
		result = out[0]
		err, _ = out[1].Interface().(error)
	}
	return result, err
}
