// mockws inspector: live connections, rooms and messages from /__mockws/feed,
// and a composer that drives /__mockws/api. No framework, no build step.
// Everything from the server is put on the page with textContent, never as HTML.
"use strict";

const ROOT = "/__mockws";
const MAX_ROWS = 1000;
const MAX_BUFFERED = 5000;
const TOKEN_KEY = "mockws-admin-token";

const $ = (id) => document.getElementById(id);

const MAX_EXPORT = 5000;

const state = {
  server: null,
  connections: new Map(),
  // conn id -> endpoint, kept after a close so later rows (errors) still find it.
  endpointOf: new Map(),
  // Raw events of the log, for the JSONL export.
  history: [],
  // Broadcasts that reached nobody, folded into one row per target.
  folded: new Map(),
  rooms: new Map(),
  paused: false,
  buffered: [],
  logged: 0,
  selected: null,
  retry: 0,
  drafts: new Map(),
  renderLater: false,
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
    case "invalid": {
      const problems = (event.problems || []).map((p) => `${p.path || "/"} ${p.keyword}: ${p.value}`);
      const what = event.mode === "reject" ? "rejected" : "breaks the spec";
      return { cls: "error", dir: "⚠", who: event.conn_id, text: `${event.direction} message ${what} (${event.channel}): ${problems.join("; ")}`, detail: (event.problems || []).map((p) => `${p.path || "/"}: ${p.message} [${p.keyword}]`).join("\n") };
    }
    case "drop":
      return { cls: "fault", dir: "✗", who: event.conn_id, size: event.size, message: event, text: "dropped by faults.drop" };
    case "fault":
      return { cls: "fault", dir: "⚡", who: event.conn_id || event.endpoint, text: `${event.fault}: ${event.detail}` };
    case "http": {
      const took = `${(event.duration * 1000).toFixed(1)} ms`;
      const pushed = event.pushed ? ` · pushed to ${event.pushed} conn${event.pushed === 1 ? "" : "s"}` : "";
      const body = event.response_preview ? ` · ${event.response_preview}` : "";
      return {
        cls: event.status >= 400 ? "http error" : "http",
        dir: "⇄",
        who: `${event.method} ${event.status}`,
        size: event.request_size + event.response_size,
        text: `${event.path} · ${took}${pushed}${body}`,
        detail: [event.route ? `route: ${event.route}` : "no route", event.request_preview ? `request: ${event.request_preview}` : "", event.response_preview ? `response: ${event.response_preview}` : ""].filter(Boolean).join("\n"),
      };
    }
    case "notice":
      return { cls: "error", dir: "!", who: "inspector", text: event.message };
    case "unmatched":
      return { cls: "error", dir: "?", who: event.conn_id, text: `no rule matched ${event.preview}${event.truncated ? "…" : ""} (${event.endpoint})` };
    default:
      return null;
  }
}

function handlerFile(handler) {
  // "handlers.chat" and "handlers/chat.py" name the same file.
  return handler.endsWith(".py") || handler.includes("/") ? handler : handler.replaceAll(".", "/") + ".py";
}

// The endpoints an event belongs to, so that filtering by an endpoint finds its
// joins, errors, failed reloads and room broadcasts, which carry no endpoint.
function endpointsOf(event) {
  const found = new Set();
  if (event.endpoint) found.add(event.endpoint);
  if (event.conn_id && state.endpointOf.has(event.conn_id)) found.add(state.endpointOf.get(event.conn_id));
  const endpoints = state.server?.endpoints || [];
  if (event.handler) {
    for (const endpoint of endpoints) if (endpoint.handler === event.handler) found.add(endpoint.pattern);
  }
  if (event.type === "reload" && event.target) {
    for (const endpoint of endpoints) {
      if (event.target.includes(handlerFile(endpoint.handler)) || (event.message || "").includes(handlerFile(endpoint.handler))) {
        found.add(endpoint.pattern);
      }
    }
  }
  for (const room of event.rooms || []) {
    for (const member of state.rooms.get(room) || []) {
      if (state.endpointOf.has(member)) found.add(state.endpointOf.get(member));
    }
  }
  return [...found];
}

function isEmptyBroadcast(event) {
  return event.type === "out" && !event.conn_id && event.recipients === 0;
}

function foldKey(event) {
  return [event.endpoint || "", (event.rooms || []).join(","), event.user || ""].join("|");
}

function buildRow(event) {
  const info = describe(event);
  if (!info) return null;
  const row = el("div", "row " + info.cls);
  row.dataset.type = event.type;
  if (isEmptyBroadcast(event)) row.classList.add("nobody");
  row.append(el("span", "time", clock(event.time)), el("span", "dir", info.dir), el("span", "who", info.who || ""));
  row.append(el("span", "size", info.size === undefined ? "" : size(info.size)));
  const preview = el("span", "preview");
  let search = [event.type, info.who, ...endpointsOf(event), info.text].join(" ");
  if (info.message) {
    const message = info.message;
    if (message.event) {
      // A Socket.IO event: its name (or "ack name"), then its arguments.
      const label = message.ack ? `ack ${message.event}` : message.event;
      preview.append(el("span", "sio-event", label), " ");
      search += " " + label;
    }
    if (message.binary) {
      preview.append(el("span", "binary", `binary ${size(message.size)} · ${message.preview}${message.truncated ? " …" : ""}`));
    } else {
      const parsed = parsedPreview(message);
      if (parsed !== undefined) {
        preview.append(renderJson(parsed, 0));
        const label = preview.firstChild;
        row.classList.add("has-detail");
        row.addEventListener("click", () => {
          const expanded = row.classList.toggle("expanded");
          const body = renderJson(parsed, expanded ? 2 : 0);
          if (message.event) preview.replaceChildren(label, " ", body);
          else preview.replaceChildren(body);
        });
      } else {
        preview.append(message.preview + (message.truncated ? " …" : ""));
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

// A broadcast that reached nobody replaces the earlier row for the same target
// (moved to the end, counting how many), so a timer pushing to empty rooms
// does not bury the log.
function foldInto(event, fragment) {
  const key = foldKey(event);
  const previous = state.folded.get(key);
  const row = buildRow(event);
  if (!row) return;
  const count = previous ? Number(previous.dataset.count) + 1 : 1;
  row.dataset.count = String(count);
  if (count > 1) row.querySelector(".who").textContent += ` ×${count}`;
  if (previous) previous.remove();
  state.folded.set(key, row);
  if (!matchesFilter(row)) row.classList.add("hidden");
  fragment.append(row);
}

function remember(event) {
  state.history.push(event);
  if (state.history.length > MAX_EXPORT) state.history.splice(0, state.history.length - MAX_EXPORT);
}

function appendRows(events) {
  const log = $("log");
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  const fragment = document.createDocumentFragment();
  for (const event of events) {
    if (event.type !== "notice") remember(event);
    if (isEmptyBroadcast(event)) {
      foldInto(event, fragment);
      state.logged += 1;
      continue;
    }
    const row = buildRow(event);
    if (!row) continue;
    if (!matchesFilter(row)) row.classList.add("hidden");
    fragment.append(row);
    state.logged += 1;
  }
  log.append(fragment);
  while (log.childElementCount > MAX_ROWS) log.firstElementChild.remove();
  for (const [key, row] of state.folded) if (!row.isConnected) state.folded.delete(key);
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
  state.history = [];
  state.folded.clear();
  state.logged = 0;
  $("log-count").textContent = "0";
});

$("hide-nobody").addEventListener("change", () => {
  $("log").classList.toggle("hide-nobody", $("hide-nobody").checked);
});

// The log's events (up to MAX_EXPORT, folded rows unfolded) as JSON Lines, one event a line.
function exportJsonl() {
  return state.history.map((event) => JSON.stringify(event)).join("\n") + (state.history.length ? "\n" : "");
}

$("export").addEventListener("click", () => {
  const blob = new Blob([exportJsonl()], { type: "application/x-ndjson" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  link.download = `mockws-log-${stamp}.jsonl`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
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

// --- faults: buttons on each connection row, a form per endpoint

async function injectFault(connId, fault) {
  try {
    const reply = await api("POST", `connections/${encodeURIComponent(connId)}/fault`, fault);
    showResult(`${connId}: ${reply.done.join(", ")}`, true);
  } catch (error) {
    showResult(error.message, false);
  }
}

// "50ms" stays a duration, "20ms-200ms" becomes a range.
function latencyValue(text) {
  const parts = text.split(/\s*[-,]\s*/).filter(Boolean);
  return parts.length === 2 ? parts : text.trim();
}

function faultCell(conn) {
  const cell = el("td", "faults");
  if (conn.faults) cell.append(el("span", "tag fault", conn.faults));
  const latency = el("input", "latency");
  latency.placeholder = "latency";
  latency.value = state.drafts.get(conn.id) || "";
  latency.title = "Outgoing latency for this connection: 200ms, 20ms-200ms, 0 to remove";
  latency.addEventListener("input", () => state.drafts.set(conn.id, latency.value));
  latency.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      setLatency.click();
    }
  });
  const setLatency = el("button", "set-latency", "set");
  const stall = el("button", "stall", "stall");
  const abort = el("button", "abort danger", "abort");
  setLatency.type = stall.type = abort.type = "button";
  setLatency.title = "Set this connection's latency";
  stall.title = "Stop writing to it and answering its pings (a half-open peer)";
  abort.title = "Drop it with a TCP reset, no close frame (the browser sees 1006)";
  setLatency.addEventListener("click", () => {
    state.drafts.delete(conn.id);
    injectFault(conn.id, { latency: latencyValue(latency.value || "0") });
  });
  stall.addEventListener("click", () => injectFault(conn.id, { stall: true }));
  abort.addEventListener("click", () => injectFault(conn.id, { abort: true }));
  for (const node of [latency, setLatency, stall, abort]) {
    node.addEventListener("click", (event) => event.stopPropagation());
  }
  cell.append(latency, setLatency, stall, abort);
  return cell;
}

function endpointFaults() {
  const faults = {};
  const latency = $("fault-latency").value.trim();
  const drop = $("fault-drop").value.trim();
  const refuse = Number($("fault-refuse").value || 0);
  if (latency) faults.latency = latencyValue(latency);
  if (drop) faults.drop = drop.endsWith("%") ? drop : Number(drop);
  if (refuse) faults.refuse = { next: refuse };
  return faults;
}

async function setEndpointFaults(faults) {
  const pattern = $("target").value;
  try {
    const reply = await api("POST", "endpoints/faults", { endpoint: pattern, faults });
    showResult(`${pattern}: faults ${reply.faults || "cleared"}`, true);
  } catch (error) {
    showResult(error.message, false);
  }
}

$("faulter").addEventListener("submit", (event) => {
  event.preventDefault();
  setEndpointFaults(endpointFaults());
});
$("fault-clear").addEventListener("click", () => setEndpointFaults(null));
for (const [id, fault] of [["fault-stall-all", { stall: true }], ["fault-abort-all", { abort: true }]]) {
  $(id).addEventListener("click", () => {
    const pattern = $("target").value;
    for (const conn of state.connections.values()) {
      if (conn.endpoint === pattern) injectFault(conn.id, fault);
    }
  });
}

function renderConnections() {
  const body = $("connections").querySelector("tbody");
  // Rebuilding the rows would take the text being typed into a row's latency field.
  if (body.contains(document.activeElement) && document.activeElement.tagName === "INPUT") {
    state.renderLater = true;
    return;
  }
  const rows = [];
  for (const conn of state.connections.values()) {
    const row = el("tr");
    row.dataset.id = conn.id;
    if (conn.id === state.selected) row.classList.add("selected");
    const rooms = el("td");
    for (const room of conn.rooms) rooms.append(el("span", "tag", room));
    const path = el("td", "path", conn.path);
    path.title = conn.path;
    if (conn.upstream) {
      // A proxied connection: show its upstream leg under the client's path.
      path.append(el("div", "muted upstream", "⇄ " + conn.upstream));
      path.title = conn.path + " ⇄ " + conn.upstream;
    }
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
      faultCell(conn),
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
    item.append(el("b", null, endpoint.pattern), document.createTextNode(" → " + (endpoint.summary || endpoint.handler || "(no handler)")));
    if (endpoint.faults) item.append(el("span", "faults", `⚡ ${endpoint.faults}`));
    item.title = endpoint.url;
    return item;
  });
  for (const route of state.server?.http || []) {
    const item = el("li");
    const [method, path] = route.route.split(" ");
    item.append(el("b", null, method), document.createTextNode(" " + path + " → " + route.answers));
    item.title = route.url;
    items.push(item);
  }
  $("endpoints").replaceChildren(...items);
  if ((state.server?.endpoints || []).some((endpoint) => endpoint.record)) refreshRecordings();
}

async function refreshRecordings() {
  let listed;
  try {
    listed = await api("GET", "recordings");
  } catch (error) {
    return;
  }
  const query = token ? "?admin_token=" + encodeURIComponent(token) : "";
  const items = listed.recordings.map((recording) => {
    const item = el("li", "recording");
    const link = el("a", null, "⬇ " + recording.file.split("/").pop());
    link.href = ROOT + "/api/recordings/" + recording.id + query;
    link.download = recording.file.split("/").pop();
    link.title = recording.file + " (" + recording.endpoint + ")";
    item.append(link, el("span", "muted", " " + recording.bytes + " bytes"));
    return item;
  });
  $("endpoints").append(...items);
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
  for (const conn of snapshot.connections) state.endpointOf.set(conn.id, conn.endpoint);
  state.rooms = new Map(snapshot.rooms.map((room) => [room.name, new Set(room.members)]));
  renderEndpoints();
  scheduleRender();
}

function applyEvent(event) {
  if (event.type === "open") {
    state.endpointOf.set(event.conn_id, event.endpoint);
    if (state.endpointOf.size > 10000) state.endpointOf.delete(state.endpointOf.keys().next().value);
  }
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
    case "fault":
      if (conn && event.fault === "stall") conn.faults = "stalled";
      else if (conn && event.fault === "set" && conn.faults !== "stalled") conn.faults = event.detail === "none" ? null : event.detail;
      else if (!conn && event.fault === "set") {
        const endpoint = (state.server?.endpoints || []).find((e) => e.pattern === event.endpoint);
        if (endpoint) endpoint.faults = event.detail === "none" ? null : event.detail;
        for (const other of state.connections.values()) {
          if (other.endpoint === event.endpoint && other.faults !== "stalled") other.faults = endpoint?.faults || null;
        }
        renderEndpoints();
      }
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
  $("faulter").hidden = kind !== "endpoint" || !options.length;
  $("close").disabled = kind !== "connection" || !options.length;
  if (kind === "connection") state.selected = select.value || null;
}

$("connections").addEventListener("focusout", () => {
  if (state.renderLater) {
    state.renderLater = false;
    setTimeout(scheduleRender, 0);
  }
});

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
