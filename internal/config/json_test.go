package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func flat(entries []entry) string {
	var b strings.Builder
	for _, e := range entries {
		b.WriteString(e.key)
		if e.null {
			b.WriteString("=<null>")
		} else {
			b.WriteString("=" + e.value)
		}
		b.WriteString(";")
	}
	return b.String()
}

func TestParseJSON(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty object", `{}`, ""},
		{"nested", `{"a":{"b":{"c":"x"}},"d":"y"}`, "a:b:c=x;d=y;"},
		{"array", `{"a":["x",{"b":1},[true]]}`, "a:0=x;a:1:b=1;a:2:0=True;"},
		{"numbers as written", `{"a":1.50,"b":-0,"c":1e3,"d":2E-2}`, "a=1.50;b=-0;c=1e3;d=2E-2;"},
		{"literals", `{"t":true,"f":false,"n":null}`, "t=True;f=False;n=<null>;"},
		{"empty containers are null", `{"o":{},"a":[]}`, "o=<null>;a=<null>;"},
		{"escapes", `{"s":"q\"b\\s\/n\nt\tu\u00e9\ud83d\ude00"}`, "s=q\"b\\s/n\nt\tu\u00e9\U0001F600;"},
		{"lone surrogate", `{"s":"\ud83d"}`, "s=\uFFFD;"},
		{"comments", "// head\n{ /* a */ \"a\" /* b */ : /* c */ 1 // d\n}", "a=1;"},
		{"trailing commas", `{"a":[1,2,],"b":2,}`, "a:0=1;a:1=2;b=2;"},
		{"BOM", "\ufeff{\"a\":1}", "a=1;"},
		{"colon in key", `{"a:b":1,"c":{"d:e":2}}`, "a:b=1;c:d:e=2;"},
		{"white space", "\r\n\t{ \"a\" :\t\"b\" }\n", "a=b;"},
		{"UTF-8", `{"ключ":"значение"}`, "ключ=значение;"},
		{"empty keys", `{"":1,"a":{"":{}}}`, "=1;a:=<null>;"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseJSON("f.json", []byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if s := flat(got); s != tt.want {
				t.Errorf("got %q, want %q", s, tt.want)
			}
		})
	}
}

func TestParseJSONErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "f.json:1:1: the file is empty; want a JSON object"},
		{"only comment", "// x", "f.json:1:5: the file is empty; want a JSON object"},
		{"array at top", `[1]`, "f.json:1:1: the top-level JSON element must be an object"},
		{"string at top", ` "x"`, "f.json:1:2: the top-level JSON element must be an object"},
		{"garbage after", `{} x`, "f.json:1:4: unexpected 'x' after the top-level object"},
		{"two objects", "{}\n{}", "f.json:2:1: unexpected '{' after the top-level object"},
		{"missing colon", `{"a" 1}`, "f.json:1:6: unexpected '1' after property name; want ':'"},
		{"missing comma", "{\"a\":1\n \"b\":2}", "f.json:2:2: unexpected '\"' in an object; want ',' or '}'"},
		{"unquoted key", `{a:1}`, "f.json:1:2: unexpected 'a'; want a property name in double quotes"},
		{"single quotes", `{"a":'x'}`, "f.json:1:6: unexpected '\\''; want a value"},
		{"unterminated object", `{"a":1`, "f.json:1:7: unexpected end of file in an object; want ',' or '}'"},
		{"unterminated array", `{"a":[1`, "f.json:1:8: unexpected end of file in an array; want ',' or ']'"},
		{"unterminated string", `{"a":"x`, "f.json:1:8: unterminated string"},
		{"newline in string", "{\"a\":\"x\ny\"}", "f.json:1:8: control character 0x0a in a string; escape it"},
		{"bad escape", `{"a":"\x"}`, `f.json:1:7: invalid escape '\x' in a string`},
		{"bad unicode escape", `{"a":"\u12g4"}`, `f.json:1:9: invalid \u escape "12g4"`},
		{"truncated unicode escape", `{"a":"\u12`, `f.json:1:9: truncated \u escape`},
		{"invalid UTF-8", "{\"a\":\"\xff\"}", "f.json:1:7: invalid UTF-8 in a string"},
		{"leading zero", `{"a":01}`, "f.json:1:6: invalid number: leading zero"},
		{"bare minus", `{"a":-}`, "f.json:1:7: invalid number; want a digit"},
		{"bad fraction", `{"a":1.}`, "f.json:1:8: invalid number; want a digit after '.'"},
		{"bad exponent", `{"a":1e}`, "f.json:1:8: invalid number; want a digit in the exponent"},
		{"hex number", `{"a":0x1}`, "f.json:1:7: invalid number: unexpected 'x'"},
		{"NaN", `{"a":NaN}`, "f.json:1:6: unexpected 'N'; want a value"},
		{"trueish", `{"a":truex}`, "f.json:1:6: unexpected 't'; want a value"},
		{"duplicate key", "{\"a\":1,\n \"a\":2}", `f.json:2:2: duplicate key "a"`},
		{"duplicate key, other case", `{"Logging":{"Level":1},"logging":{"level":2}}`, `f.json:1:35: duplicate key "logging:level"`},
		{"duplicate via colon key", `{"a":{"b":1},"a:b":2}`, `f.json:1:14: duplicate key "a:b"`},
		{"double comma", `{"a":1,,"b":2}`, "f.json:1:8: unexpected ','; want a property name in double quotes"},
		{"leading comma in array", `{"a":[,1]}`, "f.json:1:7: unexpected ','; want a value"},
		{"unterminated comment", "{\n/* x", "f.json:2:1: unterminated /* comment"},
		{"lone slash", `{"a":1}/`, "f.json:1:8: unexpected '/'"},
		{"too deep", `{"a":` + strings.Repeat("[", 64) + strings.Repeat("]", 64) + "}", "f.json:1:69: nesting deeper than 64"},
		{"column counts characters", `{"é":"ü",x}`, "f.json:1:10: unexpected 'x'; want a property name in double quotes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseJSON("f.json", []byte(tt.in))
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v\nwant  %s", err, tt.want)
			}
			var se *SyntaxError
			if !errors.As(err, &se) || se.File != "f.json" {
				t.Errorf("not a *SyntaxError: %T", err)
			}
		})
	}
}

// 63 levels below the top object is the deepest accepted, as in .NET.
func TestParseJSONDepthLimit(t *testing.T) {
	in := `{"a":` + strings.Repeat("[", 63) + "1" + strings.Repeat("]", 63) + "}"
	got, err := parseJSON("f.json", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if want := "a" + strings.Repeat(":0", 63); len(got) != 1 || got[0].key != want {
		t.Errorf("got %v", got)
	}
}

// FuzzParseJSON: any input gives entries or a *SyntaxError, never a panic
// or hang; what encoding/json accepts as an object we accept too, unless
// it repeats a key, nests too deep or is not UTF-8.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,{"b":null}],"c":"\u00e9"}`, dotnetAppSettings, "{//c\n\"a\":1,}", `{"a":1e-5}`} {
		f.Add([]byte(s))
	}
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := parseJSON("f.json", data)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Line < 1 || se.Column < 1 {
				t.Fatalf("error %v is not a positioned *SyntaxError", err)
			}
			var obj map[string]any
			// encoding/json replaces invalid UTF-8; .NET and we reject it.
			if utf8.Valid(data) && json.Unmarshal(data, &obj) == nil && obj != nil &&
				!strings.Contains(se.Msg, "duplicate key") && !strings.Contains(se.Msg, "nesting") {
				t.Fatalf("encoding/json accepts %q, we say %v", data, err)
			}
			return
		}
		seen := map[string]bool{}
		for _, e := range entries {
			if seen[strings.ToLower(e.key)] {
				t.Fatalf("duplicate key %q emitted", e.key)
			}
			seen[strings.ToLower(e.key)] = true
		}
	})
}
