"""Derivation: each uploaded image is described by a text model, then an image model makes four
variants of it. One background job per image."""

from viba.web.feature_form import feature_page

feature_page(__file__)
