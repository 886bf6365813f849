// The agency console's only script: confirmations, upload progress and the live Uses list.
// Every page works without it (forms post normally; the Uses page then refreshes on reload).
"use strict";

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    return;
  }
  if (form.dataset.progress && window.FormData && window.XMLHttpRequest) {
    event.preventDefault();
    upload(form, document.getElementById(form.dataset.progress));
  }
});

function upload(form, box) {
  const bar = box.querySelector("progress");
  const status = box.querySelector("[role=status]");
  const button = form.querySelector("button[type=submit]");
  box.hidden = false;
  button.disabled = true;
  const xhr = new XMLHttpRequest();
  xhr.open("POST", form.action);
  xhr.upload.addEventListener("progress", (e) => {
    if (e.lengthComputable) {
      bar.value = Math.round((100 * e.loaded) / e.total);
      status.textContent = bar.value + "% uploaded";
    }
  });
  xhr.upload.addEventListener("load", () => {
    bar.removeAttribute("value"); // indeterminate while the service analyses the files
    status.textContent = "Uploaded; analysing the samples…";
  });
  xhr.addEventListener("load", () => {
    document.open();
    document.write(xhr.responseText);
    document.close();
  });
  xhr.addEventListener("error", () => {
    status.textContent = "The upload failed: check the connection and try again.";
    button.disabled = false;
  });
  xhr.send(new FormData(form));
}

const rows = document.getElementById("uses-rows");
if (rows) {
  const every = 1000 * parseFloat(rows.dataset.pollSeconds || "2");
  const updated = document.getElementById("uses-updated");
  const poll = async () => {
    try {
      const response = await fetch(rows.dataset.poll, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (response.redirected || !response.ok) {
        if (response.redirected) window.location.reload(); // signed out meanwhile
        return;
      }
      const html = await response.text();
      if (html.trim() !== rows.dataset.last) {
        const before = rows.querySelectorAll("tr[data-verification-id]").length;
        rows.innerHTML = html;
        rows.dataset.last = html.trim();
        const after = rows.querySelectorAll("tr[data-verification-id]").length;
        if (after > before) updated.textContent = ` (${after - before} new)`;
      }
    } finally {
      window.setTimeout(poll, every);
    }
  };
  rows.dataset.last = rows.innerHTML.trim();
  window.setTimeout(poll, every);
}
