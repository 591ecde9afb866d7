"""Admin: user support now; table browsing comes next."""

import streamlit as st

from viba import auth, ui

account = ui.guard("Admin", icon=":material/admin_panel_settings:", admin=True)
settings, db = ui.boot()

st.title("Admin")
st.metric("Accounts", auth.count_users(db))

with st.form("admin_temporary_password", clear_on_submit=True):
    st.subheader("Set a temporary password")
    st.caption("For someone who forgot their password when email is not set up. It also "
               "unlocks the account. Tell them to change it on their Profile page.")
    email = st.text_input("Email of the account")
    password = st.text_input("Temporary password", type="password", help=auth.PASSWORD_POLICY)
    if st.form_submit_button("Set password"):
        try:
            auth.set_temporary_password(db, account, email, password)
            st.success(f"Temporary password set for {email.strip().lower()}.")
        except auth.AuthError as exc:
            st.error(str(exc))

st.info("Coming next: browsing the users and generation_history tables.",
        icon=":material/construction:")
