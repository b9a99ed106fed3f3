package webui_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gosignalr/gosignalr/internal/webui"
)

// The ChatServer mounts the page at "/" next to its hub; non-browser
// clients asking for "/" get a plain-text banner instead.
func ExampleNew() {
	banner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "gosignalr ChatServer: hub at /chathub\n")
	})
	ui, err := webui.New(webui.Options{Plain: banner}) // client from the pinned CDN URL
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	// mux.Handle("/chathub", hubServer); mux.Handle("/chathub/", hubServer)
	mux.Handle("/", ui)

	for _, accept := range []string{"*/*", "text/html,*/*;q=0.8"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept", accept)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		first, _, _ := strings.Cut(w.Body.String(), "\n")
		fmt.Printf("%-20s %s | %s\n", accept, w.Header().Get("Content-Type"), first)
	}
	fmt.Println(strings.Contains(ui.ContentSecurityPolicy(), "script-src 'self' https://cdn.jsdelivr.net;"))
	// Output:
	// */*                  text/plain; charset=utf-8 | gosignalr ChatServer: hub at /chathub
	// text/html,*/*;q=0.8  text/html; charset=utf-8 | <!doctype html>
	// true
}
