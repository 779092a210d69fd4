// The event inbox page (#/events). Loaded before app.js, whose helpers (h, api, render, when,
// badge, familyOptions) it uses when the router calls it.
"use strict";

const TOPICS = ["ORDER_READY_TO_SHIP", "RETURN_OPENED", "CASE_OPENED", "PAYMENT_DISPUTE_OPENED", "LISTING_ENDED"];

// A changed field as "old → new", short enough for a table cell.
function changeText(field, change) {
  const show = (v) => { const t = v === null || v === undefined ? "∅" : typeof v === "object" ? JSON.stringify(v) : String(v); return t.length > 60 ? `${t.slice(0, 57)}…` : t; };
  return `${field}: ${show(change.old)} → ${show(change.new)}`;
}

function eventsView(params) {
  const filters = h("form", { class: "toolbar", onchange: () => load(true), onsubmit: (e) => { e.preventDefault(); load(true); } },
    h("select", { name: "account_id" }, h("option", { value: "" }, "all accounts")),
    h("select", { name: "family" }, h("option", { value: "" }, "all families"), ...familyOptions()),
    h("select", { name: "change_kind" }, h("option", { value: "" }, "any change"), ...["created", "changed", "ended"].map((k) => h("option", { value: k }, k))),
    h("select", { name: "topic" }, h("option", { value: "" }, "any topic"), ...TOPICS.map((t) => h("option", { value: t }, t))),
    h("input", { name: "entity_id", placeholder: "entity id", "aria-label": "entity id" }));
  const body = h("tbody");
  const more = h("button", { onclick: () => load(false) }, "Load more");
  render(h("h1", {}, "Events"), h("div", { class: "sub" }, "Every change the mirror recorded, newest first, with old and new values; business events carry a topic."), filters,
    h("table", { "data-testid": "events-table" }, h("thead", {}, h("tr", {}, ["When", "Account", "Family", "Entity", "Change", "Topic", "What changed"].map((t) => h("th", {}, t)))), body),
    h("div", { class: "toolbar" }, more));
  let cursor = null;
  const load = async (reset) => {
    if (reset) { cursor = null; body.replaceChildren(); }
    const query = new URLSearchParams({ limit: "50" });
    if (cursor) query.set("cursor", cursor);
    for (const [k, v] of new FormData(filters)) if (v) query.set(k, v);
    const page = await api(`/api/events?${query}`);
    cursor = page.next_cursor;
    more.hidden = !cursor;
    body.append(...page.events.map((e) => h("tr", { dataset: { eventId: e.id } },
      h("td", {}, when(e.occurred_at)),
      h("td", {}, h("a", { href: `#/accounts/${e.account_id}` }, e.house_name || e.account_id)),
      h("td", {}, e.family), h("td", { class: "small" }, e.entity_id), h("td", {}, badge(e.change_kind)),
      h("td", {}, e.topic ? badge(e.topic, "running") : ""),
      h("td", { class: "small" }, e.changes ? h("ul", {}, Object.entries(e.changes).map(([f, c]) => h("li", {}, changeText(f, c)))) : ""))));
    if (!body.children.length) body.append(h("tr", {}, h("td", { colspan: 7, class: "empty" }, "No events match.")));
  };
  api("/api/accounts?include_inactive=true").then((accounts) => {
    for (const a of accounts) filters.elements.account_id.append(h("option", { value: a.id }, a.house_name));
    for (const name of ["account_id", "family", "topic", "entity_id"]) if (params.get(name)) filters.elements[name].value = params.get(name);
    load(true);
  }).catch(() => {});
}

