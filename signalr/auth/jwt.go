package auth

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gosignalr/gosignalr/signalr"
)

// Claim types of .NET's ClaimTypes that JWTs issued by ASP.NET Core
// applications may carry verbatim.
const (
	ClaimTypeNameIdentifier = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier"
	ClaimTypeName           = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
)

// DefaultLeeway is the clock skew tolerated on exp and nbf.
const DefaultLeeway = time.Minute

// ErrInvalidToken wraps every reason a token is refused.
var ErrInvalidToken = errors.New("auth: invalid token")

// maxTokenSize bounds the tokens looked at; real ones are a few KiB and a
// huge one is only a way to make the server work.
const maxTokenSize = 16 << 10

// JWTOptions configure a JWTValidator. Key (or Keyfunc) is required; every
// other zero value is the documented default.
type JWTOptions struct {
	// Key verifies signatures: a []byte secret (HS256/HS384/HS512), an
	// *rsa.PublicKey (RS256/384/512, PS256/384/512), an *ecdsa.PublicKey
	// (ES256/384/512) or an ed25519.PublicKey (EdDSA).
	Key any
	// Keyfunc picks the key per token (key rotation by "kid"); it overrides
	// Key and then Algorithms is required.
	Keyfunc func(t *jwt.Token) (any, error)
	// Algorithms are the accepted "alg" values. Default: the family of Key's
	// type, so a token can never choose a weaker algorithm (such as HS256
	// signed with a public RSA key).
	Algorithms []string
	// Issuer, when set, must equal the token's "iss".
	Issuer string
	// Audience, when set, must contain one of the token's "aud" values.
	Audience []string
	// Leeway is the clock skew tolerated on "exp" and "nbf". Default
	// DefaultLeeway (ASP.NET Core tolerates 5 minutes); negative means none.
	Leeway time.Duration
	// AllowMissingExpiration accepts tokens without "exp". Default false:
	// like ASP.NET Core, a token must expire.
	AllowMissingExpiration bool
	// UserIDClaim names the claim that becomes Principal.ID (the user id of
	// Clients.User). Default "sub", then the .NET name-identifier claim
	// (ClaimTypeNameIdentifier), then "nameid" (what .NET's token handler
	// writes for it).
	UserIDClaim string
	// NameClaim names the claim that becomes Principal.Name. Default
	// "name", then ClaimTypeName, then "unique_name".
	NameClaim string
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// JWTValidator validates JSON Web Tokens (JWS compact form) and turns their
// claims into a signalr.Principal. It is safe for concurrent use.
type JWTValidator struct {
	parser  *jwt.Parser
	keyfunc jwt.Keyfunc
	idKeys  []string
	nmKeys  []string
}

// NewJWTValidator checks opts and returns a validator.
func NewJWTValidator(opts JWTOptions) (*JWTValidator, error) {
	algs := opts.Algorithms
	var kf jwt.Keyfunc
	switch {
	case opts.Keyfunc != nil:
		if len(algs) == 0 {
			return nil, errors.New("auth: JWTOptions.Algorithms is required with Keyfunc")
		}
		kf = opts.Keyfunc
	case opts.Key != nil:
		fam, err := keyAlgorithms(opts.Key)
		if err != nil {
			return nil, err
		}
		if len(algs) == 0 {
			algs = fam
		} else {
			for _, a := range algs {
				if !contains(fam, a) {
					return nil, fmt.Errorf("auth: algorithm %s does not fit a key of type %T", a, opts.Key)
				}
			}
		}
		key := opts.Key
		kf = func(*jwt.Token) (any, error) { return key, nil }
	default:
		return nil, errors.New("auth: JWTOptions needs Key or Keyfunc")
	}

	leeway := opts.Leeway
	switch {
	case leeway == 0:
		leeway = DefaultLeeway
	case leeway < 0:
		leeway = 0
	}
	popts := []jwt.ParserOption{jwt.WithValidMethods(algs), jwt.WithLeeway(leeway), jwt.WithJSONNumber()}
	if !opts.AllowMissingExpiration {
		popts = append(popts, jwt.WithExpirationRequired())
	}
	if opts.Issuer != "" {
		popts = append(popts, jwt.WithIssuer(opts.Issuer))
	}
	if len(opts.Audience) > 0 {
		popts = append(popts, jwt.WithAudience(opts.Audience...))
	}
	if opts.Now != nil {
		popts = append(popts, jwt.WithTimeFunc(opts.Now))
	}
	v := &JWTValidator{
		parser:  jwt.NewParser(popts...),
		keyfunc: kf,
		idKeys:  []string{"sub", ClaimTypeNameIdentifier, "nameid"},
		nmKeys:  []string{"name", ClaimTypeName, "unique_name"},
	}
	if opts.UserIDClaim != "" {
		v.idKeys = []string{opts.UserIDClaim}
	}
	if opts.NameClaim != "" {
		v.nmKeys = []string{opts.NameClaim}
	}
	return v, nil
}

func keyAlgorithms(key any) ([]string, error) {
	switch k := key.(type) {
	case []byte:
		if len(k) == 0 {
			return nil, errors.New("auth: empty HMAC key")
		}
		return []string{"HS256", "HS384", "HS512"}, nil
	case *rsa.PublicKey:
		return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}, nil
	case *ecdsa.PublicKey:
		return []string{"ES256", "ES384", "ES512"}, nil
	case ed25519.PublicKey:
		return []string{"EdDSA"}, nil
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
		return nil, fmt.Errorf("auth: JWTOptions.Key must be the public key, not %T", key)
	}
	return nil, fmt.Errorf("auth: unsupported JWT key type %T", key)
}

func contains(s []string, x string) bool {
	for _, e := range s {
		if e == x {
			return true
		}
	}
	return false
}

// Validate checks the token's signature, algorithm, expiry, not-before,
// issuer and audience, and returns its Principal: every claim in the
// token's order (an array claim gives one Claim per element, like .NET),
// ID and Name from the configured claims. Errors wrap ErrInvalidToken.
func (v *JWTValidator) Validate(ctx context.Context, token string) (*signalr.Principal, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(token) > maxTokenSize {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalidToken, maxTokenSize)
	}
	if _, err := v.parser.Parse(token, v.keyfunc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	// The library's claims map has lost the token's order, which .NET
	// keeps (FindFirst returns the first of repeated types); read the
	// already verified payload again, in order.
	parts := strings.Split(token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %w", ErrInvalidToken, err)
	}
	claims, err := orderedClaims(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: claims: %w", ErrInvalidToken, err)
	}
	p := &signalr.Principal{Claims: claims}
	p.ID = first(p, v.idKeys)
	p.Name = first(p, v.nmKeys)
	return p, nil
}

// Authenticator returns an Authenticator that validates the bearer token of
// a request (see BearerToken); requests without a token are anonymous.
func (v *JWTValidator) Authenticator() Authenticator { return Bearer(v.Validate) }

func first(p *signalr.Principal, keys []string) string {
	for _, k := range keys {
		if s, ok := p.FindClaim(k); ok {
			return s
		}
	}
	return ""
}

// orderedClaims turns a JSON object into claims in document order. Strings
// are taken as they are, numbers and booleans by their JSON text, objects
// as compact JSON; arrays give one claim per element; nulls give none.
func orderedClaims(payload []byte) ([]signalr.Claim, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("payload is not a JSON object")
	}
	var claims []signalr.Claim
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := kt.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		claims, err = appendClaim(claims, key, raw, true)
		if err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the payload object")
	}
	return claims, nil
}

func appendClaim(claims []signalr.Claim, key string, raw json.RawMessage, top bool) ([]signalr.Claim, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return claims, nil
	}
	switch raw[0] {
	case 'n':
		return claims, nil
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return append(claims, signalr.Claim{Type: key, Value: s}), nil
	case '[':
		if !top {
			break // nested arrays stay JSON text
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return nil, err
		}
		for _, e := range elems {
			var err error
			if claims, err = appendClaim(claims, key, e, false); err != nil {
				return nil, err
			}
		}
		return claims, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, err
	}
	return append(claims, signalr.Claim{Type: key, Value: buf.String()}), nil
}
