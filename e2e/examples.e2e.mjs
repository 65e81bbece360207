// Browser tests of the examples, in headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core; no browser is downloaded).
// The chat: built and started on a free loopback port, its page opened
// twice, one room joined under two names, presence and live messages
// checked both ways and the name guard, a screenshot saved; its /metrics
// scraped under load (20 sockets from a page) and drawn. The AsyncAPI
// documents of the tour, the chat and the gateway: checked with the
// official parser (@asyncapi/parser, zero errors, JSON and YAML), their
// pages rendered with every request off the server refused (each channel
// shown; a screenshot of the tour's). Then, with a redis-server (Debian's;
// required when FIBERWS_CI=1, else skipped), two chat nodes on one Redis
// with one page on each. Every wait is bounded; the last line is
// "e2e: N passed, M failed" and the exit code is non-zero on any failure.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Parser as AsyncAPIParser } from "@asyncapi/parser";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..");
const screenshot = path.join(here, "screenshot.png");
const asyncapiScreenshot = path.join(here, "asyncapi-tour.png");
const metricsPicture = path.join(here, "chat-metrics.png");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const STEP_TIMEOUT = 10_000; // any single browser wait
const TOTAL_TIMEOUT = 420_000; // the whole run, builds included

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

// startExample builds examples/<name> (once) and runs it with args; it
// resolves with the server's base URL once it answers HTTP.
const built = new Set();
async function startExample(name, ...args) {
  const bin = path.join(tmp, name);
  if (!built.has(name)) {
    console.log(`building examples/${name}…`);
    execFileSync("go", ["build", "-o", bin, `./examples/${name}`], { cwd: repo, stdio: "inherit", timeout: 180_000 });
    built.add(name);
  }
  const port = await freePort();
  const base = `http://127.0.0.1:${port}/`;
  const server = spawn(bin, ["-addr", `127.0.0.1:${port}`, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  servers.push(server);
  let log = "";
  server.stdout.on("data", (d) => (log += d));
  server.stderr.on("data", (d) => (log += d));
  server.on("exit", (code, sig) => {
    if (servers.includes(server)) console.log(`${name} server exited (${code ?? sig})`);
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const res = await fetch(base, { signal: AbortSignal.timeout(1000) });
      if (res.status < 500) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline || server.exitCode !== null) {
      throw new Error(`${name} server did not come up on ${base}; its output:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log(`${name} server up: ${log.trim().split("\n")[0]} (serving ${base})`);
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

const startChat = (...args) => startExample("chat", ...args);

async function stopServers() {
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
  await stopServers();
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

// checkAsyncAPI runs one example and checks its protocol documents: the
// official parser reports no error in the JSON or the YAML, the expected
// routes are channels, and the page shows every channel with nothing
// loaded from anywhere but the server.
const expectedChannels = {
  tour: ["/modes/two-way", "/modes/receive-only", "/modes/send-only", "/messages/json", "/heartbeat", "/chat/room"],
  chat: ["/ws/{room}"],
  gateway: ["/gateway"],
};

async function checkAsyncAPI(example) {
  let base;
  await test(`${example}: the official AsyncAPI parser accepts /asyncapi.json and /asyncapi.yaml`, async () => {
    base = await startExample(example);
    const parser = new AsyncAPIParser();
    for (const file of ["asyncapi.json", "asyncapi.yaml"]) {
      const res = await fetch(base + file, { signal: AbortSignal.timeout(5000) });
      assert(res.ok, `GET /${file}: ${res.status}`);
      const text = await res.text();
      const { document, diagnostics } = await parser.parse(text);
      const errors = diagnostics.filter((d) => d.severity === 0);
      assert(document && errors.length === 0, `${file}: ${errors.map((d) => `${d.code} ${d.message} at /${d.path.join("/")}`).join("; ")}`);
      const addresses = document.channels().all().map((c) => c.address());
      for (const want of expectedChannels[example]) {
        assert(addresses.includes(want), `${file}: no channel ${want} among ${addresses.join(", ")}`);
      }
    }
  });
  await test(`${example}: the /asyncapi page renders every channel offline`, async () => {
    assert(base, "server not started");
    const doc = await (await fetch(base + "asyncapi.json", { signal: AbortSignal.timeout(5000) })).json();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const origin = new URL(base).origin;
    const refused = [];
    await context.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith(origin + "/")) return route.continue();
      refused.push(url);
      return route.abort();
    });
    const page = await context.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT);
    const errors = [];
    page.on("pageerror", (err) => errors.push(String(err)));
    page.on("requestfailed", (req) => errors.push(`request failed: ${req.url()}`));
    const res = await page.goto(base + "asyncapi");
    assert(res && res.ok(), `GET /asyncapi: ${res && res.status()}`);
    const shown = await page.$$eval("section.channel", (els) => els.map((el) => [el.dataset.channel, el.querySelector(".address").textContent]));
    for (const [id, ch] of Object.entries(doc.channels)) {
      const found = shown.find(([sid]) => sid === id);
      assert(found, `channel ${id} (${ch.address}) not on the page`);
      assert(found[1] === ch.address, `channel ${id}: page shows ${found[1]}, want ${ch.address}`);
      assert(await page.isVisible(`section.channel[data-channel="${id}"]`), `channel ${id} not visible`);
    }
    assert(shown.length === Object.keys(doc.channels).length, `page has ${shown.length} channels, document ${Object.keys(doc.channels).length}`);
    const ops = await page.$$eval("tr.operation", (els) => els.length);
    assert(ops === Object.keys(doc.operations).length, `page has ${ops} operations, document ${Object.keys(doc.operations).length}`);
    assert(refused.length === 0, `the page asked for other hosts: ${refused.join(", ")}`);
    assert(errors.length === 0, `page errors: ${errors.join("; ")}`);
    if (example === "tour") {
      await page.screenshot({ path: asyncapiScreenshot, fullPage: false });
      console.log(`screenshot: ${asyncapiScreenshot}`);
    }
    await context.close();
  });
  await stopServers();
}

// scrapeMetrics reads the chat's /metrics as "name{labels}" -> value.
async function scrapeMetrics(base) {
  const text = await (await fetch(base + "metrics", { signal: AbortSignal.timeout(5000) })).text();
  const out = {};
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return out;
}

// checkMetrics loads the chat (20 members in one room from a browser
// page, each sending a message every 100 ms, one refused name) while
// scraping /metrics every half second: the live values must move, and
// the run is drawn as e2e/chat-metrics.png (docs/METRICS.md shows it).
async function checkMetrics() {
  await test("chat: /metrics shows live connections, messages and rejections under load", async () => {
    const base = await startChat();
    const route = 'route="/ws/:room"';
    const context = await browser.newContext({ viewport: { width: 1000, height: 560 } });
    const page = await context.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT);
    await page.goto(base);
    const wsBase = base.replace("http", "ws");
    await page.evaluate((wsBase) => {
      window.loadSockets = [];
      for (let i = 0; i < 20; i++) {
        const ws = new WebSocket(`${wsBase}ws/load?name=user${i}`);
        ws.onopen = () => {
          ws.timer = setInterval(() => ws.send(JSON.stringify({ text: `message from user${i}` })), 100);
        };
        window.loadSockets.push(ws);
      }
    }, wsBase);
    // The name guard answers before the upgrade check: 400, not 426.
    const refused = await fetch(`${base}ws/load?name=`, { signal: AbortSignal.timeout(5000) });
    assert(refused.status === 400, `empty name: ${refused.status}, want 400`);
    const samples = [];
    const start = Date.now();
    for (let i = 0; i < 16; i++) {
      const m = await scrapeMetrics(base);
      samples.push({ t: (Date.now() - start) / 1000, m });
      if (i === 12) {
        await page.evaluate(() => window.loadSockets.slice(0, 8).forEach((ws) => { clearInterval(ws.timer); ws.close(1000, "bye"); }));
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    const peak = Math.max(...samples.map((s) => s.m[`fiberws_connections_active{${route}}`] || 0));
    const last = samples[samples.length - 1].m;
    assert(peak === 20, `peak active connections ${peak}, want 20`);
    assert(last[`fiberws_connections_active{${route}}`] === 12, `active after 8 left: ${last[`fiberws_connections_active{${route}}`]}, want 12`);
    assert(last[`fiberws_upgrade_rejections_total{${route},status="400"}`] === 1, "the 400 is not counted");
    assert(last[`fiberws_messages_received_total{${route}}`] > 500, `messages received ${last[`fiberws_messages_received_total{${route}}`]}`);
    assert(last[`fiberws_connections_closed_total{closed_by="client",code="1000",${route}}`] === 8, `closes: ${JSON.stringify(Object.entries(last).filter(([k]) => k.startsWith("fiberws_connections_closed")))}`);
    assert(last["fiberws_hub_members"] === 12 && last["fiberws_hub_rooms"] === 1, `hub: ${last["fiberws_hub_rooms"]} rooms, ${last["fiberws_hub_members"]} members`);
    await page.evaluate(() => window.loadSockets.forEach((ws) => { clearInterval(ws.timer); ws.close(); }));
    await drawMetrics(context, samples, route);
    await context.close();
    await stopServers();
  });
}

// drawMetrics draws the samples (open connections; messages per second in
// and out) as an SVG chart and saves a screenshot of it.
async function drawMetrics(context, samples, route) {
  const rate = (name) => samples.slice(1).map((s, i) => ({ t: s.t, v: ((s.m[name] || 0) - (samples[i].m[name] || 0)) / (s.t - samples[i].t) }));
  const series = [
    { label: "open connections", color: "#2456c8", axis: "left", points: samples.map((s) => ({ t: s.t, v: s.m[`fiberws_connections_active{${route}}`] || 0 })) },
    { label: "messages in /s", color: "#1f7a4d", axis: "right", points: rate(`fiberws_messages_received_total{${route}}`) },
    { label: "messages out /s", color: "#8a4b00", axis: "right", points: rate(`fiberws_messages_sent_total{${route}}`) },
  ];
  const W = 900, H = 420, L = 60, R = 70, T = 50, B = 50;
  const tMax = samples[samples.length - 1].t;
  const max = (axis) => Math.max(1, ...series.filter((s) => s.axis === axis).flatMap((s) => s.points.map((p) => p.v))) * 1.1;
  const yMax = { left: max("left"), right: max("right") };
  const x = (t) => L + (t / tMax) * (W - L - R);
  const y = (v, axis) => H - B - (v / yMax[axis]) * (H - T - B);
  const lines = series.map((s) => `<polyline fill="none" stroke="${s.color}" stroke-width="2.5" points="${s.points.map((p) => `${x(p.t).toFixed(1)},${y(p.v, s.axis).toFixed(1)}`).join(" ")}"/>`).join("");
  const legend = series.map((s, i) => `<rect x="${L + i * 220}" y="14" width="14" height="14" fill="${s.color}"/><text x="${L + i * 220 + 20}" y="26">${s.label}${s.axis === "right" ? " (right axis)" : ""}</text>`).join("");
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => `<text x="${L - 8}" y="${y(f * yMax.left, "left") + 4}" text-anchor="end">${Math.round(f * yMax.left)}</text><text x="${W - R + 8}" y="${y(f * yMax.right, "right") + 4}">${Math.round(f * yMax.right)}</text><line x1="${L}" x2="${W - R}" y1="${y(f * yMax.left, "left")}" y2="${y(f * yMax.left, "left")}" stroke="#dde1e8"/>`).join("");
  const xTicks = Array.from({ length: Math.floor(tMax) + 1 }, (_, t) => `<text x="${x(t)}" y="${H - B + 18}" text-anchor="middle">${t}</text>`).join("");
  const html = `<!doctype html><body style="margin:0;font:14px system-ui,sans-serif;background:#fff"><div style="padding:16px 20px 0"><b>examples/chat under load</b> — scraped from GET /metrics every 0.5 s: 20 browser sockets join one room, each sending a message every 100 ms; 8 leave at ${samples[13].t.toFixed(1)} s. Every message fans out to the room, so out ≈ in × members.</div><svg width="${W}" height="${H}" font-size="13" fill="#1d2330">${legend}${ticks}${xTicks}${lines}<text x="${(W) / 2}" y="${H - 12}" text-anchor="middle">seconds</text></svg></body>`;
  const page = await context.newPage();
  await page.setContent(html);
  await page.screenshot({ path: metricsPicture });
  console.log(`screenshot: ${metricsPicture}`);
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

  await checkMetrics();

  for (const example of ["tour", "chat", "gateway"]) {
    await checkAsyncAPI(example);
  }

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
