// eBay push on the account page: the subscriptions at eBay and their state, why a topic is
// unavailable ("push unavailable for F: reconnect"), the last notification per topic and a
// counter per family (pushAccountPanel); and the Workers table's "live" mark for a pair whose
// notifications flow (pushLiveBadge). Loaded before app.js, whose helpers (h, api, badge, when)
// it uses when called.
"use strict";

// account id -> Set of families with a notification in the last ADMIN_API_PUSH__LIVE_MINUTES.
const pushLive = new Map();

function pushLiveBadge(accountId, family) {
  const families = pushLive.get(Number(accountId));
  return families && families.has(family)
    ? h("span", { class: "badge healthy", "data-testid": "push-live", title: "its eBay notifications flow" }, "live")
    : null;
}

function pushMarkLive(accountId, families) {
  pushLive.set(Number(accountId), new Set(families.filter((f) => f.live).map((f) => f.family)));
  // The workers table redraws on its own snapshots; mark the rows already drawn too.
  document.querySelectorAll("tr[data-family]").forEach((row) => {
    const cell = row.children[1];
    if (!cell) return;
    cell.querySelectorAll("[data-testid=push-live]").forEach((b) => b.remove());
    const mark = pushLiveBadge(accountId, row.dataset.family);
    if (mark) cell.append(" ", mark);
  });
}

const PUSH_STATUS_KIND = { ENABLED: "healthy", DISABLED: "stale", UNAVAILABLE: "missing", FAILED: "failed" };

function pushAccountPanel(accountId) {
  const box = h("div", { "data-testid": "push-panel" });
  const load = async () => {
    let push;
    try { push = await api(`/api/accounts/${accountId}/push`); } catch (e) { box.replaceChildren(h("p", { class: "error" }, e.message)); return; }
    pushMarkLive(accountId, push.families);
    const last = new Map(push.topics.map((t) => [t.topic, t]));
    const rows = push.subscriptions.map((s) => h("tr", { dataset: { topic: s.topic } },
      h("td", {}, s.topic, h("div", { class: "muted small" }, s.api === "trading" ? "Trading Platform Notifications" : "Notification API")),
      h("td", { class: "small" }, s.family || "—"),
      h("td", {}, badge(s.status.toLowerCase(), PUSH_STATUS_KIND[s.status] || "idle")),
      h("td", { class: "reason small" }, s.detail || ""),
      h("td", {}, when(s.checked_at)),
      h("td", {}, s.repairs ? [String(s.repairs), h("div", { class: "muted small" }, when(s.repaired_at))] : "0"),
      h("td", {}, last.has(s.topic) ? [String(last.get(s.topic).count), h("div", { class: "muted small" }, when(last.get(s.topic).last_received_at))] : h("span", { class: "muted" }, "none"))));
    const families = push.families.map((f) => h("span", { class: "card small", dataset: { family: f.family } },
      h("strong", {}, f.family), ` ${f.count} notifications, last `, when(f.last_received_at), " ", f.live ? badge("live", "healthy") : null));
    box.replaceChildren(
      h("h2", {}, "Push notifications ", push.enabled ? null : badge("off", "idle")),
      h("div", { class: "sub" }, "eBay's subscriptions for this account, kept by the push subscriptions job (Services → Background jobs)."),
      ...push.unavailable.map((reason) => h("div", { class: "banner bad", "data-testid": "push-unavailable" }, reason)),
      h("table", { "data-testid": "push-table" },
        h("thead", {}, h("tr", {}, ["Topic", "Family", "State", "Detail", "Checked", "Repairs", "Received"].map((t) => h("th", {}, t)))),
        h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 7, class: "empty" }, "No subscriptions yet.")))),
      h("div", { class: "toolbar" }, families.length ? families : h("span", { class: "muted" }, "No notifications received yet.")));
  };
  load();
  const timer = setInterval(() => { if (box.isConnected) load(); else clearInterval(timer); }, 15000);
  return box;
}
