package interop

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gosignalr/gosignalr/signalr"
	"github.com/gosignalr/gosignalr/signalr/auth"
	"github.com/gosignalr/gosignalr/transports"
)

// TestAuth puts JWT bearer authentication (package signalr/auth) in front
// of the hub; /control/token issues tokens.
func TestAuth(t *testing.T) {
	secret := []byte("interop-test secret, 32 bytes ok")
	v, err := auth.NewJWTValidator(auth.JWTOptions{Key: secret})
	if err != nil {
		t.Fatal(err)
	}
	runScenarios(t, "scenarios/auth.cjs", func(t *testing.T, _ transports.TransportType) map[string]string {
		s, err := signalr.NewServer(testHub{}, signalr.Options{})
		if err != nil {
			t.Fatal(err)
		}
		protected := auth.Middleware(v.Authenticator(), auth.Options{})(s)
		mux := http.NewServeMux()
		mux.Handle("/testhub", protected)
		mux.Handle("/testhub/", protected)
		mux.HandleFunc("GET /control/token", func(w http.ResponseWriter, r *http.Request) {
			tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
				"sub":  r.URL.Query().Get("sub"),
				"name": r.URL.Query().Get("name"),
				"exp":  time.Now().Add(time.Minute).Unix(),
			}).SignedString(secret)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			fmt.Fprint(w, tok)
		})
		ts := httptest.NewServer(mux)
		t.Cleanup(func() {
			shutdown(t, s)
			ts.Close()
		})
		return map[string]string{"SIGNALR_URL": ts.URL + "/testhub", "SIGNALR_CONTROL_URL": ts.URL + "/control"}
	})
}
