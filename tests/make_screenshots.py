"""Refresh the README's screenshots (docs/*.png) from the browser test.

    .venv/bin/python tests/make_screenshots.py            # run the browser test, then copy
    .venv/bin/python tests/make_screenshots.py --no-run   # copy the last run's screenshots

The browser test (tests/test_e2e_browser.py) saves a full-page screenshot of
every view to tests/artifacts/ on each run; this script copies the English
ones of the main views into docs/, each cut at a blank line a little above
a readable height so that the README stays short. Install fonts-noto-cjk
(Chinese) and fonts-noto-color-emoji (the page icons) before taking them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
DOCS = ROOT / "docs"
#: docs/<name>.png <- tests/artifacts/<screenshot>.png, cut to at most this many pixels tall.
VIEWS = {
    "overview": ("overview_en", 1570),  # KPI cards, stages over time, N and t
    "flow": ("flow_en", 1445),  # Sankey and transition table
    "churn": ("churn_en", 1760),  # the whole page
    "key-accounts": ("key_accounts_en", 1140),  # status cards and the health table
    "segments": ("segments_en", 1320),  # treemap and segment table
    "data": ("upload_en", 1945),  # a GBK file with Chinese headers: preview, mapping, check
    "presentation": ("present_en", 1200),  # presentation mode, first slide
}
#: How far above the limit a blank line is looked for.
SEARCH = 600
#: Columns that must be blank on the cut line (right of the sidebar).
LEFT, RIGHT_MARGIN = 420, 20


def blank_row(image, y: int) -> bool:
    pixels = image.crop((LEFT, y, image.width - RIGHT_MARGIN, y + 1)).getcolors(maxcolors=4)
    return pixels is not None and len(pixels) == 1 and pixels[0][1][:3] == (255, 255, 255)


def cut(source: Path, target: Path, limit: int) -> tuple[int, int]:
    """Copy ``source`` to ``target``, cut at the lowest blank line at or above ``limit``."""
    from PIL import Image

    with Image.open(source) as image:
        image = image.convert("RGB")
        height = image.height
        if height > limit:
            height = next((y for y in range(limit, max(limit - SEARCH, 1), -1) if blank_row(image, y)), limit)
        image.crop((0, 0, image.width, height)).save(target, optimize=True)
        return image.width, height


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-run", action="store_true", help="use the screenshots of the last test run")
    args = parser.parse_args(argv)
    if not args.no_run:
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "tests/test_e2e_browser.py"], check=False,
                              cwd=ROOT)
        if done.returncode != 0:
            print("the browser test failed; docs/ left as it was", file=sys.stderr)
            return done.returncode
    missing = [f"{shot}.png" for shot, _ in VIEWS.values() if not (ARTIFACTS / f"{shot}.png").exists()]
    if missing:
        print("missing in tests/artifacts/: " + ", ".join(missing), file=sys.stderr)
        return 1
    DOCS.mkdir(exist_ok=True)
    for name, (shot, limit) in VIEWS.items():
        width, height = cut(ARTIFACTS / f"{shot}.png", DOCS / f"{name}.png", limit)
        print(f"docs/{name}.png  {width}x{height}  (from tests/artifacts/{shot}.png)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
