"""One error tree. Each expected failure carries a message, a hint and an exit code.

The CLI boundary prints it once, without a traceback (unless --debug).
"""

from __future__ import annotations


class MeshError(Exception):
    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class InputError(MeshError):
    """Bad manifest, contract, argument or file: the user must fix their input."""

    exit_code = 2


class ConnectionConfigError(InputError):
    """A snow CLI connection that is missing or broken."""


class LocalAccountError(MeshError):
    """The local account (fakesnow + moto) could not start or answer."""


class StepFailed(MeshError):
    """A pipeline step failed; the previously published state keeps serving."""


class ContractViolation(MeshError):
    """Data or schema broke a contract (exit 1: a result, not a usage error)."""


class InputProblems(InputError):
    """Every problem found in the input at once (the front door reports all, not the first).

    ``problems`` holds one ``file: field: message`` line each; the message is those lines."""

    def __init__(self, problems: list[str], hint: str | None = None) -> None:
        self.problems = list(problems)
        head = self.problems[0] if len(self.problems) == 1 else f"{len(self.problems)} problems in the input:"
        body = "" if len(self.problems) == 1 else "\n  " + "\n  ".join(self.problems)
        super().__init__(head + body, hint)
