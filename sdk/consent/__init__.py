"""Consent: the on-device ledger of the user's decisions and the records it keeps.

:class:`ConsentLedger` stores decisions in SQLite (``data_dir/consent.db``);
:class:`ConsentRecord` is one decision in the JSON form of docs/protocol.md.
"""

from __future__ import annotations

from .ledger import LEDGER_FILENAME, ConsentLedger
from .record import DECISIONS, ConsentRecord, Decision, Notice

__all__ = ["ConsentLedger", "ConsentRecord", "DECISIONS", "Decision", "LEDGER_FILENAME", "Notice"]
