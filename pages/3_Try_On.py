"""Try-On: a person image and a garment image → the person wearing the garment."""

from viba.web.feature_form import feature_page

feature_page(__file__)
