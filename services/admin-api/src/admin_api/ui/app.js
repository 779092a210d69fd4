/* ebaysync admin UI: a small single-page app over the admin API, no build step.
 * Every value from the API is put into the page as text (never as HTML). */
"use strict";

const ROLE_RANK = { viewer: 0, operator: 1, admin: 2 };
const LIGHTS = {
  failing: "Failing", paused: "Paused", behind: "Behind", running: "Running",
  idle: "Idle", disabled: "Disabled", ok: "OK",
};
// ``families``: every family and its label, from GET /api/families (the one home of labels).
const state = { token: sessionStorage.getItem("token"), me: null, stop: null, families: [] };

// --- small helpers -------------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// A <select>'s options, one per family: its name as the value, its label as the text.
function familyOptions() { return state.families.map((f) => h("option", { value: f.family }, f.label)); }

function familyLabel(name) {
  const family = state.families.find((f) => f.family === name);
  return family ? family.label : name;
}

// A family as a table cell: its label, and beneath it the name the API and the CLI take.
function familyCell(name) { return [h("strong", {}, familyLabel(name)), h("div", { class: "muted small" }, name)]; }

function can(role) { return state.me && ROLE_RANK[state.me.role] >= ROLE_RANK[role]; }

function toast(message, bad) {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.className = bad ? "bad" : "";
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, bad ? 8000 : 5000);
}

function ago(iso) {
  if (!iso) return "—";
  const seconds = (Date.now() - new Date(iso).getTime()) / 1000;
  const future = seconds < 0;
  const text = age(Math.abs(seconds));
  return future ? `in ${text}` : `${text} ago`;
}

function age(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 120) return `${Math.round(seconds)}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86400)}d`;
}

function when(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  return h("span", { title: new Date(iso).toLocaleString() }, ago(iso));
}

function stamp(iso) { return iso ? new Date(iso).toLocaleString() : "—"; }

function windowText(from, to) {
  const fmt = (iso) => new Date(iso).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  return from ? `${fmt(from)} → ${fmt(to)}` : `snapshot to ${fmt(to)}`;
}

function light(status, reason) {
  return h("div", {},
    h("span", { class: `light ${status}`, "data-testid": "status" }, LIGHTS[status] || status),
    reason ? h("div", { class: "reason" }, reason) : null);
}

function badge(text, kind) { return h("span", { class: `badge ${kind || text}` }, String(text).replace("_", " ")); }

function progress(run) {
  const total = run.pages_expected;
  const done = run.pages_written;
  const pct = total ? Math.min(100, Math.round((done / total) * 100)) : (run.status === "succeeded" ? 100 : 10);
  return h("span", {},
    h("span", { class: `progress ${run.status === "succeeded" ? "done" : ""}` }, h("span", { style: `width:${pct}%` })),
    " ", `${done}${total ? "/" + total : ""} pages`);
}

function duration(seconds) { return seconds === null || seconds === undefined ? "—" : `${seconds.toFixed(1)}s`; }

// --- API -----------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

async function api(path, options = {}) {
  const headers = { Accept: "application/json" };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method: options.method || "GET",
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  if (response.status === 401 && path !== "/api/auth/login") {
    signOut();
    throw new ApiError(401, "signed out");
  }
  if (response.status === 204) return null;
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    let detail = body && body.detail;
    if (Array.isArray(detail)) detail = detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
    throw new ApiError(response.status, detail || `HTTP ${response.status}`);
  }
  return body;
}

async function act(label, fn) {
  try {
    const result = await fn();
    if (label) toast(typeof label === "function" ? label(result) : label);
    return result;
  } catch (error) {
    if (error.status !== 401) toast(error.message, true);
    return undefined;
  }
}

/* Server-sent events over fetch, so the bearer token goes in a header (EventSource cannot
 * send one). Reconnects after a pause; returns a function that stops it. */
function live(path, onSnapshot) {
  const controller = new AbortController();
  let stopped = false;
  (async function loop() {
    while (!stopped) {
      try {
        const response = await fetch(path, {
          headers: { Authorization: `Bearer ${state.token}`, Accept: "text/event-stream" },
          signal: controller.signal,
        });
        if (response.status === 401) { signOut(); return; }
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
          let cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            const frame = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            let event = "message";
            const data = [];
            for (const line of frame.split("\n")) {
              if (line.startsWith("event:")) event = line.slice(6).trim();
              else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
            }
            if (event === "snapshot" && data.length) onSnapshot(JSON.parse(data.join("\n")));
            if (event === "gone") { stopped = true; return; }
          }
        }
      } catch (error) {
        if (stopped || error.name === "AbortError") return;
      }
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  })();
  return () => { stopped = true; controller.abort(); };
}

// --- session -------------------------------------------------------------------------------

function signOut() {
  state.token = null;
  state.me = null;
  sessionStorage.removeItem("token");
  if (location.hash !== "#/login") location.hash = "#/login";
  else route();
}

async function loadMe() {
  if (!state.token) return null;
  if (!state.me) state.me = await api("/api/auth/me").catch(() => null);
  if (state.me && !state.families.length) state.families = await api("/api/families").catch(() => []);
  return state.me;
}

function showChrome(visible) {
  document.getElementById("top").hidden = !visible;
  if (visible && state.me) {
    document.getElementById("whoami").textContent = `${state.me.email} · ${state.me.role} · ${state.me.org_name}`;
  }
}

function setPaused(paused) { document.getElementById("pause-badge").hidden = !paused; }

// --- views ---------------------------------------------------------------------------------

const view = () => document.getElementById("view");

function render(...nodes) { view().replaceChildren(...nodes); }

function loginView() {
  showChrome(false);
  const error = h("p", { class: "error", role: "alert" });
  const form = h("form", { class: "stack card", onsubmit: async (event) => {
    event.preventDefault();
    error.textContent = "";
    const data = new FormData(form);
    try {
      const result = await api("/api/auth/login", { method: "POST", body: { email: data.get("email"), password: data.get("password") } });
      state.token = result.access_token;
      state.me = result.user;
      sessionStorage.setItem("token", state.token);
      location.hash = "#/";
    } catch (e) {
      error.textContent = e.message;
    }
  } },
  h("h1", {}, "Sign in to ebaysync"),
  h("p", { class: "muted" }, "See every sync worker, and act on it."),
  h("label", {}, "Email", h("input", { name: "email", type: "email", autocomplete: "username", required: true, autofocus: true })),
  h("label", {}, "Password", h("input", { name: "password", type: "password", autocomplete: "current-password", required: true })),
  h("button", { class: "primary", type: "submit" }, "Sign in"),
  error);
  render(h("div", { class: "narrow" }, form));
}

function legend() {
  return h("div", { class: "legend" },
    h("span", { class: "light failing" }, "failing: last run failed or the seller must reconnect"),
    h("span", { class: "light paused" }, "paused after repeated failures"),
    h("span", { class: "light behind" }, "cursor lags more than two cadences"),
    h("span", { class: "light running" }, "window in flight"),
    h("span", { class: "light ok" }, "up to date"),
    h("span", { class: "light disabled" }, "disabled"));
}

function overviewView() {
  const body = h("tbody");
  const table = h("table", { "data-testid": "overview-table" },
    h("thead", {}, h("tr", {}, ["Status", "Account", "Family", "Lag", "Last run", "Last error", "Next due"].map((t) => h("th", {}, t)))),
    body);
  render(h("h1", {}, "Workers"), h("div", { class: "sub" }, "Every worker of every account, most urgent first. Click a row for its account."), legend(), table);
  const load = async () => {
    const [workers, pause] = await Promise.all([api("/api/workers"), api("/api/control/pause")]);
    setPaused(pause.paused);
    body.replaceChildren(...(workers.length ? workers.map((w) => h("tr", { class: "clickable", onclick: () => { location.hash = `#/accounts/${w.account_id}`; } },
      h("td", {}, light(w.status, w.status_reason)),
      h("td", {}, h("a", { href: `#/accounts/${w.account_id}` }, w.house_name)),
      h("td", {}, familyCell(w.family)),
      h("td", {}, age(w.lag_seconds)),
      h("td", {}, w.last_run ? [badge(w.last_run.status), " ", when(w.last_run.finished_at || w.last_run.updated_at)] : "—"),
      h("td", { class: "reason" }, w.last_error || ""),
      h("td", {}, w.next_due_at ? when(w.next_due_at) : "—"))) : [h("tr", {}, h("td", { colspan: 7, class: "empty" }, "No accounts yet: connect one under Accounts."))]));
  };
  load().catch(() => {});
  const timer = setInterval(() => load().catch(() => {}), 5000);
  return () => clearInterval(timer);
}

// --- router --------------------------------------------------------------------------------

async function route() {
  if (state.stop) { state.stop(); state.stop = null; }
  const [path, query] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query || "");
  if (path === "/login" || !(await loadMe())) {
    if (path !== "/login") { location.hash = "#/login"; return; }
    loginView();
    return;
  }
  showChrome(true);
  const parts = path.split("/").filter(Boolean);
  const section = parts[0] || "workers";
  for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("active", a.dataset.nav === section);
  api("/api/control/pause").then((p) => setPaused(p.paused)).catch(() => {});
  let stop = null;
  if (section === "workers") stop = overviewView();
  else if (section === "accounts" && parts[1]) stop = accountView(parts[1]);
  else if (section === "accounts") accountsView();
  else if (section === "runs" && parts[1]) stop = runView(parts[1]);
  else if (section === "runs") runsView(params);
  else if (section === "events") eventsView(params);
  else if (section === "tokens") tokensView();
  else if (section === "dead-letters") deadLettersView();
  else if (section === "services") stop = servicesView();
  else if (section === "budget") stop = budgetView();
  else if (section === "notifications") notificationsView();
  else render(h("p", {}, "Nothing here. ", h("a", { href: "#/" }, "Back to the workers.")));
  state.stop = stop;
}

// The button revokes the user's tokens on the server too (every session of theirs ends).
document.getElementById("signout").addEventListener("click", async () => {
  if (state.token) await api("/api/auth/logout", { method: "POST" }).catch(() => null);
  signOut();
});
window.addEventListener("hashchange", route);
route();
