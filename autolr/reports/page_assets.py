"""The report page's own style and scripts, inlined into the page so that it opens offline.

:data:`ERROR_JS` runs first and records any JavaScript error in ``#js-errors`` (counting them in
``<body data-errors>``); :func:`draw_js` gives the script that draws every figure from its
``<script type="application/json" data-figure>`` element and then sets
``<body data-plots-drawn="N">``; :data:`CSS` is the page's style sheet.
"""

from __future__ import annotations

import json

from autolr.reports.html_text import safe_json

ERROR_JS = """
(function () {
  function record(message) {
    var box = document.getElementById('js-errors');
    var body = document.body;
    if (box) { box.textContent += message + '\\n'; }
    if (body) {
      var seen = Number(body.getAttribute('data-errors') || 0);
      body.setAttribute('data-errors', String(seen + 1));
    }
  }
  window.autolrRecordError = record;
  window.addEventListener('error', function (event) {
    var where = event.filename ? ' at ' + event.filename + ':' + event.lineno : '';
    record('error: ' + (event.message || event.type) + where);
  }, true);
  window.addEventListener('unhandledrejection', function (event) {
    var reason = event.reason && event.reason.message ? event.reason.message : event.reason;
    record('unhandled rejection: ' + String(reason));
  });
  var original = console.error;
  console.error = function () {
    record('console.error: ' + Array.prototype.join.call(arguments, ' '));
    if (original) { original.apply(console, arguments); }
  };
})();
"""


def draw_js(config: dict) -> str:
    """The script that draws the figures, with plotly's ``config`` written in as JSON that
    cannot close the script element."""
    return DRAW_JS.replace("CONFIG_JSON", safe_json(json.dumps(config)))


DRAW_JS = """
(function () {
  var config = CONFIG_JSON;
  var nodes = document.querySelectorAll('script[type="application/json"][data-figure]');
  var jobs = [];
  if (typeof Plotly === 'undefined') {
    window.autolrRecordError('plotly.js did not load');
    return;
  }
  for (var i = 0; i < nodes.length; i++) {
    try {
      var figure = JSON.parse(nodes[i].textContent);
      var target = document.getElementById(nodes[i].getAttribute('data-figure'));
      jobs.push(Plotly.newPlot(target, figure.data, figure.layout, config));
    } catch (err) {
      window.autolrRecordError('drawing ' + nodes[i].getAttribute('data-figure') + ': ' + err);
    }
  }
  Promise.all(jobs).then(function () {
    document.body.setAttribute('data-plots-drawn', String(jobs.length));
  }, function (err) {
    window.autolrRecordError('drawing failed: ' + err);
  });
})();
"""


CSS = """
:root {
  --ink: #1f2933; --muted: #616e7c; --line: #e4e7eb; --bg: #f5f7fa; --card: #ffffff;
  --accent: #2f6fb3; --good: #2e7d32; --warn-bg: #fff8e1; --warn: #a15c00;
  --info-bg: #e8f1fb; --info: #1c4f8a;
}
* { box-sizing: border-box; }
html { scroll-behavior: smooth; }
body {
  margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.55 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue",
        Arial, sans-serif;
}
.wrap { max-width: 1320px; margin: 0 auto; padding: 0 28px; }
header.top { background: #1f2933; color: #fff; padding: 26px 0 22px; }
header.top .brand { font-size: 13px; letter-spacing: .08em; text-transform: uppercase;
  color: #9aa5b1; }
header.top h1 { margin: 4px 0 6px; font-size: 30px; font-weight: 650; word-break: break-word; }
header.top .meta { margin: 0; color: #cbd2d9; }
nav.toc { position: sticky; top: 0; z-index: 10; display: flex; flex-wrap: wrap; gap: 4px;
  background: rgba(245,247,250,.94); backdrop-filter: blur(4px); padding: 10px 0;
  border-bottom: 1px solid var(--line); margin-bottom: 8px; }
nav.toc a { color: var(--accent); text-decoration: none; padding: 4px 10px; border-radius: 6px;
  font-size: 14px; }
nav.toc a:hover { background: #e1ebf7; }
section { padding-top: 14px; }
h2 { font-size: 21px; margin: 18px 0 12px; padding-bottom: 6px;
  border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 0 0 4px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 16px 18px; margin: 0 0 16px; box-shadow: 0 1px 2px rgba(31,41,51,.04); }
.caption, .small { color: var(--muted); margin: 0 0 10px; font-size: 14px; }
.lead { font-size: 16px; margin: 6px 0 6px; }
.stats { display: grid; grid-template-columns: repeat(auto-fit, minmax(230px, 1fr)); gap: 16px;
  margin-bottom: 16px; }
.stats .card { margin: 0; }
.stat .label { color: var(--muted); font-size: 13px; text-transform: uppercase;
  letter-spacing: .05em; }
.stat .value { font-size: 28px; font-weight: 650; margin: 2px 0; word-break: break-word;
  font-variant-numeric: tabular-nums; }
.stat .detail { color: var(--muted); font-size: 14px; }
.pill { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12.5px;
  background: #eef0f3; color: var(--ink); margin: 2px 2px 0 0; white-space: nowrap; }
.pill.complete { background: #e6f4ea; color: #1e6b30; }
.pill.shortened { background: #e0f2f1; color: #00695c; }
.pill.pruned { background: #eef0f3; color: #52606d; }
.pill.diverged { background: #fff1e0; color: #a15c00; }
.pill.failed { background: #fdecea; color: #b3261e; }
.pill.running { background: #e8f1fb; color: #1c4f8a; }
.pill.confirmation { background: #ede7f6; color: #4527a0; }
.pill.winner { background: #1f2933; color: #fff; }
.pill.noise { background: #fff8e1; color: #8a5300; }
.pill.beyond { background: #e6f4ea; color: #1e6b30; }
tr.winner-row { background: #f4f8fd; }
p.versus { margin: 0 0 8px; }
.alert { border-radius: 8px; padding: 10px 14px; margin: 0 0 12px; border: 1px solid; }
.alert.warn { background: var(--warn-bg); color: #5f3b00; border-color: #f3d98b; }
.alert.info { background: var(--info-bg); color: var(--info); border-color: #c3d9f2; }
.winner h3 { font-size: 18px; }
.formula { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 14px;
  background: #f3f5f8; border-left: 3px solid var(--accent); padding: 8px 12px; margin: 10px 0;
  border-radius: 4px; overflow-x: auto; white-space: pre-wrap; word-break: break-word; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px;
  word-break: break-word; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; }
.grid2.tight { gap: 24px; margin-top: 8px; align-items: start;
  grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); }
.grid2 > .card { margin: 0 0 16px; min-width: 0; }
figure.plot { margin: 0 0 16px; min-width: 0; }
.plot-area { width: 100%; min-height: 240px; }
.empty { color: var(--muted); background: #fafbfc; border: 1px dashed #cbd2d9; border-radius: 8px;
  padding: 28px; text-align: center; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
table caption { text-align: left; font-weight: 600; color: var(--muted); font-size: 13px;
  text-transform: uppercase; letter-spacing: .05em; padding-bottom: 4px; }
table.data th, table.data td { padding: 7px 10px; border-bottom: 1px solid var(--line);
  text-align: left; vertical-align: top; }
table.data thead th { color: var(--muted); font-weight: 600; font-size: 13px;
  border-bottom: 2px solid var(--line); }
table.data tbody tr:hover { background: #f8fafc; }
table.kv th { text-align: left; font-weight: 500; color: var(--muted); padding: 4px 12px 4px 0;
  width: 45%; vertical-align: top; }
table.kv td { padding: 4px 0; word-break: break-word; vertical-align: top; }
.num { text-align: right !important; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.params { color: #3e4c59; font-size: 13px; }
ul.notes { margin: 4px 0 0; padding-left: 20px; color: var(--muted); font-size: 14px; }
.stat a { color: var(--accent); }
footer { color: var(--muted); font-size: 13px; padding: 24px 28px 40px; }
@media (max-width: 700px) { .grid2 { grid-template-columns: 1fr; } .wrap { padding: 0 14px; } }
"""
