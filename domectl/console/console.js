// The operator's console: reads the master's live stream (/ws), controls it through the REST
// API (docs/console.md). Plain JavaScript, no build step, nothing from outside the hall.
"use strict";

(function () {
  // ------------------------------------------------------------------ constants (why these values)

  const TOKEN_KEY = "domectl.token";
  // Reconnect backoff: quick after a master restart, then gentle on a hall network that is down.
  const RECONNECT_MIN_MS = 500;
  const RECONNECT_MAX_MS = 8000;
  // The master sends the state 5 times a second: 3 s of silence is a dead link, not a slow one.
  const STALE_AFTER_MS = 3000;
  // A drag is sent at most 10 times a second; the master applies each at the next frame.
  const DRAG_SEND_MS = 100;
  // Search as the operator types, once they pause.
  const SEARCH_DEBOUNCE_MS = 200;
  const SEARCH_LIMIT = 8;
  // Slider positions: zoom 10^p, p in [log10 0.25, 2]; rate sign(p) 10^(|p| - 0.5), |p| <= 0.5: paused.
  const RATE_DEAD_ZONE = 0.5;
  const DEFAULT_PRESETS = [-3600, -60, -1, 1, 10, 60, 600, 3600, 86400];

  const $ = (id) => document.getElementById(id);
  const el = (tag, props, ...children) => {
    const node = document.createElement(tag);
    Object.assign(node, props || {});
    for (const child of children) node.append(child);
    return node;
  };

  // ------------------------------------------------------------------ token

  let token = null;
  let tokenRefused = false;   // the master answered 401/403 to the token in use

  function takeTokenFromFragment() {
    const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
    if (match) {
      let given = match[1];
      try { given = decodeURIComponent(given); } catch (e) { /* a malformed escape: take it as written */ }
      try {
        localStorage.setItem(TOKEN_KEY, given);
      } catch (e) { /* private mode: the token lives for this page only */ token = given; }
      // The address bar (and a screenshot of it) must not show the token.
      history.replaceState(null, "", location.pathname + location.search);
    }
    try {
      token = localStorage.getItem(TOKEN_KEY) || token;
    } catch (e) { /* no storage */ }
    applyReadOnly();
  }

  function setToken(value) {
    token = value || null;
    try {
      if (token) localStorage.setItem(TOKEN_KEY, token);
      else localStorage.removeItem(TOKEN_KEY);
    } catch (e) { /* no storage */ }
    applyReadOnly();
  }

  let lastState = null;

  function applyReadOnly() {
    const readOnly = !token;
    document.body.classList.toggle("read-only", readOnly);
    const showDriven = !!(lastState && lastState.controlled_by === "show");
    document.body.classList.toggle("show-driven", showDriven);
    for (const node of document.querySelectorAll("[data-control]")) {
      node.disabled = readOnly || (showDriven && node.hasAttribute("data-sky"));
      node.title = readOnly ? "read-only: give the control token (Token, top right)" :
        (showDriven && node.hasAttribute("data-sky")) ? "a show drives the dome: stop it first" :
        (node.dataset.title || "");
    }
    $("token-input").placeholder = token ? "token set (replace)" : "control token";
    $("token-toggle").textContent = !token ? "Token" : tokenRefused ? "Token ✗" : "Token ✓";
  }

  // ------------------------------------------------------------------ REST

  function say(text, isError) {
    const status = $("status");
    status.textContent = text;
    status.classList.toggle("error", !!isError);
  }

  async function post(path, body, what) {
    if (!token) {
      say("read-only: give the control token to control the dome", true);
      return null;
    }
    let response;
    try {
      response = await fetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Authorization": "Bearer " + token },
        body: JSON.stringify(body || {}),
        cache: "no-store",
      });
    } catch (e) {
      say(`${what || path}: no answer from the master (${e.message})`, true);
      return null;
    }
    let answer = null;
    try { answer = await response.json(); } catch (e) { /* not JSON */ }
    if (!response.ok) {
      const message = (answer && answer.error) || response.statusText;
      say(`${what || path}: ${response.status} ${message}`, true);
      if (response.status === 401 || response.status === 403) {
        tokenRefused = true;                                 // the token is not the master's
        $("token-toggle").textContent = "Token ✗";
      }
      return null;
    }
    tokenRefused = false;
    say(`${what || path}: done`, false);
    return answer;
  }

  async function get(path) {
    const response = await fetch(path, { cache: "no-store" });
    let answer = null;
    try { answer = await response.json(); } catch (e) { /* not JSON */ }
    if (!response.ok) throw new Error(`${path}: ${response.status} ${(answer && answer.error) || response.statusText}`);
    return answer;
  }

  // ------------------------------------------------------------------ live stream

  let socket = null;
  let reconnectMs = RECONNECT_MIN_MS;
  let reconnectTimer = null;
  let lastMessageAt = 0;

  function streamUrl() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    return `${scheme}${location.host}/ws?preview=${$("preview-toggle").checked ? 1 : 0}`;
  }

  function connect() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    let ws;
    try {
      ws = new WebSocket(streamUrl());
    } catch (e) {
      scheduleReconnect();
      return;
    }
    ws.binaryType = "blob";
    socket = ws;
    ws.onopen = () => {
      lastMessageAt = Date.now();
      setConnected(true);
    };
    ws.onmessage = (event) => {
      if (socket !== ws) return;
      lastMessageAt = Date.now();
      reconnectMs = RECONNECT_MIN_MS;
      document.body.classList.remove("stale");
      if (typeof event.data === "string") {
        let message;
        try { message = JSON.parse(event.data); } catch (e) { return; }
        if (message && message.type === "state" && message.state) render(message.state);
      } else {
        showPreview(event.data);
      }
    };
    ws.onclose = () => {
      if (socket !== ws) return;
      socket = null;
      setConnected(false);
      scheduleReconnect();
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  function scheduleReconnect() {
    if (reconnectTimer || document.hidden) return;
    const wait = reconnectMs;
    reconnectMs = Math.min(reconnectMs * 2, RECONNECT_MAX_MS);
    $("conn").textContent = `offline, retry in ${(wait / 1000).toFixed(1)} s`;
    reconnectTimer = setTimeout(connect, wait);
  }

  function reconnectNow() {
    if (socket) {
      const old = socket;
      socket = null;
      old.close();
    }
    reconnectMs = RECONNECT_MIN_MS;
    connect();
  }

  function setConnected(up) {
    const conn = $("conn");
    conn.classList.toggle("conn-up", up);
    conn.classList.toggle("conn-down", !up);
    conn.textContent = up ? "live" : "offline";
    if (!up) document.body.classList.add("stale");
  }

  setInterval(() => {
    if (socket && socket.readyState === WebSocket.OPEN && Date.now() - lastMessageAt > STALE_AFTER_MS) {
      document.body.classList.add("stale");
      reconnectNow();   // a half-open link never closes by itself
    }
  }, 1000);

  // The preview: one blob URL on screen, at most one decoding; a newer JPEG replaces a waiting one,
  // so a slow tablet shows the newest image instead of falling behind.
  let previewUrl = null;
  let previewDecoding = false;
  let previewWaiting = null;

  function showPreview(blob) {
    if (previewDecoding) {
      previewWaiting = blob;
      return;
    }
    previewDecoding = true;
    const img = $("preview");
    const url = URL.createObjectURL(blob);
    const done = () => {
      if (previewUrl) URL.revokeObjectURL(previewUrl);
      previewUrl = url;
      previewDecoding = false;
      $("preview-box").classList.add("has-image");
      if (previewWaiting) {
        const next = previewWaiting;
        previewWaiting = null;
        showPreview(next);
      }
    };
    img.onload = done;
    img.onerror = done;
    img.src = url;
  }

  // ------------------------------------------------------------------ formatting

  function formatUtc(iso) {
    if (!iso) return "–";
    return iso.replace("T", " ").replace(/\.\d+/, "").replace("Z", " UTC");
  }

  function rateName(rate) {
    if (rate === 0) return "paused";
    const a = Math.abs(rate), sign = rate < 0 ? "−" : "";
    const units = [[86400, "d/s"], [3600, "h/s"], [60, "min/s"]];
    for (const [seconds, unit] of units) {
      if (a >= seconds && Number.isInteger(a / seconds)) return `${sign}${a / seconds} ${unit}`;
    }
    return `${sign}${a >= 100 ? Math.round(a) : +a.toPrecision(3)}×`;
  }

  function rateToSlider(rate) {
    if (!rate) return 0;
    const p = Math.log10(Math.abs(rate)) + RATE_DEAD_ZONE;
    return Math.sign(rate) * Math.max(p, RATE_DEAD_ZONE);
  }

  function sliderToRate(p) {
    if (Math.abs(p) <= RATE_DEAD_ZONE) return 0;
    const rate = Math.sign(p) * Math.pow(10, Math.abs(p) - RATE_DEAD_ZONE);
    return +rate.toPrecision(2);
  }

  const clock = (s) => {
    if (s === null || s === undefined) return "–";
    const sign = s < 0 ? "−" : "";
    s = Math.abs(s);
    const m = Math.floor(s / 60), sec = s - 60 * m;
    return `${sign}${String(m).padStart(2, "0")}:${sec.toFixed(1).padStart(4, "0")}`;
  };

  const degrees = (x, digits) => (typeof x === "number" ? x.toFixed(digits === undefined ? 1 : digits) + "°" : "–");

  // ------------------------------------------------------------------ rendering the state

  let rateSliding = false;   // the operator's finger is on a slider: the state does not move it
  let zoomSliding = false;
  let layerNames = "";
  let languageNames = "";
  let cueNames = "";
  let pollKey = "";

  function render(state) {
    lastState = state;
    applyReadOnly();
    $("driver").textContent = state.controlled_by === "show" ? "show drives the dome" : "";
    renderSafety(state);
    renderView(state);
    renderTime(state);
    renderSite(state);
    renderVoyage(state);
    renderLayers(state);
    renderLanguages(state);
    renderShow(state);
    renderPoll(state);
    renderHealth(state);
    calibrationFromState(state);
  }

  function renderVoyage(state) {
    const v = state.voyage || {};
    const s = state.stereo || {};
    let text = "on the ground";
    if (v.in_space) {
      const km = Number(v.altitude_km).toLocaleString("en", { maximumFractionDigits: 0 });
      text = `${v.doing} · ${km} km above ${v.nearest}` +
        (v.doing === "flying" ? ` → ${v.target}, ${Number(v.arrives_in_s).toFixed(0)} s` : "");
    }
    if (s.separation_m !== undefined) {
      const sep = s.separation_m >= 1000 ? `${(s.separation_m / 1000).toFixed(0)} km` : `${(s.separation_m * 100).toFixed(1)} cm`;
      text += ` · eyes ${sep}${s.auto ? " (auto)" : ""}${s.limited ? " (limited)" : ""}`;
    }
    $("voyage-readout").textContent = text;
  }

  function wireVoyage() {
    $("voyage-fly").addEventListener("click", () => {
      const target = $("voyage-target").value;
      post("/api/voyage/fly", { target }, `fly to ${target}`);
    });
    $("voyage-orbit").addEventListener("click", () => post("/api/voyage/orbit", {}, "orbit"));
    $("voyage-park").addEventListener("click", () => post("/api/voyage/park", {}, "stop"));
    $("voyage-home").addEventListener("click", () => post("/api/voyage/home", {}, "fly home"));
    $("stereo-natural").addEventListener("click", () => post("/api/stereo", { separation: "natural" }, "natural depth"));
    $("stereo-auto").addEventListener("click", () => post("/api/stereo", { separation: "auto" }, "space depth"));
  }

  function renderSafety(state) {
    const level = state.blackout ? state.blackout.level : 0;
    const target = state.blackout ? state.blackout.target : 0;
    const node = $("blackout-level");
    node.textContent = level >= 0.999 ? "BLACK" : level <= 0.001 && target <= 0.001 ? "dome on" :
      `black ${Math.round(level * 100)} %`;
    node.classList.toggle("dark", level > 0.001 || target > 0.001);
  }

  function renderView(state) {
    const view = state.view;
    if (!view) return;
    const target = view.target ? ` → ${view.target}` : "";
    const zoom = Number(view.zoom) || 1;
    $("view-readout").textContent = `az ${degrees(view.az_deg)} alt ${degrees(view.alt_deg)} ` +
      `zoom ${zoom.toFixed(2)}×${view.moving ? " moving" : ""}${target}`;
    $("zoom-value").textContent = `${zoom >= 10 ? zoom.toFixed(0) : zoom.toFixed(1)}×`;
    if (!zoomSliding) $("zoom-slider").value = Math.log10(view.zoom);
    $("pointer-readout").textContent = state.pointer ? `pointer: ${state.pointer}` : "";
  }

  function renderTime(state) {
    const time = state.time;
    if (!time) {
      $("time-utc").textContent = formatUtc(state.sim_utc);
      return;
    }
    $("time-utc").textContent = formatUtc(time.utc);
    $("time-rate").textContent = time.paused ? "paused" : `rate ${rateName(time.rate)}`;
    const presets = time.presets || DEFAULT_PRESETS;
    const box = $("rate-presets");
    if (box.dataset.presets !== presets.join(",")) {
      box.dataset.presets = presets.join(",");
      box.replaceChildren(...presets.map((rate) => {
        const button = el("button", { type: "button", textContent: rateName(rate) });
        button.dataset.testid = `rate-preset-${rate}`;
        button.dataset.rate = rate;
        button.setAttribute("data-control", "");
        button.setAttribute("data-sky", "");
        button.addEventListener("click", () => post("/api/time/rate", { rate }, `rate ${rateName(rate)}`));
        return button;
      }));
      applyReadOnly();
    }
    for (const button of box.children) {
      button.setAttribute("aria-pressed", String(!time.paused && Number(button.dataset.rate) === time.rate));
    }
    if (!rateSliding) {
      $("rate-slider").value = rateToSlider(time.paused ? 0 : time.rate);
      $("rate-value").textContent = rateName(time.paused ? 0 : time.rate);
    }
    $("time-pause").setAttribute("aria-pressed", String(!!time.paused));
  }

  function renderSite(state) {
    const site = state.site;
    if (!site) return;
    const ns = site.latitude_deg >= 0 ? "N" : "S", ew = site.longitude_deg >= 0 ? "E" : "W";
    $("site-readout").textContent = `${site.name || "?"}: ${Math.abs(site.latitude_deg).toFixed(3)}° ${ns}, ` +
      `${Math.abs(site.longitude_deg).toFixed(3)}° ${ew}, ${Math.round(site.elevation_m || 0)} m`;
  }

  function renderLayers(state) {
    const layers = state.layers || [];
    const names = layers.map((l) => l.name).join(",");
    const box = $("layers");
    if (names !== layerNames) {
      layerNames = names;
      box.replaceChildren(...layers.map((layer) => {
        const button = el("button", { type: "button" }, layer.name, el("span", { className: "level" }));
        button.dataset.testid = `layer-${layer.name}`;
        button.dataset.layer = layer.name;
        button.setAttribute("data-control", "");
        button.setAttribute("data-sky", "");
        button.addEventListener("click", () => {
          const on = button.getAttribute("aria-pressed") !== "true";
          post("/api/layer", { name: layer.name, on }, `${layer.name} ${on ? "on" : "off"}`);
        });
        return button;
      }));
      applyReadOnly();
    }
    layers.forEach((layer, i) => {
      const button = box.children[i];
      button.setAttribute("aria-pressed", String(!!layer.on));
      button.querySelector(".level").style.width = `${Math.round(100 * (layer.opacity || 0))}%`;
    });
  }

  function renderLanguages(state) {
    const languages = state.languages || [];
    const box = $("languages");
    if (languages.join(",") !== languageNames) {
      languageNames = languages.join(",");
      box.replaceChildren(...languages.map((language) => {
        const button = el("button", { type: "button", textContent: language.toUpperCase() });
        button.dataset.testid = `language-${language}`;
        button.dataset.language = language;
        button.setAttribute("data-control", "");
        button.addEventListener("click", () => post("/api/language", { language }, `language ${language}`));
        return button;
      }));
      applyReadOnly();
    }
    for (const button of box.children) {
      button.setAttribute("aria-pressed", String(button.dataset.language === state.language));
    }
  }

  function renderShow(state) {
    const show = state.show;
    const cue = state.next_cue;
    $("next-cue").textContent = cue ? `${clock(cue.show_time_s)}  ${cue.label || ""}` :
      show ? "no cue left" : "no show";
    if (!show) {
      $("show-readout").textContent = "no show loaded";
      $("show-hold").textContent = "";
      if (cueNames) { cueNames = ""; $("show-cues").replaceChildren(); }
      return;
    }
    const duration = show.duration_s ? ` / ${clock(show.duration_s)}` : "";
    $("show-readout").textContent = `${show.title || show.path}: ${show.state} ${clock(show.show_time_s)}${duration}` +
      (show.label ? ` · ${show.label}` : "");
    $("show-hold").textContent = show.hold ? `hold: ${show.hold.note || "waiting for resume"}` : "";
    const labels = show.labels || [];
    const box = $("show-cues");
    if (labels.join("\n") !== cueNames) {
      cueNames = labels.join("\n");
      box.replaceChildren(...labels.map((label) => {
        const button = el("button", { type: "button", textContent: label });
        button.dataset.testid = `show-cue-${label}`;
        button.dataset.label = label;
        button.setAttribute("data-control", "");
        button.addEventListener("click", () => post("/api/show/seek", { to: label }, `seek ${label}`));
        return button;
      }));
      applyReadOnly();
    }
    for (const button of box.children) button.classList.toggle("current", button.dataset.label === show.label);
  }

  function renderPoll(state) {
    const poll = state.poll;
    if (!poll || !poll.poll) {
      $("poll-readout").textContent = poll ? "no poll yet" : "no vote desk";
      if (pollKey) { pollKey = ""; $("poll-tally").replaceChildren(); }
      return;
    }
    const remaining = poll.open && typeof poll.remaining_s === "number" ? `, ${Math.ceil(poll.remaining_s)} s left` : "";
    const result = !poll.open && poll.winner ? `, closed: ${poll.winner}` : poll.open ? "" : ", closed";
    $("poll-readout").textContent = `${poll.question || poll.poll}: ${poll.seats_voted} of ${poll.seats} seats` +
      `${remaining}${result}${poll.on_dome ? " · on the dome" : ""}`;
    const labels = (poll.labels && poll.labels[poll.language]) || poll.options;
    const key = poll.poll + "\n" + poll.language + "\n" + poll.options.join("\n");
    const box = $("poll-tally");
    if (key !== pollKey) {
      pollKey = key;
      box.replaceChildren(...poll.options.map((option, i) => {
        const row = el("div", { className: "tally-row" },
          el("span", { className: "tally-label", textContent: labels[i] || option }),
          el("div", { className: "tally-bar" }, el("span")),
          el("span", { className: "tally-count" }));
        row.dataset.testid = `tally-${option}`;
        return row;
      }));
    }
    const counts = poll.options.map((o) => poll.tally[o] || 0);
    const total = Math.max(1, counts.reduce((a, b) => a + b, 0));
    poll.options.forEach((option, i) => {
      const row = box.children[i];
      row.querySelector(".tally-bar span").style.width = `${(100 * counts[i] / total).toFixed(1)}%`;
      row.querySelector(".tally-count").textContent = counts[i];
      row.classList.toggle("winner", !poll.open && poll.winner === option);
    });
    $("poll-show").setAttribute("aria-pressed", String(!!poll.on_dome));
  }

  function renderHealth(state) {
    const fps = typeof state.fps === "number" ? state.fps.toFixed(0) : "–";
    const streams = state.console && state.console.websockets ? ` · consoles ${state.console.websockets.open}` : "";
    $("master-health").textContent = `${state.role || "master"} · frame ${state.frame} · ${fps} fps · ` +
      `missed ${state.missed_deadlines || 0}${streams}${state.stopped ? " · STOPPED" : ""}`;
    const nodes = state.nodes || [];
    const box = $("nodes");
    if (box.children.length !== nodes.length) {
      box.replaceChildren(...nodes.map(() => el("div", { className: "node" })));
    }
    nodes.forEach((node, i) => {
      const cell = box.children[i];
      cell.dataset.testid = `node-${node.ig}`;
      cell.className = "node " + (!node.online ? "offline" : node.in_barrier ? "online" : "online out-of-barrier");
      cell.classList.toggle("missing", node.missed > 0);
      cell.title = `IG ${node.ig}: ${node.online ? "online" : "offline"}, ${node.in_barrier ? "in" : "out of"} the ` +
        `barrier, ${node.fps} fps, ${node.render_ms} ms, missed ${node.missed}, joins ${node.joins}`;
      cell.replaceChildren(el("b", { textContent: String(node.ig).padStart(2, "0") }),
        `${node.online ? Math.round(node.fps) : "off"}`, el("br"), `${node.missed}✕`);
    });
  }

  // ------------------------------------------------------------------ calibration (the technician's panel)

  // docs/console.md, /api/calibration: a projector's control grid, refined point by point, live on the
  // dome. The keyboard twin is `domectl calibrate adjust` (calibration/cli_adjust.py): same steps.
  const CALIB_OPEN_KEY = "domectl.calibration-open";
  const CALIB_STEP_PX = 1;          // cli_adjust.STEP_PX
  const CALIB_BIG_STEP_PX = 10;     // cli_adjust.SHIFT_STEP_PX: shift, or the ×10 key
  // The grid sizes offered (the API takes 2..64 per side; past 16 a finger cannot pick a point).
  const CALIB_GRID_MIN = 2;
  const CALIB_GRID_MAX = 16;
  // /api/calibration gives no projector resolution: the schematic takes the reference hall's
  // 4096 x 2160 shape (a point sits at a fraction of the image whatever the resolution).
  const CALIB_ASPECT = 4096 / 2160;
  const CALIB_VIEW_W = 1000;        // schematic units across the image
  const CALIB_MARGIN = 40;          // room around the image for edge points and their offsets
  // Offsets are a few pixels of a 4096 px image: drawn magnified, one pixel at most 6 % of a cell
  // (a single nudge shows) and the largest offset at most 45 % of one (it stays near its point).
  const CALIB_CELL_PER_PX = 0.06;
  const CALIB_MAX_CELL = 0.45;
  // Revert drops unsaved work: it asks for a second tap within this time.
  const CALIB_REVERT_ARM_MS = 4000;

  const calib = {
    data: null,            // GET /api/calibration's answer, kept up to date by the adjust answers
    fetching: false,
    fetchAgain: false,
    projector: "",         // the selected projector
    points: {},            // projector -> [row, col]: the selected point, per projector
    queue: [],             // nudges not sent yet, merged per point: held keys never pile up requests
    sending: false,
    revertTimer: null,
  };

  const calibOpen = () => !$("calibration").hidden;

  function setCalibrationOpen(open) {
    $("calibration").hidden = !open;
    $("calib-toggle").setAttribute("aria-expanded", String(open));
    try {
      if (open) localStorage.setItem(CALIB_OPEN_KEY, "1"); else localStorage.removeItem(CALIB_OPEN_KEY);
    } catch (e) { /* no storage */ }
    if (open) {
      loadCalibration();
      $("calibration").scrollIntoView({ block: "start" });
      $("calib-grid").focus({ preventScroll: true });
    }
  }

  async function loadCalibration() {
    if (calib.fetching) {
      calib.fetchAgain = true;
      return;
    }
    calib.fetching = true;
    try {
      calib.data = await get("/api/calibration");
      renderCalibration();
    } catch (e) {
      $("calib-message").textContent = `calibration: ${e.message}`;
    } finally {
      calib.fetching = false;
    }
    if (calib.fetchAgain) {
      calib.fetchAgain = false;
      loadCalibration();
    }
  }

  function calibProjectorNames() {
    const data = calib.data;
    if (!data) return [];
    const names = data.projectors.map((p) => p.name);
    // Without a calibration the patterns still work: the projectors then come from the IGs.
    for (const node of data.nodes || []) if (node.projector && !names.includes(node.projector)) names.push(node.projector);
    return names;
  }

  function calibProjector() {
    return calib.data ? calib.data.projectors.find((p) => p.name === calib.projector) || null : null;
  }

  function calibPoint(control) {
    let point = calib.points[calib.projector];
    if (!point) point = [Math.floor(control.rows / 2), Math.floor(control.cols / 2)];   // as cli_adjust starts
    point = [Math.min(point[0], control.rows - 1), Math.min(point[1], control.cols - 1)];
    calib.points[calib.projector] = point;
    return point;
  }

  const signed = (x) => (x >= 0 ? "+" : "−") + Math.abs(x).toFixed(1);

  function renderCalibration() {
    const data = calib.data;
    if (!data || !calibOpen()) return;
    const names = calibProjectorNames();
    const select = $("calib-projector");
    if (select.dataset.names !== names.join(",")) {
      select.dataset.names = names.join(",");
      select.replaceChildren(...names.map((name) => el("option", { value: name, textContent: name })));
    }
    if (!names.includes(calib.projector)) calib.projector = names[0] || "";
    select.value = calib.projector;
    $("calib-message").textContent = data.calibration.loaded ? "" :
      "no calibration loaded: the master runs on the hall config's models (start it with its calibration " +
      "store to refine); test patterns work";
    renderCalibrationSummary();
    renderCalibrationGrid();
    renderCalibrationTable();
    renderCalibrationPattern();
  }

  // The store version, the dirty marker and which IGs draw the newest revision: from the live state
  // (five times a second), else from the last answer.
  function renderCalibrationSummary() {
    const summary = (lastState && lastState.calibration) || (calib.data && calib.data.calibration);
    if (!summary) return;
    const loaded = summary.revision !== null && summary.revision !== undefined;
    $("calib-version").textContent = loaded ? `store v${summary.version} · revision ${summary.revision}` :
      "no calibration loaded";
    $("calib-dirty").hidden = !summary.dirty;
    const nodes = ((lastState && lastState.nodes) || []).filter((n) => n.online);
    const following = nodes.filter((n) => n.calibration_revision === summary.revision).length;
    $("calib-follow").textContent = !loaded ? "" : nodes.length ? `${following} of ${nodes.length} IGs drawing it` :
      "no IG online";
  }

  function svgEl(tag, attrs) {
    // The namespace from the page's own <svg>: its URL written here would look like an outside resource.
    const node = document.createElementNS($("calib-svg").namespaceURI, tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    return node;
  }

  function renderCalibrationGrid() {
    const svg = $("calib-svg");
    const p = calibProjector();
    const w = CALIB_VIEW_W, h = CALIB_VIEW_W / CALIB_ASPECT, m = CALIB_MARGIN;
    svg.setAttribute("viewBox", `${-m} ${-m} ${w + 2 * m} ${h + 2 * m}`);
    if (!p) {
      svg.replaceChildren(svgEl("rect", { class: "cg-frame", x: 0, y: 0, width: w, height: h }));
      $("calib-point").textContent = "–";
      $("calib-scale").textContent = "";
      return;
    }
    const { rows, cols, offsets_px: offsets } = p.control;
    const [row, col] = calibPoint(p.control);
    const cellW = w / Math.max(1, cols - 1), cellH = h / Math.max(1, rows - 1);
    const cell = Math.min(cellW, cellH);
    let largestPx = 0;
    for (const line of offsets) for (const [dx, dy] of line) largestPx = Math.max(largestPx, Math.hypot(dx, dy));
    const unitsPerPx = Math.min(cell * CALIB_CELL_PER_PX, largestPx > 0 ? cell * CALIB_MAX_CELL / largestPx : Infinity);
    const children = [svgEl("rect", { class: "cg-frame", x: 0, y: 0, width: w, height: h })];
    for (let r = 0; r < rows; r++) children.push(svgEl("line", { class: "cg-line", x1: 0, x2: w, y1: r * cellH, y2: r * cellH }));
    for (let c = 0; c < cols; c++) children.push(svgEl("line", { class: "cg-line", y1: 0, y2: h, x1: c * cellW, x2: c * cellW }));
    const dotR = Math.max(4, Math.min(9, cell * 0.07));
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const x = c * cellW, y = r * cellH;
        const [dx, dy] = offsets[r][c];
        const selected = r === row && c === col;
        const g = svgEl("g", { class: selected ? "cg-point cg-selected" : "cg-point" });
        g.append(svgEl("circle", { class: "cg-base", cx: x, cy: y, r: dotR }));
        if (dx || dy) {
          const tx = x + dx * unitsPerPx, ty = y + dy * unitsPerPx;
          g.append(svgEl("line", { class: "cg-offset", x1: x, y1: y, x2: tx, y2: ty }),
            svgEl("circle", { class: "cg-tip", cx: tx, cy: ty, r: dotR * 0.6 }));
        }
        if (selected) g.append(svgEl("circle", { class: "cg-ring", cx: x, cy: y, r: dotR * 2.4 }));
        // A target as large as the cell allows (a finger's, on a tablet), on top.
        const hit = svgEl("circle", { class: "cg-hit", cx: x, cy: y, r: cell / 2 });
        hit.dataset.testid = `calib-point-${r}-${c}`;
        hit.dataset.row = r;
        hit.dataset.col = c;
        g.append(hit);
        children.push(g);
      }
    }
    svg.replaceChildren(...children);
    const [dx, dy] = offsets[row][col];
    $("calib-point").textContent = `${p.name} (${row}, ${col}) of ${rows} × ${cols}: ${signed(dx)}, ${signed(dy)} px`;
    $("calib-scale").textContent = unitsPerPx > 0 ?
      `offset lines magnified: a cell's width ≙ ${(cellW / unitsPerPx).toFixed(0)} px of offset` : "";
    for (const [id, n] of [["calib-rows", rows], ["calib-cols", cols]]) {
      const chooser = $(id);
      const sizes = [];
      for (let k = CALIB_GRID_MIN; k <= Math.max(CALIB_GRID_MAX, n); k++) sizes.push(k);
      if (chooser.dataset.sizes !== sizes.join(",")) {
        chooser.dataset.sizes = sizes.join(",");
        chooser.replaceChildren(...sizes.map((k) => el("option", { value: String(k), textContent: String(k) })));
        chooser.dataset.shown = "";
      }
      // Set only when the grid (or the projector) changes: a re-render must not undo a size the
      // technician picked and has not applied yet.
      const shown = `${p.name}:${n}`;
      if (chooser.dataset.shown !== shown) {
        chooser.dataset.shown = shown;
        chooser.value = String(n);
      }
    }
  }

  // Rows are made once per set of projectors and updated in place: a row replaced five times a second
  // would swallow the tap that selects it.
  function renderCalibrationTable() {
    const data = calib.data;
    const igs = {};                  // projector -> its IGs (a stereo hall drives each with two)
    for (const node of data.nodes || []) if (node.projector) (igs[node.projector] = igs[node.projector] || []).push(node.ig);
    const live = {};
    for (const node of (lastState && lastState.nodes) || []) live[node.ig] = node;
    const revision = lastState && lastState.calibration ? lastState.calibration.revision : data.calibration.revision;
    const body = $("calib-rows-body");
    const names = data.projectors.map((p) => p.name).join(",");
    if (body.dataset.names !== names) {
      body.dataset.names = names;
      body.replaceChildren(...data.projectors.map((p) => {
        const tr = el("tr", {}, ...Array.from({ length: 7 }, () => el("td")));
        tr.dataset.testid = `calib-row-${p.name}`;
        tr.dataset.projector = p.name;
        return tr;
      }));
    }
    data.projectors.forEach((p, i) => {
      const cells = body.children[i].children;
      let largestPx = 0;
      for (const line of p.control.offsets_px) for (const [dx, dy] of line) largestPx = Math.max(largestPx, Math.hypot(dx, dy));
      // Each IG: ✓ drawing the newest revision, the revision it draws, or off(line).
      const mine = (igs[p.name] || []).map((ig) => {
        const node = live[ig];
        const online = !!(node && node.online);
        const current = online && node.calibration_revision === revision;
        return { ig, online, current, text: !online ? `${ig} off` : current ? `${ig} ✓` : `${ig} rev ${node.calibration_revision}` };
      });
      cells[0].textContent = p.name;
      cells[1].textContent = mine.length ? mine.map((n) => n.text).join(", ") : "–";
      cells[1].className = mine.some((n) => !n.online) ? "offline" : mine.some((n) => !n.current) ? "behind" : "";
      cells[1].title = "each IG: ✓ drawing the newest revision, the revision it draws, or off(line)";
      cells[2].textContent = `${p.control.rows} × ${p.control.cols}`;
      cells[3].textContent = largestPx ? `${largestPx.toFixed(1)} px` : "0";
      cells[4].textContent = p.fit ? `${p.fit.rms_px.toFixed(2)} / ${p.fit.max_px.toFixed(2)} px` : "–";
      cells[5].textContent = p.blend ?
        `${p.blend.width_frac.toFixed(2)} · γ ${p.blend.gamma}${p.blend.black_uplift ? " · uplift" : ""}` : "–";
      cells[6].textContent = p.colour ? p.colour.gain_rgb.map((g) => g.toFixed(2)).join(" ") +
        (p.colour.lut_size ? ` · LUT ${p.colour.lut_size}` : "") : "–";
      body.children[i].classList.toggle("selected", p.name === calib.projector);
    });
  }

  function renderCalibrationPattern() {
    const shown = (lastState && lastState.pattern) || "";
    for (const button of $("calib-patterns").children) {
      const name = button.dataset.pattern;
      const on = name ? shown === name || shown === `${name}:${calib.projector}` : shown === "";
      button.setAttribute("aria-pressed", String(on));
    }
  }

  // The live state, five times a second: the summary, and a fresh /api/calibration when somebody
  // (this page, another console, `domectl calibrate adjust`) changed the calibration.
  function calibrationFromState(state) {
    if (!calibOpen()) return;
    renderCalibrationSummary();
    renderCalibrationPattern();
    const live = state.calibration;
    if (!calib.data || !live) return;
    const mine = calib.data.calibration;
    if ((live.revision !== mine.revision || live.version !== mine.version || live.dirty !== mine.dirty) &&
        !calib.sending && !calib.queue.length) {
      loadCalibration();
    } else if (calib.data.projectors.length) {
      renderCalibrationTable();        // the IGs' revisions
    }
  }

  // An adjust answer: that projector's grid and the summary, without asking the whole set again.
  function takeAdjustAnswer(answer) {
    if (!answer || !calib.data) return;
    Object.assign(calib.data.calibration, answer.calibration);
    const p = calib.data.projectors.find((q) => q.name === answer.projector);
    if (p && answer.control) p.control = answer.control;
    renderCalibration();
  }

  function nudge(ux, uy, big) {
    const p = calibProjector();
    if (!p) return say("calibration: no projector grid to refine", true);
    if (!token) return say("read-only: give the control token to control the dome", true);
    const step = big || $("calib-x10").getAttribute("aria-pressed") === "true" ? CALIB_BIG_STEP_PX : CALIB_STEP_PX;
    const [row, col] = calibPoint(p.control);
    const last = calib.queue[calib.queue.length - 1];
    if (last && last.projector === p.name && last.row === row && last.col === col) {
      last.dx_px += ux * step;
      last.dy_px += uy * step;
    } else {
      calib.queue.push({ projector: p.name, row, col, dx_px: ux * step, dy_px: uy * step });
    }
    sendNudges();
  }

  async function sendNudges() {
    if (calib.sending) return;
    calib.sending = true;
    try {
      while (calib.queue.length) {
        const body = calib.queue.shift();
        if (!body.dx_px && !body.dy_px) continue;
        const answer = await post("/api/calibration/adjust", body,
          `${body.projector} (${body.row}, ${body.col}) nudge ${signed(body.dx_px)}, ${signed(body.dy_px)} px`);
        if (!answer) {
          calib.queue.length = 0;        // refused: the rest would be refused too
          break;
        }
        takeAdjustAnswer(answer);
      }
    } finally {
      calib.sending = false;
    }
  }

  function selectPoint(row, col) {
    const p = calibProjector();
    if (!p) return;
    calib.points[calib.projector] = [row, col];
    renderCalibrationGrid();
  }

  function stepPoint(by) {
    const p = calibProjector();
    if (!p) return;
    const { rows, cols } = p.control;
    const [row, col] = calibPoint(p.control);
    const index = ((row * cols + col + by) % (rows * cols) + rows * cols) % (rows * cols);
    selectPoint(Math.floor(index / cols), index % cols);
  }

  function selectProjector(name) {
    calib.projector = name;
    renderCalibration();
  }

  const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

  function wireCalibration() {
    const toggle = $("calib-toggle");
    toggle.addEventListener("click", () => setCalibrationOpen(!calibOpen()));
    $("calib-close").addEventListener("click", () => setCalibrationOpen(false));
    $("calib-projector").addEventListener("change", (e) => selectProjector(e.target.value));
    $("calib-rows-body").addEventListener("click", (e) => {
      const tr = e.target.closest("tr");
      if (tr && tr.dataset.projector) selectProjector(tr.dataset.projector);
    });

    // A tap selects the point nearest to it (the hit circles only make the targets visible to tests
    // and to a mouse's hover): a finger need not land on the dot.
    const svg = $("calib-svg");
    svg.addEventListener("click", (e) => {
      const p = calibProjector();
      if (!p) return;
      const hit = e.target.closest("[data-row]");
      if (hit) return selectPoint(Number(hit.dataset.row), Number(hit.dataset.col));
      const ctm = svg.getScreenCTM();
      if (!ctm) return;
      const at = new DOMPoint(e.clientX, e.clientY).matrixTransform(ctm.inverse());
      const { rows, cols } = p.control;
      const w = CALIB_VIEW_W, h = CALIB_VIEW_W / CALIB_ASPECT;
      const clamp = (v, n) => Math.max(0, Math.min(n - 1, Math.round(v)));
      selectPoint(clamp(at.y / h * (rows - 1), rows), clamp(at.x / w * (cols - 1), cols));
    });

    for (const [id, ux, uy] of [["calib-left", -1, 0], ["calib-right", 1, 0], ["calib-up", 0, -1], ["calib-down", 0, 1]]) {
      wire(id, (e) => nudge(ux, uy, e.shiftKey));
    }
    wire("calib-x10", () => {
      const on = $("calib-x10").getAttribute("aria-pressed") !== "true";
      $("calib-x10").setAttribute("aria-pressed", String(on));
    });
    wire("calib-resample", async () => {
      const p = calibProjector();
      if (!p) return say("calibration: no projector grid to resample", true);
      const grid = [Number($("calib-rows").value), Number($("calib-cols").value)];
      if (grid[0] === p.control.rows && grid[1] === p.control.cols) return say(`${p.name}: the grid is ${grid.join(" × ")} already`, false);
      takeAdjustAnswer(await post("/api/calibration/adjust", { projector: p.name, grid }, `${p.name} grid ${grid.join(" × ")}`));
    });
    for (const button of $("calib-patterns").children) {
      button.dataset.title = button.title || "";
      button.addEventListener("click", async () => {
        const name = button.dataset.pattern;
        if (name && !calib.projector) return say("pattern: choose a projector first", true);
        const body = name ? { pattern: name, projectors: [calib.projector] } : { pattern: "" };
        const answer = await post("/api/calibration/pattern", body, name ? `pattern ${name} on ${calib.projector}` : "pattern off");
        if (answer && lastState) {
          lastState.pattern = answer.pattern;
          renderCalibrationPattern();
        }
      });
    }
    wire("calib-save", async () => {
      const note = $("calib-note").value.trim();
      const answer = await post("/api/calibration/save", note ? { note } : {}, "calibration save");
      if (!answer) return;
      $("calib-note").value = "";
      say(`calibration saved as store v${answer.calibration.version}`, false);
      loadCalibration();
    });
    const disarm = () => {
      clearTimeout(calib.revertTimer);
      calib.revertTimer = null;
      const button = $("calib-revert");
      button.classList.remove("arming");
      button.textContent = "Revert";
    };
    wire("calib-revert", async () => {
      const button = $("calib-revert");
      if (!calib.revertTimer) {
        button.classList.add("arming");
        button.textContent = "Revert? tap again";
        calib.revertTimer = setTimeout(disarm, CALIB_REVERT_ARM_MS);
        return;
      }
      disarm();
      calib.queue.length = 0;
      const answer = await post("/api/calibration/revert", {}, "calibration revert");
      if (answer) {
        say(`calibration back to store v${answer.calibration.version}`, false);
        loadCalibration();
      }
    });

    // The keyboard, while the focus is in the panel (but not in a field, where arrows edit).
    $("calibration").addEventListener("keydown", (e) => {
      if (e.target.closest("input, select, textarea") || e.ctrlKey || e.altKey || e.metaKey) return;
      const arrow = ARROWS[e.key];
      if (arrow) {
        e.preventDefault();                  // not a scroll
        nudge(arrow[0], arrow[1], e.shiftKey);
      } else if (e.key === "n" || e.key === "p") {
        e.preventDefault();
        stepPoint(e.key === "n" ? 1 : -1);
      }
    });

    let reopen = false;
    try { reopen = localStorage.getItem(CALIB_OPEN_KEY) === "1"; } catch (e) { /* no storage */ }
    if (reopen) setCalibrationOpen(true);
  }

  // ------------------------------------------------------------------ controls

  function wire(id, handler) {
    const node = $(id);
    node.dataset.title = node.title || "";
    node.addEventListener("click", handler);
  }

  function wireControls() {
    wire("blackout", () => post("/api/blackout", {}, "blackout"));
    wire("panic", () => post("/api/blackout", { fade_s: 0 }, "PANIC"));
    wire("restore", () => post("/api/restore", {}, "restore"));

    const showTokenBox = (open) => {
      $("token-box").hidden = !open;
      $("token-toggle").setAttribute("aria-expanded", String(open));
      if (open) $("token-input").focus();
    };
    $("token-toggle").addEventListener("click", () => showTokenBox($("token-box").hidden));
    $("readonly-badge").addEventListener("click", () => showTokenBox(true));
    $("token-save").addEventListener("click", () => {
      const value = $("token-input").value.trim();
      $("token-input").value = "";
      if (value) {
        tokenRefused = false;
        setToken(value);
        showTokenBox(false);
        say("token set: controls enabled", false);
      }
    });
    $("token-input").addEventListener("keydown", (e) => { if (e.key === "Enter") $("token-save").click(); });
    $("token-forget").addEventListener("click", () => {
      setToken(null);
      showTokenBox(false);
      say("token forgotten: read-only", false);
    });

    // Time
    wire("time-pause", () => post("/api/time/pause", {}, "pause"));
    wire("time-resume", () => post("/api/time/resume", {}, "resume"));
    wire("time-now", () => post("/api/time/now", {}, "now"));
    wire("time-set", () => {
      const value = $("time-set-input").value;
      if (!value) return say("set time: pick a date and time (UTC) first", true);
      const utc = (value.length === 16 ? value + ":00" : value) + "Z";
      post("/api/time/set", { utc }, `time ${utc}`);
    });
    const rateSlider = $("rate-slider");
    rateSlider.addEventListener("input", () => {
      rateSliding = true;
      $("rate-value").textContent = rateName(sliderToRate(Number(rateSlider.value)));
    });
    rateSlider.addEventListener("change", () => {
      rateSliding = false;
      const rate = sliderToRate(Number(rateSlider.value));
      post("/api/time/rate", { rate }, `rate ${rateName(rate)}`);
    });

    // Place
    wire("place-hall", () => post("/api/place", { name: "hall" }, "place: the hall"));
    wire("place-go", () => {
      const name = $("place-select").value;
      if (name) post("/api/place", { name }, `place: ${name}`);
    });
    wire("place-set", () => {
      const lat = Number($("place-lat").value), lon = Number($("place-lon").value);
      if ($("place-lat").value === "" || $("place-lon").value === "" || !isFinite(lat) || !isFinite(lon)) {
        return say("place: give a latitude (-90..90, north +) and a longitude (east +)", true);
      }
      const body = { latitude_deg: lat, longitude_deg: lon };
      if ($("place-elev").value !== "") body.elevation_m = Number($("place-elev").value);
      post("/api/place", body, `place ${lat}, ${lon}`);
    });

    // View
    wire("zoom-in", () => post("/api/view", { zoom_by: 1.5 }, "zoom in"));
    wire("zoom-out", () => post("/api/view", { zoom_by: 1 / 1.5 }, "zoom out"));
    wire("recenter", () => post("/api/view/recenter", {}, "recenter"));
    const zoomSlider = $("zoom-slider");
    zoomSlider.addEventListener("input", () => {
      zoomSliding = true;
      $("zoom-value").textContent = `${Math.pow(10, Number(zoomSlider.value)).toFixed(1)}×`;
    });
    zoomSlider.addEventListener("change", () => {
      zoomSliding = false;
      const zoom = +Math.pow(10, Number(zoomSlider.value)).toPrecision(3);
      post("/api/view", { zoom, smooth: true }, `zoom ${zoom}`);
    });
    wireDrag();
    wireSearch();
    wireVoyage();
    $("preview-toggle").addEventListener("change", reconnectNow);

    // Show
    wire("show-load", () => {
      const path = $("show-select").value;
      if (path) post("/api/show/load", { path }, `load ${path}`);
    });
    wire("shows-refresh", loadShows);
    for (const name of ["play", "pause", "resume", "skip", "stop"]) {
      wire(`show-${name}`, () => post(`/api/show/${name}`, {}, `show ${name}`));
    }
    wire("show-seek", () => {
      const raw = $("show-seek-input").value.trim();
      if (!raw) return say("seek: give seconds, MM:SS or a label", true);
      const to = /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
      post("/api/show/seek", { to }, `seek ${raw}`);
    });

    // Poll
    wire("poll-open", () => {
      const question = $("poll-question").value.trim();
      const options = $("poll-options").value.split(",").map((s) => s.trim()).filter((s) => s);
      if (!question || options.length < 2) return say("poll: a question and at least two options, comma-separated", true);
      const body = { question, options };
      if ($("poll-duration").value !== "") body.duration_s = Number($("poll-duration").value);
      post("/api/poll/open", body, "poll open");
    });
    wire("poll-close", () => post("/api/poll/close", {}, "poll close"));
    wire("poll-show", () => post("/api/poll/show", {}, "poll on the dome"));
    wire("poll-hide", () => post("/api/poll/hide", {}, "poll hidden"));

    wireCalibration();
  }

  // Drag on the preview turns the sky: the domemaster is 180° across at zoom 1; dragging right pulls
  // the sky to the right (what was left of the front comes to it: azimuth down), dragging down
  // pulls it toward the front rim (what was higher comes down to the front: altitude up).
  function wireDrag() {
    const box = $("preview-box");
    let last = null;
    let pending = { az: 0, alt: 0 };
    let timer = null;
    const flush = () => {
      timer = null;
      const body = { d_az_deg: +pending.az.toFixed(3), d_alt_deg: +pending.alt.toFixed(3) };
      pending = { az: 0, alt: 0 };
      if (body.d_az_deg || body.d_alt_deg) post("/api/view", body, "turn");
    };
    box.addEventListener("pointerdown", (e) => {
      if (!token || (lastState && lastState.controlled_by === "show")) return;
      last = { x: e.clientX, y: e.clientY };
      box.setPointerCapture(e.pointerId);
      box.classList.add("dragging");
    });
    box.addEventListener("pointermove", (e) => {
      if (!last) return;
      const zoom = (lastState && lastState.view && lastState.view.zoom) || 1;
      const degPerPx = 180 / box.clientWidth / zoom;
      pending.az -= (e.clientX - last.x) * degPerPx;
      pending.alt += (e.clientY - last.y) * degPerPx;
      last = { x: e.clientX, y: e.clientY };
      if (!timer) timer = setTimeout(flush, DRAG_SEND_MS);
    });
    const end = () => {
      if (!last) return;
      last = null;
      box.classList.remove("dragging");
      clearTimeout(timer);
      flush();
    };
    box.addEventListener("pointerup", end);
    box.addEventListener("pointercancel", end);
  }

  function wireSearch() {
    const input = $("goto-search");
    let timer = null;
    let asked = 0;
    const search = async () => {
      const q = input.value.trim();
      const ticket = ++asked;
      if (!q) return $("goto-results").replaceChildren();
      let answer;
      try {
        answer = await get(`/api/search?q=${encodeURIComponent(q)}&limit=${SEARCH_LIMIT}`);
      } catch (e) {
        return say(`search: ${e.message}`, true);
      }
      if (ticket !== asked) return;   // an older answer arriving late
      const results = answer.results || [];
      $("goto-results").replaceChildren(...(results.length ? results.map((r) => {
        const button = el("button", { type: "button" }, r.label, el("span", { className: "kind", textContent: r.kind }));
        button.dataset.testid = `goto-result-${r.key}`;
        button.dataset.key = r.key;
        button.setAttribute("data-control", "");
        button.setAttribute("data-sky", "");
        button.addEventListener("click", () => post("/api/goto", { target: r.key }, `go to ${r.label}`));
        return button;
      }) : [el("span", { className: "unit", textContent: `nothing called “${q}”` })]));
      applyReadOnly();
    };
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(search, SEARCH_DEBOUNCE_MS);
    });
    input.addEventListener("keydown", (e) => {
      if (e.key !== "Enter") return;
      clearTimeout(timer);
      const first = $("goto-results").querySelector("button");
      if (first) first.click(); else search();
    });
  }

  async function loadPlaces() {
    try {
      const answer = await get("/api/places");
      $("place-select").replaceChildren(...(answer.places || []).map((p) =>
        el("option", { value: p.name, textContent: p.note ? `${p.name} (${p.note})` : p.name })));
    } catch (e) {
      say(`places: ${e.message}`, true);
    }
  }

  async function loadShows() {
    try {
      const answer = await get("/api/shows");
      $("show-select").replaceChildren(...(answer.shows || []).map((s) =>
        el("option", { value: s.path, textContent: s.title || s.path, title: s.path })));
    } catch (e) {
      say(`shows: ${e.message}`, true);
    }
  }

  // A tablet put to sleep or a tab in the background watches nothing: the master's preview
  // renders only while somebody watches, so the stream closes until the page is seen again.
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      clearTimeout(reconnectTimer);
      reconnectTimer = null;
      if (socket) {
        const old = socket;
        socket = null;
        old.close();
        setConnected(false);
        $("conn").textContent = "paused (page hidden)";
      }
    } else if (!socket) {
      reconnectNow();
    }
  });

  document.addEventListener("DOMContentLoaded", () => {
    wireControls();
    takeTokenFromFragment();
    loadPlaces();
    loadShows();
    connect();
  });
})();
