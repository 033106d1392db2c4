"""The messages between softgrad and the child process that runs the user's code: length-prefixed frames of
plain data in softgrad's own encoding (no pickle in either direction: the child runs code softgrad does not
trust, so what it sends is parsed, never executed).

A frame is an 8-byte big-endian length and that many bytes. A value is a one-byte tag and its contents:
None, True, False, int, float, str (UTF-8), tuple, list, dict with str keys, a numeric numpy array (its
dtype as text, checked to be a plain bool, integer, float or complex type; its shape; its bytes in C order)
and the frozen dataclasses registered with
:func:`softgrad.commands.verify.session.plain_data` (by name and fields). Anything else cannot be written,
and a message that is not exactly this cannot be read: :class:`WireError`.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import fields
from typing import Any

import numpy as np

from softgrad.commands.verify.session import PLAIN_TYPES

#: The largest message either side accepts (a returned array bigger than this is refused, not read).
MAX_MESSAGE = 1 << 30
#: How deeply containers may nest.
MAX_DEPTH = 64
HEADER = 8

_LEN = struct.Struct(">Q")
_COUNT = struct.Struct(">I")
_FLOAT = struct.Struct(">d")


class WireError(Exception):
    """A value that cannot be sent, or a message that cannot be read."""


def encode(value: Any) -> bytes:
    """``value`` as bytes (raises WireError for anything that is not plain data)."""
    out = io.BytesIO()
    _write(out, value, 0)
    return out.getvalue()


def frame(body: bytes) -> bytes:
    """A message: its length, then its bytes."""
    if len(body) > MAX_MESSAGE:
        raise WireError(f"a message of {len(body)} bytes is larger than the limit of {MAX_MESSAGE}")
    return _LEN.pack(len(body)) + body


def body_length(header: bytes) -> int:
    """The length a frame's header announces (raises WireError past the limit)."""
    (n,) = _LEN.unpack(header)
    if n > MAX_MESSAGE:
        raise WireError(f"a message announces {n} bytes, more than the limit of {MAX_MESSAGE}")
    return int(n)


def _write(out: io.BytesIO, value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise WireError("nested too deeply")
    if value is None:
        out.write(b"N")
    elif value is True:
        out.write(b"T")
    elif value is False:
        out.write(b"F")
    elif isinstance(value, int):
        raw = int(value).to_bytes((int(value).bit_length() + 8) // 8, "big", signed=True)
        out.write(b"I" + _COUNT.pack(len(raw)) + raw)
    elif isinstance(value, float):
        out.write(b"D" + _FLOAT.pack(float(value)))
    elif isinstance(value, str):
        raw = value.encode("utf-8", "surrogatepass")
        out.write(b"S" + _LEN.pack(len(raw)) + raw)
    elif isinstance(value, np.generic):
        _write(out, np.asarray(value), depth)
    elif isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufc":
            raise WireError(f"an array of {value.dtype} is not plain data")
        arr = np.asarray(value)
        out.write(b"A")
        _write(out, arr.dtype.str, depth + 1)
        _write(out, tuple(int(n) for n in arr.shape), depth + 1)
        raw = arr.tobytes(order="C")
        out.write(_LEN.pack(len(raw)) + raw)
    elif isinstance(value, tuple | list):
        out.write((b"U" if isinstance(value, tuple) else b"L") + _COUNT.pack(len(value)))
        for item in value:
            _write(out, item, depth + 1)
    elif isinstance(value, dict):
        out.write(b"M" + _COUNT.pack(len(value)))
        for key, item in value.items():
            if not isinstance(key, str):
                raise WireError(f"a dict key {type(key).__name__} is not a str")
            _write(out, key, depth + 1)
            _write(out, item, depth + 1)
    else:
        cls = type(value)
        name = f"{cls.__module__}.{cls.__qualname__}"
        if PLAIN_TYPES.get(name) is not cls:
            raise WireError(f"a {name} is not plain data")
        out.write(b"C")
        _write(out, name, depth + 1)
        _write(out, {f.name: getattr(value, f.name) for f in fields(value)}, depth + 1)


def decode(data: bytes) -> Any:
    """The value ``data`` encodes (raises WireError unless it is exactly one well-formed value)."""
    reader = _Reader(bytes(data))
    try:
        value = reader.value(0)
    except WireError:
        raise
    except (ValueError, TypeError, OverflowError, UnicodeDecodeError, struct.error) as exc:
        raise WireError(f"unreadable message: {type(exc).__name__}: {exc}") from None
    if reader.pos != len(data):
        raise WireError(f"{len(data) - reader.pos} bytes after the end of the message")
    return value


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.end = len(data)
        self.pos = 0

    def take(self, n: int) -> bytes:
        pos = self.pos
        if n < 0 or pos + n > self.end:
            raise WireError("the message ends too early")
        self.pos = pos + n
        return self.data[pos : pos + n]

    def length(self) -> int:
        return int(_LEN.unpack(self.take(8))[0])

    def count(self) -> int:
        return int(_COUNT.unpack(self.take(4))[0])

    def value(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise WireError("nested too deeply")
        tag = self.take(1)
        if tag == b"A":
            return self.array(depth)
        if tag == b"S":
            return self.take(self.length()).decode("utf-8", "surrogatepass")
        if tag in (b"U", b"L"):
            items = [self.value(depth + 1) for _ in range(self.count())]
            return tuple(items) if tag == b"U" else items
        if tag == b"N":
            return None
        if tag == b"T":
            return True
        if tag == b"F":
            return False
        if tag == b"I":
            return int.from_bytes(self.take(self.count()), "big", signed=True)
        if tag == b"D":
            return _FLOAT.unpack(self.take(8))[0]
        if tag == b"M":
            out: dict[str, Any] = {}
            for _ in range(self.count()):
                key = self.value(depth + 1)
                if not isinstance(key, str):
                    raise WireError("a dict key that is not a str")
                out[key] = self.value(depth + 1)
            return out
        if tag == b"C":
            return self.dataclass(depth)
        raise WireError(f"unknown tag {tag!r}")

    def array(self, depth: int) -> np.ndarray[Any, Any]:
        dtype_text, shape = self.value(depth + 1), self.value(depth + 1)
        if not isinstance(dtype_text, str) or len(dtype_text) > 8:
            raise WireError("an array without a plain dtype")
        dtype = np.dtype(dtype_text)
        if dtype.kind not in "biufc" or dtype.fields is not None or dtype.subdtype is not None or dtype.hasobject:
            raise WireError(f"an array of {dtype} is not numeric")
        if not (
            isinstance(shape, tuple)
            and len(shape) <= _MAX_DIMS
            and all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MAX_MESSAGE for n in shape)
        ):
            raise WireError("an array without a valid shape")
        raw = self.take(self.length())
        size = 1
        for n in shape:
            size *= n
        if size * dtype.itemsize != len(raw):
            raise WireError(f"an array of shape {shape} and dtype {dtype} with {len(raw)} bytes")
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()

    def dataclass(self, depth: int) -> Any:
        name = self.value(depth + 1)
        cls = PLAIN_TYPES.get(name) if isinstance(name, str) else None
        if cls is None:
            raise WireError(f"{name!r} is not a type softgrad reads")
        values = self.value(depth + 1)
        names = {f.name for f in fields(cls) if f.init}
        if not isinstance(values, dict) or not set(values) <= names:
            raise WireError(f"the fields of a {name} are not {sorted(names)}")
        return cls(**values)


_MAX_DIMS = 32


def write_frame(fd: int, body: bytes) -> None:
    """Write a whole frame to a blocking descriptor."""
    view = memoryview(frame(body))
    while view:
        n = os.write(fd, view)
        view = view[n:]


def read_exactly(fd: int, n: int) -> bytes | None:
    """``n`` bytes from a blocking descriptor; None at the end of the stream before the first byte."""
    chunks: list[bytes] = []
    got = 0
    while got < n:
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            if got == 0:
                return None
            raise WireError("the stream ends inside a message")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> bytes | None:
    """The next message's bytes from a blocking descriptor; None when the other side closed it."""
    header = read_exactly(fd, HEADER)
    if header is None:
        return None
    n = body_length(header)
    body = read_exactly(fd, n)
    if body is None and n:
        raise WireError("the stream ends inside a message")
    return body or b""
