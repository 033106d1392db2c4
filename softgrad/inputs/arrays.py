"""``.npz`` arrays for ``batch``: ``z`` (N, K), ``t`` (N, K) or ``label`` (N,), optional ``grad`` (N, K),
optional ``temperature`` (a number, or (N,): each row's) and ``jacobian`` (N, K, K: softmax Jacobians to
check).

The archive is read by softgrad itself, never by ``np.load``: nothing is ever unpickled, and each member's
``.npy`` header is checked before its data is read — numbers only (no objects, strings, structured,
complex or datetime arrays), a shape whose data fits in :data:`MAX_ARRAY_BYTES`, and exactly as many
bytes as the shape declares (a truncated member, or a compressed one that expands past its declared size,
is refused). A plain ``.npy`` file, or an archive from stdin or gzip, is handled too.
"""

from __future__ import annotations

import io
import math
import zipfile
import zlib
from collections.abc import Iterator
from typing import IO, Any

import numpy as np

from softgrad.core import rules
from softgrad.errors import InputError
from softgrad.inputs.files import NPY_MAGIC, ZIP_MAGIC, megabytes, open_input, read_limited
from softgrad.inputs.rows import Block, Layout, RowSpec, to_block

#: The most one array may hold once decompressed.
MAX_ARRAY_BYTES = 1 << 30
#: The most an archive read from stdin (or from gzip) may hold.
MAX_ARCHIVE_BYTES = 2 << 30
#: What each array may hold: numpy dtype kinds (b bool, i/u integers, f floats).
KINDS = {"z": "iuf", "t": "biuf", "label": "iuf", "grad": "iuf", "temperature": "iuf", "jacobian": "iuf"}
_KIND_NAMES = {
    "O": "Python objects (they would have to be unpickled, which softgrad never does)",
    "U": "strings",
    "S": "byte strings",
    "V": "raw or structured records",
    "c": "complex numbers",
    "M": "dates and times",
    "m": "time differences",
    "b": "booleans",
}
_PLAIN_NPY = (
    "is a plain .npy array; batch reads .npz archives holding arrays z, t (or label) and optionally grad "
    "(np.savez('rows.npz', z=Z, t=T))"
)


def read_npz(path: str, chunk_rows: int = 65536) -> Iterator[tuple[Block, int]]:
    """Rows of an ``.npz`` archive (see the module docstring); yields (block, K)."""
    source, arrays = load_npz(path)
    z = arrays["z"]
    n, k = z.shape
    t = arrays.get("t")
    labels = arrays.get("label")
    g = arrays.get("grad")
    tau = arrays.get("temperature")
    jac = arrays.get("jacobian")
    names = tuple([f"z{i}" for i in range(k)] + ([f"t{i}" for i in range(k)] if t is not None else ["label"]))
    t_cols = tuple(range(k, 2 * k)) if t is not None else None
    g_cols = tuple(range(2 * k, 3 * k)) if g is not None else None
    layout = Layout(names, tuple(range(k)), t_cols, None if t is not None else k, g_cols, ())
    spec = RowSpec(source, layout, ",", False)
    for start in range(0, n, chunk_rows):
        sl = slice(start, min(n, start + chunk_rows))
        assert t is not None or labels is not None
        parts = [z[sl], t[sl] if t is not None else labels[sl, None].astype(np.float64)]  # type: ignore[index]
        if g is not None:
            parts.append(g[sl])
        arr = np.hstack(parts)
        # "line" of an .npz row: its 1-based index
        lines = np.arange(start + 1, sl.stop + 1, dtype=np.int64)
        block = to_block(arr, lines, None, None, None, spec, [])
        keep = block.lines - 1
        if tau is not None:
            block.temperature = tau[keep]
        if jac is not None:
            block.jacobian = jac[keep]
        yield block, k


def load_npz(path: str) -> tuple[str, dict[str, np.ndarray[Any, Any]]]:
    """(display name, arrays as float64, checked against each other) of an ``.npz`` archive."""
    source, fh = _open_archive(path)
    with fh:
        head = fh.read(6)
        fh.seek(0)
        if head == NPY_MAGIC:
            raise InputError(source, _PLAIN_NPY)
        if head[:4] != ZIP_MAGIC:
            raise InputError(source, "is not an .npz archive (it does not start like a zip file)")
        try:
            zf = zipfile.ZipFile(fh)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
            raise InputError(source, f"is not a readable .npz archive ({exc})") from None
        with zf:
            members: dict[str, zipfile.ZipInfo] = {}
            for info in zf.infolist():
                key = info.filename.removesuffix(".npy")
                if key in members:
                    raise InputError(source, f"holds two arrays named {key!r}")
                members[key] = info
            if "z" not in members:
                raise InputError(source, f"no array 'z' (arrays: {', '.join(sorted(members)) or 'none'})")
            if "t" not in members and "label" not in members:
                raise InputError(source, "no array 't' or 'label'")
            if "t" in members and "label" in members:
                raise InputError(source, "both arrays 't' and 'label': keep one")
            arrays = {
                key: _member(zf, members[key], source, key) for key in KINDS if key in members
            }  # fmt: skip
    return source, _checked(arrays, source)


def _open_archive(path: str) -> tuple[str, IO[bytes]]:
    """A seekable stream of the archive: the file itself, or (stdin, a pipe, gzip) its bytes in memory."""
    source, stream, size = open_input(path)
    if size is not None and path != "-":
        stream.close()
        try:
            return source, open(path, "rb")
        except OSError as exc:
            raise InputError(source, f"cannot read: {exc.strerror or exc}") from None
    try:
        head = stream.read(6)
        if head == NPY_MAGIC:
            raise InputError(source, _PLAIN_NPY)
        if head[:4] != ZIP_MAGIC:
            raise InputError(source, "is not an .npz archive (it does not start like a zip file)")
        data = head + read_limited(stream, source, MAX_ARCHIVE_BYTES - len(head), "an .npz archive on a pipe")
    finally:
        if path != "-":
            stream.close()
    return source, io.BytesIO(data)


def _member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, source: str, key: str) -> np.ndarray[Any, Any]:
    """One array, from its checked .npy header and exactly the bytes it declares."""
    where = f"{source}: array {key!r}"
    try:
        with zf.open(info) as fp:
            shape, fortran, dtype = _header(fp, where)
            _check_dtype(dtype, key, where)
            count = math.prod(shape)
            nbytes = count * dtype.itemsize
            if nbytes > MAX_ARRAY_BYTES:
                raise InputError(
                    where,
                    f"declares shape {shape} ({megabytes(nbytes)}), more than the {megabytes(MAX_ARRAY_BYTES)} "
                    "softgrad reads per array",
                )
            out = np.empty(count, dtype=dtype)
            view = out.view(np.uint8)
            got = 0
            while got < nbytes:
                data = fp.read(min(nbytes - got, 16 << 20))
                if not data:
                    raise InputError(where, f"is truncated: its shape {shape} needs {nbytes} bytes, it holds {got}")
                view[got : got + len(data)] = np.frombuffer(data, np.uint8)
                got += len(data)
            if fp.read(1):
                raise InputError(where, f"holds more data than its shape {shape} declares")
    except InputError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, ValueError) as exc:
        raise InputError(where, f"cannot be read: the archive is damaged or truncated ({exc})") from None
    return out.reshape(shape, order="F" if fortran else "C")


def _header(fp: IO[bytes], where: str) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(fp)
        else:
            raise InputError(
                where, f"is in .npy format version {version[0]}.{version[1]}, which softgrad does not read"
            )
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - numpy's header parser raises ValueError, SyntaxError, TokenError…
        raise InputError(where, f"is not a valid .npy array ({' '.join(str(exc).split())[:120]})") from None
    if not all(isinstance(d, int) and d >= 0 for d in shape):
        raise InputError(where, f"declares an invalid shape {shape}")
    return tuple(int(d) for d in shape), bool(fortran), dtype


def _check_dtype(dtype: np.dtype[Any], key: str, where: str) -> None:
    if dtype.hasobject:
        raise InputError(where, f"holds {_KIND_NAMES['O']}")
    if dtype.names:
        raise InputError(where, f"is a structured array (fields {', '.join(dtype.names)}), not numbers")
    if dtype.kind not in KINDS[key]:
        raise InputError(where, f"holds {_KIND_NAMES.get(dtype.kind, dtype.str)} ({dtype}), not numbers")


def _checked(raw: dict[str, np.ndarray[Any, Any]], source: str) -> dict[str, np.ndarray[Any, Any]]:
    """Shapes checked against each other; values as float64 (labels as they are)."""

    def where(key: str) -> str:
        return f"{source}: array {key!r}"

    with np.errstate(over="ignore", invalid="ignore"):
        z = raw["z"].astype(np.float64)
    if z.ndim != 2 or z.shape[1] < 2:
        raise InputError(where("z"), f"expected shape (N, K) with K >= 2, got {z.shape}")
    n, k = z.shape
    out: dict[str, np.ndarray[Any, Any]] = {"z": z}
    for key, shape in (("t", (n, k)), ("grad", (n, k)), ("jacobian", (n, k, k))):
        if key in raw:
            with np.errstate(over="ignore", invalid="ignore"):
                out[key] = raw[key].astype(np.float64)
            if out[key].shape != shape:
                raise InputError(where(key), f"expected shape {shape}, got {out[key].shape}")
    if "label" in raw:
        out["label"] = raw["label"]
        if out["label"].shape != (n,):
            raise InputError(where("label"), f"expected shape ({n},), got {out['label'].shape}")
    if "temperature" in raw:
        tau = raw["temperature"].astype(np.float64)
        if tau.shape not in ((), (n,)):
            raise InputError(where("temperature"), f"expected one number or shape ({n},), got {tau.shape}")
        for i, value in enumerate(np.atleast_1d(tau)):
            if not (math.isfinite(value) and value > 0):
                at = f" (row {i + 1})" if tau.shape else ""
                try:
                    rules.temperature(float(value))
                except InputError as exc:
                    raise InputError(where("temperature"), exc.message + at) from None
        out["temperature"] = np.broadcast_to(tau, (n,)).copy()
    return out
