// A dedicated worker that follows the flags stream (/v1/flags/stream) and tells the page of
// every snapshot and change. In a worker, the always-open stream never holds up the page
// itself: a headless browser's virtual time, for one, waits for the page's open requests.
"use strict";
const es = new EventSource("/v1/flags/stream");
for (const kind of ["snapshot", "change"]) {
  es.addEventListener(kind, (e) => postMessage({ kind, id: e.lastEventId }));
}
es.onopen = () => postMessage({ kind: "open" });
es.onerror = () => postMessage({ kind: "error" });
