"""A program a container or `kubectl exec` cannot start is reported in runc's words, not Python's."""

from __future__ import annotations

from kinn.kubelet.runtime.process import exec_failure


def test_a_name_not_on_the_path() -> None:
    error = FileNotFoundError(2, "No such file or directory")
    assert exec_failure("nonexistentcmd", error) == 'exec: "nonexistentcmd": executable file not found in $PATH'


def test_a_missing_path() -> None:
    error = FileNotFoundError(2, "No such file or directory")
    assert exec_failure("/no/such", error) == 'exec: "/no/such": stat /no/such: no such file or directory'


def test_a_file_that_is_not_executable() -> None:
    assert exec_failure("/etc/passwd", PermissionError(13, "Permission denied")) == (
        'exec: "/etc/passwd": permission denied')


def test_other_errors_keep_their_text() -> None:
    assert exec_failure("sh", OSError(7, "Argument list too long")) == "[Errno 7] Argument list too long"
