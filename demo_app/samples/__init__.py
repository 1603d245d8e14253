"""Sample files for the demo's file picker ("人工审核材料", the ``manual_review`` feature).

A real app lets the user choose a photo with the system picker (Android's photo picker,
iOS's PHPicker, a desktop file dialog); the demo has no photos of its own to offer, so its
picker lists the images in this folder. :data:`SAMPLE_DOCUMENT` is a made-up review document:
a plain PNG drawn by Kivy, with no personal information in it. Draw it again with
``python -m demo_app.samples`` (needs a display; under Xvfb: ``xvfb-run``).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["SAMPLES", "SAMPLE_DOCUMENT"]

HERE = Path(__file__).resolve().parent

#: The made-up review document (PNG, 640 x 400).
SAMPLE_DOCUMENT = HERE / "review-document-sample.png"

#: What the demo's picker offers: (file, what it shows).
SAMPLES: tuple[tuple[Path, str], ...] = (
    (SAMPLE_DOCUMENT, "人工审核材料样例（演示图片，不含个人信息）"),
)
