"""``python -m demo_app``: the SDK's demo e-signature app. See ``python -m demo_app --help``."""

from .main import main

raise SystemExit(main())
