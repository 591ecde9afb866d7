"""Swap: a person (an upload or one of your avatars) composed into a scene."""

from viba.web.feature_form import feature_page

feature_page(__file__)
