"""The notebook examples of the READMEs run, block by block, in one
namespace, like notebook cells, on a disk image the suite builds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PYTHON_DIR = Path(__file__).resolve().parent.parent
EXAMPLES = {
    # file, the heading of the section whose ```python blocks form the example
    "python/README.md": (PYTHON_DIR / "README.md", "## In a notebook"),
    "README.md": (PYTHON_DIR.parent / "README.md", "## From Python"),
}


def _blocks(readme: Path, heading: str) -> list[str]:
    text = readme.read_text()
    assert heading in text, f"{readme} has no section {heading!r}"
    level = heading.split(" ", 1)[0]
    section = text.split(heading, 1)[1].split(f"\n{level} ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


SAMPLE = PYTHON_DIR.parent / "testdata" / "sample" / "system-disk.raw.zst"


# The top-level README's example must run on the bundled sample (what a
# newcomer tries first) as well; python/README.md's names files of the
# suite's image.
CASES = [("README.md", "sample"), ("README.md", "suite"), ("python/README.md", "suite")]


@pytest.mark.parametrize(("name", "disk"), CASES)
def test_readme_notebook_example_runs(images, name: str, disk: str) -> None:
    readme, heading = EXAMPLES[name]
    blocks = _blocks(readme, heading)
    assert blocks, f"no python blocks under {heading!r} in {name}"
    if any("to_pandas" in b for b in blocks):
        pytest.importorskip("pandas")
    namespace = {"DISK": str(SAMPLE if disk == "sample" else images.gpt)}
    for code in blocks:
        exec(compile(code, str(readme), "exec"), namespace)
