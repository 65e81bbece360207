package hooks

import "github.com/gofiber/fiber/v2"

// Guard decides, before the upgrade, whether a request may become a
// WebSocket connection. Returning nil allows it. Returning a *fiber.Error
// rejects it with that status and message; any other error rejects it with
// 403 Forbidden (the error text is logged, not sent).
type Guard interface {
	Allow(c *fiber.Ctx) error
}

// GuardFunc turns a plain function into a Guard:
//
//	hooks.GuardFunc(func(c *fiber.Ctx) error {
//		if c.Query("token") != secret {
//			return fiber.ErrUnauthorized
//		}
//		return nil
//	})
type GuardFunc func(c *fiber.Ctx) error

// Allow calls f(c).
func (f GuardFunc) Allow(c *fiber.Ctx) error { return f(c) }
