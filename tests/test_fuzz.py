"""Property-based fuzzing (hypothesis) of the two readers that take files from outside:
the BVH reader and the landmark-cache loader.

On any input they return a result or raise mocap's own error (FormatError, one line, naming
the file); never another exception, a crash, a hang or unbounded memory. The inputs are
valid files mutated byte by byte (cut, spliced, overwritten, duplicated) and hand-made
structures (arrays of any dtype and shape in a cache entry, deep or huge BVH). Each search is
bounded (max_examples, no deadline flakiness), so `make test` spends seconds here.
"""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mocap.bvh import motion_from_bvh, parse_bvh, read_bvh
from mocap.bvh.syntax import MAX_DEPTH, MAX_VALUES
from mocap.data import BLAZEPOSE_NAMES, LandmarkTracks
from mocap.detect.cache import read_tracks, write_tracks
from mocap.errors import FormatError, MocapError

REPO = Path(__file__).resolve().parents[1]
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SMALL_BVH = """HIERARCHY
ROOT Hips
{
  OFFSET 0 90 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Spine
  {
    OFFSET 0 10 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT Head
    {
      OFFSET 0 20 0
      CHANNELS 3 Zrotation Xrotation Yrotation
      End Site
      {
        OFFSET 0 10 0
      }
    }
  }
  JOINT LeftUpLeg
  {
    OFFSET 10 0 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 -40 0
    }
  }
}
MOTION
Frames: 3
Frame Time: 0.0333333
0 90 0 0 0 0 1 2 3 4 5 6 7 8 9
1 91 0 10 0 0 1 2 3 4 5 6 7 8 9
2 92 0 20 0 0 1 2 3 4 5 6 7 8 9
"""

TOKENS = ["HIERARCHY", "ROOT", "JOINT", "End", "Site", "OFFSET", "CHANNELS", "MOTION", "Frames:",
          "Frame Time:", "{", "}", "\n", " ", "6", "3", "0", "-1", "1e308", "nan", "inf", "Xrotation",
          "Yposition", "99999999999", "0.0333"]


def _read_bvh_text(text: str) -> None:
    """What `mocap preview` and the tests do with a BVH: parse, then build the Motion."""
    motion_from_bvh(parse_bvh(text, "fuzz.bvh"), name="fuzz")


def _only_mocap_errors(call, *args) -> None:
    try:
        call(*args)
    except MocapError as exc:
        message = str(exc)
        assert "\n" not in message and message.startswith(("fuzz.bvh", "/")), message


# ----------------------------------------------------------------------------- BVH


@st.composite
def mutated(draw, base: bytes, alphabet: list[bytes]):
    """`base` with a few edits: cut, delete a span, overwrite a span, insert a token, repeat."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["cut", "delete", "overwrite", "insert", "repeat"]))
        i = draw(st.integers(0, len(data)))
        j = draw(st.integers(i, min(len(data), i + 64)))
        if kind == "cut":
            del data[i:]
        elif kind == "delete":
            del data[i:j]
        elif kind == "overwrite":
            data[i:j] = draw(st.binary(min_size=j - i, max_size=j - i))
        elif kind == "insert":
            data[i:i] = draw(st.sampled_from(alphabet))
        else:
            data[i:i] = data[i:j] * draw(st.integers(1, 8))
    return bytes(data)


@FUZZ
@given(mutated(SMALL_BVH.encode(), [t.encode() for t in TOKENS] + [b"\x00", b"\xff\xfe", "é".encode()]))
def test_bvh_reader_on_mutated_files(data: bytes) -> None:
    _only_mocap_errors(_read_bvh_text, data.decode("utf-8", errors="replace"))


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=120).map(" ".join))
def test_bvh_reader_on_token_soup(text: str) -> None:
    _only_mocap_errors(_read_bvh_text, text)


@FUZZ
@given(st.text(max_size=400))
def test_bvh_reader_on_any_text(text: str) -> None:
    _only_mocap_errors(_read_bvh_text, text)


def _chain_bvh(depth: int, frames: int = 1) -> str:
    head = ["HIERARCHY", "ROOT j0", "{", "OFFSET 0 0 0", "CHANNELS 3 Xposition Yposition Zposition"]
    for k in range(1, depth):
        head += [f"JOINT j{k}", "{", "OFFSET 0 1 0"]
    head += ["}"] * depth
    return "\n".join(head + ["MOTION", f"Frames: {frames}", "Frame Time: 0.01"] + ["0 0 0"] * frames) + "\n"


def test_a_10000_deep_hierarchy_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.bvh"
    path.write_text(_chain_bvh(10_000))
    with pytest.raises(FormatError, match=f"more than {MAX_DEPTH} joints deep") as info:
        read_bvh(path)
    assert str(info.value).startswith(f"{path}: line ")


def test_a_hierarchy_at_the_depth_limit_is_read() -> None:
    doc = parse_bvh(_chain_bvh(MAX_DEPTH), "limit.bvh")
    assert len(doc.joints) == MAX_DEPTH


def test_a_million_frames_are_read_within_bounded_memory(tmp_path: Path) -> None:
    """1,000,000 frames of one 3-channel joint are read, and the reader's peak memory (the
    growth of a fresh process's peak RSS) is linear in the file: the text, one str per line
    (about 60 bytes each: ~24x a file of 6-byte lines) and the float matrix; no list of
    millions of value strings (that was ~100x)."""
    path = tmp_path / "long.bvh"
    path.write_text(_chain_bvh(1, frames=1_000_000))
    size = path.stat().st_size
    script = (
        "import resource, sys\n"
        "from mocap.bvh import parse_bvh\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "doc = parse_bvh(open(sys.argv[1]).read(), sys.argv[1])\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(doc.motion.shape[0], doc.motion.nbytes, (after - before) * 1024)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    n_frames, matrix_bytes, grown = map(int, proc.stdout.split())
    assert n_frames == 1_000_000
    assert grown < 30 * size + matrix_bytes, (grown, size)


def test_more_values_than_the_limit_are_refused_before_reading_them() -> None:
    frames = MAX_VALUES // 3 + 1
    text = _chain_bvh(1, frames=2).replace("Frames: 2", f"Frames: {frames}")
    with pytest.raises(FormatError, match="split the take"):
        parse_bvh(text, "huge.bvh")


# ----------------------------------------------------------------------------- landmark cache


def _tracks(n_frames: int = 4) -> LandmarkTracks:
    rng = np.random.default_rng(1)
    n = len(BLAZEPOSE_NAMES)
    return LandmarkTracks(
        names=tuple(BLAZEPOSE_NAMES),
        fps=30.0,
        times_s=np.arange(n_frames) / 30.0,
        frame_indices=np.arange(n_frames),
        image_xy_px=rng.uniform(0, 100, (n_frames, n, 2)),
        world_m=rng.uniform(-1, 1, (n_frames, n, 3)).astype(np.float32).astype(np.float64),
        visibility=rng.uniform(0, 1, (n_frames, n)).astype(np.float32).astype(np.float64),
        detected=np.ones(n_frames, bool),
        image_size_px=(100, 80),
        source="fuzz",
    )


@pytest.fixture(scope="module")
def good_entry(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("entry") / "good.npz"
    write_tracks(_tracks(), path)
    return path.read_bytes()


def _load_bytes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "entry.npz"
    path.write_bytes(data)
    try:
        read_tracks(path)
    except FormatError as exc:
        message = str(exc)
        assert message.startswith(f"{path}: ") and "\n" not in message, message


def test_the_good_entry_reads(good_entry: bytes, tmp_path: Path) -> None:
    path = tmp_path / "entry.npz"
    path.write_bytes(good_entry)
    assert read_tracks(path).n_frames == 4


@FUZZ
@given(data=st.data())
def test_cache_loader_on_mutated_entries(good_entry: bytes, tmp_path_factory, data) -> None:
    damaged = data.draw(mutated(good_entry, [b"\x00" * 8, b"PK\x03\x04", b"\x93NUMPY", b"{'descr': '<f8'"]))
    _load_bytes(tmp_path_factory.mktemp("m"), damaged)


_DTYPES = st.sampled_from(["<f8", "<f4", "<i8", "<i2", "|b1", "<U8", "|S4", "<c16", "<M8[s]"])


@st.composite
def entries(draw) -> bytes:
    """A zip of .npy arrays: the right names (mostly) with any dtype and shape."""
    names = ["format_version", "names", "fps", "frame_indices", "image_size_px", "detected", "source",
             "times_s", "image_xy_px", "world_m", "visibility"]
    arrays = {}
    for name in names:
        if draw(st.integers(0, 9)) == 0:
            continue  # a member missing
        shape = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
        dtype = np.dtype(draw(_DTYPES))
        arrays[name] = np.zeros(shape, dtype)
    arrays["format_version"] = np.array(draw(st.sampled_from([1, 1, 0, 2, -1])))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@FUZZ
@given(entries())
def test_cache_loader_on_arrays_of_any_dtype_and_shape(tmp_path_factory, data: bytes) -> None:
    _load_bytes(tmp_path_factory.mktemp("a"), data)


def test_an_entry_whose_header_asks_for_terabytes_is_refused(good_entry: bytes, tmp_path: Path) -> None:
    """A header may declare any shape; numpy would allocate it before finding the data short."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good_entry)) as src, zipfile.ZipFile(buffer, "w") as dst:
        for item in src.infolist():
            body = src.read(item)
            if item.filename == "image_xy_px.npy":
                header = io.BytesIO()
                np.lib.format.write_array_header_1_0(
                    header, {"descr": "<f8", "fortran_order": False, "shape": (10**12, 33, 2)})
                body = header.getvalue() + b"\x00" * 64
            dst.writestr(item, body)
    path = tmp_path / "big.npz"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(FormatError, match="image_xy_px.npy"):
        read_tracks(path)
