"""Ready-made Kivy widgets. Importing this package imports Kivy: only apps that use Kivy do.

- :class:`PrivacyPrompt`: the first-launch privacy prompt.
- :class:`PolicyView`: a scrollable policy with a working table of contents.
- :class:`SeparateConsentDialog` and :func:`ask_for_feature`: separate consent, one dialog per
  scope, asked when a feature needs it.
- :class:`PolicyUpdateDialog` and :func:`show_policy_update`: what changed in a new policy
  version; major changes are agreed to again, minor ones are a notice.
- :class:`PrivacyCentre`: a switch per purpose, the separate consents, what was collected and
  shared, and the controller's contact.
- :class:`RationaleDialog` and :func:`show_rationale`: why a feature needs an OS permission,
  before the system prompt (the ``rationale=`` of ``privacy.permissions.request``);
  :mod:`sdk.ui.kivy.permissions` has ``kivy_dispatcher`` and the Chinese status texts.
- :class:`NoticeDialog` and :func:`show_notices`: a breach notice with its five parts, or the
  service-ending notice, and 我已知悉 (``privacy.notices.acknowledge``).
- :func:`install_cjk_font`: make a Chinese-capable font Kivy's default.
- :func:`secure_content` (-> :class:`SecureContent`), :class:`SensitiveContent` and
  :class:`SecureWindow` (-> :class:`ProtectionStatus`): keep screens that show a real name or
  an ID number out of screenshots and the app-switcher thumbnail (``FLAG_SECURE`` on Android,
  a cover while paused everywhere; on a desktop only with Kivy's ``pause_on_minimize``;
  MASVS-PLATFORM-3).
"""

from .fonts import find_cjk_font, install_cjk_font
from .notice import NoticeDialog, show_notices
from .policy_update import PolicyUpdateDialog, show_policy_update
from .policy_view import PolicyView
from .privacy_centre import PrivacyCentre
from .privacy_prompt import PrivacyPrompt
from .rationale import RationaleDialog, rationale_dialog, show_rationale
from .secure import (
    ProtectionStatus,
    SecureContent,
    SecureWindow,
    SensitiveContent,
    secure_content,
)
from .separate_consent import SeparateConsentDialog, ask_for_feature

__all__ = [
    "NoticeDialog",
    "PolicyUpdateDialog",
    "PolicyView",
    "PrivacyCentre",
    "PrivacyPrompt",
    "ProtectionStatus",
    "RationaleDialog",
    "SecureContent",
    "SecureWindow",
    "SensitiveContent",
    "SeparateConsentDialog",
    "ask_for_feature",
    "find_cjk_font",
    "install_cjk_font",
    "rationale_dialog",
    "secure_content",
    "show_notices",
    "show_policy_update",
    "show_rationale",
]
