"""The model catalog file: steps, retired names and their replacements."""

from __future__ import annotations

import pytest

from viba.engine.catalog import CatalogError, parse_catalog
from viba.studio import features

SEED_NAMES = [
    "gemini-3-pro-preview",
    "gemini-3.1-flash-image-preview",
    "gemini-2.5-pro",
    "gemini-2.5-pro-image",
]
CURRENT = [  # Google's models page, 2026-12-03
    "gemini-nano-banana-2.1",
    "gemini-3.1-flash-lite-image",
    "gemini-3-pro-image",
    "gemini-3.1-pro-preview",
    "gemini-3.8-flash",
    "gemini-3.6-flash",
    "gemini-3.5-flash-lite",
]
SHUT_DOWN = ["gemini-2.5-flash-image", "gemini-3-pro-image-preview", "gemini-3.1-flash-image"]


def test_catalog_offers_the_seed_and_current_names_with_current_defaults():
    catalog = features.catalog()
    assert set(SEED_NAMES + CURRENT) <= set(catalog.models)
    for step, capability in features.step_capabilities().items():
        default = catalog.get(catalog.defaults[step])
        assert default.capability == capability and default.status in ("current", "preview")
        offered = catalog.for_step(step)
        assert offered and all(m.capability == capability and m.usable for m in offered)
    assert "gemini-3-pro-preview" not in [m.id for m in catalog.for_step("derivation_text")]
    for name in SHUT_DOWN:  # known (a stored choice maps), never offered
        assert not catalog.get(name).usable and catalog.get(name).auto_map
        assert name not in [m.id for m in catalog.for_step("avatar")]
    retired = catalog.get("gemini-2.5-pro")  # retired 2026-12-01
    assert retired.status == "shut_down" and retired.replacement == "gemini-3.8-flash"
    assert "gemini-2.5-pro" not in [m.id for m in catalog.for_step("derivation_text")]
    # Nano Banana 2.1 makes no 512 (the API refuses it); Nano Banana 2 Lite only 1K.
    assert catalog.get("gemini-nano-banana-2.1").sizes == ("1K", "2K", "4K")
    assert catalog.get("gemini-3.1-flash-lite-image").sizes == ("1K",)


@pytest.mark.parametrize(
    "step, stored, expected, note",
    [
        ("derivation_text", "gemini-3-pro-preview", "gemini-3.1-pro-preview", "retired"),
        ("derivation_image", "gemini-3.1-flash-image-preview", "gemini-nano-banana-2.1", "retired"),
        ("derivation_image", "gemini-3.1-flash-image", "gemini-nano-banana-2.1", "retired"),
        ("avatar", "gemini-2.5-pro-image", "gemini-3-pro-image", "never existed"),
        ("swap", "gemini-1.0-imaginary", "gemini-nano-banana-2.1", "not a known model"),
        ("try_on", "gemini-3.1-pro-preview", "gemini-nano-banana-2.1", "cannot do this step"),
        ("derivation_text", "gemini-2.5-pro", "gemini-3.8-flash", "retired"),
        ("swap", "gemini-2.5-flash-image", "gemini-nano-banana-2.1", "retired"),
        ("try_on", "gemini-3-pro-image-preview", "gemini-3-pro-image", "retired"),
        ("avatar", None, "gemini-nano-banana-2.1", None),
    ],
)
def test_resolve_maps_stored_names(step, stored, expected, note):
    resolved = features.catalog().resolve(step, stored)
    assert resolved.model == expected
    assert (note is None and resolved.note is None) or note in resolved.note


def parse(text):
    return parse_catalog(text, features.step_capabilities())


def test_a_malformed_catalog_is_refused():
    base = '[defaults]\ntext="t"\nimage="i"\n'
    text = '[[models]]\nid="t"\ncapability="text"\nlabel="T"\nstatus="current"\n'
    bare = '[[models]]\nid="i"\ncapability="image"\nlabel="I"\nstatus="current"\n'
    image = bare + 'sizes=["1K"]\naspect_ratios=["3:4"]\n'
    assert parse(base + text + image).defaults["avatar"] == "i"
    with pytest.raises(CatalogError, match="needs sizes"):  # an image model says what it makes
        parse(base + text + bare)
    with pytest.raises(CatalogError, match="needs sizes"):
        parse(base + text + bare + 'sizes=["8K"]\naspect_ratios=["3:4"]\n')
    with pytest.raises(CatalogError, match="not like 3:4"):
        parse(base + text + bare + 'sizes=["1K"]\naspect_ratios=["tall"]\n')
    with pytest.raises(CatalogError, match="replacement"):
        parse(
            base + text + image + '[[models]]\nid="old"\ncapability="image"\n'
            'label="O"\nstatus="shut_down"\nreplacement="t"\n'
        )
    assert (
        parse(base + 'swap="j"\n' + text + image + image.replace('"i"', '"j"')).defaults["swap"]
        == "j"
    )
    with pytest.raises(CatalogError, match="default for avatar"):  # a step's own default
        parse(base + 'avatar="t"\n' + text + image)
    with pytest.raises(CatalogError, match="default for image"):
        parse(base.replace('image="i"', "") + text + image)
    with pytest.raises(CatalogError, match="no feature has a step"):
        parse(base + 'avatr="i"\n' + text + image)
    with pytest.raises(CatalogError, match="malformed"):
        parse(base + '[[models]]\nid="x"\ncolour="blue"\n')


def test_the_catalog_is_handed_its_steps_and_knows_no_feature():
    text = (
        '[defaults]\ntext="t"\nimage="i"\nsketch="j"\n'
        '[[models]]\nid="t"\ncapability="text"\nlabel="T"\nstatus="current"\n'
    )
    for name in ("i", "j"):
        text += (
            f'[[models]]\nid="{name}"\ncapability="image"\nlabel="I"\nstatus="current"\n'
            'sizes=["1K"]\naspect_ratios=["3:4"]\n'
        )
    sketching = parse_catalog(text, {"sketch": "image", "paint": "image"})
    assert sketching.defaults == {"sketch": "j", "paint": "i"}
    assert [m.id for m in sketching.for_step("paint")] == ["i", "j"]
    models_only = parse_catalog(text)  # no steps: models and capabilities, no step checked
    assert models_only.defaults == {} and models_only.get("j").capability == "image"
    with pytest.raises(CatalogError, match="no feature has a step"):
        parse_catalog(text, {"paint": "image"})
