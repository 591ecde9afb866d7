"""Avatar: 1 to 3 reference photos of one person → a studio character portrait."""

from viba.web.feature_form import feature_page

feature_page(__file__)
