package client

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// sseReader reads Server-Sent Events the way EventSource does, keeping only
// what SignalR uses: "data:" lines of one event are joined with "\n" and the
// event ends at a blank line. Comments and other fields are skipped. Lines may
// end in "\r\n", "\n" or "\r".
type sseReader struct {
	r        *bufio.Reader
	maxEvent int
	data     []byte
	hasData  bool
	skipLF   bool // the previous line ended in '\r': a following '\n' belongs to it
}

var errSSEEventTooLarge = errors.New("server-sent event exceeds the maximum size")

func newSSEReader(r io.Reader, maxEvent int) *sseReader {
	return &sseReader{r: bufio.NewReaderSize(r, 16<<10), maxEvent: maxEvent}
}

// next returns the data of the next event with data. It returns io.EOF at the
// end of the stream (an unfinished event is dropped, as EventSource does).
func (s *sseReader) next() ([]byte, error) {
	for {
		line, err := s.line()
		if err != nil {
			return nil, err
		}
		if len(line) == 0 {
			if s.hasData {
				p := s.data
				s.data, s.hasData = nil, false
				return p, nil
			}
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		if string(field) != "data" {
			continue
		}
		if s.hasData {
			s.data = append(s.data, '\n')
		}
		s.data = append(s.data, value...)
		s.hasData = true
		if len(s.data) > s.maxEvent {
			return nil, errSSEEventTooLarge
		}
	}
}

// line reads one line without its terminator, bounded by maxEvent.
func (s *sseReader) line() ([]byte, error) {
	var buf []byte
	for {
		b, err := s.r.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, io.EOF
			}
			return nil, err
		}
		if s.skipLF {
			s.skipLF = false
			if b == '\n' {
				continue
			}
		}
		switch b {
		case '\n':
			return buf, nil
		case '\r':
			s.skipLF = true
			return buf, nil
		}
		buf = append(buf, b)
		if len(buf) > s.maxEvent+16 {
			return nil, errSSEEventTooLarge
		}
	}
}
