// prefstudy labelling page: fixation -> image -> answer (-> reason) -> next image, in blocks, under a deadline.
// Plain JavaScript, no build step. Every answer is sent at once and retried until the server has it;
// the server stores each (session, trial) once, so a retry never doubles a label.
// Keys, mouse, touch and pen all answer; every response time is an event's timeStamp minus the first frame of
// the image, both on the performance.now() clock.
"use strict";

(() => {
  const token = location.pathname.split("/").filter(Boolean)[1] || "";
  const api = (path) => `/api/${encodeURIComponent(token)}/${path}`;
  const $ = (id) => document.getElementById(id);
  const stage = $("stage");
  const stimulus = $("stimulus");
  const bar = $("bar");
  const box = $("box");
  const answerButtons = [$("not-preferred"), $("preferred")];
  const reducedMotion = matchMedia("(prefers-reduced-motion: reduce)");

  let S = null; // the server's state for this page load: session, options, progress
  let phase = "loading"; // loading | intro | fixation | showing | between | marking | pause | done | error
  let trialNo = 0; // trials shown in this session
  let answers = 0; // answers (not misses) in this session
  let pausedAt = 0; // trialNo at the last break
  let queue = []; // upcoming items, their images preloading
  let current = null; // the item on screen
  let t0 = 0; // when the current image appeared (performance.now)
  let shownAtMs = 0; // the same moment, epoch milliseconds
  let deadlineTimer = null;
  let ticker = null; // updates the time left while an image is showing
  let shownView = null; // [width, landscape] when the image appeared
  let orientationChanged = false; // the screen turned (or its width changed) while the image was showing
  let budgetReached = false; // the server said this participant's trials are done
  let lastKeyAt = null; // when the previous answer was given, for the key-to-next-image timing
  let refilling = null;
  const shownAt = new Map(); // item -> trialNo it was last shown, so a stale queue never brings it straight back
  const outbox = []; // trials and regions not yet confirmed by the server
  const timings = []; // per trial: key press -> next image on screen (ms), measured here

  window.prefstudy = {
    timings,
    phase: () => phase,
    trial: () => trialNo,
    pending: () => outbox.length,
    current: () => (current ? current.item : null),
    input: () => document.body.dataset.input,
  };

  // The server advertises its newer fields in its state; older servers refuse unknown trial fields.
  const extended = () => S !== null && "trials" in S;

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function show(section, focus) {
    for (const id of ["loading", "intro", "trial", "pause", "done", "error"]) $(id).hidden = id !== section;
    // Keyboard users land on what to do next (a touch screen would only show a ring); a long text stays at its top.
    if (focus && document.body.dataset.input === "keys") $(focus).focus({ preventScroll: true });
  }

  // Hints follow the input in use: keys on a keyboard (a mouse comes with one), buttons on a touch screen.
  function useInput(kind) {
    if (document.body.dataset.input !== kind) document.body.dataset.input = kind;
  }
  useInput(matchMedia("(pointer: coarse)").matches ? "touch" : "keys");
  document.addEventListener("pointerdown", (e) => useInput(e.pointerType === "mouse" ? "keys" : "touch"), true);
  document.addEventListener("keydown", () => useInput("keys"), true);

  function setProgress(p) {
    $("progress").textContent = `block ${p.block} of ${p.blocks} · ${p.today} labelled today`;
  }

  // --- sending, with retries -------------------------------------------------------------------
  let flushing = false;
  async function flush() {
    if (flushing) return;
    flushing = true;
    while (outbox.length) {
      const entry = outbox[0];
      try {
        const response = await fetch(api(entry.path), {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(entry.body),
        });
        if (response.status >= 500) throw new Error(`server ${response.status}`);
        if (!response.ok) console.warn("not stored:", response.status, await response.text());
        else if (entry.path === "trial" && (await response.json().catch(() => ({}))).finished) onFinished();
        outbox.shift(); // stored, a duplicate, or refused for good: either way, done with it
        $("connection").hidden = true;
      } catch (error) {
        $("connection").hidden = false;
        await sleep(500);
      }
    }
    flushing = false;
  }

  function send(path, body) {
    outbox.push({ path, body });
    flush();
  }

  // --- the queue of upcoming images, preloaded --------------------------------------------------
  function preload(entry) {
    const img = new Image();
    img.src = entry.image;
    entry.ready = img.decode().then(() => img, () => img);
    return entry;
  }

  async function refill(final = false) {
    if (refilling) return refilling;
    refilling = (async () => {
      for (;;) {
        try {
          const response = await fetch(api("queue?n=4"));
          if (!response.ok) throw new Error(`queue ${response.status}`);
          const { items } = await response.json();
          const waiting = new Set(outbox.filter((e) => e.path === "trial").map((e) => e.body.item));
          const known = new Set(queue.map((e) => e.item));
          if (current) known.add(current.item);
          const recent = (item) => !final && shownAt.has(item) && trialNo - shownAt.get(item) < 10;
          for (const entry of items) {
            if (!known.has(entry.item) && !waiting.has(entry.item) && !recent(entry.item)) queue.push(preload(entry));
          }
          $("connection").hidden = true;
          return;
        } catch (error) {
          $("connection").hidden = false;
          await sleep(500);
        }
      }
    })();
    try {
      await refilling;
    } finally {
      refilling = null;
    }
  }

  // --- trials ----------------------------------------------------------------------------------
  function startDeadline() {
    bar.style.transition = "none";
    bar.style.transform = "scaleX(1)";
    $("time-left").textContent = "";
    if (!S.deadline_ms) return;
    if (!reducedMotion.matches) {
      void bar.offsetWidth; // restart the transition
      bar.style.transition = `transform ${S.deadline_ms}ms linear`;
      bar.style.transform = "scaleX(0)";
    }
    tick();
    ticker = setInterval(tick, 100);
    deadlineTimer = setTimeout(onTimeout, S.deadline_ms);
  }

  // The seconds left as text; without motion the bar also steps down by tenths instead of draining.
  function tick() {
    const left = Math.max(0, t0 + S.deadline_ms - performance.now());
    $("time-left").textContent = `${(left / 1000).toFixed(1)} s left`;
    if (reducedMotion.matches) bar.style.transform = `scaleX(${Math.ceil((left / S.deadline_ms) * 10) / 10})`;
  }

  function stopDeadline() {
    clearTimeout(deadlineTimer);
    clearInterval(ticker);
    bar.style.transition = "none";
  }

  async function nextTrial() {
    if (budgetReached) return finish();
    if (trialNo > 0 && trialNo % S.block_size === 0 && pausedAt !== trialNo) return pause();
    if (queue.length < 2) await refill();
    if (!queue.length) {
      while (outbox.length) await sleep(100);
      if (refilling) await refilling;
      await refill(true);
      if (!queue.length) return finish();
    }
    if (phase === "done") return;
    current = queue.shift();
    refill();
    trialNo += 1;
    shownAt.set(current.item, trialNo);
    phase = "fixation";
    stage.className = "fixating";
    const fixationEnds = performance.now() + S.fixation_ms;
    const img = await current.ready;
    await sleep(Math.max(0, fixationEnds - performance.now()));
    if (phase === "done") return;
    stimulus.src = img.src;
    await stimulus.decode().catch(() => {});
    if (phase === "done") return;
    stage.className = "showing";
    requestAnimationFrame((frameTime) => {
      if (phase === "done") return;
      t0 = frameTime;
      shownAtMs = performance.timeOrigin + frameTime;
      shownView = [innerWidth, innerWidth > innerHeight];
      orientationChanged = false;
      if (lastKeyAt !== null) {
        const total = frameTime - lastKeyAt;
        timings.push({ trial: trialNo, key_to_image_ms: total, overhead_ms: total - S.fixation_ms });
      }
      phase = "showing";
      startDeadline();
    });
  }

  function record(answer, rt, input) {
    const body = {
      session: S.session,
      trial: trialNo,
      block: Math.floor((trialNo - 1) / S.block_size) + 1,
      item: current.item,
      answer,
      rt_ms: rt,
      shown_at_ms: shownAtMs,
    };
    if (extended()) Object.assign(body, input ? { input } : {}, { orientation_changed: orientationChanged });
    send("trial", body);
  }

  // `at` is the input event's timeStamp: when the key went down or the finger touched, not when this ran.
  function onAnswer(answer, at, input) {
    if (phase !== "showing") return;
    const now = performance.now();
    phase = "between"; // at once: a second key press before the next image must not answer again
    stopDeadline();
    lastKeyAt = now;
    record(answer, Math.max(0, Math.min(at || now, now) - t0), input);
    answers += 1;
    S.progress.today += 1;
    setProgress(S.progress);
    const ask = S.mark_reason === "always" || (S.mark_reason === "sometimes" && answers % 5 === 0);
    if (ask) return markReason();
    nextTrial();
  }

  function onTimeout() {
    if (phase !== "showing") return;
    phase = "between";
    clearInterval(ticker);
    lastKeyAt = performance.now();
    record("timeout", null);
    nextTrial();
  }

  // --- the subject's reason: a box over what drove the choice -----------------------------------
  let dragStart = null;
  let drawn = null; // the box on screen, in image fractions, redrawn when the screen turns
  const trialOfMark = { trial: 0 };

  // While the reason is asked the answer buttons are disabled, visibly, so no tap on them goes unnoticed.
  function setMarking(on) {
    for (const button of answerButtons) button.disabled = on;
    $("trial").classList.toggle("marking", on);
    $("reason-prompt").hidden = !on;
  }

  function markReason() {
    phase = "marking";
    trialOfMark.trial = trialNo;
    stage.className = "showing marking";
    setMarking(true);
  }

  function endMarking(region) {
    if (phase !== "marking") return;
    phase = "between";
    if (region) send("region", { session: S.session, trial: trialOfMark.trial, region });
    box.hidden = true;
    drawn = dragStart = null;
    setMarking(false);
    lastKeyAt = performance.now();
    nextTrial();
  }

  function fraction(event) {
    const rect = stimulus.getBoundingClientRect();
    return [
      Math.min(1, Math.max(0, (event.clientX - rect.left) / rect.width)),
      Math.min(1, Math.max(0, (event.clientY - rect.top) / rect.height)),
    ];
  }

  function drawBox(a, b) {
    const [x0, x1] = [Math.min(a[0], b[0]), Math.max(a[0], b[0])];
    const [y0, y1] = [Math.min(a[1], b[1]), Math.max(a[1], b[1])];
    const rect = stimulus.getBoundingClientRect();
    const stageRect = stage.getBoundingClientRect();
    Object.assign(box.style, {
      left: `${rect.left - stageRect.left + x0 * rect.width}px`,
      top: `${rect.top - stageRect.top + y0 * rect.height}px`,
      width: `${(x1 - x0) * rect.width}px`,
      height: `${(y1 - y0) * rect.height}px`,
    });
    box.hidden = false;
    drawn = [a, b];
    return [x0, y0, x1, y1];
  }

  stage.addEventListener("pointerdown", (event) => {
    if (phase !== "marking" || !event.isPrimary) return;
    dragStart = fraction(event);
    stage.setPointerCapture(event.pointerId);
  });
  stage.addEventListener("pointermove", (event) => {
    if (phase === "marking" && dragStart && event.isPrimary) drawBox(dragStart, fraction(event));
  });
  stage.addEventListener("pointercancel", () => {
    dragStart = drawn = null;
    box.hidden = true;
  });
  stage.addEventListener("pointerup", (event) => {
    if (phase !== "marking" || !dragStart || !event.isPrimary) return;
    let [x0, y0, x1, y1] = drawBox(dragStart, fraction(event));
    dragStart = null;
    if (x1 - x0 < 0.03 || y1 - y0 < 0.03) {
      // a click: a box of a fifth of the image around the spot
      const [cx, cy] = [(x0 + x1) / 2, (y0 + y1) / 2];
      [x0, x1] = [Math.max(0, cx - 0.1), Math.min(1, cx + 0.1)];
      [y0, y1] = [Math.max(0, cy - 0.1), Math.min(1, cy + 0.1)];
    }
    endMarking([x0, y0, x1, y1]);
  });

  // A turned screen keeps the trial and its clock; the trial is marked, and a box on screen follows the image.
  addEventListener("resize", () => {
    const turned = shownView && (innerWidth !== shownView[0] || (innerWidth > innerHeight) !== shownView[1]);
    if (phase === "showing" && turned) orientationChanged = true;
    if (drawn && !box.hidden) drawBox(...drawn);
  });

  // --- breaks and the end ----------------------------------------------------------------------
  async function progressNow() {
    try {
      const response = await fetch(api("progress"));
      if (response.ok) return await response.json();
    } catch (error) {
      /* shown as reconnecting elsewhere */
    }
    return S.progress;
  }

  async function pause() {
    phase = "pause";
    pausedAt = trialNo;
    stage.className = "";
    while (outbox.length) await sleep(50);
    const p = await progressNow();
    S.progress = p;
    setProgress(p);
    $("pause-progress").textContent =
      `Block ${p.blocks_done} of ${p.blocks} done · ${p.today} labelled today · ${p.remaining} to go.`;
    if (phase === "pause") show("pause", "continue");
  }

  // The participant's budget is spent: a reason being given is finished first, anything else ends now.
  function onFinished() {
    budgetReached = true;
    if (phase !== "marking") finish();
  }

  async function finish() {
    if (phase === "done") return;
    phase = "done";
    stopDeadline();
    stage.className = "";
    while (outbox.length) await sleep(50); // the last answers and reasons are stored before leaving
    const p = await progressNow();
    setProgress(p);
    $("done-progress").textContent =
      S.trials ? `${p.labelled} images labelled.` : `${p.labelled} of ${p.total} images labelled.`;
    show("done", "done-title");
    const url = completeUrl();
    if (url) {
      $("complete-link").href = url;
      $("complete").hidden = false;
      setTimeout(() => location.assign(url), 1500); // the thank-you first; the link stays if this is blocked
    }
  }

  function completeUrl() {
    if (!S.complete_url) return null;
    try {
      const url = new URL(S.complete_url, location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (error) {
      return null;
    }
  }

  function resume() {
    if (phase !== "pause" && phase !== "intro") return;
    phase = "between";
    show("trial");
    nextTrial();
  }

  // --- input ------------------------------------------------------------------------------------
  document.addEventListener("keydown", (event) => {
    if (event.repeat) return;
    const key = event.key;
    if (key === "ArrowRight" || key === "l" || key === "L") onAnswer("preferred", event.timeStamp, "keyboard");
    else if (key === "ArrowLeft" || key === "a" || key === "A") onAnswer("not_preferred", event.timeStamp, "keyboard");
    else if (key === " " && (phase === "intro" || phase === "pause")) {
      event.preventDefault();
      resume();
    } else if (key === "Enter" && phase === "marking") endMarking(null);
  });
  // A button answers when it is touched or pressed (pointerdown), not when released: the response time is
  // honest and the next image is not held up. The click that ends that press must not answer again (it may
  // come after the next image appeared); a click with no press before it (Enter or Space on the focused
  // button, a screen reader) answers.
  let pressed = false;
  document.addEventListener("keydown", () => (pressed = false), true);
  for (const [button, answer] of [[$("preferred"), "preferred"], [$("not-preferred"), "not_preferred"]]) {
    button.addEventListener("pointerdown", (event) => {
      if (!event.isPrimary) return;
      pressed = true;
      if (event.button === 0) onAnswer(answer, event.timeStamp, event.pointerType || "mouse");
    });
    button.addEventListener("click", (event) => {
      if (pressed) pressed = false;
      else onAnswer(answer, event.timeStamp, "keyboard");
    });
  }
  $("start").addEventListener("click", resume);
  $("continue").addEventListener("click", resume);
  $("skip-reason").addEventListener("click", () => endMarking(null));

  // --- start ------------------------------------------------------------------------------------
  (async () => {
    const response = await fetch(api("state"));
    if (!response.ok) {
      phase = "error";
      show("error");
      return;
    }
    S = await response.json();
    window.prefstudy.session = S.session;
    if (S.instructions) {
      $("instructions").textContent = S.instructions;
      $("instructions").hidden = false;
    }
    $("who").textContent = `${S.subject} · ${S.dataset}`;
    setProgress(S.progress);
    $("deadline-note").textContent = S.deadline_ms
      ? `You have ${(S.deadline_ms / 1000).toFixed(1)} s for each image; a missed image comes back later.`
      : "There is no time limit.";
    $("reason-note").hidden = S.mark_reason === "never";
    if (S.progress.finished) return finish(); // back on the link after the last trial
    await refill();
    phase = "intro";
    show("intro", "start");
  })();
})();
