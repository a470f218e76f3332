// The program's CloudWatch dashboard, drawn from the local cloud's CloudWatch (see
// localcloud/gateway/cloudwatch.py): one fetch of every widget's series per refresh.
"use strict";

const REFRESH_MS = 5000;
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
const grid = document.getElementById("grid");
const statusLine = document.getElementById("status");
const minutesSelect = document.getElementById("minutes");
const name = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop());
const widgets = [];  // index -> {element, plot, key}

document.getElementById("dashboard-name").textContent = name;
document.title = `${name} (local CloudWatch)`;

function widgetElement(index, widget) {
  const element = document.createElement("section");
  element.className = "widget";
  element.dataset.index = String(index);
  element.dataset.kind = widget.type;
  element.dataset.view = widget.view;
  element.dataset.title = widget.title;
  element.style.gridColumn = `${widget.x + 1} / span ${widget.width}`;
  element.style.gridRow = `${widget.y + 1} / span ${widget.height}`;
  const title = document.createElement("h2");
  title.textContent = widget.title;
  const body = document.createElement("div");
  body.className = "plot";
  element.append(title, body);
  grid.append(element);
  return {element, body, plot: null, key: ""};
}

function aligned(series, annotations) {
  const times = [...new Set(series.flatMap((s) => s.timestamps))].sort((a, b) => a - b);
  const columns = series.map((s) => {
    const at = new Map(s.timestamps.map((t, i) => [t, s.values[i]]));
    return times.map((t) => (at.has(t) ? at.get(t) : null));
  });
  const lines = (annotations.horizontal || []).map((a) => times.map(() => a.value));
  return [times, ...columns, ...lines];
}

function drawTimeSeries(slot, widget) {
  const annotations = widget.annotations || {};
  const key = JSON.stringify([widget.series.map((s) => s.label), annotations]);
  const data = aligned(widget.series, annotations);
  const box = slot.body.getBoundingClientRect();
  const size = {width: Math.max(120, box.width), height: Math.max(80, box.height - 28)};
  if (slot.plot && slot.key === key) {
    slot.plot.setData(data);
    return;
  }
  if (slot.plot) slot.plot.destroy();
  slot.body.textContent = "";
  const right = widget.series.some((s) => s.y_axis === "right");
  const opts = {
    ...size,
    legend: {show: true},
    scales: {x: {time: true}, y: {}, ...(right ? {y2: {}} : {})},
    axes: [{}, {scale: "y"}, ...(right ? [{scale: "y2", side: 1, grid: {show: false}}] : [])],
    series: [
      {},
      ...widget.series.map((s, i) => ({
        label: s.label, stroke: COLORS[i % COLORS.length], width: 1.5,
        scale: s.y_axis === "right" ? "y2" : "y", spanGaps: false, points: {size: 4},
      })),
      ...(annotations.horizontal || []).map((a) => ({
        label: a.label || "threshold", stroke: "#d13212", dash: [6, 4], width: 1, scale: "y",
      })),
    ],
  };
  slot.plot = new uPlot(opts, data, slot.body);
  slot.key = key;
}

function drawSingleValue(slot, widget) {
  slot.body.textContent = "";
  const box = document.createElement("div");
  box.className = "single";
  for (const s of widget.series) {
    const last = s.values.length ? s.values[s.values.length - 1] : null;
    const item = document.createElement("div");
    item.innerHTML = '<div class="value"></div><div class="label"></div>';
    item.querySelector(".value").textContent = last === null ? "-" : Number(last.toPrecision(4)).toString();
    item.querySelector(".label").textContent = `${s.label} (${s.stat})`;
    box.append(item);
  }
  slot.body.append(box);
}

function drawAlarms(slot, widget) {
  const list = document.createElement("ul");
  list.className = "alarms";
  for (const alarm of widget.alarms || []) {
    const item = document.createElement("li");
    item.dataset.alarm = alarm.name;
    item.innerHTML = '<span class="state"></span> <span class="name"></span>';
    const state = item.querySelector(".state");
    state.dataset.state = alarm.state;
    state.textContent = alarm.state;
    item.querySelector(".name").textContent = alarm.name;
    item.title = alarm.reason;
    list.append(item);
  }
  slot.body.textContent = "";
  slot.body.append(list);
  slot.element.dataset.alarms = String((widget.alarms || []).length);
}

function draw(dashboard) {
  dashboard.widgets.forEach((widget, index) => {
    const slot = widgets[index] || (widgets[index] = widgetElement(index, widget));
    const points = widget.series.reduce((n, s) => n + s.values.filter((v) => v !== null).length, 0);
    slot.element.dataset.points = String(points);
    if (widget.type === "alarm") drawAlarms(slot, widget);
    else if (widget.view === "singleValue") drawSingleValue(slot, widget);
    else drawTimeSeries(slot, widget);
  });
}

async function refresh() {
  try {
    const reply = await fetch(`/_localcloud/dashboards/${encodeURIComponent(name)}/data?minutes=${minutesSelect.value}`);
    const body = await reply.json();
    if (!reply.ok) throw new Error(body.message || reply.statusText);
    draw(body);
    statusLine.dataset.state = "ok";
    statusLine.textContent = `updated ${new Date().toLocaleTimeString()} - ${body.period_s} s periods`;
    document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes) + 1);
  } catch (error) {
    statusLine.dataset.state = "error";
    statusLine.textContent = `cannot load: ${error.message}`;
  }
}

minutesSelect.addEventListener("change", refresh);
refresh();
setInterval(refresh, REFRESH_MS);
