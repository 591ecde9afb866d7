"""What the studio does, without Streamlit: the feature registry (features), generations and
their outputs, history, refine, prefill, prompt versions, budgets, output sizes, settings inside
downloads (metadata), preferences, the admin reads and changes (admin_users, admin_reports) and
the database's size (space). Imports the layers below: accounts, engine, store, i18n, core."""
