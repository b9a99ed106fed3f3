package npgsql

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// MaxNotifyPayload is PostgreSQL's limit on a NOTIFY payload: pg_notify fails
// with "payload string too long" at 8000 bytes or more.
const MaxNotifyPayload = 8000

// Notification is a parsed NOTIFY payload of the backplane trigger:
// {"Id" : 42, "Payload" : "<base64>", "InsertedOn" : "2025-07-11T10:15:30.123456"}.
// In native mode a large row is announced without "Payload"; HasPayload is
// then false and the row must be read from the table.
type Notification struct {
	ID         int32
	Payload    []byte
	HasPayload bool
	InsertedOn string
}

// ParseNotification parses the JSON text the trigger sends. Property names
// are case-sensitive, as for the .NET receiver. Base64 line breaks (PostgreSQL
// inserts one after every 76 characters) are ignored.
func ParseNotification(s string) (Notification, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &fields); err != nil {
		return Notification{}, fmt.Errorf("npgsql: notification is not a JSON object: %w", err)
	}
	var n Notification
	idRaw, ok := fields["Id"]
	if !ok {
		return n, errors.New("npgsql: notification has no \"Id\"")
	}
	id, err := strconv.ParseInt(string(idRaw), 10, 32)
	if err != nil {
		return n, fmt.Errorf("npgsql: notification \"Id\" is not an int32: %s", idRaw)
	}
	n.ID = int32(id)
	if raw, ok := fields["InsertedOn"]; ok {
		if err := json.Unmarshal(raw, &n.InsertedOn); err != nil {
			return n, fmt.Errorf("npgsql: notification \"InsertedOn\" is not a string: %w", err)
		}
	}
	raw, ok := fields["Payload"]
	if !ok {
		return n, nil // native mode: the row holds the payload
	}
	var b64 string
	if err := json.Unmarshal(raw, &b64); err != nil {
		return n, fmt.Errorf("npgsql: notification \"Payload\" is not a string: %w", err)
	}
	// StdEncoding skips '\r' and '\n' while decoding.
	n.Payload, err = base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return n, fmt.Errorf("npgsql: notification \"Payload\" is not base64: %w", err)
	}
	n.HasPayload = true
	return n, nil
}

// AppendNotification appends the NOTIFY text PostgreSQL's
// json_build_object('Id', …, 'Payload', encode(…, 'base64'), 'InsertedOn', …)::text
// produces. Tests and tools use it to fake the trigger.
func AppendNotification(dst []byte, id int32, payload []byte, insertedOn string) []byte {
	dst = append(dst, `{"Id" : `...)
	dst = strconv.AppendInt(dst, int64(id), 10)
	dst = append(dst, `, "Payload" : "`...)
	enc := base64.StdEncoding.EncodeToString(payload)
	// PostgreSQL's encoder ends a line after 76 characters of complete 3-byte
	// groups (even at the very end); the final partial group never ends a
	// line. Inside JSON the newline is the two characters \n.
	for range len(payload) / 57 {
		dst = append(dst, enc[:76]...)
		dst = append(dst, `\n`...)
		enc = enc[76:]
	}
	dst = append(dst, enc...)
	dst = append(dst, `", "InsertedOn" : "`...)
	dst = append(dst, insertedOn...)
	return append(dst, `"}`...)
}

// NotifySize returns the length of the NOTIFY text for a payload of n bytes,
// an id of idDigits digits and an InsertedOn of tsLen characters.
func NotifySize(n, idDigits, tsLen int) int {
	b64 := (n + 2) / 3 * 4
	return len(`{"Id" : `) + idDigits + len(`, "Payload" : "`) + b64 + 2*(n/57) +
		len(`", "InsertedOn" : "`) + tsLen + len(`"}`)
}

// maxNotifySize is the NOTIFY size of an n-byte payload in the worst case: a
// 10-digit id and a timestamp with microseconds (26 characters).
func maxNotifySize(n int) int { return NotifySize(n, 10, 26) }

// MaxCompatPayload is the largest backplane payload (in bytes) that compat
// mode publishes: its NOTIFY text stays under MaxNotifyPayload whatever the
// row's Id (up to 10 digits) and InsertedOn (up to 26 characters).
// TestMaxCompatPayload checks it is exactly the boundary of maxNotifySize.
const MaxCompatPayload = 5787

// TooLargeError reports a message that compat mode cannot publish.
type TooLargeError struct {
	Size       int // payload bytes
	NotifySize int // bytes of the NOTIFY text it would need
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("npgsql: backplane message of %d bytes is too large: its NOTIFY payload would be %d bytes, "+
		"PostgreSQL's limit is %d bytes (compat mode carries the whole message in the notification; "+
		"the largest message is %d bytes, counted over all hub protocols; use Mode native for larger messages)",
		e.Size, e.NotifySize, MaxNotifyPayload-1, MaxCompatPayload)
}
