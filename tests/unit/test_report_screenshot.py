"""The HTML report in a real browser: headless Debian chromium renders it, the screenshot must not be blank.

The PNG is kept under tests/output/ (git-ignored) for a human to look at.
"""
from __future__ import annotations

import datetime as dt
import json
import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

import pytest

from ansible_collections.kubeops.runbook.plugins.plugin_utils import _history as H
from ansible_collections.kubeops.runbook.plugins.plugin_utils import _report as R

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "report"
TEMPLATES = str(ROOT / "roles" / "report" / "templates")
OUTPUT = ROOT / "tests" / "output"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and unfiltered scanlines of an 8-bit RGB/RGBA PNG (stdlib only)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert header is not None
    width, height, depth, color, _c, _f, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, header
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 0xFF
            elif ftype == 2:
                line[i] = (line[i] + b) & 0xFF
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, [bytes(r) for r in rows] if bpp == 3 else [
        b"".join(r[i:i + 3] for i in range(0, len(r), 4)) for r in rows]


def pixel(rows: list[bytes], x: int, y: int) -> tuple[int, int, int]:
    return tuple(rows[y][x * 3:x * 3 + 3])


RUNS = 12


@pytest.fixture(scope="module")
def report_html(tmp_path_factory) -> Path:
    """The HTML of the last of twelve daily runs (as the report action makes them: trends from the history)."""
    tmp = tmp_path_factory.mktemp("shot")
    db = str(tmp / "h.sqlite")
    for day in range(RUNS):
        name = "run2.json" if day % 3 == 2 or day == RUNS - 1 else "run1.json"
        data = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
        if name == "run2.json":
            data["findings_by_host"]["mw1"].append({
                "id": "disk.space", "target": "/data", "host": "mw1", "status": "critical",
                "summary": (FIXTURES / "gbk_summary.bin").read_bytes()})
        started, finished = f"2026-11-{day + 1:02d}T01:00:00Z", f"2026-11-{day + 1:02d}T01:05:00Z"
        failed = {h: "a task failed on this host" for h in data["findings_by_host"]}
        findings = R.collect(data["findings_by_host"]) + R.reachability(R.host_states(data["targeted"], data["reachable"],
                                                                                      failed))
        with H.History(db) as history:
            report = R.build_report("lab", started, finished, findings, history.last_run("lab"))
            keys = R.key_statuses(report["findings"])
            report["trends"] = history.trends("lab", 30, current={"started": started, "finished": finished,
                                                                  "status": report["summary"]["status"], "findings": keys})
            paths = R.write_report(report, str(tmp), TEMPLATES, dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=day))
            history.record("lab", started, finished, report["summary"]["status"], keys)
    return Path(paths["html"])


def test_trend_is_inline_svg_without_external_resources(report_html):
    html = report_html.read_text(encoding="utf-8")
    svg = html[html.index("<svg"):html.index("</svg>")]
    assert svg.count("<rect") == RUNS * 5      # the worst-status strip and one row per status, a bar per run
    assert svg.count('class="s-ok"') >= RUNS
    assert "Trend of the last 12 runs" in html and "Keeps coming back" in html
    assert not any(marker in html for marker in (" src=", " href=", "url(", "@import", "<script", "<link"))
    assert "disk.space:/data@mw1" in html[html.index("Keeps coming back"):]


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (bindep.txt: chromium [test])")
def test_html_report_screenshot(report_html):
    OUTPUT.mkdir(parents=True, exist_ok=True)
    shot = OUTPUT / "inspection_report.png"
    shot.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={profile}", f"--screenshot={shot}", "--window-size=1280,2000",
                        report_html.as_uri()], capture_output=True, timeout=180, check=False)
    assert shot.is_file() and shot.stat().st_size > 10_000
    width, height, rows = decode_png(shot.read_bytes())
    assert (width, height) == (1280, 2000)
    colors = {pixel(rows, x, y) for y in range(0, height, 7) for x in range(0, width, 7)}
    assert len(colors) > 40, "screenshot looks blank"
    # the status banner across the top is the critical red of the stylesheet (#c62828)
    assert pixel(rows, 10, 10) == (0xC6, 0x28, 0x28)
    assert pixel(rows, 1240, 60) == (0xC6, 0x28, 0x28)
    # below the banner the page is light, with dark text somewhere in the first screenful
    assert sum(pixel(rows, 5, 400)) > 600
    dark = sum(1 for y in range(150, 900, 3) for x in range(0, width, 3) if sum(pixel(rows, x, y)) < 200)
    assert dark > 500, "no text rendered below the banner"
    # the trend chart is drawn: its ok row is twelve green bars (#2e7d32), far more green than the badges and
    # borders elsewhere on the page; the critical row and the worst-status strip add red below the banner
    green = sum(1 for y in range(150, height) for x in range(width) if pixel(rows, x, y) == (0x2E, 0x7D, 0x32))
    red = sum(1 for y in range(150, height) for x in range(width) if pixel(rows, x, y) == (0xC6, 0x28, 0x28))
    assert green > 12 * 14 * 10, f"trend chart not drawn ({green} green pixels)"
    assert red > 4 * 14 * 10, f"critical bars not drawn ({red} red pixels)"
