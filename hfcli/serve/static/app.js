// The page of `hf serve`: one view, fed by POST generate / interpolate (hfcli/serve/app.py).
// Only the latest request counts: a new prompt aborts the one in flight (the server then drops
// it if it has not started), and slider moves wait for the request in flight, keeping only the
// latest position. body[data-state] (idle | busy | shown | error), body[data-shown] (what the
// viewer shows) and body[data-views] (meshes shown so far) let a test, or a person, see where
// the page is.

const $ = (id) => document.getElementById(id);
const viewer = $("viewer");
const promptBox = $("prompt");
const toBox = $("to");
const slider = $("t");
const MORPH_RESOLUTION = 64;

let seq = 0; // the number of the latest request; replies to older ones are ignored
let inflight = null; // the AbortController of the request being computed
let pendingT = null; // a slider position that waits for the request in flight
let shownUrl = null; // the object URL of the mesh on screen (revoked when replaced)

function setState(state, message) {
  document.body.dataset.state = state;
  $("status").textContent = message;
}

function slug(text) {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "") || "mesh";
}

function linkThisView() {
  const params = new URLSearchParams();
  if (promptBox.value.trim()) params.set("prompt", promptBox.value.trim());
  if (toBox.value.trim()) params.set("to", toBox.value.trim());
  if (Number(slider.value) > 0) params.set("t", slider.value);
  const query = params.toString();
  history.replaceState(null, "", query ? `?${query}` : location.pathname);
}

function updateSlider() {
  slider.disabled = !(promptBox.value.trim() && toBox.value.trim());
  $("t-value").textContent = `t = ${Number(slider.value).toFixed(2)}`;
}

// Resolves once the viewer has drawn `url`: its load event, then two frames for the paint.
function showInViewer(url) {
  return new Promise((resolve, reject) => {
    const done = () => { clear(); requestAnimationFrame(() => requestAnimationFrame(resolve)); };
    const fail = () => { clear(); reject(new Error("the viewer could not read the mesh")); };
    const clear = () => { viewer.removeEventListener("load", done); viewer.removeEventListener("error", fail); };
    viewer.addEventListener("load", done);
    viewer.addEventListener("error", fail);
    viewer.src = url;
  });
}

function showFigures(reply, roundTrip) {
  const rows = Object.entries(reply.seconds).map(([stage, s]) => [stage, `${(s * 1000).toFixed(0)} ms`]);
  rows.push(["until shown (page)", `${roundTrip.toFixed(0)} ms`]);
  rows.push(["triangles", reply.faces.toLocaleString("en")]);
  rows.push(["file size", `${(reply.bytes / 1024).toFixed(0)} KiB`]);
  const body = $("timings").tBodies[0];
  body.replaceChildren(...rows.map(([k, v]) => {
    const tr = document.createElement("tr");
    for (const text of [k, v]) tr.appendChild(document.createElement("td")).textContent = text;
    return tr;
  }));
  $("timings").hidden = false;
  $("note").hidden = !reply.note;
  $("note").textContent = reply.note || "";
}

async function request(route, body, label, filename) {
  const mine = ++seq;
  inflight?.abort();
  const controller = new AbortController();
  inflight = controller;
  setState("busy", `computing ${label} …`);
  const started = performance.now();
  try {
    const post = { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
    const res = await fetch(route, { ...post, signal: controller.signal });
    const reply = await res.json(); // errors are JSON too: {"error": "..."}
    if (!res.ok) throw new Error(reply.error || `HTTP ${res.status}`);
    const glb = await (await fetch(reply.url, { signal: controller.signal })).blob();
    if (mine !== seq) return;
    const url = URL.createObjectURL(glb);
    await showInViewer(url);
    if (mine !== seq) return;
    if (shownUrl) URL.revokeObjectURL(shownUrl);
    shownUrl = url;
    const link = $("download");
    link.href = url;
    link.download = `${filename}.glb`;
    link.setAttribute("aria-disabled", "false");
    showFigures(reply, performance.now() - started);
    document.body.dataset.shown = label;
    document.body.dataset.views = String(Number(document.body.dataset.views || 0) + 1);
    setState("shown", `showing ${label}`);
  } catch (err) {
    if (err.name === "AbortError" || mine !== seq) return;
    setState("error", err.message);
  } finally {
    if (mine === seq) {
      inflight = null;
      if (pendingT !== null) {
        const t = pendingT;
        pendingT = null;
        morph(t);
      }
    }
  }
}

function generate() {
  const prompt = promptBox.value.trim();
  if (!prompt) return setState("error", "type a prompt first, such as 'a pink chair'");
  pendingT = null;
  slider.value = 0;
  updateSlider();
  linkThisView();
  request("generate", { prompt, resolution: Number($("resolution").value) }, prompt, slug(prompt));
}

function morph(t) {
  const prompt = promptBox.value.trim();
  const to = toBox.value.trim();
  if (!prompt || !to) return;
  if (inflight) { pendingT = t; return; } // the slider never queues behind itself
  const label = `${prompt} → ${to} @ t=${t.toFixed(2)}`;
  request("interpolate", { prompt, to, t, resolution: MORPH_RESOLUTION }, label, `${slug(prompt)}_to_${slug(to)}_${t.toFixed(2)}`);
}

$("generate-form").addEventListener("submit", (e) => { e.preventDefault(); generate(); });
$("morph-form").addEventListener("submit", (e) => { e.preventDefault(); if (Number(slider.value) > 0) morph(Number(slider.value)); });
promptBox.addEventListener("input", updateSlider);
toBox.addEventListener("input", updateSlider);
toBox.addEventListener("change", () => { linkThisView(); if (Number(slider.value) > 0) morph(Number(slider.value)); });
slider.addEventListener("input", () => { updateSlider(); linkThisView(); morph(Number(slider.value)); });

fetch("health").then((r) => r.json()).then((h) => {
  const shapes = h.learned_shapes.length ? `learned shapes: ${h.learned_shapes.join(", ")}` : "";
  $("model").textContent = `model ${h.model} · hfcli ${h.version}${shapes ? " · " + shapes : ""}`;
}).catch(() => { $("model").textContent = "the server does not answer /health"; });

// A linked view: ?prompt=…&to=…&t=… shows that prompt (or that point of the morph) on load.
const params = new URLSearchParams(location.search);
promptBox.value = params.get("prompt") || "";
toBox.value = params.get("to") || "";
const linkedT = Math.min(1, Math.max(0, Number(params.get("t")) || 0));
updateSlider();
if (promptBox.value.trim()) {
  if (toBox.value.trim() && linkedT > 0) {
    slider.value = linkedT;
    updateSlider();
    morph(Number(slider.value));
  } else {
    generate();
  }
}
