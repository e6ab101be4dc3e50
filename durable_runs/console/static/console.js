// The console's only script: no framework, nothing fetched from the network but this server.
// 1. An element with data-refresh="URL" gets its content replaced by URL's every data-every ms,
//    except while the user is typing in it (a reason half written must not vanish).
// 2. A form with data-background is posted with fetch, so the page stays live while the server
//    works (a chat turn); the element named by data-after is refreshed when the answer comes.
"use strict";

async function refresh(element) {
  const answer = await fetch(element.dataset.refresh, { headers: { Accept: "text/html" } });
  if (answer.ok) {
    element.innerHTML = await answer.text();
  }
}

function keepFresh(element) {
  const every = Number(element.dataset.every || 2000);
  const tick = async () => {
    if (!element.contains(document.activeElement)) {
      try {
        await refresh(element);
      } catch (error) {
        // The server is restarting or busy: the next tick tries again.
      }
    }
    setTimeout(tick, every);
  };
  setTimeout(tick, every);
}

function postInBackground(form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = form.querySelector("[data-status]");
    const button = form.querySelector("button");
    const body = new URLSearchParams(new FormData(form));
    button.disabled = true;
    status.textContent = "sending…";
    form.reset();
    try {
      const answer = await fetch(form.action, {
        method: "POST",
        body,
        headers: { "X-Console-Background": "1" },
      });
      status.textContent = answer.ok ? "" : await answer.text();
    } catch (error) {
      status.textContent = "the console did not answer: " + error;
    } finally {
      button.disabled = false;
      const after = document.getElementById(form.dataset.after || "");
      if (after) {
        await refresh(after);
      }
    }
  });
}

document.querySelectorAll("[data-refresh]").forEach(keepFresh);
document.querySelectorAll("form[data-background]").forEach(postInBackground);
