"""History: your generations, newest first, with filters; `?id=` opens one."""

import uuid

import streamlit as st

from viba import history_view, studio, ui
from viba.db import DatabaseUnavailable
from viba.i18n import t

account = ui.guard("History", icon=":material/history:")
settings, db = ui.boot()
store = studio.runner(settings).store

st.title(t("History"))
wanted = st.query_params.get("id")
try:
    if wanted:
        if st.button(t("all_generations"), icon=":material/arrow_back:", key="history_back"):
            history_view.open_item("id", None)
        try:
            generation_id = uuid.UUID(wanted)
        except ValueError:
            ui.fail(t("not_yours"))
        history_view.live_detail(db, store, settings, account, generation_id)
        st.stop()
    filters = history_view.filter_bar()
    if filters is not None:
        history_view.history_grid(db, store, account, filters)
except DatabaseUnavailable as exc:  # the database went away in the middle of this page
    ui.fail(str(exc))
