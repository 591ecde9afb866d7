"""The one base of every error whose message is meant for the person using the app.

Domain modules raise subclasses of UserError with one sentence a person can act on; the view
layer's error boundary (viba.web.boundary: boundary and action) shows that sentence and logs
the rest. Anything else that escapes is a bug: logged with its trace, shown as UNEXPECTED.
"""

from __future__ import annotations

UNEXPECTED = "Something went wrong on our side. Reload the page and try again."


class UserError(Exception):
    """A refusal or failure whose str() is a sentence for the user (never a trace)."""
