// The hub's dashboard page: reads /api/summary, /api/health, /api/tasks and
// /api/tasks/{id} every few seconds and shows them. Every text from the API goes
// into the page as a text node (append, textContent): never as HTML.
"use strict";

(() => {
  const REFRESH_MS = 5000;
  const CATCHING_UP_MS = 1000;  // while the server is still reading Kafka
  const FILTERS = ["state", "severity", "rule", "owner", "institution", "overdue", "text"];
  const byId = (id) => document.getElementById(id);
  let selected = decodeURIComponent(location.hash.slice(1)) || null;
  let timer = null;

  // An element with attributes and children (strings become text nodes).
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      node.append(child instanceof Node ? child : String(child ?? ""));
    }
    return node;
  }

  const stamp = (iso) => {
    if (!iso) return "–";
    const when = new Date(iso);
    if (Number.isNaN(when.getTime())) return String(iso);
    return when.toLocaleString("sv-SE", { timeZone: "Europe/Oslo", dateStyle: "short", timeStyle: "short" });
  };

  const severityBadge = (severity) => el("span", { class: `badge sev-${String(severity).toLowerCase()}` }, severity);
  const stateBadge = (state) => el("span", { class: `badge state-${String(state).toLowerCase()}` }, state);

  async function getJson(url) {
    const response = await fetch(url, { cache: "no-store", headers: { Accept: "application/json" } });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || `${url}: HTTP ${response.status}`);
    return body;
  }

  function fillRows(tbody, rows, emptyText, columns) {
    if (rows.length === 0) {
      tbody.replaceChildren(el("tr", {}, el("td", { colspan: columns, class: "empty" }, emptyText)));
      return;
    }
    tbody.replaceChildren(...rows);
  }

  function countRows(id, rows, label = (key) => key) {
    const tbody = byId(id).tBodies[0];
    fillRows(
      tbody,
      rows.map((row) =>
        el("tr", {}, el("th", { scope: "row" }, label(row.key)), el("td", { class: "num" }, row.count),
          el("td", { class: row.overdue ? "num overdue" : "num" }, row.overdue))),
      "none open",
      3,
    );
  }

  // Renders only what changed: a redraw would lose a person's text selection or
  // close an open drop-down every few seconds.
  const drawn = new Map();
  function changed(part, data) {
    const text = JSON.stringify(data);
    if (drawn.get(part) === text) return false;
    drawn.set(part, text);
    return true;
  }

  function setChoices(name, values) {
    const select = byId(`f-${name}`);
    const current = select.value;
    if (!changed(`choices-${name}`, [values, current])) return;
    const first = select.options[0];
    const options = [first.cloneNode(true)];
    const shown = new Set(values);
    if (current && !shown.has(current)) values = [...values, current];
    for (const value of values) options.push(el("option", { value }, value));
    select.replaceChildren(...options);
    select.value = current;
  }

  function showSummary(summary) {
    for (const [name, value] of Object.entries(summary.tiles)) {
      const tile = byId(`tile-${name}`);
      if (tile) tile.textContent = String(value);
    }
    countRows("by-rule", summary.open_by_rule);
    countRows("by-severity", summary.open_by_severity, (key) => severityBadge(key));
    countRows("by-owner", summary.open_by_owner);
    const most = Math.max(1, ...summary.open_by_age.map((bucket) => bucket.count));
    byId("by-age").tBodies[0].replaceChildren(...summary.open_by_age.map((bucket) => {
      const bar = el("span", { class: "bar", "aria-hidden": "true" });
      bar.style.width = `${Math.round((100 * bucket.count) / most)}%`;
      return el("tr", {}, el("th", { scope: "row" }, bucket.label), el("td", { class: "bar-cell" }, bar),
        el("td", { class: "num" }, bucket.count));
    }));
    for (const name of ["state", "severity", "rule", "owner", "institution"]) {
      setChoices(name, summary.choices[name]);
    }
    return summary;
  }

  function fact(list, term, ...value) {
    list.append(el("dt", {}, term), el("dd", {}, ...value));
  }

  function showHealth(health) {
    const facts = byId("health-facts");
    facts.replaceChildren();
    const kafka = health.kafka;
    const mark = kafka.ok === null ? "checking" : kafka.ok ? "ok" : "FAILED";
    fact(facts, "Kafka", el("span", { class: `badge health-${mark.toLowerCase()}` }, mark), ` ${kafka.message}`);
    for (const topic of health.topics) {
      const state = topic.error ? topic.error : topic.caught_up ? "up to date" : "reading…";
      fact(facts, topic.topic, `${topic.records} records read, ${state}`);
    }
    const dead = health.dead_letters;
    fillRows(byId("dead-letters").tBodies[0], dead.by_stage.map((row) =>
      el("tr", {}, el("th", { scope: "row" }, row.key), el("td", { class: "num" }, row.count))), `none on ${dead.topic}`, 2);
    fillRows(byId("recent-dead-letters").tBodies[0], dead.recent.map((item) =>
      el("tr", {}, el("td", {}, stamp(item.failed_at)), el("td", {}, item.stage),
        el("td", {}, item.connector ? `${item.connector} (${item.source_topic || "?"})` : item.source_topic || "–"),
        el("td", {}, item.error_type ? `${item.error_type}: ${item.error || ""}` : item.error || "–"))),
      "no dead letters", 4);
    fillRows(byId("lag").tBodies[0], health.lag.groups.map((group) =>
      el("tr", {}, el("th", { scope: "row" }, group.group), el("td", { class: group.lag ? "num behind" : "num" }, group.lag))),
      "no consumer group has committed yet", 2);
    fillRows(byId("connectors").tBodies[0], health.connectors.map((c) =>
      el("tr", {}, el("th", { scope: "row" }, c.name), el("td", { title: c.last_error || null }, c.state),
        el("td", {}, stamp(c.last_success_at)), el("td", { class: "num" }, c.lag ?? "–"),
        el("td", { class: "num" }, c.dead_letters))),
      "no connector has reported yet", 5);
    return health;
  }

  function filterQuery() {
    const form = byId("filters");
    const query = new URLSearchParams();
    for (const name of FILTERS) {
      const value = form.elements[name].value.trim();
      if (value) query.set(name, value);
    }
    return query;
  }

  function showTasks(found) {
    if (!changed("tasks", found)) return;
    const rows = found.tasks.map((task) => {
      const open = el("button", { type: "button", class: "linkish", "data-task-id": task.task_id }, task.title_en);
      open.addEventListener("click", () => selectTask(task.task_id));
      const person = el("td", {}, task.display_name || "–", el("br"), el("code", {}, task.person_key || ""));
      const due = el("td", { class: task.overdue ? "overdue" : null }, el("span", { class: "date" }, task.due_date || "–"),
        task.overdue ? el("span", { class: "badge overdue-badge" }, "overdue") : "");
      return el("tr", {
        "data-task-id": task.task_id,
        "data-rule": task.rule_id,
        "data-severity": task.severity,
        "data-state": task.state,
        class: task.task_id === selected ? "selected" : null,
        "aria-selected": task.task_id === selected ? "true" : null,
      },
      el("td", {}, severityBadge(task.severity)),
      el("td", {}, open, el("br"), el("span", { class: "rule" }, task.rule_id)),
      person,
      el("td", {}, task.owner_group),
      el("td", {}, stateBadge(task.state), task.escalated ? el("span", { class: "badge escalated" }, "escalated") : ""),
      due,
      el("td", { class: "num" }, `${task.age_days} d`));
    });
    fillRows(byId("task-list").tBodies[0], rows, "No task matches the filters.", 7);
    const more = found.total > found.shown ? ` (showing the first ${found.shown})` : "";
    byId("task-count").textContent = `${found.total} task${found.total === 1 ? "" : "s"} match${found.total === 1 ? "es" : ""}${more}.`;
  }

  function evidenceRows(tbody, evidence) {
    fillRows(tbody, evidence.map((item) =>
      el("tr", {}, el("td", {}, item.system), el("td", {}, item.field),
        el("td", {}, item.value ?? "–"), el("td", {}, stamp(item.source_timestamp)))), "none", 4);
  }

  function showDetail(task) {
    const pane = byId("task-detail");
    if (!changed("detail", task) && !pane.hidden) return;
    pane.dataset.taskId = task.task_id;
    byId("detail-title").textContent = task.title_en;
    byId("detail-title-nb").textContent = task.title_nb;
    const facts = byId("detail-facts");
    facts.replaceChildren();
    fact(facts, "Person", task.display_name || "–", " ", el("code", {}, task.person_key || task.subject));
    fact(facts, "State", stateBadge(task.state), task.escalated ? " escalated" : "");
    fact(facts, "Severity", severityBadge(task.severity));
    fact(facts, "Rule", el("code", {}, task.rule_id));
    fact(facts, "Owner", task.queue ? `${task.owner_group} (queue ${task.queue})` : task.owner_group);
    fact(facts, "Institution", task.institution);
    fact(facts, "Due", task.due_date || "–", task.overdue ? el("span", { class: "badge overdue-badge" }, "overdue") : "");
    fact(facts, "Opened", `${stamp(task.opened_at)} (${task.age_days} d ago)`);
    fact(facts, "Updated", stamp(task.updated_at));
    if (task.resolved_at) fact(facts, "Resolved", stamp(task.resolved_at));
    fact(facts, "Revision", task.revision);
    fact(facts, "Task id", el("code", {}, task.task_id));
    byId("detail-description-en").textContent = task.description_en;
    byId("detail-description-nb").textContent = task.description_nb;
    byId("detail-fix-en").textContent = task.suggested_fix_en;
    byId("detail-fix-nb").textContent = task.suggested_fix_nb;
    evidenceRows(byId("detail-evidence").tBodies[0], task.evidence);
    const resolution = task.resolution_evidence || [];
    byId("detail-resolution").hidden = resolution.length === 0;
    evidenceRows(byId("detail-resolution-evidence").tBodies[0], resolution);
    const exception = byId("detail-exception");
    exception.replaceChildren();
    if (task.exception) {
      fact(exception, "Accepted by", task.exception.accepted_by);
      fact(exception, "Reason", task.exception.reason);
      fact(exception, "Accepted at", stamp(task.exception.accepted_at));
      fact(exception, "Expires", task.exception.expires_at ? stamp(task.exception.expires_at) : "when withdrawn");
    } else {
      fact(exception, "None", "no accepted exception");
    }
    pane.hidden = false;
  }

  function markSelected() {
    for (const row of byId("task-list").tBodies[0].rows) {
      const chosen = row.dataset.taskId === selected;
      row.classList.toggle("selected", chosen);
      if (chosen) row.setAttribute("aria-selected", "true");
      else row.removeAttribute("aria-selected");
    }
  }

  async function refreshDetail() {
    if (!selected) return;
    try {
      showDetail(await getJson(`/api/tasks/${encodeURIComponent(selected)}`));
    } catch (error) {
      drawn.delete("detail");
      byId("detail-title").textContent = `Task ${selected}: ${error.message}`;
    }
  }

  function selectTask(taskId) {
    selected = taskId;
    history.replaceState(null, "", `#${encodeURIComponent(taskId)}`);
    markSelected();
    refreshDetail().then(() => byId("detail-title").focus?.());
  }

  let asked = 0;  // the newest list asked for wins, whatever order the answers come in
  async function refreshTasks() {
    const mine = ++asked;
    const found = await getJson(`/api/tasks?${filterQuery()}`);
    if (mine === asked) showTasks(found);
  }

  async function refresh() {
    clearTimeout(timer);
    let next = REFRESH_MS;
    try {
      const [summary, health] = await Promise.all([getJson("/api/summary"), getJson("/api/health")]);
      showSummary(summary);
      showHealth(health);
      await refreshTasks();
      await refreshDetail();
      const reading = summary.loading ? `reading ${summary.source}…` : `${summary.tiles.total} tasks on ${summary.source}`;
      const kafka = health.kafka.ok === false ? "Kafka does not answer · " : "";
      byId("status").textContent = `${kafka}${reading} · today ${summary.today} · updated ${stamp(summary.generated_at)}`;
      const settled = !summary.loading && health.kafka.ok !== null && health.topics.every((t) => t.caught_up);
      document.body.dataset.loaded = settled ? "yes" : "loading";
      next = settled ? REFRESH_MS : CATCHING_UP_MS;
    } catch (error) {
      byId("status").textContent = `Cannot reach the dashboard server: ${error.message}`;
      next = REFRESH_MS;
    } finally {
      timer = setTimeout(refresh, next);
    }
  }

  let typing = null;
  const form = byId("filters");
  form.addEventListener("submit", (event) => { event.preventDefault(); refreshTasks(); });
  form.addEventListener("change", () => refreshTasks());
  form.addEventListener("input", (event) => {
    if (event.target.name !== "text") return;
    clearTimeout(typing);
    typing = setTimeout(refreshTasks, 250);
  });
  form.addEventListener("reset", () => setTimeout(refreshTasks, 0));
  byId("detail-close").addEventListener("click", () => {
    selected = null;
    history.replaceState(null, "", location.pathname);
    byId("task-detail").hidden = true;
    markSelected();
  });
  byId("detail-title").tabIndex = -1;
  refresh();
})();
