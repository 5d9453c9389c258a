// streamtable: make the controls live while the page is still streaming.
//
// Loaded (not deferred) right after the controls and the table header. htmx by itself
// wires up the page at DOMContentLoaded, which a long table delays by tens of seconds;
// until then the controls would be plain links and a plain form.
(() => {
  "use strict";

  const form = document.getElementById("view");
  const progress = document.getElementById("progress");
  let streaming = null; // the htmx request whose rows are arriving, if any
  let connection = null; // its hx-multipart connection, once its response has begun
  let ticker = null;
  let sortedColumn = null; // the header (its column number) whose link asked for a sort
  let keep = null; // what to restore once a request's first part has replaced the table

  const scroller = () => document.querySelector("#stocks > .table"); // scrolls both ways

  htmx.process(form);

  // htmx looks for hx- attributes in everything it processes (an XPath walk over every
  // node): at DOMContentLoaded that is the whole page, and a million rows froze Chromium for
  // ~10 s; every row group an htmx re-stream swaps in is walked too. Rows never carry hx-
  // attributes and the controls are processed above, so skip those walks.
  document.addEventListener("htmx:before:process", (event) => {
    const root = event.target;
    if (root === document.body || root.id === "rows" || root.classList?.contains("g")) {
      event.preventDefault();
    }
  });

  // htmx sets up its history handling (back/forward reload the view the address bar shows)
  // only in initialize(), at DOMContentLoaded. A page restored by Back is still streaming
  // then, and a second Back would change the address but not the table: set it up now. The
  // listener above keeps this from walking the page; htmx's own call later changes nothing.
  htmx.initialize();

  // --- busy state and progress -------------------------------------------------------

  const counted = { rows: null, groups: 0, total: 0 };

  // Rows in the table so far. Finished groups are counted once; only the group still
  // filling is counted on every tick, so a million rows cost no more than a thousand.
  function rowsSoFar() {
    const rows = document.getElementById("rows");
    if (!rows) return 0;
    if (counted.rows !== rows) Object.assign(counted, { rows, groups: 0, total: 0 });
    const groups = rows.tBodies;
    while (counted.groups < groups.length - 1) {
      counted.total += groups[counted.groups].getElementsByTagName("tr").length;
      counted.groups += 1;
    }
    const last = groups[groups.length - 1];
    return counted.total + (last ? last.getElementsByTagName("tr").length : 0);
  }

  function showProgress() {
    const total = document.getElementById("total")?.dataset;
    const of = total?.total ? ` of ${total.exact === "true" ? "" : "about "}${Number(total.total).toLocaleString("en")}` : "";
    progress.value = `${rowsSoFar().toLocaleString("en")}${of} rows so far`;
  }

  function setBusy(busy) {
    document.getElementById("stocks")?.setAttribute("aria-busy", String(busy));
    document.body.classList.toggle("is-streaming", busy);
    clearInterval(ticker);
    if (busy) {
      showProgress();
      ticker = setInterval(showProgress, 250);
    } else {
      progress.value = "";
    }
  }

  // --- the initial page load ---------------------------------------------------------

  setBusy(true);
  document.addEventListener("DOMContentLoaded", () => {
    if (!streaming) setBusy(false);
    // The page's facet counts come after its footer (final, for readers without script):
    // show them where re-streams update them, beside the controls.
    const final = document.getElementById("facets-final");
    if (final && !streaming) {
      final.id = "facets";
      document.getElementById("facets").replaceWith(final);
    }
  });

  // --- htmx re-streams -----------------------------------------------------------------

  form.addEventListener("htmx:before:request", (event) => {
    if (document.readyState === "loading" && !document.getElementById("stream-end")) {
      // The page's rows are still arriving: stop that download (the server sees the
      // client leave and ends its query), or its rows would keep landing in the new table.
      // Once its footer is in, only the facets and closing tags are left: let them parse.
      // Stopping then lost the new stream's parts now and then (1 in 5 e2e runs), and
      // DOMContentLoaded still comes to set htmx up.
      window.stop();
    }
    // hx-sync ":replace" has just aborted the request this one replaces. hx-multipart
    // logs the abort as an error (console.error, before any listener could cancel it)
    // unless its connection is marked cancelled, as its own cleanup does: mark it now,
    // before the abort reaches its reader. A stream failing any other way is still logged.
    if (connection) connection.cancelled = true;
    connection = null;
    streaming = event.detail.ctx;
    keep = { ctx: streaming, scrollLeft: scroller()?.scrollLeft ?? 0, column: sortedColumn };
    sortedColumn = null;
    setBusy(true);
  });

  // The filter menu's value went into the new view (a chip now): empty it for the next one.
  // The block around it is morphed, not replaced (focus stays where it was), and a morph
  // keeps what a person typed, so this is done here; a refused value (400) stays to fix.
  form.addEventListener("htmx:before:response", (event) => {
    if (event.detail.ctx.response.status < 400) form.elements._filter_value.value = "";
  });

  // --- what a re-stream keeps: the sideways scroll, and the focus on a sorted header -----

  form.addEventListener("htmx:multipart:after:part", (event) => {
    if (!keep || event.detail.ctx !== keep.ctx) return;
    const { scrollLeft, column } = keep;
    keep = null;
    const table = scroller();
    if (table) table.scrollLeft = scrollLeft;
    // The link that had the focus went with the old header: give it to its successor, unless
    // the focus has moved on meanwhile (to the search box, say).
    const active = document.activeElement;
    if (column !== null && (!active || active === document.body)) {
      table?.querySelector(`th:nth-child(${column}) a`)?.focus({ preventScroll: true });
    }
  });

  form.addEventListener("htmx:multipart:after:connection", (event) => {
    // The connection shares its request's abort function: that is how to tell whose it is.
    if (event.detail.connection.abort === streaming?.request.abort) {
      connection = event.detail.connection;
    }
  });

  form.addEventListener("htmx:finally:request", (event) => {
    if (event.detail.ctx !== streaming) return; // a request that a newer one replaced
    streaming = null;
    connection = null;
    setBusy(false);
  });

  // Sort links work as plain links without JavaScript. With it, a click submits the form
  // instead: the request then carries the search and filters as typed, and it comes from
  // the form, which outlives the table header that the new stream replaces.
  document.addEventListener("click", (event) => {
    const link = event.target.closest?.("a[data-sort]");
    const modified = event.ctrlKey || event.metaKey || event.shiftKey || event.altKey;
    if (!link || event.button !== 0 || modified) return;
    event.preventDefault();
    const header = link.closest("th");
    sortedColumn = header ? [...header.parentElement.children].indexOf(header) + 1 : null;
    form.elements.sort.value = link.dataset.sort;
    form.elements.dir.value = link.dataset.dir;
    form.requestSubmit();
  });

  // Chips, "clear all" and facet values are links to whole views. With JavaScript the form
  // takes the link's view (each field its value, the rest as hidden fields) and submits it,
  // so the request is the form's: it replaces the stream in flight, like any control.
  function takeView(href) {
    const params = new URL(href, location.href).searchParams;
    const filters = document.getElementById("filters");
    for (const hidden of filters.querySelectorAll("input[type=hidden]")) hidden.remove();
    for (const field of form.elements) {
      if (!field.name || field.disabled || field.type === "submit") continue;
      if (field.name.startsWith("_filter_")) {
        field.value = field.tagName === "SELECT" ? field.options[0].value : "";
        continue;
      }
      const values = params.getAll(field.name);
      field.value = values.length === 1 ? values[0] : "";
      if (values.length === 1) params.delete(field.name);
    }
    for (const [name, value] of params) {
      const hidden = Object.assign(document.createElement("input"), { type: "hidden", name, value });
      filters.append(hidden);
    }
    form.requestSubmit();
  }

  document.addEventListener("click", (event) => {
    const link = event.target.closest?.("a[data-view]");
    const modified = event.ctrlKey || event.metaKey || event.shiftKey || event.altKey;
    if (!link || event.button !== 0 || modified) return;
    event.preventDefault();
    takeView(link.href);
  });

  // A closed menu commits a new choice on every arrow key (or letter): stream only the last
  // one, once the keys have paused, not one view per key press. A choice made with the mouse
  // or from the open list (Enter) streams at once.
  const KEYED_CHOICE_PAUSE_MS = 400;
  const KEY_TO_CHANGE_MS = 250; // a change this soon after a key on its menu came from the key
  let lastKey = { target: null, time: -Infinity }; // the last key pressed on a menu
  let keyedChoice = null; // {select, timer} of a choice waiting for the keys to pause

  form.addEventListener(
    "keydown",
    (event) => {
      if (event.target instanceof HTMLSelectElement && event.key !== "Enter") {
        // When it is handled, not event.timeStamp: a busy page handles a key late.
        lastKey = { target: event.target, time: performance.now() };
      }
    },
    true,
  );

  function commitKeyedChoice() {
    if (!keyedChoice) return;
    const { select, timer } = keyedChoice;
    clearTimeout(timer);
    keyedChoice = null;
    select.dispatchEvent(new Event("change", { bubbles: true }));
  }

  // Capturing on the form comes before htmx's listener on the menu itself.
  form.addEventListener(
    "change",
    (event) => {
      const keyed = event.target === lastKey.target;
      const soon = performance.now() - lastKey.time <= KEY_TO_CHANGE_MS;
      if (!event.isTrusted || !keyed || !soon) return;
      event.stopImmediatePropagation();
      clearTimeout(keyedChoice?.timer);
      const timer = setTimeout(commitKeyedChoice, KEYED_CHOICE_PAUSE_MS);
      keyedChoice = { select: event.target, timer };
    },
    true,
  );
  form.addEventListener("focusout", commitKeyedChoice);

  // A cell too narrow for its text shows it whole on hover.
  document.addEventListener("pointerover", (event) => {
    const cell = event.target.closest?.("#stocks td, #stocks th");
    if (cell && !cell.title && cell.scrollWidth > cell.clientWidth) {
      cell.title = cell.textContent.trim();
    }
  });
})();
