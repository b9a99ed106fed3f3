package npgsql

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The sample was produced by PostgreSQL 15's json_build_object over the
// invocation_all_json_messagepack golden payload (Id 1234).
func TestParseNotificationSample(t *testing.T) {
	text, err := os.ReadFile(filepath.Join(goldenDir, "notify_invocation_all_json_messagepack.txt"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := ParseNotification(string(text))
	if err != nil {
		t.Fatal(err)
	}
	want := readGolden(t, "invocation_all_json_messagepack")
	if n.ID != 1234 || !n.HasPayload || !bytes.Equal(n.Payload, want) || n.InsertedOn != "2026-11-27T07:45:12.5" {
		t.Fatalf("got %+v", n)
	}
	// Our rendering of the trigger's output is byte-identical.
	if got := AppendNotification(nil, 1234, want, "2026-11-27T07:45:12.5"); string(got) != string(text) {
		t.Fatalf("AppendNotification\n got %s\nwant %s", got, text)
	}
	if got := NotifySize(len(want), 4, len("2026-11-27T07:45:12.5")); got != len(text) {
		t.Fatalf("NotifySize = %d, want %d", got, len(text))
	}
}

func TestParseNotification(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Notification
		wantErr string
	}{
		{"no payload (native)", `{"Id" : 7, "InsertedOn" : "2026-01-01T00:00:00"}`, Notification{ID: 7, InsertedOn: "2026-01-01T00:00:00"}, ""},
		{"empty payload", `{"Id" : 7, "Payload" : "", "InsertedOn" : "x"}`, Notification{ID: 7, Payload: []byte{}, HasPayload: true, InsertedOn: "x"}, ""},
		{"line breaks", `{"Id" : 1, "Payload" : "aGk=\n"}`, Notification{ID: 1, Payload: []byte("hi"), HasPayload: true}, ""},
		{"not json", `Id=1`, Notification{}, "not a JSON object"},
		{"missing id", `{"Payload" : ""}`, Notification{}, `no "Id"`},
		{"lower-case id", `{"id" : 1, "Payload" : ""}`, Notification{}, `no "Id"`},
		{"id too big", `{"Id" : 2147483648}`, Notification{}, "not an int32"},
		{"id string", `{"Id" : "1"}`, Notification{}, "not an int32"},
		{"payload number", `{"Id" : 1, "Payload" : 5}`, Notification{}, "not a string"},
		{"payload not base64", `{"Id" : 1, "Payload" : "%%"}`, Notification{}, "not base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseNotification(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != tt.want.ID || got.HasPayload != tt.want.HasPayload || !bytes.Equal(got.Payload, tt.want.Payload) || got.InsertedOn != tt.want.InsertedOn {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestMaxCompatPayload(t *testing.T) {
	if maxNotifySize(MaxCompatPayload) >= MaxNotifyPayload || maxNotifySize(MaxCompatPayload+1) < MaxNotifyPayload {
		t.Fatalf("MaxCompatPayload %d is not the boundary", MaxCompatPayload)
	}
	// The reference computes about 5,787 bytes.
	if MaxCompatPayload < 5700 || MaxCompatPayload > 5800 {
		t.Fatalf("MaxCompatPayload = %d", MaxCompatPayload)
	}
}

func FuzzParseNotification(f *testing.F) {
	text, _ := os.ReadFile(filepath.Join(goldenDir, "notify_invocation_all_json_messagepack.txt"))
	f.Add(string(text))
	f.Add(`{"Id" : 7, "InsertedOn" : "2026-01-01T00:00:00"}`)
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseNotification(s)
		if err != nil || !n.HasPayload {
			return
		}
		// A parsed notification renders and parses back to the same content.
		again, err := ParseNotification(string(AppendNotification(nil, n.ID, n.Payload, "t")))
		if err != nil || again.ID != n.ID || !bytes.Equal(again.Payload, n.Payload) {
			t.Fatalf("round trip: %+v %v", again, err)
		}
	})
}
