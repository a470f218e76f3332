// MarketStream live dashboard: one WebSocket to the stack's `ws_url`, 1-minute candles, a chart
// and a tick table per subscribed symbol. Settings: `?ws=<ws_url>&token=<read token>` on the
// page's URL (plus `&query=<query_base_url>&key=<query API key>` for the candles' history), else
// `config.json` beside the page (`{"ws_url", "token", "query_url", "api_key"}`); without a token
// the page asks for one (the published page carries only `?ws=`). No build step, no CDN.
"use strict";

(() => {
  const MAX_ROWS = 50; // rows kept in each tick table (newest first)
  const MAX_POINTS = 1000; // points kept in each chart
  const MAX_BACKOFF_MS = 10000;
  const CANDLE_MS = 60000; // 1-minute candles
  const MAX_CANDLES = 60; // the last hour: loaded from /bars on subscribe, then kept live
  const SVG = "http://www.w3.org/2000/svg";

  const statusEl = document.getElementById("status");
  const messageEl = document.getElementById("message");
  const panelsEl = document.getElementById("panels");
  const template = document.getElementById("panel-template");
  const form = document.getElementById("subscribe-form");
  const input = document.getElementById("symbol-input");

  /** symbol -> {section, tbody, lastPrice, chart, xs, ys, seen} */
  const panels = new Map();
  /** Symbols the user asked for: sent again after a reconnect. */
  const wanted = new Set();
  let socket = null;
  let backoff = 500;
  /** Where /bars is, and the key it takes: candles start empty without them. */
  let history = null;

  function setStatus(state, text) {
    statusEl.dataset.state = state;
    statusEl.textContent = text;
  }

  function showMessage(text) {
    messageEl.textContent = text;
    messageEl.hidden = !text;
  }

  async function loadSettings() {
    const query = new URLSearchParams(window.location.search);
    if (query.get("ws")) {
      return {
        wsUrl: query.get("ws"),
        token: query.get("token") || "",
        queryUrl: query.get("query") || "",
        apiKey: query.get("key") || "",
      };
    }
    try {
      const reply = await fetch("config.json", { cache: "no-store" });
      if (reply.ok) {
        const config = await reply.json();
        if (config.ws_url) {
          return {
            wsUrl: config.ws_url,
            token: config.token || query.get("token") || "",
            queryUrl: config.query_url || "",
            apiKey: config.api_key || "",
          };
        }
      }
    } catch (err) {
      // no config.json: fall through
    }
    return null;
  }

  function connect(settings) {
    const url = new URL(settings.wsUrl);
    if (settings.token) url.searchParams.set("token", settings.token);
    setStatus("connecting", `connecting to ${settings.wsUrl}`);
    socket = new WebSocket(url.toString());
    socket.addEventListener("open", () => {
      backoff = 500;
      setStatus("open", `connected to ${settings.wsUrl}`);
      if (wanted.size) send("subscribe", [...wanted]);
    });
    socket.addEventListener("message", (event) => onMessage(event.data));
    socket.addEventListener("close", (event) => {
      socket = null;
      const why = event.code === 1006 ? "refused or lost" : `code ${event.code}`;
      setStatus("closed", `disconnected (${why}); retrying in ${backoff / 1000} s`);
      setTimeout(() => connect(settings), backoff);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    });
  }

  function send(action, symbols) {
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      showMessage("not connected yet");
      return;
    }
    socket.send(JSON.stringify({ action, symbols }));
  }

  function onMessage(data) {
    let doc;
    try {
      doc = JSON.parse(data);
    } catch (err) {
      return;
    }
    if (doc.type === "ticks" && Array.isArray(doc.ticks)) {
      const bySymbol = new Map();
      for (const tick of doc.ticks) {
        if (!bySymbol.has(tick.symbol)) bySymbol.set(tick.symbol, []);
        bySymbol.get(tick.symbol).push(tick);
      }
      for (const [symbol, ticks] of bySymbol) addTicks(symbol, ticks);
    } else if ((doc.action === "subscribe" || doc.action === "unsubscribe") && doc.symbols) {
      showMessage("");
      syncPanels(doc.symbols);
    } else if (doc.error || doc.message) {
      const details = (doc.details || []).map((d) => `${d.field}: ${d.reason}`).join("; ");
      showMessage(`${doc.error || "error"}: ${doc.message || ""}${details ? ` (${details})` : ""}`);
    }
  }

  /** The server's list of this connection's symbols is the truth: one panel per symbol. */
  function syncPanels(symbols) {
    const current = new Set(symbols);
    for (const [symbol, panel] of panels) {
      if (!current.has(symbol)) {
        panel.closed = true;
        panel.chart.destroy();
        panel.section.remove();
        panels.delete(symbol);
        wanted.delete(symbol);
      }
    }
    for (const symbol of symbols) {
      wanted.add(symbol);
      if (!panels.has(symbol)) panels.set(symbol, makePanel(symbol));
    }
  }

  function makePanel(symbol) {
    const section = template.content.firstElementChild.cloneNode(true);
    section.dataset.symbol = symbol;
    section.querySelector(".symbol").textContent = symbol;
    panelsEl.append(section);
    const chartEl = section.querySelector(".chart");
    const xs = [];
    const ys = [];
    const chart = new uPlot(
      {
        width: Math.max(chartEl.clientWidth, 300),
        height: 220,
        scales: { x: { time: true } },
        legend: { show: false },
        series: [{}, { label: symbol, stroke: "#2563eb", width: 2, points: { show: true } }],
        axes: [{}, { size: 70 }],
      },
      [xs, ys],
      chartEl,
    );
    const panel = {
      section,
      tbody: section.querySelector("tbody"),
      lastPrice: section.querySelector(".last-price"),
      chart,
      xs,
      ys,
      seen: new Set(),
      candlesEl: section.querySelector(".candles"),
      /** minute start (ms) -> {start, open, high, low, close, count, last}: prices as text */
      candles: new Map(),
      /** Live ticks that came before the bars: applied once they are drawn, if newer. */
      pending: [],
      loaded: false,
      closed: false,
    };
    loadCandles(symbol, panel);
    return panel;
  }

  // -- candles -------------------------------------------------------------------------------

  /** The symbol's last hour of 1m bars from /bars, then the live ticks that came meanwhile. */
  async function loadCandles(symbol, panel) {
    const to = Date.now();
    const from = Math.floor(to / CANDLE_MS) * CANDLE_MS - (MAX_CANDLES - 1) * CANDLE_MS;
    try {
      if (history) {
        const url = new URL(`${history.queryUrl}/bars`, window.location.href);
        for (const [k, v] of [["symbol", symbol], ["interval", "1m"], ["from", from], ["to", to]]) {
          url.searchParams.set(k, String(v));
        }
        const reply = await fetch(url, { headers: { "x-api-key": history.apiKey } });
        const body = await reply.json();
        if (!reply.ok) throw new Error(`${reply.status} ${body.error || body.message || ""}`);
        // Fields beyond OHLCV (a server may add some) are ignored.
        for (const bar of body.bars || []) {
          panel.candles.set(bar.start, {
            start: bar.start,
            open: String(bar.open),
            high: String(bar.high),
            low: String(bar.low),
            close: String(bar.close),
            count: bar.count,
            last: bar.start,
          });
        }
      }
    } catch (err) {
      showMessage(`bars of ${symbol}: ${err.message}`);
    }
    if (panel.closed) return;
    panel.loaded = true;
    panel.section.dataset.candles = "loaded";
    // A tick the bars may already hold (at or before `to`) is not applied twice.
    for (const tick of panel.pending) if (tick.timestamp > to) updateCandle(panel, tick);
    panel.pending = [];
    drawCandles(panel);
  }

  /** The tick into its minute's candle: a new candle, or the newest one's high, low, close. */
  function updateCandle(panel, tick) {
    const start = Math.floor(tick.timestamp / CANDLE_MS) * CANDLE_MS;
    const price = String(tick.price);
    const candle = panel.candles.get(start);
    if (!candle) {
      panel.candles.set(start, {
        start, open: price, high: price, low: price, close: price, count: 1, last: tick.timestamp,
      });
    } else {
      if (Number(price) > Number(candle.high)) candle.high = price;
      if (Number(price) < Number(candle.low)) candle.low = price;
      if (tick.timestamp >= candle.last) {
        candle.close = price;
        candle.last = tick.timestamp;
      }
      candle.count += 1;
    }
    const starts = [...panel.candles.keys()].sort((a, b) => a - b);
    for (const old of starts.slice(0, Math.max(0, starts.length - MAX_CANDLES))) {
      panel.candles.delete(old);
    }
  }

  /** One SVG group per candle (wick and body), its exact OHLC in data attributes. */
  function drawCandles(panel) {
    const svg = panel.candlesEl;
    const candles = [...panel.candles.values()].sort((a, b) => a.start - b.start);
    const width = Math.max(svg.clientWidth, 300);
    const height = 160;
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.replaceChildren();
    if (!candles.length) return;
    const low = Math.min(...candles.map((c) => Number(c.low)));
    const high = Math.max(...candles.map((c) => Number(c.high)));
    const span = high - low || 1;
    const y = (price) => 6 + (height - 12) * (1 - (Number(price) - low) / span);
    const slot = width / MAX_CANDLES;
    const first = candles[candles.length - 1].start - (MAX_CANDLES - 1) * CANDLE_MS;
    for (const c of candles) {
      const x = ((c.start - first) / CANDLE_MS + 0.5) * slot;
      const g = document.createElementNS(SVG, "g");
      g.setAttribute("class", `candle ${Number(c.close) >= Number(c.open) ? "up" : "down"}`);
      for (const name of ["start", "open", "high", "low", "close", "count"]) {
        g.dataset[name] = String(c[name]);
      }
      const wick = document.createElementNS(SVG, "line");
      wick.setAttribute("x1", x);
      wick.setAttribute("x2", x);
      wick.setAttribute("y1", y(c.high));
      wick.setAttribute("y2", y(c.low));
      const body = document.createElementNS(SVG, "rect");
      const top = Math.min(y(c.open), y(c.close));
      body.setAttribute("x", x - slot * 0.35);
      body.setAttribute("width", slot * 0.7);
      body.setAttribute("y", top);
      body.setAttribute("height", Math.max(1, Math.abs(y(c.open) - y(c.close))));
      g.append(wick, body);
      svg.append(g);
    }
  }

  function addTicks(symbol, ticks) {
    const panel = panels.get(symbol);
    if (!panel) return; // a batch that raced an unsubscribe
    for (const tick of ticks) {
      // Delivery is at least once: a retried batch repeats ticks.
      const key = `${tick.timestamp}|${tick.id ?? ""}|${tick.price}|${tick.size ?? ""}`;
      if (panel.seen.has(key)) continue;
      panel.seen.add(key);
      const row = document.createElement("tr");
      row.dataset.timestamp = String(tick.timestamp);
      for (const [cls, text] of [
        ["time", new Date(tick.timestamp).toISOString().replace("T", " ").replace("Z", "")],
        ["price", String(tick.price)],
        ["size", tick.size ?? ""],
      ]) {
        const cell = document.createElement("td");
        cell.className = cls;
        cell.textContent = text;
        row.append(cell);
      }
      panel.tbody.prepend(row);
      // Chart points stay in timestamp order (batches may arrive out of order).
      const x = tick.timestamp / 1000;
      let i = panel.xs.length;
      while (i > 0 && panel.xs[i - 1] > x) i -= 1;
      panel.xs.splice(i, 0, x);
      panel.ys.splice(i, 0, Number(tick.price));
      if (panel.loaded) updateCandle(panel, tick);
      else panel.pending.push(tick);
    }
    if (panel.loaded) drawCandles(panel);
    while (panel.tbody.rows.length > MAX_ROWS) panel.tbody.deleteRow(-1);
    if (panel.xs.length > MAX_POINTS) {
      panel.xs.splice(0, panel.xs.length - MAX_POINTS);
      panel.ys.splice(0, panel.ys.length - MAX_POINTS);
    }
    if (panel.seen.size > 20 * MAX_POINTS) panel.seen.clear();
    const newest = panel.tbody.rows[0];
    panel.lastPrice.textContent = newest ? newest.querySelector(".price").textContent : "";
    panel.section.dataset.ticks = String(panel.tbody.rows.length);
    panel.chart.setData([panel.xs, panel.ys]);
  }

  function symbolsOf(text) {
    return text
      .split(/[\s,]+/)
      .map((s) => s.trim().toUpperCase())
      .filter(Boolean);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const symbols = symbolsOf(input.value);
    if (symbols.length) send("subscribe", symbols);
  });
  document.getElementById("unsubscribe-button").addEventListener("click", () => {
    const symbols = symbolsOf(input.value);
    if (symbols.length) send("unsubscribe", symbols);
  });
  window.addEventListener("resize", () => {
    for (const panel of panels.values()) {
      const width = panel.section.querySelector(".chart").clientWidth;
      panel.chart.setSize({ width: Math.max(width, 300), height: 220 });
      if (panel.loaded) drawCandles(panel);
    }
  });

  loadSettings().then((settings) => {
    if (!settings) {
      setStatus("error", "no WebSocket URL: open with ?ws=<ws_url>&token=<token> or add config.json");
      return;
    }
    if (settings.queryUrl && settings.apiKey) {
      history = { queryUrl: settings.queryUrl.replace(/\/$/, ""), apiKey: settings.apiKey };
    }
    if (settings.token) {
      connect(settings);
      return;
    }
    // Browsers cannot set headers on a WebSocket: the token goes in its query, typed in here.
    const tokenForm = document.getElementById("token-form");
    tokenForm.hidden = false;
    setStatus("idle", "enter the read token to connect");
    tokenForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const token = document.getElementById("token-input").value.trim();
      if (!token || socket) return;
      tokenForm.hidden = true;
      connect({ ...settings, token });
    });
  });
})();
