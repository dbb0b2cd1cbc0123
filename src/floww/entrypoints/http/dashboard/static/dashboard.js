// Live execution lists: a table body with data-live is refreshed from that URL every two
// seconds while the page is visible. The server renders (and escapes) the rows.
"use strict";
(function () {
  const body = document.querySelector("tbody[data-live]");
  if (!body) return;
  const url = body.getAttribute("data-live");
  let last = body.innerHTML;
  async function refresh() {
    if (document.visibilityState !== "visible") return;
    try {
      const answer = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (answer.redirected || !answer.ok) return;
      const rows = await answer.text();
      if (rows !== last) {
        body.innerHTML = rows;
        last = rows;
      }
    } catch (err) {
      // The server may be restarting: the next tick tries again.
    }
  }
  setInterval(refresh, 2000);
})();
