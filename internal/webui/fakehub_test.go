package webui

// A minimal stand-in for the chat hub (JSON over WebSockets only) used
// until the real signalr.Server and internal/chat hub are in the tree.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"
)

type fakeHub struct {
	mu     sync.Mutex
	conns  map[string]*fakeConn
	groups map[string]map[string]bool
	next   atomic.Int64
	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
}

type fakeConn struct {
	id string
	ws *websocket.Conn
	wm sync.Mutex
}

func newFakeHub() *fakeHub {
	ctx, cancel := context.WithCancel(context.Background())
	return &fakeHub{conns: map[string]*fakeConn{}, groups: map[string]map[string]bool{}, ctx: ctx, cancel: cancel}
}

func (h *fakeHub) Close() { h.cancel(); h.wg.Wait() }

func (h *fakeHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/negotiate") {
		id := fmt.Sprintf("conn%d", h.next.Add(1))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"negotiateVersion":1,"connectionId":%q,"connectionToken":%q,"availableTransports":[{"transport":"WebSockets","transferFormats":["Text","Binary"]}]}`, id, id)
		return
	}
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	h.wg.Add(1)
	defer h.wg.Done()
	c := &fakeConn{id: r.URL.Query().Get("id"), ws: ws}
	defer ws.CloseNow()
	ctx := h.ctx
	_, hs, err := ws.Read(ctx)
	if err != nil || !bytes.Contains(hs, []byte(`"json"`)) {
		return
	}
	c.write(ctx, []byte("{}\x1e"))
	h.mu.Lock()
	h.conns[c.id] = c
	h.mu.Unlock()
	h.send(ctx, nil, "", "UserConnected", c.id)
	defer func() {
		h.mu.Lock()
		delete(h.conns, c.id)
		for _, g := range h.groups {
			delete(g, c.id)
		}
		h.mu.Unlock()
		h.send(context.Background(), nil, "", "UserDisconnected", c.id)
	}()
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return
		}
		for _, frame := range bytes.Split(data, []byte{0x1e}) {
			if len(frame) == 0 {
				continue
			}
			var m struct {
				Type         int               `json:"type"`
				InvocationID string            `json:"invocationId"`
				Target       string            `json:"target"`
				Arguments    []json.RawMessage `json:"arguments"`
			}
			if json.Unmarshal(frame, &m) != nil {
				return
			}
			switch m.Type {
			case 7:
				return
			case 1:
				h.invoke(ctx, c, m.Target, m.Arguments)
				if m.InvocationID != "" {
					c.write(ctx, fmt.Appendf(nil, `{"type":3,"invocationId":%q}`+"\x1e", m.InvocationID))
				}
			}
		}
	}
}

func (h *fakeHub) invoke(ctx context.Context, c *fakeConn, target string, raw []json.RawMessage) {
	args := make([]string, len(raw))
	for i, a := range raw {
		_ = json.Unmarshal(a, &args[i])
	}
	switch {
	case target == "SendMessage" && len(args) == 2:
		h.send(ctx, nil, "", "ReceiveMessage", args[0], args[1])
	case target == "JoinGroup" && len(args) == 1:
		h.mu.Lock()
		if h.groups[args[0]] == nil {
			h.groups[args[0]] = map[string]bool{}
		}
		h.groups[args[0]][c.id] = true
		h.mu.Unlock()
		h.send(ctx, nil, args[0], "UserJoinedGroup", c.id, args[0])
	case target == "LeaveGroup" && len(args) == 1:
		h.mu.Lock()
		delete(h.groups[args[0]], c.id)
		h.mu.Unlock()
		h.send(ctx, []*fakeConn{c}, args[0], "UserLeftGroup", c.id, args[0])
	case target == "SendMessageToGroup" && len(args) == 3:
		h.send(ctx, nil, args[0], "ReceiveGroupMessage", args[0], args[1], args[2])
	}
}

// send writes an invocation to everyone (group "") or to a group's members,
// plus the extra connections.
func (h *fakeHub) send(ctx context.Context, extra []*fakeConn, group, target string, args ...string) {
	b, _ := json.Marshal(map[string]any{"type": 1, "target": target, "arguments": args})
	b = append(b, 0x1e)
	h.mu.Lock()
	var to []*fakeConn
	for id, c := range h.conns {
		if group == "" || h.groups[group][id] {
			to = append(to, c)
		}
	}
	for _, c := range extra {
		if group != "" && !h.groups[group][c.id] {
			to = append(to, c)
		}
	}
	h.mu.Unlock()
	for _, c := range to {
		c.write(ctx, b)
	}
}

func (c *fakeConn) write(ctx context.Context, b []byte) {
	c.wm.Lock()
	defer c.wm.Unlock()
	_ = c.ws.Write(ctx, websocket.MessageText, b)
}

// browserTransportCases are the transports of pages A and B ("" = the
// client's choice, which must be WebSockets).
var browserTransportCases = []transportCase{{"", ""}}

func newChatHub(t *testing.T) (http.Handler, func()) {
	t.Helper()
	h := newFakeHub()
	return h, h.Close
}
