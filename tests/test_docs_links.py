"""Relative links in the project's Markdown (README, benchmark write-ups) point at files that exist.

Benchmark READMEs link their tables, probes and run folders; a table measured but never
committed leaves a link that leads nowhere (it happened once: adaptive_l2/torso_pitch.md).
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")  # [text](target) or [text](target#anchor)
FOLDERS = ("benchmarks", "lectures", "scripts", "rlhf_from_scratch")  # not a venv or run folder


def broken_links(markdown: Path) -> list[str]:
    """The relative link targets in `markdown` with no file or folder behind them."""
    targets = LINK.findall(markdown.read_text(encoding="utf-8"))
    relative = [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t)]  # http:, mailto:
    return [t for t in relative if not (markdown.parent / t).exists()]


def project_markdown() -> list[Path]:
    return sorted(ROOT.glob("*.md")) + [
        p for f in FOLDERS for p in sorted((ROOT / f).rglob("*.md"))
    ]


def test_broken_links_finds_a_missing_target_and_passes_real_ones(tmp_path):
    (tmp_path / "table.md").write_text("x")
    (tmp_path / "runs").mkdir()
    page = tmp_path / "README.md"
    page.write_text(
        "[t](table.md) [r](runs) [a](table.md#top) [w](https://example.org/x) [m](probe.md)"
    )
    assert broken_links(page) == ["probe.md"]


def test_every_relative_link_in_the_project_resolves():
    pages = project_markdown()
    assert any(p.name == "README.md" and p.parent == ROOT for p in pages)
    broken = {str(p.relative_to(ROOT)): b for p in pages if (b := broken_links(p))}
    assert not broken, f"links to files that do not exist: {broken}"
