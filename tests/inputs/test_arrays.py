""".npz archives read by softgrad itself: never unpickled, every member's header checked before its data."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from softgrad.inputs import arrays
from tests.conftest import run
from tests.inputs.special import one_line

Z = np.array([[1.75, 1.75], [1.0, 2.0]])
T = np.array([[0.0, 1.0], [1.0, 0.0]])


def _npy(array: np.ndarray, header: dict[str, object] | None = None) -> bytes:
    buf = io.BytesIO()
    if header is None:
        np.lib.format.write_array(buf, array, allow_pickle=True)
    else:
        np.lib.format.write_array_header_1_0(buf, header)
        buf.write(array.tobytes())
    return buf.getvalue()


def _archive(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


class _Payload:
    """Unpickling this runs code: it creates the file named by ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (Path.write_text, (str(self.marker), "pwned"))  # type: ignore[return-value]


def test_a_malicious_pickle_is_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    payload = np.empty(2, dtype=object)
    payload[:] = [_Payload(marker), 1]
    f = _archive(tmp_path / "evil.npz", {"z.npy": _npy(payload), "t.npy": _npy(T)})
    r = run("batch", str(f))
    assert r.exit_code == 2
    assert one_line(r.stderr) == (
        f"softgrad: error: {f}: array 'z': holds Python objects (they would have to be unpickled, which softgrad "
        "never does)"
    )
    assert not marker.exists()


@pytest.mark.parametrize(
    ("z", "what"),
    [
        (np.array([["1", "2"], ["3", "4"]]), "holds strings (<U1), not numbers"),
        (np.array([[b"1", b"2"], [b"3", b"4"]]), "holds byte strings (|S1), not numbers"),
        (np.zeros(2, dtype=[("a", "f8"), ("b", "f8")]), "is a structured array (fields a, b), not numbers"),
        (Z.astype(complex), "holds complex numbers (complex128), not numbers"),
        (
            np.array([["2020-01-01"] * 2] * 2, dtype="datetime64[D]"),
            "holds dates and times (datetime64[D]), not numbers",
        ),
        (np.array([[1, 2]] * 2, dtype="timedelta64[s]"), "holds time differences (timedelta64[s]), not numbers"),
        (Z > 1, "holds booleans (bool), not numbers"),
    ],
    ids=["str", "bytes", "structured", "complex", "datetime", "timedelta", "bool"],
)
def test_arrays_that_are_not_numbers_are_refused(tmp_path: Path, z: np.ndarray, what: str) -> None:
    f = tmp_path / "rows.npz"
    np.savez(f, z=z, t=T)
    r = run("batch", str(f))
    assert r.exit_code == 2
    assert one_line(r.stderr) == f"softgrad: error: {f}: array 'z': {what}"


def test_a_truncated_member_and_a_truncated_archive(tmp_path: Path) -> None:
    f = _archive(tmp_path / "member.npz", {"z.npy": _npy(Z)[:-8], "t.npy": _npy(T)})
    r = run("batch", str(f))
    assert (
        one_line(r.stderr)
        == f"softgrad: error: {f}: array 'z': is truncated: its shape (2, 2) needs 32 bytes, it holds 24"
    )
    whole = tmp_path / "whole.npz"
    np.savez_compressed(whole, z=Z, t=T)
    cut = tmp_path / "cut.npz"
    cut.write_bytes(whole.read_bytes()[:-30])
    r = run("batch", str(cut))
    assert r.exit_code == 2
    assert one_line(r.stderr).startswith(f"softgrad: error: {cut}: is not a readable .npz archive")


def test_more_data_than_the_shape_declares_is_refused(tmp_path: Path) -> None:
    data = _npy(Z) + b"\0" * 64
    f = _archive(tmp_path / "long.npz", {"z.npy": data, "t.npy": _npy(T)})
    r = run("batch", str(f))
    assert one_line(r.stderr) == f"softgrad: error: {f}: array 'z': holds more data than its shape (2, 2) declares"


def test_an_absurd_declared_shape_is_refused_before_any_allocation(tmp_path: Path) -> None:
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**12, 10**6)}
    f = _archive(tmp_path / "absurd.npz", {"z.npy": _npy(np.zeros(4), header), "t.npy": _npy(T)})
    r = run("batch", str(f))
    assert r.exit_code == 2
    assert one_line(r.stderr) == (
        f"softgrad: error: {f}: array 'z': declares shape (1000000000000, 1000000) (7275958 TB), more than the "
        "1 GB softgrad reads per array"
    )


def test_a_zip_bomb_is_refused_before_it_expands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(arrays, "MAX_ARRAY_BYTES", 1 << 20)
    zeros = np.zeros((200_000, 2))  # 3.2 MB of zeros: a few KB compressed
    f = tmp_path / "bomb.npz"
    np.savez_compressed(f, z=zeros, t=zeros)
    assert f.stat().st_size < 50_000
    r = run("batch", str(f))
    assert one_line(r.stderr) == (
        f"softgrad: error: {f}: array 'z': declares shape (200000, 2) (3.1 MB), more than the 1 MB softgrad reads "
        "per array"
    )


def test_a_member_that_lies_about_its_size_is_stopped(tmp_path: Path) -> None:
    # the .npy header says 2×2, the compressed member expands to far more: reading stops at the shape
    data = _npy(Z) + b"\0" * 10_000_000
    f = _archive(tmp_path / "liar.npz", {"z.npy": data, "t.npy": _npy(T)}, zipfile.ZIP_DEFLATED)
    r = run("batch", str(f))
    assert "holds more data than its shape (2, 2) declares" in one_line(r.stderr)


def test_a_plain_npy_file_is_named(tmp_path: Path) -> None:
    for name in ("rows.npy", "rows.npz"):
        f = tmp_path / name
        with f.open("wb") as fh:
            np.save(fh, Z)
        r = run("batch", str(f))
        assert r.exit_code == 2
        assert one_line(r.stderr).startswith(f"softgrad: error: {f}: is a plain .npy array; batch reads .npz archives")


def test_an_archive_with_zero_rows_is_not_a_pass(tmp_path: Path) -> None:
    f = tmp_path / "empty.npz"
    np.savez(f, z=np.zeros((0, 3)), t=np.zeros((0, 3)))
    r = run("batch", str(f))
    assert r.exit_code == 2
    assert one_line(r.stderr) == f"softgrad: error: {f}: has no rows to check (its arrays have 0 rows)"


def test_both_targets_and_labels_and_a_repeated_member_are_refused(tmp_path: Path) -> None:
    f = tmp_path / "both.npz"
    np.savez(f, z=Z, t=T, label=np.array([1, 0]))
    assert one_line(run("batch", str(f)).stderr) == f"softgrad: error: {f}: both arrays 't' and 'label': keep one"
    twice = tmp_path / "twice.npz"
    with zipfile.ZipFile(twice, "w") as zf:
        zf.writestr("z.npy", _npy(Z))
        zf.writestr("t.npy", _npy(T))
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("z.npy", _npy(Z * 2))
    assert one_line(run("batch", str(twice)).stderr) == f"softgrad: error: {twice}: holds two arrays named 'z'"


def test_temperature_and_jacobian_arrays_are_honoured(tmp_path: Path) -> None:
    from softgrad.core import fused_gradient
    from softgrad.core.formulas import softmax, softmax_jacobian

    g = fused_gradient(Z, T, 2.0)
    f = tmp_path / "tau.npz"
    np.savez(f, z=Z, t=T, grad=g, temperature=np.array(2.0))
    r = run("batch", str(f), "--format", "json")
    assert r.exit_code == 0, r.stdout
    np.savez(f, z=Z, t=T, grad=g)  # the same gradients at the default τ = 1 fail
    assert run("batch", str(f)).exit_code == 1
    jac = softmax_jacobian(softmax(Z))
    jac[1] = np.diag(np.diag(jac[1]))  # row 2: the diagonal only
    np.savez(f, z=Z, t=T, jacobian=jac)
    d = json.loads(run("batch", str(f), "--format", "json").stdout)
    assert d["total"]["counts"] == {"pass": 1, "fail": 1, "unstable": 0, "bad": 0}
    assert d["total"]["mistakes"] == {"diagonal_only": 1}
    np.savez(f, z=Z, t=T, temperature=np.array([1.0, -1.0]))
    assert one_line(run("batch", str(f)).stderr) == (
        f"softgrad: error: {f}: array 'temperature': must be a finite number > 0, got -1.0 (row 2)"
    )


def test_a_zip_of_a_version_python_cannot_read_is_one_input_error(tmp_path: Path) -> None:
    """A fuzz finding: zipfile raises NotImplementedError for an archive needing a newer zip version."""
    buf = io.BytesIO()
    np.savez(buf, z=np.array([[1.0, 2.0]]), t=np.array([[0.0, 1.0]]))
    data = bytearray(buf.getvalue())
    central = data.index(b"PK\x01\x02")
    data[central + 6 : central + 8] = (255).to_bytes(2, "little")  # "version needed to extract": 25.5
    path = tmp_path / "future.npz"
    path.write_bytes(bytes(data))
    r = run("batch", str(path))
    assert r.exit_code == 2
    assert one_line(r.stderr) == f"softgrad: error: {path}: is not a readable .npz archive (zip file version 25.5)"
