"""A remembered user API key: encrypted in the row, readable only with the server secret."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from viba.accounts import auth, keyvault
from viba.store.models import User

from helpers import PASSWORD

SECRET = "server-secret-" + "s" * 40
KEY = "AIzaSyTestKey-0123456789abcdef"


def test_remember_stores_only_ciphertext_and_loads_back(db, admin, email):
    user = auth.register(db, email, "Key Keeper", PASSWORD)
    keyvault.remember(db, SECRET, user.id, f"  {KEY}\n")
    with db.session() as s:
        stored = s.scalar(select(User.gemini_key_encrypted).where(User.id == user.id))
    assert stored and KEY not in stored
    assert keyvault.load(db, SECRET, user.id) == (KEY, False)
    # Another server secret cannot read it: the user is asked for the key again.
    assert keyvault.load(db, "another-secret-" + "x" * 40, user.id) == (None, True)
    keyvault.forget(db, user.id)
    assert keyvault.load(db, SECRET, user.id) == (None, False)


def test_mask_shows_only_the_last_four():
    assert keyvault.mask(KEY) == "…cdef"
    assert keyvault.mask(None) == ""


@pytest.mark.parametrize("bad", ["", "short", "two words but long enough to pass", "x" * 300])
def test_implausible_keys_are_refused(bad):
    with pytest.raises(keyvault.ApiKeyError):
        keyvault.clean_key(bad)
