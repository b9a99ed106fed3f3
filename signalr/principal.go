package signalr

import "context"

// Principal is an authenticated user as hub code sees it. Authentication
// middleware attaches it to the HTTP request context with WithPrincipal; the
// hub runtime reads it from the connection's request.
type Principal struct {
	// ID identifies the user for Clients.User (the NameIdentifier claim in .NET).
	ID string
	// Name is the user's display name (the Name claim in .NET).
	Name string
	// Claims holds every claim, in the token's order.
	Claims []Claim
}

// Claim is one name/value statement about a Principal.
type Claim struct {
	Type  string
	Value string
}

// FindClaim returns the value of the first claim of the given type.
func (p *Principal) FindClaim(claimType string) (string, bool) {
	if p == nil {
		return "", false
	}
	for _, c := range p.Claims {
		if c.Type == claimType {
			return c.Value, true
		}
	}
	return "", false
}

type principalKey struct{}

// WithPrincipal returns a copy of ctx carrying p. Use it on the request
// context in authentication middleware in front of the Server.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFromContext returns the Principal attached with WithPrincipal, or nil.
func PrincipalFromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}
