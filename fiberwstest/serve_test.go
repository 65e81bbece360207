package fiberwstest_test

import (
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/gofiber/fiber/v2"
)

// TestServePrintsNoBanner: an app with Fiber's default configuration is
// served without the startup banner on stdout, and answers.
func TestServePrintsNoBanner(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	app := fiber.New() // the banner is on by default
	app.Get("/", func(c *fiber.Ctx) error { return c.SendString("ok") })
	srv := fiberwstest.Serve(t, app)
	resp, err := http.Get(srv.HTTPURL("/"))
	os.Stdout = stdout
	_ = w.Close()
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if string(body) != "ok" {
		t.Fatalf("got %q", body)
	}
	printed, _ := io.ReadAll(r)
	if strings.Contains(string(printed), "Fiber") || len(printed) > 0 {
		t.Fatalf("Serve printed:\n%s", printed)
	}
}
