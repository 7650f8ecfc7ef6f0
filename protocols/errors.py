"""Errors that reach a user as one clear line, never as a traceback."""

from __future__ import annotations


class InputError(Exception):
    """Bad input from a file or a command line: names the source, the field and the problem.

    The CLI prints ``str(err)`` on one line and exits with ``exit_code`` (2: unreadable or invalid
    input), so every parser in the project raises this instead of KeyError/ValueError.
    """

    exit_code = 2

    def __init__(self, source: str, field: str | None, problem: str) -> None:
        self.source = source
        self.field = field
        self.problem = problem
        where = f"{source}: {field}" if field else source
        super().__init__(f"{where}: {problem}")

    def __reduce__(self) -> tuple[type, tuple[str, str | None, str]]:
        # picklable, so a process-pool worker can raise it back to the station
        return (type(self), (self.source, self.field, self.problem))


def finite_number(source: str, field: str, text: str) -> float:
    """A finite float from a text field of a file, or :class:`InputError` naming the file and field."""
    s = text.strip()
    try:
        value = float(s)
    except ValueError:
        raise InputError(source, field, f"expected a number, got {s!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise InputError(source, field, f"not a finite number: {s!r}")
    return value
