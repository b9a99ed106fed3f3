package auth

import (
	"net/http"
	"strings"

	"github.com/gosignalr/gosignalr/signalr"
)

// ClaimTypeRole is .NET's ClaimTypes.Role, which tokens issued by ASP.NET
// Core applications may carry verbatim.
const ClaimTypeRole = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"

// Policy decides whether a Principal may do something. A nil Principal is
// the anonymous caller.
type Policy func(p *signalr.Principal) bool

// RequireAuthenticated allows any authenticated caller.
func RequireAuthenticated() Policy {
	return func(p *signalr.Principal) bool { return p != nil }
}

// RequireClaim allows callers that have a claim of type claimType with one
// of values (any value when none are given), like .NET's
// AuthorizationPolicyBuilder.RequireClaim.
func RequireClaim(claimType string, values ...string) Policy {
	return func(p *signalr.Principal) bool {
		if p == nil {
			return false
		}
		for _, c := range p.Claims {
			if c.Type != claimType {
				continue
			}
			if len(values) == 0 {
				return true
			}
			for _, v := range values {
				if c.Value == v {
					return true
				}
			}
		}
		return false
	}
}

// RequireRole allows callers in one of roles: a "role" or "roles" claim, or
// .NET's role claim type.
func RequireRole(roles ...string) Policy {
	byType := []Policy{RequireClaim("role", roles...), RequireClaim("roles", roles...), RequireClaim(ClaimTypeRole, roles...)}
	return func(p *signalr.Principal) bool {
		for _, f := range byType {
			if f(p) {
				return true
			}
		}
		return false
	}
}

// All allows callers that every policy allows.
func All(policies ...Policy) Policy {
	return func(p *signalr.Principal) bool {
		for _, f := range policies {
			if !f(p) {
				return false
			}
		}
		return true
	}
}

// ForRequest adapts a Policy to Options.Authorize.
func (f Policy) ForRequest() func(r *http.Request, p *signalr.Principal) bool {
	return func(_ *http.Request, p *signalr.Principal) bool { return f(p) }
}

// MethodPolicies guards hub methods, like [Authorize] on .NET hub methods:
// a method listed (by name, case-insensitively) runs only for callers its
// Policy allows; unlisted methods are open. Its AuthorizeMethod is meant for
// the hub runtime's per-method authorization hook, which answers a refused
// call with "Failed to invoke 'X' because user is unauthorized".
type MethodPolicies map[string]Policy

// Allow reports whether p may invoke method.
func (m MethodPolicies) Allow(p *signalr.Principal, method string) bool {
	f, ok := m[method]
	if !ok {
		for name, g := range m {
			if strings.EqualFold(name, method) {
				f, ok = g, true
				break
			}
		}
	}
	return !ok || f == nil || f(p)
}

// AuthorizeMethod reports whether the caller of ctx may invoke method.
func (m MethodPolicies) AuthorizeMethod(ctx *signalr.Context, method string) bool {
	return m.Allow(ctx.User(), method)
}
