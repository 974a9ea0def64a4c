"""The one error fingerprinting raises, apart from it: catching it loads no decoder or numpy."""

from __future__ import annotations


class MediaError(Exception):
    """The file cannot be fingerprinted: says which file and why, in words a person can act on.

    Raised in worker processes and re-raised in the service, so it must pickle intact: the
    default ``Exception`` pickling would call ``MediaError(message)`` and fail.
    """

    def __init__(self, name: str, reason: str):
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason

    def __reduce__(self) -> tuple[type[MediaError], tuple[str, str]]:
        return type(self), (self.name, self.reason)
