// Tourniquet fleet dashboard: confirmation of consequential actions, a filter for the server rows, and the
// page's automatic refresh. Everything works without this script; it only adds these.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const body = document.body;
  // The parts of the page a refresh replaces. The filter field is not one of them: what the user typed stays.
  const LIVE_PARTS = ["org", "attention", "matrix", "rollouts", "audit"];
  // Bumped by every submitted form: a refresh that was under way then is thrown away, not shown.
  let generation = 0;
  let leaving = false;

  // Confirmations, on the document so that the forms a refresh brings have them too.
  document.addEventListener("submit", (event) => {
    const form = event.target;
    generation++;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    leaving = true;
  });

  const filter = document.getElementById("filter");
  const applyFilter = () => {
    if (!filter) {
      return;
    }
    const text = filter.value.trim().toLowerCase();
    for (const row of document.querySelectorAll("#matrix tbody tr.server")) {
      row.hidden = text !== "" && !row.dataset.server.toLowerCase().includes(text);
    }
  };
  if (filter) {
    filter.addEventListener("input", applyFilter);
  }

  const every = Number(body.dataset.refreshMs);
  const status = document.getElementById("refresh-status");
  if (!Number.isFinite(every) || every <= 0 || !status) {
    return; // not the dashboard page
  }
  let timer = null;
  let ended = false;
  let skipped = 0;
  body.dataset.refresh = "live";
  body.dataset.skipped = "0";

  const say = (text) => {
    status.textContent = text;
  };
  const clock = () => new Date().toLocaleTimeString();
  // A user typing in a field keeps the page still: the refresh waits until the field loses the focus.
  const typing = () => {
    const a = document.activeElement;
    return a instanceof HTMLElement && a.matches("input, textarea, select, [contenteditable]");
  };

  const schedule = (delay) => {
    window.clearTimeout(timer);
    if (!ended && !leaving) {
      timer = window.setTimeout(tick, delay);
    }
  };

  const endSession = (why) => {
    ended = true;
    window.clearTimeout(timer);
    body.dataset.refresh = "ended";
    say("Not updated");
    const notice = document.createElement("p");
    notice.id = "session-ended";
    notice.className = "notice";
    notice.setAttribute("role", "alert");
    notice.append("Your session has ended" + (why ? " (" + why + ")" : "") + ", so this page is no longer updated. ");
    const link = document.createElement("a");
    link.href = "/login";
    link.textContent = "Log in again";
    notice.append(link);
    document.querySelector("main").prepend(notice);
  };

  const replace = (html) => {
    const fresh = new DOMParser().parseFromString(html, "text/html");
    const parts = LIVE_PARTS.map((id) => [document.getElementById(id), fresh.getElementById(id)]);
    if (parts.some(([now, next]) => !now || !next)) {
      throw new Error("the answer is not the dashboard");
    }
    for (const [now, next] of parts) {
      now.replaceWith(document.adoptNode(next));
    }
    applyFilter();
  };

  async function refresh() {
    const mine = ++generation;
    const abort = new AbortController();
    const limit = window.setTimeout(() => abort.abort(), Math.max(every, 10000));
    try {
      const answer = await fetch("/dashboard/live" + window.location.search, {
        credentials: "same-origin", redirect: "error", cache: "no-store", signal: abort.signal,
        headers: {"Accept": "text/html"}});
      const text = await answer.text();
      if (mine !== generation || leaving) {
        return; // a form was submitted meanwhile
      }
      if (answer.status === 401) {
        // The server says why in parentheses: "… has ended (logged out, not used for PT30M, …); log in again".
        let why = "";
        try {
          const said = /\(([^()]*)\)/.exec(JSON.parse(text).error);
          why = said ? said[1] : "";
        } catch (e) {
          // no reason given: the notice goes without
        }
        endSession(why);
        return;
      }
      if (!answer.ok) {
        say("Update failed at " + clock() + " (HTTP " + answer.status + "); retrying");
        return;
      }
      replace(text);
      say("Updated " + clock());
    } catch (e) {
      if (mine === generation && !leaving) {
        say("Update failed at " + clock() + " (" + (e.name === "AbortError" ? "no answer" : "server unreachable")
            + "); retrying");
      }
    } finally {
      window.clearTimeout(limit);
    }
  }

  async function tick() {
    if (document.hidden) {
      schedule(every); // caught up on becoming visible
      return;
    }
    if (typing()) {
      skipped++;
      body.dataset.skipped = String(skipped);
      schedule(every);
      return;
    }
    await refresh();
    schedule(every);
  }

  const pause = () => {
    if (!ended && typing()) {
      body.dataset.refresh = "paused";
      say("Paused while you type");
    }
  };
  const resume = () => {
    // The focus may move to another field: still typing.
    window.setTimeout(() => {
      if (!ended && !typing() && body.dataset.refresh === "paused") {
        body.dataset.refresh = "live";
        say("Updating…");
        schedule(0);
      }
    }, 0);
  };
  document.addEventListener("focusin", pause);
  document.addEventListener("focusout", resume);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && body.dataset.refresh === "live") {
      schedule(0);
    }
  });
  say("Updated " + clock());
  pause();
  schedule(every);
});
