"""Keystore backends, one module each; a platform library is imported only inside the
backend that needs it, when it is used. Choose one with
:func:`sdk.storage.keystore.select_backend`; see :mod:`sdk.storage.keystore` for the table.
"""
