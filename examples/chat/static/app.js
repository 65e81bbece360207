// fiberws chat page: plain JS, no build step. It talks JSON over one
// WebSocket: it sends {"text": "..."} and receives the server's events
// (welcome, message, join, leave).
"use strict";

const $ = (sel) => document.querySelector(sel);
let ws = null;
let me = "";

// A room name in the URL (#lobby) preselects the room.
if (location.hash.length > 1) $("#room").value = decodeURIComponent(location.hash.slice(1));

$("#join-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const name = $("#name").value.trim();
  const room = $("#room").value.trim();
  showError("");
  // A browser cannot read why a WebSocket upgrade was refused, so ask the
  // server's guard rule first and show its message.
  try {
    const res = await fetch(`/api/check?room=${encodeURIComponent(room)}&name=${encodeURIComponent(name)}`);
    const body = await res.json();
    if (!body.ok) return showError(body.error);
  } catch (err) {
    return showError("server unreachable");
  }
  connect(room, name);
});

$("#send-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("#text").value.trim();
  if (!text || !ws || ws.readyState !== WebSocket.OPEN) return;
  ws.send(JSON.stringify({ text }));
  $("#text").value = "";
});

$("#leave").addEventListener("click", () => {
  if (ws) ws.close(1000, "left");
  ws = null;
  $("#chat-view").hidden = true;
  $("#join-view").hidden = false;
});

function connect(room, name) {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const url = `${proto}://${location.host}/ws/${encodeURIComponent(room)}?name=${encodeURIComponent(name)}`;
  const sock = new WebSocket(url);
  let welcomed = false;
  ws = sock;
  sock.onmessage = (e) => {
    const ev = JSON.parse(e.data);
    if (ev.type === "welcome") welcomed = true;
    handle(ev);
  };
  sock.onclose = (e) => {
    if (ws !== sock) return; // left on purpose
    if (!welcomed) return showError("could not join" + (e.reason ? ": " + e.reason : ""));
    setStatus(false, e.reason || "disconnected");
    system(`disconnected (${e.code}${e.reason ? " " + e.reason : ""})`);
  };
}

function handle(ev) {
  switch (ev.type) {
    case "welcome":
      me = ev.you;
      location.hash = ev.room;
      $("#room-title").textContent = "# " + ev.room;
      $("#me").textContent = me;
      $("#messages").replaceChildren();
      (ev.history || []).forEach(message);
      system(`you joined #${ev.room}`);
      roster = (ev.members || []).slice();
      members();
      setStatus(true, "connected");
      $("#join-view").hidden = true;
      $("#chat-view").hidden = false;
      $("#text").focus();
      break;
    case "message":
      message(ev);
      break;
    case "join": // a delta: the full list comes only with the welcome
      system(`${ev.from} joined`);
      if (!roster.includes(ev.from)) roster.push(ev.from);
      members();
      break;
    case "leave":
      system(`${ev.from} left`);
      roster = roster.filter((n) => n !== ev.from);
      members();
      break;
  }
}

function message(ev) {
  const li = el("li", "msg" + (ev.from === me ? " mine" : ""));
  li.dataset.from = ev.from;
  const time = new Date(ev.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  li.append(el("div", "meta", `${ev.from === me ? "you" : ev.from} · ${time}`), el("div", "bubble", ev.text));
  append(li);
}

function system(text) {
  append(el("li", "system", text));
}

// roster is the room's member list: from the welcome, then kept up to
// date by the join and leave events.
let roster = [];

function members() {
  const list = roster.slice().sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()));
  $("#count").textContent = list.length;
  $("#members").replaceChildren(...list.map((n) => {
    const li = el("li", "member");
    li.dataset.name = n;
    const avatar = el("span", "avatar", n.slice(0, 1).toUpperCase());
    avatar.style.background = color(n);
    li.append(avatar, el("span", "", n));
    if (n === me) li.append(el("span", "you", "(you)"));
    return li;
  }));
}

function append(li) {
  const list = $("#messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(li);
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function setStatus(online, text) {
  const s = $("#status");
  s.className = "status " + (online ? "online" : "offline");
  s.textContent = text;
}

function showError(text) {
  const p = $("#join-error");
  p.textContent = text;
  p.hidden = !text;
}

// el builds an element; text goes in as text, never as HTML.
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// color picks a stable avatar color from a name.
function color(name) {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.codePointAt(0)) % 360;
  return `hsl(${h} 55% 50%)`;
}
