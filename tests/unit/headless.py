"""Pages as a person sees them: Debian's headless Chromium, driven over the DevTools protocol, lays a page out at a
laptop width; a script in the page lists what a reader would trip over, and a screenshot is kept.

The protocol runs over the pipe Chromium opens with --remote-debugging-pipe (file descriptors 3 and 4, one JSON
message per NUL-terminated chunk): no port, no driver binary, no third-party client. Used by the tests of every HTML
page the collection writes (test_pages.py).
"""
from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
import typing as t
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic", "--hide-scrollbars=false", "--remote-debugging-pipe"]

# What a reader would trip over, as a list of problems (empty: the layout holds):
# - a table column narrower than the shortest word of its content (its cells' text, header included, and the blocks
#   inside them such as a <pre>): then every line holds a character or two and the column is unreadable;
# - a cell, or a block inside one, whose content sticks out of it, or that needs a horizontal scroll bar;
# - anything reaching past the right edge of the window (the page scrolls sideways).
LAYOUT_JS = r"""
(() => {
  const problems = [];
  const viewport = document.documentElement.clientWidth;
  const ctx = document.createElement('canvas').getContext('2d');
  const describe = (el) => {
    const cls = el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '';
    const text = (el.innerText || '').trim().replace(/\s+/g, ' ').slice(0, 60);
    return `${el.tagName.toLowerCase()}${cls} "${text}"`;
  };
  const px = (v) => parseFloat(v) || 0;
  const contentWidth = (el) => {
    const s = getComputedStyle(el);
    return el.clientWidth - px(s.paddingLeft) - px(s.paddingRight);
  };
  const measure = (word, style) => {
    ctx.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    const shown = style.textTransform === 'uppercase' ? word.toUpperCase() : word;
    return ctx.measureText(shown).width + px(style.letterSpacing) * shown.length;
  };
  const isBlock = (el) => ['block', 'table-cell', 'list-item', 'flow-root', 'flex', 'grid'].includes(getComputedStyle(el).display);
  const visible = (el) => el.getClientRects().length > 0;
  // Per column (a table and a cell index): the least room any text-bearing block of it has, and its shortest word.
  const columns = new Map();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    const cell = parent && parent.closest('td, th');
    if (!cell || cell.colSpan !== 1 || !visible(parent)) continue;
    const words = node.textContent.split(/\s+/).filter(Boolean);
    if (!words.length) continue;
    let block = parent;
    while (block !== cell && !isBlock(block)) block = block.parentElement;
    const table = cell.closest('table');
    if (!columns.has(table)) columns.set(table, new Map());
    const byIndex = columns.get(table);
    const col = byIndex.get(cell.cellIndex) || {room: Infinity, need: Infinity, word: '', where: null, header: ''};
    const room = contentWidth(block);
    if (room < col.room) { col.room = room; col.where = block; }
    const style = getComputedStyle(parent);
    for (const word of words) {
      const width = measure(word, style);
      if (width < col.need) { col.need = width; col.word = word; }
    }
    if (cell.tagName === 'TH') col.header = cell.innerText.trim();
    byIndex.set(cell.cellIndex, col);
  }
  for (const byIndex of columns.values()) {
    for (const [index, col] of byIndex) {
      if (col.room + 1 < col.need) {
        problems.push({problem: 'column narrower than its shortest word', column: col.header || `#${index + 1}`,
                       element: describe(col.where), word: col.word, width: Math.round(col.room),
                       needs: Math.round(col.need)});
      }
    }
  }
  for (const el of document.querySelectorAll('td, th, td *, th *')) {
    if (!visible(el) || !isBlock(el)) continue;
    const spill = el.scrollWidth - el.clientWidth;
    if (spill > 1) {
      const problem = getComputedStyle(el).overflowX === 'visible' ? 'content sticks out' : 'needs a horizontal scroll bar';
      problems.push({problem, element: describe(el), by: spill});
    }
  }
  if (document.documentElement.scrollWidth > viewport) {
    problems.push({problem: 'page wider than the window', width: document.documentElement.scrollWidth, viewport});
  }
  for (const el of document.body.querySelectorAll('*')) {
    if (!visible(el)) continue;
    const right = el.getBoundingClientRect().right + window.scrollX;
    let clipped = false;
    for (let p = el.parentElement; p && !clipped; p = p.parentElement) clipped = getComputedStyle(p).overflowX !== 'visible';
    if (right > viewport + 1 && !clipped) problems.push({problem: 'past the right edge', element: describe(el), right});
  }
  return problems;
})()
"""


class BrowserError(Exception):
    """Chromium did not start, answer or render."""


class Chromium:
    """One headless Chromium with a fresh profile, spoken to over the DevTools pipe. A context manager."""

    def __init__(self, timeout: float = 60.0) -> None:
        if CHROMIUM is None:
            raise BrowserError("Debian's chromium is not installed (bindep.txt: chromium [test])")
        self.timeout = timeout
        self._profile = tempfile.TemporaryDirectory(prefix="kubeops-chromium-")
        self._log = tempfile.TemporaryFile()      # chromium's stderr, for the error message when it dies
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # The browser reads fd 3 and writes fd 4: bash (dash takes no fd above 9) moves the pipe's ends there and becomes chromium. The
        # read end was made first, so it has the lower number and moving it to 3 cannot clobber the write end.
        self._proc = subprocess.Popen(  # pylint: disable=consider-using-with
            ["/bin/bash", "-c", f'exec "$0" "$@" 3<&{to_browser_r} 4>&{from_browser_w}', CHROMIUM, *FLAGS,
             f"--user-data-dir={self._profile.name}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._log, pass_fds=(to_browser_r, from_browser_w))
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict] = []
        self.session: str | None = None

    def __enter__(self) -> Chromium:
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        return self

    def __exit__(self, *exc: t.Any) -> None:
        try:
            self.session = None
            self.call("Browser.close")
        except (BrowserError, OSError):
            pass
        try:
            self._proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        for fd in (self._to_browser, self._from_browser):
            os.close(fd)
        self._log.close()
        self._profile.cleanup()

    # -- the protocol ---------------------------------------------------------------------------------------------
    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("chromium did not answer in time")
            ready, _w, _x = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    self._log.seek(0)
                    raise BrowserError(f"chromium exited: {self._log.read().decode(errors='replace')[-2000:]}")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict | None = None) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if self.session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer.get("result") or {}
            if "method" in answer:
                self._events.append(answer)

    def wait_event(self, method: str) -> dict:
        deadline = time.monotonic() + self.timeout
        while True:
            for event in self._events:
                if event["method"] == method:
                    self._events.remove(event)
                    return event.get("params") or {}
            self._events.append(self._read_message(deadline))

    # -- what the tests do ----------------------------------------------------------------------------------------
    def open(self, page: Path, width: int, height: int = 900) -> None:
        """Lay the page out in a window ``width`` CSS pixels wide (device scale 1), as a laptop shows it."""
        self.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                         "mobile": False})
        self.call("Page.enable")
        self.call("Page.navigate", {"url": page.resolve().as_uri()})
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression: str) -> t.Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def layout_problems(self) -> list[dict]:
        return self.evaluate(LAYOUT_JS)

    def open_all_details(self) -> int:
        return self.evaluate("(() => { const all = document.querySelectorAll('details');"
                             " all.forEach(d => { d.open = true; }); return all.length; })()")

    def screenshot(self, path: Path) -> Path:
        """The whole page (not only the window) as PNG."""
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        shot = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": {
            "x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path
