// Browser test of examples/chat: builds and starts the chat on a free
// loopback port, opens the page twice in headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core; no browser is downloaded),
// joins one room under two names, checks presence and live messages both
// ways and the name guard, and saves a screenshot. Then, with a
// redis-server (Debian's; required when FIBERWS_CI=1, else skipped), it
// runs two chat nodes on one Redis and opens one page on each. Every wait
// is bounded; the last line is "e2e: N passed, M failed" and the exit code
// is non-zero on any failure.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..");
const screenshot = path.join(here, "screenshot.png");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const STEP_TIMEOUT = 10_000; // any single browser wait
const TOTAL_TIMEOUT = 240_000; // the whole run, build included

const results = [];
let servers = [];
let redis = null;
let browser = null;
const tmp = mkdtempSync(path.join(os.tmpdir(), "fiberws-e2e-"));

const watchdog = setTimeout(() => {
  console.error(`e2e: timed out after ${TOTAL_TIMEOUT / 1000}s`);
  cleanup().finally(() => {
    report(1);
  });
}, TOTAL_TIMEOUT);

function report(extraFailures = 0) {
  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed + extraFailures;
  console.log(`e2e: ${passed} passed, ${failed} failed`);
  process.exit(failed > 0 ? 1 : 0);
}

async function test(name, fn) {
  const start = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`ok   ${name} (${Date.now() - start} ms)`);
  } catch (err) {
    results.push({ name, ok: false });
    console.log(`FAIL ${name}: ${err && err.stack ? err.stack : err}`);
  }
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// startChat builds the example (once) and runs it with args; it resolves
// with the page URL once the server answers HTTP.
let built = null;
async function startChat(...args) {
  const bin = path.join(tmp, "chat");
  if (!built) {
    console.log("building examples/chat…");
    execFileSync("go", ["build", "-o", bin, "./examples/chat"], { cwd: repo, stdio: "inherit", timeout: 180_000 });
    built = bin;
  }
  const port = await freePort();
  const base = `http://127.0.0.1:${port}/`;
  const server = spawn(bin, ["-addr", `127.0.0.1:${port}`, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  servers.push(server);
  let log = "";
  server.stdout.on("data", (d) => (log += d));
  server.stderr.on("data", (d) => (log += d));
  server.on("exit", (code, sig) => {
    if (servers.includes(server)) console.log(`chat server exited (${code ?? sig})`);
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const res = await fetch(base, { signal: AbortSignal.timeout(1000) });
      if (res.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline || server.exitCode !== null) {
      throw new Error(`chat server did not come up on ${base}; its output:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log(`chat server up: ${log.trim().split("\n")[0]} (serving ${base})`);
  return base;
}

async function stopProcess(s) {
  if (!s || s.exitCode !== null) return;
  const exited = new Promise((r) => s.once("exit", r));
  s.kill("SIGTERM");
  const t = setTimeout(() => s.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(t);
}

async function stopChat() {
  const list = servers;
  servers = [];
  await Promise.all(list.map(stopProcess));
  const r = redis;
  redis = null;
  await stopProcess(r);
}

// startRedis runs redis-server on a free port; it resolves with its URL,
// or null when redis-server is not installed (outside CI).
async function startRedis() {
  let bin = "";
  try {
    bin = execFileSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).trim();
  } catch {
    // not installed
  }
  if (!bin) {
    if (process.env.FIBERWS_CI === "1") throw new Error("redis-server is not installed (apt-get install redis-server)");
    return null;
  }
  const port = await freePort();
  redis = spawn(bin, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", tmp], { stdio: "ignore" });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, "127.0.0.1", () => c.write("PING\r\n"));
      c.setTimeout(1000, () => { c.destroy(); resolve(false); });
      c.on("data", (d) => { c.destroy(); resolve(String(d).startsWith("+PONG")); });
      c.on("error", () => resolve(false));
    });
    if (ok) return `redis://127.0.0.1:${port}/0`;
    if (Date.now() > deadline) throw new Error("redis-server did not answer within 10s");
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function cleanup() {
  if (browser) {
    const b = browser;
    browser = null;
    await Promise.race([b.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
  }
  await stopChat();
  rmSync(tmp, { recursive: true, force: true });
}

async function openChat(base, name, room) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 680 } });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT);
  page.errors = [];
  page.on("pageerror", (err) => page.errors.push(String(err)));
  await page.goto(`${base}#${room}`);
  await page.fill("#name", name);
  await page.click("#join");
  await page.waitForSelector("#chat-view", { state: "visible" });
  return page;
}

async function members(page) {
  return page.$$eval("#members li", (lis) => lis.map((li) => li.dataset.name));
}

async function main() {
  const base = await startChat();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    // playwright-core gives every launch a fresh temporary profile
    // (--user-data-dir) and removes it on close.
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  console.log(`browser: Chromium ${browser.version()}`);

  let ann, bob;
  await test("two pages join one room and see each other", async () => {
    ann = await openChat(base, "ann", "e2e");
    bob = await openChat(base, "bob", "e2e");
    await ann.waitForSelector('#members li[data-name="bob"]');
    await ann.waitForFunction(() => document.querySelector("#count").textContent === "2");
    assert((await members(ann)).join(",") === "ann,bob", `ann sees members ${await members(ann)}`);
    assert((await members(bob)).join(",") === "ann,bob", `bob sees members ${await members(bob)}`);
    assert((await ann.textContent("#room-title")) === "# e2e", "room title");
    await ann.waitForSelector('#messages .system:has-text("bob joined")');
  });

  await test("a message sent in one page shows up in the other", async () => {
    assert(ann && bob, "pages not open");
    await ann.fill("#text", "  hello from ann  ");
    await ann.press("#text", "Enter");
    const got = await bob.waitForSelector('#messages .msg[data-from="ann"] .bubble');
    assert((await got.textContent()) === "hello from ann", `bob got ${await got.textContent()}`);
    await ann.waitForSelector('#messages .msg.mine[data-from="ann"]');

    await bob.fill("#text", "hi ann, bob here");
    await bob.click("#send");
    const reply = await ann.waitForSelector('#messages .msg[data-from="bob"] .bubble');
    assert((await reply.textContent()) === "hi ann, bob here", `ann got ${await reply.textContent()}`);

    await ann.fill("#text", "fiberws: typed JSON over one socket, rooms on the hub");
    await ann.press("#text", "Enter");
    await bob.waitForSelector('#messages .msg[data-from="ann"] .bubble:has-text("rooms on the hub")');
    await ann.waitForTimeout(100); // let the last bubble settle for the picture
    await ann.screenshot({ path: screenshot });
    console.log(`screenshot: ${screenshot}`);
  });

  await test("the guard refuses a name already in the room", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT);
    await page.goto(`${base}#e2e`);
    await page.fill("#name", "ANN");
    await page.click("#join");
    const err = await page.waitForSelector("#join-error:visible");
    assert((await err.textContent()).includes("already taken"), `error shown: ${await err.textContent()}`);
    assert(await page.isHidden("#chat-view"), "chat view shown after a refused join");
    await context.close();
  });

  await test("leaving updates the member list", async () => {
    assert(ann && bob, "pages not open");
    await bob.context().close();
    await ann.waitForSelector('#messages .system:has-text("bob left")');
    await ann.waitForFunction(() => document.querySelector("#count").textContent === "1");
    assert((await members(ann)).join(",") === "ann", `ann sees members ${await members(ann)}`);
    assert(ann.errors.length === 0, `page errors: ${ann.errors}`);
  });

  const redisURL = await startRedis();
  if (!redisURL) {
    console.log("skip two nodes on one Redis: redis-server is not installed");
    return;
  }
  const node1 = await startChat("-redis", redisURL);
  const node2 = await startChat("-redis", redisURL);
  let cy, dee;
  await test("two nodes on one Redis: pages on each see both members", async () => {
    cy = await openChat(node1, "cy", "nodes");
    dee = await openChat(node2, "dee", "nodes");
    for (const [page, who] of [[cy, "cy"], [dee, "dee"]]) {
      await page.waitForFunction(() => document.querySelector("#count").textContent === "2");
      assert((await members(page)).join(",") === "cy,dee", `${who} sees members ${await members(page)}`);
    }
    await cy.waitForSelector('#messages .system:has-text("dee joined")');
  });

  await test("two nodes on one Redis: messages go both ways, history spans them", async () => {
    assert(cy && dee, "pages not open");
    await cy.fill("#text", "from node one");
    await cy.press("#text", "Enter");
    await dee.waitForSelector('#messages .msg[data-from="cy"] .bubble:has-text("from node one")');
    await dee.fill("#text", "from node two");
    await dee.press("#text", "Enter");
    await cy.waitForSelector('#messages .msg[data-from="dee"] .bubble:has-text("from node two")');
    // A newcomer on node one sees what was said on both.
    const eve = await openChat(node1, "eve", "nodes");
    await eve.waitForSelector('#messages .msg[data-from="dee"] .bubble:has-text("from node two")');
    await eve.waitForSelector('#messages .msg[data-from="cy"] .bubble:has-text("from node one")');
    await eve.context().close();
    await dee.waitForSelector('#messages .system:has-text("eve left")');
  });
}

try {
  await main();
} catch (err) {
  console.log(`FAIL setup: ${err && err.stack ? err.stack : err}`);
  results.push({ name: "setup", ok: false });
} finally {
  clearTimeout(watchdog);
  await cleanup();
}
report();
