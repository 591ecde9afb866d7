// Live jobs without script runs. The parts of a page that show unfinished generations each
// hand this component what they drew (each job's version; the page's watcher: the ids of its
// owner's running jobs). One request at a time for the whole page asks the app's own route
// (/live, viba.web.live), which answers once something differs from its last answer (or after
// a while, unchanged). A part whose jobs changed is run again (its fragment) through a
// trigger; when the running jobs changed, only the page's watcher is: it runs the whole page,
// which draws every part anew.
//
// data: {url: the route's address for this login, jobs: {id: version}, running: [ids] or
// null (a part, not the watcher), every: ms}. Nothing from data or an answer is written into
// the page.
const parts = new Set();
let url = null;
let every = 1000;
let asking = null; // the AbortController of the request loop running, if any
let asked = ""; // the ids it asks about
let restarting = null;

const REFIRE_MS = 5000; // a part told to run that drew nothing new is told again after this
const MAX_IDS = 60; // as the route's limit

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

function wanted() {
  return [...new Set([...parts].flatMap((p) => Object.keys(p.jobs)))].sort().slice(0, MAX_IDS).join(",");
}

function differs(part, answer) {
  if (part.running !== null && [...answer.running].sort().join(",") !== part.running) return true;
  return Object.entries(part.jobs).some(([id, version]) => (answer.jobs[id] ?? "gone") !== version);
}

function act(answer) {
  const now = Date.now();
  const changed = [...parts].filter((p) => now - p.fired > REFIRE_MS && differs(p, answer));
  const page = changed.filter((p) => p.running !== null);
  for (const part of page.length ? page : changed) {
    part.fired = now;
    part.fire();
  }
}

async function ask(controller, ids) {
  let known = ""; // the digest of the last answer: the route waits until its answer differs
  let quiet = 0; // failed requests in a row: the next waits longer (a deploy, a restart)
  while (asking === controller && parts.size && url !== null) {
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
    asking = parts.size ? new AbortController() : null;
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
