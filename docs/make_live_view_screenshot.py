"""Make docs/live-view.png: ``snakemake --logger simwarden`` in a real terminal, as an image.

    .venv/bin/python docs/make_live_view_screenshot.py     # needs tmux (apt-get install tmux)

A project is made in a temporary directory: four simulations of a small lab repository, three
reporting progress (``SIMWARDEN_PROGRESS i/N``) while their memory grows, one growing until the
warden stops it at both attempts. The workflow runs in a tmux pane of 120 x 34 with the live view;
once the pane shows that failure and three runs in progress, the pane is captured with its
colours (``tmux capture-pane -e -p``) and drawn in DejaVu Sans Mono (matplotlib's copy) with PIL.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from matplotlib import get_data_path
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "live-view.png"
COLUMNS, LINES = 120, 34
# i/N progress every `step` seconds, `mb` MB more memory each time.
MODEL = """\
import time
chunks = []
for i in range({steps} + 1):
    print(f"SIMWARDEN_PROGRESS {{i}}/{steps}", flush=True)
    chunks.append(b"x" * {mb} * 10**6)
    time.sleep({step})
"""
HUNGRY = """\
import time
chunks = []
while True:
    chunks.append(b"x" * 20 * 10**6)
    time.sleep(0.1)
"""
SCRIPTS = {
    "lif_small": MODEL.format(steps=60, mb=1, step=0.5),
    "lif_large": MODEL.format(steps=200, mb=1, step=0.25),
    "stdp_sweep": MODEL.format(steps=80, mb=2, step=0.5),
    "hungry": HUNGRY,
}
# SGR colours tmux keeps in the capture (the view writes none; Snakemake's lines may).
PALETTE = {
    30: "#2e3436", 31: "#cc0000", 32: "#4e9a06", 33: "#c4a000",
    34: "#3465a4", 35: "#75507b", 36: "#06989a", 37: "#d3d7cf",
}  # fmt: skip
FOREGROUND, BACKGROUND = "#eeeeec", "#1e1e1e"


def run(*argv: str, cwd: Path | None = None) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=True, timeout=120)
    return done.stdout


def make_project(root: Path) -> Path:
    """The lab repository and a project running its four scripts (profile short, 200 MB)."""
    lab = root / "lab"
    lab.mkdir()
    for name, text in SCRIPTS.items():
        (lab / f"{name}.py").write_text(text)
    identity = ["-c", "user.name=demo", "-c", "user.email=demo@example.org"]
    run("git", "init", "-q", "-b", "main", cwd=lab)
    run("git", "add", ".", cwd=lab)
    run("git", *identity, "commit", "-q", "-m", "lab", cwd=lab)
    project = root / "project"
    project.mkdir()
    shutil.copy2(ROOT / "Snakefile", project)
    for name in ("config", "profiles"):
        shutil.copytree(ROOT / name, project / name)
    shutil.rmtree(project / "profiles" / "default", ignore_errors=True)
    config_path = project / "config" / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    for key in ("repository", "commit", "runner", "param_schema", "param_sets", "sweeps"):
        config.pop(key, None)
    config["figure_formats"] = []
    config["simulations"] = {
        name: {"repository": str(lab), "commit": "main", "runner": {"kind": "python"}}
        for name in SCRIPTS
    }
    for name, entry in config["simulations"].items():
        entry["runner"]["script"] = f"{name}.py"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    run_yaml = project / "profiles" / "short" / "run.yaml"
    run_config = yaml.safe_load(run_yaml.read_text())
    run_config["run_config"].update(mem_mb=200, timeout="5m", runtime_min=5)
    run_yaml.write_text(yaml.safe_dump(run_config, sort_keys=False))
    return project


def capture_when_ready(project: Path, socket: Path) -> str:
    """Run the workflow in tmux; the pane (with escapes) once it shows the failure and three
    runs in progress."""
    snakemake = Path(sys.executable).parent / "snakemake"
    command = (
        f"cd {project} && SIMWARDEN_CACHE_DIR={project.parent / 'cache'} TERM=xterm-256color "
        f"{snakemake} --profile profiles/short --cores 4 --logger simwarden "
        "--logger-simwarden-interval 1; echo ENDED; sleep 600"
    )
    tmux = ["tmux", "-S", str(socket)]
    run(*tmux, "new-session", "-d", "-s", "demo", "-x", str(COLUMNS), "-y", str(LINES), command)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        plain = run(*tmux, "capture-pane", "-p", "-t", "demo")
        progressing = re.findall(r"running \d+ % ·", plain)
        if "— final" in plain and len(progressing) >= 3 and "▶ run hungry (attempt 2)" in plain:
            time.sleep(2)  # a few more redraws: the percentages move on
            captured = run(*tmux, "capture-pane", "-e", "-p", "-t", "demo")
            run(*tmux, "send-keys", "-t", "demo", "C-c")  # Ctrl-C: the runs are stopped, reaped
            while "ENDED" not in run(*tmux, "capture-pane", "-p", "-t", "demo"):
                time.sleep(0.2)
            return captured
        time.sleep(0.2)
    raise SystemExit(f"the live view never showed the expected state:\n{plain}")


def render(captured: str, path: Path) -> None:
    """Draw the captured rows (SGR colours and bold followed) as a PNG."""
    font_dir = Path(get_data_path()) / "fonts" / "ttf"
    regular = ImageFont.truetype(str(font_dir / "DejaVuSansMono.ttf"), 15)
    bold = ImageFont.truetype(str(font_dir / "DejaVuSansMono-Bold.ttf"), 15)
    width = int(regular.getlength("M"))
    height, pad = 19, 14
    rows = captured.rstrip("\n").split("\n")[:LINES]
    image = Image.new("RGB", (COLUMNS * width + 2 * pad, LINES * height + 2 * pad), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for y, row in enumerate(rows):
        x, colour, strong = 0, FOREGROUND, False
        for escape, text in re.findall(r"(\x1b\[[0-9;]*m)?([^\x1b]*)", row):
            for code in (int(c or 0) for c in escape[2:-1].split(";")) if escape else ():
                if code == 0:
                    colour, strong = FOREGROUND, False
                elif code == 1:
                    strong = True
                elif code in PALETTE:
                    colour = PALETTE[code]
            for char in text:
                position = (pad + x * width, pad + y * height)
                draw.text(position, char, font=bold if strong else regular, fill=colour)
                x += 1
    image.save(path, optimize=True)


def main() -> None:
    if shutil.which("tmux") is None:
        raise SystemExit("tmux is needed: apt-get install tmux")
    with tempfile.TemporaryDirectory(prefix="simwarden-screenshot-") as tmp:
        root = Path(tmp)
        project = make_project(root)
        socket = root / "tmux.sock"
        try:
            captured = capture_when_ready(project, socket)
        finally:
            subprocess.run(["tmux", "-S", str(socket), "kill-server"], check=False, timeout=60)
        render(captured, OUT)
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
