"""The one error family that the CLI turns into a message and exit code 1."""

from __future__ import annotations

from devenv.masking import mask


class DevenvError(Exception):
    """A problem the user can fix: `message` says what and where, `hint` says how."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\nHint: {self.hint}"

    def report(self) -> str:
        """The lines the CLI prints for it, known secrets masked."""
        hint = f"hint: {mask(self.hint)}\n" if self.hint else ""
        return f"error: {mask(self.message)}\n{hint}"


STACK_DOWN_HINT = "is the stack up? `devenv status` shows it, `devenv up` starts it"


def last_line(exc: BaseException) -> str:
    """The last line of an exception's message (a driver's detail), or its type's name when
    it has no message: never an IndexError of its own."""
    lines = str(exc).strip().splitlines()
    return lines[-1] if lines else type(exc).__name__
