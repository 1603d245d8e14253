"""User-interface toolkits for the SDK. Only :mod:`sdk.ui.kivy` exists so far; nothing here is
imported by ``import sdk``."""
