"""One screen = one ``.py`` + one ``.kv``. Screens talk to the SDK through ``App.get_running_app()``
and never reach into each other's ids."""

from .account import AccountScreen
from .capture import CaptureScreen
from .certificate import CertificateScreen
from .contract import ContractScreen
from .home import HomeScreen
from .permissions import PermissionsScreen
from .policy import PolicyScreen
from .privacy import PrivacyScreen
from .prompt import PromptScreen
from .realname import RealnameScreen
from .rights import RightsScreen
from .storage import StorageScreen
from .support import SupportScreen
from .template import TemplateScreen
from .templates import TemplatesScreen

SCREENS = {
    "prompt": PromptScreen,
    "home": HomeScreen,
    "templates": TemplatesScreen,
    "template": TemplateScreen,
    "policy": PolicyScreen,
    "account": AccountScreen,
    "storage": StorageScreen,
    "privacy": PrivacyScreen,
    "permissions": PermissionsScreen,
    "capture": CaptureScreen,
    "realname": RealnameScreen,
    "certificate": CertificateScreen,
    "contract": ContractScreen,
    "rights": RightsScreen,
    "support": SupportScreen,
}

__all__ = ["SCREENS"]
