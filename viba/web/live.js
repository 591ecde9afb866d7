// Live jobs without script runs. The parts of a page that show unfinished generations each
// hand this component what they drew (each job's version; the page's watcher: the ids of its
// owner's running jobs). One request at a time for the whole page asks the app's own route
// (/live, viba.web.live), which answers once something differs from its last answer (or after
// a while, unchanged). A part whose jobs changed is run again (its fragment) through a
// trigger. When the running jobs changed, the page's watcher runs the whole page, which draws
// every part anew; unless each job that began or ended is one a part of the page draws (a job
// card draws its job finished itself): then the watcher takes the new list as its own. The
// tab title's count follows every answer.
//
// data: {url: the route's address for this login, jobs: {id: version}, running: [ids] or
// null (a part, not the watcher), done: every job of the part has ended (it is not asked
// about, and the part is not run again), every: ms}. Nothing from data or an answer is
// written into the page but the count in the title.
const parts = new Set();
let url = null;
let every = 1000;
let asking = null; // the AbortController of the request loop running, if any
let asked = ""; // the ids it asks about
let restarting = null;

const REFIRE_MS = 5000; // a part told to run that drew nothing new is told again after this
const MAX_IDS = 60; // as the route's limit
const FIRE_GAP_MS = 100; // between the triggers of parts that changed at once

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

// A part that still has something to ask about: an unfinished job, or running jobs to watch.
const asks = (p) => !p.done && (p.running === null ? Object.keys(p.jobs).length > 0 : p.running !== "");

function wanted() {
  const ids = [...parts].filter((p) => p.running === null && !p.done).flatMap((p) => Object.keys(p.jobs));
  return [...new Set(ids)].sort().slice(0, MAX_IDS).join(",");
}

// The watcher's verdict on an answer: "page" (a job began or ended that no part draws),
// "same", or "drawn" (the change is all in jobs the parts draw).
function watched(part, answer) {
  const was = new Set(part.running ? part.running.split(",") : []);
  const now = new Set(answer.running);
  const moved = [...was].filter((id) => !now.has(id)).concat([...now].filter((id) => !was.has(id)));
  if (!moved.length) return "same";
  const drawn = new Set([...parts].filter((p) => p.running === null).flatMap((p) => Object.keys(p.jobs)));
  return moved.every((id) => drawn.has(id)) ? "drawn" : "page";
}

function differs(part, answer) {
  if (part.done) return false;
  return Object.entries(part.jobs).some(([id, version]) => (answer.jobs[id] ?? "gone") !== version);
}

function count(running) {
  const title = document.title.replace(/^\(\d+\) /, "");
  document.title = (running ? `(${running}) ` : "") + title;
}

function act(answer) {
  count(answer.running.length);
  const now = Date.now();
  const page = [];
  for (const watcher of [...parts].filter((p) => p.running !== null && !p.done)) {
    const verdict = watched(watcher, answer);
    if (verdict === "page") page.push(watcher);
    if (verdict === "drawn") watcher.running = [...answer.running].sort().join(",");
  }
  const changed = page.length ? page : [...parts].filter((p) => differs(p, answer));
  // One at a time: Streamlit sends the triggers of one moment as one request, which runs
  // the fragment of only one of them.
  changed
    .filter((p) => now - p.fired > REFIRE_MS)
    .forEach((part, i) => {
      part.fired = now;
      setTimeout(() => parts.has(part) && part.fire(), i * FIRE_GAP_MS);
    });
}

async function ask(controller, ids) {
  let known = ""; // the digest of the last answer: the route waits until its answer differs
  let quiet = 0; // failed requests in a row: the next waits longer (a deploy, a restart)
  while (asking === controller && [...parts].some(asks) && url !== null) {
    let answer;
    try {
      const reply = await fetch(`${url}&ids=${ids}&v=${known}`, {
        cache: "no-store",
        signal: controller.signal,
      });
      if (reply.status === 404) break; // the login ended: the page's next run says so
      if (!reply.ok) throw new Error(String(reply.status));
      answer = await reply.json();
      quiet = 0;
    } catch {
      if (controller.signal.aborted) return;
      quiet = Math.min(quiet + 1, 5);
      await sleep(every * 2 ** quiet);
      continue;
    }
    const same = answer.v === known;
    known = answer.v;
    act(answer);
    if (same) await sleep(every); // it held the request and nothing changed: ask again
  }
  if (asking === controller) asking = null;
}

// The parts (or their jobs) changed: once the page has drawn them all, ask about them anew.
function restart() {
  clearTimeout(restarting);
  restarting = setTimeout(() => {
    const ids = wanted();
    if (asking !== null && ids === asked) return;
    if (asking !== null) asking.abort();
    asking = [...parts].some(asks) ? new AbortController() : null;
    asked = ids;
    if (asking !== null) ask(asking, ids);
  }, 50);
}

export default function (component) {
  const { parentElement, data, setTriggerValue } = component;
  let part = parentElement.vibaLive;
  if (!part) {
    part = { fired: 0 };
    parentElement.vibaLive = part;
    parts.add(part);
  }
  part.jobs = data.jobs || {};
  part.running = Array.isArray(data.running) ? [...data.running].sort().join(",") : null;
  part.done = Boolean(data.done);
  part.fire = () => setTriggerValue("changed", Date.now());
  part.fired = 0; // drawn anew: what it drew is what it now waits to change
  url = data.url;
  every = data.every || every;
  restart();
  return () => {
    parts.delete(part);
    delete parentElement.vibaLive;
    restart();
  };
}
