// mockws inspector: live connections, rooms and messages from /__mockws/feed,
// and a composer that drives /__mockws/api. No framework, no build step.
// Everything from the server is put on the page with textContent, never as HTML.
"use strict";

const ROOT = "/__mockws";
const MAX_ROWS = 1000;
const MAX_BUFFERED = 5000;
const TOKEN_KEY = "mockws-admin-token";

const $ = (id) => document.getElementById(id);

const state = {
  server: null,
  connections: new Map(),
  rooms: new Map(),
  paused: false,
  buffered: [],
  logged: 0,
  selected: null,
  retry: 0,
};

// --- admin token: taken from ?admin_token=, kept for this tab, removed from the address bar.

function readToken() {
  const params = new URLSearchParams(location.search);
  const fromUrl = params.get("admin_token");
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    params.delete("admin_token");
    const query = params.toString();
    history.replaceState(null, "", location.pathname + (query ? "?" + query : "") + location.hash);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

let token = readToken();

async function api(method, path, body) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = "Bearer " + token;
  const response = await fetch(ROOT + "/api/" + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try {
    data = await response.json();
  } catch (error) {
    data = { error: response.statusText };
  }
  if (response.status === 401) askForToken();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function askForToken() {
  const dialog = $("token-dialog");
  if (!dialog.open) dialog.showModal();
}

$("token-form").addEventListener("submit", () => {
  token = $("token-input").value.trim();
  sessionStorage.setItem(TOKEN_KEY, token);
  start();
});

// --- formatting helpers

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function clock(seconds) {
  const date = new Date(seconds * 1000);
  const pad = (n, width = 2) => String(n).padStart(width, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

function since(seconds) {
  const age = Math.max(0, Date.now() / 1000 - seconds);
  if (age < 60) return `${Math.floor(age)}s ago`;
  if (age < 3600) return `${Math.floor(age / 60)}m ${Math.floor(age % 60)}s ago`;
  return `${Math.floor(age / 3600)}h ${Math.floor((age % 3600) / 60)}m ago`;
}

function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

// Renders a parsed JSON value as coloured spans; indent > 0 pretty-prints.
function renderJson(value, indent, depth = 0) {
  const out = document.createDocumentFragment();
  const text = (t) => out.append(document.createTextNode(t));
  const pad = indent ? "\n" + " ".repeat(indent * (depth + 1)) : "";
  const end = indent ? "\n" + " ".repeat(indent * depth) : "";
  if (value === null || typeof value === "boolean") {
    out.append(el("span", "j-lit", String(value)));
  } else if (typeof value === "number") {
    out.append(el("span", "j-num", String(value)));
  } else if (typeof value === "string") {
    out.append(el("span", "j-str", JSON.stringify(value)));
  } else if (Array.isArray(value)) {
    text("[");
    value.forEach((item, index) => {
      if (index) text(indent ? "," : ", ");
      text(pad);
      out.append(renderJson(item, indent, depth + 1));
    });
    text(value.length ? end + "]" : "]");
  } else {
    const keys = Object.keys(value);
    text("{");
    keys.forEach((key, index) => {
      if (index) text(indent ? "," : ", ");
      text(pad);
      out.append(el("span", "j-key", JSON.stringify(key)));
      text(": ");
      out.append(renderJson(value[key], indent, depth + 1));
    });
    text(keys.length ? end + "}" : "}");
  }
  return out;
}

function parsedPreview(event) {
  if (event.binary || event.truncated) return undefined;
  const text = event.preview.trim();
  if (!text || !"{[".includes(text[0])) return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    return undefined;
  }
}

// --- the message log

function describe(event) {
  switch (event.type) {
    case "in":
      return { cls: "in", dir: "←", who: event.conn_id, size: event.size, message: event };
    case "out": {
      let who = event.conn_id;
      if (!who) {
        const count = `${event.recipients} conn${event.recipients === 1 ? "" : "s"}`;
        if (event.user) who = `${count} · user ${event.user}`;
        else if (event.rooms) who = `${count} · ${event.rooms.join(", ")}`;
        else who = `${count} · ${event.endpoint || "all"}`;
      }
      return { cls: "out", dir: "→", who, size: event.size, message: event };
    }
    case "open":
      return { cls: "event", dir: "●", who: event.conn_id, text: `connected to ${event.path}${event.remote ? " from " + event.remote : ""}` };
    case "close":
      return { cls: "event", dir: "✕", who: event.conn_id, text: `closed ${event.code ?? ""}${event.reason ? ' "' + event.reason + '"' : ""}` };
    case "join":
      return { cls: "event", dir: "+", who: event.conn_id, text: `joined ${event.room}` };
    case "leave":
      return { cls: "event", dir: "−", who: event.conn_id, text: `left ${event.room}` };
    case "error":
      return { cls: "error", dir: "!", who: event.conn_id || event.handler, text: `${event.hook} raised ${event.error}`, detail: event.traceback };
    case "reload":
      return { cls: event.ok ? "reload" : "error", dir: "↻", who: event.target, text: event.ok ? `reloaded${event.message ? ": " + event.message : ""}` : `reload failed: ${event.message}`, detail: event.ok ? "" : event.message };
    case "notice":
      return { cls: "error", dir: "!", who: "inspector", text: event.message };
    default:
      return null;
  }
}

function buildRow(event) {
  const info = describe(event);
  if (!info) return null;
  const row = el("div", "row " + info.cls);
  row.dataset.type = event.type;
  row.append(el("span", "time", clock(event.time)), el("span", "dir", info.dir), el("span", "who", info.who || ""));
  row.append(el("span", "size", info.size === undefined ? "" : size(info.size)));
  const preview = el("span", "preview");
  let search = [event.type, info.who, event.endpoint, info.text].join(" ");
  if (info.message) {
    const message = info.message;
    if (message.binary) {
      preview.append(el("span", "binary", `binary ${size(message.size)} · ${message.preview}${message.truncated ? " …" : ""}`));
    } else {
      const parsed = parsedPreview(message);
      if (parsed !== undefined) {
        preview.append(renderJson(parsed, 0));
        row.classList.add("has-detail");
        row.addEventListener("click", () => {
          const expanded = row.classList.toggle("expanded");
          preview.replaceChildren(renderJson(parsed, expanded ? 2 : 0));
        });
      } else {
        preview.textContent = message.preview + (message.truncated ? " …" : "");
      }
    }
    search += " " + message.preview;
  } else {
    preview.textContent = info.text;
    if (info.detail) {
      row.classList.add("has-detail");
      row.addEventListener("click", () => {
        const expanded = row.classList.toggle("expanded");
        preview.textContent = expanded ? `${info.text}\n${info.detail}` : info.text;
      });
    }
  }
  row.append(preview);
  row.dataset.search = search.toLowerCase();
  return row;
}

function matchesFilter(row) {
  const filter = $("filter").value.trim().toLowerCase();
  return !filter || row.dataset.search.includes(filter);
}

function appendRows(events) {
  const log = $("log");
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  const fragment = document.createDocumentFragment();
  for (const event of events) {
    const row = buildRow(event);
    if (!row) continue;
    if (!matchesFilter(row)) row.classList.add("hidden");
    fragment.append(row);
    state.logged += 1;
  }
  log.append(fragment);
  while (log.childElementCount > MAX_ROWS) log.firstElementChild.remove();
  $("log-count").textContent = state.logged;
  if ($("follow").checked && (atBottom || events.length)) log.scrollTop = log.scrollHeight;
}

function logEvents(events) {
  if (state.paused) {
    state.buffered.push(...events);
    if (state.buffered.length > MAX_BUFFERED) state.buffered.splice(0, state.buffered.length - MAX_BUFFERED);
    $("pause").textContent = `Resume (${state.buffered.length} new)`;
    return;
  }
  appendRows(events);
}

$("filter").addEventListener("input", () => {
  for (const row of $("log").children) row.classList.toggle("hidden", !matchesFilter(row));
});

$("pause").addEventListener("click", () => {
  state.paused = !state.paused;
  $("pause").classList.toggle("active", state.paused);
  $("pause").textContent = state.paused ? "Resume" : "Pause";
  if (!state.paused && state.buffered.length) {
    const buffered = state.buffered;
    state.buffered = [];
    appendRows(buffered);
  }
});

$("clear").addEventListener("click", () => {
  $("log").replaceChildren();
  state.buffered = [];
  state.logged = 0;
  $("log-count").textContent = "0";
});

// --- connections and rooms

let renderScheduled = false;
function scheduleRender() {
  if (renderScheduled) return;
  renderScheduled = true;
  requestAnimationFrame(() => {
    renderScheduled = false;
    renderConnections();
    renderRooms();
    renderTargets();
  });
}

function renderConnections() {
  const body = $("connections").querySelector("tbody");
  const rows = [];
  for (const conn of state.connections.values()) {
    const row = el("tr");
    row.dataset.id = conn.id;
    if (conn.id === state.selected) row.classList.add("selected");
    const rooms = el("td");
    for (const room of conn.rooms) rooms.append(el("span", "tag", room));
    const path = el("td", "path", conn.path);
    path.title = conn.path;
    const connected = el("td", "muted", since(conn.connected_at));
    connected.title = new Date(conn.connected_at * 1000).toLocaleString();
    row.append(
      el("td", null, conn.id),
      el("td", null, conn.endpoint),
      path,
      el("td", conn.user ? null : "muted", conn.user ?? "—"),
      rooms,
      connected,
      el("td", "num", conn.messages_in),
      el("td", "num", conn.messages_out),
      el("td", conn.dropped ? "num" : "num muted", conn.dropped ?? 0),
    );
    row.addEventListener("click", () => selectTarget("connection", conn.id));
    rows.push(row);
  }
  body.replaceChildren(...rows);
  $("connection-count").textContent = state.connections.size;
  $("no-connections").hidden = state.connections.size > 0;
}

function renderRooms() {
  const items = [];
  for (const name of [...state.rooms.keys()].sort()) {
    const members = [...state.rooms.get(name)].sort();
    const item = el("li");
    item.append(el("span", "room-name", name), el("span", "count", members.length));
    for (const member of members) item.append(el("span", "member", member));
    item.addEventListener("click", () => selectTarget("room", name));
    items.push(item);
  }
  $("rooms").replaceChildren(...items);
  $("room-count").textContent = state.rooms.size;
  $("no-rooms").hidden = state.rooms.size > 0;
}

function renderEndpoints() {
  const items = (state.server?.endpoints || []).map((endpoint) => {
    const item = el("li");
    item.append(el("b", null, endpoint.pattern), document.createTextNode(" → " + endpoint.handler));
    item.title = endpoint.url;
    return item;
  });
  $("endpoints").replaceChildren(...items);
}

function addToRoom(room, connId) {
  if (!state.rooms.has(room)) state.rooms.set(room, new Set());
  state.rooms.get(room).add(connId);
}

function removeFromRoom(room, connId) {
  const members = state.rooms.get(room);
  if (!members) return;
  members.delete(connId);
  if (!members.size) state.rooms.delete(room);
}

function applySnapshot(snapshot) {
  state.server = snapshot.server;
  state.connections = new Map(snapshot.connections.map((conn) => [conn.id, conn]));
  state.rooms = new Map(snapshot.rooms.map((room) => [room.name, new Set(room.members)]));
  renderEndpoints();
  scheduleRender();
}

function applyEvent(event) {
  const conn = event.conn_id ? state.connections.get(event.conn_id) : undefined;
  switch (event.type) {
    case "open":
      if (!conn) {
        state.connections.set(event.conn_id, {
          id: event.conn_id, endpoint: event.endpoint, path: event.path, user: event.user,
          rooms: [], connected_at: event.time, messages_in: 0, messages_out: 0, dropped: 0,
        });
      }
      break;
    case "close":
      if (conn) for (const room of conn.rooms) removeFromRoom(room, conn.id);
      state.connections.delete(event.conn_id);
      if (state.selected === event.conn_id) state.selected = null;
      break;
    case "join":
      if (conn && !conn.rooms.includes(event.room)) conn.rooms = [...conn.rooms, event.room].sort();
      addToRoom(event.room, event.conn_id);
      break;
    case "leave":
      if (conn) conn.rooms = conn.rooms.filter((room) => room !== event.room);
      removeFromRoom(event.room, event.conn_id);
      break;
    case "in":
      if (conn) conn.messages_in += 1;
      break;
    case "out":
      if (conn) conn.messages_out += 1;
      break;
    default:
      return;
  }
  scheduleRender();
}

function applyCounters(counters) {
  for (const [id, fields] of Object.entries(counters)) {
    const conn = state.connections.get(id);
    if (conn) Object.assign(conn, fields);
  }
  scheduleRender();
}

// --- composer

function selectTarget(kind, value) {
  $("target-kind").value = kind;
  state.selected = kind === "connection" ? value : null;
  renderTargets(value);
  renderConnections();
}

function renderTargets(preferred) {
  const kind = $("target-kind").value;
  const select = $("target");
  const current = preferred ?? select.value;
  let options = [];
  if (kind === "connection") {
    options = [...state.connections.values()].map((conn) => [conn.id, `${conn.id} · ${conn.endpoint}`]);
  } else if (kind === "room") {
    options = [...state.rooms.keys()].sort().map((room) => [room, `${room} (${state.rooms.get(room).size})`]);
  } else if (kind === "endpoint") {
    options = (state.server?.endpoints || []).map((endpoint) => [endpoint.pattern, endpoint.pattern]);
  }
  // Rebuilding an unchanged list would close a dropdown the user has open.
  const key = kind + "\n" + options.map((option) => option.join("\t")).join("\n");
  if (key !== select.dataset.key) {
    select.dataset.key = key;
    select.replaceChildren(...options.map(([value, label]) => {
      const option = el("option", null, label);
      option.value = value;
      return option;
    }));
  }
  if (options.some(([value]) => value === current)) select.value = current;
  select.disabled = kind === "all" || !options.length;
  $("send").disabled = kind !== "all" && !options.length;
  $("closer").hidden = kind !== "connection";
  $("close").disabled = kind !== "connection" || !options.length;
  if (kind === "connection") state.selected = select.value || null;
}

$("target-kind").addEventListener("change", () => renderTargets());
$("target").addEventListener("change", () => {
  if ($("target-kind").value === "connection") {
    state.selected = $("target").value;
    renderConnections();
  }
});

function payloadValue() {
  const text = $("payload").value;
  try {
    return JSON.parse(text);
  } catch (error) {
    return text;
  }
}

function showResult(message, ok) {
  const result = $("composer-result");
  result.textContent = message;
  result.className = "result " + (ok ? "ok" : "fail");
}

$("composer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const kind = $("target-kind").value;
  const target = $("target").value;
  const data = payloadValue();
  try {
    if (kind === "connection") {
      const reply = await api("POST", `connections/${encodeURIComponent(target)}/send`, { data });
      showResult(reply.sent ? `sent to ${target}` : `${target} did not take it (closed or too far behind)`, reply.sent);
    } else {
      const body = { data };
      if (kind === "room") body.rooms = [target];
      if (kind === "endpoint") body.endpoint = target;
      const reply = await api("POST", "broadcast", body);
      showResult(`reached ${reply.reached} connection${reply.reached === 1 ? "" : "s"}`, true);
    }
  } catch (error) {
    showResult(error.message, false);
  }
});

$("payload").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    $("composer").requestSubmit();
  }
});

$("closer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const target = $("target").value;
  const code = Number($("close-code").value || 1000);
  const reason = $("close-reason").value;
  try {
    await api("POST", `connections/${encodeURIComponent(target)}/close`, { code, reason });
    showResult(`closed ${target} with ${code}`, true);
  } catch (error) {
    showResult(error.message, false);
  }
});

// --- the feed

let socket = null;

function setStatus(text, cls) {
  const status = $("status");
  status.textContent = text;
  status.className = "status " + cls;
}

function connectFeed() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = token ? "?admin_token=" + encodeURIComponent(token) : "";
  socket = new WebSocket(`${scheme}//${location.host}${ROOT}/feed${query}`);
  socket.addEventListener("open", () => {
    state.retry = 0;
    setStatus("live", "live");
  });
  socket.addEventListener("message", (message) => {
    const data = JSON.parse(message.data);
    if (data.type === "snapshot") {
      applySnapshot(data);
    } else if (data.type === "events") {
      for (const event of data.events) applyEvent(event);
      const notice = { type: "notice", time: Date.now() / 1000, message: `${data.dropped} events dropped: the page fell behind` };
      logEvents(data.dropped ? [...data.events, notice] : data.events);
    } else if (data.type === "counters") {
      applyCounters(data.connections);
    }
  });
  socket.addEventListener("close", () => {
    const delay = Math.min(5, 1 + state.retry);
    state.retry += 1;
    setStatus(`disconnected, retrying in ${delay}s`, "down");
    setTimeout(start, delay * 1000);
  });
}

async function start() {
  try {
    await api("GET", "rooms");
  } catch (error) {
    setStatus(error.message, "down");
    if (/token/.test(error.message)) return;
    setTimeout(start, 2000);
    return;
  }
  connectFeed();
}

renderTargets();
start();
