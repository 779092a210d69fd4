// The Budget page: the scheduler's latest plan of eBay calls (per API the quota, used today,
// projected for the day and the reset; per family the freshness the plan achieves; the pairs
// slowed down and why) and the quotas as eBay last reported them (getRateLimits). Loaded before
// app.js, whose helpers (h, api, render, badge, when, stamp, age) it uses when the router calls it.
"use strict";

function budgetNumber(n) { return n === null || n === undefined ? "—" : Number(n).toLocaleString(); }
function budgetShare(x) { return x === null || x === undefined ? "—" : `${(100 * x).toFixed(1)} %`; }
function budgetSpan(seconds) { return seconds === null || seconds === undefined ? "—" : age(seconds); }

function budgetApis(report) {
  const rows = report.apis.map((a) => h("tr", { dataset: { api: a.api } },
    h("td", {}, a.api), h("td", {}, budgetNumber(a.quota)), h("td", {}, budgetNumber(a.budget)),
    h("td", {}, budgetNumber(a.used_today)), h("td", {}, budgetNumber(a.projected_today)),
    h("td", {}, badge(budgetShare(a.share_used), a.share_used > 0.9 ? "failed" : a.share_used > 0.7 ? "stale" : "healthy"))));
  return h("table", { "data-testid": "budget-apis" },
    h("thead", {}, h("tr", {}, ["API", "Quota", "Budget", "Used today", "Projected today", "Share"].map((t) => h("th", {}, t)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 6, class: "empty" }, "No API planned."))));
}

function budgetFamilies(report) {
  const rows = report.families.map((f) => h("tr", { dataset: { family: f.family } },
    h("td", {}, f.family), h("td", {}, budgetNumber(f.pairs)), h("td", {}, f.calls_per_run.toFixed(1)),
    h("td", {}, `${budgetSpan(f.aim_seconds)} → ${budgetSpan(f.worst_seconds)}`), h("td", {}, budgetSpan(f.interval_seconds)),
    h("td", {}, `${budgetSpan(f.median_staleness_seconds)} / ${budgetSpan(f.worst_staleness_seconds)}`),
    h("td", {}, f.within_aim ? badge("within aim", "healthy") : badge("slowed", "stale")),
    h("td", {}, budgetNumber(f.slowed_pairs)), h("td", { class: "reason small" }, f.reason || "")));
  return h("table", { "data-testid": "budget-families" },
    h("thead", {}, h("tr", {}, ["Family", "Pairs", "Calls / run", "Aim → most", "Poll every", "Staleness median / worst", "", "Slowed", "Why"].map((t) => h("th", {}, t)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 9, class: "empty" }, "No family planned."))));
}

function budgetSlowed(report, names) {
  const rows = report.slowed.map((s) => h("tr", {},
    h("td", {}, h("a", { href: `#/accounts/${s.account_id}` }, names[s.account_id] || String(s.account_id))),
    h("td", {}, s.family), h("td", {}, budgetSpan(s.interval_seconds)), h("td", { class: "reason small" }, s.reason)));
  return h("table", { "data-testid": "budget-slowed" },
    h("thead", {}, h("tr", {}, ["Account", "Family", "Poll every", "Why"].map((t) => h("th", {}, t)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 4, class: "empty" }, "No pair is slowed down."))));
}

function budgetReading(reading) {
  const head = h("div", { class: "sub" }, reading.read_at
    ? ["Read ", when(reading.read_at), " by the token service's quota_read job (Services → Background jobs).", reading.ok ? null : h("span", { class: "error" }, ` Failed: ${reading.detail || "unknown"}`)]
    : "Never read: the quota_read job has not run yet.");
  const rows = reading.rates.map((r) => h("tr", {},
    h("td", {}, `${r.api_context || "?"} / ${r.api_name || "?"}`), h("td", {}, r.resource || "—"),
    h("td", {}, budgetNumber(r.limit)), h("td", {}, budgetNumber(r.count)), h("td", {}, budgetNumber(r.remaining)),
    h("td", {}, r.time_window === null ? "—" : budgetSpan(r.time_window)), h("td", {}, stamp(r.reset))));
  return [head, h("table", { "data-testid": "budget-reading" },
    h("thead", {}, h("tr", {}, ["API", "Resource", "Limit", "Count", "Remaining", "Window", "Resets"].map((t) => h("th", {}, t)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 7, class: "empty" }, "No rate reported."))))];
}

function budgetView() {
  const box = h("div", { "data-testid": "budget-page" });
  render(h("h1", {}, "Budget"),
    h("div", { class: "sub" }, "eBay limits calls per application and day (reset at midnight US Pacific). The scheduler plans every poll inside these quotas and slows pairs down where it must."),
    box);
  const names = {};
  const load = async () => {
    const b = await api("/api/budget?slowed_limit=200");
    const report = b.report;
    const parts = [h("dl", { class: "facts card" },
      h("dt", {}, "Quotas reset"), h("dd", { "data-testid": "budget-reset" }, stamp(b.resets_at)),
      h("dt", {}, "Plan computed"), h("dd", {}, report ? when(report.computed_at) : "not yet"),
      h("dt", {}, "Quotas from"), h("dd", { "data-testid": "budget-source" }, report ? report.quota_source : "—"))];
    if (report && report.quota_source !== "ebay") parts.push(h("div", { class: "banner bad", "data-testid": "budget-fallback" }, "Quotas come from the configuration, not from eBay's reading", report.notes.length ? ":" : ".", ...report.notes.map((n) => h("div", { class: "small" }, n))));
    else if (report && report.notes.length) parts.push(h("div", { class: "banner" }, ...report.notes.map((n) => h("div", { class: "small" }, n))));
    if (report) parts.push(h("h2", {}, "Per API"), budgetApis(report), h("h2", {}, "Per family"), budgetFamilies(report), h("h2", {}, "Pairs slowed down"), budgetSlowed(report, names));
    else parts.push(h("p", { class: "empty" }, "The scheduler has not stored a budget plan yet."));
    parts.push(h("h2", {}, "Quotas as eBay reports them"), ...budgetReading(b.reading));
    box.replaceChildren(...parts);
  };
  api("/api/accounts?include_inactive=true").then((accounts) => { for (const a of accounts) names[a.id] = a.house_name; }).catch(() => {}).finally(() => load().catch((e) => box.replaceChildren(h("p", { class: "error" }, e.message))));
  const timer = setInterval(() => load().catch(() => {}), 15000);
  return () => clearInterval(timer);
}
