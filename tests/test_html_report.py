"""The HTML reports: self-contained pages, checked in a real browser (headless Chromium)."""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

from click.testing import CliRunner

from toolchain import html_report as hr
from toolchain.cli import main

ROOT = Path(__file__).resolve().parents[1]
EI = ROOT / "examples" / "ei_network.py"

# Runs once the page has loaded and leaves what it saw on <body> for --dump-dom: the
# browser's own view of the images (decoded, natural size) and tables (rows, cells).
OBSERVER = """<script>
window.addEventListener("load", () => {
  const seen = {
    images: [...document.images].map(i => ({complete: i.complete, width: i.naturalWidth})),
    tables: [...document.querySelectorAll("table")].map(t =>
      [...t.rows].map(r => [...r.cells].map(c => c.textContent))),
    headings: [...document.querySelectorAll("h1, h2")].map(h => h.textContent),
    scripts: document.scripts.length,
  };
  document.body.setAttribute("data-seen", JSON.stringify(seen));
});
</script>"""


def in_chromium(page: Path, tmp_path: Path) -> dict:
    """What headless Chromium shows of ``page``, opened from disk with no server."""
    browser = shutil.which("chromium")
    assert browser is not None, "chromium is missing: `make setup` installs it"
    observed = tmp_path / f"observed-{page.parent.name}.html"
    observed.write_text(page.read_text().replace("</body>", OBSERVER + "\n</body>"))
    profile = tmp_path / f"profile-{page.parent.name}"
    profile.mkdir()
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", "--virtual-time-budget=10000",
         "--dump-dom", observed.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'<body data-seen="([^"]*)"', done.stdout)
    assert found, done.stdout[:2000]
    seen = json.loads(html.unescape(found.group(1)))
    seen["scripts"] -= 1  # the observer itself
    return seen


def test_render_escapes_text_and_embeds_figures(tmp_path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1))
    fig.add_subplot().plot([0, 1], [1, 0])
    path = tmp_path / "f.png"
    fig.savefig(path)
    page = hr.render("a <b> & c", [
        hr.Section("s <1>", (hr.Text("`code` and **bold** <i>"),
                             hr.Table(["x", "<y>"], [[1.23456789, None], ["<td>", 2]]),
                             hr.Figure(path, "a caption"))),
    ])
    assert "<title>a &lt;b&gt; &amp; c</title>" in page
    assert "<p><code>code</code> and <strong>bold</strong> &lt;i&gt;</p>" in page
    assert "<td>1.235</td><td></td>" in page and "<td>&lt;td&gt;</td>" in page
    data = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
    assert base64.b64decode(data) == path.read_bytes()
    assert "<script" not in page and "http" not in page  # nothing to fetch, nothing to run


def test_markdown_and_text_reports_become_blocks():
    blocks = hr.from_markdown(textwrap.dedent("""
        Portability of 'x'

        | a | b |
        |---|---:|
        | 1 | 2 |

        Targets that did not run:
        - **fpga** refused: too big
    """))
    assert blocks == [hr.Text("Portability of 'x'"), hr.Table(["a", "b"], [["1", "2"]]),
                      hr.Text("Targets that did not run:"),
                      hr.Bullets(["**fpga** refused: too big"])]
    sections = hr.from_text("Title line\n  body 1\n\nSecond\n  body 2\n  more\n")
    assert [s.title for s in sections] == ["Title line", "Second"]
    assert sections[1].blocks == (hr.Text("  body 2\n  more", pre=True),)


def test_compile_portability_and_dse_reports_render_in_a_browser(tmp_path):
    runner = CliRunner()
    compiled = tmp_path / "compile"
    done = runner.invoke(main, ["compile", "--target", "loihi", "-o", str(compiled), str(EI),
                                "spikeport", "--n", "16"])
    assert done.exit_code == 0, done.output
    seen = in_chromium(compiled / "report.html", tmp_path)
    assert seen["headings"][0] == "compile report: ei_network on loihi"
    assert "Quantisation per projection (semantic effects)" in seen["headings"]
    assert len(seen["images"]) == 1 and seen["images"][0]["complete"]
    assert seen["images"][0]["width"] > 0  # the placement figure decoded in the browser
    assert seen["scripts"] == 0

    port = tmp_path / "portability"
    done = runner.invoke(main, ["portability", "--targets", "loihi,dynapse", "-o", str(port),
                                str(EI), "spikeport", "--n", "16", "--t-stop", "50"])
    assert done.exit_code == 0, done.output
    seen = in_chromium(port / "report.html", tmp_path)
    (table,) = seen["tables"]
    assert table[0][:2] == ["target", "population"]
    assert {row[0] for row in table[1:]} == {"reference", "loihi", "dynapse"}
    assert len(table) == 1 + 3 * 2  # a row per target and population (exc, inh)
    assert len(seen["images"]) == 1 and seen["images"][0]["width"] > 0

    sweep = tmp_path / "s.toml"
    sweep.write_text(textwrap.dedent(f"""
        [sweep]
        name = "s"
        evaluate = "toolchain.dse.evaluate:cosimulate"
        [fixed]
        network = "{EI}"
        args = "spikeport --n 16"
        t_stop = 50.0
        [axes]
        target = ["loihi", "dynapse", "spinnaker2"]
        [objectives]
        energy_nj_per_step = "min"
        rate_error = "min"
    """))
    out = tmp_path / "dse"
    done = runner.invoke(main, ["dse", "run", str(sweep), "-o", str(out)])
    assert done.exit_code == 0, done.output
    seen = in_chromium(out / "report.html", tmp_path)
    points, front = seen["tables"]
    assert points[0] == ["target", "status", "energy_nj_per_step", "rate_error"]
    assert sorted(r[0] for r in points[1:]) == ["dynapse", "loihi", "spinnaker2"]
    assert 1 <= len(front) - 1 <= 3
    assert [i["width"] > 0 for i in seen["images"]] == [True]  # pareto.png
    assert seen["headings"][1] == "3 points"


def test_a_figure_that_does_not_decode_is_seen_by_the_check(tmp_path):
    """The browser check can fail: a page whose image data is not a PNG shows width 0."""
    page = tmp_path / "bad" / "report.html"
    page.parent.mkdir()
    hr.write(page, "bad", [hr.Section("s", (hr.Figure(b"not a png"),))])
    seen = in_chromium(page, tmp_path)
    assert seen["images"] == [{"complete": True, "width": 0}]
