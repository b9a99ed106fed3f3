package auth

import (
	"net/http/httptest"
	"testing"

	"github.com/gosignalr/gosignalr/signalr"
)

func TestPolicies(t *testing.T) {
	admin := &signalr.Principal{ID: "a", Claims: []signalr.Claim{{Type: "role", Value: "admin"}, {Type: "scope", Value: "chat"}}}
	netAdmin := &signalr.Principal{ID: "n", Claims: []signalr.Claim{{Type: ClaimTypeRole, Value: "admin"}}}
	user := &signalr.Principal{ID: "u", Claims: []signalr.Claim{{Type: "roles", Value: "user"}}}
	tests := []struct {
		name   string
		policy Policy
		p      *signalr.Principal
		want   bool
	}{
		{"authenticated", RequireAuthenticated(), user, true},
		{"anonymous", RequireAuthenticated(), nil, false},
		{"claim present", RequireClaim("scope"), admin, true},
		{"claim value", RequireClaim("scope", "other", "chat"), admin, true},
		{"claim wrong value", RequireClaim("scope", "other"), admin, false},
		{"claim missing", RequireClaim("scope"), user, false},
		{"claim anonymous", RequireClaim("scope"), nil, false},
		{"role", RequireRole("admin"), admin, true},
		{".NET role claim", RequireRole("admin"), netAdmin, true},
		{"roles claim", RequireRole("user", "admin"), user, true},
		{"role missing", RequireRole("admin"), user, false},
		{"all", All(RequireAuthenticated(), RequireRole("admin"), RequireClaim("scope", "chat")), admin, true},
		{"all, one fails", All(RequireAuthenticated(), RequireRole("admin")), user, false},
		{"all of none", All(), nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.policy(tt.p); got != tt.want {
				t.Fatalf("policy = %v, want %v", got, tt.want)
			}
			if got := tt.policy.ForRequest()(httptest.NewRequest("GET", "/", nil), tt.p); got != tt.want {
				t.Fatalf("ForRequest = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMethodPolicies(t *testing.T) {
	m := MethodPolicies{"Kick": RequireRole("admin"), "Open": nil}
	admin := &signalr.Principal{ID: "a", Claims: []signalr.Claim{{Type: "role", Value: "admin"}}}
	user := &signalr.Principal{ID: "u"}
	tests := []struct {
		method string
		p      *signalr.Principal
		want   bool
	}{
		{"Kick", admin, true},
		{"Kick", user, false},
		{"kick", user, false}, // hub methods match case-insensitively, so must their policies
		{"KICK", admin, true},
		{"Kick", nil, false},
		{"Open", nil, true},
		{"Unlisted", nil, true},
	}
	for _, tt := range tests {
		if got := m.Allow(tt.p, tt.method); got != tt.want {
			t.Errorf("Allow(%v, %s) = %v, want %v", tt.p, tt.method, got, tt.want)
		}
	}
}
