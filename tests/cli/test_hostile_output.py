"""Output never destroys anything: --output over special files, links, modes, stdin as an input, and every
way writing can fail (real devices, FIFOs and permissions; as root, without the power to ignore them)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import run
from tests.inputs.special import IS_ROOT, child_env, one_line, rows_csv, softgrad

EX = ("check", "--z", "1.75", "1.75", "--t", "0", "1")
needs_root = pytest.mark.skipif(not IS_ROOT, reason="mknod needs root")


def test_output_to_dev_null_writes_through_and_leaves_it_a_device() -> None:
    before = os.stat("/dev/null")
    r = run(*EX, "--format", "json", "--output", "/dev/null")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "", "")
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode)
    assert (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


@needs_root
def test_output_to_a_character_device_made_with_mknod(tmp_path: Path) -> None:
    dev = tmp_path / "null"
    os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a /dev/null of our own
    r = run(*EX, "--output", str(dev))
    assert r.exit_code == 0, r.stderr
    assert stat.S_ISCHR(dev.lstat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]


@needs_root
def test_output_refuses_a_block_device(tmp_path: Path) -> None:
    dev = tmp_path / "disk"
    os.mknod(dev, 0o600 | stat.S_IFBLK, os.makedev(7, 200))  # a loop device number; never opened
    r = run(*EX, "--output", str(dev))
    assert r.exit_code == 2
    assert (
        one_line(r.stderr) == f"softgrad: error: --output: {dev} is a block device; refusing to write a report onto it"
    )
    assert stat.S_ISBLK(dev.lstat().st_mode)


def test_output_refuses_a_socket_and_a_directory(tmp_path: Path) -> None:
    import socket

    path = tmp_path / "sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        r = run(*EX, "--output", str(path))
    assert r.exit_code == 2
    assert "is a socket" in one_line(r.stderr)
    r = run(*EX, "--output", str(tmp_path))
    assert r.exit_code == 2
    assert one_line(r.stderr) == f"softgrad: error: --output: {tmp_path} is a directory"


def test_output_to_a_fifo_with_a_reader_is_written_through(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    try:
        for _ in range(200):  # wait until the reader has the FIFO open
            r = run(*EX, "--format", "json", "--output", str(fifo))
            if r.exit_code == 0:
                break
            threading.Event().wait(0.01)
    finally:
        reader.join(10)
    assert r.exit_code == 0, r.stderr
    assert json.loads(got[0])["status"] == "pass"
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_output_to_a_fifo_nobody_reads_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    r = run(*EX, "--output", str(fifo))
    assert r.exit_code == 2
    assert one_line(r.stderr) == f"softgrad: error: --output: {fifo} is a FIFO that nobody is reading"
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_output_through_a_symlink_replaces_the_target_and_keeps_the_link(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("old\n")
    link = tmp_path / "latest.json"
    link.symlink_to(target.name)
    r = run(*EX, "--format", "json", "--output", str(link))
    assert r.exit_code == 0, r.stderr
    assert link.is_symlink()
    assert json.loads(target.read_text())["status"] == "pass"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.json", "report.json"]
    dangling = tmp_path / "new-link.json"
    dangling.symlink_to("made-by-softgrad.json")
    assert run(*EX, "--output", str(dangling)).exit_code == 0
    assert dangling.is_symlink()
    assert (tmp_path / "made-by-softgrad.json").read_text().startswith("softgrad check")


def test_output_to_a_symlink_to_proc_self_fd_1_goes_to_stdout(tmp_path: Path) -> None:
    link = tmp_path / "to-stdout"
    link.symlink_to("/proc/self/fd/1")
    r = softgrad(*EX, "--format", "json", "--output", str(link))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["status"] == "pass"
    assert link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["to-stdout"]


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_a_new_output_file_gets_the_umask_mode(tmp_path: Path, umask: int, mode: int) -> None:
    out = tmp_path / "report.json"
    r = softgrad(*EX, "--output", str(out), preexec_fn=lambda: os.umask(umask))
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(out.stat().st_mode) == mode


def test_a_replaced_output_file_keeps_its_mode(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    out.write_text("old\n")
    out.chmod(0o664)
    assert run(*EX, "--output", str(out)).exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o664
    assert out.read_text().startswith("softgrad check")


def test_stdin_is_an_input_and_is_never_overwritten(tmp_path: Path) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("z0,z1,t0,t1\n1.75,1.75,0,1\n")
    case = tmp_path / "c.json"
    case.write_text('{"z": [1.75, 1.75], "t": [0, 1]}')
    logits = tmp_path / "z.txt"
    logits.write_text("1.75 1.75\n")
    for args, path in (
        (("batch", "-", "--output", str(rows)), rows),
        (("check", "--case", "-", "--output", str(case)), case),
        (("check", "--z-file", "-", "--t", "0", "1", "--output", str(logits)), logits),
    ):
        before = path.read_bytes(), path.stat().st_mtime_ns
        with path.open("rb") as stdin:
            r = softgrad(*args, stdin=stdin)
        assert r.returncode == 2
        assert one_line(r.stderr) == "softgrad: error: --output: refusing to overwrite the input file read from stdin"
        assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    # stdout redirected (>>) onto the file that stdin reads is refused too
    with rows.open("rb") as stdin, rows.open("ab") as stdout:
        r = softgrad("batch", "-", stdin=stdin, stdout=stdout)
    assert r.returncode == 2
    assert rows.read_text() == "z0,z1,t0,t1\n1.75,1.75,0,1\n"


def test_an_output_name_too_long_for_the_file_system_is_one_line(tmp_path: Path) -> None:
    ok = tmp_path / ("a" * 250)  # fits; its temporary sibling must fit too
    assert run(*EX, "--output", str(ok)).exit_code == 0
    assert [p.name for p in tmp_path.iterdir()] == [ok.name]
    r = run(*EX, "--output", str(tmp_path / ("b" * 256)))
    assert r.exit_code == 2
    assert one_line(r.stderr).endswith("bbbb: the file name is too long")
    assert [p.name for p in tmp_path.iterdir()] == [ok.name]


def test_a_read_only_folder_is_one_line_and_no_file(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        r = softgrad(*EX, "--output", str(folder / "report.txt"), obey_permissions=True)
    finally:
        folder.chmod(0o755)
    assert r.returncode == 2
    assert one_line(r.stderr) == f"softgrad: error: --output: cannot create a file in {folder}: Permission denied"
    assert list(folder.iterdir()) == []


def test_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    r = run(*EX, "--output", str(tmp_path / "nope" / "report.txt"))
    assert r.exit_code == 2
    assert one_line(r.stderr) == f"softgrad: error: --output: directory {tmp_path / 'nope'} does not exist"


def test_batch_refuses_a_bad_output_before_checking_any_row(tmp_path: Path) -> None:
    rows = rows_csv(tmp_path / "rows.csv", 3)
    r = run("batch", str(rows), "--output", str(tmp_path / "nope" / "out.csv"), "--format", "csv")
    assert r.exit_code == 2
    assert one_line(r.stderr).endswith("does not exist")


def test_a_full_disk_is_one_line() -> None:
    r = run(*EX, "--output", "/dev/full")
    assert r.exit_code == 2
    assert one_line(r.stderr) == "softgrad: error: --output: cannot write /dev/full: No space left on device"
    with open("/dev/full", "wb") as full:
        r2 = softgrad(*EX, stdout=full)
    assert r2.returncode == 2
    assert one_line(r2.stderr) == "softgrad: error: stdout: cannot write the report: No space left on device"


def test_a_closed_stdout_is_one_line() -> None:
    r = softgrad(*EX, stdout=None, preexec_fn=lambda: os.close(1))
    assert r.returncode == 2
    assert one_line(r.stderr) == (
        "softgrad: error: stdout: is closed; nothing can be written (redirect it, or use --output PATH)"
    )


def test_a_closed_stdout_is_refused_before_any_input_is_read(tmp_path: Path) -> None:
    fifo = tmp_path / "rows.csv"
    os.mkfifo(fifo)  # nobody ever writes it: reading it would wait
    r = softgrad("batch", str(fifo), stdout=None, preexec_fn=lambda: os.close(1))
    assert r.returncode == 2
    assert one_line(r.stderr) == (
        "softgrad: error: stdout: is closed; nothing can be written (redirect it, or use --output PATH)"
    )


@pytest.mark.parametrize(
    "args", [("check", "--case", "-"), ("batch", "-"), ("check", "--z-file", "-", "--t", "0", "1")]
)
def test_a_closed_stdin_is_one_line(args: tuple[str, ...]) -> None:
    r = softgrad(*args, stdin=None, preexec_fn=lambda: os.close(0))
    assert r.returncode == 2
    assert one_line(r.stderr) == (
        "softgrad: error: <stdin>: stdin is closed; nothing to read (give a file, or pipe the rows in)"
    )


def test_a_broken_pipe_is_one_line_and_exit_141(tmp_path: Path) -> None:
    rows = rows_csv(tmp_path / "rows.csv", 20_000)  # 800 KB of CSV report: more than a pipe holds
    proc = subprocess.Popen(
        [sys.executable, "-m", "softgrad", "batch", str(rows), "--format", "csv", "--jobs", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(),
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith(b"file,line,")  # `| head -1`
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 141
    assert one_line(err) == "softgrad: the reader of the output went away before the report was written (broken pipe)"
