"""History: your generations, newest first; `?id=` opens one."""

import uuid

import streamlit as st

from viba import history, studio, ui
from viba.i18n import t

account = ui.guard("History", icon=":material/history:")
settings, db = ui.boot()
run = studio.runner(settings)

st.title(t("History"))
wanted = st.query_params.get("id")
if wanted:
    try:
        view = history.get_generation(db, account.id, uuid.UUID(wanted))
    except (ValueError, history.NotFound):
        st.error("That generation does not exist, or it is not yours.")
    else:
        st.page_link("pages/5_History.py", label="All generations", icon=":material/arrow_back:")
        studio.job_card(view, run.store, settings, db, account, large=True)
        st.json({"models": view.input_params.get("models"),
                 "options": view.input_params.get("options"),
                 "prompt_versions": view.input_params.get("prompt_versions"),
                 "tokens": view.details.get("total_tokens"),
                 "seconds": view.details.get("seconds")}, expanded=False)
        st.stop()

for view in run.recent(account.id, limit=20):
    studio.job_card(view, run.store, settings, db, account)
