// A brush over an output, for a region edit: the user paints the part to change; the strokes
// (radius as a share of the image's width, points as shares of its width and height) are the
// component's "strokes" state, sent when a stroke ends. The server checks them again
// (viba.engine.region.Brush) and paints the real mask at the image's own size.
//
// data: {src: the image's address (or a data: URL), radius, strokes: the state the server
// has, labels: {undo, clear}}. Nothing from data is written as HTML: labels are textContent,
// the address is a property.
const STEP = 0.004; // a point every 0.4 % of the width at least: strokes stay small
const MAX_POINTS = 5000; // as the server's limit: past it, nothing more is painted

export default function (component) {
  const { parentElement, data, setStateValue } = component;
  let root = parentElement.querySelector(".viba-brush");
  if (!root) {
    root = document.createElement("div");
    root.className = "viba-brush";
    root.innerHTML =
      '<div class="frame"><img alt="" draggable="false"><canvas></canvas></div>' +
      '<div class="tools"><button type="button" data-do="undo"></button>' +
      '<button type="button" data-do="clear"></button></div>';
    parentElement.appendChild(root);
  }
  const img = root.querySelector("img");
  const canvas = root.querySelector("canvas");
  const [undo, clear] = root.querySelectorAll("button");
  undo.textContent = data.labels.undo;
  clear.textContent = data.labels.clear;
  if (img.getAttribute("src") !== data.src) img.src = data.src;

  // The page's strokes live with the element: a rerun (each sent stroke makes one) calls this
  // again with the server's copy, which may be a stroke behind; a new element (the brush
  // shown again) starts from the server's copy.
  if (!root.strokes) {
    root.strokes = Array.isArray(data.strokes) ? data.strokes.map((s) => ({ r: s.r, p: [...s.p] })) : [];
  }
  const strokes = root.strokes;
  // root.drawing: the stroke under the mouse, kept across calls as the strokes are.
  const count = () => strokes.reduce((n, s) => n + s.p.length, 0);

  const draw = () => {
    const w = img.clientWidth, h = img.clientHeight;
    if (!w || !h) return;
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
    }
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, w, h);
    ctx.fillStyle = ctx.strokeStyle = "rgb(255, 40, 90)"; // the canvas is shown at 55 %
    ctx.lineCap = ctx.lineJoin = "round";
    for (const s of root.drawing ? [...strokes, root.drawing] : strokes) {
      const r = s.r * w;
      ctx.beginPath();
      if (s.p.length === 1) {
        ctx.arc(s.p[0][0] * w, s.p[0][1] * h, r, 0, 2 * Math.PI);
        ctx.fill();
        continue;
      }
      ctx.lineWidth = 2 * r;
      s.p.forEach(([x, y], i) => (i ? ctx.lineTo(x * w, y * h) : ctx.moveTo(x * w, y * h)));
      ctx.stroke();
    }
  };

  const at = (event) => {
    const box = canvas.getBoundingClientRect();
    const clamp = (v) => Math.min(1, Math.max(0, v));
    const x = clamp((event.clientX - box.left) / box.width);
    const y = clamp((event.clientY - box.top) / box.height);
    return [Math.round(x * 10000) / 10000, Math.round(y * 10000) / 10000];
  };

  const send = () => setStateValue("strokes", strokes.map((s) => ({ r: s.r, p: s.p })));

  canvas.onpointerdown = (event) => {
    if (event.button !== 0 || count() >= MAX_POINTS) return;
    canvas.setPointerCapture(event.pointerId);
    root.drawing = { r: data.radius, p: [at(event)] };
    draw();
  };
  canvas.onpointermove = (event) => {
    if (!root.drawing || count() + root.drawing.p.length >= MAX_POINTS) return;
    const [x, y] = at(event);
    const [lx, ly] = root.drawing.p[root.drawing.p.length - 1];
    const aspect = canvas.height / (canvas.width || 1);
    if (Math.hypot(x - lx, (y - ly) * aspect) < STEP) return;
    root.drawing.p.push([x, y]);
    draw();
  };
  canvas.onpointerup = canvas.onpointercancel = () => {
    if (!root.drawing) return;
    strokes.push(root.drawing);
    root.drawing = null;
    draw();
    send();
  };
  undo.onclick = () => {
    strokes.pop();
    draw();
    send();
  };
  clear.onclick = () => {
    strokes.length = 0;
    draw();
    send();
  };

  img.onload = draw;
  const resized = new ResizeObserver(draw);
  resized.observe(img);
  draw();
  return () => resized.disconnect();
}
