"""Camera backends (see :mod:`sdk.capture.backend`). Each module imports its platform or
optional library only inside the methods that capture."""
