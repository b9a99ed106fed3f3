package client

import (
	"testing"

	"github.com/gosignalr/gosignalr/signalr"
	"github.com/gosignalr/gosignalr/signalr/protocol"
	"github.com/gosignalr/gosignalr/transports"
)

// Round trips and one-way sends against our real server on loopback.
func benchConn(b *testing.B, tr transports.TransportType, p protocol.HubProtocol) *HubConnection {
	b.Helper()
	_, url := startRealServer(b, signalr.Options{})
	c, err := New(url, Options{Transports: tr, Protocol: p})
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Stop(b.Context()) })
	return c
}

func BenchmarkInvoke(b *testing.B) {
	for _, pc := range protoCases() {
		b.Run(pc.String(), func(b *testing.B) {
			c := benchConn(b, pc.tr, pc.proto)
			ctx := b.Context()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Invoke(ctx, "Add", 1, 2); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkInvokeParallel(b *testing.B) {
	c := benchConn(b, transports.WebSockets, protocol.JSON)
	ctx := b.Context()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Invoke(ctx, "Add", 1, 2); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkSend(b *testing.B) {
	c := benchConn(b, transports.WebSockets, protocol.JSON)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Send(ctx, "Void"); err != nil {
			b.Fatal(err)
		}
	}
	// One round trip so every send was processed before the server stops.
	if _, err := c.Invoke(ctx, "Void"); err != nil {
		b.Fatal(err)
	}
}
