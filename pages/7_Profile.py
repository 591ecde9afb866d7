"""Profile: your name and password."""

import streamlit as st

from viba import auth, keyvault, ui

account = ui.guard("Profile", icon=":material/person:")
settings, db = ui.boot()

st.title("Profile")
st.caption(f"{account.email}" + (" · admin" if account.is_admin else "")
           + (" · email verified" if account.is_verified else ""))

with st.form("profile_name"):
    st.subheader("Name")
    name = st.text_input("Full name", value=account.full_name)
    if st.form_submit_button("Save name"):
        try:
            auth.update_profile(db, account.id, name)
            ui.flash("Name saved.")
            st.rerun()
        except auth.AuthError as exc:
            st.error(str(exc))

with st.form("profile_password", clear_on_submit=True):
    st.subheader("Change password")
    current = st.text_input("Current password", type="password")
    new = st.text_input("New password", type="password", help=auth.PASSWORD_POLICY)
    repeat = st.text_input("Repeat new password", type="password")
    st.caption(f"Password: {auth.PASSWORD_POLICY}")
    if st.form_submit_button("Change password"):
        if new != repeat:
            st.error("The two new passwords are not the same.")
        else:
            try:
                auth.change_password(db, account.id, current, new)
                st.success("Password changed. Other browsers logged in with the old one are "
                           "logged out.")
            except auth.AuthError as exc:
                st.error(str(exc))

st.subheader("Gemini API key")
box = ui.session()
own = ui.user_gemini_key(settings)
if box.key_unreadable:
    st.warning("Your remembered key can no longer be read (the server's secret changed). "
               "Enter it again.")
if own:
    st.write(f"Generations use **your key** {keyvault.mask(own)} "
             + ("(remembered on your account, stored encrypted)." if box.key_remembered
                else "(for this session only)."))
elif settings.gemini_api_key:
    st.write("Generations use the **server's key**. You can use your own instead.")
else:
    st.write("No key yet: the server has none, so add yours to generate. Get one at "
             "[aistudio.google.com/apikey](https://aistudio.google.com/apikey).")


def forget_key() -> None:
    box = ui.session()
    if box.key_remembered or box.key_unreadable:
        keyvault.forget(db, account.id)
    box.forget_key()
    box.key_loaded = True  # nothing remembered any more
    box.flash = "Your key is forgotten."


with st.form("profile_api_key", clear_on_submit=True):
    new_key = st.text_input("Your Gemini API key", type="password",
                            help="Used instead of the server's key for your generations.")
    remember = st.checkbox("Remember it on my account (stored encrypted)")
    if st.form_submit_button("Use this key"):
        try:
            cleaned = keyvault.clean_key(new_key)
            if remember:
                keyvault.remember(db, settings.resolved_cookie_key(), account.id, cleaned)
            else:
                keyvault.forget(db, account.id)
            box.gemini_key, box.key_remembered, box.key_unreadable = cleaned, remember, False
            box.key_loaded = True
            ui.flash(f"Key {keyvault.mask(cleaned)} saved"
                     + (" on your account." if remember else " for this session."))
            st.rerun()
        except keyvault.ApiKeyError as exc:
            st.error(str(exc))
if own or box.key_unreadable:
    st.button("Forget my key", on_click=forget_key, icon=":material/key_off:")
