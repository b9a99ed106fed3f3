package config_test

import (
	"fmt"
	"testing/fstest"

	"github.com/gosignalr/gosignalr/internal/config"
)

func ExampleLoad() {
	appDir := fstest.MapFS{
		"appsettings.json": {Data: []byte(`{
			"Urls": "http://localhost:5000",
			"Logging": { "LogLevel": { "Default": "Information" } }, // as in .NET
			"ConnectionStrings": { "DefaultConnection": "Host=localhost;Database=signalr_demo;Username=postgres;Password=postgres" }
		}`)},
		"appsettings.Development.json": {Data: []byte(`{ "Logging": { "LogLevel": { "Default": "Debug" } } }`)},
	}
	v, err := config.Load(config.Options{
		Defaults: map[string]string{"Urls": "http://localhost:5000"},
		Dirs:     []config.Dir{{Name: "/app", FS: appDir}},
		Environ: []string{
			"ASPNETCORE_ENVIRONMENT=Development",
			"ConnectionStrings__DefaultConnection=Host=postgres;Database=signalr_demo;Username=postgres;Password=postgres",
		},
		Flags: map[string]string{"Urls": "http://+:8080"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, key := range []string{"Urls", "Logging:LogLevel:Default", "ConnectionStrings:DefaultConnection"} {
		fmt.Printf("%s = %s (from %s)\n", key, v.Get(key), v.Source(key))
	}
	pg, err := config.ParsePostgres(v.ConnectionString("DefaultConnection"))
	fmt.Println(pg.DSN, err)
	// Output:
	// Urls = http://+:8080 (from command line)
	// Logging:LogLevel:Default = Debug (from /app/appsettings.Development.json)
	// ConnectionStrings:DefaultConnection = Host=postgres;Database=signalr_demo;Username=postgres;Password=postgres (from environment variable ConnectionStrings__DefaultConnection)
	// dbname=signalr_demo host=postgres password=postgres user=postgres <nil>
}
