"""What the SDK's Android camera tests share of their fake pyjnius (the real one exists only on
Android): :class:`JavaException`."""

from __future__ import annotations

import queue
import threading
import types
from collections.abc import Callable
from typing import Any

__all__ = ["JavaException"]


class JavaException(Exception):
    """pyjnius' ``jnius.JavaException``: a Java exception raised into Python."""

    def __init__(self, classname: str, message: str = "") -> None:
        super().__init__(message)
        self.classname = classname


JavaException.__module__ = "jnius"


# -- the activity's window and the UI thread, for the screen protection (sdk/ui/kivy/secure.py) --
# Used by tests/ui/test_secure_screens.py, whose host process installs these modules with
# ``sys.modules.update(android_modules(...))`` before the SDK first needs them.

__all__ += ["ActivityWindow", "FakeActivity", "UiThread", "android_modules"]

#: ``android.view.WindowManager.LayoutParams.FLAG_SECURE``.
FLAG_SECURE = 0x2000
#: The thread name of :class:`UiThread`.
UI_THREAD = "android-ui"


class UiThread:
    """The activity's UI thread: runs what ``runOnUiThread`` posts, in order, on a thread of
    its own named :data:`UI_THREAD`; a job's exception is recorded in ``errors`` (the real
    p4a ``Runnable.run`` prints it and goes on)."""

    def __init__(self) -> None:
        self.jobs: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, name=UI_THREAD, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (job := self.jobs.get()) is not None:
            try:
                job()
            except BaseException as exc:  # noqa: BLE001 - recorded for the test
                self.errors.append(exc)

    def post(self, job: Callable[[], None]) -> None:
        self.jobs.put(job)

    def drain(self) -> None:
        """Wait until every job posted so far has run."""
        done = threading.Event()
        self.post(done.set)
        assert done.wait(5)

    def stop(self) -> None:
        self.jobs.put(None)
        self.thread.join(5)


class ActivityWindow:
    """``android.view.Window`` of the activity: ``setFlags`` / ``clearFlags`` /
    ``getAttributes().flags``. Each call is recorded in ``calls`` as ``(method, args, thread
    name)``; a call from another thread than the UI thread is also recorded in
    ``violations`` (Android throws ``CalledFromWrongThreadException`` there). With ``fail``
    set to a Java class name, ``setFlags`` and ``clearFlags`` raise that
    :class:`JavaException`."""

    def __init__(self) -> None:
        self.flags = 0
        self.calls: list[tuple[str, tuple[int, ...], str]] = []
        self.violations: list[str] = []
        self.fail: str | None = None

    def _record(self, method: str, *args: int) -> None:
        name = threading.current_thread().name
        self.calls.append((method, args, name))
        if name != UI_THREAD:
            self.violations.append(f"{method} from {name}")

    def setFlags(self, flags: int, mask: int) -> None:
        self._record("setFlags", flags, mask)
        if self.fail:
            raise JavaException(self.fail, "refused")
        self.flags = (self.flags & ~mask) | (flags & mask)

    def clearFlags(self, flags: int) -> None:
        self._record("clearFlags", flags)
        if self.fail:
            raise JavaException(self.fail, "refused")
        self.flags &= ~flags

    def getAttributes(self) -> Any:
        return types.SimpleNamespace(flags=self.flags)

    @property
    def secure(self) -> bool:
        return bool(self.flags & FLAG_SECURE)


class FakeActivity:
    """``PythonActivity.mActivity``: its window and ``runOnUiThread``."""

    def __init__(self, ui: UiThread, window: ActivityWindow | None = None) -> None:
        self.ui = ui
        self.window = window or ActivityWindow()

    def getWindow(self) -> ActivityWindow:
        return self.window

    def runOnUiThread(self, runnable: Any) -> None:
        self.ui.post(runnable.run)


def android_modules(activity: FakeActivity,
                    activity_class: str = "org.kivy.android.PythonActivity"
                    ) -> dict[str, types.ModuleType]:
    """Fake ``jnius`` (``autoclass`` of the activity class, ``JavaException``) and
    python-for-android's ``android``, ``android.runnable`` (``Runnable`` and
    ``run_on_ui_thread`` as p4a's: the call is posted to the UI thread and returns at once)
    and ``android.config`` (``ACTIVITY_CLASS_NAME``), by module name for ``sys.modules``."""

    def autoclass(name: str) -> Any:
        if name == activity_class:
            return types.SimpleNamespace(mActivity=activity)
        raise JavaException("java.lang.ClassNotFoundException", name)

    class Runnable:
        def __init__(self, func: Callable[..., None]) -> None:
            self.func = func
            self.args: tuple[Any, ...] = ()
            self.kwargs: dict[str, Any] = {}

        def __call__(self, *args: Any, **kwargs: Any) -> None:
            self.args, self.kwargs = args, kwargs
            activity.runOnUiThread(self)

        def run(self) -> None:
            self.func(*self.args, **self.kwargs)

    table: dict[Any, Runnable] = {}

    def run_on_ui_thread(func: Callable[..., None]) -> Callable[..., None]:
        runnable = table.setdefault(func, Runnable(func))

        def posted(*args: Any, **kwargs: Any) -> None:
            runnable(*args, **kwargs)
        return posted

    def module(name: str, **attrs: Any) -> types.ModuleType:
        mod = types.ModuleType(name)
        for key, value in attrs.items():
            setattr(mod, key, value)
        return mod

    jnius = module("jnius", autoclass=autoclass, JavaException=JavaException)
    runnable = module("android.runnable", Runnable=Runnable, run_on_ui_thread=run_on_ui_thread)
    config = module("android.config", ACTIVITY_CLASS_NAME=activity_class)
    android = module("android", runnable=runnable, config=config)
    android.__path__ = []  # a package, so that "from android.runnable import ..." works
    return {"jnius": jnius, "android": android, "android.runnable": runnable,
            "android.config": config}
