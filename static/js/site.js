// Textflix's own scripts. They live in a file, not in the templates, so that the
// Content-Security-Policy can forbid every inline script and event handler.

// A review form marked data-reset-on-success empties itself once htmx has posted it.
document.addEventListener("htmx:afterRequest", (event) => {
  const form = event.detail.elt;
  if (event.detail.successful && form instanceof HTMLFormElement && form.matches("[data-reset-on-success]")) {
    form.reset();
  }
});

// The labeling queue: p and n press the matching button (not while typing in a field).
document.addEventListener("keydown", (event) => {
  const queue = document.getElementById("label-item");
  if (!queue || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.target instanceof Element && event.target.closest("input, textarea, select")) return;
  const button = queue.querySelector(`button[data-key="${CSS.escape(event.key)}"]`);
  if (button) {
    event.preventDefault();
    button.click();
  }
});
