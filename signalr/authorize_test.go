package signalr

import "testing"

// authzHub refuses Kick through MethodAuthorizer; AuthorizeMethod itself must
// not be callable.
type authzHub struct{}

func (authzHub) Echo(s string) string { return s }
func (authzHub) Kick(id string)       {}
func (authzHub) AuthorizeMethod(_ *Context, method string) bool {
	return method != "Kick"
}

func TestMethodAuthorization(t *testing.T) {
	const unauthorized = `{"type":3,"invocationId":"1","error":"Failed to invoke 'kick' because user is unauthorized"}`
	tests := []struct {
		name string
		hub  any
		opts Options
		call string
		want string
	}{
		{"hub interface refuses", authzHub{}, Options{},
			`{"type":1,"invocationId":"1","target":"kick","arguments":["x"]}`, unauthorized},
		{"hub interface allows", authzHub{}, Options{},
			`{"type":1,"invocationId":"1","target":"Echo","arguments":["x"]}`, `{"type":3,"invocationId":"1","result":"x"}`},
		{"AuthorizeMethod is not a hub method", authzHub{}, Options{},
			`{"type":1,"invocationId":"1","target":"AuthorizeMethod","arguments":["Kick"]}`,
			`{"type":3,"invocationId":"1","error":"Failed to invoke 'AuthorizeMethod' due to an error on the server. HubException: Method does not exist."}`},
		{"option refuses", newTestHub(), Options{AuthorizeMethod: func(_ *Context, m string) bool { return m != "Echo" }},
			`{"type":1,"invocationId":"1","target":"echo","arguments":["x"]}`,
			`{"type":3,"invocationId":"1","error":"Failed to invoke 'echo' because user is unauthorized"}`},
		{"option sees the user", newTestHub(), Options{AuthorizeMethod: func(c *Context, _ string) bool { return c.User() == nil }},
			`{"type":1,"invocationId":"1","target":"Echo","arguments":["x"]}`, `{"type":3,"invocationId":"1","result":"x"}`},
		{"binding errors come first", authzHub{}, Options{},
			`{"type":1,"invocationId":"1","target":"kick","arguments":[]}`,
			`{"type":3,"invocationId":"1","error":"Failed to invoke 'kick' due to an error on the server."}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := connect(t, newHandler(t, tt.hub, tt.opts), "c1")
			c.send(tt.call)
			if got := c.nextRecord(); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
