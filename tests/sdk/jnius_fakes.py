"""What the SDK's Android camera tests share of their fake pyjnius (the real one exists only on
Android): :class:`JavaException`."""

from __future__ import annotations

__all__ = ["JavaException"]


class JavaException(Exception):
    """pyjnius' ``jnius.JavaException``: a Java exception raised into Python."""

    def __init__(self, classname: str, message: str = "") -> None:
        super().__init__(message)
        self.classname = classname


JavaException.__module__ = "jnius"
