"""People: the Account and its errors (account), registration, login, passwords and reset
(auth), server-side login sessions (sessions), the user's own Gemini key (keyvault) and mail
(mailer). Imports viba.store, viba.i18n and viba.core."""
