// Package chat is the ChatServer's hub: the same contract as the ASP.NET Core
// SignalR chat samples, so any chat client written for those works unchanged.
//
// Client to server:
//
//	SendMessage(user, message)                  all receive ReceiveMessage(user, message)
//	JoinGroup(groupName)                        the group receives UserJoinedGroup(userName, groupName)
//	LeaveGroup(groupName)                       the group receives UserLeftGroup(userName, groupName)
//	SendMessageToGroup(groupName, user, message) the group receives ReceiveGroupMessage(groupName, user, message)
//
// On connect every client receives UserConnected(connectionId); on disconnect
// every remaining client receives UserDisconnected(connectionId). userName is
// the authenticated user's name when there is one, else the connection id.
package chat

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/gosignalr/gosignalr/signalr"
)

// ChatHub implements the chat contract. Groups live in the hub lifetime
// manager, so one value serves every connection concurrently.
type ChatHub struct {
	// Logger gets connection lifecycle events at debug level. The zero
	// value is silent.
	Logger zerolog.Logger
}

// SendMessage broadcasts a chat message to every client.
func (h *ChatHub) SendMessage(ctx *signalr.Context, user, message string) error {
	return ctx.Clients().All().Send(ctx, "ReceiveMessage", user, message)
}

// JoinGroup adds the caller to groupName, then tells the group (the caller
// included) who joined.
func (h *ChatHub) JoinGroup(ctx *signalr.Context, groupName string) error {
	if err := ctx.Groups().AddToGroup(ctx, ctx.ConnectionID(), groupName); err != nil {
		return fmt.Errorf("join group %q: %w", groupName, err)
	}
	return ctx.Clients().Group(groupName).Send(ctx, "UserJoinedGroup", UserName(ctx), groupName)
}

// LeaveGroup removes the caller from groupName, then tells the remaining
// members who left.
func (h *ChatHub) LeaveGroup(ctx *signalr.Context, groupName string) error {
	if err := ctx.Groups().RemoveFromGroup(ctx, ctx.ConnectionID(), groupName); err != nil {
		return fmt.Errorf("leave group %q: %w", groupName, err)
	}
	return ctx.Clients().Group(groupName).Send(ctx, "UserLeftGroup", UserName(ctx), groupName)
}

// SendMessageToGroup sends a chat message to the members of groupName.
func (h *ChatHub) SendMessageToGroup(ctx *signalr.Context, groupName, user, message string) error {
	return ctx.Clients().Group(groupName).Send(ctx, "ReceiveGroupMessage", groupName, user, message)
}

// OnConnected announces the new connection to everyone, itself included.
func (h *ChatHub) OnConnected(ctx *signalr.Context) error {
	h.Logger.Debug().Str("connectionId", ctx.ConnectionID()).Str("transport", ctx.Transport().String()).
		Str("user", ctx.UserIdentifier()).Msg("client connected")
	return ctx.Clients().All().Send(ctx, "UserConnected", ctx.ConnectionID())
}

// OnDisconnected announces the end of a connection to the clients that remain.
// It must not use ctx as the send context: ctx is already cancelled because
// the connection ended.
func (h *ChatHub) OnDisconnected(ctx *signalr.Context, err error) error {
	h.Logger.Debug().Str("connectionId", ctx.ConnectionID()).AnErr("reason", err).Msg("client disconnected")
	return ctx.Clients().Others().Send(context.WithoutCancel(ctx), "UserDisconnected", ctx.ConnectionID())
}

// UserName is the name shown for the caller: the authenticated user's name
// (or, lacking one, their user id), else the connection id.
func UserName(ctx *signalr.Context) string {
	if p := ctx.User(); p != nil {
		if p.Name != "" {
			return p.Name
		}
		if p.ID != "" {
			return p.ID
		}
	}
	if id := ctx.UserIdentifier(); id != "" {
		return id
	}
	return ctx.ConnectionID()
}
