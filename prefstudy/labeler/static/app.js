// prefstudy labelling page: fixation -> image -> answer (-> reason) -> next image, in blocks, under a deadline.
// Plain JavaScript, no build step. Every answer is sent at once and retried until the server has it;
// the server stores each (session, trial) once, so a retry never doubles a label.
"use strict";

(() => {
  const token = location.pathname.split("/").filter(Boolean)[1] || "";
  const api = (path) => `/api/${encodeURIComponent(token)}/${path}`;
  const $ = (id) => document.getElementById(id);
  const stage = $("stage");
  const stimulus = $("stimulus");
  const bar = $("bar");
  const box = $("box");

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
  };

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function show(section) {
    for (const id of ["loading", "intro", "trial", "pause", "done", "error"]) $(id).hidden = id !== section;
  }

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
    if (!S.deadline_ms) return;
    void bar.offsetWidth; // restart the transition
    bar.style.transition = `transform ${S.deadline_ms}ms linear`;
    bar.style.transform = "scaleX(0)";
    deadlineTimer = setTimeout(onTimeout, S.deadline_ms);
  }

  async function nextTrial() {
    if (trialNo > 0 && trialNo % S.block_size === 0 && pausedAt !== trialNo) return pause();
    if (queue.length < 2) await refill();
    if (!queue.length) {
      while (outbox.length) await sleep(100);
      if (refilling) await refilling;
      await refill(true);
      if (!queue.length) return finish();
    }
    current = queue.shift();
    refill();
    trialNo += 1;
    shownAt.set(current.item, trialNo);
    phase = "fixation";
    stage.className = "fixating";
    const fixationEnds = performance.now() + S.fixation_ms;
    const img = await current.ready;
    await sleep(Math.max(0, fixationEnds - performance.now()));
    stimulus.src = img.src;
    await stimulus.decode().catch(() => {});
    stage.className = "showing";
    requestAnimationFrame((frameTime) => {
      t0 = frameTime;
      shownAtMs = performance.timeOrigin + frameTime;
      if (lastKeyAt !== null) {
        const total = frameTime - lastKeyAt;
        timings.push({ trial: trialNo, key_to_image_ms: total, overhead_ms: total - S.fixation_ms });
      }
      phase = "showing";
      startDeadline();
    });
  }

  function record(answer, rt) {
    send("trial", {
      session: S.session,
      trial: trialNo,
      block: Math.floor((trialNo - 1) / S.block_size) + 1,
      item: current.item,
      answer,
      rt_ms: rt,
      shown_at_ms: shownAtMs,
    });
  }

  function onAnswer(answer) {
    if (phase !== "showing") return;
    const now = performance.now();
    phase = "between"; // at once: a second key press before the next image must not answer again
    clearTimeout(deadlineTimer);
    bar.style.transition = "none";
    lastKeyAt = now;
    record(answer, now - t0);
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
    lastKeyAt = performance.now();
    record("timeout", null);
    nextTrial();
  }

  // --- the subject's reason: a box over what drove the choice -----------------------------------
  let dragStart = null;
  const trialOfMark = { trial: 0 };

  function markReason() {
    phase = "marking";
    trialOfMark.trial = trialNo;
    stage.className = "showing marking";
    $("reason-prompt").hidden = false;
  }

  function endMarking(region) {
    if (phase !== "marking") return;
    phase = "between";
    if (region) send("region", { session: S.session, trial: trialOfMark.trial, region });
    box.hidden = true;
    $("reason-prompt").hidden = true;
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
    return [x0, y0, x1, y1];
  }

  stage.addEventListener("pointerdown", (event) => {
    if (phase !== "marking") return;
    dragStart = fraction(event);
    stage.setPointerCapture(event.pointerId);
  });
  stage.addEventListener("pointermove", (event) => {
    if (phase === "marking" && dragStart) drawBox(dragStart, fraction(event));
  });
  stage.addEventListener("pointerup", (event) => {
    if (phase !== "marking" || !dragStart) return;
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
    show("pause");
  }

  async function finish() {
    phase = "done";
    const p = await progressNow();
    setProgress(p);
    $("done-progress").textContent = `${p.labelled} of ${p.total} images labelled.`;
    show("done");
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
    if (key === "ArrowRight" || key === "l" || key === "L") onAnswer("preferred");
    else if (key === "ArrowLeft" || key === "a" || key === "A") onAnswer("not_preferred");
    else if (key === " " && (phase === "intro" || phase === "pause")) {
      event.preventDefault();
      resume();
    } else if (key === "Enter" && phase === "marking") endMarking(null);
  });
  $("preferred").addEventListener("click", () => onAnswer("preferred"));
  $("not-preferred").addEventListener("click", () => onAnswer("not_preferred"));
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
    $("who").textContent = `${S.subject} · ${S.dataset}`;
    setProgress(S.progress);
    $("deadline-note").textContent = S.deadline_ms
      ? `You have ${(S.deadline_ms / 1000).toFixed(1)} s for each image; a missed image comes back later.`
      : "There is no time limit.";
    $("reason-note").hidden = S.mark_reason === "never";
    await refill();
    phase = "intro";
    show("intro");
  })();
})();
