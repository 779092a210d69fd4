// The run page's log panel: a terminal-like view of the run's log lines (live with the run),
// a download of the whole log, and Cancel for operators while the run is open. Loaded before
// app.js, whose helpers (h, api, act, can, state, stamp) it uses when runView calls it.
"use strict";

const OPEN_RUN = new Set(["queued", "running"]);

function runLogLine(line) {
  const page = line.page_no === null ? "" : ` page ${line.page_no}`;
  const id = line.ebay_request_id ? ` [eBay request id ${line.ebay_request_id}]` : "";
  return `${stamp(line.at)} ${line.source}${page} ${line.kind}: ${line.message}${id}`;
}

async function downloadRunLog(runId) {
  const response = await fetch(`/api/runs/${runId}/log.txt`, { headers: { Authorization: `Bearer ${state.token}` } });
  if (!response.ok) { toast(`Download failed: HTTP ${response.status}`, true); return; }
  const link = h("a", { href: URL.createObjectURL(await response.blob()), download: `run-${runId}.log` });
  link.click();
  URL.revokeObjectURL(link.href);
}

function runLogPanel(runId) {
  const screen = h("pre", { "data-testid": "run-log", class: "run-log" });
  const actions = h("div", { class: "toolbar" });
  const element = h("div", {}, h("h2", {}, "Log"), actions, screen);
  const update = (run) => {
    const atBottom = screen.scrollTop + screen.clientHeight >= screen.scrollHeight - 4;
    screen.textContent = run.log.length ? run.log.map(runLogLine).join("\n") : "No line yet.";
    if (atBottom) screen.scrollTop = screen.scrollHeight;
    const cancel = can("operator") && OPEN_RUN.has(run.status)
      ? h("button", { class: "danger", "data-testid": "cancel-run", onclick: async () => {
        if (confirm("Cancel this run? Its fetcher stops before the next eBay call; the cursor stays.")) {
          await act("Run cancelled", () => api(`/api/runs/${runId}/cancel`, { method: "POST", body: {} }));
        }
      } }, "Cancel run")
      : null;
    actions.replaceChildren(h("button", { onclick: () => downloadRunLog(runId) }, "Download log"), ...(cancel ? [cancel] : []));
  };
  return { element, update };
}
