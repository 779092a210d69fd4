// Operations panels: the account page's health checks, token scopes, refresh preview and last
// failed refresh (opsAccountPanel), and the Services page's background jobs card (opsJobsCard).
// Loaded before app.js, whose helpers (h, api, act, can, when, badge, age) it uses when called.
"use strict";

function opsPre(value) { return h("pre", { class: "mono small" }, JSON.stringify(value, null, 2)); }

function opsAccountPanel(accountId) {
  const healthBox = h("div", { "data-testid": "health-panel" });
  const scopesBox = h("div", { "data-testid": "scopes-panel" });
  const refreshBox = h("div", { "data-testid": "refresh-panel" });
  const loadHealth = async () => {
    const health = await api(`/api/accounts/${accountId}/health?limit=10`);
    const head = h("h2", {}, "Health checks ", badge(health.status, { ok: "healthy", failing: "failed", unknown: "idle" }[health.status]));
    const rows = health.events.map((e) => h("tr", {},
      h("td", {}, when(e.checked_at)), h("td", {}, e.ok ? badge("ok", "healthy") : badge("failed")),
      h("td", {}, e.http_status ?? "—"), h("td", {}, e.latency_ms === null ? "—" : `${e.latency_ms} ms`),
      h("td", {}, e.username || "—"), h("td", { class: "small" }, e.error || "")));
    healthBox.replaceChildren(head,
      h("div", { class: "sub" }, "Identity getUser with the account's token, on the health check's schedule (Services → Background jobs)."),
      health.username_mismatch ? h("div", { class: "banner bad", "data-testid": "username-mismatch" }, "eBay answers for another username than this account was connected as: reconnect it.") : null,
      h("table", { "data-testid": "health-table" }, h("thead", {}, h("tr", {}, ["Checked", "Result", "HTTP", "Latency", "eBay username", "Error"].map((t) => h("th", {}, t)))),
        h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 6, class: "empty" }, "Not checked yet.")))));
  };
  const loadScopes = async () => {
    const s = await api(`/api/accounts/${accountId}/token/scopes`);
    const source = { token_response: "as eBay granted them (token response)", as_requested: "eBay named none: granted as requested", not_connected: "not connected" }[s.granted_source];
    scopesBox.replaceChildren(h("h2", {}, "Token scopes"),
      h("div", { class: "sub" }, `Granted scopes: ${source}.`),
      s.warning ? h("div", { class: "banner bad", "data-testid": "scope-warning" }, s.warning) : null,
      h("table", { "data-testid": "scopes-table" }, h("thead", {}, h("tr", {}, ["Needed by", "Scope", "Granted"].map((t) => h("th", {}, t)))),
        h("tbody", {}, s.needs.map((n) => h("tr", {}, h("td", {}, n.needed_by), h("td", { class: "small mono" }, n.scopes.join(" or ")), h("td", {}, n.granted ? badge("granted", "healthy") : badge("missing")))))));
  };
  const loadRefresh = async () => {
    if (!can("operator")) return;
    const failure = await api(`/api/accounts/${accountId}/token/last-failure`);
    const preview = h("div");
    refreshBox.replaceChildren(h("h2", {}, "Token refresh"),
      can("admin") ? h("div", { class: "toolbar" }, h("button", { onclick: async () => {
        const p = await act(null, () => api(`/api/accounts/${accountId}/token/preview-refresh`));
        if (p) preview.replaceChildren(h("div", { class: "sub" }, "The request a refresh would send, masked. Nothing was sent."), opsPre(p));
      } }, "Preview refresh")) : null,
      preview,
      h("h3", {}, "Last failed refresh"),
      failure.capture ? h("div", { "data-testid": "last-failure" }, h("div", { class: "sub" }, `${failure.capture.error} · HTTP ${failure.capture.response.status} · ${new Date(failure.capture.at).toLocaleString()}`), opsPre(failure.capture))
        : h("p", { class: "muted" }, "None recorded."));
  };
  loadHealth().catch(() => {});
  loadScopes().catch(() => {});
  loadRefresh().catch(() => {});
  return h("div", {}, healthBox, scopesBox, refreshBox);
}

function opsJobsCard() {
  if (!can("admin")) return h("div"); // jobs span every org: admins only
  const body = h("tbody");
  const box = h("div", { class: "card", "data-testid": "jobs-card", style: "margin-top:16px" },
    h("h2", { style: "margin-top:0" }, "Background jobs"),
    h("div", { class: "sub" }, "Periodic work of the services: one replica runs each job when it is due; disabled jobs do not run; Run now runs it within seconds."),
    h("table", {}, h("thead", {}, h("tr", {}, ["Job", "Service", "Interval", "Enabled", "Last run", "Last result", "Next run", ""].map((t) => h("th", {}, t)))), body));
  const load = async () => {
    const jobs = await api("/api/jobs");
    const post = (name, what) => act(`${name}: ${what}`, () => api(`/api/jobs/${name}/${what}`, { method: "POST" })).then(load);
    body.replaceChildren(...jobs.map((j) => h("tr", { dataset: { job: j.name } },
      h("td", {}, j.name), h("td", {}, j.service), h("td", {}, age(j.interval_seconds)),
      h("td", {}, j.enabled ? badge("enabled", "healthy") : badge("disabled")),
      h("td", {}, j.running_since ? badge("running") : when(j.last_run_at)),
      h("td", { class: "small" }, j.last_ok === null ? "—" : (j.last_ok ? badge("ok", "healthy") : badge("failed")), " ", j.last_result || ""),
      h("td", {}, j.run_requested_at ? "requested" : when(j.next_run_at)),
      h("td", {}, can("admin") ? [
        h("button", { onclick: () => post(j.name, j.enabled ? "disable" : "enable") }, j.enabled ? "Disable" : "Enable"),
        " ", h("button", { class: "primary", onclick: () => post(j.name, "run") }, "Run now")] : null))));
    if (!jobs.length) body.append(h("tr", {}, h("td", { colspan: 8, class: "empty" }, "No job registered yet.")));
  };
  load().catch(() => {});
  return box;
}
