"""Everything that imports Streamlit: the page guard, context and error boundary, the browser
session and language, the login cookie (the only streamlit_authenticator import), the sidebar,
thumbnails, job cards, the feature form and the page views. Pages call these; these call the
layers below (through viba.services for the process's parts)."""
