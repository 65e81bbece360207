package fiberws_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/fiberws/fiberws/hooks"
	"github.com/gofiber/fiber/v2"
)

// trace records lifecycle stages in the order they happen.
type lcTrace struct {
	mu     sync.Mutex
	stages []string
}

func (tr *lcTrace) add(stage string) {
	tr.mu.Lock()
	tr.stages = append(tr.stages, stage)
	tr.mu.Unlock()
}

func (tr *lcTrace) get() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Clone(tr.stages)
}

type lcTraceObserver struct {
	tr    *lcTrace
	scope string
	done  chan hooks.Summary
}

func (o lcTraceObserver) OnRequest(hooks.Request) { o.tr.add("observer:request:" + o.scope) }
func (o lcTraceObserver) OnSummary(s hooks.Summary) {
	o.tr.add("observer:summary:" + o.scope)
	if o.done != nil {
		o.done <- s
	}
}

func lcTraceInterceptor(tr *lcTrace, scope string) hooks.Interceptor {
	return lcInterceptorFuncs{
		pre:  func(m *hooks.Message) error { tr.add("pre:" + scope); return nil },
		post: func(m *hooks.Message) error { tr.add("post:" + scope); return nil },
	}
}

type lcInterceptorFuncs struct {
	pre, post func(m *hooks.Message) error
}

func (i lcInterceptorFuncs) Pre(_ context.Context, _ hooks.Peer, m *hooks.Message) error {
	if i.pre == nil {
		return nil
	}
	return i.pre(m)
}

func (i lcInterceptorFuncs) Post(_ context.Context, _ hooks.Peer, m *hooks.Message) error {
	if i.post == nil {
		return nil
	}
	return i.post(m)
}

func lcTraceMiddleware(tr *lcTrace, scope string) fiber.Handler {
	return func(c *fiber.Ctx) error { tr.add("middleware:" + scope); return c.Next() }
}

func lcTraceGuard(tr *lcTrace, scope string) hooks.Guard {
	return hooks.GuardFunc(func(*fiber.Ctx) error { tr.add("guard:" + scope); return nil })
}

// lcScopedCtrl is a controller with one component of every kind at
// controller scope.
type lcScopedCtrl struct {
	tr     *lcTrace
	obs    hooks.Observer
	routes []fiberws.Route
}

func (c lcScopedCtrl) Prefix() string              { return "/scoped" }
func (c lcScopedCtrl) Routes() []fiberws.Route     { return c.routes }
func (c lcScopedCtrl) Observers() []hooks.Observer { return []hooks.Observer{c.obs} }
func (c lcScopedCtrl) Middleware() []fiber.Handler {
	return []fiber.Handler{lcTraceMiddleware(c.tr, "controller")}
}
func (c lcScopedCtrl) Guards() []hooks.Guard {
	return []hooks.Guard{lcTraceGuard(c.tr, "controller")}
}
func (c lcScopedCtrl) Interceptors() []hooks.Interceptor {
	return []hooks.Interceptor{lcTraceInterceptor(c.tr, "controller")}
}
func (c lcScopedCtrl) Catchers() []hooks.Catcher { return nil }

func TestLifecycleOrderAllScopes(t *testing.T) {
	tr := &lcTrace{}
	summaries := make(chan hooks.Summary, 2)
	route := fiberws.WebSocket("/order", func(ctx context.Context, c *fiberws.Conn[*string], msg *string) (*string, error) {
		tr.add("handler")
		c.Cleanup(func() { tr.add("cleanup:1") })
		c.Cleanup(func() { tr.add("cleanup:2") })
		reply := "ok"
		return &reply, nil
	},
		fiberws.OnConnect(),
		fiberws.WithMiddleware(lcTraceMiddleware(tr, "route")),
		fiberws.WithGuards(lcTraceGuard(tr, "route")),
		fiberws.WithInterceptors(lcTraceInterceptor(tr, "route")),
	)
	srv := fiberws.New(fiberws.Config{
		Observers:    []hooks.Observer{lcTraceObserver{tr: tr, scope: "app", done: summaries}},
		Middleware:   []fiber.Handler{lcTraceMiddleware(tr, "app")},
		Guards:       []hooks.Guard{lcTraceGuard(tr, "app")},
		Interceptors: []hooks.Interceptor{lcTraceInterceptor(tr, "app")},
	})
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	ctrl := lcScopedCtrl{tr: tr, obs: lcTraceObserver{tr: tr, scope: "controller", done: summaries}, routes: []fiberws.Route{route}}
	if err := srv.Register(app, ctrl); err != nil {
		t.Fatal(err)
	}
	ts := fiberwstest.Serve(t, app)

	c := ts.Dial(t, "/scoped/order")
	tr.add("client:connected")
	if got := c.ReadText(); got != "ok" {
		t.Fatalf("on-connect reply %q", got)
	}
	tr.add("client:message")
	c.SendText("hello")
	if got := c.ReadText(); got != "ok" {
		t.Fatalf("message reply %q", got)
	}
	tr.add("client:close")
	c.Close(fiberws.CloseNormalClosure, "")
	for range 2 {
		select {
		case <-summaries:
		case <-time.After(fiberwstest.DefaultTimeout):
			t.Fatal("no observer summary")
		}
	}

	messageRound := []string{"pre:app", "pre:controller", "pre:route", "handler", "post:route", "post:controller", "post:app"}
	want := []string{
		"observer:request:app", "observer:request:controller",
		"middleware:app", "middleware:controller", "middleware:route",
		"guard:app", "guard:controller", "guard:route",
		"client:connected",
	}
	want = append(want, messageRound...) // on-connect trigger
	want = append(want, "client:message")
	want = append(want, messageRound...)
	want = append(want, "client:close",
		"cleanup:2", "cleanup:1", "cleanup:2", "cleanup:1", // two handler runs registered two pairs; LIFO
		"observer:summary:app", "observer:summary:controller")
	// The client may observe the upgrade before or after the on-connect
	// stages start on the server; everything else is ordered.
	got := tr.get()
	if i := slices.Index(got, "client:connected"); i >= 0 {
		got = slices.Delete(got, i, i+1)
	}
	wantNoClient := slices.DeleteFunc(slices.Clone(want), func(s string) bool { return s == "client:connected" })
	if !slices.Equal(got, wantNoClient) {
		t.Fatalf("lifecycle order\n got: %v\nwant: %v", got, wantNoClient)
	}
	if want[8] != "client:connected" {
		t.Fatal("test table broken")
	}
}

var lcErrForbiddenWord = errors.New("forbidden word")

func TestPreInterceptorRejectsOneMessageAndCatcherKeepsOpen(t *testing.T) {
	censor := hooks.PreFunc(func(_ context.Context, _ hooks.Peer, m *hooks.Message) error {
		if strings.Contains(string(m.Data), "darn") {
			return lcErrForbiddenWord
		}
		m.Data = []byte(strings.ToUpper(string(m.Data))) // rewrite
		return nil
	})
	catcher := hooks.CatchIs(lcErrForbiddenWord, func(context.Context, hooks.Peer, error) hooks.Outcome {
		return hooks.Reply("rejected")
	})
	ts := serveWith(t, fiberws.Config{}, fiberws.WebSocket("/censored", mirror,
		fiberws.WithInterceptors(censor), fiberws.WithCatchers(catcher)))
	c := ts.Dial(t, "/censored")
	c.SendText("hello")
	c.SendText("darn it")
	c.SendText("still here")
	for _, want := range []string{"HELLO", "rejected", "STILL HERE"} {
		if got := c.ReadText(); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

func TestPreInterceptorRejectionWithoutCatcherCloses1011(t *testing.T) {
	reject := hooks.PreFunc(func(context.Context, hooks.Peer, *hooks.Message) error {
		return errors.New("internal detail")
	})
	ts := serveWith(t, fiberws.Config{}, fiberws.WebSocket("/r", mirror, fiberws.WithInterceptors(reject)))
	c := ts.Dial(t, "/r")
	c.SendText("x")
	code, reason := c.ExpectClose()
	if code != fiberws.CloseInternalError || reason != "internal error" {
		t.Fatalf("close %d %q", code, reason)
	}
}

func TestPostInterceptorsSeeAsyncSendsAndCanDrop(t *testing.T) {
	tag := hooks.PostFunc(func(_ context.Context, _ hooks.Peer, m *hooks.Message) error {
		if string(m.Data) == "secret" {
			return hooks.ErrDrop
		}
		m.Data = append([]byte("[tagged] "), m.Data...)
		return nil
	})
	ts := serveWith(t, fiberws.Config{}, fiberws.WebSocket("/async", func(ctx context.Context, c *fiberws.Conn[string], msg string) (string, error) {
		go func() {
			_ = c.Send("secret")
			_ = c.Send("pushed " + msg)
		}()
		return "", nil
	}, fiberws.WithInterceptors(tag)))
	c := ts.Dial(t, "/async")
	c.SendText("a")
	got := []string{c.ReadText(), c.ReadText()}
	slices.Sort(got)
	want := []string{"[tagged] ", "[tagged] pushed a"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	c.ExpectSilence(100 * time.Millisecond) // "secret" was dropped
}

type lcChatMessage struct {
	User string `json:"user"`
	Text string `json:"text"`
}

func TestCatcherRepliesToBadJSONAndKeepsOpen(t *testing.T) {
	badJSON := hooks.CatchAs(func(_ context.Context, _ hooks.Peer, err *fiberws.DecodeError) hooks.Outcome {
		return hooks.Reply(`{"error":"invalid message"}`)
	})
	ts := serveWith(t, fiberws.Config{Catchers: []hooks.Catcher{badJSON}},
		fiberws.WebSocket("/json", func(_ context.Context, _ *fiberws.Conn[string], m lcChatMessage) (string, error) {
			return m.User + ": " + m.Text, nil
		}))
	c := ts.Dial(t, "/json")
	c.SendText("{not json")
	if got := c.ReadText(); got != `{"error":"invalid message"}` {
		t.Fatalf("got %q", got)
	}
	c.SendJSON(lcChatMessage{User: "ann", Text: "hi"})
	if got := c.ReadText(); got != "ann: hi" {
		t.Fatalf("got %q", got)
	}
}

func TestCatchersRunRouteControllerAppThenDefault(t *testing.T) {
	tr := &lcTrace{}
	pass := func(scope string) hooks.Catcher {
		return hooks.CatcherFunc(func(context.Context, hooks.Peer, error) (hooks.Outcome, bool) {
			tr.add("catch:" + scope)
			return hooks.Outcome{}, false
		})
	}
	ts := serveWith(t, fiberws.Config{Catchers: []hooks.Catcher{pass("app")}},
		fiberws.WebSocket("/fail", func(context.Context, *fiberws.Conn[string], string) (string, error) {
			return "", &fiberws.CloseError{Code: 4001, Reason: "custom"}
		}, fiberws.WithCatchers(pass("route"))))
	c := ts.Dial(t, "/fail")
	c.SendText("x")
	code, reason := c.ExpectClose()
	if code != 4001 || reason != "custom" {
		t.Fatalf("close %d %q", code, reason)
	}
	if got := tr.get(); !slices.Equal(got, []string{"catch:route", "catch:app"}) {
		t.Fatalf("catcher order %v", got)
	}
}

func TestPanickingInterceptorAndCatcherClose1011(t *testing.T) {
	panicky := hooks.PreFunc(func(context.Context, hooks.Peer, *hooks.Message) error { panic("pre exploded") })
	badCatcher := hooks.CatcherFunc(func(context.Context, hooks.Peer, error) (hooks.Outcome, bool) { panic("catcher exploded") })
	ts := serveWith(t, fiberws.Config{},
		fiberws.WebSocket("/pre", mirror, fiberws.WithInterceptors(panicky)),
		fiberws.WebSocket("/catch", func(context.Context, *fiberws.Conn[string], string) (string, error) {
			return "", errors.New("boom")
		}, fiberws.WithCatchers(badCatcher)),
		fiberws.WebSocket("/ok", mirror),
	)
	other := ts.Dial(t, "/ok")
	for _, path := range []string{"/pre", "/catch"} {
		c := ts.Dial(t, path)
		c.SendText("x")
		code, reason := c.ExpectClose()
		if code != fiberws.CloseInternalError || reason != "internal error" {
			t.Fatalf("%s: close %d %q", path, code, reason)
		}
	}
	other.SendText("still fine")
	if got := other.ReadText(); got != "still fine" {
		t.Fatalf("other connection got %q", got)
	}
	fiberwstest.Eventually(t, func() bool {
		s := ts.logs.String()
		return strings.Contains(s, "pre exploded") && strings.Contains(s, "catcher exploded")
	}, "panics logged; log so far: %s", ts.logs) // a Stringer: read when the message is printed
}

func TestPanickingObserverHarmsNothing(t *testing.T) {
	obs := lcPanicObserver{}
	ts := serveWith(t, fiberws.Config{Observers: []hooks.Observer{obs}}, fiberws.WebSocket("/echo", mirror))
	c := ts.Dial(t, "/echo")
	c.SendText("hi")
	if got := c.ReadText(); got != "hi" {
		t.Fatalf("got %q", got)
	}
	c.Close(fiberws.CloseNormalClosure, "")
	fiberwstest.Eventually(t, func() bool { return strings.Count(ts.logs.String(), "observer panicked") >= 2 }, "observer panics logged")
}

type lcPanicObserver struct{}

func (lcPanicObserver) OnRequest(hooks.Request) { panic("observer request") }
func (lcPanicObserver) OnSummary(hooks.Summary) { panic("observer summary") }
