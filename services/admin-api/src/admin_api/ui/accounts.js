// The account pages (#/accounts and #/accounts/<id>): the accounts list, and one account's
// workers, runs and operations panels. Loaded before app.js, whose helpers (h, api, act, can,
// live, render, state) it uses when the router calls it.
"use strict";

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
        h("td", {}, familyCell(w.family), pushLiveBadge(accountId, w.family), w.enabled ? null : h("div", { class: "muted small" }, "disabled")),
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
