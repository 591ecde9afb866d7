"""Profile: your name and password."""

import streamlit as st

from viba import auth, ui

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
