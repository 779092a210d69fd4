/* ebaysync admin UI: a small single-page app over the admin API, no build step.
 * Every value from the API is put into the page as text (never as HTML). */
"use strict";

const ROLE_RANK = { viewer: 0, operator: 1, admin: 2 };
const LIGHTS = {
  failing: "Failing", paused: "Paused", behind: "Behind", running: "Running",
  idle: "Idle", disabled: "Disabled", ok: "OK",
};
const FAMILIES = ["orders", "transactions", "finances", "offers", "messages", "active_inventory", "purchases", "cases", "inquiries", "returns", "payment_disputes"];
const state = { token: sessionStorage.getItem("token"), me: null, stop: null };

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
      h("td", {}, w.family),
      h("td", {}, age(w.lag_seconds)),
      h("td", {}, w.last_run ? [badge(w.last_run.status), " ", when(w.last_run.finished_at || w.last_run.updated_at)] : "—"),
      h("td", { class: "reason" }, w.last_error || ""),
      h("td", {}, w.next_due_at ? when(w.next_due_at) : "—"))) : [h("tr", {}, h("td", { colspan: 7, class: "empty" }, "No accounts yet: connect one under Accounts."))]));
  };
  load().catch(() => {});
  const timer = setInterval(() => load().catch(() => {}), 5000);
  return () => clearInterval(timer);
}

function accountView(accountId) {
  const header = h("div");
  const banner = h("div");
  const workersBody = h("tbody");
  const runsBody = h("tbody");
  const schedule = h("div", { class: "grid" });
  const workersTable = h("table", { "data-testid": "workers-table" },
    h("thead", {}, h("tr", {}, ["Status", "Family", "Cursor", "Last run", "Last error", "Paused until", "Next due", ""].map((t) => h("th", {}, t)))),
    workersBody);
  const runsTable = h("table", { "data-testid": "runs-table" },
    h("thead", {}, h("tr", {}, ["Started", "Family", "Trigger", "Status", "Window", "Progress", "Fetched / stored / changed", "Duration"].map((t) => h("th", {}, t)))),
    runsBody);
  render(header, banner, h("h2", {}, "Workers"), legend(), workersTable,
    h("h2", {}, "Schedule"), h("div", { class: "sub" }, "When each worker is due and the windows it will fetch, by the scheduler's own planner."), schedule,
    h("h2", {}, "Recent runs"), runsTable,
    h("p", {}, h("a", { href: `#/runs?account_id=${accountId}` }, "All runs of this account →")), pushAccountPanel(accountId), opsAccountPanel(accountId));

  let account = null;
  let token = null;
  const drawHeader = () => {
    if (!account) return;
    header.replaceChildren(h("div", { class: "headline" },
      h("div", {},
        h("h1", {}, account.house_name),
        h("div", { class: "sub" }, `${account.username} · ${account.marketplace_id} (site ${account.site_id}) · ${account.environment} · ${account.purpose}`, account.active ? "" : " · deactivated"),
        token ? h("div", {}, "Token: ", badge(token.status), " ", h("span", { class: "muted small" }, token.reason)) : null),
      h("div", { class: "toolbar" },
        can("operator") ? h("button", { class: "primary", onclick: () => act((items) => items.map((i) => `${i.family}: ${i.detail}`).join("; "), () => api(`/api/accounts/${accountId}/workers/run`, { method: "POST" })) }, "Run all") : null,
        can("operator") ? h("button", { onclick: () => rename() }, "Rename") : null,
        can("operator") ? h("button", { onclick: () => reconnect() }, "Reconnect") : null,
        can("admin") ? h("button", { onclick: () => changePurpose() }, "Purpose") : null,
        can("admin") && account.active ? h("button", { class: "danger", onclick: () => deactivate() }, "Deactivate") : null)));
  };
  const changePurpose = async () => {
    const purpose = prompt("Purpose: seller, buyer or both", account.purpose);
    if (!purpose) return;
    const updated = await act(
      (a) => a.missing_scopes.length ? `Purpose ${a.purpose}: reconnect to grant ${a.missing_scopes.length} more scopes` : `Purpose ${a.purpose}`,
      () => api(`/api/accounts/${accountId}/purpose`, { method: "PUT", body: { purpose: purpose.trim() } }));
    if (updated) { account = updated; drawHeader(); }
  };
  const rename = async () => {
    const name = prompt("New house name", account.house_name);
    if (!name) return;
    const updated = await act("Renamed", () => api(`/api/accounts/${accountId}`, { method: "PATCH", body: { house_name: name } }));
    if (updated) { account = updated; drawHeader(); }
  };
  const reconnect = async () => {
    const result = await act(null, () => api(`/api/accounts/${accountId}/reconnect`, { method: "POST" }));
    if (result) location.href = result.authorize_url;
  };
  const deactivate = async () => {
    if (!confirm(`Deactivate ${account.house_name}? It stops syncing; its data stays.`)) return;
    const updated = await act("Deactivated", () => api(`/api/accounts/${accountId}/deactivate`, { method: "POST" }));
    if (updated) { account = updated; drawHeader(); }
  };
  const runNow = (family) => act((r) => `Run ${r.run_id} queued (${windowText(r.window_from, r.window_to)})`,
    () => api(`/api/accounts/${accountId}/workers/${family}/run`, { method: "POST" }));
  const setEnabled = (family, enabled) => act(enabled ? `${family} enabled` : `${family} disabled`,
    () => api(`/api/accounts/${accountId}/workers/${family}`, { method: "PATCH", body: { enabled } }));
  const resume = (family) => act(`${family} resumed`, () => api(`/api/accounts/${accountId}/workers/${family}/resume`, { method: "POST" }));
  // After a bad page (a cursor or data from the future): move the cursor back and re-sync.
  const repair = async (family) => {
    const since = prompt(`Repair ${family}: re-sync from (ISO time, e.g. 2026-11-01T00:00:00Z; empty: the backfill start)`, "");
    if (since === null) return;
    if (!confirm(`Move the ${family} cursor back to ${since || "the backfill start"} and re-sync from there?`)) return;
    await act((r) => r.detail, () => api(`/api/accounts/${accountId}/families/${family}/repair`, { method: "POST", body: since ? { since } : {} }));
  };

  const drawWorkers = (workers) => {
    workersBody.replaceChildren(...workers.map((w) => {
      const run = w.last_run;
      return h("tr", { dataset: { family: w.family } },
        h("td", {}, light(w.status, w.status_reason)),
        h("td", {}, h("strong", {}, w.family), " ", pushLiveBadge(accountId, w.family), w.enabled ? null : h("div", { class: "muted small" }, "disabled")),
        h("td", {}, w.cursor ? [h("div", { title: stamp(w.cursor) }, new Date(w.cursor).toLocaleString()), h("div", { class: "muted small" }, `lag ${age(w.lag_seconds)}`)] : h("span", { class: "muted" }, "never synced")),
        h("td", { "data-testid": "last-run" }, run ? [
          h("div", {}, h("a", { href: `#/runs/${run.run_id}`, "data-run-id": run.run_id }, badge(run.status)), " ", h("span", { class: "muted small" }, run.requested_by ? `${run.trigger} by ${run.requested_by}` : run.trigger)),
          h("div", { class: "small" }, windowText(run.window_from, run.window_to)),
          h("div", { class: "small" }, progress(run)),
          h("div", { class: "small muted" }, `fetched ${run.rows_received} · stored ${run.rows_inserted} · changed ${run.rows_changed} · ${duration(run.duration_seconds)}`),
        ] : h("span", { class: "muted" }, "no run yet")),
        h("td", { class: "reason" }, w.last_error ? [w.last_error, h("div", { class: "small" }, when(w.last_error_at))] : ""),
        h("td", {}, w.paused_until ? when(w.paused_until) : "—"),
        h("td", {}, w.next_due_at ? when(w.next_due_at) : h("span", { class: "muted" }, "—")),
        h("td", {}, can("operator") ? h("div", { class: "toolbar" },
          h("button", { class: "primary", onclick: () => runNow(w.family) }, "Run now"),
          h("button", { onclick: () => setEnabled(w.family, !w.enabled) }, w.enabled ? "Disable" : "Enable"),
          w.paused_until ? h("button", { onclick: () => resume(w.family) }, "Resume") : null,
          can("admin") ? h("button", { class: "danger", title: "Reset the cursor and re-sync", onclick: () => repair(w.family) }, "Repair") : null) : null));
    }));
  };
  const drawRuns = (runs) => {
    runsBody.replaceChildren(...(runs.length ? runs.map((r) => h("tr", { class: "clickable", dataset: { runId: r.run_id }, onclick: () => { location.hash = `#/runs/${r.run_id}`; } },
      h("td", {}, when(r.queued_at || r.started_at || r.updated_at)),
      h("td", {}, r.family),
      h("td", {}, r.trigger),
      h("td", { "data-testid": "run-status" }, badge(r.status)),
      h("td", { class: "small" }, windowText(r.window_from, r.window_to)),
      h("td", {}, progress(r)),
      h("td", {}, `${r.rows_received} / ${r.rows_inserted} / ${r.rows_changed}`),
      h("td", {}, duration(r.duration_seconds)))) : [h("tr", {}, h("td", { colspan: 8, class: "empty" }, "No runs yet."))]));
  };
  const drawSchedule = (items) => {
    schedule.replaceChildren(...items.map((s) => h("div", { class: "card" },
      h("strong", {}, s.family), " ",
      s.blocked_by ? h("span", { class: "muted" }, `— ${s.blocked_by}`) : h("span", { class: "muted" }, "— due ", when(s.next_due_at)),
      s.snapshot ? h("div", { class: "muted small" }, "a snapshot of everything, as of its due time")
        : s.windows.length ? h("ol", { class: "small" }, s.windows.map((w) => h("li", {}, windowText(w.start, w.end)))) : h("div", { class: "muted small" }, "nothing to fetch"),
      s.more_windows ? h("div", { class: "muted small" }, "… and more, back to back") : null)));
  };

  Promise.all([api(`/api/accounts/${accountId}`), api(`/api/accounts/${accountId}/token`).catch(() => null)])
    .then(([a, t]) => { account = a; token = t; drawHeader(); })
    .catch((e) => render(h("p", { class: "error" }, e.message)));
  const loadSchedule = () => api(`/api/accounts/${accountId}/schedule`).then(drawSchedule).catch(() => {});
  loadSchedule();
  const timer = setInterval(loadSchedule, 15000);
  const stop = live(`/api/accounts/${accountId}/live`, (snapshot) => {
    setPaused(snapshot.paused);
    banner.replaceChildren(snapshot.paused ? h("div", { class: "banner" }, "Pause is on: no new windows start for this org's accounts; running ones finish.") : "");
    drawWorkers(snapshot.workers);
    drawRuns(snapshot.runs);
  });
  if (new URLSearchParams(location.hash.split("?")[1] || "").get("connected")) toast("Account connected");
  return () => { stop(); clearInterval(timer); };
}

function accountsView() {
  const body = h("tbody");
  const showAll = h("input", { type: "checkbox", onchange: () => load() });
  const form = h("form", { class: "toolbar", onsubmit: async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = { house_name: data.get("house_name"), purpose: data.get("purpose") };
    if (data.get("environment")) body.environment = data.get("environment");
    const result = await act(null, () => api("/api/accounts/connect", { method: "POST", body }));
    if (result) location.href = result.authorize_url;
  } },
  h("input", { name: "house_name", placeholder: "House name, e.g. Main store", required: true, maxlength: 100, style: "min-width:280px" }),
  // The purpose chooses the families synced (buyer: purchases; seller: the rest; both: all).
  h("select", { name: "purpose", title: "What the account is synced for" },
    ["both", "seller", "buyer"].map((p) => h("option", { value: p }, p))),
  h("select", { name: "environment", title: "Which eBay keyset to connect through" },
    h("option", { value: "" }, "default environment"),
    ["production", "sandbox"].map((e) => h("option", { value: e }, e))),
  h("button", { class: "primary", type: "submit" }, "Connect an eBay account"));
  render(h("h1", {}, "Accounts"),
    h("div", { class: "sub" }, "Connected eBay seller accounts. Marketplace and site come from eBay when the seller consents."),
    can("operator") ? form : null,
    h("div", { class: "toolbar" }, h("label", {}, showAll, " show deactivated"), can("admin") ? h("button", { "data-testid": "run-everything", onclick: () => act((r) => `Queued ${r.queued}, skipped ${r.skipped} in flight, ${r.up_to_date} up to date, ${r.blocked} blocked`, () => api("/api/accounts/run-all", { method: "POST" })) }, "Run everything now") : null),
    h("table", {}, h("thead", {}, h("tr", {}, ["House name", "eBay user", "Marketplace", "Environment", "Purpose", "State", "Connected"].map((t) => h("th", {}, t)))), body));
  const load = async () => {
    const accounts = await api(`/api/accounts?include_inactive=${showAll.checked}`);
    body.replaceChildren(...(accounts.length ? accounts.map((a) => h("tr", { class: "clickable", onclick: () => { location.hash = `#/accounts/${a.id}`; } },
      h("td", {}, h("a", { href: `#/accounts/${a.id}` }, a.house_name)),
      h("td", {}, a.username),
      h("td", {}, `${a.marketplace_id} (site ${a.site_id})`),
      h("td", {}, a.environment),
      h("td", {}, a.purpose),
      h("td", {}, a.active ? (a.needs_reauth ? badge("needs reauth", "needs_reauth") : badge("active", "healthy")) : badge("deactivated", "missing")),
      h("td", {}, when(a.created_at)))) : [h("tr", {}, h("td", { colspan: 7, class: "empty" }, "No accounts."))]));
  };
  load().catch(() => {});
}

function runsView(params) {
  const filters = h("form", { class: "toolbar", onchange: () => load(true), onsubmit: (e) => { e.preventDefault(); load(true); } },
    h("select", { name: "account_id" }, h("option", { value: "" }, "all accounts")),
    h("select", { name: "family" }, h("option", { value: "" }, "all families"), ...FAMILIES.map((f) => h("option", { value: f }, f))),
    h("select", { name: "status" }, h("option", { value: "" }, "any status"), ...["queued", "running", "succeeded", "failed", "stale"].map((s) => h("option", { value: s }, s))),
    h("select", { name: "trigger" }, h("option", { value: "" }, "any trigger"), ...["schedule", "catch_up", "manual", "repair"].map((s) => h("option", { value: s }, s))));
  const body = h("tbody");
  const more = h("button", { onclick: () => load(false) }, "Load more");
  render(h("h1", {}, "Runs"), h("div", { class: "sub" }, "Every window fetched, newest first. Click a run for its pages."), filters,
    h("table", { "data-testid": "runs-table" }, h("thead", {}, h("tr", {}, ["Started", "Account", "Family", "Trigger", "Status", "Window", "Progress", "Fetched / stored / changed", "Duration"].map((t) => h("th", {}, t)))), body),
    h("div", { class: "toolbar" }, more));
  const names = {};
  let offset = 0;
  const load = async (reset) => {
    if (reset) { offset = 0; body.replaceChildren(); }
    const query = new URLSearchParams({ limit: "50", offset: String(offset) });
    for (const [k, v] of new FormData(filters)) if (v) query.set(k, v);
    const runs = await api(`/api/runs?${query}`);
    offset += runs.length;
    more.hidden = runs.length < 50;
    body.append(...runs.map((r) => h("tr", { class: "clickable", onclick: () => { location.hash = `#/runs/${r.run_id}`; } },
      h("td", {}, when(r.queued_at || r.started_at || r.updated_at)),
      h("td", {}, names[r.account_id] || r.account_id),
      h("td", {}, r.family), h("td", {}, r.trigger), h("td", {}, badge(r.status)),
      h("td", { class: "small" }, windowText(r.window_from, r.window_to)), h("td", {}, progress(r)),
      h("td", {}, `${r.rows_received} / ${r.rows_inserted} / ${r.rows_changed}`), h("td", {}, duration(r.duration_seconds)))));
    if (!body.children.length) body.append(h("tr", {}, h("td", { colspan: 9, class: "empty" }, "No runs match.")));
  };
  api("/api/accounts?include_inactive=true").then((accounts) => {
    for (const a of accounts) { names[a.id] = a.house_name; filters.elements.account_id.append(h("option", { value: a.id }, a.house_name)); }
    if (params.get("account_id")) filters.elements.account_id.value = params.get("account_id");
    load(true);
  }).catch(() => {});
}

function runView(runId) {
  const top = h("div");
  const body = h("tbody");
  const log = runLogPanel(runId);  // ui/runlog.js
  render(top, log.element, h("h2", {}, "Pages"),
    h("table", { "data-testid": "pages-table" }, h("thead", {}, h("tr", {}, ["Page", "Records", "Inserted", "Changed", "Unchanged", "Committed", "Trace id"].map((t) => h("th", {}, t)))), body));
  return live(`/api/runs/${runId}/live`, (run) => {
    log.update(run);
    top.replaceChildren(
      h("h1", {}, `Run of ${run.family} for `, h("a", { href: `#/accounts/${run.account_id}` }, run.house_name)),
      h("div", { class: "sub mono" }, run.run_id),
      h("div", { class: "card" }, h("dl", { class: "facts" },
        h("dt", {}, "Status"), h("dd", { "data-testid": "run-status" }, badge(run.status), run.error ? h("span", { class: "error" }, ` ${run.error}`) : null),
        h("dt", {}, "Trigger"), h("dd", {}, run.trigger),
        h("dt", {}, "Window"), h("dd", {}, windowText(run.window_from, run.window_to)),
        h("dt", {}, "Progress"), h("dd", {}, progress(run)),
        h("dt", {}, "Rows"), h("dd", {}, `fetched ${run.rows_received} · inserted ${run.rows_inserted} · changed ${run.rows_changed} · unchanged ${run.rows_unchanged}`),
        h("dt", {}, "Queued / started / finished"), h("dd", {}, `${stamp(run.queued_at)} / ${stamp(run.started_at)} / ${stamp(run.finished_at)}`),
        h("dt", {}, "Duration"), h("dd", {}, duration(run.duration_seconds)),
        h("dt", {}, "Trace"), h("dd", { class: "mono" }, run.trace_url
          ? h("a", { href: run.trace_url, target: "_blank", rel: "noopener", "data-testid": "trace-link" }, run.trace_id)
          : (run.trace_id || "—")))));
    body.replaceChildren(...(run.pages.length ? run.pages.map((p) => h("tr", {},
      h("td", {}, p.page_no), h("td", {}, p.records), h("td", {}, p.inserted), h("td", {}, p.changed), h("td", {}, p.unchanged),
      h("td", {}, stamp(p.committed_at)), h("td", { class: "mono" }, p.trace_id || "—"))) : [h("tr", {}, h("td", { colspan: 7, class: "empty" }, "No page written yet."))]));
  });
}

function tokensView() {
  const body = h("tbody");
  render(h("h1", {}, "Tokens"),
    h("div", { class: "sub" }, "OAuth health per account. Tokens never leave the token service; this page shows only expiries and outcomes."),
    h("table", {}, h("thead", {}, h("tr", {}, ["Account", "Status", "Access token expires", "Consent expires", "Last refresh", ""].map((t) => h("th", {}, t)))), body));
  const load = async () => {
    const tokens = await api("/api/tokens");
    body.replaceChildren(...(tokens.length ? tokens.flatMap((t) => {
      const log = h("tr", { hidden: true }, h("td", { colspan: 6 }));
      const showLog = async () => {
        if (!log.hidden) { log.hidden = true; return; }
        const entries = await api(`/api/accounts/${t.account_id}/token/refresh-log?limit=20`);
        log.firstChild.replaceChildren(h("table", {}, h("thead", {}, h("tr", {}, ["At", "Reason", "Outcome", "Detail"].map((x) => h("th", {}, x)))),
          h("tbody", {}, entries.map((e) => h("tr", {}, h("td", {}, stamp(e.at)), h("td", {}, e.reason), h("td", {}, badge(e.outcome, e.outcome === "ok" ? "healthy" : "error")), h("td", {}, e.detail || ""))))));
        log.hidden = false;
      };
      return [h("tr", {},
        h("td", {}, h("a", { href: `#/accounts/${t.account_id}` }, t.house_name)),
        h("td", {}, badge(t.status), h("div", { class: "reason" }, t.reason)),
        h("td", {}, when(t.access_token_expires_at)),
        h("td", {}, when(t.refresh_token_expires_at)),
        h("td", {}, when(t.last_refresh_at)),
        h("td", {}, h("div", { class: "toolbar" },
          can("operator") ? h("button", { onclick: async () => {
            const r = await act((x) => (x.refreshed ? "Refreshed" : `Refresh failed: ${x.error_detail || x.error}`), () => api(`/api/accounts/${t.account_id}/token/refresh`, { method: "POST" }));
            if (r) load();
          } }, "Force refresh") : null,
          h("button", { onclick: showLog }, "Refresh log")))), log];
    }) : [h("tr", {}, h("td", { colspan: 7, class: "empty" }, "No accounts."))]));
  };
  load().catch(() => {});
}

function deadLettersView() {
  const body = h("tbody");
  render(h("h1", {}, "Dead letters"),
    h("div", { class: "sub" }, "Messages that failed for good, with why. Replay sends the original again; discard drops it."),
    h("table", {}, h("thead", {}, h("tr", {}, ["#", "Failed", "Subject", "Reason", "Deliveries", ""].map((t) => h("th", {}, t)))), body));
  const load = async () => {
    const letters = await api("/api/dead-letters");
    body.replaceChildren(...(letters.length ? letters.flatMap((d) => {
      const detail = h("tr", { hidden: true }, h("td", { colspan: 6 }));
      const inspect = async () => {
        if (!detail.hidden) { detail.hidden = true; return; }
        const full = await api(`/api/dead-letters/${d.sequence}`);
        const shown = full.original_json !== null ? JSON.stringify(full.original_json, null, 2) : (full.original_text ?? full.original_data_base64);
        detail.firstChild.replaceChildren(h("div", { class: "small muted" }, "Headers"), h("pre", {}, JSON.stringify(full.original_headers, null, 2)), h("div", { class: "small muted" }, "Body"), h("pre", {}, shown));
        detail.hidden = false;
      };
      return [h("tr", {},
        h("td", {}, d.sequence), h("td", {}, when(d.failed_at)), h("td", { class: "mono" }, d.original_subject),
        h("td", { class: "reason" }, d.reason), h("td", {}, d.deliveries ?? "—"),
        h("td", {}, h("div", { class: "toolbar" },
          h("button", { onclick: inspect }, "Inspect"),
          can("admin") ? h("button", { class: "primary", onclick: async () => { if (await act("Replayed", () => api(`/api/dead-letters/${d.sequence}/replay`, { method: "POST" }))) load(); } }, "Replay") : null,
          can("admin") ? h("button", { class: "danger", onclick: async () => { if (confirm("Discard this dead letter for good?") && (await act("Discarded", () => api(`/api/dead-letters/${d.sequence}`, { method: "DELETE" })) !== undefined)) load(); } }, "Discard") : null))), detail];
    }) : [h("tr", {}, h("td", { colspan: 6, class: "empty" }, "No dead letters. Good."))]));
  };
  load().catch(() => {});
}

function servicesView() {
  const services = h("tbody");
  const consumers = h("tbody");
  const pauseBox = h("div", { class: "card" });
  const retentionBox = h("div", { class: "card" });
  const usersBox = h("div");
  render(h("h1", {}, "Services"),
    h("div", { class: "sub" }, "Heartbeats of every service instance and the backlog of the work queues."),
    h("table", {}, h("thead", {}, h("tr", {}, ["Service", "Instance", "Status", "Last heartbeat", "Started"].map((t) => h("th", {}, t)))), services),
    h("h2", {}, "Work queues"),
    h("table", {}, h("thead", {}, h("tr", {}, ["Stream", "Consumer", "Pending", "In flight", "Redelivered", "Waiting pulls"].map((t) => h("th", {}, t)))), consumers),
    h("div", { class: "grid", style: "margin-top:16px" }, pauseBox, retentionBox),
    opsJobsCard(), usersBox);
  const load = async () => {
    const data = await api("/api/services");
    setPaused(data.paused);
    services.replaceChildren(...data.services.map((s) => h("tr", {}, h("td", {}, s.service), h("td", { class: "mono" }, s.instance || "—"), h("td", {}, badge(s.status)), h("td", {}, when(s.last_seen_at)), h("td", {}, when(s.started_at)))));
    consumers.replaceChildren(...data.consumers.map((c) => h("tr", {}, h("td", {}, c.stream), h("td", {}, c.durable), h("td", {}, c.num_pending ?? c.error), h("td", {}, c.num_ack_pending ?? "—"), h("td", {}, c.num_redelivered ?? "—"), h("td", {}, c.num_waiting ?? "—"))));
    pauseBox.replaceChildren(h("h2", { style: "margin-top:0" }, "Pause everything"),
      h("p", {}, data.paused ? "Pause-all is ON: the scheduler sends no new windows; running ones finish." : "Pause-all is off: workers run on their schedule."),
      can("admin") ? h("button", { class: data.paused ? "primary" : "danger", onclick: async () => { if (await act(null, () => api("/api/control/pause", { method: "PUT", body: { paused: !data.paused } }))) load(); } }, data.paused ? "Resume everything" : "Pause everything") : h("p", { class: "muted small" }, "Admins can switch it."));
  };
  const loadRetention = async () => {
    const r = await api("/api/retention");
    retentionBox.replaceChildren(h("h2", { style: "margin-top:0" }, "Log retention"),
      h("p", {}, `Runs, page receipts and token refresh logs older than ${r.retention_days} days can go (each worker keeps its latest run; mirrored data and its history stay).`),
      h("p", { class: "muted" }, `Now past retention: ${r.sync_runs} runs, ${r.sync_pages} page receipts, ${r.token_refresh_log} refresh log entries.`),
      can("admin") ? h("button", { class: "danger", onclick: async () => { if (confirm("Purge logs past retention?") && (await act((x) => `Purged ${x.sync_runs} runs, ${x.sync_pages} pages, ${x.token_refresh_log} log entries`, () => api("/api/retention/purge", { method: "POST", body: {} })))) loadRetention(); } }, "Purge now") : null);
  };
  const loadUsers = async () => {
    if (!can("admin")) return;
    const users = await api("/api/users");
    const form = h("form", { class: "toolbar", onsubmit: async (event) => {
      event.preventDefault();
      const d = new FormData(form);
      if (await act("User added", () => api("/api/users", { method: "POST", body: { email: d.get("email"), password: d.get("password"), role: d.get("role") } }))) loadUsers();
    } }, h("input", { name: "email", type: "email", placeholder: "email", required: true }), h("input", { name: "password", type: "password", placeholder: "password (10+ characters)", minlength: 10, required: true }),
    h("select", { name: "role" }, ["viewer", "operator", "admin"].map((r) => h("option", { value: r }, r))), h("button", { type: "submit" }, "Add user"));
    usersBox.replaceChildren(h("h2", {}, "Users of your org"), form,
      h("table", {}, h("thead", {}, h("tr", {}, ["Email", "Role", "Active", ""].map((t) => h("th", {}, t)))),
        h("tbody", {}, users.map((u) => h("tr", {}, h("td", {}, u.email), h("td", {}, u.role), h("td", {}, u.active ? "yes" : "no"),
          h("td", {}, u.id === state.me.id ? h("span", { class: "muted" }, "you") : h("button", { onclick: async () => { if (await act(null, () => api(`/api/users/${u.id}`, { method: "PATCH", body: { active: !u.active } }))) loadUsers(); } }, u.active ? "Deactivate" : "Reactivate")))))));
  };
  load().catch(() => {});
  loadRetention().catch(() => {});
  loadUsers().catch(() => {});
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
