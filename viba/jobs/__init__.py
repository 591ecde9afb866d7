"""Generation jobs: the runner that claims, runs and resumes them (runner), and what the app
process hands it (wiring). Imports viba.studio and the layers below."""
