"""Keep screens that show a real name, an ID number or other sensitive personal information out
of screenshots and the recents / app-switcher thumbnail (OWASP MASVS-PLATFORM-3; MASTG
"Finding Sensitive Information in Auto-Generated Screenshots").

Mark what is sensitive; the SDK does the rest:

- :func:`secure_content` marks any widget (a screen, a dialog, a card) and returns its
  :class:`SecureContent`, the handle with ``counted`` (the widget counts now), ``sensitive``
  (set it False while the widget shows nothing sensitive) and ``close()`` (stop for good);
- :class:`SensitiveContent` is the same as a mixin for a widget class, e.g.
  ``class IdScreen(SensitiveContent, Screen)``, with a ``sensitive`` property (default True)
  for a widget that shows sensitive data only part of the time.

A marked widget *counts* while it is in the window (it and every ancestor are attached up to
Kivy's ``Window``: a ScreenManager's screen only while it is shown) and ``sensitive``.
:class:`SecureWindow` keeps the count (reference counting: two screens, then one left, is
still one) and, while it is at least one:

1. **Android**: ``WindowManager.LayoutParams.FLAG_SECURE`` (``0x2000``) is set on the
   activity's window (``PythonActivity.mActivity.getWindow().setFlags(FLAG_SECURE,
   FLAG_SECURE)``) when the count goes from 0 to 1, and cleared (``clearFlags(FLAG_SECURE)``)
   when it goes back to 0, always on the Android UI thread (python-for-android's
   ``android.runnable.run_on_ui_thread``; window flags may only be changed there). The OS then
   refuses screenshots, shows black in screen recordings and on non-secure displays, and shows
   no content in the recents thumbnail. A flag the app had set itself before is left set.
   pyjnius is imported only then, only on Android.
2. **Every platform** (the only mechanism on iOS, which has no FLAG_SECURE, and on a desktop):
   when the app is paused (Kivy dispatches ``App.on_pause``; on iOS from SDL's
   will-enter-background event, sent in ``applicationWillResignActive``, before iOS takes the
   app-switcher snapshot) an opaque cover, the app's title on a plain background, is drawn
   over the whole window and presented at once, in that same call, since no frame is drawn
   while paused. ``App.on_resume`` removes it. Nothing is covered while no marked widget
   counts.

   The cover runs *before* every ``on_pause`` handler of the app, whatever it binds and
   answers. Kivy calls bound handlers newest first and stops at the first that returns True
   (before the app's ``on_pause`` method), so the SDK does not bind a handler: the first time
   a marked widget counts it wraps the running app's ``dispatch`` (an attribute of that app
   instance; Kivy 2.3 has no window event before ``App.on_pause``: SDL2's event filter,
   ``WindowSDL.do_pause`` and ``kivy.support`` call ``app.dispatch("on_pause")`` directly).
   The wrapper draws the cover (``on_pause``) or removes it (``on_resume``), then calls
   Kivy's ``dispatch`` unchanged: an app's ``self.bind(on_pause=lambda *a: True)`` or an
   ``on_pause`` that returns False (stop rather than pause) still decides what Kivy does.

   **Desktops** (Linux, macOS, Windows) pause only when the window is minimised *and* Kivy's
   ``Config.set("kivy", "pause_on_minimize", 1)`` (default ``0``; read at each minimise, so it
   may be set any time): the SDL2 window provider dispatches ``on_pause`` on SDL's
   ``windowminimized`` event, after the window system has minimised the window, so a taskbar
   or dock preview taken before that may show the content. Without the setting a desktop
   window is never covered; moving to another window or workspace is no pause either.

Losing the window focus is not a trigger: on iOS it comes with the pause anyway, on Android it
also happens for the system's permission dialogs and the notification shade (the user would
see the app blank behind them), and on a desktop whenever another window is clicked.

:meth:`SecureWindow.status` says what is in force (:class:`ProtectionStatus`:
``mechanisms`` ``("flag_secure", "cover_on_pause")``, a ``reason`` for what is missing).
Nothing here raises into the app: a failing pyjnius call or cover is logged (class names only,
never what a widget shows) and reported by :meth:`~SecureWindow.status`.

Call everything from Kivy's thread (widget events are).

**Limits.** Not run on a device: ``tests/ui/test_secure_screens.py`` plays Android with fake
``jnius`` / ``android`` modules and draws the cover in a real Kivy window under Xvfb. Kivy
draws into SDL's ``SurfaceView``; whether the window's flag reaches that surface on every
Android version and OEM build was not checked (``SurfaceView.setSecure`` would have to be set
before the view is attached, so it cannot follow the count). The flag is set asynchronously,
so the first frame of a marked screen may be drawn a moment before it applies. iOS and
desktop systems offer no way to block a screenshot the user takes while the screen is shown.

Sources: Kivy 2.3 ``kivy/_event.pyx`` (``EventDispatcher.dispatch``: bound handlers in
reverse order, stop at the first True, then the method), ``kivy/app.py`` (``App.on_pause``),
``kivy/config.py`` (``pause_on_minimize``); Android reference
``WindowManager.LayoutParams#FLAG_SECURE`` ("treat the content of the window as secure,
preventing it from appearing in screenshots or from being viewed on non-secure displays"),
``Window#setFlags`` / ``Window#clearFlags``, ``Window#getAttributes``,
``Activity#runOnUiThread``, ``SurfaceView#setSecure``;
python-for-android ``android/runnable.py`` (``run_on_ui_thread``), ``android/config.py``
(``ACTIVITY_CLASS_NAME``); Kivy 2.3 ``kivy/core/window/window_sdl2.py`` (``_event_filter``:
``app_willenterbackground`` dispatches ``on_pause`` and the pause loop draws no frame,
``app_didenterforeground`` dispatches ``on_resume``; ``windowminimized`` calls ``do_pause``
with ``pause_on_minimize``); OWASP MASVS v2 MASVS-PLATFORM-3 and the
MASTG tests "Finding Sensitive Information in Auto-Generated Screenshots" (Android) and
"Testing Auto-Generated Screenshots for Sensitive Information" (iOS).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from kivy.properties import BooleanProperty
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from ...capture import _platform
from ...capture.backends._java import is_java_error, java_class

__all__ = [
    "FLAG_SECURE",
    "ProtectionStatus",
    "SecureContent",
    "SecureWindow",
    "SensitiveContent",
    "secure_content",
]

log = logging.getLogger("sdk.ui.secure")

#: ``android.view.WindowManager.LayoutParams.FLAG_SECURE`` (documented constant value).
FLAG_SECURE = 0x2000
#: The activity of a python-for-android app when ``android.config`` does not name one.

#: Mechanism names in :attr:`ProtectionStatus.mechanisms`.
FLAG = "flag_secure"
COVER = "cover_on_pause"

_REASONS = {
    "inactive": "no sensitive content is in the window",
    "ios": ("iOS has no FLAG_SECURE: the app-switcher snapshot shows the cover, but a "
            "screenshot or screen recording the user makes while the content is shown is not "
            "blocked"),
    "desktop": ("desktop systems have no API to keep a window out of screenshots: only the "
                "cover is drawn, and only when Kivy pauses the app (on a desktop only with "
                "Config kivy.pause_on_minimize)"),
    "pending": "FLAG_SECURE is being set on the Android UI thread",
}


@dataclass(frozen=True)
class ProtectionStatus:
    """What keeps sensitive content out of screenshots now (:meth:`SecureWindow.status`).

    Attributes:
        active: at least one marked widget counts (is in the window and sensitive).
        holders: how many count (marked widgets, plus :meth:`SecureWindow.acquire` holders).
        platform: ``android``, ``ios``, ``linux``, ``macosx``, ``win`` or ``unknown``.
        mechanisms: what is in force while active, in this order: ``"flag_secure"``
            (Android: the OS blocks screenshots, recordings and the recents thumbnail) and
            ``"cover_on_pause"`` (the cover is drawn when the app pauses); ``()`` when not
            active.
        covered: the cover is drawn now (the app is paused).
        reason: one line on what is *not* protected and why (with the fix where the app can
            make one), ``""`` when nothing is missing.
        error: the class of the last failure (``"java.lang.SecurityException"``,
            ``"ImportError"``...), ``""`` when the last attempt worked.
    """

    active: bool
    holders: int
    platform: str
    mechanisms: tuple[str, ...]
    covered: bool
    reason: str
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The fields as JSON-ready values (``mechanisms`` a list)."""
        return {"active": self.active, "holders": self.holders, "platform": self.platform,
                "mechanisms": list(self.mechanisms), "covered": self.covered,
                "reason": self.reason, "error": self.error}


class _Unavailable(Exception):
    """FLAG_SECURE cannot be set: ``str(exc)`` says why and how to fix it."""

    def __init__(self, message: str, error: str) -> None:
        super().__init__(message)
        self.error = error


def _error_name(exc: BaseException) -> str:
    """A Java exception's class (pyjnius' ``classname``), else the Python type's name; never
    the message, which can hold a path or a value."""
    return java_class(exc) if is_java_error(exc) else type(exc).__name__


class _FlagSecure:
    """FLAG_SECURE on the activity's window, following the wanted state on the UI thread.

    :meth:`want` (Kivy's thread) records the state and posts :meth:`_apply`, which runs on the
    Android UI thread and changes the flag only when the window's state differs from the
    wanted one: posts that arrive out of order or after a quick on/off do nothing twice.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wanted = False
        self._applied = False     # the window has the flag (set by us, or by the app before)
        self._app_owned = False   # the app had set it itself: never cleared by us
        self._reason = ""
        self._error = ""
        self._activity: Any = None
        self._post: Callable[[], None] | None = None

    # -- Kivy's thread ----------------------------------------------------------------------
    def want(self, on: bool) -> None:
        with self._lock:
            self._wanted = on
        try:
            post = self._load()
            post()
        except _Unavailable as exc:
            self._failed(str(exc), exc.error)
        except Exception as exc:  # noqa: BLE001 - pyjnius / runOnUiThread: never into the app
            name = _error_name(exc)
            self._failed(f"the Android UI thread could not be asked to change FLAG_SECURE "
                         f"({name}); check that the app runs in python-for-android's activity",
                         name)

    def state(self) -> tuple[bool, str, str]:
        """``(applied, reason, error)``."""
        with self._lock:
            return self._applied, self._reason, self._error

    def _load(self) -> Callable[[], None]:
        if self._post is not None:
            return self._post
        try:
            from jnius import autoclass
        except ImportError:
            raise _Unavailable("pyjnius is not in the app: add 'pyjnius' to the buildozer "
                               "requirements so that FLAG_SECURE can be set",
                               "ImportError") from None
        try:
            from android.runnable import run_on_ui_thread
        except ImportError:
            raise _Unavailable("python-for-android's 'android' module is not in the app: add "
                               "'android' to the buildozer requirements so that FLAG_SECURE "
                               "can be set", "ImportError") from None
        from ..._android import current_activity

        activity = current_activity(autoclass)
        if activity is None:
            raise _Unavailable("the app's activity is not running (a service has no window "
                               "to keep out of screenshots)", "NoActivity")
        self._activity = activity
        self._post = run_on_ui_thread(self._apply)
        return self._post

    def _failed(self, reason: str, error: str) -> None:
        with self._lock:
            same = (reason, error) == (self._reason, self._error)
            self._reason, self._error = reason, error
        if not same:  # once per distinct failure, not on every screen change
            log.warning("screen protection: %s; the cover is still drawn when the app pauses",
                        reason)

    # -- the Android UI thread ----------------------------------------------------------------
    def _apply(self) -> None:
        with self._lock:
            wanted, applied, app_owned = self._wanted, self._applied, self._app_owned
        if wanted == applied:
            return
        verb = "set" if wanted else "cleared"
        try:
            window = self._activity.getWindow()
            if wanted:
                app_owned = self._has_flag(window)
                if not app_owned:
                    window.setFlags(FLAG_SECURE, FLAG_SECURE)
            elif not app_owned:
                window.clearFlags(FLAG_SECURE)
        except Exception as exc:  # noqa: BLE001 - a Java error must not end the UI thread
            name = _error_name(exc)
            self._failed(f"FLAG_SECURE could not be {verb} on the activity's window ({name})"
                         + ("; screenshots and the recents thumbnail are not blocked by the OS"
                            if wanted else "; screenshots stay blocked until the activity is recreated"),
                         name)
            return
        with self._lock:
            self._applied, self._reason, self._error = wanted, "", ""
            if wanted:
                self._app_owned = app_owned
        if app_owned:
            log.info("screen protection: FLAG_SECURE was set by the app itself: left as it is")
        else:
            log.info("screen protection: FLAG_SECURE %s", verb)

    @staticmethod
    def _has_flag(window: Any) -> bool:
        """The window already has FLAG_SECURE (the app set it); False when unreadable."""
        try:
            return bool(int(window.getAttributes().flags) & FLAG_SECURE)
        except Exception:  # noqa: BLE001 - only a hint: we then own the flag
            return False


class _Cover(Label):
    """The opaque cover: the app's title on a plain background, over the whole window; it
    takes every touch while shown."""

    def __init__(self, title: str, background: tuple[float, ...],
                 text_color: tuple[float, ...]) -> None:
        super().__init__(text=title, color=text_color, font_size="20sp", halign="center",
                         valign="middle")
        from kivy.graphics import Color, Rectangle

        with self.canvas.before:
            Color(*background)
            self._background = Rectangle(pos=self.pos, size=self.size)
        self.bind(pos=self._layout, size=self._layout)

    def _layout(self, *_args: Any) -> None:
        self._background.pos, self._background.size = self.pos, self.size
        self.text_size = (self.width * 0.8, None)

    def on_touch_down(self, touch: Any) -> bool:
        return True

    def on_touch_move(self, touch: Any) -> bool:
        return True

    def on_touch_up(self, touch: Any) -> bool:
        return True


class SecureWindow:
    """The reference-counted screen protection of the app's window (one per process:
    :meth:`get`).

    Widgets marked with :func:`secure_content` or :class:`SensitiveContent` acquire and release
    it themselves. An app can hold it for content that is not a widget with :meth:`acquire` /
    :meth:`release` (any hashable key; the same key counts once).

    Attributes:
        cover_color: RGBA of the cover's background (default light grey, opaque).
        cover_text_color: RGBA of the app's title on it.
        cover_text: the text on the cover; ``None`` (default) is the running app's ``title``.
    """

    _instance: SecureWindow | None = None

    def __init__(self) -> None:
        self.cover_color: tuple[float, ...] = (0.96, 0.96, 0.96, 1.0)
        self.cover_text_color: tuple[float, ...] = (0.3, 0.3, 0.3, 1.0)
        self.cover_text: str | None = None
        self._holders: set[Hashable] = set()
        self._app: weakref.ReferenceType[Any] | None = None
        self._cover: _Cover | None = None
        self._cover_error = ""
        self._where: str | None = None
        self._flag: _FlagSecure | None = None

    @classmethod
    def get(cls) -> SecureWindow:
        """The app's one :class:`SecureWindow`."""
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    # -- counting ---------------------------------------------------------------------------
    def acquire(self, holder: Hashable) -> None:
        """Count *holder* (once, however often it is acquired); the first one turns protection
        on."""
        if holder in self._holders:
            return
        self._holders.add(holder)
        if len(self._holders) == 1:
            self._turn(True)

    def release(self, holder: Hashable) -> None:
        """Stop counting *holder* (nothing if it was not counted); the last one turns
        protection off. A cover already drawn stays until the app resumes."""
        if holder not in self._holders:
            return
        self._holders.discard(holder)
        if not self._holders:
            self._turn(False)

    @property
    def active(self) -> bool:
        """At least one holder counts."""
        return bool(self._holders)

    @property
    def covered(self) -> bool:
        """The cover is drawn now."""
        return self._cover is not None

    def _platform(self) -> str:
        if self._where is None:
            self._where = _platform.platform()
            if self._where == "android":
                self._flag = _FlagSecure()
        return self._where

    def _turn(self, on: bool) -> None:
        if on:
            self._bind_app()
        self._platform()
        if self._flag is not None:
            self._flag.want(on)

    def _bind_app(self) -> None:
        from kivy.app import App

        app = App.get_running_app()
        if app is None or (self._app is not None and self._app() is app):
            return
        _PauseHook.install(app, self)
        self._app = weakref.ref(app)

    # -- the cover ----------------------------------------------------------------------------
    def _on_pause(self, *_args: Any) -> None:
        if self._holders:
            self.cover()

    def _on_resume(self, *_args: Any) -> None:
        self.uncover()

    def cover(self) -> None:
        """Draw the cover over the whole window and present it now (done on ``on_pause``
        while a holder counts). Logs and reports a failure; never raises."""
        if self._cover is not None:
            return
        try:
            window = _window()
            cover = _Cover(self._cover_title(), self.cover_color, self.cover_text_color)
            window.add_widget(cover)
            self._cover = cover
            cover.texture_update()
            # No frame is drawn while the app is paused: draw and present one here, before
            # the OS takes its snapshot (Kivy's own event filter draws there too, on resize),
            # with the canvas rules Kivy applies before a frame (the title's rectangle).
            from kivy.lang import Builder

            Builder.sync()
            window.dispatch("on_draw")
            window.dispatch("on_flip")
            self._cover_error = ""
        except Exception as exc:  # noqa: BLE001 - the app's pause must go on
            self._cover_error = type(exc).__name__
            log.warning("screen protection: the cover could not be drawn (%s)",
                        self._cover_error)

    def uncover(self) -> None:
        """Remove the cover (done on ``on_resume``)."""
        cover, self._cover = self._cover, None
        if cover is None:
            return
        try:
            window = cover.get_root_window()
            if window is not None:
                window.remove_widget(cover)
                window.canvas.ask_update()
        except Exception as exc:  # noqa: BLE001 - never into the app
            log.warning("screen protection: the cover could not be removed (%s)",
                        type(exc).__name__)

    def _cover_title(self) -> str:
        if self.cover_text is not None:
            return self.cover_text
        from kivy.app import App

        app = App.get_running_app()
        return str(getattr(app, "title", "") or "") if app is not None else ""

    # -- status -------------------------------------------------------------------------------
    def status(self) -> ProtectionStatus:
        """What is in force now (see :class:`ProtectionStatus`)."""
        where = self._platform()
        active = bool(self._holders)
        mechanisms: list[str] = []
        reasons: list[str] = []
        error = ""
        if self._flag is not None:
            applied, flag_reason, error = self._flag.state()
            if active and applied:
                mechanisms.append(FLAG)
            elif active:
                reasons.append(flag_reason or _REASONS["pending"])
        elif where == "ios":
            reasons.append(_REASONS["ios"])
        else:
            reasons.append(_REASONS["desktop"])
        if self._cover_error:
            reasons.append(f"the cover could not be drawn ({self._cover_error})")
            error = error or self._cover_error
        elif active:
            mechanisms.append(COVER)
        if not active:
            reasons = [_REASONS["inactive"]]
        return ProtectionStatus(active=active, holders=len(self._holders), platform=where,
                                mechanisms=tuple(mechanisms) if active else (),
                                covered=self._cover is not None, reason="; ".join(reasons),
                                error=error)


class _PauseHook:
    """The running app's ``dispatch``, wrapped: ``on_pause`` draws the cover and
    ``on_resume`` removes it *before* Kivy calls any handler of the app.

    Kivy 2.3 has no event of its own before ``App.on_pause``: SDL2's event filter
    (``app_willenterbackground``), ``WindowSDL.do_pause`` (a desktop window minimised with
    ``pause_on_minimize``) and ``kivy.support`` (the old Android loop) all call
    ``app.dispatch('on_pause')``. ``EventDispatcher.dispatch`` calls the bound handlers newest
    first and stops at the first that returns True, before the app's method, so a handler bound
    with ``app.bind(on_pause=...)`` after the SDK's would stop the cover. Wrapping ``dispatch``
    on the app instance (an instance attribute: Kivy looks the method up on the app each time)
    runs the cover first whatever the app binds, then the original ``dispatch`` unchanged: its
    answer (True: pause, False: stop) is the app's.
    """

    def __init__(self, original: Callable[..., Any]) -> None:
        self.original = original
        self.windows: weakref.WeakSet[SecureWindow] = weakref.WeakSet()

    @classmethod
    def install(cls, app: Any, window: SecureWindow) -> None:
        """Hook *app* (once per app) and run *window*'s cover in it."""
        hook = getattr(app, "__dict__", {}).get("dispatch")
        if not isinstance(hook, cls):
            hook = cls(app.dispatch)
            try:
                app.dispatch = hook
            except Exception as exc:  # noqa: BLE001 - e.g. an app class with __slots__
                log.warning("screen protection: the app's dispatch cannot be wrapped (%s); "
                            "the cover is bound as an on_pause handler, which a handler the "
                            "app binds later and that returns True stops", type(exc).__name__)
                app.fbind("on_pause", window._on_pause)
                app.fbind("on_resume", window._on_resume)
                return
        hook.windows.add(window)

    def __call__(self, event_type: str, *largs: Any, **kwargs: Any) -> Any:
        if event_type in ("on_pause", "on_resume"):
            for window in list(self.windows):
                try:
                    if event_type == "on_pause":
                        window._on_pause()
                    else:
                        window._on_resume()
                except Exception as exc:  # noqa: BLE001 - the app's pause / resume goes on
                    log.warning("screen protection: %s in the %s hook", type(exc).__name__,
                                event_type)
        return self.original(event_type, *largs, **kwargs)


def _window() -> Any:
    from kivy.base import EventLoop

    window = EventLoop.window
    if window is None:
        raise RuntimeError("no Kivy window")
    return window


class SecureContent:
    """One widget marked as showing sensitive personal information: the handle
    :func:`secure_content` returns (and :attr:`SensitiveContent.secure_handle`).

    The widget *counts* in its :class:`SecureWindow` (it holds one reference of the window's
    count, :meth:`SecureWindow.acquire`) while it is in the window (it and every ancestor are
    attached up to Kivy's ``Window``) and :attr:`sensitive` is True; while at least one widget
    counts the window is protected (the module's description). The handle follows the
    widget's ``parent`` and every ancestor's, so a card inside a screen counts exactly while a
    ScreenManager shows that screen.

    Make it with :func:`secure_content` (one handle per widget; constructing a second one for
    the same widget would count it twice). It keeps only a weak reference to the widget and
    lives as long as the widget does (its ``parent`` bindings hold it); a widget in the window
    cannot be garbage collected, so it always stops counting before it goes. Use it from
    Kivy's thread. Nothing here raises into the app; the widget's text is never read or
    logged.

    Args:
        widget: the Kivy widget to protect, in the window or not yet.
        window: the :class:`SecureWindow` to count in.

    Attributes:
        counted: (read-only) the widget counts now.
        sensitive: (read-write, default True) whether the widget shows sensitive data now.
    """

    def __init__(self, widget: Widget, window: SecureWindow) -> None:
        self._widget = weakref.ref(widget)
        self._window = window
        self._bindings: list[tuple[weakref.ReferenceType[Widget], int]] = []
        self._sensitive = True
        self._closed = False
        self._counted = False
        self._update()

    @property
    def counted(self) -> bool:
        """True while the widget counts: it is in the window, :attr:`sensitive` is True and
        :meth:`close` was not called (so its :class:`SecureWindow` is active)."""
        return self._counted

    @property
    def sensitive(self) -> bool:
        """Whether the widget shows sensitive data now (default True). Set it to False while
        it does not (e.g. a form before anything is typed): the widget stops counting at once
        and the window's protection ends when nothing else counts; True counts it again
        while it is shown. Any value is taken as a bool."""
        return self._sensitive

    @sensitive.setter
    def sensitive(self, value: bool) -> None:
        self._sensitive = bool(value)
        self._update()

    def close(self) -> None:
        """Stop protecting the widget for good: it no longer counts, even while shown, and
        its ``parent`` bindings are removed. Setting :attr:`sensitive` afterwards counts
        nothing, and :func:`secure_content` returns this closed handle for the same widget:
        protect a new widget instead. Calling it twice does nothing more."""
        self._closed = True
        self._update()

    def _on_parent(self, *_args: Any) -> None:
        self._update()

    def _unbind(self) -> None:
        for ref, uid in self._bindings:
            node = ref()
            if node is not None:
                node.unbind_uid("parent", uid)
        self._bindings.clear()

    def _update(self) -> None:
        self._unbind()
        widget = self._widget()
        shown = False
        if widget is not None and not self._closed:
            node: Any = widget
            while isinstance(node, Widget):  # up to the Window (not a Widget) or a loose root
                self._bindings.append((weakref.ref(node), node.fbind("parent", self._on_parent)))
                node = node.parent
            shown = widget.get_root_window() is not None
        counted = shown and self._sensitive
        if counted == self._counted:
            return
        self._counted = counted
        if counted:
            self._window.acquire(self)
        else:
            self._window.release(self)


_handles: weakref.WeakKeyDictionary[Widget, SecureContent] = weakref.WeakKeyDictionary()


def secure_content(widget: Widget, window: SecureWindow | None = None) -> SecureContent:
    """Mark *widget* as showing sensitive personal information: while it is in the window,
    the window is kept out of screenshots (Android: FLAG_SECURE) and covered when the app
    pauses (see the module's description).

    Args:
        widget: any Kivy widget, shown or not yet.
        window: the :class:`SecureWindow` to count in (default :meth:`SecureWindow.get`);
            ignored when *widget* already has a handle.

    Returns:
        its :class:`SecureContent` (the same one when called again for the same widget):
        ``counted`` is True at once when the widget is already in the window.

    Raises:
        nothing: a failure to set FLAG_SECURE is logged and shown by
        :meth:`SecureWindow.status`.
    """
    handle = _handles.get(widget)
    if handle is None:
        handle = SecureContent(widget, window or SecureWindow.get())
        _handles[widget] = handle
    return handle


class SensitiveContent:
    """Mixin for a widget class that shows sensitive personal information, e.g.
    ``class IdScreen(SensitiveContent, Screen)``: :func:`secure_content` for every instance.

    Properties:
        sensitive: whether it shows sensitive data now (default True); set it to False while
            it does not (e.g. a screen before its data arrives) to let protection go.

    Attributes:
        secure_handle: its :class:`SecureContent`.
    """

    sensitive = BooleanProperty(True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.secure_handle = secure_content(self)  # type: ignore[arg-type]
        self.secure_handle.sensitive = self.sensitive
        self.fbind("sensitive", self._sensitive_changed)  # type: ignore[attr-defined]

    def _sensitive_changed(self, _instance: Any, value: bool) -> None:
        self.secure_handle.sensitive = value
