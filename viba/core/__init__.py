"""Below everything: settings (config), the UserError sentence rule (errors), logging (logs) and
small text helpers (text). Imports nothing of viba."""
