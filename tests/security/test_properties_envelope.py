"""Property-based tests of the HPKE envelope (MASVS-CRYPTO-1; OBL-RN-1, OBL-SEC-2).

For arbitrary plaintext bytes and arbitrary info values (field name, submission, purpose,
consent record id; chunk place and size), :mod:`sdk.transport.envelope` round-trips exactly,
with both suites; flipping any bits of any single byte of a sealed unit, opening it with
another key of the same kid, or with any info that differs in one value, fails with
``open_failed`` and nothing else; info text
that cannot be canonical JSON (a lone surrogate) is refused as ``bad_info`` before sealing.
"""

from __future__ import annotations

from hypothesis import assume, given
from hypothesis import strategies as st

from sdk.errors import EnvelopeError
from sdk.transport import envelope as e

from .conftest import BOUNDED

KEYS = {suite.name: e.EnvelopePrivateKey.generate("k-prop", suite)
        for suite in (e.SUITE_MLKEM768_X25519, e.SUITE_X25519)}
#: Other keys under the same kid and suite: what a wrong key looks like to the opener.
OTHER_KEYS = {name: e.EnvelopePrivateKey.generate("k-prop", key.suite) for name, key in KEYS.items()}
SUITES = st.sampled_from(sorted(KEYS))
INFO_TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40)
FIELD_INFO = st.fixed_dictionaries({"field": INFO_TEXT, "submission": INFO_TEXT,
                                    "purpose": INFO_TEXT, "consent_id": INFO_TEXT})


def _lookup(private: e.EnvelopePrivateKey):
    return {private.kid: private}.get


@BOUNDED
@given(suite=SUITES, plain=st.binary(max_size=2048), info=FIELD_INFO)
def test_a_field_round_trips_for_any_bytes_and_info(suite: str, plain: bytes, info: dict) -> None:  # MASVS-CRYPTO-1, OBL-RN-1
    private = KEYS[suite]
    sealed = e.seal_field(private.public_key(), plain, **info)
    assert len(sealed) == e.sealed_size(len(plain), private.suite)
    assert e.open_field(_lookup(private), sealed, kid=private.kid, **info) == plain


@BOUNDED
@given(suite=SUITES, text=st.text(max_size=200), info=FIELD_INFO)
def test_a_text_field_round_trips_as_its_utf8_bytes(suite: str, text: str, info: dict) -> None:  # MASVS-CRYPTO-1, OBL-RN-1
    private = KEYS[suite]
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        assume(False)
    sealed = e.seal_field(private.public_key(), text, **info)
    assert e.open_field(_lookup(private), sealed, kid=private.kid, **info) == data


@BOUNDED
@given(suite=SUITES, chunk_size=st.integers(1, 512), data=st.data(),
       upload=INFO_TEXT, index=st.integers(0, 2**53 - 1), purpose=INFO_TEXT, consent=INFO_TEXT)
def test_a_chunk_round_trips_at_any_place(suite: str, chunk_size: int, data: st.DataObject,
                                          upload: str, index: int, purpose: str, consent: str) -> None:  # MASVS-CRYPTO-1, OBL-RN-1
    private = KEYS[suite]
    final = data.draw(st.booleans())
    size = data.draw(st.integers(0, chunk_size)) if final else chunk_size
    plain = data.draw(st.binary(min_size=size, max_size=size))
    where = {"upload_id": upload, "index": index, "final": final, "purpose": purpose,
             "consent_id": consent, "chunk_size": chunk_size}
    sealed = e.seal_chunk(private.public_key(), plain, **where)
    assert e.open_chunk(_lookup(private), sealed, kid=private.kid, **where) == plain


@BOUNDED
@given(suite=SUITES, plain=st.binary(max_size=256), info=FIELD_INFO, data=st.data())
def test_any_single_byte_changed_fails_to_open(suite: str, plain: bytes, info: dict,
                                               data: st.DataObject) -> None:  # MASVS-CRYPTO-1, OBL-SEC-2
    private = KEYS[suite]
    sealed = bytearray(e.seal_field(private.public_key(), plain, **info))
    position = data.draw(st.integers(0, len(sealed) - 1), label="position")
    sealed[position] ^= data.draw(st.integers(1, 255), label="xor")
    try:
        e.open_field(_lookup(private), bytes(sealed), kid=private.kid, **info)
    except EnvelopeError as error:
        assert error.code == "open_failed"
    else:
        raise AssertionError(f"a changed byte at {position} opened")


@BOUNDED
@given(suite=SUITES, plain=st.binary(max_size=256), info=FIELD_INFO)
def test_a_field_never_opens_with_another_key_of_the_same_kid(suite: str, plain: bytes, info: dict) -> None:  # MASVS-CRYPTO-2, OBL-SEC-2
    sealed = e.seal_field(KEYS[suite].public_key(), plain, **info)
    other = OTHER_KEYS[suite]
    try:
        e.open_field(_lookup(other), sealed, kid=other.kid, **info)
    except EnvelopeError as error:
        assert error.code == "open_failed"
    else:
        raise AssertionError("opened with another key")


@BOUNDED
@given(suite=SUITES, plain=st.binary(max_size=64), info=FIELD_INFO,
       which=st.sampled_from(["field", "submission", "purpose", "consent_id"]), other=INFO_TEXT)
def test_any_other_info_fails_to_open(suite: str, plain: bytes, info: dict, which: str,
                                      other: str) -> None:  # MASVS-CRYPTO-1, OBL-SEC-2
    assume(other != info[which])
    private = KEYS[suite]
    sealed = e.seal_field(private.public_key(), plain, **info)
    try:
        e.open_field(_lookup(private), sealed, kid=private.kid, **{**info, which: other})
    except EnvelopeError as error:
        assert error.code == "open_failed"
    else:
        raise AssertionError(f"opened with another {which}")


@BOUNDED
@given(suite=SUITES, good=INFO_TEXT, surrogate=st.characters(categories=("Cs",)),
       which=st.sampled_from(["field", "submission", "purpose", "consent_id"]))
def test_info_text_with_a_lone_surrogate_is_refused_before_sealing(
        suite: str, good: str, surrogate: str, which: str) -> None:  # MASVS-CRYPTO-1
    info = {"field": "f", "submission": "s", "purpose": "p", "consent_id": "c",
            which: good + surrogate}
    try:
        e.seal_field(KEYS[suite].public_key(), b"x", **info)
    except EnvelopeError as error:
        assert error.code == "bad_info"
    else:
        raise AssertionError("sealed with info that has no canonical form")
