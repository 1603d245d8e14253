"""Ready-made Kivy widgets. Importing this package imports Kivy: only apps that use Kivy do.

- :class:`PrivacyPrompt`: the first-launch privacy prompt.
- :class:`PolicyView`: a scrollable policy with a working table of contents.
- :func:`install_cjk_font`: make a Chinese-capable font Kivy's default.
"""

from .fonts import find_cjk_font, install_cjk_font
from .policy_view import PolicyView
from .privacy_prompt import PrivacyPrompt

__all__ = ["PrivacyPrompt", "PolicyView", "find_cjk_font", "install_cjk_font"]
