package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/gosignalr/gosignalr/negotiate"
	"github.com/gosignalr/gosignalr/transports"
)

// negotiateResponse is a parsed negotiate answer (any of its three forms).
type negotiateResponse = negotiate.Response

const maxNegotiateBody = 1 << 20

// negotiateURL inserts "/negotiate" into the path of base and adds
// negotiateVersion=1 (unless present) and useStatefulReconnect=true.
func negotiateURL(base string, stateful bool) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("invalid URL %q: %w", base, err)
	}
	if strings.HasSuffix(u.Path, "/") {
		u.Path += "negotiate"
	} else {
		u.Path += "/negotiate"
	}
	u.RawPath = ""
	q := u.Query()
	if !q.Has("negotiateVersion") {
		q.Set("negotiateVersion", "1")
	}
	if stateful && !q.Has("useStatefulReconnect") {
		q.Set("useStatefulReconnect", "true")
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// doNegotiate posts one negotiate request to base and parses the answer.
func doNegotiate(ctx context.Context, h *httpDoer, base string, stateful bool) (*negotiateResponse, error) {
	nu, err := negotiateURL(base, stateful)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, httpRequestTimeout)
	defer cancel()
	resp, err := h.do(ctx, request{method: http.MethodPost, url: nu, negotiate: true})
	if err != nil {
		return nil, fmt.Errorf("Failed to complete negotiation with the server: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		he := httpErrorFrom(resp)
		if he.StatusCode == http.StatusNotFound {
			return nil, fmt.Errorf("Failed to complete negotiation with the server: %w Either this is not a SignalR endpoint or there is a proxy blocking the connection.", he)
		}
		return nil, fmt.Errorf("Failed to complete negotiation with the server: %w", he)
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("Unexpected status code returned from negotiate '%d'", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxNegotiateBody+1))
	if err != nil {
		return nil, fmt.Errorf("Failed to complete negotiation with the server: %w", err)
	}
	if len(body) > maxNegotiateBody {
		return nil, errors.New("Failed to complete negotiation with the server: response too large")
	}
	return parseNegotiateResponse(body, stateful)
}

// parseNegotiateResponse parses a 200 negotiate body (negotiate.ParseResponse
// does the .NET client's validation) and applies the JS client's checks.
func parseNegotiateResponse(body []byte, statefulRequested bool) (*negotiateResponse, error) {
	r, err := negotiate.ParseResponse(body)
	if err != nil {
		if errors.Is(err, negotiate.ErrClassicServer) {
			return nil, err
		}
		return nil, fmt.Errorf("Failed to complete negotiation with the server: %w", err)
	}
	if r.Error != "" {
		return nil, &NegotiateError{Message: r.Error}
	}
	if r.URL != "" {
		return r, nil
	}
	if r.UseStatefulReconnect && !statefulRequested {
		return nil, errors.New("Client didn't negotiate Stateful Reconnect but the server did.")
	}
	return r, nil
}

func parseTransportName(s string) transports.TransportType {
	switch s {
	case "WebSockets":
		return transports.WebSockets
	case "ServerSentEvents":
		return transports.ServerSentEvents
	case "LongPolling":
		return transports.LongPolling
	}
	return 0
}

// connectURL adds id=<token> to base (kept as given, with its user query).
func connectURL(base, token string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("invalid URL %q: %w", base, err)
	}
	if token != "" {
		q := u.Query()
		q.Set("id", token)
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}
