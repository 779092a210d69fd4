// The runs, run, tokens, dead letters and services pages. Loaded before app.js, whose helpers
// (h, api, act, can, live, render, state) they use when the router calls them.
"use strict";

function runsView(params) {
  const filters = h("form", { class: "toolbar", onchange: () => load(true), onsubmit: (e) => { e.preventDefault(); load(true); } },
    h("select", { name: "account_id" }, h("option", { value: "" }, "all accounts")),
    h("select", { name: "family" }, h("option", { value: "" }, "all families"), ...familyOptions()),
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
