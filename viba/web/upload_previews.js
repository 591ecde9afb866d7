// Thumbnails of the photos picked in a studio form, drawn in the browser before Generate.
//
// The uploaders sit inside st.form, so Streamlit sends nothing to the server until Generate
// (and holds Generate back while an upload is still going): no rerun per pick, so no click
// can be lost to one. The price is that the server cannot draw what was picked. This script
// draws it here instead: it keeps the File objects the user picks (a file dialog's change
// event, or a drop) per uploader, and puts a thumbnail of each in place of the icon of its
// chip in Streamlit's own file list, whose x button removes it. A chip that goes away (x,
// Generate, another page) lets its thumbnail go. Nothing from the files is written as HTML:
// a name is only compared and set as a property. Installed once per browser tab.
(() => {
  if (window.__vibaUploadPreviews) return;
  window.__vibaUploadPreviews = true;

  const UPLOADER = '[data-testid="stFileUploader"]';
  const CHIP = '[data-testid="stFileChip"]';
  const NAME = '[data-testid="stFileChipName"]';
  const SPINNER = '[data-testid="stFileChipIconSpinner"]';
  const UNSEEN_MS = 60000; // a pick Streamlit never listed (refused) is let go after this
  const picks = new Map(); // the uploader's st-key-* class -> [{name, url, seen, at}]

  const keyOf = (uploader) => {
    const box = uploader.closest(".stElementContainer");
    return box ? [...box.classList].find((c) => c.startsWith("st-key-")) : undefined;
  };

  const letGo = (entry) => {
    if (entry.url) URL.revokeObjectURL(entry.url);
  };

  const take = (target, files) => {
    const uploader = target instanceof Element ? target.closest(UPLOADER) : null;
    const key = uploader && keyOf(uploader);
    if (!key || !files || !files.length) return;
    const input = uploader.querySelector('input[type="file"]');
    let list = picks.get(key) || [];
    if (input && !input.multiple) {
      list.forEach(letGo); // a single-file uploader replaces its file
      list = [];
    }
    const now = Date.now();
    for (const file of files) {
      const url = file.type.startsWith("image/") ? URL.createObjectURL(file) : null;
      list.push({ name: file.name, url, seen: false, at: now });
    }
    picks.set(key, list);
    schedule();
  };

  const show = (chip, entry) => {
    chip.dataset.vibaThumb = "1"; // again each time: a redraw of the chip may drop it
    let img = chip.querySelector(":scope > img[data-viba-thumb]");
    if (img && img.dataset.vibaThumb === entry.url) return;
    if (!img) {
      img = document.createElement("img");
      img.addEventListener("error", () => {
        // A photo this browser cannot draw (HEIC outside Safari): the chip keeps its icon.
        hide(chip);
        entry.url = null;
      });
      chip.insertBefore(img, chip.firstChild);
    }
    img.dataset.vibaThumb = entry.url;
    img.alt = entry.name;
    img.title = entry.name;
    img.src = entry.url;
  };

  const hide = (chip) => {
    const img = chip.querySelector(":scope > img[data-viba-thumb]");
    if (img) img.remove();
    delete chip.dataset.vibaThumb;
  };

  const sync = () => {
    scheduled = false;
    const now = Date.now();
    for (const [key, list] of picks) {
      const box = document.querySelector(".stElementContainer." + CSS.escape(key));
      const used = new Set();
      if (box) {
        for (const chip of box.querySelectorAll(CHIP)) {
          const label = chip.querySelector(NAME);
          const name = label ? label.getAttribute("title") || label.textContent : null;
          const entry = list.find((e) => !used.has(e) && e.name === name);
          if (!entry) continue;
          used.add(entry);
          entry.seen = true;
          if (chip.getAttribute("aria-invalid") === "true") hide(chip); // refused: its error shows
          else if (entry.url) show(chip, entry);
        }
      }
      const kept = list.filter((e) => used.has(e) || (box && !e.seen && now - e.at < UNSEEN_MS));
      list.filter((e) => !kept.includes(e)).forEach(letGo);
      if (kept.length) picks.set(key, kept);
      else picks.delete(key);
    }
  };

  let scheduled = false;
  const schedule = () => {
    if (scheduled || !picks.size) return;
    scheduled = true;
    requestAnimationFrame(sync);
  };

  // Capture phase: seen before the uploader's own handler takes the files.
  document.addEventListener(
    "change",
    (e) => {
      if (e.target instanceof HTMLInputElement && e.target.type === "file") {
        take(e.target, e.target.files);
      }
    },
    true,
  );
  document.addEventListener("drop", (e) => take(e.target, e.dataTransfer && e.dataTransfer.files), true);
  new MutationObserver(schedule).observe(document.body, { childList: true, subtree: true });

  const style = document.createElement("style");
  style.textContent =
    // The chip's icon makes way for the thumbnail, except its spinner while the file uploads
    // (the thumbnail is dimmed meanwhile).
    `${CHIP}[data-viba-thumb] > div:first-of-type:not(:has(${SPINNER})) { display: none; }` +
    `${CHIP}:has(${SPINNER}) > img[data-viba-thumb] { opacity: 0.5; }` +
    `${CHIP} > img[data-viba-thumb] { width: 4rem; height: 4rem; object-fit: cover;` +
    ` border-radius: 0.25rem; flex: none; }`;
  document.head.appendChild(style);
})();
