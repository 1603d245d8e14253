"""A bare host app for the SDK's widgets: Kivy's default black window, nothing drawn by the
host, so what is readable is what the widgets draw themselves.

``python -m tests.ui.bare_host --data-dir DIR --out DIR`` agrees to the demo policy (no
server), shows :class:`sdk.ui.kivy.PrivacyCentre` as the window's only widget and saves:

- ``centre.png``: the privacy centre;
- ``confirm.png``: its withdrawal confirmation (customer service);
- ``separate.png``: the separate-consent dialog of marketing;
- ``rationale.png``: the camera rationale dialog of face-scan signing
  (:class:`sdk.ui.kivy.RationaleDialog`, opened with :func:`sdk.ui.kivy.show_rationale`);

and ``report.json``: for each, the share of pure black pixels (the host's background showing
through). Exit 0 when the screenshots were taken.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .kivy_host import host_arguments, run_steps, save_screenshot

#: A pixel darker than this in every channel is the black window showing through (the SDK's
#: darkest text colour is 0.12 ≈ 31).
BLACK = 12


def black_share(path: Path) -> float:
    """The share of pixels of the PNG at *path* that are black."""
    from kivy.core.image import Image as CoreImage

    image = CoreImage(str(path), keep_data=True)
    data = image.image._data[0]
    step = 4 if data.fmt in ("rgba", "bgra", "argb", "abgr") else 3
    raw = memoryview(data.data)
    total = len(raw) // step
    black = 0
    for i in range(0, len(raw) - step + 1, step):
        if raw[i] < BLACK and raw[i + 1] < BLACK and raw[i + 2] < BLACK:
            black += 1
    return black / total if total else 1.0


def main(argv: list[str] | None = None) -> int:
    args = host_arguments("python -m tests.ui.bare_host", argv)

    from demo_app.policy import MANIFEST_PATH, POLICY_PATH
    from sdk import PrivacySdk, SdkConfig
    from sdk.policy import load_policy
    from sdk.ui.kivy import PrivacyCentre, install_cjk_font, show_rationale

    install_cjk_font()
    sdk = PrivacySdk.open(SdkConfig(data_dir=args.data_dir / "sdk"),
                          load_policy(POLICY_PATH, MANIFEST_PATH))
    if sdk.needs_prompt():
        sdk.agree(sync=False)

    from kivy.app import App
    from kivy.core.window import Window

    report: dict[str, float] = {}

    def shot(name: str) -> bool:
        """Save the window; False while the picture is wholly black (nothing drawn yet)."""
        target = args.out / name
        save_screenshot(target)
        share = black_share(target)
        if share > 0.99:
            return False
        report[name] = round(share, 4)
        return True

    class Host(App):
        def build(self):
            Window.clearcolor = (0, 0, 0, 1)  # Kivy's default, stated
            self.centre = PrivacyCentre(privacy=sdk)
            return self.centre

        def on_start(self):
            steps = [
                lambda: shot("centre.png"),
                lambda: setattr(self.centre.ids.switch_customer_service, "active", False),
                lambda: shot("confirm.png"),
                lambda: self.centre.dialog.answer(False),
                lambda: setattr(self.centre.ids.switch_marketing, "active", True),
                lambda: shot("separate.png"),
                lambda: self.centre.dialog.disagree(),
                lambda: show_rationale(sdk.permissions.rationale("camera", "face_signing"),
                                       lambda _go: None) and None,
                lambda: shot("rationale.png"),
            ]
            run_steps(self, steps, pass_over_stuck=True)

    try:
        Host().run()
    finally:
        sdk.close()
    (args.out / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0 if len(report) == 4 else 1


if __name__ == "__main__":
    sys.exit(main())
