// The notifications page (#/notifications): the org's open alerts, its rules with your own
// "email me" toggle, and (admins) the channels and rules themselves. Loaded before app.js,
// whose helpers (h, api, render, act, can, badge, when, toast) it uses when the router calls it.
"use strict";

const RULE_KINDS = {
  pair_failing: "a worker is failing",
  pair_paused: "a worker is paused by the circuit breaker",
  needs_reauth: "an account must be reconnected",
  consent_ending: "a seller's consent ends soon",
  quota_near_limit: "an eBay API's daily quota is near its limit",
};

function channelSummary(c) {
  const s = c.settings;
  const text = c.kind === "email" ? `${s.username ? s.username + " @ " : ""}${s.host}:${s.port} (${s.tls_mode}), from ${s.from_address}` : s.url;
  return h("span", {}, text, " ", badge(c.secret_set ? (c.kind === "email" ? "password set" : "signed") : "no secret", c.secret_set ? "healthy" : "missing"));
}

function notificationsView() {
  const alerts = h("tbody");
  const rules = h("tbody");
  const channels = h("tbody");
  const admin = can("admin");
  const emailForm = h("form", { class: "toolbar", "data-testid": "email-form", onsubmit: async (e) => {
    e.preventDefault();
    const f = new FormData(emailForm);
    const settings = { kind: "email", host: f.get("host"), port: Number(f.get("port")), tls_mode: f.get("tls_mode"), username: f.get("username") || null, password: f.get("password") || null, from_address: f.get("from_address") };
    if (await act("Email channel added", () => api("/api/notifications/channels", { method: "POST", body: { name: f.get("name"), settings } }))) { emailForm.reset(); load(); }
  } },
  h("input", { name: "name", placeholder: "name", required: true, maxlength: 100 }),
  h("input", { name: "host", placeholder: "SMTP host", required: true }),
  h("input", { name: "port", type: "number", value: "587", min: 1, max: 65535, style: "width:6em" }),
  h("select", { name: "tls_mode" }, ...["starttls", "tls", "none"].map((m) => h("option", { value: m }, m))),
  h("input", { name: "username", placeholder: "user", autocomplete: "off" }),
  h("input", { name: "password", type: "password", placeholder: "password", autocomplete: "new-password" }),
  h("input", { name: "from_address", placeholder: "from address", required: true }),
  h("button", { class: "primary", type: "submit" }, "Add email channel"));
  const hookForm = h("form", { class: "toolbar", "data-testid": "webhook-form", onsubmit: async (e) => {
    e.preventDefault();
    const f = new FormData(hookForm);
    const settings = { kind: "webhook", url: f.get("url"), secret: f.get("secret") || null };
    if (await act("Webhook added", () => api("/api/notifications/channels", { method: "POST", body: { name: f.get("name"), settings } }))) { hookForm.reset(); load(); }
  } },
  h("input", { name: "name", placeholder: "name", required: true, maxlength: 100 }),
  h("input", { name: "url", placeholder: "https://…", required: true, style: "min-width:280px" }),
  h("input", { name: "secret", type: "password", placeholder: "HMAC signing secret", autocomplete: "new-password" }),
  h("button", { class: "primary", type: "submit" }, "Add webhook"));
  const channelPick = h("select", { name: "channel_ids", multiple: true, "aria-label": "channels" });
  const ruleForm = h("form", { class: "toolbar", "data-testid": "rule-form", onsubmit: async (e) => {
    e.preventDefault();
    const f = new FormData(ruleForm);
    const body = { name: f.get("name"), kind: f.get("kind"), notify_recovered: f.get("notify_recovered") === "on", channel_ids: [...channelPick.selectedOptions].map((o) => Number(o.value)) };
    if (await act("Rule added", () => api("/api/notifications/rules", { method: "POST", body }))) { ruleForm.reset(); load(); }
  } },
  h("input", { name: "name", placeholder: "rule name", required: true, maxlength: 100 }),
  h("select", { name: "kind" }, ...Object.entries(RULE_KINDS).map(([k, t]) => h("option", { value: k }, t))),
  channelPick,
  h("label", {}, h("input", { type: "checkbox", name: "notify_recovered", checked: true }), " also when it recovers"),
  h("button", { class: "primary", type: "submit" }, "Add rule"));

  render(h("h1", {}, "Notifications"),
    h("div", { class: "sub" }, "One notice when a condition starts (and, if the rule says so, one when it ends), never one per run. Emails go to every user of the org who has not switched the rule off for themselves."),
    h("h2", {}, "Open alerts"),
    h("table", { "data-testid": "alerts-table" }, h("thead", {}, h("tr", {}, ["Since", "Rule", "About", "What", "Notices"].map((t) => h("th", {}, t)))), alerts),
    h("h2", {}, "Rules"),
    admin ? ruleForm : null,
    h("table", { "data-testid": "rules-table" }, h("thead", {}, h("tr", {}, ["Rule", "When", "Channels", "Email me", ""].map((t) => h("th", {}, t)))), rules),
    admin ? h("h2", {}, "Channels") : null,
    admin ? emailForm : null,
    admin ? hookForm : null,
    admin ? h("table", { "data-testid": "channels-table" }, h("thead", {}, h("tr", {}, ["Channel", "Kind", "Where", "State", ""].map((t) => h("th", {}, t)))), channels) : null);

  const load = async () => {
    const [open, ruleList, channelList] = await Promise.all([
      api("/api/notifications/alerts"), api("/api/notifications/rules"), admin ? api("/api/notifications/channels") : Promise.resolve([])]);
    const names = Object.fromEntries(channelList.map((c) => [c.id, c.name]));
    alerts.replaceChildren(...(open.length ? open.map((a) => h("tr", {},
      h("td", {}, when(a.opened_at)), h("td", {}, a.rule_name), h("td", { class: "small" }, a.subject), h("td", {}, a.summary),
      h("td", {}, `${a.notices_sent} sent${a.notices_pending ? `, ${a.notices_pending} pending` : ""}${a.notices_failed ? `, ${a.notices_failed} failed` : ""}`))) : [h("tr", {}, h("td", { colspan: 5, class: "empty" }, "Nothing is wrong right now."))]));
    rules.replaceChildren(...(ruleList.length ? ruleList.map((r) => h("tr", { dataset: { ruleId: r.id } },
      h("td", {}, r.name, r.enabled ? "" : h("span", { class: "muted" }, " (off)")),
      h("td", {}, RULE_KINDS[r.kind] || r.kind),
      h("td", {}, r.channel_ids.map((id) => names[id] || `#${id}`).join(", ") || "—"),
      h("td", {}, h("input", { type: "checkbox", "aria-label": `email me: ${r.name}`, checked: r.subscribed, onchange: (e) => act(e.target.checked ? "You will be emailed" : "You will not be emailed", () => api(`/api/notifications/rules/${r.id}/subscription`, { method: "PUT", body: { subscribed: e.target.checked } })) })),
      h("td", {}, admin ? h("span", {},
        h("button", { onclick: async () => { if (await act(null, () => api(`/api/notifications/rules/${r.id}`, { method: "PATCH", body: { enabled: !r.enabled } }))) load(); } }, r.enabled ? "Disable" : "Enable"), " ",
        h("button", { onclick: async () => { if (confirm(`Delete rule ${r.name}?`) && await act("Deleted", () => api(`/api/notifications/rules/${r.id}`, { method: "DELETE" }))) load(); } }, "Delete")) : ""))) : [h("tr", {}, h("td", { colspan: 5, class: "empty" }, "No rules yet."))]));
    channelPick.replaceChildren(...channelList.map((c) => h("option", { value: c.id }, c.name)));
    channels.replaceChildren(...(channelList.length ? channelList.map((c) => h("tr", { dataset: { channelId: c.id } },
      h("td", {}, c.name), h("td", {}, c.kind), h("td", { class: "small" }, channelSummary(c)),
      h("td", {}, c.enabled ? badge("on", "healthy") : badge("off", "missing")),
      h("td", {},
        h("button", { onclick: () => act((r) => (r.delivered ? "Test notice sent" : `Test failed: ${r.error}`), () => api(`/api/notifications/channels/${c.id}/test`, { method: "POST" })) }, "Test"), " ",
        h("button", { onclick: async () => { if (await act(null, () => api(`/api/notifications/channels/${c.id}`, { method: "PATCH", body: { enabled: !c.enabled } }))) load(); } }, c.enabled ? "Disable" : "Enable"), " ",
        h("button", { onclick: async () => { if (confirm(`Delete channel ${c.name}?`) && await act("Deleted", () => api(`/api/notifications/channels/${c.id}`, { method: "DELETE" }))) load(); } }, "Delete")))) : [h("tr", {}, h("td", { colspan: 5, class: "empty" }, "No channels yet."))]));
  };
  load().catch(() => {});
}
