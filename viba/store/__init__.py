"""The stored data: the database and its migrations (db), the tables (models), the
content-addressed image store (image_store) and the audit log (audit). Imports viba.core and
viba.i18n only."""
