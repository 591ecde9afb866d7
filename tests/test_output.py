"""Output size and aspect ratio: the feature's defaults, the model's limits, the input's shape."""

from __future__ import annotations

import pytest

from viba.engine.images import PreparedImage
from viba.studio import features, output

FLASH = "gemini-nano-banana-2.1"
PRO = "gemini-3-pro-image"


def shaped(width: int, height: int) -> PreparedImage:
    return PreparedImage(b"", "image/jpeg", width, height)


def choose(feature: str, model: str, images=(), **requested):
    return output.choose(
        features.get(feature), requested, features.catalog().get(model), model, list(images)
    )


@pytest.mark.parametrize(
    "size,model,expected",
    [
        ((4032, 3024), FLASH, "4:3"),  # a phone photo held sideways
        ((3024, 4032), FLASH, "3:4"),
        ((1000, 1000), FLASH, "1:1"),
        ((1080, 1920), FLASH, "9:16"),
        ((8000, 1000), FLASH, "8:1"),  # the flash model's extreme ratios
        ((8000, 1000), PRO, "21:9"),  # the nearest the pro model makes
    ],
)
def test_the_nearest_supported_ratio(size, model, expected):
    assert output.nearest_ratio(*size, features.catalog().get(model).aspect_ratios) == expected


def test_each_feature_has_its_default_size_and_follows_its_input():
    landscape, portrait = shaped(1600, 900), shaped(900, 1200)
    assert choose("derivation", FLASH, [landscape]) == {
        "image_size": "1K",
        "aspect_ratio": "16:9",
    }
    # Avatar: several photos, none to follow: a 4K portrait.
    assert choose("avatar", PRO, [landscape, portrait]) == {
        "image_size": "4K",
        "aspect_ratio": "3:4",
    }
    # Try-On follows the person (first), Swap the scene (second).
    assert choose("try_on", PRO, [portrait, landscape]) == {
        "image_size": "2K",
        "aspect_ratio": "3:4",
    }
    assert choose("swap", PRO, [portrait, landscape]) == {
        "image_size": "2K",
        "aspect_ratio": "16:9",
    }


def test_a_choice_is_kept_and_an_unsupported_one_refused_with_a_sentence():
    assert choose("swap", FLASH, [shaped(1, 1)] * 2, image_size="2K", aspect_ratio="1:8") == {
        "image_size": "2K",
        "aspect_ratio": "1:8",
    }
    # Nano Banana 2.1 refuses 512 (Nano Banana 2, shut down, made it): refused before a call.
    with pytest.raises(output.OutputError, match=r"makes images of 1K, 2K, 4K, not '512'"):
        choose("swap", FLASH, [shaped(1, 1)] * 2, image_size="512")
    with pytest.raises(output.OutputError, match=r"makes images of 1K, not '2K'"):
        choose("swap", "gemini-3.1-flash-lite-image", [shaped(1, 1)] * 2, image_size="2K")
    with pytest.raises(output.OutputError, match=r"cannot make the aspect ratio '1:8'"):
        choose("swap", PRO, [shaped(1, 1)] * 2, aspect_ratio="1:8")
    with pytest.raises(output.OutputError, match="'<script>al'"):  # hostile text, cut short
        choose("avatar", PRO, [shaped(1, 1)], image_size="<script>alert(1)</script>")


def test_a_model_that_cannot_make_the_default_size_gets_its_largest_below_it():
    import dataclasses

    small = dataclasses.replace(features.catalog().get(FLASH), sizes=("512", "1K"))
    assert output.defaults(features.get("avatar"), small)["image_size"] == "1K"
