"""The one error family that the CLI turns into a message and exit code 1."""

from __future__ import annotations


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
        from devenv.secrets import mask_known

        hint = f"hint: {mask_known(self.hint)}\n" if self.hint else ""
        return f"error: {mask_known(self.message)}\n{hint}"
