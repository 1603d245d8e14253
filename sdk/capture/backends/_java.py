"""pyjnius errors as the capture backends report them (no pyjnius import here)."""

from __future__ import annotations

__all__ = ["is_java_error", "java_class"]


def is_java_error(exc: BaseException) -> bool:
    """A Java exception raised through pyjnius (``jnius.JavaException``)."""
    kind = type(exc)
    return kind.__name__ == "JavaException" and kind.__module__.split(".")[0] == "jnius"


def java_class(exc: BaseException) -> str:
    """The Java exception's class name (pyjnius' ``classname``), never its message (which can
    hold a file path)."""
    name = getattr(exc, "classname", None)
    return str(name).replace("/", ".") if name else "a Java exception"
