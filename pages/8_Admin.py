"""Admin: users, generations, usage and the audit log (admins only; `?gen=` opens any
generation)."""

import streamlit as st

from viba import admin, admin_view, studio, ui
from viba.db import DatabaseUnavailable

account = ui.guard("Admin", icon=":material/admin_panel_settings:", admin=True)
settings, db = ui.boot()

st.title("Admin")
wanted = st.query_params.get("gen")
try:
    if wanted:
        admin_view.open_generation(db, account, studio.runner(settings).store, settings, wanted)
        st.stop()
    section = st.radio("Section", admin_view.SECTIONS, horizontal=True, key="admin_section",
                       label_visibility="collapsed")
    {"Users": admin_view.users_section, "Generations": admin_view.generations_section,
     "Usage": admin_view.usage_section, "Audit log": admin_view.audit_section}[section](
        db, account)
except (DatabaseUnavailable, admin.NotAllowed) as exc:
    ui.fail(str(exc))
