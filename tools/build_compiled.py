"""Compile the hot modules with mypyc, in place: `make compile` runs this.

Each module in `venue.bench.compiled.COMPILED_MODULES` becomes an extension module beside its
source (`src/venue/engine/book.cpython-311-x86_64-linux-gnu.so` next to `book.py`), plus one
shared runtime library for the group (`src/<hash>__mypyc.*.so`). Python's import system prefers
the extension, so the compiled build shadows the pure-Python source without changing it;
`make uncompile` deletes every `.so` under src/ and the build/ directory, and the same source
runs as plain Python again. `venue bench engine` says which one ran (`compiled`).

The modules are compiled as one group, so calls and attribute access between them (the
matching engine on the book's Order and Level classes) are native C; everything else (the
domain's msgspec structs and enums) is reached through ordinary Python objects.

A compiled build is a snapshot of the source: edit an engine/core module and the old `.so`
still shadows it until the next `make compile` (`venue bench engine` warns when a `.so` is
older than its `.py`).

Usage:
    python tools/build_compiled.py [--src DIR] [--opt-level 0-3] [--module NAME ...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SRC = ROOT / "src"


def default_modules(src: Path) -> list[str]:
    """The list in venue/bench/compiled.py, read without importing the package from `src`
    (importing it would load the very modules about to be compiled)."""
    namespace: dict[str, object] = {}
    code = (src / "venue" / "bench" / "compiled.py").read_text()
    exec(compile(code, "compiled.py", "exec"), namespace)
    modules = namespace["COMPILED_MODULES"]
    assert isinstance(modules, tuple)
    return [str(name) for name in modules]


def module_path(src: Path, module: str) -> Path:
    path = src.joinpath(*module.split(".")).with_suffix(".py")
    if not path.is_file():
        raise SystemExit(f"build_compiled: no source for {module} at {path}")
    return path


def remove_old_build(src: Path, modules: list[str]) -> None:
    """Delete earlier extension modules of these modules and the group's shared library, so a
    failed build cannot leave a stale mix behind."""
    for module in modules:
        path = module_path(src, module)
        for stale in path.parent.glob(f"{path.stem}.*.so"):
            stale.unlink()
    for shared in src.glob("*__mypyc.*.so"):
        shared.unlink()


# Run as a child process with src/ as its working directory (see `build`); the parameters come
# as one JSON argument.
SETUP_SCRIPT = """
import json, sys
from setuptools import setup
from mypyc.build import mypycify

params = json.loads(sys.argv[1])
setup(
    name="venue-compiled",
    package_dir={"": "."},
    ext_modules=mypycify(
        params["paths"], opt_level=params["opt_level"], target_dir=params["c_dir"]
    ),
    script_args=[
        "build_ext", "--inplace",
        "--build-temp", params["temp_dir"],
        "--build-lib", params["lib_dir"],
        "--parallel", str(params["jobs"]),
    ],
)
"""


def build(src: Path, modules: list[str], opt_level: str, build_dir: Path) -> None:
    """Run mypyc + setuptools build_ext --inplace in a child process with `src` as its working
    directory, so mypy names the modules `venue.engine.book`, not `src.venue...`; generated C
    and object files go under `build_dir`, only the .so files land in src/."""
    params = {
        "paths": [str(module_path(src, module).relative_to(src)) for module in modules],
        "opt_level": opt_level,
        "c_dir": str(build_dir / "c"),
        "temp_dir": str(build_dir / "temp"),
        "lib_dir": str(build_dir / "lib"),
        "jobs": os.cpu_count() or 1,
    }
    subprocess.run([sys.executable, "-c", SETUP_SCRIPT, json.dumps(params)], cwd=src, check=True)


def report(src: Path) -> int:
    """Import the result in a fresh interpreter and print which modules are compiled; non-zero
    if any is not."""
    code = (
        "from venue.bench.compiled import compiled_modules\n"
        "found = compiled_modules()\n"
        "for name, ok in found.items(): print(f'  {name}: ' + ('compiled' if ok else 'PURE'))\n"
        "raise SystemExit(0 if all(found.values()) else 1)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(src))
    return subprocess.run([sys.executable, "-c", code], env=env, check=False).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=DEFAULT_SRC, help="the src/ directory")
    parser.add_argument("--opt-level", default="3", choices=["0", "1", "2", "3"])
    parser.add_argument(
        "--module",
        action="append",
        dest="modules",
        help="a module to compile (repeatable); default: venue.bench.compiled.COMPILED_MODULES",
    )
    args = parser.parse_args()
    src: Path = args.src.resolve()
    modules: list[str] = args.modules or default_modules(src)
    build_dir = src.parent / "build" / "mypyc"
    print(f"build_compiled: mypyc -O{args.opt_level} in place under {src}: {', '.join(modules)}")
    remove_old_build(src, modules)
    shutil.rmtree(build_dir, ignore_errors=True)
    try:
        build(src, modules, args.opt_level, build_dir)
    except subprocess.CalledProcessError:
        remove_old_build(src, modules)
        print("build_compiled: mypyc build FAILED; the pure-Python modules stay in use")
        return 1
    print("build_compiled: done; `make uncompile` goes back to pure Python")
    return report(src)


if __name__ == "__main__":
    sys.exit(main())
